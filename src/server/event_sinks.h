// Where the events of the modules that are not the job store go: the scheduler's sink and the
// asset registry's publish listener, both appending to the event log through the hub.
#pragma once

#include <functional>
#include <memory>

#include "assets/registry.h"
#include "common/clock.h"
#include "service/event_hub.h"
#include "store/store.h"

namespace weir::server {

using EventSink = std::function<void(const store::EventRecord&)>;

// Appends each event to the log (and so to the SSE subscribers); a failed append is logged
// and dropped: the change that caused it is already committed.
EventSink HubSink(std::shared_ptr<service::EventHub> hub);

// ASSET_PUBLISHED (docs/api.md, "Events") for each published version, through `sink`.
assets::PublishListener AssetPublishedEvents(EventSink sink, Clock& clock);

}  // namespace weir::server
