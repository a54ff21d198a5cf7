// Clock: the only source of time in weir. Code that needs "now" takes a Clock& so tests can
// move time instead of sleeping (timeouts, cron, leases). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace weir {

using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, millisecond precision (what is stored and shown).
  virtual TimePoint Now() const = 0;
  // Monotonic time for measuring intervals; never jumps.
  virtual std::chrono::steady_clock::time_point SteadyNow() const = 0;
};

// The real clock.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  std::chrono::steady_clock::time_point SteadyNow() const override;
  // A process-wide instance.
  static SystemClock& Instance();
};

// A clock that moves only when told. Both Now() and SteadyNow() advance together.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_ms_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(Millis(now_ms_.load())); }
  std::chrono::steady_clock::time_point SteadyNow() const override {
    return std::chrono::steady_clock::time_point(Millis(now_ms_.load()));
  }
  void Advance(Millis d) { now_ms_ += d.count(); }
  void Set(TimePoint t) { now_ms_ = t.time_since_epoch().count(); }

 private:
  std::atomic<int64_t> now_ms_;
};

inline int64_t ToEpochMillis(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromEpochMillis(int64_t ms) { return TimePoint(Millis(ms)); }

}  // namespace weir
