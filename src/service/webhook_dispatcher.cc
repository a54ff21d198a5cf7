#include "service/webhook_dispatcher.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <thread>
#include <utility>

#include "fetch/http_client.h"

namespace weir::service {

namespace {

constexpr auto kIdlePoll = std::chrono::seconds(5);  // a backstop: events also wake the worker

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 0xf]);
  }
  return out;
}

Status CheckPeer(const fetch::IpAddress& a, const WebhookOptions& options) {
  std::string_view range = fetch::RestrictedRange(a);
  if (range.empty()) return Status::Ok();
  for (const fetch::IpNetwork& n : options.allowed_networks) {
    if (n.Contains(a)) return Status::Ok();
  }
  return PermissionDenied("address " + a.ToString() + " is " + std::string(range) +
                          ", refused by webhooks.allowed_networks");
}

}  // namespace

Millis WebhookBackoff(const WebhookOptions& options, int attempt) {
  Millis wait = options.backoff_initial;
  for (int i = 1; i < attempt && wait < options.backoff_max; ++i) wait *= 2;
  return std::min(wait, options.backoff_max);
}

std::string WebhookSignature(std::string_view secret, std::string_view timestamp,
                             std::string_view body) {
  std::string signed_text;
  signed_text.reserve(timestamp.size() + 1 + body.size());
  signed_text.append(timestamp).append(".").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &len);
  return "sha256=" + Hex(mac, len);
}

Status CheckWebhookUrl(std::string_view url, const WebhookOptions& options) {
  const std::string shown(url.substr(0, 200));
  size_t start = 0;
  if (url.rfind("http://", 0) == 0) {
    start = 7;
  } else if (url.rfind("https://", 0) == 0) {
    start = 8;
  } else {
    return InvalidArgument("url: '" + shown + "' is not an http:// or https:// URL");
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return InvalidArgument("url: '" + shown + "' holds white space or control characters");
    }
  }
  std::string_view authority = url.substr(start, url.find_first_of("/?#", start) - start);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return InvalidArgument("url: '" + shown + "' has no host");
    host = host.substr(1, close - 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) return InvalidArgument("url: '" + shown + "' has no host");
  Result<fetch::IpAddress> literal = host == "localhost" ? fetch::IpAddress::Parse("127.0.0.1")
                                                         : fetch::IpAddress::Parse(host, true);
  if (literal.ok()) {
    if (Status s = CheckPeer(*literal, options); !s.ok()) {
      return InvalidArgument("url: " + shown + ": " + s.message());
    }
  }
  return Status::Ok();
}

