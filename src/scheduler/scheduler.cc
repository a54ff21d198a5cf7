// The Scheduler: opening the tables, deployments (deploy, activate, rollback), queries, and the
// creation of instances. Triggers are in triggers.cc, the DAG runner in runner.cc.
#include "scheduler/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <set>

#include "blob/sha256.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "metrics/weir_metrics.h"
#include "scheduler/logical_dates.h"
#include "scheduler/scheduler_internal.h"
#include "store/sqlite/sqlite_scheduler_store.h"
#include "workflow/project.h"
#include "workflow/validate.h"

namespace weir::scheduler {

namespace {

namespace json = boost::json;

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// Owner and repository names become parts of the deployed id.
bool IsNamePart(std::string_view s) {
  if (s.empty() || s.size() > 100) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Status CheckActor(std::string_view field, std::string_view actor) {
  if (actor.size() > 255) return InvalidArgument(std::string(field) + ": at most 255 bytes");
  if (!IsValidUtf8(actor)) return InvalidArgument(std::string(field) + ": must be valid UTF-8");
  return Status::Ok();
}

Status CheckParams(std::string_view field, const Params& p) {
  for (const auto& [k, v] : p) {
    if (!workflow::IsParamName(k)) {
      return InvalidArgument(std::string(field) + ": '" + k +
                             "' is not a parameter name; use [A-Za-z_][A-Za-z0-9_]*");
    }
    if (!IsValidUtf8(v)) {
      return InvalidArgument(std::string(field) + " '" + k + "': value must be valid UTF-8");
    }
  }
  return Status::Ok();
}

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

std::optional<TimePoint> OptTime(const std::optional<int64_t>& ms) {
  if (!ms) return std::nullopt;
  return FromEpochMillis(*ms);
}

// Every string of a job template (where parameters and URIs may appear).
std::vector<std::string> TemplateStrings(const workflow::JobTemplate& j) {
  std::vector<std::string> out = {j.name, j.command_args};
  for (const auto& v : {j.command, j.args, j.dependencies, j.configs, j.tags}) {
    out.insert(out.end(), v.begin(), v.end());
  }
  for (const auto& c : j.cluster) out.insert(out.end(), c.begin(), c.end());
  if (j.setup_file) out.push_back(*j.setup_file);
  return out;
}

// Parses and checks what Deploy and LoadVersion both need.
Result<std::shared_ptr<LoadedVersion>> ParseVersion(const workflow::BundleManifest& m) {
  auto v = std::make_shared<LoadedVersion>();
  v->manifest = m;
  workflow::ValidateOptions vo;
  vo.file = m.workflow_file.empty() ? m.workflow_id : m.workflow_file;
  workflow::Validation val = workflow::ValidateWorkflow(m.definition, vo);
  if (!val.ok()) {
    std::string text = workflow::FormatDiagnostics(val.problems);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return InvalidArgument("workflow definition: " + std::to_string(val.problems.size()) +
                           " problem(s):\n" + text);
  }
  v->wf = std::move(*val.workflow);
  if (v->wf.id != m.workflow_id) {
    return InvalidArgument("workflow definition: id '" + v->wf.id + "' differs from the " +
                           "manifest's workflow_id '" + m.workflow_id + "'");
  }
  if (v->wf.schedule) {
    Result<cron::CronExpr> expr = cron::ParseCron(*v->wf.schedule);
    if (!expr.ok()) return expr.status().WithContext("workflow definition");
    Result<const date::time_zone*> tz = cron::LocateZone(v->wf.timezone);
    if (!tz.ok()) return tz.status().WithContext("workflow definition");
    v->cron = std::move(*expr);
    v->tz = *tz;
  }
  for (const workflow::JobTemplate& j : v->wf.jobs) {
    std::vector<std::string>& uuids = v->step_assets[j.id];
    const std::vector<std::string> strings = TemplateStrings(j);
    for (const workflow::BundleAsset& a : m.assets) {
      bool used = std::any_of(strings.begin(), strings.end(), [&](const std::string& s) {
        return !a.uri.empty() && s.find(a.uri) != std::string::npos;
      });
      if (used) uuids.push_back(a.uuid);
    }
  }
  return v;
}

// ---- names ----------------------------------------------------------------------------------

// The spellings of an enum whose values are 0..N-1, in declaration order: one table serves both
// directions, so a name always parses back to its value.
template <typename E, size_t N>
struct EnumNames {
  std::array<std::string_view, N> names;

  std::string_view Name(E v, std::string_view fallback) const {
    const auto i = static_cast<size_t>(v);
    return i < N ? names[i] : fallback;
  }
  std::optional<E> Find(std::string_view s) const {
    for (size_t i = 0; i < N; ++i) {
      if (names[i] == s) return static_cast<E>(i);
    }
    return std::nullopt;
  }
};

constexpr EnumNames<CatchUp, 3> kCatchUpNames{{"none", "latest", "all"}};
constexpr EnumNames<InstanceStatus, 5> kInstanceStatusNames{
    {"CREATED", "RUNNING", "SUCCEEDED", "FAILED", "STOPPED"}};
constexpr EnumNames<StepStatus, 8> kStepStatusNames{{"PENDING", "WAITING_RETRY", "RUNNING",
                                                     "SUCCEEDED", "FAILED", "STOPPED",
                                                     "UPSTREAM_FAILED", "SKIPPED"}};
// A value added to an enum needs its name here.
static_assert(static_cast<size_t>(CatchUp::kAll) + 1 == kCatchUpNames.names.size());
static_assert(static_cast<size_t>(InstanceStatus::kStopped) + 1 ==
              kInstanceStatusNames.names.size());
static_assert(static_cast<size_t>(StepStatus::kSkipped) + 1 == kStepStatusNames.names.size());

}  // namespace

std::string_view CatchUpName(CatchUp c) { return kCatchUpNames.Name(c, "latest"); }

Result<CatchUp> ParseCatchUp(std::string_view s) {
  if (std::optional<CatchUp> c = kCatchUpNames.Find(s)) return *c;
  return InvalidArgument("catchup '" + std::string(s) + "': use none, latest or all");
}

std::string_view InstanceStatusName(InstanceStatus s) {
  return kInstanceStatusNames.Name(s, "FAILED");
}

Result<InstanceStatus> ParseInstanceStatus(std::string_view s) {
  if (std::optional<InstanceStatus> st = kInstanceStatusNames.Find(s)) return *st;
  return InvalidArgument("instance status '" + std::string(s) +
                         "': use CREATED, RUNNING, SUCCEEDED, FAILED or STOPPED");
}

std::string_view StepStatusName(StepStatus s) { return kStepStatusNames.Name(s, "FAILED"); }

Result<StepStatus> ParseStepStatus(std::string_view s) {
  if (std::optional<StepStatus> st = kStepStatusNames.Find(s)) return *st;
  return InvalidArgument("step status '" + std::string(s) + "': unknown");
}

std::string DeployedId(std::string_view env, std::string_view owner, std::string_view repo,
                       std::string_view workflow_id) {
  return std::string(env) + ":" + std::string(owner) + "." + std::string(repo) + "." +
         std::string(workflow_id);
}

std::string InstanceId(std::string_view deployed_id, int64_t number) {
  return std::string(deployed_id) + "#" + std::to_string(number);
}

std::string LoadedVersion::ScheduleKey() const {
  if (!wf.schedule) return {};
  return *wf.schedule + "|" + wf.timezone;
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

// ---- open / loop ----------------------------------------------------------------------------

Scheduler::Scheduler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(impl_->waker->mu);
    impl_->waker->wake = nullptr;
  }
  Shutdown();
}

Result<std::unique_ptr<Scheduler>> Scheduler::Open(SchedulerOptions options,
                                                   std::shared_ptr<BundleBlobs> blobs,
                                                   std::shared_ptr<StepLauncher> launcher,
                                                   Clock& clock) {
  Result<std::unique_ptr<store::SchedulerStore>> store =
      store::sqlite::OpenSchedulerStore(options.db_path, options.busy_timeout_ms);
  if (!store.ok()) return store.status();
  return Open(std::shared_ptr<store::SchedulerStore>(std::move(*store)), std::move(options),
              std::move(blobs), std::move(launcher), clock);
}

Result<std::unique_ptr<Scheduler>> Scheduler::Open(std::shared_ptr<store::SchedulerStore> store,
                                                   SchedulerOptions options,
                                                   std::shared_ptr<BundleBlobs> blobs,
                                                   std::shared_ptr<StepLauncher> launcher,
                                                   Clock& clock) {
  if (!store) return InvalidArgument("scheduler: a store is required");
  if (!blobs || !launcher) return InvalidArgument("scheduler: blobs and launcher are required");
  if (options.poll_interval <= Millis(0)) options.poll_interval = Millis(100);
  if (options.max_catchup < 1) options.max_catchup = 1;
  auto impl = std::make_unique<Impl>(options, std::move(blobs), std::move(launcher), clock);
  impl->store = std::move(store);
  impl->waker->wake = [raw = impl.get()] { raw->Wake(); };
  impl->launcher->SetEndListener([waker = impl->waker] {
    std::lock_guard<std::mutex> lock(waker->mu);
    if (waker->wake) waker->wake();
  });
  return std::unique_ptr<Scheduler>(new Scheduler(std::move(impl)));
}

void Scheduler::Impl::Wake() {
  std::lock_guard<std::mutex> lock(loop_mu);
  loop_wake = true;
  loop_cv.notify_all();
}

void Scheduler::Impl::LoopMain() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(loop_mu);
      // Real time on purpose: the loop paces itself; what a tick does depends on clock.Now().
      loop_cv.wait_for(lock, options.poll_interval, [&] { return loop_stop || loop_wake; });
      if (loop_stop) return;
      loop_wake = false;
    }
    Status s = TickOnce();
    if (!s.ok()) spdlog::warn("scheduler: tick: {}", s.ToString());
  }
}

