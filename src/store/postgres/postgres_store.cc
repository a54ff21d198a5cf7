#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <unordered_set>

#include "store/postgres/postgres_store_internal.h"
#include "store/postgres/schema.h"

namespace weir::store::postgres {
namespace {

std::optional<int64_t> OptMillis(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return ToEpochMillis(*t);
}

struct SortField {
  std::string_view wire;
  std::string_view column;
};

// " ORDER BY …", ending with id ascending; an absent value sorts as the smallest (as in SQLite).
Result<std::string> OrderBy(const std::vector<SortKey>& keys, const std::vector<SortField>& allowed,
                            std::string_view default_column) {
  std::string sql = " ORDER BY ";
  std::vector<std::string_view> used;
  for (const SortKey& k : keys) {
    auto it = std::find_if(allowed.begin(), allowed.end(),
                           [&](const SortField& f) { return f.wire == k.field; });
    if (it == allowed.end()) {
      std::string names;
      for (const auto& f : allowed) names += (names.empty() ? "" : ", ") + std::string(f.wire);
      return InvalidArgument("sort: unknown field '" + k.field + "'; use one of " + names);
    }
    if (std::find(used.begin(), used.end(), it->column) != used.end()) continue;
    used.push_back(it->column);
    if (used.size() > 1) sql += ", ";
    sql += std::string(it->column) + (k.ascending ? " ASC NULLS FIRST" : " DESC NULLS LAST");
  }
  if (used.empty()) {
    used.push_back(default_column);
    sql += std::string(default_column) + " DESC NULLS LAST";
  }
  if (std::find(used.begin(), used.end(), "id") == used.end()) sql += ", id ASC";
  return sql;
}

// ---- configuration entities -------------------------------------------------------------------

std::string Named(Kind kind, const std::string& id) {
  return std::string(model::KindName(kind)) + " '" + id + "'";
}

std::string Quoted(const std::vector<std::string>& ids) {
  std::string s;
  for (const auto& id : ids) s += (s.empty() ? "'" : ", '") + id + "'";
  return s;
}

const std::vector<SortField>& ConfigSortFields() {
  static const std::vector<SortField> kFields = {
      {"id", "id"},         {"name", "name"},       {"user", "user_name"},  {"version", "version"},
      {"status", "status"}, {"created", "created"}, {"updated", "updated"},
  };
  return kFields;
}

struct LinkTable {
  const char* table;
  const char* owner_column;
  const char* member_column;
};

LinkTable Links(Kind owner_kind) {
  if (owner_kind == Kind::kCluster) return {"cluster_commands", "cluster_id", "command_id"};
  return {"command_applications", "command_id", "application_id"};
}

Result<bool> Exists(Connection& c, Kind kind, const std::string& id) {
  Params p;
  p.Add(id);
  WEIR_ASSIGN_OR_RETURN(
      Rows r, c.Exec(std::string("SELECT 1 FROM ") + Tables(kind).table + " WHERE id = $1", p));
  return r.size() > 0;
}

Status ReplaceTags(Connection& c, Kind kind, const std::string& id,
                   const std::vector<std::string>& tags) {
  const KindTables t = Tables(kind);
  Params del;
  del.Add(id);
  WEIR_RETURN_IF_ERROR(
      c.Exec(std::string("DELETE FROM ") + t.tag_table + " WHERE entity_id = $1", del).status());
  if (tags.empty()) return Status::Ok();
  // One statement for all tags: unnest of a text array bound as one parameter would need array
  // quoting, so the tags are parameters of one VALUES list instead.
  Params p;
  const std::string owner = p.Next(id);
  std::string values;
  for (const auto& tag : Unique(tags))
    values += (values.empty() ? "(" : ", (") + owner + ", " + p.Next(tag) + ")";
  return c
      .Exec(std::string("INSERT INTO ") + t.tag_table + " (entity_id, tag) VALUES " + values +
                " ON CONFLICT DO NOTHING",
            p)
      .status();
}

// ---- jobs -------------------------------------------------------------------------------------

const std::vector<SortField>& JobSortFields() {
  static const std::vector<SortField> kFields = {
      {"id", "id"},
      {"name", "name"},
      {"user", "user_name"},
      {"status", "status"},
      {"created", "created"},
      {"updated", "updated"},
      {"started", "started"},
      {"finished", "finished"},
      {"clusterName", "cluster_name"},
      {"commandName", "command_name"},
  };
  return kFields;
}

std::vector<std::string> StatusNames(const std::vector<JobStatus>& statuses) {
  std::vector<std::string> out;
  out.reserve(statuses.size());
  for (JobStatus s : statuses) out.emplace_back(model::JobStatusName(s));
  return out;
}

std::vector<std::string> DedupKeepFirst(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const auto& id : ids) {
    if (seen.insert(id).second) out.push_back(id);
  }
  return out;
}

// COUNT(*) and one page under one snapshot. `params` holds the WHERE's values.
template <typename T, typename ReadFn>
Result<Page<T>> RunPaged(Connection& c, const std::string& from, const std::string& columns,
                         const Where& where, Params params, const std::string& order,
                         const PageRequest& page, ReadFn read) {
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c, /*snapshot=*/true));
  Page<T> out;
  {
    WEIR_ASSIGN_OR_RETURN(Rows r, c.Exec("SELECT COUNT(*) FROM " + from + where.Sql(), params));
    out.total = r.size() > 0 ? r.Int(0, 0) : 0;
  }
  const int64_t offset = static_cast<int64_t>(page.page) * page.size;
  if (offset < out.total) {
    const std::string limit = params.Next(static_cast<int64_t>(page.size));
    const std::string off = params.Next(offset);
    WEIR_ASSIGN_OR_RETURN(Rows r, c.Exec("SELECT " + columns + " FROM " + from + where.Sql() +
                                             order + " LIMIT " + limit + " OFFSET " + off,
                                         params));
    WEIR_ASSIGN_OR_RETURN(out.items, read(r));
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

}  // namespace

