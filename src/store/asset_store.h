// AssetStore: the durable rows of the asset registry (assets/registry.h): which repository owns
// each namespace, and one row per published asset version with the SHA-256 of its bytes (the
// bytes themselves live in a blob::BlobStore). The registry's rules (what a valid version is, who
// may publish where, how errors are worded) stay in the registry; this interface holds the rows
// and the transactions that keep them consistent.
//
// Invariants every backend keeps:
//   - a namespace is claimed once, by the first version published into it, and never changes;
//   - rows are never updated or deleted: the version behind a uuid never changes;
//   - uuids are unique, and so are (type, ns, owner, repo, branch, build);
//   - builds of one (type, ns, owner, repo, branch) are 1, 2, 3, ... with no gap: PublishVersion
//     assigns max + 1 in the same transaction that inserts the row, serialised against every
//     other publish into the namespace, from this process or another one sharing the storage.
//
// "Newest" means the latest `created`, ties broken by the later publication (insertion order).
// Times are stored as given (milliseconds); the store never reads a clock.
//
// Backends: sqlite/sqlite_asset_store.h (tables in the server's SQLite file, its own
// connection) and postgres/postgres_asset_store.h; store/open.h opens the one the settings name.
// asset_store_contract_test.cc runs against both.
//
// Thread-safety: all methods may be called from any thread. Errors: kNotFound (no such version),
// kInvalidArgument (bad page or limit), kUnavailable (the storage is locked past its wait, or
// unreachable: retry), kOutOfSpace, kInternal; PublishVersion also returns its decision's error.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "store/store.h"

namespace weir::store {

// Who owns a namespace: the asset type and the repository that first published into it.
struct AssetNamespaceRow {
  std::string ns;
  std::string type;
  std::string owner;
  std::string repo;
  TimePoint created;

  friend bool operator==(const AssetNamespaceRow&, const AssetNamespaceRow&) = default;
};

// One published asset version.
struct AssetVersionRow {
  std::string uuid;  // the registry's canonical name of the version (assets::FormatUuid)
  std::string type;
  std::string ns;
  std::string owner;
  std::string repo;
  std::string branch;  // as git names it
  std::string commit;  // 8 hex digits
  int64_t build = 0;   // >= 1, consecutive per (type, ns, owner, repo, branch)
  std::string sha256;  // the blob holding the bytes
  int64_t size = 0;
  std::string file_name;
  std::string extension;
  bool dirty = false;
  std::string publisher;
  TimePoint created;

  friend bool operator==(const AssetVersionRow&, const AssetVersionRow&) = default;
};

// Equality filters, AND-ed; an empty field matches anything.
struct AssetVersionFilter {
  std::string type;
  std::string ns;
  std::string branch;
  std::string owner;
  std::string repo;
};

// Called inside PublishVersion's transaction with the namespace's owner (nullopt: unclaimed, the
// version about to be inserted claims it) and the row to insert, whose `build` is the build the
// version gets (max + 1 on its branch, 1 for a new branch). It sets the row's `uuid` and
// `created` (reading the clock here, inside the transaction, makes times follow the order of
// publication), or returns an error: the transaction is then rolled back and PublishVersion
// returns that error unchanged. It must not call the store.
using PublishDecision =
    std::function<Status(const std::optional<AssetNamespaceRow>& owner, AssetVersionRow& row)>;

class AssetStore {
 public:
  virtual ~AssetStore() = default;

  // The owner of `ns`, or nullopt when nothing was ever published into it.
  virtual Result<std::optional<AssetNamespaceRow>> GetNamespace(std::string_view ns) = 0;

  // Atomically: reads the namespace's owner and the branch's next build, lets `decide` finish
  // the row, claims the namespace when unclaimed (the row's type, owner, repo and created) and
  // inserts the row. `row.build`, `row.uuid` and `row.created` are what `decide` makes them.
  // Returns the row as stored. kAlreadyExists when the uuid is taken.
  virtual Result<AssetVersionRow> PublishVersion(const AssetVersionRow& row,
                                                 const PublishDecision& decide) = 0;

  // The version named `uuid` (kNotFound).
  virtual Result<AssetVersionRow> GetVersion(std::string_view uuid) = 0;

  // The versions matching `filter`, newest first: page `page` (0-based) of `size` (>= 1) and
  // how many match over all pages. kInvalidArgument for page < 0 or size < 1.
  virtual Result<Page<AssetVersionRow>> ListVersions(const AssetVersionFilter& filter, int64_t page,
                                                     int64_t size) = 0;

  // The newest version of (type, ns), any branch (kNotFound when none).
  virtual Result<AssetVersionRow> NewestVersion(std::string_view type, std::string_view ns) = 0;
  // The highest build of (type, ns) on `branch` (kNotFound when none).
  virtual Result<AssetVersionRow> NewestOnBranch(std::string_view type, std::string_view ns,
                                                 std::string_view branch) = 0;
  // Build `build` of (type, ns) on `branch` (kNotFound when none).
  virtual Result<AssetVersionRow> VersionOnBranch(std::string_view type, std::string_view ns,
                                                  std::string_view branch, int64_t build) = 0;

  // At most `limit` (>= 1) versions, most recently published first, of (type, ns); with
  // `and_other_namespaces`: every version of `ns` whatever its type, plus the most recently
  // published version of each other namespace of `type` (what suggestions are made from).
  virtual Result<std::vector<AssetVersionRow>> VersionsNear(std::string_view type,
                                                            std::string_view ns,
                                                            bool and_other_namespaces,
                                                            int64_t limit) = 0;

  // Whether any version's bytes are the blob `sha256` (a blob no version references is left
  // over by a failed publish and may be removed).
  virtual Result<bool> BlobReferenced(std::string_view sha256) = 0;
  // Every blob some version's bytes are (each once, in key order): what the leader's orphan
  // blob cleanup must keep (cluster/leader_tasks.h).
  virtual Result<std::vector<std::string>> ReferencedBlobs() = 0;
};

}  // namespace weir::store