Status Scheduler::Start() {
  std::lock_guard<std::mutex> lock(impl_->loop_mu);
  if (impl_->loop.joinable()) return Status::Ok();
  impl_->loop_stop = false;
  impl_->loop = std::thread([impl = impl_.get()] { impl->LoopMain(); });
  return Status::Ok();
}

void Scheduler::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(impl_->loop_mu);
    impl_->loop_stop = true;
    impl_->loop_cv.notify_all();
  }
  if (impl_->loop.joinable()) impl_->loop.join();
}

Status Scheduler::Tick() { return impl_->TickOnce(); }

Status Scheduler::Recover() {
  // Every RUNNING instance is continued by the ordinary pass: running steps are read from the
  // job service (ends that happened while down are picked up), interrupted submissions are made
  // again under their recorded job ids (kAlreadyExists adopts the job).
  return impl_->TickOnce();
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

Result<std::shared_ptr<const LoadedVersion>> Scheduler::Impl::LoadVersion(const std::string& id,
                                                                          int64_t version) {
  auto key = std::make_pair(id, version);
  if (auto it = versions.find(key); it != versions.end()) return it->second;
  WEIR_ASSIGN_OR_RETURN(std::optional<store::WfVersionRow> row, store->GetVersion(id, version));
  if (!row) {
    return NotFound("workflow " + Quote(id) + ": no version " + std::to_string(version));
  }
  Result<workflow::BundleManifest> m = workflow::ParseManifest(row->manifest);
  if (!m.ok())
    return m.status().WithContext("workflow " + Quote(id) + " version " + std::to_string(version));
  auto parsed = ParseVersion(*m);
  if (!parsed.ok()) {
    return parsed.status().WithContext("workflow " + Quote(id) + " version " +
                                       std::to_string(version));
  }
  std::shared_ptr<LoadedVersion> v = std::move(*parsed);
  v->deployed_id = id;
  v->version = version;
  v->bundle_id = row->bundle_id;
  v->deployer = row->deployer;
  versions[key] = v;
  return std::shared_ptr<const LoadedVersion>(v);
}

Status Scheduler::Impl::SetActive(DeploymentRow& d, const LoadedVersion& v, std::string_view reason,
                                  std::string_view actor, int64_t now_ms) {
  std::optional<int64_t> previous = d.active;
  NoteActivation(d, v.version, reason, actor, now_ms);
  d.active = v.version;
  std::string key = v.ScheduleKey();
  if (key.empty()) {
    d.schedule_key.reset();
    d.cursor_ms.reset();
  } else if (!d.schedule_key || *d.schedule_key != key || !d.cursor_ms) {
    d.schedule_key = key;
    d.cursor_ms = now_ms;  // a new schedule never fires for times before its activation
  }
  store::WfActivationRow a;
  a.version = v.version;
  a.previous = previous;
  a.reason = std::string(reason);
  a.actor = std::string(actor);
  a.created_ms = now_ms;
  WEIR_RETURN_IF_ERROR(store->InsertActivation(d.id, a));
  return SaveDeploymentState(d, now_ms);
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

// EXECUTION_DATE_LOCAL and EXECUTION_DAY (logical_dates.h); a version's time zone was
// validated at deploy, so a failure here only leaves them out (and is logged).
static void AddLocalDates(Params& builtins, int64_t logical_ms, const std::string& timezone) {
  Result<LogicalDates> dates = LocalLogicalDates(FromEpochMillis(logical_ms), timezone);
  if (!dates.ok()) {
    spdlog::error("scheduler: logical dates in '{}': {}", timezone, dates.status().ToString());
    return;
  }
  builtins["EXECUTION_DATE_LOCAL"] = dates->local;
  builtins["EXECUTION_DAY"] = dates->day;
}

Result<InstanceRow> Scheduler::Impl::CreateInstance(DeploymentRow& d, std::string_view trigger,
                                                    int64_t logical_ms, const Params& overrides,
                                                    std::string_view requested_by, bool manual,
                                                    int64_t now_ms) {
  if (!d.active) {
    return FailedPrecondition("workflow " + Quote(d.id) +
                              ": no active version; activate one first");
  }
  WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedVersion> v, LoadVersion(d.id, *d.active));
  InstanceRow r;
  r.deployed_id = d.id;
  r.number = d.next_instance;
  r.version = v->version;
  r.bundle_id = v->bundle_id;
  r.trigger = std::string(trigger);
  r.trigger_ms = logical_ms;
  r.requested_by = std::string(requested_by);
  r.created_ms = now_ms;
  Params builtins = {{"EXECUTION_DATE", FormatIso8601(FromEpochMillis(logical_ms))},
                     {"WORKFLOW_ID", d.id},
                     {"INSTANCE_ID", std::to_string(r.number)},
                     {"ENV", d.environment}};
  AddLocalDates(builtins, logical_ms, v->wf.timezone);
  Result<Params> params = ResolveParams(v->wf.params, d.env_params, overrides, builtins);
  if (params.ok()) {
    r.params = std::move(*params);
  } else if (manual) {
    return params.status();
  } else {
    r.params = builtins;
    r.status = InstanceStatus::kFailed;
    r.message = params.status().message();
    r.finished_ms = now_ms;
  }
  d.next_instance = r.number + 1;
  WEIR_RETURN_IF_ERROR(SaveDeploymentState(d, now_ms));
  WEIR_RETURN_IF_ERROR(store->InsertInstance(ToStore(r), now_ms));
  WEIR_RETURN_IF_ERROR(NoteInstance(r, /*created=*/true, now_ms));
  metrics::Weir().workflow_instances.With({std::string(InstanceStatusName(r.status))}).Inc();
  int position = 0;
  for (const workflow::JobTemplate& j : v->wf.jobs) {
    store::WfStepRow step;
    step.step = j.id;
    step.position = position++;
    WEIR_RETURN_IF_ERROR(store->InsertStep(r.deployed_id, r.number, step));
  }
  return r;
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

// ---- deployments ----------------------------------------------------------------------------

Result<DeployResult> Scheduler::Deploy(const DeployRequest& request) {
  Result<workflow::BundleManifest> parsed = workflow::ParseManifest(request.manifest_json);
  if (!parsed.ok()) return parsed.status();
  workflow::BundleManifest m = std::move(*parsed);
  workflow::Normalize(m);
  WEIR_RETURN_IF_ERROR(workflow::ValidateEnvironmentName(m.environment).WithContext("manifest"));
  if (!IsNamePart(m.owner)) {
    return InvalidArgument("manifest: owner '" + m.owner +
                           "': use 1..100 of [A-Za-z0-9_.-] (it becomes part of the deployed id)");
  }
  if (!IsNamePart(m.repo)) {
    return InvalidArgument("manifest: repo '" + m.repo +
                           "': use 1..100 of [A-Za-z0-9_.-] (it becomes part of the deployed id)");
  }
  if (!workflow::IsWorkflowIdent(m.workflow_id)) {
    return InvalidArgument("manifest: workflow_id '" + m.workflow_id +
                           "': use 1..100 of [A-Za-z0-9_-]");
  }
  WEIR_RETURN_IF_ERROR(CheckActor("deployer", request.deployer));
  if (request.environment_params) {
    WEIR_RETURN_IF_ERROR(CheckParams("environment params", *request.environment_params));
  }
  WEIR_ASSIGN_OR_RETURN(std::shared_ptr<LoadedVersion> v, ParseVersion(m));
  const std::string id = DeployedId(m.environment, m.owner, m.repo, m.workflow_id);
  const std::string bundle_id = workflow::BundleId(m);
  const std::string canonical = workflow::CanonicalJson(m);

  // Parameter values must resolve (no reference cycles) with the parameters of the environment.
  {
    Params env = request.environment_params.value_or(Params{});
    if (!request.environment_params) {
      std::lock_guard<std::mutex> lock(impl_->mu);
      if (auto d = impl_->LoadDeployment(id); d.ok()) env = d->env_params;
    }
    Params builtins = {
        {"EXECUTION_DATE", "-"}, {"WORKFLOW_ID", id}, {"INSTANCE_ID", "-"}, {"ENV", m.environment}};
    Result<Params> p = ResolveParams(v->wf.params, env, {}, builtins);
    if (!p.ok()) return p.status().WithContext("workflow definition");
  }

  // Uploaded repository files first, then every blob the manifest names must verify.
  std::set<std::string> file_hashes;
  for (const workflow::BundleFile& f : m.files) file_hashes.insert(f.sha256);
  for (const std::string& bytes : request.files) {
    std::string sha = blob::Sha256Hex(bytes);
    if (!file_hashes.count(sha)) {
      return InvalidArgument("file with SHA-256 " + sha +
                             ": not a file of the manifest; send only the manifest's files");
    }
    WEIR_RETURN_IF_ERROR(impl_->blobs->Put(bytes, sha).WithContext("file " + sha));
  }
  for (const workflow::BundleAsset& a : m.assets) {
    WEIR_RETURN_IF_ERROR(
        impl_->blobs->VerifyAsset(a.uuid, a.sha256).WithContext("bundle asset " + a.uuid));
  }
  for (const workflow::BundleFile& f : m.files) {
    WEIR_RETURN_IF_ERROR(impl_->blobs->Verify(f.sha256).WithContext("bundle file " + f.path));
    // Steps fetch it under its own name: make sure that works before the version exists.
    const std::string name = f.uri.substr(f.uri.rfind('/') + 1);
    Result<std::string> uri = impl_->blobs->FileUri(f.sha256, name);
    if (!uri.ok()) return uri.status().WithContext("bundle file " + f.path);
  }

  DeployResult result;
  result.deployed_id = id;
  result.bundle_id = bundle_id;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const int64_t now = ToEpochMillis(impl_->clock.Now());
    WEIR_ASSIGN_OR_RETURN(auto txn, impl_->Begin());
    Result<DeploymentRow> existing = impl_->LoadDeployment(id);
    DeploymentRow d;
    if (existing.ok()) {
      d = std::move(*existing);
    } else if (existing.status().code() == StatusCode::kNotFound) {
      d.id = id;
      d.environment = m.environment;
      d.owner = m.owner;
      d.repo = m.repo;
      d.workflow_id = m.workflow_id;
      d.created_ms = now;
      d.updated_ms = now;
      WEIR_RETURN_IF_ERROR(impl_->store->InsertDeployment(ToStore(d)));
    } else {
      return existing.status();
    }
    if (request.environment_params) d.env_params = *request.environment_params;
    if (request.catchup) d.catchup = *request.catchup;
    WEIR_RETURN_IF_ERROR(impl_->CheckUpstreamsDeployed(*v, m));

    std::optional<int64_t> same;
    WEIR_ASSIGN_OR_RETURN(same, impl_->store->VersionOfBundle(id, bundle_id));
    if (!same) {
      // Version churn: a bundle that differs from an existing version only in the source commit
      // (an unrelated commit rendered the same workflow with the same assets and files) is that
      // version; the newest such one wins.
      WEIR_ASSIGN_OR_RETURN(std::vector<store::WfVersionRow> existing_versions,
                            impl_->store->ListVersions(id, true));
      for (const store::WfVersionRow& row : existing_versions) {
        Result<workflow::BundleManifest> old = workflow::ParseManifest(row.manifest);
        if (!old.ok()) continue;
        workflow::Normalize(*old);
        old->commit = m.commit;
        if (workflow::CanonicalJson(*old) == canonical) {
          same = row.version;
          result.bundle_id = row.bundle_id;
          break;
        }
      }
    }
    if (same) {
      result.version = *same;
      result.created = false;
    } else {
      result.version = d.latest + 1;
      result.created = true;
      store::WfVersionRow row;
      row.deployed_id = id;
      row.version = result.version;
      row.bundle_id = bundle_id;
      row.manifest = canonical;
      row.deployer = request.deployer;
      row.dirty = m.dirty;
      row.branch = m.branch;
      row.commit = m.commit;
      row.created_ms = now;
      WEIR_RETURN_IF_ERROR(impl_->store->InsertVersion(row));
      impl_->NoteDeployed(d, result.version, bundle_id, m, request.deployer, now);
      d.latest = result.version;
    }
    v->deployed_id = id;
    v->version = result.version;
    v->bundle_id = result.bundle_id;
    v->deployer = request.deployer;
    if (request.activate && d.active != result.version) {
      WEIR_RETURN_IF_ERROR(impl_->SetActive(d, *v, "deploy", request.deployer, now));
    } else {
      WEIR_RETURN_IF_ERROR(impl_->SaveDeploymentState(d, now));
    }
    WEIR_RETURN_IF_ERROR(impl_->ClearUndeployed(id));
    if (request.paused) WEIR_RETURN_IF_ERROR(impl_->SetPaused(id, *request.paused, now));
    WEIR_RETURN_IF_ERROR(txn->Commit());
    result.active = d.active == result.version;
    if (result.created) impl_->versions[{id, result.version}] = v;
  }
  spdlog::info("scheduler: {} version {} (bundle {}){}{}", id, result.version, result.bundle_id,
               result.created ? "" : " unchanged", result.active ? ", active" : "");
  impl_->Wake();
  return result;
}

Result<std::vector<DeployedWorkflow>> Scheduler::List() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<DeploymentRow> rows;
  {
    WEIR_ASSIGN_OR_RETURN(std::vector<store::WfDeploymentRow> stored,
                          impl_->store->ListDeployments());
    for (const store::WfDeploymentRow& r : stored) rows.push_back(FromStore(r));
  }
  std::vector<DeployedWorkflow> out;
  for (const DeploymentRow& d : rows) {
    WEIR_ASSIGN_OR_RETURN(DeployedWorkflow w, impl_->BuildDeployed(d));
    out.push_back(std::move(w));
  }
  return out;
}

