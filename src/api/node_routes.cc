#include "api/node_routes.h"

#include <boost/json.hpp>

#include "api/json_codec.h"
#include "common/time_format.h"

namespace weir::api {

namespace {

json::value OptTime(const std::optional<TimePoint>& t) {
  if (!t) return nullptr;
  return json::value(FormatIso8601(*t));
}

HttpResponse Nodes(cluster::Node& node, HttpRequest& req) {
  auto nodes = node.Nodes();
  if (!nodes.ok()) return ErrorResponse(nodes.status(), req);
  const cluster::LeaderView leader = node.Leader();
  json::array list;
  for (const cluster::NodeView& v : *nodes) {
    list.push_back(json::object{{"id", v.node.id},
                                {"url", v.node.url},
                                {"started", FormatIso8601(v.node.started)},
                                {"lastHeartbeat", FormatIso8601(v.node.heartbeat)},
                                {"stale", v.stale},
                                {"runningJobs", v.node.running_jobs},
                                {"capacityMb", v.node.capacity_mb},
                                {"freeMemoryMb", v.node.free_memory_mb},
                                {"leader", v.leader},
                                {"self", v.self}});
  }
  json::object o{
      {"self", node.options().node_id},
      {"leader", json::object{{"mode", leader.mode},
                              {"node", leader.holder.empty() ? json::value(nullptr)
                                                             : json::value(leader.holder)},
                              {"fencingToken", leader.token},
                              {"leaseExpires", OptTime(leader.expires)}}},
      {"nodes", std::move(list)}};
  return JsonResponse(200, o, kJsonType);
}

HttpResponse Tasks(cluster::Node& node) {
  json::array list;
  for (const cluster::TaskView& t : node.Tasks()) {
    json::object settings;
    for (const auto& [k, v] : t.settings) settings[k] = v;
    json::object counters;
    for (const auto& [k, v] : t.counters) counters[k] = v;
    list.push_back(json::object{
        {"name", t.name},
        {"leaderOnly", t.leader_only},
        {"settings", std::move(settings)},
        {"lastRun", OptTime(t.last_run)},
        {"runs", t.runs},
        {"counters", std::move(counters)},
        {"lastError", t.last_error.empty() ? json::value(nullptr) : json::value(t.last_error)}});
  }
  json::object o{
      {"node", node.options().node_id}, {"leader", node.IsLeader()}, {"tasks", std::move(list)}};
  return JsonResponse(200, o, kJsonType);
}

}  // namespace

void RegisterNodeRoutes(Router& router, std::shared_ptr<cluster::Node> node) {
  router.Add("GET", "/api/weir/v1/admin/nodes",
             [node](HttpRequest& req) { return Nodes(*node, req); });
  router.Add("GET", "/api/weir/v1/admin/tasks", [node](HttpRequest&) { return Tasks(*node); });
}

}  // namespace weir::api
