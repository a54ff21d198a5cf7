// The Executor contract (executor.h), run against every executor with real processes, plus the
// local executor's own recovery cases.
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/strings.h"
#include "common/testing/required_services.h"
#include "exec/exec_test_util.h"
#include "exec/executor.h"
#include "exec/job_dir.h"
#include "exec/slurm_executor.h"
#include "exec/testing/slurm_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::exec {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::EndCollector;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::ProcessesInGroup;
using testing::ReadText;
using testing::SimpleSpec;
using testing::TempDir;
using testing::WriteText;

struct Backend {
  std::string name;
  std::function<std::unique_ptr<Executor>(Clock&)> make;
  // The run script is a child of the executor's process, in a process group of its own (local);
  // otherwise (Slurm) the job's processes are found by their working folder, the job folder.
  bool local_processes = true;
  // Empty, or the reason the backend cannot run here (a missing service).
  std::function<std::string()> unavailable = [] { return std::string(); };
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

// One private Slurm for the whole binary, started by the first Slurm test and stopped at exit.
struct SharedSlurm {
  std::unique_ptr<testing::SlurmCluster> cluster;
  std::string why;
  bool tried = false;
};
SharedSlurm& Slurm() {
  static SharedSlurm s;
  if (!s.tried) {
    s.tried = true;
    s.cluster = testing::SlurmCluster::Start(&s.why);
  }
  return s;
}
class StopSlurmAtExit : public ::testing::Environment {
 public:
  void TearDown() override { Slurm().cluster.reset(); }
};
const auto* const kStopSlurm = ::testing::AddGlobalTestEnvironment(new StopSlurmAtExit);

std::unique_ptr<Executor> MakeSlurmExecutor(Clock& clock) {
  SlurmExecutorOptions o;
  if (Slurm().cluster) o.slurm_conf = Slurm().cluster->conf();
  o.poll_interval = 100ms;
  return NewSlurmExecutor(clock, o);
}

// Live processes whose working folder is `dir` (where both executors start the run script).
std::vector<int> ProcessesIn(const fs::path& dir) {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    int pid = std::atoi(e.path().filename().c_str());
    if (pid <= 0) continue;
    fs::path cwd = fs::read_symlink(e.path() / "cwd", ec);
    if (ec || cwd != dir) continue;
    std::string stat = ReadText(e.path() / "stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) continue;
    if (stat[close + 2] == 'Z' || stat[close + 2] == 'X') continue;
    out.push_back(pid);
  }
  return out;
}

class ExecutorContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (std::string why = GetParam().unavailable(); !why.empty()) {
      WEIR_MISSING_SERVICE(GetParam().name, why);
    }
    executor_ = GetParam().make(SystemClock::Instance());
    executor_->SetListener(ends_.Listener());
  }
  void TearDown() override {
    // Nothing a test started may outlive it.
    for (int pgid : groups_) {
      if (!ProcessesInGroup(pgid).empty()) ::kill(-pgid, SIGKILL);
    }
    if (executor_) executor_->Shutdown();
  }

  // Sets up a job directory running `executable args`.
  fs::path Prepare(const std::string& id, const std::string& executable,
                   const std::string& args = "") {
    fs::path dir = paths::JobDir(tmp_.path() / "jobs", id);
    auto fetcher = NewLocalFileFetcher();
    Status s = PrepareJobDirectory(SimpleSpec(id, executable, args), dir, *fetcher);
    EXPECT_TRUE(s.ok()) << s;
    return dir;
  }

  Launched Launch(const std::string& id, const fs::path& dir, LaunchOptions options = {}) {
    Result<Launched> r = executor_->Launch(id, dir, options);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    if (r->pid > 0) groups_.push_back(r->pid);
    return *r;
  }

  JobEnd Run(const std::string& id, const std::string& executable, const std::string& args = "",
             LaunchOptions options = {}) {
    fs::path dir = Prepare(id, executable, args);
    Launch(id, dir, options);
    std::optional<JobEnd> end = ends_.WaitFor(id);
    EXPECT_TRUE(end.has_value()) << "job " << id << " not reported";
    return end.value_or(JobEnd{});
  }

  // The job's live processes: its process group (local), or by working folder (Slurm).
  std::vector<int> JobProcesses(const Launched& l, const fs::path& dir) {
    return GetParam().local_processes ? ProcessesInGroup(l.pid) : ProcessesIn(dir);
  }

  // Until the job's run script has ended while no executor watched it: reaped here as the init
  // process would after a server restart (local), or until Slurm lists the job as ended.
  void WaitUnwatchedEnd(const Launched& l, const fs::path& dir) {
    if (GetParam().local_processes) {
      int st;
      ASSERT_EQ(::waitpid(l.pid, &st, 0), l.pid);
      return;
    }
    ASSERT_TRUE(Eventually([&] {
      auto r =
          Slurm().cluster->Tool({"squeue", "-h", "-t", "all", "-j", l.slurm_job_id, "-o", "%T"});
      return r.ok() && r->exit_code == 0 && r->out != "" && r->out != "RUNNING\n" &&
             r->out != "PENDING\n" && r->out != "COMPLETING\n";
    })) << "Slurm job "
        << l.slurm_job_id << " did not end";
  }

  TempDir tmp_;
  EndCollector ends_;
  std::unique_ptr<Executor> executor_;
  std::vector<int> groups_;
};

