// The local BlobStore backend: one folder on a local file system (usually <data dir>/blobs).
//
//   <root>/
//     ab/abcdef…   blob with key "abcdef…" (sharded by the first two hex digits), read-only
//     tmp/         Puts in progress: a uniquely named file per Put, renamed into its shard once
//                  written, fsynced and verified; leftovers of a crash are removed when the store
//                  is opened again (files older than an hour, so other processes' Puts survive)
//
// Uri(key) is "file://" + the absolute path of the blob. Thread- and process-safe: puts only
// create files by rename(2), which is atomic on one file system. List reports a blob's file
// mtime as its modified time; a Put of content already stored sets that mtime to now (best
// effort: only the file's owner may); Delete unlinks the file (hard links made elsewhere, such
// as the scheduler's named bundle files, keep their bytes).
#pragma once

#include <filesystem>
#include <memory>

#include "blob/blob_store.h"
#include "common/clock.h"

namespace weir::blob {

// Opens (creating if needed) a local store under `root`. `clock` dates stale temporary files.
Result<std::unique_ptr<BlobStore>> NewLocalBlobStore(const std::filesystem::path& root,
                                                     Clock& clock = SystemClock::Instance());

// "file:///abs/path" for an absolute path, with characters outside the URI path set
// percent-encoded; and its inverse (kInvalidArgument for anything but a file:// URI).
std::string FileUri(const std::filesystem::path& absolute);
Result<std::filesystem::path> PathFromFileUri(std::string_view uri);

}  // namespace weir::blob
