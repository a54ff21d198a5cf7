#include "store/sqlite/sqlite_scheduler_store.h"

#include "store/sqlite/database.h"

namespace weir::store::sqlite {
namespace {

// Bound of the prepared-statement cache (the scheduler's SQL texts are few).
constexpr size_t kMaxCachedStatements = 256;

// The scheduler's tables since its first version; the lifecycle columns come from Upgrade().
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
CREATE INDEX IF NOT EXISTS wf_attempts_killing ON wf_attempts (status) WHERE status = 'KILLING';
)sql";

constexpr const char* kDeploymentColumns =
    "deployed_id, environment, owner, repo, workflow_id, active_version, latest_version, "
    "env_params, catchup, next_instance, cursor_ms, schedule_key, created_ms, updated_ms, "
    "paused, undeployed_ms";

constexpr const char* kInstanceColumns =
    "deployed_id, instance, version, bundle_id, status, message, trigger_kind, trigger_ms, "
    "requested_by, run, params, created_ms, started_ms, finished_ms";

constexpr const char* kStepColumns =
    "step, position, status, attempts, job_id, submitted, not_before_ms, message, started_ms, "
    "finished_ms";

constexpr const char* kVersionColumns =
    "deployed_id, version, bundle_id, deployer, dirty, branch, commit_sha, created_ms";

WfDeploymentRow ReadDeployment(const Stmt& s) {
  WfDeploymentRow d;
  d.id = s.String(0);
  d.environment = s.String(1);
  d.owner = s.String(2);
  d.repo = s.String(3);
  d.workflow_id = s.String(4);
  d.active_version = s.OptInt(5);
  d.latest_version = s.Int(6);
  d.env_params = s.String(7);
  d.catchup = s.String(8);
  d.next_instance = s.Int(9);
  d.cursor_ms = s.OptInt(10);
  d.schedule_key = s.OptString(11);
  d.created_ms = s.Int(12);
  d.updated_ms = s.Int(13);
  d.paused = s.Int(14) != 0;
  d.undeployed_ms = s.OptInt(15);
  return d;
}

WfInstanceRow ReadInstance(const Stmt& s) {
  WfInstanceRow r;
  r.deployed_id = s.String(0);
  r.number = s.Int(1);
  r.version = s.Int(2);
  r.bundle_id = s.String(3);
  r.status = s.String(4);
  r.message = s.String(5);
  r.trigger = s.String(6);
  r.trigger_ms = s.Int(7);
  r.requested_by = s.String(8);
  r.run = s.Int(9);
  r.params = s.String(10);
  r.created_ms = s.Int(11);
  r.started_ms = s.OptInt(12);
  r.finished_ms = s.OptInt(13);
  return r;
}

WfStepRow ReadStep(const Stmt& s) {
  WfStepRow r;
  r.step = s.String(0);
  r.position = static_cast<int>(s.Int(1));
  r.status = s.String(2);
  r.attempts = static_cast<int>(s.Int(3));
  r.job_id = s.OptString(4);
  r.submitted = s.Int(5) != 0;
  r.not_before_ms = s.OptInt(6);
  r.message = s.String(7);
  r.started_ms = s.OptInt(8);
  r.finished_ms = s.OptInt(9);
  return r;
}

WfVersionRow ReadVersion(const Stmt& s) {
  WfVersionRow v;
  v.deployed_id = s.String(0);
  v.version = s.Int(1);
  v.bundle_id = s.String(2);
  v.deployer = s.String(3);
  v.dirty = s.Int(4) != 0;
  v.branch = s.String(5);
  v.commit = s.String(6);
  v.created_ms = s.Int(7);
  return v;
}

// Runs an INSERT; a uniqueness violation is kAlreadyExists naming `what`.
Status RunInsert(Stmt& s, const std::string& what) {
  Status st = s.Run();
  if (!st.ok() && (s.last_code() == SQLITE_CONSTRAINT_PRIMARYKEY ||
                   s.last_code() == SQLITE_CONSTRAINT_UNIQUE)) {
    return AlreadyExists(what + ": already exists");
  }
  return st;
}

template <typename T, typename Read>
Result<std::vector<T>> ReadAll(Stmt& s, Read read) {
  std::vector<T> out;
  while (true) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    out.push_back(read(s));
  }
}

