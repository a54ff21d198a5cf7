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
#include "workflow/project.h"
#include "workflow/validate.h"

namespace weir::scheduler {

namespace sql = store::sqlite;  // the SQLite adapter shared with the store

namespace {

namespace json = boost::json;

// Bound of the prepared-statement cache (the scheduler's SQL texts are few).
constexpr size_t kMaxCachedStatements = 256;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS wf_deployments (
  deployed_id TEXT PRIMARY KEY NOT NULL,
  environment TEXT NOT NULL,
  owner TEXT NOT NULL,
  repo TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  active_version INTEGER,
  latest_version INTEGER NOT NULL,
  env_params TEXT NOT NULL,
  catchup TEXT NOT NULL,
  next_instance INTEGER NOT NULL,
  cursor_ms INTEGER,
  schedule_key TEXT,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS wf_versions (
  deployed_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  bundle_id TEXT NOT NULL,
  manifest TEXT NOT NULL,
  deployer TEXT NOT NULL,
  dirty INTEGER NOT NULL,
  branch TEXT NOT NULL,
  commit_sha TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (deployed_id, version),
  UNIQUE (deployed_id, bundle_id)
);
CREATE TABLE IF NOT EXISTS wf_activations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  deployed_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  previous INTEGER,
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS wf_activations_by_workflow ON wf_activations (deployed_id, seq);
CREATE TABLE IF NOT EXISTS wf_fires (
  deployed_id TEXT NOT NULL,
  fire_ms INTEGER NOT NULL,
  instance INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (deployed_id, fire_ms)
);
CREATE TABLE IF NOT EXISTS wf_after_pending (
  deployed_id TEXT NOT NULL,
  logical_ms INTEGER NOT NULL,
  upstream TEXT NOT NULL,
  succeeded_ms INTEGER NOT NULL,
  instance INTEGER NOT NULL,
  PRIMARY KEY (deployed_id, logical_ms, upstream)
);
CREATE TABLE IF NOT EXISTS wf_backfills (
  deployed_id TEXT NOT NULL,
  instance INTEGER NOT NULL,
  parallel INTEGER NOT NULL,
  PRIMARY KEY (deployed_id, instance)
);
CREATE TABLE IF NOT EXISTS wf_instances (
  deployed_id TEXT NOT NULL,
  instance INTEGER NOT NULL,
  version INTEGER NOT NULL,
  bundle_id TEXT NOT NULL,
  status TEXT NOT NULL,
  message TEXT NOT NULL,
  trigger_kind TEXT NOT NULL,
  trigger_ms INTEGER NOT NULL,
  requested_by TEXT NOT NULL,
  run INTEGER NOT NULL,
  params TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  started_ms INTEGER,
  finished_ms INTEGER,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (deployed_id, instance)
);
CREATE INDEX IF NOT EXISTS wf_instances_active ON wf_instances (status)
  WHERE status IN ('CREATED', 'RUNNING');
CREATE TABLE IF NOT EXISTS wf_steps (
  deployed_id TEXT NOT NULL,
  instance INTEGER NOT NULL,
  step TEXT NOT NULL,
  position INTEGER NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  job_id TEXT,
  submitted INTEGER NOT NULL,
  not_before_ms INTEGER,
  message TEXT NOT NULL,
  started_ms INTEGER,
  finished_ms INTEGER,
  PRIMARY KEY (deployed_id, instance, step)
);
CREATE TABLE IF NOT EXISTS wf_attempts (
  job_id TEXT PRIMARY KEY NOT NULL,
  deployed_id TEXT NOT NULL,
  instance INTEGER NOT NULL,
  step TEXT NOT NULL,
  run INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  message TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  finished_ms INTEGER
);
CREATE INDEX IF NOT EXISTS wf_attempts_by_step ON wf_attempts (deployed_id, instance, step);
)sql";

constexpr const char* kDeploymentColumns =
    "deployed_id, environment, owner, repo, workflow_id, active_version, latest_version, "
    "env_params, catchup, next_instance, cursor_ms, schedule_key, created_ms, updated_ms";

constexpr const char* kInstanceColumns =
    "deployed_id, instance, version, bundle_id, status, message, trigger_kind, trigger_ms, "
    "requested_by, run, params, created_ms, started_ms, finished_ms";

constexpr const char* kStepColumns =
    "step, position, status, attempts, job_id, submitted, not_before_ms, message, started_ms, "
    "finished_ms";

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

DeploymentRow ReadDeployment(const sql::Stmt& s) {
  DeploymentRow d;
  d.id = s.String(0);
  d.environment = s.String(1);
  d.owner = s.String(2);
  d.repo = s.String(3);
  d.workflow_id = s.String(4);
  d.active = s.OptInt(5);
  d.latest = s.Int(6);
  d.env_params = ParamsFromJson(s.String(7));
  d.catchup = ParseCatchUp(s.String(8)).value_or(CatchUp::kLatest);
  d.next_instance = s.Int(9);
  d.cursor_ms = s.OptInt(10);
  if (!s.IsNull(11)) d.schedule_key = s.String(11);
  d.created_ms = s.Int(12);
  d.updated_ms = s.Int(13);
  return d;
}

InstanceRow ReadInstance(const sql::Stmt& s) {
  InstanceRow r;
  r.deployed_id = s.String(0);
  r.number = s.Int(1);
  r.version = s.Int(2);
  r.bundle_id = s.String(3);
  r.status = ParseInstanceStatus(s.String(4)).value_or(InstanceStatus::kFailed);
  r.message = s.String(5);
  r.trigger = s.String(6);
  r.trigger_ms = s.Int(7);
  r.requested_by = s.String(8);
  r.run = s.Int(9);
  r.params = ParamsFromJson(s.String(10));
  r.created_ms = s.Int(11);
  r.started_ms = s.OptInt(12);
  r.finished_ms = s.OptInt(13);
  return r;
}

StepRow ReadStep(const sql::Stmt& s) {
  StepRow r;
  r.step = s.String(0);
  r.position = static_cast<int>(s.Int(1));
  r.status = ParseStepStatus(s.String(2)).value_or(StepStatus::kFailed);
  r.attempts = static_cast<int>(s.Int(3));
  if (!s.IsNull(4)) r.job_id = s.String(4);
  r.submitted = s.Int(5) != 0;
  r.not_before_ms = s.OptInt(6);
  r.message = s.String(7);
  r.started_ms = s.OptInt(8);
  r.finished_ms = s.OptInt(9);
  return r;
}

// The columns ReadVersion reads, in its order; a query may select more after them.
constexpr const char* kVersionColumns =
    "version, bundle_id, deployer, dirty, branch, commit_sha, created_ms";

// A row of wf_versions (without the manifest) of the deployment `d`.
VersionInfo ReadVersion(const sql::Stmt& s, const DeploymentRow& d) {
  VersionInfo v;
  v.version = s.Int(0);
  v.bundle_id = s.String(1);
  v.deployer = s.String(2);
  v.dirty = s.Int(3) != 0;
  v.branch = s.String(4);
  v.commit = s.String(5);
  v.created = FromEpochMillis(s.Int(6));
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
  if (!blobs || !launcher) return InvalidArgument("scheduler: blobs and launcher are required");
  if (options.poll_interval <= Millis(0)) options.poll_interval = Millis(100);
  if (options.max_catchup < 1) options.max_catchup = 1;
  auto impl = std::make_unique<Impl>(options, std::move(blobs), std::move(launcher), clock);
  auto db = sql::Database::Open(options.db_path, options.busy_timeout_ms, kMaxCachedStatements);
  if (!db.ok()) return db.status().WithContext("scheduler database");
  impl->db = std::move(*db);
  impl->InstallEventHooks();
  if (Status s = impl->db->Exec(kSchema); !s.ok()) {
    return Internal("scheduler database '" + options.db_path + "': " + s.message());
  }
  if (Status s = impl->UpgradeSchema(); !s.ok()) {
    return Internal("scheduler database '" + options.db_path + "': upgrade: " + s.message());
  }
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
  WEIR_ASSIGN_OR_RETURN(sql::Stmt s, db->Prepare(std::string("SELECT ") + kDeploymentColumns +
                                                 " FROM wf_deployments WHERE deployed_id = ?"));
  s.Bind(id);
  WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return NotFound("workflow " + Quote(id) +
                    ": not deployed; list deployed workflows with `weir workflow list`");
  }
  return ReadDeployment(s);
}

Status Scheduler::Impl::SaveDeploymentState(const DeploymentRow& d, int64_t now_ms) {
  WEIR_ASSIGN_OR_RETURN(
      sql::Stmt s, db->Prepare("UPDATE wf_deployments SET active_version = ?, latest_version = ?, "
                               "env_params = ?, catchup = ?, next_instance = ?, cursor_ms = ?, "
                               "schedule_key = ?, updated_ms = ? WHERE deployed_id = ?"));
  s.Bind(d.active)
      .Bind(d.latest)
      .Bind(ParamsToJson(d.env_params))
      .Bind(CatchUpName(d.catchup))
      .Bind(d.next_instance)
      .Bind(d.cursor_ms)
      .Bind(d.schedule_key)
      .Bind(now_ms)
      .Bind(d.id);
  return s.Run();
}

Result<std::shared_ptr<const LoadedVersion>> Scheduler::Impl::LoadVersion(const std::string& id,
                                                                          int64_t version) {
  auto key = std::make_pair(id, version);
  if (auto it = versions.find(key); it != versions.end()) return it->second;
  WEIR_ASSIGN_OR_RETURN(sql::Stmt s,
                        db->Prepare("SELECT bundle_id, manifest, deployer FROM wf_versions "
                                    "WHERE deployed_id = ? AND version = ?"));
  s.Bind(id).Bind(version);
  WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return NotFound("workflow " + Quote(id) + ": no version " + std::to_string(version));
  }
  std::string bundle_id = s.String(0);
  std::string manifest_json = s.String(1);
  std::string deployer = s.String(2);
  Result<workflow::BundleManifest> m = workflow::ParseManifest(manifest_json);
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
  v->bundle_id = bundle_id;
  v->deployer = deployer;
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
  WEIR_ASSIGN_OR_RETURN(sql::Stmt s,
                        db->Prepare("INSERT INTO wf_activations (deployed_id, version, previous, "
                                    "reason, actor, created_ms) VALUES (?, ?, ?, ?, ?, ?)"));
  s.Bind(d.id).Bind(v.version).Bind(previous).Bind(reason).Bind(actor).Bind(now_ms);
  WEIR_RETURN_IF_ERROR(s.Run());
  return SaveDeploymentState(d, now_ms);
}

