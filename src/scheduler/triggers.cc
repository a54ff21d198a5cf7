// Cron triggers: which fire times of a deployed workflow are due, and firing each at most once.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "metrics/weir_metrics.h"
#include "scheduler/scheduler_internal.h"

namespace weir::scheduler {

Result<std::vector<int64_t>> Scheduler::Impl::DueFires(const LoadedVersion& v, CatchUp policy,
                                                       int64_t cursor_ms, int64_t now_ms) {
  std::vector<int64_t> newest_first;
  if (!v.cron || v.tz == nullptr) return newest_first;
  size_t limit = 1;
  if (policy == CatchUp::kAll) limit = static_cast<size_t>(options.max_catchup);
  if (policy == CatchUp::kNone) limit = static_cast<size_t>(options.max_catchup);
  const int64_t oldest_on_time = now_ms - options.misfire_grace.count();
  // Walk back from now (inclusive) to the cursor (exclusive).
  TimePoint before = FromEpochMillis(now_ms + 1);
  while (newest_first.size() < limit) {
    Result<TimePoint> t = cron::PrevFire(*v.cron, v.tz, before);
    if (!t.ok()) {
      if (t.status().code() == StatusCode::kNotFound) break;
      return t.status();
    }
    int64_t ms = ToEpochMillis(*t);
    if (ms <= cursor_ms) break;
    if (policy == CatchUp::kNone && ms < oldest_on_time) break;
    newest_first.push_back(ms);
    before = *t;
  }
  std::reverse(newest_first.begin(), newest_first.end());
  return newest_first;
}

Status Scheduler::Impl::FireTriggers(int64_t now_ms) {
  struct Candidate {
    std::string id;
    int64_t version = 0;
    std::optional<int64_t> cursor_ms;
    std::string schedule_key;
  };
  std::vector<Candidate> candidates;
  {
    WEIR_ASSIGN_OR_RETURN(std::vector<store::WfDeploymentRow> rows,
                          store->DeploymentsToFire(now_ms));
    for (const store::WfDeploymentRow& r : rows) {
      candidates.push_back(
          {r.id, r.active_version.value_or(0), r.cursor_ms, r.schedule_key.value_or("")});
    }
  }
  for (const Candidate& c : candidates) {
    // Most passes have nothing due: the next fire time after a cursor is computed once.
    if (c.cursor_ms) {
      auto it = next_fire_cache.find(c.id);
      if (it != next_fire_cache.end() && it->second.cursor_ms == *c.cursor_ms &&
          it->second.schedule_key == c.schedule_key && it->second.next_ms > now_ms) {
        continue;
      }
    }
    Result<std::shared_ptr<const LoadedVersion>> v = LoadVersion(c.id, c.version);
    if (!v.ok()) {
      spdlog::error("scheduler: {}: {}", c.id, v.status().ToString());
      continue;
    }
    if (!(*v)->cron) continue;
    const int64_t cursor = c.cursor_ms.value_or(now_ms);
    Result<TimePoint> next = cron::NextFire(*(*v)->cron, (*v)->tz, FromEpochMillis(cursor));
    const int64_t next_ms = next.ok() ? ToEpochMillis(*next) : INT64_MAX;
    next_fire_cache[c.id] = {cursor, c.schedule_key, next_ms};
    if (next_ms > now_ms) {
      if (!c.cursor_ms) {
        WEIR_ASSIGN_OR_RETURN(auto txn, BeginLeading());
        WEIR_ASSIGN_OR_RETURN(DeploymentRow d, LoadDeployment(c.id));
        if (!d.cursor_ms) {
          d.cursor_ms = now_ms;
          WEIR_RETURN_IF_ERROR(SaveDeploymentState(d, now_ms));
        }
        WEIR_RETURN_IF_ERROR(txn->Commit());
      }
      continue;
    }
    WEIR_ASSIGN_OR_RETURN(DeploymentRow d, LoadDeployment(c.id));
    if (!d.active || *d.active != (*v)->version) continue;
    WEIR_ASSIGN_OR_RETURN(std::vector<int64_t> fires, DueFires(**v, d.catchup, cursor, now_ms));

    WEIR_ASSIGN_OR_RETURN(auto txn, BeginLeading());
    // Re-read inside the write transaction: another process (an earlier leader) may have fired
    // and moved on. The fire marks and the cursor are written in this transaction, beside the
    // instances, so a fire time is handled by exactly one leader.
    WEIR_ASSIGN_OR_RETURN(d, LoadDeployment(d.id));
    if (!d.active || *d.active != (*v)->version) continue;  // changed under us; next tick
    int created = 0;
    for (int64_t fire : fires) {
      if (d.cursor_ms && fire <= *d.cursor_ms) continue;
      WEIR_ASSIGN_OR_RETURN(bool first, store->MarkFire(d.id, fire, d.next_instance, now_ms));
      if (!first) continue;  // fired before (another process, or before a restart)
      WEIR_ASSIGN_OR_RETURN(InstanceRow r,
                            CreateInstance(d, "cron", fire, {}, "scheduler", false, now_ms));
      (void)r;
      ++created;
      metrics::WeirMetrics& m = metrics::Weir();
      m.scheduler_fires.With({}).Inc();
      m.scheduler_fire_lag.With({}).Observe(std::max<int64_t>(0, now_ms - fire) / 1000.0);
    }
    d.cursor_ms = std::max(now_ms, d.cursor_ms.value_or(now_ms));
    WEIR_RETURN_IF_ERROR(SaveDeploymentState(d, now_ms));
    WEIR_RETURN_IF_ERROR(txn->Commit());
    report.fires += created;
    if (created > 0) spdlog::info("scheduler: {}: {} cron instance(s)", d.id, created);
  }
  return Status::Ok();
}

}  // namespace weir::scheduler