// ---- opening ----------------------------------------------------------------------------------

Result<std::shared_ptr<PostgresStore>> PostgresStore::Open(const std::string& url,
                                                           const std::string& password,
                                                           const PostgresOptions& options) {
  auto pool = std::make_unique<Pool>(url, password, std::max(1, options.pool_size),
                                     options.connect_timeout_s);
  std::string channel;
  {
    WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool->Acquire());
    if (options.migrate) {
      WEIR_RETURN_IF_ERROR(Migrate(*c, RedactUrl(url)).status());
    } else {
      WEIR_ASSIGN_OR_RETURN(int64_t version, ReadVersion(*c));
      if (version != kSchemaVersion) {
        return FailedPrecondition("postgresql '" + RedactUrl(url) + "': schema version " +
                                  std::to_string(version) + ", this weir needs " +
                                  std::to_string(kSchemaVersion) + "; run `weir db migrate`");
      }
    }
    WEIR_ASSIGN_OR_RETURN(Rows schema, c->Exec("SELECT current_schema()"));
    if (schema.size() > 0) channel = schema.String(0, 0);
  }
  // One channel per database and schema (a channel name is at most 63 bytes).
  channel = ("weir_events_" + channel).substr(0, 63);
  std::shared_ptr<PostgresStore> store(
      new PostgresStore(std::move(pool), url, password, options.connect_timeout_s));
  store->channel_ = channel;
  WEIR_RETURN_IF_ERROR(store->RebuildSearchIfNeeded());
  return store;
}

// ---- ConfigStore ------------------------------------------------------------------------------

Status PostgresStore::Create(const ConfigEntity& e) {
  if (e.id.empty()) return InvalidArgument(std::string(model::KindName(e.kind)) + ": id is empty");
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  Params p;
  p.Add(e.id).Add(e.name).Add(e.user).Add(e.version).Add(e.status).Add(e.type);
  p.Add(ToEpochMillis(e.created)).Add(ToEpochMillis(e.updated)).Add(EncodeConfigBody(e));
  Status s = c->Exec(std::string("INSERT INTO ") + Tables(e.kind).table +
                         " (id, name, user_name, version, status, type, created, updated, body)"
                         " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                     p)
                 .status();
  if (!s.ok()) {
    if (c->last_sqlstate() == "23505") {
      return AlreadyExists(Named(e.kind, e.id) + ": already exists; choose another id");
    }
    return s.WithContext(Named(e.kind, e.id));
  }
  WEIR_RETURN_IF_ERROR(ReplaceTags(*c, e.kind, e.id, e.tags));
  WEIR_RETURN_IF_ERROR(PutDoc(*c, DocOf(e)));
  return tx.Commit();
}

Result<ConfigEntity> PostgresStore::Get(Kind kind, const std::string& id) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  Params p;
  p.Add(id);
  WEIR_ASSIGN_OR_RETURN(
      Rows r,
      c->Exec("SELECT " + EntityColumns("") + " FROM " + Tables(kind).table + " WHERE id = $1", p));
  if (r.size() == 0) return NotFound(Named(kind, id) + ": not found");
  ConfigEntity e;
  WEIR_RETURN_IF_ERROR(ReadEntity(r, 0, 0, kind, &e));
  return e;
}

