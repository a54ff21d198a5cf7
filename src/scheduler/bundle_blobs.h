// BundleBlobs: what the scheduler needs from blob storage (and the asset registry) to accept a
// deployment bundle and to run its steps. The composition root supplies one over the server's
// BlobStore and AssetRegistry (NewBlobStoreBundleBlobs); tests supply fakes.
//
//   VerifyAsset(uuid, sha)  the asset version `uuid` is registered with content `sha` (when a
//                           lookup is available) AND Verify(sha) passes. Deploy calls it for
//                           every asset of a manifest before anything is recorded.
//   Verify(sha)             the blob exists AND its bytes hash to `sha` (every repository file).
//   Put(bytes, sha)         stores the bytes of a repository file uploaded with a deploy request;
//                           refuses bytes that do not hash to `sha`. Content-addressed, so a Put
//                           of a refused deploy leaves only an unreferenced (harmless) blob.
//   FileUri(sha, name)      a URI the job service can fetch whose last path segment is `name`
//                           (as written in `bundle://files/<sha>/<name>`, percent-encoded),
//                           pointing at the blob's bytes. A job's file is named after the last
//                           segment, so the job sees `load.sql`, not a hash. May create a named
//                           copy or link on first use (idempotent); Deploy calls it for every
//                           file so that problems refuse the deploy, steps call it again.
//
// Errors: VerifyAsset/Verify → kFailedPrecondition "blob <sha>: missing; …", "blob <sha>:
// content does not match its hash (corrupted); …", "asset <uuid>: not published …" or "asset
// <uuid>: registered with SHA-256 X, the manifest says Y"; Put → kInvalidArgument on a hash
// mismatch; FileUri → kInvalidArgument for a name that is not a plain file name, the store's
// errors otherwise. Thread-safety: implementations must be thread-safe.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "blob/blob_store.h"
#include "common/result.h"

namespace weir::scheduler {

class BundleBlobs {
 public:
  virtual ~BundleBlobs() = default;
  virtual Status VerifyAsset(std::string_view uuid, std::string_view sha256) = 0;
  virtual Status Verify(std::string_view sha256) = 0;
  virtual Status Put(std::string_view bytes, std::string_view sha256) = 0;
  virtual Result<std::string> FileUri(std::string_view sha256, std::string_view name) = 0;
};

// The SHA-256 an asset version was published with (e.g. AssetRegistry::Get(uuid)->sha256);
// kNotFound when no such version exists.
using AssetLookup = std::function<Result<std::string>(std::string_view uuid)>;

// Over a BlobStore. Verify re-hashes the blob's content (a blob verified once is remembered for
// the life of the object, so redeploys do not re-read large assets). FileUri places a hard link
// to the blob (a verified copy when the store is not on the local file system)
// at <named_dir>/<sha>/<name> and returns its file:// URI. `lookup` may be empty: asset UUIDs
// are then not checked against a registry, only their blobs.
std::shared_ptr<BundleBlobs> NewBlobStoreBundleBlobs(std::shared_ptr<blob::BlobStore> store,
                                                     std::filesystem::path named_dir,
                                                     AssetLookup lookup = {});

}  // namespace weir::scheduler
