#include "common/ids.h"

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <random>

namespace weir {

std::string NewUuid() {
  static std::mutex mu;
  static std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }());
  uint64_t a, b;
  {
    std::lock_guard<std::mutex> lock(mu);
    a = rng();
    b = rng();
  }
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

namespace {

bool IsIdChar(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string Rule() {
  return "ids are 1 to " + std::to_string(kMaxIdLength) +
         " characters from A-Z a-z 0-9 . _ - and do not start with '.' or '-'";
}

std::string Describe(unsigned char c) {
  if (c > 0x20 && c < 0x7f) return std::string("character '") + static_cast<char>(c) + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  return buf;
}

}  // namespace

Status ValidateId(std::string_view field, std::string_view id) {
  const std::string f(field);
  if (id.empty()) return InvalidArgument(f + ": must not be empty; " + Rule());
  if (id.size() > kMaxIdLength) {
    return InvalidArgument(f + ": " + std::to_string(id.size()) + " characters is too long; " +
                           Rule());
  }
  for (unsigned char c : id) {
    if (!IsIdChar(c)) return InvalidArgument(f + ": " + Describe(c) + " is not allowed; " + Rule());
  }
  if (id.front() == '.' || id.front() == '-') {
    return InvalidArgument(f + ": must not start with '" + std::string(1, id.front()) + "'; " +
                           Rule());
  }
  return Status::Ok();
}

bool IsSafeId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength || id.front() == '.' || id.front() == '-') {
    return false;
  }
  for (unsigned char c : id) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

std::string IdFileName(std::string_view id) {
  if (IsSafeId(id)) return std::string(id);
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : id) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "-invalid-id-%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Result<std::filesystem::path> IdPath(const std::filesystem::path& dir, std::string_view id,
                                     std::string_view suffix) {
  WEIR_RETURN_IF_ERROR(ValidateId("id", id));
  std::string name(id);
  name.append(suffix);
  return dir / name;
}

std::string EncodeUriSegment(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsIdChar(c) || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace weir
