// Cron schedules of workflow triggers: parsing, and fire times in an IANA time zone. The one
// cron engine of weir: workflow validation (`weir project test`, deploy) checks schedules with
// ParseCron and LocateZone, and the scheduler computes fire times with the same values.
//
// Syntax (ParseCron). Five whitespace-separated fields
//     minute (0-59)  hour (0-23)  day-of-month (1-31)  month (1-12)  day-of-week (0-7)
// each a comma list of elements: `*`, a value `v`, a range `a-b`, a step `*/n`, `a-b/n` or
// `a/n` (from a to the field's last value: 59, 23, 31, 12, SAT). Months may be written JAN-DEC
// and days SUN-SAT (three letters, any case), also inside ranges; day-of-week 0 and 7 are both
// Sunday (a range may end on Sunday: MON-SUN), and `*` or `a/n` there stops at SAT (6). A range
// must not run backwards: write `22-23,0-2` rather than `22-2`. Macros: @hourly, @daily
// (= @midnight), @weekly (Sunday), @monthly, @yearly (= @annually). Expressions that can never
// fire (`0 0 30 2 *`) are rejected here rather than discovered by a search.
//
// Days (Vixie cron): a day matches when its day-of-month AND its day-of-week match, except
// when both fields are restricted: then a day matches if EITHER does (`0 0 13 * FRI` fires on
// every 13th and on every Friday). As in Vixie cron a field that starts with `*` (`*` or `*/n`)
// counts as unrestricted, so `0 0 */2 * MON` means odd days that are Mondays.
//
// Fire times (NextFire, PrevFire, FiresBetween) are computed in the wall time of the zone:
//   * A schedule fires at each instant whose local wall time matches the expression.
//   * Spring forward (a gap): a matching wall time that does not exist that day fires once, at
//     the first instant after the gap (`30 2 * * *` in Europe/Berlin on 2026-03-29 fires at
//     03:00 CEST). Several skipped times, and a matching time right at the end of the gap,
//     all fire as that single instant.
//   * Fall back (an overlap): a wall time that occurs twice fires at its first occurrence only,
//     unless the schedule is an interval schedule: one whose hour field has a `*` or a step
//     (`*/15 * * * *`, `0 * * * *`, `0 */2 * * *`). Those fire on both occurrences, so they
//     keep firing at the same real-time pace through the repeated hour.
//   * Fire times are whole local minutes; `after`/`before` bounds are exclusive.
// Searches skip by field (month, day, hour, minute) rather than scanning minutes, and stop
// after kSearchYears (a termination guard: every accepted expression fires within it, e.g.
// Feb 29 on a Sunday recurs within 40 years) or at the end of year 9999 (kNotFound).
//
// Time zone data comes from the system's /usr/share/zoneinfo (Debian package tzdata) through
// howardhinnant date-tz built with USE_OS_TZDB. That reader uses the explicit transitions of
// the TZif files, which end in 2037: later instants keep the zone's last offset (standard
// time), so DST after 2037 is not modelled.
//
// Threading: CronExpr is an immutable value; every function here is thread-safe. Errors:
// kInvalidArgument for bad expressions, unknown zones, a null zone or an out-of-range time;
// kNotFound when no fire time exists within the search bound; kInternal when the time zone
// database cannot be loaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace date {
class time_zone;
}  // namespace date

namespace weir::cron {

// Bound of one NextFire/PrevFire search, in years from its start.
inline constexpr int kSearchYears = 50;

// A parsed cron expression: the sets of minutes, hours, days, months and weekdays it fires on.
class CronExpr {
 public:
  // The expression as written (surrounding whitespace removed), for messages and storage.
  const std::string& text() const { return text_; }

  // Bit i set: value i selected. Minutes 0-59, hours 0-23, days 1-31, months 1-12,
  // weekdays 0-6 (Sunday = 0).
  uint64_t minutes() const { return minutes_; }
  uint32_t hours() const { return hours_; }
  uint32_t days_of_month() const { return days_; }
  uint16_t months() const { return months_; }
  uint8_t days_of_week() const { return weekdays_; }
  // The field starts with `*` (see the day rule above).
  bool day_of_month_star() const { return day_of_month_star_; }
  bool day_of_week_star() const { return day_of_week_star_; }
  // Fires on both occurrences of a repeated wall time (hour field has a `*` or a step).
  bool interval() const { return interval_; }

  // True when the wall time year-month-day hour:minute matches (month 1-12, day 1-31); the
  // weekday is derived from the date.
  bool Matches(int year, int month, int day, int hour, int minute) const;

 private:
  friend Result<CronExpr> ParseCron(std::string_view text);

  std::string text_;
  uint64_t minutes_ = 0;
  uint32_t hours_ = 0;
  uint32_t days_ = 0;
  uint16_t months_ = 0;
  uint8_t weekdays_ = 0;
  bool day_of_month_star_ = false;
  bool day_of_week_star_ = false;
  bool interval_ = false;
};

// Parses a 5-field expression or a macro. Errors (kInvalidArgument) name the field, the text
// and what is allowed: "cron '61 * * * *': minute: 61 is outside 0-59".
Result<CronExpr> ParseCron(std::string_view text);

// The zone named by an IANA name ("Europe/Berlin", "UTC"). The pointer stays valid for the
// life of the process. kInvalidArgument for an unknown name: "timezone 'Mars/Base': unknown
// IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"; kInternal when the database
// cannot be loaded.
Result<const date::time_zone*> LocateZone(std::string_view name);

// The first fire time strictly after `after`, under the rules above.
Result<TimePoint> NextFire(const CronExpr& expr, const date::time_zone* tz, TimePoint after);
Result<TimePoint> NextFire(const CronExpr& expr, std::string_view zone, TimePoint after);

// The last fire time strictly before `before` (e.g. for the `latest` catch-up policy), so that
// PrevFire and NextFire enumerate the same instants in opposite orders.
Result<TimePoint> PrevFire(const CronExpr& expr, const date::time_zone* tz, TimePoint before);

// The fire times t with from < t <= to, oldest first, at most `max` of them (the oldest `max`).
// For catch-up after downtime: pass the last handled fire time as `from` and now as `to`.
Result<std::vector<TimePoint>> FiresBetween(const CronExpr& expr, const date::time_zone* tz,
                                            TimePoint from, TimePoint to, size_t max);

}  // namespace weir::cron