Result<InstanceRow> Scheduler::Impl::LoadInstance(std::string_view id, int64_t number) {
  WEIR_ASSIGN_OR_RETURN(sql::Stmt s,
                        db->Prepare(std::string("SELECT ") + kInstanceColumns +
                                    " FROM wf_instances WHERE deployed_id = ? AND instance = ?"));
  s.Bind(id).Bind(number);
  WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return NotFound("instance " + InstanceId(id, number) + ": not found");
  }
  return ReadInstance(s);
}

Result<std::vector<StepRow>> Scheduler::Impl::LoadSteps(std::string_view id, int64_t number) {
  WEIR_ASSIGN_OR_RETURN(sql::Stmt s,
                        db->Prepare(std::string("SELECT ") + kStepColumns +
                                    " FROM wf_steps WHERE deployed_id = ? AND instance = ? "
                                    "ORDER BY position"));
  s.Bind(id).Bind(number);
  std::vector<StepRow> out;
  while (true) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadStep(s));
  }
  return out;
}

Status Scheduler::Impl::SaveInstance(const InstanceRow& r, int64_t now_ms) {
  WEIR_RETURN_IF_ERROR(NoteInstance(r, /*created=*/false, now_ms));
  WEIR_ASSIGN_OR_RETURN(
      sql::Stmt s,
      db->Prepare("UPDATE wf_instances SET status = ?, message = ?, run = ?, started_ms = ?, "
                  "finished_ms = ?, updated_ms = ? WHERE deployed_id = ? AND instance = ?"));
  s.Bind(InstanceStatusName(r.status))
      .Bind(r.message)
      .Bind(r.run)
      .Bind(r.started_ms)
      .Bind(r.finished_ms)
      .Bind(now_ms)
      .Bind(r.deployed_id)
      .Bind(r.number);
  return s.Run();
}

