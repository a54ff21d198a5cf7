#include "cron/cron.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <chrono>
#include <exception>

#include "common/strings.h"
#include "common/time_format.h"

namespace weir::cron {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using LocalMin = date::local_time<minutes>;

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kDayNames = {"SUN", "MON", "TUE", "WED",
                                                       "THU", "FRI", "SAT"};

constexpr std::string_view kFieldList = "minute hour day-of-month month day-of-week";
constexpr std::string_view kMacroList = "@hourly, @daily, @midnight, @weekly, @monthly, @yearly";

// One of the five fields: its accepted values and, for month and day-of-week, its names.
struct FieldSpec {
  std::string_view name;
  int min;
  int max;   // highest value accepted
  int last;  // where `*` and `a/n` stop (day-of-week: SAT, although 7 is accepted as Sunday)
  const std::string_view* names;  // names[i] stands for name_base + i
  int name_count;
  int name_base;
  std::string_view name_hint;
};

constexpr std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, 59, nullptr, 0, 0, ""},
    {"hour", 0, 23, 23, nullptr, 0, 0, ""},
    {"day-of-month", 1, 31, 31, nullptr, 0, 0, ""},
    {"month", 1, 12, 12, kMonthNames.data(), 12, 1, " or a month name (JAN-DEC)"},
    {"day-of-week", 0, 7, 6, kDayNames.data(), 7, 0, " or a day name (SUN-SAT)"},
}};

struct ParsedField {
  uint64_t bits = 0;
  bool star = false;          // starts with `*`
  bool wild_or_step = false;  // has a `*` or a `/` anywhere
};

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c));
  });
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// A value, as a number or a name; `elem` is the list element, for messages.
Result<int> ParseValue(const FieldSpec& f, std::string_view tok, std::string_view elem) {
  if (tok.empty()) {
    return InvalidArgument("'" + std::string(elem) + "': missing value");
  }
  if (AllDigits(tok)) {
    // Anything longer than 3 digits is out of range whatever its value; avoids overflow.
    int v = tok.size() > 3 ? f.max + 1 : std::stoi(std::string(tok));
    if (v < f.min || v > f.max) {
      return InvalidArgument(std::string(tok) + " is outside " + std::to_string(f.min) + "-" +
                             std::to_string(f.max));
    }
    return v;
  }
  if (f.names != nullptr) {
    std::string up = Upper(tok);
    for (int i = 0; i < f.name_count; ++i) {
      if (f.names[i] == up) return f.name_base + i;
    }
  }
  return InvalidArgument("'" + std::string(tok) + "' is not a number" + std::string(f.name_hint));
}

// How to write the two halves of a backwards range, e.g. 22-2 → "22-23,0-2".
std::string WrapSuggestion(const FieldSpec& f, std::string_view a, std::string_view b) {
  bool names = f.names != nullptr && IsName(a) && IsName(b);
  std::string last = names ? std::string(f.names[f.last - f.name_base]) : std::to_string(f.last);
  std::string first = names ? std::string(f.names[0]) : std::to_string(f.min);
  auto part = [](std::string_view from, const std::string& to) {
    return Upper(from) == Upper(to) ? std::string(from) : std::string(from) + "-" + to;
  };
  std::string head = part(a, last);
  std::string tail = Upper(first) == Upper(b) ? std::string(b) : first + "-" + std::string(b);
  return head + "," + tail;
}

