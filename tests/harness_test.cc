// The harness's own contract: a sanitizer report from a weir child fails the test.
#include <gtest/gtest.h>

#include "weir_process.h"

namespace weir::testing {
namespace {

TEST(HarnessTest, SanitizerReportOfAChildFailsTheTest) {
  const std::string log =
      "[info] listening on http://127.0.0.1:4000\n"
      "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010\n";
  EXPECT_DEATH(FailOnSanitizerReport("weir server", log),
               "weir server printed a sanitizer report(.|\n)*heap-use-after-free");
  EXPECT_DEATH(FailOnSanitizerReport("weir job",
                                     "a.cc:3:7: runtime error: signed integer overflow\n"
                                     "SUMMARY: UndefinedBehaviorSanitizer: "
                                     "undefined-behavior a.cc:3:7\n"),
               "a.cc:3:7: runtime error: signed integer overflow");
  EXPECT_DEATH(FailOnSanitizerReport("weir server", "WARNING: ThreadSanitizer: data race\n"),
               "data race");
  EXPECT_DEATH(FailOnSanitizerReport("weir server",
                                     "==1==ERROR: LeakSanitizer: detected memory"
                                     " leaks\n"),
               "LeakSanitizer");
}

TEST(HarnessTest, OrdinaryLogsPass) {
  FailOnSanitizerReport("weir server", "");
  FailOnSanitizerReport("weir server", "[error] job j1: exit code 1 (runtime error: in the job)\n");
}

}  // namespace
}  // namespace weir::testing
