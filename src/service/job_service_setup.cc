// JobService: the set-up workers, which build a job's directory and launch it.

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <string>
#include <utility>

#include "common/fs.h"
#include "exec/slurm_executor.h"
#include "metrics/weir_metrics.h"
#include "service/job_log.h"
#include "service/job_service_internal.h"

namespace weir::service::internal {

namespace {

// genie/launched, made just before the launch. Not fsynced: it guards against a server crash
// (the job's processes live on); a machine crash ends the processes as well.
Status MarkLaunched(const fs::path& job_dir) {
  const fs::path marker = exec::paths::LaunchMarker(job_dir);
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("launch marker " + marker.string(), errno);
  ::close(fd);
  return Status::Ok();
}

}  // namespace

// --- set-up workers ----------------------------------------------------------------------------

void JobServiceImpl::SetupWorker() {
  while (true) {
    std::string id;
    {
      std::unique_lock<std::mutex> lock(mu_);
      setup_cv_.wait(lock, [this] { return stopping_ || !setup_queue_.empty(); });
      // Jobs still waiting at shutdown stay INIT: a restart re-queues or fails them.
      if (stopping_) return;
      id = std::move(setup_queue_.front());
      setup_queue_.pop_front();
    }
    SetUp(id);
  }
}

void JobServiceImpl::SetUp(const std::string& id) {
  JobRecord rec;
  std::optional<model::ConfigEntity> cluster, command;
  std::vector<exec::Attachment> attachments;
  bool was_queued;
  bool local;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = active_.find(id);
    if (it == active_.end() || it->second.phase != Phase::kAccepted) return;  // killed
    ActiveJob& a = it->second;
    a.phase = Phase::kSettingUp;
    local = a.local;
    was_queued = a.record.job.status_msg == model::kMsgQueued;
    if (was_queued) a.record.job.status_msg = std::string(model::kMsgAccepted);
    rec = a.record;
    cluster = a.cluster;
    command = a.command;
    attachments = a.attachments;
  }
  if (was_queued) {
    // The job left the queue (a restart queues it again all the same).
    rec.updated = clock_.Now();
    Status st = WriteRecord(rec);
    if (!st.ok()) return;  // already final (killed meanwhile)
  }

  exec::JobSpec spec;
  spec.record = rec;
  spec.weir_version = options_.weir_version;
  spec.attachments = std::move(attachments);
  spec.relocatable = local;
  auto fetch = [&](model::Kind kind, const std::string& eid) -> Result<model::ConfigEntity> {
    auto e = config_->Get(kind, eid);
    if (!e) {
      return FailedPrecondition(std::string(model::KindName(kind)) + " '" + eid +
                                "': " + e.status().message());
    }
    return e;
  };
  Status st;
  if (cluster) {
    spec.cluster = std::move(*cluster);
  } else if (auto c = fetch(model::Kind::kCluster, rec.job.cluster_id); c) {
    spec.cluster = std::move(*c);
  } else {
    st = c.status();
  }
  if (st.ok()) {
    if (command) {
      spec.command = std::move(*command);
    } else if (auto c = fetch(model::Kind::kCommand, rec.job.command_id); c) {
      spec.command = std::move(*c);
    } else {
      st = c.status();
    }
  }
  for (size_t i = 0; st.ok() && i < rec.job.application_ids.size(); ++i) {
    auto app = fetch(model::Kind::kApplication, rec.job.application_ids[i]);
    if (app) {
      spec.applications.push_back(std::move(*app));
    } else {
      st = app.status();
    }
  }
  const fs::path dir = JobDirectory(id);
  if (st.ok()) st = exec::PrepareJobDirectory(spec, dir, *fetcher_);
  exec::LaunchOptions launch_options = LaunchOptionsFor(rec);
  if (st.ok() && local) {
    // The runner finds its job's id here (the folder carries nothing else of the server).
    st = WriteFileAtomic(exec::paths::GenieDir(dir) / "local-run.json",
                         "{\"jobId\": \"" + id + "\"}\n");
  }
  // A local job runs as its user on the user's machine: the folder stays the server's.
  if (st.ok() && options_.run_as.enabled && !local) {
    // The account may have gone since the submission, or this is a job queued before a restart.
    auto account = exec::ResolveRunAsAccount(rec.request.user, options_.run_as);
    if (account)
      st = exec::HandOverJobDirectory(dir, *account);
    else
      st = account.status();
    if (st.ok()) {
      launch_options.run_as = std::move(*account);
      launch_options.run_as_env = options_.run_as.env_allow;
    } else
      st = st.WithContext("run as user");
  }
  if (st.ok()) {
    // A cluster whose metadata says "executor": "slurm" runs its jobs there.
    auto slurm = exec::SlurmSubmitFor(spec.cluster);
    if (!slurm.ok()) {
      st = slurm.status();
    } else if (*slurm) {
      launch_options.slurm = std::move(**slurm);
      launch_options.slurm->memory_mb = rec.execution.memory;
    }
  }
  if (!st.ok()) {
    FailSetup(id, st);
    return;
  }

