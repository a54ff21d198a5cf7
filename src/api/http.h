// The HTTP layer's public surface, free of Boost.Beast: request and response values, the router,
// and the helpers every route file uses. Only http_server.cc, http_tls.cc and http_stream.cc
// include Beast (each Beast source costs ~15 s to compile), so route files stay cheap.
//
// Threading: HttpServer keeps its I/O threads for socket I/O only and runs every handler on a
// bounded pool of handler threads, so a handler that blocks (store, file system) delays only its
// own request. Handlers are called concurrently, up to the pool's size; a handler must still not
// block without bound (no job runs inside a handler) since each one holds a pool thread.
#pragma once

#include <sys/stat.h>

#include <chrono>
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

#include "auth/auth.h"
#include "common/fs.h"
#include "common/result.h"
#include "common/status.h"

namespace weir::api {

struct HttpRequest {
  std::string method;  // upper case: "GET", "POST", ...
  std::string target;  // as received: "/api/v3/jobs?page=1"
  std::string path;    // percent-decoded path without the query: "/api/v3/jobs"
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case
  std::string body;                 // the body, unless spooled to body_file
  std::filesystem::path body_file;  // set when the route spools bodies to disk; removed after
  std::string peer_address;         // "127.0.0.1"
  // Before the handler runs, the server drops the X-Forwarded-* and Forwarded headers unless the
  // peer is one of HttpServerOptions::trusted_proxies (see ApplyForwardedPolicy).
  std::map<std::string, std::string> params;  // path parameters filled by the router
  // The subject of the client certificate the TLS layer verified; "" without one (plain HTTP, or
  // TLS without client certificates).
  std::string client_cert_subject;
  // Who sent the request, set by HttpServerOptions::gate (authentication) before routing; null
  // when no gate is configured.
  std::shared_ptr<const auth::Principal> principal;
  // The pattern of the route that took the request ("/api/v3/jobs/{id}"), set by the server
  // before the handler runs; "" when the request was answered before routing (by the gate).
  // Metrics label requests with it: bounded, unlike the path.
  std::string route;
  // When the server had read the request's head (for latency metrics).
  std::chrono::steady_clock::time_point received;

  // First header of that (case-insensitive) name.
  std::optional<std::string> Header(std::string_view name) const;
  // First query parameter of that name.
  std::optional<std::string> Query(std::string_view name) const;
  // Every value of a repeated query parameter (`status=A&status=B`); also splits none.
  std::vector<std::string> QueryAll(std::string_view name) const;
  // The path parameter; aborts if the route has none of that name (a programming error).
  const std::string& Param(const std::string& name) const;
};

// An open file descriptor, closed when the last owner lets go.
class FileHandle {
 public:
  explicit FileHandle(int fd) : fd_(fd) {}
  ~FileHandle();
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Opens `path` for reading without ever blocking on it (a FIFO's open() would wait for a writer
// forever), O_NOFOLLOW when `no_follow` (a symlink swapped in after the path was
// resolved is refused), then fstat. Only a regular file is accepted: a FIFO, socket, device or
// directory is kPermissionDenied naming the file (as `name`, default the path) and its kind; a
// missing file kNotFound. The file is never opened for reading unless it is regular (the type
// is checked on an O_PATH descriptor first). Fills `st` with the fstat of the opened file. The
// returned descriptor is in blocking mode.
Result<std::shared_ptr<FileHandle>> OpenRegularFile(const std::filesystem::path& path,
                                                    bool no_follow, struct stat* st,
                                                    std::string_view name = {});

// The same for a file already found and opened with O_PATH (by OpenBeneath, say): the type is
// checked on `path_fd`, which is then opened for reading through /proc/self/fd, so the file read
// is the one found, whatever has been renamed since. Where /proc is missing, `reopen` opens it
// again for reading (a descriptor, or -1 with errno set), and it must be the same file.
Result<std::shared_ptr<FileHandle>> OpenRegularFileAt(UniqueFd path_fd, struct stat* st,
                                                      std::string_view name,
                                                      const std::function<int()>& reopen);

// A response body served from a file: [offset, offset+length) of `path`. When `handle` is set
// (from OpenRegularFile), the bytes are read from that descriptor and `path` only names the
// file in messages; otherwise the server opens `path` with OpenRegularFile itself.
struct FileBody {
  std::filesystem::path path;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::shared_ptr<FileHandle> handle;
};

// A response body produced over time (Server-Sent Events). The server writes the head, calls
// Start() once, then calls Next() (on the handler pool) for bytes to send: at once, again
// whenever `wake` was called, and at the latest idle_interval() after the last call (so the
// stream can write heartbeats). The body ends when Next() sets `done`, when a write fails or
// takes longer than 60 s (a client that stopped reading), or when the server stops. The body is
// chunked (HTTP/1.1) and the connection closes after it. The stream object is released when the
// response ends; a `wake` after that does nothing.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // `wake` may be called from any thread, any number of times; it only posts.
  virtual void Start(std::function<void()> wake) = 0;
  // The next bytes to send ("" when there are none yet). Must not wait for events.
  virtual std::string Next(bool& done) = 0;
  virtual std::chrono::milliseconds idle_interval() const = 0;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<FileBody> file;            // when set, `body` is ignored
  std::shared_ptr<ResponseStream> stream;  // when set, `body` and `file` are ignored

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
    std::string_view pattern;      // the matched route's pattern as added; "" without a match
  };
  Match Find(std::string_view method, std::string_view path) const;
  // Same, over already-split, percent-decoded segments (what the server uses, so that an
  // encoded '/' stays inside its segment: DELETE /tags/a%2Fb removes the tag "a/b").
  // When several patterns match, the most literal one wins (`/jobs/{id}/status` over
  // `/jobs/{id}/{rest*}`); a trailing slash is ignored when only the path without it matches.
  Match FindSegments(std::string_view method, const std::vector<std::string>& segments) const;

