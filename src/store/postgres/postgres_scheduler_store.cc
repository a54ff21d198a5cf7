#include "store/postgres/postgres_scheduler_store.h"

#include "store/postgres/connection.h"
#include "store/postgres/schema.h"

namespace weir::store::postgres {
namespace {

// Any constant shared by every weir: the advisory lock that serialises scheduler transactions.
constexpr const char* kSchedulerLock = "SELECT pg_advisory_xact_lock(7762657769720002)";

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

const char* Bool(bool b) { return b ? "true" : "false"; }
bool IsTrue(const Rows& r, int row, int col) { return r.Text(row, col) == "t"; }

WfDeploymentRow ReadDeployment(const Rows& r, int i) {
  WfDeploymentRow d;
  d.id = r.String(i, 0);
  d.environment = r.String(i, 1);
  d.owner = r.String(i, 2);
  d.repo = r.String(i, 3);
  d.workflow_id = r.String(i, 4);
  d.active_version = r.OptInt(i, 5);
  d.latest_version = r.Int(i, 6);
  d.env_params = r.String(i, 7);
  d.catchup = r.String(i, 8);
  d.next_instance = r.Int(i, 9);
  d.cursor_ms = r.OptInt(i, 10);
  d.schedule_key = r.OptString(i, 11);
  d.created_ms = r.Int(i, 12);
  d.updated_ms = r.Int(i, 13);
  d.paused = IsTrue(r, i, 14);
  d.undeployed_ms = r.OptInt(i, 15);
  return d;
}

WfInstanceRow ReadInstance(const Rows& r, int i) {
  WfInstanceRow x;
  x.deployed_id = r.String(i, 0);
  x.number = r.Int(i, 1);
  x.version = r.Int(i, 2);
  x.bundle_id = r.String(i, 3);
  x.status = r.String(i, 4);
  x.message = r.String(i, 5);
  x.trigger = r.String(i, 6);
  x.trigger_ms = r.Int(i, 7);
  x.requested_by = r.String(i, 8);
  x.run = r.Int(i, 9);
  x.params = r.String(i, 10);
  x.created_ms = r.Int(i, 11);
  x.started_ms = r.OptInt(i, 12);
  x.finished_ms = r.OptInt(i, 13);
  return x;
}

WfStepRow ReadStep(const Rows& r, int i) {
  WfStepRow s;
  s.step = r.String(i, 0);
  s.position = static_cast<int>(r.Int(i, 1));
  s.status = r.String(i, 2);
  s.attempts = static_cast<int>(r.Int(i, 3));
  s.job_id = r.OptString(i, 4);
  s.submitted = IsTrue(r, i, 5);
  s.not_before_ms = r.OptInt(i, 6);
  s.message = r.String(i, 7);
  s.started_ms = r.OptInt(i, 8);
  s.finished_ms = r.OptInt(i, 9);
  return s;
}

WfVersionRow ReadVersion(const Rows& r, int i) {
  WfVersionRow v;
  v.deployed_id = r.String(i, 0);
  v.version = r.Int(i, 1);
  v.bundle_id = r.String(i, 2);
  v.deployer = r.String(i, 3);
  v.dirty = IsTrue(r, i, 4);
  v.branch = r.String(i, 5);
  v.commit = r.String(i, 6);
  v.created_ms = r.Int(i, 7);
  v.manifest = r.String(i, 8);
  return v;
}

template <typename T, typename Read>
std::vector<T> ReadAll(const Rows& r, Read read) {
  std::vector<T> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) out.push_back(read(r, i));
  return out;
}

class PostgresSchedulerStore;

class PgTransaction final : public SchedulerStore::Transaction {
 public:
  PgTransaction(Connection* c, bool* open) : c_(c), open_(open) {}
  ~PgTransaction() override {
    if (c_ != nullptr) (void)c_->Exec("ROLLBACK");
    *open_ = false;
  }
  Status Commit() override {
    Connection* c = c_;
    c_ = nullptr;
    return c->Exec("COMMIT").status();
  }

