// The DAG runner: one Tick reads the state of running jobs, admits waiting instances by their
// run strategy, reserves and submits ready steps, retries failed ones with backoff, and finishes
// instances. Also Stop and Restart. A tick's leadership (and a new lead's catch-up) is in
// runner_catch_up.cc, the kills of stopped steps' jobs in runner_kill.cc.
//
// A step's launch is two-phase so that a crash never runs it twice: under `mu`, in a committed
// transaction, the step gets its job id (a new UUID) and an attempt row (SUBMITTING); then,
// without `mu`, the job is submitted under that id; then the step is marked submitted. A crash
// in between leaves a RUNNING, not-submitted step whose id is submitted again by the next tick
// (kAlreadyExists from the job service means the first submission got through: adopt it).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <functional>

#include "common/ids.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "metrics/weir_metrics.h"
#include "scheduler/scheduler_internal.h"
#include "scheduler/trigger_rules.h"
#include "workflow/render.h"

namespace weir::scheduler {

namespace {

namespace json = boost::json;

constexpr std::string_view kBundleFilePrefix = "bundle://files/";

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The characters of an encoded bundle file name (see workflow::FileUri).
bool IsBundleNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '~' ||
         c == '-' || c == '%';
}

// Rewrites every bundle://files/<sha256>/<name> in `text` to a URI the job service fetches (named
// <name>); the rewritten URIs are appended to `found` when given. The first failure is kept in
// `error` (the text is then returned unchanged at that place).
std::string MapBundleUris(std::string_view text, BundleBlobs& blobs,
                          std::vector<std::string>* found, Status& error) {
  std::string out;
  size_t i = 0;
  while (true) {
    size_t p = text.find(kBundleFilePrefix, i);
    if (p == std::string_view::npos) break;
    size_t sha_at = p + kBundleFilePrefix.size();
    std::string_view sha = text.substr(sha_at, 64);
    if (!IsHex64(sha) || sha_at + 64 >= text.size() || text[sha_at + 64] != '/') {
      out.append(text.substr(i, sha_at - i));
      i = sha_at;
      continue;
    }
    // The name is what workflow::FileUri wrote: unreserved characters and %XX escapes only,
    // so it ends at the first other character (a shell's `)` or `;`, a quote, a space).
    size_t name_at = sha_at + 65;
    size_t end = name_at;
    while (end < text.size() && IsBundleNameChar(text[end])) ++end;
    Result<std::string> uri = blobs.FileUri(sha, text.substr(name_at, end - name_at));
    out.append(text.substr(i, p - i));
    if (uri.ok()) {
      out.append(*uri);
      if (found) found->push_back(*uri);
    } else {
      if (error.ok()) error = uri.status();
      out.append(text.substr(p, end - p));
    }
    i = end;
  }
  out.append(text.substr(i));
  return out;
}

// A dependency keeps its asset's file name in the job folder: every asset URI of the manifest
// that has a file_name becomes bundle://files/<sha256>/<file_name>, which MapBundleUris then
// turns into a URI whose last segment is that name (a job's file is named after it).
std::string NameAssetUris(std::string text, const workflow::BundleManifest& manifest) {
  for (const workflow::BundleAsset& a : manifest.assets) {
    if (a.file_name.empty() || a.uri.empty() || !IsHex64(a.sha256)) continue;
    const std::string named = workflow::FileUri(a.sha256, a.file_name);
    for (size_t at = text.find(a.uri); at != std::string::npos;
         at = text.find(a.uri, at + named.size())) {
      text.replace(at, a.uri.size(), named);
    }
  }
  return text;
}

int64_t BackoffMillis(const workflow::Backoff& b, int failed_attempts) {
  double seconds = static_cast<double>(b.initial_seconds) *
                   std::pow(std::max(1.0, b.multiplier), std::max(0, failed_attempts - 1));
  seconds = std::min(seconds, static_cast<double>(std::max<int64_t>(b.max_seconds, 0)));
  seconds = std::max(seconds, 0.0);
  return static_cast<int64_t>(seconds * 1000.0);
}

std::string Iso(int64_t ms) { return FormatIso8601(FromEpochMillis(ms)); }

void AddUnique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

// A refusal that no retry can change (HTTP 412 / 400 from the job service).
bool IsConfigurationError(const Status& s) {
  return s.code() == StatusCode::kFailedPrecondition || s.code() == StatusCode::kInvalidArgument;
}

struct RunningStep {
  std::string deployed_id;
  int64_t instance = 0;
  std::string step;
  std::string job_id;
  Result<StepJobState> state = InvalidArgument("unset");
};

}  // namespace