Result<DeployedWorkflow> Scheduler::Get(std::string_view deployed_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl_->LoadDeployment(deployed_id));
  return impl_->BuildDeployed(d);
}

Result<std::vector<VersionInfo>> Scheduler::Versions(std::string_view deployed_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl_->LoadDeployment(deployed_id));
  WEIR_ASSIGN_OR_RETURN(std::vector<store::WfVersionRow> rows,
                        impl_->store->ListVersions(d.id, false));
  std::vector<VersionInfo> out;
  for (const store::WfVersionRow& r : rows) out.push_back(ToVersionInfo(r, d));
  return out;
}

Result<std::vector<std::string>> Scheduler::ReferencedBlobs() {
  std::vector<std::pair<std::string, std::string>> bundles;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    WEIR_ASSIGN_OR_RETURN(bundles, impl_->store->BundleManifests());
  }
  std::set<std::string> keys;
  for (const auto& [bundle_id, manifest] : bundles) {
    Result<workflow::BundleManifest> m = workflow::ParseManifest(manifest);
    if (!m.ok()) {
      return Internal("bundle " + bundle_id +
                      ": stored manifest does not parse: " + m.status().message());
    }
    keys.insert(bundle_id);
    for (const workflow::BundleFile& f : m->files) keys.insert(f.sha256);
    for (const workflow::BundleAsset& a : m->assets) keys.insert(a.sha256);
  }
  return std::vector<std::string>(keys.begin(), keys.end());
}

