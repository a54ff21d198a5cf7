// JobService against the real SQLite store and the real local executor, in a temp folder.
#include "service/job_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "common/disk_space.h"
#include "common/fs.h"
#include "resolve/resolve.h"
#include "service/testing/job_service_harness.h"

namespace weir::service {
namespace {

namespace fs = std::filesystem;
using model::JobStatus;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr Millis kWait = 30s;

class JobServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = testing::JobServiceHarness::Create("jobsvc");
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(*harness);
    auto small = testing::DemoEntity(model::Kind::kCommand, "small", {"type:small"});
    small.executable = "/bin/bash -c";
    small.memory = 512;
    ASSERT_TRUE(harness_->AddCommand(small).ok());
    root_ = harness_->root();
    stores_ = harness_->stores();
    options_ = harness_->DefaultOptions();
  }

  void TearDown() override {
    if (service_) service_->Shutdown();
    service_.reset();
    harness_.reset();
  }

  void Start() {
    if (service_) service_->Shutdown();
    auto service = harness_->NewService(options_);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = std::move(*service);
  }
  // A service like Start()'s, on `jobs` instead of the harness's own job store.
  void StartOn(std::shared_ptr<store::JobStore> jobs) {
    if (service_) service_->Shutdown();
    std::vector<std::unique_ptr<resolve::ClusterSelector>> selectors;
    selectors.push_back(resolve::NewRandomSelector(1));
    service_ = NewJobService(
        options_, stores_.config, std::move(jobs), exec::NewLocalExecutor(SystemClock::Instance()),
        exec::NewLocalFileFetcher(), std::move(selectors), SystemClock::Instance());
    Status st = service_->Recover();
    ASSERT_TRUE(st.ok()) << st;
  }

  // Waits (real time, with a deadline that fails loudly) until `pred` holds.
  template <typename P>
  static bool WaitFor(P pred) {
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }

  static model::JobRequest Request(const std::string& script, const std::string& user = "alice") {
    model::JobRequest r;
    r.name = "test job";
    r.user = user;
    r.version = "1";
    r.cluster_criterias = {{{"sched:sla"}}};
    r.command_criteria = {"type:bash"};
    r.command_arguments = {script};
    return r;
  }

  Result<std::string> Submit(model::JobRequest r, std::vector<exec::Attachment> att = {}) {
    Submission s;
    s.request = std::move(r);
    s.attachments = std::move(att);
    s.client_host = "10.0.0.1";
    s.user_agent = "test-agent";
    return service_->Submit(std::move(s));
  }

  model::JobRecord Final(const std::string& id) {
    auto r = service_->WaitFinal(id, kWait);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : model::JobRecord{};
  }

  // Real processes: a short real wait for the job to be recorded RUNNING.
  void WaitRunning(const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = service_->Get(id);
      ASSERT_TRUE(r.ok());
      if (r->job.status == JobStatus::kRunning) return;
      ASSERT_TRUE(model::IsActive(r->job.status)) << model::JobStatusName(r->job.status);
      std::this_thread::sleep_for(10ms);
    }
    FAIL() << "job " << id << " never reached RUNNING";
  }

  std::string Stdout(const std::string& id) {
    return ReadFile(exec::paths::Stdout(service_->JobDirectory(id))).value_or("<missing>");
  }

  std::unique_ptr<testing::JobServiceHarness> harness_;
  fs::path root_;
  store::SqliteStores stores_;
  JobServiceOptions options_;
  std::unique_ptr<JobService> service_;
};

TEST_F(JobServiceTest, EchoSucceedsWithOutputAndFullRecord) {
  Start();
  auto id = Submit(Request("echo hi"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->size(), 36u);  // a UUID was assigned
  model::JobRecord r = Final(*id);
  EXPECT_EQ(r.job.status, JobStatus::kSucceeded);
  EXPECT_EQ(r.job.status_msg, model::kMsgSucceeded);
  EXPECT_EQ(r.execution.exit_code, 0);
  EXPECT_EQ(Stdout(*id), "hi\n");
  EXPECT_EQ(r.metadata.std_out_size, 3);
  EXPECT_EQ(r.metadata.std_err_size, 0);
  EXPECT_EQ(r.metadata.client_host, "10.0.0.1");
  EXPECT_EQ(r.metadata.user_agent, "test-agent");
  EXPECT_EQ(r.job.cluster_name, "local");
  EXPECT_EQ(r.job.command_name, "bash");
  EXPECT_EQ(r.execution.host_name, "test-host");
  EXPECT_EQ(r.execution.memory, 1024);  // the node default
  ASSERT_TRUE(r.execution.process_id.has_value());
  EXPECT_GT(*r.execution.process_id, 0);
  ASSERT_TRUE(r.job.started && r.job.finished);
  EXPECT_LE(*r.job.started, *r.job.finished);
  EXPECT_LE(r.created, *r.job.started);
}

TEST_F(JobServiceTest, ClientIdIsKeptAndADuplicateIsRefused) {
  Start();
  auto req = Request("true");
  req.id = "my-job-1";
  auto id = Submit(req);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "my-job-1");
  auto dup = Submit(req);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Final("my-job-1").job.status, JobStatus::kSucceeded);
}