Status Scheduler::Impl::SaveStep(const std::string& id, int64_t number, const StepRow& r) {
  WEIR_RETURN_IF_ERROR(NoteStep(id, number, r));
  WEIR_ASSIGN_OR_RETURN(
      sql::Stmt s,
      db->Prepare("UPDATE wf_steps SET status = ?, attempts = ?, job_id = ?, submitted = ?, "
                  "not_before_ms = ?, message = ?, started_ms = ?, finished_ms = ? "
                  "WHERE deployed_id = ? AND instance = ? AND step = ?"));
  s.Bind(StepStatusName(r.status))
      .Bind(r.attempts)
      .Bind(r.job_id)
      .Bind(int64_t{r.submitted ? 1 : 0})
      .Bind(r.not_before_ms)
      .Bind(r.message)
      .Bind(r.started_ms)
      .Bind(r.finished_ms)
      .Bind(id)
      .Bind(number)
      .Bind(r.step);
  return s.Run();
}

Status Scheduler::Impl::InsertAttempt(const std::string& id, int64_t number,
                                      const std::string& step, int64_t run, int attempt,
                                      const std::string& job_id, int64_t now_ms) {
  WEIR_ASSIGN_OR_RETURN(
      sql::Stmt s,
      db->Prepare("INSERT INTO wf_attempts (job_id, deployed_id, instance, step, run, attempt, "
                  "status, message, created_ms) VALUES (?, ?, ?, ?, ?, ?, 'SUBMITTING', '', ?)"));
  s.Bind(job_id).Bind(id).Bind(number).Bind(step).Bind(run).Bind(attempt).Bind(now_ms);
  return s.Run();
}

