#include "archive/job_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "common/fs.h"
#include "common/ids.h"
#include "common/strings.h"
#include "exec/job_dir.h"
#include "fetch/fetcher.h"
#include "fetch/source.h"
#include "fetch/uri.h"

namespace weir::archive {

namespace fs = std::filesystem;

namespace {

// Closes a libarchive handle however the function leaves.
struct ArchiveCloser {
  struct archive* a = nullptr;
  bool write = false;
  ~ArchiveCloser() {
    if (a == nullptr) return;
    if (write) {
      archive_write_free(a);
    } else {
      archive_read_free(a);
    }
  }
};

std::string ArchiveError(struct archive* a) {
  const char* e = archive_error_string(a);
  return e != nullptr ? e : "unknown libarchive error";
}

bool Excluded(const std::string& rel, const std::vector<std::string>& patterns) {
  for (const std::string& p : patterns) {
    if (::fnmatch(p.c_str(), rel.c_str(), FNM_PATHNAME) == 0) return true;
  }
  return false;
}

// Percent-encodes a local path for a file:// URI, keeping '/' and unreserved characters.
std::string EncodePath(const std::string& path) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
        c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Copies one regular file into the open archive entry.
Status CopyFileData(struct archive* a, int fd, const std::string& rel) {
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("archive: read '" + rel + "'", errno);
    if (n == 0) return Status::Ok();
    if (archive_write_data(a, buf, static_cast<size_t>(n)) < 0) {
      return Internal("archive: write '" + rel + "': " + ArchiveError(a));
    }
  }
}

Status FsyncFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("archive: open " + path.string(), errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("archive: fsync " + path.string(), err);
  return Status::Ok();
}

bool IsS3(std::string_view uri) { return StartsWith(uri, "s3://"); }

// A stored archive location must name "<folder>/<id>.tar.gz" for a valid id once parsed: a
// record from an older version may hold one built by pasting a hostile id into the URI.
Status CheckArchiveUriOf(const std::string& id, const std::string& uri) {
  const std::string ctx = "job archive location '" + fetch::RedactUri(uri) + "'";
  if (!IsSafeId(id)) {
    return FailedPrecondition(ctx + ": the job id does not follow the id rule; not archived");
  }
  const std::string file = id + ".tar.gz";
  if (IsS3(uri)) {
    std::string bucket, key;
    WEIR_RETURN_IF_ERROR(fetch::ParseS3Uri(uri, &bucket, &key).WithContext(ctx));
    if (key != file && !EndsWith(key, "/" + file)) {
      return FailedPrecondition(ctx + ": does not end with /" + file + "; not archived");
    }
    return Status::Ok();
  }
  Result<fs::path> path = LocalPathOf(uri);
  if (!path.ok()) return FailedPrecondition(ctx + ": " + path.status().message());
  if (path->filename() != file) {
    return FailedPrecondition(ctx + ": does not name a file " + file + "; not archived");
  }
  for (const fs::path& part : *path) {
    if (part == "..") {
      return FailedPrecondition(ctx + ": has a '..' component; not archived");
    }
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> DefaultArchiveExcludes() {
  return {"genie/cluster/*/dependencies", "genie/command/*/dependencies",
          "genie/applications/*/dependencies"};
}

std::vector<std::string> JobDependencyNames(const model::JobRequest& request) {
  std::vector<std::string> names;
  for (const std::string& uri : request.dependencies) {
    Result<std::string> name = exec::LocalFileName(uri);
    if (name.ok()) names.push_back(*name);
  }
  return names;
}

Result<fs::path> LocalPathOf(std::string_view uri) {
  if (StartsWith(uri, "/")) return fs::path(std::string(uri));
  WEIR_ASSIGN_OR_RETURN(fetch::ParsedUri parsed, fetch::ParseUri(uri));
  if (parsed.scheme != "file" || (!parsed.authority.empty() && parsed.authority != "localhost")) {
    return InvalidArgument("'" + std::string(uri) +
                           "': not a local path; expected file:///absolute/path");
  }
  WEIR_ASSIGN_OR_RETURN(std::string path, fetch::PercentDecode(parsed.path));
  if (!StartsWith(path, "/")) {
    return InvalidArgument("'" + std::string(uri) + "': the path must be absolute");
  }
  return fs::path(path);
}

namespace {

// Writes a folder tree into an archive through descriptors only: every entry is looked at with
// fstatat and opened with openat(O_NOFOLLOW) relative to its folder's descriptor, so a job that
// owns the folder and swaps a sub-folder for a link while it is archived never makes the server
// read outside it. Entries come in name order, each folder before its contents.
struct TreeWriter {
  static constexpr int kMaxDepth = 256;  // deeper folders are left out (counted as excluded)

  struct archive* a;
  const std::vector<std::string>& excludes;
  const std::string& ctx;
  WriteStats* stats;

  Status AddFolder(int dir_fd, const std::string& rel, int depth) {
    std::vector<std::string> names;
    {
      UniqueFd list_fd(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
      DIR* d = list_fd.valid() ? ::fdopendir(list_fd.get()) : nullptr;
      if (d == nullptr) return ErrnoStatus(ctx + ": walk " + (rel.empty() ? "." : rel), errno);
      list_fd.release();
      while (struct dirent* e = ::readdir(d)) {
        const std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
      }
      ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      const std::string child = rel.empty() ? name : rel + "/" + name;
      if (Excluded(child, excludes)) {
        ++stats->excluded;
        continue;
      }
      struct stat st {};
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
      UniqueFd fd;
      std::string link_target;
      if (S_ISREG(st.st_mode)) {
        fd = UniqueFd(::openat(dir_fd, name.c_str(),
                               O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
        // Unreadable (a job may chmod 000 its files), or swapped for something else: left out.
        if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      } else if (S_ISDIR(st.st_mode)) {
        if (depth + 1 >= kMaxDepth) {
          ++stats->excluded;
          continue;
        }
        fd = UniqueFd(
            ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd.valid() || ::fstat(fd.get(), &st) != 0) continue;
      } else if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t n = ::readlinkat(dir_fd, name.c_str(), buf, sizeof buf);
        if (n < 0 || static_cast<size_t>(n) >= sizeof buf) continue;
        link_target.assign(buf, static_cast<size_t>(n));
      } else {
        continue;  // sockets, fifos, devices
      }
      WEIR_RETURN_IF_ERROR(WriteEntry(st, child, fd.get(), link_target));
      if (S_ISDIR(st.st_mode)) WEIR_RETURN_IF_ERROR(AddFolder(fd.get(), child, depth + 1));
    }
    return Status::Ok();
  }

  Status WriteEntry(const struct stat& st, const std::string& rel, int fd,
                    const std::string& link_target) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_copy_stat(entry, &st);
    archive_entry_set_pathname(entry, rel.c_str());
    archive_entry_set_nlink(entry, S_ISDIR(st.st_mode) ? 2 : 1);
    if (!S_ISREG(st.st_mode)) archive_entry_set_size(entry, 0);
    if (S_ISLNK(st.st_mode)) archive_entry_set_symlink(entry, link_target.c_str());
    Status result = Status::Ok();
    if (archive_write_header(a, entry) != ARCHIVE_OK) {
      result = Internal(ctx + ": write header of '" + rel + "': " + ArchiveError(a));
    } else if (S_ISREG(st.st_mode)) {
      result = CopyFileData(a, fd, rel);
      ++stats->files;
      stats->bytes += st.st_size;
    }
    archive_entry_free(entry);
    return result;
  }
};

}  // namespace

Result<WriteStats> WriteTarGz(const fs::path& dir, const std::vector<std::string>& excludes,
                              const fs::path& out) {
  const std::string ctx = "archive " + dir.string();
  WriteStats stats;
  ArchiveCloser closer{archive_write_new(), true};
  struct archive* a = closer.a;
  if (a == nullptr) return Internal(ctx + ": out of memory");
  if (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
      archive_write_set_format_pax_restricted(a) != ARCHIVE_OK) {
    return Internal(ctx + ": " + ArchiveError(a));
  }
  if (archive_write_open_filename(a, out.c_str()) != ARCHIVE_OK) {
    return Internal(ctx + ": create " + out.string() + ": " + ArchiveError(a));
  }
  UniqueFd top(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!top.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) return NotFound(ctx + ": no such directory");
    return ErrnoStatus(ctx, errno);
  }
  TreeWriter writer{a, excludes, ctx, &stats};
  WEIR_RETURN_IF_ERROR(writer.AddFolder(top.get(), "", 0));
  if (archive_write_close(a) != ARCHIVE_OK) {
    return Internal(ctx + ": finish " + out.string() + ": " + ArchiveError(a));
  }
  std::error_code ec;
  stats.archive_bytes = static_cast<int64_t>(fs::file_size(out, ec));
  return stats;
}

Status ExtractTarGz(const fs::path& archive_path, const fs::path& dest) {
  const std::string ctx = "extract " + archive_path.string();
  WEIR_RETURN_IF_ERROR(MakeDirs(dest).WithContext(ctx));
  ArchiveCloser reader{archive_read_new(), false};
  ArchiveCloser writer{archive_write_disk_new(), true};
  if (reader.a == nullptr || writer.a == nullptr) return Internal(ctx + ": out of memory");
  archive_read_support_filter_gzip(reader.a);
  archive_read_support_format_tar(reader.a);
  archive_write_disk_set_options(writer.a, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                               ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                               ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  if (archive_read_open_filename(reader.a, archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    std::error_code ec;
    if (!fs::exists(archive_path, ec)) return NotFound(ctx + ": no such file");
    return InvalidArgument(ctx + ": " + ArchiveError(reader.a));
  }
  // Members are written at <root>/<name>: absolute and ".." names are refused below, and the
  // root is canonical so that SECURE_SYMLINKS only ever sees links the archive itself made.
  std::error_code cec;
  const std::string root = fs::canonical(dest, cec).string();
  if (cec) return ErrnoStatus(ctx + ": " + dest.string(), cec.value());
  struct archive_entry* entry = nullptr;
  while (true) {
    int r = archive_read_next_header(reader.a, &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return InvalidArgument(ctx + ": " + ArchiveError(reader.a));
    }
    const std::string name = archive_entry_pathname(entry);
    if (name.empty() || StartsWith(name, "/") || name == ".." || StartsWith(name, "../") ||
        name.find("/../") != std::string::npos || EndsWith(name, "/..")) {
      return InvalidArgument(ctx + ": member '" + name + "' would land outside the folder");
    }
    const mode_t perm = archive_entry_perm(entry) & 0777;
    archive_entry_set_perm(
        entry, archive_entry_filetype(entry) == AE_IFDIR ? (perm | 0700) : (perm | 0600));
    archive_entry_set_pathname(entry, (root + "/" + name).c_str());
    if (const char* hardlink = archive_entry_hardlink(entry)) {
      const std::string h = hardlink;
      if (StartsWith(h, "/") || h.find("..") != std::string::npos) {
        return InvalidArgument(ctx + ": member '" + name + "' links outside the folder");
      }
      archive_entry_set_hardlink(entry, (root + "/" + h).c_str());
    }
    if (archive_write_header(writer.a, entry) != ARCHIVE_OK) {
      return InvalidArgument(ctx + ": member '" + name + "': " + ArchiveError(writer.a));
    }
    if (archive_entry_size(entry) > 0) {
      const void* buf;
      size_t size;
      la_int64_t offset;
      while (true) {
        r = archive_read_data_block(reader.a, &buf, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK) return InvalidArgument(ctx + ": " + ArchiveError(reader.a));
        if (archive_write_data_block(writer.a, buf, size, offset) != ARCHIVE_OK) {
          return Internal(ctx + ": member '" + name + "': " + ArchiveError(writer.a));
        }
      }
    }
    if (archive_write_finish_entry(writer.a) != ARCHIVE_OK) {
      return Internal(ctx + ": member '" + name + "': " + ArchiveError(writer.a));
    }
  }
  if (archive_write_close(writer.a) != ARCHIVE_OK) {
    return Internal(ctx + ": " + ArchiveError(writer.a));
  }
  return Status::Ok();
}

// --- JobArchiver -------------------------------------------------------------------------------

Result<std::unique_ptr<JobArchiver>> JobArchiver::Create(ArchiverOptions options,
                                                         std::shared_ptr<fetch::S3Client> s3) {
  std::string loc = options.location;
  while (loc.size() > 1 && loc.back() == '/') loc.pop_back();
  const std::string shown = "archive location '" + fetch::RedactUri(options.location) + "'";
  std::string base;
  if (IsS3(loc)) {
    std::string rest = loc.substr(5);
    if (rest.empty() || rest.front() == '/') {
      return InvalidArgument(shown + ": no bucket; write s3://bucket or s3://bucket/prefix");
    }
    if (s3 == nullptr) {
      return InvalidArgument(shown +
                             ": an s3:// location needs S3 settings (endpoint, region, "
                             "credentials)");
    }
    base = loc;
  } else {
    Result<fs::path> path = LocalPathOf(loc);
    if (!path.ok()) {
      return InvalidArgument(shown +
                             ": write file:///absolute/folder, /absolute/folder or "
                             "s3://bucket/prefix");
    }
    WEIR_RETURN_IF_ERROR(MakeDirs(*path).WithContext(shown));
    base = "file://" + EncodePath(path->lexically_normal().string());
    while (base.size() > 8 && base.back() == '/') base.pop_back();
  }
  std::unique_ptr<JobArchiver> archiver(new JobArchiver(std::move(options), std::move(s3)));
  archiver->base_uri_ = std::move(base);
  return archiver;
}

Result<std::string> JobArchiver::ArchiveUri(const std::string& job_id) const {
  WEIR_RETURN_IF_ERROR(ValidateId("job id", job_id));
  return base_uri_ + "/" + EncodeUriSegment(job_id) + ".tar.gz";
}

Result<WriteStats> JobArchiver::Archive(const fs::path& job_dir, const std::string& archive_uri,
                                        const std::vector<std::string>& extra_excludes) const {
  std::vector<std::string> excludes = options_.excludes;
  excludes.insert(excludes.end(), extra_excludes.begin(), extra_excludes.end());
  const std::string ctx = "archive '" + fetch::RedactUri(archive_uri) + "'";
  if (IsS3(archive_uri)) {
    std::string bucket, key;
    WEIR_RETURN_IF_ERROR(fetch::ParseS3Uri(archive_uri, &bucket, &key).WithContext(ctx));
    if (s3_ == nullptr) return FailedPrecondition(ctx + ": no S3 client configured");
    fs::path scratch = options_.scratch_dir;
    if (scratch.empty()) {
      std::error_code ec;
      scratch = fs::temp_directory_path(ec);
      if (ec) scratch = "/tmp";
    }
    WEIR_RETURN_IF_ERROR(MakeDirs(scratch).WithContext(ctx));
    const fs::path tmp = scratch / ("weir-archive-" + NewUuid() + ".tar.gz");
    Result<WriteStats> stats = WriteTarGz(job_dir, excludes, tmp);
    if (stats.ok()) {
      fetch::S3PutOptions put;
      put.content_type = "application/gzip";
      Result<fetch::S3ObjectInfo> up = s3_->UploadFile(bucket, key, tmp, put);
      if (!up.ok()) stats = up.status().WithContext(ctx);
    }
    std::error_code ec;
    fs::remove(tmp, ec);
    return stats;
  }
  WEIR_ASSIGN_OR_RETURN(fs::path dest, LocalPathOf(archive_uri));
  WEIR_RETURN_IF_ERROR(MakeDirs(dest.parent_path()).WithContext(ctx));
  const fs::path tmp = fetch::TempPathBeside(dest);
  Result<WriteStats> stats = WriteTarGz(job_dir, excludes, tmp);
  if (stats.ok()) {
    Status st = FsyncFile(tmp);
    if (st.ok()) st = fetch::PlaceAtomically(tmp, dest);
    if (!st.ok()) stats = st.WithContext(ctx);
  }
  std::error_code ec;
  if (!stats.ok()) fs::remove(tmp, ec);
  return stats;
}

Result<WriteStats> JobArchiver::ArchiveJob(const model::JobRecord& record,
                                           const fs::path& job_dir) const {
  if (!record.job.archive_location || record.job.archive_location->empty()) {
    return FailedPrecondition("job '" + record.id + "': no archive location on its record");
  }
  WEIR_RETURN_IF_ERROR(CheckArchiveUriOf(record.id, *record.job.archive_location));
  std::vector<std::string> extra;
  if (options_.exclude_job_dependencies) {
    for (const std::string& name : JobDependencyNames(record.request)) {
      // A literal name as a pattern: escape what fnmatch would read as wildcards.
      std::string escaped;
      for (char c : name) {
        if (c == '*' || c == '?' || c == '[' || c == '\\') escaped.push_back('\\');
        escaped.push_back(c);
      }
      extra.push_back(std::move(escaped));
    }
  }
  return Archive(job_dir, *record.job.archive_location, extra);
}

Result<bool> JobArchiver::Exists(const std::string& archive_uri) const {
  if (IsS3(archive_uri)) {
    std::string bucket, key;
    WEIR_RETURN_IF_ERROR(fetch::ParseS3Uri(archive_uri, &bucket, &key));
    if (s3_ == nullptr) {
      return FailedPrecondition("archive '" + archive_uri + "': no S3 client configured");
    }
    Result<fetch::S3ObjectInfo> head = s3_->HeadObject(bucket, key);
    if (head.ok()) return true;
    if (head.status().code() == StatusCode::kNotFound) return false;
    return head.status();
  }
  WEIR_ASSIGN_OR_RETURN(fs::path path, LocalPathOf(archive_uri));
  std::error_code ec;
  bool exists = fs::is_regular_file(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return ErrnoStatus("archive '" + archive_uri + "'", ec.value());
  }
  return exists;
}

Status JobArchiver::Download(const std::string& archive_uri, const fs::path& dest) const {
  if (IsS3(archive_uri)) {
    std::string bucket, key;
    WEIR_RETURN_IF_ERROR(fetch::ParseS3Uri(archive_uri, &bucket, &key));
    if (s3_ == nullptr) {
      return FailedPrecondition("archive '" + archive_uri + "': no S3 client configured");
    }
    Result<fetch::GetOutcome> got =
        s3_->GetObject(bucket, key, dest, {}, "archive '" + archive_uri + "'");
    return got.ok() ? Status::Ok() : got.status();
  }
  return fetch::CopyLocal(archive_uri, dest).WithContext("archive");
}

Result<bool> JobArchiver::RemoveJobArchive(const model::JobRecord& record) const {
  if (!record.job.archive_location || record.job.archive_location->empty()) return false;
  const std::string& uri = *record.job.archive_location;
  WEIR_RETURN_IF_ERROR(CheckArchiveUriOf(record.id, uri));
  if (IsS3(uri)) {
    std::string bucket, key;
    WEIR_RETURN_IF_ERROR(fetch::ParseS3Uri(uri, &bucket, &key));
    if (s3_ == nullptr) {
      return FailedPrecondition("archive '" + fetch::RedactUri(uri) + "': no S3 client configured");
    }
    // DELETE of an absent key succeeds on S3: ask first so the count stays true.
    Result<fetch::S3ObjectInfo> head = s3_->HeadObject(bucket, key);
    if (!head.ok()) {
      if (head.status().code() == StatusCode::kNotFound) return false;
      return head.status();
    }
    WEIR_RETURN_IF_ERROR(s3_->DeleteObject(bucket, key));
    return true;
  }
  WEIR_ASSIGN_OR_RETURN(fs::path path, LocalPathOf(uri));
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  return ErrnoStatus("archive '" + path.string() + "'", errno);
}

}  // namespace weir::archive