TEST_F(JobServiceTest, NonZeroExitFailsWithTheExitCode) {
  Start();
  auto id = Submit(Request("echo bad >&2; exit 3"));
  ASSERT_TRUE(id.ok());
  model::JobRecord r = Final(*id);
  EXPECT_EQ(r.job.status, JobStatus::kFailed);
  EXPECT_EQ(r.job.status_msg, model::kMsgFailed);
  EXPECT_EQ(r.execution.exit_code, 3);
  EXPECT_EQ(r.metadata.std_err_size, 4);
}

TEST_F(JobServiceTest, InvalidRequestIsRefusedWithoutARecord) {
  Start();
  auto req = Request("true");
  req.command_criteria.clear();
  req.id = "invalid-1";
  auto id = Submit(req);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(id.status().message(), HasSubstr("commandCriteria"));
  EXPECT_EQ(stores_.jobs->GetJob("invalid-1").status().code(), StatusCode::kNotFound);
}

TEST_F(JobServiceTest, NoMatchIsRecordedFailed) {
  Start();
  auto req = Request("true");
  req.id = "nomatch";
  req.cluster_criterias = {{{"no:such"}}, {{"nor:this"}}};
  auto id = Submit(req);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(id.status().message(), model::kMsgNoMatch);
  auto r = service_->Get("nomatch");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->job.status, JobStatus::kFailed);
  EXPECT_EQ(r->job.status_msg, model::kMsgNoMatch);
  EXPECT_TRUE(r->job.finished.has_value());
  EXPECT_TRUE(service_->WaitFinal("nomatch", 1s).ok());
}

TEST_F(JobServiceTest, MemoryComesFromRequestThenCommandAndAboveMaximumIsInvalid) {
  options_.max_job_memory_mb = 2048;
  Start();
  auto small = Request("true");
  small.command_criteria = {"type:small"};
  auto a = Submit(small);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(Final(*a).execution.memory, 512);  // the command's default

  small.memory = 700;
  auto b = Submit(small);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Final(*b).execution.memory, 700);  // the request wins

  auto big = Request("true");
  big.id = "too-big";
  big.memory = 4096;
  auto c = Submit(big);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(c.status().message(), "memory: 4096 MB exceeds the maximum job memory of 2048 MB");
  auto r = service_->Get("too-big");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->job.status, JobStatus::kInvalid);
  EXPECT_EQ(r->job.status_msg, c.status().message());
}

