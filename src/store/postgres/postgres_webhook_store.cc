#include "store/postgres/postgres_webhook_store.h"

#include <algorithm>
#include <utility>

#include "store/postgres/schema.h"
#include "store/webhook_codec.h"

namespace weir::store::postgres {
namespace {

constexpr const char* kWebhookColumns =
    "SELECT id, url, filter, secret, enabled, created, delivered_up_to FROM webhooks";

Result<WebhookRecord> ReadWebhook(const Rows& r, int i) {
  WebhookRecord w;
  w.id = r.String(i, 0);
  w.url = r.String(i, 1);
  WEIR_ASSIGN_OR_RETURN(w.filter, ParseWebhookFilter(r.Text(i, 2)));
  w.secret = r.String(i, 3);
  w.enabled = r.Int(i, 4) != 0;
  w.created = FromEpochMillis(r.Int(i, 5));
  w.delivered_up_to = r.Int(i, 6);
  return w;
}

constexpr const char* kDeliveryColumns =
    "SELECT id, webhook_id, event_id, event_type, attempt, manual, time, http_status, error, "
    "duration_ms, outcome, next_retry FROM webhook_deliveries";

Result<WebhookDelivery> ReadDelivery(const Rows& r, int i) {
  WebhookDelivery d;
  d.id = r.Int(i, 0);
  d.webhook_id = r.String(i, 1);
  d.event_id = r.Int(i, 2);
  d.event_type = r.String(i, 3);
  d.attempt = static_cast<int>(r.Int(i, 4));
  d.manual = r.Int(i, 5) != 0;
  d.time = FromEpochMillis(r.Int(i, 6));
  d.http_status = static_cast<int>(r.Int(i, 7));
  d.error = r.String(i, 8);
  d.duration_ms = r.Int(i, 9);
  WEIR_ASSIGN_OR_RETURN(d.outcome, ParseDeliveryOutcome(r.Text(i, 10)));
  if (std::optional<int64_t> next = r.OptInt(i, 11)) d.next_retry = FromEpochMillis(*next);
  return d;
}

// kNotFound unless subscription `id` exists (read on `c`; FOR SHARE inside a transaction keeps
// it from being removed before the transaction ends).
Status RequireWebhook(Connection& c, const std::string& id, bool lock) {
  Params p;
  p.Add(id);
  WEIR_ASSIGN_OR_RETURN(Rows r, c.Exec(lock ? "SELECT 1 FROM webhooks WHERE id = $1 FOR SHARE"
                                            : "SELECT 1 FROM webhooks WHERE id = $1",
                                       p));
  if (r.size() == 0) return WebhookNotFound(id);
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<PostgresWebhookStore>> PostgresWebhookStore::Open(
    const std::string& url, const std::string& password, int pool_size) {
  auto pool = std::make_unique<Pool>(url, password, std::max(1, pool_size), 10);
  {
    WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool->Acquire());
    WEIR_ASSIGN_OR_RETURN(int64_t version, ReadVersion(*c));
    if (version != kSchemaVersion) {
      return FailedPrecondition("postgresql '" + RedactUrl(url) + "': schema version " +
                                std::to_string(version) + ", this weir needs " +
                                std::to_string(kSchemaVersion) + "; run `weir db migrate`");
    }
  }
  return std::shared_ptr<PostgresWebhookStore>(new PostgresWebhookStore(std::move(pool)));
}

Status PostgresWebhookStore::CreateWebhook(const WebhookRecord& w) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  Params p;
  p.Add(w.id)
      .Add(w.url)
      .Add(WebhookFilterJson(w.filter))
      .Add(w.secret)
      .Add(int64_t{w.enabled ? 1 : 0})
      .Add(ToEpochMillis(w.created))
      .Add(w.delivered_up_to);
  Result<Rows> r = c->Exec(
      "INSERT INTO webhooks(id, url, filter, secret, enabled, created, delivered_up_to) VALUES "
      "($1, $2, $3, $4, $5, $6, $7)",
      p);
  if (!r.ok() && c->last_sqlstate() == "23505") {
    return AlreadyExists("webhook '" + w.id + "': already exists; choose another id");
  }
  return r.status();
}

Result<WebhookRecord> PostgresWebhookStore::GetWebhook(const std::string& id) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  Params p;
  p.Add(id);
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec(std::string(kWebhookColumns) + " WHERE id = $1", p));
  if (r.size() == 0) return WebhookNotFound(id);
  return ReadWebhook(r, 0);
}

