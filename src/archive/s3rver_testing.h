// Test-only: a real S3-compatible server for weir's storage tests. S3rverProcess starts s3rver
// (npm package pinned in tests/s3/package.json, installed by `make test`) with node on
// 127.0.0.1 and a free port (it binds port 0 and prints the port it got), in a temp data folder,
// with the buckets asked for; the destructor stops it by pid and removes the folder.
//
// What s3rver does not do (so tests that need it use fetch/test_http_server.h's FakeS3): it does
// not verify SigV4 signatures (any secret is accepted) and answers AbortMultipartUpload with 405.
//
// Header-only (test binaries of several modules include it without linking anything more);
// needs WEIR_SOURCE_DIR, which weir_test defines, to find tests/s3/node_modules. The environment
// variable WEIR_S3RVER_JS, when set, names the s3rver script instead (tests of the "missing
// service" rule point it at a path that does not exist).
//
// A test that cannot get its s3rver reports it with WEIR_MISSING_SERVICE("s3rver", why)
// (common/testing/required_services.h): a failure under WEIR_REQUIRE_SERVICES=1 (CI), else a skip.
//
// RunAwsCli runs the standard S3 client from Debian's awscli package (/usr/bin/aws, else the
// first `aws` on PATH) against the server: dummy credentials, path-style addressing, the
// endpoint given with --endpoint-url, a private HOME and config so nothing of the user's is read.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/ids.h"
#include "common/result.h"
#include "common/testing/required_services.h"
#include "fetch/s3_client.h"

extern char** environ;

#ifndef WEIR_SOURCE_DIR
#error "s3rver_testing.h needs WEIR_SOURCE_DIR (defined for weir_test targets)"
#endif

