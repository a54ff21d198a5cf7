// Several real `weir server` processes on one throwaway PostgreSQL database (docs/scaling.md):
// any node answers for any job, output and kill go to the job's node, a job queued on a full
// node is run by another, forwarded requests are never forwarded again, a killed leader is
// replaced, and a node killed with running jobs has them recorded lost after the threshold only.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <memory>

#include "client/http_client.h"
#include "json_fields.h"
#include "postgres_env.h"
#include "store/testing/postgres_server.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::seconds;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

using json_fields::Field;
using json_fields::Parse;

struct NodeSettings {
  int64_t capacity_mb = 30720;
  std::string leader = "mode: static\n  static: true";
  int lost_failures = 3;
};

class ClusterE2eTest : public PostgresDatabaseTest {
 protected:
  void TearDown() override {
    // Jobs of nodes killed with -9 keep running: end their process groups.
    for (pid_t pgid : orphans_) ::kill(-pgid, SIGKILL);
  }

  WeirServer& StartNode(const std::string& id, const NodeSettings& s = {}) {
    std::string yaml = "server:\n  node_id: " + id + "\nstore:\n  type: postgresql\n  url: \"" +
                       url_ +
                       "\"\njobs:\n  kill_grace_ms: 500\n  queue_enabled: true\n"
                       "  max_system_memory_mb: " +
                       std::to_string(s.capacity_mb) +
                       "\nnode:\n  heartbeat_interval_ms: 200\n  claim_interval_ms: 200\n"
                       "leader:\n  " +
                       s.leader +
                       "\n  lease_ttl_ms: 2000\n  lost_node_check_interval_ms: 300\n"
                       "  lost_node_stale_after_ms: 1500\n  lost_node_failures: " +
                       std::to_string(s.lost_failures) + "\n";
    servers_.push_back(std::make_unique<WeirServer>(dir_.path() / id, yaml));
    WeirServer& w = *servers_.back();
    std::string started = w.Start();
    EXPECT_EQ(started, "") << id;
    return w;
  }

  std::string Submit(WeirServer& on, const std::string& command,
                     const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"-o", "json",      "job", "submit",
                                     "-c", "sched:sla", "-C",  "type:bash"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("--");
    args.push_back(command);
    auto r = RunWeir(on.url(), args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Field(Parse(r.out), "id");
  }

  json::value Job(WeirServer& via, const std::string& id, const std::string& part = "") {
    client::HttpClient c(via.url());
    auto r = c.Get("/api/v3/jobs/" + id + part);
    if (!r.ok() || r->status != 200) return nullptr;
    return Parse(r->body);
  }
  std::string Status(WeirServer& via, const std::string& id) {
    return Field(Job(via, id), "status");
  }
  std::string HostOf(WeirServer& via, const std::string& id) {
    return Field(Job(via, id, "/execution"), "hostName");
  }
  json::value Nodes(WeirServer& via) {
    auto r = RunWeir(via.url(), {"-o", "json", "node", "list"});
    if (r.exit_code != 0) return nullptr;
    return Parse(r.out);
  }
  std::string Leader(WeirServer& via) {
    json::value v = Nodes(via);
    if (!v.is_object()) return "";
    return Field(v.as_object()["leader"], "node");
  }
  // Counter of the lost-node check as `via` reports it.
  int64_t LostCheck(WeirServer& via, const std::string& what) {
    client::HttpClient c(via.url());
    auto r = c.Get("/api/weir/v1/admin/tasks");
    if (!r.ok() || r->status != 200) return -1;
    json::value v = Parse(r->body);
    for (const json::value& t : v.as_object()["tasks"].as_array()) {
      if (Field(t, "name") != "lost-node-check") continue;
      if (what == "runs") return t.as_object().at("runs").as_int64();
      const json::value* c = t.as_object().at("counters").as_object().if_contains(what);
      return c ? c->as_int64() : 0;
    }
    return -1;
  }
  void Apply(WeirServer& on) {
    auto r = RunWeir(on.url(), {"apply", "-f", kDemo});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Remembers a running job's process group for TearDown.
  void Orphan(WeirServer& via, const std::string& id) {
    std::string pid = Field(Job(via, id, "/execution"), "processId");
    if (!pid.empty()) orphans_.push_back(static_cast<pid_t>(std::stoi(pid)));
  }

  TempDir dir_;
  std::vector<std::unique_ptr<WeirServer>> servers_;
  std::vector<pid_t> orphans_;
};

TEST_F(ClusterE2eTest, AnyNodeAnswersAndOutputAndKillGoToTheJobsNode) {
  WeirServer& a = StartNode("a");
  NodeSettings follower;
  follower.leader = "mode: static\n  static: false";
  WeirServer& b = StartNode("b", follower);
  WeirServer& c = StartNode("c", follower);
  Apply(a);

  const std::string id = Submit(a, "echo hello-from-a; sleep 300");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitFor([&] { return Status(b, id) == "RUNNING"; }, seconds(60)))
      << "never RUNNING as node b sees it: " << Status(b, id);
  EXPECT_EQ(Status(c, id), "RUNNING");
  EXPECT_EQ(HostOf(c, id), "a");

  // Output through c comes from a's folder.
  std::string out;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = RunWeir(c.url(), {"job", "output", id, "stdout"});
        out = r.out;
        return r.exit_code == 0 && out == "hello-from-a\n";
      },
      seconds(30)))
      << "output through node c: " << out;

  // The nodes, and which one leads.
  json::value nodes = Nodes(b);
  ASSERT_TRUE(nodes.is_object()) << "weir node list -o json failed";
  const json::array& list = nodes.as_object()["nodes"].as_array();
  ASSERT_EQ(list.size(), 3u) << json::serialize(nodes);
  int leaders = 0;
  for (const json::value& n : list) {
    if (Field(n, "leader") == "true") {
      ++leaders;
      EXPECT_EQ(Field(n, "id"), "a");
    }
    EXPECT_NE(Field(n, "url"), "") << json::serialize(n);
    EXPECT_EQ(Field(n, "stale"), "false") << json::serialize(n);
  }
  EXPECT_EQ(leaders, 1) << json::serialize(nodes);
  // a's count of running jobs reaches the others with its next heartbeat.
  std::string running;
  EXPECT_TRUE(WaitFor(
      [&] {
        json::value now = Nodes(b);
        if (!now.is_object()) return false;
        for (const json::value& n : now.as_object()["nodes"].as_array()) {
          if (Field(n, "id") == "a") running = Field(n, "runningJobs");
        }
        return running == "1";
      },
      seconds(10)))
      << "node a's runningJobs as b lists it: " << running;
  auto table = RunWeir(b.url(), {"node", "list"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("LEADER"), std::string::npos) << table.out;

  // Kill through c: a kills it.
  auto kill = RunWeir(c.url(), {"job", "kill", id});
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  ASSERT_TRUE(WaitFor([&] { return Status(b, id) == "KILLED"; }, seconds(30)))
      << "status after the kill through c: " << Status(b, id);
  EXPECT_EQ(Field(Job(a, id, "/execution"), "exitCode"), "999");
}

