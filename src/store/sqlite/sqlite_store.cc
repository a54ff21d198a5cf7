#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "store/asset_store.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_asset_store.h"
#include "store/sqlite/sqlite_store_internal.h"

namespace weir::store::sqlite {
namespace {

// ---- configuration entities -------------------------------------------------------------------

// "application 'x'"
std::string Named(Kind kind, const std::string& id) {
  return std::string(model::KindName(kind)) + " '" + id + "'";
}

std::string Quoted(const std::vector<std::string>& ids) {
  std::string s;
  for (const auto& id : ids) {
    if (!s.empty()) s += ", ";
    s += "'" + id + "'";
  }
  return s;
}

const std::vector<SortField>& ConfigSortFields() {
  static const std::vector<SortField> kFields = {
      {"id", "id"},         {"name", "name"},       {"user", "user"},       {"version", "version"},
      {"status", "status"}, {"created", "created"}, {"updated", "updated"},
  };
  return kFields;
}

// A link table: owner → ordered members.
struct LinkTable {
  const char* table;
  const char* owner_column;
  const char* member_column;
};

LinkTable Links(Kind owner_kind) {
  if (owner_kind == Kind::kCluster) return {"cluster_commands", "cluster_id", "command_id"};
  return {"command_applications", "command_id", "application_id"};
}

// ---- jobs -------------------------------------------------------------------------------------

const std::vector<SortField>& JobSortFields() {
  static const std::vector<SortField> kFields = {
      {"id", "id"},
      {"name", "name"},
      {"user", "user"},
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

std::optional<int64_t> OptMillis(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return ToEpochMillis(*t);
}

std::vector<std::string> StatusNames(const std::vector<JobStatus>& statuses) {
  std::vector<std::string> out;
  out.reserve(statuses.size());
  for (JobStatus s : statuses) out.emplace_back(model::JobStatusName(s));
  return out;
}

// First occurrence wins: "adding a present id keeps its position".
std::vector<std::string> DedupKeepFirst(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const auto& id : ids) {
    if (seen.insert(id).second) out.push_back(id);
  }
  return out;
}

// Runs COUNT(*) + one page of `select_sql` (everything up to WHERE) under `where`/`order`.
template <typename T, typename ReadFn>
Result<Page<T>> RunPaged(Database& db, const std::string& from, const std::string& columns,
                         const Where& where, const std::string& order, const PageRequest& page,
                         ReadFn read) {
  // A read transaction gives the count and the page one snapshot.
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db, /*write=*/false));
  Page<T> out;
  {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db.Prepare("SELECT COUNT(*) FROM " + from + where.Sql()));
    where.BindTo(q);
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    out.total = row ? q.Int(0) : 0;
  }
  const int64_t offset = static_cast<int64_t>(page.page) * page.size;
  if (offset < out.total) {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db.Prepare("SELECT " + columns + " FROM " + from + where.Sql() +
                                             order + " LIMIT ? OFFSET ?"));
    where.BindTo(q);
    q.Bind(static_cast<int64_t>(page.size)).Bind(offset);
    WEIR_ASSIGN_OR_RETURN(out.items, read(q));
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

}  // namespace

// ---- opening ----------------------------------------------------------------------------------

Result<std::shared_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                       const SqliteOptions& options) {
  WEIR_ASSIGN_OR_RETURN(
      std::unique_ptr<Database> db,
      Database::Open(path, options.busy_timeout_ms, options.max_cached_statements));
  WEIR_RETURN_IF_ERROR(Migrate(*db));
  std::shared_ptr<SqliteStore> store(new SqliteStore(std::move(db)));
  WEIR_RETURN_IF_ERROR(store->RebuildSearchIfNeeded());
  return store;
}

// ---- ConfigStore ------------------------------------------------------------------------------

Result<bool> SqliteStore::Exists(Kind kind, const std::string& id) {
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db_->Prepare(std::string("SELECT 1 FROM ") + Tables(kind).table + " WHERE id = ?"));
  q.Bind(id);
  return q.Step();
}

