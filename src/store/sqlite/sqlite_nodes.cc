// SqliteStore: the shared job queue, the cleanup of finished jobs, cluster nodes and leases.
#include "store/lease.h"
#include "store/sqlite/sqlite_store_internal.h"

namespace weir::store::sqlite {

// ---- shared queue and nodes ------------------------------------------------------------------

Result<std::optional<JobRecord>> SqliteStore::ClaimQueuedJob(const std::string& node,
                                                             int64_t max_memory_mb, TimePoint now) {
  std::lock_guard lock(mu_);
  // A write transaction from the start: another process claiming at once waits for this one.
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  std::string id;
  {
    WEIR_ASSIGN_OR_RETURN(
        Stmt q, db_->Prepare("SELECT job_id, memory_mb FROM job_queue ORDER BY seq LIMIT 1"));
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row || (max_memory_mb >= 0 && q.Int(1) > max_memory_mb)) {
      WEIR_RETURN_IF_ERROR(tx.Commit());
      return std::optional<JobRecord>();
    }
    id = q.String(0);
  }
  {
    WEIR_ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM job_queue WHERE job_id = ?"));
    WEIR_RETURN_IF_ERROR(del.Bind(id).Run());
  }
  JobRecord r;
  {
    WEIR_ASSIGN_OR_RETURN(
        Stmt q, db_->Prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?"));
    q.Bind(id);
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Internal("job '" + id + "': queued but has no record");
    WEIR_RETURN_IF_ERROR(ReadJob(q, &r));
  }
  if (r.job.status != JobStatus::kInit) {
    // Ended while queued (it should have left the queue then): drop it and look no further now.
    WEIR_RETURN_IF_ERROR(tx.Commit());
    return std::optional<JobRecord>();
  }
  r.execution.host_name = node;
  r.updated = now;
  {
    WEIR_ASSIGN_OR_RETURN(Stmt up,
                          db_->Prepare("UPDATE jobs SET updated = ?, state = ? WHERE id = ?"));
    WEIR_RETURN_IF_ERROR(up.Bind(ToEpochMillis(now)).Bind(EncodeJobState(r)).Bind(id).Run());
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return std::optional<JobRecord>(std::move(r));
}

Result<bool> SqliteStore::UnqueueJob(const std::string& id) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM job_queue WHERE job_id = ?"));
  WEIR_RETURN_IF_ERROR(del.Bind(id).Run());
  return db_->Changes() == 1;
}

Result<std::vector<JobRecord>> SqliteStore::DeleteFinishedJobs(TimePoint before, int limit) {
  if (limit < 1) return InvalidArgument("job cleanup: batch size must be at least 1");
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  std::vector<JobRecord> out;
  {
    WEIR_ASSIGN_OR_RETURN(
        Stmt q, db_->Prepare(std::string("SELECT ") + kJobColumns +
                             " FROM jobs WHERE finished IS NOT NULL AND finished < ? AND"
                             " status NOT IN ('INIT', 'RUNNING') ORDER BY finished, id LIMIT ?"));
    q.Bind(ToEpochMillis(before)).Bind(int64_t{limit});
    WEIR_ASSIGN_OR_RETURN(out, ReadJobs(q));
  }
  for (const JobRecord& r : out) {
    for (const char* sql :
         {"DELETE FROM job_tags WHERE job_id = ?", "DELETE FROM job_queue WHERE job_id = ?",
          "DELETE FROM jobs WHERE id = ?"}) {
      WEIR_ASSIGN_OR_RETURN(Stmt del, db_->Prepare(sql));
      WEIR_RETURN_IF_ERROR(del.Bind(r.id).Run());
    }
    WEIR_RETURN_IF_ERROR(DeleteDoc(SearchKind::kJob, r.id));
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

namespace {

constexpr const char* kNodeColumns =
    "id, url, started, heartbeat, running_jobs, capacity_mb, free_memory_mb";

NodeRecord ReadNode(const Stmt& q) {
  NodeRecord n;
  n.id = q.String(0);
  n.url = q.String(1);
  n.started = FromEpochMillis(q.Int(2));
  n.heartbeat = FromEpochMillis(q.Int(3));
  n.running_jobs = q.Int(4);
  n.capacity_mb = q.Int(5);
  n.free_memory_mb = q.Int(6);
  return n;
}

}  // namespace

Status SqliteStore::PutNode(const NodeRecord& n) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare(std::string("INSERT OR REPLACE INTO nodes (") +
                                             kNodeColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?)"));
  q.Bind(n.id).Bind(n.url).Bind(ToEpochMillis(n.started)).Bind(ToEpochMillis(n.heartbeat));
  q.Bind(n.running_jobs).Bind(n.capacity_mb).Bind(n.free_memory_mb);
  return q.Run();
}

Result<NodeRecord> SqliteStore::GetNode(const std::string& id) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db_->Prepare(std::string("SELECT ") + kNodeColumns + " FROM nodes WHERE id = ?"));
  q.Bind(id);
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound("node '" + id + "': not found");
  return ReadNode(q);
}

Result<std::vector<NodeRecord>> SqliteStore::ListNodes() {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db_->Prepare(std::string("SELECT ") + kNodeColumns + " FROM nodes ORDER BY id"));
  std::vector<NodeRecord> out;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(ReadNode(q));
  }
  return out;
}

namespace {

Result<LeaseRecord> ReadLease(Database& db, const std::string& name) {
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db.Prepare("SELECT holder, token, acquired, expires FROM leases WHERE name = ?"));
  q.Bind(name);
  LeaseRecord l;
  l.name = name;
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return l;
  l.holder = q.String(0);
  l.token = q.Int(1);
  l.acquired = FromEpochMillis(q.Int(2));
  l.expires = FromEpochMillis(q.Int(3));
  return l;
}

}  // namespace

Result<LeaseRecord> SqliteStore::AcquireLease(const std::string& name, const std::string& node,
                                              TimePoint now, Millis ttl) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  WEIR_ASSIGN_OR_RETURN(LeaseRecord l, ReadLease(*db_, name));
  if (TakeOrRenewLease(l, node, now, ttl)) {
    WEIR_ASSIGN_OR_RETURN(Stmt up,
                          db_->Prepare("INSERT OR REPLACE INTO leases (name, holder,"
                                       " token, acquired, expires) VALUES (?, ?, ?, ?, ?)"));
    up.Bind(name).Bind(l.holder).Bind(l.token).Bind(ToEpochMillis(l.acquired));
    WEIR_RETURN_IF_ERROR(up.Bind(ToEpochMillis(l.expires)).Run());
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return l;
}

Result<LeaseRecord> SqliteStore::GetLease(const std::string& name) {
  std::lock_guard lock(mu_);
  return ReadLease(*db_, name);
}
}  // namespace weir::store::sqlite
