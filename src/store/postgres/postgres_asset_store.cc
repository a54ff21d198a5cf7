#include "store/postgres/postgres_asset_store.h"

#include <algorithm>
#include <utility>

#include "store/postgres/schema.h"

namespace weir::store::postgres {
namespace {

constexpr const char* kSelect =
    "SELECT uuid, type, ns, owner, repo, branch, commit_short, build, sha256, size, file_name, "
    "extension, dirty, publisher, created_ms FROM assets";
constexpr const char* kNewestFirst = " ORDER BY created_ms DESC, seq DESC";

// The advisory lock class of publishes ('weir' in ASCII); the namespace's hash is the key. Other
// weir locks use the one-bigint form, whose keys never meet the two-integer ones.
constexpr const char* kPublishLock = "SELECT pg_advisory_xact_lock(2003134834, hashtext($1))";

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

AssetVersionRow ReadRow(const Rows& r, int i) {
  AssetVersionRow v;
  v.uuid = r.String(i, 0);
  v.type = r.String(i, 1);
  v.ns = r.String(i, 2);
  v.owner = r.String(i, 3);
  v.repo = r.String(i, 4);
  v.branch = r.String(i, 5);
  v.commit = r.String(i, 6);
  v.build = r.Int(i, 7);
  v.sha256 = r.String(i, 8);
  v.size = r.Int(i, 9);
  v.file_name = r.String(i, 10);
  v.extension = r.String(i, 11);
  v.dirty = r.Int(i, 12) != 0;
  v.publisher = r.String(i, 13);
  v.created = FromEpochMillis(r.Int(i, 14));
  return v;
}

std::vector<AssetVersionRow> ReadRows(const Rows& r) {
  std::vector<AssetVersionRow> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) out.push_back(ReadRow(r, i));
  return out;
}

Result<std::optional<AssetNamespaceRow>> ReadNamespace(Connection& c, std::string_view ns) {
  Params p;
  p.Add(ns);
  WEIR_ASSIGN_OR_RETURN(
      Rows r,
      c.Exec("SELECT type, owner, repo, created_ms FROM asset_namespaces WHERE ns = $1", p));
  if (r.size() == 0) return std::optional<AssetNamespaceRow>();
  return std::optional<AssetNamespaceRow>(AssetNamespaceRow{std::string(ns), r.String(0, 0),
                                                            r.String(0, 1), r.String(0, 2),
                                                            FromEpochMillis(r.Int(0, 3))});
}

}  // namespace

Result<std::shared_ptr<PostgresAssetStore>> PostgresAssetStore::Open(
    const std::string& url, const std::string& password, const PostgresOptions& options) {
  auto pool = std::make_unique<Pool>(url, password, std::max(1, options.pool_size),
                                     options.connect_timeout_s);
  {
    WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool->Acquire());
    if (options.migrate) {
      WEIR_RETURN_IF_ERROR(Migrate(*c, RedactUrl(url)).status());
    } else {
      WEIR_ASSIGN_OR_RETURN(int64_t version, ReadVersion(*c));
      if (version != kSchemaVersion) {
        return FailedPrecondition("postgresql '" + RedactUrl(url) + "': schema version " +
                                  std::to_string(version) + ", this weir needs " +
                                  std::to_string(kSchemaVersion) + "; run `weir db migrate`");
      }
    }
  }
  return std::shared_ptr<PostgresAssetStore>(new PostgresAssetStore(std::move(pool)));
}

Result<std::optional<AssetNamespaceRow>> PostgresAssetStore::GetNamespace(std::string_view ns) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  return ReadNamespace(*c, ns);
}

Result<AssetVersionRow> PostgresAssetStore::PublishVersion(const AssetVersionRow& row,
                                                           const PublishDecision& decide) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  {
    Params p;
    p.Add(row.ns);
    WEIR_RETURN_IF_ERROR(c->Exec(kPublishLock, p).status());
  }
  // Read after the lock: every publish into the namespace that took it before us is committed
  // and visible (READ COMMITTED takes a new snapshot per statement).
  WEIR_ASSIGN_OR_RETURN(std::optional<AssetNamespaceRow> owner, ReadNamespace(*c, row.ns));
  int64_t next = 1;
  {
    Params p;
    p.Add(row.type).Add(row.ns).Add(row.owner).Add(row.repo).Add(row.branch);
    WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT COALESCE(MAX(build), 0) FROM assets WHERE "
                                          "type = $1 AND ns = $2 AND owner = $3 AND repo = $4 "
                                          "AND branch = $5",
                                          p));
    if (r.size() > 0) next = r.Int(0, 0) + 1;
  }
  AssetVersionRow stored = row;
  stored.build = next;
  {
    AssetVersionRow decided = stored;
    WEIR_RETURN_IF_ERROR(decide(owner, decided));
    stored.uuid = std::move(decided.uuid);  // all `decide` may change
    stored.created = decided.created;
  }
  const int64_t created = ToEpochMillis(stored.created);
  if (!owner) {
    Params p;
    p.Add(stored.ns).Add(stored.type).Add(stored.owner).Add(stored.repo).Add(created);
    WEIR_RETURN_IF_ERROR(c->Exec("INSERT INTO asset_namespaces (ns, type, owner, repo, "
                                 "created_ms) VALUES ($1, $2, $3, $4, $5)",
                                 p)
                             .status());
  }
  Params p;
  p.Add(stored.uuid).Add(stored.type).Add(stored.ns).Add(stored.owner).Add(stored.repo);
  p.Add(stored.branch).Add(stored.commit).Add(stored.build).Add(stored.sha256).Add(stored.size);
  p.Add(stored.file_name).Add(stored.extension).Add(int64_t{stored.dirty ? 1 : 0});
  p.Add(stored.publisher).Add(created);
  Status s = c->Exec(
                  "INSERT INTO assets (uuid, type, ns, owner, repo, branch, commit_short, "
                  "build, sha256, size, file_name, extension, dirty, publisher, created_ms) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                  p)
                 .status();
  if (!s.ok()) {
    if (s.code() == StatusCode::kAlreadyExists) {
      return AlreadyExists("asset " + Quote(stored.uuid) + ": already published");
    }
    return s.WithContext("asset " + Quote(stored.uuid));
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return stored;
}

Result<AssetVersionRow> PostgresAssetStore::One(const std::string& where_and_order, const Params& p,
                                                std::string_view what) {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec(std::string(kSelect) + where_and_order + " LIMIT 1", p));
  if (r.size() == 0) return NotFound(std::string(what) + ": not found");
  return ReadRow(r, 0);
}

