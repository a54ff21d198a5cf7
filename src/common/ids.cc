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

bool IsSafeId(std::string_view id) {
  if (id.empty() || id.size() > 255 || id == "." || id == "..") return false;
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ' ' || c == '\t') return false;
  }
  return true;
}

}  // namespace weir
