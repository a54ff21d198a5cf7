// Test-only: stops the shared PostgreSQL server of a test binary (postgres_server.h
// SharedPostgres(), started by the first test that asks for it) once, after the binary's last
// test. Include this header in every test file that uses SharedPostgres(): the environment is an
// inline variable, so it is registered once per binary however many of its files include it.
#pragma once

#include <gtest/gtest.h>

#include "store/testing/postgres_server.h"

namespace weir::store::testing {

class StopPostgres : public ::testing::Environment {
 public:
  void TearDown() override { StopSharedPostgres(); }
};
inline const auto* const kStopPostgres = ::testing::AddGlobalTestEnvironment(new StopPostgres);

}  // namespace weir::store::testing
