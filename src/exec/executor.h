// Executor: starts a prepared job directory's run script and supervises it to its end.
//
// Contract (every executor — local/ now, slurm/ later — passes executor_contract_test.cc):
// - Launch() starts `<job dir>/run` in its own session and process group, stdout/stderr of the
//   command go to `<job dir>/stdout` and `<job dir>/stderr` (the run script redirects them), and
//   returns at once with the pid. The run script writes `genie/genie.done` ({"exitCode":"N"},
//   see job_dir.h) when the command ends, so an end is known even if the server was down.
// - The listener is told of each end exactly once, as soon as the process exits (pidfd on an
//   epoll loop: no polling lag), with the final status:
//     exit 0 → SUCCEEDED; other exit → FAILED (exit code kept);
//     Kill() → KILLED "Job was killed by user." (exit code 999), whatever the process did;
//     timeout → KILLED "Job exceeded timeout."; stdout/stderr over the limit → KILLED with
//     OutputLimitMessage() ("Std out length exceeded." / "Std err length exceeded." followed by
//     the limit and its setting), however fast it was written: a job that ends before any check
//     with a file over its limit is KILLED too, also when its end is read from the files by
//     Recover(). The file is then cut back to the limit (it keeps the first bytes).
// - Kill (user, timeout, limit) writes `genie/kill-reason` first, sends SIGTERM to the process
//   group, and SIGKILL to the whole group after the grace period; a killed job is reported once
//   its group is gone. When the run script ends on its own, any process left in its group is
//   SIGKILLed at once: no process is left behind.
// - Recover() re-adopts a job launched by an earlier server process: if its pid is alive and is
//   still that job's run script (start time recorded in `genie/pid`), it is watched like a new
//   one; otherwise its end is read from genie.done / kill-reason (and reported at once); with
//   neither, the job is reported FAILED with exit code 666 ("node lost" semantics).
//
// - Progress before the end: Launched::running says whether the job runs from Launch() on. An
//   executor whose jobs may first wait elsewhere (Slurm's queue) returns running = false with
//   Launched::status_msg saying where it waits, and then tells the progress listener (set with
//   SetProgressListener) each change while it waits (JobProgress::running false, the message
//   naming where and why, e.g. "pending in Slurm partition debug: Resources") and, once, when it
//   starts running (running true, JobProgress::host the node it runs on). Progress of a job comes
//   before its end, never after, on the same thread as its end; a job that ran but ended before
//   a tick saw it running is reported running first. Recover() of a job reports its progress
//   again (the receiver ignores what it already knows). The local executor reports no progress:
//   its jobs run from Launch() on.
//
// Thread-safety: all methods are thread-safe. The listeners run on the executor's own thread;
// they must not call back into the executor synchronously with a lock held.
//
// The local executor (NewLocalExecutor):
// - One supervisor thread runs an epoll loop over one pidfd per job and a queue of deadlines
//   (timeout, SIGKILL after the grace, output-size checks). No thread and no polling per job:
//   output sizes are two stat() calls per job every output_check_interval, and the checks of all
//   jobs fall on the same ticks (a grid of that interval), so 1,000 sleeping jobs cost one wake-up
//   per interval.
// - Output limits, whatever the speed: the directory of each job with a limit is watched with
//   inotify (IN_MODIFY; the files may not exist yet at launch), on the same epoll loop. A write
//   to stdout/stderr wakes the loop, which stats that job's two files and starts the kill as
//   soon as one is over: the overshoot is what the job writes before its SIGTERM lands, not an
//   interval's worth. At the end (and in Recover) the sizes are checked once more, so a job that
//   wrote past its limit and exited first is KILLED as well, and the files are truncated to
//   their limits. Root watches run-as-user jobs' directories the same way, and re-adopted jobs
//   are watched from Recover(). The limit is not enforced inside the job (no RLIMIT_FSIZE: it
//   would also cap every other file the job writes and turn the stdout limit into EFBIG/SIGXFSZ
//   failures of its own writes). Without inotify (or past its watch limit) the periodic check
//   and the check at the end remain. Deadlines come from the injected Clock (`started` and Now());
//   the wait itself runs on the real steady clock, so tests of timeouts use real short timeouts.
// - The run script is `/bin/bash <job dir>/run`, spawned (posix_spawn, vfork-fast) in a new
//   session (its pid is the process group id), cwd the job dir, stdin/stdout/stderr /dev/null
//   (the script redirects its own output), every descriptor above 2 closed, signal mask empty
//   and all dispositions default (a server that blocks or ignores SIGTERM/SIGPIPE does not pass
//   that on). `genie/pid` holds "<pid> <start time>" for Recover().
// - With LaunchOptions::run_as the script runs as that account. posix_spawn cannot change
//   credentials, so such a launch forks instead: the child (of a multi-threaded server, so it
//   calls only async-signal-safe functions on data prepared before the fork) makes its session,
//   sets the account's groups, gid and uid with the raw setgroups/setresgid/setresuid system
//   calls (no glibc cross-thread credential broadcast in a forked child), changes to the job
//   dir as that account, opens /dev/null as 0-2, closes every other descriptor, resets signal
//   dispositions and mask, and execs /bin/bash with the variables of the server's environment
//   that LaunchOptions::run_as_env allows (jobs.run_as_env; credentials the server holds stay
//   out) and HOME, USER and LOGNAME of the account. A step that fails is reported through a
//   close-on-exec pipe: Launch returns the error ("run as 'ana': setresuid: ...") and nothing runs.
//   The server, as root, still signals the job's group (kill, timeout, output limits) and reads its
//   files.
// - Recover() re-adopts a pid from genie/pid only when the process belongs to the owner of the
//   job directory (a job that owns its folder could otherwise name any process there).
// - Containment is the process group. Processes that leave it on purpose (setsid, setpgid,
//   `set -m` job control, daemons) are not tracked: catching them needs a cgroup per job (a
//   future executor) or making the server a child subreaper, which would make it the parent of
//   every orphan of every job and require reaping them all; neither is done here. The group is
//   SIGKILLed as soon as the run script ends, before it is reaped, so its pid cannot be reused
//   meanwhile. For a re-adopted job (not our child) the leader is reaped by its new parent: the
//   group id stays reserved while any member lives, so the final SIGKILL reaches the job's own
//   group (the same holds while a killed job's group outlives its reaped run script).
// - Kill: the run script traps no signal, so SIGTERM ends it at once; when its group lives on
//   (a command using its grace, or ignoring SIGTERM), the job stays running until the group is
//   gone or, after the grace, SIGKILLed. Meanwhile the group is looked at with kill(-pgid, 0)
//   (10 ms, backing off to 200 ms), reaping its zombies that are ours, and one /proc pass per
//   tick to tell zombies (an orphan waits for init to reap it) from live members.
// - Recover() of a job whose run script is gone reports it from the files and signals nothing:
//   with the leader gone the group id no longer proves that leftover processes are the job's.
// - Exit codes of KILLED jobs are 999 whatever the reason (user, timeout, output limit).
// - Do not destroy the executor or call Shutdown() from the listener.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "exec/run_as.h"
#include "model/job.h"

