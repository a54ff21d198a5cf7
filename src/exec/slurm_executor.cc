#include "exec/slurm_executor.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "common/fs.h"
#include "common/strings.h"
#include "exec/job_dir.h"
#include "exec/subprocess.h"

extern char** environ;

namespace weir::exec {

namespace fs = std::filesystem;
namespace json = boost::json;
using Steady = std::chrono::steady_clock;

namespace {

// After a kill's grace, how long the batch script has to end the job before plain `scancel`.
constexpr std::chrono::seconds kKillBackstop{5};

fs::path SlurmIdFile(const fs::path& dir) { return paths::GenieDir(dir) / "slurm-job-id"; }
fs::path BatchLog(const fs::path& dir) { return paths::GenieDir(dir) / "logs" / "slurm.out"; }
fs::path BatchScript(const fs::path& dir) { return paths::GenieDir(dir) / "slurm-batch"; }

// The batch script Slurm runs (see slurm_executor.h): the run script, read by a subshell (no
// third bash to start; $0 is still the run script), as a child in the script's process group,
// which Slurm's signals reach as a whole. On SIGTERM the script lives on while other processes
// of its group do, up to the grace period, then SIGKILLs them; after a normal end it SIGKILLs
// what is left at once. Its exit status is the run script's (Slurm's ExitCode).
// The group's members are found by reading each /proc/PID/stat with bash builtins only (a
// pgrep per call was a tenth of the CPU a trivial job costs on a busy node); the fields are cut
// with parameter expansions, which cost half what `set --` word splitting did.
std::string BatchScriptText(const fs::path& dir, std::chrono::milliseconds grace) {
  const long long ticks = std::max<long long>(0, (grace.count() + 99) / 100);
  const std::string run = ShellQuote(paths::RunScript(dir).string());
  return "#!/bin/bash\n"
         "# Slurm batch script of a weir job (exec/slurm_executor.h).\n"
         "trap 'killed=1' TERM\n"
         "read -r s < /proc/$$/stat; s=${s##*) }; s=${s#* }; s=${s#* }; pg=${s%% *}\n"
         // The group's other live processes. After "comm) ": state, ppid, pgrp. Zombies are
         // gone already.
         "others() {\n"
         "  left=()\n"
         "  local f st state\n"
         "  for f in /proc/[0-9]*/stat; do\n"
         "    read -r st <\"$f\" || continue\n"
         "    st=${st##*) }; state=${st%% *}; st=${st#* }; st=${st#* }\n"
         "    [ \"${st%% *}\" = \"$pg\" ] && [ \"$state\" != Z ] && [ \"${f:6:-5}\" != \"$$\" ] && "
         "left+=(\"${f:6:-5}\")\n"
         "  done 2>/dev/null\n"
         "}\n"
         "( BASH_ARGV0=" +
         run + "; . " + run +
         " ) </dev/null &\n"
         "run=$!\n"
         "while true; do wait \"$run\"; rc=$?; kill -0 \"$run\" 2>/dev/null || break; done\n"
         "if [ -n \"$killed\" ]; then\n"
         "  for ((i = 0; i < " +
         std::to_string(ticks) +
         "; i++)); do others; [ ${#left[@]} -eq 0 ] && break; sleep 0.1; done\n"
         "fi\n"
         "others\n"
         "[ ${#left[@]} -eq 0 ] || kill -KILL \"${left[@]}\" 2>/dev/null\n"
         "exit \"$rc\"\n";
}

int64_t SizeOf(const fs::path& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

std::optional<std::string> OverLimit(const fs::path& dir, const LaunchOptions& o) {
  if (o.max_stdout_bytes > 0 && SizeOf(paths::Stdout(dir)) > o.max_stdout_bytes) {
    return OutputLimitMessage(true, o.max_stdout_bytes);
  }
  if (o.max_stderr_bytes > 0 && SizeOf(paths::Stderr(dir)) > o.max_stderr_bytes) {
    return OutputLimitMessage(false, o.max_stderr_bytes);
  }
  return std::nullopt;
}

void TruncateToLimit(const fs::path& p, int64_t limit) {
  if (limit > 0 && SizeOf(p) > limit) (void)::truncate(p.c_str(), limit);
}

bool IsSlurmId(std::string_view s) {
  return !s.empty() && s.size() <= 20 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Slurm's final job states.
bool IsFinalState(std::string_view s) {
  static const std::set<std::string, std::less<>> kFinal = {
      "BOOT_FAIL", "CANCELLED",     "COMPLETED", "DEADLINE",     "FAILED", "NODE_FAIL",
      "PREEMPTED", "OUT_OF_MEMORY", "TIMEOUT",   "SPECIAL_EXIT", "REVOKED"};
  return kFinal.count(s) > 0;
}

// Slurm states of a job that has not started its batch script yet.
bool IsWaitingState(std::string_view s) {
  return s == "PENDING" || s == "CONFIGURING" || s == "REQUEUED" || s == "REQUEUE_HOLD" ||
         s == "REQUEUE_FED" || s == "RESV_DEL_HOLD";
}

struct SlurmView {
  std::string state;  // PENDING, RUNNING, COMPLETED, ...
  std::string partition;
  std::string nodes;
  std::string reason;
};

// `scontrol show job -o ID`'s ExitCode=N:S → N, or 128+S for a signal; nullopt if unknown.
std::optional<int> ExitCodeFromScontrol(const std::string& text) {
  size_t at = text.find(" ExitCode=");
  if (at == std::string::npos) return std::nullopt;
  int code = 0, sig = 0;
  if (std::sscanf(text.c_str() + at + 10, "%d:%d", &code, &sig) < 1) return std::nullopt;
  if (code == 0 && sig != 0) return 128 + sig;
  return code;
}

struct SlurmJob {
  std::string slurm_id;
  fs::path dir;
  LaunchOptions options;
  TimePoint started{};
  Steady::time_point timeout_at{};  // started + timeout, by the injected clock, on steady time
  SlurmView last;                   // as of the last answer
  bool killing = false;             // a kill was asked for (kill_reason)
  bool term_sent = false;           // Slurm took the SIGTERM (the job was running)
  bool term_sending = false;        // a SendTerm is under way (one at a time per job)
  Steady::time_point kill_at{};     // plain scancel after the grace
  bool final_cancel_sent = false;
  std::string kill_reason;
  // Progress told to the progress listener (executor.h): the last waiting message, and whether
  // RUNNING was told.
  std::string told_waiting;
  bool told_running = false;
};

// "Job pending in Slurm partition debug: Resources." (the reason left out when Slurm gives none).
std::string WaitingMessage(const SlurmView& v) {
  std::string state = v.state;
  std::transform(state.begin(), state.end(), state.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string msg = "Job " + state + " in Slurm";
  if (!v.partition.empty()) msg += " partition " + v.partition;
  if (!v.reason.empty() && v.reason != "None") msg += ": " + v.reason;
  return msg + ".";
}

class SlurmExecutor final : public Executor {
 public:
  SlurmExecutor(Clock& clock, SlurmExecutorOptions options)
      : clock_(clock), options_(std::move(options)) {
    if (!options_.slurm_conf.empty()) env_.push_back("SLURM_CONF=" + options_.slurm_conf.string());
    thread_ = std::thread([this] { Loop(); });
  }
  ~SlurmExecutor() override { Shutdown(); }

  void SetListener(Listener listener) override { listener_ = std::move(listener); }
  void SetProgressListener(ProgressListener listener) override { progress_ = std::move(listener); }

  Result<Launched> Launch(const std::string& job_id, const fs::path& job_dir,
                          const LaunchOptions& options) override {
    if (::access(paths::RunScript(job_dir).c_str(), X_OK) != 0) {
      return FailedPrecondition("job '" + job_id + "': no executable run script in " +
                                job_dir.string());
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (jobs_.count(job_id) || launching_.count(job_id)) {
        return AlreadyExists("job '" + job_id + "' is already running");
      }
      launching_.insert(job_id);
    }
    auto done_launching = [&] {
      std::lock_guard<std::mutex> lock(mu_);
      launching_.erase(job_id);
    };
    (void)MakeDirs(paths::GenieDir(job_dir) / "logs");
    if (Status st =
            WriteFileAtomic(BatchScript(job_dir), BatchScriptText(job_dir, options.kill_grace));
        !st.ok()) {
      done_launching();
      return st.WithContext("write the Slurm batch script");
    }
    std::vector<std::string> argv = {"sbatch",
                                     "--parsable",
                                     "--job-name=" + job_id,
                                     "--chdir=" + job_dir.string(),
                                     "--output=" + BatchLog(job_dir).string(),
                                     "--error=" + BatchLog(job_dir).string()};
    const int64_t secs = std::max<int64_t>(1, options.timeout.count());
    argv.push_back("--time=" + std::to_string((secs + 59) / 60 + 1));
    // sbatch runs with only the server variables jobs may receive (and SLURM_CONF), and passes
    // them on (--export=ALL: a variable list or NONE makes slurmd load a login environment, ~4 s
    // per job).
    std::vector<std::string> job_env = env_;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view entry(*e);
      std::string_view name = entry.substr(0, entry.find('='));
      if (name.rfind("SLURM_", 0) == 0) continue;
      for (const std::string& allow : options.run_as_env) {
        bool match = !allow.empty() && allow.back() == '*'
                         ? name.rfind(std::string_view(allow).substr(0, allow.size() - 1), 0) == 0
                         : name == allow;
        if (match) {
          job_env.emplace_back(entry);
          break;
        }
      }
    }
    argv.push_back("--export=ALL");
    // Slurm must not run the script a second time in the same folder after a node failure:
    // the job ends (NODE_FAIL) and weir reports it. A site's sbatch_args may still say --requeue.
    argv.push_back("--no-requeue");
    if (options.slurm) {
      const SlurmSubmit& s = *options.slurm;
      if (!s.partition.empty()) argv.push_back("--partition=" + s.partition);
      if (!s.account.empty()) argv.push_back("--account=" + s.account);
      if (!s.qos.empty()) argv.push_back("--qos=" + s.qos);
      if (s.memory_mb) argv.push_back("--mem=" + std::to_string(*s.memory_mb));
      for (const std::string& a : s.sbatch_args) argv.push_back(a);
    }
    argv.push_back(BatchScript(job_dir).string());
    const TimePoint started = clock_.Now();
    auto r = RunTool(argv, job_env, options_.tool_timeout, /*inherit_environment=*/false);
    if (!r.ok()) {
      done_launching();
      return r.status().WithContext("sbatch");
    }
    std::string out = r->out;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    // --parsable: "ID" or "ID;cluster".
    std::string slurm_id = out.substr(0, out.find(';'));
    if (r->exit_code != 0 || !IsSlurmId(slurm_id)) {
      done_launching();
      std::string err = r->err;
      while (!err.empty() && err.back() == '\n') err.pop_back();
      return Unavailable("sbatch failed (exit " + std::to_string(r->exit_code) +
                         "): " + (err.empty() ? out : err));
    }
    Status written = WriteFileAtomic(SlurmIdFile(job_dir), slurm_id + "\n");
    if (!written.ok())
      spdlog::error("job {}: record Slurm job id {}: {}", job_id, slurm_id, written.ToString());
    SlurmJob j;
    j.slurm_id = slurm_id;
    j.dir = job_dir;
    j.options = options;
    j.started = started;
    j.timeout_at = Steady::now() + options.timeout;
    j.last.state = "PENDING";
    {
      std::lock_guard<std::mutex> lock(mu_);
      launching_.erase(job_id);
      jobs_.emplace(job_id, std::move(j));
    }
    cv_.notify_all();
    std::string waiting = "Job submitted to Slurm as job " + slurm_id;
    if (options.slurm && !options.slurm->partition.empty()) {
      waiting += " (partition " + options.slurm->partition + ")";
    }
    return Launched{.pid = 0,
                    .started = started,
                    .slurm_job_id = slurm_id,
                    .running = false,
                    .status_msg = waiting + "."};
  }

  Status Kill(const std::string& job_id, std::string_view reason) override {
    return StartKill(job_id, std::string(reason), Steady::now());
  }

  void Recover(const std::string& job_id, const fs::path& job_dir, const LaunchOptions& options,
               TimePoint started) override {
    std::optional<std::string> slurm_id = ReadSlurmJobId(job_dir);
    if (!slurm_id) {
      // Never reached Slurm (or the id was lost): what the folder says, else lost.
      Report(EndFromFiles(job_id, job_dir, options, "", std::nullopt));
      return;
    }
    SlurmJob j;
    j.slurm_id = *slurm_id;
    j.dir = job_dir;
    j.options = options;
    j.started = started;
    j.timeout_at = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                       started + options.timeout - clock_.Now());
    j.last.state = "UNKNOWN";
    if (auto reason = ReadKillReason(job_dir)) {
      // Killed before the restart: finish the kill (the reconciler sends what is missing).
      j.killing = true;
      j.kill_reason = *reason;
      j.kill_at = Steady::now() + options.kill_grace + kKillBackstop;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (jobs_.count(job_id)) return;
      jobs_.emplace(job_id, std::move(j));
    }
    cv_.notify_all();
  }

  size_t RunningCount() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_.size();
  }

  void Shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  Result<ToolOutput> Tool(std::vector<std::string> argv) {
    return RunTool(argv, env_, options_.tool_timeout);
  }

  Status StartKill(const std::string& job_id, std::string reason, Steady::time_point now) {
    std::string slurm_id;
    fs::path dir;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = jobs_.find(job_id);
      if (it == jobs_.end()) return NotFound("job '" + job_id + "' is not running here");
      SlurmJob& j = it->second;
      if (j.killing) return Status::Ok();
      j.killing = true;
      j.kill_reason = reason;
      // The batch script SIGKILLs the job's processes after the grace; this is the backstop.
      j.kill_at = now + j.options.kill_grace + kKillBackstop;
      slurm_id = j.slurm_id;
      dir = j.dir;
    }
    if (!ReadKillReason(dir)) {
      Status st = WriteKillReason(dir, reason);
      if (!st.ok()) spdlog::error("job {}: kill reason: {}", job_id, st.ToString());
    }
    SendTerm(job_id, slurm_id);
    cv_.notify_all();
    return Status::Ok();
  }

