// Operator routes of weir (beyond Genie's API), under /api/weir/v1/admin:
//
//   GET /api/weir/v1/admin/cache   the node's dependency cache counters, as JSON:
//     {"enabled": true, "dir": "...", "maxBytes": N, "entries": N, "bytes": N, "hits": N,
//      "misses": N, "revalidations": N, "bytesDownloaded": N, "evictions": N, "hitRatio": x}
//     hits/misses/revalidations/bytesDownloaded/evictions count since the server started;
//     entries/bytes are what the cache holds now. Without a cache: {"enabled": false}.
//
// Threading: handlers read thread-safe counters only.
#pragma once

#include "api/http.h"
#include "fetch/cache.h"

namespace weir::api {

struct AdminRoutesOptions {
  // The node's dependency cache (fetch::UriFetcher::cache()); null when none is configured.
  // REQUIRES: outlives the router (the JobService that owns the fetcher outlives the server).
  const fetch::DependencyCache* cache = nullptr;
};

void RegisterAdminRoutes(Router& router, AdminRoutesOptions options);

}  // namespace weir::api
