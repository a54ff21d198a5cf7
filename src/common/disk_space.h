// FreeSpaceFloor: the free space left on the file systems holding the server's data, and the
// floor below which new work is refused (`jobs.min_free_disk_mb`).
//
// Free space is what an unprivileged writer may use (statvfs f_bavail × f_frsize), read for each
// watched path; the least of them counts. A reading is cached for `max_age` (steady time), so a
// check costs one statvfs per path per second at most however many requests ask: cheap enough
// for the I/O threads and for every submission.
//
// Check(): OK while every path has at least `min_free_bytes`; kOutOfSpace naming the setting,
// the path and the free space otherwise. A path whose statvfs fails (it vanished) is skipped and
// reported by Read(). A floor of 0 never refuses.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace weir {

struct DiskSpaceReading {
  std::filesystem::path path;
  bool ok = false;         // statvfs succeeded
  int64_t free_bytes = 0;  // available to unprivileged writers
  int64_t total_bytes = 0;
};

class FreeSpaceFloor {
 public:
  // `setting` names the configuration key in messages ("jobs.min_free_disk_mb").
  FreeSpaceFloor(std::vector<std::filesystem::path> paths, int64_t min_free_bytes,
                 std::string setting,
                 std::chrono::milliseconds max_age = std::chrono::milliseconds(1000));

  int64_t min_free_bytes() const { return min_free_bytes_; }
  // One reading per path (cached, see above).
  std::vector<DiskSpaceReading> Read();
  Status Check();

 private:
  const std::vector<std::filesystem::path> paths_;
  const int64_t min_free_bytes_;
  const std::string setting_;
  const std::chrono::milliseconds max_age_;
  std::mutex mu_;
  std::vector<DiskSpaceReading> cached_;             // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point read_at_{};  // GUARDED_BY(mu_)
  bool have_reading_ = false;                        // GUARDED_BY(mu_)
};

// "1.5 GiB", "730 MiB", "12 KiB", "10 B": for messages.
std::string FormatBytes(int64_t bytes);

}  // namespace weir
