// A small adapter over one SQLite connection for the scheduler's tables: weir's pragmas (WAL,
// synchronous=NORMAL, busy timeout), a cache of prepared statements, typed binding and reading,
// RAII transactions, and the one place the scheduler turns SQLite result codes into Status.
// Private to src/scheduler/.
//
// Threading: NOT thread-safe; the Scheduler serialises every use behind its mutex.
// Errors: SQLITE_BUSY/LOCKED past the busy timeout → kUnavailable ("retry"), SQLITE_FULL →
// kResourceExhausted, a constraint violation → kAborted (a concurrent writer won; callers that
// expect one, like the fire-once row, check Stmt::constraint_failed()), anything else kInternal.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace weir::scheduler::sql {

Status SqliteStatus(sqlite3* db, int rc, std::string_view context);

// A prepared statement borrowed from the cache; reset and unbound when destroyed.
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  Stmt& Bind(int64_t v);
  Stmt& Bind(int v) { return Bind(static_cast<int64_t>(v)); }
  Stmt& Bind(std::string_view v);
  Stmt& Bind(const char* v) { return Bind(std::string_view(v)); }
  Stmt& Bind(const std::string& v) { return Bind(std::string_view(v)); }
  Stmt& Bind(const std::optional<int64_t>& v);
  Stmt& Bind(const std::optional<std::string>& v);
  Stmt& BindNull();

  // One step: true when a row is ready, false when done.
  Result<bool> Step();
  // Runs to completion, ignoring rows.
  Status Run();
  bool constraint_failed() const { return (last_code_ & 0xff) == SQLITE_CONSTRAINT; }

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const;
  std::optional<int64_t> OptInt(int col) const;

 private:
  friend class Db;
  Stmt(sqlite3* db, sqlite3_stmt* stmt, bool* in_use) : db_(db), stmt_(stmt), in_use_(in_use) {}

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool* in_use_;  // the cache's flag; null for a statement owned by this handle
  int next_ = 1;
  int last_code_ = SQLITE_OK;
};

class Db {
 public:
  static Result<std::unique_ptr<Db>> Open(const std::string& path, int busy_timeout_ms);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Result<Stmt> Prepare(std::string_view sql);
  Status Exec(const std::string& sql);
  int64_t Changes() const { return sqlite3_changes64(db_); }
  const std::string& path() const { return path_; }

 private:
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, std::unique_ptr<Cached>> cache_;
};

// BEGIN IMMEDIATE (write) or BEGIN (read) … COMMIT; rolled back when destroyed uncommitted.
class Txn {
 public:
  static Result<Txn> Begin(Db& db, bool write = true);
  Txn(Txn&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Txn& operator=(Txn&&) = delete;
  ~Txn();
  Status Commit();

 private:
  explicit Txn(Db* db) : db_(db) {}
  Db* db_;
};

}  // namespace weir::scheduler::sql