Result<std::vector<WebhookRecord>> PostgresWebhookStore::ListWebhooks() {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec(std::string(kWebhookColumns) + " ORDER BY seq"));
  std::vector<WebhookRecord> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    WEIR_ASSIGN_OR_RETURN(WebhookRecord w, ReadWebhook(r, i));
    out.push_back(std::move(w));
  }
  return out;
}

Status PostgresWebhookStore::DeleteWebhook(const std::string& id) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  Params p;
  p.Add(id);
  // The delivery log goes with it (ON DELETE CASCADE), in the same statement.
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("DELETE FROM webhooks WHERE id = $1", p));
  if (r.Affected() == 0) return WebhookNotFound(id);
  return Status::Ok();
}

Result<int64_t> PostgresWebhookStore::RecordDelivery(const WebhookDelivery& d,
                                                     bool advance_cursor) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  WEIR_RETURN_IF_ERROR(RequireWebhook(*c, d.webhook_id, /*lock=*/true));
  std::optional<int64_t> next;
  if (d.next_retry) next = ToEpochMillis(*d.next_retry);
  int64_t id = 0;
  {
    Params p;
    p.Add(d.webhook_id)
        .Add(d.event_id)
        .Add(d.event_type)
        .Add(int64_t{d.attempt})
        .Add(int64_t{d.manual ? 1 : 0})
        .Add(ToEpochMillis(d.time))
        .Add(int64_t{d.http_status})
        .Add(d.error)
        .Add(d.duration_ms)
        .Add(DeliveryOutcomeName(d.outcome))
        .Add(next);
    WEIR_ASSIGN_OR_RETURN(
        Rows r, c->Exec("INSERT INTO webhook_deliveries(webhook_id, event_id, event_type, "
                        "attempt, manual, time, http_status, error, duration_ms, outcome, "
                        "next_retry) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
                        "RETURNING id",
                        p));
    id = r.Int(0, 0);
  }
  if (advance_cursor) {
    Params p;
    p.Add(d.event_id).Add(d.webhook_id);
    WEIR_RETURN_IF_ERROR(c->Exec("UPDATE webhooks SET delivered_up_to = GREATEST("
                                 "delivered_up_to, $1) WHERE id = $2",
                                 p)
                             .status());
  }
  {
    Params p;
    p.Add(d.webhook_id).Add(kMaxDeliveriesPerWebhook);
    WEIR_RETURN_IF_ERROR(c->Exec("DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND id <= "
                                 "(SELECT id FROM webhook_deliveries WHERE webhook_id = $1 "
                                 "ORDER BY id DESC LIMIT 1 OFFSET $2)",
                                 p)
                             .status());
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return id;
}

Result<std::vector<WebhookDelivery>> PostgresWebhookStore::ListDeliveries(
    const std::string& webhook_id, int limit) {
  if (limit < 1) return InvalidArgument("webhook deliveries: limit must be at least 1");
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_RETURN_IF_ERROR(RequireWebhook(*c, webhook_id, /*lock=*/false));
  Params p;
  p.Add(webhook_id).Add(int64_t{limit});
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec(std::string(kDeliveryColumns) +
                                            " WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
                                        p));
  std::vector<WebhookDelivery> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    WEIR_ASSIGN_OR_RETURN(WebhookDelivery d, ReadDelivery(r, i));
    out.push_back(std::move(d));
  }
  return out;
}

Result<WebhookDelivery> PostgresWebhookStore::GetDelivery(const std::string& webhook_id,
                                                          int64_t id) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  Params p;
  p.Add(webhook_id).Add(id);
  WEIR_ASSIGN_OR_RETURN(
      Rows r, c->Exec(std::string(kDeliveryColumns) + " WHERE webhook_id = $1 AND id = $2", p));
  if (r.size() == 0) {
    return NotFound("webhook '" + webhook_id + "': no delivery " + std::to_string(id) +
                    "; run `weir webhook deliveries " + webhook_id + "`");
  }
  return ReadDelivery(r, 0);
}

Result<int> PostgresWebhookStore::LastAttempt(const std::string& webhook_id, int64_t event_id) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  Params p;
  p.Add(webhook_id).Add(event_id);
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT MAX(attempt) FROM webhook_deliveries WHERE "
                                        "webhook_id = $1 AND event_id = $2 AND manual = 0",
                                        p));
  if (r.size() == 0) return 0;
  return static_cast<int>(r.OptInt(0, 0).value_or(0));
}

}  // namespace weir::store::postgres
