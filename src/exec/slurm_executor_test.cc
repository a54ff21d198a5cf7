// The Slurm executor's own cases (the shared contract is in executor_contract_test.cc): the
// cluster metadata that selects it, and what only Slurm does (pending jobs, ends decided by
// Slurm, the controller going away), against a real private Slurm (testing/slurm_cluster.h).
#include "exec/slurm_executor.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/testing/required_services.h"
#include "exec/exec_test_util.h"
#include "exec/job_dir.h"
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
using testing::ReadText;
using testing::SimpleSpec;
using testing::TempDir;

model::ConfigEntity ClusterWithMetadata(const std::string& metadata) {
  model::ConfigEntity c = testing::Entity(model::Kind::kCluster, "c1", "cluster-one");
  c.metadata_json = metadata;
  return c;
}

TEST(SlurmSubmitForTest, OnlyClustersNamingSlurmRunThere) {
  EXPECT_FALSE(SlurmSubmitFor(ClusterWithMetadata("")).value().has_value());
  EXPECT_FALSE(SlurmSubmitFor(ClusterWithMetadata(R"({"owner":"x"})")).value().has_value());
  EXPECT_FALSE(SlurmSubmitFor(ClusterWithMetadata(R"({"executor":"local"})")).value().has_value());
  auto plain = SlurmSubmitFor(ClusterWithMetadata(R"({"executor":"slurm"})"));
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(plain->has_value());
  EXPECT_EQ((*plain)->partition, "");
}

TEST(SlurmSubmitForTest, ReadsPlacementAndRefusesWrongTypes) {
  auto s = SlurmSubmitFor(ClusterWithMetadata(
      R"({"executor":"slurm","slurm":{"partition":"gpu","account":"ml","qos":"high",)"
      R"("sbatch_args":["--exclusive","--gres=gpu:1"]}})"));
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->partition, "gpu");
  EXPECT_EQ((*s)->account, "ml");
  EXPECT_EQ((*s)->qos, "high");
  EXPECT_THAT((*s)->sbatch_args, ::testing::ElementsAre("--exclusive", "--gres=gpu:1"));
  auto bad = SlurmSubmitFor(ClusterWithMetadata(R"({"executor":"slurm","slurm":{"qos":3}})"));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("metadata.slurm.qos"));
  auto bad_args =
      SlurmSubmitFor(ClusterWithMetadata(R"({"executor":"slurm","slurm":{"sbatch_args":"-N1"}})"));
  EXPECT_THAT(bad_args.status().message(), HasSubstr("sbatch_args"));
}

class SlurmExecutorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = testing::SlurmCluster::Start(&why_).release(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    if (cluster_ == nullptr) WEIR_MISSING_SERVICE("slurm", why_);
    SlurmExecutorOptions o;
    o.slurm_conf = cluster_->conf();
    o.poll_interval = 100ms;
    o.tool_timeout = 3s;
    executor_ = NewSlurmExecutor(SystemClock::Instance(), o);
    executor_->SetListener(ends_.Listener());
  }
  void TearDown() override {
    if (executor_) executor_->Shutdown();
  }

  fs::path Prepare(const std::string& id, const std::string& executable,
                   const std::string& args = "") {
    fs::path dir = paths::JobDir(tmp_.path() / "jobs", id);
    auto fetcher = NewLocalFileFetcher();
    Status s = PrepareJobDirectory(SimpleSpec(id, executable, args), dir, *fetcher);
    EXPECT_TRUE(s.ok()) << s;
    return dir;
  }
  std::string SlurmState(const std::string& slurm_id) {
    auto r = cluster_->Tool({"squeue", "-h", "-t", "all", "-j", slurm_id, "-o", "%T"});
    return r.ok() ? r->out : "";
  }

  static testing::SlurmCluster* cluster_;
  static std::string why_;
  TempDir tmp_;
  EndCollector ends_;
  std::unique_ptr<Executor> executor_;
};
testing::SlurmCluster* SlurmExecutorTest::cluster_ = nullptr;
std::string SlurmExecutorTest::why_;