Result<VersionInfo> Scheduler::GetVersion(std::string_view deployed_id, int64_t version) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl_->LoadDeployment(deployed_id));
  WEIR_ASSIGN_OR_RETURN(std::optional<store::WfVersionRow> row,
                        impl_->store->GetVersion(d.id, version));
  if (!row) {
    return NotFound("workflow " + Quote(deployed_id) + ": no version " + std::to_string(version) +
                    " (latest is " + std::to_string(d.latest) + ")");
  }
  VersionInfo v = ToVersionInfo(*row, d);
  v.manifest_json = row->manifest;
  return v;
}

Result<std::vector<Activation>> Scheduler::Activations(std::string_view deployed_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  WEIR_RETURN_IF_ERROR(impl_->LoadDeployment(deployed_id).status());
  WEIR_ASSIGN_OR_RETURN(std::vector<store::WfActivationRow> rows,
                        impl_->store->ListActivations(std::string(deployed_id)));
  std::vector<Activation> out;
  for (const store::WfActivationRow& r : rows) {
    Activation a;
    a.version = r.version;
    a.previous = r.previous;
    a.reason = r.reason;
    a.actor = r.actor;
    a.at = FromEpochMillis(r.created_ms);
    out.push_back(std::move(a));
  }
  return out;
}

