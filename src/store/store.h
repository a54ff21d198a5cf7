// Metadata store: the durable record of configuration resources and jobs.
//
// One interface, several backends (sqlite/ is the embedded default; postgres/ on libpq; open.h
// opens the one the settings name). Every backend passes the contract tests in
// store_contract_test.cc. A write that returned OK survives a crash (docs/operations.md).
//
// Thread-safety: all methods may be called from any thread; implementations serialise internally.
// Errors: kNotFound for unknown ids, kAlreadyExists for a duplicate id on create,
// kFailedPrecondition for link violations (unknown linked id, deleting a linked application),
// kInvalidArgument for bad filters (unknown sort field), kInternal for storage failures.
// kUnavailable when another process holds the database locked past the backend's wait (retry).
//
// Searches (every backend alike): equality and LIKE are case-sensitive; in a LIKE value '%' matches
// any run and '_' one character. Results are ordered by the sort keys, then by id ascending, so
// paging is stable; an absent time (started/finished) sorts as the smallest value. Times are
// stored as given: the store never sets created/updated itself.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "model/config.h"
#include "model/job.h"

namespace weir::store {

struct SortKey {
  std::string field;  // wire name: "updated", "created", "name", "status", "started", ...
  bool ascending = false;
};

struct PageRequest {
  int page = 0;               // 0-based
  int size = 10;              // ≥ 1
  std::vector<SortKey> sort;  // empty: the resource's default order
};

template <typename T>
struct Page {
  std::vector<T> items;
  int64_t total = 0;  // all matches, not only this page
};

// String fields: a value containing '%' is a LIKE match, otherwise equality.
struct ConfigFilter {
  std::optional<std::string> name;
  std::optional<std::string> user;
  std::optional<std::string> type;       // applications only
  std::vector<std::string> statuses;     // OR-ed; empty = any
  std::vector<std::string> tags;         // AND-ed: all must be present
  std::optional<TimePoint> min_updated;  // inclusive
  std::optional<TimePoint> max_updated;  // exclusive
};

class ConfigStore {
 public:
  virtual ~ConfigStore() = default;

  // REQUIRES: e.id non-empty, e validated and tags normalised by the caller.
  virtual Status Create(const model::ConfigEntity& e) = 0;
  virtual Result<model::ConfigEntity> Get(model::Kind kind, const std::string& id) = 0;
  // Replaces every field but id and created. kNotFound if absent.
  virtual Status Update(const model::ConfigEntity& e) = 0;
  // Deleting an application linked to a command: kFailedPrecondition naming the commands.
  // Deleting a command or cluster drops its links.
  virtual Status Delete(model::Kind kind, const std::string& id) = 0;
  // Deletes every entity of the kind; for applications kFailedPrecondition if any is linked.
  virtual Status DeleteAll(model::Kind kind) = 0;
  // Default order: updated desc. Sort fields: id, name, user, version, status, created, updated.
  virtual Result<Page<model::ConfigEntity>> Search(model::Kind kind, const ConfigFilter& filter,
                                                   const PageRequest& page) = 0;

  // Ordered links. Set* replaces the whole list (every id must exist: kFailedPrecondition);
  // the list has no duplicates (adding a present id keeps its position).
  virtual Result<std::vector<std::string>> GetCommandApplications(
      const std::string& command_id) = 0;
  virtual Status SetCommandApplications(const std::string& command_id,
                                        const std::vector<std::string>& application_ids) = 0;
  virtual Result<std::vector<std::string>> GetClusterCommands(const std::string& cluster_id) = 0;
  virtual Status SetClusterCommands(const std::string& cluster_id,
                                    const std::vector<std::string>& command_ids) = 0;
  // Reverse lookups; `statuses` empty = any.
  virtual Result<std::vector<model::ConfigEntity>> CommandsForApplication(
      const std::string& application_id, const std::vector<std::string>& statuses) = 0;
  virtual Result<std::vector<model::ConfigEntity>> ClustersForCommand(
      const std::string& command_id, const std::vector<std::string>& statuses) = 0;

