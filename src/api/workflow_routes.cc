// The workflow API: thin translation between HTTP/JSON and scheduler::Scheduler.
#include "api/workflow_routes.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/job_routes.h"  // ParseMultipart
#include "api/search_routes.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "workflow/bundle.h"

namespace weir::api {
namespace {

namespace json = boost::json;
using scheduler::Scheduler;

constexpr std::string_view kBase = "/api/weir/v1/workflows";

HttpResponse JsonOf(int status, const json::value& v) {
  return HttpResponse::Json(status, json::serialize(v));
}

json::value OptTime(const std::optional<TimePoint>& t) {
  return t ? json::value(FormatIso8601(*t)) : json::value(nullptr);
}

json::object ParamsJson(const scheduler::Params& p) {
  json::object o;
  for (const auto& [k, v] : p) o[k] = v;
  return o;
}

json::object DeployedJson(const scheduler::DeployedWorkflow& w) {
  json::object o;
  o["id"] = w.id;
  o["environment"] = w.environment;
  o["owner"] = w.owner;
  o["repo"] = w.repo;
  o["workflowId"] = w.workflow_id;
  o["activeVersion"] = w.active_version ? json::value(*w.active_version) : json::value(nullptr);
  o["latestVersion"] = w.latest_version;
  o["environmentParams"] = ParamsJson(w.environment_params);
  o["catchup"] = scheduler::CatchUpName(w.catchup);
  o["schedule"] = w.schedule ? json::value(*w.schedule) : json::value(nullptr);
  json::array after;
  for (const std::string& a : w.after) after.emplace_back(a);
  o["after"] = std::move(after);
  o["timezone"] = w.timezone;
  o["runStrategy"] = w.run_strategy;
  o["maxConcurrency"] = w.max_concurrency;
  o["nextFire"] = OptTime(w.next_fire);
  o["paused"] = w.paused;
  o["undeployed"] = OptTime(w.undeployed);
  o["created"] = FormatIso8601(w.created);
  o["updated"] = FormatIso8601(w.updated);
  return o;
}

json::object VersionJson(const scheduler::VersionInfo& v) {
  json::object o;
  o["version"] = v.version;
  o["bundleId"] = v.bundle_id;
  o["deployer"] = v.deployer;
  o["dirty"] = v.dirty;
  o["branch"] = v.branch;
  o["commit"] = v.commit;
  o["created"] = FormatIso8601(v.created);
  o["active"] = v.active;
  if (!v.manifest_json.empty()) {
    boost::system::error_code ec;
    json::value m = json::parse(v.manifest_json, ec);
    o["manifest"] = ec ? json::value(v.manifest_json) : std::move(m);
  }
  return o;
}

json::object ActivationJson(const scheduler::Activation& a) {
  json::object o;
  o["version"] = a.version;
  o["previous"] = a.previous ? json::value(*a.previous) : json::value(nullptr);
  o["reason"] = a.reason;
  o["actor"] = a.actor;
  o["at"] = FormatIso8601(a.at);
  return o;
}

json::object StepJson(const scheduler::StepRun& s) {
  json::object o;
  o["id"] = s.id;
  o["status"] = scheduler::StepStatusName(s.status);
  json::array deps;
  for (const auto& d : s.depends_on) deps.emplace_back(d);
  o["dependsOn"] = std::move(deps);
  o["attempts"] = s.attempts;
  o["maxAttempts"] = s.max_attempts;
  o["jobId"] = s.job_id.empty() ? json::value(nullptr) : json::value(s.job_id);
  o["message"] = s.message;
  o["started"] = OptTime(s.started);
  o["finished"] = OptTime(s.finished);
  o["nextAttempt"] = OptTime(s.next_attempt);
  json::array assets;
  for (const auto& a : s.assets) assets.emplace_back(a);
  o["assets"] = std::move(assets);
  json::array history;
  for (const auto& h : s.history) {
    json::object a;
    a["jobId"] = h.job_id;
    a["run"] = h.run;
    a["attempt"] = h.attempt;
    a["status"] = h.status;
    a["message"] = h.message;
    a["created"] = FormatIso8601(h.created);
    a["finished"] = OptTime(h.finished);
    history.push_back(std::move(a));
  }
  o["history"] = std::move(history);
  return o;
}

json::object InstanceJson(const scheduler::Instance& i, bool with_steps) {
  json::object o;
  o["workflow"] = i.workflow;
  o["number"] = i.number;
  o["id"] = i.id;
  o["version"] = i.version;
  o["bundleId"] = i.bundle_id;
  o["status"] = scheduler::InstanceStatusName(i.status);
  o["message"] = i.message;
  o["trigger"] = i.trigger;
  o["triggerTime"] = FormatIso8601(i.trigger_time);
  o["requestedBy"] = i.requested_by;
  o["run"] = i.run;
  o["params"] = ParamsJson(i.params);
  json::array assets;
  for (const auto& a : i.assets) {
    json::object ao;
    ao["uuid"] = a.uuid;
    ao["sha256"] = a.sha256;
    ao["uri"] = a.uri;
    assets.push_back(std::move(ao));
  }
  o["assets"] = std::move(assets);
  o["created"] = FormatIso8601(i.created);
  o["started"] = OptTime(i.started);
  o["finished"] = OptTime(i.finished);
  if (with_steps) {
    json::array steps;
    for (const auto& s : i.steps) steps.push_back(StepJson(s));
    o["steps"] = std::move(steps);
  }
  return o;
}

std::string InstancePath(const scheduler::Instance& i) {
  return std::string(kBase) + "/" + PercentEncode(i.workflow) + "/instances/" +
         std::to_string(i.number);
}

// The body as a JSON object; an empty body is an empty object.
Result<json::object> BodyObject(const HttpRequest& req, std::string_view context) {
  if (Trim(req.body).empty()) return json::object();
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec) return InvalidArgument(std::string(context) + ": invalid JSON: " + ec.message());
  if (!v.is_object()) return InvalidArgument(std::string(context) + ": expected a JSON object");
  return std::move(v.as_object());
}

Status CheckKeys(const json::object& o, std::string_view context,
                 const std::set<std::string_view>& known) {
  for (const auto& [k, v] : o) {
    if (!known.contains(k)) {
      return InvalidArgument(
          std::string(context) + ": unknown field '" + std::string(k) +
          "'; allowed: " + Join(std::vector<std::string>(known.begin(), known.end()), ", "));
    }
  }
  return Status::Ok();
}

Result<std::string> OptString(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) return InvalidArgument(std::string(key) + ": must be a string");
  return std::string(v->as_string());
}

