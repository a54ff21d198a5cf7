// Private to src/store/sqlite: what the files of SqliteStore (sqlite_store.cc and
// sqlite_{rows,events,search,nodes}.cc) share: the row readers and their column lists (the
// tables of each kind come from store/tables.h, shared with PostgreSQL).
// Every function here REQUIRES the store's mutex held, as the statements they read belong to its
// one connection.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite/codec.h"
#include "store/sqlite/database.h"
#include "store/sqlite/query.h"
#include "store/sqlite/sqlite_store.h"
#include "store/tables.h"  // Tables(kind): the entity and tag tables of a kind

namespace weir::store::sqlite {

using model::ConfigEntity;
using model::JobRecord;
using model::JobStatus;
using model::Kind;

// The columns every entity query selects, in the order ReadEntity expects, qualified by `alias`.
std::string EntityColumns(std::string_view alias);

// Reads the entity of the current row of `q` whose columns (EntityColumns) start at `first`.
Status ReadEntity(const Stmt& q, int first, Kind kind, ConfigEntity* e);
// Steps `q` to its end, reading one entity per row (columns EntityColumns from 0).
Result<std::vector<ConfigEntity>> ReadEntities(Stmt& q, Kind kind);

constexpr const char* kJobColumns =
    "id, status, created, updated, started, finished, cluster_name, cluster_id, command_name, "
    "command_id, request, state";

// Reads the job of the current row of `q` (columns kJobColumns).
Status ReadJob(const Stmt& q, JobRecord* r);
// Steps `q` to its end, reading one job per row (columns kJobColumns).
Result<std::vector<JobRecord>> ReadJobs(Stmt& q);

}  // namespace weir::store::sqlite
