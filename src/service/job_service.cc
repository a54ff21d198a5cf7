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
#include "service/job_service.h"

//
// Every status write goes through WriteRecord(): a write the store refuses is kept in unwritten_
// (under write_mu_) and retried by the writer thread with backoff. Only the writer thread erases
// an entry, and only after the store took (or finally refused) the latest version of it, so a
// newer record for the same job is never overtaken by an older one in flight.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/fs.h"
#include "common/ids.h"
#include "exec/setup_step.h"
#include "exec/slurm_executor.h"
#include "metrics/weir_metrics.h"
#include "service/job_log.h"
#include "service/job_service.h"

namespace weir::service {

namespace {

namespace fs = std::filesystem;
using model::JobRecord;
using model::JobStatus;

constexpr size_t kMaxStatusMsg = 255;

std::string Truncate(std::string s, size_t max) {
  if (s.size() <= max) return s;
  s.resize(max);
  // Do not leave half a UTF-8 sequence at the end.
  while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
  if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80)) s.pop_back();
  return s;
}

bool IsPlainFileName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') return false;
  }
  return true;
}

// genie/launched, made just before the launch. Not fsynced: it guards against a server crash
// (the job's processes live on); a machine crash ends the processes as well.
Status MarkLaunched(const fs::path& job_dir) {
  const fs::path marker = exec::paths::LaunchMarker(job_dir);
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("launch marker " + marker.string(), errno);
  ::close(fd);
  return Status::Ok();
}

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
  LogJobEvent(JobEvent{.event = "accepted",
                       .id = id,
                       .user = rec.request.user,
                       .cluster = rec.job.cluster_name,
                       .command = rec.job.command_name,
                       .status = std::string(model::JobStatusName(rec.job.status)),
                       .message = rec.job.status_msg});
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

// --- the shared queue --------------------------------------------------------------------------

Result<std::string> JobServiceImpl::SubmitShared(JobRecord rec) {
  const std::string id = rec.id;
  rec.execution.host_name.clear();  // unplaced: CreateJob puts it in the store's queue
  rec.job.status_msg = std::string(model::kMsgQueued);
  WEIR_RETURN_IF_ERROR(jobs_->CreateJob(rec));
  metrics::Weir().job_transitions.With({"INIT"}).Inc();
  LogJobEvent(JobEvent{.event = "accepted",
                       .id = id,
                       .user = rec.request.user,
                       .cluster = rec.job.cluster_name,
                       .command = rec.job.command_name,
                       .status = std::string(model::JobStatusName(rec.job.status)),
                       .message = "queued for the first node with capacity"});
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
  LogJobEvent(JobEvent{.event = rec.job.status == JobStatus::kKilled ? "killed" : "finished",
                       .id = id,
                       .user = rec.request.user,
                       .cluster = rec.job.cluster_name,
                       .command = rec.job.command_name,
                       .status = std::string(model::JobStatusName(rec.job.status)),
                       .exit_code = rec.execution.exit_code,
                       .duration_ms = duration_ms,
                       .message = rec.job.status_msg});
  DropArchiveLocationWithoutDirectory(rec);
  // Stored now, or kept and retried until the store takes it (then archived by OnStored).
  Status st = WriteRecord(rec);
  if (!st.ok()) spdlog::error("job {}: record end: {}", id, st.ToString());
  RemoveStaging(id);
  NotifyFinal();
  return true;
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
  LogJobEvent(JobEvent{
      .event = "started",
      .id = rec.id,
      .user = rec.request.user,
      .cluster = rec.job.cluster_name,
      .command = rec.job.command_name,
      .status = std::string(model::JobStatusName(rec.job.status)),
      .message = "slurm job " + rec.execution.slurm_job_id + " on " + rec.execution.host_name});
}

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
    LogJobEvent(JobEvent{.event = "prepared",
                         .id = id,
                         .user = rec.request.user,
                         .cluster = rec.job.cluster_name,
                         .command = rec.job.command_name,
                         .status = std::string(model::JobStatusName(rec.job.status)),
                         .message = rec.job.status_msg});
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
  LogJobEvent(JobEvent{.event = launched->running ? "started" : "launched",
                       .id = id,
                       .user = rec.request.user,
                       .cluster = rec.job.cluster_name,
                       .command = rec.job.command_name,
                       .status = std::string(model::JobStatusName(rec.job.status)),
                       .message = launched->slurm_job_id.empty()
                                      ? "pid " + std::to_string(launched->pid)
                                      : "slurm job " + launched->slurm_job_id});
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
  LogJobEvent(JobEvent{
      .event = "started",
      .id = job_id,
      .user = rec.request.user,
      .cluster = rec.job.cluster_name,
      .command = rec.job.command_name,
      .status = std::string(model::JobStatusName(rec.job.status)),
      .message = "local run on " + rec.execution.host_name + ", pid " + std::to_string(pid)});
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

std::shared_ptr<store::JobStore> CurrentRecords(JobService& service,
                                                std::shared_ptr<store::JobStore> store) {
  return std::make_shared<CurrentRecordsStore>(service, std::move(store));
}

std::unique_ptr<JobService> NewJobService(
    JobServiceOptions options, std::shared_ptr<store::ConfigStore> config,
    std::shared_ptr<store::JobStore> jobs, std::unique_ptr<exec::Executor> executor,
    std::unique_ptr<exec::Fetcher> fetcher,
    std::vector<std::unique_ptr<resolve::ClusterSelector>> selectors, Clock& clock) {
  return std::make_unique<JobServiceImpl>(std::move(options), std::move(config), std::move(jobs),
                                          std::move(executor), std::move(fetcher),
                                          std::move(selectors), clock);
}

}  // namespace weir::service
