#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace weir::metrics {

void CollectProcessMetrics(WeirMetrics& m) {
  // /proc/self/status: "VmRSS:   1234 kB" and "Threads:  12".
  if (FILE* f = std::fopen("/proc/self/status", "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      long long v = 0;
      if (std::sscanf(line, "VmRSS: %lld kB", &v) == 1) {
        m.process_resident_memory.With({}).Set(static_cast<double>(v) * 1024);
      } else if (std::sscanf(line, "Threads: %lld", &v) == 1) {
        m.process_threads.With({}).Set(static_cast<double>(v));
      }
    }
    std::fclose(f);
  }
  if (DIR* d = ::opendir("/proc/self/fd")) {
    int n = 0;
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    m.process_open_fds.With({}).Set(n - 1);  // not the descriptor that read the folder
  }
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    m.process_max_fds.With({}).Set(static_cast<double>(rl.rlim_cur));
  }
}

}  // namespace weir::metrics
