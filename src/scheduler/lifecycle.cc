// Deployment lifecycle: pause, resume and undeploy (issue 10). The state is part of the
// deployment row (store/scheduler_store.h: paused, undeployed_ms).
#include <spdlog/spdlog.h>

#include "scheduler/scheduler_internal.h"

namespace weir::scheduler {

namespace {

constexpr size_t kMaxActorBytes = 256;

Status CheckLifecycleActor(std::string_view actor) {
  if (actor.size() > kMaxActorBytes) {
    return InvalidArgument("actor: at most " + std::to_string(kMaxActorBytes) + " bytes");
  }
  return Status::Ok();
}

}  // namespace

Status Scheduler::Impl::LoadLifecycle(DeploymentRow& d) {
  WEIR_ASSIGN_OR_RETURN(std::optional<store::WfDeploymentRow> row, store->GetDeployment(d.id));
  if (!row) return Status::Ok();
  d.paused = row->paused;
  d.undeployed_ms = row->undeployed_ms;
  return Status::Ok();
}

Status Scheduler::Impl::ClearUndeployed(std::string_view id) {
  return store->ClearUndeployed(std::string(id));
}

Status Scheduler::Impl::SetPaused(std::string_view id, bool paused, int64_t now_ms) {
  WEIR_RETURN_IF_ERROR(store->SetPaused(std::string(id), paused, now_ms, std::nullopt));
  next_fire_cache.erase(std::string(id));
  return Status::Ok();
}

namespace {

enum class Change { kPause = 0, kResume = 1, kUndeploy = 2 };

}  // namespace

Result<DeployedWorkflow> Scheduler::Impl::ChangeLifecycle(std::string_view id,
                                                          std::string_view actor, int which) {
  Impl& impl = *this;
  const Change change = static_cast<Change>(which);
  WEIR_RETURN_IF_ERROR(CheckLifecycleActor(actor));
  const int64_t now = ToEpochMillis(impl.clock.Now());
  WEIR_ASSIGN_OR_RETURN(auto txn, impl.Begin());
  WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl.LoadDeployment(id));
  WEIR_RETURN_IF_ERROR(impl.LoadLifecycle(d));
  switch (change) {
    case Change::kPause:
      WEIR_RETURN_IF_ERROR(impl.store->SetPaused(d.id, true, now, now));
      break;
    case Change::kResume:
      // Fire times missed while paused are skipped: the cursor moves to now.
      WEIR_RETURN_IF_ERROR(impl.store->SetPaused(d.id, false, now, now));
      break;
    case Change::kUndeploy:
      WEIR_RETURN_IF_ERROR(impl.store->SetUndeployed(d.id, now));
      break;
  }
  WEIR_RETURN_IF_ERROR(txn->Commit());
  impl.next_fire_cache.erase(d.id);
  static constexpr const char* kNames[] = {"paused", "resumed", "undeployed"};
  spdlog::info("scheduler: {} {} by {}", d.id, kNames[static_cast<int>(change)],
               actor.empty() ? "-" : std::string(actor));
  WEIR_ASSIGN_OR_RETURN(d, impl.LoadDeployment(id));
  return impl.BuildDeployed(d);
}

Result<DeployedWorkflow> Scheduler::Pause(std::string_view deployed_id, std::string_view actor) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->ChangeLifecycle(deployed_id, actor, 0);
}

Result<DeployedWorkflow> Scheduler::Resume(std::string_view deployed_id, std::string_view actor) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto r = impl_->ChangeLifecycle(deployed_id, actor, 1);
  impl_->Wake();
  return r;
}

Result<DeployedWorkflow> Scheduler::Undeploy(std::string_view deployed_id, std::string_view actor) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->ChangeLifecycle(deployed_id, actor, 2);
}

}  // namespace weir::scheduler
