#include "fetch/source.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "common/ids.h"

namespace weir::fetch {

std::filesystem::path TempPathBeside(const std::filesystem::path& dest) {
  std::string name = "." + dest.filename().string() + "." + NewUuid().substr(0, 8) + ".part";
  return dest.parent_path() / name;
}

Status PlaceAtomically(const std::filesystem::path& tmp, const std::filesystem::path& dest) {
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus("place '" + dest.string() + "'", err);
  }
  std::filesystem::path dir = dest.parent_path().empty() ? "." : dest.parent_path();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace weir::fetch
