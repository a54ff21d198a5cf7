// SchedulerStore: the durable rows of the workflow scheduler (src/scheduler/), behind one
// interface with an SQLite backend (sqlite/sqlite_scheduler_store.h: the tables wf_* in the
// server's SQLite file, as they always were) and a PostgreSQL one
// (postgres/postgres_scheduler_store.h). Every backend passes scheduler_store_contract_test.cc.
//
// The rows: deployed workflows (with their trigger cursor, pause and undeploy state), immutable
// versions (bundle id + manifest), the activation history (the active version per deployed
// workflow is the deployment's active_version), fire marks (one per deployed workflow and fire
// time), instances, their steps and every job attempt of a step, backfill bounds, and the
// upstream successes an `after:` workflow waits on. The store keeps no scheduling rules: statuses
// are the scheduler's names, parameters its JSON text, times epoch milliseconds as given.
//
// TRANSACTIONS. The scheduler's transactions are made of these row operations between Begin()
// and Transaction::Commit(): either all of them are durable or none (a Transaction destroyed
// uncommitted rolls back). A write transaction excludes every other write transaction on the
// same database, also from other processes (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-
// scoped advisory lock), so what it reads stays true until it commits. Outside a transaction each
// call commits on its own. The exactly-once points of the scheduler are atomic here whatever the
// caller does:
//   MarkFire       the first (deployed id, fire time) mark wins; a second returns false, so "mark
//                  fire and create instance" in one transaction fires each time at most once;
//   InsertInstance (deployed id, number) is unique: kAlreadyExists for a second one;
//   InsertAttempt  a job id is recorded once: kAlreadyExists, so a step is never launched twice
//                  under two ids for one attempt.
//
// Thread-safety: NOT thread-safe. One caller at a time (the Scheduler serialises every use behind
// its mutex); a transaction covers every call made on the store until it ends.
// Errors: kNotFound only where a method says so (lookups return std::nullopt), kAlreadyExists as
// above, kUnavailable when the database is locked past the backend's wait or cannot be reached
// (retry), kOutOfSpace when the disk is full, kInternal for anything else.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace weir::store {

struct WfDeploymentRow {
  std::string id;  // "<env>:<owner>.<repo>.<workflow id>"
  std::string environment, owner, repo, workflow_id;
  std::optional<int64_t> active_version;
  int64_t latest_version = 0;
  std::string env_params = "{}";  // JSON object of the environment's parameters
  std::string catchup = "latest";
  int64_t next_instance = 1;
  std::optional<int64_t> cursor_ms;  // every fire time <= cursor has been handled
  std::optional<std::string> schedule_key;
  int64_t created_ms = 0, updated_ms = 0;
  bool paused = false;
  std::optional<int64_t> undeployed_ms;
};

struct WfVersionRow {
  std::string deployed_id;
  int64_t version = 0;
  std::string bundle_id;
  std::string manifest;  // empty when a listing leaves it out
  std::string deployer;
  bool dirty = false;
  std::string branch, commit;
  int64_t created_ms = 0;
};

struct WfActivationRow {
  int64_t version = 0;
  std::optional<int64_t> previous;
  std::string reason, actor;
  int64_t created_ms = 0;
};

struct WfInstanceRow {
  std::string deployed_id;
  int64_t number = 0;
  int64_t version = 0;
  std::string bundle_id;
  std::string status;  // CREATED, RUNNING, SUCCEEDED, FAILED, STOPPED
  std::string message;
  std::string trigger;  // cron, manual, after, backfill
  int64_t trigger_ms = 0;
  std::string requested_by;
  int64_t run = 1;
  std::string params = "{}";  // JSON object
  int64_t created_ms = 0;
  std::optional<int64_t> started_ms, finished_ms;
};

struct WfStepRow {
  std::string step;
  int position = 0;  // file order
  std::string status = "PENDING";
  int attempts = 0;
  std::optional<std::string> job_id;
  bool submitted = false;  // the job service accepted job_id
  std::optional<int64_t> not_before_ms;
  std::string message;
  std::optional<int64_t> started_ms, finished_ms;
};

