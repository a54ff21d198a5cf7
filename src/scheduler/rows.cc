// The Scheduler's rows: conversions between the SchedulerStore's rows (store/scheduler_store.h)
// and the scheduler's own (scheduler_internal.h), the Impl's reads and writes of single rows,
// and the views the public API returns (Instance, DeployedWorkflow, VersionInfo).
#include "scheduler/rows.h"

#include <boost/json.hpp>

#include "common/time_format.h"

namespace weir::scheduler {

namespace {

namespace json = boost::json;

std::optional<TimePoint> OptTime(const std::optional<int64_t>& ms) {
  if (!ms) return std::nullopt;
  return FromEpochMillis(*ms);
}

}  // namespace

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

DeploymentRow FromStore(const store::WfDeploymentRow& r) {
  DeploymentRow d;
  d.id = r.id;
  d.environment = r.environment;
  d.owner = r.owner;
  d.repo = r.repo;
  d.workflow_id = r.workflow_id;
  d.active = r.active_version;
  d.latest = r.latest_version;
  d.env_params = ParamsFromJson(r.env_params);
  d.catchup = ParseCatchUp(r.catchup).value_or(CatchUp::kLatest);
  d.next_instance = r.next_instance;
  d.cursor_ms = r.cursor_ms;
  d.schedule_key = r.schedule_key;
  d.created_ms = r.created_ms;
  d.updated_ms = r.updated_ms;
  d.paused = r.paused;
  d.undeployed_ms = r.undeployed_ms;
  return d;
}

store::WfDeploymentRow ToStore(const DeploymentRow& d) {
  store::WfDeploymentRow r;
  r.id = d.id;
  r.environment = d.environment;
  r.owner = d.owner;
  r.repo = d.repo;
  r.workflow_id = d.workflow_id;
  r.active_version = d.active;
  r.latest_version = d.latest;
  r.env_params = ParamsToJson(d.env_params);
  r.catchup = std::string(CatchUpName(d.catchup));
  r.next_instance = d.next_instance;
  r.cursor_ms = d.cursor_ms;
  r.schedule_key = d.schedule_key;
  r.created_ms = d.created_ms;
  r.updated_ms = d.updated_ms;
  r.paused = d.paused;
  r.undeployed_ms = d.undeployed_ms;
  return r;
}

InstanceRow FromStore(const store::WfInstanceRow& s) {
  InstanceRow r;
  r.deployed_id = s.deployed_id;
  r.number = s.number;
  r.version = s.version;
  r.bundle_id = s.bundle_id;
  r.status = ParseInstanceStatus(s.status).value_or(InstanceStatus::kFailed);
  r.message = s.message;
  r.trigger = s.trigger;
  r.trigger_ms = s.trigger_ms;
  r.requested_by = s.requested_by;
  r.run = s.run;
  r.params = ParamsFromJson(s.params);
  r.created_ms = s.created_ms;
  r.started_ms = s.started_ms;
  r.finished_ms = s.finished_ms;
  return r;
}

store::WfInstanceRow ToStore(const InstanceRow& r) {
  store::WfInstanceRow s;
  s.deployed_id = r.deployed_id;
  s.number = r.number;
  s.version = r.version;
  s.bundle_id = r.bundle_id;
  s.status = std::string(InstanceStatusName(r.status));
  s.message = r.message;
  s.trigger = r.trigger;
  s.trigger_ms = r.trigger_ms;
  s.requested_by = r.requested_by;
  s.run = r.run;
  s.params = ParamsToJson(r.params);
  s.created_ms = r.created_ms;
  s.started_ms = r.started_ms;
  s.finished_ms = r.finished_ms;
  return s;
}

StepRow FromStore(const store::WfStepRow& s) {
  StepRow r;
  r.step = s.step;
  r.position = s.position;
  r.status = ParseStepStatus(s.status).value_or(StepStatus::kFailed);
  r.attempts = s.attempts;
  r.job_id = s.job_id;
  r.submitted = s.submitted;
  r.not_before_ms = s.not_before_ms;
  r.message = s.message;
  r.started_ms = s.started_ms;
  r.finished_ms = s.finished_ms;
  return r;
}

store::WfStepRow ToStore(const StepRow& r) {
  store::WfStepRow s;
  s.step = r.step;
  s.position = r.position;
  s.status = std::string(StepStatusName(r.status));
  s.attempts = r.attempts;
  s.job_id = r.job_id;
  s.submitted = r.submitted;
  s.not_before_ms = r.not_before_ms;
  s.message = r.message;
  s.started_ms = r.started_ms;
  s.finished_ms = r.finished_ms;
  return s;
}

// A version row (without the manifest) of the deployment `d`.
VersionInfo ToVersionInfo(const store::WfVersionRow& s, const DeploymentRow& d) {
  VersionInfo v;
  v.version = s.version;
  v.bundle_id = s.bundle_id;
  v.deployer = s.deployer;
  v.dirty = s.dirty;
  v.branch = s.branch;
  v.commit = s.commit;
  v.created = FromEpochMillis(s.created_ms);
  v.active = d.active == v.version;
  return v;
}

std::string ParamsToJson(const Params& p) {
  json::object o;
  for (const auto& [k, v] : p) o[k] = v;
  return json::serialize(o);
}

Params ParamsFromJson(std::string_view text) {
  Params out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return out;
  for (const auto& [k, val] : v.as_object()) {
    if (val.is_string()) out[std::string(k)] = std::string(val.as_string());
  }
  return out;
}

// ---- rows -----------------------------------------------------------------------------------

Result<DeploymentRow> Scheduler::Impl::LoadDeployment(std::string_view id) {
  WEIR_ASSIGN_OR_RETURN(std::optional<store::WfDeploymentRow> row,
                        store->GetDeployment(std::string(id)));
  if (!row) {
    return NotFound("workflow " + Quote(id) +
                    ": not deployed; list deployed workflows with `weir workflow list`");
  }
  return FromStore(*row);
}

Status Scheduler::Impl::SaveDeploymentState(const DeploymentRow& d, int64_t now_ms) {
  store::WfDeploymentRow row = ToStore(d);
  row.updated_ms = now_ms;
  return store->UpdateDeployment(row);
}

Result<InstanceRow> Scheduler::Impl::LoadInstance(std::string_view id, int64_t number) {
  WEIR_ASSIGN_OR_RETURN(std::optional<store::WfInstanceRow> row,
                        store->GetInstance(std::string(id), number));
  if (!row) {
    return NotFound("instance " + InstanceId(id, number) + ": not found");
  }
  return FromStore(*row);
}

Result<std::vector<StepRow>> Scheduler::Impl::LoadSteps(std::string_view id, int64_t number) {
  WEIR_ASSIGN_OR_RETURN(std::vector<store::WfStepRow> rows,
                        store->ListSteps(std::string(id), number));
  std::vector<StepRow> out;
  out.reserve(rows.size());
  for (const store::WfStepRow& r : rows) out.push_back(FromStore(r));
  return out;
}

Status Scheduler::Impl::SaveInstance(const InstanceRow& r, int64_t now_ms) {
  WEIR_RETURN_IF_ERROR(NoteInstance(r, /*created=*/false, now_ms));
  Status s = store->UpdateInstance(ToStore(r), now_ms);
  FlushOutbox(s.ok());
  return s;
}

Status Scheduler::Impl::SaveStep(const std::string& id, int64_t number, const StepRow& r) {
  WEIR_RETURN_IF_ERROR(NoteStep(id, number, r));
  Status s = store->UpdateStep(id, number, ToStore(r));
  FlushOutbox(s.ok());
  return s;
}

Status Scheduler::Impl::InsertAttempt(const std::string& id, int64_t number,
                                      const std::string& step, int64_t run, int attempt,
                                      const std::string& job_id, int64_t now_ms) {
  store::WfAttemptRow a;
  a.step = step;
  a.job_id = job_id;
  a.run = run;
  a.attempt = attempt;
  a.created_ms = now_ms;
  return store->InsertAttempt(id, number, a);
}

Status Scheduler::Impl::FinishAttempt(const std::string& job_id, std::string_view status,
                                      std::string_view message,
                                      std::optional<int64_t> finished_ms) {
  return store->FinishAttempt(job_id, std::string(status), std::string(message), finished_ms);
}

Result<Instance> Scheduler::Impl::BuildInstance(const InstanceRow& row, bool with_steps) {
  Instance out;
  out.workflow = row.deployed_id;
  out.number = row.number;
  out.id = InstanceId(row.deployed_id, row.number);
  out.version = row.version;
  out.bundle_id = row.bundle_id;
  out.status = row.status;
  out.message = row.message;
  out.trigger = row.trigger;
  out.trigger_time = FromEpochMillis(row.trigger_ms);
  out.requested_by = row.requested_by;
  out.run = row.run;
  out.params = row.params;
  out.created = FromEpochMillis(row.created_ms);
  out.started = OptTime(row.started_ms);
  out.finished = OptTime(row.finished_ms);
  Result<std::shared_ptr<const LoadedVersion>> v = LoadVersion(row.deployed_id, row.version);
  if (v.ok()) out.assets = (*v)->manifest.assets;
  if (!with_steps) return out;

  WEIR_ASSIGN_OR_RETURN(std::vector<StepRow> steps, LoadSteps(row.deployed_id, row.number));
  std::map<std::string, std::vector<StepAttempt>> history;
  {
    WEIR_ASSIGN_OR_RETURN(std::vector<store::WfAttemptRow> attempts,
                          store->ListAttempts(row.deployed_id, row.number));
    for (const store::WfAttemptRow& s : attempts) {
      StepAttempt a;
      a.job_id = s.job_id;
      a.run = s.run;
      a.attempt = s.attempt;
      a.status = s.status;
      a.message = s.message;
      a.created = FromEpochMillis(s.created_ms);
      a.finished = OptTime(s.finished_ms);
      history[s.step].push_back(std::move(a));
    }
  }
  for (StepRow& r : steps) {
    StepRun sr;
    sr.id = r.step;
    sr.status = r.status;
    sr.attempts = r.attempts;
    sr.job_id = r.job_id.value_or("");
    sr.message = r.message;
    sr.started = OptTime(r.started_ms);
    sr.finished = OptTime(r.finished_ms);
    if (r.status == StepStatus::kWaitingRetry) sr.next_attempt = OptTime(r.not_before_ms);
    if (v.ok()) {
      if (const workflow::JobTemplate* j = (*v)->wf.FindJob(r.step)) {
        sr.depends_on = j->depends_on;
        sr.max_attempts = 1 + j->retries;
      }
      if (auto it = (*v)->step_assets.find(r.step); it != (*v)->step_assets.end()) {
        sr.assets = it->second;
      }
    }
    sr.history = std::move(history[r.step]);
    out.steps.push_back(std::move(sr));
  }
  return out;
}

Result<DeployedWorkflow> Scheduler::Impl::BuildDeployed(const DeploymentRow& d) {
  DeployedWorkflow w;
  w.id = d.id;
  w.environment = d.environment;
  w.owner = d.owner;
  w.repo = d.repo;
  w.workflow_id = d.workflow_id;
  w.active_version = d.active;
  w.latest_version = d.latest;
  w.environment_params = d.env_params;
  w.catchup = d.catchup;
  w.created = FromEpochMillis(d.created_ms);
  w.updated = FromEpochMillis(d.updated_ms);
  DeploymentRow lifecycle = d;
  WEIR_RETURN_IF_ERROR(LoadLifecycle(lifecycle));
  w.paused = lifecycle.paused;
  if (lifecycle.undeployed_ms) w.undeployed = FromEpochMillis(*lifecycle.undeployed_ms);
  if (d.active) {
    WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedVersion> v, LoadVersion(d.id, *d.active));
    w.schedule = v->wf.schedule;
    for (const workflow::Upstream& u : v->wf.after) w.after.push_back(u.id);
    w.timezone = v->wf.timezone;
    w.run_strategy = std::string(workflow::RunStrategyName(v->wf.run_strategy));
    w.max_concurrency = v->wf.max_concurrency;
    if (v->cron && !w.paused && !w.undeployed) {
      TimePoint after = clock.Now();
      if (d.cursor_ms && FromEpochMillis(*d.cursor_ms) > after)
        after = FromEpochMillis(*d.cursor_ms);
      Result<TimePoint> next = cron::NextFire(*v->cron, v->tz, after);
      if (next.ok()) w.next_fire = *next;
    }
  }
  return w;
}

}  // namespace weir::scheduler
