// SqliteStore's WebhookStore (store.h): the tables of schema version 5 (schema.cc V5). The
// subscription's filter is kept as a small JSON object; times are epoch milliseconds.
#include <string>
#include <vector>

#include "store/sqlite/sqlite_store.h"
#include "store/webhook_codec.h"

namespace weir::store::sqlite {

namespace {

constexpr const char* kWebhookColumns =
    "SELECT id, url, filter, secret, enabled, created, delivered_up_to FROM webhooks";

Result<WebhookRecord> ReadWebhook(Stmt& q) {
  WebhookRecord w;
  w.id = q.String(0);
  w.url = q.String(1);
  WEIR_ASSIGN_OR_RETURN(w.filter, ParseWebhookFilter(q.Text(2)));
  w.secret = q.String(3);
  w.enabled = q.Int(4) != 0;
  w.created = FromEpochMillis(q.Int(5));
  w.delivered_up_to = q.Int(6);
  return w;
}

constexpr const char* kDeliveryColumns =
    "SELECT id, webhook_id, event_id, event_type, attempt, manual, time, http_status, error, "
    "duration_ms, outcome, next_retry FROM webhook_deliveries";

Result<WebhookDelivery> ReadDelivery(Stmt& q) {
  WebhookDelivery d;
  d.id = q.Int(0);
  d.webhook_id = q.String(1);
  d.event_id = q.Int(2);
  d.event_type = q.String(3);
  d.attempt = static_cast<int>(q.Int(4));
  d.manual = q.Int(5) != 0;
  d.time = FromEpochMillis(q.Int(6));
  d.http_status = static_cast<int>(q.Int(7));
  d.error = q.String(8);
  d.duration_ms = q.Int(9);
  WEIR_ASSIGN_OR_RETURN(d.outcome, ParseDeliveryOutcome(q.Text(10)));
  if (!q.IsNull(11)) d.next_retry = FromEpochMillis(q.Int(11));
  return d;
}

}  // namespace

Status SqliteStore::CreateWebhook(const WebhookRecord& w) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db_->Prepare("INSERT INTO webhooks(id, url, filter, secret, enabled, created, "
                           "delivered_up_to) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  Status s = q.Bind(w.id)
                 .Bind(w.url)
                 .Bind(WebhookFilterJson(w.filter))
                 .Bind(w.secret)
                 .Bind(int64_t{w.enabled ? 1 : 0})
                 .Bind(ToEpochMillis(w.created))
                 .Bind(w.delivered_up_to)
                 .Run();
  if (!s.ok() && (q.last_code() & 0xff) == SQLITE_CONSTRAINT) {
    return AlreadyExists("webhook '" + w.id + "': already exists; choose another id");
  }
  return s;
}

Result<WebhookRecord> SqliteStore::GetWebhook(const std::string& id) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare(std::string(kWebhookColumns) + " WHERE id = ?"));
  q.Bind(id);
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return WebhookNotFound(id);
  return ReadWebhook(q);
}

Result<std::vector<WebhookRecord>> SqliteStore::ListWebhooks() {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare(std::string(kWebhookColumns) + " ORDER BY seq"));
  std::vector<WebhookRecord> out;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    WEIR_ASSIGN_OR_RETURN(WebhookRecord w, ReadWebhook(q));
    out.push_back(std::move(w));
  }
  return out;
}

Status SqliteStore::DeleteWebhook(const std::string& id) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  {
    WEIR_ASSIGN_OR_RETURN(Stmt d, db_->Prepare("DELETE FROM webhook_deliveries WHERE "
                                               "webhook_id = ?"));
    WEIR_RETURN_IF_ERROR(d.Bind(id).Run());
  }
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("DELETE FROM webhooks WHERE id = ?"));
  WEIR_RETURN_IF_ERROR(q.Bind(id).Run());
  if (db_->Changes() == 0) return WebhookNotFound(id);
  return tx.Commit();
}

