// The PostgreSQL metadata store: ConfigStore, JobStore, AuditStore, EventStore, SearchIndex and
// NodeStore over a small pool of libpq connections (store.type postgresql, store.url
// postgresql://...).
//
// Same contract as the SQLite store (store_contract_test.cc, audit_store_contract_test.cc,
// event_store_contract_test.cc and search_index_contract_test.cc run against both): the same
// searches, orders and errors. Values go to the server as parameters only.
// Each call borrows one connection from the pool for its duration, so calls from many threads run
// in parallel, and several weir processes may share one database. Writes that touch several rows
// run in one transaction; a search reads its count and its page from one snapshot.
//
// Events: ids come from a sequence, and every transaction that stores events takes one
// transaction-scoped advisory lock before its first event and keeps it until it commits, so ids
// become visible in commit order, across every server on the database (postgres_store.cc says
// why). The listener (SetEventListener) hears every event stored on the database, in id order,
// each once: those of this process right after their commit, those of other servers (other
// processes) when a NOTIFY sent at their commit reaches a LISTEN connection of this store's own
// thread (started with the listener), which then reads the log after the last id it told. A lost
// LISTEN connection is reopened, and the log read after it, so nothing is missed meanwhile.
//
// Search: PostgreSQL full-text search over documents the store writes in the same transaction as
// the job or entity they describe (text_search.h: the words and the ranking weights). A database
// migrated from before the index gets every existing row indexed at its first open.
//
// Durability: a call that returned OK is committed (the server's synchronous_commit decides what
// a crash of the database host may lose).
//
// Errors as in store.h, plus kUnavailable when the database cannot be reached (the next call
// reconnects), and kFailedPrecondition at open when the database's schema is newer than this build.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres/connection.h"
#include "store/store.h"

