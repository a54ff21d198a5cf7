#include "api/rate_limit.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

namespace weir::api {

RateLimiter::RateLimiter(RateLimitOptions options, const Clock& clock)
    : options_([&] {
        options.burst = std::max(1.0, options.burst);
        options.max_keys = std::max<size_t>(1, options.max_keys);
        return options;
      }()),
      clock_(clock),
      last_sweep_(clock.SteadyNow()) {}

double RateLimiter::Refilled(const Bucket& b, std::chrono::steady_clock::time_point now) const {
  const double elapsed_s = std::chrono::duration<double>(now - b.last).count();
  if (elapsed_s <= 0) return b.tokens;
  return std::min(options_.burst, b.tokens + elapsed_s * options_.requests_per_second);
}

void RateLimiter::Sweep(std::chrono::steady_clock::time_point now) {
  last_sweep_ = now;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    it = Refilled(it->second, now) >= options_.burst ? buckets_.erase(it) : std::next(it);
  }
  while (buckets_.size() >= options_.max_keys) buckets_.erase(buckets_.begin());
}

std::optional<std::chrono::milliseconds> RateLimiter::Acquire(const std::string& key) {
  if (!enabled()) return std::nullopt;
  const auto now = clock_.SteadyNow();
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    // A sweep at least as often as a bucket takes to refill, and whenever the map is full.
    const auto refill_time =
        std::chrono::duration<double>(options_.burst / options_.requests_per_second);
    if (buckets_.size() >= options_.max_keys || now - last_sweep_ >= refill_time) Sweep(now);
    it = buckets_.emplace(key, Bucket{options_.burst, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = Refilled(b, now);
  b.last = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return std::nullopt;
  }
  const double wait_ms = (1 - b.tokens) / options_.requests_per_second * 1000;
  // Rounded up to the millisecond; the epsilon keeps float noise (1.0000000001) from adding one.
  return std::chrono::milliseconds(std::max<int64_t>(1, std::llround(std::ceil(wait_ms - 1e-6))));
}

size_t RateLimiter::buckets() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

std::string RateLimitKey(const HttpRequest& req) {
  if (req.principal) return "principal:" + req.principal->name;
  return "address:" + ClientHost(req);
}

std::function<std::optional<HttpResponse>(HttpRequest&)> MakeRateLimitGate(
    std::shared_ptr<RateLimiter> limiter) {
  return [limiter = std::move(limiter)](HttpRequest& req) -> std::optional<HttpResponse> {
    if (!limiter->enabled()) return std::nullopt;
    std::optional<std::chrono::milliseconds> wait = limiter->Acquire(RateLimitKey(req));
    if (!wait) return std::nullopt;
    const int64_t seconds = std::max<int64_t>(1, (wait->count() + 999) / 1000);
    HttpResponse resp = ErrorResponse(429,
                                      "rate limit: too many requests; retry after " +
                                          std::to_string(seconds) + " s (server.rate_limit)",
                                      req);
    resp.SetHeader("Retry-After", std::to_string(seconds));
    return resp;
  };
}

}  // namespace weir::api
