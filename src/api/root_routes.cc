#include "api/root_routes.h"

#include "api/json_codec.h"

namespace weir::api {

void RegisterRootRoutes(Router& router, std::function<bool()> ready) {
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
  Handler health = [ready_fn](HttpRequest&) {
    bool up = !*ready_fn || (*ready_fn)();
    return HttpResponse::Json(up ? 200 : 503, up ? R"({"status":"UP"})" : R"({"status":"DOWN"})");
  };
  router.Add("GET", "/admin/health", health);
  router.Add("GET", "/actuator/health", health);
}

}  // namespace weir::api