namespace weir::store::postgres {

struct PostgresOptions {
  int pool_size = 8;           // connections at most (opened when first needed)
  int connect_timeout_s = 10;  // per connection attempt
  bool migrate = true;         // false: refuse a database that is not at kSchemaVersion
};

class PostgresStore final : public ConfigStore,
                            public JobStore,
                            public AuditStore,
                            public EventStore,
                            public SearchIndex,
                            public NodeStore {
 public:
  // `url`: a libpq URI or key=value string; `password` ("" for none) is passed apart from it.
  static Result<std::shared_ptr<PostgresStore>> Open(const std::string& url,
                                                     const std::string& password,
                                                     const PostgresOptions& options = {});
  ~PostgresStore() override;

  // ConfigStore
  Status Create(const model::ConfigEntity& e) override;
  Result<model::ConfigEntity> Get(model::Kind kind, const std::string& id) override;
  Status Update(const model::ConfigEntity& e) override;
  Status Delete(model::Kind kind, const std::string& id) override;
  Status DeleteAll(model::Kind kind) override;
  Result<Page<model::ConfigEntity>> Search(model::Kind kind, const ConfigFilter& filter,
                                           const PageRequest& page) override;
  Result<std::vector<std::string>> GetCommandApplications(const std::string& command_id) override;
  Status SetCommandApplications(const std::string& command_id,
                                const std::vector<std::string>& application_ids) override;
  Result<std::vector<std::string>> GetClusterCommands(const std::string& cluster_id) override;
  Status SetClusterCommands(const std::string& cluster_id,
                            const std::vector<std::string>& command_ids) override;
  Result<std::vector<model::ConfigEntity>> CommandsForApplication(
      const std::string& application_id, const std::vector<std::string>& statuses) override;
  Result<std::vector<model::ConfigEntity>> ClustersForCommand(
      const std::string& command_id, const std::vector<std::string>& statuses) override;
  Result<std::vector<Candidate>> FindCandidates(
      const std::vector<std::string>& cluster_tags,
      const std::vector<std::string>& command_tags) override;

  // JobStore
  Status CreateJob(const model::JobRecord& r) override;
  Result<model::JobRecord> GetJob(const std::string& id) override;
  Status UpdateJob(const model::JobRecord& r) override;
  Result<Page<model::JobRecord>> SearchJobs(const JobFilter& f, const PageRequest& p) override;
  Result<std::vector<model::JobRecord>> JobsWithStatus(
      const std::vector<model::JobStatus>& statuses) override;
  Result<int64_t> CountActiveJobs(const std::string& user) override;
  Result<std::optional<model::JobRecord>> ClaimQueuedJob(const std::string& node,
                                                         int64_t max_memory_mb,
                                                         TimePoint now) override;
  Result<bool> UnqueueJob(const std::string& id) override;
  Result<std::vector<model::JobRecord>> DeleteFinishedJobs(TimePoint before, int limit) override;

  // NodeStore
  Status PutNode(const NodeRecord& n) override;
  Result<NodeRecord> GetNode(const std::string& id) override;
  Result<std::vector<NodeRecord>> ListNodes() override;
  Result<LeaseRecord> AcquireLease(const std::string& name, const std::string& node, TimePoint now,
                                   Millis ttl) override;
  Result<LeaseRecord> GetLease(const std::string& name) override;

  // AuditStore
  Result<int64_t> AppendAudit(const AuditRecord& r) override;
  Result<Page<AuditRecord>> SearchAudit(const AuditFilter& f, const PageRequest& page,
                                        bool newest_first) override;
  Result<int64_t> PruneAudit(TimePoint before) override;

  // EventStore
  Result<int64_t> AppendEvent(const EventRecord& e) override;
  Result<std::vector<EventRecord>> ReadEvents(int64_t after_id, const EventFilter& f,
                                              int limit) override;
  Result<int64_t> LastEventId() override;
  Result<int64_t> PruneEvents(TimePoint before, int64_t max_events) override;
  void SetJobEvents(JobEventsFn fn) override;
  Result<int64_t> SetEventListener(EventListener listener) override;

  // SearchIndex
  Result<Page<SearchHit>> SearchText(const SearchQuery& q, const PageRequest& page) override;
  Status PutSearchDocument(const SearchDocument& d) override;
  Status RemoveSearchDocument(SearchKind kind, const std::string& id) override;
  Status ReplaceSearchDocuments(SearchKind kind, const std::vector<SearchDocument>& docs) override;

 private:
  PostgresStore(std::unique_ptr<Pool> pool, std::string url, std::string password,
                int connect_timeout_s)
      : pool_(std::move(pool)),
        url_(std::move(url)),
        password_(std::move(password)),
        connect_timeout_s_(connect_timeout_s) {}

  Result<std::vector<std::string>> GetLinks(model::Kind owner_kind, const std::string& owner_id);
  Status SetLinks(model::Kind owner_kind, const std::string& owner_id, model::Kind member_kind,
                  const std::vector<std::string>& member_ids);
  Result<std::vector<model::ConfigEntity>> Reverse(model::Kind member_kind,
                                                   const std::string& member_id,
                                                   model::Kind owner_kind,
                                                   const std::vector<std::string>& statuses);

  // Indexes every job and entity when the schema migration asked for it (once per database).
  Status RebuildSearchIfNeeded();
  // REQUIRES: inside a write transaction on `c`, `lock` holds events_mu_. Stores the job events
  // fn(from, r) (none when no fn is set), taking the event lock first; fills `stored`.
  Status StoreJobEvents(Connection& c, const std::unique_lock<std::mutex>& lock,
                        std::optional<model::JobStatus> from, const model::JobRecord& r,
                        std::vector<EventRecord>* stored);
  // REQUIRES: events_mu_ held, after the commit of `stored` on `c`. Tells the listener the
  // events of other processes before them first (read on `c`), then `stored`.
  void Announce(Connection& c, const std::vector<EventRecord>& stored);
  // REQUIRES: events_mu_ held. Tells the listener every stored event after announced_ with an id
  // below `below` (0: any).
  Status CatchUp(Connection& c, int64_t below);
  // The LISTEN thread: waits for NOTIFYs of event commits and catches up on each.
  void ListenLoop();

  std::unique_ptr<Pool> pool_;
  const std::string url_;
  const std::string password_;
  const int connect_timeout_s_;
  std::string channel_;  // set at open: the NOTIFY channel of this database (and schema)
  std::atomic<bool> stopping_{false};
  std::thread listen_thread_;  // started by the first SetEventListener
  // Held by every writer of events from before its event lock until it has told the listener,
  // so this process's events reach the listener in id order. Order: events_mu_, then the event
  // lock in the database.
  std::mutex events_mu_;
  JobEventsFn job_events_;        // GUARDED_BY(events_mu_)
  EventListener event_listener_;  // GUARDED_BY(events_mu_)
  int64_t announced_ = 0;         // GUARDED_BY(events_mu_): the last id told to the listener
};

}  // namespace weir::store::postgres