struct WfAttemptRow {
  std::string step;
  std::string job_id;
  int64_t run = 1;
  int attempt = 1;
  // SUBMITTING, SUBMITTED, KILLING (a stop asked for its job's kill; replaced by the job's
  // final status once the job ended), or the job's final status.
  std::string status;
  std::string message;
  int64_t created_ms = 0;
  std::optional<int64_t> finished_ms;
};

// A step whose job the job service accepted and that is RUNNING.
struct WfRunningStep {
  std::string deployed_id;
  int64_t instance = 0;
  std::string step;
  std::string job_id;
};

// An attempt whose status is KILLING: a stop asked for the kill of its job, whose end is not
// recorded yet.
struct WfKillingAttempt {
  std::string deployed_id;
  int64_t instance = 0;
  std::string step;
  std::string job_id;
  std::string message;  // the attempt's message (the stop's)
};

// The logical dates an `after:` workflow waits on, with its first upstream success.
struct WfAfterWait {
  std::string deployed_id;
  int64_t logical_ms = 0;
  int64_t first_succeeded_ms = 0;
};

class SchedulerStore {
 public:
  virtual ~SchedulerStore() = default;

  class Transaction {
   public:
    virtual ~Transaction() = default;  // rolls back unless committed
    virtual Status Commit() = 0;
  };
  // Starts a write transaction (see the file comment). REQUIRES: none is open on this store.
  virtual Result<std::unique_ptr<Transaction>> Begin() = 0;

  // ---- deployed workflows ----
  // A new deployed workflow, stored as given (pause and undeploy state: not paused, deployed).
  // kAlreadyExists when the id exists.
  virtual Status InsertDeployment(const WfDeploymentRow& d) = 0;
  virtual Result<std::optional<WfDeploymentRow>> GetDeployment(const std::string& id) = 0;
  virtual Result<std::vector<WfDeploymentRow>> ListDeployments() = 0;  // by id
  // Writes active/latest version, env params, catch-up, next instance, cursor, schedule key and
  // updated_ms (pause and undeploy state are left alone). Nothing when the id is unknown.
  virtual Status UpdateDeployment(const WfDeploymentRow& d) = 0;
  // Deployments whose cron may be due at now_ms: an active version with a schedule, not paused,
  // not undeployed, cursor unset or before now_ms. By id.
  virtual Result<std::vector<WfDeploymentRow>> DeploymentsToFire(int64_t now_ms) = 0;
  // Deployments of (environment, owner, repo) other than `exclude_id` with an active version,
  // not paused and not undeployed: the workflows an `after:` trigger may start.
  virtual Result<std::vector<WfDeploymentRow>> DeploymentsOfRepo(const std::string& environment,
                                                                 const std::string& owner,
                                                                 const std::string& repo,
                                                                 const std::string& exclude_id) = 0;
  // paused = true: paused (updated_ms set when given). paused = false on a paused deployment:
  // resumed with cursor = max(cursor, now_ms) so missed fire times never fire (updated_ms set
  // when given); nothing on one that is not paused.
  virtual Status SetPaused(const std::string& id, bool paused, int64_t now_ms,
                           std::optional<int64_t> updated_ms) = 0;
  // Undeploy: undeployed_ms is set once (a second undeploy keeps the first time).
  virtual Status SetUndeployed(const std::string& id, int64_t now_ms) = 0;
  virtual Status ClearUndeployed(const std::string& id) = 0;

  // ---- versions and activations ----
  // kAlreadyExists for a (deployed id, version) or (deployed id, bundle id) already stored.
  virtual Status InsertVersion(const WfVersionRow& v) = 0;
  virtual Result<std::optional<WfVersionRow>> GetVersion(const std::string& id,
                                                         int64_t version) = 0;
  // Newest first; manifests only when `with_manifests`.
  virtual Result<std::vector<WfVersionRow>> ListVersions(const std::string& id,
                                                         bool with_manifests) = 0;
  virtual Result<std::optional<int64_t>> VersionOfBundle(const std::string& id,
                                                         const std::string& bundle_id) = 0;
  // (bundle id, manifest) of every stored version of every deployed workflow, undeployed ones
  // included, each bundle once, by bundle id: the blobs a deployment put in the blob store are
  // named there, and the leader's orphan blob cleanup keeps them (Scheduler::ReferencedBlobs).
  virtual Result<std::vector<std::pair<std::string, std::string>>> BundleManifests() = 0;
  virtual Status InsertActivation(const std::string& id, const WfActivationRow& a) = 0;
  virtual Result<std::vector<WfActivationRow>> ListActivations(
      const std::string& id) = 0;  // newest
  // The version of the most recent activation whose version is below `version`.
  virtual Result<std::optional<int64_t>> LastActivatedBelow(const std::string& id,
                                                            int64_t version) = 0;

