// The kills of stopped steps' jobs. A stop (through any node) records the attempts of its
// submitted steps KILLING; every node's tick kills the jobs of KILLING attempts it holds, each
// once (KillPass), and the leader's tick replaces KILLING by each job's final status once it
// ended (RecordKilledEnds). RunKills makes the asks of the launcher (see scheduler_internal.h).
#include <spdlog/spdlog.h>

#include <set>

#include "scheduler/scheduler_internal.h"

namespace weir::scheduler {

void Scheduler::Impl::RunKills(const std::vector<PendingKill>& kills) {
  for (const PendingKill& k : kills) {
    {
      std::lock_guard<std::mutex> lock(kill_mu);
      if (!kills_sent.emplace(k.job_id, ++kill_seq).second) continue;  // asked already
    }
    Status s = launcher->Kill(k.job_id);
    if (s.ok() || s.code() == StatusCode::kNotFound) continue;
    if (s.code() == StatusCode::kFailedPrecondition) {
      // Another node holds the job: its scheduler's KillPass kills it.
      spdlog::debug("scheduler: kill job {} ({}): {}; its node kills it", k.job_id, k.why,
                    s.ToString());
      continue;
    }
    spdlog::warn("scheduler: kill job {} ({}): {}; asking again on the next pass", k.job_id, k.why,
                 s.ToString());
    std::lock_guard<std::mutex> lock(kill_mu);
    kills_sent.erase(k.job_id);
  }
}

void Scheduler::Impl::KillPass() {
  uint64_t read_at = 0;
  {
    std::lock_guard<std::mutex> lock(kill_mu);
    read_at = kill_seq;
  }
  Result<std::vector<store::WfKillingAttempt>> rows = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return store->KillingAttempts();
  }();
  killing.clear();
  if (!rows.ok()) {
    spdlog::warn("scheduler: reading the jobs stops asked to kill: {}", rows.status().ToString());
    return;
  }
  std::set<std::string> ids;
  std::vector<PendingKill> kills;
  for (const store::WfKillingAttempt& a : *rows) {
    ids.insert(a.job_id);
    kills.push_back({a.job_id, "workflow " + InstanceId(a.deployed_id, a.instance) + " step '" +
                                   a.step + "': " + a.message});
  }
  {
    // Forget the jobs whose end is recorded (asked before the read, no longer KILLING).
    std::lock_guard<std::mutex> lock(kill_mu);
    std::erase_if(kills_sent, [&](const auto& sent) {
      return sent.second <= read_at && !ids.count(sent.first);
    });
  }
  RunKills(kills);
  killing = std::move(*rows);
}

Status Scheduler::Impl::RecordKilledEnds(int64_t now_ms) {
  struct Ended {
    const store::WfKillingAttempt* attempt;
    std::string status;
    std::string message;
  };
  std::vector<Ended> ended;
  for (const store::WfKillingAttempt& a : killing) {
    Result<StepJobState> st = launcher->State(a.job_id);
    if (!st.ok()) {
      if (st.status().code() != StatusCode::kNotFound) continue;  // try again next tick
      ended.push_back({&a, "LOST",
                       a.message + "; job " + a.job_id +
                           ": not found in the job "
                           "service"});
    } else if (!model::IsActive(st->status)) {
      std::string status(model::JobStatusName(st->status));
      ended.push_back({&a, status,
                       st->status == model::JobStatus::kKilled
                           ? a.message
                           : a.message + "; job " + a.job_id + " ended " + status +
                                 " before the kill reached it"});
    }
  }
  if (ended.empty()) return Status::Ok();
  {
    std::lock_guard<std::mutex> lock(mu);
    WEIR_ASSIGN_OR_RETURN(auto txn, BeginLeading());
    for (const Ended& e : ended) {
      WEIR_RETURN_IF_ERROR(FinishAttempt(e.attempt->job_id, e.status, e.message, now_ms));
    }
    WEIR_RETURN_IF_ERROR(txn->Commit());
  }
  // Recorded: a second pass of this tick (a new lead's) has nothing more to do for them.
  std::set<std::string> recorded;
  for (const Ended& e : ended) recorded.insert(e.attempt->job_id);
  std::erase_if(killing,
                [&](const store::WfKillingAttempt& a) { return recorded.count(a.job_id); });
  return Status::Ok();
}

}  // namespace weir::scheduler
