// Deployment bundles: the immutable unit a deploy hands to the scheduler.
//
// A bundle is one rendered workflow for one environment plus everything it references: a
// manifest (BundleManifest) naming the source (owner/repo/branch/commit, dirty flag), the
// rendered definition and its SHA-256, every asset version (UUID, SHA-256, URI) and every
// repository file (path, SHA-256, size, bundle URI), and the bytes of those repository files.
// Asset bytes stay in the asset store (their URIs and hashes are in the manifest).
//
// Identity: the bundle id is the SHA-256 of the manifest's canonical JSON (CanonicalJson: keys
// sorted, no whitespace, lists in a fixed order), so identical inputs give the identical id
// and any change (one byte of the definition, a different asset build, the dirty flag) gives
// another. The manifest holds no timestamps for that reason.
//
// On disk (WriteBundleDir), under a parent folder:
//   <parent>/<bundle id>/
//     manifest.json          the canonical JSON
//     definition.yaml        the rendered definition (also inside the manifest)
//     files/<sha256>         one per repository file, named by content hash
// The folder appears only complete and verified: everything is written into a temporary
// sibling, every file hash and the manifest hash are checked, then the folder is renamed into
// place. Writing a bundle that already exists verifies the existing copy and succeeds.
// ReadBundleDir verifies the same way before returning the manifest.
//
// Errors: kInvalidArgument (malformed manifest, hash mismatch in what the caller supplied),
// kDataLoss-like corruption of a stored bundle is kInternal, I/O errors via ErrnoStatus.
// Thread-safety: functions are pure or touch only the named folders; two processes writing the
// same bundle concurrently both succeed with the same result.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "blob/blob_store.h"
#include "common/result.h"
#include "workflow/render.h"

namespace weir::workflow {

inline constexpr int kBundleFormatVersion = 1;

struct BundleAsset {
  std::string uuid;  // dataflow.<type>.<namespace>.<owner>.<repo>.<branch>.<commit>.<build>
  std::string sha256;
  std::string uri;
  // The name the asset's file gets in a job folder (DependencyFileName); empty in manifests made
  // before names were recorded, and then left out of the canonical JSON, so their bundle ids
  // do not change. The scheduler maps `uri` to a copy of the bytes under this name.
  std::string file_name;
  friend bool operator==(const BundleAsset&, const BundleAsset&) = default;
};

// The file name an asset version keeps in a job folder: its published file name when that is a
// plain file name ("greet.sh", "etl-1.0.jar"), else "<namespace>.<extension>" when it has an
// extension, else empty (the job then sees the last segment of the blob's URI).
std::string DependencyFileName(const assets::AssetRecord& record);
// True for a name usable as one file in a folder: 1..255 bytes, no '/', NUL, or control
// characters, not "." or "..".
bool IsPlainFileName(std::string_view name);

struct BundleFile {
  std::string path;  // repository-relative, '/' separated
  std::string sha256;
  int64_t size = 0;
  std::string uri;  // FileUri(sha256, basename)
  friend bool operator==(const BundleFile&, const BundleFile&) = default;
};

struct BundleManifest {
  int format = kBundleFormatVersion;
  std::string workflow_id;
  std::string environment;  // "prod", "staging", "sandbox:<user>", "branch:<branch>"
  std::string owner;
  std::string repo;
  std::string branch;
  std::string commit;         // full 40 hex digits
  bool dirty = false;         // deployed from a tree with uncommitted changes
  std::string workflow_file;  // repository-relative path of the *.sch.yaml source
  std::string definition;     // the rendered workflow text
  std::string definition_sha256;
  std::vector<BundleAsset> assets;  // sorted by uuid (Normalize)
  std::vector<BundleFile> files;    // sorted by path (Normalize)
  friend bool operator==(const BundleManifest&, const BundleManifest&) = default;
};

// The manifest of one rendered workflow: sets definition_sha256, copies assets and files from
// the render result, and sorts them.
BundleManifest MakeManifest(std::string workflow_id, std::string environment, std::string owner,
                            std::string repo, std::string branch, std::string commit, bool dirty,
                            std::string workflow_file, const RenderResult& render);

// Sorts assets and files and removes exact duplicates (the canonical order).
void Normalize(BundleManifest& m);
// Checks field forms: hashes are 64 lower-case hex digits, definition_sha256 matches the
// definition, paths are safe and relative, no two entries share a uuid or a path.
Status ValidateManifest(const BundleManifest& m);

// Canonical JSON of the normalised manifest (sorted keys, no whitespace, UTF-8 as is).
std::string CanonicalJson(const BundleManifest& m);
// SHA-256 (hex) of CanonicalJson(m).
std::string BundleId(const BundleManifest& m);
// Parses a manifest written by CanonicalJson (any key order and whitespace accepted), then
// ValidateManifest.
Result<BundleManifest> ParseManifest(std::string_view json);

// Supplies the bytes of a repository file of the bundle.
using FileContent = std::function<Result<std::string>(const BundleFile& file)>;
// Reads files from a checked-out repository (refusing paths that leave it).
FileContent RepositoryFileContent(std::filesystem::path root);

// Writes <parent>/<BundleId(m)>/ as described above and returns its path.
Result<std::filesystem::path> WriteBundleDir(const std::filesystem::path& parent,
                                             const BundleManifest& m, const FileContent& content);
// Reads and verifies a bundle folder (manifest hash = folder name, every file hash).
Result<BundleManifest> ReadBundleDir(const std::filesystem::path& dir);

// Stores the manifest and every repository file in a blob store (content-addressed, so each
// lands under its hash; the manifest's key is the bundle id) and returns the bundle id. Each
// Put is verified against the expected hash by the store.
Result<std::string> PutBundleBlobs(blob::BlobStore& store, const BundleManifest& m,
                                   const FileContent& content);
// The scheduler's acceptance check: the manifest blob and every file blob exist in `store`
// (kFailedPrecondition naming the first missing one); returns the parsed manifest.
Result<BundleManifest> VerifyBundleBlobs(blob::BlobStore& store, std::string_view bundle_id);

}  // namespace weir::workflow
