// The scheduler as a leadership task (docs/scaling.md): three real `weir server` processes on one
// throwaway PostgreSQL database with leader.mode database. Only the leader fires cron triggers
// and starts steps; when it is killed with -9 another node leads within the lease time, every
// cron fire time gets exactly one instance across the handover, and the instance in flight at
// the kill completes with each step's job run once. The killed node comes back (as a node
// restarted within the lost-node threshold does) and re-adopts the job it was running; the new
// leader reads that job's end from the shared job store and never launches the step again.
//
// Cron fires on whole minutes: this test waits for two minute boundaries (about two minutes).
//
// A workflow stop answered by a node that neither leads nor runs the step's job kills that job
// on the node that runs it (StopThroughANodeThatNeitherLeadsNorRunsTheJobKillsIt).
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "client/http_client.h"
#include "common/time_format.h"
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
const std::string kTicker = "prod:acme.pipes.ticker";

using json_fields::Field;
using json_fields::Parse;

const json::array& Arr(const json::value& v, const char* key) {
  static const json::array kEmpty;
  if (!v.is_object() || !v.as_object().contains(key) || !v.at(key).is_array()) return kEmpty;
  return v.at(key).as_array();
}

// The project: one asset (as every sample project has) and the cron workflow `ticker`.
const char* kProjectYaml = R"(project: {owner: acme, repo: pipes, main_branch: main}
assets:
  - name: tool
    type: bash
    namespace: leader-tool
    build: mkdir -p dist && cp src/tool.sh dist/tool.sh
    file: dist/tool.sh
workflows: [flows]
environments:
  prod:
    params: {}
)";

// Every minute; instances may overlap. Each step appends one line to `log`; instance 1's first
// step then waits for `gate` (so it is in flight when the leader is killed).
std::string TickerWorkflow(const fs::path& log, const fs::path& gate) {
  return R"(id: ticker
schedule: "* * * * *"
run_strategy: parallel
max_concurrency: 5
jobs:
  first:
    command: [type:bash]
    cluster: [type:local]
    args: ["echo first ${INSTANCE_ID} >> )" +
         log.string() + R"(; if [ ${INSTANCE_ID} = 1 ]; then while [ ! -e )" + gate.string() +
         R"( ]; do sleep 0.1; done; fi"]
  second:
    command: [type:bash]
    cluster: [type:local]
    depends_on: first
    args: ["echo second ${INSTANCE_ID} >> )" +
         log.string() + R"("]
)";
}

class ClusterLeaderTest : public PostgresDatabaseTest {
 protected:
  void TearDown() override {
    // A job of a node killed with -9 keeps running: end its process group.
    for (pid_t pgid : orphans_) ::kill(-pgid, SIGKILL);
  }

  // A node with leader.mode database and a 3 s lease; the lost-node check would need a minute of
  // failed probes to declare a node lost (the killed node comes back well before).
  // `jobs` adds lines to the node's jobs: section.
  WeirServer& StartNode(const std::string& id, const std::string& jobs = "") {
    std::string yaml = "server:\n  node_id: " + id + "\nstore:\n  type: postgresql\n  url: \"" +
                       url_ + "\"\njobs:\n  kill_grace_ms: 500\n  queue_enabled: true\n" + jobs +
                       "node:\n  heartbeat_interval_ms: 200\n  claim_interval_ms: 200\n"
                       "leader:\n  mode: database\n  lease_ttl_ms: 3000\n"
                       "  lost_node_check_interval_ms: 300\n  lost_node_stale_after_ms: 1500\n"
                       "  lost_node_failures: 200\n";
    servers_.push_back(std::make_unique<WeirServer>(dir_.path() / id, yaml));
    WeirServer& w = *servers_.back();
    EXPECT_EQ(w.Start(), "") << id;
    return w;
  }

