// Workflow scheduler benchmark W2 of docs/performance.md (spec: shared/spec/performance.md):
//   instance start → first step RUNNING, and step end → next step RUNNING.
// In-process: the real job service (SQLite store, local executor, bash processes) and the real
// scheduler on one database file, as the server composes them. A chain of two `true` steps runs
// N times, one instance after the other. Times come from the job service's own records:
//   start → first RUNNING   = first job's `started` (process spawned) − the time Run() was called
//   end → next RUNNING      = second job's `started` − first job's `finished` (exit seen)
// and their split: until the job service recorded the job (`created`: the scheduler's share) and
// from there to RUNNING (the job service's set-up and launch).
// Every figure is printed as `name: value`. Usage: scheduler_bench [--instances N] [--poll-ms P]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "blob/local_blob_store.h"
#include "blob/sha256.h"
#include "scheduler/scheduler.h"
#include "service/job_service.h"
#include "service/testing/job_service_harness.h"

namespace {

using namespace weir;
using namespace std::chrono_literals;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i =
      std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

void Print(const std::string& name, double value) {
  std::printf("%s: %.3f\n", name.c_str(), value);
  std::fflush(stdout);
}

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "scheduler_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int instances = 50;
  int poll_ms = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--instances") == 0) instances = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--poll-ms") == 0) poll_ms = std::max(1, std::atoi(argv[i + 1]));
  }
  Clock& clock = SystemClock::Instance();
  // The demo cluster "local" (type:local) with command "bash", in a temp folder removed at exit.
  auto harness = service::testing::JobServiceHarness::Create(
      "scheduler-bench", service::testing::HarnessConfig{.cluster_tags = {"type:local"}});
  if (!harness.ok()) return Fail("store", harness.status());
  const std::filesystem::path root = (*harness)->root();
  const std::string db = (*harness)->db_path();

  service::JobServiceOptions jo = (*harness)->DefaultOptions();
  jo.host_name = "bench";
  jo.weir_version = "bench";
  auto opened_jobs = (*harness)->NewService(jo, exec::NewLocalFileFetcher(), clock);
  if (!opened_jobs.ok()) return Fail("job service", opened_jobs.status());
  std::unique_ptr<service::JobService> jobs = std::move(*opened_jobs);

  auto blobs = blob::NewLocalBlobStore(root / "blobs");
  if (!blobs.ok()) return Fail("blobs", blobs.status());
  scheduler::SchedulerOptions so;
  so.db_path = db;
  so.poll_interval = std::chrono::milliseconds(poll_ms);
  auto opened = scheduler::Scheduler::Open(
      so,
      scheduler::NewBlobStoreBundleBlobs(std::shared_ptr<blob::BlobStore>(std::move(*blobs)),
                                         root / "bundle-files"),
      std::shared_ptr<scheduler::StepLauncher>(scheduler::NewJobServiceLauncher(*jobs)), clock);
  if (!opened.ok()) return Fail("scheduler", opened.status());
  std::unique_ptr<scheduler::Scheduler> sched = std::move(*opened);
  if (Status s = sched->Start(); !s.ok()) return Fail("scheduler start", s);

  const std::string definition =
      "id: w2\njobs:\n"
      "  first:\n    command: [type:bash]\n    cluster: [type:local]\n    args: [\"true\"]\n"
      "  second:\n    command: [type:bash]\n    cluster: [type:local]\n    args: [\"true\"]\n"
      "    depends_on: [first]\n";
  workflow::BundleManifest m;
  m.workflow_id = "w2";
  m.environment = "prod";
  m.owner = "bench";
  m.repo = "bench";
  m.branch = "main";
  m.commit = std::string(40, 'b');
  m.workflow_file = "w2.sch.yaml";
  m.definition = definition;
  m.definition_sha256 = blob::Sha256Hex(definition);
  scheduler::DeployRequest dr;
  dr.manifest_json = workflow::CanonicalJson(m);
  dr.deployer = "bench";
  auto deployed = sched->Deploy(dr);
  if (!deployed.ok()) return Fail("deploy", deployed.status());

  std::vector<double> start_to_running, end_to_next;
  // The scheduler's share (until the job service has the job) and the job service's share.
  std::vector<double> start_to_submitted, end_to_submitted, submitted_to_running;
  for (int n = 0; n < instances; ++n) {
    const auto before = clock.Now();
    auto run = sched->Run(deployed->deployed_id, {});
    if (!run.ok()) return Fail("run", run.status());
    scheduler::Instance inst;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (true) {
      auto i = sched->GetInstance(deployed->deployed_id, run->number);
      if (!i.ok()) return Fail("instance", i.status());
      if (scheduler::IsFinal(i->status)) {
        inst = std::move(*i);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return Fail("instance", DeadlineExceeded("did not finish in 30 s"));
      }
      std::this_thread::sleep_for(2ms);
    }
    if (inst.status != scheduler::InstanceStatus::kSucceeded) {
      return Fail("instance", Internal(inst.message));
    }
    auto first = jobs->Get(inst.steps[0].job_id);
    auto second = jobs->Get(inst.steps[1].job_id);
    if (!first.ok() || !second.ok() || !first->job.started || !first->job.finished ||
        !second->job.started) {
      return Fail("job records", Internal("missing started/finished times"));
    }
    start_to_running.push_back(static_cast<double>((*first->job.started - before).count()));
    end_to_next.push_back(
        static_cast<double>((*second->job.started - *first->job.finished).count()));
    start_to_submitted.push_back(static_cast<double>((first->created - before).count()));
    end_to_submitted.push_back(
        static_cast<double>((second->created - *first->job.finished).count()));
    submitted_to_running.push_back(
        static_cast<double>((*first->job.started - first->created).count()));
    submitted_to_running.push_back(
        static_cast<double>((*second->job.started - second->created).count()));
  }
  sched->Shutdown();
  jobs->Shutdown();

  Print("w2_instances", instances);
  Print("w2_poll_interval_ms", poll_ms);
  Print("w2_start_to_first_step_running_ms_p50", Percentile(start_to_running, 0.5));
  Print("w2_start_to_first_step_running_ms_p99", Percentile(start_to_running, 0.99));
  Print("w2_step_end_to_next_step_running_ms_p50", Percentile(end_to_next, 0.5));
  Print("w2_step_end_to_next_step_running_ms_p99", Percentile(end_to_next, 0.99));
  Print("w2_start_to_first_job_submitted_ms_p50", Percentile(start_to_submitted, 0.5));
  Print("w2_step_end_to_next_job_submitted_ms_p50", Percentile(end_to_submitted, 0.5));
  Print("w2_job_submitted_to_running_ms_p50", Percentile(submitted_to_running, 0.5));
  return 0;
}
