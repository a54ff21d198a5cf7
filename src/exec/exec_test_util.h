// Helpers shared by the exec module's tests (not part of the library).
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exec/executor.h"
#include "exec/job_dir.h"
#include "model/config.h"
#include "model/job.h"

namespace weir::exec::testing {

// A fresh folder under /tmp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/weir-exec-test-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

inline std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline model::ConfigEntity Entity(model::Kind kind, const std::string& id, const std::string& name,
                                  std::vector<std::string> extra_tags = {}) {
  model::ConfigEntity e;
  e.kind = kind;
  e.id = id;
  e.name = name;
  e.user = "tester";
  e.version = "1.0";
  e.status = kind == model::Kind::kCluster ? "UP" : "ACTIVE";
  e.tags = std::move(extra_tags);
  model::NormalizeTags(e);
  return e;
}

// A job spec with a cluster, a command running `executable` and no set-up files.
inline JobSpec SimpleSpec(const std::string& job_id, const std::string& executable,
                          const std::string& command_args = "") {
  JobSpec spec;
  spec.cluster = Entity(model::Kind::kCluster, "c1", "cluster-one", {"sched:adhoc"});
  spec.command = Entity(model::Kind::kCommand, "cmd1", "shell", {"type:shell"});
  spec.command.executable = executable;
  spec.record.id = job_id;
  spec.record.request.id = job_id;
  spec.record.request.name = "job-" + job_id;
  spec.record.request.user = "tester";
  spec.record.request.version = "1";
  spec.record.request.cluster_criterias = {model::ClusterCriteria{{"sched:adhoc"}}};
  spec.record.request.command_criteria = {"type:shell"};
  if (!command_args.empty()) spec.record.request.command_args = command_args;
  spec.weir_version = "test";
  return spec;
}

// Collects the ends an executor reports.
class EndCollector {
 public:
  Executor::Listener Listener() {
    return [this](const JobEnd& end) {
      std::lock_guard<std::mutex> lock(mu_);
      ends_.push_back(end);
      reported_at_[end.job_id] = std::chrono::system_clock::now();
      cv_.notify_all();
    };
  }
  std::optional<JobEnd> WaitFor(const std::string& id,
                                std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<JobEnd> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const JobEnd& e : ends_) {
        if (e.job_id == id) {
          found = e;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  bool WaitForCount(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ends_.size() >= n; });
  }
  std::vector<JobEnd> All() {
    std::lock_guard<std::mutex> lock(mu_);
    return ends_;
  }
  std::chrono::system_clock::time_point ReportedAt(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return reported_at_[id];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<JobEnd> ends_;
  std::map<std::string, std::chrono::system_clock::time_point> reported_at_;
};

// Pids of the live (non-zombie) processes whose process group is `pgid`.
inline std::vector<int> ProcessesInGroup(int pgid) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::string stat = ReadText(std::filesystem::path("/proc") / e->d_name / "stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    int ppid = 0, pgrp = 0;
    fields >> state >> ppid >> pgrp;
    if (pgrp == pgid && state != "Z" && state != "X") out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

// Field 22 of /proc/<pid>/stat, or -1.
inline long long StartTimeOf(int pid) {
  std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string v;
  for (int field = 3; field <= 22; ++field) fields >> v;
  return std::atoll(v.c_str());
}

// Polls `cond` every 10 ms until it holds or `timeout` passes.
template <typename F>
bool Eventually(F cond, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

}  // namespace weir::exec::testing
