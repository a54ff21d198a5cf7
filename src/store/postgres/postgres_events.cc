// PostgresStore: the event log (EventStore), its LISTEN/NOTIFY wake-ups and the job events stored
// with each job write.
#include <poll.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>

#include "store/postgres/postgres_store_internal.h"

namespace weir::store::postgres {

namespace {

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

}  // namespace weir::store::postgres
