// End-to-end tests of the Slurm executor (issue 12): the real `weir server` binary with a cluster
// whose metadata says "executor": "slurm", against a private single-node Slurm started by the
// fixture (src/exec/testing/slurm_cluster.h). Skipped without slurm-wlm and munge, unless
// WEIR_REQUIRE_SERVICES is set (then they fail).
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "client/http_client.h"
#include "common/testing/required_services.h"
#include "exec/testing/slurm_cluster.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

// Config: a bash command; cluster "hpc" on Slurm, "held" on Slurm with every job held in the
// queue (--hold), "here" running jobs on the server's node.
const char kConfig[] = R"(commands:
  - id: bash
    name: bash
    user: admin
    version: "5"
    status: ACTIVE
    executable: /bin/bash -c
    tags: [type:bash]
clusters:
  - id: hpc
    name: hpc
    user: admin
    version: "1"
    status: UP
    tags: [sched:hpc]
    commands: [bash]
    metadata: {executor: slurm, slurm: {partition: debug}}
  - id: held
    name: held
    user: admin
    version: "1"
    status: UP
    tags: [sched:held]
    commands: [bash]
    metadata: {executor: slurm, slurm: {sbatch_args: [--hold]}}
  - id: here
    name: here
    user: admin
    version: "1"
    status: UP
    tags: [sched:here]
    commands: [bash]
)";

