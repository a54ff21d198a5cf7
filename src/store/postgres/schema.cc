#include "store/postgres/schema.h"

#include <string>
#include <utility>
#include <vector>

namespace weir::store::postgres {
namespace {

// As store/sqlite/schema.cc, with PostgreSQL types. Text columns compare and sort byte-wise
// (COLLATE "C") whatever the database's locale, as SQLite's do; `user` is a reserved word here,
// so the column is user_name. Times are epoch milliseconds.
std::string EntityTables(const std::string& table, const std::string& singular) {
  std::string sql = R"sql(
CREATE TABLE $T (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL,
  user_name TEXT COLLATE "C" NOT NULL,
  version TEXT COLLATE "C" NOT NULL,
  status TEXT COLLATE "C" NOT NULL,
  type TEXT COLLATE "C",
  created BIGINT NOT NULL,
  updated BIGINT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX $T_updated ON $T(updated, id);
CREATE INDEX $T_name ON $T(name);
CREATE INDEX $T_status ON $T(status);
CREATE TABLE $S_tags (
  entity_id TEXT COLLATE "C" NOT NULL REFERENCES $T(id) ON DELETE CASCADE,
  tag TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (entity_id, tag)
);
CREATE INDEX $S_tags_tag ON $S_tags(tag, entity_id);
)sql";
  for (auto [mark, value] : {std::pair{"$T", &table}, std::pair{"$S", &singular}}) {
    for (size_t at = sql.find(mark); at != std::string::npos; at = sql.find(mark, at)) {
      sql.replace(at, 2, *value);
      at += value->size();
    }
  }
  return sql;
}

std::string V1() {
  std::string sql = EntityTables("applications", "application") +
                    EntityTables("commands", "command") + EntityTables("clusters", "cluster");
  sql += R"sql(
CREATE TABLE command_applications (
  command_id TEXT COLLATE "C" NOT NULL REFERENCES commands(id) ON DELETE CASCADE,
  application_id TEXT COLLATE "C" NOT NULL REFERENCES applications(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (command_id, application_id)
);
CREATE UNIQUE INDEX command_applications_order ON command_applications(command_id, position);
CREATE INDEX command_applications_application ON command_applications(application_id);

CREATE TABLE cluster_commands (
  cluster_id TEXT COLLATE "C" NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  command_id TEXT COLLATE "C" NOT NULL REFERENCES commands(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  PRIMARY KEY (cluster_id, command_id)
);
CREATE UNIQUE INDEX cluster_commands_order ON cluster_commands(cluster_id, position);
CREATE INDEX cluster_commands_command ON cluster_commands(command_id);

-- seq keeps insertion order (SQLite's rowid): the queue is first come, first served.
CREATE TABLE jobs (
  id TEXT COLLATE "C" PRIMARY KEY,
  seq BIGSERIAL NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  user_name TEXT COLLATE "C" NOT NULL,
  status TEXT COLLATE "C" NOT NULL,
  created BIGINT NOT NULL,
  updated BIGINT NOT NULL,
  started BIGINT,
  finished BIGINT,
  cluster_name TEXT COLLATE "C" NOT NULL,
  cluster_id TEXT COLLATE "C" NOT NULL,
  command_name TEXT COLLATE "C" NOT NULL,
  command_id TEXT COLLATE "C" NOT NULL,
  grouping TEXT COLLATE "C",
  grouping_instance TEXT COLLATE "C",
  request TEXT NOT NULL,
  state TEXT NOT NULL
);
CREATE INDEX jobs_status ON jobs(status, created, seq);
CREATE INDEX jobs_user_status ON jobs(user_name, status);
CREATE INDEX jobs_created ON jobs(created, id);
CREATE INDEX jobs_grouping ON jobs(grouping, grouping_instance);

CREATE TABLE job_tags (
  job_id TEXT COLLATE "C" NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  tag TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (job_id, tag)
);
CREATE INDEX job_tags_tag ON job_tags(tag, job_id);
)sql";
  return sql;
}

// The audit log. A sequence never hands out a value twice, even after pruning.
std::string V2() {
  return R"sql(
CREATE TABLE audit (
  seq BIGSERIAL PRIMARY KEY,
  time BIGINT NOT NULL,
  principal TEXT COLLATE "C" NOT NULL,
  source TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT COLLATE "C" NOT NULL,
  target TEXT COLLATE "C" NOT NULL,
  status INTEGER NOT NULL
);
CREATE INDEX audit_time ON audit(time);
CREATE INDEX audit_principal ON audit(principal, seq);
)sql";
}

// The asset registry (store/asset_store.h): the SQLite store's two tables with PostgreSQL types.
// Session 5 assigned this migration version 7; it is numbered here as the next after what exists
// and takes its final number when the session's branches merge.
std::string AssetTables() {
  return R"sql(
CREATE TABLE asset_namespaces (
  ns TEXT COLLATE "C" PRIMARY KEY,
  type TEXT COLLATE "C" NOT NULL,
  owner TEXT COLLATE "C" NOT NULL,
  repo TEXT COLLATE "C" NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE TABLE assets (
  seq BIGSERIAL PRIMARY KEY,
  uuid TEXT COLLATE "C" NOT NULL UNIQUE,
  type TEXT COLLATE "C" NOT NULL,
  ns TEXT COLLATE "C" NOT NULL,
  owner TEXT COLLATE "C" NOT NULL,
  repo TEXT COLLATE "C" NOT NULL,
  branch TEXT COLLATE "C" NOT NULL,
  commit_short TEXT COLLATE "C" NOT NULL,
  build BIGINT NOT NULL,
  sha256 TEXT COLLATE "C" NOT NULL,
  size BIGINT NOT NULL,
  file_name TEXT NOT NULL,
  extension TEXT NOT NULL,
  dirty INTEGER NOT NULL,
  publisher TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  UNIQUE (type, ns, owner, repo, branch, build)
);
CREATE INDEX assets_by_namespace ON assets (type, ns, created_ms, seq);
CREATE INDEX assets_by_branch ON assets (type, ns, branch, build);
CREATE INDEX assets_by_sha256 ON assets (sha256);
)sql";
}

// Migration i (1-based) brings the schema from version i-1 to i. Append only.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {V1(), V2(), AssetTables()};
  return kMigrations;
}

// Any constant shared by every weir: the advisory lock that serialises migrations.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7762657769720001)";

}  // namespace

Result<int64_t> ReadVersion(Connection& c) {
  WEIR_ASSIGN_OR_RETURN(Rows t, c.Exec("SELECT to_regclass('schema_version') IS NOT NULL"));
  if (t.Text(0, 0) != "t") return 0;
  WEIR_ASSIGN_OR_RETURN(Rows v, c.Exec("SELECT MAX(version) FROM schema_version"));
  return v.size() == 0 ? 0 : v.OptInt(0, 0).value_or(0);
}

Result<int64_t> Migrate(Connection& c, const std::string& location) {
  const std::string context = "postgresql '" + location + "': schema";
  const auto& migrations = Migrations();
  std::optional<int64_t> before;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
    WEIR_RETURN_IF_ERROR(c.Exec(kMigrationLock).status());
    Status s = c.ExecScript("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    if (!s.ok()) return s.WithContext(context);
    WEIR_ASSIGN_OR_RETURN(int64_t version, ReadVersion(c));
    if (!before) before = version;
    if (version > static_cast<int64_t>(migrations.size())) {
      return FailedPrecondition(context + ": version " + std::to_string(version) +
                                " was written by a newer weir (this one knows up to " +
                                std::to_string(migrations.size()) + "); upgrade weir");
    }
    if (version == static_cast<int64_t>(migrations.size())) {
      WEIR_RETURN_IF_ERROR(tx.Commit());
      return *before;
    }
    s = c.ExecScript(migrations[static_cast<size_t>(version)]);
    if (!s.ok()) {
      return s.WithContext(context + ": migration to version " + std::to_string(version + 1));
    }
    WEIR_RETURN_IF_ERROR(c.Exec("DELETE FROM schema_version").status());
    Params p;
    p.Add(version + 1);
    WEIR_RETURN_IF_ERROR(c.Exec("INSERT INTO schema_version(version) VALUES ($1)", p).status());
    WEIR_RETURN_IF_ERROR(tx.Commit());
  }
}

}  // namespace weir::store::postgres