TEST_F(SlurmExecutorTest, RecordsTheSlurmJobIdAndNamesTheJobAfterIt) {
  fs::path dir = Prepare("named", "true");
  auto l = executor_->Launch("named", dir, {});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->pid, 0);
  EXPECT_EQ(ReadSlurmJobId(dir), l->slurm_job_id);
  auto r = cluster_->Tool({"squeue", "-h", "-t", "all", "-j", l->slurm_job_id, "-o", "%j"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "named\n");
  auto end = ends_.WaitFor("named");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kSucceeded);
}

// The batch script reads the run script in a subshell rather than starting another bash; what
// the job's set-up files see is as when the run script runs on its own: $0 names the run script,
// SIGTERM is not caught, and the batch script's own variables are not exported to the command.
TEST_F(SlurmExecutorTest, SetUpFilesSeeTheRunScriptAsWhenItRunsOnItsOwn) {
  fs::path setup = tmp_.path() / "setup.sh";
  {
    std::ofstream w(setup);
    w << "echo \"zero=$0\" > \"$GENIE_JOB_DIR/seen\"\n"
      << "me=$BASHPID; m=$(awk '/^SigCgt/ {print $2}' /proc/$me/status)\n"
      << "echo \"term_caught=$(( (16#$m >> 14) & 1 ))\" >> \"$GENIE_JOB_DIR/seen\"\n";
  }
  JobSpec spec = SimpleSpec("seen", "bash -c", "'echo \"pg=${pg-unset} run=${run-unset}\" > env'");
  spec.command.setup_file = "file://" + setup.string();
  fs::path dir = paths::JobDir(tmp_.path() / "jobs", "seen");
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(PrepareJobDirectory(spec, dir, *fetcher).ok());
  auto l = executor_->Launch("seen", dir, {});
  ASSERT_TRUE(l.ok()) << l.status();
  auto end = ends_.WaitFor("seen");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kSucceeded) << end->status_msg;
  EXPECT_EQ(ReadText(dir / "seen"), "zero=" + paths::RunScript(dir).string() + "\nterm_caught=0\n");
  EXPECT_EQ(ReadText(dir / "env"), "pg=unset run=unset\n");
}

TEST_F(SlurmExecutorTest, KillOfAPendingJobRemovesItFromTheQueue) {
  fs::path dir = Prepare("held", "true");
  LaunchOptions o;
  o.slurm = SlurmSubmit{.sbatch_args = {"--hold"}};  // stays PENDING until released
  auto l = executor_->Launch("held", dir, o);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_TRUE(Eventually([&] { return SlurmState(l->slurm_job_id) == "PENDING\n"; }));
  ASSERT_TRUE(executor_->Kill("held", model::kMsgKilledByUser).ok());
  auto end = ends_.WaitFor("held");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kKilled);
  EXPECT_EQ(end->status_msg, model::kMsgKilledByUser);
  EXPECT_EQ(SlurmState(l->slurm_job_id), "CANCELLED\n");
  EXPECT_FALSE(fs::exists(paths::DoneFile(dir))) << "the job never ran";
}

// Progress and ends of every job, in the order the executor told them.
class OrderedLog {
 public:
  void Install(Executor& e, EndCollector& ends) {
    Executor::Listener forward = ends.Listener();
    e.SetListener([this, forward](const JobEnd& end) {
      Add(end.job_id + " end " + std::string(model::JobStatusName(end.status)));
      forward(end);
    });
    e.SetProgressListener([this](const JobProgress& p) {
      Add(p.job_id + (p.running ? " running on " + p.host : " waiting: " + p.message));
    });
  }
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  void Add(std::string line) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::move(line));
  }
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST_F(SlurmExecutorTest, PendingJobIsToldWaitingWithSlurmsReasonThenRunningOnItsNode) {
  OrderedLog log;
  log.Install(*executor_, ends_);
  fs::path dir = Prepare("waits", "true");
  LaunchOptions o;
  o.slurm = SlurmSubmit{.sbatch_args = {"--hold"}};
  auto l = executor_->Launch("waits", dir, o);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_FALSE(l->running);
  EXPECT_EQ(l->status_msg, "Job submitted to Slurm as job " + l->slurm_job_id + ".");
  ASSERT_TRUE(Eventually([&] { return !log.Lines().empty(); }));
  auto reason = cluster_->Tool({"squeue", "-h", "-j", l->slurm_job_id, "-o", "%r"});
  ASSERT_TRUE(reason.ok());
  std::string why = reason->out.substr(0, reason->out.find('\n'));
  EXPECT_THAT(log.Lines(), ::testing::ElementsAre("waits waiting: Job pending in Slurm partition " +
                                                  cluster_->partition() + ": " + why + "."));
  std::this_thread::sleep_for(500ms);  // several ticks: an unchanged wait is told once
  EXPECT_EQ(log.Lines().size(), 1u);
  auto released = cluster_->Tool({"scontrol", "release", l->slurm_job_id});
  ASSERT_TRUE(released.ok() && released->exit_code == 0);
  ASSERT_TRUE(ends_.WaitFor("waits"));
  // Released, it may wait a moment longer (reason None); then RUNNING once, before its end.
  std::vector<std::string> lines = log.Lines();
  ASSERT_GE(lines.size(), 3u) << ::testing::PrintToString(lines);
  for (size_t i = 1; i + 2 < lines.size(); ++i) {
    EXPECT_THAT(lines[i], ::testing::StartsWith("waits waiting: Job pending in Slurm partition"));
  }
  EXPECT_EQ(lines[lines.size() - 2], "waits running on " + cluster_->node());
  EXPECT_EQ(lines.back(), "waits end SUCCEEDED");
}

