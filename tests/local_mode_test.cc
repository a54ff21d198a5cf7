// Local mode (issue 13) through the real binaries: `weir job prepare` has the server set up a
// job folder and downloads it; `weir job run-local` runs it here and reports RUNNING,
// heartbeats and the end, so the job shows in `weir job list` with the right status, and with
// --upload its output is served by the output routes. A RUNNING local job whose heartbeats stop
// ends FAILED after jobs.local_heartbeat_timeout_ms.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "client/http_client.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string FirstLine(std::string s) {
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

class LocalModeTest : public ::testing::Test {
 protected:
  void StartServer(int heartbeat_timeout_ms) {
    server_ = std::make_unique<WeirServer>(
        dir_.path() / "data",
        "jobs:\n  local_heartbeat_timeout_ms: " + std::to_string(heartbeat_timeout_ms) + "\n");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = Weir({"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  CommandResult Weir(const std::vector<std::string>& args) { return RunWeir(server_->url(), args); }

  json::value Get(const std::string& path) {
    auto r = http_->Get(path, {{"Accept", "application/json"}});
    EXPECT_TRUE(r.ok()) << path;
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return Parse(r->body);
  }

  // `weir job prepare` of a bash script into `folder`; returns the job id.
  std::string Prepare(const std::string& script, const fs::path& folder,
                      const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"job",   "prepare",      "-c",     "sched:sla",
                                     "-C",    "type:bash",    "--user", "tester",
                                     "--dir", folder.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("--");
    args.push_back(script);
    auto r = Weir(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return FirstLine(r.out);
  }

  json::value Job(const std::string& id) { return Get("/api/v3/jobs/" + id); }
  json::value Execution(const std::string& id) { return Get("/api/v3/jobs/" + id + "/execution"); }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(LocalModeTest, PreparedFolderRunsElsewhereAndTheServerRecordsItsEnd) {
  StartServer(60000);
  WriteFile(dir_.path() / "input.txt", "attached bytes\n");
  const fs::path folder = dir_.path() / "job";
  const std::string id = Prepare(
      "cat input.txt; echo \"id=$GENIE_JOB_ID\"; echo \"dir=$GENIE_JOB_DIR\"; pwd -P; "
      "echo result > result.txt",
      folder, {"--attach", (dir_.path() / "input.txt").string()});
  ASSERT_FALSE(id.empty());

  // The server set it up and waits for its runner: INIT, not launched there.
  json::value job = Job(id);
  EXPECT_EQ(Str(job, "status"), "INIT");
  EXPECT_TRUE(Contains(Str(job, "statusMsg"), "prepared for a local run")) << job;
  EXPECT_TRUE(fs::exists(folder / "run"));
  EXPECT_EQ(Slurp(folder / "input.txt"), "attached bytes\n");
  EXPECT_FALSE(fs::exists(server_->data_dir() / "jobs" / id / "stdout")) << "it ran on the server";

  // Moved after the download: the run script finds its folder wherever it is.
  const fs::path moved = dir_.path() / "elsewhere" / "moved-job";
  fs::create_directories(moved.parent_path());
  fs::rename(folder, moved);
  auto run = Weir({"job", "run-local", moved.string(), "--upload"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.err, "SUCCEEDED")) << run.err;

  const std::string out = Slurp(moved / "stdout");
  const std::string real = fs::canonical(moved).string();
  EXPECT_EQ(out, "attached bytes\nid=" + id + "\ndir=" + real + "\n" + real + "\n") << out;

  job = Job(id);
  EXPECT_EQ(Str(job, "status"), "SUCCEEDED") << job;
  json::value exec = Execution(id);
  ASSERT_TRUE(exec.as_object().contains("exitCode")) << exec;
  EXPECT_EQ(exec.at("exitCode").as_int64(), 0);

  // In `weir job list` with its status.
  auto list = Weir({"job", "list", "--user", "tester", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Contains(list.out, id)) << list.out;
  json::value items = ListItems(list.out, "jobs");
  bool found = false;
  for (const json::value& item : items.as_array()) {
    if (Str(item, "id") == id) {
      found = true;
      EXPECT_EQ(Str(item, "status"), "SUCCEEDED");
    }
  }
  EXPECT_TRUE(found) << list.out;

  // The uploaded output is served by the normal output routes.
  auto served = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  ASSERT_TRUE(served.ok());
  EXPECT_EQ(served->status, 200);
  EXPECT_EQ(served->body, out);
  auto result = http_->Get("/api/v3/jobs/" + id + "/output/result.txt");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->body, "result\n");

  // A local job runs once.
  auto again = Weir({"job", "run-local", moved.string()});
  EXPECT_EQ(again.exit_code, 1) << again.err;
  EXPECT_TRUE(Contains(again.err, "SUCCEEDED")) << again.err;
}

TEST_F(LocalModeTest, FailingScriptEndsFailedWithItsExitCode) {
  StartServer(60000);
  const fs::path folder = dir_.path() / "job";
  const std::string id = Prepare("echo going; exit 3", folder);
  ASSERT_FALSE(id.empty());
  auto run = Weir({"job", "run-local", folder.string(), "-o", "json"});
  EXPECT_EQ(run.exit_code, 6) << run.err;
  json::value doc = Parse(run.out);
  EXPECT_EQ(Str(doc, "status"), "FAILED") << run.out;
  EXPECT_EQ(Str(Job(id), "status"), "FAILED");
  EXPECT_EQ(Execution(id).at("exitCode").as_int64(), 3);
  // Without --upload the server keeps the prepared folder only: no output of the run.
  auto served = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  ASSERT_TRUE(served.ok());
  EXPECT_EQ(served->status, 404) << served->body;
}

TEST_F(LocalModeTest, JobWhoseHeartbeatsStopEndsFailed) {
  StartServer(3000);
  // A runner that beats keeps its job RUNNING past the timeout.
  const fs::path beating = dir_.path() / "beating";
  const std::string ok_id = Prepare("sleep 5; echo done", beating);
  ASSERT_FALSE(ok_id.empty());
  auto run = Weir({"job", "run-local", beating.string()});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Str(Job(ok_id), "status"), "SUCCEEDED");

  // A runner that reports RUNNING and then goes silent (as a crashed machine does).
  const fs::path silent = dir_.path() / "silent";
  const std::string id = Prepare("echo never", silent);
  ASSERT_FALSE(id.empty());
  auto started = http_->PostJson("/api/weir/v1/jobs/" + id + "/local/start",
                                 R"({"host":"gone-machine","pid":4242})");
  ASSERT_TRUE(started.ok());
  ASSERT_EQ(started->status, 200) << started->body;
  EXPECT_EQ(Str(Parse(started->body), "status"), "RUNNING");
  EXPECT_EQ(Parse(started->body).at("heartbeatIntervalMs").as_int64(), 1000);
  EXPECT_EQ(Str(Job(id), "status"), "RUNNING");

  ASSERT_TRUE(WaitFor([&] { return Str(Job(id), "status") == "FAILED"; }, 60s))
      << "still " << Str(Job(id), "status");
  json::value job = Job(id);
  EXPECT_TRUE(Contains(Str(job, "statusMsg"), "jobs.local_heartbeat_timeout_ms")) << job;
  EXPECT_EQ(Execution(id).at("exitCode").as_int64(), 666);
  EXPECT_EQ(Str(Execution(id), "hostName"), "gone-machine");

  // The runner, if it comes back, is told the job is over.
  auto beat = http_->PostJson("/api/weir/v1/jobs/" + id + "/local/heartbeat", "{}");
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->status, 412) << beat->body;
  EXPECT_TRUE(Contains(beat->body, "FAILED")) << beat->body;
}

TEST_F(LocalModeTest, KillOfALocalJobStopsItsRunner) {
  StartServer(3000);
  const fs::path folder = dir_.path() / "job";
  const std::string id = Prepare("sleep 600", folder, {});
  ASSERT_FALSE(id.empty());
  // Heartbeats every second with this timeout: the kill is learnt at the next one.
  CommandResult run;
  std::thread runner([&] { run = Weir({"job", "run-local", folder.string()}); });
  bool running = WaitFor([&] { return Str(Job(id), "status") == "RUNNING"; }, 60s);
  auto killed = Weir({"job", "kill", id});
  EXPECT_EQ(killed.exit_code, 0) << killed.err;
  runner.join();
  ASSERT_TRUE(running);
  EXPECT_EQ(run.exit_code, 7) << run.err;
  EXPECT_TRUE(Contains(run.err, "killed by user")) << run.err;
  EXPECT_EQ(Str(Job(id), "status"), "KILLED");
}

}  // namespace
}  // namespace weir::testing