Status SqliteStore::ReplaceTags(Kind kind, const std::string& id,
                                const std::vector<std::string>& tags) {
  const KindTables t = Tables(kind);
  {
    WEIR_ASSIGN_OR_RETURN(
        Stmt del, db_->Prepare(std::string("DELETE FROM ") + t.tag_table + " WHERE entity_id = ?"));
    WEIR_RETURN_IF_ERROR(del.Bind(id).Run());
  }
  for (const auto& tag : tags) {
    WEIR_ASSIGN_OR_RETURN(Stmt ins, db_->Prepare(std::string("INSERT OR IGNORE INTO ") +
                                                 t.tag_table + "(entity_id, tag) VALUES (?, ?)"));
    WEIR_RETURN_IF_ERROR(ins.Bind(id).Bind(tag).Run());
  }
  return Status::Ok();
}

Status SqliteStore::Create(const ConfigEntity& e) {
  if (e.id.empty()) return InvalidArgument(std::string(model::KindName(e.kind)) + ": id is empty");
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  {
    WEIR_ASSIGN_OR_RETURN(
        Stmt ins, db_->Prepare(std::string("INSERT INTO ") + Tables(e.kind).table +
                               " (id, name, user, version, status, type, created, updated, body)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins.Bind(e.id).Bind(e.name).Bind(e.user).Bind(e.version).Bind(e.status).Bind(e.type);
    ins.Bind(ToEpochMillis(e.created)).Bind(ToEpochMillis(e.updated)).Bind(EncodeConfigBody(e));
    Status s = ins.Run();
    if (!s.ok()) {
      if (ins.last_code() == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return AlreadyExists(Named(e.kind, e.id) + ": already exists; choose another id");
      }
      return s.WithContext(Named(e.kind, e.id));
    }
  }
  WEIR_RETURN_IF_ERROR(ReplaceTags(e.kind, e.id, e.tags));
  WEIR_RETURN_IF_ERROR(PutDoc(DocOf(e)));
  return tx.Commit();
}

Result<ConfigEntity> SqliteStore::Get(Kind kind, const std::string& id) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT " + EntityColumns("") + " FROM " +
                                             Tables(kind).table + " WHERE id = ?"));
  q.Bind(id);
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound(Named(kind, id) + ": not found");
  ConfigEntity e;
  WEIR_RETURN_IF_ERROR(ReadEntity(q, 0, kind, &e));
  return e;
}

Status SqliteStore::Update(const ConfigEntity& e) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  {
    WEIR_ASSIGN_OR_RETURN(Stmt up,
                          db_->Prepare(std::string("UPDATE ") + Tables(e.kind).table +
                                       " SET name = ?, user = ?, version = ?, status = ?, type = ?,"
                                       " updated = ?, body = ? WHERE id = ?"));
    up.Bind(e.name).Bind(e.user).Bind(e.version).Bind(e.status).Bind(e.type);
    up.Bind(ToEpochMillis(e.updated)).Bind(EncodeConfigBody(e)).Bind(e.id);
    WEIR_RETURN_IF_ERROR(up.Run());
    if (db_->Changes() == 0) return NotFound(Named(e.kind, e.id) + ": not found");
  }
  WEIR_RETURN_IF_ERROR(ReplaceTags(e.kind, e.id, e.tags));
  WEIR_RETURN_IF_ERROR(PutDoc(DocOf(e)));
  return tx.Commit();
}