  // SIGTERM to every process of the job, or, for a job still pending, its removal from the queue.
  // What this server last saw of the job's state may be old (it can have started since the last
  // tick), so the state is not guessed: the signal goes first; when Slurm refuses it (the job is
  // not running), the job is cancelled only if it is still PENDING (`scancel --state=PENDING`), so
  // a job that started meanwhile never loses its grace. Until a signal is delivered, each tick
  // tries again; a cancelled pending job shows up final on the next tick. A failed call (slurmctld
  // away) is retried the same way.
  // One at a time per job: a tick that comes while the kill's own `scancel` is still under way
  // must not signal again (a second SIGTERM reaches the command in its clean-up, and the batch
  // script in its grace loop).
  void SendTerm(const std::string& job_id, const std::string& slurm_id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = jobs_.find(job_id);
      if (it == jobs_.end() || it->second.term_sending || it->second.term_sent) return;
      it->second.term_sending = true;
    }
    auto r = Tool({"scancel", "--full", "--signal=TERM", slurm_id});
    const bool delivered = r.ok() && r->exit_code == 0;
    if (!delivered) {
      auto p = Tool({"scancel", "--state=PENDING", slurm_id});
      if (!p.ok() || p->exit_code != 0) {
        spdlog::warn("job {}: scancel of Slurm job {}: {}", job_id, slurm_id,
                     p.ok() ? p->err : p.status().ToString());
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return;
    it->second.term_sending = false;
    if (delivered) it->second.term_sent = true;
  }

  void Report(const JobEnd& end) {
    if (listener_) listener_(end);
  }

  // Tells the progress listener what changed since the last tick (executor.h, "Progress"):
  // a new waiting message while Slurm has not started the job, RUNNING (with the node) once.
  // `j` is the reconciler's snapshot; the live entry is updated too.
  void TellProgress(const std::string& id, SlurmJob& j, const SlurmView& v) {
    if (j.told_running) return;
    JobProgress p;
    p.job_id = id;
    if (IsWaitingState(v.state)) {
      p.message = WaitingMessage(v);
      if (p.message == j.told_waiting) return;
      j.told_waiting = p.message;
    } else {
      p.running = true;
      p.host = v.nodes;
      j.told_running = true;
    }
    p.at = clock_.Now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = jobs_.find(id);
      if (it == jobs_.end()) return;
      it->second.told_waiting = j.told_waiting;
      it->second.told_running = j.told_running;
    }
    if (progress_) progress_(p);
  }

