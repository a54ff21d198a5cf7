// The Beast HTTP/1.1 server: the only file of weir that includes Boost.Beast (server side).
//
// One io_context run by `threads` threads does socket I/O only (TLS included: with
// HttpServerOptions::tls each connection starts with a handshake under its own deadline). Each
// connection is a C++20 coroutine on its own strand (no strand when there is a single thread: the
// io_context is then an implicit strand). Per request: wait (idle timeout) for its first byte, read
// the header within the header deadline, check the framing (strict, RFC 9112 §6), route, check the
// body size against the route's limit before reading any of the body (413), read the body (at a
// minimum average rate) into memory or spool it to a file, run the handler on the handler pool
// while the coroutine waits, write the response (files opened and read on the pool, streamed in
// chunks). Parse and framing errors answer 400 and close, oversized headers 431; a throwing handler
// answers 500 and the server carries on. Connections past the overall or per-client cap are
// answered 503 at accept and closed.
//
// The types are in http_server_internal.h; TLS is in http_tls.cc, streamed responses in
// http_stream.cc.
#include "api/http_server_internal.h"

namespace weir::api::internal {

SessionBase::~SessionBase() { server->Unregister(this); }

// ---- responses ----

std::string CleanHeaderValue(std::string v) {
  for (char& c : v) {
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
  return v;
}

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

unsigned SafeStatus(int status) { return status >= 100 && status <= 599 ? status : 500; }

namespace {

// Writes a string response. Returns false when the connection broke.
template <class S>
asio::awaitable<bool> WriteResponse(S& s, HttpResponse& resp, unsigned version, bool keep,
                                    bool head) {
  unsigned status = SafeStatus(resp.status);
  if (head || status == 204 || status == 304) {
    http::response<http::empty_body> res;
    res.version(version);
    res.result(status);
    ApplyHeaders(res, resp);
    if (head && status != 204 && status != 304) res.content_length(resp.body.size());
    res.keep_alive(keep);
    s.tcp().expires_after(kIoTimeout);
    auto [ec, n] = co_await http::async_write(s.stream, res, kTok);
    co_return !ec;
  }
  http::response<http::string_body> res;
  res.version(version);
  res.result(status);
  ApplyHeaders(res, resp);
  res.body() = std::move(resp.body);
  res.keep_alive(keep);
  res.prepare_payload();
  s.tcp().expires_after(kIoTimeout);
  auto [ec, n] = co_await http::async_write(s.stream, res, kTok);
  co_return !ec;
}

// Streams [offset, offset+length) of a file in chunks; the file is opened (unless the handler
// opened it) and read on the handler pool, never on the I/O thread. Returns false when the
// connection must be closed (broken connection, or the file shrank under us).
template <class S>
asio::awaitable<bool> WriteFileResponse(S& s, HttpResponse& resp, const HttpRequest& req,
                                        unsigned version, bool keep, bool head) {
  const FileBody& fb = *resp.file;
  std::shared_ptr<FileHandle> handle = fb.handle;
  struct stat st {};
  Status open_status;
  if (handle) {
    if (::fstat(handle->fd(), &st) != 0) open_status = ErrnoStatus("response file", errno);
  } else {
    auto opened = co_await OnPool(*s.server, [&]() -> Result<std::shared_ptr<FileHandle>> {
      return OpenRegularFile(fb.path, /*no_follow=*/false, &st);
    });
    if (opened.ok()) {
      handle = std::move(*opened);
    } else {
      open_status = opened.status();
    }
  }
  if (!open_status.ok() || !S_ISREG(st.st_mode) || fb.offset > static_cast<uint64_t>(st.st_size) ||
      fb.length > static_cast<uint64_t>(st.st_size) - fb.offset) {
    HttpResponse err =
        open_status.ok() || open_status.code() == StatusCode::kInternal
            ? ErrorResponse(500, "response file: cannot read the requested bytes", req)
            : ErrorResponse(open_status, req);
    co_return co_await WriteResponse(s, err, version, keep, head);
  }
  const int fd = handle->fd();
  http::response<http::buffer_body> res;
  res.version(version);
  res.result(SafeStatus(resp.status));
  ApplyHeaders(res, resp);
  res.content_length(fb.length);
  res.keep_alive(keep);
  res.body().data = nullptr;
  res.body().more = !head && fb.length > 0;
  http::response_serializer<http::buffer_body> sr{res};
  s.tcp().expires_after(kIoTimeout);
  {
    auto [ec, n] = co_await http::async_write_header(s.stream, sr, kTok);
    if (ec) co_return false;
  }
  if (head || fb.length == 0) co_return true;
  if (!s.chunk) s.chunk = std::make_unique<char[]>(kFileChunk);
  uint64_t pos = fb.offset;
  uint64_t remaining = fb.length;
  while (remaining > 0) {
    size_t want = remaining < kFileChunk ? static_cast<size_t>(remaining) : kFileChunk;
    char* dst = s.chunk.get();
    ssize_t got = co_await OnPool(*s.server, [fd, dst, want, pos]() -> ssize_t {
      ssize_t n;
      do {
        n = ::pread(fd, dst, want, static_cast<off_t>(pos));
      } while (n < 0 && errno == EINTR);
      return n;
    });
    if (got <= 0) co_return false;  // the file shrank: the announced length cannot be kept
    pos += static_cast<uint64_t>(got);
    remaining -= static_cast<uint64_t>(got);
    res.body().data = s.chunk.get();
    res.body().size = static_cast<size_t>(got);
    res.body().more = remaining > 0;
    s.tcp().expires_after(kIoTimeout);
    auto [ec, n] = co_await http::async_write(s.stream, sr, kTok);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return false;
  }
  if (!sr.is_done()) {
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    auto [ec, n] = co_await http::async_write(s.stream, sr, kTok);
    if (ec && ec != http::error::need_buffer) co_return false;
  }
  co_return true;
}

// Closes gracefully: stop sending, then read and discard whatever the client still sends (an
// unread body) for a short while, so that the kernel does not answer with a reset that could
// destroy the response before the client reads it. Over TLS, a close_notify goes first; when the
// client answers it with its own, nothing is left to drain.
template <class S>
asio::awaitable<void> LingerClose(S& s) {
  if constexpr (S::kTls) {
    s.tcp().expires_after(std::chrono::seconds(2));
    auto [sec] = co_await s.stream.async_shutdown(kTok);
    if (!sec) {
      s.tcp().close();
      co_return;
    }
    if (!s.tcp().socket().is_open()) co_return;  // the deadline passed
  }
  // Below TLS the bytes read are records nobody decrypts: they are only drained.
  beast::error_code ec;
  s.tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    size_t discarded = 0;
    s.tcp().expires_after(std::chrono::seconds(2));
    while (discarded < kLingerMaxBytes) {
      if (!s.chunk) s.chunk = std::make_unique<char[]>(kFileChunk);
      auto [rec, n] =
          co_await s.tcp().async_read_some(asio::buffer(s.chunk.get(), kFileChunk), kTok);
      if (rec) break;
      discarded += n;
    }
  }
  s.tcp().close();
}

bool IsParseError(const beast::error_code& ec) {
  static const auto& cat = http::make_error_code(http::error::bad_target).category();
  return ec.category() == cat && ec != http::error::end_of_stream &&
         ec != http::error::partial_message;
}

// A file write that failed because the disk (or the quota) is full: the spool file's errors
// carry the errno (system or generic category); a socket never reports these.
bool IsDiskFull(const beast::error_code& ec) {
  const bool errno_code = ec.category() == boost::system::system_category() ||
                          ec.category() == boost::system::generic_category();
  return errno_code && (ec.value() == ENOSPC || ec.value() == EDQUOT);
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

void LowerInto(std::string& out, std::string_view in) {
  out.resize(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
}

HttpResponse RunHandler(const Handler& handler, HttpRequest& req) {
  try {
    return handler(req);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "http: handler for %s %s threw: %s\n", req.method.c_str(),
                 req.path.c_str(), e.what());
    return ErrorResponse(500, std::string("internal error: ") + e.what(), req);
  } catch (...) {
    std::fprintf(stderr, "http: handler for %s %s threw a non-standard exception\n",
                 req.method.c_str(), req.path.c_str());
    return ErrorResponse(500, "internal error: unexpected failure while handling the request", req);
  }
}

// Runs the server's request gate, if any: its refusal (observed like any response), or nullopt
// when the request may go on. Runs on the handler pool.
std::optional<HttpResponse> RunGate(BeastServer& srv, HttpRequest& req) {
  if (!srv.options().gate) return std::nullopt;
  std::optional<HttpResponse> r;
  try {
    r = srv.options().gate(req);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "http: request gate for %s %s threw: %s\n", req.method.c_str(),
                 req.path.c_str(), e.what());
    r = ErrorResponse(500, "request: internal error", req);
  }
  if (r && srv.options().observer) srv.options().observer(req, *r);
  return r;
}

// Runs a route's handler and the observer, then drops the spooled body. Runs on the handler pool.
HttpResponse RunObserved(BeastServer& srv, const Handler& handler, HttpRequest& req) {
  HttpResponse r = RunHandler(handler, req);
  if (srv.options().observer) srv.options().observer(req, r);
  if (!req.body_file.empty()) {
    std::error_code rm;
    std::filesystem::remove(req.body_file, rm);
  }
  return r;
}

// The answer to a request no route takes: 405 when the path exists for other methods, else 404.
HttpResponse RouteMiss(const Router::Match& m, const HttpRequest& req) {
  return m.method_mismatch
             ? ErrorResponse(
                   405, "request: method " + req.method + " is not allowed on " + req.path, req)
             : ErrorResponse(404, "request: no resource at " + req.path, req);
}

std::string TooLargeMessage(uint64_t size, uint64_t limit, bool known) {
  if (known) {
    return "request body: " + std::to_string(size) + " bytes exceeds the limit of " +
           std::to_string(limit) + " bytes";
  }
  return "request body: exceeds the limit of " + std::to_string(limit) + " bytes";
}

// Reads the rest of the body through `parser`. Returns the error, if any. Each read waits at
// most kIoTimeout, and never past the rate deadline: by time t after the body started, at least
// (t - grace) x min_body_bytes_per_s bytes must have come, so a trickle cannot extend it. A
// missed deadline is beast::error::timeout (the stream has closed the socket).
template <class S, class Parser>
asio::awaitable<beast::error_code> ReadBody(S& s, Parser& parser) {
  const HttpServerOptions& o = s.server->options();
  const auto start = std::chrono::steady_clock::now();
  uint64_t received = 0;
  while (!parser.is_done()) {
    auto deadline = std::chrono::steady_clock::now() + kIoTimeout;
    if (o.min_body_bytes_per_s > 0) {
      const uint64_t rate = o.min_body_bytes_per_s;
      auto earned = std::chrono::seconds(received / rate) +
                    std::chrono::microseconds((received % rate) * 1000000 / rate);
      deadline = std::min(deadline, start + o.body_grace + earned);
    }
    s.tcp().expires_at(deadline);
    auto [ec, n] = co_await http::async_read_some(s.stream, s.buffer, parser, kTok);
    received += n;
    if (ec) co_return ec;
  }
  co_return beast::error_code{};
}

// Strict message framing (RFC 9112 §6.1, §6.3) beyond what Beast checks: Beast reads an unknown
// transfer coding as "no body" and would parse the body as the next request. Returns the 400
// message, or "" when the framing is acceptable.
std::string FramingError(const http::request_parser<http::empty_body>::value_type& h) {
  int te_count = 0;
  std::string_view te;
  bool has_length = false;
  for (const auto& f : h) {
    if (f.name() == http::field::transfer_encoding) {
      ++te_count;
      te = std::string_view(f.value().data(), f.value().size());
    } else if (f.name() == http::field::content_length) {
      has_length = true;  // Beast already refused bad or differing values
    }
  }
  if (te_count == 0) return "";
  if (te_count > 1) {
    return "request framing: Transfer-Encoding is repeated; send one 'Transfer-Encoding: chunked' "
           "or a Content-Length";
  }
  while (!te.empty() && (te.front() == ' ' || te.front() == '\t')) te.remove_prefix(1);
  while (!te.empty() && (te.back() == ' ' || te.back() == '\t')) te.remove_suffix(1);
  if (!IEquals(te, "chunked")) {
    return "request framing: Transfer-Encoding '" + std::string(te.substr(0, 100)) +
           "' is not supported; frame the body with 'Transfer-Encoding: chunked' alone or with "
           "Content-Length";
  }
  if (has_length) {
    return "request framing: Transfer-Encoding and Content-Length together; send only one";
  }
  if (h.version() < 11) {
    return "request framing: Transfer-Encoding needs HTTP/1.1; send a Content-Length";
  }
  return "";
}

// Answers 400 with `message`, then closes (lingering so the client reads the answer).
template <class S>
asio::awaitable<void> RefuseAndClose(S& s, const HttpRequest& req, std::string message,
                                     unsigned version) {
  HttpResponse r = ErrorResponse(400, message, req);
  if (co_await WriteResponse(s, r, version, false, false)) co_await LingerClose(s);
}

// One request on the connection. Returns false when the connection must close.
template <class S>
asio::awaitable<bool> ServeOne(S& s) {
  BeastServer& srv = *s.server;
  http::request_parser<http::empty_body> hp;
  hp.header_limit(
      static_cast<std::uint32_t>(std::min<uint64_t>(srv.options().max_header_bytes, UINT32_MAX)));
  hp.body_limit(boost::none);

  // Wait for the first byte of a request with the keep-alive idle timeout; from then on the whole
  // header must arrive before one deadline that further reads do not move.
  if (s.buffer.size() == 0) {
    s.idle = true;
    s.tcp().expires_after(srv.options().idle_timeout);
    auto [fec, fn] = co_await s.stream.async_read_some(s.buffer.prepare(kFirstRead), kTok);
    s.buffer.commit(fn);
    s.idle = false;
    if (fec && fn == 0) co_return false;
    if (srv.stopping()) co_return false;
  }
  s.idle = false;
  s.tcp().expires_after(srv.options().header_timeout);
  auto [rec, rn] = co_await http::async_read_header(s.stream, s.buffer, hp, kTok);
  HttpRequest& req = s.req;
  req.method.clear();
  req.path.clear();
  req.target.clear();
  req.query.clear();
  req.headers.clear();
  req.body.clear();
  req.body_file.clear();
  req.params.clear();
  req.route.clear();
  req.received = std::chrono::steady_clock::now();
  req.peer_address = s.peer;
  req.client_cert_subject = s.client_subject;
  req.principal.reset();  // the gate sets it anew for each request
  if (rec) {
    if (rec == http::error::header_limit) {
      HttpResponse r = ErrorResponse(431,
                                     "request header: larger than " +
                                         std::to_string(srv.options().max_header_bytes) + " bytes",
                                     req);
      co_await WriteResponse(s, r, 11, false, false);
      co_await LingerClose(s);
    } else if (IsParseError(rec)) {
      co_await RefuseAndClose(s, req, "request: malformed HTTP/1.1 request (" + rec.message() + ")",
                              11);
    }
    co_return false;
  }

  auto& h = hp.get();
  if (std::string framing = FramingError(h); !framing.empty()) {
    co_await RefuseAndClose(s, req, std::move(framing), h.version());
    co_return false;
  }
  const unsigned version = h.version();
  const bool head = h.method() == http::verb::head;
  req.method.assign(h.method_string().data(), h.method_string().size());
  req.headers.reserve(8);
  for (const auto& f : h) {
    req.headers.emplace_back();
    LowerInto(req.headers.back().first, f.name_string());
    req.headers.back().second.assign(f.value().data(), f.value().size());
  }
  Status target_status = ParseTarget(h.target(), req, s.segments);
  ApplyForwardedPolicy(req, srv.options().trusted_proxies);

  const boost::optional<uint64_t> content_length = hp.content_length();
  const bool has_body = !hp.is_done();
  bool keep = hp.keep_alive() && !srv.stopping();

  HttpResponse resp;
  bool responded = false;
  bool body_consumed = !has_body;
  if (!target_status.ok()) {
    resp = ErrorResponse(400, target_status.message(), req);
    responded = true;
  } else if (!has_body) {
    // Most requests (GETs, kills) carry no body: the gate and the handler run in one pool task,
    // so authentication costs no second hop between threads.
    Router::Match m = srv.router().FindSegments(req.method, s.segments);
    if (!m.handler && head) m = srv.router().FindSegments("GET", s.segments);
    resp = co_await OnPool(srv, [&srv, &req, &m]() {
      if (std::optional<HttpResponse> refused = RunGate(srv, req)) return std::move(*refused);
      if (!m.handler) return RouteMiss(m, req);
      req.params = std::move(m.params);
      req.route.assign(m.pattern);
      return RunObserved(srv, *m.handler, req);
    });
    responded = true;
  } else if (srv.options().gate) {
    // A request with a body is judged before its body is read: a refused client never gets to
    // send (or spool) it.
    std::optional<HttpResponse> refused =
        co_await OnPool(srv, [&srv, &req]() { return RunGate(srv, req); });
    if (refused) {
      resp = std::move(*refused);
      responded = true;
    }
  }
  if (!responded) {
    Router::Match m = srv.router().FindSegments(req.method, s.segments);
    if (!m.handler && head) m = srv.router().FindSegments("GET", s.segments);
    if (!m.handler) {
      resp = RouteMiss(m, req);
      responded = true;
    } else {
      req.params = std::move(m.params);
      req.route.assign(m.pattern);
      const uint64_t limit = m.options->max_body_bytes;
      if (content_length && *content_length > limit) {
        resp = ErrorResponse(413, TooLargeMessage(*content_length, limit, true), req);
        responded = true;
      } else if (has_body) {
        auto expect = h[http::field::expect];
        if (!expect.empty() && IEquals(expect, "100-continue")) {
          http::response<http::empty_body> cont{http::status::continue_, version};
          s.tcp().expires_after(kIoTimeout);
          auto [wec, wn] = co_await http::async_write(s.stream, cont, kTok);
          if (wec) co_return false;
        }
        if (m.options->spool_body_to_file) {
          std::filesystem::path path = srv.NewSpoolPath();
          http::request_parser<http::file_body> fp(std::move(hp));
          fp.body_limit(limit);
          beast::error_code fec;
          fp.get().body().open(path.c_str(), beast::file_mode::write_new, fec);
          if (fec) {
            resp = IsDiskFull(fec)
                       ? ErrorResponse(ErrnoStatus("request body: cannot spool to " +
                                                       srv.options().spool_dir.string(),
                                                   fec.value()),
                                       req)
                       : ErrorResponse(500,
                                       "request body: cannot spool to " +
                                           srv.options().spool_dir.string() + ": " + fec.message(),
                                       req);
            keep = false;
            co_await WriteResponse(s, resp, version, false, head);
            co_await LingerClose(s);
            co_return false;
          }
          beast::error_code bec = co_await ReadBody(s, fp);
          beast::error_code cec;
          fp.get().body().file().close(cec);
          if (bec || cec) {
            std::error_code rm;
            std::filesystem::remove(path, rm);
            if (bec == http::error::body_limit) {
              resp = ErrorResponse(413, TooLargeMessage(0, limit, false), req);
              co_await WriteResponse(s, resp, version, false, head);
              co_await LingerClose(s);
            } else if (IsDiskFull(bec) || IsDiskFull(cec)) {
              // The spool file could not take the body: the client is owed an answer (507).
              const beast::error_code& full = IsDiskFull(bec) ? bec : cec;
              resp = ErrorResponse(
                  ErrnoStatus("request body: cannot spool to " + srv.options().spool_dir.string(),
                              full.value()),
                  req);
              co_await WriteResponse(s, resp, version, false, head);
              co_await LingerClose(s);
            } else if (IsParseError(bec)) {
              co_await RefuseAndClose(s, req, "request body: " + bec.message(), version);
            }
            co_return false;  // client went away, too slow (or the disk failed): no handler call
          }
          req.body_file = path;
          body_consumed = true;
        } else {
          http::request_parser<http::string_body> sp(std::move(hp));
          sp.body_limit(limit);
          beast::error_code bec = co_await ReadBody(s, sp);
          if (bec) {
            if (bec == http::error::body_limit) {
              resp = ErrorResponse(413, TooLargeMessage(0, limit, false), req);
              co_await WriteResponse(s, resp, version, false, head);
              co_await LingerClose(s);
            } else if (IsParseError(bec)) {
              co_await RefuseAndClose(s, req, "request body: " + bec.message(), version);
            }
            co_return false;
          }
          req.body = std::move(sp.get().body());
          body_consumed = true;
        }
      }
      if (!responded) {
        const Handler* handler = m.handler;
        resp = co_await OnPool(srv,
                               [handler, &req, &srv]() { return RunObserved(srv, *handler, req); });
        responded = true;
      }
    }
  }

  // A response sent before the body was read leaves the body on the wire: close after it.
  if (!body_consumed) keep = false;
  if (srv.stopping()) keep = false;

  bool ok;
  if (resp.stream) {
    co_await WriteStreamResponse(s, resp, version, head);
    co_return false;
  }
  if (resp.file) {
    ok = co_await WriteFileResponse(s, resp, req, version, keep, head);
  } else {
    ok = co_await WriteResponse(s, resp, version, keep, head);
  }
  if (!ok) co_return false;
  if (!keep) {
    co_await LingerClose(s);
    co_return false;
  }
  co_return true;
}

template <class S>
asio::awaitable<void> RunSession(std::shared_ptr<S> s) {
  beast::error_code ec;
  try {
    bool open = true;
    if constexpr (S::kTls) open = co_await Handshake(*s);
    while (open && !s->server->stopping()) {
      if (!co_await ServeOne(*s)) break;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "http: connection from %s ended on an error: %s\n", s->peer.c_str(),
                 e.what());
  }
  s->tcp().socket().close(ec);
}

// Answers a connection refused by a cap: 503, then close. Short deadlines: a refused client gets
// no time to hold the descriptor.
template <class Stream>
asio::awaitable<void> WriteRefusal(Stream& stream, std::string message) {
  HttpRequest req;
  HttpResponse r = ErrorResponse(503, message, req);
  http::response<http::string_body> res;
  res.version(11);
  res.result(http::status::service_unavailable);
  ApplyHeaders(res, r);
  res.set(http::field::retry_after, "5");
  res.body() = std::move(r.body);
  res.keep_alive(false);
  res.prepare_payload();
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(std::chrono::seconds(2));
  auto [ec, n] = co_await http::async_write(stream, res, kTok);
  if (!ec) {
    // Read (and drop) a little of what the client sent, so that closing does not reset the
    // connection before the client has read the answer.
    beast::error_code sec;
    tcp.socket().shutdown(tcp::socket::shutdown_send, sec);
    tcp.expires_after(std::chrono::seconds(1));
    char sink[4096];
    size_t total = 0;
    while (total < 64 * 1024) {
      auto [rec, rn] = co_await tcp.async_read_some(asio::buffer(sink), kTok);
      if (rec) break;
      total += rn;
    }
  }
  beast::error_code cec;
  tcp.socket().close(cec);
}

// Answers a connection refused by a cap: 503, then close (over TLS after a handshake, so that
// the client can read why). Short deadlines: a refused client gets no time to hold the
// descriptor.
asio::awaitable<void> Refuse(BeastServer* srv, tcp::socket sock, std::string message) {
  struct Done {
    BeastServer* srv;
    ~Done() { srv->DoneRejecting(); }
  } done{srv};
  if (asio::ssl::context* ctx = srv->ssl_context()) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(sock), *ctx);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTok);
    if (hec) co_return;
    co_await WriteRefusal(stream, std::move(message));
  } else {
    beast::tcp_stream stream(std::move(sock));
    co_await WriteRefusal(stream, std::move(message));
  }
}

}  // namespace

