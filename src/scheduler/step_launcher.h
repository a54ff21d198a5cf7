// StepLauncher: the scheduler's only way to run a workflow step. The real one goes through
// JobService::Submit, the one code path for every job of weir (NewJobServiceLauncher); tests use
// a fake with the same contract.
//
//   Launch(request)  submits a job whose id the scheduler chose (request.id, a UUID recorded in
//                    the scheduler's tables BEFORE the call, so a crash between the two never
//                    launches a step twice: after a restart the same id is submitted again and
//                    kAlreadyExists means "already running, adopt it").
//                    Errors: kAlreadyExists (adopt), kUnavailable / kResourceExhausted /
//                    kOutOfSpace (no capacity or disk space now: the scheduler retries the
//                    submission later without spending an attempt), anything else fails the attempt
//                    (e.g. kFailedPrecondition: no cluster or command matches).
//   State(job_id)    the job's current status; kNotFound for an unknown id. For a job that ended
//                    and did not succeed, also the last lines of its stderr when it can be read.
//   Kill(job_id)     asks the job to stop; a finished job is OK; kNotFound for an unknown id;
//                    kFailedPrecondition when another node holds the job (that node's scheduler
//                    kills it); kUnavailable: ask again later.
//
//   SetEndListener(f) f is called (on any thread, quickly) whenever a job may have ended; the
//                    scheduler then runs a pass at once instead of waiting for its next poll.
//                    Optional: without it the scheduler still sees ends on its periodic pass.
//
// The scheduler reads the state of its running steps with State() on every pass (one row of the
// job store each); the end listener only makes passes happen sooner.
// Thread-safety: implementations must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "model/job.h"

namespace weir::service {
class JobService;
}  // namespace weir::service

namespace weir::scheduler {

struct StepJobState {
  model::JobStatus status = model::JobStatus::kInit;
  std::string message;  // the job's status message
  std::optional<int> exit_code;
  std::string stderr_tail;  // failed jobs: the last lines of stderr (TailOfFile), else empty
};

// The last `max_lines` lines of the file at `path`, read from at most its last `max_bytes` bytes
// (a partial first line is dropped when the read started mid-file), without a trailing newline.
// Empty when the file is missing, unreadable or empty.
std::string TailOfFile(const std::string& path, size_t max_lines, size_t max_bytes);
inline constexpr size_t kStderrTailLines = 10;
inline constexpr size_t kStderrTailBytes = 2048;

class StepLauncher {
 public:
  virtual ~StepLauncher() = default;
  virtual Status Launch(const model::JobRequest& request) = 0;
  virtual Result<StepJobState> State(const std::string& job_id) = 0;
  virtual Status Kill(const std::string& job_id) = 0;
  virtual void SetEndListener(std::function<void()> listener) { (void)listener; }
};

// Over a JobService (which must outlive the launcher: destroy the Scheduler, then the
// JobService). Submissions carry client host and user agent "weir-scheduler". Ends reach the
// listener without polling: one watcher thread per running job (at most 256) blocks in
// JobService::WaitFinal, which wakes on every final transition; jobs beyond the cap are seen by
// the scheduler's periodic pass. The destructor joins the watchers (within ~0.5 s).
std::unique_ptr<StepLauncher> NewJobServiceLauncher(service::JobService& jobs);

}  // namespace weir::scheduler
