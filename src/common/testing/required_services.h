// Test-only: the one rule for tests that need something from outside the build (s3rver started
// with node, botocore, the aws CLI). When the environment variable WEIR_REQUIRE_SERVICES is set
// to anything but "" or "0" (CI exports 1, see .ci/run), a missing required service is a test
// FAILURE that names the service and why it is missing; otherwise the test is SKIPPED with the
// same message, so a developer machine without node still runs everything else.
//
// Use WEIR_MISSING_SERVICE where a test would otherwise skip: in a TEST body or in SetUp (it
// returns from the enclosing function, as GTEST_SKIP and GTEST_FAIL do):
//   if (server == nullptr) WEIR_MISSING_SERVICE("s3rver", SharedS3rverError());
// Header-only, for test binaries of any module (it needs GoogleTest and nothing of weir).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace weir::testenv {

inline constexpr char kRequireServicesVariable[] = "WEIR_REQUIRE_SERVICES";

// True when WEIR_REQUIRE_SERVICES is set and is neither "" nor "0".
inline bool ServicesRequired() {
  const char* v = std::getenv(kRequireServicesVariable);
  return v != nullptr && *v != '\0' && std::string_view(v) != "0";
}

// "required service 's3rver' is not available: <why> (...)", the tail saying what follows.
inline std::string MissingServiceMessage(std::string_view service, std::string_view why) {
  std::string m =
      "required service '" + std::string(service) + "' is not available: " + std::string(why);
  m += ServicesRequired() ? " (WEIR_REQUIRE_SERVICES is set: this is a failure)"
                          : " (skipped; with WEIR_REQUIRE_SERVICES=1 this fails)";
  return m;
}

}  // namespace weir::testenv

// Fails (WEIR_REQUIRE_SERVICES set) or skips the current test, naming `service` and `why`.
#define WEIR_MISSING_SERVICE(service, why)                        \
  do {                                                            \
    const std::string weir_missing_service_message =              \
        ::weir::testenv::MissingServiceMessage((service), (why)); \
    if (::weir::testenv::ServicesRequired()) {                    \
      GTEST_FAIL() << weir_missing_service_message;               \
    } else {                                                      \
      GTEST_SKIP() << weir_missing_service_message;               \
    }                                                             \
  } while (0)
