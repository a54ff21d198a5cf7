// SqliteStore: the event log (EventStore) and the job events stored with each job write.
#include "store/sqlite/sqlite_store_internal.h"

namespace weir::store::sqlite {

// ---- EventStore -------------------------------------------------------------------------------

namespace {

Result<std::vector<EventRecord>> ReadEventRows(Stmt& q) {
  std::vector<EventRecord> out;
  while (true) {
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    EventRecord e;
    e.id = q.Int(0);
    e.type = q.String(1);
    e.time = FromEpochMillis(q.Int(2));
    e.job_id = q.String(3);
    e.user = q.String(4);
    e.grouping = q.String(5);
    e.workflow = q.String(6);
    e.data = q.String(7);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

Result<int64_t> SqliteStore::InsertEvent(const EventRecord& e) {
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("INSERT INTO events(type, time, job_id, user, "
                                             "grouping, workflow, data) VALUES (?, ?, ?, ?, ?, ?, "
                                             "?)"));
  WEIR_RETURN_IF_ERROR(q.Bind(e.type)
                           .Bind(ToEpochMillis(e.time))
                           .Bind(e.job_id)
                           .Bind(e.user)
                           .Bind(e.grouping)
                           .Bind(e.workflow)
                           .Bind(e.data)
                           .Run());
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_->handle()));
}

Status SqliteStore::InsertJobEvents(std::optional<model::JobStatus> from, const JobRecord& r,
                                    std::vector<EventRecord>& stored) {
  if (!job_events_) return Status::Ok();
  stored = job_events_(from, r);
  for (EventRecord& e : stored) {
    WEIR_ASSIGN_OR_RETURN(e.id, InsertEvent(e));
  }
  return Status::Ok();
}

void SqliteStore::Announce(const std::vector<EventRecord>& stored) {
  if (!event_listener_) return;
  for (const EventRecord& e : stored) event_listener_(e);
}

Result<int64_t> SqliteStore::AppendEvent(const EventRecord& e) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(int64_t id, InsertEvent(e));
  EventRecord stored = e;
  stored.id = id;
  Announce({stored});
  return id;
}

Result<std::vector<EventRecord>> SqliteStore::ReadEvents(int64_t after_id, const EventFilter& f,
                                                         int limit) {
  if (limit < 1) return InvalidArgument("events: limit must be at least 1");
  Where where;
  where.IntAtLeast("id", after_id + 1);
  where.In("type", f.types);
  if (f.job_id) where.Equals("job_id", *f.job_id);
  if (f.user) where.Equals("user", *f.user);
  if (f.grouping) where.Equals("grouping", *f.grouping);
  if (f.workflow) where.Equals("workflow", *f.workflow);
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db_->Prepare("SELECT id, type, time, job_id, user, grouping, workflow, data FROM "
                           "events" +
                           where.Sql() + " ORDER BY id ASC LIMIT " + std::to_string(limit)));
  where.BindTo(q);
  return ReadEventRows(q);
}

Result<int64_t> SqliteStore::LastEventId() {
  std::lock_guard lock(mu_);
  // sqlite_sequence keeps the highest id ever given, even when the newest rows were pruned.
  WEIR_ASSIGN_OR_RETURN(Stmt q,
                        db_->Prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'"));
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

Result<int64_t> SqliteStore::PruneEvents(TimePoint before, int64_t max_events) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("DELETE FROM events WHERE time < ?"));
  WEIR_RETURN_IF_ERROR(q.Bind(ToEpochMillis(before)).Run());
  int64_t removed = db_->Changes();
  if (max_events > 0) {
    WEIR_ASSIGN_OR_RETURN(
        Stmt cut, db_->Prepare("DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id "
                               "DESC LIMIT 1 OFFSET ?)"));
    WEIR_RETURN_IF_ERROR(cut.Bind(max_events).Run());
    removed += db_->Changes();
  }
  return removed;
}

void SqliteStore::SetJobEvents(JobEventsFn fn) {
  std::lock_guard lock(mu_);
  job_events_ = std::move(fn);
}

Result<int64_t> SqliteStore::SetEventListener(EventListener listener) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q,
                        db_->Prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'"));
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  event_listener_ = std::move(listener);
  return row ? q.Int(0) : 0;
}
}  // namespace weir::store::sqlite
