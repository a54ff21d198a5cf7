#include "fetch/uri.h"

#include "common/strings.h"

namespace weir::fetch {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSchemeChar(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  if (first) return false;
  return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

}  // namespace

Result<ParsedUri> ParseUri(std::string_view uri) {
  if (uri.empty()) return InvalidArgument("uri: empty");
  ParsedUri out;
  size_t colon = uri.find(':');
  bool has_scheme = colon != std::string_view::npos && colon > 0;
  for (size_t i = 0; has_scheme && i < colon; ++i) {
    if (!IsSchemeChar(uri[i], i == 0)) has_scheme = false;
  }
  if (!has_scheme) {
    out.path = std::string(uri);
    return out;
  }
  out.scheme = ToLower(uri.substr(0, colon));
  std::string_view rest = uri.substr(colon + 1);
  if (!StartsWith(rest, "//")) {
    return InvalidArgument("uri '" + RedactUri(uri) + "': expected '" + out.scheme + "://'");
  }
  rest.remove_prefix(2);
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  size_t path_start = rest.find_first_of("/?");
  out.authority = std::string(rest.substr(0, path_start));
  std::string_view path_query =
      path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (size_t q = path_query.find('?'); q != std::string_view::npos) {
    out.query = std::string(path_query.substr(q + 1));
    path_query = path_query.substr(0, q);
  }
  out.path = std::string(path_query);

  std::string_view host_port = out.authority;
  if (size_t at = host_port.rfind('@'); at != std::string_view::npos) {
    host_port.remove_prefix(at + 1);
  }
  std::string_view port_text;
  if (StartsWith(host_port, "[")) {
    size_t close = host_port.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument("uri '" + RedactUri(uri) + "': unclosed '[' in the host");
    }
    out.host = std::string(host_port.substr(1, close - 1));
    std::string_view after = host_port.substr(close + 1);
    if (StartsWith(after, ":")) port_text = after.substr(1);
  } else if (size_t c = host_port.rfind(':'); c != std::string_view::npos) {
    out.host = std::string(host_port.substr(0, c));
    port_text = host_port.substr(c + 1);
  } else {
    out.host = std::string(host_port);
  }
  if (!port_text.empty()) {
    long long port = 0;
    if (!ParseInt64(port_text, &port) || port <= 0 || port > 65535) {
      return InvalidArgument("uri '" + RedactUri(uri) + "': port must be 1..65535");
    }
    out.port = static_cast<int>(port);
  }
  return out;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) {
      return InvalidArgument("uri: truncated escape in '" + std::string(s) + "'");
    }
    int hi = HexValue(s[i + 1]);
    int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return InvalidArgument("uri: bad escape in '" + std::string(s) + "'");
    char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return InvalidArgument("uri: escaped NUL in '" + std::string(s) + "'");
    out.push_back(c);
    i += 2;
  }
  return out;
}

std::string RedactUri(std::string_view uri) {
  size_t sep = uri.find("://");
  if (sep == std::string_view::npos) return std::string(uri);
  size_t start = sep + 3;
  size_t end = uri.find_first_of("/?#", start);
  std::string_view authority = uri.substr(start, end == std::string_view::npos ? end : end - start);
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(uri);
  std::string out(uri.substr(0, start));
  out += "***@";
  out += uri.substr(start + at + 1);
  return out;
}

}  // namespace weir::fetch
