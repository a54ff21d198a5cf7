// The SQLite schema and its migrations. Private to src/store/sqlite/.
//
// `schema_version` holds one row, the version the file is at. Migrate() applies, in one write
// transaction each, every migration above that version, so two processes opening the same new
// file at once migrate it exactly once. A file written by a newer weir (a version above
// kSchemaVersion) is refused with kFailedPrecondition rather than misread.
#pragma once

#include "common/result.h"
#include "store/sqlite/database.h"

namespace weir::store::sqlite {

inline constexpr int kSchemaVersion = 7;

Status Migrate(Database& db);
// The file's version (0 when weir never wrote to it). Changes nothing.
Result<int64_t> ReadVersion(Database& db);

}  // namespace weir::store::sqlite
