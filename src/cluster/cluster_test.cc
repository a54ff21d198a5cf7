// Node: heartbeats, leader election over a lease, and the lost-node check, on an SQLite store
// with a FakeClock (time is moved, never slept).
#include "cluster/cluster.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>

#include "model/job.h"

namespace weir::cluster {
namespace {

namespace fs = std::filesystem;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "weir-cluster-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    stores_ = Open();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Another connection to the same database (another server process would have its own).
  store::SqliteStores Open() {
    auto s = store::OpenSqlite((dir_ / "weir.db").string(), clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }
  ClusterOptions Options(const std::string& id) {
    ClusterOptions o;
    o.node_id = id;
    o.advertise_url = "http://" + id + ":8080";
    o.background = false;
    o.lost_stale_after = Millis(15000);
    o.lost_failures = 3;
    return o;
  }
  std::unique_ptr<Node> StartNode(ClusterOptions o, HealthProbe probe = {}) {
    store::SqliteStores s = Open();
    auto n = Node::Start(std::move(o), s.nodes, s.jobs, {}, std::move(probe), clock_);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? std::move(*n) : nullptr;
  }
  void PutJob(const std::string& id, const std::string& node, model::JobStatus status) {
    model::JobRecord r;
    r.id = id;
    r.created = r.updated = clock_.Now();
    r.request.id = id;
    r.request.name = id;
    r.request.user = "alice";
    r.request.version = "1";
    r.job.status = status;
    r.execution.host_name = node;
    if (status == model::JobStatus::kRunning) r.job.started = clock_.Now();
    ASSERT_TRUE(stores_.jobs->CreateJob(r).ok());
  }
  model::JobRecord Job(const std::string& id) {
    auto r = stores_.jobs->GetJob(id);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : model::JobRecord{};
  }

  fs::path dir_;
  FakeClock clock_{FromEpochMillis(1'800'000'000'000)};
  store::SqliteStores stores_;
};

TEST_F(ClusterTest, HeartbeatRecordsTheNodeAndItsLoad) {
  ClusterOptions o = Options("a");
  store::SqliteStores s = Open();
  auto n = Node::Start(
      o, s.nodes, s.jobs,
      [] {
        service::ServiceLoad l;
        l.running = 2;
        l.capacity_mb = 1000;
        l.used_memory_mb = 300;
        return l;
      },
      {}, clock_);
  ASSERT_TRUE(n.ok()) << n.status();
  clock_.Advance(Millis(5000));
  ASSERT_TRUE((*n)->Heartbeat().ok());
  auto got = stores_.nodes->GetNode("a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->url, "http://a:8080");
  EXPECT_EQ(got->heartbeat, clock_.Now());
  EXPECT_EQ(got->running_jobs, 2);
  EXPECT_EQ(got->capacity_mb, 1000);
  EXPECT_EQ(got->free_memory_mb, 700);
}

TEST_F(ClusterTest, StaticModeLeadsOnlyWhenConfigured) {
  ClusterOptions lead = Options("a");
  ClusterOptions follow = Options("b");
  follow.leader_static = false;
  auto a = StartNode(lead);
  auto b = StartNode(follow);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->IsLeader());
  EXPECT_FALSE(b->IsLeader());
  EXPECT_EQ(b->FencingToken(), 0);
  // Every node shows which one leads.
  ASSERT_TRUE(b->Elect().ok());
  EXPECT_EQ(b->Leader().holder, "a");
  auto nodes = b->Nodes();
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_TRUE((*nodes)[0].leader);
  EXPECT_FALSE((*nodes)[1].leader);
}

TEST_F(ClusterTest, DatabaseLeaseMovesToAnotherNodeOnlyAfterItExpires) {
  ClusterOptions oa = Options("a"), ob = Options("b");
  oa.leader_mode = ob.leader_mode = "database";
  oa.lease_ttl = ob.lease_ttl = Millis(9000);
  auto a = StartNode(oa);
  auto b = StartNode(ob);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->IsLeader());
  EXPECT_EQ(a->FencingToken(), 1);
  EXPECT_FALSE(b->IsLeader());
  // a renews in time: b never gets it.
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(Millis(3000));
    ASSERT_TRUE(a->Elect().ok());
    ASSERT_TRUE(b->Elect().ok());
    EXPECT_TRUE(a->IsLeader());
    EXPECT_FALSE(b->IsLeader());
  }
  // a pauses: once its lease has expired by the clock it no longer leads, even before it learns
  // of the takeover; b takes over with a new fencing token.
  clock_.Advance(Millis(8999));
  EXPECT_TRUE(a->IsLeader());
  clock_.Advance(Millis(1));
  EXPECT_FALSE(a->IsLeader());
  EXPECT_EQ(a->FencingToken(), 0);
  ASSERT_TRUE(b->Elect().ok());
  EXPECT_TRUE(b->IsLeader());
  EXPECT_EQ(b->FencingToken(), 2);
  ASSERT_TRUE(a->Elect().ok());
  EXPECT_FALSE(a->IsLeader());
  EXPECT_EQ(a->Leader().holder, "b");
  auto nodes = a->Nodes();
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_FALSE((*nodes)[0].leader);
  EXPECT_TRUE((*nodes)[1].leader);
}

