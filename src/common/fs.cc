#include "common/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace weir {

namespace fs = std::filesystem;

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus("read " + path.string(), errno ? errno : ENOENT);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status WriteFileAtomic(const fs::path& path, std::string_view data) {
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("write " + tmp.string(), errno);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return ErrnoStatus("write " + tmp.string(), err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus("fsync " + tmp.string(), err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus("rename " + path.string(), err);
  }
  int dfd = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Status MakeDirs(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return ErrnoStatus("mkdir " + path.string(), ec.value());
  return Status::Ok();
}

Result<fs::path> ResolveInside(const fs::path& root, std::string_view relative) {
  std::string rel(relative);
  if (!rel.empty() && rel.front() == '/') {
    return InvalidArgument("path '" + rel + "': must be relative to the job directory");
  }
  for (const std::string& part : Split(rel, '/')) {
    if (part == "..") return InvalidArgument("path '" + rel + "': '..' is not allowed");
    if (part.find('\0') != std::string::npos) return InvalidArgument("path: NUL byte");
  }
  std::error_code ec;
  fs::path canon_root = fs::canonical(root, ec);
  if (ec) return ErrnoStatus("path " + root.string(), ec.value());
  fs::path canon = fs::canonical(canon_root / rel, ec);
  if (ec) return NotFound("path '" + rel + "': not found");
  auto [r, c] = std::mismatch(canon_root.begin(), canon_root.end(), canon.begin(), canon.end());
  if (r != canon_root.end()) {
    return PermissionDenied("path '" + rel + "': leaves the job directory");
  }
  return canon;
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

Status BeneathError(const std::string& shown, int err) {
  if (err == ENOENT || err == ENOTDIR) return NotFound("path " + shown + ": not found");
  if (err == EXDEV) return PermissionDenied("path " + shown + ": leaves the job directory");
  if (err == ELOOP) {
    return PermissionDenied("path " + shown + ": goes through a symbolic link, not followed here");
  }
  return ErrnoStatus("path " + shown, err);
}

// The fallback of OpenBeneath: one component at a time, never following a link.
Result<UniqueFd> OpenEachComponent(int dir_fd, const std::vector<std::string>& parts, int flags,
                                   const std::string& shown) {
  UniqueFd cur(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!cur.valid()) return ErrnoStatus("path " + shown, errno);
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    const int f =
        last ? (flags | O_NOFOLLOW | O_CLOEXEC) : (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    UniqueFd next(::openat(cur.get(), parts[i].c_str(), f));
    if (!next.valid()) return BeneathError(shown, errno);
    cur = std::move(next);
  }
  if (parts.empty()) {
    UniqueFd self(::openat(dir_fd, ".", flags | O_CLOEXEC));
    if (!self.valid()) return BeneathError(shown, errno);
    return self;
  }
  return cur;
}

}  // namespace

Result<UniqueFd> OpenBeneath(int dir_fd, std::string_view relative, int flags) {
  const std::string rel(relative);
  const std::string shown = "'" + rel + "'";
  if (rel.find('\0') != std::string::npos) return InvalidArgument("path: NUL byte");
  if (!rel.empty() && rel.front() == '/') {
    return InvalidArgument("path " + shown + ": must be relative to the job directory");
  }
  std::vector<std::string> parts;
  for (std::string& part : Split(rel, '/')) {
    if (part == "..") return InvalidArgument("path " + shown + ": '..' is not allowed");
    if (part.empty() || part == ".") continue;
    parts.push_back(std::move(part));
  }
  std::string joined;
  for (const std::string& part : parts) {
    if (!joined.empty()) joined += '/';
    joined += part;
  }
  if (joined.empty()) joined = ".";

  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dir_fd, joined.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    const int err = errno;
    if (err == EAGAIN || err == EINTR) continue;  // a rename raced the lookup: try again
    if (err == ENOSYS) break;
    return BeneathError(shown, err);
  }
  return OpenEachComponent(dir_fd, parts, flags, shown);
}

namespace {

// Empties the folder open as `fd` (descriptors only; links are unlinked, never followed).
Status EmptyFolder(int fd, const std::string& shown, int depth) {
  if (depth > 4096) return Internal("remove " + shown + ": folders nested too deep");
  UniqueFd list_fd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!list_fd.valid()) return ErrnoStatus("remove " + shown, errno);
  DIR* d = ::fdopendir(list_fd.get());
  if (d == nullptr) return ErrnoStatus("remove " + shown, errno);
  list_fd.release();
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    const std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  Status result = Status::Ok();
  for (const std::string& name : names) {
    if (::unlinkat(fd, name.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) {
      if (result.ok()) result = ErrnoStatus("remove " + shown + "/" + name, errno);
      continue;
    }
    UniqueFd sub(::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub.valid()) {
      // Swapped for a file or a link since: unlink that instead.
      if (::unlinkat(fd, name.c_str(), 0) != 0 && errno != ENOENT && result.ok()) {
        result = ErrnoStatus("remove " + shown + "/" + name, errno);
      }
      continue;
    }
    Status s = EmptyFolder(sub.get(), shown + "/" + name, depth + 1);
    if (!s.ok() && result.ok()) result = s;
    if (::unlinkat(fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT && result.ok()) {
      result = ErrnoStatus("remove " + shown + "/" + name, errno);
    }
  }
  return result;
}

}  // namespace

Status RemoveTree(const fs::path& given) {
  fs::path path = given.lexically_normal();
  if (path.filename().empty()) path = path.parent_path();  // "dir/" names dir
  const std::string shown = path.string();
  UniqueFd parent(::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                         O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!parent.valid()) {
    return errno == ENOENT ? Status::Ok() : ErrnoStatus("remove " + shown, errno);
  }
  const std::string name = path.filename().string();
  UniqueFd top(
      ::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!top.valid()) {
    if (errno == ENOENT) return Status::Ok();
    if (::unlinkat(parent.get(), name.c_str(), 0) != 0 && errno != ENOENT) {
      return ErrnoStatus("remove " + shown, errno);
    }
    return Status::Ok();
  }
  WEIR_RETURN_IF_ERROR(EmptyFolder(top.get(), shown, 0));
  top = UniqueFd();
  if (::unlinkat(parent.get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoStatus("remove " + shown, errno);
  }
  return Status::Ok();
}

}  // namespace weir
