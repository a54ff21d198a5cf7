#include "exec/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "exec/job_dir.h"

extern char** environ;

namespace weir::exec {

namespace fs = std::filesystem;

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  // The command name (field 2) may hold spaces and ')': fields resume after the last ')'.
  char* p = std::strrchr(buf, ')');
  if (p == nullptr) return std::nullopt;
  ++p;
  ProcStat st;
  for (int field = 3; field <= 22; ++field) {
    while (*p == ' ') ++p;
    if (*p == '\0') return std::nullopt;
    char* end = p;
    long long v = std::strtoll(p, &end, 10);
    if (field == 4) st.ppid = static_cast<int>(v);
    if (field == 5) st.pgrp = static_cast<int>(v);
    if (field == 22) st.start_time = v;
    while (*end != ' ' && *end != '\0') ++end;
    p = end;
  }
  return st;
}

std::unordered_set<pid_t> GroupsWithLiveMembers() {
  std::unordered_set<pid_t> groups;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return groups;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    char path[300];
    std::snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[512];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    char* p = std::strrchr(buf, ')');
    if (p == nullptr) continue;
    char state = '?';
    int ppid = 0, pgrp = 0;
    if (std::sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
    if (state != 'Z' && state != 'X') groups.insert(pgrp);
  }
  ::closedir(d);
  return groups;
}

bool OwnedByJobDirOwner(pid_t pid, const fs::path& job_dir) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d", pid);
  struct stat ps, ds;
  return ::stat(path, &ps) == 0 && ::stat(job_dir.c_str(), &ds) == 0 && ps.st_uid == ds.st_uid;
}

Result<pid_t> SpawnRunScript(const fs::path& job_dir) {
  std::string run = paths::RunScript(job_dir).string();
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addchdir_np(&fa, job_dir.c_str());
  // No descriptor of the server (listening sockets, the store) leaks into a job.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char arg0[] = "bash";
  char* argv[] = {arg0, run.data(), nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, "/bin/bash", &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return ErrnoStatus("posix_spawn /bin/bash " + run, rc);
  return pid;
}

namespace {

// The steps of the run-as child, reported through the error pipe when one fails.
enum ChildStep : int { kSetsid, kSetgroups, kSetresgid, kSetresuid, kChdir, kDevNull, kExec };

// The run-as child: only async-signal-safe calls from here to execve (see executor.h).
[[noreturn]] void ChildExec(int err_fd, const RunAsAccount& a, const char* dir, char* const argv[],
                            char* const envp[]) {
  auto fail = [err_fd](int step) {
    int report[2] = {step, errno};
    ssize_t n = ::write(err_fd, report, sizeof report);
    (void)n;
    ::_exit(127);
  };
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // EINVAL: not ours
  if (::setsid() < 0) fail(kSetsid);
  if (::syscall(SYS_setgroups, a.groups.size(), a.groups.data()) != 0) fail(kSetgroups);
  if (::syscall(SYS_setresgid, a.gid, a.gid, a.gid) != 0) fail(kSetresgid);
  if (::syscall(SYS_setresuid, a.uid, a.uid, a.uid) != 0) fail(kSetresuid);
  if (::chdir(dir) != 0) fail(kChdir);
  int in = ::open("/dev/null", O_RDONLY);
  int out = ::open("/dev/null", O_WRONLY);
  if (in < 0 || out < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) {
    fail(kDevNull);
  }
  // Everything above 2 but the error pipe, which closes itself on exec.
  if (err_fd > 3) ::close_range(3, static_cast<unsigned>(err_fd - 1), 0);
  ::close_range(static_cast<unsigned>(err_fd + 1), ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve("/bin/bash", argv, envp);
  fail(kExec);
  ::_exit(127);
}

}  // namespace

Result<pid_t> SpawnRunScriptAs(const fs::path& job_dir, const RunAsAccount& account,
                               const std::vector<std::string>& env_allow) {
  static const char* kStepNames[] = {
      "setsid",         "setgroups",     "setresgid", "setresuid", "chdir to the job directory",
      "open /dev/null", "exec /bin/bash"};
  const std::string context = "run as '" + account.name + "'";
  std::string run = paths::RunScript(job_dir).string();
  std::string dir = job_dir.string();
  // Everything the child uses is made before the fork.
  std::vector<std::string> env = RunAsEnvironment(environ, env_allow, account);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  char arg0[] = "bash";
  char* argv[] = {arg0, run.data(), nullptr};
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoStatus(context + ": pipe", errno);
  // All signals blocked across the fork: none runs a server handler in the child before it
  // resets them.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) ChildExec(err_pipe[1], account, dir.c_str(), argv, envp.data());
  int fork_err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(err_pipe[0]);
    return ErrnoStatus(context + ": fork", fork_err);
  }
  int report[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(err_pipe[0], report, sizeof report);
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (n == 0) return pid;  // exec'd: the pipe closed
  int st;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof report) || report[0] < 0 || report[0] > kExec) {
    return Internal(context + ": the child failed before exec");
  }
  return ErrnoStatus(context + ": " + kStepNames[report[0]], report[1]);
}

}  // namespace weir::exec
