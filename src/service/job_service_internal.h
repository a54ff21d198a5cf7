// The job service: admission (limits, capacity, queue) in memory, set-up on a small worker pool,
// supervision through the Executor, every status change written to the JobStore.
//
// In-memory state (under mu_) holds every active job of this node: its latest record, its phase
// and whether its memory is counted against the node's capacity. It is rebuilt from the store by
// Recover(), so admission never scans the database.
//
//   Submit ──► kQueued ──(capacity frees, FIFO)──┐
//         └──► kAccepted ◄───────────────────────┘
//                  │ set-up worker picks it
//              kSettingUp ──(PrepareJobDirectory)──► kLaunching ──(Launch, RUNNING written)──►
//              kRunning ──(executor listener)──► final
//
// Writes for one job are ordered by its phase: the listener never writes before the worker has
// recorded RUNNING (an end that arrives during kLaunching is parked in pending_end), and the store
// refuses to change a final record, so a late write cannot undo an end.
//
// Private to src/service: the implementation of JobService (job_service.h), shared by
// job_service.cc and the job_service_*.cc files, one concern each.
#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/ids.h"
#include "metrics/weir_metrics.h"
#include "service/job_log.h"
#include "service/job_service.h"

namespace weir::service::internal {

namespace fs = std::filesystem;
using model::JobRecord;
using model::JobStatus;

constexpr size_t kMaxStatusMsg = 255;

// `s` cut to at most `max` bytes, never in the middle of a UTF-8 sequence.
std::string Truncate(std::string s, size_t max);

// The server log's event `event` of the job `rec` (service/job_log.h): its id, user, cluster,
// command and status from the record; the caller adds what else applies.
JobEvent JobEventOf(std::string event, const JobRecord& rec);
// Logs JobEventOf(event, rec) with `message`.
void LogJobEvent(std::string event, const JobRecord& rec, std::string message);

// kLocal: a local-mode job set up for its runner (INIT, prepared) or running elsewhere (RUNNING).
enum class Phase { kQueued, kAccepted, kSettingUp, kLaunching, kRunning, kLocal };

struct ActiveJob {
  JobRecord record;  // the latest state written (or about to be)
  std::string user;
  Phase phase = Phase::kAccepted;
  int memory_mb = 0;
  bool holds_capacity = false;  // memory_mb counted in used_memory_
  bool persisted = false;       // CreateJob done; before that the job is not dispatched
  bool kill_requested = false;  // asked while launching: kill as soon as RUNNING is recorded
  std::optional<exec::JobEnd> pending_end;            // the end arrived while launching
  std::optional<exec::JobProgress> pending_progress;  // progress that arrived while launching
  // Known at submit; after a restart (queued jobs) they are read again from the ConfigStore.
  std::optional<model::ConfigEntity> cluster, command;
  std::vector<exec::Attachment> attachments;
  bool local = false;          // local mode: never launched here, holds no node memory
  TimePoint last_heartbeat{};  // local, RUNNING: the runner's last sign of life (Clock)
};

class JobServiceImpl final : public JobService {
 public:
  JobServiceImpl(JobServiceOptions options, std::shared_ptr<store::ConfigStore> config,
                 std::shared_ptr<store::JobStore> jobs, std::unique_ptr<exec::Executor> executor,
                 std::unique_ptr<exec::Fetcher> fetcher,
                 std::vector<std::unique_ptr<resolve::ClusterSelector>> selectors, Clock& clock)
      : options_(std::move(options)),
        config_(std::move(config)),
        jobs_(std::move(jobs)),
        executor_(std::move(executor)),
        fetcher_(std::move(fetcher)),
        selectors_(std::move(selectors)),
        clock_(clock) {
    if (options_.attachments_dir.empty()) {
      options_.attachments_dir = options_.jobs_dir.parent_path() / "job-attachments";
    }
    if (options_.archived_marks_dir.empty()) {
      options_.archived_marks_dir = options_.jobs_dir.parent_path() / "job-archived";
    }
    if (options_.local_marks_dir.empty()) {
      options_.local_marks_dir = options_.jobs_dir.parent_path() / "job-local";
    }
    for (auto& s : selectors_) selector_ptrs_.push_back(s.get());
    executor_->SetListener([this](const exec::JobEnd& end) { OnJobEnd(end); });
    executor_->SetProgressListener([this](const exec::JobProgress& p) { OnJobProgress(p); });
    int n = std::max(1, options_.setup_threads);
    for (int i = 0; i < n; ++i) workers_.emplace_back([this] { SetupWorker(); });
    if (options_.archiver) archive_worker_ = std::thread([this] { ArchiveWorker(); });
    writer_ = std::thread([this] { WriterLoop(); });
    if (options_.local_check_interval.count() > 0) {
      local_watch_ = std::thread([this] { LocalWatchLoop(); });
    }
  }

  ~JobServiceImpl() override { Shutdown(); }

