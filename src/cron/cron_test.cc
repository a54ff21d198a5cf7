#include "cron/cron.h"

#include <date/date.h>
#include <date/tz.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "common/time_format.h"

namespace weir::cron {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TimePoint Utc(const std::string& iso) {
  Result<TimePoint> t = ParseIso8601(iso);
  EXPECT_TRUE(t.ok()) << iso << ": " << t.status();
  return t.value_or(TimePoint{});
}

TimePoint UtcDay(int y, unsigned m, unsigned d) {
  return TimePoint(date::sys_days(date::year{y} / date::month{m} / date::day{d}));
}

const date::time_zone* Zone(std::string_view name) {
  Result<const date::time_zone*> tz = LocateZone(name);
  EXPECT_TRUE(tz.ok()) << tz.status();
  return tz.value_or(nullptr);
}

// "2026-03-29 03:00 CEST": the wall time and zone abbreviation, which together name one instant.
std::string Local(const date::time_zone* tz, TimePoint t) {
  return date::format("%F %R %Z", date::make_zoned(tz, t));
}

CronExpr MustParse(std::string_view text) {
  Result<CronExpr> e = ParseCron(text);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status();
  if (!e.ok()) return *ParseCron("* * * * *");
  return *e;
}

// "0,15,30,45" / "9-17" / "*" (every value from lo to hi).
std::string Values(uint64_t bits, int lo, int hi) {
  bool all = true;
  for (int v = lo; v <= hi; ++v) all = all && ((bits >> v) & 1);
  if (all) return "*";
  std::string out;
  for (int v = lo; v <= hi; ++v) {
    if (!((bits >> v) & 1)) continue;
    int end = v;
    while (end + 1 <= hi && ((bits >> (end + 1)) & 1)) ++end;
    if (!out.empty()) out += ",";
    out += std::to_string(v);
    if (end >= v + 2) {
      out += "-" + std::to_string(end);
      v = end;
    }
  }
  return out;
}

std::string Sets(const CronExpr& e) {
  return "m=" + Values(e.minutes(), 0, 59) + " h=" + Values(e.hours(), 0, 23) +
         " dom=" + Values(e.days_of_month(), 1, 31) + " mon=" + Values(e.months(), 1, 12) +
         " dow=" + Values(e.days_of_week(), 0, 6);
}

// The first `n` fires after `after`, shown as local wall times.
std::vector<std::string> Fires(std::string_view zone, std::string_view expr, TimePoint after,
                               int n) {
  const date::time_zone* tz = Zone(zone);
  CronExpr e = MustParse(expr);
  std::vector<std::string> out;
  TimePoint t = after;
  for (int i = 0; i < n; ++i) {
    Result<TimePoint> next = NextFire(e, tz, t);
    if (!next.ok()) {
      out.push_back(next.status().ToString());
      break;
    }
    out.push_back(Local(tz, *next));
    t = *next;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsing

struct ParseCase {
  std::string text;
  std::string sets;
};

TEST(ParseCron, AcceptsEverySyntax) {
  const std::vector<ParseCase> cases = {
      {"* * * * *", "m=* h=* dom=* mon=* dow=*"},
      {"0 0 1 1 0", "m=0 h=0 dom=1 mon=1 dow=0"},
      {"59 23 31 12 6", "m=59 h=23 dom=31 mon=12 dow=6"},
      {"*/15 * * * *", "m=0,15,30,45 h=* dom=* mon=* dow=*"},
      {"5-10 * * * *", "m=5-10 h=* dom=* mon=* dow=*"},
      {"0-30/10 * * * *", "m=0,10,20,30 h=* dom=* mon=* dow=*"},
      {"10/20 * * * *", "m=10,30,50 h=* dom=* mon=* dow=*"},
      {"1,5,10-12 * * * *", "m=1,5,10-12 h=* dom=* mon=* dow=*"},
      {"0 */6 * * *", "m=0 h=0,6,12,18 dom=* mon=* dow=*"},
      {"0 9-17 * * MON-FRI", "m=0 h=9-17 dom=* mon=* dow=1-5"},
      {"0 0 */10 * *", "m=0 h=0 dom=1,11,21,31 mon=* dow=*"},
      {"0 0 * JAN,jun,Dec *", "m=0 h=0 dom=* mon=1,6,12 dow=*"},
      {"0 0 * feb-APR *", "m=0 h=0 dom=* mon=2-4 dow=*"},
      {"0 0 * */3 *", "m=0 h=0 dom=* mon=1,4,7,10 dow=*"},
      {"0 0 * * 7", "m=0 h=0 dom=* mon=* dow=0"},
      {"0 0 * * 5-7", "m=0 h=0 dom=* mon=* dow=0,5,6"},
      {"0 0 * * sun,Sat", "m=0 h=0 dom=* mon=* dow=0,6"},
      {"0 0 * * */2", "m=0 h=0 dom=* mon=* dow=0,2,4,6"},
      {"0 0 * * 1/2", "m=0 h=0 dom=* mon=* dow=1,3,5"},
      {"0 0 * * MON-SUN", "m=0 h=0 dom=* mon=* dow=*"},
      {"0 0 * * FRI-SUN", "m=0 h=0 dom=* mon=* dow=0,5,6"},
      {"0 0 * * 5-0", "m=0 h=0 dom=* mon=* dow=0,5,6"},
      {"0 0 * * 0-2", "m=0 h=0 dom=* mon=* dow=0-2"},
      {"  0\t0   *  * *  ", "m=0 h=0 dom=* mon=* dow=*"},
      {"@hourly", "m=0 h=* dom=* mon=* dow=*"},
      {"@daily", "m=0 h=0 dom=* mon=* dow=*"},
      {"@midnight", "m=0 h=0 dom=* mon=* dow=*"},
      {"@DAILY", "m=0 h=0 dom=* mon=* dow=*"},
      {"@weekly", "m=0 h=0 dom=* mon=* dow=0"},
      {"@monthly", "m=0 h=0 dom=1 mon=* dow=*"},
      {"@yearly", "m=0 h=0 dom=1 mon=1 dow=*"},
      {"@annually", "m=0 h=0 dom=1 mon=1 dow=*"},
      {"0 0 30 2 MON", "m=0 h=0 dom=30 mon=2 dow=1"},  // ORed days: fires on February Mondays
  };
  for (const ParseCase& c : cases) {
    Result<CronExpr> e = ParseCron(c.text);
    ASSERT_TRUE(e.ok()) << c.text << ": " << e.status();
    EXPECT_EQ(Sets(*e), c.sets) << c.text;
  }
}

// The forms workflow validation accepted before it shared this engine (shared/spec/dataflow.md).
TEST(ParseCron, AcceptsTheWorkflowScheduleForms) {
  const std::vector<ParseCase> cases = {
      {"0 9-17/2 * * MON-FRI", "m=0 h=9,11,13,15,17 dom=* mon=* dow=1-5"},
      {"30 2 1,15 jan,Jul *", "m=30 h=2 dom=1,15 mon=1,7 dow=*"},
      {"0 0 29 2 *", "m=0 h=0 dom=29 mon=2 dow=*"},  // fires in leap years
      {"*/20 9-11 1,15 FEB-MAR sun,6", "m=0,20,40 h=9-11 dom=1,15 mon=2,3 dow=0,6"},
      {"5/10 * * * *", "m=5,15,25,35,45,55 h=* dom=* mon=* dow=*"},
  };
  for (const ParseCase& c : cases) {
    Result<CronExpr> e = ParseCron(c.text);
    ASSERT_TRUE(e.ok()) << c.text << ": " << e.status();
    EXPECT_EQ(Sets(*e), c.sets) << c.text;
  }
  CronExpr both = MustParse("*/20 9-11 1,15 FEB-MAR sun,6");
  EXPECT_FALSE(both.day_of_month_star());  // both day fields restricted: days are ORed
  EXPECT_FALSE(both.day_of_week_star());
}

TEST(ParseCron, KeepsTrimmedTextAndFlags) {
  struct Case {
    std::string text;
    bool interval;
    bool dom_star;
    bool dow_star;
  };
  const std::vector<Case> cases = {
      {"30 2 * * *", false, true, true},     {"*/15 * * * *", true, true, true},
      {"0 * * * *", true, true, true},       {"0 */2 * * *", true, true, true},
      {"0 1-5/2 * * *", true, true, true},   {"0 0,12 * * *", false, true, true},
      {"0 9-17 * * *", false, true, true},   {"0 0 13 * FRI", false, false, false},
      {"0 0 */2 * MON", false, true, false}, {"@hourly", true, true, true},
      {"@daily", false, true, true},         {"@weekly", false, true, false},
  };
  for (const Case& c : cases) {
    CronExpr e = MustParse(c.text);
    EXPECT_EQ(e.interval(), c.interval) << c.text;
    EXPECT_EQ(e.day_of_month_star(), c.dom_star) << c.text;
    EXPECT_EQ(e.day_of_week_star(), c.dow_star) << c.text;
  }
  EXPECT_EQ(MustParse("  @daily \n").text(), "@daily");
  EXPECT_EQ(MustParse(" 0 0 * * * ").text(), "0 0 * * *");
}

TEST(ParseCron, ErrorsNameFieldTextAndAllowedValues) {
  const std::string kFields =
      "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"61 * * * *", "cron '61 * * * *': minute: 61 is outside 0-59"},
      {"* 24 * * *", "cron '* 24 * * *': hour: 24 is outside 0-23"},
      {"* * 0 * *", "cron '* * 0 * *': day-of-month: 0 is outside 1-31"},
      {"* * 32 * *", "cron '* * 32 * *': day-of-month: 32 is outside 1-31"},
      {"* * * 13 *", "cron '* * * 13 *': month: 13 is outside 1-12"},
      {"* * * 0 *", "cron '* * * 0 *': month: 0 is outside 1-12"},
      {"* * * * 8", "cron '* * * * 8': day-of-week: 8 is outside 0-7"},
      {"9999999999 * * * *", "cron '9999999999 * * * *': minute: 9999999999 is outside 0-59"},
      {"x * * * *", "cron 'x * * * *': minute: 'x' is not a number"},
      {"MON * * * *", "cron 'MON * * * *': minute: 'MON' is not a number"},
      {"-1 * * * *", "cron '-1 * * * *': minute: '-1': a range needs a value on both sides of '-'"},
      {"1- * * * *", "cron '1- * * * *': minute: '1-': a range needs a value on both sides of '-'"},
      {"1-2-3 * * * *", "cron '1-2-3 * * * *': minute: '2-3' is not a number"},
      {"* * * FOO *", "cron '* * * FOO *': month: 'FOO' is not a number or a month name (JAN-DEC)"},
      {"* * * * MONDAY",
       "cron '* * * * MONDAY': day-of-week: 'MONDAY' is not a number or a day name (SUN-SAT)"},
      {"* * * JAN-XYZ *",
       "cron '* * * JAN-XYZ *': month: 'XYZ' is not a number or a month name (JAN-DEC)"},
      {"*/0 * * * *", "cron '*/0 * * * *': minute: step 0 in '*/0' is outside 1-60"},
      {"*/61 * * * *", "cron '*/61 * * * *': minute: step 61 in '*/61' is outside 1-60"},
      {"0 */25 * * *", "cron '0 */25 * * *': hour: step 25 in '*/25' is outside 1-24"},
      {"*/x * * * *", "cron '*/x * * * *': minute: step 'x' in '*/x' is not a number"},
      {"5/ * * * *", "cron '5/ * * * *': minute: '5/': missing step after '/'"},
      {"30-10 * * * *",
       "cron '30-10 * * * *': minute: range 30-10 runs backwards (start after end); for a range "
       "that wraps around write 30-59,0-10"},
      {"0 0 * * FRI-MON",
       "cron '0 0 * * FRI-MON': day-of-week: range FRI-MON runs backwards (start after end); for "
       "a range that wraps around write FRI-SAT,SUN-MON"},
      {"0 0 * * SAT-MON",
       "cron '0 0 * * SAT-MON': day-of-week: range SAT-MON runs backwards (start after end); for "
       "a range that wraps around write SAT,SUN-MON"},
      {"0 0 * DEC-JAN *",
       "cron '0 0 * DEC-JAN *': month: range DEC-JAN runs backwards (start after end); for a "
       "range that wraps around write DEC,JAN"},
      {"0 23-0 * * *",
       "cron '0 23-0 * * *': hour: range 23-0 runs backwards (start after end); for a range that "
       "wraps around write 23,0"},
      {"0 0 * NOV-FEB *",
       "cron '0 0 * NOV-FEB *': month: range NOV-FEB runs backwards (start after end); for a "
       "range that wraps around write NOV-DEC,JAN-FEB"},
      {"1,,2 * * * *", "cron '1,,2 * * * *': minute: empty element in list '1,,2'"},
      {"1, * * * *", "cron '1, * * * *': minute: empty element in list '1,'"},
      {"", "cron '': " + kFields + ", got 0"},
      {"   ", "cron '': " + kFields + ", got 0"},
      {"* * * *", "cron '* * * *': " + kFields + ", got 4"},
      {"0 * * * * *", "cron '0 * * * * *': " + kFields + ", got 6"},
      {"@often",
       "cron '@often': unknown macro '@often'; use one of @hourly, @daily, @midnight, @weekly, "
       "@monthly, @yearly or @annually"},
      {"@reboot",
       "cron '@reboot': @reboot is not a time schedule; use one of @hourly, @daily, @midnight, "
       "@weekly, @monthly, @yearly or 5 fields (minute hour day-of-month month day-of-week)"},
      {"@daily 5", "cron '@daily 5': a macro stands alone; remove '5'"},
      {"0 0 30 2 *",
       "cron '0 0 30 2 *': never fires: day-of-month '30' does not occur in month '2'"},
      {"0 0 31 4,6,9,11 *",
       "cron '0 0 31 4,6,9,11 *': never fires: day-of-month '31' does not occur in month "
       "'4,6,9,11'"},
      // A day-of-week starting with `*` counts as unrestricted, so the days are ANDed.
      {"0 0 30 FEB */2",
       "cron '0 0 30 FEB */2': never fires: day-of-month '30' does not occur in month 'FEB'"},
  };
  for (const auto& [text, message] : cases) {
    Result<CronExpr> e = ParseCron(text);
    ASSERT_FALSE(e.ok()) << text;
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(e.status().message(), message) << text;
  }
}

TEST(ParseCron, MatchesAppliesTheDayRules) {
  CronExpr ored = MustParse("0 0 13 * FRI");  // 2026-01-13 is a Tuesday, 2026-01-16 a Friday
  EXPECT_TRUE(ored.Matches(2026, 1, 13, 0, 0));
  EXPECT_TRUE(ored.Matches(2026, 1, 16, 0, 0));
  EXPECT_FALSE(ored.Matches(2026, 1, 14, 0, 0));
  EXPECT_FALSE(ored.Matches(2026, 1, 13, 0, 1));
  CronExpr anded = MustParse("0 0 */2 * MON");  // odd days that are Mondays
  EXPECT_TRUE(anded.Matches(2026, 1, 5, 0, 0));
  EXPECT_FALSE(anded.Matches(2026, 1, 12, 0, 0));                   // Monday, even
  EXPECT_FALSE(anded.Matches(2026, 1, 7, 0, 0));                    // odd, Wednesday
  EXPECT_FALSE(MustParse("* * * * *").Matches(2026, 2, 30, 0, 0));  // no such date
}

// ---------------------------------------------------------------------------------------------
// Time zones

TEST(LocateZone, FindsIanaZonesAndExplainsUnknownOnes) {
  const date::time_zone* berlin = Zone("Europe/Berlin");
  ASSERT_NE(berlin, nullptr);
  EXPECT_EQ(berlin->name(), "Europe/Berlin");
  EXPECT_NE(Zone("UTC"), nullptr);
  EXPECT_NE(Zone("America/New_York"), nullptr);

  Result<const date::time_zone*> mars = LocateZone("Mars/Base");
  ASSERT_FALSE(mars.ok());
  EXPECT_EQ(mars.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(mars.status().message(),
            "timezone 'Mars/Base': unknown IANA time zone (e.g. Europe/Berlin, "
            "America/New_York, UTC)");
  EXPECT_FALSE(LocateZone("../../etc/passwd").ok());
  Result<const date::time_zone*> empty = LocateZone("");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("timezone: empty"));
}

TEST(NextFire, RejectsMissingOrUnknownZones) {
  CronExpr e = MustParse("@daily");
  Result<TimePoint> null_zone =
      NextFire(e, static_cast<const date::time_zone*>(nullptr), Utc("2026-01-01T00:00:00Z"));
  ASSERT_FALSE(null_zone.ok());
  EXPECT_EQ(null_zone.status().message(), "cron '@daily': no time zone given");
  Result<TimePoint> by_name = NextFire(e, "Mars/Base", Utc("2026-01-01T00:00:00Z"));
  ASSERT_FALSE(by_name.ok());
  EXPECT_THAT(by_name.status().message(), HasSubstr("timezone 'Mars/Base': unknown"));
  Result<TimePoint> ok = NextFire(e, "Europe/Berlin", Utc("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(FormatIso8601(*ok), "2026-01-01T23:00:00.000Z");
}

// ---------------------------------------------------------------------------------------------
// Fire times in UTC

struct UtcCase {
  std::string expr;
  std::string after;
  std::string next;
};

TEST(NextFire, UtcTable) {
  const std::vector<UtcCase> cases = {
      // strictly after, whole minutes
      {"* * * * *", "2026-01-01T00:00:00.000Z", "2026-01-01T00:01:00.000Z"},
      {"* * * * *", "2026-01-01T00:00:30.500Z", "2026-01-01T00:01:00.000Z"},
      {"* * * * *", "2026-01-01T00:00:59.999Z", "2026-01-01T00:01:00.000Z"},
      {"0 * * * *", "2026-01-01T00:00:00.000Z", "2026-01-01T01:00:00.000Z"},
      {"*/15 * * * *", "2026-01-01T00:59:59.999Z", "2026-01-01T01:00:00.000Z"},
      {"30 2 * * *", "2026-01-01T02:30:00.000Z", "2026-01-02T02:30:00.000Z"},
      {"30 2 * * *", "2026-01-01T02:29:59.999Z", "2026-01-01T02:30:00.000Z"},
      {"0 12 * * *", "2026-12-31T12:00:00.000Z", "2027-01-01T12:00:00.000Z"},
      {"59 23 31 12 *", "2026-12-31T23:59:00.000Z", "2027-12-31T23:59:00.000Z"},
      {"10/20 9 * * *", "2026-01-01T09:30:00.000Z", "2026-01-01T09:50:00.000Z"},
      {"0 1-5/2 * * *", "2026-01-01T01:00:00.000Z", "2026-01-01T03:00:00.000Z"},
      // macros (2026-01-01 is a Thursday)
      {"@hourly", "2026-01-01T00:30:00.000Z", "2026-01-01T01:00:00.000Z"},
      {"@daily", "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"},
      {"@weekly", "2026-01-01T00:00:00.000Z", "2026-01-04T00:00:00.000Z"},
      {"@monthly", "2026-12-15T00:00:00.000Z", "2027-01-01T00:00:00.000Z"},
      {"@yearly", "2026-06-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"},
      {"0 9 * * MON-FRI", "2026-01-02T10:00:00.000Z", "2026-01-05T09:00:00.000Z"},
      {"0 0 * JUN *", "2026-06-30T00:00:00.000Z", "2027-06-01T00:00:00.000Z"},
      // both day fields restricted: the 13th OR a Friday
      {"0 0 13 * FRI", "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"},
      {"0 0 13 * FRI", "2026-01-10T00:00:00.000Z", "2026-01-13T00:00:00.000Z"},
      {"0 0 13 * FRI", "2026-01-13T00:00:00.000Z", "2026-01-16T00:00:00.000Z"},
      // day-of-month starts with `*`: odd days AND Mondays
      {"0 0 */2 * MON", "2026-01-01T00:00:00.000Z", "2026-01-05T00:00:00.000Z"},
      {"0 0 */2 * MON", "2026-01-05T00:00:00.000Z", "2026-01-19T00:00:00.000Z"},
      // the 31st skips short months
      {"0 0 31 * *", "2026-01-31T00:00:00.000Z", "2026-03-31T00:00:00.000Z"},
      {"0 0 31 * *", "2026-03-31T00:00:00.000Z", "2026-05-31T00:00:00.000Z"},
      {"0 0 31 * *", "2026-07-31T00:00:00.000Z", "2026-08-31T00:00:00.000Z"},
      // Feb 29 waits for the next leap year; 2100 is not one
      {"0 0 29 2 *", "2026-01-01T00:00:00.000Z", "2028-02-29T00:00:00.000Z"},
      {"0 0 29 2 *", "2028-02-29T00:00:00.000Z", "2032-02-29T00:00:00.000Z"},
      {"0 0 29 2 *", "2096-03-01T00:00:00.000Z", "2104-02-29T00:00:00.000Z"},
      // Feb 29 that is also a Sunday (days ANDed): next in 2032, then 2060
      {"0 0 29 2 */7", "2026-01-01T00:00:00.000Z", "2032-02-29T00:00:00.000Z"},
      {"0 0 29 2 */7", "2032-03-01T00:00:00.000Z", "2060-02-29T00:00:00.000Z"},
  };
  const date::time_zone* utc = Zone("UTC");
  for (const UtcCase& c : cases) {
    Result<TimePoint> next = NextFire(MustParse(c.expr), utc, Utc(c.after));
    ASSERT_TRUE(next.ok()) << c.expr << " after " << c.after << ": " << next.status();
    EXPECT_EQ(FormatIso8601(*next), c.next) << c.expr << " after " << c.after;
    // PrevFire walks back to the fire at or before `after`.
    Result<TimePoint> prev = PrevFire(MustParse(c.expr), utc, *next);
    ASSERT_TRUE(prev.ok()) << c.expr << ": " << prev.status();
    EXPECT_LE(*prev, Utc(c.after)) << c.expr << " after " << c.after;
  }
}

TEST(PrevFire, UtcTable) {
  const std::vector<UtcCase> cases = {
      // `after` holds `before` here; `next` the expected previous fire
      {"* * * * *", "2026-01-01T00:01:00.000Z", "2026-01-01T00:00:00.000Z"},
      {"* * * * *", "2026-01-01T00:01:00.001Z", "2026-01-01T00:01:00.000Z"},
      {"30 2 * * *", "2026-01-01T00:00:00.000Z", "2025-12-31T02:30:00.000Z"},
      {"0 0 31 * *", "2026-05-01T00:00:00.000Z", "2026-03-31T00:00:00.000Z"},
      {"0 0 29 2 *", "2104-01-01T00:00:00.000Z", "2096-02-29T00:00:00.000Z"},
      {"0 0 13 * FRI", "2026-01-16T00:00:00.000Z", "2026-01-13T00:00:00.000Z"},
      {"0 0 */2 * MON", "2026-01-19T00:00:00.000Z", "2026-01-05T00:00:00.000Z"},
      {"@yearly", "2026-06-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"},
      {"0 9 * * MON-FRI", "2026-01-05T09:00:00.000Z", "2026-01-02T09:00:00.000Z"},
  };
  const date::time_zone* utc = Zone("UTC");
  for (const UtcCase& c : cases) {
    Result<TimePoint> prev = PrevFire(MustParse(c.expr), utc, Utc(c.after));
    ASSERT_TRUE(prev.ok()) << c.expr << " before " << c.after << ": " << prev.status();
    EXPECT_EQ(FormatIso8601(*prev), c.next) << c.expr << " before " << c.after;
  }
}

TEST(NextFire, StopsAtTheEndOfTheSupportedRange) {
  CronExpr yearly = MustParse("@yearly");
  const date::time_zone* utc = Zone("UTC");
  Result<TimePoint> last = NextFire(yearly, utc, UtcDay(9998, 6, 1));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, UtcDay(9999, 1, 1));
  Result<TimePoint> none = NextFire(yearly, utc, UtcDay(9999, 6, 1));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("cron '@yearly': no fire time after"));
  Result<TimePoint> out_of_range = NextFire(yearly, utc, UtcDay(10000, 1, 2));
  ASSERT_FALSE(out_of_range.ok());
  EXPECT_EQ(out_of_range.status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Daylight saving time.
// Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST, 2026-10-25 03:00 CEST -> 02:00 CET.
// America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT, 2026-11-01 02:00 EDT -> 01:00 EST.

struct DstCase {
  std::string zone;
  std::string expr;
  std::string after;  // UTC
  std::vector<std::string> fires;
};

TEST(NextFire, DstTable) {
  const std::vector<DstCase> cases = {
      // Fixed time inside the skipped hour: once, right after the gap.
      {"Europe/Berlin",
       "30 2 * * *",
       "2026-03-27T12:00:00Z",
       {"2026-03-28 02:30 CET", "2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"}},
      // Fixed time inside the repeated hour: its first occurrence only.
      {"Europe/Berlin",
       "30 2 * * *",
       "2026-10-23T12:00:00Z",
       {"2026-10-24 02:30 CEST", "2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"}},
      // ... also when asked from inside the repeated hour.
      {"Europe/Berlin", "30 2 * * *", "2026-10-25T00:45:00Z", {"2026-10-26 02:30 CET"}},
      {"Europe/Berlin", "30 2 * * *", "2026-10-25T01:10:00Z", {"2026-10-26 02:30 CET"}},
      // Several skipped times fire once.
      {"Europe/Berlin",
       "0,30 2 * * *",
       "2026-03-28T12:00:00Z",
       {"2026-03-29 03:00 CEST", "2026-03-30 02:00 CEST", "2026-03-30 02:30 CEST"}},
      // Interval schedules keep their real-time pace.
      {"Europe/Berlin",
       "*/15 * * * *",
       "2026-03-29T00:30:00Z",
       {"2026-03-29 01:45 CET", "2026-03-29 03:00 CEST", "2026-03-29 03:15 CEST"}},
      {"Europe/Berlin",
       "*/15 * * * *",
       "2026-10-25T00:15:00Z",
       {"2026-10-25 02:30 CEST", "2026-10-25 02:45 CEST", "2026-10-25 02:00 CET",
        "2026-10-25 02:15 CET", "2026-10-25 02:30 CET", "2026-10-25 02:45 CET",
        "2026-10-25 03:00 CET"}},
      {"Europe/Berlin",
       "0 * * * *",
       "2026-03-28T23:30:00Z",
       {"2026-03-29 01:00 CET", "2026-03-29 03:00 CEST", "2026-03-29 04:00 CEST"}},
      {"Europe/Berlin",
       "0 * * * *",
       "2026-10-24T23:30:00Z",
       {"2026-10-25 02:00 CEST", "2026-10-25 02:00 CET", "2026-10-25 03:00 CET"}},
      {"Europe/Berlin",
       "0 */2 * * *",
       "2026-03-28T22:30:00Z",
       {"2026-03-29 00:00 CET", "2026-03-29 03:00 CEST", "2026-03-29 04:00 CEST"}},
      // Midnight is untouched; the day of the change is 23 or 25 hours long.
      {"Europe/Berlin",
       "@daily",
       "2026-03-27T12:00:00Z",
       {"2026-03-28 00:00 CET", "2026-03-29 00:00 CET", "2026-03-30 00:00 CEST"}},
      {"Europe/Berlin",
       "@daily",
       "2026-10-24T12:00:00Z",
       {"2026-10-25 00:00 CEST", "2026-10-26 00:00 CET"}},
      // Day rules and calendar gaps in a zone.
      {"Europe/Berlin",
       "0 0 13 * FRI",
       "2026-03-10T00:00:00Z",
       {"2026-03-13 00:00 CET", "2026-03-20 00:00 CET", "2026-03-27 00:00 CET",
        "2026-04-03 00:00 CEST", "2026-04-10 00:00 CEST", "2026-04-13 00:00 CEST"}},
      {"Europe/Berlin",
       "0 0 31 * *",
       "2026-01-31T12:00:00Z",
       {"2026-03-31 00:00 CEST", "2026-05-31 00:00 CEST", "2026-07-31 00:00 CEST"}},
      {"Europe/Berlin",
       "0 0 29 2 *",
       "2026-01-01T00:00:00Z",
       {"2028-02-29 00:00 CET", "2032-02-29 00:00 CET"}},

      {"America/New_York",
       "30 2 * * *",
       "2026-03-06T12:00:00Z",
       {"2026-03-07 02:30 EST", "2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"}},
      // 02:30 exists once on 2026-11-01 in New York; 01:30 is the repeated one.
      {"America/New_York",
       "30 2 * * *",
       "2026-10-30T12:00:00Z",
       {"2026-10-31 02:30 EDT", "2026-11-01 02:30 EST", "2026-11-02 02:30 EST"}},
      {"America/New_York",
       "30 1 * * *",
       "2026-10-30T12:00:00Z",
       {"2026-10-31 01:30 EDT", "2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"}},
      {"America/New_York",
       "*/15 * * * *",
       "2026-03-08T06:30:00Z",
       {"2026-03-08 01:45 EST", "2026-03-08 03:00 EDT", "2026-03-08 03:15 EDT"}},
      {"America/New_York",
       "*/15 * * * *",
       "2026-11-01T05:30:00Z",
       {"2026-11-01 01:45 EDT", "2026-11-01 01:00 EST", "2026-11-01 01:15 EST",
        "2026-11-01 01:30 EST", "2026-11-01 01:45 EST", "2026-11-01 02:00 EST"}},
      {"America/New_York",
       "0 * * * *",
       "2026-11-01T04:30:00Z",
       {"2026-11-01 01:00 EDT", "2026-11-01 01:00 EST", "2026-11-01 02:00 EST"}},
      {"America/New_York",
       "0 * * * *",
       "2026-03-08T05:30:00Z",
       {"2026-03-08 01:00 EST", "2026-03-08 03:00 EDT", "2026-03-08 04:00 EDT"}},
      {"America/New_York",
       "@daily",
       "2026-03-07T12:00:00Z",
       {"2026-03-08 00:00 EST", "2026-03-09 00:00 EDT"}},
      {"America/New_York",
       "0 0 31 * *",
       "2026-10-31T12:00:00Z",
       {"2026-12-31 00:00 EST", "2027-01-31 00:00 EST", "2027-03-31 00:00 EDT"}},
      {"America/New_York", "0 0 29 2 *", "2026-01-01T00:00:00Z", {"2028-02-29 00:00 EST"}},
  };
  for (const DstCase& c : cases) {
    EXPECT_EQ(Fires(c.zone, c.expr, Utc(c.after), static_cast<int>(c.fires.size())), c.fires)
        << c.zone << " '" << c.expr << "' after " << c.after;
  }
}

TEST(NextFire, SkippedTimeFiresAtTheEndOfTheGapInstant) {
  // The fire for a skipped 02:30 is the very instant the gap ends: 01:00 UTC in Berlin.
  const date::time_zone* berlin = Zone("Europe/Berlin");
  Result<TimePoint> t = NextFire(MustParse("30 2 * * *"), berlin, Utc("2026-03-28T12:00:00Z"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(FormatIso8601(*t), "2026-03-29T01:00:00.000Z");
}

// Every fire between two instants, computed the slow way: each UTC minute whose wall time
// matches (skipping the second pass through a repeated hour unless the schedule is an interval
// one), plus each spring-forward boundary whose skipped wall times include a match.
std::vector<TimePoint> OracleFires(const CronExpr& e, const date::time_zone* tz, TimePoint from,
                                   TimePoint to) {
  std::set<TimePoint> fires;
  auto first = std::chrono::floor<std::chrono::minutes>(from) + std::chrono::minutes{1};
  for (auto u = date::sys_seconds(first); u <= to; u += std::chrono::minutes{1}) {
    date::sys_info info = tz->get_info(u);
    auto wall = date::local_seconds{u.time_since_epoch() + info.offset};
    date::local_days day = std::chrono::floor<date::days>(wall);
    date::year_month_day ymd{day};
    date::hh_mm_ss<std::chrono::seconds> tod{wall - day};
    bool match =
        e.Matches(static_cast<int>(ymd.year()), static_cast<int>(unsigned(ymd.month())),
                  static_cast<int>(unsigned(ymd.day())), static_cast<int>(tod.hours().count()),
                  static_cast<int>(tod.minutes().count()));
    if (!match) continue;
    date::local_info li = tz->get_info(wall);
    bool repeat = li.result == date::local_info::ambiguous && info.offset == li.second.offset;
    if (repeat && !e.interval()) continue;
    fires.insert(TimePoint(u));
  }
  // Spring-forward boundaries in the window.
  for (date::sys_info info = tz->get_info(std::chrono::floor<std::chrono::seconds>(from));
       info.end <= to; info = tz->get_info(info.end)) {
    date::sys_info next = tz->get_info(info.end);
    if (next.offset <= info.offset || TimePoint(info.end) <= from) continue;
    for (auto wall = date::local_seconds{info.end.time_since_epoch() + info.offset};
         wall < date::local_seconds{info.end.time_since_epoch() + next.offset};
         wall += std::chrono::minutes{1}) {
      date::local_days day = std::chrono::floor<date::days>(wall);
      date::year_month_day ymd{day};
      date::hh_mm_ss<std::chrono::seconds> tod{wall - day};
      if (e.Matches(static_cast<int>(ymd.year()), static_cast<int>(unsigned(ymd.month())),
                    static_cast<int>(unsigned(ymd.day())), static_cast<int>(tod.hours().count()),
                    static_cast<int>(tod.minutes().count()))) {
        fires.insert(TimePoint(info.end));
        break;
      }
    }
  }
  return {fires.begin(), fires.end()};
}

TEST(NextFire, AgreesWithMinuteByMinuteOracleAroundEveryTransition) {
  const std::vector<std::string> zones = {"Europe/Berlin",       "America/New_York",
                                          "Australia/Lord_Howe",  // 30-minute DST shift
                                          "America/Santiago",     // changes at midnight
                                          "Asia/Kathmandu",      "UTC"};
  const std::vector<std::string> exprs = {
      "30 2 * * *",    "0,30 2 * * *", "*/15 * * * *", "0 * * * *",   "@daily",
      "*/7 1-3 * * *", "15 */2 * * *", "45 1 * * *",   "0 0 * * SUN", "* 2 * * *",
      "10 0 * * *",    "0 0 1 * *",    "30 23 * * *"};
  for (const std::string& zone : zones) {
    const date::time_zone* tz = Zone(zone);
    // Windows of two days around each 2026 transition (or one window for zones without DST).
    std::vector<TimePoint> centers;
    for (date::sys_info info = tz->get_info(date::sys_days(date::year{2026} / 1 / 1));
         info.end < date::sys_days(date::year{2027} / 1 / 1); info = tz->get_info(info.end)) {
      centers.push_back(TimePoint(info.end));
    }
    if (centers.empty()) centers.push_back(UtcDay(2026, 6, 1));
    for (TimePoint center : centers) {
      TimePoint from = center - std::chrono::hours{24} + std::chrono::seconds{17};
      TimePoint to = center + std::chrono::hours{24};
      for (const std::string& text : exprs) {
        CronExpr e = MustParse(text);
        std::vector<TimePoint> expected = OracleFires(e, tz, from, to);
        Result<std::vector<TimePoint>> got = FiresBetween(e, tz, from, to, 100000);
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_EQ(*got, expected) << zone << " '" << text << "' around " << Local(tz, center);
        // Walking backwards with PrevFire visits the same instants.
        std::vector<TimePoint> backwards;
        for (TimePoint t = to + Millis{1};;) {
          Result<TimePoint> prev = PrevFire(e, tz, t);
          ASSERT_TRUE(prev.ok()) << prev.status();
          if (*prev <= from) break;
          backwards.insert(backwards.begin(), *prev);
          t = *prev;
        }
        EXPECT_EQ(backwards, expected) << zone << " '" << text << "' backwards";
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// FiresBetween

TEST(FiresBetween, ExcludesFromIncludesToAndStopsAtMax) {
  const date::time_zone* utc = Zone("UTC");
  CronExpr quarter = MustParse("*/15 * * * *");
  auto fmt = [](const std::vector<TimePoint>& ts) {
    std::vector<std::string> out;
    for (TimePoint t : ts) out.push_back(FormatIso8601(t));
    return out;
  };
  Result<std::vector<TimePoint>> all =
      FiresBetween(quarter, utc, Utc("2026-01-01T00:00:00Z"), Utc("2026-01-01T01:00:00Z"), 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(fmt(*all), ElementsAre("2026-01-01T00:15:00.000Z", "2026-01-01T00:30:00.000Z",
                                     "2026-01-01T00:45:00.000Z", "2026-01-01T01:00:00.000Z"));

  Result<std::vector<TimePoint>> two =
      FiresBetween(quarter, utc, Utc("2026-01-01T00:00:00Z"), Utc("2026-01-01T01:00:00Z"), 2);
  ASSERT_TRUE(two.ok());
  EXPECT_THAT(fmt(*two), ElementsAre("2026-01-01T00:15:00.000Z", "2026-01-01T00:30:00.000Z"));

  EXPECT_TRUE(
      FiresBetween(quarter, utc, Utc("2026-01-01T00:00:00Z"), Utc("2026-01-01T01:00:00Z"), 0)
          ->empty());
  EXPECT_TRUE(
      FiresBetween(quarter, utc, Utc("2026-01-01T01:00:00Z"), Utc("2026-01-01T00:00:00Z"), 10)
          ->empty());
  EXPECT_TRUE(FiresBetween(MustParse("@yearly"), utc, Utc("2026-01-02T00:00:00Z"),
                           Utc("2026-12-31T00:00:00Z"), 10)
                  ->empty());

  // A week of downtime with an every-minute schedule: bounded by max, oldest first.
  Result<std::vector<TimePoint>> capped = FiresBetween(
      MustParse("* * * * *"), utc, Utc("2026-01-01T00:00:00Z"), Utc("2026-01-08T00:00:00Z"), 10);
  ASSERT_TRUE(capped.ok());
  ASSERT_EQ(capped->size(), 10u);
  EXPECT_EQ(FormatIso8601(capped->front()), "2026-01-01T00:01:00.000Z");
  EXPECT_EQ(FormatIso8601(capped->back()), "2026-01-01T00:10:00.000Z");
  Result<std::vector<TimePoint>> week =
      FiresBetween(MustParse("* * * * *"), utc, Utc("2026-01-01T00:00:00Z"),
                   Utc("2026-01-08T00:00:00Z"), 100000);
  ASSERT_TRUE(week.ok());
  EXPECT_EQ(week->size(), 7u * 24 * 60);

  EXPECT_FALSE(
      FiresBetween(quarter, nullptr, Utc("2026-01-01T00:00:00Z"), Utc("2026-01-01T01:00:00Z"), 10)
          .ok());
}

TEST(FiresBetween, CountsDstDaysInRealTime) {
  // Every 15 minutes across the Berlin changes: 23 h → 92 fires, 25 h → 100 fires.
  const date::time_zone* berlin = Zone("Europe/Berlin");
  CronExpr quarter = MustParse("*/15 * * * *");
  auto day = [&](int m, int d) {
    return TimePoint(
        date::make_zoned(berlin, date::local_days(date::year{2026} / m / d)).get_sys_time());
  };
  Result<std::vector<TimePoint>> spring =
      FiresBetween(quarter, berlin, day(3, 29), day(3, 30), 1000);
  ASSERT_TRUE(spring.ok());
  EXPECT_EQ(spring->size(), 92u);
  Result<std::vector<TimePoint>> autumn =
      FiresBetween(quarter, berlin, day(10, 25), day(10, 26), 1000);
  ASSERT_TRUE(autumn.ok());
  EXPECT_EQ(autumn->size(), 100u);
  // A fixed-time schedule fires once on each of those days.
  EXPECT_EQ(FiresBetween(MustParse("30 2 * * *"), berlin, day(3, 29), day(3, 30), 10)->size(), 1u);
  EXPECT_EQ(FiresBetween(MustParse("30 2 * * *"), berlin, day(10, 25), day(10, 26), 10)->size(),
            1u);
}

}  // namespace
}  // namespace weir::cron
