// EventHub over a real SQLite store: job events built in the job write's transaction, live
// delivery after the subscription's start id, filters, and the bounded buffer.
#include "service/event_hub.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>

namespace weir::service {
namespace {

using ::testing::ElementsAre;

class EventHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "weir-hub-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto s = store::OpenSqlite((dir_ / "weir.db").string(), clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    stores_ = *s;
    stores_.events->SetJobEvents(JobEvents(clock_));
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::shared_ptr<EventHub> Hub(size_t buffer) {
    auto h = EventHub::Create(stores_.events, EventHubOptions{buffer});
    EXPECT_TRUE(h.ok());
    return *h;
  }
  model::JobRecord Job(const std::string& id, model::JobStatus st, const std::string& user) {
    model::JobRecord r;
    r.id = id;
    r.request.id = id;
    r.request.name = "n";
    r.request.user = user;
    r.request.version = "1";
    r.job.status = st;
    r.job.cluster_id = "local";
    r.job.command_id = "bash";
    if (!model::IsActive(st)) r.execution.exit_code = 3;
    return r;
  }
  static std::vector<std::string> Types(const std::vector<store::EventRecord>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(e.type + ":" + e.job_id);
    return out;
  }

  std::filesystem::path dir_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
  store::SqliteStores stores_;
};

TEST_F(EventHubTest, SubscribersGetTheirMatchingEventsAfterTheirStart) {
  auto hub = Hub(100);
  ASSERT_TRUE(stores_.jobs->CreateJob(Job("old", model::JobStatus::kInit, "alice")).ok());
  store::EventFilter alice;
  alice.user = "alice";
  auto sub = hub->Subscribe(alice);
  EXPECT_EQ(sub->start_id(), 1);  // "old" was created before: it is in the store, not the feed
  int wakes = 0;
  sub->SetWakeup([&] { ++wakes; });
  ASSERT_TRUE(stores_.jobs->CreateJob(Job("a", model::JobStatus::kInit, "alice")).ok());
  ASSERT_TRUE(stores_.jobs->CreateJob(Job("b", model::JobStatus::kInit, "bob")).ok());
  ASSERT_TRUE(stores_.jobs->UpdateJob(Job("a", model::JobStatus::kFailed, "alice")).ok());
  auto got = sub->Take();
  EXPECT_THAT(Types(got),
              ElementsAre("JOB_STATUS_CHANGE:a", "JOB_STATUS_CHANGE:a", "JOB_FINISHED:a"));
  EXPECT_EQ(wakes, 3);
  auto finished = boost::json::parse(EventJson(got[2]));
  EXPECT_EQ(finished.at("id").as_int64(), got[2].id);
  EXPECT_EQ(finished.at("exitCode").as_int64(), 3);
  EXPECT_EQ(finished.at("cluster").at("id").as_string(), "local");
  auto change = boost::json::parse(EventJson(got[1]));
  EXPECT_EQ(change.at("fromState").as_string(), "INIT");
  EXPECT_EQ(change.at("toState").as_string(), "FAILED");
}

TEST_F(EventHubTest, AFullBufferOverflowsInsteadOfWaiting) {
  auto hub = Hub(2);
  auto sub = hub->Subscribe({});
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(
        stores_.jobs->CreateJob(Job("j" + std::to_string(i), model::JobStatus::kInit, "a")).ok());
  }
  EXPECT_TRUE(sub->overflowed());
  EXPECT_THAT(Types(sub->Take()), ElementsAre("JOB_STATUS_CHANGE:j0", "JOB_STATUS_CHANGE:j1"));
  // Once overflowed it gets nothing more: its reader must resume from the log.
  ASSERT_TRUE(stores_.jobs->CreateJob(Job("j9", model::JobStatus::kInit, "a")).ok());
  EXPECT_TRUE(sub->Take().empty());
  // The log has everything.
  auto all = stores_.events->ReadEvents(0, {}, 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 5u);
}

TEST_F(EventHubTest, AppendedEventsReachSubscribersAndDroppedOnesAreForgotten) {
  auto hub = Hub(10);
  auto sub = hub->Subscribe({});
  { auto gone = hub->Subscribe({}); }
  store::EventRecord e;
  e.type = "WORKFLOW_INSTANCE_CHANGE";
  e.workflow = "etl";
  e.data = "{\"type\":\"WORKFLOW_INSTANCE_CHANGE\"}";
  auto id = hub->Append(e);
  ASSERT_TRUE(id.ok());
  auto got = sub->Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, *id);
  EXPECT_EQ(EventJson(got[0]),
            "{\"id\":" + std::to_string(*id) + ",\"type\":\"WORKFLOW_INSTANCE_CHANGE\"}");
  EXPECT_EQ(hub->last_id(), *id);
}

}  // namespace
}  // namespace weir::service