  // ---- fire marks ----
  // Marks (id, fire_ms) fired by `instance`: true the first time, false when it was marked.
  virtual Result<bool> MarkFire(const std::string& id, int64_t fire_ms, int64_t instance,
                                int64_t now_ms) = 0;
  virtual Result<bool> HasFire(const std::string& id, int64_t fire_ms) = 0;

  // ---- instances ----
  virtual Status InsertInstance(const WfInstanceRow& r, int64_t now_ms) = 0;
  virtual Result<std::optional<WfInstanceRow>> GetInstance(const std::string& id,
                                                           int64_t number) = 0;
  // Writes status, message, run, started_ms, finished_ms.
  virtual Status UpdateInstance(const WfInstanceRow& r, int64_t now_ms) = 0;
  // Newest (highest number) first; `statuses` empty: any.
  virtual Result<std::vector<WfInstanceRow>> ListInstances(const std::string& id,
                                                           const std::vector<std::string>& statuses,
                                                           int64_t limit, int64_t offset) = 0;
  virtual Result<int64_t> CountInstances(const std::string& id,
                                         const std::vector<std::string>& statuses) = 0;
  // (deployed id, number) of every CREATED or RUNNING instance, by id then number.
  virtual Result<std::vector<std::pair<std::string, int64_t>>> ActiveInstances() = 0;
  virtual Status InsertBackfill(const std::string& id, int64_t number, int parallel) = 0;
  virtual Result<std::optional<int>> BackfillParallel(const std::string& id, int64_t number) = 0;

  // ---- steps and attempts ----
  virtual Status InsertStep(const std::string& id, int64_t number, const WfStepRow& s) = 0;
  virtual Result<std::vector<WfStepRow>> ListSteps(const std::string& id, int64_t number) = 0;
  // Writes every field but step and position.
  virtual Status UpdateStep(const std::string& id, int64_t number, const WfStepRow& s) = 0;
  virtual Result<std::vector<WfRunningStep>> RunningSteps() = 0;
  // A SUBMITTING attempt with an empty message.
  virtual Status InsertAttempt(const std::string& id, int64_t number, const WfAttemptRow& a) = 0;
  virtual Status FinishAttempt(const std::string& job_id, const std::string& status,
                               const std::string& message, std::optional<int64_t> finished_ms) = 0;
  // Every attempt of the instance, by created_ms, run, attempt.
  virtual Result<std::vector<WfAttemptRow>> ListAttempts(const std::string& id, int64_t number) = 0;
  // Every attempt whose status is KILLING, by job id.
  virtual Result<std::vector<WfKillingAttempt>> KillingAttempts() = 0;

  // ---- `after:` waits ----
  // Records that `upstream` succeeded for (id, logical date); a second record is ignored.
  virtual Status InsertAfterSuccess(const std::string& id, int64_t logical_ms,
                                    const std::string& upstream, int64_t succeeded_ms,
                                    int64_t upstream_instance) = 0;
  // upstream workflow id → when it succeeded.
  virtual Result<std::map<std::string, int64_t>> AfterSuccesses(const std::string& id,
                                                                int64_t logical_ms) = 0;
  virtual Status DeleteAfterWait(const std::string& id, int64_t logical_ms) = 0;
  virtual Result<std::vector<WfAfterWait>> AfterWaits() = 0;

  // ---- fencing (cluster mode, docs/scaling.md) ----
  // Inside a write transaction of a leader: Ok while the lease `lease` (NodeStore's leases, in
  // the same database) still carries fencing token `token`; kFailedPrecondition when it carries
  // another one (a newer leader took it over) or was never taken. Expiry is not looked at (the
  // caller checks its own clock). Since write transactions exclude each other, a transaction
  // that passes this check commits before any write transaction of a later leader begins.
  virtual Status CheckFence(const std::string& lease, int64_t token) = 0;
};

}  // namespace weir::store
