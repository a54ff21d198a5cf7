// The Slurm executor: runs a prepared job directory's run script as a Slurm batch job and
// supervises it to its end, under the Executor contract (executor.h) where Slurm allows it.
//
// - Launch() submits `<job dir>/run` with `sbatch --parsable` (job name = the weir job id,
//   --chdir the job folder, --time = the timeout rounded up to minutes plus one minute, a
//   backstop: weir kills at the exact timeout itself; --mem from LaunchOptions::slurm.memory_mb;
//   partition, account, qos and sbatch_args from LaunchOptions::slurm; the batch step's own
//   output --output/--error into genie/logs/slurm.out; sbatch itself runs with only the server
//   variables LaunchOptions::run_as_env allows, plus SLURM_CONF, and exports those: the run
//   script sets the job's own environment). The Slurm
//   job id is written to genie/slurm-job-id before Launch returns (Launched::slurm_job_id; pid 0).
//   The job folder must be on a file system the compute nodes share (exec.slurm.job_root).
//   --no-requeue: after a node failure Slurm ends the job (NODE_FAIL) instead of running the
//   script again in the same folder (a site's sbatch_args may say --requeue after it).
// - Progress (executor.h): Launch returns running = false ("Job submitted to Slurm as job N.").
//   While Slurm has not started the job (PENDING, CONFIGURING, REQUEUED...), each tick whose
//   state, partition or reason differs from the last one told reports "Job pending in Slurm
//   partition P: REASON."; the first tick that sees it in any other live state reports RUNNING
//   with the node list (%N) as the host. A job that ran and ended between two ticks (genie.done
//   written, or Slurm names its node) is reported RUNNING just before its end.
// - One reconciler thread, no per-job polling: every `poll_interval` it asks Slurm about all its
//   live jobs in one `squeue --me -t all` call, and stats each live job's genie.done and output
//   files. A job whose Slurm state is final (or that Slurm no longer lists) ends: from its kill
//   reason or an output limit (KILLED), else genie.done (exit code; a Slurm state of
//   OUT_OF_MEMORY, NODE_FAIL, TIMEOUT or PREEMPTED is named in the message), else Slurm's state:
//   TIMEOUT / CANCELLED (not by weir) / PREEMPTED → KILLED (999), NODE_FAIL / BOOT_FAIL → FAILED
//   (666), OUT_OF_MEMORY and FAILED → FAILED with the exit code of `scontrol show job`; a job
//   Slurm no longer knows that left nothing → FAILED 666. Messages say which Slurm state it was.
// - Timeouts (from `started`, the submission: time pending in Slurm's queue counts; by the
//   injected Clock) and output limits are checked on the
//   reconciler's ticks; a job over one is killed like a user kill with that reason.
// - Slurm runs genie/slurm-batch, a small batch script that runs the run script (in a subshell,
//   with $0 the run script) as a child in its process group, which Slurm's signals reach as a
//   whole. On SIGTERM it lives on while other processes of the group do, up to the grace period,
//   then SIGKILLs them (Slurm would otherwise end the step, and lose track of orphans, as soon as
//   the run script dies); after a normal end it SIGKILLs what is left at once. It needs bash and
//   /proc on the compute nodes.
// - Kill writes genie/kill-reason, then `scancel --full --signal=TERM` (every process of the
//   job); if the job still has not ended 5 s after the grace, plain `scancel`. When Slurm
//   refuses the signal (the job is not running), `scancel --state=PENDING` removes it from the
//   queue only if it is still pending, so a job that started since the last tick keeps its
//   grace; each tick tries again until the signal is taken or the job is gone.
// - Recover() re-adopts a job by the Slurm id in genie/slurm-job-id; it is then reconciled like
//   a new one (a job that ended meanwhile is reported with its true end on the next tick). A
//   folder without that file: its end is read from kill-reason / genie.done, or FAILED 666.
// - slurmctld not answering: squeue/scancel fail; the live jobs stay live and the calls are
//   retried on every tick (each call has a deadline of `tool_timeout`), so no job is lost or
//   reported with a made-up end while the controller is away.
// Thread-safe; the listener runs on the reconciler thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "exec/executor.h"
#include "model/config.h"

namespace weir::exec {

struct SlurmExecutorOptions {
  std::filesystem::path slurm_conf;  // exec.slurm.conf (SLURM_CONF of every tool call); empty:
                                     // Slurm's default
  std::chrono::milliseconds poll_interval{250};
  std::chrono::milliseconds tool_timeout{15000};
};

std::unique_ptr<Executor> NewSlurmExecutor(Clock& clock, SlurmExecutorOptions options);

// genie/slurm-job-id of a job folder; nullopt when missing or not a Slurm job id.
std::optional<std::string> ReadSlurmJobId(const std::filesystem::path& job_dir);

// The cluster's Slurm placement when its metadata says `"executor": "slurm"` (with the optional
// "slurm" object: partition, account, qos strings and sbatch_args, an array of strings);
// nullopt for a cluster that runs its jobs locally. kInvalidArgument naming the field when the
// metadata says slurm but a field has the wrong type.
Result<std::optional<SlurmSubmit>> SlurmSubmitFor(const model::ConfigEntity& cluster);

}  // namespace weir::exec