Result<model::JobRequest> Scheduler::Impl::BuildRequest(const LoadedVersion& v,
                                                        const InstanceRow& inst, const StepRow& s) {
  const workflow::JobTemplate* j = v.wf.FindJob(s.step);
  if (j == nullptr) {
    return Internal("step '" + s.step + "': not in version " + std::to_string(v.version));
  }
  const Params& p = inst.params;
  Status mapping;  // the first bundle file that could not be mapped
  auto sub = [&](const std::string& text, std::vector<std::string>* found = nullptr) {
    return MapBundleUris(NameAssetUris(Substitute(text, p), v.manifest), *blobs, found, mapping);
  };
  model::JobRequest r;
  r.id = s.job_id.value_or("");
  // The default name carries the environment ("prod:etl.extract") so job lists tell a branch
  // deployment's jobs from production's.
  r.name = sub(j->name.empty() ? v.manifest.environment + ":" + v.wf.id + "." + j->id : j->name);
  r.user = std::string(Trim(v.deployer));
  if (r.user.empty()) r.user = options.job_user;
  r.version = std::to_string(v.version);
  r.description = "workflow " + inst.deployed_id + " instance " + std::to_string(inst.number) +
                  " step " + j->id + " attempt " + std::to_string(s.attempts) + " (version " +
                  std::to_string(v.version) + ", bundle " + v.bundle_id + ")";
  json::object meta;
  meta["weir.workflow"] = inst.deployed_id;
  meta["weir.instance"] = inst.number;
  meta["weir.run"] = inst.run;
  meta["weir.step"] = j->id;
  meta["weir.attempt"] = s.attempts;
  meta["weir.version"] = v.version;
  meta["weir.bundle"] = v.bundle_id;
  r.metadata_json = json::serialize(meta);
  for (const std::string& t : j->tags) r.tags.push_back(sub(t));
  for (const std::string& c : j->command) r.command_criteria.push_back(sub(c));
  for (const auto& criterion : j->cluster) {
    model::ClusterCriteria cc;
    for (const std::string& t : criterion) cc.tags.push_back(sub(t));
    r.cluster_criterias.push_back(std::move(cc));
  }
  // URIs the command line mentions: bundle files (mapped) and assets of the bundle.
  std::vector<std::string> mentioned;
  std::string command_line;
  if (!j->command_args.empty()) {
    r.command_args = sub(j->command_args, &mentioned);
    command_line += *r.command_args;
  }
  for (const std::string& a : j->args) {
    r.command_arguments.push_back(sub(a, &mentioned));
    command_line += "\n" + r.command_arguments.back();
  }
  for (const workflow::BundleAsset& a : v.manifest.assets) {
    if (!a.uri.empty() && command_line.find(a.uri) != std::string::npos) mentioned.push_back(a.uri);
  }
  for (const std::string& d : j->dependencies) AddUnique(r.dependencies, sub(d));
  for (const std::string& c : j->configs) AddUnique(r.configs, sub(c));
  if (j->setup_file) r.setup_file = sub(*j->setup_file);
  for (const std::string& m : mentioned) {
    bool elsewhere = std::find(r.configs.begin(), r.configs.end(), m) != r.configs.end() ||
                     (r.setup_file && *r.setup_file == m);
    if (!elsewhere) AddUnique(r.dependencies, m);
  }
  r.timeout = j->timeout_seconds;
  if (j->memory_mb) r.memory = static_cast<int>(*j->memory_mb);
  r.grouping = inst.deployed_id;
  r.grouping_instance = InstanceId(inst.deployed_id, inst.number);
  WEIR_RETURN_IF_ERROR(mapping.WithContext("step '" + j->id + "'"));
  WEIR_RETURN_IF_ERROR(model::Validate(r).WithContext("step '" + j->id + "' job request"));
  return r;
}

