#include "assets/registry.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <mutex>
#include <utility>

#include "blob/sha256.h"
#include "common/strings.h"

namespace weir::assets {
namespace {

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

Status SqlStatus(sqlite3* db, int rc, std::string_view context) {
  std::string msg = std::string(context) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(msg + "; the database is busy, retry");
    case SQLITE_FULL:
      return ResourceExhausted(msg);
    default:
      return Internal(msg);
  }
}

// One prepared statement; finalized on destruction. Bind in order, then Step.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(std::exchange(o.s_, nullptr)) {}
  Stmt(const Stmt&) = delete;

  Stmt& Bind(int64_t v) {
    sqlite3_bind_int64(s_, ++n_, v);
    return *this;
  }
  Stmt& Bind(std::string_view v) {
    sqlite3_bind_text(s_, ++n_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // True while a row is available; false at the end.
  Result<bool> Step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqlStatus(db_, rc, "asset registry");
  }
  Status Run() {
    auto r = Step();
    return r.ok() ? Status::Ok() : r.status();
  }
  int64_t Int(int i) const { return sqlite3_column_int64(s_, i); }
  std::string Text(int i) const {
    const unsigned char* t = sqlite3_column_text(s_, i);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(s_, i)))
             : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
  int n_ = 0;
};

constexpr const char* kSchema = R"sql(
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

constexpr const char* kColumns =
    "uuid, type, ns, owner, repo, branch, commit_short, build, sha256, size, file_name, "
    "extension, dirty, publisher, created_ms";

Status ValidateExtension(std::string_view ext) {
  if (ext.empty()) return Status::Ok();
  bool ok = ext.size() <= 20 && ext.front() != '.' && ext.back() != '.' &&
            ext.find("..") == std::string_view::npos;
  for (char c : ext) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || c == '.');
  }
  if (!ok) {
    return InvalidArgument("extension: at most 20 letters, digits, '_', '-' or inner '.', got " +
                           (IsValidUtf8(ext) ? Quote(ext) : std::string("invalid UTF-8")));
  }
  return Status::Ok();
}

Status ValidateFileName(std::string_view name) {
  if (name.size() > 255) return InvalidArgument("file name: at most 255 bytes");
  if (!IsValidUtf8(name)) return InvalidArgument("file name: must be valid UTF-8");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') {
      return InvalidArgument("file name: " + Quote(name) +
                             " must be a plain name without '/', '\\' or control characters");
    }
  }
  if (name == "." || name == "..") return InvalidArgument("file name: must not be '.' or '..'");
  return Status::Ok();
}

std::string ExtensionOf(std::string_view file_name) {
  size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == file_name.size()) return {};
  std::string ext(file_name.substr(dot + 1));
  return ValidateExtension(ext).ok() ? ext : std::string();
}

}  // namespace

struct AssetRegistry::Impl {
  std::mutex mu;
  sqlite3* db = nullptr;
  std::string path;
  std::shared_ptr<blob::BlobStore> blobs;
  Clock* clock = nullptr;
  PublishListener on_publish;

  ~Impl() {
    if (db) sqlite3_close_v2(db);
  }

