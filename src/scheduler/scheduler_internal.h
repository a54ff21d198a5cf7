// Private to src/scheduler/: the Scheduler's state and the helpers shared by scheduler.cc
// (deployments, queries, instance creation), rows.cc (rows and their conversions), triggers.cc
// (cron fires) and runner.cc (the DAG runner: admission, steps, stop, restart; a tick's
// leadership in runner_catch_up.cc, the kills of stopped steps' jobs in runner_kill.cc).
//
// Locking: `mu` guards the database connection and the caches; every helper below marked
// REQUIRES: mu runs with it held. `tick_mu` serialises Tick(); it is always taken before `mu`.
// Calls into the StepLauncher (job service) are made without `mu` held, except Kill from Stop,
// which is also made after releasing it. Every row is reached through the SchedulerStore, and
// every write transaction is opened with Impl::Begin() (events.cc), so that the events it
// queues are handed over once it commits and dropped when it does not.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cron/cron.h"
#include "scheduler/scheduler.h"
#include "store/scheduler_store.h"
#include "workflow/workflow.h"

namespace weir::scheduler {

// One parsed version: its manifest, its workflow model and what is derived from them.
struct LoadedVersion {
  std::string deployed_id;
  int64_t version = 0;
  std::string bundle_id;
  std::string deployer;
  workflow::BundleManifest manifest;
  workflow::Workflow wf;
  std::optional<cron::CronExpr> cron;                           // set when wf.schedule is
  const date::time_zone* tz = nullptr;                          // set when wf.schedule is
  std::map<std::string, std::vector<std::string>> step_assets;  // step id → asset UUIDs
  // "<schedule>|<timezone>", or empty without a schedule: the trigger cursor restarts when it
  // changes between active versions.
  std::string ScheduleKey() const;
};

struct DeploymentRow {
  std::string id, environment, owner, repo, workflow_id;
  std::optional<int64_t> active;
  int64_t latest = 0;
  Params env_params;
  CatchUp catchup = CatchUp::kLatest;
  int64_t next_instance = 1;
  std::optional<int64_t> cursor_ms;
  std::optional<std::string> schedule_key;
  int64_t created_ms = 0, updated_ms = 0;
  bool paused = false;                   // lifecycle.cc (LoadLifecycle re-reads them)
  std::optional<int64_t> undeployed_ms;  // lifecycle.cc (LoadLifecycle re-reads them)
};

struct InstanceRow {
  std::string deployed_id;
  int64_t number = 0;
  int64_t version = 0;
  std::string bundle_id;
  InstanceStatus status = InstanceStatus::kCreated;
  std::string message;
  std::string trigger;
  int64_t trigger_ms = 0;
  std::string requested_by;
  int64_t run = 1;
  Params params;
  int64_t created_ms = 0;
  std::optional<int64_t> started_ms, finished_ms;
};

struct StepRow {
  std::string step;
  int position = 0;
  StepStatus status = StepStatus::kPending;
  int attempts = 0;
  std::optional<std::string> job_id;
  bool submitted = false;
  std::optional<int64_t> not_before_ms;
  std::string message;
  std::optional<int64_t> started_ms, finished_ms;
};

// A submission prepared under `mu`, made without it.
struct PendingLaunch {
  std::string deployed_id;
  int64_t instance = 0;
  std::string step;
  std::string job_id;
  Result<model::JobRequest> request = InvalidArgument("unset");
};

// A job kill decided under `mu`, made without it.
struct PendingKill {
  std::string job_id;
  std::string why;
};

// Lets the launcher's end listener reach the scheduler only while it exists (the job service
// may outlive it).
struct Waker {
  std::mutex mu;
  std::function<void()> wake;  // GUARDED_BY(mu); empty once the scheduler is gone
};

struct Scheduler::Impl {
  SchedulerOptions options;
  std::shared_ptr<BundleBlobs> blobs;
  std::shared_ptr<StepLauncher> launcher;
  Clock& clock;

  std::mutex tick_mu;
  std::mutex mu;
  std::shared_ptr<store::SchedulerStore> store;  // GUARDED_BY(mu): every row is here
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<const LoadedVersion>>
      versions;  // GUARDED_BY(mu)

  // Trigger fast path: the next fire time computed for a deployment's cursor and schedule.
  struct NextFireEntry {
    int64_t cursor_ms = 0;
    std::string schedule_key;
    int64_t next_ms = 0;
  };
  std::map<std::string, NextFireEntry> next_fire_cache;  // GUARDED_BY(mu)

  // Background loop.
  std::mutex loop_mu;
  std::condition_variable loop_cv;
  bool loop_stop = false;  // GUARDED_BY(loop_mu)
  bool loop_wake = false;  // GUARDED_BY(loop_mu)
  std::thread loop;
  std::shared_ptr<Waker> waker = std::make_shared<Waker>();