  if (local) {
    // Prepared: it waits for its runner (no launch marker, no process here).
    rec.job.status_msg = std::string(kMsgPreparedLocal);
    rec.updated = clock_.Now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = active_.find(id);
      if (it == active_.end()) return;  // killed during set-up
      it->second.phase = Phase::kLocal;
      it->second.record = rec;
      it->second.attachments.clear();
    }
    Status written = WriteRecord(rec);
    if (!written.ok()) spdlog::error("job {}: record prepared: {}", id, written.ToString());
    LogJobEvent("prepared", rec, rec.job.status_msg);
    RemoveStaging(id);  // the job directory holds its own links to the attachments
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = active_.find(id);
    if (it == active_.end()) return;  // killed during set-up: never launched
    it->second.phase = Phase::kLaunching;
  }
  // From here the job may have a process: a restart re-adopts it instead of setting it up again.
  if (Status marked = MarkLaunched(dir); !marked.ok()) {
    FailSetup(id, marked);
    return;
  }
  auto launched = executor_->Launch(id, dir, launch_options);
  if (!launched) {
    metrics::Weir().job_spawn_failures.With({}).Inc();
    FailSetup(id, launched.status().WithContext("launch"));
    return;
  }
  if (launched->running) {
    rec.job.status = JobStatus::kRunning;
    rec.job.status_msg = std::string(model::kMsgRunning);
    rec.job.started = launched->started;
  } else {
    // It waits (in Slurm's queue): INIT until the executor tells RUNNING (OnJobProgress).
    rec.job.status_msg = Truncate(launched->status_msg, kMaxStatusMsg);
  }
  if (launched->pid > 0) rec.execution.process_id = launched->pid;
  rec.execution.slurm_job_id = launched->slurm_job_id;
  rec.updated = clock_.Now();
  Status written = WriteRecord(rec);
  if (!written.ok()) {
    spdlog::error("job {}: record {}: {}", id, model::JobStatusName(rec.job.status),
                  written.ToString());
  }
  if (launched->running) {
    metrics::WeirMetrics& m = metrics::Weir();
    m.job_transitions.With({"RUNNING"}).Inc();
    const std::chrono::duration<double> waited = rec.updated - rec.created;
    m.job_submit_to_running.With({}).Observe(std::max(0.0, waited.count()));
  }
  LogJobEvent(launched->running ? "started" : "launched", rec,
              launched->slurm_job_id.empty() ? "pid " + std::to_string(launched->pid)
                                             : "slurm job " + launched->slurm_job_id);
  RemoveStaging(id);  // the job directory holds its own links to the attachments

  std::optional<exec::JobEnd> pending;
  std::optional<exec::JobProgress> progress;
  bool kill = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = active_.find(id);
    if (it == active_.end()) return;
    ActiveJob& a = it->second;
    a.record = rec;
    a.phase = Phase::kRunning;
    a.attachments.clear();
    pending = std::move(a.pending_end);
    progress = std::move(a.pending_progress);
    kill = a.kill_requested;
  }
  if (progress) OnJobProgress(*progress);
  if (pending) {
    RecordEnd(*pending);
  } else if (kill) {
    Status k = executor_->Kill(id, model::kMsgKilledByUser);
    if (!k.ok() && k.code() != StatusCode::kNotFound) {
      spdlog::error("job {}: kill after launch: {}", id, k.ToString());
    }
  }
}

}  // namespace weir::service::internal