Result<std::optional<int64_t>> OptInt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64() && v->as_uint64() <= INT64_MAX) {
    return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()));
  }
  return InvalidArgument(std::string(key) + ": must be an integer");
}

Result<std::optional<scheduler::Params>> OptParams(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<scheduler::Params>();
  if (!v->is_object()) {
    return InvalidArgument(std::string(key) + ": must be an object of name: string value");
  }
  scheduler::Params p;
  for (const auto& [k, val] : v->as_object()) {
    if (val.is_string()) {
      p[std::string(k)] = std::string(val.as_string());
    } else if (val.is_int64() || val.is_uint64() || val.is_double() || val.is_bool()) {
      p[std::string(k)] = json::serialize(val);
    } else {
      return InvalidArgument(std::string(key) + " '" + std::string(k) +
                             "': must be a string (or a number or boolean)");
    }
  }
  return std::optional<scheduler::Params>(std::move(p));
}

// The body of activate and rollback: {"version": n, "actor": "..."}; `what` names the action in
// messages.
struct VersionBody {
  std::optional<int64_t> version;  // set when version_required
  std::string actor;
};
Result<VersionBody> ReadVersionBody(const HttpRequest& req, std::string_view what,
                                    bool version_required) {
  WEIR_ASSIGN_OR_RETURN(json::object body, BodyObject(req, what));
  WEIR_RETURN_IF_ERROR(CheckKeys(body, what, {"version", "actor"}));
  VersionBody out;
  WEIR_ASSIGN_OR_RETURN(out.version, OptInt(body, "version"));
  if (version_required && !out.version) {
    return InvalidArgument(std::string(what) + ": 'version' is required");
  }
  WEIR_ASSIGN_OR_RETURN(out.actor, OptString(body, "actor"));
  return out;
}

