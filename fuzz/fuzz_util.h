// Helpers shared by the fuzz targets (fuzz/*_fuzz.cc).
//
// Each target defines LLVMFuzzerTestOneInput. It is linked either with libFuzzer (`make fuzz`,
// clang, -fsanitize=fuzzer) or with replay_main.cc (the normal build: every file of the
// target's seed corpus and regression folder runs through it as a ctest test).
//
// A target checks invariants with FUZZ_CHECK: a broken invariant prints what broke and aborts,
// which libFuzzer reports as a crash (and saves the input) and which fails the replay test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond, what)                               \
  do {                                                       \
    if (!(cond)) {                                           \
      ::weir::fuzz::Fail(__FILE__, __LINE__, #cond, (what)); \
    }                                                        \
  } while (0)

namespace weir::fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* cond, std::string_view what) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s: %.*s\n", file, line, cond,
               static_cast<int>(what.size()), what.data());
  std::fflush(stderr);
  std::abort();
}

// The input as text.
inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits `text` at the first `sep`: {before, after}; {text, ""} without one.
inline std::pair<std::string_view, std::string_view> SplitOnce(std::string_view text,
                                                               std::string_view sep) {
  size_t at = text.find(sep);
  if (at == std::string_view::npos) return {text, {}};
  return {text.substr(0, at), text.substr(at + sep.size())};
}

}  // namespace weir::fuzz
