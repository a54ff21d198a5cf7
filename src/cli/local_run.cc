// `weir job prepare` (download) and `weir job run-local` (local_run.h).
#include "cli/local_run.h"

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "archive/job_archive.h"
#include "cli/cli_util.h"
#include "common/fs.h"
#include "common/ids.h"
#include "exec/job_dir.h"

extern char** environ;

namespace weir::cli {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string JobPath(const std::string& id) { return "/api/v3/jobs/" + client::UrlEncode(id); }
std::string LocalPath(const std::string& id, std::string_view what) {
  return "/api/weir/v1/jobs/" + client::UrlEncode(id) + "/local/" + std::string(what);
}

// A POST of `body` to a local route, its JSON answer parsed.
Result<json::value> PostLocal(client::HttpClient& http, const std::string& path,
                              const json::object& body) {
  auto r = http.PostJson(path, json::serialize(body));
  WEIR_RETURN_IF_ERROR(CheckResponse(http, path, r));
  if (r->status == 204) return json::value();
  return ParseJson(r->body, path);
}

int64_t SizeOf(const fs::path& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

// Runs the heartbeats of one job on their own thread (and own HTTP client) until Stop().
class Heartbeat {
 public:
  Heartbeat(const Globals& g, std::string id, std::chrono::milliseconds interval, pid_t group)
      : http_(g.server, g.client), id_(std::move(id)), interval_(interval), group_(group) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Heartbeat() { Stop(); }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  // The server's reason for refusing a heartbeat ("" while it accepts them).
  std::string refused() {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    auto kill_at = std::chrono::steady_clock::time_point::max();
    while (!stopping_) {
      cv_.wait_for(lock, refused_.empty() ? interval_ : std::chrono::milliseconds(200),
                   [this] { return stopping_; });
      if (stopping_) break;
      if (!refused_.empty()) {
        // Given up by the server: SIGKILL whatever is left after the grace.
        if (std::chrono::steady_clock::now() >= kill_at) ::kill(-group_, SIGKILL);
        continue;
      }
      lock.unlock();
      const std::string path = LocalPath(id_, "heartbeat");
      auto r = http_.PostJson(path, "{}");
      Status st = CheckResponse(http_, path, r);
      lock.lock();
      if (st.code() == StatusCode::kFailedPrecondition || st.code() == StatusCode::kNotFound) {
        refused_ = st.message();
        std::cerr << "weir: job run-local: the server stopped the job: " << refused_ << "\n";
        ::kill(-group_, SIGTERM);
        kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      } else if (!st.ok()) {
        // Unreachable for a moment: keep running and beating; the server's timeout decides.
        std::cerr << "weir: job run-local: heartbeat: " << st.message() << "\n";
      }
    }
  }

  client::HttpClient http_;
  const std::string id_;
  const std::chrono::milliseconds interval_;
  const pid_t group_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::string refused_;    // GUARDED_BY(mu_)
  std::thread thread_;
};

Result<std::string> ReadJobId(const fs::path& dir) {
  const fs::path file = exec::paths::GenieDir(dir) / "local-run.json";
  auto text = ReadFile(file);
  if (!text) {
    return FailedPrecondition(file.string() + ": not found; " + dir.string() +
                              " is not a folder made by `weir job prepare`");
  }
  WEIR_ASSIGN_OR_RETURN(json::value v, ParseJson(*text, file.string()));
  std::string id = Str(v, "jobId");
  if (id.empty() || !IsSafeId(id)) {
    return FailedPrecondition(file.string() + ": no valid jobId");
  }
  return id;
}

int RunLocal(const std::string& dir_arg, bool upload, Globals& g) {
  std::error_code ec;
  const fs::path dir = fs::absolute(dir_arg, ec);
  auto id = ReadJobId(dir);
  if (!id) return Fail(id.status().WithContext("job run-local"));
  if (!fs::exists(exec::paths::RunScript(dir), ec)) {
    return Fail("job run-local: " + exec::paths::RunScript(dir).string() + ": missing");
  }
  client::HttpClient http(g.server, g.client);
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  auto started = PostLocal(http, LocalPath(*id, "start"),
                           json::object{{"host", host}, {"pid", static_cast<int64_t>(::getpid())}});
  if (!started) return Fail(started.status().WithContext("job run-local: job " + *id));
  int64_t interval_ms = 20000;
  if (started->is_object()) {
    if (const json::value* v = started->as_object().if_contains("heartbeatIntervalMs");
        v && v->is_int64() && v->as_int64() > 0) {
      interval_ms = v->as_int64();
    }
  }
  std::cerr << "job " << *id << ": RUNNING here (" << dir.string() << ")\n";

  // The run script in its own session (its pid is the group id), cwd the folder.
  const std::string script = exec::paths::RunScript(dir).string();
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  char* argv[] = {const_cast<char*>("/bin/bash"), const_cast<char*>(script.c_str()), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/bash", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);

  int exit_code = 0;
  std::string refused;
  if (rc != 0) {
    std::cerr << "weir: job run-local: start /bin/bash " << script << ": " << std::strerror(rc)
              << "\n";
    exit_code = 127;
  } else {
    Heartbeat beat(g, *id, std::chrono::milliseconds(interval_ms), pid);
    // Wait without reaping, so the group id cannot be reused before the group is killed.
    siginfo_t info;
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 &&
           errno == EINTR) {
    }
    ::kill(-pid, SIGKILL);  // nothing of the job outlives its run script, as on the server
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    beat.Stop();
    refused = beat.refused();
    if (std::optional<int> done = exec::ReadDoneExitCode(dir)) {
      exit_code = *done;
    } else if (WIFEXITED(wstatus)) {
      exit_code = WEXITSTATUS(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
      exit_code = 128 + WTERMSIG(wstatus);
    }
  }
  if (!refused.empty()) {
    std::cerr << "weir: job run-local: job " << *id << " was ended by the server: " << refused
              << "\n";
    return kExitJobKilled;
  }

  if (upload) {
    const fs::path tmp = dir.parent_path() / (".weir-upload-" + NewUuid() + ".tar.gz");
    auto packed = archive::WriteTarGz(dir, {}, tmp);
    Status st = packed.status();
    if (st.ok()) {
      const std::string path = LocalPath(*id, "output");
      auto r = http.UploadFile("PUT", path, tmp, {{"Content-Type", "application/gzip"}});
      st = CheckResponse(http, path, r);
    }
    fs::remove(tmp, ec);
    if (!st.ok()) {
      // The end is still reported: the job ran, only its output stays here.
      std::cerr << "weir: job run-local: upload output: " << st.message() << "\n";
    } else {
      std::cerr << "job " << *id << ": output uploaded\n";
    }
  }

  auto ended = PostLocal(http, LocalPath(*id, "end"),
                         json::object{{"exitCode", exit_code},
                                      {"stdoutSize", SizeOf(exec::paths::Stdout(dir))},
                                      {"stderrSize", SizeOf(exec::paths::Stderr(dir))}});
  if (!ended) return Fail(ended.status().WithContext("job run-local: report the end"));
  const std::string status = Str(*ended, "status");
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"id", *id},
                                              {"status", status},
                                              {"statusMsg", Str(*ended, "statusMsg")},
                                              {"exitCode", exit_code}})
              << "\n";
  } else {
    std::cerr << "job " << *id << ": " << status << " (exit code " << exit_code << ")\n";
  }
  if (status == "SUCCEEDED") return kExitOk;
  if (status == "FAILED") return kExitJobFailed;
  return kExitJobKilled;
}

}  // namespace