class SlurmE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { slurm_ = exec::testing::SlurmCluster::Start(&why_).release(); }
  static void TearDownTestSuite() {
    delete slurm_;
    slurm_ = nullptr;
  }

  void SetUp() override {
    if (slurm_ == nullptr) WEIR_MISSING_SERVICE("slurm", why_);
    job_root_ = dir_.path() / "shared-jobs";
    StartServer();
    WriteFile(dir_.path() / "config.yaml", kConfig);
    auto applied = RunWeir(server_->url(), {"apply", "-f", (dir_.path() / "config.yaml").string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  void StartServer() {
    std::string config =
        "jobs:\n  kill_grace_ms: 500\n  max_active_jobs_per_user: 200\n"
        "exec:\n  slurm:\n    conf: " +
        slurm_->conf().string() + "\n    job_root: " + job_root_.string() +
        "\n    poll_interval_ms: 100\n";
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", config);
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
  }

  std::string Submit(const std::string& script, const std::string& cluster_tag = "sched:hpc",
                     json::object extra = {}) {
    json::object req{{"name", "t"},
                     {"user", "tester"},
                     {"version", "1"},
                     {"clusterCriterias", json::array{json::object{{"tags", {cluster_tag}}}}},
                     {"commandCriteria", json::array{"type:bash"}},
                     {"commandArguments", json::array{json::value(script)}}};
    for (auto& [k, v] : extra) req[k] = v;
    auto r = http_->PostJson("/api/v3/jobs", json::serialize(req));
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->status, 202) << r->body;
    std::string loc = r->Header("location").value_or("");
    return loc.substr(loc.rfind('/') + 1);
  }

  json::value Get(const std::string& path) {
    auto r = http_->Get(path);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return nullptr;
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return Parse(r->body);
  }
  std::string Status(const std::string& id) {
    return Str(Get("/api/v3/jobs/" + id + "/status"), "status");
  }
  std::string WaitFinal(const std::string& id, std::chrono::seconds limit = 60s) {
    std::string status;
    WaitFor(
        [&] {
          status = Status(id);
          return status != "INIT" && status != "RUNNING";
        },
        limit);
    return status;
  }
  std::string SlurmId(const std::string& id) {
    return Str(Get("/api/v3/jobs/" + id + "/execution"), "slurmJobId");
  }
  std::string SlurmState(const std::string& slurm_id) {
    auto r = slurm_->Tool({"squeue", "-h", "-t", "all", "-j", slurm_id, "-o", "%T"});
    std::string s = r.ok() ? r->out : "";
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  // Until Slurm runs the job and weir shows it RUNNING (INIT while it is pending in Slurm).
  bool WaitSlurmRunning(const std::string& id) {
    return WaitFor([&] {
      std::string sid = SlurmId(id);
      return !sid.empty() && SlurmState(sid) == "RUNNING" && Status(id) == "RUNNING";
    });
  }
  // Slurm's reason for a pending job (squeue %r), e.g. "JobHeldUser".
  std::string SlurmReason(const std::string& slurm_id) {
    auto r = slurm_->Tool({"squeue", "-h", "-j", slurm_id, "-o", "%r"});
    std::string s = r.ok() ? r->out : "";
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  // Until the held job is pending in Slurm and weir shows it INIT with Slurm's partition and
  // reason; returns its Slurm job id ("" when that does not happen).
  std::string WaitPendingInSlurm(const std::string& id) {
    std::string sid, msg;
    bool pending = WaitFor([&] {
      sid = SlurmId(id);
      if (sid.empty() || SlurmState(sid) != "PENDING") return false;
      json::value job = Get("/api/v3/jobs/" + id);
      msg = Str(job, "statusMsg");
      return Str(job, "status") == "INIT" && msg.rfind("Job pending", 0) == 0;
    });
    EXPECT_TRUE(pending) << "status " << Status(id) << ", message: " << msg;
    if (!pending) return "";
    const std::string reason = SlurmReason(sid);
    EXPECT_FALSE(reason.empty() || reason == "None") << reason;
    EXPECT_EQ(msg, "Job pending in Slurm partition " + slurm_->partition() + ": " + reason + ".");
    return sid;
  }

  static exec::testing::SlurmCluster* slurm_;
  static std::string why_;
  TempDir dir_;
  fs::path job_root_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};
exec::testing::SlurmCluster* SlurmE2eTest::slurm_ = nullptr;
std::string SlurmE2eTest::why_;

TEST_F(SlurmE2eTest, JobSucceedsOnSlurmWithItsOutputServedAndItsSlurmIdShown) {
  std::string id = Submit("echo hello from $(hostname); echo oops >&2");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");
  json::value exec = Get("/api/v3/jobs/" + id + "/execution");
  EXPECT_EQ(exec.at("exitCode").to_number<int64_t>(), 0);
  const std::string sid = Str(exec, "slurmJobId");
  ASSERT_FALSE(sid.empty()) << json::serialize(exec);
  // Slurm ran it, named after the job, in the job folder under exec.slurm.job_root.
  auto name = slurm_->Tool({"squeue", "-h", "-t", "all", "-j", sid, "-o", "%j|%T"});
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->out, id + "|COMPLETED\n");
  EXPECT_TRUE(fs::exists(job_root_ / id / "genie" / "genie.done"));
  auto out = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->body, "hello from " + slurm_->node() + "\n");
  auto err = http_->Get("/api/v3/jobs/" + id + "/output/stderr");
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->body, "oops\n");
  auto status = RunWeir(server_->url(), {"job", "status", id});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("Slurm job: " + sid), std::string::npos) << status.out;
  auto js = RunWeir(server_->url(), {"-o", "json", "job", "status", id});
  EXPECT_EQ(Str(Parse(js.out), "slurmJobId"), sid) << js.out;
}

TEST_F(SlurmE2eTest, JobsOfOtherClustersStillRunOnTheServersNode) {
  std::string id = Submit("echo local", "sched:here");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");
  json::value exec = Get("/api/v3/jobs/" + id + "/execution");
  EXPECT_FALSE(exec.as_object().contains("slurmJobId")) << json::serialize(exec);
  EXPECT_TRUE(exec.at("processId").is_number());
}

TEST_F(SlurmE2eTest, ExitThreeIsFailedWithExitThree) {
  std::string id = Submit("exit 3");
  ASSERT_EQ(WaitFinal(id), "FAILED");
  EXPECT_EQ(Get("/api/v3/jobs/" + id + "/execution").at("exitCode").to_number<int64_t>(), 3);
}

TEST_F(SlurmE2eTest, KillOfARunningJobEndsItInSlurm) {
  std::string id = Submit("sleep 300");
  ASSERT_TRUE(WaitSlurmRunning(id));
  ASSERT_EQ(Status(id), "RUNNING");
  auto k = http_->Delete("/api/v3/jobs/" + id);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->status, 202) << k->body;
  ASSERT_EQ(WaitFinal(id, 30s), "KILLED");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id), "statusMsg"), "Job was killed by user.");
  const std::string sid = SlurmId(id);
  EXPECT_TRUE(WaitFor([&] { return SlurmState(sid) != "RUNNING"; })) << SlurmState(sid);
}

