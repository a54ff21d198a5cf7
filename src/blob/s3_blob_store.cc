#include "blob/s3_blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <system_error>
#include <vector>

#include "blob/sha256.h"
#include "common/fs.h"
#include "common/ids.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "fetch/source.h"

namespace weir::blob {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunk = 1 << 16;

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// A scratch file removed when this goes out of scope.
struct ScratchFile {
  fs::path path;
  ~ScratchFile() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

Status WriteAll(int fd, const char* data, size_t n, const std::string& context) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      Status s = ErrnoStatus(context, errno);
      if (errno == ENOSPC) return ResourceExhausted(s.message());
      return s;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

// Reads the downloaded file, which was unlinked once opened.
class ScratchReader final : public BlobReader {
 public:
  ScratchReader(int fd, int64_t size, std::string context)
      : fd_(fd), size_(size), context_(std::move(context)) {}
  Result<size_t> Read(char* buf, size_t n) override {
    while (true) {
      ssize_t r = ::read(fd_.get(), buf, n);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return ErrnoStatus(context_, errno);
      return static_cast<size_t>(r);
    }
  }
  int64_t size() const override { return size_; }

 private:
  Fd fd_;
  int64_t size_;
  std::string context_;
};

class S3BlobStore final : public ChunkedBlobStore {
 public:
  S3BlobStore(S3BlobStoreOptions options, std::shared_ptr<fetch::S3Client> client)
      : options_(std::move(options)), client_(std::move(client)) {}

  std::string_view backend() const override { return "s3"; }

  Result<BlobInfo> Stat(std::string_view key) override {
    WEIR_RETURN_IF_ERROR(ValidateKey(key));
    Result<fetch::S3ObjectInfo> head = client_->HeadObject(options_.bucket, ObjectKey(key));
    if (!head.ok()) return Mapped(head.status(), key);
    for (const auto& [name, value] : head->metadata) {
      if (name == "sha256" && value != key) {
        return Internal("blob " + std::string(key) + ": object metadata sha256 is " + value +
                        "; the object is corrupt");
      }
    }
    return BlobInfo{std::string(key), head->size};
  }

  Result<std::unique_ptr<BlobReader>> Open(std::string_view key) override {
    WEIR_RETURN_IF_ERROR(ValidateKey(key));
    WEIR_ASSIGN_OR_RETURN(fs::path scratch, ScratchDir());
    ScratchFile file{scratch / ("weir-blob-read-" + NewUuid())};
    WEIR_RETURN_IF_ERROR(DownloadVerified(key, file.path));
    const std::string context = "blob " + std::string(key);
    int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(context, errno);
    std::error_code ec;
    int64_t size = static_cast<int64_t>(fs::file_size(file.path, ec));
    // `file` is unlinked on return; the open descriptor keeps the bytes readable.
    return std::unique_ptr<BlobReader>(std::make_unique<ScratchReader>(fd, size, context));
  }

  Status CopyTo(std::string_view key, const fs::path& dest) override {
    WEIR_RETURN_IF_ERROR(ValidateKey(key));
    ScratchFile tmp{fetch::TempPathBeside(dest)};
    WEIR_RETURN_IF_ERROR(DownloadVerified(key, tmp.path));
    WEIR_RETURN_IF_ERROR(
        fetch::PlaceAtomically(tmp.path, dest)
            .WithContext("blob " + std::string(key) + ": copy to '" + dest.string() + "'"));
    tmp.path.clear();
    return Status::Ok();
  }

