// The job service: admission (limits, capacity, queue) in memory, the dry run, attachment staging
// and the bookkeeping of active jobs. The implementation class and its design are in
// job_service_internal.h; its other concerns are in job_service_*.cc.

#include "service/job_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/fs.h"
#include "exec/setup_step.h"
#include "exec/slurm_executor.h"
#include "metrics/weir_metrics.h"
#include "service/job_log.h"
#include "service/job_service_internal.h"

namespace weir::service::internal {

std::string Truncate(std::string s, size_t max) {
  if (s.size() <= max) return s;
  s.resize(max);
  // Do not leave half a UTF-8 sequence at the end.
  while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
  if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80)) s.pop_back();
  return s;
}

JobEvent JobEventOf(std::string event, const JobRecord& rec) {
  return JobEvent{.event = std::move(event),
                  .id = rec.id,
                  .user = rec.request.user,
                  .cluster = rec.job.cluster_name,
                  .command = rec.job.command_name,
                  .status = std::string(model::JobStatusName(rec.job.status))};
}

void LogJobEvent(std::string event, const JobRecord& rec, std::string message) {
  JobEvent e = JobEventOf(std::move(event), rec);
  e.message = std::move(message);
  service::LogJobEvent(e);
}

namespace {

bool IsPlainFileName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') return false;
  }
  return true;
}

}  // namespace

// --- submission --------------------------------------------------------------------------------

Status JobServiceImpl::CreateFinal(JobRecord& rec, JobStatus status, std::string msg) {
  rec.job.status = status;
  rec.job.status_msg = Truncate(std::move(msg), kMaxStatusMsg);
  rec.job.finished = rec.created;
  Status st = jobs_->CreateJob(rec);
  if (st.ok()) {
    metrics::Weir().job_transitions.With({std::string(model::JobStatusName(status))}).Inc();
    NotifyFinal();
  }
  return st;
}

// Every submission ends in the log: accepted (in SubmitNew, once stored) or rejected (here).
Result<std::string> JobServiceImpl::Submit(Submission submission) {
  const std::string user = submission.request.user;
  const std::string asked_id = submission.request.id;
  Result<std::string> id = SubmitNew(std::move(submission));
  metrics::Weir()
      .job_submissions
      .With({std::string(
          metrics::SubmissionOutcomeForCode(id ? "OK" : StatusCodeName(id.status().code())))})
      .Inc();
  if (!id) {
    LogJobEvent(JobEvent{.event = "rejected",
                         .id = asked_id,
                         .user = user,
                         .status = std::string(StatusCodeName(id.status().code())),
                         .message = id.status().message()});
  }
  return id;
}

