// The Beast server's streamed responses: a ResponseStream (http.h, e.g. the SSE event streams)
// written as chunks while the stream produces them.
#include "api/http_server_internal.h"

namespace weir::api::internal {

// Writes a ResponseStream (see http.h): the head, then each piece Next() returns as a chunk,
// waiting between calls on a timer that `wake` cancels. Returns false (the connection closes).
template <class S>
asio::awaitable<bool> WriteStreamResponse(S& s, HttpResponse& resp, unsigned version, bool head) {
  std::shared_ptr<ResponseStream> stream = std::move(resp.stream);
  http::response<http::buffer_body> res;
  res.version(version);
  res.result(SafeStatus(resp.status));
  ApplyHeaders(res, resp);
  res.keep_alive(false);
  if (version >= 11) res.chunked(true);
  res.body().data = nullptr;
  res.body().more = !head;
  http::response_serializer<http::buffer_body> sr{res};
  s.tcp().expires_after(kIoTimeout);
  {
    auto [ec, n] = co_await http::async_write_header(s.stream, sr, kTok);
    if (ec || head) co_return false;
  }
  struct Wakeup {
    explicit Wakeup(asio::any_io_executor ex) : timer(std::make_shared<asio::steady_timer>(ex)) {}
    std::shared_ptr<asio::steady_timer> timer;
    std::atomic<bool> pending{true};
  };
  auto wakeup = std::make_shared<Wakeup>(s.tcp().get_executor());
  s.stream_timer = wakeup->timer;
  std::weak_ptr<Wakeup> weak = wakeup;
  stream->Start([weak] {
    if (auto w = weak.lock()) {
      w->pending.store(true);
      asio::post(w->timer->get_executor(), [w] { w->timer->cancel(); });
    }
  });
  bool ok = true;
  std::string bytes;
  while (ok && !s.server->stopping()) {
    wakeup->pending.store(false);
    bool done = false;
    bytes = co_await OnPool(*s.server, [&stream, &done] { return stream->Next(done); });
    if (!bytes.empty()) {
      res.body().data = bytes.data();
      res.body().size = bytes.size();
      res.body().more = true;
      s.tcp().expires_after(kIoTimeout);
      auto [ec, n] = co_await http::async_write(s.stream, sr, kTok);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) ok = false;
    }
    if (done || !ok || s.server->stopping()) break;
    if (bytes.empty() && !wakeup->pending.load()) {
      wakeup->timer->expires_after(stream->idle_interval());
      co_await wakeup->timer->async_wait(kTok);
    }
  }
  s.stream_timer.reset();
  if (ok) {
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    s.tcp().expires_after(std::chrono::seconds(5));
    co_await http::async_write(s.stream, sr, kTok);
  }
  co_return false;
}

template asio::awaitable<bool> WriteStreamResponse(PlainSession& s, HttpResponse& resp,
                                                   unsigned version, bool head);
template asio::awaitable<bool> WriteStreamResponse(TlsSession& s, HttpResponse& resp,
                                                   unsigned version, bool head);

}  // namespace weir::api::internal