  // The end of a job that Slurm says is over (state `state`, "" when Slurm does not know it).
  JobEnd EndFromFiles(const std::string& job_id, const fs::path& dir, const LaunchOptions& o,
                      const std::string& state, std::optional<std::string> slurm_id) {
    JobEnd end;
    end.job_id = job_id;
    end.finished = clock_.Now();
    std::optional<std::string> reason = ReadKillReason(dir);
    if (!reason) reason = OverLimit(dir, o);
    TruncateToLimit(paths::Stdout(dir), o.max_stdout_bytes);
    TruncateToLimit(paths::Stderr(dir), o.max_stderr_bytes);
    end.stdout_size = SizeOf(paths::Stdout(dir));
    end.stderr_size = SizeOf(paths::Stderr(dir));
    if (reason) {
      end.status = model::JobStatus::kKilled;
      end.status_msg = *reason;
      end.exit_code = model::kExitKilled;
      return end;
    }
    const std::string named = " (Slurm job " + slurm_id.value_or("?") + ", state " + state + ")";
    std::optional<int> code = ReadDoneExitCode(dir);
    // A cancel in Slurm signals the batch script, which may still record the command's exit (143
    // after SIGTERM): Slurm's state names why it ended.
    const bool ended_by_slurm =
        state == "TIMEOUT" || state == "CANCELLED" || state == "PREEMPTED" || state == "DEADLINE";
    if (code && *code != 0 && state == "CANCELLED") code.reset();
    if (code) {
      end.exit_code = *code;
      end.status = *code == 0 ? model::JobStatus::kSucceeded : model::JobStatus::kFailed;
      end.status_msg = std::string(*code == 0 ? model::kMsgSucceeded : model::kMsgFailed);
      if (state == "OUT_OF_MEMORY" || state == "NODE_FAIL" || state == "TIMEOUT" ||
          state == "PREEMPTED") {
        end.status = model::JobStatus::kFailed;
        end.status_msg = "Job failed: Slurm reports " + state + named + ".";
      }
      return end;
    }
    if (ended_by_slurm) {
      end.status = model::JobStatus::kKilled;
      end.exit_code = model::kExitKilled;
      end.status_msg = state == "TIMEOUT"     ? "Job was killed by Slurm: it reached its time limit"
                       : state == "CANCELLED" ? "Job was cancelled in Slurm, not by weir"
                       : state == "PREEMPTED" ? "Job was preempted by Slurm"
                                              : "Job was killed by Slurm: deadline passed";
      end.status_msg += named + ".";
      return end;
    }
    if (state == "NODE_FAIL" || state == "BOOT_FAIL") {
      end.status = model::JobStatus::kFailed;
      end.exit_code = model::kExitNodeLost;
      end.status_msg = "Job failed: its Slurm node failed" + named + ".";
      return end;
    }
    if (!state.empty() && slurm_id) {
      // Ended without genie.done (a set-up file that called exit, a signal): Slurm's exit code.
      auto r = Tool({"scontrol", "show", "job", "-o", *slurm_id});
      std::optional<int> code;
      if (r.ok() && r->exit_code == 0) code = ExitCodeFromScontrol(r->out);
      end.exit_code = code.value_or(model::kExitNodeLost);
      end.status = end.exit_code == 0 ? model::JobStatus::kSucceeded : model::JobStatus::kFailed;
      end.status_msg = std::string(end.exit_code == 0 ? model::kMsgSucceeded : model::kMsgFailed);
      if (state == "OUT_OF_MEMORY") {
        end.status = model::JobStatus::kFailed;
        end.status_msg = "Job failed: it ran out of memory" + named + ".";
      }
      return end;
    }
    end.status = model::JobStatus::kFailed;
    end.exit_code = model::kExitNodeLost;
    end.status_msg = std::string(kMsgProcessLost);
    if (slurm_id) end.status_msg += " Slurm no longer knows job " + *slurm_id + ".";
    return end;
  }

