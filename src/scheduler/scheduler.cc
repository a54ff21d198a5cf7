// The Scheduler: opening the tables, deployments (deploy, activate, rollback), queries, and the
// creation of instances. Rows and their conversions are in rows.cc, triggers in triggers.cc, the
// DAG runner in runner.cc.
#include "scheduler/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <set>

#include "blob/sha256.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "metrics/weir_metrics.h"
#include "scheduler/logical_dates.h"
#include "scheduler/rows.h"
#include "scheduler/scheduler_internal.h"
#include "store/sqlite/sqlite_scheduler_store.h"
#include "workflow/project.h"
#include "workflow/validate.h"

namespace weir::scheduler {

namespace {

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
