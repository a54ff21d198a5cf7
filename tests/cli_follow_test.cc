// End-to-end tests of live job output (issue 15): `weir job output --follow/--tail`, the streaming
// `job submit --wait` that survives a server crash and restart, its Ctrl-C notice, and a set-up
// failure under --wait (bug 7). The real `weir` binary against the real server; a command that
// runs alongside the test is started in the background with its stdout/stderr in files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
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

// `weir --server URL ARGS...` running in the background, stdout and stderr to files (so not a
// terminal). The destructor SIGKILLs it if it still runs.
class Background {
 public:
  Background(const std::string& url, const std::vector<std::string>& args, const fs::path& dir)
      : out_(dir / "bg.out"), err_(dir / "bg.err") {
    std::vector<std::string> argv = {WeirBinary().string(), "--server", url};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> p;
    for (auto& a : argv) p.push_back(a.data());
    p.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      int o = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(o, 1);
      ::dup2(e, 2);
      ::execv(p[0], p.data());
      ::_exit(127);
    }
  }
  ~Background() {
    if (pid_ > 0 && exit_code_ < 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::string out() const { return Slurp(out_); }
  std::string err() const { return Slurp(err_); }
  pid_t pid() const { return pid_; }
  // Waits (≤ 60 s) for the process to exit; its exit code (128+N for signal N), -1 on timeout.
  int Wait() {
    WaitFor(
        [&] {
          int st = 0;
          if (::waitpid(pid_, &st, WNOHANG) != pid_) return false;
          exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          return true;
        },
        60s);
    return exit_code_;
  }

 private:
  fs::path out_, err_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

class CliFollowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Files under the test's folder may be dependencies (bug 7's set-up failure).
    server_ = std::make_unique<WeirServer>(
        dir_.path() / "data",
        Config() + "fetch:\n  allowed_file_roots: [" + dir_.path().string() + "]\n");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  virtual std::string Config() { return ""; }

  // A bash line that waits for the test's gate file (and ends if the test's folder is gone).
  std::string WaitGate() const {
    return "while [ ! -e " + ShellQuote(gate_.string()) + " ]; do sleep 0.05; [ -d " +
           ShellQuote(dir_.path().string()) + " ] || exit 9; done; ";
  }

  std::string Submit(const std::string& script) {
    return SubmitJob(*http_, BashJobRequest(script));
  }

  std::string JobStatus(const std::string& id) {
    auto r = http_->Get("/api/v3/jobs/" + id + "/status");
    return r.ok() ? Str(Parse(r->body), "status") : "";
  }

  TempDir dir_;
  fs::path gate_ = dir_.path() / "gate";
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(CliFollowTest, FollowShowsALineWhileTheJobWaits) {
  // The job writes a line, then waits on the gate: the line must appear before the gate exists.
  std::string id = Submit("echo first; " + WaitGate() + "echo second");
  Background follow(server_->url(), {"job", "output", id, "stdout", "--follow"}, dir_.path());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return follow.out() == "first\n"; }, 30s))
      << "--follow never showed the line of the running job: '" << follow.out() << "' "
      << follow.err();
  std::cout << "line seen after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count()
            << " ms (includes the job's start)\n";
  EXPECT_NE(JobStatus(id), "SUCCEEDED");
  WriteFile(gate_, "");
  ASSERT_EQ(follow.Wait(), 0) << follow.err();  // ends by itself once the job has ended
  EXPECT_EQ(follow.out(), "first\nsecond\n");
  EXPECT_EQ(JobStatus(id), "SUCCEEDED");
}

TEST_F(CliFollowTest, TailPrintsTheLastLinesThenFollows) {
  std::string done = Submit("seq 1 10");
  ASSERT_TRUE(WaitFor([&] { return JobStatus(done) == "SUCCEEDED"; }));
  auto tail = RunWeir(server_->url(), {"job", "output", done, "stdout", "--tail", "3"});
  EXPECT_EQ(tail.exit_code, 0) << tail.err;
  EXPECT_EQ(tail.out, "8\n9\n10\n");
  auto all = RunWeir(server_->url(), {"job", "output", done, "stdout", "--tail", "50"});
  EXPECT_EQ(all.out, std::string("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"));

  std::string running = Submit("seq 1 5; " + WaitGate() + "echo 6 >&2; echo six");
  ASSERT_TRUE(WaitFor([&] {
    auto r = http_->Get("/api/v3/jobs/" + running + "/output/stdout");
    return r.ok() && r->body == "1\n2\n3\n4\n5\n";
  })) << "the job never wrote its first lines";
  Background follow(server_->url(), {"job", "output", running, "stdout", "--tail", "2", "-f"},
                    dir_.path());
  ASSERT_TRUE(WaitFor([&] { return follow.out() == "4\n5\n"; }))
      << "'" << follow.out() << "' " << follow.err();
  WriteFile(gate_, "");
  ASSERT_EQ(follow.Wait(), 0) << follow.err();
  EXPECT_EQ(follow.out(), "4\n5\nsix\n");
  // Any file, here stderr.
  auto err = RunWeir(server_->url(), {"job", "output", running, "stderr", "--tail", "1"});
  EXPECT_EQ(err.out, "6\n");
}

