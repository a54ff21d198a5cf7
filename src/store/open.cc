#include "store/open.h"

#include <algorithm>
#include <filesystem>

#include "store/asset_store.h"
#include "store/postgres/connection.h"
#include "store/postgres/postgres_asset_store.h"
#include "store/postgres/postgres_scheduler_store.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/postgres_webhook_store.h"
#include "store/postgres/schema.h"
#include "store/sqlite/database.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_scheduler_store.h"
#include "store/sqlite/sqlite_store.h"

namespace weir::store {
namespace {

// Connections the asset registry's store opens at most, besides store.pool_size.
constexpr int kAssetPoolSize = 2;
// Connections the webhook store opens at most: the delivery workers (one per subscription)
// write one short transaction per attempt.
constexpr int kWebhookPoolSize = 2;

Status CheckType(const StoreLocation& where) {
  if (where.type == "sqlite" || where.type == "postgresql") return Status::Ok();
  return InvalidArgument("store.type: '" + where.type +
                         "' is not supported (use sqlite or postgresql)");
}

postgres::PostgresOptions PgOptions(const StoreLocation& where, bool migrate) {
  postgres::PostgresOptions o;
  o.pool_size = where.pool_size;
  o.migrate = migrate;
  return o;
}

}  // namespace

std::string DescribeLocation(const StoreLocation& where) {
  if (where.type == "postgresql") return "postgresql " + postgres::RedactUrl(where.url);
  return where.type + " " + where.sqlite_path;
}

Result<Stores> OpenStores(const StoreLocation& where, Clock& clock) {
  WEIR_RETURN_IF_ERROR(CheckType(where));
  if (where.type == "sqlite") return OpenSqlite(where.sqlite_path, clock);
  WEIR_ASSIGN_OR_RETURN(
      std::shared_ptr<postgres::PostgresStore> s,
      postgres::PostgresStore::Open(where.url, where.password, PgOptions(where, true)));
  Stores out;
  out.config = s;
  out.jobs = s;
  out.audit = s;
  out.events = s;
  out.search = s;
  // Migrated above: the asset store only checks the version. Its own small pool: publishes and
  // resolutions are single short transactions.
  postgres::PostgresOptions asset_options = PgOptions(where, false);
  asset_options.pool_size = std::min(where.pool_size, kAssetPoolSize);
  WEIR_ASSIGN_OR_RETURN(
      out.assets, postgres::PostgresAssetStore::Open(where.url, where.password, asset_options));
  out.nodes = s;
  WEIR_ASSIGN_OR_RETURN(
      out.webhooks, postgres::PostgresWebhookStore::Open(
                        where.url, where.password, std::min(where.pool_size, kWebhookPoolSize)));
  return out;
}

Result<std::unique_ptr<SchedulerStore>> OpenSchedulerStore(const StoreLocation& where,
                                                           int busy_timeout_ms) {
  WEIR_RETURN_IF_ERROR(CheckType(where));
  if (where.type == "sqlite") return sqlite::OpenSchedulerStore(where.sqlite_path, busy_timeout_ms);
  return postgres::OpenSchedulerStore(where.url, where.password);
}

Result<SchemaInfo> ReadSchema(const StoreLocation& where) {
  WEIR_RETURN_IF_ERROR(CheckType(where));
  SchemaInfo info;
  info.location = DescribeLocation(where);
  if (where.type == "sqlite") {
    info.latest = sqlite::kSchemaVersion;
    std::error_code ec;
    if (!std::filesystem::exists(where.sqlite_path, ec)) return info;
    WEIR_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> db,
                          sqlite::Database::Open(where.sqlite_path, 5000, 16));
    WEIR_ASSIGN_OR_RETURN(info.version, sqlite::ReadVersion(*db));
    return info;
  }
  info.latest = postgres::kSchemaVersion;
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<postgres::Connection> c,
                        postgres::Connection::Open(where.url, where.password, 10));
  WEIR_ASSIGN_OR_RETURN(info.version, postgres::ReadVersion(*c));
  return info;
}

Result<SchemaInfo> MigrateSchema(const StoreLocation& where) {
  WEIR_ASSIGN_OR_RETURN(SchemaInfo info, ReadSchema(where));
  info.before = info.version;
  if (where.type == "sqlite") {
    WEIR_RETURN_IF_ERROR(sqlite::SqliteStore::Open(where.sqlite_path).status());
  } else {
    WEIR_ASSIGN_OR_RETURN(std::unique_ptr<postgres::Connection> c,
                          postgres::Connection::Open(where.url, where.password, 10));
    WEIR_ASSIGN_OR_RETURN(info.before, postgres::Migrate(*c, postgres::RedactUrl(where.url)));
  }
  WEIR_ASSIGN_OR_RETURN(SchemaInfo after, ReadSchema(where));
  info.version = after.version;
  return info;
}

}  // namespace weir::store
