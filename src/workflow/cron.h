// Cron expressions of workflow schedules: syntax and the set of matching values per field.
//
// Accepted: five fields "minute hour day-of-month month day-of-week", each a comma list of
// `*`, `N`, `N-M`, optionally followed by `/STEP` (`*/15`, `1-30/5`, `5/10` = from 5 to the end
// of the range); months may be JAN..DEC and weekdays SUN..SAT (any case); weekday 7 is Sunday
// like 0. Macros: @hourly, @daily, @weekly, @monthly. As in Vixie cron, when both day fields are
// restricted a day matches if either matches (CronSpec::day_or). Expressions that can never
// fire ("0 0 30 2 *") are refused. This is the static check of `weir project test`; the
// scheduler's engine (src/scheduler/cron.h) computes fire times and accepts this syntax (plus
// @yearly/@annually/@midnight, which workflows do not use). Pure and thread-safe.
#pragma once

#include <bitset>
#include <string_view>

#include "common/result.h"

namespace weir::workflow {

struct CronSpec {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days_of_month;   // bits 1..31
  std::bitset<13> months;          // bits 1..12
  std::bitset<7> days_of_week;     // 0 = Sunday
  bool day_of_month_star = false;  // the field was `*` (or `*/1`)
  bool day_of_week_star = false;
  // True when both day fields are restricted: a day matches if either field matches.
  bool day_or() const { return !day_of_month_star && !day_of_week_star; }
};

// kInvalidArgument naming the field and the bad part, e.g.
// "schedule '0 25 * * *': hour: 25 is out of range 0-23".
Result<CronSpec> ParseCron(std::string_view expr);

}  // namespace weir::workflow