Status SqliteStore::Delete(Kind kind, const std::string& id) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  if (kind == Kind::kApplication) {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT command_id FROM command_applications"
                                               " WHERE application_id = ? ORDER BY command_id"));
    q.Bind(id);
    std::vector<std::string> commands;
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      commands.push_back(q.String(0));
    }
    if (!commands.empty()) {
      return FailedPrecondition(Named(kind, id) + ": still used by command" +
                                (commands.size() > 1 ? "s " : " ") + Quoted(commands) +
                                "; remove it from their applications first");
    }
  }
  {
    WEIR_ASSIGN_OR_RETURN(
        Stmt del, db_->Prepare(std::string("DELETE FROM ") + Tables(kind).table + " WHERE id = ?"));
    WEIR_RETURN_IF_ERROR(del.Bind(id).Run());
    if (db_->Changes() == 0) return NotFound(Named(kind, id) + ": not found");
  }
  WEIR_RETURN_IF_ERROR(DeleteDoc(SearchKindOf(kind), id));
  return tx.Commit();
}

Status SqliteStore::DeleteAll(Kind kind) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  if (kind == Kind::kApplication) {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT application_id, command_id FROM"
                                               " command_applications"
                                               " ORDER BY application_id, command_id LIMIT 1"));
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) {
      return FailedPrecondition("applications: some are still used by commands (application '" +
                                q.String(0) + "' by command '" + q.String(1) +
                                "'); remove the links first");
    }
  }
  {
    WEIR_ASSIGN_OR_RETURN(Stmt del, db_->Prepare(std::string("DELETE FROM ") + Tables(kind).table));
    WEIR_RETURN_IF_ERROR(del.Run());
  }
  {
    WEIR_ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM search_docs WHERE kind = ?"));
    WEIR_RETURN_IF_ERROR(del.Bind(SearchKindName(SearchKindOf(kind))).Run());
  }
  return tx.Commit();
}

Result<Page<ConfigEntity>> SqliteStore::Search(Kind kind, const ConfigFilter& f,
                                               const PageRequest& page) {
  WEIR_RETURN_IF_ERROR(CheckPage(page));
  WEIR_ASSIGN_OR_RETURN(std::string order, OrderBy(page.sort, ConfigSortFields(), "updated"));
  const KindTables t = Tables(kind);
  Where where;
  where.Text("name", f.name);
  where.Text("user", f.user);
  where.Text("type", f.type);
  where.In("status", f.statuses);
  where.AllTags("id", t.tag_table, "entity_id", f.tags);
  where.AtLeast("updated", f.min_updated);
  where.Before("updated", f.max_updated);
  std::lock_guard lock(mu_);
  return RunPaged<ConfigEntity>(*db_, t.table, EntityColumns(""), where, order, page,
                                [kind](Stmt& q) { return ReadEntities(q, kind); });
}

Result<std::vector<std::string>> SqliteStore::GetLinks(Kind owner_kind,
                                                       const std::string& owner_id) {
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/false));
  WEIR_ASSIGN_OR_RETURN(bool exists, Exists(owner_kind, owner_id));
  if (!exists) return NotFound(Named(owner_kind, owner_id) + ": not found");
  const LinkTable l = Links(owner_kind);
  std::vector<std::string> out;
  {
    WEIR_ASSIGN_OR_RETURN(
        Stmt q, db_->Prepare(std::string("SELECT ") + l.member_column + " FROM " + l.table +
                             " WHERE " + l.owner_column + " = ? ORDER BY position"));
    q.Bind(owner_id);
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      out.push_back(q.String(0));
    }
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Status SqliteStore::SetLinks(Kind owner_kind, const std::string& owner_id, Kind member_kind,
                             const std::vector<std::string>& member_ids) {
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  WEIR_ASSIGN_OR_RETURN(bool exists, Exists(owner_kind, owner_id));
  if (!exists) return NotFound(Named(owner_kind, owner_id) + ": not found");
  const std::vector<std::string> ids = DedupKeepFirst(member_ids);
  std::vector<std::string> missing;
  for (const auto& id : ids) {
    WEIR_ASSIGN_OR_RETURN(bool found, Exists(member_kind, id));
    if (!found) missing.push_back(id);
  }
  if (!missing.empty()) {
    return FailedPrecondition(
        Named(owner_kind, owner_id) + ": " + std::string(model::KindName(member_kind)) +
        (missing.size() > 1 ? "s " : " ") + Quoted(missing) +
        (missing.size() > 1 ? " do" : " does") + " not exist; create them first or leave them out");
  }
  const LinkTable l = Links(owner_kind);
  {
    WEIR_ASSIGN_OR_RETURN(Stmt del, db_->Prepare(std::string("DELETE FROM ") + l.table + " WHERE " +
                                                 l.owner_column + " = ?"));
    WEIR_RETURN_IF_ERROR(del.Bind(owner_id).Run());
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    WEIR_ASSIGN_OR_RETURN(
        Stmt ins, db_->Prepare(std::string("INSERT INTO ") + l.table + " (" + l.owner_column +
                               ", " + l.member_column + ", position) VALUES (?, ?, ?)"));
    WEIR_RETURN_IF_ERROR(ins.Bind(owner_id).Bind(ids[i]).Bind(static_cast<int64_t>(i)).Run());
  }
  return tx.Commit();
}

