// Backend-neutral parts of the WebhookStore interface (store.h).
#include <string>

#include "store/store.h"

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

}  // namespace weir::store