Status Scheduler::Impl::FinishAttempt(const std::string& job_id, std::string_view status,
                                      std::string_view message,
                                      std::optional<int64_t> finished_ms) {
  WEIR_ASSIGN_OR_RETURN(sql::Stmt s, db->Prepare("UPDATE wf_attempts SET status = ?, message = ?, "
                                                 "finished_ms = ? WHERE job_id = ?"));
  s.Bind(status).Bind(message).Bind(finished_ms).Bind(job_id);
  return s.Run();
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
  WEIR_ASSIGN_OR_RETURN(
      sql::Stmt s,
      db->Prepare("INSERT INTO wf_instances (deployed_id, instance, version, bundle_id, status, "
                  "message, trigger_kind, trigger_ms, requested_by, run, params, created_ms, "
                  "started_ms, finished_ms, updated_ms) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, NULL, ?, ?)"));
  s.Bind(r.deployed_id)
      .Bind(r.number)
      .Bind(r.version)
      .Bind(r.bundle_id)
      .Bind(InstanceStatusName(r.status))
      .Bind(r.message)
      .Bind(r.trigger)
      .Bind(r.trigger_ms)
      .Bind(r.requested_by)
      .Bind(ParamsToJson(r.params))
      .Bind(now_ms)
      .Bind(r.finished_ms)
      .Bind(now_ms);
  WEIR_RETURN_IF_ERROR(s.Run());
  WEIR_RETURN_IF_ERROR(NoteInstance(r, /*created=*/true, now_ms));
  metrics::Weir().workflow_instances.With({std::string(InstanceStatusName(r.status))}).Inc();
  int position = 0;
  for (const workflow::JobTemplate& j : v->wf.jobs) {
    WEIR_ASSIGN_OR_RETURN(
        sql::Stmt st,
        db->Prepare("INSERT INTO wf_steps (deployed_id, instance, step, position, status, "
                    "attempts, job_id, submitted, not_before_ms, message, started_ms, "
                    "finished_ms) VALUES (?, ?, ?, ?, 'PENDING', 0, NULL, 0, NULL, '', NULL, "
                    "NULL)"));
    st.Bind(r.deployed_id).Bind(r.number).Bind(j.id).Bind(position++);
    WEIR_RETURN_IF_ERROR(st.Run());
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
    WEIR_ASSIGN_OR_RETURN(
        sql::Stmt s,
        db->Prepare("SELECT step, job_id, run, attempt, status, message, created_ms, finished_ms "
                    "FROM wf_attempts WHERE deployed_id = ? AND instance = ? "
                    "ORDER BY created_ms, run, attempt"));
    s.Bind(row.deployed_id).Bind(row.number);
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool more, s.Step());
      if (!more) break;
      StepAttempt a;
      a.job_id = s.String(1);
      a.run = s.Int(2);
      a.attempt = static_cast<int>(s.Int(3));
      a.status = s.String(4);
      a.message = s.String(5);
      a.created = FromEpochMillis(s.Int(6));
      a.finished = OptTime(s.OptInt(7));
      history[s.String(0)].push_back(std::move(a));
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
    WEIR_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::Begin(*impl_->db, true));
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
      WEIR_ASSIGN_OR_RETURN(
          sql::Stmt s,
          impl_->db->Prepare(std::string("INSERT INTO wf_deployments (") + kDeploymentColumns +
                             ") VALUES (?, ?, ?, ?, ?, NULL, 0, '{}', 'latest', 1, NULL, NULL, "
                             "?, ?)"));
      s.Bind(d.id)
          .Bind(d.environment)
          .Bind(d.owner)
          .Bind(d.repo)
          .Bind(d.workflow_id)
          .Bind(now)
          .Bind(now);
      WEIR_RETURN_IF_ERROR(s.Run());
    } else {
      return existing.status();
    }
    if (request.environment_params) d.env_params = *request.environment_params;
    if (request.catchup) d.catchup = *request.catchup;
    WEIR_RETURN_IF_ERROR(impl_->CheckUpstreamsDeployed(*v, m));

    std::optional<int64_t> same;
    {
      WEIR_ASSIGN_OR_RETURN(sql::Stmt s,
                            impl_->db->Prepare("SELECT version FROM wf_versions "
                                               "WHERE deployed_id = ? AND bundle_id = ?"));
      s.Bind(id).Bind(bundle_id);
      WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) same = s.Int(0);
    }
    if (!same) {
      // Version churn: a bundle that differs from an existing version only in the source commit
      // (an unrelated commit rendered the same workflow with the same assets and files) is that
      // version; the newest such one wins.
      WEIR_ASSIGN_OR_RETURN(sql::Stmt s, impl_->db->Prepare("SELECT version, bundle_id, manifest "
                                                            "FROM wf_versions WHERE deployed_id = "
                                                            "? ORDER BY version DESC"));
      s.Bind(id);
      while (!same) {
        WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        Result<workflow::BundleManifest> old = workflow::ParseManifest(s.String(2));
        if (!old.ok()) continue;
        workflow::Normalize(*old);
        old->commit = m.commit;
        if (workflow::CanonicalJson(*old) == canonical) {
          same = s.Int(0);
          result.bundle_id = s.String(1);
        }
      }
    }
    if (same) {
      result.version = *same;
      result.created = false;
    } else {
      result.version = d.latest + 1;
      result.created = true;
      WEIR_ASSIGN_OR_RETURN(
          sql::Stmt s,
          impl_->db->Prepare("INSERT INTO wf_versions (deployed_id, version, bundle_id, manifest, "
                             "deployer, dirty, branch, commit_sha, created_ms) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      s.Bind(id)
          .Bind(result.version)
          .Bind(bundle_id)
          .Bind(canonical)
          .Bind(request.deployer)
          .Bind(int64_t{m.dirty ? 1 : 0})
          .Bind(m.branch)
          .Bind(m.commit)
          .Bind(now);
      WEIR_RETURN_IF_ERROR(s.Run());
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
    WEIR_RETURN_IF_ERROR(txn.Commit());
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
    WEIR_ASSIGN_OR_RETURN(sql::Stmt s,
                          impl_->db->Prepare(std::string("SELECT ") + kDeploymentColumns +
                                             " FROM wf_deployments ORDER BY deployed_id"));
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      rows.push_back(ReadDeployment(s));
    }
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
  WEIR_ASSIGN_OR_RETURN(sql::Stmt s, impl_->db->Prepare(std::string("SELECT ") + kVersionColumns +
                                                        " FROM wf_versions WHERE deployed_id = ? "
                                                        "ORDER BY version DESC"));
  s.Bind(deployed_id);
  std::vector<VersionInfo> out;
  while (true) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadVersion(s, d));
  }
  return out;
}

