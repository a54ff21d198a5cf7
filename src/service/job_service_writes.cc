// JobService: status writes, kept and retried while the store refuses them, and the JobStore
// wrapper for readers (CurrentRecords).
//
//
// Every status write goes through WriteRecord(): a write the store refuses is kept in unwritten_
// (under write_mu_) and retried by the writer thread with backoff. Only the writer thread erases
// an entry, and only after the store took (or finally refused) the latest version of it, so a
// newer record for the same job is never overtaken by an older one in flight.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>

#include "service/job_service.h"
#include "service/job_service_internal.h"

namespace weir::service::internal {

// --- status writes that the store refused ------------------------------------------------------

Result<JobRecord> JobServiceImpl::Get(const std::string& job_id) { return GetRecord(job_id); }

Result<JobRecord> JobServiceImpl::GetRecord(const std::string& job_id) {
  std::optional<JobRecord> kept;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    auto it = unwritten_.find(job_id);
    if (it != unwritten_.end()) kept = it->second.record;
  }
  auto stored = jobs_->GetJob(job_id);
  if (!kept) return stored;
  // A kept active record that lost to a stored end (killed meanwhile) is about to be dropped.
  if (stored.ok() && !model::IsActive(stored->job.status) && model::IsActive(kept->job.status)) {
    return stored;
  }
  return *kept;
}

WriteBacklog JobServiceImpl::PendingWrites() {
  std::lock_guard<std::mutex> lock(write_mu_);
  WriteBacklog b;
  b.records = static_cast<int64_t>(unwritten_.size());
  if (b.records > 0) b.last_error = last_write_error_;
  return b;
}

ServiceLoad JobServiceImpl::Load() {
  ServiceLoad load;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, a] : active_) {
    ServiceLoad::User& u = load.users[a.user];
    if (a.phase == Phase::kQueued) {
      ++load.queued;
    } else if (a.phase == Phase::kRunning) {
      ++load.running;
      ++u.running;
    } else {
      ++load.setting_up;
    }
    if (a.holds_capacity) u.memory_mb += a.memory_mb;
  }
  load.used_memory_mb = used_memory_mb_;
  load.capacity_mb = options_.max_system_memory_mb;
  return load;
}

Status JobServiceImpl::WriteRecord(const JobRecord& rec) {
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    auto it = unwritten_.find(rec.id);
    if (it != unwritten_.end()) {
      // Earlier writes of this job wait: this one joins them (the writer stores the latest).
      Unwritten& u = it->second;
      if (!model::IsActive(u.record.job.status) && model::IsActive(rec.job.status)) {
        return FailedPrecondition("job '" + rec.id + "': status " +
                                  std::string(model::JobStatusName(u.record.job.status)) +
                                  " is final and never changes");
      }
      u.record = rec;
      u.version = ++write_version_;
      u.next_attempt = Steady::now();
      write_cv_.notify_all();
      return Status::Ok();
    }
  }
  Status st = jobs_->UpdateJob(rec);
  if (st.ok()) {
    OnStored(rec);
    return st;
  }
  if (st.code() == StatusCode::kFailedPrecondition || st.code() == StatusCode::kNotFound) {
    return st;
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  KeepLocked(rec, st);
  return Status::Ok();
}

void JobServiceImpl::KeepLocked(const JobRecord& rec, const Status& refused) {
  last_write_error_ = refused.ToString();
  auto [it, fresh] = unwritten_.try_emplace(rec.id);
  Unwritten& u = it->second;
  // Two writers of one job racing (a kill and a set-up worker): a final record stays.
  if (!fresh && !model::IsActive(u.record.job.status) && model::IsActive(rec.job.status)) return;
  u.record = rec;
  u.version = ++write_version_;
  if (fresh) {
    u.backoff = options_.write_retry_initial;
    u.next_attempt = Steady::now() + u.backoff;
    u.failures = 1;
  }
  spdlog::error("job {}: record {}: {} (kept in memory and retried until the store takes it)",
                rec.id, model::JobStatusName(rec.job.status), refused.ToString());
  write_cv_.notify_all();
}

void JobServiceImpl::OnStored(const JobRecord& rec) {
  if (model::IsActive(rec.job.status)) return;
  // Queued before waiters see the stored end, so WaitFinal then WaitArchivesIdle sees it.
  if (rec.job.archive_location) EnqueueArchive(rec.id);
}

