// Executor: starts a prepared job directory's run script and supervises it to its end.
//
// Contract (every executor — local/ now, slurm/ later — passes executor_contract_test.cc):
// - Launch() starts `<job dir>/run` in its own session and process group, stdout/stderr of the
//   command go to `<job dir>/stdout` and `<job dir>/stderr` (the run script redirects them), and
//   returns at once with the pid. The run script writes `genie/genie.done` ({"exitCode":"N"})
//   atomically when the command ends, so an end is known even if the server was down.
// - The listener is told of each end exactly once, as soon as the process exits (pidfd on an
//   epoll loop: no polling lag), with the final status:
//     exit 0 → SUCCEEDED; other exit → FAILED (exit code kept);
//     Kill() → KILLED "Job was killed by user." (exit code 999), whatever the process did;
//     timeout → KILLED "Job exceeded timeout."; stdout/stderr over the limit → KILLED with
//     "Std out length exceeded." / "Std err length exceeded.".
// - Kill (user, timeout, limit) writes `genie/kill-reason` first, sends SIGTERM to the process
//   group, and SIGKILL to the whole group after the grace period. When the run script ends, any
//   process left in its group is SIGKILLed: no process is left behind.
// - Recover() re-adopts a job launched by an earlier server process: if its pid is alive and is
//   still that job's run script (start time recorded in `genie/pid`), it is watched like a new
//   one; otherwise its end is read from genie.done / kill-reason (and reported at once); with
//   neither, the job is reported FAILED with exit code 666 ("node lost" semantics).
//
// Thread-safety: all methods are thread-safe. The listener runs on the executor's own thread;
// it must not call back into the executor synchronously with a lock held.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "model/job.h"

namespace weir::exec {

struct LaunchOptions {
  std::chrono::seconds timeout{model::kDefaultJobTimeoutSeconds};
  int64_t max_stdout_bytes = 8LL << 30;  // 8 GiB; 0 = unlimited
  int64_t max_stderr_bytes = 8LL << 30;
  std::chrono::milliseconds kill_grace{5000};  // SIGTERM → SIGKILL
  std::chrono::milliseconds output_check_interval{1000};
};

struct JobEnd {
  std::string job_id;
  model::JobStatus status = model::JobStatus::kFailed;
  std::string status_msg;
  std::optional<int> exit_code;
  int64_t stdout_size = 0;
  int64_t stderr_size = 0;
  TimePoint finished{};
};

struct Launched {
  int pid = 0;
  TimePoint started{};
};

class Executor {
 public:
  using Listener = std::function<void(const JobEnd&)>;
  virtual ~Executor() = default;

  // Called once, before any Launch/Recover.
  virtual void SetListener(Listener listener) = 0;
  // REQUIRES: `job_dir/run` exists and is executable.
  virtual Result<Launched> Launch(const std::string& job_id, const std::filesystem::path& job_dir,
                                  const LaunchOptions& options) = 0;
  // Asks the job to end; the end arrives through the listener. kNotFound if not running here.
  virtual Status Kill(const std::string& job_id, std::string_view reason) = 0;
  // See the contract above. `started` is when the job was launched (for the timeout).
  virtual void Recover(const std::string& job_id, const std::filesystem::path& job_dir,
                       const LaunchOptions& options, TimePoint started) = 0;
  // Number of jobs being supervised.
  virtual size_t RunningCount() const = 0;
  // Stops supervising (jobs keep running; a restarted server re-adopts them).
  virtual void Shutdown() = 0;
};

std::unique_ptr<Executor> NewLocalExecutor(Clock& clock);

}  // namespace weir::exec
