// Webhook subscriptions and their delivery logs (docs/api.md "Webhooks"), admin only:
//
//   POST   /api/weir/v1/webhooks            {"url", "secret", "types"?, "jobId"?, "user"?,
//                                            "grouping"?, "workflow"?, "enabled"?}
//                                            → 201, Location, the subscription (no secret);
//                                            it receives the events stored from then on
//   GET    /api/weir/v1/webhooks            {"webhooks": [...]}, oldest first
//   GET    /api/weir/v1/webhooks/{id}       one subscription
//   DELETE /api/weir/v1/webhooks/{id}       204; its log goes with it
//   GET    /api/weir/v1/webhooks/{id}/deliveries?limit=N   {"deliveries": [...]}, newest first
//   POST   /api/weir/v1/webhooks/{id}/deliveries/{delivery}/redeliver
//                                            202: the delivery's event is sent once more
//
// The secret is write-only: no answer ever holds it. Both stores (SQLite, PostgreSQL) keep
// webhooks, and any server of a cluster answers every route (deliveries are the leader's,
// service/webhook_dispatcher.h); only a server started without a webhook store or event log
// answers 501.
#pragma once

#include <memory>

#include "api/http.h"
#include "common/clock.h"
#include "service/webhook_dispatcher.h"
#include "store/store.h"

namespace weir::api {

struct WebhookRouteOptions {
  service::WebhookOptions delivery;  // for the URL check (allowed_networks)
};

// `store` and `dispatcher` null: the routes answer 501.
void RegisterWebhookRoutes(Router& router, std::shared_ptr<store::WebhookStore> store,
                           std::shared_ptr<service::EventHub> hub,
                           std::shared_ptr<service::WebhookDispatcher> dispatcher, Clock& clock,
                           WebhookRouteOptions options);

}  // namespace weir::api