Result<std::string> JobServiceImpl::SubmitNew(Submission submission) {
  model::JobRequest& req = submission.request;
  WEIR_RETURN_IF_ERROR(model::Validate(req));
  if (options_.run_as.enabled) {
    WEIR_RETURN_IF_ERROR(exec::ResolveRunAsAccount(req.user, options_.run_as).status());
  }
  // A job request's own URIs may not reach outside the fetch perimeter (fetch/perimeter.h).
  WEIR_RETURN_IF_ERROR(exec::CheckJobRequestUris(req, *fetcher_));
  {
    std::set<std::string> names;
    for (const auto& a : submission.attachments) {
      if (!IsPlainFileName(a.name)) {
        return InvalidArgument("attachment '" + a.name +
                               "': must be a plain file name (no '/', not '.' or '..')");
      }
      if (!names.insert(a.name).second) {
        return InvalidArgument("attachment '" + a.name +
                               "': sent twice; give each attachment a distinct file name");
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Unavailable("job service: shutting down; retry on another node");
  }
  if (options_.free_space_floor) WEIR_RETURN_IF_ERROR(options_.free_space_floor->Check());
  if (req.id.empty()) {
    req.id = NewUuid();
  } else {
    auto existing = jobs_->GetJob(req.id);
    if (existing.ok()) {
      return AlreadyExists("job '" + req.id + "': already exists; choose another id or omit it");
    }
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  }

  const std::string id = req.id;
  JobRecord rec;
  rec.id = id;
  rec.created = rec.updated = clock_.Now();
  rec.request = req;
  rec.execution.host_name = options_.host_name;
  rec.execution.timeout = req.timeout.value_or(model::kDefaultJobTimeoutSeconds);
  rec.metadata.client_host = submission.client_host;
  rec.metadata.user_agent = submission.user_agent;
  rec.metadata.num_attachments = static_cast<int>(submission.attachments.size());
  for (const auto& a : submission.attachments) rec.metadata.total_size_of_attachments += a.size;

  auto resolution = resolve::Resolve(
      req,
      [this](const std::vector<std::string>& cluster_tags,
             const std::vector<std::string>& command_tags) {
        return config_->FindCandidates(cluster_tags, command_tags);
      },
      [this](const std::string& command_id) { return config_->GetCommandApplications(command_id); },
      selector_ptrs_);
  if (!resolution) {
    if (resolution.status().code() != StatusCode::kFailedPrecondition) return resolution.status();
    WEIR_RETURN_IF_ERROR(CreateFinal(rec, JobStatus::kFailed, std::string(model::kMsgNoMatch)));
    return resolution.status();
  }
  rec.job.cluster_id = resolution->cluster.id;
  rec.job.cluster_name = resolution->cluster.name;
  rec.job.command_id = resolution->command.id;
  rec.job.command_name = resolution->command.name;
  rec.job.application_ids = resolution->application_ids;
  rec.execution.check_delay = resolution->command.check_delay;

  const int memory = req.memory                   ? *req.memory
                     : resolution->command.memory ? *resolution->command.memory
                                                  : options_.default_job_memory_mb;
  rec.execution.memory = memory;
  if (memory > options_.max_job_memory_mb) {
    std::string msg = "memory: " + std::to_string(memory) +
                      " MB exceeds the maximum job memory of " +
                      std::to_string(options_.max_job_memory_mb) + " MB";
    WEIR_RETURN_IF_ERROR(CreateFinal(rec, JobStatus::kInvalid, msg));
    return FailedPrecondition(msg);
  }
  if (options_.archiver && !req.disable_log_archival) {
    WEIR_ASSIGN_OR_RETURN(rec.job.archive_location, options_.archiver->ArchiveUri(id));
  }

  // Admission, in memory: the per-user limit, then the node's capacity or the queue. A job that
  // runs on Slurm takes none of this node's memory (Slurm places it by its --mem).
  const auto on_slurm = exec::SlurmSubmitFor(resolution->cluster);
  const int node_memory = on_slurm.ok() && *on_slurm ? 0 : memory;
  const int64_t capacity = options_.max_system_memory_mb;
  Phase phase;
  bool to_shared_queue = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Unavailable("job service: shutting down; retry on another node");
    if (active_.count(id)) {
      return AlreadyExists("job '" + id + "': already exists; choose another id or omit it");
    }
    int& user_jobs = user_active_[req.user];
    if (options_.max_active_jobs_per_user > 0 && user_jobs >= options_.max_active_jobs_per_user) {
      std::string msg = "user '" + req.user + "': " + std::to_string(user_jobs) +
                        " active jobs reach the limit of " +
                        std::to_string(options_.max_active_jobs_per_user) +
                        "; wait for some to finish";
      if (user_jobs == 0) user_active_.erase(req.user);
      return ResourceExhausted(msg);
    }
    // A local job runs elsewhere: it takes no memory of this node and never queues for it.
    const bool fits = submission.local_run || capacity <= 0 ||
                      (queue_.empty() && used_memory_mb_ + node_memory <= capacity);
    if (fits) {
      phase = Phase::kAccepted;
    } else {
      std::string why;
      if (!options_.queue_enabled) {
        why = "node at capacity: " + std::to_string(used_memory_mb_) + " of " +
              std::to_string(capacity) + " MB in use, the job needs " + std::to_string(memory) +
              " MB; retry later";
      } else if (memory > capacity) {
        why = "memory: the job needs " + std::to_string(memory) + " MB but this node has " +
              std::to_string(capacity) + " MB in all";
      } else if (queue_.size() >= static_cast<size_t>(std::max(0, options_.max_queued_jobs))) {
        why = "queue full: " + std::to_string(queue_.size()) +
              " jobs wait for capacity on this node; retry later";
      }
      if (!why.empty()) {
        if (user_jobs == 0) user_active_.erase(req.user);
        return Unavailable(why);
      }
      phase = Phase::kQueued;
      // The cluster's queue: stored unplaced, claimed by the first node with room (maybe this).
      if (options_.shared_queue && submission.attachments.empty()) {
        if (user_jobs == 0) user_active_.erase(req.user);
        to_shared_queue = true;
      }
    }
    if (!to_shared_queue) {
      ++user_jobs;
      ActiveJob a;
      a.user = req.user;
      a.phase = phase;
      a.memory_mb = node_memory;
      a.local = submission.local_run;
      if (a.local) {
        // holds no capacity
      } else if (phase == Phase::kAccepted) {
        a.holds_capacity = true;
        used_memory_mb_ += node_memory;
      } else {
        queue_.push_back(id);
      }
      rec.job.status_msg =
          std::string(phase == Phase::kQueued ? model::kMsgQueued : model::kMsgAccepted);
      a.cluster = std::move(resolution->cluster);
      a.command = std::move(resolution->command);
      active_.emplace(id, std::move(a));
    }
  }
  if (to_shared_queue) return SubmitShared(std::move(rec));

  // Persist outside the lock. On failure, undo the admission and leave the files to the caller.
  std::vector<exec::Attachment> attachments = std::move(submission.attachments);
  Status st = StageAttachments(id, attachments);
  // The mark first: a restart must never launch a local job it finds stored.
  if (st.ok() && submission.local_run) {
    st = MakeDirs(options_.local_marks_dir);
    if (st.ok()) st = WriteFileAtomic(LocalMark(id), "");
  }
  if (st.ok()) st = jobs_->CreateJob(rec);
  if (!st.ok()) {
    RemoveStaging(id);
    if (submission.local_run) {
      std::error_code ec;
      fs::remove(LocalMark(id), ec);
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = active_.find(id);
    if (it != active_.end()) TakeLocked(it);
    queue_.erase(std::remove(queue_.begin(), queue_.end(), id), queue_.end());
    DrainQueueLocked();
    return st;
  }

  metrics::Weir().job_transitions.With({"INIT"}).Inc();
  LogJobEvent("accepted", rec, rec.job.status_msg);
  bool kill_now = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = active_.find(id);
    if (it != active_.end()) {
      ActiveJob& a = it->second;
      a.record = std::move(rec);
      a.attachments = std::move(attachments);
      a.persisted = true;
      if (a.kill_requested) {
        kill_now = true;
      } else if (a.phase == Phase::kAccepted) {
        setup_queue_.push_back(id);
        setup_cv_.notify_one();
      } else {
        DrainQueueLocked();
      }
    }
  }
  if (kill_now) WEIR_RETURN_IF_ERROR(Kill(id));
  return id;
}

// Mirrors SubmitNew step by step, reading instead of writing; keep the two in step.
Result<DryRun> JobServiceImpl::DryRunSubmit(model::JobRequest req) {
  WEIR_RETURN_IF_ERROR(model::Validate(req));
  if (options_.run_as.enabled) {
    WEIR_RETURN_IF_ERROR(exec::ResolveRunAsAccount(req.user, options_.run_as).status());
  }
  WEIR_RETURN_IF_ERROR(exec::CheckJobRequestUris(req, *fetcher_));
  DryRun out;
  out.max_job_memory_mb = options_.max_job_memory_mb;
  out.max_active_jobs_per_user = options_.max_active_jobs_per_user;
  out.capacity_mb = options_.max_system_memory_mb;
  auto reject = [&out](Status why) {
    out.outcome = "REJECTED";
    out.refusal = std::move(why);
    return out;
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return reject(Unavailable("job service: shutting down; retry on another node"));
  }
  if (options_.free_space_floor) {
    if (Status s = options_.free_space_floor->Check(); !s.ok()) return reject(s);
  }
  if (!req.id.empty()) {
    auto existing = jobs_->GetJob(req.id);
    if (existing.ok()) {
      return reject(
          AlreadyExists("job '" + req.id + "': already exists; choose another id or omit it"));
    }
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  }

  auto resolution = resolve::Resolve(
      req,
      [this](const std::vector<std::string>& cluster_tags,
             const std::vector<std::string>& command_tags) {
        return config_->FindCandidates(cluster_tags, command_tags);
      },
      [this](const std::string& command_id) { return config_->GetCommandApplications(command_id); },
      selector_ptrs_);
  if (!resolution) {
    if (resolution.status().code() != StatusCode::kFailedPrecondition) return resolution.status();
    out.outcome = "FAILED";
    out.refusal = resolution.status();
    return out;
  }
  out.memory_mb = req.memory                   ? *req.memory
                  : resolution->command.memory ? *resolution->command.memory
                                               : options_.default_job_memory_mb;
  out.memory_source = req.memory ? "request" : resolution->command.memory ? "command" : "default";
  out.resolution = std::move(*resolution);
  if (out.memory_mb > options_.max_job_memory_mb) {
    out.outcome = "INVALID";
    out.refusal = FailedPrecondition("memory: " + std::to_string(out.memory_mb) +
                                     " MB exceeds the maximum job memory of " +
                                     std::to_string(options_.max_job_memory_mb) + " MB");
    return out;
  }

  std::lock_guard<std::mutex> lock(mu_);
  auto it = user_active_.find(req.user);
  const int user_jobs = it == user_active_.end() ? 0 : it->second;
  out.user_active_jobs = user_jobs;
  out.used_memory_mb = used_memory_mb_;
  out.queued_jobs = queue_.size();
  if (options_.max_active_jobs_per_user > 0 && user_jobs >= options_.max_active_jobs_per_user) {
    return reject(ResourceExhausted("user '" + req.user + "': " + std::to_string(user_jobs) +
                                    " active jobs reach the limit of " +
                                    std::to_string(options_.max_active_jobs_per_user) +
                                    "; wait for some to finish"));
  }
  const int64_t capacity = options_.max_system_memory_mb;
  if (capacity <= 0 || (queue_.empty() && used_memory_mb_ + out.memory_mb <= capacity)) {
    out.outcome = "ACCEPTED";
  } else if (!options_.queue_enabled) {
    return reject(Unavailable("node at capacity: " + std::to_string(used_memory_mb_) + " of " +
                              std::to_string(capacity) + " MB in use, the job needs " +
                              std::to_string(out.memory_mb) + " MB; retry later"));
  } else if (out.memory_mb > capacity) {
    return reject(Unavailable("memory: the job needs " + std::to_string(out.memory_mb) +
                              " MB but this node has " + std::to_string(capacity) + " MB in all"));
  } else if (queue_.size() >= static_cast<size_t>(std::max(0, options_.max_queued_jobs))) {
    return reject(Unavailable("queue full: " + std::to_string(queue_.size()) +
                              " jobs wait for capacity on this node; retry later"));
  } else {
    out.outcome = "QUEUED";
  }
  return out;
}

Status JobServiceImpl::StageAttachments(const std::string& id,
                                        std::vector<exec::Attachment>& attachments) {
  if (attachments.empty()) return Status::Ok();
  fs::path dir = StagingDir(id);
  WEIR_RETURN_IF_ERROR(MakeDirs(dir));
  for (auto& a : attachments) {
    fs::path dest = dir / a.name;
    std::error_code ec;
    fs::rename(a.staged_path, dest, ec);
    if (ec == std::errc::cross_device_link) {
      ec.clear();
      fs::copy_file(a.staged_path, dest, fs::copy_options::overwrite_existing, ec);
      if (!ec) fs::remove(a.staged_path, ec);
      ec.clear();
    }
    if (ec) {
      return ErrnoStatus("attachment '" + a.name + "': stage " + a.staged_path.string(),
                         ec.value());
    }
    a.staged_path = dest;
  }
  return Status::Ok();
}

void JobServiceImpl::RemoveStaging(const std::string& id) {
  std::error_code ec;
  fs::remove_all(StagingDir(id), ec);
}

std::vector<exec::Attachment> JobServiceImpl::StagedAttachments(const std::string& id) {
  std::vector<exec::Attachment> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(StagingDir(id), ec)) {
    if (!entry.is_regular_file(ec)) continue;
    exec::Attachment a;
    a.name = entry.path().filename().string();
    a.staged_path = entry.path();
    a.size = static_cast<int64_t>(entry.file_size(ec));
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(),
            [](const exec::Attachment& x, const exec::Attachment& y) { return x.name < y.name; });
  return out;
}

