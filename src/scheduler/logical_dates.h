// Logical dates of an instance in its workflow's time zone: the built-in parameters
// EXECUTION_DATE_LOCAL and EXECUTION_DAY (EXECUTION_DATE itself stays UTC; see params.h).
//   EXECUTION_DATE_LOCAL  ISO-8601 local time with its UTC offset, seconds precision,
//                         e.g. "2026-03-02T07:00:00+05:30" (UTC: "...T01:30:00+00:00")
//   EXECUTION_DAY         the local calendar day, "2026-03-02"
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "scheduler/params.h"

namespace weir::scheduler {

struct LogicalDates {
  std::string local;  // EXECUTION_DATE_LOCAL
  std::string day;    // EXECUTION_DAY
};

// kInvalidArgument for an unknown time zone name.
Result<LogicalDates> LocalLogicalDates(TimePoint t, std::string_view timezone);

}  // namespace weir::scheduler
