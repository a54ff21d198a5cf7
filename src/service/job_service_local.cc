// JobService: local mode (jobs run by `weir job run-local` elsewhere) and its heartbeat check.

#include <mutex>
#include <string>

#include "service/job_log.h"
#include "service/job_service_internal.h"

namespace weir::service::internal {

// --- local mode --------------------------------------------------------------------------------

Result<ActiveJob*> JobServiceImpl::LocalJobLocked(const std::string& id) {
  auto it = active_.find(id);
  if (it == active_.end()) return static_cast<ActiveJob*>(nullptr);  // final or unknown
  ActiveJob& a = it->second;
  if (!a.local) {
    return FailedPrecondition("job '" + id +
                              "': not prepared for a local run; it runs on the server (prepare "
                              "one with `weir job prepare`)");
  }
  if (a.phase != Phase::kLocal) {
    return FailedPrecondition("job '" + id + "': still being prepared; retry in a moment");
  }
  return &a;
}

Result<JobRecord> JobServiceImpl::LocalRunStarted(const std::string& job_id,
                                                  const std::string& host, int pid) {
  JobRecord rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_ASSIGN_OR_RETURN(ActiveJob * a, LocalJobLocked(job_id));
    if (a != nullptr) {
      if (a->record.job.status == JobStatus::kRunning) {
        return FailedPrecondition("job '" + job_id + "': already RUNNING on " +
                                  a->record.execution.host_name +
                                  "; a local job runs once (prepare a new one)");
      }
      TimePoint now = clock_.Now();
      a->record.job.status = JobStatus::kRunning;
      a->record.job.status_msg = std::string(kMsgLocalRunning);
      a->record.job.started = now;
      a->record.execution.host_name = Truncate(host, 255);
      a->record.execution.process_id = pid;
      a->record.updated = now;
      a->last_heartbeat = now;
      rec = a->record;
    }
  }
  if (rec.id.empty()) {
    WEIR_ASSIGN_OR_RETURN(JobRecord final_rec, Get(job_id));
    return FailedPrecondition("job '" + job_id + "': is " +
                              std::string(model::JobStatusName(final_rec.job.status)) +
                              " and cannot run: " + final_rec.job.status_msg);
  }
  // The store refuses it when a kill made the job final meanwhile.
  WEIR_RETURN_IF_ERROR(WriteRecord(rec));
  LogJobEvent("started", rec,
              "local run on " + rec.execution.host_name + ", pid " + std::to_string(pid));
  return rec;
}

Status JobServiceImpl::LocalRunHeartbeat(const std::string& job_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_ASSIGN_OR_RETURN(ActiveJob * a, LocalJobLocked(job_id));
    if (a != nullptr) {
      if (a->record.job.status != JobStatus::kRunning) {
        return FailedPrecondition("job '" + job_id +
                                  "': not RUNNING yet; its runner reports the start first");
      }
      a->last_heartbeat = clock_.Now();
      return Status::Ok();
    }
  }
  WEIR_ASSIGN_OR_RETURN(JobRecord rec, Get(job_id));
  return FailedPrecondition("job '" + job_id + "': is " +
                            std::string(model::JobStatusName(rec.job.status)) + ": " +
                            rec.job.status_msg);
}

Result<JobRecord> JobServiceImpl::LocalRunEnded(const std::string& job_id, LocalRunEnd end) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_ASSIGN_OR_RETURN(ActiveJob * a, LocalJobLocked(job_id));
    if (a != nullptr && a->record.job.status != JobStatus::kRunning) {
      return FailedPrecondition("job '" + job_id +
                                "': not RUNNING; its runner reports the start first");
    }
  }
  TimePoint now = clock_.Now();
  bool finished = FinishJob(job_id, [&](JobRecord& rec) {
    rec.job.status = end.exit_code == 0 ? JobStatus::kSucceeded : JobStatus::kFailed;
    rec.job.status_msg = std::string(end.exit_code == 0 ? model::kMsgSucceeded : model::kMsgFailed);
    rec.job.finished = now;
    rec.execution.exit_code = end.exit_code;
    rec.metadata.std_out_size = end.stdout_size;
    rec.metadata.std_err_size = end.stderr_size;
  });
  WEIR_ASSIGN_OR_RETURN(JobRecord rec, Get(job_id));
  if (!finished) {
    return FailedPrecondition("job '" + job_id + "': is " +
                              std::string(model::JobStatusName(rec.job.status)) + ": " +
                              rec.job.status_msg);
  }
  return rec;
}

int JobServiceImpl::CheckLocalHeartbeats() {
  const TimePoint now = clock_.Now();
  std::vector<std::string> lost;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, a] : active_) {
      if (a.phase == Phase::kLocal && a.record.job.status == JobStatus::kRunning &&
          now - a.last_heartbeat >= options_.local_heartbeat_timeout) {
        lost.push_back(id);
      }
    }
  }
  int failed = 0;
  const std::string msg = "Job failed: its local runner sent no heartbeat for " +
                          std::to_string(options_.local_heartbeat_timeout.count()) +
                          " ms (jobs.local_heartbeat_timeout_ms).";
  for (const std::string& id : lost) {
    bool done = FinishJob(id, [&](JobRecord& rec) {
      rec.job.status = JobStatus::kFailed;
      rec.job.status_msg = msg;
      rec.job.finished = now;
      rec.execution.exit_code = model::kExitNodeLost;
    });
    if (done) ++failed;
  }
  return failed;
}

void JobServiceImpl::LocalWatchLoop() {
  std::unique_lock<std::mutex> lock(local_mu_);
  while (!local_stopping_) {
    local_cv_.wait_for(lock, options_.local_check_interval, [this] { return local_stopping_; });
    if (local_stopping_) break;
    lock.unlock();
    CheckLocalHeartbeats();
    lock.lock();
  }
}

}  // namespace weir::service::internal