  static json::value Get(WeirServer& via, const std::string& path) {
    client::HttpClient c(via.url());
    auto r = c.Get(path);
    if (!r.ok() || r->status != 200) return nullptr;
    return Parse(r->body);
  }
  static std::string Leader(WeirServer& via) {
    auto r = RunWeir(via.url(), {"-o", "json", "node", "list"});
    if (r.exit_code != 0) return "";
    json::value v = Parse(r.out);
    if (!v.is_object()) return "";
    return Field(v.as_object()["leader"], "node");
  }
  static json::value Instances(WeirServer& via) {
    return Get(via, "/api/weir/v1/workflows/" + client::UrlEncode(kTicker) + "/instances?size=100");
  }
  static json::value Instance(WeirServer& via, int64_t n) {
    return Get(via, "/api/weir/v1/workflows/" + client::UrlEncode(kTicker) + "/instances/" +
                        std::to_string(n));
  }
  static const json::value* Step(const json::value& inst, const std::string& step) {
    for (const auto& s : Arr(inst, "steps")) {
      if (Field(s, "id") == step) return &s;
    }
    return nullptr;
  }
  // The scheduler's entry of GET /api/weir/v1/admin/tasks as `via` reports it (null if absent).
  static json::value SchedulerTask(WeirServer& via) {
    json::value v = Get(via, "/api/weir/v1/admin/tasks");
    for (const json::value& t : Arr(v, "tasks")) {
      if (Field(t, "name") == "scheduler") return t;
    }
    return nullptr;
  }
  static int64_t Counter(const json::value& task, const char* name) {
    if (!task.is_object()) return -1;
    const json::value* c = task.as_object().at("counters").as_object().if_contains(name);
    return c ? c->as_int64() : -1;
  }

  TempDir dir_;
  std::vector<std::unique_ptr<WeirServer>> servers_;
  std::vector<pid_t> orphans_;
};

