// Small string helpers shared by every module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace weir {

std::vector<std::string> Split(std::string_view s, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view Trim(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);
std::string ToLower(std::string_view s);
// Quotes `s` for bash so that it reaches a command as one argument, whatever it contains.
std::string ShellQuote(std::string_view s);
// True when `s` is valid UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);
// Parses a whole decimal integer; false on anything else (sign allowed, no spaces).
bool ParseInt64(std::string_view s, long long* out);

}  // namespace weir
