// AssetCatalog: answers "which stored asset version does this reference mean?" for rendering.
//
// The registry (registry.h) implements it over the server's database; the HTTP catalog
// (http_catalog.h) asks a server; MemoryCatalog (below) serves a fixed list, for tests and dry
// runs. Resolution rules, identical in every implementation:
//   kLatest          the newest version of (type, namespace), any owner/repo/branch
//   kLatestOnBranch  the highest build of (type, namespace) on that branch
//   kBuildOnBranch   that build on that branch
//   kExact           exactly that UUID
// "Newest" means the latest creation time, ties broken by the later publication (the registry's
// insertion order; in a list, the later entry).
// A namespace belongs to one repository, so the '@' forms are unambiguous.
//
// Errors of Resolve: kInvalidArgument (malformed reference), kNotFound (nothing matches; the
// message says which part is missing, e.g. "asset 'dataflow.jar.etl@dev': no version on branch
// 'dev'"), kUnavailable / kInternal when the backing store or server fails.
// Suggestions lists what does exist near an unresolvable reference — close namespaces of the same
// type, branches of the namespace with their latest build, builds of the branch — as short
// human-readable phrases ("namespace 'etl-jobs' (jar)", "branch 'main' (builds 1..4)"), at most
// a dozen, best first; empty when nothing is close or the store cannot be read.
//
// Thread-safety: every implementation is safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "assets/asset_id.h"
#include "common/clock.h"
#include "common/result.h"

namespace weir::assets {

// One published asset version and where its bytes are.
struct AssetRecord {
  AssetVersionId id;
  std::string uuid;       // FormatUuid(id)
  std::string sha256;     // 64 lower-case hex digits of the content
  int64_t size = 0;       // bytes
  std::string uri;        // where a job fetches the bytes: "file:///abs/path" or "s3://bucket/key"
  TimePoint created;      // when the version became visible
  std::string file_name;  // the published file's name, e.g. "etl-1.0.jar" (may be empty)
  std::string extension;  // without the dot, e.g. "jar" (may be empty)
  std::string path;       // LayoutPath(id, extension): the logical name in the managed store
  bool dirty = false;     // built from a tree with uncommitted changes
  std::string publisher;  // who published it (user name as reported by the client; may be empty)

  friend bool operator==(const AssetRecord&, const AssetRecord&) = default;
};

class AssetCatalog {
 public:
  virtual ~AssetCatalog() = default;
  virtual Result<AssetRecord> Resolve(const AssetRef& ref) = 0;
  virtual std::vector<std::string> Suggestions(const AssetRef& ref) = 0;
};

// The resolution rules above applied to a list of records (pure; used by MemoryCatalog and by
// tests that check other implementations against it).
Result<AssetRecord> ResolveInList(const std::vector<AssetRecord>& records, const AssetRef& ref);
std::vector<std::string> SuggestInList(const std::vector<AssetRecord>& records,
                                       const AssetRef& ref);

// Version churn: the version a publish of `sha256` to (type, ns, owner, repo, branch) can reuse
// instead of making a new one — the newest build on that branch (kLatestOnBranch through
// `catalog`, which must not cache: a publish changes the answer) when its bytes are `sha256`, it
// belongs to owner/repo, and its dirty flag equals `dirty` (a clean build never reuses a version
// recorded as dirty, nor the reverse). kNotFound when there is nothing to reuse (also when the
// branch has no build yet); the catalog's other errors as they are.
Result<AssetRecord> ReusableVersion(AssetCatalog& catalog, const AssetVersionId& where,
                                    std::string_view sha256, bool dirty);

// A catalog over a fixed set of records (tests, dry runs). Add is thread-safe too.
class MemoryCatalog final : public AssetCatalog {
 public:
  MemoryCatalog();
  explicit MemoryCatalog(std::vector<AssetRecord> records);
  void Add(AssetRecord record);
  Result<AssetRecord> Resolve(const AssetRef& ref) override;
  std::vector<std::string> Suggestions(const AssetRef& ref) override;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace weir::assets