  // One `squeue` for all of this user's jobs: id → view. nullopt when Slurm did not answer.
  std::optional<std::unordered_map<std::string, SlurmView>> QueryAll() {
    auto r = Tool({"squeue", "--me", "-h", "-t", "all", "-o", "%i|%T|%P|%N|%r"});
    if (!r.ok() || r->exit_code != 0) {
      if (!controller_down_) {
        spdlog::warn("slurm: squeue did not answer ({}); retrying every {} ms",
                     r.ok() ? r->err : r.status().ToString(), options_.poll_interval.count());
      }
      controller_down_ = true;
      return std::nullopt;
    }
    if (controller_down_) spdlog::info("slurm: squeue answers again");
    controller_down_ = false;
    std::unordered_map<std::string, SlurmView> out;
    std::istringstream in(r->out);
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f;
      size_t start = 0;
      for (int i = 0; i < 4; ++i) {
        size_t bar = line.find('|', start);
        if (bar == std::string::npos) break;
        f.push_back(line.substr(start, bar - start));
        start = bar + 1;
      }
      if (f.size() != 4) continue;
      f.push_back(line.substr(start));
      out[f[0]] = SlurmView{f[1], f[2], f[3], f[4]};
    }
    return out;
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      if (jobs_.empty()) {
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        continue;
      }
      lock.unlock();
      Tick();
      lock.lock();
      cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
    }
  }

  void Tick() {
    std::map<std::string, SlurmJob> snapshot;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, j] : jobs_) snapshot.emplace(id, j);
    }
    auto views = QueryAll();
    // Without an answer nothing is decided: no end, and kills and timeouts wait for the next
    // tick (a scancel now would only block the loop until its deadline).
    if (!views) return;
    const Steady::time_point now = Steady::now();
    for (auto& [id, j] : snapshot) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
      }
      std::optional<SlurmView> view;
      if (auto it = views->find(j.slurm_id); it != views->end()) view = it->second;
      const std::string state = view ? view->state : "";
      if (!view || IsFinalState(state)) {
        JobEnd end = EndFromFiles(id, j.dir, j.options, state, j.slurm_id);
        // It ran between two ticks: RUNNING comes before its end.
        if (!j.told_running &&
            ((view && !view->nodes.empty()) || ReadDoneExitCode(j.dir).has_value())) {
          TellProgress(id, j, SlurmView{"RUNNING", "", view ? view->nodes : "", ""});
        }
        bool ours = false;
        {
          std::lock_guard<std::mutex> lock(mu_);
          ours = jobs_.erase(id) > 0;
        }
        if (ours) Report(end);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = jobs_.find(id);
        if (it != jobs_.end()) it->second.last = *view;
        j.last = *view;
      }
      TellProgress(id, j, *view);
      if (!j.killing) {
        if (now >= j.timeout_at) {
          (void)StartKill(id, std::string(model::kMsgTimeout), now);
        } else if (std::optional<std::string> over = OverLimit(j.dir, j.options)) {
          (void)StartKill(id, *over, now);
        }
        continue;
      }
      if (!j.term_sent) {
        SendTerm(id, j.slurm_id);
      } else if (!j.final_cancel_sent && now >= j.kill_at) {
        auto r = Tool({"scancel", j.slurm_id});
        if (r.ok() && r->exit_code == 0) {
          std::lock_guard<std::mutex> lock(mu_);
          auto it = jobs_.find(id);
          if (it != jobs_.end()) it->second.final_cancel_sent = true;
        }
      }
    }
  }

  Clock& clock_;
  SlurmExecutorOptions options_;
  std::vector<std::string> env_;
  Listener listener_;
  ProgressListener progress_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, SlurmJob> jobs_;
  std::set<std::string> launching_;
  bool stopping_ = false;
  bool controller_down_ = false;  // reconciler thread only
  std::thread thread_;
};

}  // namespace