// Fills the deploy options from a JSON object (the body, or the multipart `options` part).
Status ReadDeployOptions(const json::object& o, scheduler::DeployRequest& r) {
  if (const json::value* a = o.if_contains("activate"); a != nullptr && !a->is_null()) {
    if (!a->is_bool()) return InvalidArgument("activate: must be true or false");
    r.activate = a->as_bool();
  }
  WEIR_ASSIGN_OR_RETURN(r.deployer, OptString(o, "deployer"));
  WEIR_ASSIGN_OR_RETURN(r.environment_params, OptParams(o, "environmentParams"));
  if (const json::value* p = o.if_contains("paused"); p != nullptr && !p->is_null()) {
    if (!p->is_bool()) return InvalidArgument("paused: must be true or false");
    r.paused = p->as_bool();
  }
  WEIR_ASSIGN_OR_RETURN(std::string catchup, OptString(o, "catchup"));
  if (!catchup.empty()) {
    WEIR_ASSIGN_OR_RETURN(scheduler::CatchUp c, scheduler::ParseCatchUp(catchup));
    r.catchup = c;
  }
  return Status::Ok();
}

Result<int64_t> PathNumber(const HttpRequest& req, const std::string& name) {
  long long n = 0;
  const std::string& text = req.Param(name);
  if (!ParseInt64(text, &n) || n < 1) {
    return InvalidArgument(name + " '" + text + "': must be a positive integer");
  }
  return static_cast<int64_t>(n);
}

class WorkflowRoutes {
 public:
  WorkflowRoutes(std::shared_ptr<Scheduler> s, std::shared_ptr<const AccessPolicy> access,
                 std::shared_ptr<store::SearchIndex> search)
      : s_(std::move(s)), policy_(access ? *access : AccessPolicy{}), search_(std::move(search)) {}

