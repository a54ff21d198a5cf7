#include "server/event_sinks.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <utility>

#include "common/time_format.h"

namespace weir::server {

namespace json = boost::json;

EventSink HubSink(std::shared_ptr<service::EventHub> hub) {
  return [hub = std::move(hub)](const store::EventRecord& e) {
    Result<int64_t> id = hub->Append(e);
    if (!id.ok()) {
      spdlog::warn("events: {} not recorded: {}", e.type, id.status().ToString());
    }
  };
}

assets::PublishListener AssetPublishedEvents(EventSink sink, Clock& clock) {
  return [sink = std::move(sink), &clock](const assets::AssetRecord& r) {
    store::EventRecord e;
    e.type = std::string(service::kAssetPublished);
    e.time = clock.Now();
    e.user = r.publisher;
    json::object o;
    o["type"] = e.type;
    o["timestamp"] = FormatIso8601(e.time);
    o["versionId"] = r.uuid;
    o["assetType"] = r.id.type;
    o["namespace"] = r.id.ns;
    o["name"] = r.file_name;
    o["owner"] = r.id.owner;
    o["repo"] = r.id.repo;
    o["branch"] = r.id.branch;
    o["commit"] = r.id.commit;
    o["build"] = r.id.build;
    o["sha256"] = r.sha256;
    o["size"] = r.size;
    o["publisher"] = r.publisher;
    e.data = json::serialize(o);
    sink(e);
  };
}

}  // namespace weir::server