Status PostgresStore::Update(const ConfigEntity& e) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  Params p;
  p.Add(e.name).Add(e.user).Add(e.version).Add(e.status).Add(e.type);
  p.Add(ToEpochMillis(e.updated)).Add(EncodeConfigBody(e)).Add(e.id);
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec(std::string("UPDATE ") + Tables(e.kind).table +
                                            " SET name = $1, user_name = $2, version = $3,"
                                            " status = $4, type = $5, updated = $6, body = $7"
                                            " WHERE id = $8",
                                        p));
  if (r.Affected() == 0) return NotFound(Named(e.kind, e.id) + ": not found");
  WEIR_RETURN_IF_ERROR(ReplaceTags(*c, e.kind, e.id, e.tags));
  WEIR_RETURN_IF_ERROR(PutDoc(*c, DocOf(e)));
  return tx.Commit();
}

Status PostgresStore::Delete(Kind kind, const std::string& id) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  if (kind == Kind::kApplication) {
    Params p;
    p.Add(id);
    WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT command_id FROM command_applications"
                                          " WHERE application_id = $1 ORDER BY command_id",
                                          p));
    if (r.size() > 0) {
      std::vector<std::string> commands;
      for (int i = 0; i < r.size(); ++i) commands.push_back(r.String(i, 0));
      return FailedPrecondition(Named(kind, id) + ": still used by command" +
                                (commands.size() > 1 ? "s " : " ") + Quoted(commands) +
                                "; remove it from their applications first");
    }
  }
  Params p;
  p.Add(id);
  WEIR_ASSIGN_OR_RETURN(
      Rows r, c->Exec(std::string("DELETE FROM ") + Tables(kind).table + " WHERE id = $1", p));
  if (r.Affected() == 0) return NotFound(Named(kind, id) + ": not found");
  WEIR_RETURN_IF_ERROR(DeleteDoc(*c, SearchKindOf(kind), id));
  return tx.Commit();
}

Status PostgresStore::DeleteAll(Kind kind) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  if (kind == Kind::kApplication) {
    WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT application_id, command_id FROM"
                                          " command_applications"
                                          " ORDER BY application_id, command_id LIMIT 1"));
    if (r.size() > 0) {
      return FailedPrecondition("applications: some are still used by commands (application '" +
                                r.String(0, 0) + "' by command '" + r.String(0, 1) +
                                "'); remove the links first");
    }
  }
  WEIR_RETURN_IF_ERROR(c->Exec(std::string("DELETE FROM ") + Tables(kind).table).status());
  Params docs;
  docs.Add(SearchKindName(SearchKindOf(kind)));
  WEIR_RETURN_IF_ERROR(c->Exec("DELETE FROM search_docs WHERE kind = $1", docs).status());
  return tx.Commit();
}

Result<Page<ConfigEntity>> PostgresStore::Search(Kind kind, const ConfigFilter& f,
                                                 const PageRequest& page) {
  WEIR_RETURN_IF_ERROR(CheckPage(page));
  WEIR_ASSIGN_OR_RETURN(std::string order, OrderBy(page.sort, ConfigSortFields(), "updated"));
  const KindTables t = Tables(kind);
  Params params;
  Where where(&params);
  where.Text("name", f.name);
  where.Text("user_name", f.user);
  where.Text("type", f.type);
  where.In("status", f.statuses);
  where.AllTags("id", t.tag_table, "entity_id", f.tags);
  where.AtLeast("updated", OptMillis(f.min_updated));
  where.Before("updated", OptMillis(f.max_updated));
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  return RunPaged<ConfigEntity>(*c, t.table, EntityColumns(""), where, params, order, page,
                                [kind](const Rows& r) { return ReadEntities(r, kind); });
}