void Scheduler::Impl::FailAttempt(const LoadedVersion& v, StepRow& s, const std::string& message,
                                  int64_t now_ms) {
  const workflow::JobTemplate* j = v.wf.FindJob(s.step);
  const int retries = j ? j->retries : 0;
  s.submitted = false;
  if (s.attempts <= retries) {
    int64_t at = now_ms + BackoffMillis(j->backoff, s.attempts);
    s.status = StepStatus::kWaitingRetry;
    s.not_before_ms = at;
    metrics::Weir().workflow_step_retries.With({}).Inc();
    s.message = "attempt " + std::to_string(s.attempts) + " of " + std::to_string(retries + 1) +
                " failed: " + message + "; retrying at " + Iso(at);
  } else {
    s.status = StepStatus::kFailed;
    s.not_before_ms.reset();
    s.finished_ms = now_ms;
    s.message = s.attempts > 1
                    ? "failed after " + std::to_string(s.attempts) + " attempts: " + message
                    : message;
  }
}

Status Scheduler::Impl::StopLocked(InstanceRow& row, std::string_view message, int64_t now_ms,
                                   std::vector<PendingKill>& kills) {
  WEIR_ASSIGN_OR_RETURN(std::vector<StepRow> steps, LoadSteps(row.deployed_id, row.number));
  for (StepRow& s : steps) {
    const bool running = s.status == StepStatus::kRunning;
    if (running && s.job_id) {
      kills.push_back({*s.job_id, std::string(message)});
      if (s.submitted) {
        // Its job may run on any node: the kill is asked here and by every node's KillPass, and
        // the attempt shows the job's real end once the leader reads it (RecordKilledEnds).
        WEIR_RETURN_IF_ERROR(FinishAttempt(*s.job_id, "KILLING", message, std::nullopt));
      } else {
        // Not accepted by the job service yet: the submitter kills what its submission created.
        WEIR_RETURN_IF_ERROR(FinishAttempt(*s.job_id, "KILLED", message, now_ms));
      }
    }
    if (running || s.status == StepStatus::kPending || s.status == StepStatus::kWaitingRetry) {
      s.status = StepStatus::kStopped;
      s.submitted = false;
      s.not_before_ms.reset();
      if (running) s.finished_ms = now_ms;
      s.message = std::string(message);
      WEIR_RETURN_IF_ERROR(SaveStep(row.deployed_id, row.number, s));
    }
  }
  return EndInstance(row, InstanceStatus::kStopped, std::string(message), now_ms);
}

Status Scheduler::Impl::StartInstance(InstanceRow& r, int64_t now_ms) {
  r.status = InstanceStatus::kRunning;
  metrics::Weir().workflow_instances.With({"RUNNING"}).Inc();
  r.started_ms = now_ms;
  return SaveInstance(r, now_ms);
}

Status Scheduler::Impl::EndInstance(InstanceRow& r, InstanceStatus status, std::string message,
                                    int64_t now_ms) {
  r.status = status;
  metrics::Weir().workflow_instances.With({std::string(InstanceStatusName(status))}).Inc();
  r.message = std::move(message);
  r.finished_ms = now_ms;
  return SaveInstance(r, now_ms);
}

