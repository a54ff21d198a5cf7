// The store section of the server config: where the durable rows live (SQLite or PostgreSQL),
// and the password of a PostgreSQL store, read from the variable or file the config names.
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "server/config.h"
#include "server/config_internal.h"

namespace weir::server::config_internal {

namespace {

// store.url with store.type postgresql: a postgresql:// URI holding no password (a config file
// is read by many; the password comes from store.password_env or store.password_file).
Status CheckStoreUrl(const ServerConfig& c) {
  if (c.store_type != "postgresql") return Status::Ok();
  const std::string& url = c.store_url;
  if (url.empty()) {
    return InvalidArgument(
        "config store.url: required with store.type postgresql "
        "(postgresql://USER@HOST:PORT/DATABASE)");
  }
  const bool uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!uri) {
    return InvalidArgument("config store.url: must start with postgresql:// (got a value of " +
                           std::to_string(url.size()) + " characters)");
  }
  const size_t start = url.find("://") + 3;
  const size_t at = url.find('@', start);
  const size_t end = url.find_first_of("/?", start);
  const bool userinfo_password = at != std::string::npos &&
                                 (end == std::string::npos || at < end) &&
                                 url.substr(start, at - start).find(':') != std::string::npos;
  const size_t query = url.find('?');
  const bool query_password =
      query != std::string::npos && (url.find("?password=", query) != std::string::npos ||
                                     url.find("&password=", query) != std::string::npos);
  if (userinfo_password || query_password) {
    return InvalidArgument(
        "config store.url: holds a password; put it in a file named by store.password_file or "
        "a variable named by store.password_env instead");
  }
  if (!c.store_password_env.empty() && !c.store_password_file.empty()) {
    return InvalidArgument("config store.password_env, store.password_file: set one, not both");
  }
  return Status::Ok();
}

}  // namespace

SectionTable StoreSection() {
  return {{"type", Field(&ServerConfig::store_type, "store.type")},
          {"sqlite_path", Field(&ServerConfig::sqlite_path, "store.sqlite_path")},
          {"url", Field(&ServerConfig::store_url, "store.url")},
          {"password_env", Field(&ServerConfig::store_password_env, "store.password_env")},
          {"password_file", Field(&ServerConfig::store_password_file, "store.password_file")},
          {"pool_size", Field(&ServerConfig::store_pool_size, "store.pool_size")}};
}

Status CheckStore(const ServerConfig& c) {
  if (c.store_type != "sqlite" && c.store_type != "postgresql") {
    return InvalidArgument("config store.type: '" + c.store_type +
                           "' is not supported (use sqlite or postgresql)");
  }
  if (Status s = CheckStoreUrl(c); !s.ok()) return s;
  if (c.store_pool_size < 1 || c.store_pool_size > 1000) {
    return InvalidArgument("config store.pool_size: must be 1 to 1000");
  }
  return Status::Ok();
}

}  // namespace weir::server::config_internal

namespace weir::server {

Result<store::StoreLocation> StoreLocationOf(const ServerConfig& c) {
  store::StoreLocation where;
  where.type = c.store_type;
  where.sqlite_path = c.SqlitePath().string();
  where.url = c.store_url;
  where.pool_size = c.store_pool_size;
  if (c.store_type != "postgresql") return where;
  if (!c.store_password_env.empty()) {
    const char* v = std::getenv(c.store_password_env.c_str());
    if (v == nullptr || *v == '\0') {
      return InvalidArgument("config store.password_env: the variable " + c.store_password_env +
                             " is not set");
    }
    where.password = v;
  } else if (!c.store_password_file.empty()) {
    struct stat st {};
    if (::stat(c.store_password_file.c_str(), &st) != 0) {
      return ErrnoStatus("config store.password_file: " + c.store_password_file.string(), errno);
    }
    if ((st.st_mode & S_IROTH) != 0) {
      return InvalidArgument("config store.password_file: " + c.store_password_file.string() +
                             " is readable by every user; chmod o-r it");
    }
    std::ifstream in(c.store_password_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      return InvalidArgument("config store.password_file: cannot read " +
                             c.store_password_file.string());
    }
    where.password = text.str();
    while (!where.password.empty() &&
           (where.password.back() == '\n' || where.password.back() == '\r')) {
      where.password.pop_back();
    }
  }
  return where;
}

}  // namespace weir::server
