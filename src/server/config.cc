// The server config's YAML schema: one table of setters per section (the large sections in
// config_<section>.cc, see config_internal.h), the checks across settings, and the loading.
#include "server/config.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/strings.h"
#include "fetch/perimeter.h"
#include "server/config_internal.h"

namespace weir::server {

namespace config_internal {

// A YAML sequence of strings ("[a, b]" or a block list); an empty or null value clears it.
Setter ListField(std::vector<std::string> ServerConfig::*member, std::string key) {
  return [member, key](const YAML::Node& n, ServerConfig& c) -> Status {
    std::vector<std::string> out;
    if (!n.IsNull()) {
      if (!n.IsSequence()) return InvalidArgument("config " + key + ": expected a list of strings");
      for (const YAML::Node& item : n) {
        if (!item.IsScalar())
          return InvalidArgument("config " + key + ": expected a list of strings");
        out.push_back(item.Scalar());
      }
    }
    c.*member = std::move(out);
    return Status::Ok();
  };
}

// A mapping of string → list of strings ("ns: [alice, data-eng]"; a single string is a list
// of one).
Status StringListMap(const YAML::Node& n, const std::string& key,
                     std::map<std::string, std::vector<std::string>>& out) {
  out.clear();
  if (n.IsNull()) return Status::Ok();
  const std::string expected = "config " + key + ": expected a mapping of name: [names]";
  if (!n.IsMap()) return InvalidArgument(expected);
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) return InvalidArgument(expected);
    std::vector<std::string>& list = out[kv.first.Scalar()];
    if (kv.second.IsScalar()) {
      list.push_back(kv.second.Scalar());
    } else if (kv.second.IsSequence()) {
      for (const auto& item : kv.second) {
        if (!item.IsScalar()) return InvalidArgument(expected);
        list.push_back(item.Scalar());
      }
    } else if (!kv.second.IsNull()) {
      return InvalidArgument(expected);
    }
  }
  return Status::Ok();
}

Status NestedSection(const YAML::Node& n, const std::string& name, const SectionTable& table,
                     const std::string& keys, ServerConfig& c) {
  if (n.IsNull()) return Status::Ok();
  if (!n.IsMap()) return InvalidArgument("config " + name + ": expected a mapping (" + keys + ")");
  for (const auto& kv : n) {
    std::string key = kv.first.as<std::string>();
    auto f = table.find(key);
    if (f == table.end()) {
      return InvalidArgument("config " + name + "." + key + ": unknown setting (known: " + keys +
                             ")");
    }
    WEIR_RETURN_IF_ERROR(f->second(kv.second, c));
  }
  return Status::Ok();
}

Status StringList(const YAML::Node& n, const std::string& key, std::vector<std::string>& out) {
  out.clear();
  if (n.IsNull()) return Status::Ok();
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return Status::Ok();
  }
  if (!n.IsSequence()) return InvalidArgument("config " + key + ": expected a list of strings");
  for (const auto& item : n) {
    if (!item.IsScalar()) return InvalidArgument("config " + key + ": expected a list of strings");
    out.push_back(item.Scalar());
  }
  return Status::Ok();
}

}  // namespace config_internal

