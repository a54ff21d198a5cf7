// Per-principal request rate limit: a token bucket per key, answered 429 with Retry-After.
//
// Each key (a principal's name, or the client address when a request has no principal) owns a
// bucket of `burst` tokens that refills at `requests_per_second`; a request takes one token, and
// a request finding less than one is refused with the time until a token is back. Buckets that
// have filled up again are idle (a fresh bucket would behave the same) and are evicted, so memory
// stays bounded by the number of keys active within about burst / rate seconds, and never exceeds
// `max_keys` buckets (past it, idle buckets go first, then arbitrary ones: such a key starts
// again with a full bucket, which errs towards letting requests through).
//
// Time comes only from the injected Clock's SteadyNow(), so tests move time instead of sleeping.
// Thread-safe: one mutex; each call does O(1) work, plus an occasional sweep of the map.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api/http.h"
#include "common/clock.h"

namespace weir::api {

struct RateLimitOptions {
  double requests_per_second = 0;  // refill rate; ≤ 0 turns the limit off (no bucket is kept)
  double burst = 1;                // bucket size: requests allowed at once; at least 1
  size_t max_keys = 100000;        // bound on buckets kept
};

class RateLimiter {
 public:
  // REQUIRES: `clock` outlives the limiter.
  RateLimiter(RateLimitOptions options, const Clock& clock);

  // Takes a token from `key`'s bucket. nullopt: allowed. Otherwise the request is refused and
  // the value is how long until a token is back (> 0).
  std::optional<std::chrono::milliseconds> Acquire(const std::string& key);

  bool enabled() const { return options_.requests_per_second > 0; }
  size_t buckets() const;  // buckets held now (tests: memory stays bounded)

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;  // when `tokens` was computed
  };
  // Tokens of `b` at `now` (refilled, at most burst).
  double Refilled(const Bucket& b, std::chrono::steady_clock::time_point now) const;
  // REQUIRES: mu_ held. Drops full buckets, then arbitrary ones while at or above max_keys.
  void Sweep(std::chrono::steady_clock::time_point now);

  const RateLimitOptions options_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;   // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point last_sweep_;  // GUARDED_BY(mu_)
};

// The limiter's key for a request: "principal:<name>" when a gate before this one set a
// principal, else "address:<ClientHost(req)>".
std::string RateLimitKey(const HttpRequest& req);

// A request gate (HttpServerOptions::gate) that refuses a request over its key's limit with 429,
// `Retry-After: <seconds, rounded up, at least 1>` and Genie's JSON error body. Allows
// everything when the limiter is disabled. Chain it after authentication, so the key is the
// principal rather than the address.
std::function<std::optional<HttpResponse>(HttpRequest&)> MakeRateLimitGate(
    std::shared_ptr<RateLimiter> limiter);

}  // namespace weir::api
