#include "common/disk_space.h"

#include <sys/statvfs.h>

#include <cstdio>

namespace weir {

FreeSpaceFloor::FreeSpaceFloor(std::vector<std::filesystem::path> paths, int64_t min_free_bytes,
                               std::string setting, std::chrono::milliseconds max_age)
    : paths_(std::move(paths)),
      min_free_bytes_(min_free_bytes),
      setting_(std::move(setting)),
      max_age_(max_age) {}

std::vector<DiskSpaceReading> FreeSpaceFloor::Read() {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (have_reading_ && now - read_at_ < max_age_) return cached_;
  std::vector<DiskSpaceReading> readings;
  readings.reserve(paths_.size());
  for (const auto& p : paths_) {
    DiskSpaceReading r;
    r.path = p;
    struct statvfs sv {};
    if (::statvfs(p.c_str(), &sv) == 0) {
      r.ok = true;
      r.free_bytes = static_cast<int64_t>(sv.f_bavail) * static_cast<int64_t>(sv.f_frsize);
      r.total_bytes = static_cast<int64_t>(sv.f_blocks) * static_cast<int64_t>(sv.f_frsize);
    }
    readings.push_back(std::move(r));
  }
  cached_ = readings;
  read_at_ = now;
  have_reading_ = true;
  return readings;
}

Status FreeSpaceFloor::Check() {
  if (min_free_bytes_ <= 0) return Status::Ok();
  for (const DiskSpaceReading& r : Read()) {
    if (!r.ok || r.free_bytes >= min_free_bytes_) continue;
    return OutOfSpace(setting_ + ": " + FormatBytes(r.free_bytes) + " free on " + r.path.string() +
                      ", below the floor of " + FormatBytes(min_free_bytes_) +
                      "; new jobs are refused until space is freed (running jobs go on)");
  }
  return Status::Ok();
}

std::string FormatBytes(int64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, kUnits[unit]);
  }
  return buf;
}

}  // namespace weir
