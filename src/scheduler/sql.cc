#include "scheduler/sql.h"

#include <utility>

namespace weir::scheduler::sql {

Status SqliteStatus(sqlite3* db, int rc, std::string_view context) {
  std::string msg =
      std::string(context) + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(msg + "; the database is busy, retry");
    case SQLITE_FULL:
      return ResourceExhausted(msg);
    case SQLITE_CONSTRAINT:
      return Aborted(msg);
    default:
      return Internal(msg);
  }
}

Stmt::Stmt(Stmt&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      next_(other.next_),
      last_code_(other.last_code_) {}

Stmt::~Stmt() {
  if (stmt_ == nullptr) return;
  if (in_use_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *in_use_ = false;
  } else {
    sqlite3_finalize(stmt_);
  }
}

Stmt& Stmt::Bind(int64_t v) {
  sqlite3_bind_int64(stmt_, next_++, v);
  return *this;
}

Stmt& Stmt::Bind(std::string_view v) {
  sqlite3_bind_text64(stmt_, next_++, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Stmt& Stmt::Bind(const std::optional<int64_t>& v) { return v ? Bind(*v) : BindNull(); }
Stmt& Stmt::Bind(const std::optional<std::string>& v) {
  return v ? Bind(std::string_view(*v)) : BindNull();
}

Stmt& Stmt::BindNull() {
  sqlite3_bind_null(stmt_, next_++);
  return *this;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  last_code_ = rc;
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // The extended code is in sqlite3_extended_errcode; keep the primary code for the mapping.
  return SqliteStatus(db_, rc, "scheduler database");
}

Status Stmt::Run() {
  while (true) {
    Result<bool> r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
  }
}

std::string Stmt::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  if (t == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(t),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::optional<int64_t> Stmt::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, int busy_timeout_ms) {
  sqlite3* handle = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &handle,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteStatus(handle, rc, "scheduler database '" + path + "'");
    sqlite3_close_v2(handle);
    return Internal(s.message());
  }
  std::unique_ptr<Db> db(new Db(handle, path));
  sqlite3_busy_timeout(handle, busy_timeout_ms);
  Status s = db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  if (!s.ok()) return Internal("scheduler database '" + path + "': " + s.message());
  return db;
}

Db::~Db() {
  for (auto& [sql, c] : cache_) sqlite3_finalize(c->stmt);
  sqlite3_close_v2(db_);
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  std::string key(sql);
  auto it = cache_.find(key);
  if (it != cache_.end() && !it->second->in_use) {
    it->second->in_use = true;
    return Stmt(db_, it->second->stmt, &it->second->in_use);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "scheduler database: prepare");
  if (it != cache_.end()) return Stmt(db_, stmt, nullptr);  // the cached one is busy
  auto cached = std::make_unique<Cached>();
  cached->stmt = stmt;
  cached->in_use = true;
  bool* flag = &cached->in_use;
  cache_.emplace(std::move(key), std::move(cached));
  return Stmt(db_, stmt, flag);
}

Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Status s = SqliteStatus(nullptr, rc, "scheduler database");
    return Status(s.code(), "scheduler database: " + msg);
  }
  return Status::Ok();
}

Result<Txn> Txn::Begin(Db& db, bool write) {
  WEIR_RETURN_IF_ERROR(db.Exec(write ? "BEGIN IMMEDIATE" : "BEGIN"));
  return Txn(&db);
}

Txn::~Txn() {
  if (db_ != nullptr) (void)db_->Exec("ROLLBACK");
}

Status Txn::Commit() {
  Status s = db_->Exec("COMMIT");
  if (s.ok()) db_ = nullptr;
  return s;
}

}  // namespace weir::scheduler::sql