TEST_F(SlurmE2eTest, KillOfAPendingJobRemovesItFromTheQueue) {
  std::string id = Submit("touch ran", "sched:held");
  ASSERT_TRUE(WaitFor([&] { return !SlurmId(id).empty(); }));
  const std::string sid = SlurmId(id);
  ASSERT_EQ(SlurmState(sid), "PENDING");
  auto k = http_->Delete("/api/v3/jobs/" + id);
  ASSERT_TRUE(k.ok());
  ASSERT_EQ(WaitFinal(id, 30s), "KILLED");
  EXPECT_EQ(SlurmState(sid), "CANCELLED");
  EXPECT_FALSE(fs::exists(job_root_ / id / "ran"));
}

TEST_F(SlurmE2eTest, PendingJobIsInitWithSlurmsReasonThenRunningOnItsNodeThenSucceeds) {
  std::string id = Submit("while [ ! -e go ]; do sleep 0.1; done; echo ran", "sched:held");
  const std::string sid = WaitPendingInSlurm(id);
  ASSERT_FALSE(sid.empty());
  json::value exec = Get("/api/v3/jobs/" + id + "/execution");
  EXPECT_EQ(Str(exec, "slurmJobId"), sid);
  EXPECT_TRUE(Get("/api/v3/jobs/" + id).at("started").is_null()) << "it has not started yet";
  auto status = RunWeir(server_->url(), {"job", "status", id});
  EXPECT_NE(status.out.find("Slurm job: " + sid), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("Job pending in Slurm partition"), std::string::npos) << status.out;
  // Slurm starts it: RUNNING with the node that runs it, then its end.
  auto released = slurm_->Tool({"scontrol", "release", sid});
  ASSERT_TRUE(released.ok() && released->exit_code == 0) << (released.ok() ? released->err : "");
  ASSERT_TRUE(WaitFor([&] { return Status(id) == "RUNNING"; })) << Status(id);
  json::value job = Get("/api/v3/jobs/" + id);
  EXPECT_EQ(Str(job, "statusMsg"), "Job is Running.");
  EXPECT_FALSE(job.at("started").is_null());
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id + "/execution"), "hostName"), slurm_->node());
  WriteFile(job_root_ / id / "go", "");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");
  auto out = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->body, "ran\n");
}

TEST_F(SlurmE2eTest, PendingJobKeepsItsSlurmIdAndStateAcrossARestart) {
  std::string id = Submit("echo after restart", "sched:held");
  const std::string sid = WaitPendingInSlurm(id);
  ASSERT_FALSE(sid.empty());
  server_->Kill9();
  StartServer();
  // The id comes from the database; the job is re-adopted pending, not set up again.
  EXPECT_EQ(SlurmId(id), sid);
  EXPECT_EQ(WaitPendingInSlurm(id), sid);
  auto released = slurm_->Tool({"scontrol", "release", sid});
  ASSERT_TRUE(released.ok() && released->exit_code == 0);
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");
  EXPECT_EQ(SlurmId(id), sid);
  auto out = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->body, "after restart\n");
}

TEST_F(SlurmE2eTest, TimeoutKillsTheJob) {
  std::string id = Submit("sleep 300", "sched:hpc", {{"timeout", 2}});
  ASSERT_EQ(WaitFinal(id, 60s), "KILLED");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id), "statusMsg"), "Job exceeded timeout.");
}

TEST_F(SlurmE2eTest, KillNineOfTheServerMidJobReadoptsItsSlurmJobs) {
  std::string ok = Submit("while [ ! -e go ]; do sleep 0.1; done; echo done");
  std::string bad = Submit("while [ ! -e go ]; do sleep 0.1; done; exit 5");
  ASSERT_TRUE(WaitSlurmRunning(ok));
  ASSERT_TRUE(WaitSlurmRunning(bad));
  server_->Kill9();
  WriteFile(job_root_ / bad / "go", "");  // ends while no server watches
  StartServer();
  ASSERT_EQ(WaitFinal(bad), "FAILED");
  EXPECT_EQ(Get("/api/v3/jobs/" + bad + "/execution").at("exitCode").to_number<int64_t>(), 5);
  EXPECT_EQ(Status(ok), "RUNNING") << "re-adopted, still running in Slurm";
  WriteFile(job_root_ / ok / "go", "");
  ASSERT_EQ(WaitFinal(ok), "SUCCEEDED");
  auto out = http_->Get("/api/v3/jobs/" + ok + "/output/stdout");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->body, "done\n");
}