Status ParseElement(const FieldSpec& f, std::string_view elem, ParsedField* out) {
  std::string_view base = elem;
  int step = 1;
  bool has_step = false;
  if (size_t slash = elem.find('/'); slash != std::string_view::npos) {
    has_step = true;
    base = elem.substr(0, slash);
    std::string_view step_text = elem.substr(slash + 1);
    int span = f.last - f.min + 1;
    if (step_text.empty()) {
      return InvalidArgument("'" + std::string(elem) + "': missing step after '/'");
    }
    if (!AllDigits(step_text)) {
      return InvalidArgument("step '" + std::string(step_text) + "' in '" + std::string(elem) +
                             "' is not a number");
    }
    step = step_text.size() > 3 ? span + 1 : std::stoi(std::string(step_text));
    if (step < 1 || step > span) {
      return InvalidArgument("step " + std::string(step_text) + " in '" + std::string(elem) +
                             "' is outside 1-" + std::to_string(span));
    }
  }
  int lo = 0;
  int hi = 0;
  if (base == "*") {
    lo = f.min;
    hi = f.last;
  } else if (size_t dash = base.find('-'); dash != std::string_view::npos) {
    std::string_view a = base.substr(0, dash);
    std::string_view b = base.substr(dash + 1);
    if (a.empty() || b.empty()) {
      return InvalidArgument("'" + std::string(elem) +
                             "': a range needs a value on both sides of '-'");
    }
    WEIR_ASSIGN_OR_RETURN(lo, ParseValue(f, a, elem));
    WEIR_ASSIGN_OR_RETURN(hi, ParseValue(f, b, elem));
    // Sunday ends a week: MON-SUN and 5-0 mean up to 7.
    if (f.max == 7 && hi == 0 && lo > 0) hi = 7;
    if (lo > hi) {
      return InvalidArgument("range " + std::string(base) +
                             " runs backwards (start after end); for a range that wraps around "
                             "write " +
                             WrapSuggestion(f, a, b));
    }
  } else {
    WEIR_ASSIGN_OR_RETURN(lo, ParseValue(f, base, elem));
    hi = has_step ? std::max(lo, f.last) : lo;
  }
  for (int v = lo; v <= hi; v += step) out->bits |= uint64_t{1} << v;
  return Status::Ok();
}

