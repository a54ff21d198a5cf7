// A tick (TickOnce) and its leadership: the fencing token it leads with, the catch-up of a new
// lead (the instances a previous leader left running are continued before anything fires) and
// the fenced write transactions of the tick (StillLeading, BeginLeading).
#include <spdlog/spdlog.h>

#include "common/time_format.h"
#include "scheduler/scheduler_internal.h"

namespace weir::scheduler {

bool Scheduler::Impl::StillLeading() {
  if (!options.leader_token) return true;
  if (options.leader_token() == lead_token) return true;
  report.lost_lead = true;
  return false;
}

Result<std::unique_ptr<store::SchedulerStore::Transaction>> Scheduler::Impl::BeginLeading() {
  if (!StillLeading()) {
    return FailedPrecondition("scheduler: this node no longer leads (fencing token " +
                              std::to_string(lead_token) + ")");
  }
  WEIR_ASSIGN_OR_RETURN(auto txn, Begin());
  if (!options.fence_lease.empty()) {
    if (Status s = store->CheckFence(options.fence_lease, lead_token); !s.ok()) {
      if (s.code() == StatusCode::kFailedPrecondition) report.lost_lead = true;
      return s;  // `txn` rolls back
    }
  }
  return txn;
}

Status Scheduler::Impl::TickOnce() {
  std::lock_guard<std::mutex> tick(tick_mu);
  // Every node, leading or not: a stop answered by any node kills the step jobs this one holds.
  KillPass();
  const int64_t token = options.leader_token ? options.leader_token() : 1;
  if (token == 0) return Status::Ok();  // not the leader: the leader's scheduler acts
  lead_token = token;
  report = TickReport{};
  report.token = token;
  Status s;
  if (options.leader_token && token != led_with) {
    // A new lead: continue what the previous leader left running before firing anything.
    report.new_lead = true;
    spdlog::info("scheduler: leading with fencing token {}: continuing running instances", token);
    s = RunPass(ToEpochMillis(clock.Now()));
    if (s.ok() && !report.lost_lead) led_with = token;
  }
  if (s.ok() && !report.lost_lead) {
    FirePass(ToEpochMillis(clock.Now()));
    if (!report.lost_lead) s = RunPass(ToEpochMillis(clock.Now()));
  }
  if (report.lost_lead) {
    spdlog::warn("scheduler: the lead with fencing token {} ended during a tick; stopped there",
                 token);
    led_with = 0;
    s = Status::Ok();
  }
  report.status = s;
  if (options.on_tick) options.on_tick(report);
  return s;
}

}  // namespace weir::scheduler
