// End-to-end tests of jobs.run_as_user: the real `weir server` (as root) starts each job's run
// script as the Unix account of the job's user. Two accounts are created for the suite and
// removed after it. Without root the suite is skipped, unless WEIR_REQUIRE_SERVICES is set (CI),
// where it fails instead.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "client/http_client.h"
#include "job_api.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

std::string AccountName(char which) { return "weirt_" + std::to_string(::getpid()) + "_" + which; }

int Shell(const std::string& command) { return std::system(command.c_str()); }

// useradd/userdel, retried while another process holds the lock on /etc/passwd (ctest runs this
// suite's tests as parallel processes, each making its own accounts): exit code 10 of shadow's
// tools. Any other failure, or 30 s of it, is returned.
int AccountCommand(const std::string& command) {
  auto end = std::chrono::steady_clock::now() + 30s;
  int rc;
  while ((rc = Shell(command + " >/dev/null 2>&1")) != 0 && WIFEXITED(rc) &&
         WEXITSTATUS(rc) == 10 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(50ms);
  }
  return rc;
}

// SIGKILLs every process of `uid` (the suite's own accounts only), so that userdel may run.
void KillProcessesOf(uid_t uid) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.empty() || name[0] < '1' || name[0] > '9') continue;
    struct stat st {};
    if (::stat(e.path().c_str(), &st) == 0 && st.st_uid == uid) {
      ::kill(static_cast<pid_t>(std::stoi(name)), SIGKILL);
    }
  }
}

class RunAsUserTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    for (char which : {'a', 'b'}) {
      std::string name = AccountName(which);
      if (AccountCommand("useradd --no-create-home --shell /usr/sbin/nologin --user-group " +
                         name) == 0) {
        created_.push_back(name);
      }
    }
  }
  static void TearDownTestSuite() {
    for (const std::string& name : created_) {
      if (passwd* pw = ::getpwnam(name.c_str())) KillProcessesOf(pw->pw_uid);
      // -r exits 12 for the home folder that --no-create-home never made: the account is gone.
      int rc = AccountCommand("userdel -r " + name);
      if (rc != 0 && ::getpwnam(name.c_str()) != nullptr) {
        std::fprintf(stderr, "run_as_user_test: userdel %s failed (%d): remove it by hand\n",
                     name.c_str(), rc);
      }
    }
    created_.clear();
  }

  void SetUp() override {
    // Root is a property of the machine, not a service the tests could start: without it these
    // tests skip, also under WEIR_REQUIRE_SERVICES (CI and this workplace run as root).
    if (::geteuid() != 0) {
      GTEST_SKIP() << "run-as-user tests need root (useradd, privilege dropping)";
    }
    ASSERT_EQ(created_.size(), 2u) << "useradd failed for the test accounts";
    user_a_ = AccountName('a');
    user_b_ = AccountName('b');
    // Job users must pass through every folder above the data dir.
    fs::permissions(dir_.path(), fs::perms(0711));
    server_ = std::make_unique<WeirServer>(dir_.path() / "data",
                                           "jobs:\n  kill_grace_ms: 500\n  run_as_user: true\n");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  json::object Request(const std::string& user, const std::string& script) {
    return BashJobRequest(script, {{"user", user}});
  }

  // Submits a bash command line as `user`; returns the HTTP status and body.
  std::pair<int, std::string> Post(const json::object& req) {
    auto r = http_->PostJson("/api/v3/jobs", json::serialize(req));
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return {0, ""};
    std::string loc = r->Header("location").value_or("");
    return {r->status, r->status == 202 ? loc.substr(loc.rfind('/') + 1) : r->body};
  }

  std::string Submit(const std::string& user, const std::string& script, json::object extra = {}) {
    json::object req = Request(user, script);
    for (auto& [k, v] : extra) req[k] = v;
    auto [status, id] = Post(req);
    EXPECT_EQ(status, 202) << id;
    return id;
  }

  json::value Get(const std::string& path) { return GetJson(*http_, path); }

  std::string Output(const std::string& id, const std::string& file) {
    auto r = http_->Get("/api/v3/jobs/" + id + "/output/" + file);
    EXPECT_TRUE(r.ok());
    return r.ok() && r->status == 200 ? r->body : "<HTTP " + std::to_string(r->status) + ">";
  }

  std::string WaitFinal(const std::string& id, std::chrono::seconds limit = 60s) {
    return WaitJobFinal(*http_, id, limit);
  }

  void WaitRunning(const std::string& id) { WaitJobRunning(*http_, id, 60s); }

  // Waits until the job's stdout holds `text` (the job has reached that point).
  void WaitOutput(const std::string& id, const std::string& text) {
    auto end = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < end) {
      if (Output(id, "stdout").find(text) != std::string::npos) return;
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "job " << id << " never printed '" << text << "'";
  }

  fs::path JobDir(const std::string& id) { return server_->data_dir() / "jobs" / id; }

  static uid_t UidOf(const std::string& name) {
    passwd* pw = ::getpwnam(name.c_str());
    return pw != nullptr ? pw->pw_uid : 0;
  }

  static inline std::vector<std::string> created_;
  std::string user_a_, user_b_;
  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(RunAsUserTest, EachJobRunsAsItsOwnAccountInAPrivateFolder) {
  // The default map strips a domain and lower-cases.
  std::string a = Submit(user_a_ + "@Example.COM", "id -un; echo \"$HOME $USER $LOGNAME\"");
  std::string b = Submit(user_b_, "id -un");
  ASSERT_EQ(WaitFinal(a), "SUCCEEDED") << Output(a, "stderr");
  ASSERT_EQ(WaitFinal(b), "SUCCEEDED") << Output(b, "stderr");
  passwd* pw = ::getpwnam(user_a_.c_str());
  ASSERT_NE(pw, nullptr);
  EXPECT_EQ(Output(a, "stdout"), user_a_ + "\n" + pw->pw_dir + " " + user_a_ + " " + user_a_ + "\n")
      << "HOME, USER and LOGNAME come from the account";
  EXPECT_EQ(Output(b, "stdout"), user_b_ + "\n");

  struct stat st {};
  ASSERT_EQ(::stat(JobDir(a).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, UidOf(user_a_));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(server_->data_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0711u);
  ASSERT_EQ(::stat((server_->data_dir() / "weir.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u) << "weir.db readable by other users";
}

TEST_F(RunAsUserTest, AJobCannotReadAnotherUsersJobNorTheServersData) {
  std::string b = Submit(user_b_, "echo secret-of-b");
  ASSERT_EQ(WaitFinal(b), "SUCCEEDED");
  ASSERT_EQ(Output(b, "stdout"), "secret-of-b\n");
  const fs::path data = server_->data_dir();
  const std::string b_out = (JobDir(b) / "stdout").string();
  const std::string db = (data / "weir.db").string();
  const std::string jobs = (data / "jobs").string();
  const std::string b_dir = JobDir(b).string();
  std::string a =
      Submit(user_a_, "cat " + ShellQuote(b_out) + "; ls " + ShellQuote(b_dir) + "; cat " +
                          ShellQuote(db) + " >/dev/null; ls " + ShellQuote(jobs) + "; ls " +
                          ShellQuote(data.string()) + "; echo end");
  ASSERT_EQ(WaitFinal(a), "SUCCEEDED");
  std::string out = Output(a, "stdout");
  std::string err = Output(a, "stderr");
  EXPECT_EQ(out, "end\n") << "job A read something it must not: " << out;
  EXPECT_NE(err.find("cat: " + b_out + ": Permission denied\n"), std::string::npos) << err;
  EXPECT_NE(err.find("cat: " + db + ": Permission denied\n"), std::string::npos) << err;
  EXPECT_NE(err.find("ls: cannot open directory '" + b_dir + "': Permission denied\n"),
            std::string::npos)
      << err;
  // Folders above may be passed through, not listed.
  EXPECT_NE(err.find("ls: cannot open directory '" + jobs + "': Permission denied\n"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("ls: cannot open directory '" + data.string() + "': Permission denied\n"),
            std::string::npos)
      << err;
}

TEST_F(RunAsUserTest, RootSystemAndUnknownAccountsAreRefusedAtSubmission) {
  auto [root_status, root_body] = Post(Request("root", "id -un"));
  EXPECT_EQ(root_status, 403) << root_body;
  EXPECT_NE(root_body.find("jobs never run as root"), std::string::npos) << root_body;
  auto [daemon_status, daemon_body] = Post(Request("daemon@corp", "id -un"));
  EXPECT_EQ(daemon_status, 403) << daemon_body;
  EXPECT_NE(daemon_body.find("jobs.run_as_min_uid"), std::string::npos) << daemon_body;
  auto [bad_status, bad_body] = Post(Request("a;id", "id -un"));
  EXPECT_EQ(bad_status, 400) << bad_body;
  auto [gone_status, gone_body] = Post(Request("weirt_nobody_here", "id -un"));
  EXPECT_EQ(gone_status, 412) << gone_body;
  EXPECT_NE(gone_body.find("jobs.create_missing_users"), std::string::npos) << gone_body;
  // Nothing of these was recorded.
  json::value found = Get("/api/v3/jobs?user=root");
  ASSERT_TRUE(found.is_object());
  EXPECT_EQ(Str(found.at("page"), "totalElements"), "0") << json::serialize(found);
}

TEST_F(RunAsUserTest, KillAndTimeoutEndJobsOfBothUsers) {
  for (const std::string& user : {user_a_, user_b_}) {
    std::string killed = Submit(user, "echo started; sleep 300");
    std::string timed_out = Submit(user, "sleep 300", {{"timeout", 1}});
    WaitOutput(killed, "started");
    json::value exec = Get("/api/v3/jobs/" + killed + "/execution");
    pid_t pid = static_cast<pid_t>(exec.at("processId").to_number<int64_t>());
    EXPECT_FALSE(ProcessesInGroup(pid).empty());
    auto r = http_->Delete("/api/v3/jobs/" + killed);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 202);
    EXPECT_EQ(WaitFinal(killed), "KILLED") << user;
    EXPECT_EQ(Str(Get("/api/v3/jobs/" + killed), "statusMsg"), "Job was killed by user.");
    EXPECT_TRUE(ProcessesInGroup(pid).empty()) << user << ": processes left in group " << pid;
    EXPECT_EQ(WaitFinal(timed_out), "KILLED") << user;
    EXPECT_EQ(Str(Get("/api/v3/jobs/" + timed_out), "statusMsg"), "Job exceeded timeout.");
  }
}

TEST_F(RunAsUserTest, AServerKilledWithSigkillReadoptsJobsOfOtherUsers) {
  // A waits for a file the test makes after the restart, then ends on its own; B is killed.
  std::string a = Submit(user_a_, "echo waiting; while [ ! -e go ]; do sleep 0.05; done; id -un");
  std::string b = Submit(user_b_, "echo started; sleep 300");
  WaitOutput(a, "waiting");
  WaitOutput(b, "started");
  server_->Kill9();
  ASSERT_EQ(server_->Start(), "");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + a + "/status"), "status"), "RUNNING");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + b + "/status"), "status"), "RUNNING");
  std::ofstream(JobDir(a) / "go") << "";
  EXPECT_EQ(WaitFinal(a), "SUCCEEDED") << Output(a, "stderr");
  EXPECT_EQ(Output(a, "stdout"), "waiting\n" + user_a_ + "\n");
  ASSERT_EQ(http_->Delete("/api/v3/jobs/" + b)->status, 202);
  EXPECT_EQ(WaitFinal(b), "KILLED");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + b), "statusMsg"), "Job was killed by user.");
}

