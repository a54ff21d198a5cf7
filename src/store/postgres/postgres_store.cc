#include "store/postgres/postgres_store.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <unordered_set>

#include "store/postgres/schema.h"
#include "store/postgres/text_search.h"
#include "store/sqlite/codec.h"  // the store's JSON encodings and search documents, shared

namespace weir::store::postgres {
namespace {

using model::ConfigEntity;
using model::JobRecord;
using model::JobStatus;
using model::Kind;
using sqlite::DecodeConfigBody;
using sqlite::DecodeJobRequest;
using sqlite::DecodeJobState;
using sqlite::DocOf;
using sqlite::EncodeConfigBody;
using sqlite::EncodeJobRequest;
using sqlite::EncodeJobState;
using sqlite::SearchKindOf;

std::vector<std::string> Unique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// WHERE clauses whose values are parameters of `params` (shared with the rest of the statement).
class Where {
 public:
  explicit Where(Params* params) : p_(params) {}

  // A value containing '%' is a LIKE match (case-sensitive, no escape character: only '%' and
  // '_' are special), otherwise equality.
  void Text(std::string_view column, const std::optional<std::string>& value) {
    if (!value) return;
    if (value->find('%') != std::string::npos) {
      Add(std::string(column) + " LIKE " + p_->Next(*value) + " ESCAPE ''");
    } else {
      Equals(column, *value);
    }
  }
  void Equals(std::string_view column, const std::string& value) {
    Add(std::string(column) + " = " + p_->Next(value));
  }
  void In(std::string_view column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    Add(std::string(column) + " IN (" + List(Unique(values)) + ")");
  }
  void AllTags(std::string_view id_expr, std::string_view tag_table, std::string_view fk,
               const std::vector<std::string>& tags) {
    if (tags.empty()) return;
    const std::vector<std::string> unique = Unique(tags);
    Add(std::string(id_expr) + " IN (SELECT " + std::string(fk) + " FROM " +
        std::string(tag_table) + " WHERE tag IN (" + List(unique) + ") GROUP BY " +
        std::string(fk) + " HAVING COUNT(*) = " + std::to_string(unique.size()) + ")");
  }
  void AtLeast(std::string_view column, const std::optional<int64_t>& v) {
    if (v) Add(std::string(column) + " >= " + p_->Next(*v));
  }
  void AtMost(std::string_view column, const std::optional<int64_t>& v) {
    if (v) Add(std::string(column) + " <= " + p_->Next(*v));
  }
  void Before(std::string_view column, const std::optional<int64_t>& v) {
    if (v) Add(std::string(column) + " < " + p_->Next(*v));
  }
  // Byte-exact prefix (the column is COLLATE "C"; no pattern characters).
  void Prefix(std::string_view column, const std::optional<std::string>& prefix) {
    if (!prefix || prefix->empty()) return;
    Add("substr(convert_to(" + std::string(column) + ", 'UTF8'), 1, " +
        p_->Next(static_cast<int64_t>(prefix->size())) + ") = convert_to(" + p_->Next(*prefix) +
        ", 'UTF8')");
  }

  std::string Sql() const {
    std::string s;
    for (size_t i = 0; i < clauses_.size(); ++i) s += (i == 0 ? " WHERE " : " AND ") + clauses_[i];
    return s;
  }

 private:
  void Add(std::string c) { clauses_.push_back(std::move(c)); }
  std::string List(const std::vector<std::string>& values) {
    std::string s;
    for (const auto& v : values) s += (s.empty() ? "" : ", ") + p_->Next(v);
    return s;
  }

