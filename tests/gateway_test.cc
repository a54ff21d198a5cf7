// End-to-end tests of the job gateway: the real `weir server` binary on a free port, driven over
// real HTTP and through the real CLI, with real job processes and a real SQLite file.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "client/http_client.h"
#include "job_api.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

// Live processes of the process group `pgid` whose command name (/proc/PID/comm) is `comm`.
int CommandsInGroup(pid_t pgid, const std::string& comm) {
  int n = 0;
  for (pid_t p : ProcessesInGroup(pgid)) {
    std::string name = Slurp(fs::path("/proc") / std::to_string(p) / "comm");
    if (!name.empty() && name.back() == '\n') name.pop_back();
    n += name == comm;
  }
  return n;
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", Config());
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }
  virtual std::string Config() { return "jobs:\n  kill_grace_ms: 500\n"; }

  // Submits a bash command line to the demo cluster; returns the job id.
  std::string Submit(const std::string& script, json::object extra = {}) {
    return SubmitJob(*http_, BashJobRequest(script, extra));
  }

  json::value Get(const std::string& path) { return GetJson(*http_, path); }

  std::string WaitFinal(const std::string& id, std::chrono::seconds limit = 30s) {
    return WaitJobFinal(*http_, id, limit);
  }

  pid_t ProcessId(const std::string& id) { return JobProcessId(*http_, id); }

  void WaitRunning(const std::string& id) { WaitJobRunning(*http_, id); }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(GatewayTest, HealthAndRoot) {
  EXPECT_EQ(Str(Get("/admin/health"), "status"), "UP");
  EXPECT_EQ(Str(Get("/actuator/health"), "status"), "UP");
  json::value root = Get("/api/v3");
  for (const char* rel : {"applications", "commands", "clusters", "jobs"}) {
    EXPECT_TRUE(root.at("_links").as_object().contains(rel)) << rel;
  }
}

TEST_F(GatewayTest, ApplyTwiceChangesNothing) {
  auto again = RunWeir(server_->url(), {"apply", "-f", kDemo});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("0 changes"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("created"), std::string::npos) << again.out;
  json::value cmds = Get("/api/v3/clusters/local/commands");
  ASSERT_TRUE(cmds.is_array());
  ASSERT_EQ(cmds.as_array().size(), 3u);
  EXPECT_EQ(Str(cmds.as_array()[0], "id"), "bash");
}

TEST_F(GatewayTest, JsonSubmissionSucceedsWithOutput) {
  std::string id = Submit("echo hello; echo oops >&2");
  EXPECT_EQ(WaitFinal(id), "SUCCEEDED");
  json::value job = Get("/api/v3/jobs/" + id);
  EXPECT_EQ(Str(job, "statusMsg"), "Job finished successfully.");
  EXPECT_EQ(Str(job, "clusterName"), "local");
  EXPECT_EQ(Str(job, "commandName"), "bash");
  EXPECT_EQ(job.at("_links").as_object().size(), 9u);
  auto out = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->body, "hello\n");
  auto err = http_->Get("/api/v3/jobs/" + id + "/output/stderr");
  EXPECT_EQ(err->body, "oops\n");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id + "/execution"), "exitCode"), "0");
}

TEST_F(GatewayTest, JobResourceFollowsStatusAndHostAfterItEnds) {
  std::string id = Submit("sleep 1");
  WaitRunning(id);
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id), "status"), "RUNNING");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");
  for (const std::string host : {"a.example:8080", "b.example"}) {
    for (int i = 0; i < 2; ++i) {  // the second read of a finished job is served from memory
      auto r = http_->Get("/api/v3/jobs/" + id, {{"Host", host}});
      ASSERT_TRUE(r.ok());
      json::value job = Parse(r->body);
      EXPECT_EQ(Str(job, "status"), "SUCCEEDED");
      EXPECT_EQ(Str(job.at("_links").at("self"), "href"), "http://" + host + "/api/v3/jobs/" + id);
    }
  }
}