TEST_F(CliFollowTest, WaitSurvivesAServerCrashAndRestart) {
  Background wait(server_->url(),
                  {"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--wait", "--stream",
                   "--", "echo before; " + WaitGate() + "echo after; exit 3"},
                  dir_.path());
  ASSERT_TRUE(WaitFor([&] { return wait.out() == "before\n"; }))
      << "--stream never showed the first line: " << wait.err();
  server_->Kill9();
  // The CLI notices the lost connection and retries while the server is down.
  ASSERT_TRUE(WaitFor([&] { return wait.err().find("retrying") != std::string::npos; }))
      << wait.err();
  ASSERT_EQ(server_->Start(), "");
  WriteFile(gate_, "");
  EXPECT_EQ(wait.Wait(), 6) << wait.err();  // the job FAILED (exit 3): 6 (docs/cli.md)
  EXPECT_EQ(wait.out(), "before\nafter\n");
  EXPECT_NE(wait.err().find(": FAILED"), std::string::npos) << wait.err();
}

TEST_F(CliFollowTest, CtrlCSaysTheJobGoesOnAndHowToKillIt) {
  Background wait(
      server_->url(),
      {"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--wait", "--", WaitGate()},
      dir_.path());
  ASSERT_TRUE(WaitFor([&] { return wait.err().find(": RUNNING") != std::string::npos; }))
      << wait.err();
  std::string err = wait.err();
  const std::string marker = "submitted job ";
  size_t at = err.find(marker);
  ASSERT_NE(at, std::string::npos) << err;
  std::string id = err.substr(at + marker.size(), err.find('\n', at) - at - marker.size());
  ::kill(wait.pid(), SIGINT);
  EXPECT_EQ(wait.Wait(), 130);
  EXPECT_NE(wait.err().find("keeps running"), std::string::npos) << wait.err();
  EXPECT_NE(wait.err().find("weir job kill " + id), std::string::npos) << wait.err();
  EXPECT_EQ(JobStatus(id), "RUNNING");
  EXPECT_EQ(RunWeir(server_->url(), {"job", "kill", id}).exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return JobStatus(id) == "KILLED"; }));
}

// Bug 7: a job that fails in set-up has no stdout/stderr; --wait says why once, and says nothing
// about the missing files.
TEST_F(CliFollowTest, SetUpFailureUnderWaitSaysWhyOnce) {
  const std::string missing = "file://" + (dir_.path() / "no-such-dependency").string();
  auto r = RunWeir(server_->url(), {"job", "submit", "-c", "sched:sla", "-C", "type:bash",
                                    "--dependency", missing, "--wait", "--", "true"});
  EXPECT_EQ(r.exit_code, 6);  // the job ended FAILED (docs/cli.md)
  EXPECT_NE(r.err.find("set-up"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("not found"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("'stdout'"), std::string::npos) << r.err;
  size_t first = r.err.find("no-such-dependency");
  ASSERT_NE(first, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("no-such-dependency", first + 1), std::string::npos) << r.err;
}

}  // namespace
}  // namespace weir::testing

namespace weir::testing {
namespace {

// Room for one job of the default 1024 MB at a time; the next one queues.
class CliFollowQueueTest : public CliFollowTest {
 protected:
  std::string Config() override {
    return "jobs:\n  queue_enabled: true\n  max_system_memory_mb: 1024\n";
  }
};

TEST_F(CliFollowQueueTest, WaitShowsWhyTheJobIsQueued) {
  std::string blocker = Submit(WaitGate() + "true");
  ASSERT_TRUE(WaitFor([&] { return JobStatus(blocker) == "RUNNING"; }));
  Background wait(server_->url(),
                  {"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--wait", "--no-stream",
                   "--", "echo ran"},
                  dir_.path());
  ASSERT_TRUE(WaitFor([&] { return wait.err().find("(Job queued") != std::string::npos; }))
      << wait.err();
  WriteFile(gate_, "");
  EXPECT_EQ(wait.Wait(), 0) << wait.err();
  EXPECT_EQ(wait.out(), "ran\n");
}

}  // namespace
}  // namespace weir::testing
