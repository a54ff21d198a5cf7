#include "blob/local_blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <vector>

#include "blob/sha256.h"
#include "common/fs.h"
#include "common/ids.h"

namespace weir::blob {
namespace {

constexpr size_t kChunk = 1 << 16;
constexpr int64_t kStaleTempMillis = 60 * 60 * 1000;

// Closes a descriptor on scope exit unless released.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, const char* data, size_t n, const std::string& context) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(context, errno);
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status FsyncDir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("blob store: open folder '" + dir.string() + "'", errno);
  Fd guard(fd);
  if (::fsync(fd) != 0) return ErrnoStatus("blob store: fsync '" + dir.string() + "'", errno);
  return Status::Ok();
}

Result<size_t> ReadSome(int fd, char* buf, size_t n, const std::string& context) {
  while (true) {
    ssize_t r = ::read(fd, buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) return ErrnoStatus(context, errno);
  }
}

class LocalReader final : public BlobReader {
 public:
  LocalReader(int fd, int64_t size, std::string context)
      : fd_(fd), size_(size), context_(std::move(context)) {}
  Result<size_t> Read(char* buf, size_t n) override {
    return ReadSome(fd_.get(), buf, n, context_);
  }
  int64_t size() const override { return size_; }

 private:
  Fd fd_;
  int64_t size_;
  std::string context_;
};

class LocalBlobStore final : public ChunkedBlobStore {
 public:
  LocalBlobStore(std::filesystem::path root) : root_(std::move(root)), tmp_(root_ / "tmp") {}

  std::string_view backend() const override { return "local"; }

  Result<BlobInfo> Stat(std::string_view key) override {
    WEIR_RETURN_IF_ERROR(ValidateKey(key));
    struct stat st;
    std::filesystem::path p = PathOf(key);
    if (::stat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) return NotFound("blob " + std::string(key) + ": not found");
      return ErrnoStatus("blob " + std::string(key), errno);
    }
    return BlobInfo{std::string(key), static_cast<int64_t>(st.st_size)};
  }