  HttpResponse Deploy(HttpRequest& req) {
    scheduler::DeployRequest r;
    const std::string content_type = ToLower(req.Header("content-type").value_or(""));
    if (StartsWith(Trim(content_type), "multipart/form-data")) {
      auto boundary = MultipartBoundary(req.Header("content-type").value_or(""));
      if (!boundary.ok()) return ErrorResponse(boundary.status(), req);
      auto parts = ParseMultipart(req.body, *boundary);
      if (!parts.ok()) return ErrorResponse(parts.status(), req);
      bool have_manifest = false;
      for (const MultipartPart& p : *parts) {
        if (p.name == "manifest") {
          r.manifest_json = std::string(p.data);
          have_manifest = true;
        } else if (p.name == "options") {
          boost::system::error_code ec;
          json::value v = json::parse(p.data, ec);
          if (ec || !v.is_object()) {
            return ErrorResponse(InvalidArgument("options part: expected a JSON object"), req);
          }
          Status s = CheckKeys(v.as_object(), "options part",
                               {"activate", "deployer", "environmentParams", "catchup", "paused"});
          if (s.ok()) s = ReadDeployOptions(v.as_object(), r);
          if (!s.ok()) return ErrorResponse(s, req);
        } else if (p.name == "file") {
          r.files.emplace_back(p.data);
        } else {
          return ErrorResponse(InvalidArgument("part '" + p.name +
                                               "': unknown; send manifest, options and file parts"),
                               req);
        }
      }
      if (!have_manifest) {
        return ErrorResponse(InvalidArgument("deploy: the 'manifest' part is required"), req);
      }
    } else {
      auto body = BodyObject(req, "deploy");
      if (!body.ok()) return ErrorResponse(body.status(), req);
      Status s =
          CheckKeys(*body, "deploy",
                    {"manifest", "activate", "deployer", "environmentParams", "catchup", "paused"});
      if (s.ok()) s = ReadDeployOptions(*body, r);
      if (!s.ok()) return ErrorResponse(s, req);
      const json::value* m = body->if_contains("manifest");
      if (m == nullptr || m->is_null()) {
        return ErrorResponse(InvalidArgument("deploy: 'manifest' is required"), req);
      }
      r.manifest_json = m->is_string() ? std::string(m->as_string()) : json::serialize(*m);
    }
    // The environment's deploy role (access.h) and the deployer, who is also the job user of the
    // workflow's steps: the principal, never the body's `deployer`.
    if (Authenticated(req)) {
      auto manifest = workflow::ParseManifest(r.manifest_json);
      if (!manifest.ok()) return ErrorResponse(manifest.status(), req);
      Status allowed = CheckEnvironmentWrite(req, policy_, manifest->environment, "deploy");
      if (!allowed.ok()) return ErrorResponse(allowed, req);
      r.deployer = Actor(req, r.deployer);
    }
    auto d = s_->Deploy(r);
    if (!d.ok()) return ErrorResponse(d.status(), req);
    Reindex(d->deployed_id);
    json::object o;
    o["deployedId"] = d->deployed_id;
    o["version"] = d->version;
    o["bundleId"] = d->bundle_id;
    o["created"] = d->created;
    o["active"] = d->active;
    auto w = s_->Get(d->deployed_id);
    if (w.ok()) o["workflow"] = DeployedJson(*w);
    HttpResponse resp = JsonOf(d->created ? 201 : 200, o);
    resp.SetHeader("Location", BaseUrl(req) + std::string(kBase) + "/" +
                                   PercentEncode(d->deployed_id) + "/versions/" +
                                   std::to_string(d->version));
    return resp;
  }

  HttpResponse List(HttpRequest& req) {
    auto list = s_->List();
    if (!list.ok()) return ErrorResponse(list.status(), req);
    json::array items;
    for (const auto& w : *list) items.push_back(DeployedJson(w));
    json::object o;
    o["workflows"] = std::move(items);
    return JsonOf(200, o);
  }

  HttpResponse Get(HttpRequest& req) {
    auto w = s_->Get(req.Param("id"));
    if (!w.ok()) return ErrorResponse(w.status(), req);
    return JsonOf(200, DeployedJson(*w));
  }

  HttpResponse Versions(HttpRequest& req) {
    auto versions = s_->Versions(req.Param("id"));
    if (!versions.ok()) return ErrorResponse(versions.status(), req);
    auto activations = s_->Activations(req.Param("id"));
    if (!activations.ok()) return ErrorResponse(activations.status(), req);
    json::array vs, as;
    for (const auto& v : *versions) vs.push_back(VersionJson(v));
    for (const auto& a : *activations) as.push_back(ActivationJson(a));
    json::object o;
    o["versions"] = std::move(vs);
    o["activations"] = std::move(as);
    return JsonOf(200, o);
  }

  HttpResponse Version(HttpRequest& req) {
    auto n = PathNumber(req, "version");
    if (!n.ok()) return ErrorResponse(n.status(), req);
    auto v = s_->GetVersion(req.Param("id"), *n);
    if (!v.ok()) return ErrorResponse(v.status(), req);
    return JsonOf(200, VersionJson(*v));
  }

  HttpResponse Activate(HttpRequest& req) {
    if (auto refused = Guard(req, "activate")) return *refused;
    auto body = ReadVersionBody(req, "activate", true);
    if (!body.ok()) return ErrorResponse(body.status(), req);
    auto w = s_->Activate(req.Param("id"), *body->version, Actor(req, body->actor));
    if (!w.ok()) return ErrorResponse(w.status(), req);
    Reindex(w->id);
    return JsonOf(200, DeployedJson(*w));
  }

