// GET /metrics: the Prometheus text exposition (format 0.0.4) of the process's registry
// (metrics/weir_metrics.h), and the request observer that feeds its HTTP figures.
//
// Access: with authentication on, the request gate lets only authenticated principals with the
// role `user` reach any route, and this route then needs the role `admin` (403 otherwise): its
// figures name users and routes. MetricsAccessGate opens it without credentials instead
// (metrics.public: true), for scrapers that cannot send a token.
#pragma once

#include <functional>
#include <optional>

#include "api/auth_gate.h"
#include "api/http.h"

namespace weir::api {

void RegisterMetricsRoute(Router& router);

// Records every observed request (HttpServerOptions::observer) into weir_http_requests_total
// and weir_http_request_duration_seconds, labelled with the route pattern (HttpRequest::route;
// "unrouted" for a request the gate answered before routing), method and status. Cheap: no
// lock but one shard's.
std::function<void(const HttpRequest&, const HttpResponse&)> MakeMetricsObserver();

// Wraps `gate` so that GET and HEAD of /metrics skip it (metrics.public: true).
RequestGate OpenMetricsGate(RequestGate gate);

}  // namespace weir::api