void JobServiceImpl::WriterLoop() {
  std::unique_lock<std::mutex> lock(write_mu_);
  while (!writer_stopping_) {
    const Steady::time_point now = Steady::now();
    Steady::time_point earliest = Steady::time_point::max();
    Unwritten* due = nullptr;
    for (auto& [id, u] : unwritten_) {
      if (u.in_flight) continue;
      if (u.next_attempt <= now) {
        due = &u;
        break;
      }
      earliest = std::min(earliest, u.next_attempt);
    }
    if (due == nullptr) {
      if (earliest == Steady::time_point::max()) {
        write_cv_.wait(lock);
      } else {
        write_cv_.wait_until(lock, earliest);
      }
      continue;
    }
    due->in_flight = true;
    const JobRecord rec = due->record;
    const uint64_t version = due->version;
    lock.unlock();
    Status st = jobs_->UpdateJob(rec);
    lock.lock();
    auto it = unwritten_.find(rec.id);  // only this thread erases
    Unwritten& u = it->second;
    u.in_flight = false;
    const bool settled = st.ok() || st.code() == StatusCode::kFailedPrecondition ||
                         st.code() == StatusCode::kNotFound;
    if (settled && u.version == version) {
      if (st.ok()) {
        spdlog::info("job {}: {} recorded after {} refused writes", rec.id,
                     model::JobStatusName(rec.job.status), u.failures);
      } else {
        spdlog::warn("job {}: kept {} dropped: {}", rec.id, model::JobStatusName(rec.job.status),
                     st.ToString());
      }
      unwritten_.erase(it);
      if (unwritten_.empty()) last_write_error_.clear();
      lock.unlock();
      if (st.ok()) OnStored(rec);
      NotifyFinal();
      lock.lock();
      continue;
    }
    if (u.version != version) {
      u.next_attempt = Steady::now();  // a newer record waits: write it at once
      continue;
    }
    last_write_error_ = st.ToString();
    ++u.failures;
    u.backoff = std::min(options_.write_retry_max, std::max(Millis(1), u.backoff * 2));
    u.next_attempt = Steady::now() + u.backoff;
  }
}

void JobServiceImpl::FlushUnwritten() {
  std::unordered_map<std::string, Unwritten> left;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    left.swap(unwritten_);
  }
  for (auto& [id, u] : left) {
    Status st = jobs_->UpdateJob(u.record);
    if (st.ok() || st.code() == StatusCode::kFailedPrecondition) continue;
    // Still RUNNING (or INIT) in the store: the next start reads the end from the job directory.
    spdlog::error("job {}: {} not recorded at shutdown: {} (recovered at the next start)", id,
                  model::JobStatusName(u.record.job.status), st.ToString());
  }
}

namespace {

// GetJob through the service; everything else straight to the store.
class CurrentRecordsStore final : public store::JobStore {
 public:
  CurrentRecordsStore(JobService& service, std::shared_ptr<store::JobStore> store)
      : service_(service), store_(std::move(store)) {}
  Status CreateJob(const JobRecord& r) override { return store_->CreateJob(r); }
  Result<JobRecord> GetJob(const std::string& id) override { return service_.Get(id); }
  Status UpdateJob(const JobRecord& r) override { return store_->UpdateJob(r); }
  Result<store::Page<JobRecord>> SearchJobs(const store::JobFilter& f,
                                            const store::PageRequest& p) override {
    return store_->SearchJobs(f, p);
  }
  Result<std::vector<JobRecord>> JobsWithStatus(const std::vector<JobStatus>& s) override {
    return store_->JobsWithStatus(s);
  }
  Result<int64_t> CountActiveJobs(const std::string& user) override {
    return store_->CountActiveJobs(user);
  }
  Result<std::optional<JobRecord>> ClaimQueuedJob(const std::string& node, int64_t max_memory_mb,
                                                  TimePoint now) override {
    return store_->ClaimQueuedJob(node, max_memory_mb, now);
  }
  Result<bool> UnqueueJob(const std::string& id) override { return store_->UnqueueJob(id); }
  Result<std::vector<JobRecord>> DeleteFinishedJobs(TimePoint before, int limit) override {
    return store_->DeleteFinishedJobs(before, limit);
  }

 private:
  JobService& service_;
  std::shared_ptr<store::JobStore> store_;
};

}  // namespace

}  // namespace weir::service::internal

namespace weir::service {

std::shared_ptr<store::JobStore> CurrentRecords(JobService& service,
                                                std::shared_ptr<store::JobStore> store) {
  return std::make_shared<internal::CurrentRecordsStore>(service, std::move(store));
}

}  // namespace weir::service