  // Leadership of the running tick (runner_catch_up.cc). REQUIRES: tick_mu (only tick code reads
  // them).
  int64_t lead_token = 0;  // the fencing token the running tick leads with
  int64_t led_with = 0;    // the token of the last lead whose running instances were continued
  TickReport report;       // of the running tick
  // The KILLING attempts this tick's KillPass read; RecordKilledEnds records their ends.
  std::vector<store::WfKillingAttempt> killing;
  // True while options.leader_token (if set) still gives the token the tick leads with; false
  // also marks the tick as having lost the lead.
  bool StillLeading();
  // REQUIRES: mu, tick_mu. A write transaction of the tick: refused (kFailedPrecondition, the
  // tick's lead marked lost) unless StillLeading() and the fence lease still has lead_token.
  Result<std::unique_ptr<store::SchedulerStore::Transaction>> BeginLeading();

  // Kills of step jobs this scheduler asked of the launcher (RunKills), so that each job is
  // asked once: job id → the sequence number of the ask. KillPass drops the jobs whose KILLING
  // attempt is gone (asked before it read them), so the map stays small.
  std::mutex kill_mu;
  std::map<std::string, uint64_t> kills_sent;  // GUARDED_BY(kill_mu)
  uint64_t kill_seq = 0;                       // GUARDED_BY(kill_mu)

  // Events of the open transaction (events.cc), handed to options.events once it commits.
  std::vector<store::EventRecord> outbox;  // GUARDED_BY(mu)

  Impl(SchedulerOptions o, std::shared_ptr<BundleBlobs> b, std::shared_ptr<StepLauncher> l,
       Clock& c)
      : options(std::move(o)), blobs(std::move(b)), launcher(std::move(l)), clock(c) {}

  void Wake();
  void LoopMain();

  // ---- scheduler.cc: versions. REQUIRES: mu ----
  Result<std::shared_ptr<const LoadedVersion>> LoadVersion(const std::string& id, int64_t version);
  // Points the deployment at `version`, records the activation, restarts the trigger cursor
  // when the schedule changes. Writes the deployment row.
  Status SetActive(DeploymentRow& d, const LoadedVersion& v, std::string_view reason,
                   std::string_view actor, int64_t now_ms);
  // Creates instance next_instance of the active version (inside the caller's transaction).
  // Parameter problems of a manual run are returned; for cron runs they produce a FAILED
  // instance that says why.
  Result<InstanceRow> CreateInstance(DeploymentRow& d, std::string_view trigger, int64_t logical_ms,
                                     const Params& overrides, std::string_view requested_by,
                                     bool manual, int64_t now_ms);

  // ---- rows.cc: rows. REQUIRES: mu ----
  Result<DeploymentRow> LoadDeployment(std::string_view id);
  Status SaveDeploymentState(const DeploymentRow& d, int64_t now_ms);
  Result<InstanceRow> LoadInstance(std::string_view id, int64_t number);
  Result<std::vector<StepRow>> LoadSteps(std::string_view id, int64_t number);
  Status SaveInstance(const InstanceRow& r, int64_t now_ms);
  Status SaveStep(const std::string& id, int64_t number, const StepRow& s);
  Status InsertAttempt(const std::string& id, int64_t number, const std::string& step, int64_t run,
                       int attempt, const std::string& job_id, int64_t now_ms);
  Status FinishAttempt(const std::string& job_id, std::string_view status, std::string_view message,
                       std::optional<int64_t> finished_ms);
  Result<Instance> BuildInstance(const InstanceRow& row, bool with_steps);
  Result<DeployedWorkflow> BuildDeployed(const DeploymentRow& d);

  // ---- events.cc. REQUIRES: mu; no-ops without options.events ----
  // A write transaction of the store whose queued events (the outbox) go to options.events
  // after its Commit() succeeds, and are dropped when it fails or is never committed. A write
  // made outside one hands its events over at once, after the write (FlushOutbox).
  Result<std::unique_ptr<store::SchedulerStore::Transaction>> Begin();
  bool in_transaction = false;  // GUARDED_BY(mu)
  // Outside a transaction: hands the outbox to options.events (after a write succeeded) or
  // drops it (`written` false).
  void FlushOutbox(bool written);
  // Before the row is written: queues WORKFLOW_INSTANCE_CHANGE / WORKFLOW_STEP_CHANGE when the
  // stored status differs from the one about to be written (`created`: the row is new).
  Status NoteInstance(const InstanceRow& r, bool created, int64_t now_ms);
  Status NoteStep(const std::string& id, int64_t number, const StepRow& s);
  // A new version `version` of `d` was inserted from manifest `m`.
  void NoteDeployed(const DeploymentRow& d, int64_t version, const std::string& bundle_id,
                    const workflow::BundleManifest& m, std::string_view deployer, int64_t now_ms);
  // Before `d.active` changes to `to`.
  void NoteActivation(const DeploymentRow& d, int64_t to, std::string_view reason,
                      std::string_view actor, int64_t now_ms);

  // ---- backfill.cc. REQUIRES: mu ----
  // The `parallel` bound of a backfill instance; nullopt for other instances.
  Result<std::optional<int>> BackfillParallel(const std::string& id, int64_t number);