  Status Recover() override;
  Result<std::string> Submit(Submission submission) override;
  Result<DryRun> DryRunSubmit(model::JobRequest request) override;
  Result<std::string> SubmitNew(Submission submission);
  Status Kill(const std::string& job_id) override;
  Result<JobRecord> Get(const std::string& job_id) override;
  Result<JobRecord> GetRecord(const std::string& job_id);
  Result<JobRecord> WaitFinal(const std::string& job_id, Millis timeout) override;
  fs::path JobDirectory(const std::string& job_id) const override {
    return exec::paths::JobDir(options_.jobs_dir, job_id);
  }
  void Shutdown() override;
  Result<SweepResult> SweepJobDirectories() override;
  Status WaitArchivesIdle(Millis timeout) override;
  WriteBacklog PendingWrites() override;
  ServiceLoad Load() override;
  Result<JobRecord> LocalRunStarted(const std::string& job_id, const std::string& host,
                                    int pid) override;
  Status LocalRunHeartbeat(const std::string& job_id) override;
  Result<JobRecord> LocalRunEnded(const std::string& job_id, LocalRunEnd end) override;
  int CheckLocalHeartbeats() override;

 private:
  using Steady = std::chrono::steady_clock;

  // A status write the store refused, kept until it is stored (see the file comment).
  struct Unwritten {
    JobRecord record;
    uint64_t version = 0;    // bumped by each newer record for the job
    bool in_flight = false;  // the writer thread is writing `version` now
    Steady::time_point next_attempt{};
    Millis backoff{0};
    int failures = 0;
  };

  // Writes a status change of a job (see job_service.h): OK when stored or kept for retry;
  // kFailedPrecondition when the stored or kept record is final and `rec` is not (the job ended
  // meanwhile); kNotFound when the job has no record.
  Status WriteRecord(const JobRecord& rec);
  // REQUIRES: write_mu_ held. Keeps `rec` for the writer thread after the store refused it.
  void KeepLocked(const JobRecord& rec, const Status& refused);
  void WriterLoop();
  // After a record was stored: a final one is handed to the archive worker.
  void OnStored(const JobRecord& rec);
  // Shutdown: one last try for each kept record.
  void FlushUnwritten();
  // Re-adoption after a restart of an INIT job that left launch evidence (see job_service.h).
  bool LaunchedBeforeRestart(JobRecord& rec);
  exec::LaunchOptions LaunchOptionsFor(const JobRecord& r) const {
    exec::LaunchOptions lo = options_.launch;
    lo.timeout = std::chrono::seconds(r.request.timeout.value_or(model::kDefaultJobTimeoutSeconds));
    return lo;
  }
  fs::path StagingDir(const std::string& id) const {
    return options_.attachments_dir / IdFileName(id);
  }

  // Records a job that is final from the start (no match, invalid memory).
  Status CreateFinal(JobRecord& rec, JobStatus status, std::string msg);
  Status StageAttachments(const std::string& id, std::vector<exec::Attachment>& attachments);
  void RemoveStaging(const std::string& id);
  std::vector<exec::Attachment> StagedAttachments(const std::string& id);

  // REQUIRES: mu_ held. Moves queued jobs that now fit into the set-up queue, in FIFO order.
  void DrainQueueLocked();
  // The shared queue (JobServiceOptions::shared_queue): stores a job that did not fit here
  // unplaced; the claimer thread takes queued jobs while this node has room.
  Result<std::string> SubmitShared(JobRecord rec);
  void ClaimLoop();
  // Claims and adopts queued jobs while they fit; returns how many.
  int ClaimQueued();
  void WakeClaimer() {
    if (!options_.shared_queue) return;
    std::lock_guard<std::mutex> lock(claim_mu_);
    claim_wanted_ = true;
    claim_cv_.notify_one();
  }
  // Kill() of a job this node does not hold: a queued one leaves the shared queue.
  Status KillUnheld(const JobRecord& r);
  // REQUIRES: mu_ held. Drops the job from the active set, releasing its user slot and memory.
  ActiveJob TakeLocked(std::unordered_map<std::string, ActiveJob>::iterator it);

  // Ends an active job: takes it out of the active set, applies `finish` to its record and writes
  // it. Returns false if the job was no longer active.
  template <typename F>
  bool FinishJob(const std::string& id, F finish);
  void RecordEnd(const exec::JobEnd& end);
  void FailSetup(const std::string& id, const Status& cause);
  void NotifyFinal();

  void OnJobEnd(const exec::JobEnd& end);
  // A launched job that waited (Launched::running false): a new waiting message while INIT, or
  // RUNNING (started, host) once.
  void OnJobProgress(const exec::JobProgress& p);
  void SetupWorker();
  void SetUp(const std::string& id);

  // Archives (see job_service.h).
  fs::path ArchivedMark(const std::string& id) const {
    return options_.archived_marks_dir / IdFileName(id);
  }
  // A final record keeps its archive_location only if there is a directory to archive.
  void DropArchiveLocationWithoutDirectory(JobRecord& rec) const;
  // Hands a final job to the archive worker; false if it is already waiting or being written.
  bool EnqueueArchive(const std::string& id);
  void ArchiveWorker();
  void ArchiveOne(const std::string& id);
  void SweepLoop();
  void LocalWatchLoop();
  fs::path LocalMark(const std::string& id) const {
    return options_.local_marks_dir / IdFileName(id);
  }
  bool HasLocalMark(const std::string& id) const {
    std::error_code ec;
    return fs::exists(LocalMark(id), ec);
  }
  // The active local job `id` in phase kLocal, or the reason it is not one. REQUIRES: mu_ held.
  Result<ActiveJob*> LocalJobLocked(const std::string& id);