TEST_P(ExecutorContractTest, ExitZeroSucceeds) {
  JobEnd end = Run("ok", "true");
  EXPECT_EQ(end.status, model::JobStatus::kSucceeded);
  EXPECT_EQ(end.status_msg, model::kMsgSucceeded);
  EXPECT_EQ(end.exit_code, 0);
  EXPECT_EQ(executor_->RunningCount(), 0u);
}

TEST_P(ExecutorContractTest, NonZeroExitFailsWithTheCode) {
  JobEnd end = Run("three", "exit", "3");
  EXPECT_EQ(end.status, model::JobStatus::kFailed);
  EXPECT_EQ(end.status_msg, model::kMsgFailed);
  EXPECT_EQ(end.exit_code, 3);
}

TEST_P(ExecutorContractTest, OutputLandsInFilesAndTheCommandSeesTheGenieEnvironment) {
  JobEnd end = Run("env-job", "sh -c",
                   "'echo \"id=$GENIE_JOB_ID cluster=$GENIE_CLUSTER_ID\"; echo oops >&2'");
  fs::path dir = paths::JobDir(tmp_.path() / "jobs", "env-job");
  EXPECT_EQ(end.status, model::JobStatus::kSucceeded);
  EXPECT_EQ(ReadText(paths::Stdout(dir)), "id=env-job cluster=c1\n");
  EXPECT_EQ(ReadText(paths::Stderr(dir)), "oops\n");
  EXPECT_EQ(end.stdout_size, 22);
  EXPECT_EQ(end.stderr_size, 5);
  EXPECT_THAT(ReadText(paths::EnvLog(dir)), HasSubstr("GENIE_JOB_ID=env-job\n"));
}

TEST_P(ExecutorContractTest, FailingSetupFailsWithItsExitCode) {
  WriteText(tmp_.path() / "setup.sh", "(exit 5)\n");
  JobSpec spec = SimpleSpec("bad-setup", "touch", "ran");
  spec.cluster.setup_file = "file://" + (tmp_.path() / "setup.sh").string();
  fs::path dir = tmp_.path() / "jobs" / "bad-setup";
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(PrepareJobDirectory(spec, dir, *fetcher).ok());
  Launch("bad-setup", dir);
  std::optional<JobEnd> end = ends_.WaitFor("bad-setup");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kFailed);
  EXPECT_EQ(end->exit_code, 5);
  EXPECT_FALSE(fs::exists(dir / "ran"));
  EXPECT_THAT(ReadText(paths::GenieLog(dir)), HasSubstr("failed with exit code 5"));
}