// --- admission bookkeeping ---------------------------------------------------------------------

ActiveJob JobServiceImpl::TakeLocked(std::unordered_map<std::string, ActiveJob>::iterator it) {
  ActiveJob a = std::move(it->second);
  active_.erase(it);
  if (a.holds_capacity) {
    used_memory_mb_ -= a.memory_mb;
    WakeClaimer();  // room for a job of the shared queue
  }
  auto u = user_active_.find(a.user);
  if (u != user_active_.end() && --u->second <= 0) user_active_.erase(u);
  return a;
}

void JobServiceImpl::DrainQueueLocked() {
  const int64_t capacity = options_.max_system_memory_mb;
  while (!queue_.empty()) {
    auto it = active_.find(queue_.front());
    if (it == active_.end() || it->second.phase != Phase::kQueued) {
      queue_.pop_front();  // killed while waiting
      continue;
    }
    ActiveJob& a = it->second;
    if (!a.persisted) break;  // its submit is still writing; keep FIFO order
    if (!a.local) {
      if (capacity > 0 && used_memory_mb_ + a.memory_mb > capacity) break;
      used_memory_mb_ += a.memory_mb;
      a.holds_capacity = true;
    }
    a.phase = Phase::kAccepted;
    setup_queue_.push_back(it->first);
    queue_.pop_front();
    setup_cv_.notify_one();
  }
}

