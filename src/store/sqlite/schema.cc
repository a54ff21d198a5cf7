#include "store/sqlite/schema.h"

#include <string>
#include <utility>
#include <vector>

namespace weir::store::sqlite {
namespace {

// One table per kind, all with the same columns: the searchable fields as columns, the rest of
// the entity (description, metadata, tags, setup file, configs, dependencies, command fields) as
// a JSON `body`. Tags are repeated in <kind>_tags, whose (tag, entity_id) index answers an
// AND-ed tag search with one GROUP BY … HAVING COUNT(*) = n.
std::string EntityTables(const std::string& table, const std::string& singular) {
  std::string sql = R"sql(
CREATE TABLE $T (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  user TEXT NOT NULL,
  version TEXT NOT NULL,
  status TEXT NOT NULL,
  type TEXT,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX $T_updated ON $T(updated, id);
CREATE INDEX $T_name ON $T(name);
CREATE INDEX $T_status ON $T(status);
CREATE TABLE $S_tags (
  entity_id TEXT NOT NULL REFERENCES $T(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  PRIMARY KEY (entity_id, tag)
) WITHOUT ROWID;
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
-- Ordered links. An application still linked to a command cannot be deleted (no ON DELETE
-- action: the store checks first to name the commands, the foreign key is the backstop);
-- deleting a command or a cluster drops its links.
CREATE TABLE command_applications (
  command_id TEXT NOT NULL REFERENCES commands(id) ON DELETE CASCADE,
  application_id TEXT NOT NULL REFERENCES applications(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (command_id, application_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX command_applications_order ON command_applications(command_id, position);
CREATE INDEX command_applications_application ON command_applications(application_id);

CREATE TABLE cluster_commands (
  cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  command_id TEXT NOT NULL REFERENCES commands(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  PRIMARY KEY (cluster_id, command_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX cluster_commands_order ON cluster_commands(cluster_id, position);
CREATE INDEX cluster_commands_command ON cluster_commands(command_id);

-- Jobs: every JobFilter field and sort field is a column; the request (written once) and the
-- rest of the state (execution, metadata, job details) are JSON. Times are epoch milliseconds.
CREATE TABLE jobs (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  user TEXT NOT NULL,
  status TEXT NOT NULL,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  started INTEGER,
  finished INTEGER,
  cluster_name TEXT NOT NULL,
  cluster_id TEXT NOT NULL,
  command_name TEXT NOT NULL,
  command_id TEXT NOT NULL,
  grouping TEXT,
  grouping_instance TEXT,
  request TEXT NOT NULL,
  state TEXT NOT NULL
);
CREATE INDEX jobs_status ON jobs(status, created);
CREATE INDEX jobs_user_status ON jobs(user, status);
CREATE INDEX jobs_created ON jobs(created, id);
CREATE INDEX jobs_grouping ON jobs(grouping, grouping_instance);

CREATE TABLE job_tags (
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  PRIMARY KEY (job_id, tag)
) WITHOUT ROWID;
CREATE INDEX job_tags_tag ON job_tags(tag, job_id);
)sql";
  return sql;
}

// The audit log (store.h AuditStore). AUTOINCREMENT: a seq is never reused, even after the
// newest records are pruned, so a reader paging by seq never sees one twice.
std::string V2() {
  return R"sql(
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  principal TEXT NOT NULL,
  source TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  target TEXT NOT NULL,
  status INTEGER NOT NULL
);
CREATE INDEX audit_time ON audit(time);
CREATE INDEX audit_principal ON audit(principal, seq);
)sql";
}

// Full-text search (store.h SearchIndex). search_docs holds one row per searchable entity, written
// by the store in the same transaction as the entity's own row; search_fts is an FTS5 index with
// search_docs as its external content, kept in step by the triggers below (so the text is stored
// once). Words are split by unicode61 (letters and digits; "sched:sla" is "sched" "sla").
// The flag in search_rebuild asks the store to fill the index from the existing rows once
// (SqliteStore::RebuildSearchIfNeeded): a database from before this version gets every old job
// and entity indexed on upgrade.
std::string V3() {
  return R"sql(
CREATE TABLE search_docs (
  doc INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  ref TEXT NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  tags TEXT NOT NULL,
  text TEXT NOT NULL,
  UNIQUE (kind, ref)
);
CREATE VIRTUAL TABLE search_fts USING fts5(
  ref, name, tags, text, content='search_docs', content_rowid='doc', tokenize='unicode61'
);
CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
  INSERT INTO search_fts(rowid, ref, name, tags, text)
    VALUES (new.doc, new.ref, new.name, new.tags, new.text);
END;
CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
  INSERT INTO search_fts(search_fts, rowid, ref, name, tags, text)
    VALUES ('delete', old.doc, old.ref, old.name, old.tags, old.text);
END;
CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
  INSERT INTO search_fts(search_fts, rowid, ref, name, tags, text)
    VALUES ('delete', old.doc, old.ref, old.name, old.tags, old.text);
  INSERT INTO search_fts(rowid, ref, name, tags, text)
    VALUES (new.doc, new.ref, new.name, new.tags, new.text);
END;
CREATE TABLE search_rebuild (pending INTEGER NOT NULL);
INSERT INTO search_rebuild(pending) VALUES (1);
)sql";
}

// Version 4, the event log (store.h EventStore). AUTOINCREMENT: an id is never reused, so a
// subscriber resuming after its last id never sees an event twice.
std::string V4() {
  return R"sql(
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  time INTEGER NOT NULL,
  job_id TEXT NOT NULL,
  user TEXT NOT NULL,
  grouping TEXT NOT NULL,
  workflow TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX events_time ON events(time);
CREATE INDEX events_job ON events(job_id, id);
)sql";
}

// Version 5, webhooks (store.h WebhookStore): the subscriptions with their durable cursors, and
// each one's delivery log (one row per attempt; removed with the subscription).
std::string V5() {
  return R"sql(
CREATE TABLE webhooks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL,
  url TEXT NOT NULL,
  filter TEXT NOT NULL,
  secret TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  created INTEGER NOT NULL,
  delivered_up_to INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event_id INTEGER NOT NULL,
  event_type TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  manual INTEGER NOT NULL,
  time INTEGER NOT NULL,
  http_status INTEGER NOT NULL,
  error TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  next_retry INTEGER
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(webhook_id, event_id, attempt);
)sql";
}

// Version 6: the shared queue of a cluster, the nodes' heartbeats and the leases (store.h
// NodeStore).
std::string V6() {
  return R"sql(
CREATE TABLE job_queue (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL UNIQUE,
  memory_mb INTEGER NOT NULL
);
CREATE TABLE nodes (
  id TEXT PRIMARY KEY NOT NULL,
  url TEXT NOT NULL,
  started INTEGER NOT NULL,
  heartbeat INTEGER NOT NULL,
  running_jobs INTEGER NOT NULL,
  capacity_mb INTEGER NOT NULL,
  free_memory_mb INTEGER NOT NULL
);
CREATE TABLE leases (
  name TEXT PRIMARY KEY NOT NULL,
  holder TEXT NOT NULL,
  token INTEGER NOT NULL,
  acquired INTEGER NOT NULL,
  expires INTEGER NOT NULL
);
)sql";
}

// Version 7: the database cleanup's oldest-finished-first scan (JobStore::DeleteFinishedJobs).
std::string V7() {
  return R"sql(
CREATE INDEX jobs_finished ON jobs(finished, id);
)sql";
}

// Migration i (1-based) brings the schema from version i-1 to i. Append only: a released
// migration never changes.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {V1(), V2(), V3(), V4(), V5(), V6(), V7()};
  return kMigrations;
}

}  // namespace

