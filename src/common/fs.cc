#include "common/fs.h"

#include <fcntl.h>
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

}  // namespace weir