int DownloadPreparedJob(client::HttpClient& http, const std::string& id, const std::string& dir_arg,
                        double timeout_s, Globals& g) {
  std::error_code ec;
  const fs::path dir = fs::absolute(dir_arg, ec);
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return Fail("job prepare: --dir " + dir.string() + ": not empty; choose a new folder");
  }
  std::cerr << "job " << id << ": being prepared by the server\n";
  // The set-up runs on the server's workers: wait for it (no event stream to follow yet).
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, timeout_s) * 1000));
  auto pause = std::chrono::milliseconds(20);
  while (true) {
    auto doc = GetJson(http, JobPath(id));
    if (!doc) return Fail(doc.status().WithContext("job prepare"));
    const std::string status = Str(*doc, "status");
    const std::string msg = Str(*doc, "statusMsg");
    if (status == "INIT" && msg.rfind("Job prepared for a local run", 0) == 0) break;
    if (status != "INIT") {
      std::cerr << "weir: job prepare: job " << id << " is " << status << ": " << msg << "\n";
      return status == "FAILED" ? kExitJobFailed : kExitJobKilled;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Fail(DeadlineExceeded("job prepare: job " + id + " still being set up after " +
                                   std::to_string(static_cast<int64_t>(timeout_s)) +
                                   " s; see `weir job status " + id + "`"));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
  fs::create_directories(dir, ec);
  if (ec) return Fail("job prepare: --dir " + dir.string() + ": " + ec.message());
  const fs::path tmp = dir.parent_path() / (".weir-prepare-" + NewUuid() + ".tar.gz");
  const std::string path = LocalPath(id, "folder");
  auto r = http.Download(path, tmp);
  Status st = CheckResponse(http, path, r);
  if (st.ok()) st = archive::ExtractTarGz(tmp, dir);
  fs::remove(tmp, ec);
  if (!st.ok()) return Fail(st.WithContext("job prepare: download the folder"));
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"id", id}, {"dir", dir.string()}}) << "\n";
  } else {
    std::cerr << "job " << id << ": prepared in " << dir.string()
              << "; run it with `weir job run-local " << dir_arg << "`\n";
    std::cout << id << "\n";
  }
  return kExitOk;
}

void AddRunLocalCommand(CLI::App& job, Globals& g) {
  auto dir = std::make_shared<std::string>();
  auto upload = std::make_shared<bool>(false);
  CLI::App* run = job.add_subcommand(
      "run-local",
      "Run a folder made by `weir job prepare` on this machine: reports RUNNING, heartbeats and "
      "the exit code to the server, so the job shows in `weir job list`; --upload sends the "
      "folder (output included) to the job on the server. Exit code 0 SUCCEEDED, 6 FAILED, 7 "
      "KILLED or given up by the server. Example: weir job run-local ./job --upload");
  run->add_option("DIR", *dir, "the prepared folder")->required();
  run->add_flag("--upload", *upload,
                "upload the folder's output to the job on the server before reporting the end");
  run->callback([dir, upload, &g] { g.exit_code = RunLocal(*dir, *upload, g); });
}

}  // namespace weir::cli
