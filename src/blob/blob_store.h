// BlobStore: immutable, content-addressed object storage for asset bytes and bundle files.
//
// A blob's key is the SHA-256 of its content (64 lower-case hex digits), so a key names one
// content forever and storing the same bytes twice stores them once: Put of content that is
// already present is a no-op that returns the same key. Put is atomic: readers see the whole blob
// or none, also after a crash (a crash may leave unreferenced temporary data behind, never a
// partial blob under a key). Put verifies the content against `expected_sha256` when given and
// refuses a mismatch (kInvalidArgument) without storing anything.
//
// The interface names blobs only by key; where the bytes live is the backend's business. The one
// place a location shows is Uri(key): the address a job (or the fetch module) downloads the blob
// from — "file:///abs/path" for the local backend, "s3://bucket/prefix/<key>" for an S3 backend.
//
// Blobs are removed only by Delete, which the leader's database cleanup calls for blobs that
// nothing references and that are older than its grace period (cluster/leader_tasks.h); a Put of
// content already present refreshes the blob's modified time (local: touches the file; S3:
// uploads an object older than an hour again), so a publish that re-uses an old orphan's bytes
// makes it young again.
//
// Backends are built by name through NewBlobStore ("local" today). Every backend passes the
// contract suite in blob_store_contract.h.
//
// Errors: kInvalidArgument (malformed key, hash mismatch, unreadable source), kNotFound (no blob
// under that key), kResourceExhausted (disk full), kUnavailable (a remote backend is down),
// kInternal (other I/O failures).
// Thread-safety: every method may be called from several threads and processes at once; two
// concurrent Puts of the same content both succeed with the same key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace weir::blob {

struct BlobInfo {
  std::string key;  // = SHA-256 of the content
  int64_t size = 0;
  friend bool operator==(const BlobInfo&, const BlobInfo&) = default;
};

// One blob as List shows it: its key, size, and when it was last written (local: the file's
// mtime; S3: the object's LastModified), which tells how old an unreferenced blob is.
struct ListedBlob {
  std::string key;
  int64_t size = 0;
  TimePoint modified;
  friend bool operator==(const ListedBlob&, const ListedBlob&) = default;
};

// Sequential reader over one blob. Not thread-safe (one reader per thread).
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // Reads up to `n` bytes into `buf`; 0 at the end of the blob.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
  virtual int64_t size() const = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // The backend name given to NewBlobStore ("local").
  virtual std::string_view backend() const = 0;

  // Stores the content of a local file (the file is left in place).
  virtual Result<BlobInfo> PutFile(const std::filesystem::path& source,
                                   std::optional<std::string> expected_sha256 = std::nullopt) = 0;
  // Stores everything `in` yields until its end. A stream error stores nothing (kInvalidArgument).
  virtual Result<BlobInfo> PutStream(std::istream& in,
                                     std::optional<std::string> expected_sha256 = std::nullopt) = 0;
  // Stores bytes held in memory.
  Result<BlobInfo> PutBytes(std::string_view data,
                            std::optional<std::string> expected_sha256 = std::nullopt);

  virtual Result<BlobInfo> Stat(std::string_view key) = 0;
  virtual Result<std::unique_ptr<BlobReader>> Open(std::string_view key) = 0;
  // Copies the blob to `dest` (temp file + rename: `dest` is whole or untouched) and checks the
  // copy's hash against the key (kInternal on a mismatch: the stored blob is corrupt).
  virtual Status CopyTo(std::string_view key, const std::filesystem::path& dest) = 0;
  // Blobs whose key starts with `prefix` (hex) and sorts after `start_after` (any string; ""
  // starts at the first), in key order, at most `limit`. To see every blob, call again with the
  // last key listed as `start_after` until a call returns fewer than `limit`.
  virtual Result<std::vector<ListedBlob>> List(std::string_view prefix, size_t limit = 1000,
                                               std::string_view start_after = {}) = 0;
  // Removes the blob. Idempotent: Ok when there is no blob under `key` (already deleted, or never
  // stored). kInvalidArgument for a malformed key. A reader that opened the blob before may
  // still read it to its end (local) or fail (S3); callers delete only what nothing references.
  virtual Status Delete(std::string_view key) = 0;
  // Where a job fetches the blob. Pure: does not check that the blob exists.
  virtual std::string Uri(std::string_view key) const = 0;
};

// The base of backends that store content as it is read in chunks: PutFile and PutStream read
// their source and hand it to PutChunks once. A ChunkSource fills `buf` with up to `n` bytes and
// returns how many, 0 at the end; a source that cannot be read gives kInvalidArgument naming it
// (a missing file too; other errors opening a file follow errno).
class ChunkedBlobStore : public BlobStore {
 public:
  using ChunkSource = std::function<Result<size_t>(char* buf, size_t n)>;

  Result<BlobInfo> PutFile(const std::filesystem::path& source,
                           std::optional<std::string> expected_sha256) final;
  Result<BlobInfo> PutStream(std::istream& in, std::optional<std::string> expected_sha256) final;

 protected:
  // Stores everything `source` yields, under the contract of PutFile above.
  virtual Result<BlobInfo> PutChunks(const ChunkSource& source,
                                     std::optional<std::string> expected_sha256) = 0;
};

// Backend settings. `root` is the local backend's folder (created if missing); `settings` holds
// backend-specific options by name (e.g. an S3 bucket and endpoint later).
struct BlobStoreConfig {
  std::filesystem::path root;
  std::map<std::string, std::string> settings;
};

// Builds a backend by name: "local" (a folder, see local_blob_store.h). kInvalidArgument names
// the known backends for any other name; configuration errors name the setting.
Result<std::unique_ptr<BlobStore>> NewBlobStore(std::string_view backend,
                                                const BlobStoreConfig& config);

// kInvalidArgument unless `key` is 64 lower-case hex digits (context: "blob key").
Status ValidateKey(std::string_view key);

}  // namespace weir::blob
