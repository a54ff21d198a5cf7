#include "scheduler/bundle_blobs.h"

#include <vector>

#include "blob/sha256.h"

namespace weir::scheduler {
namespace {

class BlobStoreBundleBlobs final : public BundleBlobs {
 public:
  explicit BlobStoreBundleBlobs(std::shared_ptr<blob::BlobStore> store)
      : store_(std::move(store)) {}

  Status Verify(std::string_view sha256) override {
    const std::string key(sha256);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (verified_.count(key)) return Status::Ok();
    }
    if (!blob::IsSha256Hex(key)) {
      return InvalidArgument("blob '" + key + "': not a SHA-256 (64 lower-case hex digits)");
    }
    Result<std::unique_ptr<blob::BlobReader>> reader = store_->Open(key);
    if (!reader.ok()) {
      if (reader.status().code() == StatusCode::kNotFound) {
        return FailedPrecondition("blob " + key +
                                  ": missing from the blob store; publish it before deploying");
      }
      return reader.status().WithContext("blob " + key);
    }
    blob::Sha256 hash;
    std::vector<char> buf(1 << 16);
    while (true) {
      Result<size_t> n = (*reader)->Read(buf.data(), buf.size());
      if (!n.ok()) return n.status().WithContext("blob " + key);
      if (*n == 0) break;
      hash.Update(buf.data(), *n);
    }
    if (hash.HexDigest() != key) {
      return FailedPrecondition("blob " + key +
                                ": content does not match its hash (corrupted); publish it again");
    }
    std::lock_guard<std::mutex> lock(mu_);
    verified_.insert(key);
    return Status::Ok();
  }

  Status Put(std::string_view bytes, std::string_view sha256) override {
    Result<blob::BlobInfo> info = store_->PutBytes(bytes, std::string(sha256));
    return info.ok() ? Status::Ok() : info.status();
  }

  std::string Uri(std::string_view sha256, std::string_view) const override {
    return store_->Uri(sha256);
  }

 private:
  std::shared_ptr<blob::BlobStore> store_;
  std::mutex mu_;
  std::set<std::string, std::less<>> verified_;  // GUARDED_BY(mu_)
};

}  // namespace

std::shared_ptr<BundleBlobs> NewBlobStoreBundleBlobs(std::shared_ptr<blob::BlobStore> store) {
  return std::make_shared<BlobStoreBundleBlobs>(std::move(store));
}

}  // namespace weir::scheduler