  Result<Stmt> Prepare(std::string_view sql) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
    if (rc != SQLITE_OK) return SqlStatus(db, rc, "asset registry: prepare");
    return Stmt(db, s);
  }

  Status Exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      Status s = SqlStatus(nullptr, rc, "asset registry '" + path + "'");
      return Status(s.code(), "asset registry '" + path + "': " + msg);
    }
    return Status::Ok();
  }

  AssetRecord Row(const Stmt& s) {
    AssetRecord r;
    r.uuid = s.Text(0);
    r.id.type = s.Text(1);
    r.id.ns = s.Text(2);
    r.id.owner = s.Text(3);
    r.id.repo = s.Text(4);
    r.id.branch = s.Text(5);
    r.id.commit = s.Text(6);
    r.id.build = s.Int(7);
    r.sha256 = s.Text(8);
    r.size = s.Int(9);
    r.file_name = s.Text(10);
    r.extension = s.Text(11);
    r.dirty = s.Int(12) != 0;
    r.publisher = s.Text(13);
    r.created = FromEpochMillis(s.Int(14));
    r.uri = blobs->Uri(r.sha256);
    r.path = LayoutPath(r.id, r.extension);
    return r;
  }

  // Runs a query returning asset rows. REQUIRES: mu held.
  Result<std::vector<AssetRecord>> Rows(Stmt& s) {
    std::vector<AssetRecord> out;
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(Row(s));
    }
    return out;
  }

  // Checks that `id`'s namespace is free or owned by the same type and repository.
  // REQUIRES: mu held.
  Result<bool> CheckNamespace(const AssetVersionId& id) {
    WEIR_ASSIGN_OR_RETURN(Stmt q,
                          Prepare("SELECT type, owner, repo FROM asset_namespaces WHERE ns = ?"));
    q.Bind(id.ns);
    WEIR_ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) return false;
    std::string type = q.Text(0), owner = q.Text(1), repo = q.Text(2);
    if (owner != id.owner || repo != id.repo) {
      return PermissionDenied("namespace " + Quote(id.ns) + ": owned by repository " +
                              Quote(owner + "/" + repo) + ", not " +
                              Quote(id.owner + "/" + id.repo) + "; choose another namespace");
    }
    if (type != id.type) {
      return FailedPrecondition("namespace " + Quote(id.ns) + ": holds assets of type " +
                                Quote(type) + ", not " + Quote(id.type) +
                                "; use that type or another namespace");
    }
    return true;
  }

  // Inserts the version row, assigning the build. REQUIRES: mu held; the blob is stored.
  Result<AssetRecord> Insert(AssetVersionId id, bool explicit_build, const AssetRecord& meta) {
    WEIR_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    auto result = InsertInTransaction(std::move(id), explicit_build, meta);
    if (!result.ok()) {
      (void)Exec("ROLLBACK");
      return result;
    }
    Status s = Exec("COMMIT");
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    return result;
  }

  Result<AssetRecord> InsertInTransaction(AssetVersionId id, bool explicit_build,
                                          const AssetRecord& meta) {
    int64_t now = ToEpochMillis(clock->Now());
    WEIR_ASSIGN_OR_RETURN(bool ns_exists, CheckNamespace(id));
    if (!ns_exists) {
      WEIR_ASSIGN_OR_RETURN(Stmt ins, Prepare("INSERT INTO asset_namespaces (ns, type, owner, "
                                              "repo, created_ms) VALUES (?, ?, ?, ?, ?)"));
      ins.Bind(id.ns).Bind(id.type).Bind(id.owner).Bind(id.repo).Bind(now);
      WEIR_RETURN_IF_ERROR(ins.Run());
    }
    WEIR_ASSIGN_OR_RETURN(Stmt max_q,
                          Prepare("SELECT COALESCE(MAX(build), 0) FROM assets WHERE type = ? AND "
                                  "ns = ? AND owner = ? AND repo = ? AND branch = ?"));
    max_q.Bind(id.type).Bind(id.ns).Bind(id.owner).Bind(id.repo).Bind(id.branch);
    WEIR_ASSIGN_OR_RETURN(bool row, max_q.Step());
    int64_t next = row ? max_q.Int(0) + 1 : 1;
    if (explicit_build) {
      std::string uuid = FormatUuid(id);
      if (id.build < next) {
        return AlreadyExists("asset " + Quote(uuid) +
                             ": already published; versions are "
                             "immutable, publish without a uuid to get build " +
                             std::to_string(next));
      }
      if (id.build > next) {
        return FailedPrecondition("asset " + Quote(uuid) +
                                  ": builds are consecutive; the next "
                                  "build on branch " +
                                  Quote(id.branch) + " is " + std::to_string(next));
      }
    }
    id.build = next;
    AssetRecord r = meta;
    r.id = id;
    r.uuid = FormatUuid(id);
    r.created = FromEpochMillis(now);
    WEIR_ASSIGN_OR_RETURN(Stmt ins,
                          Prepare(std::string("INSERT INTO assets (") + kColumns +
                                  ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins.Bind(r.uuid)
        .Bind(id.type)
        .Bind(id.ns)
        .Bind(id.owner)
        .Bind(id.repo)
        .Bind(id.branch)
        .Bind(id.commit)
        .Bind(id.build)
        .Bind(r.sha256)
        .Bind(r.size)
        .Bind(r.file_name)
        .Bind(r.extension)
        .Bind(int64_t{r.dirty ? 1 : 0})
        .Bind(r.publisher)
        .Bind(now);
    Status s = ins.Run();
    if (!s.ok()) return s.WithContext("asset " + Quote(r.uuid));
    r.uri = blobs->Uri(r.sha256);
    r.path = LayoutPath(r.id, r.extension);
    return r;
  }
};

AssetRegistry::AssetRegistry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AssetRegistry::~AssetRegistry() = default;

blob::BlobStore& AssetRegistry::blobs() { return *impl_->blobs; }

Result<std::unique_ptr<AssetRegistry>> AssetRegistry::Open(const std::string& db_path,
                                                           std::shared_ptr<blob::BlobStore> blobs,
                                                           Clock& clock, int busy_timeout_ms,
                                                           PublishListener on_publish) {
  if (!blobs) return InvalidArgument("asset registry: a blob store is required");
  auto impl = std::make_unique<Impl>();
  impl->path = db_path;
  impl->blobs = std::move(blobs);
  impl->clock = &clock;
  impl->on_publish = std::move(on_publish);
  int rc =
      sqlite3_open_v2(db_path.c_str(), &impl->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = Internal("asset registry: open '" + db_path +
                        "': " + (impl->db ? sqlite3_errmsg(impl->db) : sqlite3_errstr(rc)));
    return s;
  }
  sqlite3_busy_timeout(impl->db, busy_timeout_ms);
  WEIR_RETURN_IF_ERROR(impl->Exec("PRAGMA journal_mode=WAL"));
  WEIR_RETURN_IF_ERROR(impl->Exec("PRAGMA synchronous=FULL"));
  WEIR_RETURN_IF_ERROR(impl->Exec("PRAGMA foreign_keys=ON"));
  WEIR_RETURN_IF_ERROR(impl->Exec(kSchema));
  return std::unique_ptr<AssetRegistry>(new AssetRegistry(std::move(impl)));
}

Result<AssetRecord> AssetRegistry::Publish(const PublishRequest& req,
                                           const std::filesystem::path& content) {
  // 1. The request alone.
  AssetVersionId id{req.type, req.ns, req.owner, req.repo, req.branch, "", 0};
  bool explicit_build = !req.uuid.empty();
  if (explicit_build) {
    WEIR_ASSIGN_OR_RETURN(AssetVersionId given, ParseUuid(req.uuid));
    auto agree = [&](std::string_view field, std::string& mine, const std::string& theirs) {
      if (mine.empty()) mine = theirs;
      return mine == theirs ? Status::Ok()
                            : InvalidArgument(std::string(field) + ": " + Quote(mine) +
                                              " disagrees with the uuid's " + Quote(theirs));
    };
    WEIR_RETURN_IF_ERROR(agree("type", id.type, given.type));
    WEIR_RETURN_IF_ERROR(agree("namespace", id.ns, given.ns));
    WEIR_RETURN_IF_ERROR(agree("owner", id.owner, given.owner));
    WEIR_RETURN_IF_ERROR(agree("repo", id.repo, given.repo));
    WEIR_RETURN_IF_ERROR(agree("branch", id.branch, given.branch));
    if (!req.commit.empty()) {
      WEIR_ASSIGN_OR_RETURN(std::string c, ShortCommit(req.commit));
      if (c != given.commit) {
        return InvalidArgument("commit: " + Quote(c) + " disagrees with the uuid's " +
                               Quote(given.commit));
      }
    }
    id.commit = given.commit;
    id.build = given.build;
  } else {
    WEIR_RETURN_IF_ERROR(ValidateComponent("type", id.type));
    WEIR_RETURN_IF_ERROR(ValidateComponent("namespace", id.ns));
    WEIR_RETURN_IF_ERROR(ValidateComponent("owner", id.owner));
    WEIR_RETURN_IF_ERROR(ValidateComponent("repo", id.repo));
    WEIR_RETURN_IF_ERROR(ValidateBranch(id.branch));
    if (req.commit.empty()) return InvalidArgument("commit: must be set (8 to 40 hex digits)");
    WEIR_ASSIGN_OR_RETURN(id.commit, ShortCommit(req.commit));
    id.build = 1;  // placeholder for validation; the real build is assigned at insert
  }
  WEIR_RETURN_IF_ERROR(ValidateId(id));
  WEIR_RETURN_IF_ERROR(ValidateFileName(req.file_name));
  std::string ext = req.extension.empty() ? ExtensionOf(req.file_name) : req.extension;
  WEIR_RETURN_IF_ERROR(ValidateExtension(ext));
  if (req.publisher.size() > 255 || !IsValidUtf8(req.publisher)) {
    return InvalidArgument("publisher: at most 255 bytes of valid UTF-8");
  }
  std::optional<std::string> expected;
  if (!req.sha256.empty()) {
    std::string lower = ToLower(req.sha256);
    if (!blob::IsSha256Hex(lower)) {
      return InvalidArgument("sha256: must be 64 hex digits");
    }
    expected = lower;
  }

  // 2. Fail fast on namespace ownership before reading a large upload (checked again below).
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto owned = impl_->CheckNamespace(id);
    if (!owned.ok()) return owned.status();
    if (explicit_build) {
      WEIR_ASSIGN_OR_RETURN(Stmt q, impl_->Prepare("SELECT 1 FROM assets WHERE uuid = ?"));
      q.Bind(FormatUuid(id));
      WEIR_ASSIGN_OR_RETURN(bool exists, q.Step());
      if (exists) {
        return AlreadyExists("asset " + Quote(FormatUuid(id)) +
                             ": already published; versions are immutable, publish without a "
                             "uuid to get the next build");
      }
    }
  }

  // 3. The bytes: size, hash, durable storage.
  struct stat st;
  if (::stat(content.c_str(), &st) != 0) {
    return Internal("asset publish: uploaded content '" + content.string() + "' is missing");
  }
  if (req.size >= 0 && st.st_size != req.size) {
    return InvalidArgument("size: declared " + std::to_string(req.size) + " bytes, received " +
                           std::to_string(st.st_size));
  }
  WEIR_ASSIGN_OR_RETURN(blob::BlobInfo blob, impl_->blobs->PutFile(content, expected));

  // 4. The row, in one transaction.
  AssetRecord meta;
  meta.sha256 = blob.key;
  meta.size = blob.size;
  meta.file_name = req.file_name;
  meta.extension = ext;
  meta.dirty = req.dirty;
  meta.publisher = req.publisher;
  std::lock_guard<std::mutex> lock(impl_->mu);
  Result<AssetRecord> published = impl_->Insert(id, explicit_build, meta);
  // Under mu: listeners hear of versions in commit order.
  if (published.ok() && impl_->on_publish) impl_->on_publish(*published);
  return published;
}