Result<DeployedWorkflow> Scheduler::Activate(std::string_view deployed_id, int64_t version,
                                             std::string_view actor) {
  WEIR_RETURN_IF_ERROR(CheckActor("actor", actor));
  Result<DeployedWorkflow> out = [&]() -> Result<DeployedWorkflow> {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const int64_t now = ToEpochMillis(impl_->clock.Now());
    WEIR_ASSIGN_OR_RETURN(auto txn, impl_->Begin());
    WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl_->LoadDeployment(deployed_id));
    WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedVersion> v,
                          impl_->LoadVersion(d.id, version));
    if (d.active != version) {
      WEIR_RETURN_IF_ERROR(impl_->SetActive(d, *v, "activate", actor, now));
      WEIR_RETURN_IF_ERROR(txn->Commit());
    }
    return impl_->BuildDeployed(d);
  }();
  if (out.ok()) impl_->Wake();
  return out;
}

Result<DeployedWorkflow> Scheduler::Rollback(std::string_view deployed_id,
                                             std::optional<int64_t> to, std::string_view actor) {
  WEIR_RETURN_IF_ERROR(CheckActor("actor", actor));
  Result<DeployedWorkflow> out = [&]() -> Result<DeployedWorkflow> {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const int64_t now = ToEpochMillis(impl_->clock.Now());
    WEIR_ASSIGN_OR_RETURN(auto txn, impl_->Begin());
    WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl_->LoadDeployment(deployed_id));
    if (!d.active) {
      return FailedPrecondition("workflow " + Quote(d.id) +
                                ": no active version to roll back from; activate one instead");
    }
    int64_t target = 0;
    if (to) {
      if (*to >= *d.active) {
        return InvalidArgument("rollback: version " + std::to_string(*to) +
                               " is not earlier than the active version " +
                               std::to_string(*d.active) + "; use activate to move forward");
      }
      target = *to;
    } else {
      // The most recently active version older than the active one.
      WEIR_ASSIGN_OR_RETURN(std::optional<int64_t> before,
                            impl_->store->LastActivatedBelow(d.id, *d.active));
      if (!before) {
        return FailedPrecondition("workflow " + Quote(d.id) + ": no version before " +
                                  std::to_string(*d.active) +
                                  " was ever active; name a version to activate");
      }
      target = *before;
    }
    WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedVersion> v, impl_->LoadVersion(d.id, target));
    WEIR_RETURN_IF_ERROR(impl_->SetActive(d, *v, "rollback", actor, now));
    WEIR_RETURN_IF_ERROR(txn->Commit());
    return impl_->BuildDeployed(d);
  }();
  if (out.ok()) impl_->Wake();
  return out;
}

