#include "scheduler/bundle_blobs.h"

#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <set>
#include <system_error>
#include <vector>

#include "blob/local_blob_store.h"
#include "blob/sha256.h"
#include "common/ids.h"

namespace weir::scheduler {
namespace {

namespace fs = std::filesystem;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The file name of a `bundle://files/<sha>/<name>` segment: percent-decoded, plain.
Result<std::string> PlainName(std::string_view encoded) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && i + 2 < encoded.size()) {
      int hi = HexValue(encoded[i + 1]), lo = HexValue(encoded[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(encoded[i]);
  }
  bool plain = !out.empty() && out.size() <= 255 && out != "." && out != "..";
  for (unsigned char c : out) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') plain = false;
  }
  if (!plain) {
    return InvalidArgument("bundle file name '" + std::string(encoded) +
                           "': must be a plain file name");
  }
  return out;
}

class BlobStoreBundleBlobs final : public BundleBlobs {
 public:
  BlobStoreBundleBlobs(std::shared_ptr<blob::BlobStore> store, fs::path named_dir,
                       AssetLookup lookup)
      : store_(std::move(store)), named_dir_(std::move(named_dir)), lookup_(std::move(lookup)) {}

  Status VerifyAsset(std::string_view uuid, std::string_view sha256) override {
    if (lookup_) {
      Result<std::string> registered = lookup_(uuid);
      if (!registered.ok()) {
        if (registered.status().code() == StatusCode::kNotFound) {
          return FailedPrecondition("asset " + std::string(uuid) +
                                    ": not published; publish it before deploying");
        }
        return registered.status().WithContext("asset " + std::string(uuid));
      }
      if (*registered != sha256) {
        return FailedPrecondition("asset " + std::string(uuid) + ": registered with SHA-256 " +
                                  *registered + ", the manifest says " + std::string(sha256) +
                                  "; render and deploy again");
      }
    }
    return Verify(sha256);
  }

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
                                  ": missing from the blob store; publish or upload it first");
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

  Result<std::string> FileUri(std::string_view sha256, std::string_view name) override {
    const std::string key(sha256);
    if (!blob::IsSha256Hex(key)) {
      return InvalidArgument("blob '" + key + "': not a SHA-256 (64 lower-case hex digits)");
    }
    WEIR_ASSIGN_OR_RETURN(std::string file, PlainName(name));
    const fs::path dir = fs::absolute(named_dir_) / key;
    const fs::path path = dir / file;
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) return blob::FileUri(path);
    Result<blob::BlobInfo> info = store_->Stat(key);
    if (!info.ok()) {
      if (info.status().code() == StatusCode::kNotFound) {
        return FailedPrecondition("blob " + key + ": missing from the blob store");
      }
      return info.status();
    }
    fs::create_directories(dir, ec);
    if (ec) return ErrnoStatus("bundle files '" + dir.string() + "'", ec.value());
    const fs::path tmp = dir / (".tmp-" + NewUuid());
    bool placed = false;
    if (Result<fs::path> source = blob::PathFromFileUri(store_->Uri(key)); source.ok()) {
      placed = ::link(source->c_str(), tmp.c_str()) == 0;
    }
    if (!placed) WEIR_RETURN_IF_ERROR(store_->CopyTo(key, tmp));
    fs::rename(tmp, path, ec);
    if (ec) {
      fs::remove(tmp, ec);
      return ErrnoStatus("bundle file '" + path.string() + "'", ec.value());
    }
    return blob::FileUri(path);
  }

 private:
  std::shared_ptr<blob::BlobStore> store_;
  fs::path named_dir_;
  AssetLookup lookup_;
  std::mutex mu_;
  std::set<std::string, std::less<>> verified_;  // GUARDED_BY(mu_)
};

}  // namespace

std::shared_ptr<BundleBlobs> NewBlobStoreBundleBlobs(std::shared_ptr<blob::BlobStore> store,
                                                     std::filesystem::path named_dir,
                                                     AssetLookup lookup) {
  return std::make_shared<BlobStoreBundleBlobs>(std::move(store), std::move(named_dir),
                                                std::move(lookup));
}

}  // namespace weir::scheduler