 private:
  Connection* c_;
  bool* open_;
};

class PostgresSchedulerStore final : public SchedulerStore {
 public:
  explicit PostgresSchedulerStore(std::unique_ptr<Connection> c) : c_(std::move(c)) {}

  Result<std::unique_ptr<Transaction>> Begin() override {
    WEIR_RETURN_IF_ERROR(Reconnect());
    WEIR_RETURN_IF_ERROR(c_->Exec("BEGIN").status());
    in_txn_ = true;
    auto txn = std::make_unique<PgTransaction>(c_.get(), &in_txn_);
    WEIR_RETURN_IF_ERROR(c_->Exec(kSchedulerLock).status());
    return std::unique_ptr<Transaction>(std::move(txn));
  }

  Status InsertDeployment(const WfDeploymentRow& d) override {
    Params p;
    p.Add(d.id)
        .Add(d.environment)
        .Add(d.owner)
        .Add(d.repo)
        .Add(d.workflow_id)
        .Add(d.active_version)
        .Add(d.latest_version)
        .Add(d.env_params)
        .Add(d.catchup)
        .Add(d.next_instance)
        .Add(d.cursor_ms)
        .Add(d.schedule_key)
        .Add(d.created_ms)
        .Add(d.updated_ms)
        .Add(Bool(d.paused))
        .Add(d.undeployed_ms);
    return Named(Exec(std::string("INSERT INTO wf_deployments (") + kDeploymentColumns +
                          ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
                          "$14, $15, $16)",
                      p)
                     .status(),
                 "workflow '" + d.id + "'");
  }

  Result<std::optional<WfDeploymentRow>> GetDeployment(const std::string& id) override {
    Params p;
    p.Add(id);
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec(std::string("SELECT ") + kDeploymentColumns +
                                           " FROM wf_deployments WHERE deployed_id = $1",
                                       p));
    if (r.size() == 0) return std::optional<WfDeploymentRow>();
    return std::optional<WfDeploymentRow>(ReadDeployment(r, 0));
  }