// ---- instances ------------------------------------------------------------------------------

Result<Instance> Scheduler::Run(std::string_view deployed_id, const RunRequest& request) {
  WEIR_RETURN_IF_ERROR(CheckActor("requestedBy", request.requested_by));
  WEIR_RETURN_IF_ERROR(CheckParams("params", request.params));
  Params overrides = request.params;
  std::optional<int64_t> logical;
  for (std::string_view b : workflow::kBuiltinParams) {
    auto it = overrides.find(std::string(b));
    if (it == overrides.end()) continue;
    if (b != "EXECUTION_DATE") {
      return InvalidArgument("params: " + std::string(b) +
                             " is built in and set by the scheduler; only EXECUTION_DATE may be "
                             "given (for a backfill)");
    }
    Result<TimePoint> t = ParseIso8601(it->second);
    if (!t.ok()) {
      return InvalidArgument("params: EXECUTION_DATE '" + it->second +
                             "': use ISO-8601 such as 2026-01-31T00:00:00Z");
    }
    logical = ToEpochMillis(*t);
    overrides.erase(it);
  }
  Result<Instance> out = [&]() -> Result<Instance> {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const int64_t now = ToEpochMillis(impl_->clock.Now());
    WEIR_ASSIGN_OR_RETURN(auto txn, impl_->Begin());
    WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl_->LoadDeployment(deployed_id));
    WEIR_RETURN_IF_ERROR(impl_->LoadLifecycle(d));
    if (d.undeployed_ms) {
      return FailedPrecondition("workflow '" + d.id +
                                "' is undeployed; deploy it again with `weir project deploy`");
    }
    WEIR_ASSIGN_OR_RETURN(InstanceRow r,
                          impl_->CreateInstance(d, "manual", logical.value_or(now), overrides,
                                                request.requested_by, true, now));
    WEIR_RETURN_IF_ERROR(txn->Commit());
    return impl_->BuildInstance(r, true);
  }();
  if (out.ok()) impl_->Wake();
  return out;
}

