// BundleBlobs: what the scheduler needs from blob storage to accept a deployment bundle and to
// run its steps. The composition root supplies one over the server's BlobStore
// (NewBlobStoreBundleBlobs); tests supply fakes.
//
//   Verify(sha256)    the blob exists AND its bytes hash to sha256. Deploy calls it for every
//                     asset and repository file of a manifest before anything is recorded.
//   Put(bytes, sha)   stores the bytes of a repository file uploaded with a deploy request;
//                     refuses bytes that do not hash to `sha256`. Content-addressed, so a Put of
//                     a refused deploy leaves only an unreferenced (harmless) blob behind.
//   Uri(sha, name)    where a job downloads the blob; `bundle://files/<sha256>/<name>` URIs of a
//                     rendered workflow are rewritten to this when a step is submitted.
//
// Errors: Verify → kFailedPrecondition "blob <sha>: missing; …" or "blob <sha>: content does
// not match its hash (corrupted); …"; Put → kInvalidArgument on a hash mismatch, the store's
// errors otherwise. Thread-safety: implementations must be thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "blob/blob_store.h"
#include "common/result.h"

namespace weir::scheduler {

class BundleBlobs {
 public:
  virtual ~BundleBlobs() = default;
  virtual Status Verify(std::string_view sha256) = 0;
  virtual Status Put(std::string_view bytes, std::string_view sha256) = 0;
  virtual std::string Uri(std::string_view sha256, std::string_view name) const = 0;
};

// Over a BlobStore: Verify stats the blob and re-hashes its content (a blob verified once is
// remembered for the life of the object, so a redeploy does not re-read large assets); Uri is
// BlobStore::Uri(sha256) (the job sees the file under its hash as the name).
std::shared_ptr<BundleBlobs> NewBlobStoreBundleBlobs(std::shared_ptr<blob::BlobStore> store);

}  // namespace weir::scheduler
