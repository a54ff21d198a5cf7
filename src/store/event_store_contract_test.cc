// The EventStore contract of store.h, run against every backend: ids, filters, resuming after
// an id, pruning, and the job events recorded in the same transaction as the job write.
// Add a backend by adding a factory to Backends() below. Nothing is timed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "store/store.h"

namespace weir::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class EventBackend {
 public:
  virtual ~EventBackend() = default;
  virtual Result<SqliteStores> Open() = 0;
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<EventBackend>()> make;
};

class SqliteEventBackend : public EventBackend {
 public:
  SqliteEventBackend() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "weir-events-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
  }
  ~SqliteEventBackend() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Result<SqliteStores> Open() override { return OpenSqlite((dir_ / "weir.db").string(), clock_); }

 private:
  std::filesystem::path dir_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
};

std::vector<BackendFactory> Backends() {
  return {{"sqlite", [] { return std::make_unique<SqliteEventBackend>(); }}};
}

TimePoint At(int64_t seconds) { return FromEpochMillis(1'700'000'000'000 + seconds * 1000); }

EventRecord Ev(int64_t seconds, std::string type, std::string job_id, std::string user = "alice",
               std::string grouping = "", std::string workflow = "") {
  EventRecord e;
  e.time = At(seconds);
  e.type = std::move(type);
  e.job_id = std::move(job_id);
  e.user = std::move(user);
  e.grouping = std::move(grouping);
  e.workflow = std::move(workflow);
  e.data = "{\"jobId\":\"" + e.job_id + "\"}";
  return e;
}

model::JobRecord Job(const std::string& id, model::JobStatus status) {
  model::JobRecord r;
  r.id = id;
  r.created = At(0);
  r.updated = At(0);
  r.request.id = id;
  r.request.name = "job-" + id;
  r.request.user = "alice";
  r.request.version = "1";
  r.request.command_criteria = {"type:spark"};
  r.job.status = status;
  return r;
}

class EventStoreContractTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    auto s = backend_->Open();
    ASSERT_TRUE(s.ok()) << s.status();
    stores_ = *s;
    events_ = stores_.events;
  }

  int64_t Add(const EventRecord& e) {
    Result<int64_t> id = events_->AppendEvent(e);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : -1;
  }

  // "type:job" of each matching event after `after`.
  std::vector<std::string> Read(int64_t after, const EventFilter& f = {}, int limit = 1000) {
    auto got = events_->ReadEvents(after, f, limit);
    if (!got.ok()) {
      ADD_FAILURE() << got.status();
      return {"<error>"};
    }
    std::vector<std::string> out;
    for (const EventRecord& e : *got) out.push_back(e.type + ":" + e.job_id);
    return out;
  }

  std::unique_ptr<EventBackend> backend_;
  SqliteStores stores_;
  std::shared_ptr<EventStore> events_;
};

TEST_P(EventStoreContractTest, AppendKeepsEveryFieldAndIdsIncrease) {
  EXPECT_EQ(*events_->LastEventId(), 0);
  EventRecord a = Ev(5, "JOB_STATUS_CHANGE", "j1", "alice", "g", "wf");
  int64_t ia = Add(a);
  int64_t ib = Add(Ev(3, "JOB_FINISHED", "j1"));
  EXPECT_LT(ia, ib);
  EXPECT_EQ(*events_->LastEventId(), ib);
  auto got = events_->ReadEvents(0, {}, 10);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  const EventRecord& e = (*got)[0];
  EXPECT_EQ(e.id, ia);
  EXPECT_EQ(e.type, "JOB_STATUS_CHANGE");
  EXPECT_EQ(e.time, a.time);
  EXPECT_EQ(e.job_id, "j1");
  EXPECT_EQ(e.user, "alice");
  EXPECT_EQ(e.grouping, "g");
  EXPECT_EQ(e.workflow, "wf");
  EXPECT_EQ(e.data, a.data);
  EXPECT_EQ((*got)[1].id, ib);
}

TEST_P(EventStoreContractTest, ReadingAfterAnIdResumesThereAndHonoursTheLimit) {
  int64_t first = Add(Ev(1, "A", "j1"));
  Add(Ev(2, "B", "j2"));
  Add(Ev(3, "C", "j3"));
  EXPECT_THAT(Read(first), ElementsAre("B:j2", "C:j3"));
  EXPECT_THAT(Read(first, {}, 1), ElementsAre("B:j2"));
  EXPECT_THAT(Read(*events_->LastEventId()), IsEmpty());
  EXPECT_FALSE(events_->ReadEvents(0, {}, 0).ok());
}