Result<ParsedField> ParseField(const FieldSpec& f, std::string_view text) {
  ParsedField out;
  out.star = text.front() == '*';
  out.wild_or_step = text.find_first_of("*/") != std::string_view::npos;
  size_t pos = 0;
  while (true) {
    size_t comma = text.find(',', pos);
    std::string_view elem =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (elem.empty()) {
      return InvalidArgument("empty element in list '" + std::string(text) + "'");
    }
    WEIR_RETURN_IF_ERROR(ParseElement(f, elem, &out));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::vector<std::string_view> SplitWhitespace(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// The five fields a macro stands for, or nullopt.
std::optional<std::string_view> ExpandMacro(std::string_view lower) {
  if (lower == "@hourly") return "0 * * * *";
  if (lower == "@daily" || lower == "@midnight") return "0 0 * * *";
  if (lower == "@weekly") return "0 0 * * 0";
  if (lower == "@monthly") return "0 0 1 * *";
  if (lower == "@yearly" || lower == "@annually") return "0 0 1 1 *";
  return std::nullopt;
}

int NextBit(uint64_t mask, int from) {
  if (from < 0) from = 0;
  if (from >= 64) return -1;
  uint64_t b = mask >> from;
  return b == 0 ? -1 : from + std::countr_zero(b);
}

int PrevBit(uint64_t mask, int from) {
  if (from < 0) return -1;
  uint64_t b = from >= 63 ? mask : mask & ((uint64_t{2} << from) - 1);
  return b == 0 ? -1 : 63 - std::countl_zero(b);
}

unsigned DaysInMonth(date::year y, date::month m) {
  return static_cast<unsigned>((y / m / date::last).day());
}

bool DaysAreAnded(const CronExpr& e) { return e.day_of_month_star() || e.day_of_week_star(); }

bool DayMatches(const CronExpr& e, unsigned day, unsigned weekday) {
  bool dom = (e.days_of_month() >> day) & 1;
  bool dow = (e.days_of_week() >> weekday) & 1;
  return DaysAreAnded(e) ? dom && dow : dom || dow;
}

LocalMin FirstOfMonth(date::year y, date::month m) { return LocalMin(date::local_days(y / m / 1)); }

// The first matching wall time in [t, limit), skipping whole months, days and hours that cannot
// match.
std::optional<LocalMin> NextLocalMatch(const CronExpr& e, LocalMin t, LocalMin limit) {
  while (t < limit) {
    date::local_days day = std::chrono::floor<date::days>(t);
    date::year_month_day ymd{day};
    unsigned mo = static_cast<unsigned>(ymd.month());
    if (!((e.months() >> mo) & 1)) {
      int next = NextBit(e.months(), static_cast<int>(mo) + 1);
      date::year y = ymd.year();
      if (next < 0) {
        y += date::years{1};
        next = NextBit(e.months(), 1);
      }
      t = FirstOfMonth(y, date::month(static_cast<unsigned>(next)));
      continue;
    }
    unsigned d = static_cast<unsigned>(ymd.day());
    if (!DayMatches(e, d, date::weekday(day).c_encoding())) {
      if (DaysAreAnded(e)) {
        // Only days of the day-of-month set can match: jump to the next one in this month.
        unsigned dim = DaysInMonth(ymd.year(), ymd.month());
        int next = NextBit(e.days_of_month(), static_cast<int>(d) + 1);
        if (next > 0 && static_cast<unsigned>(next) <= dim) {
          t = LocalMin(day + date::days{next - static_cast<int>(d)});
        } else {
          t = LocalMin(date::local_days((ymd.year() / ymd.month() + date::months{1}) / 1));
        }
      } else {
        t = LocalMin(day + date::days{1});
      }
      continue;
    }
    int tod = static_cast<int>((t - day).count());
    int h = tod / 60;
    int m = tod % 60;
    int nh = NextBit(e.hours(), h);
    if (nh < 0) {
      t = LocalMin(day + date::days{1});
      continue;
    }
    if (nh != h) {
      t = LocalMin(day + std::chrono::hours{nh});
      continue;
    }
    int nm = NextBit(e.minutes(), m);
    if (nm < 0) {
      t = LocalMin(day + std::chrono::hours{h + 1});
      continue;
    }
    LocalMin found = day + std::chrono::hours{h} + minutes{nm};
    if (found < limit) return found;
    return std::nullopt;
  }
  return std::nullopt;
}

// The last matching wall time in [limit, t].
std::optional<LocalMin> PrevLocalMatch(const CronExpr& e, LocalMin t, LocalMin limit) {
  constexpr minutes kOne{1};
  while (t >= limit) {
    date::local_days day = std::chrono::floor<date::days>(t);
    date::year_month_day ymd{day};
    unsigned mo = static_cast<unsigned>(ymd.month());
    if (!((e.months() >> mo) & 1)) {
      int prev = PrevBit(e.months(), static_cast<int>(mo) - 1);
      date::year y = ymd.year();
      if (prev < 1) {
        y -= date::years{1};
        prev = PrevBit(e.months(), 12);
      }
      t = LocalMin(date::local_days(
              (y / date::month(static_cast<unsigned>(prev)) + date::months{1}) / 1)) -
          kOne;
      continue;
    }
    unsigned d = static_cast<unsigned>(ymd.day());
    if (!DayMatches(e, d, date::weekday(day).c_encoding())) {
      if (DaysAreAnded(e)) {
        int prev = PrevBit(e.days_of_month(), static_cast<int>(d) - 1);
        if (prev >= 1) {
          t = LocalMin(day - date::days{static_cast<int>(d) - prev - 1}) - kOne;
        } else {
          t = FirstOfMonth(ymd.year(), ymd.month()) - kOne;
        }
      } else {
        t = LocalMin(day) - kOne;
      }
      continue;
    }
    int tod = static_cast<int>((t - day).count());
    int h = tod / 60;
    int m = tod % 60;
    int ph = PrevBit(e.hours(), h);
    if (ph < 0) {
      t = LocalMin(day) - kOne;
      continue;
    }
    if (ph != h) {
      t = day + std::chrono::hours{ph} + minutes{59};
      continue;
    }
    int pm = PrevBit(e.minutes(), m);
    if (pm < 0) {
      t = day + std::chrono::hours{h} - kOne;
      continue;
    }
    LocalMin found = day + std::chrono::hours{h} + minutes{pm};
    if (found >= limit) return found;
    return std::nullopt;
  }
  return std::nullopt;
}

// The first whole local minute at or after instant `t` seen with UTC offset `offset`.
LocalMin CeilLocal(date::sys_seconds t, seconds offset) {
  return std::chrono::ceil<minutes>(date::local_seconds{t.time_since_epoch() + offset});
}

TimePoint ToInstant(LocalMin wall, seconds offset) {
  return TimePoint(std::chrono::duration_cast<Millis>(wall.time_since_epoch() - offset));
}

// The first local minute of `info`'s period whose wall time did not already occur in the
// period before (after a fall-back, the repeated wall times come first).
LocalMin FirstNewWallTime(const date::time_zone& tz, const date::sys_info& info) {
  LocalMin start = CeilLocal(info.begin, info.offset);
  date::sys_info before = tz.get_info(info.begin - seconds{1});
  if (before.offset > info.offset) start = std::max(start, CeilLocal(info.begin, before.offset));
  return start;
}

const LocalMin kFirstSupported = LocalMin(date::local_days(date::year{1} / 1 / 1));
const LocalMin kEndSupported = LocalMin(date::local_days(date::year{10000} / 1 / 1));
constexpr minutes kSearchSpan = std::chrono::duration_cast<minutes>(date::years{kSearchYears});

std::string Context(const CronExpr& e) { return "cron '" + e.text() + "'"; }

Status CheckArgs(const CronExpr& e, const date::time_zone* tz, TimePoint t) {
  if (tz == nullptr) return InvalidArgument(Context(e) + ": no time zone given");
  date::sys_days day = std::chrono::floor<date::days>(t);
  if (day < date::sys_days(date::year{1} / 1 / 1) ||
      day >= date::sys_days(date::year{10000} / 1 / 1)) {
    return InvalidArgument(Context(e) + ": time " + std::to_string(ToEpochMillis(t)) +
                           " ms since the epoch is outside the supported years 1-9999");
  }
  return Status::Ok();
}

Status NoFire(const CronExpr& e, std::string_view direction, TimePoint t) {
  return NotFound(Context(e) + ": no fire time " + std::string(direction) + " " + FormatIso8601(t) +
                  " within " + std::to_string(kSearchYears) +
                  " years and the supported years 1-9999");
}

}  // namespace

bool CronExpr::Matches(int year, int month, int day, int hour, int minute) const {
  date::year_month_day ymd{date::year{year}, date::month(static_cast<unsigned>(month)),
                           date::day(static_cast<unsigned>(day))};
  if (!ymd.ok() || hour < 0 || hour > 23 || minute < 0 || minute > 59) return false;
  return ((months_ >> month) & 1) &&
         DayMatches(*this, static_cast<unsigned>(day),
                    date::weekday(date::sys_days(ymd)).c_encoding()) &&
         ((hours_ >> hour) & 1) && ((minutes_ >> minute) & 1);
}

Result<CronExpr> ParseCron(std::string_view text) {
  std::string_view trimmed = Trim(text);
  CronExpr expr;
  expr.text_ = std::string(trimmed);
  std::string context = "cron '" + expr.text_ + "'";
  std::vector<std::string_view> fields = SplitWhitespace(trimmed);
  if (!fields.empty() && fields[0].front() == '@') {
    std::string lower = ToLower(fields[0]);
    if (lower == "@reboot") {
      return InvalidArgument(context + ": @reboot is not a time schedule; use one of " +
                             std::string(kMacroList) + " or 5 fields (" + std::string(kFieldList) +
                             ")");
    }
    std::optional<std::string_view> macro = ExpandMacro(lower);
    if (!macro) {
      return InvalidArgument(context + ": unknown macro '" + std::string(fields[0]) +
                             "'; use one of " + std::string(kMacroList) + " or @annually");
    }
    if (fields.size() > 1) {
      return InvalidArgument(context + ": a macro stands alone; remove '" + std::string(fields[1]) +
                             "'");
    }
    fields = SplitWhitespace(*macro);
  }
  if (fields.size() != 5) {
    return InvalidArgument(context + ": expected 5 fields (" + std::string(kFieldList) +
                           ") or a macro such as @daily, got " + std::to_string(fields.size()));
  }
  std::array<ParsedField, 5> parsed;
  for (size_t i = 0; i < 5; ++i) {
    Result<ParsedField> f = ParseField(kFields[i], fields[i]);
    if (!f.ok()) {
      return InvalidArgument(context + ": " + std::string(kFields[i].name) + ": " +
                             f.status().message());
    }
    parsed[i] = *f;
  }
  expr.minutes_ = parsed[0].bits;
  expr.hours_ = static_cast<uint32_t>(parsed[1].bits);
  expr.days_ = static_cast<uint32_t>(parsed[2].bits);
  expr.months_ = static_cast<uint16_t>(parsed[3].bits);
  uint64_t weekdays = parsed[4].bits;
  if (weekdays & (uint64_t{1} << 7)) weekdays = (weekdays | 1) & ~(uint64_t{1} << 7);
  expr.weekdays_ = static_cast<uint8_t>(weekdays);
  expr.day_of_month_star_ = parsed[2].star;
  expr.day_of_week_star_ = parsed[4].star;
  expr.interval_ = parsed[1].wild_or_step;

  // When the days are ANDed, a day-of-month that no selected month has can never fire. (Any
  // existing date falls on every weekday in some year, so the weekday cannot make it impossible,
  // and when the days are ORed the weekdays alone fire.) Months are checked with Feb 29.
  if (DaysAreAnded(expr)) {
    static constexpr std::array<unsigned, 13> kMaxDays = {0,  31, 29, 31, 30, 31, 30,
                                                          31, 31, 30, 31, 30, 31};
    bool possible = false;
    for (unsigned m = 1; m <= 12 && !possible; ++m) {
      if (!((expr.months_ >> m) & 1)) continue;
      uint32_t fitting = expr.days_ & static_cast<uint32_t>((uint64_t{2} << kMaxDays[m]) - 1);
      possible = fitting != 0;
    }
    if (!possible) {
      return InvalidArgument(context + ": never fires: day-of-month '" + std::string(fields[2]) +
                             "' does not occur in month '" + std::string(fields[3]) + "'");
    }
  }
  return expr;
}

Result<const date::time_zone*> LocateZone(std::string_view name) {
  constexpr std::string_view kExamples = "(e.g. Europe/Berlin, America/New_York, UTC)";
  if (name.empty()) {
    return InvalidArgument("timezone: empty; give an IANA time zone " + std::string(kExamples));
  }
  try {
    date::get_tzdb();
  } catch (const std::exception& ex) {
    return Internal(std::string("timezone database: cannot load /usr/share/zoneinfo (install the "
                                "tzdata package): ") +
                    ex.what());
  }
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return InvalidArgument("timezone '" + std::string(name) + "': unknown IANA time zone " +
                           std::string(kExamples));
  }
}

// Walks the zone's periods of constant UTC offset from the one holding `after`. Within a period
// wall time and real time advance together, so the first matching wall time in its range is the
// answer; between periods, a spring-forward gap fires at the boundary if a skipped wall time
// matches, and after a fall-back fixed-time schedules skip the wall times already seen.
Result<TimePoint> NextFire(const CronExpr& expr, const date::time_zone* tz, TimePoint after) {
  WEIR_RETURN_IF_ERROR(CheckArgs(expr, tz, after));
  try {
    date::sys_info info = tz->get_info(std::chrono::floor<seconds>(after));
    LocalMin local_after = std::chrono::floor<minutes>(
        date::local_time<Millis>{after.time_since_epoch() + info.offset});
    LocalMin from = local_after + minutes{1};
    if (!expr.interval()) from = std::max(from, FirstNewWallTime(*tz, info));
    LocalMin search_end = std::min(local_after + kSearchSpan, kEndSupported);
    while (true) {
      LocalMin period_end = CeilLocal(info.end, info.offset);
      if (auto m = NextLocalMatch(expr, from, std::min(period_end, search_end))) {
        return ToInstant(*m, info.offset);
      }
      if (period_end >= search_end) return NoFire(expr, "after", after);
      date::sys_seconds boundary = info.end;
      date::sys_info next = tz->get_info(boundary);
      if (next.offset > info.offset && NextLocalMatch(expr, CeilLocal(boundary, info.offset),
                                                      CeilLocal(boundary, next.offset))) {
        return TimePoint(boundary);
      }
      from = expr.interval() ? CeilLocal(boundary, next.offset) : FirstNewWallTime(*tz, next);
      info = next;
    }
  } catch (const std::exception& ex) {
    return Internal(Context(expr) + ": time zone data: " + ex.what());
  }
}

Result<TimePoint> NextFire(const CronExpr& expr, std::string_view zone, TimePoint after) {
  WEIR_ASSIGN_OR_RETURN(const date::time_zone* tz, LocateZone(zone));
  return NextFire(expr, tz, after);
}

// The mirror image of NextFire, walking periods backwards.
Result<TimePoint> PrevFire(const CronExpr& expr, const date::time_zone* tz, TimePoint before) {
  WEIR_RETURN_IF_ERROR(CheckArgs(expr, tz, before));
  try {
    TimePoint last = before - Millis{1};  // the latest instant that may be returned
    date::sys_info info = tz->get_info(std::chrono::floor<seconds>(last));
    LocalMin upto = std::chrono::floor<minutes>(
        date::local_time<Millis>{last.time_since_epoch() + info.offset});
    LocalMin search_start = std::max(upto - kSearchSpan, kFirstSupported);
    while (true) {
      LocalMin period_start =
          expr.interval() ? CeilLocal(info.begin, info.offset) : FirstNewWallTime(*tz, info);
      if (auto m = PrevLocalMatch(expr, upto, std::max(period_start, search_start))) {
        return ToInstant(*m, info.offset);
      }
      if (period_start <= search_start) return NoFire(expr, "before", before);
      date::sys_seconds boundary = info.begin;
      date::sys_info prev = tz->get_info(boundary - seconds{1});
      if (info.offset > prev.offset && NextLocalMatch(expr, CeilLocal(boundary, prev.offset),
                                                      CeilLocal(boundary, info.offset))) {
        return TimePoint(boundary);
      }
      upto = CeilLocal(boundary, prev.offset) - minutes{1};
      info = prev;
    }
  } catch (const std::exception& ex) {
    return Internal(Context(expr) + ": time zone data: " + ex.what());
  }
}

Result<std::vector<TimePoint>> FiresBetween(const CronExpr& expr, const date::time_zone* tz,
                                            TimePoint from, TimePoint to, size_t max) {
  WEIR_RETURN_IF_ERROR(CheckArgs(expr, tz, from));
  std::vector<TimePoint> fires;
  TimePoint t = from;
  while (fires.size() < max && t < to) {
    Result<TimePoint> next = NextFire(expr, tz, t);
    if (!next.ok()) {
      if (next.status().code() == StatusCode::kNotFound) break;
      return next.status();
    }
    if (*next > to) break;
    fires.push_back(*next);
    t = *next;
  }
  return fires;
}

}  // namespace weir::cron
