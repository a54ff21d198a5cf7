// Fuzz target: cron expressions and fire times (cron/cron.h), as workflow validation and the
// scheduler's triggers use them.
// Input: "<zone>|<epoch seconds>|<expression>", e.g. "Europe/Berlin|1774746000|30 2 * * *".
// Invariants: the expression's text parses again to the same sets; NextFire(t) > t;
// PrevFire(NextFire(t)) <= t; NextFire(PrevFire(n)) == n; FiresBetween agrees with NextFire.

#include <charconv>
#include <string>

#include "cron/cron.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;
  if (size > 1024) return 0;
  auto [zone_text, rest] = fuzz::SplitOnce(fuzz::AsText(data, size), "|");
  auto [time_text, expr_text] = fuzz::SplitOnce(rest, "|");

  auto expr = cron::ParseCron(expr_text);
  if (!expr.ok()) return 0;
  const std::string shown(expr_text);
  auto again = cron::ParseCron(expr->text());
  FUZZ_CHECK(again.ok(), "text() does not parse: " + expr->text());
  FUZZ_CHECK(
      again->minutes() == expr->minutes() && again->hours() == expr->hours() &&
          again->days_of_month() == expr->days_of_month() && again->months() == expr->months() &&
          again->days_of_week() == expr->days_of_week() && again->interval() == expr->interval(),
      "text() parses to other sets: " + shown);

  auto zone = cron::LocateZone(zone_text);
  if (!zone.ok()) return 0;
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(time_text.data(), time_text.data() + time_text.size(), seconds);
  if (ec != std::errc() || end != time_text.data() + time_text.size()) return 0;
  // 1970 .. 2200: the scheduler's range; the engine's own bounds are checked with errors.
  if (seconds < 0 || seconds > 7258118400LL) return 0;
  const TimePoint t = FromEpochMillis(seconds * 1000);

  auto next = cron::NextFire(*expr, *zone, t);
  if (!next.ok()) return 0;
  FUZZ_CHECK(*next > t, "NextFire not after its start: " + shown);
  auto prev = cron::PrevFire(*expr, *zone, *next);
  if (prev.ok()) {
    FUZZ_CHECK(*prev <= t, "PrevFire(NextFire(t)) after t: " + shown);
    auto next2 = cron::NextFire(*expr, *zone, *prev);
    FUZZ_CHECK(next2.ok() && *next2 == *next, "NextFire(PrevFire(n)) != n: " + shown);
  }
  auto between = cron::FiresBetween(*expr, *zone, t, *next, 4);
  FUZZ_CHECK(between.ok() && between->size() == 1 && between->front() == *next,
             "FiresBetween(t, NextFire(t)) is not [NextFire(t)]: " + shown);
  return 0;
}
