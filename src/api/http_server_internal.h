// Private to src/api: the Beast HTTP/1.1 server's connection and server types, shared by
// http_server.cc (connections, requests, responses), http_tls.cc (TLS) and http_stream.cc (the
// streamed responses of a ResponseStream, e.g. SSE). Only these files include Boost.Beast.
#pragma once

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "api/http.h"
#include "common/ids.h"

namespace weir::api::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr auto kIdleTimeout = std::chrono::seconds(60);  // keep-alive wait for the next request
constexpr auto kIoTimeout = std::chrono::seconds(60);    // per read/write of a request in progress
constexpr auto kStopGrace = std::chrono::seconds(10);    // Stop() waits this long for responses
constexpr size_t kFileChunk = 64 * 1024;
constexpr size_t kLingerMaxBytes = 4 * 1024 * 1024;
constexpr size_t kFirstRead = 4096;
constexpr int kMaxRejecting = 256;  // refused connections being answered 503 at once; more: closed

class BeastServer;

// What a connection keeps, whatever its stream; the server tracks connections by this base.
struct SessionBase {
  SessionBase(BeastServer* s, std::string peer_address)
      : server(s), peer(std::move(peer_address)) {}
  virtual ~SessionBase();
  // The TCP layer (deadlines, shutdown, close), under TLS when there is TLS.
  virtual beast::tcp_stream& tcp() = 0;

  BeastServer* server;
  beast::flat_buffer buffer;
  bool idle = true;  // waiting for a new request; only touched on the session's executor
  const std::string peer;
  std::string client_subject;  // of the verified client certificate (TLS only)
  HttpRequest req;             // reused from request to request (keeps capacity)
  std::vector<std::string> segments;
  std::unique_ptr<char[]> chunk;
  // Set while a ResponseStream is written: Stop() cancels it to end the stream.
  std::shared_ptr<asio::steady_timer> stream_timer;
};

// A connection over `Stream`: beast::tcp_stream (plain HTTP) or an ssl_stream over it (HTTPS).
// The request functions below are templates over the session type, so each has one copy per
// transport and plain HTTP pays nothing for TLS.
template <class Stream>
struct Session final : SessionBase {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  template <class... Args>
  Session(BeastServer* s, std::string peer_address, Args&&... stream_args)
      : SessionBase(s, std::move(peer_address)), stream(std::forward<Args>(stream_args)...) {}
  beast::tcp_stream& tcp() override { return beast::get_lowest_layer(stream); }

  Stream stream;
};
using PlainSession = Session<beast::tcp_stream>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>>;

class BeastServer final : public HttpServer {
 public:
  BeastServer(HttpServerOptions options, std::shared_ptr<const Router> router)
      : options_(std::move(options)),
        router_(std::move(router)),
        ioc_(options_.threads > 0 ? options_.threads : 1),
        acceptor_(options_.threads > 1 ? asio::any_io_executor(asio::make_strand(ioc_))
                                       : asio::any_io_executor(ioc_.get_executor())) {
    if (options_.threads < 1) options_.threads = 1;
    if (options_.handler_threads < 1) {
      options_.handler_threads =
          std::max(4, 2 * static_cast<int>(std::thread::hardware_concurrency()));
    }
    if (options_.max_connections < 1) options_.max_connections = 1;
    if (options_.max_connections_per_client < 1) options_.max_connections_per_client = 1;
    pool_ = std::make_unique<asio::thread_pool>(static_cast<size_t>(options_.handler_threads));
    if (options_.spool_dir.empty()) {
      std::error_code ec;
      options_.spool_dir = std::filesystem::temp_directory_path(ec);
      if (ec) options_.spool_dir = "/tmp";
    }
  }
  ~BeastServer() override { Stop(); }

  Status Start() override;
  void Stop() override;
  uint16_t port() const override { return port_; }