  HttpResponse Rollback(HttpRequest& req) {
    if (auto refused = Guard(req, "rollback")) return *refused;
    auto body = ReadVersionBody(req, "rollback", false);
    if (!body.ok()) return ErrorResponse(body.status(), req);
    auto w = s_->Rollback(req.Param("id"), body->version, Actor(req, body->actor));
    if (!w.ok()) return ErrorResponse(w.status(), req);
    Reindex(w->id);
    return JsonOf(200, DeployedJson(*w));
  }

  // pause, resume, undeploy: body {"actor": "..."} (optional).
  HttpResponse Lifecycle(HttpRequest& req, const char* what) {
    if (auto refused = Guard(req, what)) return *refused;
    std::string actor;
    if (!req.body.empty()) {
      auto body = BodyObject(req, what);
      if (!body.ok()) return ErrorResponse(body.status(), req);
      if (Status s = CheckKeys(*body, what, {"actor"}); !s.ok()) return ErrorResponse(s, req);
      auto a = OptString(*body, "actor");
      if (!a.ok()) return ErrorResponse(a.status(), req);
      actor = *a;
    }
    const std::string id = req.Param("id");
    const std::string who = Actor(req, actor);
    std::string_view w(what);
    auto r = w == "pause"    ? s_->Pause(id, who)
             : w == "resume" ? s_->Resume(id, who)
                             : s_->Undeploy(id, who);
    if (!r.ok()) return ErrorResponse(r.status(), req);
    Reindex(r->id);
    return JsonOf(200, DeployedJson(*r));
  }
  HttpResponse Pause(HttpRequest& req) { return Lifecycle(req, "pause"); }
  HttpResponse Resume(HttpRequest& req) { return Lifecycle(req, "resume"); }
  HttpResponse Undeploy(HttpRequest& req) { return Lifecycle(req, "undeploy"); }

  HttpResponse Run(HttpRequest& req) {
    if (auto refused = Guard(req, "run")) return *refused;
    auto body = BodyObject(req, "run");
    if (!body.ok()) return ErrorResponse(body.status(), req);
    if (Status s = CheckKeys(*body, "run", {"params", "requestedBy"}); !s.ok()) {
      return ErrorResponse(s, req);
    }
    scheduler::RunRequest r;
    auto params = OptParams(*body, "params");
    if (!params.ok()) return ErrorResponse(params.status(), req);
    if (*params) r.params = std::move(**params);
    auto by = OptString(*body, "requestedBy");
    if (!by.ok()) return ErrorResponse(by.status(), req);
    r.requested_by = Actor(req, *by);
    auto i = s_->Run(req.Param("id"), r);
    if (!i.ok()) return ErrorResponse(i.status(), req);
    HttpResponse resp = JsonOf(201, InstanceJson(*i, true));
    resp.SetHeader("Location", BaseUrl(req) + InstancePath(*i));
    return resp;
  }

  // POST {id}/backfill {"from", "to", "parallel"?, "requestedBy"?} → 201
  // {"created": [instance...], "skipped": [fire time...]}
  HttpResponse Backfill(HttpRequest& req) {
    if (auto refused = Guard(req, "run")) return *refused;
    auto body = BodyObject(req, "backfill");
    if (!body.ok()) return ErrorResponse(body.status(), req);
    if (Status s = CheckKeys(*body, "backfill", {"from", "to", "parallel", "requestedBy"});
        !s.ok()) {
      return ErrorResponse(s, req);
    }
    scheduler::BackfillRequest r;
    for (auto [key, field] : {std::pair{"from", &r.from}, std::pair{"to", &r.to}}) {
      auto text = OptString(*body, key);
      if (!text.ok()) return ErrorResponse(text.status(), req);
      Result<TimePoint> t = ParseIso8601(*text);
      if (!t.ok()) {
        return ErrorResponse(InvalidArgument(std::string(key) + " '" + *text +
                                             "': use ISO-8601 such as 2026-01-31T00:00:00Z"),
                             req);
      }
      *field = *t;
    }
    auto parallel = OptInt(*body, "parallel");
    if (!parallel.ok()) return ErrorResponse(parallel.status(), req);
    if (*parallel) {
      if (**parallel < 1 || **parallel > 100) {
        return ErrorResponse(InvalidArgument("parallel: must be 1..100"), req);
      }
      r.parallel = static_cast<int>(**parallel);
    }
    auto by = OptString(*body, "requestedBy");
    if (!by.ok()) return ErrorResponse(by.status(), req);
    r.requested_by = Actor(req, *by);
    auto b = s_->Backfill(req.Param("id"), r);
    if (!b.ok()) return ErrorResponse(b.status(), req);
    json::object o;
    json::array created, skipped;
    for (const auto& i : b->created) created.push_back(InstanceJson(i, false));
    for (TimePoint t : b->skipped) skipped.push_back(json::value(FormatIso8601(t)));
    o["created"] = std::move(created);
    o["skipped"] = std::move(skipped);
    return JsonOf(201, std::move(o));
  }

