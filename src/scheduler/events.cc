// The scheduler's events (docs/api.md, "Events"): WORKFLOW_INSTANCE_CHANGE,
// WORKFLOW_STEP_CHANGE, WORKFLOW_DEPLOYED and WORKFLOW_ACTIVATED.
//
// Each is built at its state transition, inside the write transaction that records the change,
// and queued in Impl::outbox. Every write transaction is opened with Impl::Begin(), whose
// Commit() hands the outbox to the sink only once the store committed, and whose destruction
// without a commit drops it. So an event reaches the sink only for a change that is durable,
// never for one that was rolled back, and in commit order (`mu` is held across the transaction
// and the hand-over). This works alike for the SQLite and the PostgreSQL SchedulerStore.
//
// The gap: the event is appended in a second transaction. A crash between the two loses the
// event (at most once); the scheduler's rows, which the API serves, stay the truth, and the
// CLI's `--wait` re-reads the instance (docs/api.md says so).
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "common/time_format.h"
#include "scheduler/scheduler_internal.h"
#include "service/event_hub.h"

namespace weir::scheduler {

namespace {

namespace json = boost::json;

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

Result<std::unique_ptr<store::SchedulerStore::Transaction>> Scheduler::Impl::Begin() {
  // Hands the outbox over once the wrapped store transaction commits; drops it otherwise.
  class EventTransaction final : public store::SchedulerStore::Transaction {
   public:
    EventTransaction(Impl& impl, std::unique_ptr<store::SchedulerStore::Transaction> txn)
        : impl_(impl), txn_(std::move(txn)) {
      impl_.outbox.clear();
      impl_.in_transaction = true;
    }
    ~EventTransaction() override {
      if (!done_) End(false);
    }
    Status Commit() override {
      Status s = txn_->Commit();
      End(s.ok());
      return s;
    }

   private:
    void End(bool committed) {
      done_ = true;
      impl_.in_transaction = false;
      std::vector<store::EventRecord> ready;
      ready.swap(impl_.outbox);
      if (!committed || !impl_.options.events) return;
      for (const store::EventRecord& e : ready) impl_.options.events(e);
    }

    Impl& impl_;
    std::unique_ptr<store::SchedulerStore::Transaction> txn_;
    bool done_ = false;
  };

  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<store::SchedulerStore::Transaction> txn, store->Begin());
  return std::unique_ptr<store::SchedulerStore::Transaction>(
      std::make_unique<EventTransaction>(*this, std::move(txn)));
}

void Scheduler::Impl::FlushOutbox(bool written) {
  if (in_transaction) return;
  std::vector<store::EventRecord> ready;
  ready.swap(outbox);
  if (!written || !options.events) return;
  for (const store::EventRecord& e : ready) options.events(e);
}

Status Scheduler::Impl::NoteInstance(const InstanceRow& r, bool created, int64_t now_ms) {
  if (!options.events) return Status::Ok();
  std::optional<std::string> from;
  if (!created) {
    WEIR_ASSIGN_OR_RETURN(std::optional<store::WfInstanceRow> stored,
                          store->GetInstance(r.deployed_id, r.number));
    if (stored) from = stored->status;
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
  WEIR_ASSIGN_OR_RETURN(std::vector<store::WfStepRow> stored, store->ListSteps(id, number));
  std::optional<std::string> from;
  for (const store::WfStepRow& row : stored) {
    if (row.step == step.step) from = row.status;
  }
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