TEST_P(ExecutorContractTest, TimeoutKills) {
  LaunchOptions o;
  o.timeout = 1s;
  auto t0 = std::chrono::steady_clock::now();
  JobEnd end = Run("slow", "sleep", "30", o);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(end.status, model::JobStatus::kKilled);
  EXPECT_EQ(end.status_msg, model::kMsgTimeout);
  EXPECT_EQ(end.exit_code, model::kExitKilled);
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 15s);
}

TEST_P(ExecutorContractTest, KillOfProcessesIgnoringTermEndsTheWholeGroup) {
  fs::path dir =
      Prepare("stubborn", "bash -c", "'trap \"\" TERM; (trap \"\" TERM; sleep 300) & sleep 300'");
  LaunchOptions o;
  o.kill_grace = 500ms;
  Launched l = Launch("stubborn", dir, o);
  // Both sleeps started, so that every process ignoring TERM exists before the kill.
  ASSERT_TRUE(Eventually([&] {
    int sleeps = 0;
    for (int pid : JobProcesses(l, dir)) {
      if (ReadText("/proc/" + std::to_string(pid) + "/comm") == "sleep\n") ++sleeps;
    }
    return sleeps >= 2;
  }));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(executor_->Kill("stubborn", model::kMsgKilledByUser).ok());
  std::optional<JobEnd> end = ends_.WaitFor("stubborn");
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kKilled);
  EXPECT_EQ(end->status_msg, model::kMsgKilledByUser);
  EXPECT_EQ(end->exit_code, model::kExitKilled);
  EXPECT_GE(took, 400ms) << "the grace period was not given";
  EXPECT_TRUE(Eventually([&] { return JobProcesses(l, dir).empty(); }, 10s));
  EXPECT_THAT(ReadText(paths::KillReasonFile(dir)), HasSubstr(model::kMsgKilledByUser));
}

TEST_P(ExecutorContractTest, KillGivesTheCommandItsGraceToCleanUp) {
  fs::path dir = Prepare("graceful", "bash -c",
                         "'trap \"sleep 0.2; echo cleaned > cleaned; exit 0\" TERM; "
                         "touch started; sleep 300 & wait'");
  LaunchOptions o;
  o.kill_grace = 10s;
  Launch("graceful", dir, o);
  ASSERT_TRUE(Eventually([&] { return fs::exists(dir / "started"); }));
  ASSERT_TRUE(executor_->Kill("graceful", model::kMsgKilledByUser).ok());
  std::optional<JobEnd> end = ends_.WaitFor("graceful");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kKilled);
  EXPECT_EQ(ReadText(dir / "cleaned"), "cleaned\n");
}

TEST_P(ExecutorContractTest, StdoutLimitKills) {
  LaunchOptions o;
  o.max_stdout_bytes = 1000;
  o.output_check_interval = 100ms;
  JobEnd end = Run("chatty", "sh -c", "'head -c 100000 /dev/zero; sleep 300'", o);
  EXPECT_EQ(end.status, model::JobStatus::kKilled);
  EXPECT_EQ(end.status_msg, OutputLimitMessage(true, 1000));
  EXPECT_EQ(end.exit_code, model::kExitKilled);
  EXPECT_EQ(end.stdout_size, 1000) << "the file is cut back to the limit";
}

// Bug 10 of issue 15: a writer faster than the periodic check, ending before it, is KILLED.
TEST_P(ExecutorContractTest, FastWriterEndingBeforeACheckIsKilled) {
  LaunchOptions o;
  o.max_stdout_bytes = 5 << 20;
  o.output_check_interval = std::chrono::hours(1);
  JobEnd end = Run("fast", "head", "-c 20000000 /dev/zero", o);
  EXPECT_EQ(end.status, model::JobStatus::kKilled);
  EXPECT_THAT(end.status_msg, HasSubstr("Std out length exceeded."));
  EXPECT_THAT(end.status_msg, HasSubstr("5242880 bytes (jobs.max_stdout_bytes)"));
  EXPECT_EQ(end.exit_code, model::kExitKilled);
  EXPECT_EQ(end.stdout_size, 5 << 20);
  EXPECT_EQ(static_cast<int64_t>(
                fs::file_size(paths::Stdout(paths::JobDir(tmp_.path() / "jobs", "fast")))),
            5 << 20);
}

