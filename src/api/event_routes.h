// GET /api/weir/v1/events: the event log as Server-Sent Events (docs/api.md, "Events").
//
// Query filters, AND-ed: type (repeatable or comma-separated), jobId, user, grouping, workflow.
// The stream starts after the id in the Last-Event-ID header (or the lastEventId query
// parameter, for clients that cannot set headers): the stored events after it come first, then
// live ones, each once and in id order. Without either it starts with the next event. Each event
// is written as `id: N`, `event: TYPE`, `data: {json}`; with follow=false the stream ends after
// the stored events. A comment line (`: heartbeat`) is written
// when nothing was sent for EventRouteOptions::heartbeat. A subscriber whose buffer overflows
// (it reads slower than events come) gets a `resume` event whose data names the last id it was
// sent, and the stream ends: reconnecting with that id loses nothing.
#pragma once

#include <chrono>
#include <memory>

#include "api/http.h"
#include "service/event_hub.h"

namespace weir::api {

struct EventRouteOptions {
  std::chrono::milliseconds heartbeat{15000};  // events.heartbeat_seconds
};

void RegisterEventRoutes(Router& router, std::shared_ptr<service::EventHub> hub,
                         EventRouteOptions options);

}  // namespace weir::api
