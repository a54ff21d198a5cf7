#include "api/root_routes.h"

#include "api/json_codec.h"

namespace weir::api {

void RegisterRootRoutes(Router& router, std::function<bool()> ready,
                        std::function<std::vector<HealthComponent>()> components) {
  Handler root = [](HttpRequest& req) {
    const std::string base = BaseUrl(req) + "/api/v3";
    json::object content;
    content["description"] = "weir: Genie v3 compatible job API";
    json::object o;
    o["content"] = std::move(content);
    o["_links"] = HalLinks({{"self", base, false},
                            {"applications", base + "/applications", false},
                            {"commands", base + "/commands", false},
                            {"clusters", base + "/clusters", false},
                            {"jobs", base + "/jobs", false}});
    return JsonResponse(200, o, kHalJson);
  };
  router.Add("GET", "/api/v3", root);

  auto ready_fn = std::make_shared<std::function<bool()>>(std::move(ready));
  auto parts_fn =
      std::make_shared<std::function<std::vector<HealthComponent>()>>(std::move(components));
  Handler health = [ready_fn, parts_fn](HttpRequest&) {
    bool up = !*ready_fn || (*ready_fn)();
    if (!up || !*parts_fn) {
      return HttpResponse::Json(up ? 200 : 503, up ? R"({"status":"UP"})" : R"({"status":"DOWN"})");
    }
    json::object parts;
    for (const HealthComponent& c : (*parts_fn)()) {
      json::object details;
      for (const auto& [k, v] : c.numbers) details[k] = v;
      for (const auto& [k, v] : c.texts) details[k] = v;
      json::object part;
      part["status"] = c.up ? "UP" : "DOWN";
      part["details"] = std::move(details);
      parts[c.name] = std::move(part);
      up = up && c.up;
    }
    json::object o;
    o["status"] = up ? "UP" : "DOWN";
    o["components"] = std::move(parts);
    return JsonResponse(up ? 200 : 503, o);
  };
  router.Add("GET", "/admin/health", health);
  router.Add("GET", "/actuator/health", health);
}

}  // namespace weir::api