TEST_F(ClusterE2eTest, AForwardedRequestIsNeverForwardedAgain) {
  WeirServer& a = StartNode("a");
  NodeSettings follower;
  follower.leader = "mode: static\n  static: false";
  WeirServer& b = StartNode("b", follower);
  Apply(a);
  const std::string id = Submit(a, "echo only-on-a; sleep 300");
  ASSERT_TRUE(WaitFor([&] { return Status(b, id) == "RUNNING"; }, seconds(60)));
  Orphan(a, id);
  client::HttpClient to_b(b.url());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = to_b.Get("/api/v3/jobs/" + id + "/output/stdout");
        return r.ok() && r->status == 200 && r->body == "only-on-a\n";
      },
      seconds(30)))
      << "b never forwarded the output request to a";

  // Marked as forwarded already: b answers itself (it has no folder of the job) and a kill
  // marked so is not passed on either.
  const client::Headers forwarded = {{"Genie-Forwarded-From", "http://elsewhere/api/v3/jobs"}};
  auto r = to_b.Get("/api/v3/jobs/" + id + "/output/stdout", forwarded);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_EQ(r->body.find("only-on-a"), std::string::npos);
  auto k = to_b.Request("DELETE", "/api/v3/jobs/" + id, "", forwarded);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->status, 412) << k->body;
  EXPECT_EQ(Status(a, id), "RUNNING");
  // Unmarked, the same kill reaches a.
  auto k2 = to_b.Request("DELETE", "/api/v3/jobs/" + id);
  ASSERT_TRUE(k2.ok()) << k2.status();
  EXPECT_EQ(k2->status, 202) << k2->body;
  ASSERT_TRUE(WaitFor([&] { return Status(a, id) == "KILLED"; }, seconds(30)));
}

TEST_F(ClusterE2eTest, AJobQueuedOnAFullNodeIsRunByAnotherOnce) {
  NodeSettings small;
  small.capacity_mb = 1024;  // one job of the demo command's default memory fills it
  WeirServer& a = StartNode("a", small);
  Apply(a);
  const std::string first = Submit(a, "sleep 300", {"--memory", "1024"});
  ASSERT_TRUE(WaitFor([&] { return Status(a, first) == "RUNNING"; }, seconds(60)));
  const std::string second = Submit(a, "echo ran-elsewhere", {"--memory", "1024"});
  ASSERT_FALSE(second.empty());
  // a is full and no other node exists yet: it waits, unplaced.
  EXPECT_EQ(Status(a, second), "INIT");
  EXPECT_EQ(HostOf(a, second), "");

  NodeSettings follower;
  follower.leader = "mode: static\n  static: false";
  WeirServer& b = StartNode("b", follower);
  ASSERT_TRUE(WaitFor([&] { return Status(a, second) == "SUCCEEDED"; }, seconds(60)))
      << "the queued job did not run: " << Status(a, second);
  EXPECT_EQ(HostOf(a, second), "b");
  auto out = RunWeir(a.url(), {"job", "output", second, "stdout"});
  EXPECT_EQ(out.out, "ran-elsewhere\n") << out.err;
  EXPECT_EQ(Status(a, first), "RUNNING");
  // Exactly once: b's log tells of one claim, a's of none.
  EXPECT_NE(Slurp(b.data_dir() / "server.log").find(second + ": claimed from the shared queue"),
            std::string::npos);
  EXPECT_EQ(Slurp(a.data_dir() / "server.log").find(second + ": claimed"), std::string::npos);
  ASSERT_EQ(RunWeir(b.url(), {"job", "kill", first}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Status(a, first) == "KILLED"; }, seconds(30)));
}