void JobServiceImpl::NotifyFinal() {
  std::lock_guard<std::mutex> lock(wait_mu_);
  ++final_seq_;
  wait_cv_.notify_all();
}

void JobServiceImpl::RecordEnd(const exec::JobEnd& end) {
  FinishJob(end.job_id, [&](JobRecord& rec) {
    rec.job.status = end.status;
    rec.job.status_msg = end.status_msg;
    rec.job.finished = end.finished;
    rec.execution.exit_code = end.exit_code;
    rec.metadata.std_out_size = end.stdout_size;
    rec.metadata.std_err_size = end.stderr_size;
  });
}

void JobServiceImpl::FailSetup(const std::string& id, const Status& cause) {
  TimePoint now = clock_.Now();
  FinishJob(id, [&](JobRecord& rec) {
    rec.job.status = JobStatus::kFailed;
    rec.job.status_msg = "Job failed at set-up: " + cause.message();
    rec.job.finished = now;
  });
}

void JobServiceImpl::OnJobEnd(const exec::JobEnd& end) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = active_.find(end.job_id);
    if (it == active_.end()) return;
    if (it->second.phase != Phase::kRunning) {
      // RUNNING is being written by the set-up worker; it records this end right after.
      it->second.pending_end = end;
      return;
    }
  }
  RecordEnd(end);
}