  Result<std::vector<ListedBlob>> List(std::string_view prefix, size_t limit,
                                       std::string_view start_after) override {
    if (prefix.size() > 64) {
      return InvalidArgument("blob list: prefix must be at most 64 lower-case hex digits");
    }
    for (char c : prefix) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return InvalidArgument("blob list: prefix must be lower-case hex digits, got '" +
                               std::string(prefix) + "'");
      }
    }
    const std::string base = KeyPrefix();
    std::vector<ListedBlob> out;
    // Objects that are not blobs may share the prefix: list on past them until `limit` blobs.
    std::string after = start_after.empty() ? "" : base + std::string(start_after);
    while (out.size() < limit) {
      const size_t want = limit - out.size();
      Result<std::vector<fetch::S3ObjectInfo>> objects =
          client_->ListObjectsV2(options_.bucket, base + std::string(prefix), after, want);
      if (!objects.ok()) return Mapped(objects.status(), prefix);
      for (const fetch::S3ObjectInfo& o : *objects) {
        if (out.size() >= limit) break;
        if (!StartsWith(o.key, base)) continue;
        std::string key = o.key.substr(base.size());
        if (!IsSha256Hex(key)) continue;  // something else stored under the prefix
        Result<TimePoint> modified = ParseIso8601(o.last_modified);
        if (!modified.ok()) {
          return Internal("blob list: object '" + o.key + "': LastModified '" + o.last_modified +
                          "' is not an ISO 8601 time");
        }
        out.push_back(ListedBlob{std::move(key), o.size, *modified});
      }
      if (objects->size() < want) break;  // the listing is exhausted
      after = objects->back().key;
    }
    return out;
  }

  Status Delete(std::string_view key) override {
    WEIR_RETURN_IF_ERROR(ValidateKey(key));
    Status s = client_->DeleteObject(options_.bucket, ObjectKey(key));
    if (s.code() == StatusCode::kNotFound) return Status::Ok();
    return s;
  }

  std::string Uri(std::string_view key) const override {
    return "s3://" + options_.bucket + "/" + ObjectKey(key);
  }

 private:
  std::string KeyPrefix() const { return options_.prefix.empty() ? "" : options_.prefix + "/"; }
  std::string ObjectKey(std::string_view key) const { return KeyPrefix() + std::string(key); }

  Result<fs::path> ScratchDir() const {
    fs::path dir = options_.scratch_dir;
    if (dir.empty()) {
      std::error_code ec;
      dir = fs::temp_directory_path(ec);
      if (ec) dir = "/tmp";
    }
    WEIR_RETURN_IF_ERROR(MakeDirs(dir).WithContext("blob store: scratch folder"));
    return dir;
  }

  // S3 answers a missing object with 404 (kNotFound already); say which blob.
  static Status Mapped(const Status& s, std::string_view key) {
    if (s.code() == StatusCode::kNotFound) {
      return NotFound("blob " + std::string(key) + ": not found (" + s.message() + ")");
    }
    return s;
  }

  Status DownloadVerified(std::string_view key, const fs::path& dest) {
    Result<fetch::GetOutcome> got =
        client_->GetObject(options_.bucket, ObjectKey(key), dest, fetch::Conditions{});
    if (!got.ok()) return Mapped(got.status(), key);
    Result<std::string> hash = Sha256File(dest);
    if (!hash.ok()) return hash.status();
    if (*hash != key) {
      ::unlink(dest.c_str());
      return Internal("blob " + std::string(key) + ": downloaded content has sha256 " + *hash +
                      "; the stored object is corrupt");
    }
    return Status::Ok();
  }

