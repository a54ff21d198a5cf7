// Test-only: a private single-node Slurm (munged, slurmctld, slurmd) started from files in a
// fresh temp folder, for the Slurm executor's tests and the end-to-end tests.
//
// Start() creates /tmp/weir-slurm-XXXXXX holding its own munge key and socket, a generated
// slurm.conf (free loopback ports, proctrack/linuxproc, task/none, a job-completion log,
// batch_sched_delay=0, SlurmdTimeout=10, the node line from `slurmd -C`, one partition "debug" with
// OverSubscribe=FORCE:8 so a burst of trivial jobs runs side by side), starts the three daemons
// each in its own session, and waits (up to 60 s) until `sinfo` shows the node idle. It returns
// nullptr with the reason when a tool is missing or the cluster does not come up; callers pass
// that to WEIR_MISSING_SERVICE("slurm", why). Stop() (and the destructor) cancels the cluster's
// jobs first (their processes would outlive slurmd), then stops exactly the pids it started
// (SIGTERM, SIGKILL after 10 s), and removes the folder.
// Not thread-safe: one test thread drives it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "exec/subprocess.h"

namespace weir::exec::testing {

class SlurmCluster {
 public:
  static std::unique_ptr<SlurmCluster> Start(std::string* why);
  ~SlurmCluster();
  SlurmCluster(const SlurmCluster&) = delete;
  SlurmCluster& operator=(const SlurmCluster&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path conf() const { return dir_ / "slurm.conf"; }
  std::string partition() const { return "debug"; }
  std::string node() const { return node_; }
  // "SLURM_CONF=<conf>", for RunTool and child processes.
  std::string ConfEnv() const { return "SLURM_CONF=" + conf().string(); }

  // Runs a Slurm client tool against this cluster (10 s deadline).
  Result<ToolOutput> Tool(const std::vector<std::string>& argv) const;

  // slurmctld: stopped (SIGTERM, waited for) and started again from its saved state.
  Status StopController();
  Status StartController();
  // slurmd: SIGKILLed (its jobs' processes live on, as on a real node failure). With the
  // fixture's SlurmdTimeout (10 s) slurmctld declares the node down, and its jobs NODE_FAIL,
  // within about 15 s.
  Status KillNodeDaemon();
  // slurmd started again (ReturnToService=2 brings the node back; processes of jobs Slurm has
  // ended meanwhile are killed when it registers); waits (up to 60 s) until the node is idle.
  // kFailedPrecondition when slurmd runs.
  Status StartNodeDaemon();

  // Cancels every job, stops the daemons, removes the folder. Idempotent.
  void Stop();

 private:
  SlurmCluster() = default;
  Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_name);
  // Signals `pid` (if set) and waits for it (SIGKILL after 10 s); sets it to -1.
  void StopPid(pid_t& pid, int sig);
  Status WaitIdle(std::chrono::seconds timeout);

  std::filesystem::path dir_;
  std::string node_;
  pid_t munged_ = -1, slurmctld_ = -1, slurmd_ = -1;
  bool stopped_ = false;
};

}  // namespace weir::exec::testing
