// The PostgreSQL metadata store: ConfigStore, JobStore, AuditStore and NodeStore over a small pool
// of libpq connections (store.type postgresql, store.url postgresql://...).
//
// Same contract as the SQLite store (store_contract_test.cc and audit_store_contract_test.cc run
// against both): the same searches, orders and errors. Values go to the server as parameters only.
// Each call borrows one connection from the pool for its duration, so calls from many threads run
// in parallel, and several weir processes may share one database. Writes that touch several rows
// run in one transaction; a search reads its count and its page from one snapshot.
//
// Durability: a call that returned OK is committed (the server's synchronous_commit decides what
// a crash of the database host may lose).
//
// Errors as in store.h, plus kUnavailable when the database cannot be reached (the next call
// reconnects), and kFailedPrecondition at open when the database's schema is newer than this build.
#pragma once

#include <memory>
#include <string>
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
                            public NodeStore {
 public:
  // `url`: a libpq URI or key=value string; `password` ("" for none) is passed apart from it.
  static Result<std::shared_ptr<PostgresStore>> Open(const std::string& url,
                                                     const std::string& password,
                                                     const PostgresOptions& options = {});

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

 private:
  explicit PostgresStore(std::unique_ptr<Pool> pool) : pool_(std::move(pool)) {}

  Result<std::vector<std::string>> GetLinks(model::Kind owner_kind, const std::string& owner_id);
  Status SetLinks(model::Kind owner_kind, const std::string& owner_id, model::Kind member_kind,
                  const std::vector<std::string>& member_ids);
  Result<std::vector<model::ConfigEntity>> Reverse(model::Kind member_kind,
                                                   const std::string& member_id,
                                                   model::Kind owner_kind,
                                                   const std::vector<std::string>& statuses);

  std::unique_ptr<Pool> pool_;
};

}  // namespace weir::store::postgres
