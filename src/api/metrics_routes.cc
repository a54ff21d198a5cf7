#include "api/metrics_routes.h"

#include <chrono>
#include <string>

#include "api/access.h"
#include "metrics/weir_metrics.h"

namespace weir::api {

namespace {

constexpr std::string_view kMetricsPath = "/metrics";

// A method label from a fixed set: a request refused before routing may carry any method token.
std::string_view MethodLabel(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == m) return m;
  }
  return "other";
}

}  // namespace

void RegisterMetricsRoute(Router& router) {
  metrics::Weir();  // every family is in the output from the first scrape
  router.Add("GET", std::string(kMetricsPath), [](HttpRequest& req) {
    if (Status s = RequireAdmin(req, "metrics"); !s.ok()) return ErrorResponse(s, req);
    HttpResponse r;
    r.status = 200;
    r.body = metrics::DefaultRegistry().Render();
    r.headers.emplace_back("Content-Type", std::string(metrics::kContentType));
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  });
}

std::function<void(const HttpRequest&, const HttpResponse&)> MakeMetricsObserver() {
  metrics::WeirMetrics& m = metrics::Weir();
  return [&m](const HttpRequest& req, const HttpResponse& resp) {
    const std::string route = req.route.empty() ? std::string("unrouted") : req.route;
    m.http_requests.With({std::string(MethodLabel(req.method)), route, std::to_string(resp.status)})
        .Inc();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - req.received;
    m.http_request_duration.With({std::string(MethodLabel(req.method)), route})
        .Observe(took.count());
  };
}

RequestGate OpenMetricsGate(RequestGate gate) {
  return [gate = std::move(gate)](HttpRequest& req) -> std::optional<HttpResponse> {
    if ((req.method == "GET" || req.method == "HEAD") && req.path == kMetricsPath) {
      return std::nullopt;
    }
    return gate(req);
  };
}

}  // namespace weir::api