  Result<std::unique_ptr<BlobReader>> Open(std::string_view key) override {
    WEIR_RETURN_IF_ERROR(ValidateKey(key));
    std::filesystem::path p = PathOf(key);
    const std::string context = "blob " + std::string(key);
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return NotFound(context + ": not found");
      return ErrnoStatus(context, errno);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus(context, err);
    }
    return std::unique_ptr<BlobReader>(
        std::make_unique<LocalReader>(fd, static_cast<int64_t>(st.st_size), context));
  }

  Status CopyTo(std::string_view key, const std::filesystem::path& dest) override {
    WEIR_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader, Open(key));
    std::filesystem::path dir = dest.parent_path().empty() ? "." : dest.parent_path();
    std::filesystem::path tmp = dir / ("." + dest.filename().string() + ".part-" + NewUuid());
    const std::string context = "blob " + std::string(key) + ": copy to '" + dest.string() + "'";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(context, errno);
    Fd guard(fd);
    Sha256 hash;
    std::vector<char> buf(kChunk);
    Status s;
    while (s.ok()) {
      auto n = reader->Read(buf.data(), buf.size());
      if (!n.ok()) {
        s = n.status();
        break;
      }
      if (*n == 0) break;
      hash.Update(buf.data(), *n);
      s = WriteAll(fd, buf.data(), *n, context);
    }
    if (s.ok() && ::fsync(fd) != 0) s = ErrnoStatus(context, errno);
    if (s.ok() && hash.HexDigest() != key) {
      s = Internal(context + ": stored content does not match its hash; the blob is corrupt");
    }
    ::close(guard.Release());
    if (s.ok() && ::rename(tmp.c_str(), dest.c_str()) != 0) s = ErrnoStatus(context, errno);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
    return Status::Ok();
  }

  Result<std::vector<ListedBlob>> List(std::string_view prefix, size_t limit,
                                       std::string_view start_after) override {
    for (char c : prefix) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || prefix.size() > 64) {
        return InvalidArgument("blob list: prefix must be lower-case hex digits, got '" +
                               std::string(prefix) + "'");
      }
    }
    std::vector<std::string> shards;
    if (prefix.size() >= 2) {
      shards.emplace_back(prefix.substr(0, 2));
    } else {
      WEIR_ASSIGN_OR_RETURN(shards, Names(root_));
      std::erase_if(shards, [&](const std::string& s) {
        return s.size() != 2 || !StartsWithView(s, prefix) || !IsHexName(s);
      });
    }
    std::vector<ListedBlob> out;
    for (const std::string& shard : shards) {
      if (out.size() >= limit) break;
      // A shard holds keys starting with its name; skip those wholly at or before start_after.
      if (!start_after.empty() && std::string_view(shard) < start_after.substr(0, 2)) continue;
      auto names = Names(root_ / shard);
      if (!names.ok()) {
        if (names.status().code() == StatusCode::kNotFound) continue;
        return names.status();
      }
      for (const std::string& name : *names) {
        if (out.size() >= limit) return out;
        if (!IsSha256Hex(name) || !StartsWithView(name, prefix)) continue;
        if (std::string_view(name) <= start_after) continue;
        struct stat st;
        if (::stat((root_ / shard / name).c_str(), &st) != 0) continue;  // deleted meanwhile
        out.push_back(ListedBlob{name, static_cast<int64_t>(st.st_size), MTime(st)});
      }
    }
    return out;
  }

  Status Delete(std::string_view key) override {
    WEIR_RETURN_IF_ERROR(ValidateKey(key));
    std::filesystem::path p = PathOf(key);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus("blob " + std::string(key) + ": delete", errno);
    }
    return Status::Ok();
  }

  std::string Uri(std::string_view key) const override { return FileUri(PathOf(key)); }

  Status Init(Clock& clock) {
    WEIR_RETURN_IF_ERROR(MakeDirs(tmp_));
    // Remove temporary files of Puts that crashed; recent ones may belong to a live process.
    auto names = Names(tmp_);
    if (!names.ok()) return names.status();
    int64_t now = ToEpochMillis(clock.Now());
    for (const std::string& name : *names) {
      std::filesystem::path p = tmp_ / name;
      struct stat st;
      if (::stat(p.c_str(), &st) != 0) continue;
      if (now - ToEpochMillis(MTime(st)) > kStaleTempMillis) ::unlink(p.c_str());
    }
    return Status::Ok();
  }

 private:
  static TimePoint MTime(const struct stat& st) {
    return FromEpochMillis(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 +
                           st.st_mtim.tv_nsec / 1000000);
  }
  static bool StartsWithView(std::string_view s, std::string_view p) {
    return s.substr(0, p.size()) == p;
  }
  static bool IsHexName(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  }

  // Sorted entry names of a folder (no "." and "..").
  static Result<std::vector<std::string>> Names(const std::filesystem::path& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return ErrnoStatus("blob store: list '" + dir.string() + "'", errno);
    std::vector<std::string> out;
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(std::move(name));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }

  std::filesystem::path PathOf(std::string_view key) const {
    return root_ / std::string(key.substr(0, 2)) / std::string(key);
  }

  Result<BlobInfo> PutChunks(const ChunkSource& source,
                             std::optional<std::string> expected) override {
    if (expected && !IsSha256Hex(*expected)) {
      return InvalidArgument("sha256: expected 64 lower-case hex digits, got '" +
                             (expected->size() <= 128 ? *expected : expected->substr(0, 128)) +
                             "'");
    }
    std::filesystem::path tmp = tmp_ / NewUuid();
    const std::string context = "blob store: write '" + tmp.string() + "'";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
      // The tmp folder was removed under us; recreate it once.
      WEIR_RETURN_IF_ERROR(MakeDirs(tmp_));
      fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0) return ErrnoStatus(context, errno);
    Fd guard(fd);
    auto fail = [&](Status s) -> Result<BlobInfo> {
      ::close(guard.Release());
      ::unlink(tmp.c_str());
      return s;
    };
    Sha256 hash;
    int64_t size = 0;
    std::vector<char> buf(kChunk);
    while (true) {
      auto n = source(buf.data(), buf.size());
      if (!n.ok()) return fail(n.status());
      if (*n == 0) break;
      hash.Update(buf.data(), *n);
      size += static_cast<int64_t>(*n);
      Status s = WriteAll(fd, buf.data(), *n, context);
      if (!s.ok()) return fail(s);
    }
    std::string key = hash.HexDigest();
    if (expected && *expected != key) {
      return fail(InvalidArgument("sha256: the content hashes to " + key + ", expected " +
                                  *expected + "; the upload was corrupted or the hash is wrong"));
    }
    if (::fchmod(fd, 0444) != 0) return fail(ErrnoStatus(context, errno));
    if (::fsync(fd) != 0) return fail(ErrnoStatus(context, errno));
    ::close(guard.Release());

    std::filesystem::path shard = root_ / key.substr(0, 2);
    std::filesystem::path final_path = shard / key;
    struct stat st;
    if (::stat(final_path.c_str(), &st) == 0 && st.st_size == size) {
      ::unlink(tmp.c_str());  // already stored: dedup
      // Make the blob young again, so that the orphan cleanup does not take it from the publish
      // that stores it now. Best effort: only the file's owner may touch a read-only file.
      (void)::utimensat(AT_FDCWD, final_path.c_str(), nullptr, 0);
      return BlobInfo{key, size};
    }
    bool new_shard = ::access(shard.c_str(), F_OK) != 0;
    if (new_shard) {
      Status s = MakeDirs(shard);
      if (!s.ok()) return fail(s);
    }
    // rename(2) replaces a (corrupt, wrong-sized) leftover atomically too.
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return ErrnoStatus("blob store: store '" + final_path.string() + "'", err);
    }
    WEIR_RETURN_IF_ERROR(FsyncDir(shard));
    if (new_shard) WEIR_RETURN_IF_ERROR(FsyncDir(root_));
    return BlobInfo{key, size};
  }

  std::filesystem::path root_;
  std::filesystem::path tmp_;
};

}  // namespace

