// The CLI side of the event stream (GET /api/weir/v1/events): `weir events tail`, and the
// watcher that lets `--wait` sleep until something changes instead of polling on a timer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/http_client.h"
#include "client/sse.h"

namespace weir::cli {

// Follows the events matching `query` ("jobId=ID", "grouping=G", URL-encoded) on its own
// connection and thread, reconnecting with Last-Event-ID when the stream ends (a `resume` event,
// a restarted server). Waiters are woken by each event. When the stream cannot be opened (an
// older server without the route, say) the watcher is `failed()` and callers poll as before.
class EventWatcher {
 public:
  // Starts the stream and waits (at most `open_timeout`) until the server has accepted it, so
  // every change after the constructor returns wakes a waiter.
  // With `keep_events` every event received is also kept, in order, for TakeEvents().
  EventWatcher(const client::HttpClient& http, std::string query,
               std::chrono::milliseconds open_timeout = std::chrono::seconds(3),
               bool keep_events = false);
  ~EventWatcher();
  EventWatcher(const EventWatcher&) = delete;
  EventWatcher& operator=(const EventWatcher&) = delete;

  // Waits until an event came since the previous call (true), or `timeout` passed, or the
  // stream failed (false).
  bool WaitForEvent(std::chrono::milliseconds timeout);
  bool failed();
  // The events kept since the previous call (only with keep_events), oldest first.
  std::vector<client::SseEvent> TakeEvents();

 private:
  void Run();

  std::string base_url_;
  client::ClientOptions client_options_;
  std::string query_;
  const bool keep_events_;
  client::StreamCancel cancel_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;                   // GUARDED_BY(mu_)
  bool failed_ = false;                 // GUARDED_BY(mu_)
  bool stopping_ = false;               // GUARDED_BY(mu_)
  uint64_t seen_ = 0;                   // GUARDED_BY(mu_) events received
  uint64_t consumed_ = 0;               // GUARDED_BY(mu_) events a WaitForEvent returned for
  std::vector<client::SseEvent> kept_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace weir::cli
