// Deployment lifecycle: pause, resume and undeploy (issue 10). The state lives in two columns
// of wf_deployments added by UpgradeSchema, so databases made before them keep working.
#include <spdlog/spdlog.h>

#include "scheduler/scheduler_internal.h"

namespace weir::scheduler {

namespace sql = store::sqlite;

namespace {

constexpr size_t kMaxActorBytes = 256;

Status CheckLifecycleActor(std::string_view actor) {
  if (actor.size() > kMaxActorBytes) {
    return InvalidArgument("actor: at most " + std::to_string(kMaxActorBytes) + " bytes");
  }
  return Status::Ok();
}

}  // namespace

Status Scheduler::Impl::UpgradeSchema() {
  bool has_paused = false, has_undeployed = false;
  {
    WEIR_ASSIGN_OR_RETURN(sql::Stmt s, db->Prepare("PRAGMA table_info(wf_deployments)"));
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      const std::string name = s.String(1);
      if (name == "paused") has_paused = true;
      if (name == "undeployed_ms") has_undeployed = true;
    }
  }
  if (!has_paused) {
    WEIR_RETURN_IF_ERROR(
        db->Exec("ALTER TABLE wf_deployments ADD COLUMN paused INTEGER NOT NULL DEFAULT 0"));
  }
  if (!has_undeployed) {
    WEIR_RETURN_IF_ERROR(db->Exec("ALTER TABLE wf_deployments ADD COLUMN undeployed_ms INTEGER"));
  }
  return Status::Ok();
}

Status Scheduler::Impl::LoadLifecycle(DeploymentRow& d) {
  WEIR_ASSIGN_OR_RETURN(
      sql::Stmt s,
      db->Prepare("SELECT paused, undeployed_ms FROM wf_deployments WHERE deployed_id = ?"));
  s.Bind(d.id);
  WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::Ok();
  d.paused = s.Int(0) != 0;
  d.undeployed_ms = s.OptInt(1);
  return Status::Ok();
}

Status Scheduler::Impl::ClearUndeployed(std::string_view id) {
  WEIR_ASSIGN_OR_RETURN(
      sql::Stmt s,
      db->Prepare("UPDATE wf_deployments SET undeployed_ms = NULL WHERE deployed_id = ? AND "
                  "undeployed_ms IS NOT NULL"));
  s.Bind(id);
  return s.Run();
}

Status Scheduler::Impl::SetPaused(std::string_view id, bool paused, int64_t now_ms) {
  WEIR_ASSIGN_OR_RETURN(
      sql::Stmt s,
      db->Prepare(paused ? "UPDATE wf_deployments SET paused = 1 WHERE deployed_id = ?2 AND ?1 = ?1"
                         : "UPDATE wf_deployments SET paused = 0, cursor_ms = MAX(COALESCE("
                           "cursor_ms, 0), ?1) WHERE deployed_id = ?2 AND paused = 1"));
  s.Bind(now_ms).Bind(id);
  WEIR_RETURN_IF_ERROR(s.Run());
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
  WEIR_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::Begin(*impl.db, true));
  WEIR_ASSIGN_OR_RETURN(DeploymentRow d, impl.LoadDeployment(id));
  WEIR_RETURN_IF_ERROR(impl.LoadLifecycle(d));
  std::string sql_text;
  switch (change) {
    case Change::kPause:
      sql_text = "UPDATE wf_deployments SET paused = 1, updated_ms = ? WHERE deployed_id = ?";
      break;
    case Change::kResume:
      // Fire times missed while paused are skipped: the cursor moves to now.
      sql_text =
          "UPDATE wf_deployments SET paused = 0, cursor_ms = MAX(COALESCE(cursor_ms, 0), ?1), "
          "updated_ms = ?1 WHERE deployed_id = ?2 AND paused = 1";
      break;
    case Change::kUndeploy:
      sql_text =
          "UPDATE wf_deployments SET undeployed_ms = COALESCE(undeployed_ms, ?1), updated_ms = "
          "?1 WHERE deployed_id = ?2";
      break;
  }
  WEIR_ASSIGN_OR_RETURN(sql::Stmt s, impl.db->Prepare(sql_text));
  s.Bind(now).Bind(d.id);
  WEIR_RETURN_IF_ERROR(s.Run());
  WEIR_RETURN_IF_ERROR(txn.Commit());
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