Result<std::unique_ptr<BlobStore>> NewLocalBlobStore(const std::filesystem::path& root,
                                                     Clock& clock) {
  if (root.empty()) return InvalidArgument("blob store: root folder must be set");
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(root, ec);
  if (ec) return InvalidArgument("blob store: root '" + root.string() + "': " + ec.message());
  abs = abs.lexically_normal();
  if (abs.has_filename() == false && abs.has_parent_path()) abs = abs.parent_path();
  auto store = std::make_unique<LocalBlobStore>(abs);
  Status s = store->Init(clock);
  if (!s.ok()) return s.WithContext("blob store '" + abs.string() + "'");
  return std::unique_ptr<BlobStore>(std::move(store));
}

std::string FileUri(const std::filesystem::path& absolute) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : absolute.string()) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '/' || c == '-' || c == '_' || c == '.' || c == '~';
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

Result<std::filesystem::path> PathFromFileUri(std::string_view uri) {
  constexpr std::string_view kScheme = "file://";
  if (uri.substr(0, kScheme.size()) != kScheme || uri.size() <= kScheme.size() ||
      uri[kScheme.size()] != '/') {
    return InvalidArgument("uri '" + std::string(uri) + "': expected file:///absolute/path");
  }
  std::string out;
  std::string_view rest = uri.substr(kScheme.size());
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] != '%') {
      out.push_back(rest[i]);
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= rest.size() || hex(rest[i + 1]) < 0 || hex(rest[i + 2]) < 0) {
      return InvalidArgument("uri '" + std::string(uri) + "': malformed percent escape");
    }
    out.push_back(static_cast<char>(hex(rest[i + 1]) * 16 + hex(rest[i + 2])));
    i += 2;
  }
  return std::filesystem::path(out);
}

}  // namespace weir::blob