TEST_F(JobServiceTest, PerUserActiveLimit) {
  options_.max_active_jobs_per_user = 2;
  Start();
  auto a = Submit(Request("sleep 30"));
  auto b = Submit(Request("sleep 30"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = Submit(Request("sleep 30"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(c.status().message(), HasSubstr("alice"));
  auto other = Submit(Request("true", "bob"));
  EXPECT_TRUE(other.ok()) << other.status();
  // A finished job frees its slot.
  ASSERT_TRUE(service_->Kill(*a).ok());
  EXPECT_EQ(Final(*a).job.status, JobStatus::kKilled);
  auto d = Submit(Request("true"));
  EXPECT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(service_->Kill(*b).ok());
  Final(*b);
}

// The dry run reads the same admission state Submit() decides on, and changes none of it.
TEST_F(JobServiceTest, DryRunPredictsEachAdmissionOutcomeAndReservesNothing) {
  options_.max_system_memory_mb = 2048;
  options_.max_active_jobs_per_user = 1;
  options_.queue_enabled = true;
  options_.max_queued_jobs = 1;
  Start();
  auto dry = service_->DryRunSubmit(Request("true"));
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->outcome, "ACCEPTED");
  EXPECT_EQ(dry->memory_mb, 1024);
  EXPECT_EQ(dry->memory_source, "default");
  ASSERT_TRUE(dry->resolution.has_value());
  EXPECT_EQ(dry->resolution->command.id, "bash");
  EXPECT_EQ(dry->user_active_jobs, 0);

  auto a = Submit(Request("sleep 30"));
  auto b = Submit(Request("sleep 30", "bob"));
  ASSERT_TRUE(a.ok() && b.ok());
  // Full node, room in the queue: QUEUED, and a real submit queues too.
  dry = service_->DryRunSubmit(Request("true", "carol"));
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->outcome, "QUEUED");
  EXPECT_EQ(dry->used_memory_mb, 2048);
  auto queued = Submit(Request("true", "carol"));
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(service_->Get(*queued)->job.status_msg, model::kMsgQueued);
  // Queue full: REJECTED with what Submit() answers.
  dry = service_->DryRunSubmit(Request("true", "dave"));
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->outcome, "REJECTED");
  EXPECT_EQ(dry->refusal.code(), StatusCode::kUnavailable);
  EXPECT_THAT(dry->refusal.message(), HasSubstr("queue full"));
  EXPECT_EQ(Submit(Request("true", "dave")).status().code(), StatusCode::kUnavailable);
  // Alice at her limit of one active job: REJECTED 429, as Submit() answers.
  dry = service_->DryRunSubmit(Request("true"));
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->outcome, "REJECTED");
  EXPECT_EQ(dry->refusal.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(dry->user_active_jobs, 1);
  EXPECT_EQ(Submit(Request("true")).status().code(), StatusCode::kResourceExhausted);
  // No match and too much memory: the records Submit() would write, none written here.
  auto nomatch = Request("true");
  nomatch.id = "dry-no-match";
  nomatch.cluster_criterias = {{{"sched:none"}}};
  dry = service_->DryRunSubmit(nomatch);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->outcome, "FAILED");
  EXPECT_FALSE(dry->resolution.has_value());
  auto big = Request("true");
  big.id = "dry-big";
  big.memory = options_.max_job_memory_mb + 1;
  dry = service_->DryRunSubmit(big);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->outcome, "INVALID");
  EXPECT_EQ(dry->memory_source, "request");
  EXPECT_EQ(stores_.jobs->GetJob("dry-no-match").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(stores_.jobs->GetJob("dry-big").status().code(), StatusCode::kNotFound);
  // An invalid request is an error, as for Submit().
  auto invalid = Request("true");
  invalid.name = "";
  EXPECT_EQ(service_->DryRunSubmit(invalid).status().code(), StatusCode::kInvalidArgument);

  for (const auto& id : {*a, *b}) ASSERT_TRUE(service_->Kill(id).ok());
  for (const auto& id : {*a, *b, *queued}) Final(id);
}