class SqliteTransaction final : public SchedulerStore::Transaction {
 public:
  explicit SqliteTransaction(sqlite::Transaction t) : t_(std::move(t)) {}
  Status Commit() override { return t_.Commit(); }

 private:
  sqlite::Transaction t_;
};

class SqliteSchedulerStore final : public SchedulerStore {
 public:
  explicit SqliteSchedulerStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  Status Init() {
    WEIR_RETURN_IF_ERROR(db_->Exec(kSchema));
    return Upgrade();
  }

  Result<std::unique_ptr<Transaction>> Begin() override {
    WEIR_ASSIGN_OR_RETURN(sqlite::Transaction t, sqlite::Transaction::Begin(*db_, true));
    return std::unique_ptr<Transaction>(new SqliteTransaction(std::move(t)));
  }

  Status InsertDeployment(const WfDeploymentRow& d) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare(std::string("INSERT INTO wf_deployments (") + kDeploymentColumns +
                             ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    s.Bind(d.id)
        .Bind(d.environment)
        .Bind(d.owner)
        .Bind(d.repo)
        .Bind(d.workflow_id)
        .Bind(d.active_version)
        .Bind(d.latest_version)
        .Bind(d.env_params)
        .Bind(d.catchup)
        .Bind(d.next_instance)
        .Bind(d.cursor_ms)
        .Bind(d.schedule_key)
        .Bind(d.created_ms)
        .Bind(d.updated_ms)
        .Bind(int64_t{d.paused ? 1 : 0})
        .Bind(d.undeployed_ms);
    return RunInsert(s, "workflow '" + d.id + "'");
  }

