#include "blob/blob_store.h"

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
