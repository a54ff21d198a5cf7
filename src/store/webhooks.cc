// Backend-neutral parts of the WebhookStore interface (store.h) and its rows (webhook_codec.h).
#include <boost/json.hpp>
#include <string>

#include "store/store.h"
#include "store/webhook_codec.h"

namespace weir::store {

std::string_view DeliveryOutcomeName(DeliveryOutcome o) {
  switch (o) {
    case DeliveryOutcome::kDelivered:
      return "delivered";
    case DeliveryOutcome::kRetrying:
      return "retrying";
    case DeliveryOutcome::kFailed:
      return "failed";
  }
  return "failed";
}

Result<DeliveryOutcome> ParseDeliveryOutcome(std::string_view s) {
  for (DeliveryOutcome o :
       {DeliveryOutcome::kDelivered, DeliveryOutcome::kRetrying, DeliveryOutcome::kFailed}) {
    if (DeliveryOutcomeName(o) == s) return o;
  }
  return InvalidArgument("delivery outcome '" + std::string(s) +
                         "': must be delivered, retrying or failed");
}

namespace json = boost::json;

std::string WebhookFilterJson(const EventFilter& f) {
  json::object o;
  json::array types;
  for (const std::string& t : f.types) types.emplace_back(t);
  o["types"] = std::move(types);
  auto put = [&o](const char* key, const std::optional<std::string>& v) {
    if (v) o[key] = *v;
  };
  put("jobId", f.job_id);
  put("user", f.user);
  put("grouping", f.grouping);
  put("workflow", f.workflow);
  return json::serialize(o);
}

Result<EventFilter> ParseWebhookFilter(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Internal("webhooks: a stored filter is not a JSON object");
  EventFilter f;
  const json::object& o = v.as_object();
  if (const json::value* t = o.if_contains("types"); t && t->is_array()) {
    for (const json::value& s : t->as_array()) {
      if (s.is_string()) f.types.emplace_back(s.as_string());
    }
  }
  auto get = [&o](const char* key, std::optional<std::string>& out) {
    if (const json::value* s = o.if_contains(key); s && s->is_string()) {
      out = std::string(s->as_string());
    }
  };
  get("jobId", f.job_id);
  get("user", f.user);
  get("grouping", f.grouping);
  get("workflow", f.workflow);
  return f;
}

Status WebhookNotFound(const std::string& id) {
  return NotFound("webhook '" + id + "': not found; run `weir webhook list`");
}

}  // namespace weir::store