TEST_F(JobServiceTest, AtCapacityWithoutQueueIsUnavailable) {
  options_.max_system_memory_mb = 2048;
  Start();
  auto a = Submit(Request("sleep 30"));
  auto b = Submit(Request("sleep 30"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto req = Request("true");
  req.id = "no-room";
  auto c = Submit(req);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(c.status().message(), HasSubstr("capacity"));
  EXPECT_EQ(stores_.jobs->GetJob("no-room").status().code(), StatusCode::kNotFound);
  // Smaller jobs fit in what is left? None is left: 2048 of 2048 used.
  ASSERT_TRUE(service_->Kill(*a).ok());
  Final(*a);
  auto d = Submit(req);
  EXPECT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(service_->Kill(*b).ok());
  Final(*b);
  Final(*d);
}

TEST_F(JobServiceTest, QueuedJobsWaitInitAndStartInOrderAsCapacityFrees) {
  options_.max_system_memory_mb = 1024;
  options_.queue_enabled = true;
  options_.max_queued_jobs = 2;
  Start();
  auto a = Submit(Request("sleep 1"));
  auto b = Submit(Request("echo b"));
  auto c = Submit(Request("echo c"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  for (const std::string& id : {*b, *c}) {
    auto r = service_->Get(id);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->job.status, JobStatus::kInit);
    EXPECT_EQ(r->job.status_msg, model::kMsgQueued);
  }
  auto full = Submit(Request("true"));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(full.status().message(), HasSubstr("queue"));

  model::JobRecord ra = Final(*a), rb = Final(*b), rc = Final(*c);
  EXPECT_EQ(ra.job.status, JobStatus::kSucceeded);
  EXPECT_EQ(rb.job.status, JobStatus::kSucceeded);
  EXPECT_EQ(rc.job.status, JobStatus::kSucceeded);
  EXPECT_EQ(Stdout(*c), "c\n");
  // One at a time, in submission order.
  EXPECT_GE(*rb.job.started, *ra.job.finished);
  EXPECT_GE(*rc.job.started, *rb.job.finished);
}

TEST_F(JobServiceTest, KillQueuedJobEndsItAtOnce) {
  options_.max_system_memory_mb = 1024;
  options_.queue_enabled = true;
  Start();
  auto a = Submit(Request("sleep 30"));
  auto b = Submit(Request("echo never"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(service_->Kill(*b).ok());
  auto r = service_->Get(*b);  // no wait: killed directly
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->job.status, JobStatus::kKilled);
  // It never ran: no 999 as if a process was killed, and the message says so.
  EXPECT_EQ(r->job.status_msg, kMsgKilledBeforeStart);
  EXPECT_FALSE(r->execution.exit_code.has_value());
  EXPECT_FALSE(r->job.started.has_value());
  EXPECT_FALSE(fs::exists(service_->JobDirectory(*b)));  // never set up
  ASSERT_TRUE(service_->Kill(*a).ok());
  EXPECT_EQ(Final(*a).job.status, JobStatus::kKilled);
}

// Two nodes on one store (the harness's SQLite file): a job that does not fit on a full node
// waits unplaced in the shared queue and the other node, which has room, claims and runs it.
TEST_F(JobServiceTest, SharedQueueJobIsClaimedAndRunByANodeWithRoom) {
  options_.max_system_memory_mb = 1024;
  options_.queue_enabled = true;
  options_.shared_queue = true;
  options_.claim_interval = 50ms;
  options_.host_name = "node-a";
  Start();
  auto first = Submit(Request("sleep 30"));
  ASSERT_TRUE(first.ok()) << first.status();
  WaitRunning(*first);
  auto queued = Submit(Request("echo ran-on-b"));
  auto killed = Submit(Request("echo never"));
  ASSERT_TRUE(queued.ok() && killed.ok());
  for (const std::string& id : {*queued, *killed}) {
    auto r = service_->Get(id);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->job.status, JobStatus::kInit);
    EXPECT_EQ(r->job.status_msg, model::kMsgQueued);
    EXPECT_EQ(r->execution.host_name, "");  // not placed yet
  }
  // A queued job killed on any node leaves the queue and never runs.
  ASSERT_TRUE(service_->Kill(*killed).ok());
  EXPECT_EQ(service_->Get(*killed)->job.status, JobStatus::kKilled);
  EXPECT_EQ(service_->Get(*killed)->job.status_msg, kMsgKilledBeforeStart);

  JobServiceOptions b = options_;
  b.host_name = "node-b";
  b.jobs_dir = root_ / "node-b" / "jobs";
  b.max_system_memory_mb = 4096;
  auto node_b = harness_->NewService(b);
  ASSERT_TRUE(node_b.ok()) << node_b.status();
  auto done = (*node_b)->WaitFinal(*queued, kWait);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->job.status, JobStatus::kSucceeded);
  EXPECT_EQ(done->execution.host_name, "node-b");
  EXPECT_EQ(ReadFile(exec::paths::Stdout((*node_b)->JobDirectory(*queued))).value_or(""),
            "ran-on-b\n");
  EXPECT_EQ(service_->Get(*killed)->job.status, JobStatus::kKilled);
  // node-a's own job is not node-b's: b neither adopted nor claimed it.
  EXPECT_EQ(service_->Get(*first)->job.status, JobStatus::kRunning);
  EXPECT_EQ((*node_b)->Load().running, 0);
  // A kill of a job another node holds is refused here (the API forwards it to its node).
  EXPECT_EQ((*node_b)->Kill(*first).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(service_->Kill(*first).ok());
  EXPECT_EQ(Final(*first).job.status, JobStatus::kKilled);
  (*node_b)->Shutdown();
}

TEST_F(JobServiceTest, KillRunningJob) {
  Start();
  auto id = Submit(Request("sleep 30"));
  ASSERT_TRUE(id.ok());
  WaitRunning(*id);
  ASSERT_TRUE(service_->Kill(*id).ok());
  model::JobRecord r = Final(*id);
  EXPECT_EQ(r.job.status, JobStatus::kKilled);
  EXPECT_EQ(r.job.status_msg, model::kMsgKilledByUser);
  EXPECT_EQ(r.execution.exit_code, model::kExitKilled);
  // Killing a finished job is a no-op; an unknown job is NotFound.
  EXPECT_TRUE(service_->Kill(*id).ok());
  EXPECT_EQ(service_->Kill("no-such-job").code(), StatusCode::kNotFound);
}

TEST_F(JobServiceTest, KillRightAfterSubmitNeverLeavesTheJobActive) {
  Start();
  for (int i = 0; i < 5; ++i) {
    auto id = Submit(Request("sleep 30"));
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(service_->Kill(*id).ok());
    EXPECT_EQ(Final(*id).job.status, JobStatus::kKilled);
  }
}

TEST_F(JobServiceTest, SetupFailureIsRecordedWithTheCause) {
  Start();
  auto req = Request("true");
  req.setup_file = (root_ / "no-such-setup.sh").string();
  auto id = Submit(req);
  ASSERT_TRUE(id.ok()) << id.status();
  model::JobRecord r = Final(*id);
  EXPECT_EQ(r.job.status, JobStatus::kFailed);
  EXPECT_THAT(r.job.status_msg, HasSubstr("no-such-setup.sh"));
  EXPECT_TRUE(fs::exists(exec::paths::InitFailureFile(service_->JobDirectory(*id))));
}

TEST_F(JobServiceTest, AttachmentsReachTheJobDirectory) {
  Start();
  fs::path staged = root_ / "upload-1";
  ASSERT_TRUE(MakeDirs(staged).ok());
  { std::ofstream(staged / "data.txt") << "line1\nline2\n"; }
  exec::Attachment att{"data.txt", staged / "data.txt", 12};
  auto id = Submit(Request("wc -l < data.txt"), {att});
  ASSERT_TRUE(id.ok()) << id.status();
  model::JobRecord r = Final(*id);
  EXPECT_EQ(r.job.status, JobStatus::kSucceeded);
  EXPECT_EQ(Stdout(*id), "2\n");
  EXPECT_EQ(r.metadata.num_attachments, 1);
  EXPECT_EQ(r.metadata.total_size_of_attachments, 12);
  EXPECT_FALSE(fs::exists(staged / "data.txt"));  // the service took the file
}

TEST_F(JobServiceTest, BadAttachmentNamesAreRefused) {
  Start();
  for (const std::string& name : {std::string(".."), std::string("a/b"), std::string("")}) {
    exec::Attachment att{name, root_ / "x", 1};
    auto id = Submit(Request("true"), {att});
    ASSERT_FALSE(id.ok()) << name;
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST_F(JobServiceTest, RestartReadoptsRunningJobsAndRunsJobsThatNeverStarted) {
  Start();
  // Both jobs wait for a gate that opens only after the restart: they are re-adopted running.
  const fs::path gate = root_ / "gate";
  const std::string wait_gate = "while [ ! -e " + gate.string() + " ]; do sleep 0.02; [ -d " +
                                root_.string() + " ] || exit 9; done; ";
  auto a = Submit(Request(wait_gate + "echo done-a"));
  auto b = Submit(Request(wait_gate + "exit 4"));
  ASSERT_TRUE(a.ok() && b.ok());
  WaitRunning(*a);
  WaitRunning(*b);
  service_->Shutdown();
  service_.reset();

  // Jobs a crash left behind: one accepted but never launched, one waiting in the queue.
  model::JobRecord stuck;
  stuck.id = "stuck";
  stuck.created = stuck.updated = SystemClock::Instance().Now();
  stuck.request = Request("echo from-stuck");
  stuck.request.id = "stuck";
  stuck.job.status_msg = std::string(model::kMsgAccepted);
  stuck.job.cluster_id = stuck.job.cluster_name = "local";
  stuck.job.command_id = stuck.job.command_name = "bash";
  stuck.execution.memory = 1024;
  ASSERT_TRUE(stores_.jobs->CreateJob(stuck).ok());
  model::JobRecord queued = stuck;
  queued.id = queued.request.id = "queued";
  queued.request.command_arguments = {"echo from-queue"};
  queued.job.status_msg = std::string(model::kMsgQueued);
  ASSERT_TRUE(stores_.jobs->CreateJob(queued).ok());

  Start();  // a new service and executor on the same store and folders; Recover()
  EXPECT_EQ(service_->Get(*a)->job.status, JobStatus::kRunning);
  EXPECT_EQ(service_->Get(*b)->job.status, JobStatus::kRunning);
  { std::ofstream(gate) << "go"; }
  model::JobRecord ra = Final(*a), rb = Final(*b);
  EXPECT_EQ(ra.job.status, JobStatus::kSucceeded);
  EXPECT_EQ(Stdout(*a), "done-a\n");
  EXPECT_EQ(rb.job.status, JobStatus::kFailed);
  EXPECT_EQ(rb.execution.exit_code, 4);

  // Acknowledged = will run: the job that never launched is set up and run after the restart.
  model::JobRecord rs = Final("stuck");
  EXPECT_EQ(rs.job.status, JobStatus::kSucceeded) << rs.job.status_msg;
  EXPECT_EQ(Stdout("stuck"), "from-stuck\n");

  model::JobRecord rq = Final("queued");
  EXPECT_EQ(rq.job.status, JobStatus::kSucceeded);
  EXPECT_EQ(Stdout("queued"), "from-queue\n");
}

TEST_F(JobServiceTest, RecoveredJobsCountAgainstCapacityAndUserLimit) {
  options_.max_active_jobs_per_user = 1;
  Start();
  auto a = Submit(Request("sleep 30"));
  ASSERT_TRUE(a.ok());
  WaitRunning(*a);
  service_->Shutdown();
  service_.reset();
  Start();
  auto b = Submit(Request("true"));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(service_->Kill(*a).ok());  // the re-adopted job can be killed
  EXPECT_EQ(Final(*a).job.status, JobStatus::kKilled);
  EXPECT_TRUE(Submit(Request("true")).ok());
}

TEST_F(JobServiceTest, WaitFinalTimesOutAndSubmitAfterShutdownIsUnavailable) {
  Start();
  auto id = Submit(Request("sleep 30"));
  ASSERT_TRUE(id.ok());
  auto w = service_->WaitFinal(*id, 50ms);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(service_->WaitFinal("nope", 50ms).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(service_->Kill(*id).ok());
  Final(*id);
  service_->Shutdown();
  auto late = Submit(Request("true"));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable);
}

TEST_F(JobServiceTest, ManyConcurrentSubmitsAllFinish) {
  options_.setup_threads = 2;
  options_.max_system_memory_mb = 1 << 20;  // room for all of them
  Start();
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> ids(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto id = Submit(Request("true", "user" + std::to_string(t)));
        if (id.ok()) {
          ids[t].push_back(*id);
        } else {
          ADD_FAILURE() << id.status();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  int n = 0;
  for (const auto& list : ids) {
    for (const auto& id : list) {
      EXPECT_EQ(Final(id).job.status, JobStatus::kSucceeded);
      ++n;
    }
  }
  EXPECT_EQ(n, 100);
}

// A job store on a full disk while `full` is set: every write is refused as SQLite refuses it
// (`full_updates`: only updates, so a job can still be submitted).
class FullDiskJobStore final : public store::JobStore {
 public:
  explicit FullDiskJobStore(std::shared_ptr<store::JobStore> s) : s_(std::move(s)) {}
  std::atomic<bool> full{false};
  std::atomic<bool> full_updates{false};
  std::atomic<int> refused{0};

  Status CreateJob(const model::JobRecord& r) override {
    if (full) return Refuse();
    return s_->CreateJob(r);
  }
  Result<model::JobRecord> GetJob(const std::string& id) override { return s_->GetJob(id); }
  Status UpdateJob(const model::JobRecord& r) override {
    if (full || full_updates) return Refuse();
    return s_->UpdateJob(r);
  }
  Result<store::Page<model::JobRecord>> SearchJobs(const store::JobFilter& f,
                                                   const store::PageRequest& p) override {
    return s_->SearchJobs(f, p);
  }
  Result<std::vector<model::JobRecord>> JobsWithStatus(
      const std::vector<JobStatus>& statuses) override {
    return s_->JobsWithStatus(statuses);
  }
  Result<int64_t> CountActiveJobs(const std::string& user) override {
    return s_->CountActiveJobs(user);
  }

 private:
  Status Refuse() {
    ++refused;
    return OutOfSpace("sqlite: database or disk is full; free disk space");
  }
  std::shared_ptr<store::JobStore> s_;
};

// The disk fills while a job runs: its end cannot be stored. It is kept, shown, and stored by
// the retries once space is back, without a restart.
TEST_F(JobServiceTest, AnEndTheStoreRefusesIsRetriedUntilStored) {
  options_.write_retry_initial = 5ms;
  options_.write_retry_max = 40ms;
  auto disk = std::make_shared<FullDiskJobStore>(stores_.jobs);
  StartOn(disk);
  const fs::path gate = root_ / "gate";
  auto id = Submit(Request("while [ ! -e " + gate.string() + " ]; do sleep 0.02; done; echo end"));
  ASSERT_TRUE(id.ok()) << id.status();
  WaitRunning(*id);

  disk->full = true;
  { std::ofstream(gate) << "go"; }
  // The end is known at once, although the store refuses it.
  model::JobRecord r = Final(*id);
  EXPECT_EQ(r.job.status, JobStatus::kSucceeded);
  EXPECT_EQ(r.execution.exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return disk->refused.load() >= 3; })) << "the write is not retried";
  EXPECT_EQ(stores_.jobs->GetJob(*id)->job.status, JobStatus::kRunning);
  WriteBacklog backlog = service_->PendingWrites();
  EXPECT_EQ(backlog.records, 1);
  EXPECT_THAT(backlog.last_error, HasSubstr("OUT_OF_SPACE"));
  // A kill of the ended job is the no-op of a finished job and changes nothing.
  EXPECT_TRUE(service_->Kill(*id).ok());
  EXPECT_EQ(service_->Get(*id)->job.status, JobStatus::kSucceeded);
  // Through the readers' view too.
  EXPECT_EQ(CurrentRecords(*service_, disk)->GetJob(*id)->job.status, JobStatus::kSucceeded);
  // New submissions meanwhile are refused with the store's answer (nothing acknowledged).
  auto refused = Submit(Request("true"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kOutOfSpace);

  disk->full = false;
  ASSERT_TRUE(WaitFor([&] {
    auto stored = stores_.jobs->GetJob(*id);
    return stored.ok() && stored->job.status == JobStatus::kSucceeded;
  })) << "the end was never stored";
  EXPECT_EQ(stores_.jobs->GetJob(*id)->execution.exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return service_->PendingWrites().records == 0; }));
  EXPECT_TRUE(Submit(Request("true")).ok());
}

// RUNNING cannot be stored; the end arrives while it waits and replaces it.
TEST_F(JobServiceTest, ARefusedRunningWriteIsReplacedByTheEnd) {
  options_.write_retry_initial = 5ms;
  options_.write_retry_max = 20ms;
  auto disk = std::make_shared<FullDiskJobStore>(stores_.jobs);
  StartOn(disk);
  const fs::path gate = root_ / "gate";
  disk->full_updates = true;
  auto id = Submit(Request("while [ ! -e " + gate.string() + " ]; do sleep 0.02; done; exit 3"));
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(WaitFor([&] { return service_->Get(*id)->job.status == JobStatus::kRunning; }));
  EXPECT_EQ(stores_.jobs->GetJob(*id)->job.status, JobStatus::kInit);
  { std::ofstream(gate) << "go"; }
  EXPECT_EQ(Final(*id).job.status, JobStatus::kFailed);
  disk->full_updates = false;
  ASSERT_TRUE(WaitFor([&] { return stores_.jobs->GetJob(*id)->job.status == JobStatus::kFailed; }));
  EXPECT_EQ(stores_.jobs->GetJob(*id)->execution.exit_code, 3);
}

TEST_F(JobServiceTest, SubmissionsBelowTheFreeSpaceFloorAreRefused) {
  options_.free_space_floor = std::make_shared<FreeSpaceFloor>(
      std::vector<fs::path>{root_}, int64_t{1} << 60, "jobs.min_free_disk_mb");
  Start();
  auto id = Submit(Request("true"));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kOutOfSpace);
  EXPECT_THAT(id.status().message(), HasSubstr("jobs.min_free_disk_mb: "));
  EXPECT_THAT(id.status().message(), HasSubstr("below the floor of"));
}

// After a crash: a job that reached its launch (genie/launched, its end in genie.done) is
// re-adopted and never run again; a job caught half-way through set-up is set up again from
// scratch, with the attachment it was submitted with.
TEST_F(JobServiceTest, RestartNeverRunsALaunchedJobTwiceAndRebuildsAHalfBuiltOne) {
  auto record = [&](const std::string& id, const std::string& script) {
    model::JobRecord r;
    r.id = id;
    r.created = r.updated = SystemClock::Instance().Now();
    r.request = Request(script);
    r.request.id = id;
    r.job.status_msg = std::string(model::kMsgAccepted);
    r.job.cluster_id = r.job.cluster_name = "local";
    r.job.command_id = r.job.command_name = "bash";
    r.execution.memory = 1024;
    ASSERT_TRUE(stores_.jobs->CreateJob(r).ok());
  };
  const fs::path again = root_ / "ran-again";
  record("launched", "echo twice > " + again.string());
  const fs::path launched = options_.jobs_dir / "launched";
  ASSERT_TRUE(MakeDirs(launched / "genie" / "logs").ok());
  { std::ofstream(launched / "genie" / "launched"); }
  {
    std::ofstream(launched / "genie" / "genie.done") << R"({"exitCode": "0"})"
                                                     << "\n";
  }
  { std::ofstream(launched / "stdout") << "once\n"; }

  record("half", "cat data.txt");
  const fs::path half = options_.jobs_dir / "half";
  ASSERT_TRUE(MakeDirs(half / "genie" / "logs").ok());  // set-up was interrupted here
  const fs::path staged = root_ / "job-attachments" / "half";
  ASSERT_TRUE(MakeDirs(staged).ok());
  { std::ofstream(staged / "data.txt") << "attached\n"; }

  // Killed between the launch marker and the spawn: no process, no pid file, no genie.done.
  record("never-spawned", "echo ran-after-restart");
  const fs::path never = options_.jobs_dir / "never-spawned";
  ASSERT_TRUE(MakeDirs(never / "genie" / "logs").ok());
  { std::ofstream(never / "genie" / "launched"); }

  Start();  // Recover()
  model::JobRecord n = Final("never-spawned");
  EXPECT_EQ(n.job.status, JobStatus::kSucceeded) << n.job.status_msg;
  EXPECT_EQ(Stdout("never-spawned"), "ran-after-restart\n");
  model::JobRecord l = Final("launched");
  EXPECT_EQ(l.job.status, JobStatus::kSucceeded) << l.job.status_msg;
  EXPECT_EQ(l.execution.exit_code, 0);
  EXPECT_EQ(Stdout("launched"), "once\n");
  EXPECT_FALSE(fs::exists(again)) << "a launched job ran again";

  model::JobRecord h = Final("half");
  EXPECT_EQ(h.job.status, JobStatus::kSucceeded) << h.job.status_msg;
  EXPECT_EQ(Stdout("half"), "attached\n");
  EXPECT_FALSE(fs::exists(staged)) << "staged attachments outlive the job";
}

}  // namespace
}  // namespace weir::service

namespace weir::service {
namespace {

// Local mode with the injected clock: heartbeats keep a RUNNING local job alive, their absence
// past the timeout fails it, a restart neither launches nor forgets it.
class LocalModeServiceTest : public JobServiceTest {
 protected:
  void StartLocal() {
    options_.local_heartbeat_timeout = Millis(60000);
    options_.local_check_interval = Millis(0);  // the test runs the checks
    auto service = harness_->NewService(options_, exec::NewLocalFileFetcher(), clock_);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = std::move(*service);
  }
  std::string Prepare(const std::string& script) {
    Submission s;
    s.request = Request(script);
    s.local_run = true;
    auto id = service_->Submit(std::move(s));
    EXPECT_TRUE(id.ok()) << id.status();
    if (!id.ok()) return "";
    EXPECT_TRUE(WaitFor([&] {
      auto r = service_->Get(*id);
      return r.ok() && r->job.status_msg == kMsgPreparedLocal;
    })) << "never prepared";
    return *id;
  }
  FakeClock clock_{FromEpochMillis(1'800'000'000'000)};
};

TEST_F(LocalModeServiceTest, PreparedJobIsNeverLaunchedHereAndWaitsForItsRunner) {
  StartLocal();
  const std::string id = Prepare("echo here > ran-on-server");
  const fs::path dir = service_->JobDirectory(id);
  EXPECT_TRUE(fs::exists(exec::paths::RunScript(dir)));
  EXPECT_FALSE(fs::exists(exec::paths::LaunchMarker(dir)));
  // A heartbeat before the start is refused; the end too.
  EXPECT_EQ(service_->LocalRunHeartbeat(id).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->LocalRunEnded(id, {}).status().code(), StatusCode::kFailedPrecondition);

  // A restart keeps it prepared (not set up again, not launched).
  service_->Shutdown();
  StartLocal();
  auto rec = service_->Get(id);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->job.status, JobStatus::kInit);
  EXPECT_EQ(rec->job.status_msg, kMsgPreparedLocal);
  EXPECT_FALSE(fs::exists(dir / "ran-on-server"));

  auto started = service_->LocalRunStarted(id, "laptop", 77);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->job.status, JobStatus::kRunning);
  EXPECT_EQ(started->execution.host_name, "laptop");
  EXPECT_EQ(service_->LocalRunStarted(id, "laptop", 77).status().code(),
            StatusCode::kFailedPrecondition);
  auto ended = service_->LocalRunEnded(id, {.exit_code = 4, .stdout_size = 10, .stderr_size = 0});
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->job.status, JobStatus::kFailed);
  EXPECT_EQ(ended->execution.exit_code, 4);
  EXPECT_FALSE(fs::exists(dir / "ran-on-server"));
}