// What a run-as job inherits from the server's environment is the allow-list only (a server
// holding cloud credentials does not pass them on); an output limit kills a job of another
// user; its folder is archived, swept and served back from the archive.
TEST_F(RunAsUserTest, EnvironmentLimitsArchivesAndSweepsHoldForJobsOfOtherUsers) {
  server_.reset();
  ::setenv("AWS_SECRET_ACCESS_KEY", "server-only-secret", 1);
  ::setenv("WEIR_RUNAS_TEST_VISIBLE", "passed-on", 1);
  server_ = std::make_unique<WeirServer>(
      dir_.path() / "data2",
      "jobs:\n  kill_grace_ms: 500\n  run_as_user: true\n  max_stdout_bytes: 1048576\n"
      "  run_as_env: [PATH, \"WEIR_RUNAS_TEST_*\"]\n"
      "archive:\n  job_dir_retention_hours: 0\n  sweep_interval_s: 1\n");
  const std::string started = server_->Start();
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("WEIR_RUNAS_TEST_VISIBLE");
  ASSERT_EQ(started, "");
  http_ = std::make_unique<client::HttpClient>(server_->url());
  ASSERT_EQ(RunWeir(server_->url(), {"apply", "-f", kDemo}).exit_code, 0);

  std::string a = Submit(user_a_, "env | sort; mkdir results; id -un > results/who.txt");
  std::string b = Submit(user_b_, "head -c 3000000 /dev/zero | tr '\\0' x; exec sleep 120");
  ASSERT_EQ(WaitFinal(a), "SUCCEEDED") << Output(a, "stderr");
  EXPECT_EQ(WaitFinal(b), "KILLED");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + b), "statusMsg").rfind("Std out length exceeded.", 0), 0u)
      << json::serialize(Get("/api/v3/jobs/" + b));

  // Swept once archived; the output then comes from the archive the root server wrote of a
  // folder the job's account owned.
  ASSERT_TRUE(WaitFor([&] { return !fs::exists(JobDir(a)); }, 60s))
      << "the retention sweep never removed " << JobDir(a);
  auto env = http_->Get("/api/v3/jobs/" + a + "/output/stdout");
  ASSERT_TRUE(env.ok());
  ASSERT_EQ(env->status, 200) << env->body;
  EXPECT_EQ(env->Header("x-weir-output-source").value_or(""), "archive");
  EXPECT_NE(env->body.find("WEIR_RUNAS_TEST_VISIBLE=passed-on"), std::string::npos) << env->body;
  EXPECT_NE(env->body.find("USER=" + user_a_), std::string::npos) << env->body;
  EXPECT_EQ(env->body.find("server-only-secret"), std::string::npos) << env->body;
  EXPECT_EQ(env->body.find("AWS_"), std::string::npos) << env->body;
  EXPECT_EQ(Output(a, "results/who.txt"), user_a_ + "\n");
}

}  // namespace
}  // namespace weir::testing
