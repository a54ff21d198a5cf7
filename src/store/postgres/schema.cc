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

// The workflow scheduler's rows (store/scheduler_store.h), as the SQLite wf_* tables.
std::string V3() {
  return R"sql(
CREATE TABLE wf_deployments (
  deployed_id TEXT COLLATE "C" PRIMARY KEY,
  environment TEXT COLLATE "C" NOT NULL,
  owner TEXT COLLATE "C" NOT NULL,
  repo TEXT COLLATE "C" NOT NULL,
  workflow_id TEXT COLLATE "C" NOT NULL,
  active_version BIGINT,
  latest_version BIGINT NOT NULL,
  env_params TEXT NOT NULL,
  catchup TEXT NOT NULL,
  next_instance BIGINT NOT NULL,
  cursor_ms BIGINT,
  schedule_key TEXT,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  paused BOOLEAN NOT NULL DEFAULT FALSE,
  undeployed_ms BIGINT
);
CREATE INDEX wf_deployments_repo ON wf_deployments(environment, owner, repo);
CREATE TABLE wf_versions (
  deployed_id TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  bundle_id TEXT COLLATE "C" NOT NULL,
  manifest TEXT NOT NULL,
  deployer TEXT NOT NULL,
  dirty BOOLEAN NOT NULL,
  branch TEXT NOT NULL,
  commit_sha TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (deployed_id, version),
  UNIQUE (deployed_id, bundle_id)
);
CREATE TABLE wf_activations (
  seq BIGSERIAL PRIMARY KEY,
  deployed_id TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  previous BIGINT,
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX wf_activations_by_workflow ON wf_activations(deployed_id, seq);
CREATE TABLE wf_fires (
  deployed_id TEXT COLLATE "C" NOT NULL,
  fire_ms BIGINT NOT NULL,
  instance BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (deployed_id, fire_ms)
);
CREATE TABLE wf_after_pending (
  deployed_id TEXT COLLATE "C" NOT NULL,
  logical_ms BIGINT NOT NULL,
  upstream TEXT COLLATE "C" NOT NULL,
  succeeded_ms BIGINT NOT NULL,
  instance BIGINT NOT NULL,
  PRIMARY KEY (deployed_id, logical_ms, upstream)
);
CREATE TABLE wf_backfills (
  deployed_id TEXT COLLATE "C" NOT NULL,
  instance BIGINT NOT NULL,
  parallel INTEGER NOT NULL,
  PRIMARY KEY (deployed_id, instance)
);
CREATE TABLE wf_instances (
  deployed_id TEXT COLLATE "C" NOT NULL,
  instance BIGINT NOT NULL,
  version BIGINT NOT NULL,
  bundle_id TEXT NOT NULL,
  status TEXT COLLATE "C" NOT NULL,
  message TEXT NOT NULL,
  trigger_kind TEXT NOT NULL,
  trigger_ms BIGINT NOT NULL,
  requested_by TEXT NOT NULL,
  run BIGINT NOT NULL,
  params TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  started_ms BIGINT,
  finished_ms BIGINT,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (deployed_id, instance)
);
CREATE INDEX wf_instances_active ON wf_instances(status) WHERE status IN ('CREATED', 'RUNNING');
CREATE TABLE wf_steps (
  deployed_id TEXT COLLATE "C" NOT NULL,
  instance BIGINT NOT NULL,
  step TEXT COLLATE "C" NOT NULL,
  position INTEGER NOT NULL,
  status TEXT COLLATE "C" NOT NULL,
  attempts INTEGER NOT NULL,
  job_id TEXT COLLATE "C",
  submitted BOOLEAN NOT NULL,
  not_before_ms BIGINT,
  message TEXT NOT NULL,
  started_ms BIGINT,
  finished_ms BIGINT,
  PRIMARY KEY (deployed_id, instance, step)
);
CREATE INDEX wf_steps_running ON wf_steps(status) WHERE status = 'RUNNING';
CREATE TABLE wf_attempts (
  job_id TEXT COLLATE "C" PRIMARY KEY,
  deployed_id TEXT COLLATE "C" NOT NULL,
  instance BIGINT NOT NULL,
  step TEXT COLLATE "C" NOT NULL,
  run BIGINT NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  message TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  finished_ms BIGINT
);
CREATE INDEX wf_attempts_by_step ON wf_attempts(deployed_id, instance, step);
)sql";
}

