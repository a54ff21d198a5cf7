#include "weir_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string_view>
#include <thread>

extern char** environ;

namespace weir::testing {

namespace fs = std::filesystem;

fs::path WeirBinary() { return fs::path(WEIR_BINARY_DIR) / "weir"; }

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("weir-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void FailOnSanitizerReport(const std::string& who, const std::string& stderr_text) {
  static constexpr std::string_view kMarkers[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                                  "WARNING: ThreadSanitizer",
                                                  "SUMMARY: UndefinedBehaviorSanitizer"};
  size_t at = std::string::npos;
  for (std::string_view m : kMarkers) at = std::min(at, stderr_text.find(m));
  if (at == std::string::npos) return;
  // A UBSan report's own line comes before its SUMMARY: show some context above the marker.
  size_t from = stderr_text.rfind('\n', at > 4096 ? at - 4096 : 0);
  from = from == std::string::npos ? 0 : from + 1;
  std::fprintf(stderr, "\n%s printed a sanitizer report, failing the test:\n%s\n", who.c_str(),
               stderr_text.substr(from, 32768).c_str());
  std::fflush(stderr);
  std::abort();
}

WeirServer::WeirServer(fs::path data_dir, std::string config_yaml)
    : data_dir_(std::move(data_dir)), config_yaml_(std::move(config_yaml)) {}

WeirServer::~WeirServer() {
  if (pid_ > 0) Stop();
}

namespace {

// `envp` null: this process's environment.
pid_t Spawn(const std::vector<std::string>& args, int out_fd, int err_fd, const fs::path& cwd,
            char* const* envp = nullptr) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp ? envp : environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string WeirServer::Start() {
  fs::create_directories(data_dir_);
  std::vector<std::string> args = {
      WeirBinary().string(), "server",   "--data-dir",
      data_dir_.string(),    "--listen", "127.0.0.1:" + std::to_string(port_to_reuse_)};
  if (!config_yaml_.empty()) {
    fs::path cfg = data_dir_ / "test-config.yaml";
    std::ofstream(cfg) << config_yaml_;
    args.push_back("--config");
    args.push_back(cfg.string());
  }
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return "pipe failed";
  int log =
      ::open((data_dir_ / "server.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_ = Spawn(args, pipefd[1], log, {});
  ::close(pipefd[1]);
  ::close(log);
  if (pid_ <= 0) return "could not start " + WeirBinary().string();
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const std::string line_start = "listening on http";  // http:// or https://
  const std::string marker = "://127.0.0.1:";
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{pipefd[0], POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buf[512];
      ssize_t n = ::read(pipefd[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      size_t line = out.find(line_start);
      size_t at = line == std::string::npos ? line : out.find(marker, line);
      if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
        port_ = std::stoi(out.substr(at + marker.size()));
        scheme_ = out.substr(line + line_start.size() - 4, at - (line + line_start.size() - 4));
        port_to_reuse_ = port_;
        ::close(pipefd[0]);
        return "";
      }
    }
  }
  ::close(pipefd[0]);
  std::ifstream in(data_dir_ / "server.log");
  std::stringstream log_text;
  log_text << in.rdbuf();
  return "weir server did not start; stdout: " + out + "\nlog: " + log_text.str();
}

void WeirServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  WaitExit(pid_);
  pid_ = -1;
  FailOnSanitizerReport("weir server", Slurp(data_dir_ / "server.log"));
}

void WeirServer::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  WaitExit(pid_);
  pid_ = -1;
  FailOnSanitizerReport("weir server", Slurp(data_dir_ / "server.log"));
}

namespace {

// Runs `full` (argv, binary first) with stdout and stderr collected in files.
CommandResult RunCollected(const std::vector<std::string>& full, const std::string& who,
                           const fs::path& cwd, char* const* envp) {
  TempDir tmp;
  fs::path out = tmp.path() / "out", err = tmp.path() / "err";
  int ofd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  int efd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  pid_t pid = Spawn(full, ofd, efd, cwd, envp);
  ::close(ofd);
  ::close(efd);
  CommandResult r;
  if (pid < 0) return r;
  r.exit_code = WaitExit(pid);
  r.out = Slurp(out);
  r.err = Slurp(err);
  FailOnSanitizerReport(who, r.err);
  return r;
}

}  // namespace

CommandResult RunWeir(const std::string& server_url, const std::vector<std::string>& args,
                      const fs::path& cwd) {
  std::vector<std::string> full = {WeirBinary().string()};
  if (!server_url.empty()) {
    full.push_back("--server");
    full.push_back(server_url);
  }
  full.insert(full.end(), args.begin(), args.end());
  return RunCollected(full, "weir " + (args.empty() ? std::string() : args.front()), cwd, nullptr);
}

CommandResult RunWeirWithEnv(const std::vector<std::string>& args,
                             const std::vector<std::string>& env, const fs::path& cwd) {
  std::vector<std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("WEIR_SERVER=", 0) != 0) vars.emplace_back(*e);
  }
  vars.insert(vars.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::vector<std::string> full = {WeirBinary().string()};
  full.insert(full.end(), args.begin(), args.end());
  return RunCollected(full, "weir " + (args.empty() ? std::string() : args.front()), cwd,
                      envp.data());
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::pair<int, std::string> Git(const fs::path& dir, const std::string& args) {
  std::string cmd = "cd " + ShellQuote(dir.string()) +
                    " && git -c user.name=e2e -c user.email=e2e@example.com "
                    "-c init.defaultBranch=main -c commit.gpgsign=false " +
                    args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<pid_t> ProcessesInGroup(pid_t pgid) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    long ppid = 0, pg = 0;
    rest >> state >> ppid >> pg;
    if (pg == pgid && state != "Z") out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

}  // namespace weir::testing
