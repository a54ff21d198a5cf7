// The integration tests' PostgreSQL: the shared server of a test binary
// (store/testing/postgres_server.h, started by the first test that asks for it, stopped once
// after the binary's last test by store/testing/postgres_env.h) and a fresh database on it for
// each test. Include this header in the test files that use SharedPostgres().
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "common/testing/required_services.h"
#include "store/testing/postgres_env.h"
#include "store/testing/postgres_server.h"

namespace weir::testing {

// A new, empty database on the shared server: sets `*pg` to the server and `*url` to the
// database's URL (for `store.url`). Without a server it reports the missing service
// (WEIR_MISSING_SERVICE: a failure under WEIR_REQUIRE_SERVICES=1, else a skip) and leaves `*url`
// empty; a failure to create the database is a test failure. Call it from SetUp and return when
// `*url` is empty.
inline void NewPostgresDatabase(store::testing::PostgresServer** pg, std::string* url) {
  url->clear();
  *pg = store::testing::SharedPostgres();
  if (*pg == nullptr) WEIR_MISSING_SERVICE("postgresql", store::testing::SharedPostgresError());
  auto created = (*pg)->CreateDatabase();
  ASSERT_TRUE(created.ok()) << created.status();
  *url = *created;
}

// A fixture whose every test has a database of its own on the shared server: `pg_` and `url_`.
class PostgresDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override { NewPostgresDatabase(&pg_, &url_); }

  store::testing::PostgresServer* pg_ = nullptr;
  std::string url_;
};

}  // namespace weir::testing