TEST_F(LocalModeServiceTest, HeartbeatsKeepItRunningTheirAbsenceFailsIt) {
  StartLocal();
  const std::string id = Prepare("true");
  ASSERT_TRUE(service_->LocalRunStarted(id, "laptop", 77).ok());
  clock_.Advance(Millis(50000));
  ASSERT_TRUE(service_->LocalRunHeartbeat(id).ok());
  clock_.Advance(Millis(50000));  // 100 s after the start, 50 s after the beat
  EXPECT_EQ(service_->CheckLocalHeartbeats(), 0);
  EXPECT_EQ(service_->Get(id)->job.status, JobStatus::kRunning);

  // A restart gives a RUNNING local job a full allowance again (it is not adopted as a process).
  service_->Shutdown();
  StartLocal();
  EXPECT_EQ(service_->Get(id)->job.status, JobStatus::kRunning);
  clock_.Advance(Millis(59999));
  EXPECT_EQ(service_->CheckLocalHeartbeats(), 0);
  clock_.Advance(Millis(1));
  EXPECT_EQ(service_->CheckLocalHeartbeats(), 1);
  auto rec = service_->Get(id);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->job.status, JobStatus::kFailed);
  EXPECT_EQ(rec->execution.exit_code, model::kExitNodeLost);
  EXPECT_THAT(rec->job.status_msg, HasSubstr("jobs.local_heartbeat_timeout_ms"));
  EXPECT_EQ(service_->LocalRunHeartbeat(id).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace weir::service