  HttpResponse Instances(HttpRequest& req) {
    for (const auto& [k, v] : req.query) {
      if (k != "status" && k != "page" && k != "size") {
        return ErrorResponse(
            InvalidArgument("query parameter '" + k + "': unknown; allowed: page, size, status"),
            req);
      }
    }
    scheduler::InstanceQuery q;
    for (const std::string& value : req.QueryAll("status")) {
      for (const std::string& s : Split(value, ',')) {
        if (Trim(s).empty()) continue;
        auto st = scheduler::ParseInstanceStatus(ToUpperAscii(std::string(Trim(s))));
        if (!st.ok()) return ErrorResponse(st.status(), req);
        q.statuses.push_back(*st);
      }
    }
    struct Bound {
      const char* name;
      int64_t* field;
      long long min, max;
    };
    for (const Bound& b : {Bound{"page", &q.page, 0, 1000000}, Bound{"size", &q.size, 1, 1000}}) {
      if (auto v = req.Query(b.name)) {
        long long n = 0;
        if (!ParseInt64(*v, &n) || n < b.min || n > b.max) {
          return ErrorResponse(
              InvalidArgument(std::string(b.name) + ": must be an integer from " +
                              std::to_string(b.min) + " to " + std::to_string(b.max)),
              req);
        }
        *b.field = n;
      }
    }
    auto page = s_->Instances(req.Param("id"), q);
    if (!page.ok()) return ErrorResponse(page.status(), req);
    json::array items;
    for (const auto& i : page->instances) items.push_back(InstanceJson(i, false));
    json::object p;
    p["size"] = q.size;
    p["totalElements"] = page->total;
    p["totalPages"] = (page->total + q.size - 1) / q.size;
    p["number"] = q.page;
    json::object o;
    o["instances"] = std::move(items);
    o["page"] = std::move(p);
    return JsonOf(200, o);
  }

  HttpResponse Instance(HttpRequest& req) {
    auto n = PathNumber(req, "n");
    if (!n.ok()) return ErrorResponse(n.status(), req);
    auto i = s_->GetInstance(req.Param("id"), *n);
    if (!i.ok()) return ErrorResponse(i.status(), req);
    return JsonOf(200, InstanceJson(*i, true));
  }

  template <typename F>
  HttpResponse InstanceAction(HttpRequest& req, std::string_view what, F action) {
    if (auto refused = Guard(req, what)) return *refused;
    auto n = PathNumber(req, "n");
    if (!n.ok()) return ErrorResponse(n.status(), req);
    auto body = BodyObject(req, what);
    if (!body.ok()) return ErrorResponse(body.status(), req);
    if (Status s = CheckKeys(*body, what, {"actor"}); !s.ok()) return ErrorResponse(s, req);
    auto actor = OptString(*body, "actor");
    if (!actor.ok()) return ErrorResponse(actor.status(), req);
    auto i = action(req.Param("id"), *n, Actor(req, *actor));
    if (!i.ok()) return ErrorResponse(i.status(), req);
    return JsonOf(200, InstanceJson(*i, true));
  }

