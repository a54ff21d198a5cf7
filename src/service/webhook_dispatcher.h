// Webhook delivery (issue 13; docs/api.md "Webhooks"): the events of the log that match a
// subscription (store.h WebhookRecord) are POSTed to its URL, one at a time in id order.
//
// Each enabled subscription has its own worker thread, so a slow or failing receiver holds up
// nobody else: not job handling (the store hands events to the hub and returns; workers read
// the log themselves) and not the other subscriptions. A worker reads the first matching event
// after the subscription's durable cursor (WebhookRecord::delivered_up_to), POSTs it, and
// records the attempt in the delivery log. A 2xx answer delivers it; anything else (an error
// status, a refused connection, a timeout) is retried after an exponential backoff
// (backoff_initial, doubling, capped at backoff_max) until max_attempts attempts were made, when
// the event is logged as failed. Either way the cursor moves past the event in the same store
// transaction as the log row, so a restart neither loses an event nor sends the ones already
// settled again: at least once, in order. (The one event in flight when the server stops is
// sent again after the restart; its attempt count goes on from the log.)
//
// Each request carries
//   Content-Type: application/json   the event as the SSE route sends it (EventJson)
//   Weir-Event-Id, Weir-Event-Type, Weir-Webhook-Id, Weir-Delivery-Attempt
//   Weir-Timestamp: unix seconds
//   Weir-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
// Redirects are not followed. Connections to loopback, link-local, private and other
// restricted addresses (fetch/perimeter.h RestrictedRange) are refused unless the address lies
// in one of `allowed_networks` (webhooks.allowed_networks), checked on every connection.
//
// Many servers on one database (docs/scaling.md): every server keeps a worker per enabled
// subscription (a sync thread re-reads the subscriptions every `sync_interval`, so one added or
// removed through another server is picked up), but only the server for which `is_leader`
// returns true delivers the ordered streams: each event is delivered once per subscription for
// the whole cluster, not once per server. A worker that becomes leader re-reads its
// subscription's durable cursor and goes on after it; one that stops leading drops the event it
// was retrying. An attempt in flight when leadership moves may be repeated by the new leader:
// at least once stays the contract. Redeliveries by hand are sent by the server that was asked.
//
// Thread-safe. Stop() (or the destructor) ends every worker; a request in flight finishes
// first (at most `timeout`).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "fetch/perimeter.h"
#include "service/event_hub.h"
#include "store/store.h"

namespace weir::service {

struct WebhookOptions {
  int max_attempts = 8;          // webhooks.max_attempts
  Millis backoff_initial{1000};  // webhooks.backoff_initial_ms
  Millis backoff_max{600'000};   // webhooks.backoff_max_seconds
  Millis timeout{10'000};        // webhooks.timeout_seconds: connect + whole request
  std::vector<fetch::IpNetwork> allowed_networks;  // webhooks.allowed_networks
  std::string user_agent = "weir-webhooks";
  // Whether this server delivers the ordered streams now (cluster::Leadership::IsLeader); null:
  // always (a single server). Called often; must be cheap and must not block.
  std::function<bool()> is_leader;
  // How often every server re-reads the subscriptions and leadership (a change of leader or a
  // subscription stored by another server is acted on within it).
  Millis sync_interval{2000};
};

// The wait after failed attempt `attempt` (1-based) before the next one:
// backoff_initial * 2^(attempt-1), at most backoff_max.
Millis WebhookBackoff(const WebhookOptions& options, int attempt);

// "sha256=" + lower-case hex HMAC-SHA256(secret, timestamp + "." + body).
std::string WebhookSignature(std::string_view secret, std::string_view timestamp,
                             std::string_view body);

// A subscription URL must be http:// or https:// with a host, no white space or control
// characters, and (when the host is a literal address or "localhost") not in a restricted range
// outside allowed_networks. kInvalidArgument ("url: ...") otherwise.
Status CheckWebhookUrl(std::string_view url, const WebhookOptions& options);

class WebhookDispatcher {
 public:
  // Starts a worker for every enabled subscription in `store`, and the sync thread.
  static Result<std::unique_ptr<WebhookDispatcher>> Start(
      std::shared_ptr<store::WebhookStore> store, std::shared_ptr<EventHub> hub,
      WebhookOptions options, Clock& clock);
  ~WebhookDispatcher();
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // A subscription was stored: starts its worker (when enabled).
  Status Added(const std::string& webhook_id);
  // A subscription was removed: its worker ends (after a request in flight).
  void Removed(const std::string& webhook_id);
  // Sends the event of delivery `delivery_id` again, once, outside the ordered stream (logged
  // with manual set; the cursor does not move), from this server whether or not it leads.
  // Asynchronous: the attempt appears in the log.
  // kNotFound for an unknown webhook or delivery, kFailedPrecondition when the event was
  // pruned from the log or the subscription is disabled.
  Status Redeliver(const std::string& webhook_id, int64_t delivery_id);
  void Stop();

 private:
  class Worker;
  WebhookDispatcher(std::shared_ptr<store::WebhookStore> store, std::shared_ptr<EventHub> hub,
                    WebhookOptions options, Clock& clock);
  void ReapLocked();  // REQUIRES: mu_ held
  bool Leads() const { return !options_.is_leader || options_.is_leader(); }
  // Brings the workers in line with the stored subscriptions; wakes them all when leadership
  // changed since the last call.
  void Sync();
  void SyncLoop();

  std::shared_ptr<store::WebhookStore> store_;
  std::shared_ptr<EventHub> hub_;
  const WebhookOptions options_;
  Clock& clock_;
  std::mutex mu_;
  bool stopped_ = false;                                    // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<Worker>> workers_;  // GUARDED_BY(mu_)
  std::vector<std::unique_ptr<Worker>> retired_;            // GUARDED_BY(mu_)
  std::condition_variable stop_cv_;                         // signalled by Stop()
  bool led_ = false;  // Sync(): whether this server led at the last sync (sync thread only)
  std::thread sync_thread_;
};

}  // namespace weir::service
