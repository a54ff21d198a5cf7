// JobService: the job gateway's core. It takes a submission through validation, resolution,
// limits and (optionally) the queue, persists it, prepares the job directory off the request
// thread, launches it through the Executor, and records every status change in the JobStore.
// The HTTP routes (src/api/job_routes.cc) and the workflow scheduler both call it: one code path.
//
// Submit() errors (the api maps them): kInvalidArgument bad request; kAlreadyExists duplicate id;
// kFailedPrecondition no cluster/command (job recorded FAILED) or memory above the maximum (job
// recorded INVALID); kResourceExhausted per-user active-job limit; kUnavailable node at capacity
// and no queue (or the queue is full); kOutOfSpace free disk space below the floor
// (free_space_floor) or the store's disk is full (nothing was acknowledged).
//
// Status writes are never dropped. Once a job is acknowledged, each change of its status (set-up
// begun after the queue, RUNNING, its end, a recovery write) is written to the JobStore; when the
// store refuses the write (disk full, I/O error) the record is kept in memory and a writer thread
// retries it with backoff (write_retry_initial doubling to write_retry_max) until the store takes
// it, without a restart. Meanwhile Get(), WaitFinal() and CurrentRecords() serve the kept record
// (a job whose end is not yet stored already reads as ended; searches read the store and show it
// as it was), Kill() of such a job is the no-op of a finished job, and PendingWrites() reports
// the backlog (the health route shows it). A newer record of the same job replaces a kept one; a
// final record is never replaced by an active one. Shutdown() tries each kept record once more; a
// kept end that is still not stored at exit is found again after the restart (the job is still
// RUNNING in the store, and the executor reads its end from genie/genie.done or kill-reason).
//
// Acknowledged = will run. Recover() after a restart: RUNNING jobs are re-adopted through the
// executor. An INIT job whose directory holds genie/launched (made just before launch) or
// genie/pid may have a process: it is recorded RUNNING and re-adopted the same way, never started
// twice. Every other INIT job (accepted, queued, or caught in set-up) is queued again in its
// original order: a half-built job directory is removed and set up again, with the attachments
// still staged (set-up links them into the directory; the staged copies are removed once the job
// has launched or ended).
//
// Archives and retention (when JobServiceOptions::archiver is set): a job admitted without
// disableLogArchival gets archive_location = archiver->ArchiveUri(id) on its record from the
// start (as Genie records it). When the job ends (any final status) and its directory exists, an
// archive worker (not the executor's thread, not a set-up worker) writes the directory as tar.gz
// to that location and then marks it archived (an empty file <archived_marks_dir>/<id>). A job
// whose directory was never made keeps no archive_location. The directory sweep
// (SweepJobDirectories, run every sweep_interval by a background thread and once after Recover)
// removes a final job's directory once it is archived and job_dir_retention has passed since the
// job finished (by the injected Clock), and archives final jobs that have a location but no mark
// (their end arrived while the server was down, or archiving failed: retried each sweep).
// Directories of jobs without an archive location are never removed by the sweep.
//
// Local mode (Submission::local_run): the job is admitted, resolved and set up exactly like any
// other (the same set-up pipeline fills its directory, with a relocatable run script), but the
// service never launches it. Once set up it stays INIT with kMsgPreparedLocal, holding no node
// memory, until its runner (`weir job run-local` on the user's machine) reports through
// LocalRunStarted (RUNNING), LocalRunHeartbeat and LocalRunEnded (SUCCEEDED / FAILED with the
// exit code). A RUNNING local job without a heartbeat for local_heartbeat_timeout (by the
// injected Clock; checked by CheckLocalHeartbeats, run every local_check_interval) ends FAILED
// with kExitNodeLost. Kill() of a RUNNING local job records it KILLED (999) at once; the runner
// learns it at its next heartbeat (kFailedPrecondition) and stops its process. A local job is
// marked by an empty file <local_marks_dir>/<id>, written before the job is stored, so Recover()
// never launches or re-adopts it: a prepared one waits again, a RUNNING one gets a fresh
// heartbeat allowance, one caught in set-up is set up again. Local jobs are archived like others
// once final (their directory holds what the runner uploaded).
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/job_archive.h"
#include "common/clock.h"
#include "common/disk_space.h"
#include "common/result.h"
#include "exec/executor.h"
#include "exec/job_dir.h"
#include "model/job.h"
#include "resolve/resolve.h"
#include "store/store.h"