  // The route table, in registration order: method and pattern as given to Add()
  // ("GET", "/api/v3/jobs/{id}"). The API document's test compares it with openapi.json.
  struct RouteInfo {
    std::string method;
    std::string pattern;
  };
  std::vector<RouteInfo> Routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
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
//   leave their folder), kUnauthenticated 401, kUnavailable 503, kUnimplemented 501,
//   kOutOfSpace 507 (the message then says that the server's storage is full and to free
//   space), others 500.
int HttpStatusFor(const Status& s);
// Genie's error body: {"status":N,"error":"Reason Phrase","message":...,"path":...,"timestamp":...}
HttpResponse ErrorResponse(const Status& s, const HttpRequest& req);
HttpResponse ErrorResponse(int http_status, std::string_view message, const HttpRequest& req);
// The same body with the members of `extra_members` (a serialized JSON object, e.g. the "detail"
// of a 412 no-match) added after Genie's; the standard members are never replaced.
HttpResponse ErrorResponse(const Status& s, const HttpRequest& req, std::string_view extra_members);

// The standard reason phrase ("Not Found"); "Unknown" for codes without one.
std::string_view ReasonPhrase(int http_status);

// "http://host:port" as the client sees the server: X-Forwarded-Proto/Host/Port, else Host.
// The server removes forwarded headers from untrusted peers first (ApplyForwardedPolicy), so
// only a trusted proxy can change the links and Location headers of a response.
std::string BaseUrl(const HttpRequest& req);

// The client address Genie records: first X-Forwarded-For entry (after ApplyForwardedPolicy:
// the nearest address no trusted proxy vouches for), else the peer address.
std::string ClientHost(const HttpRequest& req);

// A set of IP addresses and CIDR ranges ("127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8").
// IPv4 addresses also match their IPv4-mapped IPv6 form ("::ffff:10.1.2.3"). Immutable after
// Parse, so safe to share between threads.
class IpSet {
 public:
  // kInvalidArgument naming the first entry that is not an address or CIDR range.
  static Result<IpSet> Parse(const std::vector<std::string>& entries);
  // False for anything that is not an IP address literal.
  bool Contains(std::string_view address) const;
  bool empty() const { return ranges_.empty(); }