Result<AssetRecord> AssetRegistry::Get(std::string_view uuid) {
  auto parsed = ParseUuid(uuid);
  if (!parsed.ok()) return parsed.status();
  std::lock_guard<std::mutex> lock(impl_->mu);
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, impl_->Prepare(std::string("SELECT ") + kColumns + " FROM assets WHERE uuid = ?"));
  q.Bind(uuid);
  WEIR_ASSIGN_OR_RETURN(std::vector<AssetRecord> rows, impl_->Rows(q));
  if (rows.empty()) return NotFound("asset " + Quote(uuid) + ": not found");
  return rows.front();
}

Result<ListPage> AssetRegistry::List(const ListQuery& query) {
  if (query.page < 0) return InvalidArgument("page: must be >= 0");
  if (query.size < 1 || query.size > 1000) return InvalidArgument("size: must be 1..1000");
  std::string where = " WHERE 1 = 1";
  std::vector<std::string> binds;
  auto add = [&](const char* column, const std::string& value) {
    if (value.empty()) return;
    where += std::string(" AND ") + column + " = ?";
    binds.push_back(value);
  };
  add("type", query.type);
  add("ns", query.ns);
  add("branch", query.branch);
  add("owner", query.owner);
  add("repo", query.repo);
  std::lock_guard<std::mutex> lock(impl_->mu);
  ListPage page;
  page.page = query.page;
  page.size = query.size;
  WEIR_ASSIGN_OR_RETURN(Stmt count, impl_->Prepare("SELECT COUNT(*) FROM assets" + where));
  for (const auto& b : binds) count.Bind(b);
  WEIR_ASSIGN_OR_RETURN(bool row, count.Step());
  page.total = row ? count.Int(0) : 0;
  WEIR_ASSIGN_OR_RETURN(Stmt q,
                        impl_->Prepare(std::string("SELECT ") + kColumns + " FROM assets" + where +
                                       " ORDER BY created_ms DESC, seq DESC LIMIT ? "
                                       "OFFSET ?"));
  for (const auto& b : binds) q.Bind(b);
  q.Bind(query.size).Bind(query.page * query.size);
  WEIR_ASSIGN_OR_RETURN(page.records, impl_->Rows(q));
  return page;
}