Status Scheduler::Impl::StepPass(InstanceRow& r, int64_t now_ms,
                                 std::vector<PendingLaunch>& launches) {
  Result<std::shared_ptr<const LoadedVersion>> vr = LoadVersion(r.deployed_id, r.version);
  if (!vr.ok()) {
    WEIR_RETURN_IF_ERROR(EndInstance(r, InstanceStatus::kFailed, vr.status().message(), now_ms));
    return Status::Ok();
  }
  const LoadedVersion& v = **vr;
  WEIR_ASSIGN_OR_RETURN(std::vector<StepRow> steps, LoadSteps(r.deployed_id, r.number));
  auto rule_of = [&](const StepRow& s) {
    const workflow::JobTemplate* j = v.wf.FindJob(s.step);
    return j ? j->trigger_rule : workflow::TriggerRule::kAllSuccess;
  };
  // The verdict of each PENDING step's trigger rule; steps that can never run are given their
  // final state at once (repeated until nothing changes: one may decide its downstream steps).
  std::map<std::string, RuleVerdict> verdict;
  auto judge = [&]() -> Status {
    bool changed = true;
    while (changed) {
      changed = false;
      verdict.clear();
      std::map<std::string, const StepRow*> by_id;
      for (const StepRow& s : steps) by_id[s.step] = &s;
      for (StepRow& s : steps) {
        if (s.status != StepStatus::kPending) continue;
        const workflow::JobTemplate* j = v.wf.FindJob(s.step);
        std::vector<StepStatus> up;
        std::string failed_up, skipped_up;
        for (const std::string& id : j ? j->depends_on : std::vector<std::string>{}) {
          auto it = by_id.find(id);
          StepStatus st = it == by_id.end() ? StepStatus::kPending : it->second->status;
          up.push_back(st);
          if ((st == StepStatus::kFailed || st == StepStatus::kUpstreamFailed) &&
              failed_up.empty()) {
            failed_up = id;
          }
          if (st == StepStatus::kSkipped && skipped_up.empty()) skipped_up = id;
        }
        const workflow::TriggerRule rule = rule_of(s);
        const RuleVerdict d = JudgeTriggerRule(rule, up);
        verdict[s.step] = d;
        if (d != RuleVerdict::kUpstreamFailed && d != RuleVerdict::kSkipped) continue;
        const std::string why =
            " (trigger_rule " + std::string(workflow::TriggerRuleName(rule)) + ")";
        if (d == RuleVerdict::kUpstreamFailed) {
          s.status = StepStatus::kUpstreamFailed;
          s.message = failed_up.empty() ? "not run: no upstream step succeeded" + why
                                        : "not run: upstream step '" + failed_up + "' failed" + why;
        } else {
          s.status = StepStatus::kSkipped;
          s.message = skipped_up.empty()
                          ? "skipped: no upstream step failed" + why
                          : "skipped: upstream step '" + skipped_up + "' was skipped" + why;
        }
        s.finished_ms = now_ms;
        WEIR_RETURN_IF_ERROR(SaveStep(r.deployed_id, r.number, s));
        changed = true;
      }
    }
    return Status::Ok();
  };
  // Airflow semantics: a failure decides only the steps downstream of it (UPSTREAM_FAILED by
  // their rules); every step that does not depend on it, and every retry of such a step, still
  // runs. The instance ends once nothing can run any more: SUCCEEDED when every step succeeded
  // or was skipped, else FAILED.
  WEIR_RETURN_IF_ERROR(judge());
  for (StepRow& s : steps) {
    bool ready = false;
    if (s.status == StepStatus::kPending) {
      ready = verdict[s.step] == RuleVerdict::kReady;
    } else if (s.status == StepStatus::kWaitingRetry) {
      ready = s.not_before_ms.value_or(0) <= now_ms;
    }
    if (ready) {
      s.attempts += 1;
      s.job_id = NewUuid();
      s.status = StepStatus::kRunning;
      s.submitted = false;
      s.not_before_ms.reset();
      if (!s.started_ms) s.started_ms = now_ms;
      s.finished_ms.reset();
      s.message.clear();
      WEIR_RETURN_IF_ERROR(SaveStep(r.deployed_id, r.number, s));
      WEIR_RETURN_IF_ERROR(
          InsertAttempt(r.deployed_id, r.number, s.step, r.run, s.attempts, *s.job_id, now_ms));
    }
    if (s.status == StepStatus::kRunning && !s.submitted && s.not_before_ms.value_or(0) <= now_ms) {
      PendingLaunch l;
      l.deployed_id = r.deployed_id;
      l.instance = r.number;
      l.step = s.step;
      l.job_id = *s.job_id;
      l.request = BuildRequest(v, r, s);
      launches.push_back(std::move(l));
    }
  }
  const bool all_done = std::all_of(steps.begin(), steps.end(), [](const StepRow& s) {
    return s.status == StepStatus::kSucceeded || s.status == StepStatus::kSkipped;
  });
  // PENDING steps left here wait for a live step (a PENDING step whose upstream steps all ended
  // was decided by judge() or has just started).
  const bool any_live = std::any_of(steps.begin(), steps.end(), [](const StepRow& s) {
    return s.status == StepStatus::kRunning || s.status == StepStatus::kWaitingRetry;
  });
  if (all_done) {
    const auto skipped = std::count_if(steps.begin(), steps.end(), [](const StepRow& s) {
      return s.status == StepStatus::kSkipped;
    });
    WEIR_RETURN_IF_ERROR(EndInstance(
        r, InstanceStatus::kSucceeded,
        skipped == 0
            ? "all " + std::to_string(steps.size()) + " steps succeeded"
            : std::to_string(steps.size() - static_cast<size_t>(skipped)) + " steps succeeded, " +
                  std::to_string(skipped) + " skipped by their trigger rule",
        now_ms));
    WEIR_RETURN_IF_ERROR(RecordUpstreamSuccess(r, now_ms));
  } else if (!any_live) {
    std::string why;
    for (StepRow& s : steps) {
      if (s.status == StepStatus::kFailed && why.empty()) {
        why = "step '" + s.step + "' failed: " + s.message;
      }
      if (s.status == StepStatus::kPending) {  // not reachable by the rules above; never hang
        s.status = StepStatus::kUpstreamFailed;
        s.finished_ms = now_ms;
        s.message = "not run: nothing left that it waits for";
        WEIR_RETURN_IF_ERROR(SaveStep(r.deployed_id, r.number, s));
      }
    }
    WEIR_RETURN_IF_ERROR(EndInstance(r, InstanceStatus::kFailed,
                                     why.empty() ? "no step can run any more" : why, now_ms));
  }
  return Status::Ok();
}