Result<std::vector<std::string>> SqliteStore::GetCommandApplications(const std::string& id) {
  std::lock_guard lock(mu_);
  return GetLinks(Kind::kCommand, id);
}

Status SqliteStore::SetCommandApplications(const std::string& id,
                                           const std::vector<std::string>& application_ids) {
  std::lock_guard lock(mu_);
  return SetLinks(Kind::kCommand, id, Kind::kApplication, application_ids);
}

Result<std::vector<std::string>> SqliteStore::GetClusterCommands(const std::string& id) {
  std::lock_guard lock(mu_);
  return GetLinks(Kind::kCluster, id);
}

Status SqliteStore::SetClusterCommands(const std::string& id,
                                       const std::vector<std::string>& command_ids) {
  std::lock_guard lock(mu_);
  return SetLinks(Kind::kCluster, id, Kind::kCommand, command_ids);
}

Result<std::vector<ConfigEntity>> SqliteStore::Reverse(Kind member_kind,
                                                       const std::string& member_id,
                                                       Kind owner_kind,
                                                       const std::vector<std::string>& statuses) {
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/false));
  WEIR_ASSIGN_OR_RETURN(bool exists, Exists(member_kind, member_id));
  if (!exists) return NotFound(Named(member_kind, member_id) + ": not found");
  const LinkTable l = Links(owner_kind);
  Where where;
  where.Equals(std::string("l.") + l.member_column, member_id);
  where.In("o.status", statuses);
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db_->Prepare("SELECT " + EntityColumns("o") + " FROM " + l.table + " l JOIN " +
                           Tables(owner_kind).table + " o ON o.id = l." + l.owner_column +
                           where.Sql() + " ORDER BY o.id"));
  where.BindTo(q);
  WEIR_ASSIGN_OR_RETURN(std::vector<ConfigEntity> out, ReadEntities(q, owner_kind));
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Result<std::vector<ConfigEntity>> SqliteStore::CommandsForApplication(
    const std::string& application_id, const std::vector<std::string>& statuses) {
  std::lock_guard lock(mu_);
  return Reverse(Kind::kApplication, application_id, Kind::kCommand, statuses);
}

Result<std::vector<ConfigEntity>> SqliteStore::ClustersForCommand(
    const std::string& command_id, const std::vector<std::string>& statuses) {
  std::lock_guard lock(mu_);
  return Reverse(Kind::kCommand, command_id, Kind::kCluster, statuses);
}