Result<AssetVersionRow> PostgresAssetStore::GetVersion(std::string_view uuid) {
  Params p;
  p.Add(uuid);
  return One(" WHERE uuid = $1", p, "asset " + Quote(uuid));
}

Result<Page<AssetVersionRow>> PostgresAssetStore::ListVersions(const AssetVersionFilter& filter,
                                                               int64_t page, int64_t size) {
  if (page < 0) return InvalidArgument("page: must be >= 0");
  if (size < 1) return InvalidArgument("size: must be >= 1");
  Params p;
  std::string where;
  auto add = [&](const char* column, const std::string& value) {
    if (value.empty()) return;
    where += std::string(where.empty() ? " WHERE " : " AND ") + column + " = " + p.Next(value);
  };
  add("type", filter.type);
  add("ns", filter.ns);
  add("branch", filter.branch);
  add("owner", filter.owner);
  add("repo", filter.repo);
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c, /*snapshot=*/true));
  Page<AssetVersionRow> out;
  {
    WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT COUNT(*) FROM assets" + where, p));
    out.total = r.size() > 0 ? r.Int(0, 0) : 0;
  }
  const std::string limit = p.Next(size);
  const std::string offset = p.Next(page * size);
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec(std::string(kSelect) + where + kNewestFirst + " LIMIT " +
                                            limit + " OFFSET " + offset,
                                        p));
  out.items = ReadRows(r);
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Result<AssetVersionRow> PostgresAssetStore::NewestVersion(std::string_view type,
                                                          std::string_view ns) {
  Params p;
  p.Add(type).Add(ns);
  return One(std::string(" WHERE type = $1 AND ns = $2") + kNewestFirst, p,
             "asset namespace " + Quote(ns));
}

Result<AssetVersionRow> PostgresAssetStore::NewestOnBranch(std::string_view type,
                                                           std::string_view ns,
                                                           std::string_view branch) {
  Params p;
  p.Add(type).Add(ns).Add(branch);
  return One(" WHERE type = $1 AND ns = $2 AND branch = $3 ORDER BY build DESC, seq DESC", p,
             "asset branch " + Quote(branch));
}

Result<AssetVersionRow> PostgresAssetStore::VersionOnBranch(std::string_view type,
                                                            std::string_view ns,
                                                            std::string_view branch,
                                                            int64_t build) {
  Params p;
  p.Add(type).Add(ns).Add(branch).Add(build);
  return One(" WHERE type = $1 AND ns = $2 AND branch = $3 AND build = $4 ORDER BY seq DESC", p,
             "asset build " + std::to_string(build));
}

Result<std::vector<AssetVersionRow>> PostgresAssetStore::VersionsNear(std::string_view type,
                                                                      std::string_view ns,
                                                                      bool and_other_namespaces,
                                                                      int64_t limit) {
  if (limit < 1) return InvalidArgument("limit: must be >= 1");
  Params p;
  p.Add(ns).Add(type).Add(limit);
  std::string sql = std::string(kSelect) +
                    (and_other_namespaces
                         ? " WHERE ns = $1 OR seq IN (SELECT MAX(seq) FROM assets WHERE type = $2 "
                           "GROUP BY ns)"
                         : " WHERE ns = $1 AND type = $2") +
                    " ORDER BY seq DESC LIMIT $3";
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec(sql, p));
  return ReadRows(r);
}

Result<bool> PostgresAssetStore::BlobReferenced(std::string_view sha256) {
  Params p;
  p.Add(sha256);
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT 1 FROM assets WHERE sha256 = $1 LIMIT 1", p));
  return r.size() > 0;
}

Result<std::vector<std::string>> PostgresAssetStore::ReferencedBlobs() {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT DISTINCT sha256 FROM assets ORDER BY sha256"));
  std::vector<std::string> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(r.String(i, 0));
  return out;
}

}  // namespace weir::store::postgres