// The executor last saw the job PENDING; it started before the next tick. A kill now must still
// give the command its grace (a plain cancel, right for a pending job, would SIGKILL it).
TEST_F(SlurmExecutorTest, AKillRightAfterAPendingJobStartsStillGivesItsGrace) {
  executor_->Shutdown();
  SlurmExecutorOptions slow;
  slow.slurm_conf = cluster_->conf();
  slow.poll_interval = 8s;  // no tick between the release and the kill
  slow.tool_timeout = 3s;
  executor_ = NewSlurmExecutor(SystemClock::Instance(), slow);
  OrderedLog log;
  log.Install(*executor_, ends_);
  fs::path dir = Prepare("starts", "bash -c",
                         "'trap \"sleep 0.2; echo cleaned > cleaned; exit 0\" TERM; "
                         "touch started; sleep 300 & wait'");
  LaunchOptions o;
  o.kill_grace = 10s;
  o.slurm = SlurmSubmit{.sbatch_args = {"--hold"}};
  auto l = executor_->Launch("starts", dir, o);
  ASSERT_TRUE(l.ok()) << l.status();
  // The first tick saw it waiting.
  ASSERT_TRUE(Eventually([&] { return !log.Lines().empty(); }));
  ASSERT_THAT(log.Lines().front(), HasSubstr("starts waiting: Job pending"));
  auto released = cluster_->Tool({"scontrol", "release", l->slurm_job_id});
  ASSERT_TRUE(released.ok() && released->exit_code == 0);
  ASSERT_TRUE(Eventually([&] { return fs::exists(dir / "started"); }, 6s));
  ASSERT_EQ(log.Lines().size(), 1u) << "a tick ran meanwhile: the test proves nothing";
  ASSERT_TRUE(executor_->Kill("starts", model::kMsgKilledByUser).ok());
  auto end = ends_.WaitFor("starts");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kKilled);
  EXPECT_EQ(ReadText(dir / "cleaned"), "cleaned\n") << "the command got no grace";
}