Result<std::vector<ConfigStore::Candidate>> SqliteStore::FindCandidates(
    const std::vector<std::string>& cluster_tags, const std::vector<std::string>& command_tags) {
  // One query joins the qualifying clusters with their qualifying commands in the cluster's
  // order; a second one loads those clusters. Clusters order by id (the resolver picks).
  Where links;
  links.Equals("cl.status", "UP");
  links.AllTags("cl.id", "cluster_tags", "entity_id", cluster_tags);
  links.Equals("c.status", "ACTIVE");
  links.AllTags("c.id", "command_tags", "entity_id", command_tags);
  const std::string links_sql = "SELECT cc.cluster_id, " + EntityColumns("c") +
                                " FROM cluster_commands cc"
                                " JOIN clusters cl ON cl.id = cc.cluster_id"
                                " JOIN commands c ON c.id = cc.command_id" +
                                links.Sql() + " ORDER BY cc.cluster_id, cc.position";
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/false));
  std::vector<Candidate> out;
  {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare(links_sql));
    links.BindTo(q);
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      std::string_view cluster_id = q.Text(0);
      if (out.empty() || out.back().cluster.id != cluster_id) {
        out.emplace_back();
        out.back().cluster.id = std::string(cluster_id);
      }
      ConfigEntity c;
      WEIR_RETURN_IF_ERROR(ReadEntity(q, 1, Kind::kCommand, &c));
      out.back().commands.push_back(std::move(c));
    }
  }
  for (Candidate& cand : out) {
    WEIR_ASSIGN_OR_RETURN(
        Stmt q, db_->Prepare("SELECT " + EntityColumns("") + " FROM clusters WHERE id = ?"));
    q.Bind(cand.cluster.id);
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Internal("cluster '" + cand.cluster.id + "': vanished inside a transaction");
    WEIR_RETURN_IF_ERROR(ReadEntity(q, 0, Kind::kCluster, &cand.cluster));
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

// ---- JobStore ---------------------------------------------------------------------------------

Status SqliteStore::CreateJob(const JobRecord& r) {
  if (r.id.empty()) return InvalidArgument("job: id is empty");
  const std::string request = EncodeJobRequest(r.request);
  const std::string state = EncodeJobState(r);
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  {
    WEIR_ASSIGN_OR_RETURN(
        Stmt ins,
        db_->Prepare("INSERT INTO jobs (id, name, user, status, created, updated, started,"
                     " finished, cluster_name, cluster_id, command_name, command_id, grouping,"
                     " grouping_instance, request, state)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins.Bind(r.id)
        .Bind(r.request.name)
        .Bind(r.request.user)
        .Bind(model::JobStatusName(r.job.status));
    ins.Bind(ToEpochMillis(r.created)).Bind(ToEpochMillis(r.updated));
    ins.Bind(OptMillis(r.job.started)).Bind(OptMillis(r.job.finished));
    ins.Bind(r.job.cluster_name).Bind(r.job.cluster_id);
    ins.Bind(r.job.command_name).Bind(r.job.command_id);
    ins.Bind(r.request.grouping).Bind(r.request.grouping_instance);
    ins.Bind(request).Bind(state);
    Status s = ins.Run();
    if (!s.ok()) {
      if (ins.last_code() == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return AlreadyExists("job '" + r.id + "': already exists; choose another id");
      }
      return s.WithContext("job '" + r.id + "'");
    }
  }
  for (const auto& tag : r.request.tags) {
    WEIR_ASSIGN_OR_RETURN(
        Stmt ins, db_->Prepare("INSERT OR IGNORE INTO job_tags(job_id, tag) VALUES (?, ?)"));
    WEIR_RETURN_IF_ERROR(ins.Bind(r.id).Bind(tag).Run());
  }
  if (r.job.status == JobStatus::kInit && r.execution.host_name.empty()) {
    WEIR_ASSIGN_OR_RETURN(Stmt ins,
                          db_->Prepare("INSERT INTO job_queue(job_id, memory_mb) VALUES (?, ?)"));
    WEIR_RETURN_IF_ERROR(ins.Bind(r.id).Bind(int64_t{r.execution.memory.value_or(0)}).Run());
  }
  WEIR_RETURN_IF_ERROR(PutDoc(DocOf(r)));
  std::vector<EventRecord> events;
  WEIR_RETURN_IF_ERROR(InsertJobEvents(std::nullopt, r, events));
  WEIR_RETURN_IF_ERROR(tx.Commit());
  Announce(events);
  return Status::Ok();
}

Result<JobRecord> SqliteStore::GetJob(const std::string& id) {
  std::lock_guard lock(mu_);
  static const std::string kSql = std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?";
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare(kSql));
  q.Bind(id);
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("job '" + id + "': not found");
  JobRecord r;
  WEIR_RETURN_IF_ERROR(ReadJob(q, &r));
  return r;
}

Status SqliteStore::UpdateJob(const JobRecord& r) {
  const std::string state = EncodeJobState(r);
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  // The status before the write, for the events it causes (read in the write's transaction).
  std::optional<model::JobStatus> from;
  if (job_events_) {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT status FROM jobs WHERE id = ?"));
    q.Bind(r.id);
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) {
      Result<model::JobStatus> stored = model::ParseJobStatus(q.String(0));
      if (stored.ok()) from = *stored;
    }
  }
  // One statement both checks and writes, so a final status can never be overwritten, even by
  // another process racing with this one.
  {
    WEIR_ASSIGN_OR_RETURN(
        Stmt up, db_->Prepare("UPDATE jobs SET status = ?, updated = ?, started = ?, finished = ?,"
                              " cluster_name = ?, cluster_id = ?, command_name = ?,"
                              " command_id = ?, state = ?"
                              " WHERE id = ? AND status IN ('INIT', 'RUNNING')"));
    up.Bind(model::JobStatusName(r.job.status)).Bind(ToEpochMillis(r.updated));
    up.Bind(OptMillis(r.job.started)).Bind(OptMillis(r.job.finished));
    up.Bind(r.job.cluster_name).Bind(r.job.cluster_id);
    up.Bind(r.job.command_name).Bind(r.job.command_id);
    up.Bind(state).Bind(r.id);
    WEIR_RETURN_IF_ERROR(up.Run());
    if (db_->Changes() == 1) {
      // The request is written once and not passed back reliably: index what the row holds.
      WEIR_ASSIGN_OR_RETURN(
          Stmt q, db_->Prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?"));
      q.Bind(r.id);
      WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Internal("job '" + r.id + "': vanished while being updated");
      JobRecord stored;
      WEIR_RETURN_IF_ERROR(ReadJob(q, &stored));
      WEIR_RETURN_IF_ERROR(PutDoc(DocOf(stored)));
      std::vector<EventRecord> events;
      if (from && *from != r.job.status) WEIR_RETURN_IF_ERROR(InsertJobEvents(from, r, events));
      WEIR_RETURN_IF_ERROR(tx.Commit());
      Announce(events);
      return Status::Ok();
    }
  }
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT status FROM jobs WHERE id = ?"));
  q.Bind(r.id);
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("job '" + r.id + "': not found");
  return FailedPrecondition("job '" + r.id + "': status " + q.String(0) +
                            " is final and never changes");
}

Result<Page<JobRecord>> SqliteStore::SearchJobs(const JobFilter& f, const PageRequest& page) {
  WEIR_RETURN_IF_ERROR(CheckPage(page));
  WEIR_ASSIGN_OR_RETURN(std::string order, OrderBy(page.sort, JobSortFields(), "created"));
  Where where;
  where.Text("id", f.id);
  where.Text("name", f.name);
  where.Text("user", f.user);
  where.In("status", StatusNames(f.statuses));
  where.AllTags("id", "job_tags", "job_id", f.tags);
  where.Text("cluster_name", f.cluster_name);
  where.Text("cluster_id", f.cluster_id);
  where.Text("command_name", f.command_name);
  where.Text("command_id", f.command_id);
  where.Text("grouping", f.grouping);
  where.Text("grouping_instance", f.grouping_instance);
  where.AtLeast("started", f.min_started);
  where.Before("started", f.max_started);
  where.AtLeast("finished", f.min_finished);
  where.Before("finished", f.max_finished);
  std::lock_guard lock(mu_);
  return RunPaged<JobRecord>(*db_, "jobs", kJobColumns, where, order, page,
                             [](Stmt& q) { return ReadJobs(q); });
}

Result<std::vector<JobRecord>> SqliteStore::JobsWithStatus(const std::vector<JobStatus>& statuses) {
  if (statuses.empty()) return std::vector<JobRecord>{};
  Where where;
  where.In("status", StatusNames(statuses));
  std::lock_guard lock(mu_);
  // rowid breaks ties of `created` in insertion order: the queue stays first come, first served.
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare(std::string("SELECT ") + kJobColumns + " FROM jobs" +
                                             where.Sql() + " ORDER BY created ASC, rowid ASC"));
  where.BindTo(q);
  return ReadJobs(q);
}

Result<int64_t> SqliteStore::CountActiveJobs(const std::string& user) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT COUNT(*) FROM jobs WHERE user = ? AND"
                                             " status IN ('INIT', 'RUNNING')"));
  q.Bind(user);
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

