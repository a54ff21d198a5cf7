// How both backends keep a webhook subscription's EventFilter: a small JSON object
// {"types": [...], "jobId"?, "user"?, "grouping"?, "workflow"?}. Private to src/store/.
#pragma once

#include <string>
#include <string_view>

#include "store/store.h"

namespace weir::store {

std::string WebhookFilterJson(const EventFilter& f);
// kInternal when `text` is not a JSON object; unknown keys and wrongly typed values are ignored.
Result<EventFilter> ParseWebhookFilter(std::string_view text);

// kNotFound "webhook '<id>': not found; run `weir webhook list`".
Status WebhookNotFound(const std::string& id);

}  // namespace weir::store
