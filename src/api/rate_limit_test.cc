// The token bucket and the rate-limit gate, with a fake clock: time moves, nothing sleeps.
#include "api/rate_limit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace weir::api {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

FakeClock NewClock() { return FakeClock(FromEpochMillis(1'700'000'000'000)); }

TEST(RateLimiterTest, BurstPassesThenRefusedUntilATokenIsBack) {
  FakeClock clock = NewClock();
  RateLimiter limiter({/*requests_per_second=*/2, /*burst=*/3}, clock);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("alice"), std::nullopt) << i;
  // Empty: one token takes 1 / 2 s.
  EXPECT_EQ(limiter.Acquire("alice"), milliseconds(500));
  clock.Advance(milliseconds(499));
  auto wait = limiter.Acquire("alice");
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, milliseconds(1));
  clock.Advance(milliseconds(1));
  EXPECT_EQ(limiter.Acquire("alice"), std::nullopt);
  EXPECT_TRUE(limiter.Acquire("alice").has_value());
}

TEST(RateLimiterTest, RefillNeverExceedsTheBurst) {
  FakeClock clock = NewClock();
  RateLimiter limiter({10, 2}, clock);
  EXPECT_EQ(limiter.Acquire("k"), std::nullopt);
  clock.Advance(std::chrono::hours(1));
  EXPECT_EQ(limiter.Acquire("k"), std::nullopt);
  EXPECT_EQ(limiter.Acquire("k"), std::nullopt);
  EXPECT_TRUE(limiter.Acquire("k").has_value());
}

TEST(RateLimiterTest, KeysHaveTheirOwnBuckets) {
  FakeClock clock = NewClock();
  RateLimiter limiter({1, 1}, clock);
  EXPECT_EQ(limiter.Acquire("alice"), std::nullopt);
  EXPECT_TRUE(limiter.Acquire("alice").has_value());
  EXPECT_EQ(limiter.Acquire("bob"), std::nullopt);
}

TEST(RateLimiterTest, ZeroRateIsOffAndKeepsNoBucket) {
  FakeClock clock = NewClock();
  RateLimiter limiter({0, 1}, clock);
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.Acquire("k"), std::nullopt);
  EXPECT_EQ(limiter.buckets(), 0u);
}

TEST(RateLimiterTest, MemoryStaysBoundedAndIdleBucketsAreEvicted) {
  FakeClock clock = NewClock();
  RateLimitOptions o;
  o.requests_per_second = 1;
  o.burst = 5;
  o.max_keys = 50;
  RateLimiter limiter(o, clock);
  for (int i = 0; i < 10000; ++i) limiter.Acquire("client-" + std::to_string(i));
  EXPECT_LE(limiter.buckets(), 50u);
  // After a refill time every bucket is full again (idle): the next new key sweeps them away.
  clock.Advance(std::chrono::seconds(5));
  limiter.Acquire("late");
  EXPECT_EQ(limiter.buckets(), 1u);
}

TEST(RateLimiterTest, ASweepEvictsFullBucketsAndKeepsUsedOnes) {
  FakeClock clock = NewClock();
  RateLimiter limiter({1, 2}, clock);
  limiter.Acquire("idle");                 // t0: 1 token left
  clock.Advance(std::chrono::seconds(2));  // t2
  limiter.Acquire("busy");
  limiter.Acquire("busy");                 // 0 left
  clock.Advance(std::chrono::seconds(1));  // t3
  limiter.Acquire("busy");                 // refilled 1, taken: 0 left
  clock.Advance(std::chrono::seconds(1));  // t4: "busy" holds 1 token, "idle" is full again
  limiter.Acquire("new");                  // a new key after a refill time: sweeps
  EXPECT_EQ(limiter.buckets(), 2u);        // "busy" and "new"
  // "busy" kept its state: one token, not a fresh bucket of two.
  EXPECT_EQ(limiter.Acquire("busy"), std::nullopt);
  EXPECT_EQ(limiter.Acquire("busy"), milliseconds(1000));
}

HttpRequest Request(std::string peer) {
  HttpRequest req;
  req.method = "POST";
  req.target = req.path = "/api/v3/jobs";
  req.peer_address = std::move(peer);
  return req;
}

TEST(RateLimitGateTest, RefusesWith429RetryAfterRoundedUpAndGenieBody) {
  FakeClock clock = NewClock();
  auto gate = MakeRateLimitGate(std::make_shared<RateLimiter>(RateLimitOptions{0.4, 1}, clock));
  HttpRequest req = Request("10.1.2.3");
  EXPECT_EQ(gate(req), std::nullopt);
  std::optional<HttpResponse> refused = gate(req);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 429);
  std::string retry_after;
  for (const auto& [k, v] : refused->headers) {
    if (k == "Retry-After") retry_after = v;
  }
  EXPECT_EQ(retry_after, "3");  // 2.5 s rounded up
  boost::json::value body = boost::json::parse(refused->body);
  EXPECT_EQ(body.at("status").as_int64(), 429);
  EXPECT_EQ(body.at("error").as_string(), "Too Many Requests");
  EXPECT_EQ(body.at("path").as_string(), "/api/v3/jobs");
  EXPECT_THAT(std::string(body.at("message").as_string()), HasSubstr("rate limit"));
  clock.Advance(milliseconds(2500));
  EXPECT_EQ(gate(req), std::nullopt);
}

TEST(RateLimitGateTest, KeyIsThePrincipalElseTheClientAddress) {
  FakeClock clock = NewClock();
  auto gate = MakeRateLimitGate(std::make_shared<RateLimiter>(RateLimitOptions{1, 1}, clock));
  HttpRequest a = Request("10.0.0.1");
  HttpRequest b = Request("10.0.0.2");
  EXPECT_EQ(gate(a), std::nullopt);
  EXPECT_TRUE(gate(a).has_value());
  EXPECT_EQ(gate(b), std::nullopt);  // another address
  // Two addresses, one principal: one bucket.
  auto alice = std::make_shared<auth::Principal>();
  alice->name = "alice";
  HttpRequest c = Request("10.0.0.3");
  HttpRequest d = Request("10.0.0.4");
  c.principal = d.principal = alice;
  EXPECT_EQ(RateLimitKey(c), "principal:alice");
  EXPECT_EQ(RateLimitKey(a), "address:10.0.0.1");
  EXPECT_EQ(gate(c), std::nullopt);
  EXPECT_TRUE(gate(d).has_value());
}

}  // namespace
}  // namespace weir::api
