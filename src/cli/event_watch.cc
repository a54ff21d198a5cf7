#include "cli/event_watch.h"

#include <utility>

namespace weir::cli {

EventWatcher::EventWatcher(const client::HttpClient& http, std::string query,
                           std::chrono::milliseconds open_timeout, bool keep_events)
    : base_url_(http.base_url()),
      client_options_(http.options()),
      query_(std::move(query)),
      keep_events_(keep_events) {
  thread_ = std::thread([this] { Run(); });
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, open_timeout, [this] { return open_ || failed_; })) failed_ = true;
}

EventWatcher::~EventWatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cancel_.Cancel();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool EventWatcher::failed() {
  std::lock_guard lock(mu_);
  return failed_;
}

std::vector<client::SseEvent> EventWatcher::TakeEvents() {
  std::lock_guard lock(mu_);
  std::vector<client::SseEvent> out;
  out.swap(kept_);
  return out;
}

bool EventWatcher::WaitForEvent(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return seen_ > consumed_ || failed_ || stopping_; });
  if (seen_ > consumed_) {
    consumed_ = seen_;
    return true;
  }
  return false;
}

void EventWatcher::Run() {
  client::HttpClient http(base_url_, client_options_);
  client::SseParser parser;
  auto delay = std::chrono::milliseconds(100);
  int failures = 0;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    client::Headers headers;
    if (!parser.last_id().empty()) headers.emplace_back("Last-Event-ID", parser.last_id());
    bool got_bytes = false;
    auto r = http.StreamGet(
        "/api/weir/v1/events?" + query_, headers,
        [&](std::string_view bytes) {
          if (!got_bytes) {
            got_bytes = true;
            std::lock_guard lock(mu_);
            open_ = true;
            cv_.notify_all();
          }
          parser.Feed(bytes, [&](const client::SseEvent& e) {
            if (e.event == "resume" || e.event == "error") return;
            std::lock_guard lock(mu_);
            if (keep_events_) kept_.push_back(e);
            ++seen_;
            cv_.notify_all();
          });
          return true;
        },
        &cancel_);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      // A server without the route, or refusing us: polling it is.
      const bool refused = r.ok() && (r->status < 200 || r->status >= 300);
      failures = got_bytes ? 0 : failures + 1;
      if (refused || (!open_ && failures >= 3)) {
        failed_ = true;
        cv_.notify_all();
        return;
      }
    }
    // The stream ended (told to resume, or the server went away): reconnect after a pause.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, delay, [this] { return stopping_; });
    delay = got_bytes ? std::chrono::milliseconds(100)
                      : std::min(delay * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace weir::cli
