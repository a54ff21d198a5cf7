// The process's descriptor budget: RLIMIT_NOFILE raised at start, and the HTTP connection cap
// fitted below it so that descriptors stay free for the store, job launches (pidfds, pipes,
// log files), archives and fetches however many clients connect.
#pragma once

#include <cstdint>

#include "common/result.h"

namespace weir::server {

// Descriptors one HTTP connection may hold at once: its socket and a spooled request body.
inline constexpr uint64_t kDescriptorsPerConnection = 2;

struct DescriptorBudget {
  uint64_t soft_before = 0;  // RLIMIT_NOFILE soft limit found at start
  uint64_t limit = 0;        // the soft limit now (raised to the hard limit when allowed)
  int max_connections = 0;   // the cap to use
  bool lowered = false;      // the configured cap did not fit and was lowered
};

// The connection cap that fits `limit` descriptors with `reserve` kept free:
// min(configured, (limit − reserve) / kDescriptorsPerConnection). kInvalidArgument naming
// server.fd_reserve when not even one connection fits.
Result<DescriptorBudget> FitConnections(uint64_t limit, int configured_max_connections,
                                        int reserve);

// Raises the RLIMIT_NOFILE soft limit to the hard limit (capped by fs.nr_open), then
// FitConnections. Errors name the setting to change.
Result<DescriptorBudget> RaiseDescriptorLimit(int configured_max_connections, int reserve);

}  // namespace weir::server