asio::awaitable<void> BeastServer::AcceptLoop() {
  for (;;) {
    auto exec = options_.threads > 1 ? asio::any_io_executor(asio::make_strand(ioc_))
                                     : asio::any_io_executor(ioc_.get_executor());
    auto [ec, sock] = co_await acceptor_.async_accept(exec, kTok);
    if (ec) {
      if (stopping() || ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      // Out of descriptors or a transient error: back off briefly instead of spinning.
      asio::steady_timer t(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(kTok);
      continue;
    }
    if (stopping()) break;
    beast::error_code oec;
    sock.set_option(tcp::no_delay(true), oec);
    std::string peer;
    auto ep = sock.remote_endpoint(oec);
    if (!oec) peer = ep.address().to_string();
    if (auto refusal = Admit(peer)) {
      if (TryStartRejecting()) {
        asio::co_spawn(exec, Refuse(this, std::move(sock), std::move(*refusal)), asio::detached);
      } else {
        sock.close(oec);
      }
      continue;
    }
    if (ssl_ctx_) {
      auto session =
          std::make_shared<TlsSession>(this, std::move(peer), std::move(sock), *ssl_ctx_);
      Register(session);
      asio::co_spawn(exec, RunSession(std::move(session)), asio::detached);
    } else {
      auto session = std::make_shared<PlainSession>(this, std::move(peer), std::move(sock));
      Register(session);
      asio::co_spawn(exec, RunSession(std::move(session)), asio::detached);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  accepting_ = false;
  cv_.notify_all();
}

Status BeastServer::Start() {
  if (started_) return FailedPrecondition("http server: already started");
  if (Status s = LoadTls(); !s.ok()) return s;
  beast::error_code ec;
  auto addr = asio::ip::make_address(options_.host, ec);
  if (ec) {
    return InvalidArgument("http server: host '" + options_.host +
                           "' is not an IP address; use e.g. 127.0.0.1 or 0.0.0.0");
  }
  tcp::endpoint ep(addr, options_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return Unavailable("http server: cannot listen on " + options_.host + ":" +
                       std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  started_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepting_ = true;
  }
  asio::co_spawn(acceptor_.get_executor(), AcceptLoop(), asio::detached);
  threads_.reserve(options_.threads);
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
  return Status::Ok();
}

void BeastServer::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stopping_ = true;
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  // Close idle keep-alive connections now; busy ones close after their response.
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [ptr, weak] : sessions_) {
      if (auto sp = weak.lock()) live.push_back(std::move(sp));
    }
  }
  for (auto& sp : live) {
    asio::post(sp->tcp().get_executor(), [sp] {
      if (sp->idle) {
        beast::error_code ec;
        sp->tcp().socket().close(ec);
      }
      if (sp->stream_timer) sp->stream_timer->cancel();  // a streamed response ends
    });
  }
  live.clear();
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, kStopGrace, [this] { return sessions_.empty() && !accepting_; });
  }
  ioc_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // Handlers still running finish; their results go to the stopped io_context and are dropped.
  pool_->join();
}

}  // namespace weir::api::internal

namespace weir::api {

std::unique_ptr<HttpServer> NewHttpServer(HttpServerOptions options,
                                          std::shared_ptr<const Router> router) {
  return std::make_unique<internal::BeastServer>(std::move(options), std::move(router));
}

}  // namespace weir::api
