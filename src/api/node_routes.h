// The cluster's operator routes (docs/scaling.md), admin role required like every
// /api/weir/v1/admin route:
//
//   GET /api/weir/v1/admin/nodes   every node that ever heartbeated, and the leader:
//     {"self": "<node id>",
//      "leader": {"mode": "static"|"database", "node": "<id>"|null, "fencingToken": N,
//                 "leaseExpires": "<ISO>"|null},
//      "nodes": [{"id", "url", "started", "lastHeartbeat", "stale": bool, "runningJobs": N,
//                 "capacityMb": N (0: unlimited), "freeMemoryMb": N (-1: unlimited),
//                 "leader": bool, "self": bool}, ...]}   (by id)
//   GET /api/weir/v1/admin/tasks   this node's periodic tasks:
//     {"node": "<id>", "leader": bool,
//      "tasks": [{"name", "leaderOnly": bool, "settings": {"<setting>": "<value>"},
//                 "lastRun": "<ISO>"|null, "runs": N, "counters": {"<name>": N},
//                 "lastError": "..."|null}, ...]}
#pragma once

#include <memory>

#include "api/http.h"
#include "cluster/cluster.h"

namespace weir::api {

// REQUIRES: `node` outlives the router.
void RegisterNodeRoutes(Router& router, std::shared_ptr<cluster::Node> node);

}  // namespace weir::api
