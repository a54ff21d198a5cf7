// JobService: archives of finished jobs (the archive worker) and the job-directory sweep.

#include <spdlog/spdlog.h>

#include <mutex>
#include <string>

#include "common/fs.h"
#include "metrics/weir_metrics.h"
#include "service/job_service_internal.h"

namespace weir::service::internal {

// --- archives and the directory sweep ----------------------------------------------------------

void JobServiceImpl::DropArchiveLocationWithoutDirectory(JobRecord& rec) const {
  if (!rec.job.archive_location) return;
  std::error_code ec;
  if (!fs::is_directory(JobDirectory(rec.id), ec)) rec.job.archive_location.reset();
}

bool JobServiceImpl::EnqueueArchive(const std::string& id) {
  if (!options_.archiver) return false;
  std::lock_guard<std::mutex> lock(archive_mu_);
  if (archive_stopping_ || !archive_pending_.insert(id).second) return false;
  archive_queue_.push_back(id);
  archive_cv_.notify_one();
  return true;
}

void JobServiceImpl::ArchiveWorker() {
  std::unique_lock<std::mutex> lock(archive_mu_);
  while (true) {
    archive_cv_.wait(lock, [this] { return archive_stopping_ || !archive_queue_.empty(); });
    // Waiting archives are left to the sweep after a restart (they are not marked yet).
    if (archive_stopping_) break;
    std::string id = std::move(archive_queue_.front());
    archive_queue_.pop_front();
    lock.unlock();
    ArchiveOne(id);
    lock.lock();
    archive_pending_.erase(id);
    archive_idle_cv_.notify_all();
  }
  archive_queue_.clear();
  archive_pending_.clear();
  archive_idle_cv_.notify_all();
}

void JobServiceImpl::ArchiveOne(const std::string& id) {
  auto rec = jobs_->GetJob(id);
  if (!rec) {
    spdlog::error("job {}: archive: {}", id, rec.status().ToString());
    return;
  }
  if (model::IsActive(rec->job.status) || !rec->job.archive_location) return;
  const fs::path dir = JobDirectory(id);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  const auto started = clock_.SteadyNow();
  auto stats = options_.archiver->ArchiveJob(*rec, dir);
  metrics::Weir().job_archives.With({stats ? "ok" : "failed"}).Inc();
  if (!stats) {
    spdlog::error("job {}: archive to {}: {} (retried by the next directory sweep)", id,
                  *rec->job.archive_location, stats.status().ToString());
    return;
  }
  Status marked = MakeDirs(options_.archived_marks_dir);
  if (marked.ok()) marked = WriteFileAtomic(ArchivedMark(id), "");
  if (!marked.ok()) {
    spdlog::error("job {}: archived, but marking it failed: {}", id, marked.ToString());
    return;
  }
  spdlog::info("job {}: archived {} files ({} bytes, {} compressed) to {} in {} ms", id,
               stats->files, stats->bytes, stats->archive_bytes, *rec->job.archive_location,
               std::chrono::duration_cast<Millis>(clock_.SteadyNow() - started).count());
}

Result<SweepResult> JobServiceImpl::SweepJobDirectories() {
  SweepResult result;
  if (!options_.archiver) return result;
  const TimePoint now = clock_.Now();
  std::error_code ec;
  std::vector<std::string> ids;
  for (fs::directory_iterator it(options_.jobs_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code dec;
    if (it->is_directory(dec)) ids.push_back(it->path().filename().string());
  }
  if (ec) return ErrnoStatus("job sweep: list " + options_.jobs_dir.string(), ec.value());
  for (const std::string& id : ids) {
    if (!IsSafeId(id)) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (active_.count(id)) continue;
    }
    {
      std::lock_guard<std::mutex> lock(archive_mu_);
      if (archive_pending_.count(id)) {
        ++result.kept;
        continue;
      }
    }
    auto rec = jobs_->GetJob(id);
    if (!rec) {
      if (rec.status().code() != StatusCode::kNotFound) {
        spdlog::warn("job sweep: {}: {}", id, rec.status().ToString());
      }
      continue;  // a folder no record names: not ours to remove
    }
    if (model::IsActive(rec->job.status)) continue;
    if (!rec->job.archive_location) {
      ++result.kept;
      continue;
    }
    std::error_code mec;
    if (!fs::exists(ArchivedMark(id), mec)) {
      if (EnqueueArchive(id)) ++result.queued_archives;
      continue;
    }
    const TimePoint finished = rec->job.finished.value_or(rec->updated);
    if (options_.job_dir_retention.count() < 0 || now - finished < options_.job_dir_retention) {
      ++result.kept;
      continue;
    }
    // The folder may belong to the job's own account (jobs.run_as_user): RemoveTree never
    // follows a link it may have swapped in, so the sweep cannot be steered outside it.
    if (Status rm = RemoveTree(JobDirectory(id)); !rm.ok()) {
      spdlog::error("job sweep: {}", rm.ToString());
      continue;
    }
    std::error_code rec_ec;
    fs::remove(ArchivedMark(id), rec_ec);
    ++result.removed;
  }
  metrics::WeirMetrics& m = metrics::Weir();
  m.job_dir_sweeps.With({}).Inc();
  m.job_dirs_removed.With({}).Inc(result.removed);
  return result;
}

void JobServiceImpl::SweepLoop() {
  std::unique_lock<std::mutex> lock(sweep_mu_);
  while (!sweep_stopping_) {
    lock.unlock();
    auto r = SweepJobDirectories();
    if (!r) {
      spdlog::error("{}", r.status().ToString());
    } else if (r->removed > 0 || r->queued_archives > 0) {
      spdlog::info("job sweep: {} directories removed, {} jobs queued for archiving", r->removed,
                   r->queued_archives);
    }
    lock.lock();
    // Real time between passes; what is due is decided by the injected Clock.
    sweep_cv_.wait_for(lock, options_.sweep_interval, [this] { return sweep_stopping_; });
  }
}

Status JobServiceImpl::WaitArchivesIdle(Millis timeout) {
  std::unique_lock<std::mutex> lock(archive_mu_);
  if (!archive_idle_cv_.wait_for(lock, timeout, [this] { return archive_pending_.empty(); })) {
    return DeadlineExceeded("job service: " + std::to_string(archive_pending_.size()) +
                            " archives still waiting or being written after " +
                            std::to_string(timeout.count()) + " ms");
  }
  return Status::Ok();
}

}  // namespace weir::service::internal