Result<VersionInfo> Scheduler::GetVersion(std::string_view deployed_id, int64_t version) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl_->LoadDeployment(deployed_id));
  WEIR_ASSIGN_OR_RETURN(sql::Stmt s,
                        impl_->db->Prepare(std::string("SELECT ") + kVersionColumns +
                                           ", manifest FROM wf_versions WHERE deployed_id = ? "
                                           "AND version = ?"));
  s.Bind(deployed_id).Bind(version);
  WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return NotFound("workflow " + Quote(deployed_id) + ": no version " + std::to_string(version) +
                    " (latest is " + std::to_string(d.latest) + ")");
  }
  VersionInfo v = ReadVersion(s, d);
  v.manifest_json = s.String(7);
  return v;
}

Result<std::vector<Activation>> Scheduler::Activations(std::string_view deployed_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  WEIR_RETURN_IF_ERROR(impl_->LoadDeployment(deployed_id).status());
  WEIR_ASSIGN_OR_RETURN(
      sql::Stmt s, impl_->db->Prepare("SELECT version, previous, reason, actor, created_ms FROM "
                                      "wf_activations WHERE deployed_id = ? ORDER BY seq DESC"));
  s.Bind(deployed_id);
  std::vector<Activation> out;
  while (true) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    Activation a;
    a.version = s.Int(0);
    a.previous = s.OptInt(1);
    a.reason = s.String(2);
    a.actor = s.String(3);
    a.at = FromEpochMillis(s.Int(4));
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
    WEIR_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::Begin(*impl_->db, true));
    WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl_->LoadDeployment(deployed_id));
    WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedVersion> v,
                          impl_->LoadVersion(d.id, version));
    if (d.active != version) {
      WEIR_RETURN_IF_ERROR(impl_->SetActive(d, *v, "activate", actor, now));
      WEIR_RETURN_IF_ERROR(txn.Commit());
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
    WEIR_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::Begin(*impl_->db, true));
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
      WEIR_ASSIGN_OR_RETURN(
          sql::Stmt s,
          impl_->db->Prepare("SELECT version FROM wf_activations WHERE deployed_id = ? AND "
                             "version < ? ORDER BY seq DESC LIMIT 1"));
      s.Bind(d.id).Bind(*d.active);
      WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) {
        return FailedPrecondition("workflow " + Quote(d.id) + ": no version before " +
                                  std::to_string(*d.active) +
                                  " was ever active; name a version to activate");
      }
      target = s.Int(0);
    }
    WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedVersion> v, impl_->LoadVersion(d.id, target));
    WEIR_RETURN_IF_ERROR(impl_->SetActive(d, *v, "rollback", actor, now));
    WEIR_RETURN_IF_ERROR(txn.Commit());
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
    WEIR_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::Begin(*impl_->db, true));
    WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl_->LoadDeployment(deployed_id));
    WEIR_RETURN_IF_ERROR(impl_->LoadLifecycle(d));
    if (d.undeployed_ms) {
      return FailedPrecondition("workflow '" + d.id +
                                "' is undeployed; deploy it again with `weir project deploy`");
    }
    WEIR_ASSIGN_OR_RETURN(InstanceRow r,
                          impl_->CreateInstance(d, "manual", logical.value_or(now), overrides,
                                                request.requested_by, true, now));
    WEIR_RETURN_IF_ERROR(txn.Commit());
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
  std::string where = " WHERE deployed_id = ?";
  if (!query.statuses.empty()) {
    where += " AND status IN (";
    for (size_t i = 0; i < query.statuses.size(); ++i) where += i ? ", ?" : "?";
    where += ")";
  }
  InstancePage page;
  {
    WEIR_ASSIGN_OR_RETURN(sql::Stmt s,
                          impl_->db->Prepare("SELECT COUNT(*) FROM wf_instances" + where));
    s.Bind(deployed_id);
    for (InstanceStatus st : query.statuses) s.Bind(InstanceStatusName(st));
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    page.total = row ? s.Int(0) : 0;
  }
  std::vector<InstanceRow> rows;
  {
    WEIR_ASSIGN_OR_RETURN(
        sql::Stmt s,
        impl_->db->Prepare(std::string("SELECT ") + kInstanceColumns + " FROM wf_instances" +
                           where + " ORDER BY instance DESC LIMIT ? OFFSET ?"));
    s.Bind(deployed_id);
    for (InstanceStatus st : query.statuses) s.Bind(InstanceStatusName(st));
    s.Bind(query.size).Bind(query.page * query.size);
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      rows.push_back(ReadInstance(s));
    }
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