// The write that crosses the limit wakes the executor: no wait for the next check.
TEST_P(ExecutorContractTest, WriteOverTheLimitKillsWithoutWaitingForACheck) {
  LaunchOptions o;
  o.max_stdout_bytes = 1000;
  o.output_check_interval = std::chrono::hours(1);
  JobEnd end = Run("writer", "sh -c", "'head -c 100000 /dev/zero; exec sleep 300'", o);
  EXPECT_EQ(end.status, model::JobStatus::kKilled);
  EXPECT_EQ(end.status_msg, OutputLimitMessage(true, 1000));
}

TEST_P(ExecutorContractTest, StderrLimitKills) {
  LaunchOptions o;
  o.max_stderr_bytes = 10;
  o.output_check_interval = 100ms;
  JobEnd end = Run("noisy", "sh -c", "'echo a long complaint >&2; sleep 300'", o);
  EXPECT_EQ(end.status, model::JobStatus::kKilled);
  EXPECT_EQ(end.status_msg, OutputLimitMessage(false, 10));
}

TEST_P(ExecutorContractTest, EndIsReportedPromptly) {
  JobEnd end = Run("prompt", "sleep", "0.3");
  fs::path dir = paths::JobDir(tmp_.path() / "jobs", "prompt");
  EXPECT_EQ(end.status, model::JobStatus::kSucceeded);
  auto done_at = fs::last_write_time(paths::DoneFile(dir));
  auto done_sys = std::chrono::file_clock::to_sys(done_at);
  auto lag = ends_.ReportedAt("prompt") - done_sys;
  // Typically well under 10 ms; loose so that a loaded machine does not fail the test.
  EXPECT_LT(lag, 2s);
}

TEST_P(ExecutorContractTest, KillOfUnknownJobIsNotFound) {
  EXPECT_EQ(executor_->Kill("nobody", model::kMsgKilledByUser).code(), StatusCode::kNotFound);
}

TEST_P(ExecutorContractTest, LaunchRequiresARunScriptAndAUniqueId) {
  Result<Launched> r = executor_->Launch("none", tmp_.path() / "empty", {});
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  fs::path dir = Prepare("twice", "sleep", "30");
  Launch("twice", dir);
  EXPECT_EQ(executor_->Launch("twice", dir, {}).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(executor_->RunningCount(), 1u);
  ASSERT_TRUE(executor_->Kill("twice", model::kMsgKilledByUser).ok());
  ASSERT_TRUE(ends_.WaitFor("twice"));
}

TEST_P(ExecutorContractTest, ManyConcurrentJobsAreEachReportedOnce) {
  constexpr int kJobs = 200;
  for (int i = 0; i < kJobs; ++i) Prepare("many-" + std::to_string(i), "true");
  for (int i = 0; i < kJobs; ++i) {
    std::string id = "many-" + std::to_string(i);
    Launch(id, paths::JobDir(tmp_.path() / "jobs", id));
  }
  ASSERT_TRUE(ends_.WaitForCount(kJobs, 60s)) << ends_.All().size() << " reported";
  std::this_thread::sleep_for(100ms);  // room for a duplicate to show up
  std::map<std::string, int> seen;
  for (const JobEnd& e : ends_.All()) {
    ++seen[e.job_id];
    EXPECT_EQ(e.status, model::JobStatus::kSucceeded) << e.job_id;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kJobs));
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(executor_->RunningCount(), 0u);
}

// ---- Recover ----

