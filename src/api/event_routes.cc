#include "api/event_routes.h"

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>

namespace weir::api {

namespace {

constexpr int kBacklogPage = 500;

// One subscriber's stream: the stored events after `after` (read a page per call, so a long
// backlog never holds a pool thread for long), then the hub's live feed.
class EventStream final : public ResponseStream {
 public:
  EventStream(std::shared_ptr<service::EventHub> hub, store::EventFilter filter, int64_t after,
              std::chrono::milliseconds heartbeat, bool follow)
      : hub_(std::move(hub)),
        filter_(filter),
        sent_(after),
        heartbeat_(heartbeat),
        follow_(follow) {
    sub_ = hub_->Subscribe(std::move(filter));
    // Not following: the log is read (and the stream ended) even when nothing is in it.
    backlog_done_ = follow_ && sent_ >= sub_->start_id();
  }

  void Start(std::function<void()> wake) override { sub_->SetWakeup(std::move(wake)); }

  std::string Next(bool& done) override {
    std::string out;
    if (!opened_) {
      // The first bytes: the reconnection delay, and a comment so the client sees the stream open.
      out = "retry: 1000\n: events after " + std::to_string(sent_) + "\n\n";
      opened_ = true;
    }
    if (!backlog_done_) {
      auto page = hub_->store().ReadEvents(sent_, filter_, kBacklogPage);
      if (!page.ok()) {
        out += "event: error\ndata: " + Escape(page.status().message()) + "\n\n";
        done = true;
        return out;
      }
      bool past_start = page->size() < static_cast<size_t>(kBacklogPage);
      for (const store::EventRecord& e : *page) {
        if (e.id > sub_->start_id()) {
          past_start = true;  // the live feed has it
          break;
        }
        Append(out, e);
      }
      if (past_start) {
        backlog_done_ = true;
        sent_ = std::max(sent_, sub_->start_id());
        if (!follow_) {
          done = true;
          return out;
        }
      } else {
        last_write_ = std::chrono::steady_clock::now();
        return out.empty() ? ": catching up\n\n" : out;
      }
    }
    for (const store::EventRecord& e : sub_->Take()) {
      if (e.id > sent_) Append(out, e);
    }
    if (sub_->overflowed()) {
      // Everything buffered went out above; what came after was dropped.
      out += "event: resume\ndata: {\"lastEventId\":" + std::to_string(sent_) +
             ",\"reason\":\"the subscriber fell behind; reconnect with Last-Event-ID\"}\n\n";
      done = true;
      return out;
    }
    const auto now = std::chrono::steady_clock::now();
    if (out.empty() && now - last_write_ >= heartbeat_) out = ": heartbeat\n\n";
    if (!out.empty()) last_write_ = now;
    return out;
  }

  std::chrono::milliseconds idle_interval() const override {
    return backlog_done_ ? heartbeat_ : std::chrono::milliseconds(0);
  }

 private:
  void Append(std::string& out, const store::EventRecord& e) {
    out += "id: " + std::to_string(e.id) + "\nevent: " + e.type +
           "\ndata: " + service::EventJson(e) + "\n\n";
    sent_ = e.id;
  }
  static std::string Escape(std::string s) {
    for (char& c : s) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return s;
  }

  std::shared_ptr<service::EventHub> hub_;
  store::EventFilter filter_;
  std::shared_ptr<service::EventHub::Subscription> sub_;
  int64_t sent_;
  std::chrono::milliseconds heartbeat_;
  const bool follow_;
  bool opened_ = false;
  bool backlog_done_ = false;
  std::chrono::steady_clock::time_point last_write_ = std::chrono::steady_clock::now();
};

void SplitInto(const std::string& v, std::vector<std::string>& out) {
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    if (comma > start) out.push_back(v.substr(start, comma - start));
    start = comma + 1;
  }
}

Result<int64_t> ParseLastId(const std::string& v) {
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || errno != 0 || end == nullptr || *end != '\0' || n < 0) {
    return InvalidArgument("events: Last-Event-ID '" + v.substr(0, 40) +
                           "' is not an event id (a number ≥ 0)");
  }
  return static_cast<int64_t>(n);
}

}  // namespace

void RegisterEventRoutes(Router& router, std::shared_ptr<service::EventHub> hub,
                         EventRouteOptions options) {
  router.Add("GET", "/api/weir/v1/events", [hub, options](HttpRequest& req) {
    store::EventFilter f;
    for (const std::string& t : req.QueryAll("type")) SplitInto(t, f.types);
    f.job_id = req.Query("jobId");
    f.user = req.Query("user");
    f.grouping = req.Query("grouping");
    f.workflow = req.Query("workflow");
    const bool follow = req.Query("follow").value_or("true") != "false";
    std::optional<std::string> last = req.Header("last-event-id");
    if (!last) last = req.Query("lastEventId");
    // Without an id: the next event (following), or the whole log (follow=false).
    int64_t after = follow ? hub->last_id() : 0;
    if (last) {
      Result<int64_t> id = ParseLastId(*last);
      if (!id.ok()) return ErrorResponse(id.status(), req);
      after = *id;
    }
    HttpResponse r;
    r.status = 200;
    r.SetHeader("Content-Type", "text/event-stream");
    r.SetHeader("Cache-Control", "no-cache");
    r.SetHeader("X-Accel-Buffering", "no");
    r.stream = std::make_shared<EventStream>(hub, std::move(f), after, options.heartbeat, follow);
    return r;
  });
}

}  // namespace weir::api
