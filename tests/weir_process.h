// Test and benchmark harness (no GoogleTest dependency): starts the real `weir server` binary on a
// free port with its own data folder, and runs `weir` CLI commands, so integration tests drive weir
// exactly as users do.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace weir::testing {

// The weir binary built with the tests.
std::filesystem::path WeirBinary();
// A fresh, empty folder under /tmp, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class WeirServer {
 public:
  // `data_dir` holds the database and job folders; `config_yaml` (optional) is written to a file
  // passed with --config.
  explicit WeirServer(std::filesystem::path data_dir, std::string config_yaml = "");
  ~WeirServer();  // SIGTERM and wait, if still running

  // Starts the server and waits (≤ 60 s: sanitizer builds on a busy machine start slowly) for its
  // "listening" line. Returns "" on success, else what went wrong with the server's log (tests:
  // ASSERT_EQ(server.Start(), "")).
  std::string Start();
  // SIGTERM, wait for exit. Both end the test process if the server's log holds a sanitizer
  // report (see FailOnSanitizerReport).
  void Stop();
  // SIGKILL, wait for exit: a crash (jobs keep running).
  void Kill9();
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  // http://127.0.0.1:PORT, or https:// when the server said it listens for HTTPS (server.tls).
  std::string url() const { return scheme_ + "://127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& data_dir() const { return data_dir_; }

 private:
  std::filesystem::path data_dir_;
  std::string config_yaml_;
  pid_t pid_ = -1;
  int port_ = 0;
  int port_to_reuse_ = 0;  // a restart keeps the port
  std::string scheme_ = "http";
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs `weir --server <server_url> <args...>` and collects its output (≤ 120 s). A sanitizer
// report on its stderr ends the test process (see FailOnSanitizerReport).
CommandResult RunWeir(const std::string& server_url, const std::vector<std::string>& args,
                      const std::filesystem::path& cwd = {});
// Runs `weir <args...>` WITHOUT adding --server, in this process's environment minus
// WEIR_SERVER plus `env` (NAME=VALUE entries, e.g. {"WEIR_SERVER=" + server.url()}), so a test
// can check how the CLI picks its server. Same collection, limit and sanitizer check as RunWeir.
CommandResult RunWeirWithEnv(const std::vector<std::string>& args,
                             const std::vector<std::string>& env,
                             const std::filesystem::path& cwd = {});

// In a sanitizer build (cmake/sanitizers.cmake) a weir process that hits a bug prints a report on
// its stderr and exits non-zero, which a test need not look at (a server's stderr is its log, and a
// test may expect a command to fail). So when `stderr_text` of the weir process `who` holds an
// ASan, LSan, UBSan or TSan report, this prints the report and aborts the test process: the test
// that started the process fails, and says why. Does nothing otherwise.
void FailOnSanitizerReport(const std::string& who, const std::string& stderr_text);

// Small file and shell helpers of the end-to-end tests.
std::string Slurp(const std::filesystem::path& p);
void WriteFile(const std::filesystem::path& p, const std::string& text);  // creates folders
std::string ShellQuote(const std::string& s);
// Runs `git ARGS` (a shell-quoted argument string) in `dir` with a fixed identity, default branch
// main and no signing; returns the exit code and the combined output.
std::pair<int, std::string> Git(const std::filesystem::path& dir, const std::string& args);

// Polls `condition` (every 20 ms) until it is true or `limit` has passed; returns its last value.
// Tests wait on the condition itself rather than sleeping, and fail loudly when it never holds:
//   ASSERT_TRUE(WaitFor([&] { return ...; }, 30s)) << "what never happened";
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds limit = std::chrono::seconds(30));

// Process ids of live processes whose process group is `pgid`.
std::vector<pid_t> ProcessesInGroup(pid_t pgid);

}  // namespace weir::testing
