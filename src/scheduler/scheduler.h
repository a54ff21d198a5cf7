// Scheduler: versioned deployments of workflows, their triggers, and their runs as DAGs of jobs.
//
// DEPLOYMENTS. A deployed workflow is named `<env>:<owner>.<repo>.<workflow id>` (DeployedId).
// Deploy(bundle) parses the manifest (workflow/bundle.h), validates the rendered definition
// (workflow/validate.h: schema, unknown dependencies, cycles → kInvalidArgument listing every
// problem), stores uploaded repository files, then checks that EVERY asset of the manifest is
// published with its stated SHA-256 and its blob is intact (BundleBlobs::VerifyAsset), and that
// every repository file's blob exists, re-hashes to its SHA-256 and can be named for jobs
// (Verify, FileUri); a missing or corrupted blob → kFailedPrecondition naming the asset UUID or
// file path. Only then, in ONE store transaction, it
// records version N+1 (bundle id = SHA-256 of the canonical manifest, manifest JSON, deployer,
// dirty flag) and, unless told not to, activates it. Either the whole version exists or nothing
// changed. A bundle whose id is already a version of that deployed workflow creates no version:
// the existing one is returned (created = false) and activated if asked.
// Versions are immutable; `latest` is the highest number, `active` the one new instances use.
// Activate(v) points at any version; Rollback() activates the most recently active version
// whose number is lower than the active one (so repeated rollbacks walk back: v3 → v2 → v1), or
// the named lower version. Every activation is kept in a history (reason deploy / activate /
// rollback). In-flight instances keep the version they were created with.
// Per deployed workflow the scheduler also keeps two settings a deploy may set: the
// environment's runtime parameters and the catch-up policy (default `latest`).
//
// TRIGGERS. A workflow with a `schedule` fires in its `timezone` (cron/cron.h: DST-correct). Each
// deployed workflow has a cursor: every fire time <= cursor has been handled. A tick handles the
// fire times in (cursor, now] by the catch-up policy, then moves the cursor to now:
//   none    only fire times no older than SchedulerOptions::misfire_grace (on time) fire
//   latest  only the newest due fire time fires (one catch-up instance after downtime)
//   all     every due fire time fires, oldest first, at most max_catchup (the newest ones)
// Each (deployed workflow, fire time) fires at most once, also across restarts and several
// scheduler processes on one database: a row keyed by both is inserted in the same transaction
// that creates the instance (a second insert is ignored). Activating a version whose schedule or
// time zone differs resets the cursor to now (past times of a new schedule never fire).
//
// INSTANCES are numbered per deployed workflow from 1 (instance id "<deployed id>#<n>"). Each
// records its version, bundle id, trigger (cron + logical time, or manual), resolved runtime
// parameters (params.h: workflow defaults ← environment ← manual overrides; built-ins
// EXECUTION_DATE = ISO-8601 UTC of the logical trigger time, WORKFLOW_ID = deployed id,
// INSTANCE_ID = n, ENV = environment; a manual run may set EXECUTION_DATE for a backfill) and a
// status: CREATED (waiting for its run strategy) → RUNNING → SUCCEEDED | FAILED | STOPPED.
// Run strategies, decided when a CREATED instance is considered:
//   sequential  one RUNNING instance at a time; the others wait in number order
//   parallel    up to max_concurrency RUNNING; the others wait
//   first_only  while one runs, a new instance is not run: it ends STOPPED ("skipped")
//   last_only   a new instance stops the running ones (their jobs are killed) and any older
//               waiting ones ("superseded"), then runs
// STEPS: a step is ready when all its upstream steps SUCCEEDED. It runs as a job through the
// StepLauncher (JobService::Submit): grouping = deployed id, groupingInstance = instance id,
// `${NAME}` parameters substituted in every field, `bundle://files/...` URIs mapped to blob
// URIs, and every bundle asset URI the step mentions added to its dependencies. Step statuses:
// PENDING, WAITING_RETRY, RUNNING, SUCCEEDED, FAILED, STOPPED. A failed job is retried
// `retries` times with exponential backoff (initial, multiplier, max); when they are spent the
// step FAILS and the steps that depend on it can no longer run by their trigger rules
// (UPSTREAM_FAILED); steps independent of it still run to the end, retries included (Airflow
// semantics), and once nothing can run the instance is FAILED.
// Stop() marks the instance and its unfinished steps STOPPED at once and asks for the kill of
// their running jobs. A job runs on whichever node took it, so the stop may be answered by a
// node that cannot kill it: the step's attempt is KILLING, and every node's Tick() (leader or
// not) kills the KILLING jobs it holds, each once; the leader's Tick() then replaces KILLING by
// the job's final status (KILLED, or what it ended with before the kill reached it).
// Restart() of a FAILED or STOPPED instance starts a new run of it (run + 1) from its steps that
// did not succeed.
//
// EXECUTION. Tick() does one pass: fire triggers, read the state of running jobs, admit CREATED
// instances, start ready steps, finish instances. Start() runs Tick() on a background thread
// every poll_interval, and at once after Deploy/Activate/Rollback/Run/Restart/Stop and whenever
// the launcher's end listener reports that a job may have ended (no polling lag); tests call
// Tick() with a FakeClock instead. Job ids are chosen and recorded before submission, so a crash
// never submits a step twice. After a restart, Recover() (then the loop) continues every RUNNING
// instance: steps whose jobs ended while the server was down are resolved from the job service,
// steps whose submission was interrupted are submitted again under the same job id. One
// scheduler process should run instances per database (triggers alone are multi-process safe):
// with several servers on one database, SchedulerOptions::leader_token makes the leader's the
// only one that ticks (see LEADERSHIP there).
//
// EVENTS: every change of an instance's or a step's status, every new version and every
// activation becomes an event for SchedulerOptions::events (scheduler/events.cc).
//
// STORAGE: every row is in a store::SchedulerStore (store/scheduler_store.h) given at Open: the
// wf_* tables of the server's SQLite file (the default, over the scheduler's own connection), or
// PostgreSQL (store.type postgresql). This file and its .cc files keep the scheduling rules only.
//
// Errors: kInvalidArgument (bad manifest, definition, parameter, query), kNotFound (unknown
// deployed workflow, version or instance), kFailedPrecondition (missing/corrupted blob, no
// active version, nothing to roll back to, stop of a finished instance, restart of a running
// one), kUnavailable (database busy), kInternal. Thread-safety: every method is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "scheduler/bundle_blobs.h"
#include "scheduler/params.h"
#include "scheduler/step_launcher.h"
#include "store/store.h"
#include "workflow/bundle.h"

