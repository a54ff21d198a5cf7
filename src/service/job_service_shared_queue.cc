// JobService: the shared queue of a cluster (JobServiceOptions::shared_queue): storing a job
// unplaced, claiming queued jobs while this node has room, and killing a queued job.

#include <spdlog/spdlog.h>

#include <mutex>
#include <string>
#include <utility>

#include "metrics/weir_metrics.h"
#include "service/job_log.h"
#include "service/job_service_internal.h"

namespace weir::service::internal {

// --- the shared queue --------------------------------------------------------------------------

Result<std::string> JobServiceImpl::SubmitShared(JobRecord rec) {
  const std::string id = rec.id;
  rec.execution.host_name.clear();  // unplaced: CreateJob puts it in the store's queue
  rec.job.status_msg = std::string(model::kMsgQueued);
  WEIR_RETURN_IF_ERROR(jobs_->CreateJob(rec));
  metrics::Weir().job_transitions.With({"INIT"}).Inc();
  LogJobEvent("accepted", rec, "queued for the first node with capacity");
  WakeClaimer();
  return id;
}

int JobServiceImpl::ClaimQueued() {
  int claimed = 0;
  for (;;) {
    int64_t room;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return claimed;
      const int64_t capacity = options_.max_system_memory_mb;
      room = capacity <= 0 ? -1 : capacity - used_memory_mb_;
      // Jobs queued on this node alone (attachments) come first: they cannot go elsewhere.
      if ((capacity > 0 && room <= 0) || !queue_.empty()) return claimed;
    }
    auto got = jobs_->ClaimQueuedJob(options_.host_name, room, clock_.Now());
    if (!got.ok()) {
      spdlog::warn("shared queue: claiming a job failed: {}", got.status().ToString());
      return claimed;
    }
    if (!*got) return claimed;
    JobRecord r = std::move(**got);
    spdlog::info("job {}: claimed from the shared queue by node {}", r.id, options_.host_name);
    std::lock_guard<std::mutex> lock(mu_);
    ActiveJob a;
    a.user = r.request.user;
    a.phase = Phase::kAccepted;
    a.persisted = true;
    a.memory_mb = r.execution.memory.value_or(options_.default_job_memory_mb);
    a.holds_capacity = true;
    used_memory_mb_ += a.memory_mb;
    ++user_active_[r.request.user];
    a.record = std::move(r);
    const std::string id = a.record.id;
    active_.emplace(id, std::move(a));
    setup_queue_.push_back(id);
    setup_cv_.notify_one();
    ++claimed;
  }
}

void JobServiceImpl::ClaimLoop() {
  std::unique_lock<std::mutex> lock(claim_mu_);
  while (!claim_stopping_) {
    claim_wanted_ = false;
    lock.unlock();
    ClaimQueued();
    lock.lock();
    claim_cv_.wait_for(lock, options_.claim_interval,
                       [this] { return claim_stopping_ || claim_wanted_; });
  }
}

Status JobServiceImpl::KillUnheld(const JobRecord& r) {
  if (!model::IsActive(r.job.status)) return Status::Ok();  // finished: a no-op
  if (r.execution.host_name.empty()) {
    WEIR_ASSIGN_OR_RETURN(bool unqueued, jobs_->UnqueueJob(r.id));
    if (!unqueued) {
      // Claimed by a node meanwhile: that node kills it now.
      WEIR_ASSIGN_OR_RETURN(JobRecord now, jobs_->GetJob(r.id));
      if (now.execution.host_name.empty() || now.execution.host_name == options_.host_name) {
        return Unavailable("job '" + r.id + "': was just placed on a node; retry the kill");
      }
      return KillUnheld(now);
    }
    JobRecord rec = r;
    rec.job.status = JobStatus::kKilled;
    rec.job.status_msg = std::string(kMsgKilledBeforeStart);
    rec.job.finished = rec.updated = clock_.Now();
    rec.execution.exit_code.reset();
    metrics::Weir().job_transitions.With({"KILLED"}).Inc();
    LogJobEvent(JobEvent{.event = "killed",
                         .id = rec.id,
                         .user = rec.request.user,
                         .status = "KILLED",
                         .message = rec.job.status_msg});
    WEIR_RETURN_IF_ERROR(WriteRecord(rec));
    NotifyFinal();
    return Status::Ok();
  }
  if (r.execution.host_name != options_.host_name) {
    return FailedPrecondition("job '" + r.id + "': runs on node '" + r.execution.host_name +
                              "', not on this one");
  }
  return Status::Ok();
}

}  // namespace weir::service::internal