Status Scheduler::Impl::Advance(int64_t now_ms, std::vector<PendingLaunch>& launches,
                                std::vector<PendingKill>& kills) {
  // Nothing to do is the common case: check without taking the database's write lock (the job
  // store shares the file).
  using Key = std::pair<std::string, int64_t>;
  WEIR_ASSIGN_OR_RETURN(std::vector<Key> keys, store->ActiveInstances());
  if (keys.empty()) return Status::Ok();
  WEIR_ASSIGN_OR_RETURN(auto txn, BeginLeading());
  std::vector<InstanceRow> active;
  {
    for (const auto& [id, n] : keys) {
      WEIR_ASSIGN_OR_RETURN(InstanceRow r, LoadInstance(id, n));
      // Ended since the listing, which is read before the transaction: by a stop that another
      // node answered. Admitting it again would overwrite its STOPPED.
      if (IsFinal(r.status)) continue;
      active.push_back(std::move(r));
    }
  }

  size_t begin = 0;
  while (begin < active.size()) {
    size_t end = begin;
    while (end < active.size() && active[end].deployed_id == active[begin].deployed_id) ++end;
    // Backfill instances are admitted by their own bound, beside the run strategy.
    std::vector<InstanceRow*> running, waiting, bf_running, bf_waiting;
    std::map<const InstanceRow*, int> bf_parallel;
    for (size_t k = begin; k < end; ++k) {
      InstanceRow* r = &active[k];
      const bool is_running = r->status == InstanceStatus::kRunning;
      WEIR_ASSIGN_OR_RETURN(std::optional<int> parallel,
                            BackfillParallel(r->deployed_id, r->number));
      if (parallel) {
        bf_parallel[r] = *parallel;
        (is_running ? bf_running : bf_waiting).push_back(r);
      } else {
        (is_running ? running : waiting).push_back(r);
      }
    }

    // Running instances first: steps that ended this tick may finish them, making room.
    auto still_running = [](const InstanceRow* r) { return r->status == InstanceStatus::kRunning; };
    for (InstanceRow* r : running) WEIR_RETURN_IF_ERROR(StepPass(*r, now_ms, launches));
    for (InstanceRow* r : bf_running) WEIR_RETURN_IF_ERROR(StepPass(*r, now_ms, launches));
    std::erase_if(running, std::not_fn(still_running));
    std::erase_if(bf_running, std::not_fn(still_running));
    for (InstanceRow* c : bf_waiting) {
      if (static_cast<int>(bf_running.size()) >= bf_parallel[c]) break;  // in fire-time order
      WEIR_RETURN_IF_ERROR(StartInstance(*c, now_ms));
      bf_running.push_back(c);
      WEIR_RETURN_IF_ERROR(StepPass(*c, now_ms, launches));
    }

    // Admission of waiting instances, oldest first, by the strategy of each one's version.
    for (size_t k = 0; k < waiting.size(); ++k) {
      InstanceRow& c = *waiting[k];
      Result<std::shared_ptr<const LoadedVersion>> v = LoadVersion(c.deployed_id, c.version);
      if (!v.ok()) {
        WEIR_RETURN_IF_ERROR(EndInstance(c, InstanceStatus::kFailed, v.status().message(), now_ms));
        continue;
      }
      const workflow::Workflow& wf = (*v)->wf;
      bool start = false;
      bool stop_scan = false;
      switch (wf.run_strategy) {
        case workflow::RunStrategy::kSequential:
          start = running.empty();
          stop_scan = !start;
          break;
        case workflow::RunStrategy::kParallel:
          start = static_cast<int>(running.size()) < std::max(1, wf.max_concurrency);
          stop_scan = !start;
          break;
        case workflow::RunStrategy::kFirstOnly:
          if (!running.empty()) {
            std::vector<PendingKill> none;
            WEIR_RETURN_IF_ERROR(StopLocked(c,
                                            "skipped: instance " +
                                                std::to_string(running.front()->number) +
                                                " is running (run_strategy first_only)",
                                            now_ms, none));
          } else {
            start = true;
          }
          break;
        case workflow::RunStrategy::kLastOnly:
          if (k + 1 < waiting.size()) {
            WEIR_RETURN_IF_ERROR(StopLocked(c,
                                            "superseded by instance " +
                                                std::to_string(waiting.back()->number) +
                                                " (run_strategy last_only)",
                                            now_ms, kills));
          } else {
            for (InstanceRow* r : running) {
              std::erase_if(launches, [&](const PendingLaunch& l) {
                return l.deployed_id == r->deployed_id && l.instance == r->number;
              });
              WEIR_RETURN_IF_ERROR(StopLocked(*r,
                                              "superseded by instance " + std::to_string(c.number) +
                                                  " (run_strategy last_only)",
                                              now_ms, kills));
            }
            running.clear();
            start = true;
          }
          break;
      }
      if (start) {
        WEIR_RETURN_IF_ERROR(StartInstance(c, now_ms));
        running.push_back(&c);
        WEIR_RETURN_IF_ERROR(StepPass(c, now_ms, launches));
      }
      if (stop_scan) break;
    }

    begin = end;
  }
  Status committed = txn->Commit();
  if (!committed.ok()) {
    launches.clear();
    kills.clear();
  }
  return committed;
}