  // ---- triggers.cc. REQUIRES: mu ----
  Status FireTriggers(int64_t now_ms);
  // lifecycle.cc: reads the lifecycle state into `d`; clears `undeployed` (a new deploy).
  Status LoadLifecycle(DeploymentRow& d);
  Status ClearUndeployed(std::string_view id);
  Status SetPaused(std::string_view id, bool paused, int64_t now_ms);
  // Pause (0), resume (1) or undeploy (2) under mu; the deployed workflow after it.
  Result<DeployedWorkflow> ChangeLifecycle(std::string_view id, std::string_view actor, int change);
  // The fire times in (cursor, now] the catch-up policy lets fire, oldest first.
  Result<std::vector<int64_t>> DueFires(const LoadedVersion& v, CatchUp policy, int64_t cursor_ms,
                                        int64_t now_ms);

  // ---- after_triggers.cc (cross-workflow triggers). REQUIRES: mu ----
  // Inside the transaction that marks `upstream` SUCCEEDED: records it for every deployed
  // workflow whose active version lists it in `after:`, and creates the instance of each one
  // whose upstream workflows have now all succeeded for that logical date.
  Status RecordUpstreamSuccess(const InstanceRow& upstream, int64_t now_ms);
  // Creates the FAILED instances of dates whose upstream workflows did not all succeed within
  // `after_timeout` (and drops the waits of paused, undeployed or changed workflows).
  Status ExpireAfterWaits(int64_t now_ms);
  // kInvalidArgument naming `after:` unless every upstream of `v` is deployed in its environment.
  Status CheckUpstreamsDeployed(const LoadedVersion& v, const workflow::BundleManifest& m);
  Result<bool> AfterFired(const std::string& id, int64_t logical_ms);
  Result<std::map<std::string, int64_t>> AfterSucceeded(const std::string& id, int64_t logical_ms);
  // Inside a write transaction: the one instance of (d, logical date), FAILED with `failure`
  // when that is not empty; nothing when the date already has one. Clears the date's waits.
  Status FireAfter(DeploymentRow& d, int64_t logical_ms, const std::string& failure,
                   int64_t now_ms);

  // ---- runner_catch_up.cc ----
  Status TickOnce();

  // ---- runner.cc ----
  // REQUIRES: tick_mu. Cron and `after:` fires; then job states, admission, steps, completion.
  void FirePass(int64_t now_ms);
  Status RunPass(int64_t now_ms);
  // REQUIRES: mu. Admission, step readiness, completion; reserves launches and kills.
  Status Advance(int64_t now_ms, std::vector<PendingLaunch>& launches,
                 std::vector<PendingKill>& kills);
  // REQUIRES: mu. Reserves the ready steps of a RUNNING instance (appending their launches)
  // and finishes it when every step succeeded or a failure left nothing running.
  Status StepPass(InstanceRow& r, int64_t now_ms, std::vector<PendingLaunch>& launches);
  // REQUIRES: mu. Stops one instance (rows only); the jobs to kill are appended. The attempt of
  // a step whose job the job service accepted becomes KILLING (not KILLED: the kill may have to
  // be made by another node); its job's final status replaces that once the job ended
  // (RecordKilledEnds).
  Status StopLocked(InstanceRow& row, std::string_view message, int64_t now_ms,
                    std::vector<PendingKill>& kills);
  // REQUIRES: mu. Admits `r`: RUNNING from `now_ms` (counted in the workflow_instances
  // metric); writes the row.
  Status StartInstance(InstanceRow& r, int64_t now_ms);
  // REQUIRES: mu. Ends `r` with the final `status` and `message` at `now_ms` (counted in the
  // workflow_instances metric); writes the row.
  Status EndInstance(InstanceRow& r, InstanceStatus status, std::string message, int64_t now_ms);
  // REQUIRES: mu. Records a failed attempt: WAITING_RETRY with backoff or FAILED.
  void FailAttempt(const LoadedVersion& v, StepRow& s, const std::string& message, int64_t now_ms);
  Result<model::JobRequest> BuildRequest(const LoadedVersion& v, const InstanceRow& inst,
                                         const StepRow& s);

  // ---- runner_kill.cc ----
  // Without mu. Asks the launcher to kill each job not asked before by this scheduler. A job
  // held by another node (kFailedPrecondition) counts as asked: that node's KillPass kills it.
  // A kill that may work later (kUnavailable, ...) is asked again by the next KillPass.
  void RunKills(const std::vector<PendingKill>& kills);
  // REQUIRES: tick_mu. On every node, leader or not, on every tick: kills the jobs of KILLING
  // attempts (instances stopped through any node) that this node holds, each once. Reads only.
  void KillPass();
  // REQUIRES: tick_mu; the leader's pass. Replaces KILLING by the final status of each job of
  // `killing` that ended (one fenced transaction when any did).
  Status RecordKilledEnds(int64_t now_ms);
};

}  // namespace weir::scheduler