  Result<BlobInfo> PutChunks(const ChunkSource& source,
                             std::optional<std::string> expected) override {
    if (expected && !IsSha256Hex(*expected)) {
      return InvalidArgument("blob store: expected sha256 must be 64 lower-case hex digits");
    }
    WEIR_ASSIGN_OR_RETURN(fs::path scratch, ScratchDir());
    ScratchFile file{scratch / ("weir-blob-put-" + NewUuid())};
    const std::string context = "blob store: write scratch file " + file.path.string();
    int fd = ::open(file.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus(context, errno);
    Sha256 hash;
    int64_t size = 0;
    {
      Fd guard(fd);
      std::vector<char> buf(kChunk);
      while (true) {
        WEIR_ASSIGN_OR_RETURN(size_t n, source(buf.data(), buf.size()));
        if (n == 0) break;
        hash.Update(buf.data(), n);
        WEIR_RETURN_IF_ERROR(WriteAll(fd, buf.data(), n, context));
        size += static_cast<int64_t>(n);
      }
    }
    const std::string key = hash.HexDigest();
    if (expected && *expected != key) {
      return InvalidArgument("blob store: content sha256 " + key +
                             " does not match the expected sha256 " + *expected);
    }
    Result<fetch::S3ObjectInfo> head = client_->HeadObject(options_.bucket, ObjectKey(key));
    if (head.ok()) {
      // Content-addressed: already stored. A recent copy is enough; an old one is uploaded again
      // (the same bytes) to make it young for the orphan cleanup, as the local backend touches
      // its file. A LastModified that does not parse counts as old.
      Result<TimePoint> modified = ParseHttpDate(head->last_modified);
      Clock& clock = options_.clock ? *options_.clock : SystemClock::Instance();
      if (modified.ok() && clock.Now() - *modified < options_.refresh_after) {
        return BlobInfo{key, size};
      }
    } else if (head.status().code() != StatusCode::kNotFound) {
      return head.status();
    }
    fetch::S3PutOptions put;
    put.content_type = "application/octet-stream";
    put.metadata = {{"sha256", key}};
    Result<fetch::S3ObjectInfo> up =
        client_->UploadFile(options_.bucket, ObjectKey(key), file.path, put);
    if (!up.ok()) return up.status();
    return BlobInfo{key, size};
  }

  S3BlobStoreOptions options_;
  std::shared_ptr<fetch::S3Client> client_;
};

std::string TrimSlashes(std::string s) {
  while (!s.empty() && s.front() == '/') s.erase(s.begin());
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

Result<std::unique_ptr<BlobStore>> NewS3BlobStore(S3BlobStoreOptions options,
                                                  std::shared_ptr<fetch::S3Client> client) {
  if (options.bucket.empty()) return InvalidArgument("blob s3 setting 'bucket': must be set");
  if (client == nullptr) return InvalidArgument("blob s3: no S3 client");
  options.prefix = TrimSlashes(options.prefix);
  return std::unique_ptr<BlobStore>(
      std::make_unique<S3BlobStore>(std::move(options), std::move(client)));
}

Result<std::unique_ptr<BlobStore>> NewS3BlobStoreFromConfig(const BlobStoreConfig& config,
                                                            Clock& clock,
                                                            const fetch::EnvLookup& env) {
  static const std::vector<std::string> kKnown = {"bucket",        "prefix",
                                                  "endpoint",      "region",
                                                  "access_key_id", "secret_access_key",
                                                  "addressing",    "multipart_threshold",
                                                  "part_size"};
  for (const auto& [name, value] : config.settings) {
    bool known = false;
    for (const std::string& k : kKnown) known = known || k == name;
    if (!known) {
      return InvalidArgument("blob s3 setting '" + name + "': unknown; known settings are " +
                             Join(kKnown, ", "));
    }
  }
  auto get = [&](const std::string& name) {
    auto it = config.settings.find(name);
    return it == config.settings.end() ? std::string() : it->second;
  };
  fetch::S3Config s3;
  s3.endpoint = get("endpoint");
  s3.region = get("region");
  s3.credentials.access_key_id = get("access_key_id");
  s3.credentials.secret_access_key = get("secret_access_key");
  const std::string addressing = get("addressing");
  if (addressing.empty() || addressing == "auto") {
    s3.addressing = fetch::S3Addressing::kAuto;
  } else if (addressing == "path") {
    s3.addressing = fetch::S3Addressing::kPath;
  } else if (addressing == "virtual") {
    s3.addressing = fetch::S3Addressing::kVirtualHost;
  } else {
    return InvalidArgument("blob s3 setting 'addressing': '" + addressing +
                           "' is not one of auto, path, virtual");
  }
  for (const auto& [name, field] :
       {std::pair<std::string, int64_t*>{"multipart_threshold", &s3.multipart_threshold},
        {"part_size", &s3.part_size}}) {
    const std::string v = get(name);
    if (v.empty()) continue;
    long long n = 0;
    if (!ParseInt64(v, &n) || n <= 0) {
      return InvalidArgument("blob s3 setting '" + name + "': '" + v +
                             "' is not a positive number of bytes");
    }
    *field = n;
  }
  s3 = fetch::S3ConfigWithEnvironment(std::move(s3), env);
  Result<std::unique_ptr<fetch::S3Client>> client = fetch::S3Client::Create(std::move(s3), clock);
  if (!client.ok()) return client.status().WithContext("blob s3");
  S3BlobStoreOptions options;
  options.bucket = get("bucket");
  options.prefix = get("prefix");
  options.scratch_dir = config.root;
  options.clock = &clock;
  return NewS3BlobStore(std::move(options), std::shared_ptr<fetch::S3Client>(std::move(*client)));
}

}  // namespace weir::blob