void JobServiceImpl::OnJobProgress(const exec::JobProgress& p) {
  JobRecord rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = active_.find(p.job_id);
    if (it == active_.end()) return;
    ActiveJob& a = it->second;
    if (a.phase != Phase::kRunning) {
      // The launch is being recorded; the set-up worker applies this right after (RUNNING wins).
      if (!a.pending_progress || !a.pending_progress->running) a.pending_progress = p;
      return;
    }
    if (a.record.job.status != JobStatus::kInit) return;  // RUNNING is told once and stays
    if (p.running) {
      a.record.job.status = JobStatus::kRunning;
      a.record.job.status_msg = std::string(model::kMsgRunning);
      a.record.job.started = p.at;
      if (!p.host.empty()) a.record.execution.host_name = Truncate(p.host, 255);
    } else {
      if (a.record.job.status_msg == p.message) return;
      a.record.job.status_msg = Truncate(p.message, kMaxStatusMsg);
    }
    a.record.updated = clock_.Now();
    rec = a.record;
  }
  Status written = WriteRecord(rec);
  if (!written.ok()) {
    spdlog::error("job {}: record {}: {}", rec.id, model::JobStatusName(rec.job.status),
                  written.ToString());
  }
  if (!p.running) return;
  metrics::WeirMetrics& m = metrics::Weir();
  m.job_transitions.With({"RUNNING"}).Inc();
  const std::chrono::duration<double> waited = rec.updated - rec.created;
  m.job_submit_to_running.With({}).Observe(std::max(0.0, waited.count()));
  LogJobEvent("started", rec,
              "slurm job " + rec.execution.slurm_job_id + " on " + rec.execution.host_name);
}

}  // namespace weir::service::internal

namespace weir::service {

std::unique_ptr<JobService> NewJobService(
    JobServiceOptions options, std::shared_ptr<store::ConfigStore> config,
    std::shared_ptr<store::JobStore> jobs, std::unique_ptr<exec::Executor> executor,
    std::unique_ptr<exec::Fetcher> fetcher,
    std::vector<std::unique_ptr<resolve::ClusterSelector>> selectors, Clock& clock) {
  return std::make_unique<internal::JobServiceImpl>(
      std::move(options), std::move(config), std::move(jobs), std::move(executor),
      std::move(fetcher), std::move(selectors), clock);
}

}  // namespace weir::service
