// The API root and the health probes.
//
//   GET /api/v3 (and /api/v3/)       the root resource: a description and HAL `_links` to the
//                                     applications, commands, clusters and jobs collections
//   GET /admin/health, /actuator/health
//                                     200 {"status":"UP"} while `ready()` is true, else
//                                     503 {"status":"DOWN"} (starting up, shutting down)
//
// Threading: `ready` is called on the I/O threads and must be cheap and thread-safe.
#pragma once

#include <functional>

#include "api/http.h"

namespace weir::api {

void RegisterRootRoutes(Router& router, std::function<bool()> ready);

}  // namespace weir::api
