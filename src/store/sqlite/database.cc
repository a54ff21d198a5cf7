#include "store/sqlite/database.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>

namespace weir::store::sqlite {

Status SqliteStatus(sqlite3* db, int rc, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(msg + "; the database is locked by another process, retry later");
    case SQLITE_FULL:
      return OutOfSpace(msg + "; free disk space");
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN: {
      // A write that hit a full disk can surface as an I/O error (e.g. growing the WAL index).
      const int err = db != nullptr ? sqlite3_system_errno(db) : 0;
      if (err == ENOSPC || err == EDQUOT) return OutOfSpace(msg + "; free disk space");
      return Internal(msg);
    }
    default:
      return Internal(msg);
  }
}

// ---- Stmt -------------------------------------------------------------------------------------

Stmt::Stmt(Stmt&& o) noexcept
    : db_(o.db_),
      stmt_(o.stmt_),
      in_use_(o.in_use_),
      owned_(o.owned_),
      next_param_(o.next_param_),
      bind_failed_(o.bind_failed_),
      last_code_(o.last_code_) {
  o.stmt_ = nullptr;
  o.in_use_ = nullptr;
}

Stmt::~Stmt() {
  if (stmt_ == nullptr) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  if (in_use_ != nullptr) *in_use_ = false;
}

Stmt& Stmt::Bind(int64_t v) {
  if (sqlite3_bind_int64(stmt_, next_param_++, v) != SQLITE_OK) bind_failed_ = true;
  return *this;
}

Stmt& Stmt::Bind(std::string_view v) {
  // SQLITE_TRANSIENT: the caller's buffer may not outlive the step.
  if (sqlite3_bind_text64(stmt_, next_param_++, v.data(), v.size(), SQLITE_TRANSIENT,
                          SQLITE_UTF8) != SQLITE_OK) {
    bind_failed_ = true;
  }
  return *this;
}

Stmt& Stmt::Bind(const std::optional<std::string>& v) {
  return v ? Bind(std::string_view(*v)) : BindNull();
}

Stmt& Stmt::Bind(const std::optional<int64_t>& v) { return v ? Bind(*v) : BindNull(); }

Stmt& Stmt::BindNull() {
  if (sqlite3_bind_null(stmt_, next_param_++) != SQLITE_OK) bind_failed_ = true;
  return *this;
}

Result<bool> Stmt::Step() {
  if (bind_failed_) {
    return Internal("sqlite: binding parameters of '" + std::string(sqlite3_sql(stmt_)) +
                    "' failed");
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  last_code_ = sqlite3_extended_errcode(db_);
  return SqliteStatus(db_, rc, "sqlite");
}

Status Stmt::Run() {
  while (true) {
    Result<bool> r = Step();
    if (!r) return r.status();
    if (!*r) return Status::Ok();
  }
}

std::string_view Stmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(p),
                          static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::optional<std::string> Stmt::OptString(int col) const {
  if (IsNull(col)) return std::nullopt;
  return String(col);
}

std::optional<int64_t> Stmt::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

// ---- Database ---------------------------------------------------------------------------------

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, int busy_timeout_ms,
                                                 size_t max_cached) {
  sqlite3* raw = nullptr;
  // NOMUTEX: the owner serialises access, SQLite's own mutex would only add cost.
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Database> db(new Database(raw, path, max_cached));
  const std::string context = "sqlite '" + path + "'";
  if (rc != SQLITE_OK) {
    Status s = SqliteStatus(raw, rc, context);
    return Status(s.code(), s.message() + "; check that the folder exists and is writable");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  // journal_mode answers the mode in force; anything but "wal" (e.g. a read-only medium or an
  // in-memory database) is reported rather than silently running without WAL.
  // The first statement reads the file's header: this is where a file that is not a database
  // shows up.
  // Switching a new file to WAL takes a lock that SQLite does not always wait for through the
  // busy handler (two servers opening one new file at once): retry until the busy timeout.
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(busy_timeout_ms, 0));
  // The mode in force after asking for WAL ("" when SQLite answers no row).
  auto switch_to_wal = [&db]() -> Result<std::string> {
    WEIR_ASSIGN_OR_RETURN(Stmt wal, db->Prepare("PRAGMA journal_mode=WAL"));
    WEIR_ASSIGN_OR_RETURN(bool has_row, wal.Step());
    return has_row ? wal.String(0) : std::string();
  };
  Result<std::string> mode = switch_to_wal();
  while (!mode && mode.status().code() == StatusCode::kUnavailable &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    mode = switch_to_wal();
  }
  if (!mode) {
    return Status(mode.status().code(),
                  context + ": not a usable database file (" + mode.status().message() + ")");
  }
  if (!mode->empty() && *mode != "wal" && path != ":memory:") {
    return Internal(context + ": could not switch to WAL mode (mode is '" + *mode + "')");
  }
  // synchronous=NORMAL in WAL mode: a commit is in the OS before it returns, so it survives a
  // crash of the weir process; only a power loss or kernel crash may lose the last commits
  // (the database stays consistent). docs/operations.md describes the trade-off.
  Status s = db->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (!s.ok()) return s.WithContext(context);
  return db;
}

Database::~Database() {
  for (auto& [sql, c] : cache_) sqlite3_finalize(c->stmt);
  cache_.clear();
  // sqlite3_close_v2 defers the close if a statement were still alive; none should be.
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

void Database::DropIdleStatements() {
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (it->second->in_use) {
      ++it;
    } else {
      sqlite3_finalize(it->second->stmt);
      it = cache_.erase(it);
    }
  }
}

Result<Stmt> Database::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second->in_use) {
    it->second->in_use = true;
    return Stmt(db_, it->second->stmt, &it->second->in_use, false);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              it == cache_.end() ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return SqliteStatus(db_, rc, "sqlite: preparing '" + std::string(sql) + "'");
  }
  if (it != cache_.end()) {
    // The cached copy is busy (a nested use of the same SQL): this one is private.
    return Stmt(db_, stmt, nullptr, true);
  }
  if (cache_.size() >= max_cached_) DropIdleStatements();
  auto cached = std::make_unique<Cached>();
  cached->stmt = stmt;
  cached->in_use = true;
  bool* flag = &cached->in_use;
  cache_.emplace(std::string(sql), std::move(cached));
  return Stmt(db_, stmt, flag, false);
}

Status Database::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  Status s = SqliteStatus(nullptr, rc, "sqlite");
  return Status(s.code(), "sqlite: " + msg);
}

// ---- Transaction ------------------------------------------------------------------------------

Result<Transaction> Transaction::Begin(Database& db, bool write) {
  WEIR_ASSIGN_OR_RETURN(Stmt begin, db.Prepare(write ? "BEGIN IMMEDIATE" : "BEGIN"));
  WEIR_RETURN_IF_ERROR(begin.Run());
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ == nullptr) return;
  // A failed statement may already have ended the transaction; only roll back an open one.
  if (!sqlite3_get_autocommit(db_->handle())) {
    Result<Stmt> rollback = db_->Prepare("ROLLBACK");
    if (rollback) (void)rollback->Run();
  }
}

Status Transaction::Commit() {
  WEIR_ASSIGN_OR_RETURN(Stmt commit, db_->Prepare("COMMIT"));
  Status s = commit.Run();
  if (s.ok()) db_ = nullptr;
  return s;
}

}  // namespace weir::store::sqlite