void Scheduler::Impl::FirePass(int64_t now) {
  std::lock_guard<std::mutex> lock(mu);
  if (Status s = FireTriggers(now); !s.ok() && !report.lost_lead)
    spdlog::warn("scheduler: triggers: {}", s.ToString());
  if (report.lost_lead) return;
  if (Status s = ExpireAfterWaits(now); !s.ok() && !report.lost_lead)
    spdlog::warn("scheduler: after triggers: {}", s.ToString());
}

Status Scheduler::Impl::RunPass(int64_t now) {
  // 1. Read the state of every submitted, running step (without `mu`).
  std::vector<RunningStep> polled;
  {
    std::lock_guard<std::mutex> lock(mu);
    WEIR_ASSIGN_OR_RETURN(std::vector<store::WfRunningStep> rows, store->RunningSteps());
    for (store::WfRunningStep& row : rows) {
      RunningStep r;
      r.deployed_id = std::move(row.deployed_id);
      r.instance = row.instance;
      r.step = std::move(row.step);
      r.job_id = std::move(row.job_id);
      polled.push_back(std::move(r));
    }
  }
  for (RunningStep& r : polled) r.state = launcher->State(r.job_id);
  const bool any_ended = std::any_of(polled.begin(), polled.end(), [](const RunningStep& r) {
    return r.state.ok() ? !model::IsActive(r.state->status)
                        : r.state.status().code() == StatusCode::kNotFound;
  });
  if (any_ended) {
    std::lock_guard<std::mutex> lock(mu);
    WEIR_ASSIGN_OR_RETURN(auto txn, BeginLeading());
    for (RunningStep& r : polled) {
      std::optional<std::string> failure;
      std::string job_status;
      if (!r.state.ok()) {
        if (r.state.status().code() != StatusCode::kNotFound) continue;  // try again next tick
        failure = "job " + r.job_id + ": not found in the job service";
        job_status = "LOST";
      } else if (model::IsActive(r.state->status)) {
        continue;
      } else {
        job_status = std::string(model::JobStatusName(r.state->status));
        if (r.state->status != model::JobStatus::kSucceeded) {
          failure =
              "job " + r.job_id + " " + job_status +
              (r.state->message.empty() ? "" : " (" + r.state->message + ")") +
              (r.state->exit_code ? ", exit code " + std::to_string(*r.state->exit_code) : "");
          if (!r.state->stderr_tail.empty()) {
            *failure += "; last lines of stderr:\n" + r.state->stderr_tail;
          }
        }
      }
      WEIR_ASSIGN_OR_RETURN(InstanceRow inst, LoadInstance(r.deployed_id, r.instance));
      WEIR_ASSIGN_OR_RETURN(std::vector<StepRow> steps, LoadSteps(r.deployed_id, r.instance));
      auto it = std::find_if(steps.begin(), steps.end(),
                             [&](const StepRow& s) { return s.step == r.step; });
      if (it == steps.end() || it->status != StepStatus::kRunning || it->job_id != r.job_id) {
        continue;  // stopped or restarted meanwhile
      }
      StepRow& s = *it;
      std::string message = r.state.ok() ? r.state->message : "";
      if (r.state.ok() && r.state->message == model::kMsgRestartedBeforeStart) {
        // The job service failed this job because the server restarted before it launched: the
        // step never ran, so it is submitted again without spending an attempt.
        WEIR_RETURN_IF_ERROR(FinishAttempt(r.job_id, "NOT_STARTED", message, now));
        s.status = StepStatus::kPending;
        if (s.attempts > 0) --s.attempts;
        s.job_id.reset();
        s.submitted = false;
        s.not_before_ms.reset();
        s.message = "job " + r.job_id + " never started (server restarted); submitting again";
        WEIR_RETURN_IF_ERROR(SaveStep(r.deployed_id, r.instance, s));
        continue;
      }
      WEIR_RETURN_IF_ERROR(FinishAttempt(r.job_id, job_status, failure.value_or(message), now));
      if (!failure) {
        s.status = StepStatus::kSucceeded;
        s.finished_ms = now;
        s.submitted = false;
        s.message = message;
      } else {
        WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedVersion> v,
                              LoadVersion(inst.deployed_id, inst.version));
        FailAttempt(*v, s, *failure, now);
      }
      WEIR_RETURN_IF_ERROR(SaveStep(r.deployed_id, r.instance, s));
    }
    WEIR_RETURN_IF_ERROR(txn->Commit());
  }

  // Jobs that stops asked to kill: their attempts get the jobs' final statuses.
  WEIR_RETURN_IF_ERROR(RecordKilledEnds(now));

  // 2. Admission, ready steps, completion.
  std::vector<PendingLaunch> launches;
  std::vector<PendingKill> kills;
  {
    std::lock_guard<std::mutex> lock(mu);
    WEIR_RETURN_IF_ERROR(Advance(now, launches, kills));
  }
  RunKills(kills);

  // 3. Submissions (without `mu`), then their outcome.
  if (launches.empty()) return Status::Ok();
  std::vector<Status> outcomes;
  outcomes.reserve(launches.size());
  for (const PendingLaunch& l : launches) {
    // A leader that lost the lead submits nothing more: the steps stay recorded with their job
    // ids, unsubmitted, and the next leader submits them under those ids.
    if (!StillLeading()) return Status::Ok();
    outcomes.push_back(l.request.ok() ? launcher->Launch(*l.request) : l.request.status());
    if (outcomes.back().ok()) ++report.steps_started;
    if (outcomes.back().code() == StatusCode::kAlreadyExists) ++report.steps_adopted;
  }
  std::vector<PendingKill> late_kills;
  bool refused = false;  // a step failed for good: its instance ends on the next pass
  {
    std::lock_guard<std::mutex> lock(mu);
    const int64_t after = ToEpochMillis(clock.Now());
    WEIR_ASSIGN_OR_RETURN(auto txn, BeginLeading());
    for (size_t k = 0; k < launches.size(); ++k) {
      const PendingLaunch& l = launches[k];
      const Status& st = outcomes[k];
      const bool launched = st.ok() || st.code() == StatusCode::kAlreadyExists;
      WEIR_ASSIGN_OR_RETURN(std::vector<StepRow> steps, LoadSteps(l.deployed_id, l.instance));
      auto it = std::find_if(steps.begin(), steps.end(),
                             [&](const StepRow& s) { return s.step == l.step; });
      if (it == steps.end() || it->status != StepStatus::kRunning || it->job_id != l.job_id ||
          it->submitted) {
        // Stopped while the submission was in flight: the job must not run.
        if (launched) late_kills.push_back({l.job_id, "instance stopped during submission"});
        continue;
      }
      StepRow& s = *it;
      if (launched) {
        s.submitted = true;
        s.not_before_ms.reset();
        WEIR_RETURN_IF_ERROR(FinishAttempt(l.job_id, "SUBMITTED", "", std::nullopt));
      } else if (st.code() == StatusCode::kUnavailable ||
                 st.code() == StatusCode::kResourceExhausted ||
                 st.code() == StatusCode::kOutOfSpace) {
        s.not_before_ms = after + options.capacity_retry.count();
        s.message = "waiting to submit: " + st.message();
      } else {
        WEIR_ASSIGN_OR_RETURN(InstanceRow inst, LoadInstance(l.deployed_id, l.instance));
        WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedVersion> v,
                              LoadVersion(inst.deployed_id, inst.version));
        WEIR_RETURN_IF_ERROR(FinishAttempt(l.job_id, "NOT_SUBMITTED", st.message(), after));
        if (IsConfigurationError(st)) {
          // No cluster or command matches, or the request is invalid: another attempt would be
          // refused the same way, so the step fails now instead of spending its retries.
          s.status = StepStatus::kFailed;
          s.submitted = false;
          s.not_before_ms.reset();
          s.finished_ms = after;
          s.message = "configuration error, not retried: submission refused: " + st.message();
          refused = true;
        } else {
          FailAttempt(*v, s, "submission refused: " + st.message(), after);
        }
      }
      WEIR_RETURN_IF_ERROR(SaveStep(l.deployed_id, l.instance, s));
    }
    WEIR_RETURN_IF_ERROR(txn->Commit());
  }
  RunKills(late_kills);
  if (refused) Wake();
  return Status::Ok();
}

