#include "store/sqlite/sqlite_asset_store.h"

#include <utility>

namespace weir::store::sqlite {
namespace {

// The tables exactly as the registry created them before they moved behind AssetStore.
constexpr const char* kTables = R"sql(
CREATE TABLE IF NOT EXISTS asset_namespaces (
  ns TEXT PRIMARY KEY NOT NULL,
  type TEXT NOT NULL,
  owner TEXT NOT NULL,
  repo TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assets (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  ns TEXT NOT NULL,
  owner TEXT NOT NULL,
  repo TEXT NOT NULL,
  branch TEXT NOT NULL,
  commit_short TEXT NOT NULL,
  build INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  file_name TEXT NOT NULL,
  extension TEXT NOT NULL,
  dirty INTEGER NOT NULL,
  publisher TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  UNIQUE (type, ns, owner, repo, branch, build)
);
CREATE INDEX IF NOT EXISTS assets_by_namespace ON assets (type, ns, created_ms, seq);
CREATE INDEX IF NOT EXISTS assets_by_branch ON assets (type, ns, branch, build);
)sql";

constexpr const char* kSelect =
    "SELECT uuid, type, ns, owner, repo, branch, commit_short, build, sha256, size, file_name, "
    "extension, dirty, publisher, created_ms FROM assets";
constexpr const char* kNewestFirst = " ORDER BY created_ms DESC, seq DESC";

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

AssetVersionRow ReadRow(const Stmt& s) {
  AssetVersionRow r;
  r.uuid = s.String(0);
  r.type = s.String(1);
  r.ns = s.String(2);
  r.owner = s.String(3);
  r.repo = s.String(4);
  r.branch = s.String(5);
  r.commit = s.String(6);
  r.build = s.Int(7);
  r.sha256 = s.String(8);
  r.size = s.Int(9);
  r.file_name = s.String(10);
  r.extension = s.String(11);
  r.dirty = s.Int(12) != 0;
  r.publisher = s.String(13);
  r.created = FromEpochMillis(s.Int(14));
  return r;
}

}  // namespace

Result<std::shared_ptr<SqliteAssetStore>> SqliteAssetStore::Open(const std::string& path,
                                                                 int busy_timeout_ms) {
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path, busy_timeout_ms, 64));
  const std::string context = "asset store '" + path + "'";
  if (Status s = db->Exec("PRAGMA synchronous=FULL"); !s.ok()) return s.WithContext(context);
  if (Status s = db->Exec(kTables); !s.ok()) return s.WithContext(context);
  return std::shared_ptr<SqliteAssetStore>(new SqliteAssetStore(std::move(db)));
}

Result<std::vector<AssetVersionRow>> SqliteAssetStore::Rows(Stmt& q) {
  std::vector<AssetVersionRow> out;
  while (true) {
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(ReadRow(q));
  }
}

Result<AssetVersionRow> SqliteAssetStore::One(Stmt& q, std::string_view what) {
  WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return NotFound(std::string(what) + ": not found");
  return ReadRow(q);
}

Result<std::optional<AssetNamespaceRow>> SqliteAssetStore::ReadNamespace(std::string_view ns) {
  WEIR_ASSIGN_OR_RETURN(
      Stmt q,
      db_->Prepare("SELECT type, owner, repo, created_ms FROM asset_namespaces WHERE ns = ?"));
  q.Bind(ns);
  WEIR_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return std::optional<AssetNamespaceRow>();
  return std::optional<AssetNamespaceRow>(AssetNamespaceRow{
      std::string(ns), q.String(0), q.String(1), q.String(2), FromEpochMillis(q.Int(3))});
}

Result<std::optional<AssetNamespaceRow>> SqliteAssetStore::GetNamespace(std::string_view ns) {
  std::lock_guard<std::mutex> lock(mu_);
  return ReadNamespace(ns);
}

Result<AssetVersionRow> SqliteAssetStore::PublishVersion(const AssetVersionRow& row,
                                                         const PublishDecision& decide) {
  std::lock_guard<std::mutex> lock(mu_);
  // IMMEDIATE: the write lock is taken before the reads, so another process cannot assign the
  // same build between our MAX and our INSERT.
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  WEIR_ASSIGN_OR_RETURN(std::optional<AssetNamespaceRow> owner, ReadNamespace(row.ns));
  int64_t next = 1;
  {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT COALESCE(MAX(build), 0) FROM assets WHERE "
                                               "type = ? AND ns = ? AND owner = ? AND repo = ? "
                                               "AND branch = ?"));
    q.Bind(row.type).Bind(row.ns).Bind(row.owner).Bind(row.repo).Bind(row.branch);
    WEIR_ASSIGN_OR_RETURN(bool found, q.Step());
    if (found) next = q.Int(0) + 1;
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
    WEIR_ASSIGN_OR_RETURN(Stmt ins, db_->Prepare("INSERT INTO asset_namespaces (ns, type, owner, "
                                                 "repo, created_ms) VALUES (?, ?, ?, ?, ?)"));
    ins.Bind(stored.ns).Bind(stored.type).Bind(stored.owner).Bind(stored.repo).Bind(created);
    WEIR_RETURN_IF_ERROR(ins.Run());
  }
  WEIR_ASSIGN_OR_RETURN(
      Stmt ins, db_->Prepare("INSERT INTO assets (uuid, type, ns, owner, repo, branch, "
                             "commit_short, build, sha256, size, file_name, extension, dirty, "
                             "publisher, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                             "?, ?, ?)"));
  ins.Bind(stored.uuid)
      .Bind(stored.type)
      .Bind(stored.ns)
      .Bind(stored.owner)
      .Bind(stored.repo)
      .Bind(stored.branch)
      .Bind(stored.commit)
      .Bind(stored.build)
      .Bind(stored.sha256)
      .Bind(stored.size)
      .Bind(stored.file_name)
      .Bind(stored.extension)
      .Bind(int64_t{stored.dirty ? 1 : 0})
      .Bind(stored.publisher)
      .Bind(created);
  if (Status s = ins.Run(); !s.ok()) {
    if ((ins.last_code() & 0xff) == SQLITE_CONSTRAINT) {
      return AlreadyExists("asset " + Quote(stored.uuid) + ": already published");
    }
    return s.WithContext("asset " + Quote(stored.uuid));
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return stored;
}

Result<AssetVersionRow> SqliteAssetStore::GetVersion(std::string_view uuid) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare(std::string(kSelect) + " WHERE uuid = ?"));
  q.Bind(uuid);
  return One(q, "asset " + Quote(uuid));
}