TEST_P(ExecutorContractTest, RecoverReadoptsARunningJobAfterShutdown) {
  fs::path dir =
      Prepare("survivor", "sh -c", "'while [ ! -e go ]; do sleep 0.02; done; echo finished'");
  Launched l = Launch("survivor", dir);
  executor_->Shutdown();  // the job keeps running
  EXPECT_TRUE(Eventually([&] { return !JobProcesses(l, dir).empty(); }));

  auto next = GetParam().make(SystemClock::Instance());
  EndCollector ends;
  next->SetListener(ends.Listener());
  next->Recover("survivor", dir, {}, l.started);
  EXPECT_EQ(next->RunningCount(), 1u);
  WriteText(dir / "go", "");
  std::optional<JobEnd> end = ends.WaitFor("survivor");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kSucceeded);
  EXPECT_EQ(end->exit_code, 0);
  EXPECT_EQ(ReadText(paths::Stdout(dir)), "finished\n");
  EXPECT_TRUE(ends_.All().empty()) << "the shut-down executor reported";
  next->Shutdown();
}

TEST_P(ExecutorContractTest, RecoverReportsAJobThatEndedUnwatched) {
  fs::path dir = Prepare("ended", "sh -c", "'while [ ! -e go ]; do sleep 0.02; done; exit 3'");
  Launched l = Launch("ended", dir);
  executor_->Shutdown();
  WriteText(dir / "go", "");
  WaitUnwatchedEnd(l, dir);
  ASSERT_TRUE(ReadDoneExitCode(dir).has_value());

  auto next = GetParam().make(SystemClock::Instance());
  EndCollector ends;
  next->SetListener(ends.Listener());
  next->Recover("ended", dir, {}, l.started);
  std::optional<JobEnd> end = ends.WaitFor("ended");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kFailed);
  EXPECT_EQ(end->exit_code, 3);
  EXPECT_EQ(next->RunningCount(), 0u);
}

TEST_P(ExecutorContractTest, RecoverOfAJobThatEndedOverItsLimitReportsTheLimit) {
  fs::path dir = Prepare("big", "sh -c", "'while [ ! -e go ]; do sleep 0.02; done; seq 1000'");
  LaunchOptions o;
  o.max_stdout_bytes = 100;
  Launched l = Launch("big", dir, o);
  executor_->Shutdown();
  WriteText(dir / "go", "");
  WaitUnwatchedEnd(l, dir);

  auto next = GetParam().make(SystemClock::Instance());
  EndCollector ends;
  next->SetListener(ends.Listener());
  next->Recover("big", dir, o, l.started);
  std::optional<JobEnd> end = ends.WaitFor("big");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kKilled);
  EXPECT_EQ(end->status_msg, OutputLimitMessage(true, 100));
  EXPECT_EQ(end->stdout_size, 100);
}

TEST_P(ExecutorContractTest, RecoverWithNeitherProcessNorDoneFileIsNodeLost) {
  fs::path dir = Prepare("lost", "true");
  // A pid file naming a process that no longer exists.
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(gone, nullptr, 0), gone);
  ASSERT_TRUE(WritePidFile(dir, PidRecord{gone, 12345}).ok());

  executor_->Recover("lost", dir, {}, SystemClock::Instance().Now());
  std::optional<JobEnd> end = ends_.WaitFor("lost");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kFailed);
  EXPECT_EQ(end->exit_code, model::kExitNodeLost);
  EXPECT_EQ(end->status_msg, kMsgProcessLost);
}

TEST_P(ExecutorContractTest, RecoverOfAKilledJobReportsTheKill) {
  fs::path dir = Prepare("was-killed", "true");
  ASSERT_TRUE(WriteKillReason(dir, model::kMsgTimeout).ok());
  executor_->Recover("was-killed", dir, {}, SystemClock::Instance().Now());
  std::optional<JobEnd> end = ends_.WaitFor("was-killed");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kKilled);
  EXPECT_EQ(end->status_msg, model::kMsgTimeout);
  EXPECT_EQ(end->exit_code, model::kExitKilled);
}