namespace {

using config_internal::Field;
using config_internal::ListField;
using config_internal::SectionTable;
using config_internal::Setter;
using config_internal::StringListMap;

const std::map<std::string, std::map<std::string, Setter>>& Schema() {
  static const auto* schema = new std::map<std::string, std::map<std::string, Setter>>{
      {"server",
       {{"listen",
         [](const YAML::Node& n, ServerConfig& c) -> Status {
           if (!n.IsScalar()) return InvalidArgument("config server.listen: expected HOST:PORT");
           return ParseListen(n.Scalar(), c).WithContext("config server.listen");
         }},
        {"handler_threads", Field(&ServerConfig::handler_threads, "server.handler_threads")},
        {"max_connections", Field(&ServerConfig::max_connections, "server.max_connections")},
        {"max_connections_per_client",
         Field(&ServerConfig::max_connections_per_client, "server.max_connections_per_client")},
        {"header_timeout_ms", Field(&ServerConfig::header_timeout_ms, "server.header_timeout_ms")},
        {"idle_timeout_ms", Field(&ServerConfig::idle_timeout_ms, "server.idle_timeout_ms")},
        {"body_grace_ms", Field(&ServerConfig::body_grace_ms, "server.body_grace_ms")},
        {"min_body_bytes_per_s",
         Field(&ServerConfig::min_body_bytes_per_s, "server.min_body_bytes_per_s")},
        {"fd_reserve", Field(&ServerConfig::fd_reserve, "server.fd_reserve")},
        {"trusted_proxies",
         [](const YAML::Node& n, ServerConfig& c) -> Status {
           c.trusted_proxies.clear();
           if (n.IsNull()) return Status::Ok();
           if (n.IsScalar()) {
             c.trusted_proxies.push_back(n.Scalar());
             return Status::Ok();
           }
           if (!n.IsSequence()) {
             return InvalidArgument(
                 "config server.trusted_proxies: expected a list of IP addresses or CIDR ranges");
           }
           for (const auto& item : n) {
             if (!item.IsScalar()) {
               return InvalidArgument(
                   "config server.trusted_proxies: expected a list of IP addresses or CIDR ranges");
             }
             c.trusted_proxies.push_back(item.Scalar());
           }
           return Status::Ok();
         }},
        {"rate_limit",
         [](const YAML::Node& n, ServerConfig& c) -> Status {
           if (n.IsNull()) return Status::Ok();
           if (!n.IsMap()) {
             return InvalidArgument(
                 "config server.rate_limit: expected a mapping (requests_per_second, burst)");
           }
           for (const auto& kv : n) {
             const std::string key = kv.first.as<std::string>();
             double* field = key == "requests_per_second" ? &c.rate_limit_requests_per_second
                             : key == "burst"             ? &c.rate_limit_burst
                                                          : nullptr;
             if (field == nullptr) {
               return InvalidArgument("config server.rate_limit." + key +
                                      ": unknown setting (known: burst, requests_per_second)");
             }
             try {
               *field = kv.second.as<double>();
             } catch (const YAML::Exception&) {
               return InvalidArgument("config server.rate_limit." + key + ": expected a number");
             }
           }
           return Status::Ok();
         }},
        {"tls",
         [](const YAML::Node& n, ServerConfig& c) -> Status {
           static const auto* tls = new SectionTable{
               {"cert", Field(&ServerConfig::tls_cert, "server.tls.cert")},
               {"key", Field(&ServerConfig::tls_key, "server.tls.key")},
               {"client_ca", Field(&ServerConfig::tls_client_ca, "server.tls.client_ca")},
               {"handshake_timeout_ms",
                Field(&ServerConfig::tls_handshake_timeout_ms, "server.tls.handshake_timeout_ms")}};
           return config_internal::NestedSection(n, "server.tls", *tls,
                                                 "cert, key, client_ca, handshake_timeout_ms", c);
         }},
        {"output_listing_max_entries",
         Field(&ServerConfig::output_listing_max_entries, "server.output_listing_max_entries")},
        {"http_threads", Field(&ServerConfig::http_threads, "server.http_threads")},
        {"data_dir", Field(&ServerConfig::data_dir, "server.data_dir")},
        {"host_name", Field(&ServerConfig::host_name, "server.host_name")},
        {"node_id", Field(&ServerConfig::node_id, "server.node_id")},
        {"advertise_url", Field(&ServerConfig::advertise_url, "server.advertise_url")},
        {"log_level", Field(&ServerConfig::log_level, "server.log_level")},
        {"log_format", Field(&ServerConfig::log_format, "server.log_format")}}},
      {"exec", config_internal::ExecSection()},
      {"audit",
       {{"retention_days", Field(&ServerConfig::audit_retention_days, "audit.retention_days")}}},
      {"events",
       {{"retention_days", Field(&ServerConfig::events_retention_days, "events.retention_days")},
        {"max_events", Field(&ServerConfig::events_max_events, "events.max_events")},
        {"subscriber_buffer",
         Field(&ServerConfig::events_subscriber_buffer, "events.subscriber_buffer")},
        {"heartbeat_seconds",
         Field(&ServerConfig::events_heartbeat_seconds, "events.heartbeat_seconds")}}},
      {"webhooks",
       {{"max_attempts", Field(&ServerConfig::webhooks_max_attempts, "webhooks.max_attempts")},
        {"backoff_initial_ms",
         Field(&ServerConfig::webhooks_backoff_initial_ms, "webhooks.backoff_initial_ms")},
        {"backoff_max_seconds",
         Field(&ServerConfig::webhooks_backoff_max_seconds, "webhooks.backoff_max_seconds")},
        {"timeout_seconds",
         Field(&ServerConfig::webhooks_timeout_seconds, "webhooks.timeout_seconds")},
        {"allowed_networks",
         ListField(&ServerConfig::webhooks_allowed_networks, "webhooks.allowed_networks")}}},
      {"metrics", config_internal::MetricsSection()},
      {"cleanup", config_internal::CleanupSection()},
      {"store", config_internal::StoreSection()},
      {"jobs", config_internal::JobsSection()},
      {"node", config_internal::NodeSection()},
      {"forwarding", config_internal::ForwardingSection()},
      {"leader", config_internal::LeaderSection()},
      {"attachments",
       {{"max_file_bytes",
         Field(&ServerConfig::max_attachment_bytes, "attachments.max_file_bytes")},
        {"max_total_bytes",
         Field(&ServerConfig::max_total_attachment_bytes, "attachments.max_total_bytes")}}},
      {"assets",
       {{"max_upload_bytes", Field(&ServerConfig::max_asset_bytes, "assets.max_upload_bytes")},
        {"blob_backend", Field(&ServerConfig::blob_backend, "assets.blob_backend")},
        {"blob_s3_bucket", Field(&ServerConfig::blob_s3_bucket, "assets.blob_s3_bucket")},
        {"blob_s3_prefix", Field(&ServerConfig::blob_s3_prefix, "assets.blob_s3_prefix")},
        {"namespace_owners",
         [](const YAML::Node& n, ServerConfig& c) {
           return StringListMap(n, "assets.namespace_owners", c.namespace_owners);
         }}}},
      {"auth", config_internal::AuthSection()},
      {"archive",
       {{"location", Field(&ServerConfig::archive_location, "archive.location")},
        {"output_cache_max_bytes",
         Field(&ServerConfig::archive_output_cache_max_bytes, "archive.output_cache_max_bytes")},
        {"job_dir_retention_hours",
         Field(&ServerConfig::job_dir_retention_hours, "archive.job_dir_retention_hours")},
        {"sweep_interval_s", Field(&ServerConfig::sweep_interval_s, "archive.sweep_interval_s")}}},
      {"fetch",
       {{"cache_enabled", Field(&ServerConfig::cache_enabled, "fetch.cache_enabled")},
        {"cache_dir", Field(&ServerConfig::cache_dir, "fetch.cache_dir")},
        {"cache_max_bytes", Field(&ServerConfig::cache_max_bytes, "fetch.cache_max_bytes")},
        {"connect_timeout_ms",
         Field(&ServerConfig::fetch_connect_timeout_ms, "fetch.connect_timeout_ms")},
        {"stall_timeout_ms",
         Field(&ServerConfig::fetch_stall_timeout_ms, "fetch.stall_timeout_ms")},
        {"allowed_file_roots",
         ListField(&ServerConfig::fetch_allowed_file_roots, "fetch.allowed_file_roots")},
        {"allowed_networks",
         ListField(&ServerConfig::fetch_allowed_networks, "fetch.allowed_networks")}}},
      {"s3",
       {{"endpoint", Field(&ServerConfig::s3_endpoint, "s3.endpoint")},
        {"region", Field(&ServerConfig::s3_region, "s3.region")},
        {"addressing", Field(&ServerConfig::s3_addressing, "s3.addressing")},
        {"access_key_id", Field(&ServerConfig::s3_access_key_id, "s3.access_key_id")},
        {"secret_access_key", Field(&ServerConfig::s3_secret_access_key, "s3.secret_access_key")}}},
  };
  return *schema;
}

Status CheckRanges(const ServerConfig& c) {
  WEIR_RETURN_IF_ERROR(config_internal::CheckCluster(c));
  if (c.http_threads < 1 || c.http_threads > 64) {
    return InvalidArgument("config server.http_threads: must be 1 to 64");
  }
  if (c.handler_threads < 0 || c.handler_threads > 1024) {
    return InvalidArgument("config server.handler_threads: must be 0 (automatic) to 1024");
  }
  if (c.max_connections < 1) return InvalidArgument("config server.max_connections: must be ≥ 1");
  if (c.max_connections_per_client < 1 || c.max_connections_per_client > c.max_connections) {
    return InvalidArgument(
        "config server.max_connections_per_client: must be 1 to server.max_connections");
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return InvalidArgument(
        std::string("config ") + (c.tls_cert.empty() ? "server.tls.cert" : "server.tls.key") +
        ": required with " + (c.tls_cert.empty() ? "server.tls.key" : "server.tls.cert"));
  }
  if (!c.tls_client_ca.empty() && c.tls_cert.empty()) {
    return InvalidArgument(
        "config server.tls.client_ca: needs server.tls.cert and server.tls.key (client "
        "certificates are only asked for over TLS)");
  }
  for (auto [v, key] : {std::pair{c.header_timeout_ms, "server.header_timeout_ms"},
                        std::pair{c.tls_handshake_timeout_ms, "server.tls.handshake_timeout_ms"},
                        std::pair{c.idle_timeout_ms, "server.idle_timeout_ms"},
                        std::pair{c.body_grace_ms, "server.body_grace_ms"}}) {
    if (v < 1 || v > 3600 * 1000) {
      return InvalidArgument(std::string("config ") + key + ": must be 1 to 3600000 (ms)");
    }
  }
  if (c.min_body_bytes_per_s < 0) {
    return InvalidArgument("config server.min_body_bytes_per_s: must be ≥ 0 (0 turns it off)");
  }
  if (c.fd_reserve < 64) return InvalidArgument("config server.fd_reserve: must be ≥ 64");
  if (c.output_listing_max_entries < 1 || c.output_listing_max_entries > 1000000) {
    return InvalidArgument("config server.output_listing_max_entries: must be 1 to 1000000");
  }
  if (!(c.rate_limit_requests_per_second >= 0) || c.rate_limit_requests_per_second > 1e9) {
    return InvalidArgument(
        "config server.rate_limit.requests_per_second: must be 0 (off) to 1000000000");
  }
  if (!(c.rate_limit_burst >= 1) || c.rate_limit_burst > 1e9) {
    return InvalidArgument("config server.rate_limit.burst: must be 1 to 1000000000");
  }
  if (c.audit_retention_days < 0 || c.audit_retention_days > 100000) {
    return InvalidArgument("config audit.retention_days: must be 0 (keep all) to 100000");
  }
  if (c.events_retention_days < 0 || c.events_retention_days > 100000) {
    return InvalidArgument(
        "config events.retention_days: must be 0 (keep by count only) to 100000");
  }
  if (c.events_max_events < 0) {
    return InvalidArgument("config events.max_events: must be 0 (no count bound) or more");
  }
  if (c.events_retention_days == 0 && c.events_max_events == 0) {
    return InvalidArgument(
        "config events: retention_days and max_events are both 0; bound the log by one of them");
  }
  if (c.events_subscriber_buffer < 1 || c.events_subscriber_buffer > 10000000) {
    return InvalidArgument("config events.subscriber_buffer: must be 1 to 10000000");
  }
  if (c.events_heartbeat_seconds < 1 || c.events_heartbeat_seconds > 3600) {
    return InvalidArgument("config events.heartbeat_seconds: must be 1 to 3600");
  }
  if (c.webhooks_max_attempts < 1 || c.webhooks_max_attempts > 100) {
    return InvalidArgument("config webhooks.max_attempts: must be 1 to 100");
  }
  if (c.webhooks_backoff_initial_ms < 1 || c.webhooks_backoff_initial_ms > 3'600'000) {
    return InvalidArgument("config webhooks.backoff_initial_ms: must be 1 to 3600000");
  }
  if (c.webhooks_backoff_max_seconds < 1 || c.webhooks_backoff_max_seconds > 86400) {
    return InvalidArgument("config webhooks.backoff_max_seconds: must be 1 to 86400");
  }
  if (c.webhooks_timeout_seconds < 1 || c.webhooks_timeout_seconds > 300) {
    return InvalidArgument("config webhooks.timeout_seconds: must be 1 to 300");
  }
  for (const std::string& network : c.webhooks_allowed_networks) {
    Result<fetch::IpNetwork> parsed = fetch::IpNetwork::Parse(network);
    if (!parsed.ok()) return parsed.status().WithContext("config webhooks.allowed_networks");
  }
  WEIR_RETURN_IF_ERROR(config_internal::CheckStore(c));
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error"};
  bool level_ok = false;
  for (const char* l : kLevels) level_ok |= c.log_level == l;
  if (!level_ok) {
    return InvalidArgument("config server.log_level: must be trace, debug, info, warn or error");
  }
  if (c.log_format != "text" && c.log_format != "json") {
    return InvalidArgument("config server.log_format: '" + c.log_format +
                           "' is not a log format (use text or json)");
  }
  WEIR_RETURN_IF_ERROR(config_internal::CheckJobs(c));
  WEIR_RETURN_IF_ERROR(config_internal::CheckAuth(c));
  if (c.s3_addressing != "auto" && c.s3_addressing != "path" && c.s3_addressing != "virtual") {
    return InvalidArgument("config s3.addressing: must be auto, path or virtual");
  }
  if (c.blob_backend != "local" && c.blob_backend != "s3") {
    return InvalidArgument("config assets.blob_backend: must be local or s3");
  }
  if (c.blob_backend == "s3" && c.blob_s3_bucket.empty()) {
    return InvalidArgument("config assets.blob_s3_bucket: required with blob_backend s3");
  }
  if (c.sweep_interval_s <= 0)
    return InvalidArgument("config archive.sweep_interval_s: must be positive");
  if (c.cache_max_bytes <= 0)
    return InvalidArgument("config fetch.cache_max_bytes: must be positive");
  for (const std::string& root : c.fetch_allowed_file_roots) {
    if (root.empty() || root.front() != '/') {
      return InvalidArgument("config fetch.allowed_file_roots: '" + root +
                             "' is not an absolute folder");
    }
  }
  for (const std::string& network : c.fetch_allowed_networks) {
    Result<fetch::IpNetwork> parsed = fetch::IpNetwork::Parse(network);
    if (!parsed.ok()) return parsed.status().WithContext("config fetch.allowed_networks");
  }
  return Status::Ok();
}

}  // namespace

