// PostgresStore: the shared job queue, the cleanup of finished jobs, cluster nodes and leases.

#include "store/lease.h"
#include "store/postgres/postgres_store_internal.h"

namespace weir::store::postgres {

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
  if (TakeOrRenewLease(l, node, now, ttl)) {
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