Result<std::vector<std::string>> PostgresStore::GetLinks(Kind owner_kind,
                                                         const std::string& owner_id) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c, /*snapshot=*/true));
  WEIR_ASSIGN_OR_RETURN(bool exists, Exists(*c, owner_kind, owner_id));
  if (!exists) return NotFound(Named(owner_kind, owner_id) + ": not found");
  const LinkTable l = Links(owner_kind);
  Params p;
  p.Add(owner_id);
  WEIR_ASSIGN_OR_RETURN(
      Rows r, c->Exec(std::string("SELECT ") + l.member_column + " FROM " + l.table + " WHERE " +
                          l.owner_column + " = $1 ORDER BY position",
                      p));
  std::vector<std::string> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(r.String(i, 0));
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Status PostgresStore::SetLinks(Kind owner_kind, const std::string& owner_id, Kind member_kind,
                               const std::vector<std::string>& member_ids) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  // Lock the owner row: two concurrent replacements of one list apply one after the other.
  Params owner;
  owner.Add(owner_id);
  WEIR_ASSIGN_OR_RETURN(Rows o, c->Exec(std::string("SELECT 1 FROM ") + Tables(owner_kind).table +
                                            " WHERE id = $1 FOR UPDATE",
                                        owner));
  if (o.size() == 0) return NotFound(Named(owner_kind, owner_id) + ": not found");
  const std::vector<std::string> ids = DedupKeepFirst(member_ids);
  std::vector<std::string> missing;
  for (const auto& id : ids) {
    WEIR_ASSIGN_OR_RETURN(bool found, Exists(*c, member_kind, id));
    if (!found) missing.push_back(id);
  }
  if (!missing.empty()) {
    return FailedPrecondition(
        Named(owner_kind, owner_id) + ": " + std::string(model::KindName(member_kind)) +
        (missing.size() > 1 ? "s " : " ") + Quoted(missing) +
        (missing.size() > 1 ? " do" : " does") + " not exist; create them first or leave them out");
  }
  const LinkTable l = Links(owner_kind);
  WEIR_RETURN_IF_ERROR(
      c->Exec(std::string("DELETE FROM ") + l.table + " WHERE " + l.owner_column + " = $1", owner)
          .status());
  if (ids.empty()) return tx.Commit();
  Params p;
  const std::string o_ph = p.Next(owner_id);
  std::string values;
  for (size_t i = 0; i < ids.size(); ++i) {
    values += (i == 0 ? "(" : ", (") + o_ph + ", " + p.Next(ids[i]) + ", " +
              p.Next(static_cast<int64_t>(i)) + "::integer)";
  }
  Status s = c->Exec(std::string("INSERT INTO ") + l.table + " (" + l.owner_column + ", " +
                         l.member_column + ", position) VALUES " + values,
                     p)
                 .status();
  if (!s.ok()) {
    // A member deleted by another connection since the check above.
    if (c->last_sqlstate() == "23503") {
      return FailedPrecondition(Named(owner_kind, owner_id) + ": a " +
                                std::string(model::KindName(member_kind)) +
                                " was deleted meanwhile; retry");
    }
    return s;
  }
  return tx.Commit();
}

Result<std::vector<std::string>> PostgresStore::GetCommandApplications(const std::string& id) {
  return GetLinks(Kind::kCommand, id);
}

Status PostgresStore::SetCommandApplications(const std::string& id,
                                             const std::vector<std::string>& application_ids) {
  return SetLinks(Kind::kCommand, id, Kind::kApplication, application_ids);
}

Result<std::vector<std::string>> PostgresStore::GetClusterCommands(const std::string& id) {
  return GetLinks(Kind::kCluster, id);
}

Status PostgresStore::SetClusterCommands(const std::string& id,
                                         const std::vector<std::string>& command_ids) {
  return SetLinks(Kind::kCluster, id, Kind::kCommand, command_ids);
}