// One subscription's deliveries, on its own thread.
class WebhookDispatcher::Worker {
 public:
  Worker(store::WebhookRecord hook, WebhookDispatcher& d) : hook_(std::move(hook)), d_(d) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Worker() {
    Stop();
    if (thread_.joinable()) thread_.join();
  }
  void Stop() {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  bool done() const { return done_.load(); }
  const store::WebhookRecord& hook() const { return hook_; }
  // Makes the worker look at leadership and the log now.
  void Wake() {
    std::lock_guard lock(mu_);
    woken_ = true;
    cv_.notify_all();
  }
  void Redeliver(store::EventRecord e) {
    std::lock_guard lock(mu_);
    manual_.push_back(std::move(e));
    cv_.notify_all();
  }

 private:
  struct Attempt {
    int http_status = 0;
    std::string error;
    int64_t duration_ms = 0;
    bool ok = false;
  };

  Attempt Post(const store::EventRecord& e, int attempt) {
    const std::string body = EventJson(e);
    const std::string timestamp = std::to_string(ToEpochMillis(d_.clock_.Now()) / 1000);
    fetch::HttpRequest req;
    req.method = "POST";
    req.url = hook_.url;
    req.follow_redirects = false;
    req.body = body;
    req.headers = {{"Content-Type", "application/json"},
                   {"Weir-Event-Id", std::to_string(e.id)},
                   {"Weir-Event-Type", e.type},
                   {"Weir-Webhook-Id", hook_.id},
                   {"Weir-Delivery-Attempt", std::to_string(attempt)},
                   {"Weir-Timestamp", timestamp},
                   {"Weir-Signature", WebhookSignature(hook_.secret, timestamp, body)}};
    const WebhookOptions& o = d_.options_;
    req.peer_check = [&o](const sockaddr* addr, socklen_t len) -> Status {
      Result<fetch::IpAddress> a = fetch::IpAddress::FromSockaddr(addr, len);
      if (!a.ok()) return a.status();
      return CheckPeer(*a, o);
    };
    fetch::HttpOptions ho;
    ho.connect_timeout = o.timeout;
    ho.total_timeout = o.timeout;
    ho.low_speed_timeout = o.timeout;
    ho.max_redirects = 0;
    ho.user_agent = o.user_agent;
    const auto started = std::chrono::steady_clock::now();
    Result<fetch::HttpResponse> r = fetch::Perform(req, ho);
    Attempt out;
    out.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
    if (!r.ok()) {
      out.error = r.status().message();
    } else {
      out.http_status = r->status;
      out.ok = r->status >= 200 && r->status < 300;
      if (!out.ok) out.error = fetch::HttpStatusError(r->status, r->reason).message();
    }
    return out;
  }

  // Logs one attempt; false when the subscription is gone (the worker ends).
  bool Record(const store::EventRecord& e, int attempt, bool manual, TimePoint at, const Attempt& a,
              store::DeliveryOutcome outcome, std::optional<TimePoint> next, bool advance) {
    store::WebhookDelivery d;
    d.webhook_id = hook_.id;
    d.event_id = e.id;
    d.event_type = e.type;
    d.attempt = attempt;
    d.manual = manual;
    d.time = at;
    d.http_status = a.http_status;
    d.error = a.error;
    d.duration_ms = a.duration_ms;
    d.outcome = outcome;
    d.next_retry = next;
    Result<int64_t> id = d_.store_->RecordDelivery(d, advance);
    if (id.ok()) return true;
    if (id.status().code() == StatusCode::kNotFound) return false;
    spdlog::error("webhook '{}': recording delivery of event {} failed: {}", hook_.id, e.id,
                  id.status().message());
    return true;
  }

  void Run() {
    std::shared_ptr<EventHub::Subscription> sub = Subscribe();
    int64_t cursor = 0;    // set from the store whenever this worker starts leading
    bool leading = false;  // delivering the ordered stream (this server leads)
    std::optional<store::EventRecord> pending;
    int attempt = 0;
    auto due = std::chrono::steady_clock::now();
    for (;;) {
      std::deque<store::EventRecord> manual;
      {
        std::unique_lock lock(mu_);
        if (stop_) break;
        manual.swap(manual_);
      }
      bool gone = false;
      for (const store::EventRecord& e : manual) {
        const TimePoint at = d_.clock_.Now();
        Attempt a = Post(e, 1);
        if (!Record(e, 1, true, at, a,
                    a.ok ? store::DeliveryOutcome::kDelivered : store::DeliveryOutcome::kFailed,
                    std::nullopt, false)) {
          gone = true;
          break;
        }
      }
      if (gone) break;
      if (sub->overflowed()) sub = Subscribe();
      sub->Take();  // the log is read below; the feed only wakes us
      if (!d_.Leads()) {
        if (leading) {
          spdlog::info("webhook '{}': this server no longer leads; the leader delivers", hook_.id);
        }
        leading = false;
        pending.reset();  // the new leader retries it from the durable cursor
      } else if (!leading) {
        // Another server may have delivered meanwhile: go on after the durable cursor.
        Result<store::WebhookRecord> fresh = d_.store_->GetWebhook(hook_.id);
        if (fresh.ok()) {
          cursor = fresh->delivered_up_to;
          leading = true;
        } else if (fresh.status().code() == StatusCode::kNotFound) {
          break;
        } else {
          spdlog::error("webhook '{}': reading its cursor failed: {}", hook_.id,
                        fresh.status().message());
        }
      }
      if (leading && !pending) {
        auto next = d_.hub_->store().ReadEvents(cursor, hook_.filter, 1);
        if (!next.ok()) {
          spdlog::error("webhook '{}': reading the event log failed: {}", hook_.id,
                        next.status().message());
        } else if (!next->empty()) {
          pending = next->front();
          auto last = d_.store_->LastAttempt(hook_.id, pending->id);
          attempt = last.ok() ? *last : 0;
          due = std::chrono::steady_clock::now();
        }
      }
      const auto now = std::chrono::steady_clock::now();
      if (leading && pending && now >= due) {
        ++attempt;
        const TimePoint at = d_.clock_.Now();
        Attempt a = Post(*pending, attempt);
        const bool last = a.ok || attempt >= d_.options_.max_attempts;
        std::optional<TimePoint> next;
        const Millis wait = WebhookBackoff(d_.options_, attempt);
        if (!last) next = d_.clock_.Now() + wait;
        const auto outcome = a.ok   ? store::DeliveryOutcome::kDelivered
                             : last ? store::DeliveryOutcome::kFailed
                                    : store::DeliveryOutcome::kRetrying;
        if (!Record(*pending, attempt, false, at, a, outcome, next, last)) break;
        if (last) {
          if (!a.ok) {
            spdlog::warn("webhook '{}': event {} failed after {} attempts: {}", hook_.id,
                         pending->id, attempt, a.error);
          }
          cursor = pending->id;
          pending.reset();
          continue;  // the next event at once
        }
        due = std::chrono::steady_clock::now() + wait;
      }
      std::unique_lock lock(mu_);
      const auto until = leading && pending ? due : std::chrono::steady_clock::now() + kIdlePoll;
      cv_.wait_until(lock, until, [this] { return stop_ || woken_ || !manual_.empty(); });
      woken_ = false;
    }
    done_ = true;
  }

  std::shared_ptr<EventHub::Subscription> Subscribe() {
    auto sub = d_.hub_->Subscribe(hook_.filter);
    sub->SetWakeup([this] {
      std::lock_guard lock(mu_);
      woken_ = true;
      cv_.notify_all();
    });
    return sub;
  }

  const store::WebhookRecord hook_;
  WebhookDispatcher& d_;
  std::mutex mu_;  // never held while calling the store or the network
  std::condition_variable cv_;
  bool stop_ = false;                      // GUARDED_BY(mu_)
  bool woken_ = false;                     // GUARDED_BY(mu_)
  std::deque<store::EventRecord> manual_;  // GUARDED_BY(mu_)
  std::atomic<bool> done_{false};
  std::thread thread_;
};

WebhookDispatcher::WebhookDispatcher(std::shared_ptr<store::WebhookStore> store,
                                     std::shared_ptr<EventHub> hub, WebhookOptions options,
                                     Clock& clock)
    : store_(std::move(store)), hub_(std::move(hub)), options_(std::move(options)), clock_(clock) {}

Result<std::unique_ptr<WebhookDispatcher>> WebhookDispatcher::Start(
    std::shared_ptr<store::WebhookStore> store, std::shared_ptr<EventHub> hub,
    WebhookOptions options, Clock& clock) {
  std::unique_ptr<WebhookDispatcher> d(
      new WebhookDispatcher(std::move(store), std::move(hub), std::move(options), clock));
  WEIR_ASSIGN_OR_RETURN(std::vector<store::WebhookRecord> hooks, d->store_->ListWebhooks());
  d->led_ = d->Leads();
  std::lock_guard lock(d->mu_);
  for (store::WebhookRecord& h : hooks) {
    if (!h.enabled) continue;
    std::string id = h.id;
    d->workers_[id] = std::make_unique<Worker>(std::move(h), *d);
  }
  d->sync_thread_ = std::thread([p = d.get()] { p->SyncLoop(); });
  return d;
}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

void WebhookDispatcher::SyncLoop() {
  std::unique_lock lock(mu_);
  while (!stopped_) {
    stop_cv_.wait_for(lock, options_.sync_interval, [this] { return stopped_; });
    if (stopped_) break;
    lock.unlock();
    Sync();
    lock.lock();
  }
}

void WebhookDispatcher::Sync() {
  const bool leads = Leads();
  Result<std::vector<store::WebhookRecord>> hooks = store_->ListWebhooks();
  if (!hooks.ok()) {
    spdlog::error("webhooks: reading the subscriptions failed: {}", hooks.status().message());
  }
  std::lock_guard lock(mu_);
  if (stopped_) return;
  ReapLocked();
  if (hooks.ok()) {
    std::map<std::string, const store::WebhookRecord*> stored;
    for (const store::WebhookRecord& h : *hooks) {
      if (h.enabled) stored[h.id] = &h;
    }
    // Gone, disabled, or removed and stored again under the same id: the worker ends.
    for (auto it = workers_.begin(); it != workers_.end();) {
      auto found = stored.find(it->first);
      const store::WebhookRecord& had = it->second->hook();
      if (found == stored.end() || found->second->created != had.created ||
          found->second->url != had.url || found->second->secret != had.secret) {
        it->second->Stop();
        retired_.push_back(std::move(it->second));
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [id, h] : stored) {
      if (!workers_.count(id)) workers_[id] = std::make_unique<Worker>(*h, *this);
    }
  }
  if (leads != led_) {
    spdlog::info("webhooks: this server {} the deliveries",
                 leads ? "now makes" : "no longer makes");
    for (auto& [id, w] : workers_) w->Wake();
    led_ = leads;
  }
}

void WebhookDispatcher::ReapLocked() {
  std::erase_if(retired_, [](const std::unique_ptr<Worker>& w) { return w->done(); });
}

Status WebhookDispatcher::Added(const std::string& webhook_id) {
  WEIR_ASSIGN_OR_RETURN(store::WebhookRecord h, store_->GetWebhook(webhook_id));
  std::lock_guard lock(mu_);
  ReapLocked();
  if (stopped_ || !h.enabled || workers_.count(webhook_id)) return Status::Ok();
  workers_[webhook_id] = std::make_unique<Worker>(std::move(h), *this);
  return Status::Ok();
}

void WebhookDispatcher::Removed(const std::string& webhook_id) {
  std::lock_guard lock(mu_);
  ReapLocked();
  auto it = workers_.find(webhook_id);
  if (it == workers_.end()) return;
  it->second->Stop();  // joined later, so the caller never waits for a request in flight
  retired_.push_back(std::move(it->second));
  workers_.erase(it);
}

Status WebhookDispatcher::Redeliver(const std::string& webhook_id, int64_t delivery_id) {
  WEIR_ASSIGN_OR_RETURN(store::WebhookDelivery d, store_->GetDelivery(webhook_id, delivery_id));
  WEIR_ASSIGN_OR_RETURN(std::vector<store::EventRecord> events,
                        hub_->store().ReadEvents(d.event_id - 1, store::EventFilter{}, 1));
  if (events.empty() || events.front().id != d.event_id) {
    return FailedPrecondition("webhook '" + webhook_id + "': event " + std::to_string(d.event_id) +
                              " is no longer in the event log (events.retention_days, "
                              "events.max_events)");
  }
  // Stored through another server since the last sync: its worker starts now.
  WEIR_RETURN_IF_ERROR(Added(webhook_id));
  std::lock_guard lock(mu_);
  auto it = workers_.find(webhook_id);
  if (it == workers_.end()) {
    return FailedPrecondition("webhook '" + webhook_id + "': disabled; nothing is delivered");
  }
  it->second->Redeliver(std::move(events.front()));
  return Status::Ok();
}

void WebhookDispatcher::Stop() {
  std::map<std::string, std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<Worker>> retired;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    workers.swap(workers_);
    retired.swap(retired_);
  }
  stop_cv_.notify_all();
  if (sync_thread_.joinable() && sync_thread_.get_id() != std::this_thread::get_id()) {
    sync_thread_.join();
  }
  for (auto& [id, w] : workers) w->Stop();
  for (auto& w : retired) w->Stop();
  // The destructors join.
}

}  // namespace weir::service
