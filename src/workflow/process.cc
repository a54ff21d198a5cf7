#include "workflow/process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace weir::workflow {
namespace {

// The child's environment: ours with `overrides` applied (same name replaced).
std::vector<std::string> BuildEnv(const EnvOverrides& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [k, v] : overrides) replaced = replaced || k == name;
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto& [k, v] : overrides) env.push_back(k + "=" + v);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (std::string& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 127;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 127;
}

// Spawns argv with stdout/stderr going to out_fd/err_fd (-1: inherit). The pipes are
// O_CLOEXEC, so the child keeps only the dup2'ed copies.
Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                    const EnvOverrides& env, int out_fd, int err_fd) {
  if (argv.empty()) return InvalidArgument("run: empty command");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = BuildEnv(env);
  std::vector<char*> cargs = CStrings(args);
  std::vector<char*> cenv = CStrings(envs);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, cargs[0], &fa, nullptr, cargs.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc == ENOENT) return NotFound("run " + argv[0] + ": program not found on PATH");
  if (rc != 0) {
    return Internal("run " + argv[0] + ": cannot start: " + std::strerror(rc) +
                    (cwd.empty() ? "" : " (in " + cwd.string() + ")"));
  }
  return pid;
}

}  // namespace

Result<ProcessResult> RunCapture(const std::vector<std::string>& argv,
                                 const std::filesystem::path& cwd, const EnvOverrides& env,
                                 size_t max_output) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoStatus("run: pipe", errno);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return ErrnoStatus("run: pipe", e);
  }
  Result<pid_t> pid = Spawn(argv, cwd, env, out_pipe[1], err_pipe[1]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (!pid) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return pid.status();
  }
  ProcessResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buf[65536];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
        continue;
      }
      size_t room = max_output - std::min(max_output, sinks[i]->size());
      sinks[i]->append(buf, std::min(room, static_cast<size_t>(n)));
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  result.exit_code = WaitExit(*pid);
  return result;
}

Result<int> RunInherit(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                       const EnvOverrides& env) {
  Result<pid_t> pid = Spawn(argv, cwd, env, -1, -1);
  if (!pid) return pid.status();
  return WaitExit(*pid);
}

}  // namespace weir::workflow
