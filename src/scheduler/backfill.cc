// Backfill: instances for the past fire times of a workflow's schedule (see Scheduler::Backfill).
#include <spdlog/spdlog.h>

#include "cron/cron.h"
#include "scheduler/scheduler_internal.h"

namespace weir::scheduler {

namespace {
constexpr size_t kMaxBackfill = 1000;
constexpr int kMaxParallel = 100;
}  // namespace

Result<std::optional<int>> Scheduler::Impl::BackfillParallel(const std::string& id,
                                                             int64_t number) {
  return store->BackfillParallel(id, number);
}

Result<BackfillResult> Scheduler::Backfill(std::string_view deployed_id,
                                           const BackfillRequest& request) {
  if (request.from > request.to) {
    return InvalidArgument("backfill: --from is after --to");
  }
  if (request.parallel < 1 || request.parallel > kMaxParallel) {
    return InvalidArgument("backfill: parallel must be 1.." + std::to_string(kMaxParallel));
  }
  if (request.requested_by.size() > 255) {
    return InvalidArgument("requestedBy: at most 255 bytes");
  }
  Result<BackfillResult> out = [&]() -> Result<BackfillResult> {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const int64_t now = ToEpochMillis(impl_->clock.Now());
    WEIR_ASSIGN_OR_RETURN(auto txn, impl_->Begin());
    WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl_->LoadDeployment(deployed_id));
    if (!d.active) {
      return FailedPrecondition("workflow '" + d.id + "': no active version; activate one first");
    }
    WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedVersion> v,
                          impl_->LoadVersion(d.id, *d.active));
    if (!v->cron || v->tz == nullptr) {
      return FailedPrecondition("workflow '" + d.id +
                                "': the active version has no schedule, so there are no fire "
                                "times to backfill; use `weir workflow run` with EXECUTION_DATE");
    }
    // FiresBetween excludes its lower bound: start one millisecond earlier.
    WEIR_ASSIGN_OR_RETURN(std::vector<TimePoint> fires,
                          cron::FiresBetween(*v->cron, v->tz, request.from - Millis(1), request.to,
                                             kMaxBackfill + 1));
    if (fires.size() > kMaxBackfill) {
      return InvalidArgument("backfill: more than " + std::to_string(kMaxBackfill) +
                             " fire times in the range; backfill a shorter range at a time");
    }
    BackfillResult result;
    std::vector<InstanceRow> rows;
    for (TimePoint fire : fires) {
      const int64_t fire_ms = ToEpochMillis(fire);
      WEIR_ASSIGN_OR_RETURN(bool first,
                            impl_->store->MarkFire(d.id, fire_ms, d.next_instance, now));
      if (!first) {
        result.skipped.push_back(fire);
        continue;
      }
      WEIR_ASSIGN_OR_RETURN(InstanceRow r, impl_->CreateInstance(d, "backfill", fire_ms, {},
                                                                 request.requested_by, false, now));
      WEIR_RETURN_IF_ERROR(impl_->store->InsertBackfill(d.id, r.number, request.parallel));
      rows.push_back(std::move(r));
    }
    WEIR_RETURN_IF_ERROR(txn->Commit());
    for (const InstanceRow& r : rows) {
      WEIR_ASSIGN_OR_RETURN(Instance i, impl_->BuildInstance(r, false));
      result.created.push_back(std::move(i));
    }
    if (!rows.empty()) {
      spdlog::info("scheduler: {}: backfill of {} instance(s), {} fire time(s) already run", d.id,
                   rows.size(), result.skipped.size());
    }
    return result;
  }();
  if (out.ok()) impl_->Wake();
  return out;
}

}  // namespace weir::scheduler