// ---- AuditStore -------------------------------------------------------------------------------

namespace {

constexpr const char* kAuditColumns = "seq, time, principal, source, method, path, target, status";

Result<std::vector<AuditRecord>> ReadAudit(Stmt& q) {
  std::vector<AuditRecord> out;
  while (true) {
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    AuditRecord r;
    r.seq = q.Int(0);
    r.time = FromEpochMillis(q.Int(1));
    r.principal = q.String(2);
    r.source = q.String(3);
    r.method = q.String(4);
    r.path = q.String(5);
    r.target = q.String(6);
    r.status = static_cast<int>(q.Int(7));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

Result<int64_t> SqliteStore::AppendAudit(const AuditRecord& r) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("INSERT INTO audit(time, principal, source, method, "
                                             "path, target, status) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  WEIR_RETURN_IF_ERROR(q.Bind(ToEpochMillis(r.time))
                           .Bind(r.principal)
                           .Bind(r.source)
                           .Bind(r.method)
                           .Bind(r.path)
                           .Bind(r.target)
                           .Bind(static_cast<int64_t>(r.status))
                           .Run());
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_->handle()));
}

Result<Page<AuditRecord>> SqliteStore::SearchAudit(const AuditFilter& f, const PageRequest& page,
                                                   bool newest_first) {
  WEIR_RETURN_IF_ERROR(CheckPage(page));
  Where where;
  if (f.principal) where.Equals("principal", *f.principal);
  where.AtLeast("time", f.since);
  where.Before("time", f.until);
  where.Prefix("path", f.path_prefix);
  if (f.target) where.Equals("target", *f.target);
  where.IntAtLeast("status", f.min_status);
  where.IntAtMost("status", f.max_status);
  std::lock_guard lock(mu_);
  return RunPaged<AuditRecord>(*db_, "audit", kAuditColumns, where,
                               newest_first ? " ORDER BY seq DESC" : " ORDER BY seq ASC", page,
                               [](Stmt& q) { return ReadAudit(q); });
}

Result<int64_t> SqliteStore::PruneAudit(TimePoint before) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("DELETE FROM audit WHERE time < ?"));
  WEIR_RETURN_IF_ERROR(q.Bind(ToEpochMillis(before)).Run());
  return db_->Changes();
}

}  // namespace weir::store::sqlite

namespace weir::store {

Result<SqliteStores> OpenSqlite(const std::string& path, Clock& clock) {
  (void)clock;  // the store persists the times callers give it (see sqlite_store.h)
  WEIR_ASSIGN_OR_RETURN(std::shared_ptr<sqlite::SqliteStore> store,
                        sqlite::SqliteStore::Open(path));
  SqliteStores out;
  out.config = store;
  out.jobs = store;
  out.audit = store;
  out.events = store;
  out.search = store;
  out.nodes = store;
  out.webhooks = store;
  WEIR_ASSIGN_OR_RETURN(out.assets, sqlite::SqliteAssetStore::Open(path));
  return out;
}

}  // namespace weir::store