TEST_F(ClusterTest, ANodeIsLostOnlyAfterStaleHeartbeatAndEnoughFailedProbes) {
  std::atomic<int> probes{0};
  std::atomic<bool> healthy{false};
  auto leader = StartNode(Options("leader"), [&](const std::string& url) {
    EXPECT_EQ(url, "http://gone:8080");
    ++probes;
    return healthy.load();
  });
  auto gone = StartNode(Options("gone"));
  ASSERT_TRUE(leader && gone);
  gone->Stop();
  PutJob("r1", "gone", model::JobStatus::kRunning);
  PutJob("i1", "gone", model::JobStatus::kInit);
  PutJob("mine", "leader", model::JobStatus::kRunning);
  PutJob("local", "laptop", model::JobStatus::kRunning);  // a local-mode runner: no node

  // Fresh heartbeat: not even probed.
  ASSERT_EQ(leader->CheckLostNodes().value(), 0);
  EXPECT_EQ(probes.load(), 0);
  clock_.Advance(Millis(15001));
  ASSERT_EQ(leader->CheckLostNodes().value(), 0);  // failure 1
  ASSERT_EQ(leader->CheckLostNodes().value(), 0);  // failure 2
  // It comes back (restart within the threshold): the count starts over.
  ASSERT_TRUE(gone->Heartbeat().ok());
  ASSERT_EQ(leader->CheckLostNodes().value(), 0);
  clock_.Advance(Millis(15001));
  ASSERT_EQ(leader->CheckLostNodes().value(), 0);  // 1
  ASSERT_EQ(leader->CheckLostNodes().value(), 0);  // 2
  EXPECT_EQ(Job("r1").job.status, model::JobStatus::kRunning);
  ASSERT_EQ(leader->CheckLostNodes().value(), 2);  // 3: lost
  EXPECT_EQ(probes.load(), 5);
  for (const char* id : {"r1", "i1"}) {
    model::JobRecord r = Job(id);
    EXPECT_EQ(r.job.status, model::JobStatus::kFailed) << id;
    EXPECT_EQ(r.execution.exit_code, model::kExitNodeLost) << id;
    EXPECT_NE(r.job.status_msg.find("node lost"), std::string::npos) << r.job.status_msg;
  }
  EXPECT_EQ(Job("mine").job.status, model::JobStatus::kRunning);
  EXPECT_EQ(Job("local").job.status, model::JobStatus::kRunning);
  bool found = false;
  for (const TaskView& t : leader->Tasks()) {
    if (t.name != "lost-node-check") continue;
    found = true;
    EXPECT_TRUE(t.leader_only);
    EXPECT_EQ(t.runs, 7);
    EXPECT_EQ(t.counters.at("lostJobs"), 2);
    EXPECT_EQ(t.counters.at("lostNodes"), 1);
  }
  EXPECT_TRUE(found);
}

TEST_F(ClusterTest, OnlyTheLeaderChecksForLostNodes) {
  ClusterOptions o = Options("follower");
  o.leader_static = false;
  int probes = 0;
  auto n = StartNode(o, [&](const std::string&) {
    ++probes;
    return false;
  });
  ASSERT_TRUE(n);
  PutJob("r1", "gone", model::JobStatus::kRunning);
  clock_.Advance(Millis(60000));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(n->CheckLostNodes().value(), 0);
  EXPECT_EQ(probes, 0);
  EXPECT_EQ(Job("r1").job.status, model::JobStatus::kRunning);
}

}  // namespace
}  // namespace weir::cluster