Status ParseListen(std::string_view listen, ServerConfig& config) {
  size_t colon = listen.rfind(':');
  long long port = 0;
  if (colon == std::string_view::npos || !ParseInt64(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return InvalidArgument(
        "listen '" + std::string(listen) +
        "': expected HOST:PORT such as 127.0.0.1:8080 (port 0 picks a free one)");
  }
  std::string host(listen.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) {
    return InvalidArgument(
        "listen '" + std::string(listen) +
        "': the host is missing; write 127.0.0.1:" + std::string(listen.substr(colon + 1)) +
        " (this machine only) or 0.0.0.0:" + std::string(listen.substr(colon + 1)) +
        " (every interface)");
  }
  config.listen_host = host;
  config.listen_port = static_cast<uint16_t>(port);
  return Status::Ok();
}

Result<ServerConfig> ParseServerConfig(std::string_view yaml_text, ServerConfig c) {
  if (yaml_text.size() > (1 << 20)) return InvalidArgument("config: file larger than 1 MiB");
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument("config: line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return c;
  if (!root.IsMap()) return InvalidArgument("config: expected a mapping of sections");
  const auto& schema = Schema();
  for (const auto& section : root) {
    std::string name = section.first.as<std::string>();
    auto s = schema.find(name);
    if (s == schema.end()) {
      return InvalidArgument(
          "config: unknown section '" + name +
          "' (sections: server, audit, store, jobs, attachments, assets, auth, archive, fetch, "
          "s3)");
    }
    if (section.second.IsNull()) continue;
    if (!section.second.IsMap()) return InvalidArgument("config " + name + ": expected a mapping");
    for (const auto& kv : section.second) {
      std::string key = kv.first.as<std::string>();
      auto f = s->second.find(key);
      if (f == s->second.end()) {
        std::vector<std::string> known;
        for (const auto& [k, _] : s->second) known.push_back(k);
        return InvalidArgument("config " + name + "." + key +
                               ": unknown setting (known: " + Join(known, ", ") + ")");
      }
      WEIR_RETURN_IF_ERROR(f->second(kv.second, c));
    }
  }
  WEIR_RETURN_IF_ERROR(CheckRanges(c));
  return c;
}

Result<ServerConfig> LoadServerConfig(const std::filesystem::path& file) {
  auto text = ReadFile(file);
  if (!text.ok()) return text.status().WithContext("config file");
  auto c = ParseServerConfig(*text);
  if (!c.ok()) return c.status().WithContext(file.string());
  return c;
}

}  // namespace weir::server