Result<int64_t> SqliteStore::RecordDelivery(const WebhookDelivery& d, bool advance_cursor) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT 1 FROM webhooks WHERE id = ?"));
    q.Bind(d.webhook_id);
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return WebhookNotFound(d.webhook_id);
  }
  WEIR_ASSIGN_OR_RETURN(
      Stmt ins,
      db_->Prepare("INSERT INTO webhook_deliveries(webhook_id, event_id, event_type, attempt, "
                   "manual, time, http_status, error, duration_ms, outcome, next_retry) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  std::optional<int64_t> next;
  if (d.next_retry) next = ToEpochMillis(*d.next_retry);
  WEIR_RETURN_IF_ERROR(ins.Bind(d.webhook_id)
                           .Bind(d.event_id)
                           .Bind(d.event_type)
                           .Bind(int64_t{d.attempt})
                           .Bind(int64_t{d.manual ? 1 : 0})
                           .Bind(ToEpochMillis(d.time))
                           .Bind(int64_t{d.http_status})
                           .Bind(d.error)
                           .Bind(d.duration_ms)
                           .Bind(DeliveryOutcomeName(d.outcome))
                           .Bind(next)
                           .Run());
  const int64_t id = static_cast<int64_t>(sqlite3_last_insert_rowid(db_->handle()));
  if (advance_cursor) {
    WEIR_ASSIGN_OR_RETURN(Stmt up, db_->Prepare("UPDATE webhooks SET delivered_up_to = MAX("
                                                "delivered_up_to, ?) WHERE id = ?"));
    WEIR_RETURN_IF_ERROR(up.Bind(d.event_id).Bind(d.webhook_id).Run());
  }
  {
    WEIR_ASSIGN_OR_RETURN(
        Stmt cut, db_->Prepare("DELETE FROM webhook_deliveries WHERE webhook_id = ? AND id <= "
                               "(SELECT id FROM webhook_deliveries WHERE webhook_id = ? ORDER BY "
                               "id DESC LIMIT 1 OFFSET ?)"));
    WEIR_RETURN_IF_ERROR(
        cut.Bind(d.webhook_id).Bind(d.webhook_id).Bind(kMaxDeliveriesPerWebhook).Run());
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return id;
}

Result<std::vector<WebhookDelivery>> SqliteStore::ListDeliveries(const std::string& webhook_id,
                                                                 int limit) {
  if (limit < 1) return InvalidArgument("webhook deliveries: limit must be at least 1");
  std::lock_guard lock(mu_);
  {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT 1 FROM webhooks WHERE id = ?"));
    q.Bind(webhook_id);
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return WebhookNotFound(webhook_id);
  }
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare(std::string(kDeliveryColumns) +
                                             " WHERE webhook_id = ? ORDER BY id DESC LIMIT ?"));
  q.Bind(webhook_id).Bind(int64_t{limit});
  std::vector<WebhookDelivery> out;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    WEIR_ASSIGN_OR_RETURN(WebhookDelivery d, ReadDelivery(q));
    out.push_back(std::move(d));
  }
  return out;
}

Result<WebhookDelivery> SqliteStore::GetDelivery(const std::string& webhook_id, int64_t id) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db_->Prepare(std::string(kDeliveryColumns) + " WHERE webhook_id = ? AND id = ?"));
  q.Bind(webhook_id).Bind(id);
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) {
    return NotFound("webhook '" + webhook_id + "': no delivery " + std::to_string(id) +
                    "; run `weir webhook deliveries " + webhook_id + "`");
  }
  return ReadDelivery(q);
}

Result<int> SqliteStore::LastAttempt(const std::string& webhook_id, int64_t event_id) {
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT MAX(attempt) FROM webhook_deliveries WHERE "
                                             "webhook_id = ? AND event_id = ? AND manual = 0"));
  q.Bind(webhook_id).Bind(event_id);
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  return row && !q.IsNull(0) ? static_cast<int>(q.Int(0)) : 0;
}

}  // namespace weir::store::sqlite