namespace weir::exec {

// Where a job goes on Slurm (the cluster entity's metadata "slurm" object, see SlurmSubmitFor in
// slurm_executor.h). Empty strings leave Slurm's defaults.
struct SlurmSubmit {
  std::string partition;
  std::string account;
  std::string qos;
  std::vector<std::string> sbatch_args;  // appended to sbatch's arguments as given
  std::optional<int> memory_mb;          // --mem
};

struct LaunchOptions {
  std::chrono::seconds timeout{model::kDefaultJobTimeoutSeconds};
  int64_t max_stdout_bytes = 8LL << 30;  // 8 GiB; 0 = unlimited
  int64_t max_stderr_bytes = 8LL << 30;
  std::chrono::milliseconds kill_grace{5000};  // SIGTERM → SIGKILL
  std::chrono::milliseconds output_check_interval{1000};
  // Run the script as this account (run_as.h; the server must be root, and the job directory
  // handed over with HandOverJobDirectory). Unset: as the server's own user.
  std::optional<RunAsAccount> run_as;
  // With run_as: the server's environment variables the job receives (RunAsEnvironment).
  std::vector<std::string> run_as_env = DefaultRunAsEnv();
  // Set: the job runs on Slurm (an executor that dispatches, NewDispatchingExecutor, sends it to
  // the Slurm executor); unset: on this node.
  std::optional<SlurmSubmit> slurm;
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

// Status message of a job whose process ended without genie.done or kill-reason (exit 666).
inline constexpr std::string_view kMsgProcessLost =
    "Job process ended without recording its exit code.";

struct Launched {
  int pid = 0;  // the run script's pid; 0 when it runs on another node (Slurm)
  TimePoint started{};
  std::string slurm_job_id;  // set by the Slurm executor
  // False: the job waits before it runs (see "Progress" above); status_msg says where.
  bool running = true;
  std::string status_msg;
};

// A change of a launched job before its end (see "Progress" in the contract above).
struct JobProgress {
  std::string job_id;
  bool running = false;  // false: waiting to run; true: running from now on
  std::string
      message;       // waiting: where and why, e.g. "pending in Slurm partition debug: Resources"
  std::string host;  // running: the node it runs on
  TimePoint at{};    // when the executor saw the change (its Clock)
};

class Executor {
 public:
  using Listener = std::function<void(const JobEnd&)>;
  using ProgressListener = std::function<void(const JobProgress&)>;
  virtual ~Executor() = default;

  // Called once, before any Launch/Recover.
  virtual void SetListener(Listener listener) = 0;
  // Optional; called once, before any Launch/Recover. Without one, progress is not reported.
  virtual void SetProgressListener(ProgressListener listener) = 0;
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

// Jobs whose LaunchOptions hold `slurm` (and recovered jobs whose folder records a Slurm job id,
// genie/slurm-job-id) go to `slurm`, the others to `local`. Kill goes to whichever runs the job.
// Both report to the one listener.
std::unique_ptr<Executor> NewDispatchingExecutor(std::unique_ptr<Executor> local,
                                                 std::unique_ptr<Executor> slurm);

// Status message of a job KILLED for its output: model::kMsgStdoutLimit (or kMsgStderrLimit),
// then which file passed which limit and the setting, e.g. "Std out length exceeded. stdout passed
// the limit of 5242880 bytes (jobs.max_stdout_bytes)."
std::string OutputLimitMessage(bool stdout_file, int64_t limit);

}  // namespace weir::exec