  // Resolution input: every UP cluster having all `cluster_tags`, each with its linked ACTIVE
  // commands (in the cluster's order) that have all `command_tags`. Clusters with no such
  // command are left out.
  struct Candidate {
    model::ConfigEntity cluster;
    std::vector<model::ConfigEntity> commands;  // cluster's priority order
  };
  virtual Result<std::vector<Candidate>> FindCandidates(
      const std::vector<std::string>& cluster_tags,
      const std::vector<std::string>& command_tags) = 0;
};

struct JobFilter {
  std::optional<std::string> id, name, user;  // '%' → LIKE
  std::vector<model::JobStatus> statuses;     // OR-ed
  std::vector<std::string> tags;              // AND-ed
  std::optional<std::string> cluster_name, cluster_id, command_name, command_id;
  std::optional<std::string> grouping, grouping_instance;
  std::optional<TimePoint> min_started, max_started;  // min inclusive, max exclusive
  std::optional<TimePoint> min_finished, max_finished;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // kAlreadyExists when the id is taken.
  virtual Status CreateJob(const model::JobRecord& r) = 0;
  virtual Result<model::JobRecord> GetJob(const std::string& id) = 0;
  // Replaces job, execution, metadata and updated of an existing record. A record in a final
  // status is never changed again: kFailedPrecondition.
  virtual Status UpdateJob(const model::JobRecord& r) = 0;
  // Default order: created desc. Sort fields: id, name, user, status, created, updated, started,
  // finished, clusterName, commandName.
  virtual Result<Page<model::JobRecord>> SearchJobs(const JobFilter& f, const PageRequest& p) = 0;
  // Jobs in the given statuses, oldest created first (recovery and the queue).
  // Equal `created` times keep creation order (first come, first served); no statuses: empty.
  virtual Result<std::vector<model::JobRecord>> JobsWithStatus(
      const std::vector<model::JobStatus>& statuses) = 0;
  // Number of INIT/RUNNING jobs of `user` (the per-user limit).
  virtual Result<int64_t> CountActiveJobs(const std::string& user) = 0;

  // The shared queue of a cluster of servers on one database (docs/scaling.md). CreateJob of a
  // record that is INIT with an empty execution.host_name also puts the job in the queue, in the
  // same transaction. ClaimQueuedJob takes the oldest queued job that no other call is claiming
  // right now, if its execution.memory (absent: 0) is at most `max_memory_mb` (negative: any),
  // out of the queue and records `node` as its execution.host_name (and `now` as updated) in one
  // transaction: each queued job is claimed by exactly one caller, even across processes.
  // Nothing queued, or the oldest job does not fit: nullopt. UnqueueJob takes the job out of the
  // queue unclaimed; false when it was not queued (claimed already, or never queued).
  virtual Result<std::optional<model::JobRecord>> ClaimQueuedJob(const std::string& node,
                                                                 int64_t max_memory_mb,
                                                                 TimePoint now) {
    (void)node, (void)max_memory_mb, (void)now;
    return Unimplemented("job store: no shared queue");
  }
  virtual Result<bool> UnqueueJob(const std::string& id) {
    (void)id;
    return Unimplemented("job store: no shared queue");
  }