 private:
  struct Range {
    unsigned char bytes[16];  // IPv6, or IPv4-mapped IPv6
    int prefix_bits;          // of the 128
  };
  std::vector<Range> ranges_;
};

// The forwarded-header rule, applied by the server to each request before routing: when the
// peer is not in `trusted_proxies`, every X-Forwarded-* and Forwarded header is removed (a client
// cannot choose the host of our links or the recorded clientHost). When it is trusted, the
// headers stay, and X-Forwarded-For is reduced to its rightmost entry that is not itself a
// trusted proxy (the client as the nearest trusted proxy saw it; entries to its left are
// client-supplied and not believed).
void ApplyForwardedPolicy(HttpRequest& req, const IpSet& trusted_proxies);

// HTTPS for HttpServerOptions::tls. Policy: TLS 1.2 with ECDHE key exchange and AEAD ciphers
// (AES-GCM, ChaCha20-Poly1305) only, and TLS 1.3; older protocols, RSA key exchange, CBC and
// RC4 suites are refused at the handshake. Renegotiation and compression are off.
struct HttpTlsOptions {
  std::filesystem::path cert_file;  // PEM: the server certificate, then its chain; "" = no TLS
  // PEM private key of cert_file. Start() refuses a key file that every user may read
  // (kPermissionDenied naming the file).
  std::filesystem::path key_file;
  // PEM CA certificates. When set, every client must present a certificate that chains to one of
  // them, else the handshake fails; its subject (RFC 2253, "CN=alice,O=example") then goes into
  // HttpRequest::client_cert_subject of each request on the connection.
  std::filesystem::path client_ca_file;
  // The TLS handshake must finish within this time after accept, else the connection is closed
  // (a client that never finishes cannot hold a connection slot).
  std::chrono::milliseconds handshake_timeout{10000};

  bool enabled() const { return !cert_file.empty(); }
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;             // 0: pick a free port (see HttpServer::port())
  int threads = 1;                  // I/O threads: socket reads and writes only
  int handler_threads = 0;          // the handler pool; 0: max(4, 2 × cores)
  std::filesystem::path spool_dir;  // where spooled bodies are written
  uint64_t max_header_bytes = 64 * 1024;

  // Connection limits. Past either cap a new connection is answered 503 (JSON error body,
  // Retry-After, Connection: close) and closed without reading a request.
  int max_connections = 4096;
  int max_connections_per_client = 256;  // per peer IP address
  // The whole request header (from its first byte) must arrive within this time, however the
  // bytes trickle in; otherwise the connection is closed without an answer.
  std::chrono::milliseconds header_timeout{10000};
  // An idle keep-alive connection is closed after this time without a new request.
  std::chrono::milliseconds idle_timeout{60000};
  // The body must arrive at min_body_bytes_per_s on average after a grace time: at every
  // moment t since the body started, received ≥ (t − grace) × rate, so a trickle cannot extend
  // the deadline. 0 disables the rate (each read then only has the 60 s stall timeout). A body
  // that falls behind is cut off: the connection is closed and the handler never runs.
  std::chrono::milliseconds body_grace{10000};
  uint64_t min_body_bytes_per_s = 1024;

  // When tls.enabled(), the port speaks only HTTPS: a plain HTTP request fails the handshake and
  // gets no HTTP answer. Every limit above applies the same over TLS, the deadlines counting from
  // the end of the handshake.
  HttpTlsOptions tls;

  // Peers whose X-Forwarded-* headers are believed (see ApplyForwardedPolicy); empty: none.
  IpSet trusted_proxies;

  // Runs on the handler pool for every request whose target parses, after the head is read and
  // before routing and before the body is read (authentication, rate limits: nothing costly
  // happens for a refused request). It may set req.principal. A returned response answers the
  // request instead of the route; the unread body is then discarded with the connection.
  std::function<std::optional<HttpResponse>(HttpRequest&)> gate;
  // Runs on the handler pool after the gate refused a request or a route's handler answered it
  // (audit records); not for answers of the server itself (404, 405, 413, framing errors).
  std::function<void(const HttpRequest&, const HttpResponse&)> observer;
};

// A Beast HTTP/1.1 server with keep-alive, over TCP or TLS (HttpServerOptions::tls). Start() loads
// the TLS files (an unreadable, mismatched or world-readable one fails with a Status naming the
// file), binds and returns at once; Stop() closes the listener, finishes in-flight responses and
// joins the threads.
//
// Framing is strict (RFC 9112 §6): a request body is framed by Content-Length or by
// `Transfer-Encoding: chunked` alone. Any other transfer coding, a repeated Transfer-Encoding,
// Transfer-Encoding with Content-Length, differing Content-Length values or a malformed chunk
// answer 400 and close the connection; nothing after them is read as a request.
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