Result<AssetRecord> AssetRegistry::Resolve(const AssetRef& ref) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM assets WHERE ";
  switch (ref.form) {
    case RefForm::kLatest:
      sql += "type = ? AND ns = ? ORDER BY created_ms DESC, seq DESC LIMIT 1";
      break;
    case RefForm::kLatestOnBranch:
      sql += "type = ? AND ns = ? AND branch = ? ORDER BY build DESC LIMIT 1";
      break;
    case RefForm::kBuildOnBranch:
      sql += "type = ? AND ns = ? AND branch = ? AND build = ?";
      break;
    case RefForm::kExact:
      sql += "uuid = ?";
      break;
  }
  std::vector<AssetRecord> nearby;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    WEIR_ASSIGN_OR_RETURN(Stmt q, impl_->Prepare(sql));
    if (ref.form == RefForm::kExact) {
      q.Bind(FormatUuid(ref.exact));
    } else {
      q.Bind(ref.type).Bind(ref.ns);
      if (ref.form != RefForm::kLatest) q.Bind(ref.branch);
      if (ref.form == RefForm::kBuildOnBranch) q.Bind(ref.build);
    }
    WEIR_ASSIGN_OR_RETURN(std::vector<AssetRecord> rows, impl_->Rows(q));
    if (!rows.empty()) return rows.front();
    // Not found: let the list rules word the message from what exists in the namespace.
    WEIR_ASSIGN_OR_RETURN(Stmt near, impl_->Prepare(std::string("SELECT ") + kColumns +
                                                    " FROM assets WHERE type = ? AND ns = ? "
                                                    "ORDER BY seq DESC LIMIT 5000"));
    near.Bind(ref.type).Bind(ref.ns);
    WEIR_ASSIGN_OR_RETURN(nearby, impl_->Rows(near));
  }
  auto r = ResolveInList(nearby, ref);
  if (r.ok()) return NotFound("asset " + Quote(ref.ToString()) + ": not found");
  return r.status();
}

std::vector<std::string> AssetRegistry::Suggestions(const AssetRef& ref) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  // The referenced namespace's versions, the same namespace under other types, and one row per
  // other namespace of the same type.
  auto q = impl_->Prepare(std::string("SELECT ") + kColumns +
                          " FROM assets WHERE ns = ? OR seq IN (SELECT MAX(seq) FROM assets "
                          "WHERE type = ? GROUP BY ns) ORDER BY seq DESC LIMIT 5000");
  if (!q.ok()) return {};
  q->Bind(ref.ns).Bind(ref.type);
  auto rows = impl_->Rows(*q);
  if (!rows.ok()) return {};
  return SuggestInList(*rows, ref);
}

}  // namespace weir::assets
