// File-system helpers with the safety rules weir relies on. Errors map through ErrnoStatus.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace weir {

// A file descriptor that closes itself; -1 holds none.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

Result<std::string> ReadFile(const std::filesystem::path& path);
// Writes `data` to a temporary file beside `path`, fsyncs it, renames it over `path` and fsyncs
// the folder: readers see the old content or the new one, never a part, also after a crash.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view data);
Status MakeDirs(const std::filesystem::path& path);

// Resolves `relative` (a client-supplied path such as "logs/genie.log") inside `root` and returns
// the canonical absolute path. Refuses (kInvalidArgument) absolute paths and ".." components, and
// (kPermissionDenied) any path whose canonical form — symlinks followed — leaves `root`.
// kNotFound when the path does not exist.
Result<std::filesystem::path> ResolveInside(const std::filesystem::path& root,
                                            std::string_view relative);

// Opens `relative` (a client-supplied path; "" is the folder itself) beneath the folder open as
// `dir_fd`, atomically: no component, ".." or symlink can take it outside that folder, even
// while someone else (a job that owns the folder) renames and relinks inside it. Symlinks that
// stay inside are followed. Uses openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS); on a kernel
// without openat2 (before Linux 5.6) each component is opened with O_NOFOLLOW, so links are
// refused there. `flags` as for openat (O_PATH, O_RDONLY | O_DIRECTORY, ...; O_CLOEXEC is
// added). Errors: kInvalidArgument (absolute path, "..", NUL), kPermissionDenied (leaves the
// folder), kNotFound, or the errno.
Result<UniqueFd> OpenBeneath(int dir_fd, std::string_view relative, int flags);

// Removes `path` and everything under it without ever following a symlink inside: the tree is
// walked through descriptors (openat with O_NOFOLLOW, unlinkat), so a folder that its owner
// swaps for a link meanwhile is unlinked as a link, never entered. The components of `path`
// itself are trusted. A missing `path` is not an error.
Status RemoveTree(const std::filesystem::path& path);

}  // namespace weir