namespace weir::store {
class SchedulerStore;
}

namespace weir::scheduler {

enum class CatchUp { kNone, kLatest, kAll };
std::string_view CatchUpName(CatchUp c);  // "none", "latest", "all"
Result<CatchUp> ParseCatchUp(std::string_view s);

enum class InstanceStatus { kCreated, kRunning, kSucceeded, kFailed, kStopped };
std::string_view InstanceStatusName(InstanceStatus s);  // "CREATED", ...
Result<InstanceStatus> ParseInstanceStatus(std::string_view s);
inline bool IsFinal(InstanceStatus s) {
  return s == InstanceStatus::kSucceeded || s == InstanceStatus::kFailed ||
         s == InstanceStatus::kStopped;
}

enum class StepStatus {
  kPending,
  kWaitingRetry,
  kRunning,
  kSucceeded,
  kFailed,
  kStopped,
  kUpstreamFailed,  // its trigger rule can no longer be met because an upstream step failed
  kSkipped,         // its trigger rule can no longer be met and nothing failed (one_failed)
};
std::string_view StepStatusName(StepStatus s);  // "PENDING", "WAITING_RETRY", ...
Result<StepStatus> ParseStepStatus(std::string_view s);

// "<env>:<owner>.<repo>.<workflow id>"
std::string DeployedId(std::string_view env, std::string_view owner, std::string_view repo,
                       std::string_view workflow_id);
// "<deployed id>#<n>": the job's groupingInstance.
std::string InstanceId(std::string_view deployed_id, int64_t number);

// Where the scheduler hands its events (SchedulerOptions::events).
using EventSink = std::function<void(const store::EventRecord&)>;

// What one Tick() that led did (SchedulerOptions::on_tick).
struct TickReport {
  int64_t token = 0;          // the fencing token it led with
  bool new_lead = false;      // the first tick of this lead: running instances continued first
  bool lost_lead = false;     // the lead ended during the tick (it stopped there)
  int64_t fires = 0;          // cron instances created
  int64_t steps_started = 0;  // jobs submitted for steps
  int64_t steps_adopted = 0;  // submissions answered "already exists": a recorded job adopted
  Status status;              // the tick's outcome
};

struct SchedulerOptions {
  std::string db_path;  // Open without a store: the server's SQLite file (tables are created)
  int busy_timeout_ms = 10000;
  Millis poll_interval{100};    // background loop period (job states are read this often)
  Millis misfire_grace{60000};  // catch-up `none`: a fire time older than this is missed
  int max_catchup = 100;        // catch-up `all`: at most this many instances per pass
  Millis capacity_retry{1000};  // resubmit delay when the job service has no capacity
  std::string job_user = "weir-scheduler";  // job user when the version's deployer is empty
  // Told of every WORKFLOW_INSTANCE_CHANGE, WORKFLOW_STEP_CHANGE, WORKFLOW_DEPLOYED and
  // WORKFLOW_ACTIVATED (docs/api.md, "Events"), in commit order, right after the transaction
  // that made the change commits (never for a rolled-back one). Called with the scheduler's
  // lock held: it must not call the scheduler. Empty: no events. A crash between the commit and
  // the call loses the event (at most once); the rows stay the truth.
  EventSink events;
  // LEADERSHIP (cluster mode, docs/scaling.md). Empty: this scheduler always leads (as before).
  // Set: the fencing token of this node's current lead, 0 while it does not lead
  // (cluster::Leadership::FencingToken()). A Tick() (and so Recover() and the loop) then acts
  // only while it is not 0; a non-leader's tick only kills the jobs it holds whose attempts a
  // stop made KILLING (a read and job kills, no write), while its other methods (deploy,
  // activate, run, restart, stop, ...) keep writing rows that the leader's next tick acts on.
  // The token is asked again right before every write transaction and every job submission of
  // a tick: when it is 0 or another one, the tick stops there (its open transaction rolls back).
  // The first tick of a new lead (a token this scheduler has not led with) first continues the
  // RUNNING instances as Recover() does (recorded jobs are read from the job service, never
  // launched again; recorded but unsubmitted ones are submitted under the same id) and only then
  // fires triggers.
  std::function<int64_t()> leader_token;
  // Not empty: the lease (store leases table, leader.mode database) whose stored token every
  // write transaction of a tick checks inside the transaction (SchedulerStore::CheckFence), so
  // a leader that lost the lease while paused writes nothing once a newer leader took over.
  std::string fence_lease;
  // Told after every tick that led (not with the scheduler's lock held).
  std::function<void(const TickReport&)> on_tick;
};

struct DeployRequest {
  std::string manifest_json;       // the bundle manifest (bundle.h), any key order
  std::vector<std::string> files;  // bytes of repository files to store before verifying
  bool activate = true;
  std::string deployer;  // who deploys (free text, ≤ 255 bytes); also the job user
  std::optional<Params> environment_params;  // replaces the environment's parameters when set
  std::optional<CatchUp> catchup;            // replaces the catch-up policy when set
  // true: the deployment is paused (no cron; as Pause) — what `schedule: manual` environments
  // deploy with; false: resumed; unset: the pause state is kept.
  std::optional<bool> paused;
};

struct DeployResult {
  std::string deployed_id;
  int64_t version = 0;
  std::string bundle_id;
  bool created = false;  // false: an identical bundle was already this version
  bool active = false;   // the version is the active one after the call
};

struct VersionInfo {
  int64_t version = 0;
  std::string bundle_id;
  std::string deployer;
  bool dirty = false;
  std::string branch;
  std::string commit;
  TimePoint created{};
  bool active = false;
  std::string manifest_json;  // filled by GetVersion only
};

struct Activation {
  int64_t version = 0;
  std::optional<int64_t> previous;  // active version before, if any
  std::string reason;               // "deploy", "activate", "rollback"
  std::string actor;
  TimePoint at{};
};

struct DeployedWorkflow {
  std::string id;
  std::string environment, owner, repo, workflow_id;
  std::optional<int64_t> active_version;
  int64_t latest_version = 0;
  Params environment_params;
  CatchUp catchup = CatchUp::kLatest;
  // From the active version (empty / defaults without one).
  std::optional<std::string> schedule;
  std::vector<std::string> after;  // `after:` workflow ids (cross-workflow trigger)
  std::string timezone;
  std::string run_strategy;
  int max_concurrency = 1;
  std::optional<TimePoint> next_fire;   // unset while paused or undeployed
  bool paused = false;                  // Pause(): cron fires nothing; manual runs allowed
  std::optional<TimePoint> undeployed;  // Undeploy(): off the schedule, no runs; versions kept
  TimePoint created{};
  TimePoint updated{};
};

struct StepAttempt {
  std::string job_id;
  int64_t run = 1;
  int attempt = 1;  // 1-based within its run
  // SUBMITTING, SUBMITTED, KILLING (stopped; its job's end is not recorded yet), or the job's
  // final status.
  std::string status;
  std::string message;
  TimePoint created{};
  std::optional<TimePoint> finished;
};

struct StepRun {
  std::string id;
  StepStatus status = StepStatus::kPending;
  std::vector<std::string> depends_on;
  int attempts = 0;      // in the current run
  int max_attempts = 1;  // 1 + retries
  std::string job_id;    // of the latest attempt
  std::string message;
  std::optional<TimePoint> started, finished, next_attempt;
  std::vector<std::string> assets;   // UUIDs of the bundle's assets this step references
  std::vector<StepAttempt> history;  // every attempt of every run, oldest first
};

struct Instance {
  std::string workflow;  // deployed id
  int64_t number = 0;
  std::string id;  // InstanceId(workflow, number)
  int64_t version = 0;
  std::string bundle_id;
  InstanceStatus status = InstanceStatus::kCreated;
  std::string message;
  std::string trigger;       // "cron" or "manual"
  TimePoint trigger_time{};  // the logical time (EXECUTION_DATE)
  std::string requested_by;
  int64_t run = 1;
  Params params;                              // resolved runtime parameters
  std::vector<workflow::BundleAsset> assets;  // every asset of the instance's bundle
  std::vector<StepRun> steps;                 // file order; filled by GetInstance and Run
  TimePoint created{};
  std::optional<TimePoint> started, finished;
};

struct InstanceQuery {
  std::vector<InstanceStatus> statuses;  // empty: any
  int64_t page = 0;
  int64_t size = 50;  // 1..1000
};

struct InstancePage {
  std::vector<Instance> instances;  // newest first, without steps
  int64_t total = 0;
};

struct RunRequest {
  Params params;  // overrides; EXECUTION_DATE (ISO-8601) sets the logical time
  std::string requested_by;
};

// A backfill: one instance per fire time of the active version's schedule in [from, to].
struct BackfillRequest {
  TimePoint from{}, to{};  // inclusive
  int parallel = 1;        // 1..100 backfill instances of this workflow RUNNING at once
  std::string requested_by;
};

struct BackfillResult {
  std::vector<Instance> created;   // in fire-time order, without steps
  std::vector<TimePoint> skipped;  // fire times that already have an instance (cron or backfill)
};

class Scheduler {
 public:
  // Keeps its rows in `store` (used by this scheduler only, from its own thread-safe methods).
  // `blobs` and `launcher` are shared; `clock` must outlive the scheduler.
  static Result<std::unique_ptr<Scheduler>> Open(std::shared_ptr<store::SchedulerStore> store,
                                                 SchedulerOptions options,
                                                 std::shared_ptr<BundleBlobs> blobs,
                                                 std::shared_ptr<StepLauncher> launcher,
                                                 Clock& clock);
  // The same over the SQLite store in options.db_path (tables created). kInternal naming the
  // path on failure.
  static Result<std::unique_ptr<Scheduler>> Open(SchedulerOptions options,
                                                 std::shared_ptr<BundleBlobs> blobs,
                                                 std::shared_ptr<StepLauncher> launcher,
                                                 Clock& clock);
  ~Scheduler();  // stops the background loop; running jobs keep running
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  Result<DeployResult> Deploy(const DeployRequest& request);