  Params* p_;
  std::vector<std::string> clauses_;
};

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

Status CheckPage(const PageRequest& page) {
  if (page.page < 0) return InvalidArgument("page: must be 0 or more");
  if (page.size < 1) return InvalidArgument("size: must be at least 1");
  return Status::Ok();
}

// ---- configuration entities -------------------------------------------------------------------

struct KindTables {
  const char* table;
  const char* tag_table;
};

KindTables Tables(Kind kind) {
  switch (kind) {
    case Kind::kApplication:
      return {"applications", "application_tags"};
    case Kind::kCommand:
      return {"commands", "command_tags"};
    case Kind::kCluster:
      return {"clusters", "cluster_tags"};
  }
  return {"applications", "application_tags"};
}

std::string Named(Kind kind, const std::string& id) {
  return std::string(model::KindName(kind)) + " '" + id + "'";
}

std::string Quoted(const std::vector<std::string>& ids) {
  std::string s;
  for (const auto& id : ids) s += (s.empty() ? "'" : ", '") + id + "'";
  return s;
}

std::string EntityColumns(std::string_view alias) {
  std::string a = alias.empty() ? "" : std::string(alias) + ".";
  return a + "id, " + a + "name, " + a + "user_name, " + a + "version, " + a + "status, " + a +
         "type, " + a + "created, " + a + "updated, " + a + "body";
}

Status ReadEntity(const Rows& q, int row, int first, Kind kind, ConfigEntity* e) {
  e->kind = kind;
  e->id = q.String(row, first + 0);
  e->name = q.String(row, first + 1);
  e->user = q.String(row, first + 2);
  e->version = q.String(row, first + 3);
  e->status = q.String(row, first + 4);
  e->type = q.OptString(row, first + 5);
  e->created = FromEpochMillis(q.Int(row, first + 6));
  e->updated = FromEpochMillis(q.Int(row, first + 7));
  return DecodeConfigBody(q.Text(row, first + 8), e);
}

Result<std::vector<ConfigEntity>> ReadEntities(const Rows& q, Kind kind) {
  std::vector<ConfigEntity> out(static_cast<size_t>(q.size()));
  for (int i = 0; i < q.size(); ++i) {
    WEIR_RETURN_IF_ERROR(ReadEntity(q, i, 0, kind, &out[static_cast<size_t>(i)]));
  }
  return out;
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

constexpr const char* kJobColumns =
    "id, status, created, updated, started, finished, cluster_name, cluster_id, command_name, "
    "command_id, request, state";

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

std::optional<TimePoint> OptTime(const Rows& q, int row, int col) {
  if (q.IsNull(row, col)) return std::nullopt;
  return FromEpochMillis(q.Int(row, col));
}

Status ReadJob(const Rows& q, int row, JobRecord* r) {
  r->id = q.String(row, 0);
  Result<JobStatus> status = model::ParseJobStatus(q.Text(row, 1));
  if (!status) {
    return Internal("job '" + r->id + "': stored status '" + q.String(row, 1) + "' is unknown");
  }
  r->job.status = *status;
  r->created = FromEpochMillis(q.Int(row, 2));
  r->updated = FromEpochMillis(q.Int(row, 3));
  r->job.started = OptTime(q, row, 4);
  r->job.finished = OptTime(q, row, 5);
  r->job.cluster_name = q.String(row, 6);
  r->job.cluster_id = q.String(row, 7);
  r->job.command_name = q.String(row, 8);
  r->job.command_id = q.String(row, 9);
  WEIR_RETURN_IF_ERROR(DecodeJobRequest(q.Text(row, 10), r->id, &r->request));
  return DecodeJobState(q.Text(row, 11), r);
}

Result<std::vector<JobRecord>> ReadJobs(const Rows& q) {
  std::vector<JobRecord> out(static_cast<size_t>(q.size()));
  for (int i = 0; i < q.size(); ++i) {
    WEIR_RETURN_IF_ERROR(ReadJob(q, i, &out[static_cast<size_t>(i)]));
  }
  return out;
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

// ---- search documents and events -------------------------------------------------------------

Status PutDoc(Connection& c, const SearchDocument& d) {
  Params p;
  p.Add(SearchKindName(d.kind)).Add(d.id).Add(d.name).Add(d.status).Add(sqlite::JoinTags(d.tags));
  p.Add(d.text).Add(TsVectorLiteral(d));
  return c
      .Exec(
          "INSERT INTO search_docs(kind, ref, name, status, tags, text, doc)"
          " VALUES ($1, $2, $3, $4, $5, $6, $7::tsvector) ON CONFLICT (kind, ref) DO UPDATE SET"
          " name = excluded.name, status = excluded.status, tags = excluded.tags,"
          " text = excluded.text, doc = excluded.doc",
          p)
      .status();
}

Status DeleteDoc(Connection& c, SearchKind kind, const std::string& id) {
  Params p;
  p.Add(SearchKindName(kind)).Add(id);
  return c.Exec("DELETE FROM search_docs WHERE kind = $1 AND ref = $2", p).status();
}

// Why a lock and not only the sequence: a sequence hands out ids in the order transactions ask,
// not in the order they commit. Were transaction A given id 6 and B id 7, and B committed first,
// a reader could see 7, resume after it and never see 6. So every transaction that stores events
// takes this transaction-scoped advisory lock before its first event and holds it until its
// commit: ids are given and made visible one transaction at a time, in commit order, across
// every server on the database (a sequence row updated in the transaction would serialise the
// same way, with more writes). It is the last lock such a transaction takes (its job row is
// locked before), so it cannot take part in a deadlock. LastEventId takes it shared, so the id
// it reads never belongs to a transaction still running. One lock per schema (test databases are
// schemas of one database).
constexpr const char* kEventLock =
    "SELECT pg_advisory_xact_lock(hashtext('weir.events:' || current_schema()))";
constexpr const char* kEventLockShared =
    "SELECT pg_advisory_xact_lock_shared(hashtext('weir.events:' || current_schema()))";

Result<int64_t> InsertEvent(Connection& c, const EventRecord& e) {
  Params p;
  p.Add(e.type).Add(ToEpochMillis(e.time)).Add(e.job_id).Add(e.user).Add(e.grouping);
  p.Add(e.workflow).Add(e.data);
  WEIR_ASSIGN_OR_RETURN(Rows r, c.Exec("INSERT INTO events(type, time, job_id, user_name, grouping,"
                                       " workflow, data) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                                       " RETURNING id",
                                       p));
  if (r.size() != 1) return Internal("events: the insert returned no id");
  return r.Int(0, 0);
}

// Tells the LISTEN connections of every server on the database, at this transaction's commit,
// that events were stored.
Status Notify(Connection& c, const std::string& channel) {
  Params p;
  p.Add(channel);
  return c.Exec("SELECT pg_notify($1, '')", p).status();
}

std::vector<EventRecord> ReadEventRows(const Rows& r) {
  std::vector<EventRecord> out(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    EventRecord& e = out[static_cast<size_t>(i)];
    e.id = r.Int(i, 0);
    e.type = r.String(i, 1);
    e.time = FromEpochMillis(r.Int(i, 2));
    e.job_id = r.String(i, 3);
    e.user = r.String(i, 4);
    e.grouping = r.String(i, 5);
    e.workflow = r.String(i, 6);
    e.data = r.String(i, 7);
  }
  return out;
}

// The newest id given (0 when none ever was); a pruned log keeps it.
Result<int64_t> ReadLastEventId(Connection& c) {
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(c));
  WEIR_RETURN_IF_ERROR(c.Exec(kEventLockShared).status());
  WEIR_ASSIGN_OR_RETURN(Rows r, c.Exec("SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
                                       " FROM events_id_seq"));
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return r.size() > 0 ? r.Int(0, 0) : 0;
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

// ---- EventStore -------------------------------------------------------------------------------

Status PostgresStore::StoreJobEvents(Connection& c, const std::unique_lock<std::mutex>& lock,
                                     std::optional<JobStatus> from, const JobRecord& r,
                                     std::vector<EventRecord>* stored) {
  (void)lock;  // proof that events_mu_ is held
  if (!job_events_) return Status::Ok();
  *stored = job_events_(from, r);
  if (stored->empty()) return Status::Ok();
  WEIR_RETURN_IF_ERROR(c.Exec(kEventLock).status());
  for (EventRecord& e : *stored) {
    WEIR_ASSIGN_OR_RETURN(e.id, InsertEvent(c, e));
  }
  return Notify(c, channel_);
}

void PostgresStore::Announce(Connection& c, const std::vector<EventRecord>& stored) {
  if (!event_listener_ || stored.empty()) return;
  // Other servers' events with lower ids committed before these (the event lock): tell them
  // first. The LISTEN thread may not have had their NOTIFY yet.
  if (stored.front().id > announced_ + 1) {
    if (Status s = CatchUp(c, stored.front().id); !s.ok()) {
      spdlog::warn("events: reading the log before event {} failed: {}", stored.front().id,
                   s.message());
    }
  }
  for (const EventRecord& e : stored) {
    if (e.id <= announced_) continue;
    event_listener_(e);
    announced_ = e.id;
  }
}

Status PostgresStore::CatchUp(Connection& c, int64_t below) {
  if (!event_listener_) return Status::Ok();
  for (;;) {
    Params p;
    p.Add(announced_);
    std::string sql =
        "SELECT id, type, time, job_id, user_name, grouping, workflow, data FROM events"
        " WHERE id > $1";
    if (below > 0) sql += " AND id < " + p.Next(below);
    sql += " ORDER BY id ASC LIMIT 1000";
    WEIR_ASSIGN_OR_RETURN(Rows r, c.Exec(sql, p));
    if (r.size() == 0) return Status::Ok();
    for (const EventRecord& e : ReadEventRows(r)) {
      event_listener_(e);
      announced_ = e.id;
    }
  }
}

PostgresStore::~PostgresStore() {
  stopping_ = true;
  if (listen_thread_.joinable()) listen_thread_.join();
}

void PostgresStore::ListenLoop() {
  std::unique_ptr<Connection> c;
  bool warned = false;
  while (!stopping_) {
    if (!c) {
      Result<std::unique_ptr<Connection>> opened =
          Connection::Open(url_, password_, connect_timeout_s_);
      Status s = opened.status();
      if (s.ok()) {
        std::string quoted = "\"";
        for (char ch : channel_) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        s = (*opened)->Exec("LISTEN " + quoted + "\"").status();
      }
      if (s.ok()) {
        c = std::move(*opened);
        std::lock_guard events(events_mu_);
        s = CatchUp(*c, 0);  // what was committed while no one listened
        if (!s.ok()) c.reset();
      }
      if (!s.ok()) {
        if (!warned) spdlog::warn("events: listening for other servers' events: {}", s.message());
        warned = true;
        for (int i = 0; i < 20 && !stopping_; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        continue;
      }
      warned = false;
    }
    pollfd fd{c->Socket(), POLLIN, 0};
    if (::poll(&fd, 1, 200) < 0 && errno != EINTR) {
      c.reset();
      continue;
    }
    Result<std::vector<std::string>> notes = c->TakeNotifications();
    if (!notes.ok()) {
      c.reset();
      continue;
    }
    if (notes->empty()) continue;
    std::lock_guard events(events_mu_);
    if (!CatchUp(*c, 0).ok()) c.reset();
  }
}

Result<int64_t> PostgresStore::AppendEvent(const EventRecord& e) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  std::lock_guard events(events_mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  WEIR_RETURN_IF_ERROR(c->Exec(kEventLock).status());
  EventRecord stored = e;
  WEIR_ASSIGN_OR_RETURN(stored.id, InsertEvent(*c, e));
  WEIR_RETURN_IF_ERROR(Notify(*c, channel_));
  WEIR_RETURN_IF_ERROR(tx.Commit());
  Announce(*c, {stored});
  return stored.id;
}

Result<std::vector<EventRecord>> PostgresStore::ReadEvents(int64_t after_id, const EventFilter& f,
                                                           int limit) {
  if (limit < 1) return InvalidArgument("events: limit must be at least 1");
  Params params;
  Where where(&params);
  where.AtLeast("id", after_id + 1);
  where.In("type", f.types);
  if (f.job_id) where.Equals("job_id", *f.job_id);
  if (f.user) where.Equals("user_name", *f.user);
  if (f.grouping) where.Equals("grouping", *f.grouping);
  if (f.workflow) where.Equals("workflow", *f.workflow);
  const std::string lim = params.Next(static_cast<int64_t>(limit));
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT id, type, time, job_id, user_name, grouping,"
                                        " workflow, data FROM events" +
                                            where.Sql() + " ORDER BY id ASC LIMIT " + lim,
                                        params));
  return ReadEventRows(r);
}

Result<int64_t> PostgresStore::LastEventId() {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  return ReadLastEventId(*c);
}

Result<int64_t> PostgresStore::PruneEvents(TimePoint before, int64_t max_events) {
  Params p;
  p.Add(ToEpochMillis(before));
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows aged, c->Exec("DELETE FROM events WHERE time < $1", p));
  int64_t removed = aged.Affected();
  if (max_events > 0) {
    Params keep;
    keep.Add(max_events);
    WEIR_ASSIGN_OR_RETURN(Rows cut, c->Exec("DELETE FROM events WHERE id <= (SELECT id FROM events"
                                            " ORDER BY id DESC LIMIT 1 OFFSET $1)",
                                            keep));
    removed += cut.Affected();
  }
  return removed;
}

void PostgresStore::SetJobEvents(JobEventsFn fn) {
  std::lock_guard events(events_mu_);
  job_events_ = std::move(fn);
}

Result<int64_t> PostgresStore::SetEventListener(EventListener listener) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  // No writer of this process is between its event lock and telling the listener while
  // events_mu_ is held, and none of any process holds the event lock while the id is read.
  std::lock_guard events(events_mu_);
  WEIR_ASSIGN_OR_RETURN(int64_t last, ReadLastEventId(*c));
  event_listener_ = std::move(listener);
  announced_ = last;
  if (!listen_thread_.joinable()) listen_thread_ = std::thread([this] { ListenLoop(); });
  return last;
}

// ---- SearchIndex ------------------------------------------------------------------------------

namespace {

Status OnlyHandedInKinds(SearchKind kind) {
  if (kind == SearchKind::kWorkflow) return Status::Ok();
  return InvalidArgument(std::string("search: ") + std::string(SearchKindName(kind)) +
                         " documents are kept by the store itself");
}

}  // namespace

// ---- shared queue and nodes ------------------------------------------------------------------

Result<std::optional<JobRecord>> PostgresStore::ClaimQueuedJob(const std::string& node,
                                                               int64_t max_memory_mb,
                                                               TimePoint now) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  // The oldest queued job no other transaction is claiming: rows locked by a concurrent claim
  // are skipped, so two nodes never take the same job and never wait for each other.
  WEIR_ASSIGN_OR_RETURN(Rows q, c->Exec("SELECT job_id, memory_mb FROM job_queue ORDER BY seq"
                                        " LIMIT 1 FOR UPDATE SKIP LOCKED"));
  if (q.size() == 0 || (max_memory_mb >= 0 && q.Int(0, 1) > max_memory_mb)) {
    WEIR_RETURN_IF_ERROR(tx.Commit());
    return std::optional<JobRecord>();
  }
  const std::string id = q.String(0, 0);
  Params p;
  p.Add(id);
  WEIR_RETURN_IF_ERROR(c->Exec("DELETE FROM job_queue WHERE job_id = $1", p).status());
  WEIR_ASSIGN_OR_RETURN(
      Rows j, c->Exec(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = $1", p));
  if (j.size() == 0) return Internal("job '" + id + "': queued but has no record");
  JobRecord r;
  WEIR_RETURN_IF_ERROR(ReadJob(j, 0, &r));
  if (r.job.status != JobStatus::kInit) {
    WEIR_RETURN_IF_ERROR(tx.Commit());  // ended while queued: dropped from the queue
    return std::optional<JobRecord>();
  }
  r.execution.host_name = node;
  r.updated = now;
  Params up;
  up.Add(ToEpochMillis(now)).Add(EncodeJobState(r)).Add(id);
  WEIR_RETURN_IF_ERROR(
      c->Exec("UPDATE jobs SET updated = $1, state = $2 WHERE id = $3", up).status());
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return std::optional<JobRecord>(std::move(r));
}

Result<bool> PostgresStore::UnqueueJob(const std::string& id) {
  Params p;
  p.Add(id);
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("DELETE FROM job_queue WHERE job_id = $1", p));
  return r.Affected() == 1;
}

Result<std::vector<JobRecord>> PostgresStore::DeleteFinishedJobs(TimePoint before, int limit) {
  if (limit < 1) return InvalidArgument("job cleanup: batch size must be at least 1");
  Params p;
  p.Add(ToEpochMillis(before)).Add(int64_t{limit});
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  // SKIP LOCKED: a row another transaction holds (a racing cleanup) is left for it.
  WEIR_ASSIGN_OR_RETURN(
      Rows rows, c->Exec(std::string("SELECT ") + kJobColumns +
                             " FROM jobs WHERE finished IS NOT NULL AND finished < $1 AND"
                             " status NOT IN ('INIT', 'RUNNING') ORDER BY finished, id LIMIT $2"
                             " FOR UPDATE SKIP LOCKED",
                         p));
  WEIR_ASSIGN_OR_RETURN(std::vector<JobRecord> out, ReadJobs(rows));
  for (const JobRecord& r : out) {
    Params id;
    id.Add(r.id);
    // job_tags go with the row (ON DELETE CASCADE).
    WEIR_RETURN_IF_ERROR(c->Exec("DELETE FROM job_queue WHERE job_id = $1", id).status());
    WEIR_RETURN_IF_ERROR(c->Exec("DELETE FROM jobs WHERE id = $1", id).status());
    WEIR_RETURN_IF_ERROR(DeleteDoc(*c, SearchKind::kJob, r.id));
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

namespace {

constexpr const char* kNodeColumns =
    "id, url, started, heartbeat, running_jobs, capacity_mb, free_memory_mb";

NodeRecord ReadNode(const Rows& q, int row) {
  NodeRecord n;
  n.id = q.String(row, 0);
  n.url = q.String(row, 1);
  n.started = FromEpochMillis(q.Int(row, 2));
  n.heartbeat = FromEpochMillis(q.Int(row, 3));
  n.running_jobs = q.Int(row, 4);
  n.capacity_mb = q.Int(row, 5);
  n.free_memory_mb = q.Int(row, 6);
  return n;
}

LeaseRecord ReadLease(const Rows& q, const std::string& name) {
  LeaseRecord l;
  l.name = name;
  if (q.size() == 0) return l;
  l.holder = q.String(0, 0);
  l.token = q.Int(0, 1);
  l.acquired = FromEpochMillis(q.Int(0, 2));
  l.expires = FromEpochMillis(q.Int(0, 3));
  return l;
}

}  // namespace

Status PostgresStore::RebuildSearchIfNeeded() {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  // The row lock makes a second server opening the database at once wait, then see it done.
  WEIR_ASSIGN_OR_RETURN(Rows flag, c->Exec("SELECT pending FROM search_rebuild FOR UPDATE"));
  bool pending = false;
  for (int i = 0; i < flag.size(); ++i) pending = pending || flag.Int(i, 0) != 0;
  if (!pending) return tx.Commit();
  for (Kind kind : {Kind::kApplication, Kind::kCommand, Kind::kCluster}) {
    WEIR_ASSIGN_OR_RETURN(Rows r,
                          c->Exec("SELECT " + EntityColumns("") + " FROM " + Tables(kind).table));
    WEIR_ASSIGN_OR_RETURN(std::vector<ConfigEntity> entities, ReadEntities(r, kind));
    for (const auto& e : entities) WEIR_RETURN_IF_ERROR(PutDoc(*c, DocOf(e)));
  }
  {
    WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec(std::string("SELECT ") + kJobColumns + " FROM jobs"));
    WEIR_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs, ReadJobs(r));
    for (const auto& j : jobs) WEIR_RETURN_IF_ERROR(PutDoc(*c, DocOf(j)));
  }
  WEIR_RETURN_IF_ERROR(c->Exec("UPDATE search_rebuild SET pending = 0").status());
  return tx.Commit();
}

Result<Page<SearchHit>> PostgresStore::SearchText(const SearchQuery& query,
                                                  const PageRequest& page) {
  WEIR_RETURN_IF_ERROR(CheckPage(page));
  if (query.terms.empty()) return InvalidArgument("q: give at least one word");
  const std::string tsquery = TsQueryLiteral(query.terms);
  if (tsquery.empty()) return Page<SearchHit>{};
  std::string whole;
  for (const auto& t : query.terms) sqlite::AddText(&whole, t);
  std::vector<std::string> kinds;
  for (SearchKind k : query.kinds) kinds.emplace_back(SearchKindName(k));
  Params params;
  const std::string q = params.Next(tsquery) + "::tsquery";
  std::string from = " FROM search_docs WHERE doc @@ " + q;
  kinds = Unique(std::move(kinds));
  for (size_t i = 0; i < kinds.size(); ++i) {
    from += (i == 0 ? " AND kind IN (" : ", ") + params.Next(kinds[i]);
  }
  if (!kinds.empty()) from += ")";
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c, /*snapshot=*/true));
  Page<SearchHit> out;
  {
    WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT COUNT(*)" + from, params));
    out.total = r.size() > 0 ? r.Int(0, 0) : 0;
  }
  const int64_t offset = static_cast<int64_t>(page.page) * page.size;
  if (offset < out.total) {
    // ts_rank's weights are {D, C, B, A}: text, id, tags, name (as the SQLite bm25 weights).
    const std::string name = params.Next(whole);
    const std::string limit = params.Next(static_cast<int64_t>(page.size));
    const std::string off = params.Next(offset);
    WEIR_ASSIGN_OR_RETURN(
        Rows r,
        c->Exec("SELECT kind, ref, name, status, tags, text,"
                " ts_rank('{0.1, 0.2, 0.5, 1.0}', doc, " +
                    q + ") AS score" + from + " ORDER BY (lower(name) = lower(" + name +
                    ")) DESC, score DESC, kind ASC, ref ASC LIMIT " + limit + " OFFSET " + off,
                params));
    const WordMatcher matcher(query.terms);
    for (int i = 0; i < r.size(); ++i) {
      SearchHit h;
      WEIR_ASSIGN_OR_RETURN(h.kind, ParseSearchKind(r.Text(i, 0)));
      h.id = r.String(i, 1);
      h.name = r.String(i, 2);
      h.status = r.String(i, 3);
      h.name_highlight = MarkWords(h.name, matcher);
      h.snippet = Snippet({r.Text(i, 2), r.Text(i, 4), r.Text(i, 1), r.Text(i, 5)}, matcher);
      h.score = std::stod(r.String(i, 6));
      out.items.push_back(std::move(h));
    }
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Status PostgresStore::PutSearchDocument(const SearchDocument& d) {
  WEIR_RETURN_IF_ERROR(OnlyHandedInKinds(d.kind));
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  return PutDoc(*c, d);
}

Status PostgresStore::RemoveSearchDocument(SearchKind kind, const std::string& id) {
  WEIR_RETURN_IF_ERROR(OnlyHandedInKinds(kind));
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  return DeleteDoc(*c, kind, id);
}

Status PostgresStore::ReplaceSearchDocuments(SearchKind kind,
                                             const std::vector<SearchDocument>& docs) {
  WEIR_RETURN_IF_ERROR(OnlyHandedInKinds(kind));
  for (const auto& d : docs) {
    if (d.kind != kind) return InvalidArgument("search: a document of another kind was given");
  }
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  Params p;
  p.Add(SearchKindName(kind));
  WEIR_RETURN_IF_ERROR(c->Exec("DELETE FROM search_docs WHERE kind = $1", p).status());
  for (const auto& d : docs) WEIR_RETURN_IF_ERROR(PutDoc(*c, d));
  return tx.Commit();
}

Status PostgresStore::PutNode(const NodeRecord& n) {
  Params p;
  p.Add(n.id).Add(n.url).Add(ToEpochMillis(n.started)).Add(ToEpochMillis(n.heartbeat));
  p.Add(n.running_jobs).Add(n.capacity_mb).Add(n.free_memory_mb);
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  return c
      ->Exec(std::string("INSERT INTO nodes (") + kNodeColumns +
                 ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET"
                 " url = EXCLUDED.url, started = EXCLUDED.started,"
                 " heartbeat = EXCLUDED.heartbeat, running_jobs = EXCLUDED.running_jobs,"
                 " capacity_mb = EXCLUDED.capacity_mb, free_memory_mb = EXCLUDED.free_memory_mb",
             p)
      .status();
}

Result<NodeRecord> PostgresStore::GetNode(const std::string& id) {
  Params p;
  p.Add(id);
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(
      Rows r, c->Exec(std::string("SELECT ") + kNodeColumns + " FROM nodes WHERE id = $1", p));
  if (r.size() == 0) return NotFound("node '" + id + "': not found");
  return ReadNode(r, 0);
}

Result<std::vector<NodeRecord>> PostgresStore::ListNodes() {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows r,
                        c->Exec(std::string("SELECT ") + kNodeColumns + " FROM nodes ORDER BY id"));
  std::vector<NodeRecord> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(ReadNode(r, i));
  return out;
}

