// The S3 BlobStore backend: blobs as objects in one bucket of AWS S3 or any S3-compatible
// endpoint, through weir's S3Client (fetch/s3_client.h: SigV4 signed by weir, multipart upload
// above the client's multipart_threshold).
//
//   s3://<bucket>/<prefix>/<key>   one object per blob, key = SHA-256 of the content;
//                                  metadata x-amz-meta-sha256 = the key (checked by Stat)
//
// Put streams the source into a scratch file while hashing it (so the bytes uploaded are the
// bytes hashed, even if the source changes meanwhile), checks expected_sha256, then HEADs the
// object: present → no-op; absent → one PUT (or a multipart upload for large files). S3 makes an
// object visible only once whole, so readers never see a part; a failed upload leaves nothing
// under the key (a failed multipart upload is aborted; S3 lifecycle rules should also expire
// incomplete multipart uploads, for servers that refuse the abort).
// Reads download into a scratch file and verify the content against the key before handing it
// out (kInternal on a mismatch: the object is corrupt). Uri(key) is "s3://bucket/prefix/key",
// which the fetch module downloads for jobs. List pages through ListObjectsV2 (start-after) and
// reports each object's LastModified; Delete is DeleteObject (a missing object is Ok). A Put of
// content already stored does not refresh its LastModified.
//
// Errors as BlobStore documents; S3 transport failures and 5xx are kUnavailable, 403 is
// kPermissionDenied, with S3Client's message ("s3 PutObject 's3://b/k': ...").
// Thread-safety: all methods, from any thread (S3Client is thread-safe).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "blob/blob_store.h"
#include "common/clock.h"
#include "fetch/s3_client.h"

namespace weir::blob {

struct S3BlobStoreOptions {
  std::string bucket;
  std::string prefix;                 // "" or "a/b" (slashes at either end are dropped)
  std::filesystem::path scratch_dir;  // temp files of Puts and reads; "" → system temp folder
  // A Put of content already stored uploads it again when the object is older than this, so
  // that its LastModified shows the new publish to the orphan-blob cleanup (which deletes
  // unreferenced blobs older than its grace period, 24 h by default: keep this well below it).
  // Younger copies are left as they are, which bounds the re-uploads of one content.
  Millis refresh_after = std::chrono::hours(1);
  Clock* clock = nullptr;  // for the object's age; nullptr → the system clock
};

// kInvalidArgument for an empty bucket or a null client.
Result<std::unique_ptr<BlobStore>> NewS3BlobStore(S3BlobStoreOptions options,
                                                  std::shared_ptr<fetch::S3Client> client);

// Builds the backend from BlobStoreConfig settings, for the server's "s3" blob backend:
//   bucket (required), prefix, endpoint, region, access_key_id, secret_access_key,
//   addressing (auto | path | virtual), multipart_threshold, part_size (bytes);
// settings left out come from the AWS_* environment (see s3_client.h). config.root is the
// scratch folder. Errors name the setting ("blob s3 setting 'part_size': ...").
Result<std::unique_ptr<BlobStore>> NewS3BlobStoreFromConfig(
    const BlobStoreConfig& config, Clock& clock, const fetch::EnvLookup& env = fetch::ProcessEnv);

}  // namespace weir::blob
