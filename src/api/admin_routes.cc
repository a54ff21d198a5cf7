#include "api/admin_routes.h"

#include <boost/json.hpp>

#include "api/json_codec.h"

namespace weir::api {

namespace {

HttpResponse CacheStats(const fetch::DependencyCache* cache) {
  if (cache == nullptr) return JsonResponse(200, json::object{{"enabled", false}}, kJsonType);
  const fetch::CacheStats s = cache->Stats();
  const int64_t uses = s.hits + s.misses;
  json::object o{{"enabled", true},
                 {"dir", cache->options().dir.string()},
                 {"maxBytes", cache->options().max_bytes},
                 {"entries", s.entries},
                 {"bytes", s.bytes},
                 {"hits", s.hits},
                 {"misses", s.misses},
                 {"revalidations", s.revalidations},
                 {"bytesDownloaded", s.bytes_downloaded},
                 {"evictions", s.evictions},
                 {"hitRatio", uses == 0 ? 0.0 : static_cast<double>(s.hits) / uses}};
  return JsonResponse(200, o, kJsonType);
}

}  // namespace

void RegisterAdminRoutes(Router& router, AdminRoutesOptions options) {
  const fetch::DependencyCache* cache = options.cache;
  router.Add("GET", "/api/weir/v1/admin/cache",
             [cache](HttpRequest&) { return CacheStats(cache); });
}

}  // namespace weir::api