  JobServiceOptions options_;
  std::shared_ptr<store::ConfigStore> config_;
  std::shared_ptr<store::JobStore> jobs_;
  std::unique_ptr<exec::Executor> executor_;
  std::unique_ptr<exec::Fetcher> fetcher_;
  std::vector<std::unique_ptr<resolve::ClusterSelector>> selectors_;
  std::vector<resolve::ClusterSelector*> selector_ptrs_;
  Clock& clock_;

  std::mutex mu_;
  std::condition_variable setup_cv_;
  std::unordered_map<std::string, ActiveJob> active_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, int> user_active_;   // GUARDED_BY(mu_)
  int64_t used_memory_mb_ = 0;                         // GUARDED_BY(mu_)
  std::deque<std::string> queue_;                      // GUARDED_BY(mu_) FIFO, waiting jobs
  std::deque<std::string> setup_queue_;                // GUARDED_BY(mu_) accepted jobs
  bool stopping_ = false;                              // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // GUARDED_BY(shutdown_mu_)

  // Archive worker and directory sweep.
  std::mutex archive_mu_;
  std::condition_variable archive_cv_;       // work arrived, or stopping
  std::condition_variable archive_idle_cv_;  // a job left the worker
  std::deque<std::string> archive_queue_;    // GUARDED_BY(archive_mu_)
  std::set<std::string> archive_pending_;    // GUARDED_BY(archive_mu_) queued or in flight
  bool archive_stopping_ = false;            // GUARDED_BY(archive_mu_)
  std::thread archive_worker_;
  std::mutex sweep_mu_;
  std::condition_variable sweep_cv_;
  bool sweep_stopping_ = false;  // GUARDED_BY(sweep_mu_)

  // Heartbeat check of local jobs.
  std::mutex local_mu_;
  std::condition_variable local_cv_;
  bool local_stopping_ = false;  // GUARDED_BY(local_mu_)
  std::thread local_watch_;
  std::thread sweeper_;

  // Status writes the store refused, retried by writer_.
  std::mutex write_mu_;
  std::condition_variable write_cv_;
  std::unordered_map<std::string, Unwritten> unwritten_;  // GUARDED_BY(write_mu_)
  uint64_t write_version_ = 0;                            // GUARDED_BY(write_mu_)
  std::string last_write_error_;                          // GUARDED_BY(write_mu_)
  bool writer_stopping_ = false;                          // GUARDED_BY(write_mu_)
  std::thread writer_;

  // The shared queue's claimer.
  std::mutex claim_mu_;
  std::condition_variable claim_cv_;
  bool claim_wanted_ = false;    // GUARDED_BY(claim_mu_)
  bool claim_stopping_ = false;  // GUARDED_BY(claim_mu_)
  std::thread claimer_;

  // Final transitions, for WaitFinal (no polling).
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  uint64_t final_seq_ = 0;  // GUARDED_BY(wait_mu_)
};

template <typename F>
bool JobServiceImpl::FinishJob(const std::string& id, F finish) {
  ActiveJob a;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = active_.find(id);
    if (it == active_.end()) return false;
    a = TakeLocked(it);
    if (a.phase == Phase::kQueued) {
      queue_.erase(std::remove(queue_.begin(), queue_.end(), id), queue_.end());
    }
    DrainQueueLocked();
  }
  JobRecord& rec = a.record;
  finish(rec);
  rec.updated = clock_.Now();
  if (rec.job.status == JobStatus::kInit || rec.job.status == JobStatus::kRunning) {
    spdlog::error("job {}: finish without a final status", id);
  }
  rec.job.status_msg = Truncate(rec.job.status_msg, kMaxStatusMsg);
  std::optional<int64_t> duration_ms;
  if (rec.job.started && rec.job.finished) {
    duration_ms = std::max<int64_t>(0, (*rec.job.finished - *rec.job.started).count());
  }
  metrics::Weir().job_transitions.With({std::string(model::JobStatusName(rec.job.status))}).Inc();
  JobEvent event = JobEventOf(rec.job.status == JobStatus::kKilled ? "killed" : "finished", rec);
  event.exit_code = rec.execution.exit_code;
  event.duration_ms = duration_ms;
  event.message = rec.job.status_msg;
  LogJobEvent(event);
  DropArchiveLocationWithoutDirectory(rec);
  // Stored now, or kept and retried until the store takes it (then archived by OnStored).
  Status st = WriteRecord(rec);
  if (!st.ok()) spdlog::error("job {}: record end: {}", id, st.ToString());
  RemoveStaging(id);
  NotifyFinal();
  return true;
}

}  // namespace weir::service::internal
