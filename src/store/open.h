// Opening the store the server's settings name (store.type sqlite or postgresql), and the
// version of its schema (`weir db status` / `weir db migrate`).
//
// Both backends number their schema migrations alike and record the version in a
// `schema_version` table: opening applies the pending ones (each in its own transaction; on
// PostgreSQL under an advisory lock, so servers starting together migrate once) and refuses a
// database whose version is newer than this build knows, with kFailedPrecondition saying to
// upgrade weir.
#pragma once

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "store/scheduler_store.h"
#include "store/store.h"

namespace weir::store {

// The three interfaces of one opened store (one object behind them).
using Stores = SqliteStores;

// Where the store lives: the server's store.* settings.
struct StoreLocation {
  std::string type = "sqlite";  // "sqlite" or "postgresql"
  std::string sqlite_path;      // type sqlite: the database file
  std::string url;              // type postgresql: a libpq URI (postgresql://...), no password
  std::string password;         // type postgresql: "" for none; never part of any message
  int pool_size = 8;            // type postgresql: connections at most
};

// "sqlite /var/lib/weir/weir.db" or "postgresql postgresql://weir@db/weir" (any password in the
// URL shown as ***).
std::string DescribeLocation(const StoreLocation& where);

// Opens the store at `where`, schema migrated. kUnavailable when a PostgreSQL server cannot be
// reached (naming the URL without its password); kInvalidArgument for an unknown type.
// `clock` is not read: callers set the record times.
Result<Stores> OpenStores(const StoreLocation& where, Clock& clock);

// The workflow scheduler's rows at `where` (scheduler_store.h): on SQLite the wf_* tables of the
// same file (its own connection; `busy_timeout_ms` as the scheduler's setting), on PostgreSQL
// the same database, schema migrated. Errors as OpenStores.
Result<std::unique_ptr<SchedulerStore>> OpenSchedulerStore(const StoreLocation& where,
                                                           int busy_timeout_ms);

// The schema of a store: the version it is at (0: weir never wrote to it) and the newest this
// build knows.
struct SchemaInfo {
  std::string location;  // DescribeLocation()
  int64_t version = 0;
  int64_t latest = 0;
  int64_t before = 0;  // MigrateSchema: the version found before migrating
};
// Reads the version without changing anything (a missing SQLite file is version 0, not created).
Result<SchemaInfo> ReadSchema(const StoreLocation& where);
// Applies every pending migration; safe while servers use the store and from several processes
// at once (each migration is applied once). kFailedPrecondition for a newer database.
Result<SchemaInfo> MigrateSchema(const StoreLocation& where);

}  // namespace weir::store