TEST_F(ClusterLeaderTest, AKilledLeadersSuccessorFiresEachTimeOnceAndFinishesTheInstanceInFlight) {
  WeirServer& a = StartNode("a");
  WeirServer& b = StartNode("b");
  WeirServer& c = StartNode("c");
  ASSERT_TRUE(WaitFor([&] { return Leader(b) == "a"; }, seconds(30)))
      << "a, started first, should lead: " << Leader(b);
  // The scheduler is listed as a leader-only task on every node.
  json::value task = SchedulerTask(b);
  ASSERT_TRUE(task.is_object()) << "no scheduler task on b";
  EXPECT_EQ(Field(task, "leaderOnly"), "true") << json::serialize(task);
  ASSERT_EQ(RunWeir(a.url(), {"apply", "-f", kDemo}).exit_code, 0);

  const fs::path log = dir_.path() / "steps.log";
  const fs::path gate = dir_.path() / "gate";
  const fs::path repo = dir_.path() / "pipes";
  WriteFile(repo / "dataflow.yaml", kProjectYaml);
  WriteFile(repo / ".gitignore", ".workflows/\ndist/\n");
  WriteFile(repo / "src" / "tool.sh", "echo tool\n");
  WriteFile(repo / "flows" / "ticker.sch.yaml", TickerWorkflow(log, gate));
  ASSERT_EQ(Git(repo, "init -q -b main").first, 0);
  ASSERT_EQ(Git(repo, "add -A").first, 0);
  ASSERT_EQ(Git(repo, "commit -q -m first").first, 0);
  // Deployed through a node that does not lead: the row is shared, the leader fires it.
  auto deployed = RunWeir(c.url(), {"project", "deploy"}, repo);
  ASSERT_EQ(deployed.exit_code, 0) << deployed.out << deployed.err;

  // The first fire (at the next minute boundary), run by the leader a.
  json::value first;
  ASSERT_TRUE(WaitFor(
      [&] {
        first = Instance(b, 1);
        const json::value* s = Step(first, "first");
        return s != nullptr && Field(*s, "status") == "RUNNING" && !Field(*s, "jobId").empty();
      },
      seconds(90)))
      << "no cron instance with a running first step: " << json::serialize(first);
  const std::string job1 = Field(*Step(first, "first"), "jobId");
  ASSERT_TRUE(WaitFor(
      [&] { return Field(Get(b, "/api/v3/jobs/" + job1 + "/status"), "status") == "RUNNING"; },
      seconds(60)));
  EXPECT_EQ(Field(Get(b, "/api/v3/jobs/" + job1 + "/execution"), "hostName"), "a");
  std::string pid = Field(Get(b, "/api/v3/jobs/" + job1 + "/execution"), "processId");
  if (!pid.empty()) orphans_.push_back(static_cast<pid_t>(std::stoi(pid)));
  const std::string fire1 = Field(first, "triggerTime");
  auto t1 = ParseIso8601(fire1);
  ASSERT_TRUE(t1.ok()) << fire1;
  EXPECT_EQ(Counter(SchedulerTask(b), "fires"), 0) << "b does not lead: it fires nothing";

  // Kill the leader a few seconds before the next fire time: that time falls into the
  // handover (a's lease still runs, no one else may lead yet).
  const auto kill_at = *t1 + seconds(57);
  if (std::chrono::system_clock::now() < kill_at) std::this_thread::sleep_until(kill_at);
  a.Kill9();
  std::string next;
  ASSERT_TRUE(WaitFor(
      [&] {
        next = Leader(b);
        return !next.empty() && next != "a";
      },
      seconds(30)))
      << "no node took over from a";
  WeirServer& leader = next == "b" ? b : c;
  WeirServer& follower = next == "b" ? c : b;

  // a comes back as a follower and re-adopts its running job; then the job may end.
  ASSERT_EQ(a.Start(), "");
  WriteFile(gate, "go\n");

  // The instance in flight completes, each step run once.
  json::value done;
  ASSERT_TRUE(WaitFor(
      [&] {
        done = Instance(follower, 1);
        return Field(done, "status") == "SUCCEEDED" || Field(done, "status") == "FAILED";
      },
      seconds(60)))
      << "instance 1 never ended: " << json::serialize(done);
  EXPECT_EQ(Field(done, "status"), "SUCCEEDED") << json::serialize(done);
  for (const char* step : {"first", "second"}) {
    const json::value* s = Step(done, step);
    ASSERT_NE(s, nullptr) << step;
    EXPECT_EQ(Arr(*s, "history").size(), 1u) << step << ": " << json::serialize(*s);
  }
  EXPECT_EQ(Field(*Step(done, "first"), "jobId"), job1);
  const std::string job2 = Field(*Step(done, "second"), "jobId");
  EXPECT_EQ(Field(Get(b, "/api/v3/jobs/" + job2 + "/execution"), "hostName"), next)
      << "the second step is started by the new leader";

  // The fire time after the kill got its instance, from the new leader, once.
  const std::string fire2 = FormatIso8601(*t1 + std::chrono::minutes(1));
  json::value second;
  ASSERT_TRUE(WaitFor(
      [&] {
        second = Instance(follower, 2);
        return Field(second, "status") == "SUCCEEDED";
      },
      seconds(90)))
      << "no second instance succeeded: " << json::serialize(second);
  EXPECT_EQ(Field(second, "triggerTime"), fire2);

  // Every instance is a cron fire; their fire times are consecutive minutes, none twice.
  std::map<std::string, int> per_time;
  const json::value all = Instances(follower);
  for (const json::value& i : Arr(all, "instances")) {
    EXPECT_EQ(Field(i, "trigger"), "cron") << json::serialize(i);
    ++per_time[Field(i, "triggerTime")];
  }
  ASSERT_GE(per_time.size(), 2u);
  auto expected = *t1;
  for (const auto& [time, count] : per_time) {
    EXPECT_EQ(count, 1) << "fire time " << time << " fired " << count << " times";
    EXPECT_EQ(time, FormatIso8601(expected)) << "a fire time was skipped";
    expected += std::chrono::minutes(1);
  }

  // The shared file: each step of each finished instance wrote exactly one line.
  std::map<std::string, int> lines;
  std::istringstream in(Slurp(log));
  for (std::string line; std::getline(in, line);) ++lines[line];
  for (const char* line : {"first 1", "second 1", "first 2", "second 2"}) {
    EXPECT_EQ(lines[line], 1) << "'" << line << "' in the step log:\n" << Slurp(log);
  }

  // The task counters: the new leader fired and started steps; the follower did neither.
  json::value lt = SchedulerTask(leader);
  EXPECT_GE(Counter(lt, "fires"), 1) << json::serialize(lt);
  EXPECT_GE(Counter(lt, "stepsStarted"), 2) << json::serialize(lt);
  EXPECT_GE(Counter(lt, "leads"), 1) << json::serialize(lt);
  EXPECT_FALSE(Field(lt, "lastRun").empty()) << json::serialize(lt);
  json::value ft = SchedulerTask(follower);
  EXPECT_EQ(Counter(ft, "fires"), 0) << json::serialize(ft);
  EXPECT_EQ(Counter(ft, "stepsStarted"), 0) << json::serialize(ft);
  EXPECT_EQ(Field(ft, "runs"), "0") << json::serialize(ft);
  EXPECT_NE(Slurp(leader.data_dir() / "server.log").find("scheduler: leading with fencing token"),
            std::string::npos);
}

