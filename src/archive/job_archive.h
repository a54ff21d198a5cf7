// Job archives: a finished job's directory as one tar.gz, written where the operator keeps job
// output (a local folder or S3), and read back when the node-local directory is gone.
//
// Archive format: a gzip-compressed POSIX (pax) tar of the job directory. Member names are
// relative to the job directory ("stdout", "genie/logs/genie.log"); directories, regular files
// and symbolic links are stored (links as links, never followed), with modes and mtimes; other
// file types (sockets, fifos) are left out. Files are read as they are when archiving runs, so
// archive only once the job has ended.
//
// Exclusions (what is not worth keeping: copies of dependencies that live elsewhere anyway) are
// glob patterns over member names, matched with fnmatch(FNM_PATHNAME): '*' does not cross '/'.
// A pattern that matches a directory leaves out everything below it. DefaultArchiveExcludes()
// gives the dependency folders of the cluster, command and applications; the job's own
// dependency files (flat in the job directory) are excluded by name by the caller (see
// JobDependencyNames).
//
// Locations. ArchiveLocation is where archives go: "file:///abs/folder" (or a plain absolute
// path) or "s3://bucket/optional/prefix". A job's archive URI is "<location>/<job id>.tar.gz"
// (the archiveLocation Genie 3 records on the job). Writing is atomic at both: a temp file
// renamed into place locally; S3 PUTs (multipart above the client's threshold) are atomic.
//
// Errors name the URI or path and the cause: kInvalidArgument for a malformed location or
// archive; kNotFound for a missing archive; I/O errors as ErrnoStatus; S3 errors as S3Client
// reports them. Thread-safety: JobArchiver is immutable after Create; every method may be called
// from several threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "fetch/s3_client.h"
#include "model/job.h"

namespace weir::archive {

// "genie/cluster/*/dependencies", "genie/command/*/dependencies",
// "genie/applications/*/dependencies".
std::vector<std::string> DefaultArchiveExcludes();

// The file names the job's own dependencies got in its directory (exec::LocalFileName of each
// URI in request.dependencies; URIs without a usable name are skipped).
std::vector<std::string> JobDependencyNames(const model::JobRequest& request);

struct WriteStats {
  int64_t files = 0;          // regular files stored
  int64_t bytes = 0;          // their total size before compression
  int64_t excluded = 0;       // entries left out by a pattern (a folder counts once)
  int64_t archive_bytes = 0;  // size of the tar.gz
};

// Writes `dir` as a tar.gz at `out` (created or replaced; written in place, not atomically:
// callers write to a temp name). Members matching any of `excludes` are left out.
Result<WriteStats> WriteTarGz(const std::filesystem::path& dir,
                              const std::vector<std::string>& excludes,
                              const std::filesystem::path& out);

// Extracts a tar.gz into `dest` (created if missing). Refuses members that would land outside
// `dest` (absolute names, "..", writes through symbolic links): kInvalidArgument naming the
// member. Restores modes (without setuid bits) and mtimes.
Status ExtractTarGz(const std::filesystem::path& archive, const std::filesystem::path& dest);

struct ArchiverOptions {
  // Where archives go: "file:///abs/folder", "/abs/folder" or "s3://bucket/prefix".
  std::string location;
  // Glob patterns of members to leave out (see above).
  std::vector<std::string> excludes = DefaultArchiveExcludes();
  // Also leave out the job's own dependency files (names from its request).
  bool exclude_job_dependencies = true;
  // Where a tar.gz bound for S3 is built before the upload (the system temp folder when empty).
  std::filesystem::path scratch_dir;
};

class JobArchiver {
 public:
  // Validates the location (kInvalidArgument naming "archive location" and what to write).
  // `s3` is required for an s3:// location (kInvalidArgument otherwise) and used for archive
  // URIs of s3:// form.
  static Result<std::unique_ptr<JobArchiver>> Create(ArchiverOptions options,
                                                     std::shared_ptr<fetch::S3Client> s3);

  // "<location>/<job id>.tar.gz" ("file:///..." for a local location), the id percent-encoded
  // as one path segment: parsing the URI back (LocalPathOf, or the S3 key) gives exactly
  // "<location>/<job id>.tar.gz". kInvalidArgument when the id breaks the id rule (common/ids.h).
  Result<std::string> ArchiveUri(const std::string& job_id) const;

  // Archives `job_dir` to `archive_uri` (file:// or s3://, usually ArchiveUri(id)), leaving out
  // the configured patterns plus `extra_excludes` (member names or patterns).
  Result<WriteStats> Archive(const std::filesystem::path& job_dir, const std::string& archive_uri,
                             const std::vector<std::string>& extra_excludes) const;

  // Archives a finished job: its directory to the archive_location on its record, leaving out
  // its dependency files when so configured. kFailedPrecondition when the record has no
  // archive_location, or when its id breaks the id rule or its archive_location does not name
  // "<folder>/<id>.tar.gz" (a record written by an older version from a hostile id: archiving
  // it could overwrite another file).
  Result<WriteStats> ArchiveJob(const model::JobRecord& record,
                                const std::filesystem::path& job_dir) const;

  // Whether an archive exists at `archive_uri` (stat, or S3 HEAD).
  Result<bool> Exists(const std::string& archive_uri) const;

  // Copies the archive to `dest` (temp file + rename). kNotFound when there is none.
  Status Download(const std::string& archive_uri, const std::filesystem::path& dest) const;

  // Removes the archive of a job whose record the database cleanup deleted: the file (or S3
  // object) at the record's archive_location. True when one was removed, false when the record
  // names none or nothing is there. Refuses (kFailedPrecondition, as ArchiveJob) an
  // archive_location that does not name "<folder>/<id>.tar.gz", so a hostile record never makes
  // it remove another file. A local location must be reachable from this node: in a cluster,
  // keep archives on S3 or a shared folder (docs/scaling.md).
  Result<bool> RemoveJobArchive(const model::JobRecord& record) const;

  const ArchiverOptions& options() const { return options_; }

 private:
  JobArchiver(ArchiverOptions options, std::shared_ptr<fetch::S3Client> s3)
      : options_(std::move(options)), s3_(std::move(s3)) {}

  ArchiverOptions options_;
  std::string base_uri_;  // location without a trailing '/', file:// form for local folders
  std::shared_ptr<fetch::S3Client> s3_;
};

// A local path from "file:///abs" or "/abs" (percent-decoded); kInvalidArgument otherwise.
Result<std::filesystem::path> LocalPathOf(std::string_view uri);

}  // namespace weir::archive