namespace weir::service {

struct JobServiceOptions {
  std::filesystem::path jobs_dir;  // <data dir>/jobs
  // Where a submission's attachments wait (one folder per job id) until set-up moves them into
  // the job directory; they survive a restart so queued jobs keep them. Empty: a folder
  // "job-attachments" beside jobs_dir.
  std::filesystem::path attachments_dir;
  std::string host_name;  // recorded in JobExecution: the node id (server.node_id)
  std::string weir_version;
  int default_job_memory_mb = 1024;
  int max_job_memory_mb = 30720;
  int64_t max_system_memory_mb = 30720;  // node capacity: sum of active jobs' memory
  int max_active_jobs_per_user = 100;    // 0 = unlimited
  bool queue_enabled = false;            // at capacity: queue (INIT, "queued") instead of 503
  int max_queued_jobs = 10000;
  int setup_threads = 2;       // workers that build job directories
  exec::LaunchOptions launch;  // limits and grace (timeout comes from the request)
  // Run-as-user (exec/run_as.h). When enabled, Submit() refuses a job whose user maps to no
  // allowed account (kInvalidArgument bad name, kPermissionDenied root or a system account,
  // kFailedPrecondition no such account; nothing is recorded), and set-up resolves the account
  // again, hands the job directory over to it and launches the run script as it (a refusal
  // there fails the job: "Job failed at set-up: run as user: ...").
  exec::RunAsOptions run_as;

  // Archiving (see above). Null: jobs are not archived and their directories are kept.
  std::shared_ptr<const archive::JobArchiver> archiver;
  // How long a final, archived job's directory stays on the node after the job finished.
  // Negative: forever; 0: removed by the first sweep after archiving.
  Millis job_dir_retention{3LL * 24 * 3600 * 1000};
  // Real time between two background sweeps; 0 or negative: no background sweeps (tests call
  // SweepJobDirectories themselves).
  Millis sweep_interval{10LL * 60 * 1000};
  // Marks of archived jobs. Empty: a folder "job-archived" beside jobs_dir.
  std::filesystem::path archived_marks_dir;

  // Local mode (see above). Marks of local jobs: empty, a folder "job-local" beside jobs_dir.
  std::filesystem::path local_marks_dir;
  // A RUNNING local job without a heartbeat for this long ends FAILED (jobs.local_heartbeat_
  // timeout_ms).
  Millis local_heartbeat_timeout{60000};
  // Real time between two background heartbeat checks; 0 or negative: none (tests call
  // CheckLocalHeartbeats themselves).
  Millis local_check_interval{5000};