Result<std::vector<ConfigEntity>> PostgresStore::Reverse(Kind member_kind,
                                                         const std::string& member_id,
                                                         Kind owner_kind,
                                                         const std::vector<std::string>& statuses) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c, /*snapshot=*/true));
  WEIR_ASSIGN_OR_RETURN(bool exists, Exists(*c, member_kind, member_id));
  if (!exists) return NotFound(Named(member_kind, member_id) + ": not found");
  const LinkTable l = Links(owner_kind);
  Params params;
  Where where(&params);
  where.Equals(std::string("l.") + l.member_column, member_id);
  where.In("o.status", statuses);
  WEIR_ASSIGN_OR_RETURN(Rows r,
                        c->Exec("SELECT " + EntityColumns("o") + " FROM " + l.table + " l JOIN " +
                                    Tables(owner_kind).table + " o ON o.id = l." + l.owner_column +
                                    where.Sql() + " ORDER BY o.id",
                                params));
  WEIR_ASSIGN_OR_RETURN(std::vector<ConfigEntity> out, ReadEntities(r, owner_kind));
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Result<std::vector<ConfigEntity>> PostgresStore::CommandsForApplication(
    const std::string& application_id, const std::vector<std::string>& statuses) {
  return Reverse(Kind::kApplication, application_id, Kind::kCommand, statuses);
}

Result<std::vector<ConfigEntity>> PostgresStore::ClustersForCommand(
    const std::string& command_id, const std::vector<std::string>& statuses) {
  return Reverse(Kind::kCommand, command_id, Kind::kCluster, statuses);
}

Result<std::vector<ConfigStore::Candidate>> PostgresStore::FindCandidates(
    const std::vector<std::string>& cluster_tags, const std::vector<std::string>& command_tags) {
  // One query: each qualifying (cluster, command) pair with both entities, in cluster id order
  // and the cluster's command order.
  Params params;
  Where where(&params);
  where.Equals("cl.status", "UP");
  where.AllTags("cl.id", "cluster_tags", "entity_id", cluster_tags);
  where.Equals("c.status", "ACTIVE");
  where.AllTags("c.id", "command_tags", "entity_id", command_tags);
  const std::string sql = "SELECT " + EntityColumns("cl") + ", " + EntityColumns("c") +
                          " FROM cluster_commands cc"
                          " JOIN clusters cl ON cl.id = cc.cluster_id"
                          " JOIN commands c ON c.id = cc.command_id" +
                          where.Sql() + " ORDER BY cc.cluster_id, cc.position";
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec(sql, params));
  std::vector<Candidate> out;
  for (int i = 0; i < r.size(); ++i) {
    if (out.empty() || out.back().cluster.id != r.Text(i, 0)) {
      out.emplace_back();
      WEIR_RETURN_IF_ERROR(ReadEntity(r, i, 0, Kind::kCluster, &out.back().cluster));
    }
    ConfigEntity cmd;
    WEIR_RETURN_IF_ERROR(ReadEntity(r, i, 9, Kind::kCommand, &cmd));
    out.back().commands.push_back(std::move(cmd));
  }
  return out;
}

// ---- JobStore ---------------------------------------------------------------------------------

Status PostgresStore::CreateJob(const JobRecord& r) {
  if (r.id.empty()) return InvalidArgument("job: id is empty");
  Params p;
  p.Add(r.id).Add(r.request.name).Add(r.request.user).Add(model::JobStatusName(r.job.status));
  p.Add(ToEpochMillis(r.created)).Add(ToEpochMillis(r.updated));
  p.Add(OptMillis(r.job.started)).Add(OptMillis(r.job.finished));
  p.Add(r.job.cluster_name).Add(r.job.cluster_id).Add(r.job.command_name).Add(r.job.command_id);
  p.Add(r.request.grouping).Add(r.request.grouping_instance);
  p.Add(EncodeJobRequest(r.request)).Add(EncodeJobState(r));
  std::string sql =
      "INSERT INTO jobs (id, name, user_name, status, created, updated, started, finished,"
      " cluster_name, cluster_id, command_name, command_id, grouping, grouping_instance, request,"
      " state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
  const std::vector<std::string> tags = Unique(r.request.tags);
  // The job and its tags in one statement (one round trip, atomic without BEGIN/COMMIT).
  if (!tags.empty()) {
    std::string values;
    for (const auto& tag : tags) values += (values.empty() ? "(" : ", (") + p.Next(tag) + ")";
    sql = "WITH job AS (" + sql +
          " RETURNING id) INSERT INTO job_tags (job_id, tag) SELECT job.id, t.tag FROM job"
          " CROSS JOIN (VALUES " +
          values + ") AS t(tag)";
  }
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  // A job created for the shared queue enters it in the same transaction.
  const bool queued = r.job.status == JobStatus::kInit && r.execution.host_name.empty();
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  Status s = c->Exec(sql, p).status();
  if (!s.ok()) {
    if (c->last_sqlstate() == "23505") {
      return AlreadyExists("job '" + r.id + "': already exists; choose another id");
    }
    return s.WithContext("job '" + r.id + "'");
  }
  if (queued) {
    Params q;
    q.Add(r.id).Add(int64_t{r.execution.memory.value_or(0)});
    WEIR_RETURN_IF_ERROR(
        c->Exec("INSERT INTO job_queue (job_id, memory_mb) VALUES ($1, $2)", q).status());
  }
  WEIR_RETURN_IF_ERROR(PutDoc(*c, DocOf(r)));
  std::unique_lock events(events_mu_);
  std::vector<EventRecord> stored;
  WEIR_RETURN_IF_ERROR(StoreJobEvents(*c, events, std::nullopt, r, &stored));
  WEIR_RETURN_IF_ERROR(tx.Commit());
  Announce(*c, stored);
  return Status::Ok();
}

