// The scheduler's events (docs/api.md, "Events"): WORKFLOW_INSTANCE_CHANGE,
// WORKFLOW_STEP_CHANGE, WORKFLOW_DEPLOYED and WORKFLOW_ACTIVATED.
//
// Each is built at its state transition, inside the write transaction that records the change,
// and queued in Impl::outbox. SQLite tells us when that transaction ends: its WAL hook runs
// after a commit (with the write lock already released, so the sink may write the event log,
// which lives in the same file over the store's connection), its rollback hook after a
// rollback. So an event reaches the sink only for a change that is durable, never for one that
// was rolled back, and in commit order (`mu` is held across the transaction and the hook).
//
// The gap: the event is appended in a second transaction. A crash between the two loses the
// event (at most once); the scheduler's rows, which the API serves, stay the truth, and the
// CLI's `--wait` re-reads the instance (docs/api.md says so).
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <boost/json.hpp>

#include "common/time_format.h"
#include "scheduler/scheduler_internal.h"
#include "service/event_hub.h"

namespace weir::scheduler {

namespace {

namespace json = boost::json;
namespace sql = store::sqlite;

// SQLite's own WAL hook checkpoints at 1000 pages; registering ours replaces it, so ours does
// the same.
constexpr int kAutoCheckpointPages = 1000;

store::EventRecord Event(std::string_view type, const std::string& workflow, int64_t now_ms,
                         json::object& o) {
  store::EventRecord e;
  e.type = std::string(type);
  e.time = FromEpochMillis(now_ms);
  e.workflow = workflow;
  json::object data;
  data["type"] = e.type;
  data["timestamp"] = FormatIso8601(e.time);
  data["workflow"] = workflow;
  for (auto& kv : o) data[kv.key()] = std::move(kv.value());
  e.data = json::serialize(data);
  return e;
}

json::value OptVersion(std::optional<int64_t> v) {
  return v ? json::value(*v) : json::value(nullptr);
}

}  // namespace

void Scheduler::Impl::InstallEventHooks() {
  if (!options.events) return;
  sqlite3_wal_hook(
      db->handle(),
      [](void* arg, sqlite3* conn, const char* name, int pages) {
        auto* impl = static_cast<Impl*>(arg);
        std::vector<store::EventRecord> ready;
        ready.swap(impl->outbox);
        for (const store::EventRecord& e : ready) impl->options.events(e);
        if (pages >= kAutoCheckpointPages) {
          (void)sqlite3_wal_checkpoint_v2(conn, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        }
        return SQLITE_OK;
      },
      this);
  sqlite3_rollback_hook(
      db->handle(), [](void* arg) { static_cast<Impl*>(arg)->outbox.clear(); }, this);
}

Status Scheduler::Impl::NoteInstance(const InstanceRow& r, bool created, int64_t now_ms) {
  if (!options.events) return Status::Ok();
  std::optional<std::string> from;
  if (!created) {
    WEIR_ASSIGN_OR_RETURN(
        sql::Stmt s,
        db->Prepare("SELECT status FROM wf_instances WHERE deployed_id = ? AND instance = ?"));
    s.Bind(r.deployed_id).Bind(r.number);
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) from = s.String(0);
    if (from == InstanceStatusName(r.status)) return Status::Ok();
  }
  json::object o;
  o["instance"] = r.number;
  o["instanceId"] = InstanceId(r.deployed_id, r.number);
  o["version"] = r.version;
  o["logicalDate"] = FormatIso8601(FromEpochMillis(r.trigger_ms));
  o["trigger"] = r.trigger;
  o["run"] = r.run;
  o["fromState"] = from ? json::value(*from) : json::value(nullptr);
  o["toState"] = InstanceStatusName(r.status);
  o["message"] = r.message;
  store::EventRecord e = Event(service::kWorkflowInstanceChange, r.deployed_id, now_ms, o);
  e.user = r.requested_by;
  outbox.push_back(std::move(e));
  return Status::Ok();
}

Status Scheduler::Impl::NoteStep(const std::string& id, int64_t number, const StepRow& step) {
  if (!options.events) return Status::Ok();
  WEIR_ASSIGN_OR_RETURN(sql::Stmt s,
                        db->Prepare("SELECT status FROM wf_steps WHERE deployed_id = ? AND "
                                    "instance = ? AND step = ?"));
  s.Bind(id).Bind(number).Bind(step.step);
  WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
  std::optional<std::string> from;
  if (row) from = s.String(0);
  if (from == StepStatusName(step.status)) return Status::Ok();
  json::object o;
  o["instance"] = number;
  o["instanceId"] = InstanceId(id, number);
  o["step"] = step.step;
  o["attempt"] = step.attempts;
  o["jobId"] = step.job_id ? json::value(*step.job_id) : json::value(nullptr);
  o["fromState"] = from ? json::value(*from) : json::value(nullptr);
  o["toState"] = StepStatusName(step.status);
  o["message"] = step.message;
  store::EventRecord e = Event(service::kWorkflowStepChange, id, ToEpochMillis(clock.Now()), o);
  e.job_id = step.job_id.value_or("");
  outbox.push_back(std::move(e));
  return Status::Ok();
}

void Scheduler::Impl::NoteDeployed(const DeploymentRow& d, int64_t version,
                                   const std::string& bundle_id, const workflow::BundleManifest& m,
                                   std::string_view deployer, int64_t now_ms) {
  if (!options.events) return;
  json::object o;
  o["version"] = version;
  o["environment"] = d.environment;
  o["bundleId"] = bundle_id;
  o["branch"] = m.branch;
  o["commit"] = m.commit;
  o["dirty"] = m.dirty;
  o["deployer"] = deployer;
  store::EventRecord e = Event(service::kWorkflowDeployed, d.id, now_ms, o);
  e.user = std::string(deployer);
  outbox.push_back(std::move(e));
}

void Scheduler::Impl::NoteActivation(const DeploymentRow& d, int64_t to, std::string_view reason,
                                     std::string_view actor, int64_t now_ms) {
  if (!options.events) return;
  json::object o;
  o["environment"] = d.environment;
  o["fromVersion"] = OptVersion(d.active);
  o["toVersion"] = to;
  o["reason"] = reason;
  o["rollback"] = reason == "rollback";
  o["actor"] = actor;
  store::EventRecord e = Event(service::kWorkflowActivated, d.id, now_ms, o);
  e.user = std::string(actor);
  outbox.push_back(std::move(e));
}

}  // namespace weir::scheduler
