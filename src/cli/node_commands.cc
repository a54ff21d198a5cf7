// `weir node list`: the nodes of a cluster of servers on one database and which one leads
// (GET /api/weir/v1/admin/nodes, docs/scaling.md), as a table or, with -o json, the server's
// JSON answer.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>

#include "cli/cli.h"
#include "cli/cli_util.h"
#include "client/http_client.h"

namespace weir::cli {
namespace {

namespace json = boost::json;

std::string Memory(const json::value& node, const char* key) {
  const json::value* v = node.as_object().if_contains(key);
  if (v == nullptr || !v->is_int64()) return "";
  if (std::string(key) == "freeMemoryMb" && v->as_int64() < 0) return "unlimited";
  if (std::string(key) == "capacityMb" && v->as_int64() <= 0) return "unlimited";
  return std::to_string(v->as_int64()) + " MB";
}

int ListNodes(Globals& g) {
  client::HttpClient http(g.server, g.client);
  auto v = GetJson(http, "/api/weir/v1/admin/nodes");
  if (!v.ok()) return Fail(v.status().WithContext("node list"));
  if (g.output == "json") {
    std::cout << json::serialize(*v) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (const json::value* nodes = v->as_object().if_contains("nodes"); nodes && nodes->is_array()) {
    for (const json::value& n : nodes->as_array()) {
      std::string leader = Str(n, "leader") == "true" ? "yes" : "";
      std::string heartbeat = Str(n, "lastHeartbeat");
      if (Str(n, "stale") == "true") heartbeat += " (stale)";
      std::string id = Str(n, "id");
      if (Str(n, "self") == "true") id += " *";
      rows.push_back({id, Str(n, "url"), heartbeat, Str(n, "runningJobs"),
                      Memory(n, "freeMemoryMb"), Memory(n, "capacityMb"), leader});
    }
  }
  PrintTable(std::cout, {"NODE", "URL", "LAST HEARTBEAT", "RUNNING", "FREE", "CAPACITY", "LEADER"},
             rows);
  if (const json::value* l = v->as_object().if_contains("leader"); l && l->is_object()) {
    std::cerr << "leader.mode " << Str(*l, "mode") << ", fencing token " << Str(*l, "fencingToken")
              << " (* is the node that answered)\n";
  }
  return 0;
}

}  // namespace

void AddNodeCommands(CLI::App& app, Globals& g) {
  CLI::App* node = app.add_subcommand("node", "The servers of a cluster on one database");
  node->require_subcommand(1);
  CLI::App* list = node->add_subcommand(
      "list", "Nodes: URL, last heartbeat, running jobs, free capacity, which one leads");
  list->callback([&g] { g.exit_code = ListNodes(g); });
}

}  // namespace weir::cli
