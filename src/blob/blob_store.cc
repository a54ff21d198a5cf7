#include "blob/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "blob/local_blob_store.h"
#include "blob/sha256.h"

namespace weir::blob {

Result<BlobInfo> BlobStore::PutBytes(std::string_view data,
                                     std::optional<std::string> expected_sha256) {
  std::istringstream in{std::string(data)};
  return PutStream(in, std::move(expected_sha256));
}

Status ValidateKey(std::string_view key) {
  if (IsSha256Hex(key)) return Status::Ok();
  std::string shown(key.substr(0, 80));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  if (key.size() > 80) shown += "...";
  return InvalidArgument("blob key '" + shown + "': must be 64 lower-case hex digits (a SHA-256)");
}

Result<BlobInfo> ChunkedBlobStore::PutFile(const std::filesystem::path& source,
                                           std::optional<std::string> expected_sha256) {
  const std::string context = "blob store: read '" + source.string() + "'";
  const int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Status s = ErrnoStatus(context, errno);
    if (s.code() == StatusCode::kNotFound) return InvalidArgument(s.message());
    return s;
  }
  Result<BlobInfo> info = PutChunks(
      [&](char* buf, size_t n) -> Result<size_t> {
        while (true) {
          const ssize_t r = ::read(fd, buf, n);
          if (r >= 0) return static_cast<size_t>(r);
          if (errno != EINTR) return InvalidArgument(ErrnoStatus(context, errno).message());
        }
      },
      std::move(expected_sha256));
  ::close(fd);
  return info;
}

Result<BlobInfo> ChunkedBlobStore::PutStream(std::istream& in,
                                             std::optional<std::string> expected_sha256) {
  return PutChunks(
      [&](char* buf, size_t n) -> Result<size_t> {
        if (in.eof()) return size_t{0};
        in.read(buf, static_cast<std::streamsize>(n));
        if (in.bad() || (in.fail() && !in.eof())) {
          return InvalidArgument("blob store: the source stream failed while reading");
        }
        return static_cast<size_t>(in.gcount());
      },
      std::move(expected_sha256));
}

Result<std::unique_ptr<BlobStore>> NewBlobStore(std::string_view backend,
                                                const BlobStoreConfig& config) {
  if (backend == "local") {
    if (config.root.empty()) {
      return InvalidArgument("blob store 'local': setting 'root' (the folder) must be set");
    }
    return NewLocalBlobStore(config.root);
  }
  return InvalidArgument("blob store: unknown backend '" + std::string(backend) +
                         "'; known backends: local");
}

}  // namespace weir::blob