std::optional<std::string> ReadSlurmJobId(const fs::path& job_dir) {
  auto text = ReadFile(SlurmIdFile(job_dir));
  if (!text.ok()) return std::nullopt;
  std::string id = *text;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  if (!IsSlurmId(id)) return std::nullopt;
  return id;
}

Result<std::optional<SlurmSubmit>> SlurmSubmitFor(const model::ConfigEntity& cluster) {
  if (cluster.metadata_json.empty()) return std::optional<SlurmSubmit>();
  boost::system::error_code ec;
  json::value v = json::parse(cluster.metadata_json, ec);
  if (ec || !v.is_object()) return std::optional<SlurmSubmit>();
  const json::object& o = v.as_object();
  const json::value* executor = o.if_contains("executor");
  if (executor == nullptr || !executor->is_string() || executor->as_string() != "slurm") {
    return std::optional<SlurmSubmit>();
  }
  SlurmSubmit s;
  const json::value* slurm = o.if_contains("slurm");
  if (slurm != nullptr && !slurm->is_null()) {
    if (!slurm->is_object()) return InvalidArgument("cluster metadata.slurm: not an object");
    const json::object& so = slurm->as_object();
    for (auto [name, field] : {std::pair{"partition", &s.partition},
                               std::pair{"account", &s.account}, std::pair{"qos", &s.qos}}) {
      const json::value* f = so.if_contains(name);
      if (f == nullptr || f->is_null()) continue;
      if (!f->is_string()) {
        return InvalidArgument(std::string("cluster metadata.slurm.") + name + ": not a string");
      }
      *field = std::string(f->as_string());
    }
    if (const json::value* a = so.if_contains("sbatch_args"); a != nullptr && !a->is_null()) {
      if (!a->is_array()) {
        return InvalidArgument("cluster metadata.slurm.sbatch_args: not an array of strings");
      }
      for (const json::value& e : a->as_array()) {
        if (!e.is_string()) {
          return InvalidArgument("cluster metadata.slurm.sbatch_args: not an array of strings");
        }
        s.sbatch_args.emplace_back(e.as_string());
      }
    }
  }
  return std::optional<SlurmSubmit>(std::move(s));
}

std::unique_ptr<Executor> NewSlurmExecutor(Clock& clock, SlurmExecutorOptions options) {
  return std::make_unique<SlurmExecutor>(clock, std::move(options));
}

}  // namespace weir::exec
