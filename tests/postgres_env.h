// The shared PostgreSQL server of a test binary (store/testing/postgres_server.h, started by the
// first test that asks for it) is stopped once, after the binary's last test. Include this header
// in the test files that use SharedPostgres(); the environment is registered once per binary.
#pragma once

#include <gtest/gtest.h>

#include "store/testing/postgres_server.h"

namespace weir::testing {

class StopPostgres : public ::testing::Environment {
 public:
  void TearDown() override { store::testing::StopSharedPostgres(); }
};
inline const auto* const kStopPostgres = ::testing::AddGlobalTestEnvironment(new StopPostgres);

}  // namespace weir::testing