// The event log (store.h EventStore). The sequence behind id never hands out a value twice, even
// after pruning; see postgres_store.cc for how ids become visible in commit order.
std::string V4() {
  return R"sql(
CREATE TABLE events (
  id BIGSERIAL PRIMARY KEY,
  type TEXT COLLATE "C" NOT NULL,
  time BIGINT NOT NULL,
  job_id TEXT COLLATE "C" NOT NULL,
  user_name TEXT COLLATE "C" NOT NULL,
  grouping TEXT COLLATE "C" NOT NULL,
  workflow TEXT COLLATE "C" NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX events_time ON events(time);
CREATE INDEX events_job ON events(job_id, id);
)sql";
}

// Full-text search (store.h SearchIndex): one row per searchable entity, written by the store in
// the same transaction as the entity's own row. `doc` is the weighted tsvector the store builds
// (postgres/text_search.h: name A, tags B, id C, text D), searched through the GIN index.
// The flag in search_rebuild asks the store to index the rows that existed before this version
// once (at the next open).
std::string V5() {
  return R"sql(
CREATE TABLE search_docs (
  kind TEXT COLLATE "C" NOT NULL,
  ref TEXT COLLATE "C" NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  tags TEXT NOT NULL,
  text TEXT NOT NULL,
  doc TSVECTOR NOT NULL,
  PRIMARY KEY (kind, ref)
);
CREATE INDEX search_docs_doc ON search_docs USING GIN (doc);
CREATE TABLE search_rebuild (pending INTEGER NOT NULL);
INSERT INTO search_rebuild(pending) VALUES (1);
)sql";
}

// The asset registry (store/asset_store.h): the SQLite store's two tables with PostgreSQL types.
std::string V6() {
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

// The shared queue of a cluster (claimed with FOR UPDATE SKIP LOCKED), the nodes' heartbeats
// and the leases (store.h NodeStore).
std::string V7() {
  return R"sql(
CREATE TABLE job_queue (
  seq BIGSERIAL PRIMARY KEY,
  job_id TEXT COLLATE "C" NOT NULL UNIQUE,
  memory_mb BIGINT NOT NULL
);
CREATE TABLE nodes (
  id TEXT COLLATE "C" PRIMARY KEY,
  url TEXT NOT NULL,
  started BIGINT NOT NULL,
  heartbeat BIGINT NOT NULL,
  running_jobs BIGINT NOT NULL,
  capacity_mb BIGINT NOT NULL,
  free_memory_mb BIGINT NOT NULL
);
CREATE TABLE leases (
  name TEXT COLLATE "C" PRIMARY KEY,
  holder TEXT COLLATE "C" NOT NULL,
  token BIGINT NOT NULL,
  acquired BIGINT NOT NULL,
  expires BIGINT NOT NULL
);
)sql";
}

// Webhooks (store.h WebhookStore; the SQLite store's version 5): the subscriptions with their
// durable cursors, and each one's delivery log (one row per attempt; removed with the
// subscription).
std::string V8() {
  return R"sql(
CREATE TABLE webhooks (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT COLLATE "C" NOT NULL UNIQUE,
  url TEXT NOT NULL,
  filter TEXT NOT NULL,
  secret TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  created BIGINT NOT NULL,
  delivered_up_to BIGINT NOT NULL
);
CREATE TABLE webhook_deliveries (
  id BIGSERIAL PRIMARY KEY,
  webhook_id TEXT COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event_id BIGINT NOT NULL,
  event_type TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  manual INTEGER NOT NULL,
  time BIGINT NOT NULL,
  http_status INTEGER NOT NULL,
  error TEXT NOT NULL,
  duration_ms BIGINT NOT NULL,
  outcome TEXT COLLATE "C" NOT NULL,
  next_retry BIGINT
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(webhook_id, event_id, attempt);
)sql";
}

// Version 9: the database cleanup's oldest-finished-first scan (JobStore::DeleteFinishedJobs).
std::string V9() {
  return R"sql(
CREATE INDEX jobs_finished ON jobs(finished, id);
)sql";
}

// Version 10: the KILLING attempts every node's scheduler pass looks for (a stopped step whose
// job still runs), found without reading every attempt.
std::string V10() {
  return R"sql(
CREATE INDEX wf_attempts_killing ON wf_attempts(status) WHERE status = 'KILLING';
)sql";
}

// Migration i (1-based) brings the schema from version i-1 to i. Append only.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {V1(), V2(), V3(), V4(), V5(),
                                                       V6(), V7(), V8(), V9(), V10()};
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
