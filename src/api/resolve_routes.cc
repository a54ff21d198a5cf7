#include "api/resolve_routes.h"

#include <boost/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/job_codec.h"
#include "api/json_codec.h"
#include "resolve/resolve.h"

namespace weir::api {
namespace {

// Every entity of a kind, page by page.
Result<std::vector<model::ConfigEntity>> Everything(store::ConfigStore& config, model::Kind kind) {
  std::vector<model::ConfigEntity> out;
  store::PageRequest page;
  page.size = 1000;
  for (page.page = 0;; ++page.page) {
    WEIR_ASSIGN_OR_RETURN(auto found, config.Search(kind, store::ConfigFilter{}, page));
    for (auto& e : found.items) out.push_back(std::move(e));
    if (found.items.empty() || static_cast<int64_t>(out.size()) >= found.total) break;
  }
  return out;
}

Result<resolve::Inventory> Snapshot(store::ConfigStore& config) {
  resolve::Inventory inv;
  WEIR_ASSIGN_OR_RETURN(inv.clusters, Everything(config, model::Kind::kCluster));
  WEIR_ASSIGN_OR_RETURN(inv.commands, Everything(config, model::Kind::kCommand));
  for (const model::ConfigEntity& c : inv.clusters) {
    auto linked = config.GetClusterCommands(c.id);
    if (linked) inv.cluster_commands[c.id] = std::move(*linked);
  }
  return inv;
}

json::value Named(const std::string& id, const std::string& name) {
  return json::object{{"id", id}, {"name", name}};
}

int SubmitStatus(const service::DryRun& d) {
  if (d.outcome == "ACCEPTED" || d.outcome == "QUEUED") return 202;
  return HttpStatusFor(d.refusal);
}

class ResolveRoute {
 public:
  ResolveRoute(service::JobService& service, std::shared_ptr<store::ConfigStore> config,
               std::shared_ptr<const AccessPolicy> access)
      : service_(service), config_(std::move(config)), policy_(access ? *access : AccessPolicy{}) {}

  HttpResponse Handle(HttpRequest& req) {
    auto parsed = ParseJobRequest(req.body);
    if (!parsed) return ErrorResponse(parsed.status(), req);
    model::JobRequest request = std::move(*parsed);
    auto user = JobUser(req, policy_, request.user);
    if (!user) return ErrorResponse(user.status(), req);
    request.user = std::move(*user);

    auto dry = service_.DryRunSubmit(request);
    if (!dry) return ErrorResponse(dry.status(), req);
    auto inventory = Snapshot(*config_);
    if (!inventory) return ErrorResponse(inventory.status(), req);
    const resolve::Consideration considered = resolve::Consider(request, *inventory);

    const std::optional<resolve::Resolution>& r = dry->resolution;
    json::object o;
    o["outcome"] = dry->outcome;
    o["submitStatus"] = SubmitStatus(*dry);
    o["message"] = dry->refusal.ok() ? "" : dry->refusal.message();
    o["cluster"] = r ? Named(r->cluster.id, r->cluster.name) : json::value(nullptr);
    o["command"] = r ? Named(r->command.id, r->command.name) : json::value(nullptr);
    json::array apps;
    if (r) {
      for (const auto& id : r->application_ids) apps.push_back(json::string(id));
    }
    o["applications"] = std::move(apps);
    o["decidedBy"] = r ? r->picked_by : "";
    o["candidates"] = r ? static_cast<int64_t>(r->candidates) : 0;
    o["memory"] = json::object{{"mb", dry->memory_mb},
                               {"source", dry->memory_source},
                               {"maxJobMemoryMb", dry->max_job_memory_mb}};
    o["limits"] = json::object{{"userActiveJobs", dry->user_active_jobs},
                               {"maxActiveJobsPerUser", dry->max_active_jobs_per_user},
                               {"usedMemoryMb", dry->used_memory_mb},
                               {"capacityMb", dry->capacity_mb},
                               {"queuedJobs", static_cast<int64_t>(dry->queued_jobs)}};
    json::array criteria;
    for (const resolve::CriterionConsidered& c : considered.cluster_criteria) {
      json::array clusters;
      for (const resolve::ClusterConsidered& k : c.clusters) {
        json::object e{{"id", k.cluster.id},
                       {"name", k.cluster.name},
                       {"status", k.cluster.status},
                       {"candidate", k.excluded.empty()},
                       {"chosen", r.has_value() && r->cluster.id == k.cluster.id},
                       {"excluded", json::array(k.excluded.begin(), k.excluded.end())}};
        if (k.command) e["command"] = Named(k.command->id, k.command->name);
        clusters.push_back(std::move(e));
      }
      criteria.push_back(json::object{{"criterion", c.criterion},
                                      {"tags", json::array(c.tags.begin(), c.tags.end())},
                                      {"tried", c.tried},
                                      {"clusters", std::move(clusters)}});
    }
    o["clusterCriterias"] = std::move(criteria);
    json::array commands;
    for (const resolve::CommandConsidered& c : considered.commands) {
      commands.push_back(
          json::object{{"id", c.command.id},
                       {"name", c.command.name},
                       {"status", c.command.status},
                       {"candidate", c.candidate},
                       {"chosen", r.has_value() && r->command.id == c.command.id},
                       {"excluded", json::array(c.excluded.begin(), c.excluded.end())}});
    }
    o["commands"] = std::move(commands);
    if (dry->outcome == "FAILED") {
      resolve::NoMatchExplanation x = resolve::ExplainNoMatch(request, *inventory);
      o["reasons"] = json::array(x.reasons.begin(), x.reasons.end());
    }
    return JsonResponse(200, o);
  }

 private:
  service::JobService& service_;
  std::shared_ptr<store::ConfigStore> config_;
  const AccessPolicy policy_;
};

}  // namespace

void RegisterResolveRoutes(Router& router, service::JobService& service,
                           std::shared_ptr<store::ConfigStore> config,
                           std::shared_ptr<const AccessPolicy> access) {
  auto route = std::make_shared<ResolveRoute>(service, std::move(config), std::move(access));
  RouteOptions options;
  options.max_body_bytes = 8ULL << 20;  // as a submission's JSON document
  router.Add(
      "POST", "/api/weir/v1/jobs/resolve", [route](HttpRequest& req) { return route->Handle(req); },
      options);
}

}  // namespace weir::api