  Result<std::optional<WfDeploymentRow>> GetDeployment(const std::string& id) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(std::string("SELECT ") + kDeploymentColumns +
                                               " FROM wf_deployments WHERE deployed_id = ?"));
    s.Bind(id);
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<WfDeploymentRow>();
    return std::optional<WfDeploymentRow>(ReadDeployment(s));
  }

  Result<std::vector<WfDeploymentRow>> ListDeployments() override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(std::string("SELECT ") + kDeploymentColumns +
                                               " FROM wf_deployments ORDER BY deployed_id"));
    return ReadAll<WfDeploymentRow>(s, ReadDeployment);
  }

  Status UpdateDeployment(const WfDeploymentRow& d) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare("UPDATE wf_deployments SET active_version = ?, latest_version = ?, "
                             "env_params = ?, catchup = ?, next_instance = ?, cursor_ms = ?, "
                             "schedule_key = ?, updated_ms = ? WHERE deployed_id = ?"));
    s.Bind(d.active_version)
        .Bind(d.latest_version)
        .Bind(d.env_params)
        .Bind(d.catchup)
        .Bind(d.next_instance)
        .Bind(d.cursor_ms)
        .Bind(d.schedule_key)
        .Bind(d.updated_ms)
        .Bind(d.id);
    return s.Run();
  }

  Result<std::vector<WfDeploymentRow>> DeploymentsToFire(int64_t now_ms) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare(std::string("SELECT ") + kDeploymentColumns +
                             " FROM wf_deployments WHERE active_version IS NOT NULL AND "
                             "schedule_key IS NOT NULL AND paused = 0 AND undeployed_ms IS NULL "
                             "AND (cursor_ms IS NULL OR cursor_ms < ?) ORDER BY deployed_id"));
    s.Bind(now_ms);
    return ReadAll<WfDeploymentRow>(s, ReadDeployment);
  }

  Result<std::vector<WfDeploymentRow>> DeploymentsOfRepo(const std::string& environment,
                                                         const std::string& owner,
                                                         const std::string& repo,
                                                         const std::string& exclude_id) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare(std::string("SELECT ") + kDeploymentColumns +
                             " FROM wf_deployments WHERE environment = ? AND owner = ? AND "
                             "repo = ? AND active_version IS NOT NULL AND paused = 0 AND "
                             "undeployed_ms IS NULL AND deployed_id <> ? ORDER BY deployed_id"));
    s.Bind(environment).Bind(owner).Bind(repo).Bind(exclude_id);
    return ReadAll<WfDeploymentRow>(s, ReadDeployment);
  }

  Status SetPaused(const std::string& id, bool paused, int64_t now_ms,
                   std::optional<int64_t> updated_ms) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare(paused ? "UPDATE wf_deployments SET paused = 1, updated_ms = "
                                      "COALESCE(?2, updated_ms) WHERE deployed_id = ?3 AND ?1 = ?1"
                                    : "UPDATE wf_deployments SET paused = 0, cursor_ms = "
                                      "MAX(COALESCE(cursor_ms, 0), ?1), updated_ms = COALESCE(?2, "
                                      "updated_ms) WHERE deployed_id = ?3 AND paused = 1"));
    s.Bind(now_ms).Bind(updated_ms).Bind(id);
    return s.Run();
  }

  Status SetUndeployed(const std::string& id, int64_t now_ms) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare("UPDATE wf_deployments SET undeployed_ms = COALESCE(undeployed_ms, "
                             "?1), updated_ms = ?1 WHERE deployed_id = ?2"));
    s.Bind(now_ms).Bind(id);
    return s.Run();
  }

  Status ClearUndeployed(const std::string& id) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare("UPDATE wf_deployments SET undeployed_ms = NULL WHERE deployed_id = "
                             "? AND undeployed_ms IS NOT NULL"));
    s.Bind(id);
    return s.Run();
  }

  Status InsertVersion(const WfVersionRow& v) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare("INSERT INTO wf_versions (deployed_id, version, bundle_id, manifest, "
                             "deployer, dirty, branch, commit_sha, created_ms) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    s.Bind(v.deployed_id)
        .Bind(v.version)
        .Bind(v.bundle_id)
        .Bind(v.manifest)
        .Bind(v.deployer)
        .Bind(int64_t{v.dirty ? 1 : 0})
        .Bind(v.branch)
        .Bind(v.commit)
        .Bind(v.created_ms);
    return RunInsert(s, "workflow '" + v.deployed_id + "' version " + std::to_string(v.version));
  }

  Result<std::optional<WfVersionRow>> GetVersion(const std::string& id, int64_t version) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(std::string("SELECT ") + kVersionColumns +
                                               ", manifest FROM wf_versions WHERE deployed_id = ? "
                                               "AND version = ?"));
    s.Bind(id).Bind(version);
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<WfVersionRow>();
    WfVersionRow v = ReadVersion(s);
    v.manifest = s.String(8);
    return std::optional<WfVersionRow>(std::move(v));
  }

  Result<std::vector<WfVersionRow>> ListVersions(const std::string& id,
                                                 bool with_manifests) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare(std::string("SELECT ") + kVersionColumns +
                             (with_manifests ? ", manifest" : ", ''") +
                             " FROM wf_versions WHERE deployed_id = ? ORDER BY version DESC"));
    s.Bind(id);
    return ReadAll<WfVersionRow>(s, [](const Stmt& st) {
      WfVersionRow v = ReadVersion(st);
      v.manifest = st.String(8);
      return v;
    });
  }

  Result<std::optional<int64_t>> VersionOfBundle(const std::string& id,
                                                 const std::string& bundle_id) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT version FROM wf_versions WHERE "
                                               "deployed_id = ? AND bundle_id = ?"));
    s.Bind(id).Bind(bundle_id);
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<int64_t>();
    return std::optional<int64_t>(s.Int(0));
  }

  Result<std::vector<std::pair<std::string, std::string>>> BundleManifests() override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT bundle_id, MIN(manifest) FROM wf_versions "
                                               "GROUP BY bundle_id ORDER BY bundle_id"));
    return ReadAll<std::pair<std::string, std::string>>(
        s, [](const Stmt& st) { return std::make_pair(st.String(0), st.String(1)); });
  }

  Status InsertActivation(const std::string& id, const WfActivationRow& a) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s,
                          db_->Prepare("INSERT INTO wf_activations (deployed_id, version, "
                                       "previous, reason, actor, created_ms) VALUES (?, ?, ?, ?, "
                                       "?, ?)"));
    s.Bind(id).Bind(a.version).Bind(a.previous).Bind(a.reason).Bind(a.actor).Bind(a.created_ms);
    return s.Run();
  }

  Result<std::vector<WfActivationRow>> ListActivations(const std::string& id) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s,
                          db_->Prepare("SELECT version, previous, reason, actor, created_ms FROM "
                                       "wf_activations WHERE deployed_id = ? ORDER BY seq DESC"));
    s.Bind(id);
    return ReadAll<WfActivationRow>(s, [](const Stmt& st) {
      WfActivationRow a;
      a.version = st.Int(0);
      a.previous = st.OptInt(1);
      a.reason = st.String(2);
      a.actor = st.String(3);
      a.created_ms = st.Int(4);
      return a;
    });
  }

  Result<std::optional<int64_t>> LastActivatedBelow(const std::string& id,
                                                    int64_t version) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT version FROM wf_activations WHERE "
                                               "deployed_id = ? AND version < ? ORDER BY seq "
                                               "DESC LIMIT 1"));
    s.Bind(id).Bind(version);
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<int64_t>();
    return std::optional<int64_t>(s.Int(0));
  }

  Result<bool> MarkFire(const std::string& id, int64_t fire_ms, int64_t instance,
                        int64_t now_ms) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT OR IGNORE INTO wf_fires (deployed_id, "
                                               "fire_ms, instance, created_ms) VALUES (?, ?, ?, "
                                               "?)"));
    s.Bind(id).Bind(fire_ms).Bind(instance).Bind(now_ms);
    WEIR_RETURN_IF_ERROR(s.Run());
    return db_->Changes() > 0;
  }

  Result<bool> HasFire(const std::string& id, int64_t fire_ms) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare("SELECT 1 FROM wf_fires WHERE deployed_id = ? AND fire_ms = ?"));
    s.Bind(id).Bind(fire_ms);
    return s.Step();
  }

  Status CheckFence(const std::string& lease, int64_t token) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT holder, token FROM leases WHERE name = ?"));
    s.Bind(lease);
    WEIR_ASSIGN_OR_RETURN(bool found, s.Step());
    if (!found) return FailedPrecondition("fenced: lease '" + lease + "' was never taken");
    const int64_t stored = s.Int(1);
    if (stored != token) {
      return FailedPrecondition("fenced: lease '" + lease + "' has fencing token " +
                                std::to_string(stored) + " (held by " + s.String(0) +
                                "), this node leads with " + std::to_string(token));
    }
    return Status::Ok();
  }

  Status InsertInstance(const WfInstanceRow& r, int64_t now_ms) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s,
        db_->Prepare("INSERT INTO wf_instances (deployed_id, instance, version, bundle_id, status, "
                     "message, trigger_kind, trigger_ms, requested_by, run, params, created_ms, "
                     "started_ms, finished_ms, updated_ms) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    s.Bind(r.deployed_id)
        .Bind(r.number)
        .Bind(r.version)
        .Bind(r.bundle_id)
        .Bind(r.status)
        .Bind(r.message)
        .Bind(r.trigger)
        .Bind(r.trigger_ms)
        .Bind(r.requested_by)
        .Bind(r.run)
        .Bind(r.params)
        .Bind(r.created_ms)
        .Bind(r.started_ms)
        .Bind(r.finished_ms)
        .Bind(now_ms);
    return RunInsert(s, "instance " + r.deployed_id + "#" + std::to_string(r.number));
  }

  Result<std::optional<WfInstanceRow>> GetInstance(const std::string& id, int64_t number) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare(std::string("SELECT ") + kInstanceColumns +
                             " FROM wf_instances WHERE deployed_id = ? AND instance = ?"));
    s.Bind(id).Bind(number);
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<WfInstanceRow>();
    return std::optional<WfInstanceRow>(ReadInstance(s));
  }

  Status UpdateInstance(const WfInstanceRow& r, int64_t now_ms) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s,
        db_->Prepare("UPDATE wf_instances SET status = ?, message = ?, run = ?, started_ms = ?, "
                     "finished_ms = ?, updated_ms = ? WHERE deployed_id = ? AND instance = ?"));
    s.Bind(r.status)
        .Bind(r.message)
        .Bind(r.run)
        .Bind(r.started_ms)
        .Bind(r.finished_ms)
        .Bind(now_ms)
        .Bind(r.deployed_id)
        .Bind(r.number);
    return s.Run();
  }

  static std::string StatusFilter(const std::vector<std::string>& statuses) {
    std::string where = " WHERE deployed_id = ?";
    if (!statuses.empty()) {
      where += " AND status IN (";
      for (size_t i = 0; i < statuses.size(); ++i) where += i ? ", ?" : "?";
      where += ")";
    }
    return where;
  }

  Result<std::vector<WfInstanceRow>> ListInstances(const std::string& id,
                                                   const std::vector<std::string>& statuses,
                                                   int64_t limit, int64_t offset) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare(std::string("SELECT ") + kInstanceColumns + " FROM wf_instances" +
                             StatusFilter(statuses) + " ORDER BY instance DESC LIMIT ? OFFSET ?"));
    s.Bind(id);
    for (const std::string& st : statuses) s.Bind(st);
    s.Bind(limit).Bind(offset);
    return ReadAll<WfInstanceRow>(s, ReadInstance);
  }

  Result<int64_t> CountInstances(const std::string& id,
                                 const std::vector<std::string>& statuses) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare("SELECT COUNT(*) FROM wf_instances" + StatusFilter(statuses)));
    s.Bind(id);
    for (const std::string& st : statuses) s.Bind(st);
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? s.Int(0) : 0;
  }

  Result<std::vector<std::pair<std::string, int64_t>>> ActiveInstances() override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare("SELECT deployed_id, instance FROM wf_instances WHERE status IN "
                             "('CREATED', 'RUNNING') ORDER BY deployed_id, instance"));
    return ReadAll<std::pair<std::string, int64_t>>(
        s, [](const Stmt& st) { return std::make_pair(st.String(0), st.Int(1)); });
  }

  Status InsertBackfill(const std::string& id, int64_t number, int parallel) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("INSERT INTO wf_backfills (deployed_id, instance, "
                                               "parallel) VALUES (?, ?, ?)"));
    s.Bind(id).Bind(number).Bind(static_cast<int64_t>(parallel));
    return RunInsert(s, "backfill of " + id + "#" + std::to_string(number));
  }

  Result<std::optional<int>> BackfillParallel(const std::string& id, int64_t number) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s,
        db_->Prepare("SELECT parallel FROM wf_backfills WHERE deployed_id = ? AND instance = ?"));
    s.Bind(id).Bind(number);
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<int>();
    return std::optional<int>(static_cast<int>(s.Int(0)));
  }

  Status InsertStep(const std::string& id, int64_t number, const WfStepRow& r) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare("INSERT INTO wf_steps (deployed_id, instance, step, position, "
                             "status, attempts, job_id, submitted, not_before_ms, message, "
                             "started_ms, finished_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                             "?)"));
    s.Bind(id)
        .Bind(number)
        .Bind(r.step)
        .Bind(static_cast<int64_t>(r.position))
        .Bind(r.status)
        .Bind(static_cast<int64_t>(r.attempts))
        .Bind(r.job_id)
        .Bind(int64_t{r.submitted ? 1 : 0})
        .Bind(r.not_before_ms)
        .Bind(r.message)
        .Bind(r.started_ms)
        .Bind(r.finished_ms);
    return RunInsert(s, "step " + r.step + " of " + id + "#" + std::to_string(number));
  }

  Result<std::vector<WfStepRow>> ListSteps(const std::string& id, int64_t number) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(std::string("SELECT ") + kStepColumns +
                                               " FROM wf_steps WHERE deployed_id = ? AND "
                                               "instance = ? ORDER BY position"));
    s.Bind(id).Bind(number);
    return ReadAll<WfStepRow>(s, ReadStep);
  }

  Status UpdateStep(const std::string& id, int64_t number, const WfStepRow& r) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s,
        db_->Prepare("UPDATE wf_steps SET status = ?, attempts = ?, job_id = ?, "
                     "submitted = ?, not_before_ms = ?, message = ?, started_ms = ?, "
                     "finished_ms = ? WHERE deployed_id = ? AND instance = ? AND step = ?"));
    s.Bind(r.status)
        .Bind(static_cast<int64_t>(r.attempts))
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

  Result<std::vector<WfRunningStep>> RunningSteps() override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT deployed_id, instance, step, job_id FROM "
                                               "wf_steps WHERE status = 'RUNNING' AND submitted "
                                               "= 1"));
    return ReadAll<WfRunningStep>(s, [](const Stmt& st) {
      return WfRunningStep{st.String(0), st.Int(1), st.String(2), st.String(3)};
    });
  }

  Status InsertAttempt(const std::string& id, int64_t number, const WfAttemptRow& a) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s, db_->Prepare("INSERT INTO wf_attempts (job_id, deployed_id, instance, step, run, "
                             "attempt, status, message, created_ms) VALUES (?, ?, ?, ?, ?, ?, "
                             "'SUBMITTING', '', ?)"));
    s.Bind(a.job_id)
        .Bind(id)
        .Bind(number)
        .Bind(a.step)
        .Bind(a.run)
        .Bind(static_cast<int64_t>(a.attempt))
        .Bind(a.created_ms);
    return RunInsert(s, "job " + a.job_id);
  }

  Status FinishAttempt(const std::string& job_id, const std::string& status,
                       const std::string& message, std::optional<int64_t> finished_ms) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("UPDATE wf_attempts SET status = ?, message = ?, "
                                               "finished_ms = ? WHERE job_id = ?"));
    s.Bind(status).Bind(message).Bind(finished_ms).Bind(job_id);
    return s.Run();
  }

  Result<std::vector<WfAttemptRow>> ListAttempts(const std::string& id, int64_t number) override {
    WEIR_ASSIGN_OR_RETURN(
        Stmt s,
        db_->Prepare("SELECT step, job_id, run, attempt, status, message, created_ms, finished_ms "
                     "FROM wf_attempts WHERE deployed_id = ? AND instance = ? "
                     "ORDER BY created_ms, run, attempt"));
    s.Bind(id).Bind(number);
    return ReadAll<WfAttemptRow>(s, [](const Stmt& st) {
      WfAttemptRow a;
      a.step = st.String(0);
      a.job_id = st.String(1);
      a.run = st.Int(2);
      a.attempt = static_cast<int>(st.Int(3));
      a.status = st.String(4);
      a.message = st.String(5);
      a.created_ms = st.Int(6);
      a.finished_ms = st.OptInt(7);
      return a;
    });
  }

  Result<std::vector<WfKillingAttempt>> KillingAttempts() override {
    WEIR_ASSIGN_OR_RETURN(Stmt s,
                          db_->Prepare("SELECT deployed_id, instance, step, job_id, message "
                                       "FROM wf_attempts WHERE status = 'KILLING' ORDER "
                                       "BY job_id"));
    return ReadAll<WfKillingAttempt>(s, [](const Stmt& st) {
      return WfKillingAttempt{st.String(0), st.Int(1), st.String(2), st.String(3), st.String(4)};
    });
  }

  Status InsertAfterSuccess(const std::string& id, int64_t logical_ms, const std::string& upstream,
                            int64_t succeeded_ms, int64_t upstream_instance) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s,
                          db_->Prepare("INSERT OR IGNORE INTO wf_after_pending (deployed_id, "
                                       "logical_ms, upstream, succeeded_ms, instance) VALUES (?, "
                                       "?, ?, ?, ?)"));
    s.Bind(id).Bind(logical_ms).Bind(upstream).Bind(succeeded_ms).Bind(upstream_instance);
    return s.Run();
  }

  Result<std::map<std::string, int64_t>> AfterSuccesses(const std::string& id,
                                                        int64_t logical_ms) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT upstream, succeeded_ms FROM "
                                               "wf_after_pending WHERE deployed_id = ? AND "
                                               "logical_ms = ?"));
    s.Bind(id).Bind(logical_ms);
    std::map<std::string, int64_t> out;
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return out;
      out[s.String(0)] = s.Int(1);
    }
  }

  Status DeleteAfterWait(const std::string& id, int64_t logical_ms) override {
    WEIR_ASSIGN_OR_RETURN(Stmt s,
                          db_->Prepare("DELETE FROM wf_after_pending WHERE deployed_id = ? AND "
                                       "logical_ms = ?"));
    s.Bind(id).Bind(logical_ms);
    return s.Run();
  }

  Result<std::vector<WfAfterWait>> AfterWaits() override {
    WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT deployed_id, logical_ms, "
                                               "MIN(succeeded_ms) FROM wf_after_pending GROUP BY "
                                               "deployed_id, logical_ms ORDER BY deployed_id, "
                                               "logical_ms"));
    return ReadAll<WfAfterWait>(s, [](const Stmt& st) {
      return WfAfterWait{st.String(0), st.Int(1), st.Int(2)};
    });
  }

 private:
  // Adds the lifecycle columns to files made before them (idempotent).
  Status Upgrade() {
    bool has_paused = false, has_undeployed = false;
    {
      WEIR_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("PRAGMA table_info(wf_deployments)"));
      while (true) {
        WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        const std::string name = s.String(1);
        if (name == "paused") has_paused = true;
        if (name == "undeployed_ms") has_undeployed = true;
      }
    }
    if (!has_paused) {
      WEIR_RETURN_IF_ERROR(
          db_->Exec("ALTER TABLE wf_deployments ADD COLUMN paused INTEGER NOT NULL DEFAULT 0"));
    }
    if (!has_undeployed) {
      WEIR_RETURN_IF_ERROR(
          db_->Exec("ALTER TABLE wf_deployments ADD COLUMN undeployed_ms INTEGER"));
    }
    return Status::Ok();
  }

  std::unique_ptr<Database> db_;
};

}  // namespace

Result<std::unique_ptr<SchedulerStore>> OpenSchedulerStore(const std::string& path,
                                                           int busy_timeout_ms) {
  auto db = Database::Open(path, busy_timeout_ms, kMaxCachedStatements);
  if (!db.ok()) return db.status().WithContext("scheduler database");
  auto store = std::make_unique<SqliteSchedulerStore>(std::move(*db));
  if (Status s = store->Init(); !s.ok()) {
    return Internal("scheduler database '" + path + "': " + s.message());
  }
  return std::unique_ptr<SchedulerStore>(std::move(store));
}

}  // namespace weir::store::sqlite
