// The PostgreSQL schema and its migrations. Private to src/store/postgres/.
//
// Numbered like the SQLite ones (store/sqlite/schema.h): version N means the same tables in both
// backends. `schema_version` holds one row, the version the database is at. Migrate() applies
// every migration above it in one transaction each, under a transaction-scoped advisory lock, so
// several servers starting at once on one database migrate it exactly once. A database written by
// a newer weir (a version above kSchemaVersion) is refused with kFailedPrecondition.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "store/postgres/connection.h"

namespace weir::store::postgres {

inline constexpr int kSchemaVersion = 10;

// The database's version: 0 when weir never wrote to it. Changes nothing.
Result<int64_t> ReadVersion(Connection& c);
// Brings the database to kSchemaVersion; returns the version it was at before.
Result<int64_t> Migrate(Connection& c, const std::string& location);

}  // namespace weir::store::postgres