// ---- stop / restart -------------------------------------------------------------------------

Result<Instance> Scheduler::Stop(std::string_view deployed_id, int64_t number,
                                 std::string_view actor) {
  std::vector<PendingKill> kills;
  Result<Instance> out = [&]() -> Result<Instance> {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const int64_t now = ToEpochMillis(impl_->clock.Now());
    WEIR_ASSIGN_OR_RETURN(auto txn, impl_->Begin());
    WEIR_RETURN_IF_ERROR(impl_->LoadDeployment(deployed_id).status());
    WEIR_ASSIGN_OR_RETURN(InstanceRow r, impl_->LoadInstance(deployed_id, number));
    if (IsFinal(r.status)) {
      return FailedPrecondition("instance " + InstanceId(deployed_id, number) + ": already " +
                                std::string(InstanceStatusName(r.status)) + "; nothing to stop");
    }
    std::string message = actor.empty() ? "stopped" : "stopped by " + std::string(actor);
    WEIR_RETURN_IF_ERROR(impl_->StopLocked(r, message, now, kills));
    WEIR_RETURN_IF_ERROR(txn->Commit());
    return impl_->BuildInstance(r, true);
  }();
  impl_->RunKills(kills);
  if (out.ok()) impl_->Wake();
  return out;
}

Result<Instance> Scheduler::Restart(std::string_view deployed_id, int64_t number,
                                    std::string_view actor) {
  Result<Instance> out = [&]() -> Result<Instance> {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const int64_t now = ToEpochMillis(impl_->clock.Now());
    WEIR_ASSIGN_OR_RETURN(auto txn, impl_->Begin());
    WEIR_RETURN_IF_ERROR(impl_->LoadDeployment(deployed_id).status());
    WEIR_ASSIGN_OR_RETURN(InstanceRow r, impl_->LoadInstance(deployed_id, number));
    if (r.status == InstanceStatus::kSucceeded) {
      return FailedPrecondition("instance " + r.deployed_id + "#" + std::to_string(number) +
                                ": SUCCEEDED, nothing to restart; start a new run instead");
    }
    if (!IsFinal(r.status)) {
      return FailedPrecondition("instance " + InstanceId(deployed_id, number) + ": still " +
                                std::string(InstanceStatusName(r.status)) +
                                "; stop it before restarting");
    }
    WEIR_ASSIGN_OR_RETURN(std::vector<StepRow> steps, impl_->LoadSteps(deployed_id, number));
    int reset = 0;
    for (StepRow& s : steps) {
      if (s.status == StepStatus::kSucceeded) continue;
      s.status = StepStatus::kPending;
      s.attempts = 0;
      s.job_id.reset();
      s.submitted = false;
      s.not_before_ms.reset();
      s.message.clear();
      s.started_ms.reset();
      s.finished_ms.reset();
      WEIR_RETURN_IF_ERROR(impl_->SaveStep(r.deployed_id, number, s));
      ++reset;
    }
    r.run += 1;
    r.status = InstanceStatus::kCreated;
    metrics::Weir().workflow_instances.With({"CREATED"}).Inc();
    r.message = "run " + std::to_string(r.run) + ": restarted" +
                (actor.empty() ? std::string() : " by " + std::string(actor)) + " with " +
                std::to_string(reset) + " incomplete step(s)";
    r.started_ms.reset();
    r.finished_ms.reset();
    WEIR_RETURN_IF_ERROR(impl_->SaveInstance(r, now));
    WEIR_RETURN_IF_ERROR(txn->Commit());
    return impl_->BuildInstance(r, true);
  }();
  if (out.ok()) impl_->Wake();
  return out;
}

}  // namespace weir::scheduler
