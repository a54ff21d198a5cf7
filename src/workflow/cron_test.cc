// The cron syntax check of workflow validation.
#include "workflow/cron.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weir::workflow {
namespace {

using testing::HasSubstr;

TEST(CronTest, AcceptsTheSpecifiedForms) {
  for (const char* ok :
       {"* * * * *", "0 3 * * *", "*/15 * * * *", "0 9-17/2 * * MON-FRI", "30 2 1,15 jan,Jul *",
        "0 0 * * 7", "5/10 * * * *", "0 0 29 2 *", "0 0 * * MON-SUN", " 0  3 * * * ", "@hourly",
        "@daily", "@weekly", "@monthly"}) {
    EXPECT_TRUE(ParseCron(ok).ok()) << ok << ": " << ParseCron(ok).status();
  }
}

TEST(CronTest, RefusesWithTheFieldNamed) {
  struct Case {
    const char* expr;
    const char* detail;
  };
  for (const Case& c : std::vector<Case>{
           {"0 25 * * *", "hour: 25 is out of range 0-23"},
           {"60 * * * *", "minute: 60 is out of range 0-59"},
           {"* * 0 * *", "day of month: 0 is out of range 1-31"},
           {"* * * 13 *", "month: 13 is out of range 1-12"},
           {"* * * * 8", "day of week: 8 is out of range 0-7"},
           {"* * * *", "needs 5 fields"},
           {"* * * * * *", "needs 5 fields"},
           {"*/0 * * * *", "minute: step '0'"},
           {"5-1 * * * *", "goes backwards"},
           {"1,,2 * * * *", "empty list item"},
           {"a * * * *", "'a' is not a value"},
           {"* * * FOO *", "'FOO' is not a value"},
           {"0 0 30 2 *", "never fires"},
           {"@yearly", "unknown macro"},
           {"", "needs 5 fields"},
       }) {
    Result<CronSpec> r = ParseCron(c.expr);
    ASSERT_FALSE(r.ok()) << c.expr;
    EXPECT_THAT(r.status().message(), HasSubstr(c.detail)) << c.expr;
  }
}

TEST(CronTest, ComputesTheMatchingSets) {
  Result<CronSpec> s = ParseCron("*/20 9-11 1,15 FEB-MAR sun,6");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->minutes.count(), 3u);
  EXPECT_TRUE(s->minutes[0] && s->minutes[20] && s->minutes[40]);
  EXPECT_EQ(s->hours.count(), 3u);
  EXPECT_TRUE(s->days_of_month[1] && s->days_of_month[15]);
  EXPECT_TRUE(s->months[2] && s->months[3] && !s->months[4]);
  EXPECT_TRUE(s->days_of_week[0] && s->days_of_week[6]);
  EXPECT_TRUE(s->day_or());
  Result<CronSpec> weekly = ParseCron("@weekly");
  ASSERT_TRUE(weekly.ok());
  EXPECT_TRUE(weekly->days_of_week[0]);
  EXPECT_TRUE(weekly->day_of_month_star);
  EXPECT_FALSE(weekly->day_or());
  EXPECT_TRUE(ParseCron("0 0 * * 7")->days_of_week[0]);
}

}  // namespace
}  // namespace weir::workflow
