// JobService: the job gateway's core. It takes a submission through validation, resolution,
// limits and (optionally) the queue, persists it, prepares the job directory off the request
// thread, launches it through the Executor, and records every status change in the JobStore.
// The HTTP routes (src/api/job_routes.cc) and the workflow scheduler both call it: one code path.
//
// Submit() errors (the api maps them): kInvalidArgument bad request; kAlreadyExists duplicate id;
// kFailedPrecondition no cluster/command (job recorded FAILED) or memory above the maximum (job
// recorded INVALID); kResourceExhausted per-user active-job limit; kUnavailable node at capacity
// and no queue (or the queue is full).
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "exec/executor.h"
#include "exec/job_dir.h"
#include "model/job.h"
#include "resolve/resolve.h"
#include "store/store.h"

namespace weir::service {

struct JobServiceOptions {
  std::filesystem::path jobs_dir;          // <data dir>/jobs
  // Where a submission's attachments wait (one folder per job id) until set-up moves them into
  // the job directory; they survive a restart so queued jobs keep them. Empty: a folder
  // "job-attachments" beside jobs_dir.
  std::filesystem::path attachments_dir;
  std::string host_name;                   // recorded in JobExecution
  std::string weir_version;
  int default_job_memory_mb = 1024;
  int max_job_memory_mb = 30720;
  int64_t max_system_memory_mb = 30720;    // node capacity: sum of active jobs' memory
  int max_active_jobs_per_user = 100;      // 0 = unlimited
  bool queue_enabled = false;              // at capacity: queue (INIT, "queued") instead of 503
  int max_queued_jobs = 10000;
  int setup_threads = 2;                   // workers that build job directories
  exec::LaunchOptions launch;              // limits and grace (timeout comes from the request)
};

struct Submission {
  model::JobRequest request;
  // Files already on local disk. When Submit() succeeds the service owns (moves) them; when it
  // fails they are left where they were for the caller to remove. Names must be plain file names
  // (no '/', not "." or ".."), distinct within the submission.
  std::vector<exec::Attachment> attachments;
  std::string client_host;
  std::string user_agent;
};

class JobService {
 public:
  virtual ~JobService() = default;

  // Re-adopts RUNNING jobs, fails INIT jobs that never launched ("...server restarted before
  // the job started"), restarts the queue. Call once before serving.
  virtual Status Recover() = 0;
  // Returns the new job's id (202 Accepted: the job is INIT, set-up runs in the background).
  virtual Result<std::string> Submit(Submission submission) = 0;
  // kNotFound for an unknown id; a finished job is a no-op (OK).
  virtual Status Kill(const std::string& job_id) = 0;
  virtual Result<model::JobRecord> Get(const std::string& job_id) = 0;
  // Blocks until the job is final or `timeout` passes (kDeadlineExceeded). For tests/CLI.
  virtual Result<model::JobRecord> WaitFinal(const std::string& job_id, Millis timeout) = 0;
  virtual std::filesystem::path JobDirectory(const std::string& job_id) const = 0;
  // Stops accepting work and supervising (running jobs keep running).
  virtual void Shutdown() = 0;
};

std::unique_ptr<JobService> NewJobService(JobServiceOptions options,
                                          std::shared_ptr<store::ConfigStore> config,
                                          std::shared_ptr<store::JobStore> jobs,
                                          std::unique_ptr<exec::Executor> executor,
                                          std::unique_ptr<exec::Fetcher> fetcher,
                                          std::vector<std::unique_ptr<resolve::ClusterSelector>>
                                              selectors,
                                          Clock& clock);

}  // namespace weir::service