TEST_F(GatewayTest, MultipartSubmissionCopiesAttachments) {
  TempDir files;
  std::ofstream(files.path() / "data.csv") << "a,b\n1,2\n";
  json::object req{{"name", "mp"},
                   {"user", "tester"},
                   {"version", "1"},
                   {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                   {"commandCriteria", json::array{"type:bash"}},
                   {"commandArgs", "'wc -l < data.csv'"}};
  auto r = http_->PostMultipart(
      "/api/v3/jobs", {{"request", "", "application/json", json::serialize(req), {}},
                       {"attachment", "data.csv", "text/csv", "", files.path() / "data.csv"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 202) << r->body;
  std::string loc = r->Header("location").value_or("");
  std::string id = loc.substr(loc.rfind('/') + 1);
  EXPECT_EQ(WaitFinal(id), "SUCCEEDED");
  EXPECT_EQ(http_->Get("/api/v3/jobs/" + id + "/output/stdout")->body, "2\n");
  json::value meta = Get("/api/v3/jobs/" + id + "/metadata");
  EXPECT_EQ(Str(meta, "numAttachments"), "1");
}

TEST_F(GatewayTest, ExitCodeIsKeptOnFailure) {
  std::string id = Submit("exit 3");
  EXPECT_EQ(WaitFinal(id), "FAILED");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id + "/execution"), "exitCode"), "3");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id), "statusMsg"), "Job failed.");
}

TEST_F(GatewayTest, TimeoutKillsTheJob) {
  std::string id = Submit("sleep 60", {{"timeout", 1}});
  EXPECT_EQ(WaitFinal(id), "KILLED");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id), "statusMsg"), "Job exceeded timeout.");
}

TEST_F(GatewayTest, KillOfATreeIgnoringSigtermLeavesNoProcess) {
  std::string id = Submit("trap '' TERM; (trap '' TERM; sleep 300) & sleep 300; wait");
  WaitRunning(id);
  json::value exec = Get("/api/v3/jobs/" + id + "/execution");
  pid_t pid = static_cast<pid_t>(exec.at("processId").to_number<int64_t>());
  // Both sleeps run (the subshell's and the main shell's): the whole tree is there to be killed.
  ASSERT_TRUE(WaitFor([&] { return CommandsInGroup(pid, "sleep") >= 2; }))
      << "the job's two sleeps never started; group has " << ProcessesInGroup(pid).size();
  auto r = http_->Delete("/api/v3/jobs/" + id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(WaitFinal(id), "KILLED");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id), "statusMsg"), "Job was killed by user.");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id + "/execution"), "exitCode"), "999");
  EXPECT_TRUE(ProcessesInGroup(pid).empty());
  // Killing a finished job is a no-op.
  EXPECT_EQ(http_->Delete("/api/v3/jobs/" + id)->status, 202);
  EXPECT_EQ(http_->Delete("/api/v3/jobs/no-such-job")->status, 404);
}

// jobs.kill_grace_ms (500 here) bounds how long a job may clean up after SIGTERM: a handler
// that needs 3 s is cut short by SIGKILL, so its last line is never written.
TEST_F(GatewayTest, KillGraceFromTheConfigCutsALongSigtermHandlerShort) {
  std::string id = Submit(
      "trap 'echo got-term; sleep 3; echo handler-finished; exit 0' TERM; echo ready; "
      "sleep 300 & wait");
  WaitRunning(id);
  for (int i = 0; i < 250; ++i) {
    auto out = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
    if (out.ok() && out->status == 200 && out->body.find("ready") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(http_->Delete("/api/v3/jobs/" + id)->status, 202);
  EXPECT_EQ(WaitFinal(id), "KILLED");
  auto out = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->body.find("got-term"), std::string::npos) << out->body;
  EXPECT_EQ(out->body.find("handler-finished"), std::string::npos)
      << "SIGKILL came later than kill_grace_ms allows: " << out->body;
}

TEST_F(GatewayTest, ServerCrashWhileJobsRunRecordsEveryTrueOutcome) {
  // The first two wait for a gate file the test opens while the server is down; they also end if
  // the test's folder is gone (a failed test leaves no process behind).
  const fs::path gate = dir_.path() / "gate";
  const std::string wait_gate = "while [ ! -e " + ShellQuote(gate.string()) +
                                " ]; do sleep 0.05; [ -d " + ShellQuote(dir_.path().string()) +
                                " ] || exit 9; done; ";
  std::string ok = Submit(wait_gate + "echo done");
  std::string bad = Submit(wait_gate + "exit 4");
  std::string long_one = Submit("sleep 300");
  WaitRunning(ok);
  WaitRunning(bad);
  WaitRunning(long_one);
  const pid_t ok_pid = ProcessId(ok), bad_pid = ProcessId(bad);
  server_->Kill9();
  // The first two end while the server is down.
  WriteFile(gate, "");
  ASSERT_TRUE(WaitFor([&] {
    return ProcessesInGroup(ok_pid).empty() && ProcessesInGroup(bad_pid).empty();
  })) << "the gated jobs did not end while the server was down";
  ASSERT_EQ(server_->Start(), "");
  EXPECT_EQ(WaitFinal(ok), "SUCCEEDED");
  EXPECT_EQ(http_->Get("/api/v3/jobs/" + ok + "/output/stdout")->body, "done\n");
  EXPECT_EQ(WaitFinal(bad), "FAILED");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + bad + "/execution"), "exitCode"), "4");
  // The long job was re-adopted: it is still running and can be killed.
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + long_one + "/status"), "status"), "RUNNING");
  EXPECT_EQ(http_->Delete("/api/v3/jobs/" + long_one)->status, 202);
  EXPECT_EQ(WaitFinal(long_one), "KILLED");
}