Result<JobRecord> PostgresStore::GetJob(const std::string& id) {
  Params p;
  p.Add(id);
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(
      Rows r, c->Exec(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = $1", p));
  if (r.size() == 0) return NotFound("job '" + id + "': not found");
  JobRecord out;
  WEIR_RETURN_IF_ERROR(ReadJob(r, 0, &out));
  return out;
}

Status PostgresStore::UpdateJob(const JobRecord& r) {
  Params p;
  p.Add(model::JobStatusName(r.job.status)).Add(ToEpochMillis(r.updated));
  p.Add(OptMillis(r.job.started)).Add(OptMillis(r.job.finished));
  p.Add(r.job.cluster_name).Add(r.job.cluster_id).Add(r.job.command_name).Add(r.job.command_id);
  p.Add(EncodeJobState(r)).Add(r.id);
  Params id;
  id.Add(r.id);
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  // The row stays locked until the commit: the status read here is the one this write replaces
  // (the "from" of its events), whoever races.
  WEIR_ASSIGN_OR_RETURN(Rows before,
                        c->Exec("SELECT status FROM jobs WHERE id = $1 FOR UPDATE", id));
  if (before.size() == 0) return NotFound("job '" + r.id + "': not found");
  WEIR_ASSIGN_OR_RETURN(JobStatus from, model::ParseJobStatus(before.Text(0, 0)));
  if (!model::IsActive(from)) {
    return FailedPrecondition("job '" + r.id + "': status " + before.String(0, 0) +
                              " is final and never changes");
  }
  // The request is written once and not passed back reliably: index what the row holds.
  WEIR_ASSIGN_OR_RETURN(Rows up, c->Exec(std::string("UPDATE jobs SET status = $1, updated = $2,"
                                                     " started = $3, finished = $4,"
                                                     " cluster_name = $5, cluster_id = $6,"
                                                     " command_name = $7, command_id = $8,"
                                                     " state = $9 WHERE id = $10 RETURNING ") +
                                             kJobColumns,
                                         p));
  if (up.size() != 1) return Internal("job '" + r.id + "': vanished while being updated");
  JobRecord written;
  WEIR_RETURN_IF_ERROR(ReadJob(up, 0, &written));
  WEIR_RETURN_IF_ERROR(PutDoc(*c, DocOf(written)));
  std::vector<EventRecord> stored;
  if (from == r.job.status) return tx.Commit();
  std::unique_lock events(events_mu_);
  WEIR_RETURN_IF_ERROR(StoreJobEvents(*c, events, from, r, &stored));
  WEIR_RETURN_IF_ERROR(tx.Commit());
  Announce(*c, stored);
  return Status::Ok();
}

Result<Page<JobRecord>> PostgresStore::SearchJobs(const JobFilter& f, const PageRequest& page) {
  WEIR_RETURN_IF_ERROR(CheckPage(page));
  WEIR_ASSIGN_OR_RETURN(std::string order, OrderBy(page.sort, JobSortFields(), "created"));
  Params params;
  Where where(&params);
  where.Text("id", f.id);
  where.Text("name", f.name);
  where.Text("user_name", f.user);
  where.In("status", StatusNames(f.statuses));
  where.AllTags("id", "job_tags", "job_id", f.tags);
  where.Text("cluster_name", f.cluster_name);
  where.Text("cluster_id", f.cluster_id);
  where.Text("command_name", f.command_name);
  where.Text("command_id", f.command_id);
  where.Text("grouping", f.grouping);
  where.Text("grouping_instance", f.grouping_instance);
  where.AtLeast("started", OptMillis(f.min_started));
  where.Before("started", OptMillis(f.max_started));
  where.AtLeast("finished", OptMillis(f.min_finished));
  where.Before("finished", OptMillis(f.max_finished));
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  return RunPaged<JobRecord>(*c, "jobs", kJobColumns, where, params, order, page,
                             [](const Rows& r) { return ReadJobs(r); });
}

Result<std::vector<JobRecord>> PostgresStore::JobsWithStatus(
    const std::vector<JobStatus>& statuses) {
  if (statuses.empty()) return std::vector<JobRecord>{};
  Params params;
  Where where(&params);
  where.In("status", StatusNames(statuses));
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  // seq breaks ties of `created` in insertion order: the queue stays first come, first served.
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec(std::string("SELECT ") + kJobColumns + " FROM jobs" +
                                            where.Sql() + " ORDER BY created ASC, seq ASC",
                                        params));
  return ReadJobs(r);
}

Result<int64_t> PostgresStore::CountActiveJobs(const std::string& user) {
  Params p;
  p.Add(user);
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT COUNT(*) FROM jobs WHERE user_name = $1 AND"
                                        " status IN ('INIT', 'RUNNING')",
                                        p));
  return r.size() > 0 ? r.Int(0, 0) : 0;
}

