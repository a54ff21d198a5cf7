// JobService: Kill, WaitFinal, Recover (re-adoption after a restart) and Shutdown.

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "common/fs.h"
#include "common/ids.h"
#include "exec/slurm_executor.h"
#include "service/job_service_internal.h"

namespace weir::service::internal {

namespace {

// The process group leader whose working folder is `job_dir` (the executor starts the run script
// there in a session of its own), with its start time from /proc/<pid>/stat: a launch the server
// was killed in the middle of, after the spawn and before genie/pid was written.
std::optional<exec::PidRecord> FindRunScriptProcess(const fs::path& job_dir) {
  std::error_code ec;
  const fs::path want = fs::canonical(job_dir, ec);
  if (ec) return std::nullopt;
  for (const fs::directory_entry& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::error_code lec;
    if (fs::read_symlink(e.path() / "cwd", lec) != want || lec) continue;
    Result<std::string> stat = ReadFile(e.path() / "stat");
    if (!stat.ok()) continue;
    const size_t paren = stat->rfind(')');
    if (paren == std::string::npos) continue;
    // After "pid (comm)": state ppid pgrp session ... field 22 is the start time.
    std::istringstream fields(stat->substr(paren + 1));
    std::string field;
    long long pgrp = 0, start_time = 0;
    for (int i = 3; i <= 22 && fields >> field; ++i) {
      if (i == 5) pgrp = std::atoll(field.c_str());
      if (i == 22) start_time = std::atoll(field.c_str());
    }
    const int pid = std::atoi(name.c_str());
    if (pgrp != pid || start_time == 0) continue;
    return exec::PidRecord{pid, start_time};
  }
  return std::nullopt;
}

std::optional<TimePoint> FileMtime(const fs::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FromEpochMillis(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 +
                         st.st_mtim.tv_nsec / 1000000);
}

}  // namespace

// --- kill, wait, recover, shutdown -------------------------------------------------------------

Status JobServiceImpl::Kill(const std::string& job_id) {
  bool running = false;
  bool local_running = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = active_.find(job_id);
    if (it != active_.end()) {
      ActiveJob& a = it->second;
      local_running = a.phase == Phase::kLocal && a.record.job.status == JobStatus::kRunning;
      if (!a.persisted || a.phase == Phase::kLaunching) {
        a.kill_requested = true;  // acted on as soon as the record / RUNNING is written
        return Status::Ok();
      }
      running = a.phase == Phase::kRunning;
    }
  }
  if (local_running) {
    // Its process is elsewhere: the runner learns it at its next heartbeat and stops it.
    TimePoint now = clock_.Now();
    FinishJob(job_id, [&](JobRecord& rec) {
      rec.job.status = JobStatus::kKilled;
      rec.job.status_msg = std::string(model::kMsgKilledByUser);
      rec.job.finished = now;
      rec.execution.exit_code = model::kExitKilled;
    });
    return Status::Ok();
  }
  if (running) {
    Status st = executor_->Kill(job_id, model::kMsgKilledByUser);
    if (st.code() == StatusCode::kNotFound) return Status::Ok();  // it just ended
    return st;
  }
  // INIT and not launched (queued, waiting for set-up, or in set-up): killed right here. It never
  // ran, so it has no exit code (Genie's exitCode is null until a process ends; 999 would claim a
  // killed process) and its message says so.
  TimePoint now = clock_.Now();
  bool killed = FinishJob(job_id, [&](JobRecord& rec) {
    rec.job.status = JobStatus::kKilled;
    rec.job.status_msg = std::string(kMsgKilledBeforeStart);
    rec.job.finished = now;
    rec.execution.exit_code.reset();
  });
  if (killed) return Status::Ok();
  // Not active here: a final job (no-op, also when its end is not stored yet) or an unknown id.
  auto r = Get(job_id);
  if (!r) {
    if (r.status().code() == StatusCode::kNotFound) {
      return NotFound("job '" + job_id + "': not found");
    }
    return r.status();
  }
  // With the shared queue: queued in it, or held by another node.
  if (options_.shared_queue) return KillUnheld(*r);
  return Status::Ok();
}

Result<JobRecord> JobServiceImpl::WaitFinal(const std::string& job_id, Millis timeout) {
  // A real wait on a condition variable: the deadline is steady time, not the injected Clock
  // (a FakeClock would never let it expire).
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(wait_mu_);
  while (true) {
    const uint64_t seen = final_seq_;
    lock.unlock();
    auto r = Get(job_id);
    if (!r) return r.status();
    if (!model::IsActive(r->job.status)) return r;
    lock.lock();
    if (!wait_cv_.wait_until(lock, deadline, [&] { return final_seq_ != seen; })) {
      return DeadlineExceeded("job '" + job_id + "': still " +
                              std::string(model::JobStatusName(r->job.status)) + " after " +
                              std::to_string(timeout.count()) + " ms");
    }
  }
}