  HttpResponse Restart(HttpRequest& req) {
    return InstanceAction(req, "restart",
                          [&](const std::string& id, int64_t n, const std::string& actor) {
                            return s_->Restart(id, n, actor);
                          });
  }

  HttpResponse Stop(HttpRequest& req) {
    return InstanceAction(req, "stop",
                          [&](const std::string& id, int64_t n, const std::string& actor) {
                            return s_->Stop(id, n, actor);
                          });
  }

 private:
  // With a principal: the deployed workflow's environment must allow the write (access.h).
  // An unknown workflow answers 404 here.
  std::optional<HttpResponse> Guard(const HttpRequest& req, std::string_view what) {
    if (!Authenticated(req)) return std::nullopt;
    auto w = s_->Get(req.Param("id"));
    if (!w.ok()) return ErrorResponse(w.status(), req);
    Status allowed = CheckEnvironmentWrite(req, policy_, w->environment, what);
    if (!allowed.ok()) return ErrorResponse(allowed, req);
    return std::nullopt;
  }

  static std::string ToUpperAscii(std::string s) {
    for (char& c : s) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return s;
  }

  // The write is done whatever the index says: a document it misses is put back by
  // IndexAllWorkflows at the next start.
  void Reindex(const std::string& deployed_id) {
    if (!search_) return;
    Status s = IndexWorkflow(*s_, *search_, deployed_id);
    if (!s.ok()) spdlog::warn("search: workflow '{}' not indexed: {}", deployed_id, s.ToString());
  }

  std::shared_ptr<Scheduler> s_;
  const AccessPolicy policy_;
  std::shared_ptr<store::SearchIndex> search_;
};

}  // namespace

void RegisterWorkflowRoutes(Router& router, std::shared_ptr<scheduler::Scheduler> scheduler,
                            WorkflowRouteOptions options) {
  auto routes = std::make_shared<WorkflowRoutes>(std::move(scheduler), options.access,
                                                 std::move(options.search));
  const std::string base(kBase);
  auto bind = [routes](HttpResponse (WorkflowRoutes::*m)(HttpRequest&)) {
    return [routes, m](HttpRequest& r) { return ((*routes).*m)(r); };
  };
  RouteOptions deploy;
  deploy.max_body_bytes = options.max_deploy_bytes;
  router.Add("POST", base, bind(&WorkflowRoutes::Deploy), deploy);
  router.Add("GET", base, bind(&WorkflowRoutes::List));
  router.Add("GET", base + "/{id}", bind(&WorkflowRoutes::Get));
  router.Add("GET", base + "/{id}/versions", bind(&WorkflowRoutes::Versions));
  router.Add("GET", base + "/{id}/versions/{version}", bind(&WorkflowRoutes::Version));
  router.Add("POST", base + "/{id}/activate", bind(&WorkflowRoutes::Activate));
  router.Add("POST", base + "/{id}/rollback", bind(&WorkflowRoutes::Rollback));
  router.Add("POST", base + "/{id}/run", bind(&WorkflowRoutes::Run));
  router.Add("POST", base + "/{id}/backfill", bind(&WorkflowRoutes::Backfill));

  router.Add("POST", base + "/{id}/pause", bind(&WorkflowRoutes::Pause));
  router.Add("POST", base + "/{id}/resume", bind(&WorkflowRoutes::Resume));
  router.Add("POST", base + "/{id}/undeploy", bind(&WorkflowRoutes::Undeploy));
  router.Add("GET", base + "/{id}/instances", bind(&WorkflowRoutes::Instances));
  router.Add("GET", base + "/{id}/instances/{n}", bind(&WorkflowRoutes::Instance));
  router.Add("POST", base + "/{id}/instances/{n}/restart", bind(&WorkflowRoutes::Restart));
  router.Add("POST", base + "/{id}/instances/{n}/stop", bind(&WorkflowRoutes::Stop));
}

}  // namespace weir::api
