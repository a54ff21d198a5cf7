// Test-only: a throwaway PostgreSQL server for the store's tests and the integration tests.
//
// PostgresServer::Start() runs Debian's PostgreSQL binaries (/usr/lib/postgresql/<version>/bin,
// or the folder WEIR_PG_BIN names): `initdb` into a fresh folder /tmp/weir-pg-<uuid>/ (as the
// unprivileged user `nobody` when the tests run as root, since initdb and postgres refuse root;
// the folder is handed to it), then `postgres` listening on a Unix socket in that folder only (no
// TCP), with fsync off (the data is thrown away). It waits until the server accepts connections
// (at most 60 s). The destructor stops it by pid with SIGINT (fast shutdown), SIGKILL after 30 s,
// and removes the folder. If the test process dies first, the server gets SIGQUIT (it exits).
//
// Authentication is `trust` for the superuser `weir`, unless a password is given: then every
// connection must present it (scram-sha-256), which tests of store.password_* use.
//
// A test that cannot get its server reports it with WEIR_MISSING_SERVICE("postgresql", why)
// (common/testing/required_services.h): a failure under WEIR_REQUIRE_SERVICES=1, else a skip.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"

namespace weir::store::testing {

class PostgresServer {
 public:
  // kFailedPrecondition (saying what to install) when the binaries are missing;
  // kDeadlineExceeded or kInternal (with the server's log) when it does not come up.
  // `die_with_parent`: the server gets SIGQUIT when this thread's process ends.
  static Result<std::unique_ptr<PostgresServer>> Start(const std::string& password = "",
                                                       bool die_with_parent = true);
  // A server another process started (see weir_test_postgres below): used, never stopped.
  static std::unique_ptr<PostgresServer> Attach(std::filesystem::path socket_dir, int port);
  // Leaves the server running when this object goes away (weir_test_postgres start).
  void Detach() { owned_ = false; }
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // A new, empty database for one test and its URL (no password in it). It is a schema of its
  // own in the server's database `weir`, which the URL selects (search_path), so everything the
  // store does unqualified happens there: postgresql://weir@/weir?host=<socket dir>&port=<port>
  // &options=-csearch_path%3Dw<n>. Thread-safe.
  Result<std::string> CreateDatabase();
  // Runs one SQL statement as the superuser in database `url` (a test inspecting or damaging
  // what the store wrote). Returns the first column of the first row, "" when none.
  Result<std::string> Query(const std::string& url, const std::string& sql);

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::filesystem::path& socket_dir() const { return dir_; }
  const std::string& password() const { return password_; }

 private:
  PostgresServer() = default;
  std::string Url(const std::string& database) const;

  pid_t pid_ = -1;
  bool owned_ = true;  // stop it and remove its folder when destroyed
  int port_ = 0;
  std::filesystem::path dir_;
  std::string password_;
  std::mutex mu_;
  int next_database_ = 0;  // GUARDED_BY(mu_)
};

// One trust-authenticated server per test process, started on first use, or the one ctest's
// fixture started when WEIR_TEST_PG_STATE names its state file (tests/CMakeLists.txt: the test
// `postgres_server_start` runs `weir_test_postgres start FILE` before the tests that need it and
// `postgres_server_stop` stops it after them, so the suite starts one server, not one per test).
// nullptr when it cannot start (then SharedPostgresError() says why). StopSharedPostgres() stops
// it; call it from a ::testing::Environment's TearDown. Thread-safe.
PostgresServer* SharedPostgres();
void StopSharedPostgres();
std::string SharedPostgresError();

}  // namespace weir::store::testing
