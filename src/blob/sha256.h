// SHA-256 (OpenSSL EVP) over strings, streams and files, as 64 lower-case hex digits.
// Sha256 is a plain value object: not thread-safe, one per thread. The free functions are.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace weir::blob {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // The digest of everything updated so far; the object must not be updated afterwards.
  std::string HexDigest();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string Sha256Hex(std::string_view data);
// Hashes a file's content. kNotFound when it does not exist.
Result<std::string> Sha256File(const std::filesystem::path& path);
// True for 64 lower-case hex digits (the form every key and hash takes in weir).
bool IsSha256Hex(std::string_view s);

}  // namespace weir::blob
