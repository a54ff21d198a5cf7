#include "api/config_routes.h"

#include <algorithm>
#include <mutex>

#include "api/json_codec.h"
#include "common/ids.h"
#include "common/strings.h"

namespace weir::api {

namespace {

using model::ConfigEntity;
using model::Kind;

constexpr uint64_t kMaxBody = 1 << 20;

struct Ctx {
  std::shared_ptr<store::ConfigStore> store;
  Clock* clock;
  // Serialises read-modify-write sequences (the store has no compare-and-set).
  std::mutex write_mu;
};

using ResultHandler = std::function<Result<HttpResponse>(HttpRequest&)>;

// Turns a handler returning Result into one answering the error document.
Handler Wrap(ResultHandler fn) {
  return [fn = std::move(fn)](HttpRequest& req) -> HttpResponse {
    Result<HttpResponse> r = fn(req);
    if (!r) return ErrorResponse(r.status(), req);
    return std::move(*r);
  };
}

std::string Prefix(Kind kind) { return "/api/v3/" + std::string(model::KindCollection(kind)); }

std::string ListName(Kind kind) { return std::string(model::KindName(kind)) + "List"; }

int DefaultPageSize(Kind kind) { return kind == Kind::kApplication ? 10 : 64; }

std::vector<std::string> FilterNames(Kind kind) {
  switch (kind) {
    case Kind::kApplication: return {"name", "user", "status", "tag", "type"};
    case Kind::kCommand: return {"name", "user", "status", "tag"};
    case Kind::kCluster: return {"name", "status", "tag", "minUpdateTime", "maxUpdateTime"};
  }
  return {};
}

// Repeated `status` query values, each checked against the kind's statuses.
Result<std::vector<std::string>> StatusFilter(const HttpRequest& req, Kind kind) {
  std::vector<std::string> out;
  for (const std::string& s : req.QueryAll("status")) {
    for (const std::string& part : Split(s, ',')) {
      std::string v(Trim(part));
      if (v.empty()) continue;
      if (!model::IsValidStatus(kind, v)) {
        return InvalidArgument("status: '" + (IsValidUtf8(v) ? v.substr(0, 64) : "?") +
                               "' is not one of " + Join(model::ValidStatuses(kind), ", "));
      }
      out.push_back(v);
    }
  }
  return out;
}

HttpResponse NoContent() { return HttpResponse::Empty(204); }

// Strings of a request body that must be a JSON array of strings.
Result<std::vector<std::string>> BodyStrings(const HttpRequest& req, std::string_view what) {
  WEIR_ASSIGN_OR_RETURN(json::value v, ParseJsonBody(req));
  if (!v.is_array()) return InvalidArgument("request body: must be a JSON array of " + std::string(what));
  return StringArray(v, "request body");
}

// Appends the values of `add` not yet in `list`, keeping order.
void AppendUnique(std::vector<std::string>& list, const std::vector<std::string>& add) {
  for (const auto& a : add) {
    if (std::find(list.begin(), list.end(), a) == list.end()) list.push_back(a);
  }
}

std::vector<std::string> Dedup(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  AppendUnique(out, in);
  return out;
}

json::array StringsJson(const std::vector<std::string>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(json::string(s));
  return a;
}

json::array ResourceList(const std::vector<ConfigEntity>& items, const std::string& base) {
  json::array a;
  a.reserve(items.size());
  for (const auto& e : items) a.push_back(ConfigToJson(e, base, LinkStyle::kList));
  return a;
}

// Saves `e` after a change: implicit tags, constraints, `updated`.
Status SaveChanged(Ctx& ctx, ConfigEntity& e) {
  model::NormalizeTags(e);
  WEIR_RETURN_IF_ERROR(ValidateConfig(e));
  e.updated = ctx.clock->Now();
  return ctx.store->Update(e);
}

// ---- resources ----

void AddResourceRoutes(Router& r, const std::shared_ptr<Ctx>& ctx, Kind kind) {
  const std::string prefix = Prefix(kind);
  const RouteOptions opts{kMaxBody, false};

  // Create.
  r.Add("POST", prefix, Wrap([ctx, kind](HttpRequest& req) -> Result<HttpResponse> {
          WEIR_ASSIGN_OR_RETURN(json::value v, ParseJsonBody(req));
          WEIR_ASSIGN_OR_RETURN(ConfigEntity e, ConfigFromJson(kind, v));
          if (e.id.empty()) e.id = NewUuid();
          if (Status id_ok = ValidateId("id", e.id); !id_ok.ok()) {
            return FailedPrecondition(id_ok.message() + "; or leave it out to get a UUID");
          }
          e.created = e.updated = ctx->clock->Now();
          model::NormalizeTags(e);
          WEIR_RETURN_IF_ERROR(ValidateConfig(e));
          WEIR_RETURN_IF_ERROR(ctx->store->Create(e));
          HttpResponse resp = HttpResponse::Empty(201);
          resp.SetHeader("Location", ResourceUrl(BaseUrl(req), model::KindCollection(kind), e.id));
          return resp;
        }), opts);

  // Search.
  r.Add("GET", prefix, Wrap([ctx, kind](HttpRequest& req) -> Result<HttpResponse> {
          store::ConfigFilter f;
          auto text = [&](const char* name) -> std::optional<std::string> {
            auto v = req.Query(name);
            if (!v || v->empty()) return std::nullopt;
            return v;
          };
          f.name = text("name");
          if (kind != Kind::kCluster) f.user = text("user");
          if (kind == Kind::kApplication) f.type = text("type");
          WEIR_ASSIGN_OR_RETURN(f.statuses, StatusFilter(req, kind));
          for (auto& t : req.QueryAll("tag")) {
            if (!t.empty()) f.tags.push_back(t);
          }
          if (kind == Kind::kCluster) {
            WEIR_ASSIGN_OR_RETURN(f.min_updated, QueryEpochMillis(req, "minUpdateTime"));
            WEIR_ASSIGN_OR_RETURN(f.max_updated, QueryEpochMillis(req, "maxUpdateTime"));
          }
          WEIR_ASSIGN_OR_RETURN(PageQuery page,
                                ParsePageQuery(req, DefaultPageSize(kind), "updated,desc"));
          WEIR_ASSIGN_OR_RETURN(auto found, ctx->store->Search(kind, f, page.request));
          const std::string base = BaseUrl(req);
          json::array items;
          items.reserve(found.items.size());
          for (const auto& e : found.items) items.push_back(ConfigToJson(e, base, LinkStyle::kHal));
          return JsonResponse(200, SearchPage(req, ListName(kind), std::move(items), found.total,
                                              page, FilterNames(kind)),
                              kHalJson);
        }), opts);

  // Delete all.
  r.Add("DELETE", prefix, Wrap([ctx, kind](HttpRequest&) -> Result<HttpResponse> {
          std::lock_guard<std::mutex> lock(ctx->write_mu);
          WEIR_RETURN_IF_ERROR(ctx->store->DeleteAll(kind));
          return NoContent();
        }), opts);

  const std::string one = prefix + "/{id}";

  r.Add("GET", one, Wrap([ctx, kind](HttpRequest& req) -> Result<HttpResponse> {
          WEIR_ASSIGN_OR_RETURN(ConfigEntity e, ctx->store->Get(kind, req.Param("id")));
          return JsonResponse(200, ConfigToJson(e, BaseUrl(req), LinkStyle::kHal), kHalJson);
        }), opts);

  // Replace.
  r.Add("PUT", one, Wrap([ctx, kind](HttpRequest& req) -> Result<HttpResponse> {
          const std::string& id = req.Param("id");
          WEIR_ASSIGN_OR_RETURN(json::value v, ParseJsonBody(req));
          WEIR_ASSIGN_OR_RETURN(ConfigEntity e, ConfigFromJson(kind, v));
          if (!e.id.empty() && e.id != id) {
            return FailedPrecondition("id: the body's id does not match the id in the path '" +
                                      id + "'; leave it out or send the same id");
          }
          std::lock_guard<std::mutex> lock(ctx->write_mu);
          WEIR_ASSIGN_OR_RETURN(ConfigEntity old, ctx->store->Get(kind, id));
          e.id = old.id;
          e.created = old.created;
          WEIR_RETURN_IF_ERROR(SaveChanged(*ctx, e));
          return NoContent();
        }), opts);

  // JSON Patch on the resource's JSON form.
  r.Add("PATCH", one, Wrap([ctx, kind](HttpRequest& req) -> Result<HttpResponse> {
          const std::string& id = req.Param("id");
          WEIR_ASSIGN_OR_RETURN(json::value patch, ParseJsonBody(req));
          std::lock_guard<std::mutex> lock(ctx->write_mu);
          WEIR_ASSIGN_OR_RETURN(ConfigEntity old, ctx->store->Get(kind, id));
          json::value doc = ConfigToJson(old);
          WEIR_ASSIGN_OR_RETURN(json::value patched, ApplyJsonPatch(doc, patch));
          if (!patched.is_object()) {
            return FailedPrecondition("patch: the result must stay a JSON object");
          }
          const json::object& po = patched.get_object();
          auto same = [&](const char* field) {
            const json::value* a = po.if_contains(field);
            const json::value* b = doc.get_object().if_contains(field);
            return a && b && *a == *b;
          };
          if (!same("id")) return FailedPrecondition("id: cannot be changed by a patch");
          if (!same("created")) return FailedPrecondition("created: cannot be changed by a patch");
          WEIR_ASSIGN_OR_RETURN(ConfigEntity e, ConfigFromJson(kind, patched));
          e.id = old.id;
          e.created = old.created;
          WEIR_RETURN_IF_ERROR(SaveChanged(*ctx, e));
          return NoContent();
        }), opts);

  r.Add("DELETE", one, Wrap([ctx, kind](HttpRequest& req) -> Result<HttpResponse> {
          std::lock_guard<std::mutex> lock(ctx->write_mu);
          WEIR_RETURN_IF_ERROR(ctx->store->Delete(kind, req.Param("id")));
          return NoContent();
        }), opts);
}

// ---- configs, dependencies, tags ----

enum class Field { kConfigs, kDependencies, kTags };

std::vector<std::string>& FieldOf(ConfigEntity& e, Field f) {
  switch (f) {
    case Field::kConfigs: return e.configs;
    case Field::kDependencies: return e.dependencies;
    case Field::kTags: return e.tags;
  }
  return e.tags;
}

void AddCollectionRoutes(Router& r, const std::shared_ptr<Ctx>& ctx, Kind kind, Field field,
                         const std::string& name) {
  const std::string path = Prefix(kind) + "/{id}/" + name;
  const RouteOptions opts{kMaxBody, false};

  r.Add("GET", path, Wrap([ctx, kind, field](HttpRequest& req) -> Result<HttpResponse> {
          WEIR_ASSIGN_OR_RETURN(ConfigEntity e, ctx->store->Get(kind, req.Param("id")));
          return JsonResponse(200, StringsJson(FieldOf(e, field)), kJsonType);
        }), opts);

  // POST adds (a set: duplicates ignored), PUT replaces.
  for (const char* method : {"POST", "PUT"}) {
    const bool replace = std::string_view(method) == "PUT";
    r.Add(method, path, Wrap([ctx, kind, field, name, replace](HttpRequest& req)
                                 -> Result<HttpResponse> {
            WEIR_ASSIGN_OR_RETURN(auto values, BodyStrings(req, name));
            std::lock_guard<std::mutex> lock(ctx->write_mu);
            WEIR_ASSIGN_OR_RETURN(ConfigEntity e, ctx->store->Get(kind, req.Param("id")));
            std::vector<std::string>& list = FieldOf(e, field);
            if (replace) {
              list = Dedup(values);
            } else {
              AppendUnique(list, values);
            }
            WEIR_RETURN_IF_ERROR(SaveChanged(*ctx, e));
            return NoContent();
          }), opts);
  }

  r.Add("DELETE", path, Wrap([ctx, kind, field](HttpRequest& req) -> Result<HttpResponse> {
          std::lock_guard<std::mutex> lock(ctx->write_mu);
          WEIR_ASSIGN_OR_RETURN(ConfigEntity e, ctx->store->Get(kind, req.Param("id")));
          FieldOf(e, field).clear();  // implicit tags come back in SaveChanged
          WEIR_RETURN_IF_ERROR(SaveChanged(*ctx, e));
          return NoContent();
        }), opts);

  if (field == Field::kTags) {
    // The tag may contain '/', encoded (%2F) or not.
    r.Add("DELETE", path + "/{tag*}", Wrap([ctx, kind](HttpRequest& req) -> Result<HttpResponse> {
            const std::string& tag = req.Param("tag");
            std::lock_guard<std::mutex> lock(ctx->write_mu);
            WEIR_ASSIGN_OR_RETURN(ConfigEntity e, ctx->store->Get(kind, req.Param("id")));
            if (tag.empty()) {
              e.tags.clear();  // "DELETE .../tags/": the collection, as without the slash
            } else {
              e.tags.erase(std::remove(e.tags.begin(), e.tags.end(), tag), e.tags.end());
            }
            WEIR_RETURN_IF_ERROR(SaveChanged(*ctx, e));
            return NoContent();
          }), opts);
  }
}

// ---- ordered links: a command's applications, a cluster's commands ----

struct LinkSpec {
  Kind owner;
  Kind member;
  std::string name;  // "applications" or "commands"
  bool status_filter;  // GET accepts ?status= (a cluster's commands)
};

Result<std::vector<std::string>> GetLinks(Ctx& ctx, const LinkSpec& spec, const std::string& id) {
  if (spec.owner == Kind::kCommand) return ctx.store->GetCommandApplications(id);
  return ctx.store->GetClusterCommands(id);
}

Status SetLinks(Ctx& ctx, const LinkSpec& spec, const std::string& id,
                const std::vector<std::string>& ids) {
  if (spec.owner == Kind::kCommand) return ctx.store->SetCommandApplications(id, ids);
  return ctx.store->SetClusterCommands(id, ids);
}

// The linked ids must name existing resources: 412 otherwise (before the store is asked, so
// that the message names the id).
Status CheckMembers(Ctx& ctx, const LinkSpec& spec, const std::vector<std::string>& ids) {
  for (const auto& m : ids) {
    auto got = ctx.store->Get(spec.member, m);
    if (!got) {
      if (got.status().code() == StatusCode::kNotFound) {
        return FailedPrecondition(std::string(model::KindName(spec.member)) + " '" +
                                  (IsValidUtf8(m) ? m.substr(0, 255) : "?") +
                                  "': does not exist; create it first");
      }
      return got.status();
    }
  }
  return Status::Ok();
}

void AddLinkRoutes(Router& r, const std::shared_ptr<Ctx>& ctx, const LinkSpec& spec) {
  const std::string path = Prefix(spec.owner) + "/{id}/" + spec.name;
  const RouteOptions opts{kMaxBody, false};

  r.Add("GET", path, Wrap([ctx, spec](HttpRequest& req) -> Result<HttpResponse> {
          const std::string& id = req.Param("id");
          std::vector<std::string> statuses;
          if (spec.status_filter) {
            WEIR_ASSIGN_OR_RETURN(statuses, StatusFilter(req, spec.member));
          }
          WEIR_ASSIGN_OR_RETURN(ConfigEntity owner, ctx->store->Get(spec.owner, id));
          (void)owner;
          WEIR_ASSIGN_OR_RETURN(auto ids, GetLinks(*ctx, spec, id));
          std::vector<ConfigEntity> items;
          for (const auto& m : ids) {
            auto e = ctx->store->Get(spec.member, m);
            if (!e) {
              if (e.status().code() == StatusCode::kNotFound) continue;  // deleted meanwhile
              return e.status();
            }
            if (!statuses.empty() &&
                std::find(statuses.begin(), statuses.end(), e->status) == statuses.end()) {
              continue;
            }
            items.push_back(std::move(*e));
          }
          return JsonResponse(200, ResourceList(items, BaseUrl(req)), kHalJson);
        }), opts);

  // POST appends, PUT replaces; bodies are arrays of ids.
  for (const char* method : {"POST", "PUT"}) {
    const bool replace = std::string_view(method) == "PUT";
    r.Add(method, path, Wrap([ctx, spec, replace](HttpRequest& req) -> Result<HttpResponse> {
            const std::string& id = req.Param("id");
            WEIR_ASSIGN_OR_RETURN(auto ids, BodyStrings(req, spec.name + " ids"));
            if (!replace && ids.empty()) {
              return FailedPrecondition("request body: list at least one " +
                                        std::string(model::KindName(spec.member)) + " id to add");
            }
            std::lock_guard<std::mutex> lock(ctx->write_mu);
            WEIR_ASSIGN_OR_RETURN(ConfigEntity owner, ctx->store->Get(spec.owner, id));
            (void)owner;
            WEIR_RETURN_IF_ERROR(CheckMembers(*ctx, spec, ids));
            std::vector<std::string> list;
            if (!replace) {
              WEIR_ASSIGN_OR_RETURN(list, GetLinks(*ctx, spec, id));
            }
            AppendUnique(list, ids);
            WEIR_RETURN_IF_ERROR(SetLinks(*ctx, spec, id, list));
            return NoContent();
          }), opts);
  }

  r.Add("DELETE", path, Wrap([ctx, spec](HttpRequest& req) -> Result<HttpResponse> {
          const std::string& id = req.Param("id");
          std::lock_guard<std::mutex> lock(ctx->write_mu);
          WEIR_ASSIGN_OR_RETURN(ConfigEntity owner, ctx->store->Get(spec.owner, id));
          (void)owner;
          WEIR_RETURN_IF_ERROR(SetLinks(*ctx, spec, id, {}));
          return NoContent();
        }), opts);

  r.Add("DELETE", path + "/{member}", Wrap([ctx, spec](HttpRequest& req) -> Result<HttpResponse> {
          const std::string& id = req.Param("id");
          const std::string& member = req.Param("member");
          std::lock_guard<std::mutex> lock(ctx->write_mu);
          WEIR_ASSIGN_OR_RETURN(ConfigEntity owner, ctx->store->Get(spec.owner, id));
          (void)owner;
          WEIR_ASSIGN_OR_RETURN(auto list, GetLinks(*ctx, spec, id));
          auto it = std::find(list.begin(), list.end(), member);
          if (it == list.end()) {
            // Unknown resource: 404; a known one that is not linked: nothing to do.
            WEIR_ASSIGN_OR_RETURN(ConfigEntity m, ctx->store->Get(spec.member, member));
            (void)m;
            return NoContent();
          }
          list.erase(it);
          WEIR_RETURN_IF_ERROR(SetLinks(*ctx, spec, id, list));
          return NoContent();
        }), opts);
}

// Reverse lookups: the commands using an application, the clusters offering a command.
void AddReverseRoute(Router& r, const std::shared_ptr<Ctx>& ctx, Kind owner, Kind member) {
  const std::string path =
      Prefix(owner) + "/{id}/" + std::string(model::KindCollection(member));
  r.Add("GET", path, Wrap([ctx, owner, member](HttpRequest& req) -> Result<HttpResponse> {
          const std::string& id = req.Param("id");
          WEIR_ASSIGN_OR_RETURN(auto statuses, StatusFilter(req, member));
          WEIR_ASSIGN_OR_RETURN(ConfigEntity e, ctx->store->Get(owner, id));
          (void)e;
          std::vector<ConfigEntity> found;
          if (owner == Kind::kApplication) {
            WEIR_ASSIGN_OR_RETURN(found, ctx->store->CommandsForApplication(id, statuses));
          } else {
            WEIR_ASSIGN_OR_RETURN(found, ctx->store->ClustersForCommand(id, statuses));
          }
          return JsonResponse(200, ResourceList(found, BaseUrl(req)), kHalJson);
        }), RouteOptions{kMaxBody, false});
}

}  // namespace

void RegisterConfigRoutes(Router& router, std::shared_ptr<store::ConfigStore> store,
                          Clock& clock) {
  auto ctx = std::make_shared<Ctx>();
  ctx->store = std::move(store);
  ctx->clock = &clock;
  for (Kind kind : {Kind::kApplication, Kind::kCommand, Kind::kCluster}) {
    AddResourceRoutes(router, ctx, kind);
    AddCollectionRoutes(router, ctx, kind, Field::kConfigs, "configs");
    AddCollectionRoutes(router, ctx, kind, Field::kDependencies, "dependencies");
    AddCollectionRoutes(router, ctx, kind, Field::kTags, "tags");
  }
  AddLinkRoutes(router, ctx, {Kind::kCommand, Kind::kApplication, "applications", false});
  AddLinkRoutes(router, ctx, {Kind::kCluster, Kind::kCommand, "commands", true});
  AddReverseRoute(router, ctx, Kind::kApplication, Kind::kCommand);
  AddReverseRoute(router, ctx, Kind::kCommand, Kind::kCluster);
}

}  // namespace weir::api
