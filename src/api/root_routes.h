// The API root and the health probes.
//
//   GET /api/v3 (and /api/v3/)       the root resource: a description and HAL `_links` to the
//                                     applications, commands, clusters and jobs collections
//   GET /admin/health, /actuator/health
//                                     200 {"status":"UP"} while `ready()` is true, else
//                                     503 {"status":"DOWN"} (starting up, shutting down).
//                                     With `components`, in Spring Boot actuator's shape:
//                                     {"status":"UP","components":{"diskSpace":{"status":"UP",
//                                     "details":{"free":N,...}},...}}; any component DOWN makes
//                                     the whole 503 {"status":"DOWN",...} (the node should not
//                                     get new work: disk below its floor, store refusing writes).
//
// Threading: `ready` and `components` are called on the I/O threads and must be cheap (no
// blocking I/O beyond a cached statvfs) and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/http.h"

namespace weir::api {

// One part of the node's health, rendered as {"status":"UP"|"DOWN","details":{...}}.
struct HealthComponent {
  std::string name;  // "diskSpace", "jobStore"
  bool up = true;
  std::map<std::string, int64_t> numbers;
  std::map<std::string, std::string> texts;
};

void RegisterRootRoutes(Router& router, std::function<bool()> ready,
                        std::function<std::vector<HealthComponent>()> components = nullptr);

}  // namespace weir::api
