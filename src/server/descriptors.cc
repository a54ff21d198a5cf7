#include "server/descriptors.h"

#include <sys/resource.h>

#include <cerrno>
#include <fstream>
#include <string>

namespace weir::server {

Result<DescriptorBudget> FitConnections(uint64_t limit, int configured_max_connections,
                                        int reserve) {
  DescriptorBudget b;
  b.limit = limit;
  const uint64_t keep = reserve > 0 ? static_cast<uint64_t>(reserve) : 0;
  const uint64_t room = limit > keep ? (limit - keep) / kDescriptorsPerConnection : 0;
  if (room < 1) {
    return InvalidArgument("server.fd_reserve: the descriptor limit (RLIMIT_NOFILE " +
                           std::to_string(limit) + ") leaves no room for connections after " +
                           "the reserve of " + std::to_string(keep) +
                           "; raise the limit (ulimit -n, LimitNOFILE=) or lower the reserve");
  }
  const uint64_t configured =
      configured_max_connections > 0 ? static_cast<uint64_t>(configured_max_connections) : 1;
  b.max_connections = static_cast<int>(std::min(configured, room));
  b.lowered = room < configured;
  return b;
}

Result<DescriptorBudget> RaiseDescriptorLimit(int configured_max_connections, int reserve) {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return ErrnoStatus("server: reading RLIMIT_NOFILE", errno);
  }
  const uint64_t before = rl.rlim_cur;
  rlim_t target = rl.rlim_max;
  if (target == RLIM_INFINITY) {
    // The kernel refuses more than fs.nr_open descriptors whatever the hard limit says.
    uint64_t nr_open = 1048576;
    std::ifstream f("/proc/sys/fs/nr_open");
    if (uint64_t v = 0; f >> v && v > 0) nr_open = v;
    target = static_cast<rlim_t>(nr_open);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < target) {
    struct rlimit raised = rl;
    raised.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl.rlim_cur = target;
  }
  const uint64_t limit = rl.rlim_cur == RLIM_INFINITY ? static_cast<uint64_t>(target) : rl.rlim_cur;
  auto b = FitConnections(limit, configured_max_connections, reserve);
  if (!b.ok()) return b.status();
  b->soft_before = before;
  return b;
}

}  // namespace weir::server