Result<LeaseRecord> PostgresStore::AcquireLease(const std::string& name, const std::string& node,
                                                TimePoint now, Millis ttl) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  Params key;
  key.Add(name);
  // The row exists before it is locked, so two first takers serialise on it too.
  WEIR_RETURN_IF_ERROR(c->Exec("INSERT INTO leases (name, holder, token, acquired, expires)"
                               " VALUES ($1, '', 0, 0, 0) ON CONFLICT (name) DO NOTHING",
                               key)
                           .status());
  WEIR_ASSIGN_OR_RETURN(Rows q, c->Exec("SELECT holder, token, acquired, expires FROM leases"
                                        " WHERE name = $1 FOR UPDATE",
                                        key));
  LeaseRecord l = ReadLease(q, name);
  const bool renew = l.holder == node && l.expires > now;
  if (renew || l.holder.empty() || l.expires <= now) {
    if (!renew) {
      l.holder = node;
      ++l.token;
      l.acquired = now;
    }
    l.expires = now + ttl;
    Params p;
    p.Add(l.holder).Add(l.token).Add(ToEpochMillis(l.acquired)).Add(ToEpochMillis(l.expires));
    p.Add(name);
    WEIR_RETURN_IF_ERROR(c->Exec("UPDATE leases SET holder = $1, token = $2, acquired = $3,"
                                 " expires = $4 WHERE name = $5",
                                 p)
                             .status());
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return l;
}

Result<LeaseRecord> PostgresStore::GetLease(const std::string& name) {
  Params p;
  p.Add(name);
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(
      Rows q, c->Exec("SELECT holder, token, acquired, expires FROM leases WHERE name = $1", p));
  return ReadLease(q, name);
}

}  // namespace weir::store::postgres
