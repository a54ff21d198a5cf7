#include "scheduler/logical_dates.h"

#include <date/date.h>
#include <date/tz.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "cron/cron.h"

namespace weir::scheduler {

Result<LogicalDates> LocalLogicalDates(TimePoint t, std::string_view timezone) {
  WEIR_ASSIGN_OR_RETURN(const date::time_zone* tz, cron::LocateZone(timezone));
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const date::sys_info info = tz->get_info(secs);
  const auto local = secs + info.offset;  // as a sys_time: its fields are the local ones
  const auto day = std::chrono::floor<date::days>(local);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<std::chrono::seconds> tod{local - day};
  const long offset = static_cast<long>(info.offset.count());
  const long off_abs = std::labs(offset);
  char day_buf[16];
  std::snprintf(day_buf, sizeof(day_buf), "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  char local_buf[48];
  std::snprintf(local_buf, sizeof(local_buf), "%sT%02ld:%02ld:%02ld%c%02ld:%02ld", day_buf,
                static_cast<long>(tod.hours().count()), static_cast<long>(tod.minutes().count()),
                static_cast<long>(tod.seconds().count()), offset < 0 ? '-' : '+', off_abs / 3600,
                (off_abs % 3600) / 60);
  return LogicalDates{local_buf, day_buf};
}

}  // namespace weir::scheduler
