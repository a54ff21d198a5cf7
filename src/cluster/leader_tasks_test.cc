// The leadership tasks (database cleanup, user metrics) on a Node over an SQLite store with a
// FakeClock: only the leader runs them, and what each pass changes is checked in the store, the
// archive folder and the gauges.
#include "cluster/leader_tasks.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "archive/job_archive.h"
#include "metrics/metrics.h"
#include "model/job.h"

namespace weir::cluster {
namespace {

namespace fs = std::filesystem;
using model::JobStatus;

constexpr int64_t kDay = 24LL * 3600 * 1000;

class LeaderTasksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "weir-leader-tasks-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "archives");
    auto s = store::OpenSqlite((dir_ / "weir.db").string(), clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    stores_ = *s;
    archive::ArchiverOptions ao;
    ao.location = "file://" + (dir_ / "archives").string();
    auto a = archive::JobArchiver::Create(ao, nullptr);
    ASSERT_TRUE(a.ok()) << a.status();
    archiver_ = std::move(*a);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<Node> StartNode(const std::string& id, bool leads) {
    ClusterOptions o;
    o.node_id = id;
    o.background = false;
    o.leader_static = leads;
    auto n = Node::Start(o, stores_.nodes, stores_.jobs, {}, {}, clock_);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? std::move(*n) : nullptr;
  }

  // A job of `user` in `status`; a final one finished `finished_days_ago` days ago, with an
  // archive file at its archive_location when `archived`.
  void PutJob(const std::string& id, JobStatus status, int64_t finished_days_ago,
              bool archived = true, const std::string& user = "alice",
              std::optional<int> memory = std::nullopt) {
    model::JobRecord r;
    r.id = id;
    r.created = r.updated = clock_.Now() - Millis((finished_days_ago + 1) * kDay);
    r.request.id = id;
    r.request.name = id;
    r.request.user = user;
    r.request.version = "1";
    r.job.status = status;
    r.execution.host_name = "a";
    r.execution.memory = memory;
    if (!model::IsActive(status)) {
      r.job.finished = clock_.Now() - Millis(finished_days_ago * kDay);
      auto uri = archiver_->ArchiveUri(id);
      ASSERT_TRUE(uri.ok()) << uri.status();
      r.job.archive_location = *uri;
      if (archived) std::ofstream(ArchivePath(id)) << "tar.gz of " << id;
    }
    ASSERT_TRUE(stores_.jobs->CreateJob(r).ok()) << id;
  }
  fs::path ArchivePath(const std::string& id) { return dir_ / "archives" / (id + ".tar.gz"); }
  bool Exists(const std::string& id) { return stores_.jobs->GetJob(id).ok(); }

  ArchiveRemover Remover() {
    return [this](const model::JobRecord& r) { return archiver_->RemoveJobArchive(r); };
  }
  LeaderTask Cleanup(int64_t days, int batch, ArchiveRemover remover = {}) {
    CleanupOptions o;
    o.job_retention_days = days;
    o.batch_size = batch;
    return DatabaseCleanupTask(o, stores_.jobs, remover ? remover : Remover(), clock_);
  }
  static std::map<std::string, int64_t> Counters(const Node& n, const std::string& task) {
    for (const TaskView& t : n.Tasks()) {
      if (t.name == task) return t.counters;
    }
    ADD_FAILURE() << "no task " << task;
    return {};
  }

  fs::path dir_;
  FakeClock clock_{FromEpochMillis(1'800'000'000'000)};
  store::SqliteStores stores_;
  std::unique_ptr<archive::JobArchiver> archiver_;
};

TEST_F(LeaderTasksTest, CleanupDeletesOldFinishedJobsInBatchesWithTheirArchives) {
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  for (const char* id : {"old1", "old2", "old3", "old4"}) PutJob(id, JobStatus::kSucceeded, 91);
  PutJob("old-failed", JobStatus::kFailed, 200);
  PutJob("old-no-archive", JobStatus::kKilled, 95, /*archived=*/false);
  PutJob("recent", JobStatus::kSucceeded, 89);
  PutJob("running", JobStatus::kRunning, 400);  // created long ago, still running
  PutJob("init", JobStatus::kInit, 400);
  node->AddLeaderTask(Cleanup(90, 2));

  Result<bool> ran = node->RunLeaderTask(kTaskDatabaseCleanup);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_TRUE(*ran);
  for (const char* id : {"old1", "old2", "old3", "old4", "old-failed", "old-no-archive"}) {
    EXPECT_FALSE(Exists(id)) << id;
    EXPECT_FALSE(fs::exists(ArchivePath(id))) << id;
  }
  for (const char* id : {"recent", "running", "init"}) EXPECT_TRUE(Exists(id)) << id;
  EXPECT_TRUE(fs::exists(ArchivePath("recent")));
  auto c = Counters(*node, kTaskDatabaseCleanup);
  EXPECT_EQ(c["jobsDeleted"], 6);
  EXPECT_EQ(c["batches"], 4);  // 2 + 2 + 2 + an empty one that ends the pass
  EXPECT_EQ(c["archivesDeleted"], 5);
  EXPECT_EQ(c["archiveErrors"], 0);

  // A day later the once-recent job is past the retention too.
  clock_.Advance(Millis(2 * kDay));
  ASSERT_TRUE(node->RunLeaderTask(kTaskDatabaseCleanup).ok());
  EXPECT_FALSE(Exists("recent"));
  EXPECT_FALSE(fs::exists(ArchivePath("recent")));
  EXPECT_TRUE(Exists("running"));
  EXPECT_EQ(Counters(*node, kTaskDatabaseCleanup)["jobsDeleted"], 7);
  for (const TaskView& t : node->Tasks()) {
    if (t.name != kTaskDatabaseCleanup) continue;
    EXPECT_TRUE(t.leader_only);
    EXPECT_EQ(t.runs, 2);
    EXPECT_EQ(t.last_run, clock_.Now());
  }
}

TEST_F(LeaderTasksTest, OnlyTheLeaderCleansUp) {
  auto follower = StartNode("b", false);
  ASSERT_TRUE(follower);
  PutJob("old", JobStatus::kSucceeded, 100);
  follower->AddLeaderTask(Cleanup(90, 10));
  Result<bool> ran = follower->RunLeaderTask(kTaskDatabaseCleanup);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_FALSE(*ran);
  EXPECT_TRUE(Exists("old"));
  EXPECT_TRUE(fs::exists(ArchivePath("old")));
  EXPECT_EQ(Counters(*follower, kTaskDatabaseCleanup)["jobsDeleted"], 0);
  EXPECT_EQ(follower->RunLeaderTask("no-such-task").status().code(), StatusCode::kNotFound);
}

TEST_F(LeaderTasksTest, RetentionZeroKeepsEveryJob) {
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  PutJob("ancient", JobStatus::kSucceeded, 5000);
  node->AddLeaderTask(Cleanup(0, 10));
  ASSERT_TRUE(node->RunLeaderTask(kTaskDatabaseCleanup).ok());
  EXPECT_TRUE(Exists("ancient"));
  EXPECT_TRUE(fs::exists(ArchivePath("ancient")));
}

TEST_F(LeaderTasksTest, AnArchiveThatCannotBeRemovedIsCountedAndTheCleanupGoesOn) {
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  PutJob("x", JobStatus::kSucceeded, 100);
  PutJob("y", JobStatus::kSucceeded, 100);
  node->AddLeaderTask(Cleanup(90, 10, [](const model::JobRecord& r) -> Result<bool> {
    if (r.id == "x") return Unavailable("s3: down");
    return true;
  }));
  ASSERT_TRUE(node->RunLeaderTask(kTaskDatabaseCleanup).ok());
  EXPECT_FALSE(Exists("x"));
  EXPECT_FALSE(Exists("y"));
  auto c = Counters(*node, kTaskDatabaseCleanup);
  EXPECT_EQ(c["archiveErrors"], 1);
  EXPECT_EQ(c["archivesDeleted"], 1);
}

TEST_F(LeaderTasksTest, ALeaderThatLosesItsLeaseStopsBetweenBatches) {
  ClusterOptions o;
  o.node_id = "a";
  o.background = false;
  o.leader_mode = "database";
  o.lease_ttl = Millis(15000);
  auto n = Node::Start(o, stores_.nodes, stores_.jobs, {}, {}, clock_);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_TRUE((*n)->IsLeader());
  for (const char* id : {"j1", "j2", "j3", "j4"}) PutJob(id, JobStatus::kSucceeded, 100);
  // The node pauses past its lease while removing the first batch's archives.
  (*n)->AddLeaderTask(Cleanup(90, 2, [this](const model::JobRecord&) -> Result<bool> {
    clock_.Advance(Millis(20000));
    return false;
  }));
  ASSERT_TRUE((*n)->RunLeaderTask(kTaskDatabaseCleanup).ok());
  EXPECT_FALSE(Exists("j1"));
  EXPECT_FALSE(Exists("j2"));
  EXPECT_TRUE(Exists("j3"));
  EXPECT_TRUE(Exists("j4"));
  EXPECT_EQ(Counters(**n, kTaskDatabaseCleanup)["batches"], 1);
}

// ---- user metrics ------------------------------------------------------------------------------

class UserMetricsTest : public LeaderTasksTest {
 protected:
  LeaderTask Task(int max_series) {
    UserMetricsOptions o;
    o.max_series = max_series;
    return UserMetricsTask(o, stores_.jobs, jobs_gauge_, memory_gauge_);
  }
  // user → (active jobs, memory bytes) as the gauges show them.
  std::map<std::string, std::pair<double, double>> Shown() {
    std::map<std::string, std::pair<double, double>> out;
    jobs_gauge_.ForEach([&](const std::vector<std::string>& l, const metrics::Gauge& g) {
      out[l[0]].first = g.Value();
    });
    memory_gauge_.ForEach([&](const std::vector<std::string>& l, const metrics::Gauge& g) {
      out[l[0]].second = g.Value();
    });
    return out;
  }
  void Finish(const std::string& id) {
    model::JobRecord r = *stores_.jobs->GetJob(id);
    r.job.status = JobStatus::kSucceeded;
    r.job.finished = clock_.Now();
    ASSERT_TRUE(stores_.jobs->UpdateJob(r).ok());
  }

