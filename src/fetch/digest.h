// Hashes weir's fetch module needs, over OpenSSL: SHA-256 of bytes and of files (payload hashes,
// cache keys) and HMAC-SHA256 (SigV4 key derivation). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace weir::fetch {

// Raw 32-byte digest.
std::string Sha256(std::string_view data);
// Lowercase hex of the digest.
std::string Sha256Hex(std::string_view data);
// Lowercase hex SHA-256 of `length` bytes of the file from `offset` (length -1: to the end).
// kNotFound when the file is missing; kInternal on a short file or a read error.
Result<std::string> Sha256FileHex(const std::filesystem::path& path, int64_t offset = 0,
                                  int64_t length = -1);
// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);
// Lowercase hex of any bytes.
std::string HexEncode(std::string_view bytes);

}  // namespace weir::fetch
