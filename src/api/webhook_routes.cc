#include "api/webhook_routes.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>

#include "api/access.h"
#include "api/json_codec.h"
#include "common/ids.h"
#include "common/time_format.h"

namespace weir::api {

namespace {

namespace json = boost::json;

constexpr std::string_view kCollection = "/api/weir/v1/webhooks";
constexpr int64_t kMaxSecretBytes = 4096;
constexpr int64_t kMaxUrlBytes = 2048;

struct Context {
  std::shared_ptr<store::WebhookStore> store;
  std::shared_ptr<service::EventHub> hub;
  std::shared_ptr<service::WebhookDispatcher> dispatcher;
  Clock* clock = nullptr;
  WebhookRouteOptions options;
};

using ResultHandler = std::function<Result<HttpResponse>(HttpRequest&)>;

// Admin only; 501 without a webhook store (both stores have one).
Handler Guarded(std::shared_ptr<Context> ctx, std::string what, ResultHandler fn) {
  return [ctx, what = std::move(what), fn = std::move(fn)](HttpRequest& req) -> HttpResponse {
    if (Status s = RequireAdmin(req, what); !s.ok()) return ErrorResponse(s, req);
    if (!ctx->store || !ctx->dispatcher) {
      return ErrorResponse(Unimplemented("webhooks: this server was started without a webhook "
                                         "store or event log"),
                           req);
    }
    Result<HttpResponse> r = fn(req);
    if (!r.ok()) return ErrorResponse(r.status(), req);
    return std::move(*r);
  };
}

json::object WebhookJson(const store::WebhookRecord& w, const std::string& base) {
  json::object o;
  o["id"] = w.id;
  o["url"] = w.url;
  json::array types;
  for (const std::string& t : w.filter.types) types.emplace_back(t);
  o["types"] = std::move(types);
  auto opt = [&o](const char* key, const std::optional<std::string>& v) {
    o[key] = v ? json::value(*v) : json::value(nullptr);
  };
  opt("jobId", w.filter.job_id);
  opt("user", w.filter.user);
  opt("grouping", w.filter.grouping);
  opt("workflow", w.filter.workflow);
  o["enabled"] = w.enabled;
  o["created"] = FormatIso8601(w.created);
  o["deliveredUpTo"] = w.delivered_up_to;
  json::object links;
  links["self"] = HalLink(base + std::string(kCollection) + "/" + PercentEncode(w.id));
  links["deliveries"] =
      HalLink(base + std::string(kCollection) + "/" + PercentEncode(w.id) + "/deliveries");
  o["_links"] = std::move(links);
  return o;
}

json::object DeliveryJson(const store::WebhookDelivery& d) {
  json::object o;
  o["id"] = d.id;
  o["eventId"] = d.event_id;
  o["eventType"] = d.event_type;
  o["attempt"] = d.attempt;
  o["manual"] = d.manual;
  o["time"] = FormatIso8601(d.time);
  o["status"] = d.http_status > 0 ? json::value(d.http_status) : json::value(nullptr);
  o["error"] = d.error.empty() ? json::value(nullptr) : json::value(d.error);
  o["durationMs"] = d.duration_ms;
  o["outcome"] = store::DeliveryOutcomeName(d.outcome);
  o["nextRetry"] = d.next_retry ? json::value(FormatIso8601(*d.next_retry)) : json::value(nullptr);
  return o;
}

Result<int64_t> PositiveNumber(const std::string& v, std::string_view what) {
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || errno != 0 || *end != '\0' || n < 1) {
    return InvalidArgument(std::string(what) + ": '" + v.substr(0, 40) +
                           "' is not a number of 1 or more");
  }
  return static_cast<int64_t>(n);
}

Result<store::WebhookRecord> WebhookFromJson(const json::value& v, const Context& ctx) {
  if (!v.is_object()) return InvalidArgument("request body: must be a JSON object");
  const json::object& o = v.as_object();
  for (const auto& kv : o) {
    static const std::set<std::string_view> kKnown = {"url",  "secret",   "types",    "jobId",
                                                      "user", "grouping", "workflow", "enabled"};
    if (!kKnown.count(kv.key())) {
      return InvalidArgument(std::string(kv.key()) +
                             ": unknown field (known: url, secret, types, jobId, user, grouping, "
                             "workflow, enabled)");
    }
  }
  store::WebhookRecord w;
  WEIR_ASSIGN_OR_RETURN(std::optional<std::string> url, OptionalString(o, "url"));
  if (!url || url->empty()) return InvalidArgument("url: required (http:// or https://)");
  if (static_cast<int64_t>(url->size()) > kMaxUrlBytes) {
    return InvalidArgument("url: longer than " + std::to_string(kMaxUrlBytes) + " bytes");
  }
  WEIR_RETURN_IF_ERROR(service::CheckWebhookUrl(*url, ctx.options.delivery));
  w.url = *url;
  WEIR_ASSIGN_OR_RETURN(std::optional<std::string> secret, OptionalString(o, "secret"));
  if (!secret || secret->empty()) {
    return InvalidArgument("secret: required (the key receivers verify Weir-Signature with)");
  }
  if (static_cast<int64_t>(secret->size()) > kMaxSecretBytes) {
    return InvalidArgument("secret: longer than " + std::to_string(kMaxSecretBytes) + " bytes");
  }
  w.secret = *secret;
  WEIR_ASSIGN_OR_RETURN(w.filter.types, OptionalStringArray(o, "types"));
  WEIR_ASSIGN_OR_RETURN(w.filter.job_id, OptionalString(o, "jobId"));
  WEIR_ASSIGN_OR_RETURN(w.filter.user, OptionalString(o, "user"));
  WEIR_ASSIGN_OR_RETURN(w.filter.grouping, OptionalString(o, "grouping"));
  WEIR_ASSIGN_OR_RETURN(w.filter.workflow, OptionalString(o, "workflow"));
  WEIR_ASSIGN_OR_RETURN(std::optional<bool> enabled, OptionalBool(o, "enabled"));
  w.enabled = enabled.value_or(true);
  return w;
}

}  // namespace

