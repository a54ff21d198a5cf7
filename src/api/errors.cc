// The one place a Status becomes an HTTP status, Genie's error body, and the client-facing view
// of the request (base URL for links, client host).
#include <boost/json.hpp>

#include "api/http.h"
#include "common/clock.h"
#include "common/strings.h"
#include "common/time_format.h"

namespace weir::api {

int HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kDeadlineExceeded:
      return 408;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 412;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kPayloadTooLarge:
      return 413;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kAborted:
    case StatusCode::kInternal:
      return 500;
    case StatusCode::kOutOfSpace:
      return 507;
  }
  return 500;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 507:
      return "Insufficient Storage";
  }
  return "Unknown";
}

HttpResponse ErrorResponse(int http_status, std::string_view message, const HttpRequest& req) {
  // The timestamp is informational only (no behaviour depends on it), so it reads the system
  // clock rather than threading a Clock through every route.
  boost::json::object o;
  o["timestamp"] = FormatIso8601(SystemClock::Instance().Now());
  o["status"] = http_status;
  o["error"] = ReasonPhrase(http_status);
  // Messages may quote client input: keep them valid UTF-8 so the body stays valid JSON.
  if (IsValidUtf8(message)) {
    o["message"] = message;
  } else {
    std::string clean;
    for (unsigned char c : message) clean.push_back(c < 0x80 ? static_cast<char>(c) : '?');
    o["message"] = clean;
  }
  o["path"] = IsValidUtf8(req.path) ? boost::json::string(req.path) : boost::json::string("?");
  return HttpResponse::Json(http_status, boost::json::serialize(o));
}

HttpResponse ErrorResponse(const Status& s, const HttpRequest& req) {
  if (s.code() == StatusCode::kOutOfSpace) {
    // The client cannot fix this by changing the request: say whose disk it is and what helps.
    return ErrorResponse(507,
                         "server storage full: " + s.message() +
                             "; the server's disk is full: an operator must free space on it "
                             "(or raise its quota), then retry the request",
                         req);
  }
  return ErrorResponse(HttpStatusFor(s), s.message(), req);
}

HttpResponse ErrorResponse(const Status& s, const HttpRequest& req,
                           std::string_view extra_members) {
  HttpResponse base = ErrorResponse(s, req);
  boost::system::error_code ec;
  boost::json::value extra = boost::json::parse(extra_members, ec);
  if (ec || !extra.is_object()) return base;
  boost::json::value body = boost::json::parse(base.body, ec);
  if (ec || !body.is_object()) return base;
  for (const auto& [key, value] : extra.as_object()) {
    if (!body.as_object().contains(key)) body.as_object()[key] = value;
  }
  return HttpResponse::Json(base.status, boost::json::serialize(body));
}

namespace {

std::string_view FirstListEntry(std::string_view v) {
  size_t comma = v.find(',');
  if (comma != std::string_view::npos) v = v.substr(0, comma);
  return Trim(v);
}

// Host names, IPv4/IPv6 literals and ports only: a hostile Host header must not inject text
// into the links of a response.
bool IsSafeHost(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  for (char c : h) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

bool IsDigits(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string BaseUrl(const HttpRequest& req) {
  std::string proto = "http";
  bool forwarded_proto = false;
  if (auto p = req.Header("x-forwarded-proto")) {
    std::string v = ToLower(FirstListEntry(*p));
    if (v == "https" || v == "http") {
      proto = v;
      forwarded_proto = true;
    }
  }
  std::string host_port;
  bool forwarded_host = false;
  if (auto h = req.Header("x-forwarded-host"); h && IsSafeHost(FirstListEntry(*h))) {
    host_port = std::string(FirstListEntry(*h));
    forwarded_host = true;
  } else if (auto h2 = req.Header("host"); h2 && IsSafeHost(Trim(*h2))) {
    host_port = std::string(Trim(*h2));
  } else {
    host_port = "localhost";
  }
  // Split host and port; IPv6 literals keep their brackets.
  std::string host = host_port;
  std::string port;
  size_t colon = host_port.rfind(':');
  size_t bracket = host_port.rfind(']');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
    if (!IsDigits(port)) port.clear();
  }
  if (auto p = req.Header("x-forwarded-port"); p && IsDigits(FirstListEntry(*p))) {
    port = std::string(FirstListEntry(*p));
  } else if (forwarded_proto && !forwarded_host) {
    // A proxy that terminates TLS but passes the backend's Host: the backend port is not the
    // one the client used.
    port.clear();
  }
  if ((proto == "http" && port == "80") || (proto == "https" && port == "443")) port.clear();
  std::string out = proto + "://" + host;
  if (!port.empty()) out += ":" + port;
  return out;
}

std::string ClientHost(const HttpRequest& req) {
  if (auto f = req.Header("x-forwarded-for")) {
    std::string_view first = FirstListEntry(*f);
    if (!first.empty() && first.size() <= 255) return std::string(first);
  }
  return req.peer_address;
}

}  // namespace weir::api