TEST_F(ClusterE2eTest, WhenTheLeaderIsKilledAnotherNodeLeadsWithANewToken) {
  NodeSettings db;
  db.leader = "mode: database";
  WeirServer& a = StartNode("a", db);
  WeirServer& b = StartNode("b", db);
  WeirServer& c = StartNode("c", db);
  std::string leader;
  ASSERT_TRUE(WaitFor([&] { return !(leader = Leader(b)).empty(); }, seconds(30)));
  EXPECT_EQ(leader, "a");  // the first to start took the lease
  const std::string token = Field(Nodes(b).as_object()["leader"], "fencingToken");
  a.Kill9();
  std::string next;
  ASSERT_TRUE(WaitFor(
      [&] {
        next = Leader(c);
        return !next.empty() && next != "a";
      },
      seconds(30)))
      << "no node took over from a";
  EXPECT_TRUE(next == "b" || next == "c") << next;
  const std::string new_token = Field(Nodes(c).as_object()["leader"], "fencingToken");
  EXPECT_GT(std::stoll(new_token), std::stoll(token));
  // Both survivors agree (each node's view of the lease is refreshed by its own lease loop, so
  // b may still show the expired lease for one interval), and the change is logged by the new
  // leader.
  std::string seen_by_b;
  EXPECT_TRUE(WaitFor([&] { return (seen_by_b = Leader(b)) == next; }, seconds(30)))
      << "b sees " << (seen_by_b.empty() ? "no leader" : seen_by_b) << ", not " << next;
  WeirServer& winner = next == "b" ? b : c;
  EXPECT_NE(Slurp(winner.data_dir() / "server.log").find("leadership: node " + next + " now leads"),
            std::string::npos);
}

TEST_F(ClusterE2eTest, ANodeKilledWithRunningJobsLosesThemOnlyAfterTheThreshold) {
  NodeSettings leader;
  leader.lost_failures = 30;
  WeirServer& a = StartNode("a", leader);
  NodeSettings follower = leader;
  follower.leader = "mode: static\n  static: false";
  WeirServer& b = StartNode("b", follower);
  Apply(a);
  const std::string id = Submit(b, "sleep 300");
  ASSERT_TRUE(WaitFor([&] { return Status(a, id) == "RUNNING"; }, seconds(60)));
  Orphan(a, id);
  EXPECT_EQ(HostOf(a, id), "b");

  // b dies; the leader starts probing it, and restarted in time it keeps its job.
  b.Kill9();
  ASSERT_TRUE(WaitFor([&] { return LostCheck(a, "probes") >= 1; }, seconds(30)));
  EXPECT_EQ(Status(a, id), "RUNNING");
  ASSERT_EQ(b.Start(), "");
  const int64_t runs = LostCheck(a, "runs");
  ASSERT_TRUE(WaitFor([&] { return LostCheck(a, "runs") >= runs + 40; }, seconds(60)));
  EXPECT_EQ(Status(a, id), "RUNNING");
  EXPECT_EQ(LostCheck(a, "lostJobs"), 0);

  // b dies for good: lost only after the threshold.
  b.Kill9();
  const int64_t probes = LostCheck(a, "probes");
  ASSERT_TRUE(WaitFor([&] { return LostCheck(a, "probes") >= probes + 1; }, seconds(30)));
  // Fewer failed probes than the threshold so far: still RUNNING.
  if (LostCheck(a, "probes") - probes < 28) EXPECT_EQ(Status(a, id), "RUNNING");
  ASSERT_TRUE(WaitFor([&] { return Status(a, id) == "FAILED"; }, seconds(60)))
      << "never recorded lost: " << Status(a, id);
  // The pass that records the loss publishes its counters after the job's new status.
  ASSERT_TRUE(WaitFor([&] { return LostCheck(a, "lostJobs") >= 1; }, seconds(10)));
  EXPECT_GE(LostCheck(a, "probes") - probes, 30);
  json::value job = Job(a, id);
  EXPECT_NE(Field(job, "statusMsg").find("node lost"), std::string::npos)
      << Field(job, "statusMsg");
  EXPECT_EQ(Field(Job(a, id, "/execution"), "exitCode"), "666");
}

}  // namespace
}  // namespace weir::testing
