// Cross-workflow triggers (`after: [<workflow id>, ...]`): a deployed workflow starts an instance
// with an upstream's logical date once every workflow it lists (same environment, owner and
// repository) has an instance that SUCCEEDED for that date.
//
// State (table wf_after_pending, one row per downstream, logical date and upstream that
// succeeded) is written in the same transaction that marks the upstream instance SUCCEEDED, so
// it survives a crash at any point. When the last upstream succeeds, the downstream's
// (deployed id, logical date) is inserted into wf_fires with INSERT OR IGNORE in the transaction
// that creates the instance and deletes the pending rows: one instance per logical date, also
// after a restart of weir, a restart of an upstream instance or a second upstream run for the
// same date. A date already in wf_fires records nothing more.
//
// Timeout: when not every upstream succeeded within the downstream's `after_timeout` of the
// first upstream success, an instance is still created for the date (trigger "after"), at once
// FAILED with a message naming the upstream workflows that did not succeed; its steps are left
// PENDING, so `weir workflow restart` runs it anyway. Paused or undeployed downstream workflows
// record nothing (a paused workflow fires nothing).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "common/strings.h"
#include "common/time_format.h"
#include "scheduler/scheduler_internal.h"

namespace weir::scheduler {

namespace {

std::string Iso(int64_t ms) { return FormatIso8601(FromEpochMillis(ms)); }

std::string DurationText(int64_t seconds) {
  if (seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
  if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

}  // namespace

Result<bool> Scheduler::Impl::AfterFired(const std::string& id, int64_t logical_ms) {
  return store->HasFire(id, logical_ms);
}

Result<std::map<std::string, int64_t>> Scheduler::Impl::AfterSucceeded(const std::string& id,
                                                                       int64_t logical_ms) {
  return store->AfterSuccesses(id, logical_ms);
}

Status Scheduler::Impl::FireAfter(DeploymentRow& d, int64_t logical_ms, const std::string& failure,
                                  int64_t now_ms) {
  WEIR_ASSIGN_OR_RETURN(const bool first,
                        store->MarkFire(d.id, logical_ms, d.next_instance, now_ms));
  WEIR_RETURN_IF_ERROR(store->DeleteAfterWait(d.id, logical_ms));
  if (!first) return Status::Ok();  // this date has its instance already
  WEIR_ASSIGN_OR_RETURN(InstanceRow r,
                        CreateInstance(d, "after", logical_ms, {}, "scheduler", false, now_ms));
  if (!failure.empty() && !IsFinal(r.status)) {
    r.status = InstanceStatus::kFailed;
    r.message = failure;
    r.finished_ms = now_ms;
    WEIR_RETURN_IF_ERROR(SaveInstance(r, now_ms));
  }
  spdlog::info("scheduler: {}: instance {} after its upstream workflows (logical date {}){}", d.id,
               r.number, Iso(logical_ms), failure.empty() ? "" : ": " + failure);
  return Status::Ok();
}

Status Scheduler::Impl::RecordUpstreamSuccess(const InstanceRow& upstream, int64_t now_ms) {
  WEIR_ASSIGN_OR_RETURN(DeploymentRow up, LoadDeployment(upstream.deployed_id));
  std::vector<std::pair<std::string, int64_t>> candidates;  // deployed id, active version
  {
    WEIR_ASSIGN_OR_RETURN(std::vector<store::WfDeploymentRow> rows,
                          store->DeploymentsOfRepo(up.environment, up.owner, up.repo, up.id));
    for (const store::WfDeploymentRow& r : rows) {
      candidates.emplace_back(r.id, r.active_version.value_or(0));
    }
  }
  for (const auto& [id, version] : candidates) {
    Result<std::shared_ptr<const LoadedVersion>> v = LoadVersion(id, version);
    if (!v.ok()) {
      spdlog::error("scheduler: {}: {}", id, v.status().ToString());
      continue;
    }
    const std::vector<workflow::Upstream>& after = (*v)->wf.after;
    if (std::none_of(after.begin(), after.end(),
                     [&](const workflow::Upstream& u) { return u.id == up.workflow_id; })) {
      continue;
    }
    WEIR_ASSIGN_OR_RETURN(bool fired, AfterFired(id, upstream.trigger_ms));
    if (fired) continue;
    WEIR_RETURN_IF_ERROR(store->InsertAfterSuccess(id, upstream.trigger_ms, up.workflow_id, now_ms,
                                                   upstream.number));
    WEIR_ASSIGN_OR_RETURN(auto succeeded, AfterSucceeded(id, upstream.trigger_ms));
    const bool all = std::all_of(after.begin(), after.end(), [&](const workflow::Upstream& u) {
      return succeeded.count(u.id) > 0;
    });
    if (!all) continue;
    WEIR_ASSIGN_OR_RETURN(DeploymentRow d, LoadDeployment(id));
    WEIR_RETURN_IF_ERROR(FireAfter(d, upstream.trigger_ms, "", now_ms));
    Wake();
  }
  return Status::Ok();
}

Status Scheduler::Impl::ExpireAfterWaits(int64_t now_ms) {
  struct Waiting {
    std::string id;
    int64_t logical_ms = 0;
    int64_t first_ms = 0;
  };
  std::vector<Waiting> waiting;
  {
    WEIR_ASSIGN_OR_RETURN(std::vector<store::WfAfterWait> rows, store->AfterWaits());
    for (const store::WfAfterWait& w : rows) {
      waiting.push_back({w.deployed_id, w.logical_ms, w.first_succeeded_ms});
    }
  }
  // Decided without a write transaction (most passes change nothing); `mu` keeps this process's
  // other writers out and FireAfter's INSERT OR IGNORE keeps other processes from doubling it.
  for (const Waiting& w : waiting) {
    Result<DeploymentRow> d = LoadDeployment(w.id);
    if (!d.ok() && d.status().code() != StatusCode::kNotFound) return d.status();
    std::shared_ptr<const LoadedVersion> v;
    if (d.ok() && d->active) {
      WEIR_RETURN_IF_ERROR(LoadLifecycle(*d));
      Result<std::shared_ptr<const LoadedVersion>> loaded = LoadVersion(d->id, *d->active);
      if (loaded.ok() && !d->paused && !d->undeployed_ms) v = *loaded;
    }
    if (v == nullptr || v->wf.after.empty()) {
      // Gone, paused, undeployed or no longer triggered by other workflows: nothing to wait for.
      WEIR_ASSIGN_OR_RETURN(auto txn, BeginLeading());
      WEIR_RETURN_IF_ERROR(store->DeleteAfterWait(w.id, w.logical_ms));
      WEIR_RETURN_IF_ERROR(txn->Commit());
      continue;
    }
    WEIR_ASSIGN_OR_RETURN(auto succeeded, AfterSucceeded(w.id, w.logical_ms));
    std::vector<std::string> missing;
    for (const workflow::Upstream& u : v->wf.after) {
      if (!succeeded.count(u.id)) missing.push_back(u.id);
    }
    const int64_t deadline = w.first_ms + v->wf.after_timeout_seconds * 1000;
    std::string failure;
    if (!missing.empty()) {
      if (now_ms < deadline) continue;
      std::string names, done;
      for (const std::string& m : missing) names += (names.empty() ? "'" : ", '") + m + "'";
      for (const auto& [u, at] : succeeded) {
        done += (done.empty() ? "'" : ", '") + u + "' at " + Iso(at);
      }
      failure = "after: upstream workflow " + names + " did not succeed for logical date " +
                Iso(w.logical_ms) + " within after_timeout " +
                DurationText(v->wf.after_timeout_seconds) + " of the first upstream success (" +
                done + "); run `weir workflow restart` to run it anyway";
    }
    // else the active version's list shrank since: every upstream it names has succeeded.
    WEIR_ASSIGN_OR_RETURN(auto txn, BeginLeading());
    WEIR_ASSIGN_OR_RETURN(DeploymentRow fresh, LoadDeployment(w.id));
    WEIR_RETURN_IF_ERROR(FireAfter(fresh, w.logical_ms, failure, now_ms));
    WEIR_RETURN_IF_ERROR(txn->Commit());
  }
  return Status::Ok();
}

Status Scheduler::Impl::CheckUpstreamsDeployed(const LoadedVersion& v,
                                               const workflow::BundleManifest& m) {
  for (const workflow::Upstream& u : v.wf.after) {
    const std::string up = DeployedId(m.environment, m.owner, m.repo, u.id);
    Result<DeploymentRow> d = LoadDeployment(up);
    if (d.ok()) WEIR_RETURN_IF_ERROR(LoadLifecycle(*d));
    if (!d.ok() || !d->active || d->undeployed_ms) {
      if (d.ok() || d.status().code() == StatusCode::kNotFound) {
        return InvalidArgument("workflow definition: after: unknown workflow '" + u.id +
                               "': " + up +
                               " is not deployed (deploy it first; `weir project deploy` "
                               "deploys a project's upstream workflows first)");
      }
      return d.status();
    }
  }
  return Status::Ok();
}

}  // namespace weir::scheduler