TEST_P(ExecutorContractTest, RecoveredTimeoutCountsFromTheOriginalStart) {
  fs::path dir = Prepare("old", "sleep", "300");
  Launched l = Launch("old", dir);
  executor_->Shutdown();
  // The job started 59 s ago by the injected clock; 60 s timeout: ~1 s left.
  FakeClock clock(l.started + 59s);
  auto next = GetParam().make(clock);
  EndCollector ends;
  next->SetListener(ends.Listener());
  LaunchOptions o;
  o.timeout = 60s;
  auto t0 = std::chrono::steady_clock::now();
  next->Recover("old", dir, o, l.started);
  std::optional<JobEnd> end = ends.WaitFor("old");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status_msg, model::kMsgTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
  EXPECT_TRUE(Eventually([&] { return JobProcesses(l, dir).empty(); }, 10s));
  next->Shutdown();
}

INSTANTIATE_TEST_SUITE_P(Local, ExecutorContractTest,
                         ::testing::Values(Backend{"local",
                                                   [](Clock& c) { return NewLocalExecutor(c); }}),
                         [](const auto& info) { return info.param.name; });
// The same contract against a real private Slurm (testing/slurm_cluster.h); skipped without
// slurm-wlm and munge unless WEIR_REQUIRE_SERVICES is set.
INSTANTIATE_TEST_SUITE_P(Slurm, ExecutorContractTest,
                         ::testing::Values(Backend{
                             "slurm", MakeSlurmExecutor, false,
                             [] { return Slurm().cluster ? std::string() : Slurm().why; }}),
                         [](const auto& info) { return info.param.name; });

// ---- local executor only ----

TEST(LocalExecutorTest, WritesPidFileWithStartTime) {
  TempDir tmp;
  fs::path dir = tmp.path() / "p";
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(PrepareJobDirectory(SimpleSpec("p", "sleep", "30"), dir, *fetcher).ok());
  auto executor = NewLocalExecutor(SystemClock::Instance());
  EndCollector ends;
  executor->SetListener(ends.Listener());
  Result<Launched> l = executor->Launch("p", dir, {});
  ASSERT_TRUE(l.ok());
  std::optional<PidRecord> rec = ReadPidFile(dir);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->pid, l->pid);
  EXPECT_EQ(rec->start_time, testing::StartTimeOf(l->pid));
  EXPECT_EQ(::getpgid(l->pid), l->pid);  // leads its own process group
  EXPECT_EQ(::getsid(l->pid), l->pid);   // and its own session
  ASSERT_TRUE(executor->Kill("p", model::kMsgKilledByUser).ok());
  ASSERT_TRUE(ends.WaitFor("p"));
}

double ProcessCpuMillis() {
  timespec t;
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// No per-job polling: sleeping jobs cost the supervisor next to nothing, even with frequent
// output checks.
TEST(LocalExecutorTest, SleepingJobsCostAlmostNoCpu) {
  TempDir tmp;
  auto fetcher = NewLocalFileFetcher();
  auto executor = NewLocalExecutor(SystemClock::Instance());
  EndCollector ends;
  executor->SetListener(ends.Listener());
  constexpr int kJobs = 50;
  LaunchOptions o;
  o.output_check_interval = 100ms;
  o.kill_grace = 0ms;
  for (int i = 0; i < kJobs; ++i) {
    std::string id = "sleeper-" + std::to_string(i);
    ASSERT_TRUE(PrepareJobDirectory(SimpleSpec(id, "sleep", "60"), tmp.path() / id, *fetcher).ok());
    ASSERT_TRUE(executor->Launch(id, tmp.path() / id, o).ok());
  }
  std::this_thread::sleep_for(200ms);  // let the run scripts start
  double before = ProcessCpuMillis();
  std::this_thread::sleep_for(1s);
  double used = ProcessCpuMillis() - before;
  // Typically ~1 ms (10 ticks of 100 stat() calls); a spinning loop burns the whole second.
  EXPECT_LT(used, 200.0);
  EXPECT_EQ(executor->RunningCount(), static_cast<size_t>(kJobs));
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(executor->Kill("sleeper-" + std::to_string(i), model::kMsgKilledByUser).ok());
  }
  EXPECT_TRUE(ends.WaitForCount(kJobs, 30s));
}