  Result<std::vector<DeployedWorkflow>> List();
  Result<DeployedWorkflow> Get(std::string_view deployed_id);
  Result<std::vector<VersionInfo>> Versions(std::string_view deployed_id);  // newest first
  // Every blob a stored version of any workflow (undeployed ones too: they may be deployed
  // again) names, each once, sorted: its bundle id (the manifest blob of
  // workflow::PutBundleBlobs), its repository files and its assets' blobs. The leader's orphan
  // blob cleanup keeps them (cluster/leader_tasks.h). A manifest that does not parse is an
  // error (kInternal naming the bundle): nothing may be deleted on a partial set.
  Result<std::vector<std::string>> ReferencedBlobs();
  Result<VersionInfo> GetVersion(std::string_view deployed_id, int64_t version);
  Result<std::vector<Activation>> Activations(std::string_view deployed_id);  // newest first
  Result<DeployedWorkflow> Activate(std::string_view deployed_id, int64_t version,
                                    std::string_view actor);
  Result<DeployedWorkflow> Rollback(std::string_view deployed_id, std::optional<int64_t> to,
                                    std::string_view actor);

  // Creates a manual instance of the active version (kFailedPrecondition without one). Unknown
  // parameter names are allowed (they become parameters); built-ins other than EXECUTION_DATE
  // are kInvalidArgument.
  // Lifecycle (persisted, survives restart). Pause: cron fires nothing until Resume; manual
  // runs still start. Resume: fire times missed while paused are skipped (the next one after
  // now fires). Undeploy: off the schedule and refused by Run; versions, activations and
  // instances are kept for audit; a later Deploy of the workflow deploys it again. All three
  // are idempotent; kNotFound for an unknown id.
  Result<DeployedWorkflow> Pause(std::string_view deployed_id, std::string_view actor);
  Result<DeployedWorkflow> Resume(std::string_view deployed_id, std::string_view actor);
  Result<DeployedWorkflow> Undeploy(std::string_view deployed_id, std::string_view actor);

