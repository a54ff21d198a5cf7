#include "api/header_params.h"

#include "common/strings.h"

namespace weir::api {

bool IEquals(std::string_view a, std::string_view b) { return ToLower(a) == ToLower(b); }

std::vector<std::string_view> SplitParams(std::string_view s) {
  std::vector<std::string_view> out;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ';' && !quoted) {
      out.push_back(Trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(Trim(s.substr(start)));
  return out;
}

std::string Unquote(std::string_view v) {
  v = Trim(v);
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  std::string out;
  for (size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '\\' && i + 2 < v.size()) ++i;
    out.push_back(v[i]);
  }
  return out;
}

std::optional<std::string> Param(const std::vector<std::string_view>& params,
                                 std::string_view key) {
  for (size_t i = 1; i < params.size(); ++i) {
    size_t eq = params[i].find('=');
    if (eq == std::string_view::npos) continue;
    if (IEquals(Trim(params[i].substr(0, eq)), key)) return Unquote(params[i].substr(eq + 1));
  }
  return std::nullopt;
}

}  // namespace weir::api