void RegisterWebhookRoutes(Router& router, std::shared_ptr<store::WebhookStore> store,
                           std::shared_ptr<service::EventHub> hub,
                           std::shared_ptr<service::WebhookDispatcher> dispatcher, Clock& clock,
                           WebhookRouteOptions options) {
  auto ctx = std::make_shared<Context>();
  ctx->store = std::move(store);
  ctx->hub = std::move(hub);
  ctx->dispatcher = std::move(dispatcher);
  ctx->clock = &clock;
  ctx->options = std::move(options);
  const std::string base(kCollection);

  router.Add("POST", base,
             Guarded(ctx, "webhook add", [ctx](HttpRequest& req) -> Result<HttpResponse> {
               WEIR_ASSIGN_OR_RETURN(json::value v, ParseJsonBody(req));
               WEIR_ASSIGN_OR_RETURN(store::WebhookRecord w, WebhookFromJson(v, *ctx));
               w.id = NewUuid();
               w.created = ctx->clock->Now();
               // From the next event on: the log before the subscription is not sent.
               w.delivered_up_to = ctx->hub->last_id();
               WEIR_RETURN_IF_ERROR(ctx->store->CreateWebhook(w));
               WEIR_RETURN_IF_ERROR(ctx->dispatcher->Added(w.id));
               HttpResponse r = JsonResponse(201, WebhookJson(w, BaseUrl(req)));
               r.SetHeader("Location",
                           BaseUrl(req) + std::string(kCollection) + "/" + PercentEncode(w.id));
               return r;
             }));

  router.Add(
      "GET", base, Guarded(ctx, "webhook list", [ctx](HttpRequest& req) -> Result<HttpResponse> {
        WEIR_ASSIGN_OR_RETURN(std::vector<store::WebhookRecord> all, ctx->store->ListWebhooks());
        json::array items;
        for (const auto& w : all) items.push_back(WebhookJson(w, BaseUrl(req)));
        json::object o;
        o["webhooks"] = std::move(items);
        return JsonResponse(200, o);
      }));

  const std::string one = base + "/{id}";
  router.Add(
      "GET", one, Guarded(ctx, "webhook get", [ctx](HttpRequest& req) -> Result<HttpResponse> {
        WEIR_ASSIGN_OR_RETURN(store::WebhookRecord w, ctx->store->GetWebhook(req.Param("id")));
        return JsonResponse(200, WebhookJson(w, BaseUrl(req)));
      }));

  router.Add("DELETE", one,
             Guarded(ctx, "webhook rm", [ctx](HttpRequest& req) -> Result<HttpResponse> {
               const std::string& id = req.Param("id");
               WEIR_RETURN_IF_ERROR(ctx->store->DeleteWebhook(id));
               ctx->dispatcher->Removed(id);
               return HttpResponse::Empty(204);
             }));

  router.Add("GET", one + "/deliveries",
             Guarded(ctx, "webhook deliveries", [ctx](HttpRequest& req) -> Result<HttpResponse> {
               int64_t limit = 100;
               if (auto l = req.Query("limit")) {
                 WEIR_ASSIGN_OR_RETURN(limit, PositiveNumber(*l, "limit"));
                 limit = std::min<int64_t>(limit, store::kMaxDeliveriesPerWebhook);
               }
               WEIR_ASSIGN_OR_RETURN(
                   std::vector<store::WebhookDelivery> log,
                   ctx->store->ListDeliveries(req.Param("id"), static_cast<int>(limit)));
               json::array items;
               for (const auto& d : log) items.push_back(DeliveryJson(d));
               json::object o;
               o["deliveries"] = std::move(items);
               return JsonResponse(200, o);
             }));

  router.Add(
      "POST", one + "/deliveries/{delivery}/redeliver",
      Guarded(ctx, "webhook redeliver", [ctx](HttpRequest& req) -> Result<HttpResponse> {
        const std::string& id = req.Param("id");
        WEIR_ASSIGN_OR_RETURN(int64_t delivery, PositiveNumber(req.Param("delivery"), "delivery"));
        WEIR_RETURN_IF_ERROR(ctx->dispatcher->Redeliver(id, delivery));
        WEIR_ASSIGN_OR_RETURN(store::WebhookDelivery d, ctx->store->GetDelivery(id, delivery));
        json::object o;
        o["webhookId"] = id;
        o["eventId"] = d.event_id;
        o["message"] = "queued; run `weir webhook deliveries " + id + "` to see the attempt";
        return JsonResponse(202, o);
      }));
}

}  // namespace weir::api