  Result<Instance> Run(std::string_view deployed_id, const RunRequest& request);
  // BACKFILL: creates one instance (trigger "backfill", EXECUTION_DATE = the fire time) for each
  // fire time of the active version's schedule in [from, to], oldest first, except fire times
  // that already have one (recorded like cron fires: a backfilled time never fires again, and
  // a second backfill over the same range creates nothing). Backfill instances are admitted
  // oldest first, at most `parallel` of this workflow's backfill instances RUNNING at once,
  // beside (not under) the run strategy, which keeps governing the other instances.
  // kInvalidArgument: from > to, parallel outside 1..100, more than 1000 fire times;
  // kFailedPrecondition: no active version or no schedule; kNotFound: unknown workflow.
  Result<BackfillResult> Backfill(std::string_view deployed_id, const BackfillRequest& request);
  Result<InstancePage> Instances(std::string_view deployed_id, const InstanceQuery& query);
  Result<Instance> GetInstance(std::string_view deployed_id, int64_t number);
  Result<Instance> Restart(std::string_view deployed_id, int64_t number, std::string_view actor);
  Result<Instance> Stop(std::string_view deployed_id, int64_t number, std::string_view actor);

  // Reconciles RUNNING instances with the job service after a restart (one Tick; nothing on a
  // node that does not lead, see SchedulerOptions::leader_token). Call once before Start().
  Status Recover();
  // One pass of the loop (see EXECUTION). Ticks are serialised.
  Status Tick();
  // Starts / stops the background loop. Start() twice is a no-op.
  Status Start();
  void Shutdown();

 private:
  struct Impl;
  explicit Scheduler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::scheduler
