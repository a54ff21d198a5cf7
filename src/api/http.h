// The HTTP layer's public surface, free of Boost.Beast: request and response values, the router,
// and the helpers every route file uses. Only http_server.cc includes Beast (each Beast source
// costs ~15 s to compile), so route files stay cheap.
//
// Threading: HttpServer runs handlers on its I/O threads; a handler must not block for long
// (no job runs inside a handler). Handlers are called concurrently when threads > 1.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace weir::api {

struct HttpRequest {
  std::string method;   // upper case: "GET", "POST", ...
  std::string target;   // as received: "/api/v3/jobs?page=1"
  std::string path;     // percent-decoded path without the query: "/api/v3/jobs"
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case
  std::string body;                 // the body, unless spooled to body_file
  std::filesystem::path body_file;  // set when the route spools bodies to disk; removed after
  std::string peer_address;         // "127.0.0.1"
  std::map<std::string, std::string> params;  // path parameters filled by the router

  // First header of that (case-insensitive) name.
  std::optional<std::string> Header(std::string_view name) const;
  // First query parameter of that name.
  std::optional<std::string> Query(std::string_view name) const;
  // Every value of a repeated query parameter (`status=A&status=B`); also splits none.
  std::vector<std::string> QueryAll(std::string_view name) const;
  // The path parameter; aborts if the route has none of that name (a programming error).
  const std::string& Param(const std::string& name) const;
};

// A response body served from a file: [offset, offset+length) of `path`.
struct FileBody {
  std::filesystem::path path;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<FileBody> file;  // when set, `body` is ignored

  void SetHeader(std::string name, std::string value);
  static HttpResponse Json(int status, std::string body,
                           std::string content_type = "application/json");
  static HttpResponse Empty(int status);
};

using Handler = std::function<HttpResponse(HttpRequest&)>;

struct RouteOptions {
  uint64_t max_body_bytes = 1 << 20;  // larger bodies: 413 before the handler runs
  bool spool_body_to_file = false;    // write the body to a temp file instead of memory
};

// Routes by method and path pattern. Patterns are literal segments and `{name}` segments; a last
// segment `{name*}` captures the rest of the path (possibly empty, slashes included).
// A path that matches a pattern under another method answers 405; no match answers 404.
class Router {
 public:
  void Add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});

  struct Match {
    const Handler* handler = nullptr;
    const RouteOptions* options = nullptr;
    std::map<std::string, std::string> params;
    bool method_mismatch = false;  // path matched under another method
  };
  Match Find(std::string_view method, std::string_view path) const;
  // Same, over already-split, percent-decoded segments (what the server uses, so that an
  // encoded '/' stays inside its segment: DELETE /tags/a%2Fb removes the tag "a/b").
  // When several patterns match, the most literal one wins (`/jobs/{id}/status` over
  // `/jobs/{id}/{rest*}`); a trailing slash is ignored when only the path without it matches.
  Match FindSegments(std::string_view method, const std::vector<std::string>& segments) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
    RouteOptions options;
    // Per segment: 0 literal, 1 {name}, 2 {name*}; names hold the parameter names.
    std::vector<int> kinds;
    std::vector<std::string> names;
  };
  // Matches `segments` against one route; fills `params` when given. Returns a specificity
  // score (higher = more literal) or -1.
  static int MatchRoute(const Route& r, const std::vector<std::string>& segments,
                        std::map<std::string, std::string>* params);
  std::vector<Route> routes_;
};

// Percent-decoding of a URL component; with plus_is_space, '+' becomes ' ' (query strings).
// kInvalidArgument for a '%' not followed by two hex digits.
Result<std::string> PercentDecode(std::string_view s, bool plus_is_space);
// Percent-encodes every byte but RFC 3986 unreserved characters and, in `keep`, a few safe
// delimiters: PercentEncode(id) for a path segment, PercentEncode(v, ":,") for a query value.
std::string PercentEncode(std::string_view s, std::string_view keep = "");
// Fills req.target, req.path (decoded) and req.query (decoded, '+' as space) from a request
// target, and `segments` with the decoded path segments for Router::FindSegments.
// kInvalidArgument when the target is not an absolute path or holds a bad percent-escape.
Status ParseTarget(std::string_view target, HttpRequest& req, std::vector<std::string>& segments);

// The one place a Status becomes an HTTP status:
//   kInvalidArgument 400, kNotFound 404, kDeadlineExceeded 408, kAlreadyExists 409,
//   kFailedPrecondition 412, kResourceExhausted 429, kPermissionDenied 403 (403 for paths that
//   leave their folder), kUnavailable 503, kUnimplemented 501, kOutOfSpace 507 (the message
//   then says that the server's storage is full and to free space), others 500.
int HttpStatusFor(const Status& s);
// Genie's error body: {"status":N,"error":"Reason Phrase","message":...,"path":...,"timestamp":...}
HttpResponse ErrorResponse(const Status& s, const HttpRequest& req);
HttpResponse ErrorResponse(int http_status, std::string_view message, const HttpRequest& req);

// The standard reason phrase ("Not Found"); "Unknown" for codes without one.
std::string_view ReasonPhrase(int http_status);

// "http://host:port" as the client sees the server: X-Forwarded-Proto/Host/Port, else Host.
std::string BaseUrl(const HttpRequest& req);

// The client address Genie records: first X-Forwarded-For entry, else the peer address.
std::string ClientHost(const HttpRequest& req);

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: pick a free port (see HttpServer::port())
  int threads = 1;
  std::filesystem::path spool_dir;  // where spooled bodies are written
  uint64_t max_header_bytes = 64 * 1024;
};

// A Beast HTTP/1.1 server with keep-alive. Start() binds and returns at once; Stop() closes the
// listener, finishes in-flight responses and joins the threads.
class HttpServer {
 public:
  virtual ~HttpServer() = default;
  virtual Status Start() = 0;
  virtual void Stop() = 0;
  virtual uint16_t port() const = 0;  // the bound port, after Start()
};

std::unique_ptr<HttpServer> NewHttpServer(HttpServerOptions options,
                                          std::shared_ptr<const Router> router);

}  // namespace weir::api