  // Below this floor of free disk space new submissions are refused with kOutOfSpace (running
  // and queued jobs go on, their ends are recorded). Null: no floor.
  std::shared_ptr<FreeSpaceFloor> free_space_floor;
  // The shared queue of a cluster of servers on one database (docs/scaling.md). When set, a job
  // without attachments that does not fit on this node is stored INIT "queued" with no
  // execution.host_name, which puts it in the store's queue (JobStore::ClaimQueuedJob), and is
  // not held here. Every node claims queued jobs while it has free capacity, oldest first, each
  // exactly once: right after one of its jobs leaves capacity, and every claim_interval. A
  // claimed job records this node's host_name and is set up and run here. Kill() of a queued job
  // takes it out of the queue (KILLED before start). Recover() then considers only the jobs
  // whose host_name is this node's. Jobs with attachments queue on their own node as before (the
  // files are staged there).
  bool shared_queue = false;
  Millis claim_interval{1000};
  // Backoff of a status write the store refused (see above): the first retry after
  // write_retry_initial, each next one after twice as long, at most write_retry_max (real time).
  Millis write_retry_initial{100};
  Millis write_retry_max{10000};
};

// Status writes waiting for the store (see above).
struct WriteBacklog {
  int64_t records = 0;     // jobs whose latest record is not stored yet
  std::string last_error;  // the store's last refusal while records > 0
};

// What one SweepJobDirectories pass did.
struct SweepResult {
  int removed = 0;          // job directories deleted (archived, retention passed)
  int queued_archives = 0;  // final jobs found unarchived and handed to the archive worker
  int kept = 0;             // final jobs whose directories stay (retention not reached, or none)
};

// What the node holds now, for GET /metrics (see JobService::Load).
struct ServiceLoad {
  int64_t queued = 0;      // waiting in the queue for capacity
  int64_t setting_up = 0;  // accepted, waiting for or in set-up, or launching
  int64_t running = 0;
  struct User {
    int64_t running = 0;
    int64_t memory_mb = 0;  // memory of the user's jobs that hold node capacity
  };
  std::map<std::string, User> users;  // users with at least one active job
  int64_t used_memory_mb = 0;         // node memory held by active jobs
  int64_t capacity_mb = 0;            // jobs.max_system_memory_mb; 0 or less: unlimited
};

struct Submission {
  model::JobRequest request;
  // Files already on local disk. When Submit() succeeds the service owns (moves) them; when it
  // fails they are left where they were for the caller to remove. Names must be plain file names
  // (no '/', not "." or ".."), distinct within the submission.
  std::vector<exec::Attachment> attachments;
  std::string client_host;
  std::string user_agent;
  // Local mode (see above): set up the job directory for a run elsewhere; never launch it here.
  bool local_run = false;
};

// Status message of a job killed before its launch (queued, waiting for set-up or in set-up):
// KILLED with no exit code, no started time, and (unless set-up had begun) no job directory.
inline constexpr std::string_view kMsgKilledBeforeStart =
    "Job was killed by user before it started: it never ran, so it has no exit code or output.";

// Status messages of local mode.
inline constexpr std::string_view kMsgPreparedLocal =
    "Job prepared for a local run: waiting for `weir job run-local` to start it.";
inline constexpr std::string_view kMsgLocalRunning = "Job is Running on the user's machine.";

// What a runner reports when its job ends.
struct LocalRunEnd {
  int exit_code = 0;
  std::optional<int64_t> stdout_size;
  std::optional<int64_t> stderr_size;
};

// What Submit() would do with a request, without doing it (POST /api/weir/v1/jobs/resolve).
// Read from the same validation, resolution (the same selectors), memory rules and admission
// state Submit() uses at that moment; nothing is recorded, reserved or queued.
struct DryRun {
  // ACCEPTED  set-up would start now
  // QUEUED    it would wait in the queue for capacity
  // FAILED    no cluster/command matches: Submit() records the job FAILED and answers 412
  // INVALID   its memory is above the maximum: recorded INVALID, 412
  // REJECTED  refused, nothing recorded: `refusal` is what Submit() would return (429, 503, 409)
  std::string outcome;
  Status refusal;
  std::optional<resolve::Resolution> resolution;  // unset when FAILED
  int memory_mb = 0;
  std::string memory_source;  // "request", "command" or "default"
  int max_job_memory_mb = 0;
  int user_active_jobs = 0;          // the user's INIT/RUNNING jobs now
  int max_active_jobs_per_user = 0;  // 0 = unlimited
  int64_t used_memory_mb = 0;        // the node's reserved memory now
  int64_t capacity_mb = 0;           // 0 or less = unlimited
  size_t queued_jobs = 0;
};

class JobService {
 public:
  virtual ~JobService() = default;

