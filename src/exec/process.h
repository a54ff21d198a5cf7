#pragma once
// Processes of the local executor: starting a job's run script (as the server's user, or as the
// job's run-as account) and reading what the kernel says of a process. Used by
// local_executor.cc; no state, every function thread-safe.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/result.h"
#include "exec/run_as.h"

namespace weir::exec {

// pidfd_open(2) and pidfd_send_signal(2): glibc 2.36 has no wrappers (and its <sys/pidfd.h>
// lacks extern "C"). -1 with errno on failure.
int PidfdOpen(pid_t pid);
int PidfdSendSignal(int pidfd, int sig);

// Fields 4 (ppid), 5 (pgrp) and 22 (starttime) of /proc/<pid>/stat; nullopt when the process
// is gone or the file cannot be parsed. starttime with the pid names one process for good.
struct ProcStat {
  int ppid = 0;
  int pgrp = 0;
  long long start_time = 0;
};
std::optional<ProcStat> ReadProcStat(pid_t pid);

// The process groups that have a member which is not a zombie, from one pass over /proc.
std::unordered_set<pid_t> GroupsWithLiveMembers();

// Whether process `pid` belongs to the owner of `job_dir`: a job that owns its folder
// (run-as-user) could write any pid into genie/pid, and a re-adopted process is signalled by root.
bool OwnedByJobDirOwner(pid_t pid, const std::filesystem::path& job_dir);

// Starts `bash <job_dir>/genie/run` (paths::RunScript) in a new session (its pid is its process
// group), in `job_dir`, stdin/stdout/stderr on /dev/null (the script redirects its own output),
// signals unblocked and at their defaults, no descriptor of the server inherited, with the
// server's environment. Errors name posix_spawn and the script.
Result<pid_t> SpawnRunScript(const std::filesystem::path& job_dir);

// As SpawnRunScript, as `account` (setsid, setgroups, setresgid, setresuid, in that order; the
// child makes only async-signal-safe calls between fork and execve), with the environment
// RunAsEnvironment(environ, env_allow, account). A step that fails in the child is reported
// through a close-on-exec pipe: the error names the account and the step ("run as 'ana':
// setresuid: Operation not permitted"), and the child is reaped. REQUIRES: runs as root.
Result<pid_t> SpawnRunScriptAs(const std::filesystem::path& job_dir, const RunAsAccount& account,
                               const std::vector<std::string>& env_allow);

}  // namespace weir::exec