// ---- AuditStore -------------------------------------------------------------------------------

namespace {

constexpr const char* kAuditColumns = "seq, time, principal, source, method, path, target, status";

Result<std::vector<AuditRecord>> ReadAudit(const Rows& q) {
  std::vector<AuditRecord> out;
  for (int i = 0; i < q.size(); ++i) {
    AuditRecord r;
    r.seq = q.Int(i, 0);
    r.time = FromEpochMillis(q.Int(i, 1));
    r.principal = q.String(i, 2);
    r.source = q.String(i, 3);
    r.method = q.String(i, 4);
    r.path = q.String(i, 5);
    r.target = q.String(i, 6);
    r.status = static_cast<int>(q.Int(i, 7));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

Result<int64_t> PostgresStore::AppendAudit(const AuditRecord& r) {
  Params p;
  p.Add(ToEpochMillis(r.time)).Add(r.principal).Add(r.source).Add(r.method).Add(r.path);
  p.Add(r.target).Add(static_cast<int64_t>(r.status));
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows rows, c->Exec("INSERT INTO audit(time, principal, source, method,"
                                           " path, target, status)"
                                           " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
                                           p));
  if (rows.size() != 1) return Internal("audit: the insert returned no seq");
  return rows.Int(0, 0);
}

Result<Page<AuditRecord>> PostgresStore::SearchAudit(const AuditFilter& f, const PageRequest& page,
                                                     bool newest_first) {
  WEIR_RETURN_IF_ERROR(CheckPage(page));
  Params params;
  Where where(&params);
  if (f.principal) where.Equals("principal", *f.principal);
  where.AtLeast("time", OptMillis(f.since));
  where.Before("time", OptMillis(f.until));
  where.Prefix("path", f.path_prefix);
  if (f.target) where.Equals("target", *f.target);
  where.AtLeast("status", f.min_status ? std::optional<int64_t>(*f.min_status) : std::nullopt);
  where.AtMost("status", f.max_status ? std::optional<int64_t>(*f.max_status) : std::nullopt);
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  return RunPaged<AuditRecord>(*c, "audit", kAuditColumns, where, params,
                               newest_first ? " ORDER BY seq DESC" : " ORDER BY seq ASC", page,
                               [](const Rows& r) { return ReadAudit(r); });
}

Result<int64_t> PostgresStore::PruneAudit(TimePoint before) {
  Params p;
  p.Add(ToEpochMillis(before));
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("DELETE FROM audit WHERE time < $1", p));
  return r.Affected();
}

}  // namespace weir::store::postgres