  Result<std::vector<WfDeploymentRow>> ListDeployments() override {
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec(std::string("SELECT ") + kDeploymentColumns +
                                       " FROM wf_deployments ORDER BY deployed_id"));
    return ReadAll<WfDeploymentRow>(r, ReadDeployment);
  }

  Status UpdateDeployment(const WfDeploymentRow& d) override {
    Params p;
    p.Add(d.active_version)
        .Add(d.latest_version)
        .Add(d.env_params)
        .Add(d.catchup)
        .Add(d.next_instance)
        .Add(d.cursor_ms)
        .Add(d.schedule_key)
        .Add(d.updated_ms)
        .Add(d.id);
    return Exec(
               "UPDATE wf_deployments SET active_version = $1, latest_version = $2, "
               "env_params = $3, catchup = $4, next_instance = $5, cursor_ms = $6, "
               "schedule_key = $7, updated_ms = $8 WHERE deployed_id = $9",
               p)
        .status();
  }

  Result<std::vector<WfDeploymentRow>> DeploymentsToFire(int64_t now_ms) override {
    Params p;
    p.Add(now_ms);
    WEIR_ASSIGN_OR_RETURN(
        Rows r, Exec(std::string("SELECT ") + kDeploymentColumns +
                         " FROM wf_deployments WHERE active_version IS NOT NULL AND schedule_key "
                         "IS NOT NULL AND NOT paused AND undeployed_ms IS NULL AND (cursor_ms IS "
                         "NULL OR cursor_ms < $1) ORDER BY deployed_id",
                     p));
    return ReadAll<WfDeploymentRow>(r, ReadDeployment);
  }

  Result<std::vector<WfDeploymentRow>> DeploymentsOfRepo(const std::string& environment,
                                                         const std::string& owner,
                                                         const std::string& repo,
                                                         const std::string& exclude_id) override {
    Params p;
    p.Add(environment).Add(owner).Add(repo).Add(exclude_id);
    WEIR_ASSIGN_OR_RETURN(
        Rows r, Exec(std::string("SELECT ") + kDeploymentColumns +
                         " FROM wf_deployments WHERE environment = $1 AND owner = $2 AND repo = "
                         "$3 AND active_version IS NOT NULL AND NOT paused AND undeployed_ms IS "
                         "NULL AND deployed_id <> $4 ORDER BY deployed_id",
                     p));
    return ReadAll<WfDeploymentRow>(r, ReadDeployment);
  }

  Status SetPaused(const std::string& id, bool paused, int64_t now_ms,
                   std::optional<int64_t> updated_ms) override {
    Params p;
    p.Add(now_ms).Add(updated_ms).Add(id);
    return Exec(paused ? "UPDATE wf_deployments SET paused = TRUE, updated_ms = "
                         "COALESCE($2::BIGINT, updated_ms) WHERE deployed_id = $3 AND "
                         "$1::BIGINT IS NOT NULL"
                       : "UPDATE wf_deployments SET paused = FALSE, cursor_ms = "
                         "GREATEST(COALESCE(cursor_ms, 0), $1::BIGINT), updated_ms = "
                         "COALESCE($2::BIGINT, updated_ms) WHERE deployed_id = $3 AND paused",
                p)
        .status();
  }

  Status SetUndeployed(const std::string& id, int64_t now_ms) override {
    Params p;
    p.Add(now_ms).Add(id);
    return Exec(
               "UPDATE wf_deployments SET undeployed_ms = COALESCE(undeployed_ms, $1::BIGINT), "
               "updated_ms = $1 WHERE deployed_id = $2",
               p)
        .status();
  }

  Status ClearUndeployed(const std::string& id) override {
    Params p;
    p.Add(id);
    return Exec(
               "UPDATE wf_deployments SET undeployed_ms = NULL WHERE deployed_id = $1 AND "
               "undeployed_ms IS NOT NULL",
               p)
        .status();
  }

  Status InsertVersion(const WfVersionRow& v) override {
    Params p;
    p.Add(v.deployed_id)
        .Add(v.version)
        .Add(v.bundle_id)
        .Add(v.manifest)
        .Add(v.deployer)
        .Add(Bool(v.dirty))
        .Add(v.branch)
        .Add(v.commit)
        .Add(v.created_ms);
    return Named(Exec("INSERT INTO wf_versions (deployed_id, version, bundle_id, manifest, "
                      "deployer, dirty, branch, commit_sha, created_ms) VALUES ($1, $2, $3, $4, "
                      "$5, $6, $7, $8, $9)",
                      p)
                     .status(),
                 "workflow '" + v.deployed_id + "' version " + std::to_string(v.version));
  }

  Result<std::optional<WfVersionRow>> GetVersion(const std::string& id, int64_t version) override {
    Params p;
    p.Add(id).Add(version);
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec(std::string("SELECT ") + kVersionColumns +
                                           ", manifest FROM wf_versions WHERE deployed_id = $1 "
                                           "AND version = $2",
                                       p));
    if (r.size() == 0) return std::optional<WfVersionRow>();
    return std::optional<WfVersionRow>(ReadVersion(r, 0));
  }

  Result<std::vector<WfVersionRow>> ListVersions(const std::string& id,
                                                 bool with_manifests) override {
    Params p;
    p.Add(id);
    WEIR_ASSIGN_OR_RETURN(
        Rows r,
        Exec(std::string("SELECT ") + kVersionColumns + (with_manifests ? ", manifest" : ", ''") +
                 " FROM wf_versions WHERE deployed_id = $1 ORDER BY version DESC",
             p));
    return ReadAll<WfVersionRow>(r, ReadVersion);
  }

  Result<std::vector<std::pair<std::string, std::string>>> BundleManifests() override {
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec("SELECT bundle_id, MIN(manifest) FROM wf_versions "
                                       "GROUP BY bundle_id ORDER BY bundle_id",
                                       Params()));
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 0; i < r.size(); ++i) out.emplace_back(r.String(i, 0), r.String(i, 1));
    return out;
  }

  Result<std::optional<int64_t>> VersionOfBundle(const std::string& id,
                                                 const std::string& bundle_id) override {
    Params p;
    p.Add(id).Add(bundle_id);
    WEIR_ASSIGN_OR_RETURN(
        Rows r,
        Exec("SELECT version FROM wf_versions WHERE deployed_id = $1 AND bundle_id = $2", p));
    if (r.size() == 0) return std::optional<int64_t>();
    return std::optional<int64_t>(r.Int(0, 0));
  }

  Status InsertActivation(const std::string& id, const WfActivationRow& a) override {
    Params p;
    p.Add(id).Add(a.version).Add(a.previous).Add(a.reason).Add(a.actor).Add(a.created_ms);
    return Exec(
               "INSERT INTO wf_activations (deployed_id, version, previous, reason, actor, "
               "created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
               p)
        .status();
  }

  Result<std::vector<WfActivationRow>> ListActivations(const std::string& id) override {
    Params p;
    p.Add(id);
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec("SELECT version, previous, reason, actor, created_ms FROM "
                                       "wf_activations WHERE deployed_id = $1 ORDER BY seq DESC",
                                       p));
    return ReadAll<WfActivationRow>(r, [](const Rows& rows, int i) {
      WfActivationRow a;
      a.version = rows.Int(i, 0);
      a.previous = rows.OptInt(i, 1);
      a.reason = rows.String(i, 2);
      a.actor = rows.String(i, 3);
      a.created_ms = rows.Int(i, 4);
      return a;
    });
  }

  Result<std::optional<int64_t>> LastActivatedBelow(const std::string& id,
                                                    int64_t version) override {
    Params p;
    p.Add(id).Add(version);
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec("SELECT version FROM wf_activations WHERE deployed_id = "
                                       "$1 AND version < $2 ORDER BY seq DESC LIMIT 1",
                                       p));
    if (r.size() == 0) return std::optional<int64_t>();
    return std::optional<int64_t>(r.Int(0, 0));
  }

  Result<bool> MarkFire(const std::string& id, int64_t fire_ms, int64_t instance,
                        int64_t now_ms) override {
    Params p;
    p.Add(id).Add(fire_ms).Add(instance).Add(now_ms);
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec("INSERT INTO wf_fires (deployed_id, fire_ms, instance, "
                                       "created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO "
                                       "NOTHING",
                                       p));
    return r.Affected() > 0;
  }

  Result<bool> HasFire(const std::string& id, int64_t fire_ms) override {
    Params p;
    p.Add(id).Add(fire_ms);
    WEIR_ASSIGN_OR_RETURN(
        Rows r, Exec("SELECT 1 FROM wf_fires WHERE deployed_id = $1 AND fire_ms = $2", p));
    return r.size() > 0;
  }

  Status CheckFence(const std::string& lease, int64_t token) override {
    Params p;
    p.Add(lease);
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec("SELECT holder, token FROM leases WHERE name = $1", p));
    if (r.size() == 0) return FailedPrecondition("fenced: lease '" + lease + "' was never taken");
    const int64_t stored = r.Int(0, 1);
    if (stored != token) {
      return FailedPrecondition("fenced: lease '" + lease + "' has fencing token " +
                                std::to_string(stored) + " (held by " + r.String(0, 0) +
                                "), this node leads with " + std::to_string(token));
    }
    return Status::Ok();
  }

  Status InsertInstance(const WfInstanceRow& x, int64_t now_ms) override {
    Params p;
    p.Add(x.deployed_id)
        .Add(x.number)
        .Add(x.version)
        .Add(x.bundle_id)
        .Add(x.status)
        .Add(x.message)
        .Add(x.trigger)
        .Add(x.trigger_ms)
        .Add(x.requested_by)
        .Add(x.run)
        .Add(x.params)
        .Add(x.created_ms)
        .Add(x.started_ms)
        .Add(x.finished_ms)
        .Add(now_ms);
    return Named(Exec("INSERT INTO wf_instances (deployed_id, instance, version, bundle_id, "
                      "status, message, trigger_kind, trigger_ms, requested_by, run, params, "
                      "created_ms, started_ms, finished_ms, updated_ms) VALUES ($1, $2, $3, $4, "
                      "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                      p)
                     .status(),
                 "instance " + x.deployed_id + "#" + std::to_string(x.number));
  }

  Result<std::optional<WfInstanceRow>> GetInstance(const std::string& id, int64_t number) override {
    Params p;
    p.Add(id).Add(number);
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec(std::string("SELECT ") + kInstanceColumns +
                                           " FROM wf_instances WHERE deployed_id = $1 AND "
                                           "instance = $2",
                                       p));
    if (r.size() == 0) return std::optional<WfInstanceRow>();
    return std::optional<WfInstanceRow>(ReadInstance(r, 0));
  }

  Status UpdateInstance(const WfInstanceRow& x, int64_t now_ms) override {
    Params p;
    p.Add(x.status)
        .Add(x.message)
        .Add(x.run)
        .Add(x.started_ms)
        .Add(x.finished_ms)
        .Add(now_ms)
        .Add(x.deployed_id)
        .Add(x.number);
    return Exec(
               "UPDATE wf_instances SET status = $1, message = $2, run = $3, started_ms = $4, "
               "finished_ms = $5, updated_ms = $6 WHERE deployed_id = $7 AND instance = $8",
               p)
        .status();
  }

  static std::string StatusFilter(Params& p, const std::string& id,
                                  const std::vector<std::string>& statuses) {
    std::string where = " WHERE deployed_id = " + p.Next(id);
    if (!statuses.empty()) {
      where += " AND status IN (";
      for (size_t i = 0; i < statuses.size(); ++i) {
        where += (i ? ", " : "") + p.Next(statuses[i]);
      }
      where += ")";
    }
    return where;
  }

  Result<std::vector<WfInstanceRow>> ListInstances(const std::string& id,
                                                   const std::vector<std::string>& statuses,
                                                   int64_t limit, int64_t offset) override {
    Params p;
    std::string sql = std::string("SELECT ") + kInstanceColumns + " FROM wf_instances" +
                      StatusFilter(p, id, statuses);
    sql += " ORDER BY instance DESC LIMIT " + p.Next(limit);
    sql += " OFFSET " + p.Next(offset);
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec(sql, p));
    return ReadAll<WfInstanceRow>(r, ReadInstance);
  }

  Result<int64_t> CountInstances(const std::string& id,
                                 const std::vector<std::string>& statuses) override {
    Params p;
    std::string sql = "SELECT COUNT(*) FROM wf_instances" + StatusFilter(p, id, statuses);
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec(sql, p));
    return r.size() == 0 ? 0 : r.Int(0, 0);
  }

  Result<std::vector<std::pair<std::string, int64_t>>> ActiveInstances() override {
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec("SELECT deployed_id, instance FROM wf_instances WHERE "
                                       "status IN ('CREATED', 'RUNNING') ORDER BY deployed_id, "
                                       "instance"));
    return ReadAll<std::pair<std::string, int64_t>>(r, [](const Rows& rows, int i) {
      return std::make_pair(rows.String(i, 0), rows.Int(i, 1));
    });
  }

  Status InsertBackfill(const std::string& id, int64_t number, int parallel) override {
    Params p;
    p.Add(id).Add(number).Add(static_cast<int64_t>(parallel));
    return Named(Exec("INSERT INTO wf_backfills (deployed_id, instance, parallel) VALUES ($1, "
                      "$2, $3)",
                      p)
                     .status(),
                 "backfill of " + id + "#" + std::to_string(number));
  }

  Result<std::optional<int>> BackfillParallel(const std::string& id, int64_t number) override {
    Params p;
    p.Add(id).Add(number);
    WEIR_ASSIGN_OR_RETURN(
        Rows r,
        Exec("SELECT parallel FROM wf_backfills WHERE deployed_id = $1 AND instance = $2", p));
    if (r.size() == 0) return std::optional<int>();
    return std::optional<int>(static_cast<int>(r.Int(0, 0)));
  }

  Status InsertStep(const std::string& id, int64_t number, const WfStepRow& s) override {
    Params p;
    p.Add(id)
        .Add(number)
        .Add(s.step)
        .Add(static_cast<int64_t>(s.position))
        .Add(s.status)
        .Add(static_cast<int64_t>(s.attempts))
        .Add(s.job_id)
        .Add(Bool(s.submitted))
        .Add(s.not_before_ms)
        .Add(s.message)
        .Add(s.started_ms)
        .Add(s.finished_ms);
    return Named(Exec("INSERT INTO wf_steps (deployed_id, instance, step, position, status, "
                      "attempts, job_id, submitted, not_before_ms, message, started_ms, "
                      "finished_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                      p)
                     .status(),
                 "step " + s.step + " of " + id + "#" + std::to_string(number));
  }

  Result<std::vector<WfStepRow>> ListSteps(const std::string& id, int64_t number) override {
    Params p;
    p.Add(id).Add(number);
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec(std::string("SELECT ") + kStepColumns +
                                           " FROM wf_steps WHERE deployed_id = $1 AND instance "
                                           "= $2 ORDER BY position",
                                       p));
    return ReadAll<WfStepRow>(r, ReadStep);
  }

  Status UpdateStep(const std::string& id, int64_t number, const WfStepRow& s) override {
    Params p;
    p.Add(s.status)
        .Add(static_cast<int64_t>(s.attempts))
        .Add(s.job_id)
        .Add(Bool(s.submitted))
        .Add(s.not_before_ms)
        .Add(s.message)
        .Add(s.started_ms)
        .Add(s.finished_ms)
        .Add(id)
        .Add(number)
        .Add(s.step);
    return Exec(
               "UPDATE wf_steps SET status = $1, attempts = $2, job_id = $3, submitted = $4, "
               "not_before_ms = $5, message = $6, started_ms = $7, finished_ms = $8 WHERE "
               "deployed_id = $9 AND instance = $10 AND step = $11",
               p)
        .status();
  }

  Result<std::vector<WfRunningStep>> RunningSteps() override {
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec("SELECT deployed_id, instance, step, job_id FROM "
                                       "wf_steps WHERE status = 'RUNNING' AND submitted"));
    return ReadAll<WfRunningStep>(r, [](const Rows& rows, int i) {
      return WfRunningStep{rows.String(i, 0), rows.Int(i, 1), rows.String(i, 2), rows.String(i, 3)};
    });
  }

  Status InsertAttempt(const std::string& id, int64_t number, const WfAttemptRow& a) override {
    Params p;
    p.Add(a.job_id)
        .Add(id)
        .Add(number)
        .Add(a.step)
        .Add(a.run)
        .Add(static_cast<int64_t>(a.attempt))
        .Add(a.created_ms);
    return Named(Exec("INSERT INTO wf_attempts (job_id, deployed_id, instance, step, run, "
                      "attempt, status, message, created_ms) VALUES ($1, $2, $3, $4, $5, $6, "
                      "'SUBMITTING', '', $7)",
                      p)
                     .status(),
                 "job " + a.job_id);
  }

  Status FinishAttempt(const std::string& job_id, const std::string& status,
                       const std::string& message, std::optional<int64_t> finished_ms) override {
    Params p;
    p.Add(status).Add(message).Add(finished_ms).Add(job_id);
    return Exec(
               "UPDATE wf_attempts SET status = $1, message = $2, finished_ms = $3 WHERE "
               "job_id = $4",
               p)
        .status();
  }

  Result<std::vector<WfAttemptRow>> ListAttempts(const std::string& id, int64_t number) override {
    Params p;
    p.Add(id).Add(number);
    WEIR_ASSIGN_OR_RETURN(
        Rows r, Exec("SELECT step, job_id, run, attempt, status, message, created_ms, "
                     "finished_ms FROM wf_attempts WHERE deployed_id = $1 AND instance = $2 "
                     "ORDER BY created_ms, run, attempt",
                     p));
    return ReadAll<WfAttemptRow>(r, [](const Rows& rows, int i) {
      WfAttemptRow a;
      a.step = rows.String(i, 0);
      a.job_id = rows.String(i, 1);
      a.run = rows.Int(i, 2);
      a.attempt = static_cast<int>(rows.Int(i, 3));
      a.status = rows.String(i, 4);
      a.message = rows.String(i, 5);
      a.created_ms = rows.Int(i, 6);
      a.finished_ms = rows.OptInt(i, 7);
      return a;
    });
  }

  Result<std::vector<WfKillingAttempt>> KillingAttempts() override {
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec("SELECT deployed_id, instance, step, job_id, message FROM "
                                       "wf_attempts WHERE status = 'KILLING' ORDER BY job_id"));
    return ReadAll<WfKillingAttempt>(r, [](const Rows& rows, int i) {
      return WfKillingAttempt{rows.String(i, 0), rows.Int(i, 1), rows.String(i, 2),
                              rows.String(i, 3), rows.String(i, 4)};
    });
  }

  Status InsertAfterSuccess(const std::string& id, int64_t logical_ms, const std::string& upstream,
                            int64_t succeeded_ms, int64_t upstream_instance) override {
    Params p;
    p.Add(id).Add(logical_ms).Add(upstream).Add(succeeded_ms).Add(upstream_instance);
    return Exec(
               "INSERT INTO wf_after_pending (deployed_id, logical_ms, upstream, succeeded_ms, "
               "instance) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
               p)
        .status();
  }

  Result<std::map<std::string, int64_t>> AfterSuccesses(const std::string& id,
                                                        int64_t logical_ms) override {
    Params p;
    p.Add(id).Add(logical_ms);
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec("SELECT upstream, succeeded_ms FROM wf_after_pending "
                                       "WHERE deployed_id = $1 AND logical_ms = $2",
                                       p));
    std::map<std::string, int64_t> out;
    for (int i = 0; i < r.size(); ++i) out[r.String(i, 0)] = r.Int(i, 1);
    return out;
  }

  Status DeleteAfterWait(const std::string& id, int64_t logical_ms) override {
    Params p;
    p.Add(id).Add(logical_ms);
    return Exec("DELETE FROM wf_after_pending WHERE deployed_id = $1 AND logical_ms = $2", p)
        .status();
  }

  Result<std::vector<WfAfterWait>> AfterWaits() override {
    WEIR_ASSIGN_OR_RETURN(Rows r, Exec("SELECT deployed_id, logical_ms, MIN(succeeded_ms) FROM "
                                       "wf_after_pending GROUP BY deployed_id, logical_ms "
                                       "ORDER BY deployed_id, logical_ms"));
    return ReadAll<WfAfterWait>(r, [](const Rows& rows, int i) {
      return WfAfterWait{rows.String(i, 0), rows.Int(i, 1), rows.Int(i, 2)};
    });
  }

 private:
  // Outside a transaction a lost connection is opened again before the next statement.
  Status Reconnect() {
    if (in_txn_ || c_->ok()) return Status::Ok();
    return c_->Reset();
  }

  Result<Rows> Exec(const std::string& sql, const Params& p = {}) {
    WEIR_RETURN_IF_ERROR(Reconnect());
    return c_->Exec(sql, p);
  }

  // A duplicate row is kAlreadyExists naming `what`.
  static Status Named(Status s, const std::string& what) {
    if (s.code() == StatusCode::kAlreadyExists) return AlreadyExists(what + ": already exists");
    return s;
  }

  std::unique_ptr<Connection> c_;
  bool in_txn_ = false;
};

}  // namespace

Result<std::unique_ptr<SchedulerStore>> OpenSchedulerStore(const std::string& url,
                                                           const std::string& password,
                                                           int connect_timeout_s) {
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<Connection> c,
                        Connection::Open(url, password, connect_timeout_s));
  WEIR_RETURN_IF_ERROR(Migrate(*c, RedactUrl(url)).status());
  return std::unique_ptr<SchedulerStore>(new PostgresSchedulerStore(std::move(c)));
}

}  // namespace weir::store::postgres