  metrics::Registry registry_;
  metrics::GaugeFamily& jobs_gauge_ = registry_.AddGauge("t_user_jobs", "test", {"user"});
  metrics::GaugeFamily& memory_gauge_ = registry_.AddGauge("t_user_memory", "test", {"user"});
};

constexpr double kMiB = 1024.0 * 1024.0;

TEST_F(UserMetricsTest, CountsActiveJobsAndMemoryPerUserAcrossNodes) {
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  PutJob("a1", JobStatus::kRunning, 0, true, "alice", 512);
  PutJob("a2", JobStatus::kInit, 0, true, "alice", 256);
  PutJob("a3", JobStatus::kSucceeded, 0, true, "alice", 4096);  // finished: not counted
  PutJob("b1", JobStatus::kRunning, 0, true, "bob");            // no memory asked
  node->AddLeaderTask(Task(10));
  ASSERT_TRUE(*node->RunLeaderTask(kTaskUserMetrics));
  using P = std::pair<double, double>;
  EXPECT_EQ(Shown(), (std::map<std::string, P>{{"alice", P(2, 768 * kMiB)}, {"bob", P(1, 0)}}));
  auto c = Counters(*node, kTaskUserMetrics);
  EXPECT_EQ(c["users"], 2);
  EXPECT_EQ(c["activeJobs"], 3);

  // bob's job ends: his series goes; the counters show the last pass, not a sum.
  Finish("b1");
  ASSERT_TRUE(*node->RunLeaderTask(kTaskUserMetrics));
  EXPECT_EQ(Shown(), (std::map<std::string, P>{{"alice", P(2, 768 * kMiB)}}));
  c = Counters(*node, kTaskUserMetrics);
  EXPECT_EQ(c["users"], 1);
  EXPECT_EQ(c["activeJobs"], 2);
}

TEST_F(UserMetricsTest, UsersPastTheSeriesLimitAreSummedUnderOther) {
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  PutJob("c1", JobStatus::kRunning, 0, true, "carol", 100);
  PutJob("c2", JobStatus::kRunning, 0, true, "carol", 100);
  PutJob("c3", JobStatus::kRunning, 0, true, "carol", 100);
  PutJob("d1", JobStatus::kRunning, 0, true, "dave", 10);
  PutJob("d2", JobStatus::kRunning, 0, true, "dave", 10);
  PutJob("e1", JobStatus::kRunning, 0, true, "erin", 1);
  PutJob("f1", JobStatus::kRunning, 0, true, "frank", 2);
  node->AddLeaderTask(Task(2));
  ASSERT_TRUE(*node->RunLeaderTask(kTaskUserMetrics));
  using P = std::pair<double, double>;
  EXPECT_EQ(Shown(), (std::map<std::string, P>{{"carol", P(3, 300 * kMiB)},
                                               {"dave", P(2, 20 * kMiB)},
                                               {"_other", P(2, 3 * kMiB)}}));
  EXPECT_EQ(Counters(*node, kTaskUserMetrics)["otherUsers"], 2);
}

TEST_F(UserMetricsTest, AFollowerShowsNoUserSeries) {
  auto follower = StartNode("b", false);
  ASSERT_TRUE(follower);
  PutJob("a1", JobStatus::kRunning, 0, true, "alice", 512);
  jobs_gauge_.With({"stale"}).Set(7);  // left from when this node led
  memory_gauge_.With({"stale"}).Set(7);
  follower->AddLeaderTask(Task(10));
  Result<bool> ran = follower->RunLeaderTask(kTaskUserMetrics);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_FALSE(*ran);
  EXPECT_TRUE(Shown().empty());
}

}  // namespace
}  // namespace weir::cluster
