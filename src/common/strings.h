// Small string helpers shared by every module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

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
// OK when `s` holds no control character: U+0000..U+001F, U+007F or U+0080..U+009F (as UTF-8
// C2 80..C2 9F); `allow_tab` admits U+0009 and `allow_newline` U+000A (a job's arguments: a
// multi-line SQL text or script is ordinary there, and the job's own script is the caller's
// anyway; CR and NUL never pass). Otherwise kInvalidArgument
// "<field>: control character U+0000 is not allowed". For every client field that reaches a run
// script, an environment variable, a log line or a path.
Status CheckNoControlChars(std::string_view field, std::string_view s, bool allow_tab = false,
                           bool allow_newline = false);

}  // namespace weir
