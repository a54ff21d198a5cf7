// GET /api/weir/v1/openapi.json (openapi_routes.h).
#include "api/openapi_routes.h"

#include <string>

namespace weir::api {

// Defined in the generated openapi_json.cc (src/api/CMakeLists.txt embeds openapi.json).
extern const char kOpenApiJson[];
extern const size_t kOpenApiJsonSize;

std::string_view OpenApiDocument() { return std::string_view(kOpenApiJson, kOpenApiJsonSize); }

void RegisterOpenApiRoute(Router& router) {
  router.Add("GET", "/api/weir/v1/openapi.json",
             [](HttpRequest&) { return HttpResponse::Json(200, std::string(OpenApiDocument())); });
}

}  // namespace weir::api
