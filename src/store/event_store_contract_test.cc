// The EventStore contract of store.h, run against every backend: ids, filters, resuming after
// an id (also while several writers race), pruning, and the job events recorded in the same
// transaction as the job write. Add a backend by adding a factory to Backends() below. Nothing
// is timed. PostgreSQL runs on a throwaway server (store/testing/postgres_server.h), one fresh
// database per test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/testing/required_services.h"
#include "store/open.h"
#include "store/store.h"
#include "store/testing/postgres_env.h"  // stops the shared server after the last test
#include "store/testing/postgres_server.h"

namespace weir::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Fresh storage for one test; Open() may be called again for another connection to it (on
// PostgreSQL: as another server on the same database would have).
class EventBackend {
 public:
  virtual ~EventBackend() = default;
  virtual Result<SqliteStores> Open() = 0;
  // Why this backend cannot run here ("" when it can).
  virtual std::string Missing() const { return ""; }
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

// A fresh database on the test process's shared PostgreSQL server.
class PostgresEventBackend : public EventBackend {
 public:
  PostgresEventBackend() {
    testing::PostgresServer* server = testing::SharedPostgres();
    if (server == nullptr) {
      missing_ = testing::SharedPostgresError();
      return;
    }
    Result<std::string> url = server->CreateDatabase();
    if (!url.ok()) {
      missing_ = url.status().message();
      return;
    }
    where_.type = "postgresql";
    where_.url = *url;
  }
  Result<SqliteStores> Open() override { return OpenStores(where_, clock_); }
  std::string Missing() const override { return missing_; }

 private:
  StoreLocation where_;
  std::string missing_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
};

// Test names and failure messages show the backend's name, not its bytes.
void PrintTo(const BackendFactory& b, std::ostream* os) { *os << b.name; }

std::vector<BackendFactory> Backends() {
  return {{"sqlite", [] { return std::make_unique<SqliteEventBackend>(); }},
          {"postgres", [] { return std::make_unique<PostgresEventBackend>(); }}};
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
    if (std::string why = backend_->Missing(); !why.empty()) {
      WEIR_MISSING_SERVICE("postgresql", why);
    }
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

// Writers on separate connections (as several servers on one database) race; a reader that keeps
// resuming after the last id it saw must still see every event exactly once: an event never
// becomes visible after one with a higher id.
TEST_P(EventStoreContractTest, AReaderResumingAfterItsLastIdMissesNothingWhileWritersRace) {
  constexpr int kWriters = 4;
  constexpr int kEach = 150;
  std::vector<SqliteStores> writers;
  for (int w = 0; w < kWriters; ++w) {
    auto s = backend_->Open();
    ASSERT_TRUE(s.ok()) << s.status();
    writers.push_back(*s);
  }
  std::vector<std::vector<int64_t>> given(kWriters);
  std::atomic<int> running{kWriters};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        Result<int64_t> id = writers[static_cast<size_t>(w)].events->AppendEvent(
            Ev(i, "A", "w" + std::to_string(w)));
        if (id.ok()) given[static_cast<size_t>(w)].push_back(*id);
      }
      --running;
    });
  }
  std::vector<int64_t> seen;
  int64_t last = 0;
  bool ordered = true;
  auto read_more = [&] {
    auto got = events_->ReadEvents(last, {}, 50);
    if (!got.ok()) {
      ADD_FAILURE() << got.status();
      return false;
    }
    for (const EventRecord& e : *got) {
      ordered = ordered && e.id > last;
      last = e.id;
      seen.push_back(e.id);
    }
    return !got->empty();
  };
  while (running.load() > 0) read_more();
  for (auto& t : threads) t.join();
  while (read_more()) {
  }
  std::set<int64_t> all;
  for (const auto& ids : given) {
    EXPECT_EQ(ids.size(), static_cast<size_t>(kEach));
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_TRUE(ordered);
  EXPECT_EQ(seen.size(), all.size()) << "the reader missed events that became visible late";
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()), all);
}

INSTANTIATE_TEST_SUITE_P(Backends, EventStoreContractTest, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace weir::store
