#include "scheduler/params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weir::scheduler {
namespace {

using ::testing::HasSubstr;

TEST(ResolveParams, LaterLayersWinAndBuiltinsAlwaysWin) {
  auto p = ResolveParams({{"TARGET_DB", "dev"}, {"TABLE", "events"}}, {{"TARGET_DB", "prod_db"}},
                         {{"TABLE", "clicks"}, {"ENV", "mine"}},
                         {{"ENV", "prod"}, {"INSTANCE_ID", "7"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("TARGET_DB"), "prod_db");
  EXPECT_EQ(p->at("TABLE"), "clicks");
  EXPECT_EQ(p->at("ENV"), "prod");
  EXPECT_EQ(p->at("INSTANCE_ID"), "7");
}

TEST(ResolveParams, ValuesExpandReferencesRecursively) {
  auto p = ResolveParams({{"OUT", "/data/${ENV}/${TABLE}"},
                          {"TABLE", "${BASE}_v2"},
                          {"BASE", "events"},
                          {"SHELL", "$${HOME}/x ${UNKNOWN}"}},
                         {}, {}, {{"ENV", "staging"}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("OUT"), "/data/staging/events_v2");
  EXPECT_EQ(p->at("SHELL"), "${HOME}/x ${UNKNOWN}");
}

TEST(ResolveParams, CycleIsRefusedNamingIt) {
  auto p = ResolveParams({{"A", "${B}"}, {"B", "x${A}"}}, {}, {}, {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("A -> B -> A"));
}

TEST(Substitute, KnownNamesOnlyEscapesAndInsertedValuesAreNotRescanned) {
  Params p = {{"DATE", "2026-01-01"}, {"TRICK", "${DATE}"}};
  EXPECT_EQ(Substitute("run --date ${DATE} ${HOME} $${DATE} ${TRICK} $5 ${", p),
            "run --date 2026-01-01 ${HOME} ${DATE} ${DATE} $5 ${");
}

}  // namespace
}  // namespace weir::scheduler