// The realistic restart: the run script is not a child of the recovering process.
TEST(LocalExecutorTest, RecoverWatchesAJobThatIsNotItsChild) {
  TempDir tmp;
  fs::path dir = tmp.path() / "orphan";
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(
      PrepareJobDirectory(SimpleSpec("orphan", "sh -c", "'while [ ! -e go ]; do sleep 0.02; done'"),
                          dir, *fetcher)
          .ok());
  // The shell exits at once, so the run script is re-parented away from this process.
  std::string cmd = "setsid bash " + ShellQuote(paths::RunScript(dir).string()) +
                    " </dev/null >/dev/null 2>&1 & echo $! > " +
                    ShellQuote((tmp.path() / "pid").string());
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  int pid = std::atoi(ReadText(tmp.path() / "pid").c_str());
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(Eventually([&] { return ::getpgid(pid) == pid; }));
  ASSERT_TRUE(WritePidFile(dir, PidRecord{pid, testing::StartTimeOf(pid)}).ok());

  auto executor = NewLocalExecutor(SystemClock::Instance());
  EndCollector ends;
  executor->SetListener(ends.Listener());
  executor->Recover("orphan", dir, {}, SystemClock::Instance().Now());
  ASSERT_EQ(executor->RunningCount(), 1u);
  WriteText(dir / "go", "");
  std::optional<JobEnd> end = ends.WaitFor("orphan");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kSucceeded);
  EXPECT_EQ(end->exit_code, 0);
}

TEST(LocalExecutorTest, KillOfARecoveredNonChildJob) {
  TempDir tmp;
  fs::path dir = tmp.path() / "orphan";
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(PrepareJobDirectory(SimpleSpec("orphan", "sleep", "300"), dir, *fetcher).ok());
  std::string cmd = "setsid bash " + ShellQuote(paths::RunScript(dir).string()) +
                    " </dev/null >/dev/null 2>&1 & echo $! > " +
                    ShellQuote((tmp.path() / "pid").string());
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  int pid = std::atoi(ReadText(tmp.path() / "pid").c_str());
  ASSERT_TRUE(Eventually([&] { return ProcessesInGroup(pid).size() >= 2; }));
  ASSERT_TRUE(WritePidFile(dir, PidRecord{pid, testing::StartTimeOf(pid)}).ok());

  auto executor = NewLocalExecutor(SystemClock::Instance());
  EndCollector ends;
  executor->SetListener(ends.Listener());
  executor->Recover("orphan", dir, {}, SystemClock::Instance().Now());
  ASSERT_TRUE(executor->Kill("orphan", model::kMsgKilledByUser).ok());
  std::optional<JobEnd> end = ends.WaitFor("orphan");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kKilled);
  EXPECT_EQ(end->exit_code, model::kExitKilled);
  EXPECT_TRUE(Eventually([&] { return ProcessesInGroup(pid).empty(); }, 5s));
}

TEST(LocalExecutorTest, RecoverIgnoresAnUnrelatedProcessReusingThePid) {
  TempDir tmp;
  fs::path dir = tmp.path() / "reused";
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(PrepareJobDirectory(SimpleSpec("reused", "true"), dir, *fetcher).ok());
  // This test process stands in for the unrelated process: right pid, wrong start time.
  ASSERT_TRUE(WritePidFile(dir, PidRecord{::getpid(), testing::StartTimeOf(::getpid()) + 1}).ok());
  auto executor = NewLocalExecutor(SystemClock::Instance());
  EndCollector ends;
  executor->SetListener(ends.Listener());
  executor->Recover("reused", dir, {}, SystemClock::Instance().Now());
  std::optional<JobEnd> end = ends.WaitFor("reused");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->exit_code, model::kExitNodeLost);
}

}  // namespace
}  // namespace weir::exec