bool JobServiceImpl::LaunchedBeforeRestart(JobRecord& rec) {
  const fs::path dir = JobDirectory(rec.id);
  if (std::optional<std::string> slurm = exec::ReadSlurmJobId(dir)) {
    // In Slurm (maybe still pending there): re-adopted as it is; the executor tells RUNNING.
    if (rec.execution.slurm_job_id.empty()) rec.execution.slurm_job_id = *slurm;
    rec.updated = clock_.Now();
    return true;
  }
  std::optional<TimePoint> started = FileMtime(exec::paths::PidFile(dir));
  if (!started && FileMtime(exec::paths::LaunchMarker(dir))) {
    // The server died during the launch. A run script that already ended left genie.done; one
    // that runs is found by its working folder and gets the pid file the server never wrote;
    // otherwise the spawn never happened and the job is set up again (it never ran).
    if (std::optional<exec::PidRecord> found = FindRunScriptProcess(dir)) {
      Status written = exec::WritePidFile(dir, *found);
      if (!written.ok()) spdlog::error("job {}: {}", rec.id, written.ToString());
      started = FileMtime(exec::paths::LaunchMarker(dir));
    } else if (FileMtime(exec::paths::DoneFile(dir))) {
      started = FileMtime(exec::paths::LaunchMarker(dir));
    } else {
      spdlog::info("job {}: the server stopped before its launch; setting it up again", rec.id);
      return false;
    }
  }
  if (!started) return false;
  rec.job.status = JobStatus::kRunning;
  rec.job.status_msg = std::string(model::kMsgRunning);
  rec.job.started = *started;
  if (auto pid = exec::ReadPidFile(dir)) rec.execution.process_id = pid->pid;
  rec.updated = clock_.Now();
  return true;
}

