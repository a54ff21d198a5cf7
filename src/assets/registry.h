// AssetRegistry: the server's record of published asset versions, and the AssetCatalog the
// server renders workflows with.
//
// Bytes live in a BlobStore (deduplicated by SHA-256); the rows (who owns each namespace, one row
// per version) live behind a store::AssetStore (store/asset_store.h): in the server's SQLite file
// or in PostgreSQL, as store.type says. The registry holds the rules: what a valid version is,
// who may publish where, how builds are numbered, how references resolve and errors read.
//
// Publish protocol (crash-safe, see Publish): validate → hash and store the bytes in the blob
// store (durable, verified) → one store transaction (AssetStore::PublishVersion) that checks
// namespace ownership, assigns build = max(build)+1 for (type, namespace, owner, repo, branch)
// and inserts the row. A crash before the commit leaves at most an unreferenced blob (harmless);
// a row never exists without its blob. Rows are never updated or deleted, so the content behind
// a UUID never changes.
//
// Namespaces: a namespace belongs to the asset type and the owner/repo that first published into
// it. Publishing from another repository → kPermissionDenied naming the owner; another type →
// kFailedPrecondition naming the namespace's type.
//
// Record URIs come from BlobStore::Uri(sha256) at read time, so they follow the blob backend.
//
// Thread-safety: all methods are safe to call concurrently, also from several servers sharing
// one store (the store serialises publishes into a namespace). Errors: kInvalidArgument (bad
// request field, size or hash mismatch), kNotFound, kAlreadyExists, kPermissionDenied,
// kFailedPrecondition, kUnavailable (the store is locked or unreachable: retry), kInternal.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "assets/asset_id.h"
#include "assets/catalog.h"
#include "blob/blob_store.h"
#include "common/clock.h"
#include "common/result.h"
#include "store/asset_store.h"

namespace weir::assets {

struct PublishRequest {
  // Identity. Either the fields below, or `uuid` (an explicit version, see Publish); when both
  // are given they must agree.
  std::string type;
  std::string ns;
  std::string owner;
  std::string repo;
  std::string branch;  // as git names it, e.g. "feature/x"
  std::string commit;  // 8..40 hex digits; the first 8 are kept
  std::string uuid;    // optional explicit version "dataflow.<type>…<build>"
  bool dirty = false;  // built from a tree with uncommitted changes

  std::string file_name;  // e.g. "etl-1.0.jar"; no '/', valid UTF-8, <= 255 bytes (may be empty)
  std::string extension;  // without the dot; empty → taken from file_name ("jar", "tar.gz" → "gz")
  int64_t size = -1;      // declared size in bytes; -1 when unknown
  std::string sha256;     // declared SHA-256 (64 hex digits); empty when unknown
  std::string publisher;  // who publishes (free text, <= 255 bytes)
};

struct ListQuery {
  std::string type;  // empty = any; likewise for every filter
  std::string ns;
  std::string branch;  // as git names it
  std::string owner;
  std::string repo;
  int64_t page = 0;   // 0-based
  int64_t size = 50;  // 1..1000
};

struct ListPage {
  std::vector<AssetRecord> records;  // newest first
  int64_t total = 0;                 // matching versions over all pages
  int64_t page = 0;
  int64_t size = 0;
};

// Told of each version Publish() committed, in commit order, with the registry's lock held (it
// must not call the registry). The server turns it into an ASSET_PUBLISHED event; a crash
// between the commit and the call loses that event (at most once), never the version.
using PublishListener = std::function<void(const AssetRecord&)>;

class AssetRegistry final : public AssetCatalog {
 public:
  // The registry over `rows` (store/open.h gives the one store.type names). The registry shares
  // ownership of `rows` and `blobs`; `clock` must outlive it. kInvalidArgument when either is
  // missing.
  static Result<std::unique_ptr<AssetRegistry>> Open(std::shared_ptr<store::AssetStore> rows,
                                                     std::shared_ptr<blob::BlobStore> blobs,
                                                     Clock& clock = SystemClock::Instance(),
                                                     PublishListener on_publish = {});
  // The same over the SQLite file `db_path` (its asset tables created if missing; kInternal
  // naming the path on failure).
  static Result<std::unique_ptr<AssetRegistry>> Open(const std::string& db_path,
                                                     std::shared_ptr<blob::BlobStore> blobs,
                                                     Clock& clock = SystemClock::Instance(),
                                                     int busy_timeout_ms = 10000,
                                                     PublishListener on_publish = {});
  ~AssetRegistry() override;

  // Publishes the bytes in `content` (a local file, left in place) as a new version and returns
  // its record. Checks, in order: request fields (kInvalidArgument naming the field), namespace
  // ownership (kPermissionDenied / kFailedPrecondition), declared size and hash against the bytes
  // (kInvalidArgument), and for an explicit `uuid`: kAlreadyExists when that version exists,
  // kFailedPrecondition when its build is not the next one on its branch.
  Result<AssetRecord> Publish(const PublishRequest& request, const std::filesystem::path& content);

  // The version named by `uuid` (kInvalidArgument for a malformed UUID, kNotFound).
  Result<AssetRecord> Get(std::string_view uuid);
  Result<ListPage> List(const ListQuery& query);

  // AssetCatalog.
  Result<AssetRecord> Resolve(const AssetRef& ref) override;
  std::vector<std::string> Suggestions(const AssetRef& ref) override;

  blob::BlobStore& blobs();

 private:
  struct Impl;
  explicit AssetRegistry(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::assets