Result<InstancePage> Scheduler::Instances(std::string_view deployed_id,
                                          const InstanceQuery& query) {
  if (query.page < 0) return InvalidArgument("page: must be 0 or more");
  if (query.size < 1 || query.size > 1000) return InvalidArgument("size: must be 1..1000");
  std::lock_guard<std::mutex> lock(impl_->mu);
  WEIR_RETURN_IF_ERROR(impl_->LoadDeployment(deployed_id).status());
  std::vector<std::string> statuses;
  for (InstanceStatus st : query.statuses) statuses.emplace_back(InstanceStatusName(st));
  InstancePage page;
  const std::string id(deployed_id);
  WEIR_ASSIGN_OR_RETURN(page.total, impl_->store->CountInstances(id, statuses));
  std::vector<InstanceRow> rows;
  {
    WEIR_ASSIGN_OR_RETURN(
        std::vector<store::WfInstanceRow> stored,
        impl_->store->ListInstances(id, statuses, query.size, query.page * query.size));
    for (const store::WfInstanceRow& r : stored) rows.push_back(FromStore(r));
  }
  for (const InstanceRow& r : rows) {
    WEIR_ASSIGN_OR_RETURN(Instance i, impl_->BuildInstance(r, false));
    page.instances.push_back(std::move(i));
  }
  return page;
}

Result<Instance> Scheduler::GetInstance(std::string_view deployed_id, int64_t number) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  WEIR_RETURN_IF_ERROR(impl_->LoadDeployment(deployed_id).status());
  WEIR_ASSIGN_OR_RETURN(InstanceRow r, impl_->LoadInstance(deployed_id, number));
  return impl_->BuildInstance(r, true);
}

}  // namespace weir::scheduler
