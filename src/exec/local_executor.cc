// The local executor: runs job directories' run scripts as child processes of the server and
// supervises them from one epoll thread. See executor.h for the contract and the design.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "exec/executor.h"
#include "exec/job_dir.h"
#include "exec/process.h"

namespace weir::exec {

namespace fs = std::filesystem;

namespace {

using Steady = std::chrono::steady_clock;
constexpr Steady::time_point kNever = Steady::time_point::max();
constexpr uint64_t kWakeKey = 0;              // epoll key of the eventfd; jobs count from 1
constexpr uint64_t kInotifyKey = UINT64_MAX;  // epoll key of the inotify descriptor
// While a killed job's group outlives its run script: how often to look whether it is gone
// (only during kills; backing off), and how long to wait for it after the SIGKILL.
constexpr Millis kDrainPollMin{10};
constexpr Millis kDrainPollMax{200};
constexpr Millis kDrainAfterSigkill{1000};

int64_t FileSize(const fs::path& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

std::optional<TimePoint> FileMtime(const fs::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  int64_t ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  return FromEpochMillis(ms);
}

// The next multiple of `interval` after `now`: checks of all jobs share the same ticks.
Steady::time_point NextTick(Steady::time_point now, std::chrono::milliseconds interval) {
  auto iv = std::chrono::duration_cast<Steady::duration>(std::max(interval, Millis(1)));
  auto ticks = now.time_since_epoch() / iv + 1;
  return Steady::time_point(iv * ticks);
}

}  // namespace

std::string OutputLimitMessage(bool stdout_file, int64_t limit) {
  return std::string(stdout_file ? model::kMsgStdoutLimit : model::kMsgStderrLimit) + " " +
         (stdout_file ? "stdout" : "stderr") + " passed the limit of " + std::to_string(limit) +
         " bytes (jobs.max_" + (stdout_file ? "stdout" : "stderr") + "_bytes).";
}

namespace {

// The limit message when one of the job's output files is over its limit, stdout first.
std::optional<std::string> OverLimit(const fs::path& dir, const LaunchOptions& o) {
  if (o.max_stdout_bytes > 0 && FileSize(paths::Stdout(dir)) > o.max_stdout_bytes) {
    return OutputLimitMessage(true, o.max_stdout_bytes);
  }
  if (o.max_stderr_bytes > 0 && FileSize(paths::Stderr(dir)) > o.max_stderr_bytes) {
    return OutputLimitMessage(false, o.max_stderr_bytes);
  }
  return std::nullopt;
}

// Cuts an output file over its limit back to the limit (the job's processes are gone).
void TruncateToLimit(const fs::path& path, int64_t limit) {
  if (limit > 0 && FileSize(path) > limit) (void)::truncate(path.c_str(), limit);
}

// How an ended job is reported, from (in order) the kill reason, the output limits (a job that
// wrote past one between two checks and ended is KILLED all the same), genie.done, the wait
// status. Output files over their limit are truncated to it.
JobEnd EndOf(const std::string& job_id, const fs::path& dir, const LaunchOptions& options,
             std::optional<std::string> kill_reason, std::optional<int> wait_status,
             TimePoint finished) {
  JobEnd end;
  end.job_id = job_id;
  end.finished = finished;
  if (!kill_reason) kill_reason = OverLimit(dir, options);
  TruncateToLimit(paths::Stdout(dir), options.max_stdout_bytes);
  TruncateToLimit(paths::Stderr(dir), options.max_stderr_bytes);
  end.stdout_size = FileSize(paths::Stdout(dir));
  end.stderr_size = FileSize(paths::Stderr(dir));
  std::optional<int> code;
  if (kill_reason) {
    end.status = model::JobStatus::kKilled;
    end.status_msg = *kill_reason;
    end.exit_code = model::kExitKilled;
    return end;
  }
  code = ReadDoneExitCode(dir);
  if (!code && wait_status) {
    int st = *wait_status;
    if (WIFEXITED(st))
      code = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
      code = 128 + WTERMSIG(st);
  }
  if (!code) {
    end.status = model::JobStatus::kFailed;
    end.status_msg = kMsgProcessLost;
    end.exit_code = model::kExitNodeLost;
    return end;
  }
  end.exit_code = *code;
  end.status = *code == 0 ? model::JobStatus::kSucceeded : model::JobStatus::kFailed;
  end.status_msg = *code == 0 ? model::kMsgSucceeded : model::kMsgFailed;
  return end;
}

class LocalExecutor final : public Executor {
 public:
  explicit LocalExecutor(Clock& clock) : clock_(clock) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    evfd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    infd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (epfd_ < 0 || evfd_ < 0) {
      std::fprintf(stderr, "local executor: cannot create epoll/eventfd: %s\n",
                   std::strerror(errno));
      std::abort();
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeKey;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev) != 0) {
      std::fprintf(stderr, "local executor: epoll_ctl: %s\n", std::strerror(errno));
      std::abort();
    }
    if (infd_ >= 0) {
      ev.data.u64 = kInotifyKey;
      if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, infd_, &ev) != 0) {
        ::close(infd_);
        infd_ = -1;
      }
    }
    if (infd_ < 0) {
      std::fprintf(stderr,
                   "local executor: no inotify (%s): output limits are checked every "
                   "output_check_interval and when a job ends\n",
                   std::strerror(errno));
    }
    thread_ = std::thread([this] { Loop(); });
  }

  ~LocalExecutor() override { Shutdown(); }

  void SetListener(Listener listener) override {
    std::lock_guard<std::mutex> lock(mu_);
    listener_ = std::move(listener);
  }

  // Its jobs run from Launch() on (Launched::running): there is no progress to report.
  void SetProgressListener(ProgressListener) override {}

  Result<Launched> Launch(const std::string& job_id, const fs::path& job_dir_in,
                          const LaunchOptions& options) override {
    std::error_code ec;
    fs::path job_dir = fs::absolute(job_dir_in, ec);
    if (ec) job_dir = job_dir_in;
    std::string context = "launch job '" + job_id + "'";
    if (::access(paths::RunScript(job_dir).c_str(), R_OK) != 0) {
      return FailedPrecondition(context + ": no run script in " + job_dir.string() +
                                ": set up the job directory first");
    }
    uint64_t key;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return Unavailable(context + ": the executor is shut down");
      if (by_id_.count(job_id) > 0) return AlreadyExists(context + ": already running");
      key = next_key_++;
      by_id_[job_id] = key;  // reserved while spawning
    }
    auto unreserve = [&] {
      std::lock_guard<std::mutex> lock(mu_);
      by_id_.erase(job_id);
      early_kills_.erase(key);
    };

    Result<pid_t> spawned = options.run_as
                                ? SpawnRunScriptAs(job_dir, *options.run_as, options.run_as_env)
                                : SpawnRunScript(job_dir);
    if (!spawned) {
      unreserve();
      return spawned.status().WithContext(context);
    }
    pid_t pid = *spawned;
    auto abandon = [&](Status s, int pidfd) -> Status {
      ::kill(-pid, SIGKILL);
      int st;
      while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
      }
      if (pidfd >= 0) ::close(pidfd);
      unreserve();
      return s.WithContext(context);
    };
    int pidfd = PidfdOpen(pid);
    if (pidfd < 0) return abandon(ErrnoStatus("pidfd_open", errno), -1);
    // Our child, not yet reaped: its /proc entry exists even if it has already exited.
    std::optional<ProcStat> st = ReadProcStat(pid);
    if (!st) return abandon(Internal("cannot read /proc/" + std::to_string(pid) + "/stat"), pidfd);
    Status written = WritePidFile(job_dir, PidRecord{pid, st->start_time});
    if (!written.ok()) return abandon(written, pidfd);

    TimePoint started = clock_.Now();
    auto job = std::make_unique<Job>();
    job->key = key;
    job->id = job_id;
    job->dir = job_dir;
    job->options = options;
    job->pid = pid;
    job->pidfd = pidfd;
    job->own_child = true;
    job->signal_group = true;
    job->timeout_at = TimeoutDeadline(started, options.timeout);
    job->output_check_at = OutputCheckStart(options);

    std::optional<std::string> early_kill;
    Status added;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        // Shut down while spawning: the job runs on unsupervised, like every job after
        // Shutdown(), and a restarted server re-adopts it.
        ::close(pidfd);
        by_id_.erase(job_id);
        return Launched{pid, started};
      }
      added = AddToEpollLocked(*job);
      if (added.ok()) {
        Job& ref = *job;
        jobs_[key] = std::move(job);
        ScheduleLocked(ref);
        auto it = early_kills_.find(key);
        if (it != early_kills_.end()) {
          early_kill = std::move(it->second);
          early_kills_.erase(it);
        }
      }
    }
    if (!added.ok()) return abandon(added, pidfd);
    if (early_kill) (void)BeginKill(key, *early_kill);
    return Launched{pid, started};
  }

  Status Kill(const std::string& job_id, std::string_view reason) override {
    uint64_t key;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = by_id_.find(job_id);
      if (it == by_id_.end()) {
        return NotFound("kill job '" + job_id + "': not running on this node");
      }
      key = it->second;
      if (jobs_.count(key) == 0) {
        // Still spawning: Launch() starts the kill once the job is registered.
        early_kills_.emplace(key, std::string(reason));
        return Status::Ok();
      }
    }
    return BeginKill(key, std::string(reason));
  }

  void Recover(const std::string& job_id, const fs::path& job_dir_in, const LaunchOptions& options,
               TimePoint started) override {
    std::error_code ec;
    fs::path job_dir = fs::absolute(job_dir_in, ec);
    if (ec) job_dir = job_dir_in;
    uint64_t key;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || by_id_.count(job_id) > 0) return;
      key = next_key_++;
      by_id_[job_id] = key;
    }
    std::optional<std::string> reason = ReadKillReason(job_dir);
    if (std::optional<PidRecord> rec = ReadPidFile(job_dir)) {
      std::optional<ProcStat> st = ReadProcStat(rec->pid);
      if (st && st->start_time == rec->start_time) {
        int pidfd = PidfdOpen(rec->pid);
        // Checked again with the pidfd held: the pidfd now pins the process we verified.
        std::optional<ProcStat> st2 = pidfd >= 0 ? ReadProcStat(rec->pid) : std::nullopt;
        if (st2 && st2->start_time == rec->start_time && OwnedByJobDirOwner(rec->pid, job_dir)) {
          auto job = std::make_unique<Job>();
          job->key = key;
          job->id = job_id;
          job->dir = job_dir;
          job->options = options;
          job->pid = rec->pid;
          job->pidfd = pidfd;
          job->own_child = st2->ppid == ::getpid();
          job->signal_group = st2->pgrp == rec->pid;
          job->timeout_at = TimeoutDeadline(started, options.timeout);
          job->output_check_at = OutputCheckStart(options);
          std::optional<std::string> early_kill;
          {
            std::lock_guard<std::mutex> lock(mu_);
            if (stopping_ || !AddToEpollLocked(*job).ok()) {
              ::close(pidfd);
              by_id_.erase(job_id);
              early_kills_.erase(key);
              return;
            }
            Job& ref = *job;
            jobs_[key] = std::move(job);
            if (reason) {
              // The previous server began a kill: finish it.
              ref.kill_reason = reason;
              SignalLocked(ref, SIGTERM);
              ArmSigkillLocked(ref);
            }
            ScheduleLocked(ref);
            auto it = early_kills_.find(key);
            if (it != early_kills_.end()) {
              early_kill = std::move(it->second);
              early_kills_.erase(it);
            }
          }
          if (early_kill) (void)BeginKill(key, *early_kill);
          return;
        }
        if (pidfd >= 0) ::close(pidfd);
      }
    }
    // The run script is gone: its end is in the files (or lost). A kill asked meanwhile makes
    // no difference any more. What may be left of its group is not signalled: with the leader
    // gone, the group id no longer proves that those processes are this job's.
    std::optional<TimePoint> mtime =
        FileMtime(reason ? paths::KillReasonFile(job_dir) : paths::DoneFile(job_dir));
    JobEnd end =
        EndOf(job_id, job_dir, options, reason, std::nullopt, mtime.value_or(clock_.Now()));
    std::lock_guard<std::mutex> lock(mu_);
    by_id_.erase(job_id);
    early_kills_.erase(key);
    if (stopping_) return;
    pending_.push_back(std::move(end));
    WakeLoop();
  }

  size_t RunningCount() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_.size();
  }

  void Shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shut_down_) return;
      shut_down_ = true;
      stopping_ = true;
    }
    WakeLoop();
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, job] : jobs_) {
      if (job->pidfd >= 0) ::close(job->pidfd);
    }
    jobs_.clear();
    by_id_.clear();
    pending_.clear();
    early_kills_.clear();
    watches_.clear();
    ::close(epfd_);
    ::close(evfd_);
    if (infd_ >= 0) ::close(infd_);
  }

 private:
  struct Job {
    uint64_t key = 0;
    std::string id;
    fs::path dir;
    LaunchOptions options;
    pid_t pid = 0;
    int pidfd = -1;
    bool own_child = false;     // waitpid() gives the status
    bool signal_group = false;  // the pid leads its process group: signal -pid
    Steady::time_point timeout_at = kNever;
    Steady::time_point output_check_at = kNever;
    Steady::time_point kill_at = kNever;  // SIGKILL the group (grace over)
    std::optional<std::string> kill_reason;
    // Killed, the run script gone, the rest of the group still running: its grace goes on.
    bool draining = false;
    Steady::time_point drain_check_at = kNever;
    Steady::time_point drain_until = kNever;  // after the SIGKILL: report even if not gone
    Millis drain_poll = kDrainPollMin;
    std::optional<int> wait_status;
    Steady::time_point scheduled = kNever;  // time of its live entry in wakes_
    int watch = -1;                         // inotify watch of the job directory
  };

  using JobMap = std::unordered_map<uint64_t, std::unique_ptr<Job>>;

  struct WakeEntry {
    Steady::time_point at;
    uint64_t key;
    bool operator>(const WakeEntry& o) const { return at > o.at; }
  };

  Steady::time_point TimeoutDeadline(TimePoint started, std::chrono::seconds timeout) const {
    if (timeout.count() <= 0) return kNever;
    // Far-off deadlines are capped so that the arithmetic cannot overflow.
    auto remaining =
        std::min<Millis>(timeout - (clock_.Now() - started), std::chrono::hours(24 * 365 * 100));
    return Steady::now() + remaining;
  }

  static Steady::time_point OutputCheckStart(const LaunchOptions& o) {
    if (o.max_stdout_bytes <= 0 && o.max_stderr_bytes <= 0) return kNever;
    return NextTick(Steady::now(), o.output_check_interval);
  }

  // Also watches the job directory for writes to stdout/stderr when a limit is set.
  Status AddToEpollLocked(Job& job) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = job.key;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, job.pidfd, &ev) != 0) {
      return ErrnoStatus("epoll_ctl", errno);
    }
    const LaunchOptions& o = job.options;
    if (infd_ >= 0 && (o.max_stdout_bytes > 0 || o.max_stderr_bytes > 0)) {
      // The files may not exist yet (the run script creates them): the directory is watched.
      // A failure (inotify's watch limit) leaves the periodic checks and the check at the end.
      job.watch = ::inotify_add_watch(infd_, job.dir.c_str(), IN_MODIFY | IN_ONLYDIR);
      if (job.watch >= 0) watches_[job.watch] = job.key;
    }
    return Status::Ok();
  }

  void UnwatchLocked(Job& job) {
    if (job.watch < 0) return;
    auto it = watches_.find(job.watch);
    if (it != watches_.end() && it->second == job.key) {
      watches_.erase(it);
      ::inotify_rm_watch(infd_, job.watch);
    }
    job.watch = -1;
  }

  // Leaves the epoll set explicitly: close() alone does not while another reference to the
  // file exists, and a concurrent posix_spawn child holds a copy of every descriptor until it
  // closes them; the closed pidfd would go on reporting (level-triggered) and spin the loop.
  void ClosePidfd(int& pidfd) {
    if (pidfd < 0) return;
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, pidfd, nullptr);
    ::close(pidfd);
    pidfd = -1;
  }

  void WakeLoop() {
    uint64_t one = 1;
    ssize_t n = ::write(evfd_, &one, sizeof one);
    (void)n;  // EAGAIN means a wake-up is already pending
  }

  // Puts the job's next deadline on the queue (if it changed) and wakes the loop if that is
  // earlier than what it waits for.
  void ScheduleLocked(Job& job) {
    Steady::time_point next = std::min(job.kill_at, job.drain_check_at);
    if (!job.kill_reason) next = std::min({next, job.timeout_at, job.output_check_at});
    if (next == job.scheduled) return;
    job.scheduled = next;
    if (next == kNever) return;
    wakes_.push(WakeEntry{next, job.key});
    if (next < planned_wake_) WakeLoop();
  }

  void SignalLocked(const Job& job, int sig) {
    if (job.signal_group)
      ::kill(-job.pid, sig);
    else
      PidfdSendSignal(job.pidfd, sig);
  }

  void ArmSigkillLocked(Job& job) {
    if (job.options.kill_grace.count() <= 0) {
      SignalLocked(job, SIGKILL);
      return;
    }
    job.kill_at = Steady::now() + job.options.kill_grace;
  }

  // Records the reason (memory, then genie/kill-reason), then SIGTERM to the group and SIGKILL
  // after the grace. A second kill keeps the first reason.
  Status BeginKill(uint64_t key, std::string reason) {
    fs::path dir;
    std::string id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = jobs_.find(key);
      if (it == jobs_.end()) return NotFound("kill: the job has already ended");
      Job& job = *it->second;
      if (job.kill_reason) return Status::Ok();
      job.kill_reason = reason;
      dir = job.dir;
      id = job.id;
    }
    // Written before any signal, so that a server restarting mid-kill still reports KILLED.
    Status written = WriteKillReason(dir, reason);
    if (!written.ok()) {
      std::fprintf(stderr, "kill job '%s': %s\n", id.c_str(), written.ToString().c_str());
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(key);
    if (it == jobs_.end()) return Status::Ok();  // ended meanwhile, reported KILLED
    Job& job = *it->second;
    SignalLocked(job, SIGTERM);
    ArmSigkillLocked(job);
    ScheduleLocked(job);
    return Status::Ok();
  }

  void Loop() {
    std::array<epoll_event, 256> events;
    std::vector<JobEnd> ends;
    while (true) {
      int timeout_ms = -1;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        DropStaleWakesLocked();
        planned_wake_ = wakes_.empty() ? kNever : wakes_.top().at;
        if (!pending_.empty()) {
          timeout_ms = 0;
        } else if (planned_wake_ != kNever) {
          auto wait = planned_wake_ - Steady::now();
          // Rounded up: waking a little late is fine, early would spin.
          auto ms = std::chrono::ceil<Millis>(wait).count();
          timeout_ms = static_cast<int>(std::clamp<int64_t>(ms, 0, INT_MAX));
        }
      }
      int n = ::epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), timeout_ms);
      if (n < 0 && errno != EINTR) {
        std::fprintf(stderr, "local executor: epoll_wait: %s\n", std::strerror(errno));
        std::abort();
      }
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == kWakeKey) {
          uint64_t count;
          ssize_t r = ::read(evfd_, &count, sizeof count);
          (void)r;
        } else if (events[i].data.u64 == kInotifyKey) {
          HandleOutputWrites();
        } else {
          HandleExit(events[i].data.u64, ends);
        }
      }
      HandleDeadlines(ends);
      Listener listener;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (JobEnd& e : pending_) ends.push_back(std::move(e));
        pending_.clear();
        listener = listener_;
      }
      for (const JobEnd& end : ends) {
        if (!listener) continue;
        try {
          listener(end);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "local executor: listener threw for job '%s': %s\n",
                       end.job_id.c_str(), e.what());
        } catch (...) {
          std::fprintf(stderr, "local executor: listener threw for job '%s'\n", end.job_id.c_str());
        }
      }
      ends.clear();
    }
  }

  void DropStaleWakesLocked() {
    auto stale = [this](const WakeEntry& w) {
      auto it = jobs_.find(w.key);
      return it == jobs_.end() || it->second->scheduled != w.at;
    };
    while (!wakes_.empty() && stale(wakes_.top())) wakes_.pop();
    // Entries of ended jobs wait deep in the heap until their time (a timeout may be a week
    // away): rebuild when they outnumber the live ones.
    if (wakes_.size() > 2 * jobs_.size() + 1024) {
      std::vector<WakeEntry> live;
      for (auto& [key, job] : jobs_) {
        if (job->scheduled != kNever) live.push_back(WakeEntry{job->scheduled, key});
      }
      wakes_ = decltype(wakes_)(std::greater<WakeEntry>(), std::move(live));
    }
  }

  // False once no process of group `pgid` exists but zombies. Only while a kill is in progress.
  // `live_groups` is one /proc pass shared by every draining job of a deadline pass: an orphan's
  // zombie waits for init, which may reap late, and kill(-pgid, 0) counts zombies.
  static bool GroupRunning(pid_t pgid, std::optional<std::unordered_set<pid_t>>& live_groups) {
    // The group's zombies that are our children (when the server is pid 1 or a subreaper).
    // P_PGID cannot reap another module's children: they are in other groups.
    while (true) {
      siginfo_t info{};
      if (::waitid(P_PGID, static_cast<id_t>(pgid), &info, WEXITED | WNOHANG) != 0) break;
      if (info.si_pid == 0) break;
    }
    if (::kill(-pgid, 0) != 0 && errno == ESRCH) return false;
    if (!live_groups) live_groups = GroupsWithLiveMembers();
    return live_groups->count(pgid) > 0;
  }

  static std::optional<int> Reap(pid_t pid) {
    int st = 0;
    pid_t r;
    do {
      r = ::waitpid(pid, &st, 0);
    } while (r < 0 && errno == EINTR);
    if (r == pid) return st;
    return std::nullopt;  // ECHILD: SIGCHLD ignored, reaped by the kernel
  }

  // The run script exited. Normally: SIGKILL what is left of its group, reap, report. When the
  // job is being killed, the rest of the group keeps its grace period (see Drain).
  void HandleExit(uint64_t key, std::vector<JobEnd>& ends) {
    std::unique_ptr<Job> job;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = jobs_.find(key);
      if (it == jobs_.end() || it->second->pidfd < 0) return;
      Job& j = *it->second;
      if (j.kill_reason && j.signal_group) {
        ClosePidfd(j.pidfd);
        if (j.own_child) j.wait_status = Reap(j.pid);
        // Zombies are told apart later, in one /proc pass for all draining jobs.
        if (::kill(-j.pid, 0) == 0 || errno != ESRCH) {
          Steady::time_point now = Steady::now();
          j.draining = true;
          if (j.kill_at == kNever) j.drain_until = now + kDrainAfterSigkill;  // already SIGKILLed
          j.drain_check_at = now + j.drain_poll;
          ScheduleLocked(j);
          return;
        }
        ends.push_back(FinishLocked(it));
        return;
      }
      UnwatchLocked(*it->second);
      job = std::move(it->second);
      jobs_.erase(it);
      by_id_.erase(job->id);
    }
    // Before reaping: the unreaped leader keeps the group id from being reused.
    if (job->signal_group) ::kill(-job->pid, SIGKILL);
    if (job->own_child) job->wait_status = Reap(job->pid);
    ClosePidfd(job->pidfd);
    ends.push_back(
        EndOf(job->id, job->dir, job->options, job->kill_reason, job->wait_status, clock_.Now()));
  }

  // Removes a job whose processes are gone and returns its end.
  JobEnd FinishLocked(JobMap::iterator it) {
    std::unique_ptr<Job> job = std::move(it->second);
    jobs_.erase(it);
    by_id_.erase(job->id);
    UnwatchLocked(*job);
    ClosePidfd(job->pidfd);
    return EndOf(job->id, job->dir, job->options, job->kill_reason, job->wait_status, clock_.Now());
  }

  // Some job wrote to a file of its directory: the jobs that wrote to stdout or stderr have
  // their sizes checked at once, so a fast writer is stopped near its limit, not a tick later.
  void HandleOutputWrites() {
    alignas(inotify_event) char buf[16384];
    std::unordered_set<int> written;
    while (true) {
      ssize_t n = ::read(infd_, buf, sizeof buf);
      if (n <= 0) break;  // EAGAIN: drained
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        p += sizeof(inotify_event) + ev->len;
        if (ev->len == 0 || (ev->mask & IN_MODIFY) == 0) continue;
        std::string_view name(ev->name);
        if (name == "stdout" || name == "stderr") written.insert(ev->wd);
      }
    }
    std::vector<std::pair<uint64_t, std::string>> over;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int wd : written) {
        auto w = watches_.find(wd);
        if (w == watches_.end()) continue;
        auto it = jobs_.find(w->second);
        if (it == jobs_.end() || it->second->kill_reason) continue;
        if (std::optional<std::string> msg = OverLimit(it->second->dir, it->second->options)) {
          over.emplace_back(w->second, std::move(*msg));
        }
      }
    }
    for (auto& [key, msg] : over) (void)BeginKill(key, std::move(msg));
  }

  void HandleDeadlines(std::vector<JobEnd>& ends) {
    struct OutputCheck {
      uint64_t key;
      fs::path dir;
      LaunchOptions options;
    };
    std::vector<uint64_t> timed_out;
    std::vector<OutputCheck> checks;
    std::optional<std::unordered_set<pid_t>> live_groups;
    Steady::time_point now = Steady::now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (!wakes_.empty() && wakes_.top().at <= now) {
        WakeEntry w = wakes_.top();
        wakes_.pop();
        auto it = jobs_.find(w.key);
        if (it == jobs_.end() || it->second->scheduled != w.at) continue;
        Job& job = *it->second;
        job.scheduled = kNever;
        if (job.kill_at <= now) {
          SignalLocked(job, SIGKILL);
          job.kill_at = kNever;
          if (job.draining) {
            job.drain_until = now + kDrainAfterSigkill;
            job.drain_check_at = now;
          }
        }
        if (job.draining && job.drain_check_at <= now) {
          if (!GroupRunning(job.pid, live_groups) || now >= job.drain_until) {
            ends.push_back(FinishLocked(it));
            continue;
          }
          job.drain_poll = std::min(job.drain_poll * 2, kDrainPollMax);
          job.drain_check_at = now + job.drain_poll;
        }
        if (!job.kill_reason && job.timeout_at <= now) {
          timed_out.push_back(job.key);
          job.timeout_at = kNever;
        } else if (!job.kill_reason && job.output_check_at <= now) {
          checks.push_back({job.key, job.dir, job.options});
          job.output_check_at = NextTick(now, job.options.output_check_interval);
        }
        ScheduleLocked(job);
      }
    }
    for (uint64_t key : timed_out) (void)BeginKill(key, std::string(model::kMsgTimeout));
    for (const OutputCheck& c : checks) {
      if (std::optional<std::string> msg = OverLimit(c.dir, c.options)) {
        (void)BeginKill(c.key, std::move(*msg));
      }
    }
  }

  Clock& clock_;
  int epfd_ = -1;
  int evfd_ = -1;
  int infd_ = -1;  // inotify; -1 without it
  std::thread thread_;

  mutable std::mutex mu_;
  Listener listener_;                                      // GUARDED_BY(mu_)
  bool stopping_ = false;                                  // GUARDED_BY(mu_)
  bool shut_down_ = false;                                 // GUARDED_BY(mu_)
  uint64_t next_key_ = 1;                                  // GUARDED_BY(mu_)
  JobMap jobs_;                                            // GUARDED_BY(mu_)
  std::unordered_map<std::string, uint64_t> by_id_;        // GUARDED_BY(mu_), incl. spawning
  std::unordered_map<uint64_t, std::string> early_kills_;  // GUARDED_BY(mu_)
  std::priority_queue<WakeEntry, std::vector<WakeEntry>, std::greater<WakeEntry>>
      wakes_;                                  // GUARDED_BY(mu_)
  Steady::time_point planned_wake_ = kNever;   // GUARDED_BY(mu_)
  std::vector<JobEnd> pending_;                // GUARDED_BY(mu_)
  std::unordered_map<int, uint64_t> watches_;  // GUARDED_BY(mu_): inotify watch → job key
};

}  // namespace

std::unique_ptr<Executor> NewLocalExecutor(Clock& clock) {
  return std::make_unique<LocalExecutor>(clock);
}

}  // namespace weir::exec
