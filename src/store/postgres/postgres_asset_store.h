// The asset registry's rows (store/asset_store.h) in PostgreSQL: the tables asset_namespaces and
// assets of schema.cc (the same columns as the SQLite store's), over a pool of its own.
//
// Publishing serialises per namespace with a transaction-scoped advisory lock keyed on the
// namespace, taken before the owner and the next build are read: two servers publishing into one
// namespace at once get consecutive builds, and the first publish into a new namespace claims it
// alone. The unique constraints stay the backstop (kAlreadyExists). A list reads its count and
// its page from one snapshot.
//
// Errors as in asset_store.h; kUnavailable when the database cannot be reached (the next call
// reconnects), kFailedPrecondition at open when the database's schema is newer than this build
// (or, with migrate off, not at this build's version).
#pragma once

#include <memory>
#include <string>

#include "store/asset_store.h"
#include "store/postgres/connection.h"
#include "store/postgres/postgres_store.h"

namespace weir::store::postgres {

class PostgresAssetStore final : public AssetStore {
 public:
  // `url`: a libpq URI or key=value string; `password` ("" for none) is passed apart from it.
  static Result<std::shared_ptr<PostgresAssetStore>> Open(const std::string& url,
                                                          const std::string& password,
                                                          const PostgresOptions& options = {});

  Result<std::optional<AssetNamespaceRow>> GetNamespace(std::string_view ns) override;
  Result<AssetVersionRow> PublishVersion(const AssetVersionRow& row,
                                         const PublishDecision& decide) override;
  Result<AssetVersionRow> GetVersion(std::string_view uuid) override;
  Result<Page<AssetVersionRow>> ListVersions(const AssetVersionFilter& filter, int64_t page,
                                             int64_t size) override;
  Result<AssetVersionRow> NewestVersion(std::string_view type, std::string_view ns) override;
  Result<AssetVersionRow> NewestOnBranch(std::string_view type, std::string_view ns,
                                         std::string_view branch) override;
  Result<AssetVersionRow> VersionOnBranch(std::string_view type, std::string_view ns,
                                          std::string_view branch, int64_t build) override;
  Result<std::vector<AssetVersionRow>> VersionsNear(std::string_view type, std::string_view ns,
                                                    bool and_other_namespaces,
                                                    int64_t limit) override;
  Result<bool> BlobReferenced(std::string_view sha256) override;
  Result<std::vector<std::string>> ReferencedBlobs() override;

 private:
  explicit PostgresAssetStore(std::unique_ptr<Pool> pool) : pool_(std::move(pool)) {}
  // One row (kNotFound naming `what` when none) of a SELECT of every column.
  Result<AssetVersionRow> One(const std::string& where_and_order, const Params& p,
                              std::string_view what);

  std::unique_ptr<Pool> pool_;
};

}  // namespace weir::store::postgres
