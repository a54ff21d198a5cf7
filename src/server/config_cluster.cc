// The cluster sections of the server config: node, forwarding, leader, and the leader's tasks
// (cleanup, metrics); their fields and ranges (docs/scaling.md).
#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>

#include "server/config.h"
#include "server/config_internal.h"

namespace weir::server::config_internal {

SectionTable NodeSection() {
  return {{"heartbeat_interval_ms",
           Field(&ServerConfig::node_heartbeat_interval_ms, "node.heartbeat_interval_ms")},
          {"claim_interval_ms",
           Field(&ServerConfig::node_claim_interval_ms, "node.claim_interval_ms")}};
}

SectionTable ForwardingSection() {
  return {{"enabled", Field(&ServerConfig::forwarding_enabled, "forwarding.enabled")},
          {"connect_timeout_ms",
           Field(&ServerConfig::forwarding_connect_timeout_ms, "forwarding.connect_timeout_ms")},
          {"read_timeout_ms",
           Field(&ServerConfig::forwarding_read_timeout_ms, "forwarding.read_timeout_ms")}};
}

SectionTable LeaderSection() {
  return {{"mode", Field(&ServerConfig::leader_mode, "leader.mode")},
          {"static", Field(&ServerConfig::leader_static, "leader.static")},
          {"lease_ttl_ms", Field(&ServerConfig::leader_lease_ttl_ms, "leader.lease_ttl_ms")},
          {"lost_node_check_interval_ms",
           Field(&ServerConfig::lost_node_check_interval_ms, "leader.lost_node_check_interval_ms")},
          {"lost_node_stale_after_ms",
           Field(&ServerConfig::lost_node_stale_after_ms, "leader.lost_node_stale_after_ms")},
          {"lost_node_failures",
           Field(&ServerConfig::lost_node_failures, "leader.lost_node_failures")}};
}

SectionTable CleanupSection() {
  return {{"job_retention_days",
           Field(&ServerConfig::cleanup_job_retention_days, "cleanup.job_retention_days")},
          {"batch_size", Field(&ServerConfig::cleanup_batch_size, "cleanup.batch_size")},
          {"interval_minutes",
           Field(&ServerConfig::cleanup_interval_minutes, "cleanup.interval_minutes")},
          {"orphan_blob_grace_hours", Field(&ServerConfig::cleanup_orphan_blob_grace_hours,
                                            "cleanup.orphan_blob_grace_hours")}};
}

SectionTable MetricsSection() {
  return {{"public", Field(&ServerConfig::metrics_public, "metrics.public")},
          {"user_interval_seconds",
           Field(&ServerConfig::metrics_user_interval_seconds, "metrics.user_interval_seconds")},
          {"user_max_series",
           Field(&ServerConfig::metrics_user_max_series, "metrics.user_max_series")}};
}

Status CheckCluster(const ServerConfig& c) {
  if (c.leader_mode != "static" && c.leader_mode != "database") {
    return InvalidArgument("config leader.mode: must be static or database");
  }
  for (auto [v, key] :
       {std::pair{c.node_heartbeat_interval_ms, "node.heartbeat_interval_ms"},
        std::pair{c.node_claim_interval_ms, "node.claim_interval_ms"},
        std::pair{c.forwarding_connect_timeout_ms, "forwarding.connect_timeout_ms"},
        std::pair{c.forwarding_read_timeout_ms, "forwarding.read_timeout_ms"},
        std::pair{c.leader_lease_ttl_ms, "leader.lease_ttl_ms"},
        std::pair{c.lost_node_check_interval_ms, "leader.lost_node_check_interval_ms"},
        std::pair{c.lost_node_stale_after_ms, "leader.lost_node_stale_after_ms"}}) {
    if (v < 1 || v > 24LL * 3600 * 1000) {
      return InvalidArgument(std::string("config ") + key + ": must be 1 ms to 24 h");
    }
  }
  if (c.lost_node_failures < 1) {
    return InvalidArgument("config leader.lost_node_failures: must be ≥ 1");
  }
  if (c.cleanup_job_retention_days < 0 || c.cleanup_job_retention_days > 100000) {
    return InvalidArgument("config cleanup.job_retention_days: must be 0 (keep all) to 100000");
  }
  if (c.cleanup_batch_size < 1 || c.cleanup_batch_size > 100000) {
    return InvalidArgument("config cleanup.batch_size: must be 1 to 100000");
  }
  if (c.cleanup_interval_minutes < 1 || c.cleanup_interval_minutes > 7 * 24 * 60) {
    return InvalidArgument("config cleanup.interval_minutes: must be 1 to 10080 (a week)");
  }
  if (c.cleanup_orphan_blob_grace_hours < 0 || c.cleanup_orphan_blob_grace_hours > 100000) {
    return InvalidArgument(
        "config cleanup.orphan_blob_grace_hours: must be 0 (delete no blob) to 100000");
  }
  if (c.metrics_user_interval_seconds < 1 || c.metrics_user_interval_seconds > 86400) {
    return InvalidArgument("config metrics.user_interval_seconds: must be 1 to 86400");
  }
  if (c.metrics_user_max_series < 0 || c.metrics_user_max_series > 100000) {
    return InvalidArgument(
        "config metrics.user_max_series: must be 0 (every user under _other) to 100000");
  }
  return Status::Ok();
}

}  // namespace weir::server::config_internal
