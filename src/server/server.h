// Server: the composition root. It opens the store, builds the executor, the job service and the
// asset registry, registers every route, recovers the jobs of an earlier run, and serves HTTP.
// Nothing else in weir knows which implementations were chosen.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "api/http.h"
#include "common/result.h"
#include "server/config.h"

namespace weir::server {

class Server {
 public:
  virtual ~Server() = default;
  // Opens everything, recovers jobs, starts listening. Fails fast naming the setting at fault.
  virtual Status Start() = 0;
  // Stops listening and supervising; running jobs keep running (a restart re-adopts them).
  virtual void Stop() = 0;
  virtual uint16_t port() const = 0;
  // Every route registered (method and pattern), after Start(); the API document's test
  // compares it with /api/weir/v1/openapi.json.
  virtual std::vector<api::Router::RouteInfo> Routes() const = 0;
};

std::unique_ptr<Server> NewServer(ServerConfig config);

}  // namespace weir::server