  const HttpServerOptions& options() const { return options_; }
  const Router& router() const { return *router_; }
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }

  asio::thread_pool::executor_type pool() { return pool_->get_executor(); }
  // The TLS context when options().tls is enabled (after Start()), else null.
  asio::ssl::context* ssl_context() { return ssl_ctx_.get(); }

  // Counts a new connection from `peer` unless a cap is reached; then returns the message of the
  // 503 answer instead.
  std::optional<std::string> Admit(const std::string& peer) {
    std::lock_guard<std::mutex> lock(mu_);
    if (open_connections_ >= options_.max_connections) {
      return "server: " + std::to_string(open_connections_) +
             " connections are open, the limit (server.max_connections) is " +
             std::to_string(options_.max_connections) + "; retry later";
    }
    int& mine = per_client_[peer];
    if (mine >= options_.max_connections_per_client) {
      return "server: client " + peer + " has " + std::to_string(mine) +
             " connections open, the limit (server.max_connections_per_client) is " +
             std::to_string(options_.max_connections_per_client) +
             "; reuse connections or close idle ones";
    }
    ++mine;
    ++open_connections_;
    return std::nullopt;
  }
  void Register(const std::shared_ptr<SessionBase>& s) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_[s.get()] = s;
  }
  void Unregister(SessionBase* s) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(s);
    --open_connections_;
    auto it = per_client_.find(s->peer);
    if (it != per_client_.end() && --it->second <= 0) per_client_.erase(it);
    if (sessions_.empty()) cv_.notify_all();
  }
  bool TryStartRejecting() {
    if (rejecting_.fetch_add(1) >= kMaxRejecting) {
      rejecting_.fetch_sub(1);
      return false;
    }
    return true;
  }
  void DoneRejecting() { rejecting_.fetch_sub(1); }
  std::filesystem::path NewSpoolPath() {
    return options_.spool_dir /
           ("weir-body-" + std::to_string(spool_counter_.fetch_add(1)) + "-" + NewUuid());
  }

 private:
  asio::awaitable<void> AcceptLoop();
  // Builds ssl_ctx_ from options_.tls (see HttpTlsOptions for the policy).
  Status LoadTls();

  HttpServerOptions options_;
  std::shared_ptr<const Router> router_;
  // Declared before ioc_ so that sessions destroyed with the io_context can still unregister.
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_;
  int open_connections_ = 0;                         // guarded by mu_
  std::unordered_map<std::string, int> per_client_;  // guarded by mu_
  std::atomic<int> rejecting_{0};
  bool accepting_ = false;  // guarded by mu_
  std::atomic<uint64_t> spool_counter_{0};
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  bool stopped_ = false;
  uint16_t port_ = 0;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::unique_ptr<asio::thread_pool> pool_;      // handlers and file reads; joined by Stop()
  std::unique_ptr<asio::ssl::context> ssl_ctx_;  // set by Start() when TLS is on; then read-only
};

// Runs `f` on the handler pool; the calling coroutine resumes on its own executor with the
// result. `f` must not throw.
template <class F>
asio::awaitable<std::invoke_result_t<F&>> OnPool(BeastServer& srv, F f) {
  using R = std::invoke_result_t<F&>;
  // co_spawn needs a default-constructible result (Result<T> is not): carry it in an optional.
  std::optional<R> r = co_await asio::co_spawn(
      srv.pool(),
      [f = std::move(f)]() mutable -> asio::awaitable<std::optional<R>> {
        co_return std::optional<R>(f());
      },
      asio::use_awaitable);
  co_return std::move(*r);
}

// Header values without CR, LF or NUL (they could split the header).
std::string CleanHeaderValue(std::string v);
// A character allowed in a header name (RFC 9110 token).
bool IsTokenChar(char c);

template <class Body>
void ApplyHeaders(http::response<Body>& res, HttpResponse& resp) {
  for (auto& [name, value] : resp.headers) {
    bool ok = !name.empty();
    for (char c : name) ok = ok && IsTokenChar(c);
    if (!ok) continue;
    res.set(name, CleanHeaderValue(std::move(value)));
  }
}

// `status` when it is a valid HTTP status, else 500.
unsigned SafeStatus(int status);

// Writes a ResponseStream (see http.h): the head, then each piece Next() returns as a chunk,
// waiting between calls on a timer that `wake` cancels. Returns false (the connection closes).
template <class S>
asio::awaitable<bool> WriteStreamResponse(S& s, HttpResponse& resp, unsigned version, bool head);

// The TLS handshake, within the handshake deadline. False when it failed (a plain HTTP request,
// an old protocol, no common cipher, a missing or untrusted client certificate) or took too long.
asio::awaitable<bool> Handshake(TlsSession& s);

}  // namespace weir::api::internal
