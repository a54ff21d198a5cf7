// Router, request/response helpers and URL decoding: the Beast-free half of the HTTP layer.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "api/http.h"

namespace weir::api {

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits "/a/b/" into {"a", "b", ""}; "/" into {""}.
void SplitPath(std::string_view path, std::vector<std::string_view>& out) {
  out.clear();
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  size_t start = 0;
  while (true) {
    size_t pos = path.find('/', start);
    if (pos == std::string_view::npos) {
      out.push_back(path.substr(start));
      return;
    }
    out.push_back(path.substr(start, pos - start));
    start = pos + 1;
  }
}

}  // namespace

// ---- HttpRequest / HttpResponse ----

std::optional<std::string> HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::string> HttpRequest::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::vector<std::string> HttpRequest::QueryAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.push_back(v);
  }
  return out;
}

const std::string& HttpRequest::Param(const std::string& name) const {
  auto it = params.find(name);
  if (it == params.end()) {
    std::fprintf(stderr, "HttpRequest::Param: route has no parameter '%s'\n", name.c_str());
    std::abort();
  }
  return it->second;
}

void HttpResponse::SetHeader(std::string name, std::string value) {
  for (auto& [k, v] : headers) {
    if (IEquals(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

HttpResponse HttpResponse::Json(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", std::move(content_type));
  return r;
}

HttpResponse HttpResponse::Empty(int status) {
  HttpResponse r;
  r.status = status;
  return r;
}

// ---- URL helpers ----

Result<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 1 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return InvalidArgument("request target: bad percent-escape at '" +
                               std::string(s.substr(i, 3)) + "'; encode '%' as %25");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string PercentEncode(std::string_view s, std::string_view keep) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    bool unreserved = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                      u == '-' || u == '.' || u == '_' || u == '~';
    if (unreserved || keep.find(c) != std::string_view::npos) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

Status ParseTarget(std::string_view target, HttpRequest& req,
                   std::vector<std::string>& segments) {
  req.target.assign(target.data(), target.size());
  req.query.clear();
  segments.clear();
  if (target.empty() || target.front() != '/') {
    return InvalidArgument("request target: must be an absolute path such as /api/v3");
  }
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  size_t hash = raw_path.find('#');
  if (hash != std::string_view::npos) raw_path = raw_path.substr(0, hash);

  // Decode segment by segment so an encoded '/' stays inside its segment.
  req.path.clear();
  size_t start = 1;
  while (true) {
    size_t pos = raw_path.find('/', start);
    std::string_view seg = raw_path.substr(start, pos == std::string_view::npos ? raw_path.npos
                                                                                 : pos - start);
    if (seg.find('%') == std::string_view::npos) {
      segments.emplace_back(seg);
    } else {
      auto d = PercentDecode(seg, false);
      if (!d) return d.status();
      segments.push_back(std::move(*d));
    }
    req.path += '/';
    req.path += segments.back();
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }

  if (q != std::string_view::npos) {
    std::string_view qs = target.substr(q + 1);
    size_t h = qs.find('#');
    if (h != std::string_view::npos) qs = qs.substr(0, h);
    size_t i = 0;
    while (i <= qs.size()) {
      size_t amp = qs.find('&', i);
      std::string_view pair = qs.substr(i, amp == std::string_view::npos ? qs.npos : amp - i);
      if (!pair.empty()) {
        size_t eq = pair.find('=');
        std::string_view k = pair.substr(0, eq);
        std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        auto dk = PercentDecode(k, true);
        if (!dk) return dk.status();
        auto dv = PercentDecode(v, true);
        if (!dv) return dv.status();
        req.query.emplace_back(std::move(*dk), std::move(*dv));
      }
      if (amp == std::string_view::npos) break;
      i = amp + 1;
    }
  }
  return Status::Ok();
}

// ---- Router ----

void Router::Add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
  Route r;
  r.method = std::move(method);
  r.pattern = pattern;
  std::vector<std::string_view> parts;
  SplitPath(pattern, parts);
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    int kind = 0;
    std::string name;
    if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
      std::string_view inner = p.substr(1, p.size() - 2);
      if (!inner.empty() && inner.back() == '*') {
        if (i + 1 != parts.size()) {
          std::fprintf(stderr, "Router::Add: '%s': a {name*} segment must be last\n",
                       pattern.c_str());
          std::abort();
        }
        kind = 2;
        inner.remove_suffix(1);
      } else {
        kind = 1;
      }
      name.assign(inner);
    }
    r.segments.emplace_back(p);
    r.kinds.push_back(kind);
    r.names.push_back(std::move(name));
  }
  r.handler = std::move(handler);
  r.options = options;
  routes_.push_back(std::move(r));
}

int Router::MatchRoute(const Route& r, const std::vector<std::string>& segs,
                       std::map<std::string, std::string>* params) {
  const size_t n = r.segments.size();
  int score = 0;
  for (size_t i = 0; i < n; ++i) {
    int kind = r.kinds[i];
    if (kind == 2) {
      // Tail: the rest of the path, possibly empty.
      if (segs.size() < i) return -1;
      if (params) {
        std::string tail;
        for (size_t k = i; k < segs.size(); ++k) {
          if (k > i) tail += '/';
          tail += segs[k];
        }
        (*params)[r.names[i]] = std::move(tail);
      }
      return score * 4;
    }
    if (i >= segs.size()) return -1;
    if (kind == 0) {
      if (segs[i] != r.segments[i]) return -1;
      score = score * 4 + 3;
    } else {
      if (segs[i].empty()) return -1;
      if (params) (*params)[r.names[i]] = segs[i];
      score = score * 4 + 2;
    }
  }
  if (segs.size() != n) return -1;
  return score * 4 + 1;
}

Router::Match Router::FindSegments(std::string_view method,
                                   const std::vector<std::string>& segments) const {
  Match m;
  const Route* best = nullptr;
  int best_score = -1;
  bool other_method = false;
  for (const auto& r : routes_) {
    int s = MatchRoute(r, segments, nullptr);
    if (s < 0) continue;
    if (r.method != method) {
      other_method = true;
      continue;
    }
    if (s > best_score) {
      best_score = s;
      best = &r;
    }
  }
  if (!best && segments.size() > 1 && segments.back().empty()) {
    std::vector<std::string> trimmed(segments.begin(), segments.end() - 1);
    Match t = FindSegments(method, trimmed);
    if (t.handler || t.method_mismatch) return t;
  }
  if (!best) {
    m.method_mismatch = other_method;
    return m;
  }
  MatchRoute(*best, segments, &m.params);
  m.handler = &best->handler;
  m.options = &best->options;
  m.pattern = best->pattern;
  return m;
}

std::vector<Router::RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const Route& r : routes_) {
    std::string pattern;
    for (const std::string& seg : r.segments) pattern += "/" + seg;
    out.push_back(RouteInfo{r.method, pattern.empty() ? "/" : pattern});
  }
  return out;
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  std::vector<std::string_view> parts;
  SplitPath(path, parts);
  std::vector<std::string> segs(parts.begin(), parts.end());
  return FindSegments(method, segs);
}

}  // namespace weir::api
