// Private to the server config parser (config.cc and config_<section>.cc): a section of the YAML
// file is a table of setting name -> Setter; each section file gives its table and a check of
// the parsed values. Error messages read "config <section>.<key>: <what is wrong>".
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "common/result.h"
#include "server/config.h"

namespace weir::server::config_internal {

using Setter = std::function<Status(const YAML::Node&, ServerConfig&)>;

template <typename T>
Setter Field(T ServerConfig::*member, std::string key) {
  return [member, key](const YAML::Node& n, ServerConfig& c) -> Status {
    try {
      if constexpr (std::is_same_v<T, std::filesystem::path>) {
        c.*member = n.as<std::string>();
      } else {
        c.*member = n.as<T>();
      }
    } catch (const YAML::Exception&) {
      return InvalidArgument("config " + key + ": expected " +
                             (std::is_same_v<T, bool> ? "true or false"
                              : std::is_integral_v<T> ? "a whole number"
                                                      : "a string"));
    }
    return Status::Ok();
  };
}

using SectionTable = std::map<std::string, Setter>;

// A YAML sequence of strings ("[a, b]" or a block list); an empty or null value clears it.
Setter ListField(std::vector<std::string> ServerConfig::*member, std::string key);
// A mapping of string → list of strings ("ns: [alice, data-eng]"; a single string is a list
// of one).
Status StringListMap(const YAML::Node& n, const std::string& key,
                     std::map<std::string, std::vector<std::string>>& out);
// A mapping under a setting (server.tls, exec.slurm) parsed with its own `table`; null leaves
// the settings as they are. `keys` lists the table's keys for the messages, in the order the
// docs give them.
Status NestedSection(const YAML::Node& n, const std::string& name, const SectionTable& table,
                     const std::string& keys, ServerConfig& c);
// A list of strings; a single string is a list of one, null an empty list.
Status StringList(const YAML::Node& n, const std::string& key, std::vector<std::string>& out);

// config_auth.cc: the auth section, and its checks (auth.mode, auth.oidc against auth.jwt).
SectionTable AuthSection();
Status CheckAuth(const ServerConfig& c);

// config_cluster.cc: node, forwarding, leader, cleanup and metrics, and their ranges.
SectionTable NodeSection();
SectionTable ForwardingSection();
SectionTable LeaderSection();
SectionTable CleanupSection();
SectionTable MetricsSection();
Status CheckCluster(const ServerConfig& c);

// config_jobs.cc: jobs and exec (exec.slurm), and their ranges.
SectionTable JobsSection();
SectionTable ExecSection();
Status CheckJobs(const ServerConfig& c);

// config_store.cc: the store section, and its checks (store.type, store.url, store.pool_size).
SectionTable StoreSection();
Status CheckStore(const ServerConfig& c);

}  // namespace weir::server::config_internal
