// The asset registry's rows (store/asset_store.h) in the server's SQLite file.
//
// Two tables, as the registry has always kept them (an existing data folder keeps working; they
// are created if missing, outside the numbered migrations of schema.cc, on this store's own
// connection):
//   asset_namespaces(ns PRIMARY KEY, type, owner, repo, created_ms)   who owns a namespace
//   assets(seq, uuid UNIQUE, type, ns, owner, repo, branch, commit_short, build, sha256, size,
//          file_name, extension, dirty, publisher, created_ms)       one row per version
// `seq` (AUTOINCREMENT) is the publication order that breaks ties between equal times.
//
// Its own connection (synchronous=FULL: a published version survives a power loss) behind one
// mutex, so a publish never waits for the job store's lock in the same process. Publishing runs
// in one IMMEDIATE transaction: other processes on the same file wait (busy timeout) and then
// see the committed build, so builds stay consecutive across processes.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/asset_store.h"
#include "store/sqlite/database.h"

namespace weir::store::sqlite {

class SqliteAssetStore final : public AssetStore {
 public:
  // Opens (creating the file and the tables if needed) the asset tables of `path`. kInternal
  // naming the path when it cannot be opened.
  static Result<std::shared_ptr<SqliteAssetStore>> Open(const std::string& path,
                                                        int busy_timeout_ms = 10000);

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
  explicit SqliteAssetStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  // REQUIRES: mu_ held.
  Result<std::optional<AssetNamespaceRow>> ReadNamespace(std::string_view ns);
  Result<std::vector<AssetVersionRow>> Rows(Stmt& q);
  Result<AssetVersionRow> One(Stmt& q, std::string_view what);

  std::mutex mu_;
  std::unique_ptr<Database> db_;  // GUARDED_BY(mu_)
};

}  // namespace weir::store::sqlite