TEST_F(SlurmE2eTest, ControllerStoppedForTenSecondsLosesNoJob) {
  std::string ok = Submit("while [ ! -e go ]; do sleep 0.1; done");
  std::string bad = Submit("while [ ! -e go ]; do sleep 0.1; done; exit 7");
  ASSERT_TRUE(WaitSlurmRunning(ok));
  ASSERT_TRUE(WaitSlurmRunning(bad));
  ASSERT_TRUE(slurm_->StopController().ok());
  auto stopped = std::chrono::steady_clock::now();
  WriteFile(job_root_ / ok / "go", "");
  WriteFile(job_root_ / bad / "go", "");
  // While slurmctld is away weir cannot confirm an end: both stay RUNNING, none is lost.
  while (std::chrono::steady_clock::now() - stopped < 10s) {
    ASSERT_EQ(Status(ok), "RUNNING");
    ASSERT_EQ(Status(bad), "RUNNING");
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_TRUE(slurm_->StartController().ok());
  EXPECT_EQ(WaitFinal(ok, 90s), "SUCCEEDED");
  EXPECT_EQ(WaitFinal(bad, 90s), "FAILED");
  EXPECT_EQ(Get("/api/v3/jobs/" + bad + "/execution").at("exitCode").to_number<int64_t>(), 7);
}

TEST_F(SlurmE2eTest, SlurmdKilledMidJobEndsItFailedNamingTheNodeFailure) {
  // The job's processes outlive slurmd (as on a real node failure): it records its sleeper so
  // the test ends it, and slurmd comes back for the next tests, whatever happens here.
  std::string id = Submit("sleep 600 & echo $! > sleeper.pid; wait");
  struct Restore {
    exec::testing::SlurmCluster* slurm;
    fs::path pid_file;
    ~Restore() {
      std::ifstream in(pid_file);
      if (int pid = 0; in >> pid && pid > 0) ::kill(pid, SIGKILL);
      weir::Status st = slurm->StartNodeDaemon();
      if (!st.ok() && st.code() != weir::StatusCode::kFailedPrecondition) {
        ADD_FAILURE() << "slurmd restart: " << st.ToString();
      }
    }
  } restore{slurm_, job_root_ / id / "sleeper.pid"};
  ASSERT_TRUE(WaitSlurmRunning(id));
  ASSERT_TRUE(WaitFor([&] { return fs::exists(job_root_ / id / "sleeper.pid"); }));
  ASSERT_TRUE(slurm_->KillNodeDaemon().ok());
  // SlurmdTimeout=10 in the fixture: Slurm declares the node down and the job NODE_FAIL.
  ASSERT_EQ(WaitFinal(id, 120s), "FAILED");
  const std::string msg = Str(Get("/api/v3/jobs/" + id), "statusMsg");
  EXPECT_NE(msg.find("NODE_FAIL"), std::string::npos) << msg;
  EXPECT_NE(msg.find("node failed"), std::string::npos) << msg;
  EXPECT_EQ(Get("/api/v3/jobs/" + id + "/execution").at("exitCode").to_number<int64_t>(), 666);
}

TEST_F(SlurmE2eTest, HundredJobsInOneBurstAllEndWithTheRightStates) {
  constexpr int kJobs = 100;
  std::vector<std::string> ids;
  for (int i = 0; i < kJobs; ++i) ids.push_back(Submit("exit " + std::to_string(i % 3)));
  std::map<std::string, int> counts;
  for (int i = 0; i < kJobs; ++i) {
    std::string status = WaitFinal(ids[i], 300s);
    ++counts[status];
    EXPECT_EQ(status, i % 3 == 0 ? "SUCCEEDED" : "FAILED") << ids[i];
  }
  EXPECT_EQ(counts["SUCCEEDED"], 34);
  EXPECT_EQ(counts["FAILED"], 66);
}

}  // namespace
}  // namespace weir::testing