TEST_P(EventStoreContractTest, FiltersMatchAndCombine) {
  Add(Ev(1, "JOB_STATUS_CHANGE", "j1", "alice", "nightly"));
  Add(Ev(2, "JOB_FINISHED", "j1", "alice", "nightly"));
  Add(Ev(3, "JOB_STATUS_CHANGE", "j2", "bob", "", "wf1"));
  Add(Ev(4, "WORKFLOW_INSTANCE_CHANGE", "", "bob", "", "wf1"));
  EventFilter types;
  types.types = {"JOB_FINISHED", "WORKFLOW_INSTANCE_CHANGE"};
  EXPECT_THAT(Read(0, types), ElementsAre("JOB_FINISHED:j1", "WORKFLOW_INSTANCE_CHANGE:"));
  EventFilter job;
  job.job_id = "j1";
  EXPECT_THAT(Read(0, job), ElementsAre("JOB_STATUS_CHANGE:j1", "JOB_FINISHED:j1"));
  EventFilter user_and_type;
  user_and_type.user = "bob";
  user_and_type.types = {"JOB_STATUS_CHANGE"};
  EXPECT_THAT(Read(0, user_and_type), ElementsAre("JOB_STATUS_CHANGE:j2"));
  EventFilter grouping;
  grouping.grouping = "nightly";
  EXPECT_THAT(Read(0, grouping), ElementsAre("JOB_STATUS_CHANGE:j1", "JOB_FINISHED:j1"));
  EventFilter workflow;
  workflow.workflow = "wf1";
  EXPECT_THAT(Read(0, workflow), ElementsAre("JOB_STATUS_CHANGE:j2", "WORKFLOW_INSTANCE_CHANGE:"));
  // The in-memory match agrees with the store's.
  EXPECT_TRUE(workflow.Matches(Ev(9, "X", "", "bob", "", "wf1")));
  EXPECT_FALSE(user_and_type.Matches(Ev(9, "JOB_FINISHED", "j2", "bob")));
}

TEST_P(EventStoreContractTest, PruneByAgeAndCountKeepsIdsIncreasing) {
  Add(Ev(1, "A", "j1"));
  Add(Ev(2, "B", "j2"));
  Add(Ev(3, "C", "j3"));
  int64_t last = Add(Ev(4, "D", "j4"));
  auto removed = events_->PruneEvents(At(2), 0);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1);
  EXPECT_THAT(Read(0), ElementsAre("B:j2", "C:j3", "D:j4"));
  removed = events_->PruneEvents(At(0), 2);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1);
  EXPECT_THAT(Read(0), ElementsAre("C:j3", "D:j4"));
  // Pruning everything never lets an id be given again.
  ASSERT_TRUE(events_->PruneEvents(At(100), 0).ok());
  EXPECT_EQ(*events_->LastEventId(), last);
  EXPECT_GT(Add(Ev(5, "E", "j5")), last);
}

TEST_P(EventStoreContractTest, JobWritesRecordTheirStatusChangesInOrder) {
  std::vector<std::string> calls;
  events_->SetJobEvents([&](std::optional<model::JobStatus> from, const model::JobRecord& to) {
    EventRecord e = Ev(0, "JOB_STATUS_CHANGE", to.id);
    e.data = std::string(from ? model::JobStatusName(*from) : "") + ">" +
             std::string(model::JobStatusName(to.job.status));
    return std::vector<EventRecord>{e};
  });
  std::vector<std::string> heard;
  auto before = events_->SetEventListener([&](const EventRecord& e) { heard.push_back(e.data); });
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(*before, 0);
  ASSERT_TRUE(stores_.jobs->CreateJob(Job("j", model::JobStatus::kInit)).ok());
  // A write that keeps the status records nothing.
  ASSERT_TRUE(stores_.jobs->UpdateJob(Job("j", model::JobStatus::kInit)).ok());
  ASSERT_TRUE(stores_.jobs->UpdateJob(Job("j", model::JobStatus::kRunning)).ok());
  ASSERT_TRUE(stores_.jobs->UpdateJob(Job("j", model::JobStatus::kSucceeded)).ok());
  // A refused write (the job is final) records nothing either.
  EXPECT_FALSE(stores_.jobs->UpdateJob(Job("j", model::JobStatus::kFailed)).ok());
  EXPECT_FALSE(stores_.jobs->UpdateJob(Job("absent", model::JobStatus::kFailed)).ok());
  auto got = events_->ReadEvents(0, {}, 100);
  ASSERT_TRUE(got.ok());
  std::vector<std::string> stored;
  for (const EventRecord& e : *got) stored.push_back(e.data);
  EXPECT_THAT(stored, ElementsAre(">INIT", "INIT>RUNNING", "RUNNING>SUCCEEDED"));
  EXPECT_EQ(heard, stored);
}

TEST_P(EventStoreContractTest, TheListenerHearsEveryEventAfterTheIdItWasGiven) {
  int64_t old = Add(Ev(1, "A", "j1"));
  std::vector<int64_t> heard;
  auto before = events_->SetEventListener([&](const EventRecord& e) { heard.push_back(e.id); });
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(*before, old);
  int64_t a = Add(Ev(2, "B", "j2"));
  int64_t b = Add(Ev(3, "C", "j3"));
  EXPECT_THAT(heard, ElementsAre(a, b));
}

INSTANTIATE_TEST_SUITE_P(Backends, EventStoreContractTest, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace weir::store