  // Re-adopts RUNNING jobs and INIT jobs that launched, queues the other INIT jobs again (set-up
  // starts over), restarts the queue (see above). Call once before serving.
  virtual Status Recover() = 0;
  // Returns the new job's id (202 Accepted: the job is INIT, set-up runs in the background).
  virtual Result<std::string> Submit(Submission submission) = 0;
  // kNotFound for an unknown id; a finished job is a no-op (OK). A job not launched yet ends
  // KILLED at once with kMsgKilledBeforeStart and no exit code; a running one through the
  // executor (999, "Job was killed by user."). With the shared queue: an active job placed on
  // another node is kFailedPrecondition (its owner kills it: api forwards the request); a queued
  // job claimed by a node during the call is kUnavailable (retry).
  virtual Status Kill(const std::string& job_id) = 0;
  virtual Result<model::JobRecord> Get(const std::string& job_id) = 0;
  // Blocks until the job is final or `timeout` passes (kDeadlineExceeded). For tests/CLI.
  virtual Result<model::JobRecord> WaitFinal(const std::string& job_id, Millis timeout) = 0;
  virtual std::filesystem::path JobDirectory(const std::string& job_id) const = 0;
  // Stops accepting work and supervising (running jobs keep running). An archive being written
  // is finished; archives still waiting are written by a sweep after the restart.
  virtual void Shutdown() = 0;

  // One pass of the job-directory sweep (see above). Decisions use the injected Clock.
  virtual Result<SweepResult> SweepJobDirectories() {
    return Unimplemented("job service: no directory sweep");
  }
  // Blocks until no archive is waiting or being written, or `timeout` passes
  // (kDeadlineExceeded). For tests and the CLI.
  virtual Status WaitArchivesIdle(Millis timeout) { return Status::Ok(); }

  // See DryRun. Errors: those Submit() returns before resolution (a bad request, a run-as user
  // without an allowed account, a URI outside the fetch perimeter) and storage errors; every
  // later refusal is a DryRun outcome.
  virtual Result<DryRun> DryRunSubmit(model::JobRequest request) {
    (void)request;
    return Unimplemented("job service: no dry run");
  }

  // Status writes kept in memory because the store refused them (see above). Cheap (no I/O).
  virtual WriteBacklog PendingWrites() { return {}; }

  // The active jobs by phase and user (see ServiceLoad). Cheap: memory only, one lock.
  virtual ServiceLoad Load() { return {}; }
  // Local mode (see above). Errors: kNotFound unknown job; kFailedPrecondition when the job is
  // not a local one, is still being set up, is already final (killed, or its heartbeats were
  // missed), or (LocalRunStarted) already RUNNING; the message says which.
  // LocalRunStarted records RUNNING (started now, `host` and `pid` in the execution) and returns
  // the record.
  virtual Result<model::JobRecord> LocalRunStarted(const std::string& job_id,
                                                   const std::string& host, int pid) {
    return Unimplemented("job service: no local mode");
  }
  // REQUIRES nothing; a RUNNING local job's heartbeat clock starts again.
  virtual Status LocalRunHeartbeat(const std::string& job_id) {
    return Unimplemented("job service: no local mode");
  }
  // Records the end of a RUNNING local job: SUCCEEDED for exit 0, else FAILED with the code.
  virtual Result<model::JobRecord> LocalRunEnded(const std::string& job_id, LocalRunEnd end) {
    return Unimplemented("job service: no local mode");
  }
  // One pass of the heartbeat check (injected Clock): returns how many local jobs ended FAILED.
  virtual int CheckLocalHeartbeats() { return 0; }
};

// A JobStore for readers (the HTTP routes): GetJob() answers with the service's Get() (a record
// kept in memory while the store refuses writes wins), every other call goes to `store`. The
// service must outlive it.
std::shared_ptr<store::JobStore> CurrentRecords(JobService& service,
                                                std::shared_ptr<store::JobStore> store);

std::unique_ptr<JobService> NewJobService(
    JobServiceOptions options, std::shared_ptr<store::ConfigStore> config,
    std::shared_ptr<store::JobStore> jobs, std::unique_ptr<exec::Executor> executor,
    std::unique_ptr<exec::Fetcher> fetcher,
    std::vector<std::unique_ptr<resolve::ClusterSelector>> selectors, Clock& clock);

}  // namespace weir::service