Result<Page<AssetVersionRow>> SqliteAssetStore::ListVersions(const AssetVersionFilter& filter,
                                                             int64_t page, int64_t size) {
  if (page < 0) return InvalidArgument("page: must be >= 0");
  if (size < 1) return InvalidArgument("size: must be >= 1");
  std::string where;
  std::vector<const std::string*> binds;
  auto add = [&](const char* column, const std::string& value) {
    if (value.empty()) return;
    where += std::string(where.empty() ? " WHERE " : " AND ") + column + " = ?";
    binds.push_back(&value);
  };
  add("type", filter.type);
  add("ns", filter.ns);
  add("branch", filter.branch);
  add("owner", filter.owner);
  add("repo", filter.repo);
  std::lock_guard<std::mutex> lock(mu_);
  // One read transaction: the count and the page see the same rows.
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/false));
  Page<AssetVersionRow> out;
  {
    WEIR_ASSIGN_OR_RETURN(Stmt count, db_->Prepare("SELECT COUNT(*) FROM assets" + where));
    for (const std::string* b : binds) count.Bind(*b);
    WEIR_ASSIGN_OR_RETURN(bool row, count.Step());
    out.total = row ? count.Int(0) : 0;
  }
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db_->Prepare(std::string(kSelect) + where + kNewestFirst + " LIMIT ? OFFSET ?"));
  for (const std::string* b : binds) q.Bind(*b);
  q.Bind(size).Bind(page * size);
  WEIR_ASSIGN_OR_RETURN(out.items, Rows(q));
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Result<AssetVersionRow> SqliteAssetStore::NewestVersion(std::string_view type,
                                                        std::string_view ns) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare(std::string(kSelect) + " WHERE type = ? AND ns = ?" +
                                             kNewestFirst + " LIMIT 1"));
  q.Bind(type).Bind(ns);
  return One(q, "asset namespace " + Quote(ns));
}

Result<AssetVersionRow> SqliteAssetStore::NewestOnBranch(std::string_view type, std::string_view ns,
                                                         std::string_view branch) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db_->Prepare(std::string(kSelect) + " WHERE type = ? AND ns = ? AND branch = ?"
                                                  " ORDER BY build DESC, seq DESC LIMIT 1"));
  q.Bind(type).Bind(ns).Bind(branch);
  return One(q, "asset branch " + Quote(branch));
}

Result<AssetVersionRow> SqliteAssetStore::VersionOnBranch(std::string_view type,
                                                          std::string_view ns,
                                                          std::string_view branch, int64_t build) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db_->Prepare(std::string(kSelect) + " WHERE type = ? AND ns = ? AND branch = ? AND "
                                                  "build = ? ORDER BY seq DESC LIMIT 1"));
  q.Bind(type).Bind(ns).Bind(branch).Bind(build);
  return One(q, "asset build " + std::to_string(build));
}

Result<std::vector<AssetVersionRow>> SqliteAssetStore::VersionsNear(std::string_view type,
                                                                    std::string_view ns,
                                                                    bool and_other_namespaces,
                                                                    int64_t limit) {
  if (limit < 1) return InvalidArgument("limit: must be >= 1");
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql =
      std::string(kSelect) +
      (and_other_namespaces ? " WHERE ns = ? OR seq IN (SELECT MAX(seq) FROM assets WHERE type = ? "
                              "GROUP BY ns)"
                            : " WHERE ns = ? AND type = ?") +
      " ORDER BY seq DESC LIMIT ?";
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare(sql));
  q.Bind(ns).Bind(type).Bind(limit);
  return Rows(q);
}

Result<bool> SqliteAssetStore::BlobReferenced(std::string_view sha256) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT 1 FROM assets WHERE sha256 = ? LIMIT 1"));
  q.Bind(sha256);
  return q.Step();
}

Result<std::vector<std::string>> SqliteAssetStore::ReferencedBlobs() {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT DISTINCT sha256 FROM assets ORDER BY sha256"));
  std::vector<std::string> out;
  while (true) {
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(q.String(0));
  }
  return out;
}

}  // namespace weir::store::sqlite
