#include "api/search_routes.h"

#include <boost/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/json_codec.h"
#include "common/strings.h"
#include "scheduler/scheduler.h"
#include "workflow/bundle.h"
#include "workflow/validate.h"

namespace weir::api {
namespace {

constexpr int kDefaultSize = 10;
constexpr int kMaxSize = 100;
constexpr int kMaxPage = 1000000;

// Where the hit's own resource is read.
std::string HitHref(const HttpRequest& req, const store::SearchHit& h) {
  std::string path;
  switch (h.kind) {
    case store::SearchKind::kJob:
      path = "/api/v3/jobs/";
      break;
    case store::SearchKind::kApplication:
      path = "/api/v3/applications/";
      break;
    case store::SearchKind::kCommand:
      path = "/api/v3/commands/";
      break;
    case store::SearchKind::kCluster:
      path = "/api/v3/clusters/";
      break;
    case store::SearchKind::kWorkflow:
      path = "/api/weir/v1/workflows/";
      break;
  }
  return BaseUrl(req) + path + PercentEncode(h.id);
}

Result<int> BoundedInt(const HttpRequest& req, const char* name, int fallback, int min, int max) {
  auto v = req.Query(name);
  if (!v) return fallback;
  long long n = 0;
  if (!ParseInt64(*v, &n) || n < min || n > max) {
    return InvalidArgument(std::string(name) + ": must be an integer from " + std::to_string(min) +
                           " to " + std::to_string(max));
  }
  return static_cast<int>(n);
}

HttpResponse Search(store::SearchIndex& index, const HttpRequest& req) {
  for (const auto& [k, _] : req.query) {
    if (k != "q" && k != "kind" && k != "page" && k != "size") {
      return ErrorResponse(
          InvalidArgument("query parameter '" + k + "': unknown; allowed: q, kind, page, size"),
          req);
    }
  }
  auto q = req.Query("q");
  if (!q) return ErrorResponse(InvalidArgument("q: required (the words to search for)"), req);
  store::SearchQuery query;
  {
    auto terms = store::ParseSearchQuery(*q);
    if (!terms) return ErrorResponse(terms.status(), req);
    query.terms = std::move(*terms);
  }
  for (const std::string& value : req.QueryAll("kind")) {
    for (const std::string& part : Split(value, ',')) {
      std::string_view name = Trim(part);
      if (name.empty()) continue;
      auto kind = store::ParseSearchKind(name);
      if (!kind) return ErrorResponse(kind.status(), req);
      query.kinds.push_back(*kind);
    }
  }
  store::PageRequest page;
  auto number = BoundedInt(req, "page", 0, 0, kMaxPage);
  if (!number) return ErrorResponse(number.status(), req);
  auto size = BoundedInt(req, "size", kDefaultSize, 1, kMaxSize);
  if (!size) return ErrorResponse(size.status(), req);
  page.page = *number;
  page.size = *size;

  auto found = index.SearchText(query, page);
  if (!found) return ErrorResponse(found.status(), req);
  json::array hits;
  for (const store::SearchHit& h : found->items) {
    hits.push_back(json::object{
        {"kind", store::SearchKindName(h.kind)},
        {"id", h.id},
        {"name", h.name},
        {"status", h.status},
        {"score", h.score},
        {"href", HitHref(req, h)},
        {"highlights", json::object{{"name", h.name_highlight}, {"snippet", h.snippet}}}});
  }
  json::object p{{"size", page.size},
                 {"totalElements", found->total},
                 {"totalPages", (found->total + page.size - 1) / page.size},
                 {"number", page.page}};
  return JsonResponse(
      200, json::object{{"query", *q}, {"hits", std::move(hits)}, {"page", std::move(p)}});
}

void AddText(std::string* text, std::string_view part) {
  if (part.empty()) return;
  if (!text->empty()) *text += ' ';
  *text += part;
}

}  // namespace

void RegisterSearchRoutes(Router& router, std::shared_ptr<store::SearchIndex> index) {
  router.Add("GET", "/api/weir/v1/search", [index = std::move(index)](HttpRequest& req) {
    if (!index) {
      return ErrorResponse(Unimplemented("search: this server's store has no full-text search"),
                           req);
    }
    return Search(*index, req);
  });
}

Result<store::SearchDocument> WorkflowSearchDocument(scheduler::Scheduler& scheduler,
                                                     std::string_view deployed_id) {
  WEIR_ASSIGN_OR_RETURN(scheduler::DeployedWorkflow w, scheduler.Get(deployed_id));
  store::SearchDocument d;
  d.kind = store::SearchKind::kWorkflow;
  d.id = w.id;
  d.name = w.id;
  d.status = w.undeployed ? "UNDEPLOYED" : w.paused ? "PAUSED" : "ACTIVE";
  const int64_t version = w.active_version.value_or(w.latest_version);
  if (version <= 0) return d;
  WEIR_ASSIGN_OR_RETURN(scheduler::VersionInfo v, scheduler.GetVersion(w.id, version));
  WEIR_ASSIGN_OR_RETURN(workflow::BundleManifest m, workflow::ParseManifest(v.manifest_json));
  workflow::ValidateOptions options;
  options.file = m.workflow_file;
  for (const auto& [name, _] : w.environment_params) options.environment_params.insert(name);
  workflow::Validation checked = workflow::ValidateWorkflow(m.definition, options);
  if (!checked.workflow) {
    // A definition this build no longer reads still deserves to be found by its words.
    d.text = m.definition;
    return d;
  }
  const workflow::Workflow& wf = *checked.workflow;
  AddText(&d.text, wf.description);
  for (const workflow::JobTemplate& j : wf.jobs) {
    AddText(&d.text, j.id);
    AddText(&d.text, j.name);
    for (const auto& tag : j.command) AddText(&d.text, tag);
    AddText(&d.text, j.command_args);
    for (const auto& a : j.args) AddText(&d.text, a);
  }
  return d;
}

Status IndexWorkflow(scheduler::Scheduler& scheduler, store::SearchIndex& index,
                     std::string_view deployed_id) {
  WEIR_ASSIGN_OR_RETURN(store::SearchDocument d, WorkflowSearchDocument(scheduler, deployed_id));
  return index.PutSearchDocument(d);
}

Status IndexAllWorkflows(scheduler::Scheduler& scheduler, store::SearchIndex& index) {
  WEIR_ASSIGN_OR_RETURN(std::vector<scheduler::DeployedWorkflow> all, scheduler.List());
  std::vector<store::SearchDocument> docs;
  for (const auto& w : all) {
    WEIR_ASSIGN_OR_RETURN(store::SearchDocument d, WorkflowSearchDocument(scheduler, w.id));
    docs.push_back(std::move(d));
  }
  return index.ReplaceSearchDocuments(store::SearchKind::kWorkflow, docs);
}

}  // namespace weir::api
