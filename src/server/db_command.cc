// `weir db status` and `weir db migrate`: the schema of the store a server config names (SQLite
// file or PostgreSQL database), read or brought up to date without starting a server. They work
// on the database directly, not through a server: run them where the config and its password are.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>

#include "cli/cli.h"
#include "server/config.h"
#include "store/open.h"

namespace weir::cli {

namespace {

struct DbFlags {
  std::string config_file;
  std::string data_dir;
};

// The store the flags name; exit code kExitUsage when the config is wrong.
Result<store::StoreLocation> Location(const DbFlags& flags) {
  server::ServerConfig config;
  if (!flags.config_file.empty()) {
    WEIR_ASSIGN_OR_RETURN(config, server::LoadServerConfig(flags.config_file));
  }
  if (!flags.data_dir.empty()) config.data_dir = flags.data_dir;
  return server::StoreLocationOf(config);
}

std::string State(const store::SchemaInfo& info) {
  if (info.version > info.latest) return "newer";
  if (info.version < info.latest) return "pending";
  return "current";
}

void Print(const Globals& g, const store::SchemaInfo& info, bool migrated) {
  const int64_t pending = info.version < info.latest ? info.latest - info.version : 0;
  if (g.output == "json") {
    boost::json::object o;
    o["store"] = info.location;
    o["version"] = info.version;
    o["latest"] = info.latest;
    o["pending"] = pending;
    o["state"] = State(info);
    if (migrated) o["applied"] = info.version - info.before;
    std::cout << boost::json::serialize(o) << "\n";
    return;
  }
  std::cout << "store:   " << info.location << "\n";
  std::cout << "schema:  version " << info.version << " (this weir knows up to " << info.latest
            << ")\n";
  if (migrated) std::cout << "applied: " << info.version - info.before << " migration(s)\n";
  if (info.version > info.latest) {
    std::cout << "state:   written by a newer weir; upgrade weir before starting this one\n";
  } else if (pending > 0) {
    std::cout << "state:   " << pending
              << " migration(s) pending; run `weir db migrate` (weir server also applies them)\n";
  } else {
    std::cout << "state:   up to date\n";
  }
}

int Run(Globals& g, const DbFlags& flags, bool migrate) {
  Result<store::StoreLocation> where = Location(flags);
  if (!where.ok()) {
    std::cerr << "weir: db: " << where.status().message() << "\n";
    return kExitUsage;
  }
  Result<store::SchemaInfo> info =
      migrate ? store::MigrateSchema(*where) : store::ReadSchema(*where);
  if (!info.ok()) {
    std::cerr << "weir: db: " << info.status().message() << "\n";
    return kExitFailure;
  }
  if (migrate) {
    std::cerr << "weir: db: " << store::DescribeLocation(*where) << " migrated from version "
              << info->before << " to " << info->version << "\n";
  }
  Print(g, *info, migrate);
  return info->version > info->latest ? kExitFailure : kExitOk;
}

void AddFlags(CLI::App* cmd, DbFlags& flags) {
  cmd->add_option("-c,--config", flags.config_file, "server config file (YAML) naming the store")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data-dir", flags.data_dir,
                  "the server's data folder (for the default SQLite file <data-dir>/weir.db)");
}

}  // namespace

void AddDbCommand(CLI::App& app, Globals& g) {
  CLI::App* db = app.add_subcommand(
      "db", "The store's schema (SQLite file or PostgreSQL database) of a server config");
  db->require_subcommand(1);
  auto status_flags = std::make_shared<DbFlags>();
  CLI::App* status = db->add_subcommand(
      "status", "Show the schema version of the configured store and what is pending");
  AddFlags(status, *status_flags);
  status->callback([status_flags, &g] { g.exit_code = Run(g, *status_flags, false); });
  auto migrate_flags = std::make_shared<DbFlags>();
  CLI::App* migrate = db->add_subcommand(
      "migrate", "Apply the pending schema migrations to the configured store (servers may run)");
  AddFlags(migrate, *migrate_flags);
  migrate->callback([migrate_flags, &g] { g.exit_code = Run(g, *migrate_flags, true); });
}

}  // namespace weir::cli