  // The database cleanup (a leadership task, cluster/leader_tasks.h). In one transaction, removes
  // up to `limit` jobs in a final status whose finished time is before `before` (the oldest
  // finished first, ties by id) with everything the store keeps under their ids: tags, queue
  // entry, search document. Jobs in INIT or RUNNING, or without a finished time, are never
  // removed. The event log keeps their events (it has its own pruning) and the scheduler's step
  // rows keep their job ids as history. Returns the removed records, so the caller can remove
  // their archives. kInvalidArgument for limit < 1.
  virtual Result<std::vector<model::JobRecord>> DeleteFinishedJobs(TimePoint before, int limit) {
    (void)before, (void)limit;
    return Unimplemented("job store: no cleanup");
  }
};

// ---- nodes and leadership (issue 11, docs/scaling.md) ------------------------------------------

// One server of a cluster as its last heartbeat described it.
struct NodeRecord {
  std::string id;   // server.node_id
  std::string url;  // server.advertise_url: where other nodes forward to
  TimePoint started;
  TimePoint heartbeat;  // the node's clock at its last heartbeat
  int64_t running_jobs = 0;
  int64_t capacity_mb = 0;     // jobs.max_system_memory_mb; 0 or less: unlimited
  int64_t free_memory_mb = 0;  // capacity not held by active jobs (capacity_mb ≤ 0: -1)
};

// A named lease (the leader's): who holds it until when, and the fencing token, which increases
// by one each time the lease passes to another holder (or to the same one after it expired), so
// an old holder that paused past its expiry can be told apart from the new one.
struct LeaseRecord {
  std::string name;
  std::string holder;  // node id; "" never held
  int64_t token = 0;
  TimePoint acquired;  // when `holder` took it (this token began)
  TimePoint expires;
};

// The node table and the leases. Thread-safe; several processes may share it. Errors as the
// other stores (kInternal/kUnavailable storage, kNotFound unknown node).
class NodeStore {
 public:
  virtual ~NodeStore() = default;
  // Inserts or replaces the row of n.id.
  virtual Status PutNode(const NodeRecord& n) = 0;
  virtual Result<NodeRecord> GetNode(const std::string& id) = 0;
  // Every node ever recorded, by id.
  virtual Result<std::vector<NodeRecord>> ListNodes() = 0;
  // In one transaction: when the lease `name` is free, expired at `now`, or held by `node`, it
  // becomes `node`'s until now + ttl (the token grows unless `node` renews a lease it holds).
  // Returns the lease as stored afterwards: holder == node says whether `node` holds it.
  virtual Result<LeaseRecord> AcquireLease(const std::string& name, const std::string& node,
                                           TimePoint now, Millis ttl) = 0;
  // The lease as stored (holder "" when never held).
  virtual Result<LeaseRecord> GetLease(const std::string& name) = 0;
};

// One write request as the audit log keeps it (api/audit.h decides what is recorded).
struct AuditRecord {
  int64_t seq = 0;        // set by Append: increases with every record, never reused
  TimePoint time;         // when the request was answered
  std::string principal;  // who: the authenticated principal, or as api/audit.h says
  std::string source;     // the client address (api ClientHost)
  std::string method;     // "POST", "PUT", "PATCH", "DELETE"
  std::string path;       // the request path, percent-decoded, without the query
  std::string target;     // the entity written (job id, asset uuid, ...); "" when unknown
  int status = 0;         // the HTTP status answered
};

// All fields optional and AND-ed.
struct AuditFilter {
  std::optional<std::string> principal;    // equality
  std::optional<TimePoint> since;          // time ≥ since
  std::optional<TimePoint> until;          // time < until
  std::optional<std::string> path_prefix;  // path starts with it (a plain prefix, no patterns)
  std::optional<std::string> target;       // equality
  std::optional<int> min_status;           // status ≥ min_status
  std::optional<int> max_status;           // status ≤ max_status
};

// The audit log: append-only records of write requests, kept until pruned.
// Thread-safe. Errors: kInternal/kUnavailable/kOutOfSpace for storage failures, kInvalidArgument
// for a bad page.
class AuditStore {
 public:
  virtual ~AuditStore() = default;
  // Stores `r` (its seq is ignored) and returns the seq given to it; seqs increase in the order
  // of Append calls. Durable once OK, like every store write.
  virtual Result<int64_t> AppendAudit(const AuditRecord& r) = 0;
  // Matching records in Append order (seq ascending), or newest first when `newest_first`.
  // Only `page.page` and `page.size` are read.
  virtual Result<Page<AuditRecord>> SearchAudit(const AuditFilter& f, const PageRequest& page,
                                                bool newest_first = false) = 0;
  // Removes every record with time < `before`; returns how many.
  virtual Result<int64_t> PruneAudit(TimePoint before) = 0;
};

// One entry of the event log (issue 13): a status change of a job, a workflow instance or step
// change, a deployment... `data` is the event's JSON object as the API sends it; the filter keys
// are copied out of it so a reader can select events without parsing them.
struct EventRecord {
  int64_t id = 0;    // set by the store: increases with every event, never reused
  std::string type;  // "JOB_STATUS_CHANGE", "JOB_FINISHED", "WORKFLOW_INSTANCE_CHANGE", ...
  TimePoint time;    // when the change was recorded
  // Filter keys; "" when the event has none.
  std::string job_id, user, grouping, workflow;
  std::string data;  // a JSON object
};

// All fields optional and AND-ed; strings are compared for equality.
struct EventFilter {
  std::vector<std::string> types;  // OR-ed; empty = any
  std::optional<std::string> job_id, user, grouping, workflow;

