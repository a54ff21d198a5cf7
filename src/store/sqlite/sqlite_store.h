// The embedded metadata store: ConfigStore, JobStore, AuditStore and SearchIndex over one SQLite
// file.
//
// One object implements both interfaces over one connection guarded by one mutex (OpenSqlite in
// store.h hands out the two interfaces of the same object). SQLite serialises writers anyway,
// and a single connection keeps every prepared statement hot: a GetJob is one cached statement,
// one row and two small JSON documents. Other processes may open the same file (WAL mode lets
// readers run beside the one writer; busy_timeout makes a writer wait instead of failing).
//
// Durability: WAL with synchronous=NORMAL. A call that returned OK survives a crash of the
// process; a power loss may lose the last commits but never corrupts the file.
//
// Times: the store persists the `created`/`updated` values it is given; it never reads the
// clock itself (callers own the timestamps, so tests and replays are exact).
//
// Search: an FTS5 index (schema.cc V3) whose rows the store writes in the same transaction as
// the job or entity they describe, so a search never sees a row without its document or a stale
// one. A file migrated from before the index gets every existing row indexed at its first open.
//
// Errors as in store.h, plus kUnavailable when another process keeps the database locked longer
// than the busy timeout, and kFailedPrecondition at open when the file's schema is newer than
// this build.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/sqlite/database.h"
#include "store/store.h"

namespace weir::store::sqlite {

struct SqliteOptions {
  // How long a statement waits for a lock held by another process before kUnavailable.
  int busy_timeout_ms = 5000;
  // Prepared statements kept per connection (searches with different filters are different
  // statements); past this the idle ones are dropped and prepared again when next used.
  size_t max_cached_statements = 512;
};

class SqliteStore final : public ConfigStore,
                          public JobStore,
                          public AuditStore,
                          public EventStore,
                          public SearchIndex,
                          public WebhookStore,
                          public NodeStore {
 public:
  static Result<std::shared_ptr<SqliteStore>> Open(const std::string& path,
                                                   const SqliteOptions& options = {});

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
  // WebhookStore (sqlite_webhooks.cc)
  Status CreateWebhook(const WebhookRecord& w) override;
  Result<WebhookRecord> GetWebhook(const std::string& id) override;
  Result<std::vector<WebhookRecord>> ListWebhooks() override;
  Status DeleteWebhook(const std::string& id) override;
  Result<int64_t> RecordDelivery(const WebhookDelivery& d, bool advance_cursor) override;
  Result<std::vector<WebhookDelivery>> ListDeliveries(const std::string& webhook_id,
                                                      int limit) override;
  Result<WebhookDelivery> GetDelivery(const std::string& webhook_id, int64_t id) override;
  Result<int> LastAttempt(const std::string& webhook_id, int64_t event_id) override;

 private:
  explicit SqliteStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  // Helpers below REQUIRE mu_ held.
  Result<bool> Exists(model::Kind kind, const std::string& id);
  Status PutDoc(const SearchDocument& d);
  Status DeleteDoc(SearchKind kind, const std::string& id);
  // Indexes every job and entity when the schema migration asked for it (once per file).
  Status RebuildSearchIfNeeded();
  Status ReplaceTags(model::Kind kind, const std::string& id, const std::vector<std::string>& tags);
  Status SetLinks(model::Kind owner_kind, const std::string& owner_id, model::Kind member_kind,
                  const std::vector<std::string>& member_ids);
  Result<std::vector<std::string>> GetLinks(model::Kind owner_kind, const std::string& owner_id);
  Result<std::vector<model::ConfigEntity>> Reverse(model::Kind member_kind,
                                                   const std::string& member_id,
                                                   model::Kind owner_kind,
                                                   const std::vector<std::string>& statuses);

  // REQUIRES: mu_ held, inside a write transaction. Stores the events of a job write; fills
  // their ids into `stored`.
  Status InsertJobEvents(std::optional<model::JobStatus> from, const model::JobRecord& r,
                         std::vector<EventRecord>& stored);
  Result<int64_t> InsertEvent(const EventRecord& e);
  // REQUIRES: mu_ held, after the commit.
  void Announce(const std::vector<EventRecord>& stored);

  std::mutex mu_;
  std::unique_ptr<Database> db_;  // GUARDED_BY(mu_)
  JobEventsFn job_events_;        // GUARDED_BY(mu_)
  EventListener event_listener_;  // GUARDED_BY(mu_)
};

// LIKE pattern → GLOB pattern with the same meaning ('%' any run, '_' one character, everything
// else literal and case-sensitive). GLOB is used because SQLite's LIKE ignores ASCII case,
// while equality filters and other backends' LIKE do not. Exposed for tests.
std::string LikeToGlob(std::string_view like);

// Search terms (store.h ParseSearchQuery) → an FTS5 query: each term a quoted phrase (quotes
// doubled) whose last word is a prefix, all AND-ed. No user text is ever read as FTS5 syntax.
// Exposed for tests.
std::string FtsQuery(const std::vector<std::string>& terms);

}  // namespace weir::store::sqlite