TEST_F(GatewayTest, RangeReads) {
  std::string id = Submit("printf 0123456789");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");
  auto r = http_->Get("/api/v3/jobs/" + id + "/output/stdout", {{"Range", "bytes=2-5"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, "2345");
  EXPECT_EQ(r->Header("content-range").value_or(""), "bytes 2-5/10");
  auto tail = http_->Get("/api/v3/jobs/" + id + "/output/stdout", {{"Range", "bytes=-3"}});
  EXPECT_EQ(tail->body, "789");
  auto bad = http_->Get("/api/v3/jobs/" + id + "/output/stdout", {{"Range", "bytes=50-60"}});
  EXPECT_EQ(bad->status, 416);
}

TEST_F(GatewayTest, OutputNeverLeavesTheJobDirectory) {
  std::string id = Submit("ln -s /etc/passwd escape; echo x > inside.txt");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");
  auto listing = Get("/api/v3/jobs/" + id + "/output");
  EXPECT_TRUE(listing.as_object().contains("files"));
  // A literal "../" is removed by the client (libcurl squashes dot segments): the request names
  // another route, which does not exist (404). Encoded dots and an absolute path are refused
  // (400); a link leading out of the folder is forbidden (403).
  for (const auto& [path, want] :
       std::vector<std::pair<std::string, int>>{{"/output/../../weir.db", 404},
                                                {"/output/%2e%2e/%2e%2e/weir.db", 400},
                                                {"/output//etc/passwd", 400},
                                                {"/output/escape", 403},
                                                {"/output/genie/../../x", 404}}) {
    auto r = http_->Get("/api/v3/jobs/" + id + path);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, want) << path << ": " << r->body;
    EXPECT_EQ(r->body.find("root:"), std::string::npos) << path;
  }
  EXPECT_EQ(http_->Get("/api/v3/jobs/" + id + "/output/inside.txt")->body, "x\n");
  EXPECT_EQ(Str(Get("/admin/health"), "status"), "UP");
}

TEST_F(GatewayTest, BadInputGetsClear4xx) {
  auto malformed = http_->PostJson("/api/v3/jobs", "{\"name\": ");
  EXPECT_EQ(malformed->status, 400);
  auto wrong_type = http_->PostJson(
      "/api/v3/jobs",
      R"({"name":"x","user":"u","version":"1","clusterCriterias":"sched:sla","commandCriteria":["type:bash"]})");
  EXPECT_EQ(wrong_type->status, 400);
  EXPECT_NE(wrong_type->body.find("clusterCriterias"), std::string::npos) << wrong_type->body;
  auto missing = http_->PostJson(
      "/api/v3/jobs", R"({"name":"x","user":"u","version":"1","commandCriteria":["type:bash"]})");
  EXPECT_EQ(missing->status, 400) << missing->body;
  EXPECT_NE(missing->body.find("clusterCriterias"), std::string::npos) << missing->body;
  std::string huge(8 << 20, 'x');
  auto big = http_->PostJson("/api/v3/applications", "{\"name\":\"" + huge + "\"}");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(http_->Get("/api/v3/jobs/nope")->status, 404);
  EXPECT_EQ(http_->Get("/api/v3/clusters/nope")->status, 404);
  EXPECT_EQ(Str(Get("/admin/health"), "status"), "UP");
}

TEST_F(GatewayTest, NoMatchingClusterIs412AndRecordedFailed) {
  json::object req{{"id", "nomatch-1"},
                   {"name", "x"},
                   {"user", "u"},
                   {"version", "1"},
                   {"clusterCriterias", json::array{json::object{{"tags", {"no:such"}}}}},
                   {"commandCriteria", json::array{"type:bash"}}};
  auto r = http_->PostJson("/api/v3/jobs", json::serialize(req));
  EXPECT_EQ(r->status, 412);
  EXPECT_EQ(Str(Get("/api/v3/jobs/nomatch-1"), "status"), "FAILED");
  auto dup = http_->PostJson("/api/v3/jobs", json::serialize(req));
  EXPECT_EQ(dup->status, 409);
}

TEST_F(GatewayTest, CliSubmitWaitPrintsOutput) {
  auto r =
      RunWeir(server_->url(), {"job", "submit", "--cluster-tags", "sched:sla", "--command-tags",
                               "type:bash", "--wait", "--", "echo from-cli"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from-cli\n");
  auto failed = RunWeir(server_->url(), {"job", "submit", "-c", "sched:sla", "-C", "type:bash",
                                         "--wait", "--", "exit 5"});
  EXPECT_EQ(failed.exit_code, 6);  // the job ended FAILED (docs/cli.md)
  auto list = RunWeir(server_->url(), {"job", "list", "--status", "FAILED", "-o", "json"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("FAILED"), std::string::npos);
  auto unreachable = RunWeir("http://127.0.0.1:1", {"job", "list"});
  EXPECT_EQ(unreachable.exit_code, 5);  // cannot reach a weir server
  EXPECT_NE(unreachable.err.find("weir server"), std::string::npos) << unreachable.err;
}

class QueueTest : public GatewayTest {
 protected:
  std::string Config() override {
    return "jobs:\n  queue_enabled: true\n  max_system_memory_mb: 2048\n  kill_grace_ms: 500\n";
  }
};

TEST_F(QueueTest, JobsBeyondCapacityWaitQueuedAndStartInOrder) {
  std::string a = Submit("sleep 1", {{"memory", 1024}});
  std::string b = Submit("sleep 1", {{"memory", 1024}});
  std::string c = Submit("echo third", {{"memory", 1024}});
  json::value queued = Get("/api/v3/jobs/" + c);
  EXPECT_EQ(Str(queued, "status"), "INIT");
  EXPECT_NE(Str(queued, "statusMsg").find("queued"), std::string::npos) << Str(queued, "statusMsg");
  EXPECT_EQ(WaitFinal(c), "SUCCEEDED");
  EXPECT_EQ(WaitFinal(a), "SUCCEEDED");
  EXPECT_EQ(WaitFinal(b), "SUCCEEDED");
}

// Jobs that each need the whole node run one at a time, in the order they were submitted: each
// queued job starts only after the one submitted before it has finished.
TEST_F(QueueTest, QueuedJobsStartFirstInFirstOut) {
  std::vector<std::string> ids;
  ids.push_back(Submit("sleep 1", {{"memory", 2048}}));
  for (int i = 0; i < 3; ++i) ids.push_back(Submit("sleep 0.2", {{"memory", 2048}}));
  for (const std::string& id : ids) EXPECT_EQ(WaitFinal(id), "SUCCEEDED") << id;
  for (size_t i = 1; i < ids.size(); ++i) {
    json::value prev = Get("/api/v3/jobs/" + ids[i - 1]);
    json::value next = Get("/api/v3/jobs/" + ids[i]);
    EXPECT_LE(Str(prev, "finished"), Str(next, "started"))
        << "job " << i << " started before job " << i - 1 << " (submitted earlier) ended";
  }
}

}  // namespace
}  // namespace weir::testing