  bool Matches(const EventRecord& e) const {
    if (!types.empty() && std::find(types.begin(), types.end(), e.type) == types.end()) {
      return false;
    }
    return (!job_id || *job_id == e.job_id) && (!user || *user == e.user) &&
           (!grouping || *grouping == e.grouping) && (!workflow || *workflow == e.workflow);
  }
};

// The events a job write records: `from` is the stored status before the write (nullopt for
// CreateJob), `to` the record written. Called only when the status changes (or on create).
using JobEventsFn = std::function<std::vector<EventRecord>(std::optional<model::JobStatus> from,
                                                           const model::JobRecord& to)>;
// Told of each event once it is durable, in id order.
using EventListener = std::function<void(const EventRecord&)>;

// The durable, ordered event log. Ids increase in the order events are committed, so a reader
// that resumes after the last id it saw misses nothing and sees nothing twice (unless pruned).
//
// Job events are recorded by the JobStore itself, in the same transaction as the job write
// that causes them (SetJobEvents): a status change is never stored without its events, and the
// events of one job are in the order of its writes.
//
// Thread-safe. Errors: kInternal/kUnavailable/kOutOfSpace for storage failures,
// kInvalidArgument for a limit < 1.
class EventStore {
 public:
  virtual ~EventStore() = default;
  // Stores `e` (its id is ignored) and returns the id given to it.
  virtual Result<int64_t> AppendEvent(const EventRecord& e) = 0;
  // Up to `limit` events with id > `after_id` matching `f`, id ascending.
  virtual Result<std::vector<EventRecord>> ReadEvents(int64_t after_id, const EventFilter& f,
                                                      int limit) = 0;
  // The id of the newest event stored (0 when none ever was).
  virtual Result<int64_t> LastEventId() = 0;
  // Removes events older than `before` and, when max_events > 0, all but the newest
  // max_events; returns how many were removed.
  virtual Result<int64_t> PruneEvents(TimePoint before, int64_t max_events) = 0;
  // From now on, every CreateJob and every UpdateJob that changes a job's status also stores
  // fn(from, record) in the same transaction. Empty fn: job writes record no events.
  virtual void SetJobEvents(JobEventsFn fn) = 0;
  // From now on `listener` is called with every event stored (AppendEvent or a job write) after
  // its commit, in id order, under the store's lock: it must be quick, must not block and must
  // not call the store. Returns the last id stored before it was set (atomically: every later
  // event reaches the listener, every earlier one is in the log).
  virtual Result<int64_t> SetEventListener(EventListener listener) = 0;
};

// ---- webhooks ---------------------------------------------------------------------------------

// A webhook subscription (issue 13): events of the log that match `filter` are POSTed to `url`,
// signed with `secret`, one at a time in id order. `delivered_up_to` is the subscription's
// durable cursor: every matching event with a smaller or equal id was delivered (or given up
// on), so a restarted server goes on after it.
struct WebhookRecord {
  std::string id;
  std::string url;  // http:// or https://
  EventFilter filter;
  std::string secret;  // the HMAC key; never shown by the API
  bool enabled = true;
  TimePoint created;
  int64_t delivered_up_to = 0;
};

// What became of one delivery attempt.
enum class DeliveryOutcome {
  kDelivered,  // the receiver answered 2xx
  kRetrying,   // it did not; another attempt follows at next_retry
  kFailed,     // it did not, and this was the last attempt (or a redelivery by hand)
};
std::string_view DeliveryOutcomeName(DeliveryOutcome o);  // "delivered", "retrying", "failed"
Result<DeliveryOutcome> ParseDeliveryOutcome(std::string_view s);

// One row of a subscription's delivery log: one attempt to deliver one event.
struct WebhookDelivery {
  int64_t id = 0;  // set by the store: increases with every row, never reused
  std::string webhook_id;
  int64_t event_id = 0;
  std::string event_type;
  int attempt = 1;      // 1 for the first attempt of an event, counting up per retry
  bool manual = false;  // a redelivery by hand (outside the subscription's ordered stream)
  TimePoint time;       // when the attempt started
  int http_status = 0;  // the receiver's status; 0 when no answer came
  std::string error;    // why it failed ("" when delivered)
  int64_t duration_ms = 0;
  DeliveryOutcome outcome = DeliveryOutcome::kDelivered;
  std::optional<TimePoint> next_retry;  // set when outcome is kRetrying
};

// Delivery log rows kept per subscription; older ones are removed as new ones come.
inline constexpr int64_t kMaxDeliveriesPerWebhook = 1000;

// Webhook subscriptions and their delivery logs. Thread-safe.
// Errors: kNotFound naming the webhook or delivery, kAlreadyExists for a duplicate id,
// kInvalidArgument for a limit < 1, kInternal/kUnavailable for storage failures.
class WebhookStore {
 public:
  virtual ~WebhookStore() = default;
  virtual Status CreateWebhook(const WebhookRecord& w) = 0;
  virtual Result<WebhookRecord> GetWebhook(const std::string& id) = 0;
  // Every subscription, oldest first.
  virtual Result<std::vector<WebhookRecord>> ListWebhooks() = 0;
  // Removes the subscription and its delivery log.
  virtual Status DeleteWebhook(const std::string& id) = 0;
  // Appends `d` to its subscription's log and returns its id. When `advance_cursor`, the
  // subscription's delivered_up_to becomes d.event_id in the same transaction (it never moves
  // back). Keeps only the newest kMaxDeliveriesPerWebhook rows of the subscription.
  virtual Result<int64_t> RecordDelivery(const WebhookDelivery& d, bool advance_cursor) = 0;
  // The newest `limit` rows of a subscription's log, newest first.
  virtual Result<std::vector<WebhookDelivery>> ListDeliveries(const std::string& webhook_id,
                                                              int limit) = 0;
  virtual Result<WebhookDelivery> GetDelivery(const std::string& webhook_id, int64_t id) = 0;
  // The highest attempt number logged for (webhook, event) by the ordered stream (manual rows
  // are not counted); 0 when none. A restarted dispatcher goes on counting from it.
  virtual Result<int> LastAttempt(const std::string& webhook_id, int64_t event_id) = 0;
};

// ---- full-text search ------------------------------------------------------------------------

// What a search can find. Jobs and configuration entities are indexed by the store itself, in
// the same transaction that writes their rows; workflows live in the scheduler's tables, so their
// documents are handed in by whoever deploys them (PutSearchDocument / ReplaceSearchDocuments).
enum class SearchKind { kJob, kApplication, kCommand, kCluster, kWorkflow };
std::string_view SearchKindName(SearchKind k);  // "job", "application", ..., "workflow"
// kInvalidArgument naming the valid names.
Result<SearchKind> ParseSearchKind(std::string_view s);

// One searchable document. What goes in each field:
//   job          name; tags; text = user, description, arguments, status message, grouping,
//                grouping instance, cluster and command names
//   application, command, cluster   name; tags; text = description, user
//   workflow     name = deployed workflow id; text = description, step ids and their commands
struct SearchDocument {
  SearchKind kind = SearchKind::kJob;
  std::string id;  // the entity id (searchable too)
  std::string name;
  std::string status;  // shown in hits, not searched
  std::vector<std::string> tags;
  std::string text;
};

// The markers around matched words in SearchHit::name_highlight and SearchHit::snippet.
inline constexpr std::string_view kSearchMarkOpen = "<mark>";
inline constexpr std::string_view kSearchMarkClose = "</mark>";
// A snippet that leaves text out at either end shows this there.
inline constexpr std::string_view kSearchEllipsis = "...";

struct SearchHit {
  SearchKind kind = SearchKind::kJob;
  std::string id;
  std::string name;
  std::string status;
  std::string name_highlight;  // name with matched words between the markers
  std::string snippet;         // a few words around the best match in any field, marked
  double score = 0;            // higher is better (SQLite: bm25 with the sign flipped;
                               // PostgreSQL: ts_rank); compare scores of one search only
};

// A user's query turned into terms (ParseSearchQuery): every term must match a document.
// Terms are words as typed, split on white space; each matches as a phrase of its words with
// the last word a prefix ("sched:s" finds the tag "sched:sla", "etl" finds "etl-daily").
// No operator or quote of the user's ever reaches a backend's query syntax.
struct SearchQuery {
  std::vector<std::string> terms;  // each has at least one letter or digit
  std::vector<SearchKind> kinds;   // OR-ed; empty = every kind
};

// Bounds on a query as typed.
inline constexpr size_t kMaxSearchQueryBytes = 1024;
inline constexpr size_t kMaxSearchTerms = 32;
// kInvalidArgument ("q: ...") for an empty query, one over kMaxSearchQueryBytes or
// kMaxSearchTerms terms, invalid UTF-8, control characters, or no term with a letter or digit.
// Terms of punctuation only are dropped.
Result<std::vector<std::string>> ParseSearchQuery(std::string_view q);

// The full-text index. Kept apart from ConfigStore/JobStore so a backend without full-text
// search still provides those; the SQLite store implements it with FTS5, the PostgreSQL one with
// its full-text search (tsvector, GIN).
//
// Ranking: a document whose name equals the whole query (ignoring ASCII case) comes first, then
// by relevance (matches in the name weigh most, then tags, id, text), then kind and id, so
// paging is stable. Thread-safe. Errors: kInvalidArgument for a bad page or query (never a
// storage error for any query text), kInternal/kUnavailable for storage failures.
class SearchIndex {
 public:
  virtual ~SearchIndex() = default;
  // Only `page.page` and `page.size` are read.
  virtual Result<Page<SearchHit>> SearchText(const SearchQuery& q, const PageRequest& page) = 0;
  // Inserts or replaces the document of (kind, id). For kinds the store does not index itself
  // (kWorkflow); kInvalidArgument for the others.
  virtual Status PutSearchDocument(const SearchDocument& d) = 0;
  // Removes the document; no error when absent. Same kinds as PutSearchDocument.
  virtual Status RemoveSearchDocument(SearchKind kind, const std::string& id) = 0;
  // Replaces every document of `kind` by `docs` in one transaction (a rebuild at start-up).
  virtual Status ReplaceSearchDocuments(SearchKind kind,
                                        const std::vector<SearchDocument>& docs) = 0;
};

class AssetStore;  // asset_store.h

// Opens (creating if needed) an SQLite database file, WAL mode, schema migrated.
// The interfaces share one connection, but for `assets`, which has its own (asset_store.h).
// `clock` is not read: callers set the record times.
struct SqliteStores {
  std::shared_ptr<ConfigStore> config;
  std::shared_ptr<JobStore> jobs;
  std::shared_ptr<AuditStore> audit;
  std::shared_ptr<EventStore> events;
  std::shared_ptr<SearchIndex> search;
  std::shared_ptr<NodeStore> nodes;
  std::shared_ptr<WebhookStore> webhooks;  // subscriptions and delivery logs (both backends)
  std::shared_ptr<AssetStore> assets;  // the asset registry's rows
};
Result<SqliteStores> OpenSqlite(const std::string& path, Clock& clock);

}  // namespace weir::store