// Ticks keep coming while the kill's own `scancel` is under way (here it takes 400 ms): none of
// them signals again. A second SIGTERM would reach the command in its clean-up.
TEST_F(SlurmExecutorTest, AKillSignalsTheJobOnceWhileTicksComeMeanwhile) {
  fs::path bin = tmp_.path() / "bin";
  fs::create_directories(bin);
  fs::path calls = tmp_.path() / "scancel-calls";
  {
    std::ofstream w(bin / "scancel");
    w << "#!/bin/sh\necho \"$*\" >> '" << calls.string() << "'\n"
      << "case \"$*\" in *--signal=TERM*) sleep 0.4 ;; esac\n"
      << "exec /usr/bin/scancel \"$@\"\n";
  }
  fs::permissions(bin / "scancel", fs::perms::owner_all);
  const char* old_path = std::getenv("PATH");
  const std::string saved = old_path ? old_path : "";
  ::setenv("PATH", (bin.string() + ":" + saved).c_str(), 1);
  fs::path dir = Prepare("once", "bash -c",
                         "'trap \"sleep 0.2; echo cleaned > cleaned; exit 0\" TERM; "
                         "touch started; sleep 300 & wait'");
  LaunchOptions o;
  o.kill_grace = 10s;
  auto l = executor_->Launch("once", dir, o);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_TRUE(Eventually([&] { return fs::exists(dir / "started"); }));
  ASSERT_TRUE(executor_->Kill("once", model::kMsgKilledByUser).ok());
  auto end = ends_.WaitFor("once");
  ::setenv("PATH", saved.c_str(), 1);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kKilled);
  EXPECT_EQ(ReadText(dir / "cleaned"), "cleaned\n");
  std::string log = ReadText(calls);
  int terms = 0;
  for (size_t at = log.find("--signal=TERM"); at != std::string::npos;
       at = log.find("--signal=TERM", at + 1)) {
    ++terms;
  }
  EXPECT_EQ(terms, 1) << log;
}

TEST_F(SlurmExecutorTest, ACancelOutsideWeirIsKilledNamingSlurm) {
  fs::path dir = Prepare("cancelled", "sleep", "300");
  auto l = executor_->Launch("cancelled", dir, {});
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_TRUE(Eventually([&] { return SlurmState(l->slurm_job_id) == "RUNNING\n"; }));
  auto r = cluster_->Tool({"scancel", l->slurm_job_id});
  ASSERT_TRUE(r.ok() && r->exit_code == 0);
  auto end = ends_.WaitFor("cancelled");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, model::JobStatus::kKilled);
  EXPECT_EQ(end->exit_code, model::kExitKilled);
  EXPECT_THAT(end->status_msg, HasSubstr("cancelled in Slurm, not by weir"));
  EXPECT_THAT(end->status_msg, HasSubstr("CANCELLED"));
}

TEST_F(SlurmExecutorTest, SbatchRefusalFailsTheLaunchWithSlurmsReason) {
  fs::path dir = Prepare("nowhere", "true");
  LaunchOptions o;
  o.slurm = SlurmSubmit{.partition = "no-such-partition"};
  auto l = executor_->Launch("nowhere", dir, o);
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.status().message(), HasSubstr("Invalid partition"));
  EXPECT_EQ(executor_->RunningCount(), 0u);
}

// The controller away for a while: no end is made up, and the true ends come once it answers.
TEST_F(SlurmExecutorTest, ControllerDownKeepsJobsAndReportsTheirTrueEndsAfterwards) {
  fs::path ok_dir = Prepare("outlives-ok", "sh -c", "'while [ ! -e go ]; do sleep 0.05; done'");
  fs::path bad_dir =
      Prepare("outlives-bad", "sh -c", "'while [ ! -e go ]; do sleep 0.05; done; exit 4'");
  auto a = executor_->Launch("outlives-ok", ok_dir, {});
  auto b = executor_->Launch("outlives-bad", bad_dir, {});
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(Eventually([&] { return SlurmState(b->slurm_job_id) == "RUNNING\n"; }));
  ASSERT_TRUE(cluster_->StopController().ok());
  testing::WriteText(ok_dir / "go", "");
  testing::WriteText(bad_dir / "go", "");
  ASSERT_TRUE(Eventually([&] { return ReadDoneExitCode(bad_dir).has_value(); }));
  std::this_thread::sleep_for(2s);  // several reconciler ticks without an answer
  EXPECT_TRUE(ends_.All().empty()) << "an end was reported while Slurm could not confirm it";
  EXPECT_EQ(executor_->RunningCount(), 2u);
  ASSERT_TRUE(cluster_->StartController().ok());
  auto ok_end = ends_.WaitFor("outlives-ok", 60s);
  auto bad_end = ends_.WaitFor("outlives-bad", 60s);
  ASSERT_TRUE(ok_end && bad_end);
  EXPECT_EQ(ok_end->status, model::JobStatus::kSucceeded);
  EXPECT_EQ(bad_end->status, model::JobStatus::kFailed);
  EXPECT_EQ(bad_end->exit_code, 4);
}

}  // namespace
}  // namespace weir::exec