// Every node fits one job. The leader a runs a plain job, so the step job a submits waits in the
// shared queue until b or c claims it. The instance is stopped through the third node, which
// neither leads nor runs the job: the job ends KILLED on its node (its command never reaches its
// end), and the step's attempt records KILLED.
TEST_F(ClusterLeaderTest, StopThroughANodeThatNeitherLeadsNorRunsTheJobKillsIt) {
  const std::string one_job =
      "  default_memory_mb: 100\n  max_memory_mb: 100\n"
      "  max_system_memory_mb: 100\n";
  WeirServer& a = StartNode("a", one_job);
  ASSERT_TRUE(WaitFor([&] { return Leader(a) == "a"; }, seconds(30)))
      << "a, started first, should lead: " << Leader(a);
  WeirServer& b = StartNode("b", one_job);
  WeirServer& c = StartNode("c", one_job);
  ASSERT_EQ(RunWeir(a.url(), {"apply", "-f", kDemo}).exit_code, 0);

  // a's capacity is taken by a plain job.
  auto blocker =
      RunWeir(a.url(), {"job", "submit", "-c", "type:local", "-C", "type:bash", "--", "sleep 300"});
  ASSERT_EQ(blocker.exit_code, 0) << blocker.err;
  std::string blocker_id = blocker.out;
  while (!blocker_id.empty() && blocker_id.back() == '\n') blocker_id.pop_back();
  ASSERT_TRUE(WaitFor(
      [&] {
        return Field(Get(a, "/api/v3/jobs/" + blocker_id + "/status"), "status") == "RUNNING";
      },
      seconds(60)));
  std::string blocker_pid = Field(Get(a, "/api/v3/jobs/" + blocker_id + "/execution"), "processId");
  if (!blocker_pid.empty()) orphans_.push_back(static_cast<pid_t>(std::stoi(blocker_pid)));

  const fs::path started = dir_.path() / "started";
  const fs::path done = dir_.path() / "done";
  const fs::path repo = dir_.path() / "naps";
  WriteFile(repo / "dataflow.yaml",
            "project: {owner: acme, repo: naps, main_branch: main}\nassets: []\n"
            "workflows: [flows]\n");
  WriteFile(repo / ".gitignore", ".workflows/\n");
  WriteFile(repo / "flows" / "nap.sch.yaml",
            "id: nap\njobs:\n  nap:\n    command: [type:bash]\n    cluster: [type:local]\n"
            "    args: [\"touch " +
                started.string() + "; sleep 300; touch " + done.string() + "\"]\n");
  ASSERT_EQ(Git(repo, "init -q -b main").first, 0);
  ASSERT_EQ(Git(repo, "add -A").first, 0);
  ASSERT_EQ(Git(repo, "commit -q -m first").first, 0);
  auto deployed = RunWeir(a.url(), {"project", "deploy"}, repo);
  ASSERT_EQ(deployed.exit_code, 0) << deployed.out << deployed.err;
  const std::string nap = "prod:acme.naps.nap";
  auto run = RunWeir(a.url(), {"workflow", "run", nap});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(run.out.rfind(nap + "#1", 0), 0u) << run.out;
  const std::string path = "/api/weir/v1/workflows/" + client::UrlEncode(nap) + "/instances/1";

  // The step's job runs on b or c.
  std::string job, holder;
  json::value inst;
  ASSERT_TRUE(WaitFor(
      [&] {
        inst = Get(a, path);
        const json::value* s = Step(inst, "nap");
        if (s == nullptr || Field(*s, "jobId").empty()) return false;
        job = Field(*s, "jobId");
        if (Field(Get(a, "/api/v3/jobs/" + job + "/status"), "status") != "RUNNING") return false;
        holder = Field(Get(a, "/api/v3/jobs/" + job + "/execution"), "hostName");
        return fs::exists(started);
      },
      seconds(90)))
      << "the step's job never ran: " << json::serialize(inst);
  ASSERT_TRUE(holder == "b" || holder == "c") << "the step's job runs on " << holder;
  std::string pid = Field(Get(a, "/api/v3/jobs/" + job + "/execution"), "processId");
  ASSERT_FALSE(pid.empty());
  const pid_t pgid = static_cast<pid_t>(std::stoi(pid));
  orphans_.push_back(pgid);
  // The stop goes through the node that neither leads nor runs the job (a leads unless a slow
  // machine delayed its lease renewal past the lease time; then another node does).
  std::string leader;
  ASSERT_TRUE(WaitFor([&] { return !(leader = Leader(a)).empty(); }, seconds(30)));
  WeirServer* third = nullptr;
  for (auto& [id, node] : {std::pair<std::string, WeirServer*>{"a", &a}, {"b", &b}, {"c", &c}}) {
    if (id != leader && id != holder) third = node;
  }
  ASSERT_NE(third, nullptr) << "leader " << leader << ", job on " << holder;
  WeirServer& other = *third;
  auto stop = RunWeir(other.url(), {"workflow", "stop", nap, "1", "--actor", "ops"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_EQ(stop.out.rfind(nap + "#1: STOPPED", 0), 0u) << stop.out;

  ASSERT_TRUE(WaitFor(
      [&] { return Field(Get(other, "/api/v3/jobs/" + job + "/status"), "status") == "KILLED"; },
      seconds(60)))
      << "the step's job on " << holder
      << " was not killed: " << Field(Get(other, "/api/v3/jobs/" + job + "/status"), "status");
  EXPECT_TRUE(WaitFor([&] { return ProcessesInGroup(pgid).empty(); }, seconds(30)))
      << "processes of job " << job << " still alive";
  ASSERT_TRUE(WaitFor(
      [&] {
        inst = Get(other, path);
        const json::value* s = Step(inst, "nap");
        return s != nullptr && Arr(*s, "history").size() == 1 &&
               Field(Arr(*s, "history")[0], "status") == "KILLED";
      },
      seconds(60)))
      << "the leader did not record the kill: " << json::serialize(inst);
  EXPECT_EQ(Field(inst, "status"), "STOPPED");
  EXPECT_EQ(Field(*Step(inst, "nap"), "status"), "STOPPED");
  EXPECT_EQ(Field(Arr(*Step(inst, "nap"), "history")[0], "message"), "stopped by ops");
  EXPECT_FALSE(fs::exists(done)) << "the step's command ran to its end";

  EXPECT_EQ(RunWeir(a.url(), {"job", "kill", blocker_id}).exit_code, 0);
}

}  // namespace
}  // namespace weir::testing
