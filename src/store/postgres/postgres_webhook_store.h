// Webhook subscriptions and their delivery logs (store.h WebhookStore) in PostgreSQL: the tables
// webhooks and webhook_deliveries of schema version 8 (schema.cc; the same columns as the SQLite
// store's version 5), over a pool of its own. Every server on the database sees the same
// subscriptions, cursors and logs; which server delivers is the dispatcher's business
// (service/webhook_dispatcher.h: the leader only).
//
// RecordDelivery is one transaction: the log row, the cursor (moved with GREATEST, so it never
// goes back even when two writers race), and the trim to kMaxDeliveriesPerWebhook rows.
//
// Errors as in store.h; kUnavailable when the database cannot be reached (the next call
// reconnects), kFailedPrecondition at open when the database's schema is not at this build's
// version (it never migrates: OpenStores migrated first).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "store/postgres/connection.h"
#include "store/store.h"

namespace weir::store::postgres {

class PostgresWebhookStore final : public WebhookStore {
 public:
  // `url`: a libpq URI or key=value string; `password` ("" for none) is passed apart from it.
  static Result<std::shared_ptr<PostgresWebhookStore>> Open(const std::string& url,
                                                            const std::string& password,
                                                            int pool_size);

  Status CreateWebhook(const WebhookRecord& w) override;
  Result<WebhookRecord> GetWebhook(const std::string& id) override;
  Result<std::vector<WebhookRecord>> ListWebhooks() override;
  Status DeleteWebhook(const std::string& id) override;
  Result<int64_t> RecordDelivery(const WebhookDelivery& d, bool advance_cursor) override;
  Result<std::vector<WebhookDelivery>> ListDeliveries(const std::string& webhook_id,
                                                      int limit) override;
  Result<WebhookDelivery> GetDelivery(const std::string& webhook_id, int64_t id) override;
  Result<int> LastAttempt(const std::string& webhook_id, int64_t event_id) override;

 private:
  explicit PostgresWebhookStore(std::unique_ptr<Pool> pool) : pool_(std::move(pool)) {}

  std::unique_ptr<Pool> pool_;
};

}  // namespace weir::store::postgres
