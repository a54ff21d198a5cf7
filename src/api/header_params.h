#pragma once
// Parameters of structured HTTP header values such as Content-Type, Content-Disposition and
// Accept items ("text/html; q=0.5", "form-data; name=\"a\"; filename=\"b;c\"").

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::api {

// Case-insensitive ASCII comparison.
bool IEquals(std::string_view a, std::string_view b);

// Splits "a; b=c; d=\"e;f\"" on ';' outside quotes, trimming each item; item 0 is the value.
std::vector<std::string_view> SplitParams(std::string_view s);

// The value of a header parameter, unquoted ("a b" → a b, with backslash escapes).
std::string Unquote(std::string_view v);

// Finds parameter `key` (case-insensitive) among the "k=v" items 1.. of SplitParams' result.
std::optional<std::string> Param(const std::vector<std::string_view>& params, std::string_view key);

}  // namespace weir::api