namespace weir::archive::testing {

class S3rverProcess {
 public:
  // kFailedPrecondition (with what to install) when node or the s3rver package is missing;
  // kDeadlineExceeded when it does not report its port within 30 s.
  static Result<std::unique_ptr<S3rverProcess>> Start(const std::vector<std::string>& buckets);
  ~S3rverProcess();
  S3rverProcess(const S3rverProcess&) = delete;
  S3rverProcess& operator=(const S3rverProcess&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Settings for weir's S3Client: this endpoint, us-east-1, s3rver's default key, path style.
  fetch::S3Config Config() const;

 private:
  S3rverProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  int out_fd_ = -1;
  std::filesystem::path dir_;
};

// One server per test process, shared by its tests: the first call starts it with `buckets`
// (node takes about a second), later calls return the same server whatever they ask. nullptr when
// it cannot start (tests then call WEIR_MISSING_SERVICE("s3rver", SharedS3rverError())).
// StopSharedS3rver() stops it by pid; call it when the tests end, from a ::testing::Environment's
// TearDown. Thread-safe.
S3rverProcess* SharedS3rver(const std::vector<std::string>& buckets);
void StopSharedS3rver();
// Why the shared server did not start ("" before the first SharedS3rver call or when it did).
std::string SharedS3rverError();

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Path of the aws CLI, "" when none is installed.
std::string AwsCliPath();
// Runs `aws <args> --endpoint-url <endpoint>` and waits for it (at most 120 s).
CommandResult RunAwsCli(const S3rverProcess& server, const std::vector<std::string>& args);

// ---- implementation -----------------------------------------------------------------------------

namespace s3rver_internal {

inline std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t colon = p.find(':', start);
    std::string dir =
        p.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!dir.empty()) {
      std::filesystem::path candidate = std::filesystem::path(dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return "";
}

// Spawns argv with stdout+stderr into a pipe; returns the pid and the read end.
inline Result<pid_t> Spawn(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, int* out_fd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(),
                         env.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return ErrnoStatus("spawn " + argv[0], rc);
  }
  *out_fd = fds[0];
  return pid;
}

// Reads what is available within `wait`; false at end of stream.
inline bool ReadSome(int fd, std::string* out, std::chrono::milliseconds wait) {
  struct pollfd p {
    fd, POLLIN, 0
  };
  int n = ::poll(&p, 1, static_cast<int>(wait.count()));
  if (n <= 0) return true;
  char buf[4096];
  ssize_t r = ::read(fd, buf, sizeof buf);
  if (r <= 0) return false;
  out->append(buf, static_cast<size_t>(r));
  return true;
}

}  // namespace s3rver_internal

inline Result<std::unique_ptr<S3rverProcess>> S3rverProcess::Start(
    const std::vector<std::string>& buckets) {
  std::string node = s3rver_internal::FindOnPath("node");
  if (node.empty()) {
    return FailedPrecondition("s3rver: node is not installed; run `make test` (it installs it)");
  }
  const char* script_override = std::getenv("WEIR_S3RVER_JS");
  const std::filesystem::path script =
      script_override != nullptr && *script_override != '\0'
          ? std::filesystem::path(script_override)
          : std::filesystem::path(WEIR_SOURCE_DIR) / "tests/s3/node_modules/s3rver/bin/s3rver.js";
  std::error_code ec;
  if (!std::filesystem::exists(script, ec)) {
    return FailedPrecondition("s3rver: " + script.string() +
                              " is missing; run `npm ci --prefix tests/s3` (make test does)");
  }
  std::unique_ptr<S3rverProcess> server(new S3rverProcess());
  server->dir_ = std::filesystem::path("/tmp") / ("weir-s3rver-" + NewUuid());
  WEIR_RETURN_IF_ERROR(MakeDirs(server->dir_));
  std::vector<std::string> argv = {
      node, script.string(), "-d", server->dir_.string(), "-a", "127.0.0.1", "-p", "0", "-s"};
  for (const std::string& b : buckets) {
    argv.push_back("--configure-bucket");
    argv.push_back(b);
  }
  WEIR_ASSIGN_OR_RETURN(server->pid_, s3rver_internal::Spawn(argv, {}, &server->out_fd_));
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const std::string marker = "listening on 127.0.0.1:";
  while (std::chrono::steady_clock::now() < deadline) {
    size_t at = out.find(marker);
    if (at != std::string::npos) {
      size_t digits = at + marker.size();
      size_t end = digits;
      while (end < out.size() && out[end] >= '0' && out[end] <= '9') ++end;
      if (end > digits && end < out.size()) {
        server->port_ = std::stoi(out.substr(digits, end - digits));
        return server;
      }
    }
    if (!s3rver_internal::ReadSome(server->out_fd_, &out, std::chrono::milliseconds(200))) break;
  }
  return DeadlineExceeded("s3rver: did not report its port within 30 s; it printed: " + out);
}

inline S3rverProcess::~S3rverProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    bool reaped = false;
    for (int i = 0; i < 100 && !reaped; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped = true;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    if (!reaped) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

inline fetch::S3Config S3rverProcess::Config() const {
  fetch::S3Config c;
  c.endpoint = endpoint();
  c.region = "us-east-1";
  c.credentials.access_key_id = "S3RVER";
  c.credentials.secret_access_key = "S3RVER";
  c.addressing = fetch::S3Addressing::kPath;
  return c;
}

namespace s3rver_internal {
inline std::unique_ptr<S3rverProcess>& SharedSlot() {
  static std::unique_ptr<S3rverProcess> server;
  return server;
}
inline std::string& SharedError() {
  static std::string error;
  return error;
}
}  // namespace s3rver_internal

inline S3rverProcess* SharedS3rver(const std::vector<std::string>& buckets) {
  static std::once_flag once;
  std::call_once(once, [&] {
    auto s = S3rverProcess::Start(buckets);
    if (s.ok()) {
      s3rver_internal::SharedSlot() = std::move(*s);
    } else {
      s3rver_internal::SharedError() = s.status().ToString();
    }
  });
  return s3rver_internal::SharedSlot().get();
}

inline void StopSharedS3rver() { s3rver_internal::SharedSlot().reset(); }

inline std::string SharedS3rverError() { return s3rver_internal::SharedError(); }

inline std::string AwsCliPath() {
  if (::access("/usr/bin/aws", X_OK) == 0) return "/usr/bin/aws";
  return s3rver_internal::FindOnPath("aws");
}

inline CommandResult RunAwsCli(const S3rverProcess& server, const std::vector<std::string>& args) {
  CommandResult result;
  const std::string aws = AwsCliPath();
  if (aws.empty()) {
    result.output = "aws CLI not installed (Debian package awscli; make test installs it)";
    return result;
  }
  const std::filesystem::path home = std::filesystem::path("/tmp") / ("weir-aws-home-" + NewUuid());
  std::error_code ec;
  std::filesystem::create_directories(home, ec);
  std::ofstream(home / "config") << "[default]\nregion = us-east-1\ns3 =\n"
                                    "  addressing_style = path\n";
  std::vector<std::string> argv = {aws};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--endpoint-url");
  argv.push_back(server.endpoint());
  const char* path = std::getenv("PATH");
  std::vector<std::string> env = {
      "PATH=" + std::string(path ? path : "/usr/bin:/bin"),
      "HOME=" + home.string(),
      "AWS_CONFIG_FILE=" + (home / "config").string(),
      "AWS_SHARED_CREDENTIALS_FILE=" + (home / "credentials").string(),
      "AWS_ACCESS_KEY_ID=S3RVER",
      "AWS_SECRET_ACCESS_KEY=S3RVER",
      "AWS_DEFAULT_REGION=us-east-1",
      "AWS_PAGER=",
      "AWS_EC2_METADATA_DISABLED=true",
  };
  int fd = -1;
  Result<pid_t> pid = s3rver_internal::Spawn(argv, env, &fd);
  if (!pid.ok()) {
    result.output = pid.status().ToString();
    std::filesystem::remove_all(home, ec);
    return result;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline &&
         s3rver_internal::ReadSome(fd, &result.output, std::chrono::milliseconds(200))) {
  }
  ::close(fd);
  int status = 0;
  if (::waitpid(*pid, &status, WNOHANG) == 0) {
    ::kill(*pid, SIGKILL);
    ::waitpid(*pid, &status, 0);
    result.output += "\n(killed after 120 s)";
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::filesystem::remove_all(home, ec);
  return result;
}

}  // namespace weir::archive::testing