Status JobServiceImpl::Recover() {
  auto running = jobs_->JobsWithStatus({JobStatus::kRunning});
  if (!running) return running.status().WithContext("recover running jobs");
  // A record whose id breaks the id rule (stored by an older version) is never adopted and no
  // path or URI is built from it: it ends FAILED, without an archive.
  auto drop_invalid = [this](std::vector<JobRecord>& records) {
    std::erase_if(records, [this](JobRecord& r) {
      if (IsSafeId(r.id)) return false;
      spdlog::error("job {}: the id does not follow the id rule; not recovered", IdFileName(r.id));
      r.job.status = JobStatus::kFailed;
      r.job.status_msg =
          "Job failed: its id does not follow the id rule of this server version "
          "(1 to 128 characters from A-Z a-z 0-9 . _ -); it was not recovered";
      r.job.finished = clock_.Now();
      r.updated = *r.job.finished;
      r.job.archive_location.reset();
      Status st = WriteRecord(r);
      if (!st.ok()) spdlog::error("job {}: fail: {}", IdFileName(r.id), st.ToString());
      NotifyFinal();
      return true;
    });
  };
  auto waiting = jobs_->JobsWithStatus({JobStatus::kInit});
  if (!waiting) return waiting.status().WithContext("recover waiting jobs");
  if (options_.shared_queue) {
    // Other nodes' jobs and the shared queue's are not this node's to recover; local jobs
    // prepared here (their host is the runner's machine) are.
    auto not_mine = [this](const JobRecord& r) {
      return r.execution.host_name != options_.host_name && !HasLocalMark(r.id);
    };
    std::erase_if(*running, not_mine);
    std::erase_if(*waiting, not_mine);
  }
  drop_invalid(*running);
  drop_invalid(*waiting);

  // INIT jobs that reached their launch before the crash (RUNNING was not recorded): re-adopted
  // like RUNNING ones, never set up or started again.
  std::vector<JobRecord> adopt;
  std::vector<JobRecord> requeue;
  // Local jobs are never launched or adopted here: prepared and RUNNING ones wait for their
  // runner again (a RUNNING one with a full heartbeat allowance from now).
  std::vector<JobRecord> local;
  for (JobRecord& r : *running) {
    if (HasLocalMark(r.id)) {
      local.push_back(std::move(r));
    } else {
      adopt.push_back(std::move(r));
    }
  }
  for (JobRecord& r : *waiting) {
    std::error_code ec;
    if (HasLocalMark(r.id) && r.job.status_msg == kMsgPreparedLocal &&
        fs::exists(exec::paths::RunScript(JobDirectory(r.id)), ec)) {
      local.push_back(std::move(r));
    } else if (HasLocalMark(r.id)) {
      requeue.push_back(std::move(r));  // caught in set-up: set up again, still local
    } else if (LaunchedBeforeRestart(r)) {
      spdlog::info("job {}: launched before the restart; re-adopting it", r.id);
      Status st = WriteRecord(r);
      if (!st.ok()) spdlog::error("job {}: record RUNNING after restart: {}", r.id, st.ToString());
      adopt.push_back(std::move(r));
    } else {
      requeue.push_back(std::move(r));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const JobRecord& r : local) {
      if (active_.count(r.id)) continue;
      ActiveJob a;
      a.record = r;
      a.user = r.request.user;
      a.phase = Phase::kLocal;
      a.persisted = true;
      a.local = true;
      a.memory_mb = r.execution.memory.value_or(options_.default_job_memory_mb);
      a.last_heartbeat = clock_.Now();
      ++user_active_[r.request.user];
      active_.emplace(r.id, std::move(a));
    }
    for (const JobRecord& r : adopt) {
      if (active_.count(r.id)) continue;
      ActiveJob a;
      a.record = r;
      a.user = r.request.user;
      a.phase = Phase::kRunning;
      a.persisted = true;
      a.memory_mb = exec::ReadSlurmJobId(JobDirectory(r.id))
                        ? 0
                        : r.execution.memory.value_or(options_.default_job_memory_mb);
      a.holds_capacity = true;
      used_memory_mb_ += a.memory_mb;
      ++user_active_[r.request.user];
      active_.emplace(r.id, std::move(a));
    }
  }
  // Outside the lock: the executor may report an end (read from genie.done) right away.
  for (const JobRecord& r : adopt) {
    executor_->Recover(r.id, JobDirectory(r.id), LaunchOptionsFor(r),
                       r.job.started.value_or(r.created));
  }

  // Acknowledged jobs that never launched (queued, waiting for set-up, or caught in set-up) wait
  // again in their original order; a half-built directory is cleared for a new set-up.
  for (JobRecord& r : requeue) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (active_.count(r.id)) continue;
    }
    const fs::path dir = JobDirectory(r.id);
    std::error_code ec;
    if (fs::exists(dir, ec)) {
      spdlog::info("job {}: set-up was interrupted by the restart; setting it up again", r.id);
      if (Status rm = RemoveTree(dir); !rm.ok()) {
        spdlog::error("job {}: remove half-built {}: {}", r.id, dir.string(), rm.ToString());
      }
    }
    ActiveJob a;
    a.record = r;
    a.user = r.request.user;
    a.phase = Phase::kQueued;
    a.persisted = true;
    a.local = HasLocalMark(r.id);
    a.memory_mb = r.execution.memory.value_or(options_.default_job_memory_mb);
    a.attachments = StagedAttachments(r.id);
    std::lock_guard<std::mutex> lock(mu_);
    ++user_active_[r.request.user];
    queue_.push_back(r.id);  // JobsWithStatus is oldest first: FIFO order is kept
    active_.emplace(r.id, std::move(a));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    DrainQueueLocked();
  }
  if (options_.archiver && options_.sweep_interval.count() > 0) {
    std::lock_guard<std::mutex> lock(sweep_mu_);
    if (!sweeper_.joinable() && !sweep_stopping_) sweeper_ = std::thread([this] { SweepLoop(); });
  }
  if (options_.shared_queue) {
    std::lock_guard<std::mutex> lock(claim_mu_);
    if (!claimer_.joinable() && !claim_stopping_) claimer_ = std::thread([this] { ClaimLoop(); });
  }
  return Status::Ok();
}

void JobServiceImpl::Shutdown() {
  std::lock_guard<std::mutex> once(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  {
    std::lock_guard<std::mutex> lock(claim_mu_);
    claim_stopping_ = true;
  }
  claim_cv_.notify_all();
  if (claimer_.joinable()) claimer_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  setup_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  {
    std::lock_guard<std::mutex> lock(sweep_mu_);
    sweep_stopping_ = true;
  }
  sweep_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  {
    std::lock_guard<std::mutex> lock(local_mu_);
    local_stopping_ = true;
  }
  local_cv_.notify_all();
  if (local_watch_.joinable()) local_watch_.join();
  {
    std::lock_guard<std::mutex> lock(archive_mu_);
    archive_stopping_ = true;
  }
  archive_cv_.notify_all();
  if (archive_worker_.joinable()) archive_worker_.join();
  executor_->Shutdown();
  // No end can arrive any more: stop the writer and give each kept record a last try.
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    writer_stopping_ = true;
  }
  write_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  FlushUnwritten();
}

}  // namespace weir::service::internal
