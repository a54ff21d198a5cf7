// The API document: GET /api/weir/v1/openapi.json answers the OpenAPI 3.1 document of every
// route the server registers (Genie v3's and weir's own), the file src/api/openapi.json embedded
// at build time. tests/openapi_test.cc checks that each registered route is in it and that it
// validates with a standard OpenAPI validator; add a route there when you register one.
#pragma once

#include <string_view>

#include "api/http.h"

namespace weir::api {

// The embedded document (JSON text).
std::string_view OpenApiDocument();

void RegisterOpenApiRoute(Router& router);

}  // namespace weir::api