Result<int64_t> ReadVersion(Database& db) {
  {
    WEIR_ASSIGN_OR_RETURN(Stmt t, db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND"
                                             " name = 'schema_version'"));
    WEIR_ASSIGN_OR_RETURN(bool exists, t.Step());
    if (!exists) return 0;
  }
  WEIR_ASSIGN_OR_RETURN(Stmt q, db.Prepare("SELECT MAX(version) FROM schema_version"));
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  return row && !q.IsNull(0) ? q.Int(0) : 0;
}

Status Migrate(Database& db) {
  const std::string context = "sqlite '" + db.path() + "': schema";
  for (;;) {
    // Each step re-reads the version inside its own write transaction: a concurrent opener
    // either migrated already (we see its version) or waits for us.
    WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db, /*write=*/true));
    Status s = db.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    if (!s.ok()) return s.WithContext(context);
    int64_t version = 0;
    {
      WEIR_ASSIGN_OR_RETURN(Stmt q, db.Prepare("SELECT MAX(version) FROM schema_version"));
      WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row && !q.IsNull(0)) version = q.Int(0);
    }
    const auto& migrations = Migrations();
    if (version > static_cast<int64_t>(migrations.size())) {
      return FailedPrecondition(context + ": version " + std::to_string(version) +
                                " was written by a newer weir (this one knows up to " +
                                std::to_string(migrations.size()) + "); upgrade weir");
    }
    if (version == static_cast<int64_t>(migrations.size())) return tx.Commit();
    s = db.Exec(migrations[static_cast<size_t>(version)]);
    if (!s.ok())
      return s.WithContext(context + ": migration to version " + std::to_string(version + 1));
    {
      WEIR_ASSIGN_OR_RETURN(Stmt del, db.Prepare("DELETE FROM schema_version"));
      WEIR_RETURN_IF_ERROR(del.Run());
      WEIR_ASSIGN_OR_RETURN(Stmt ins, db.Prepare("INSERT INTO schema_version(version) VALUES (?)"));
      WEIR_RETURN_IF_ERROR(ins.Bind(version + 1).Run());
    }
    WEIR_RETURN_IF_ERROR(tx.Commit());
  }
}

}  // namespace weir::store::sqlite
