// A thin adapter over one SQLite connection: opening with weir's pragmas, a cache of prepared
// statements, typed binding and reading, transactions, and the one place SQLite result codes
// become Status values. Used by the SQLite store (src/store/sqlite/) and by the scheduler for its
// own tables in the same file (src/scheduler/).
//
// Threading: a Database is NOT thread-safe; its owner (SqliteStore) serialises every use behind
// one mutex. Statements borrowed from the cache are reset when the Stmt handle goes away.
// Errors: SQLITE_BUSY/LOCKED (another process held the lock past busy_timeout) → kUnavailable,
// SQLITE_FULL, and an I/O error whose system errno is ENOSPC or EDQUOT → kOutOfSpace (the disk
// or quota is full: free space and retry), anything else → kInternal with SQLite's message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace weir::store::sqlite {

// Maps a SQLite result code to a Status "context: <sqlite message>".
Status SqliteStatus(sqlite3* db, int rc, std::string_view context);

// A prepared statement borrowed from the cache (or owned, when the cached one is in use).
// Parameters are bound in order with Bind(); columns are read by index.
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  Stmt& Bind(int64_t v);
  Stmt& Bind(std::string_view v);
  Stmt& Bind(const char* v) { return Bind(std::string_view(v)); }
  Stmt& Bind(const std::string& v) { return Bind(std::string_view(v)); }
  Stmt& Bind(const std::optional<std::string>& v);
  Stmt& Bind(const std::optional<int64_t>& v);
  Stmt& BindNull();

  // Runs one step: true when a row is ready, false when done.
  Result<bool> Step();
  // Runs to completion, ignoring any rows.
  Status Run();
  // Result code of the last failed step (e.g. SQLITE_CONSTRAINT_PRIMARYKEY).
  int last_code() const { return last_code_; }

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string_view Text(int col) const;
  std::string String(int col) const { return std::string(Text(col)); }
  std::optional<std::string> OptString(int col) const;
  std::optional<int64_t> OptInt(int col) const;

 private:
  friend class Database;
  Stmt(sqlite3* db, sqlite3_stmt* stmt, bool* in_use, bool owned)
      : db_(db), stmt_(stmt), in_use_(in_use), owned_(owned) {}

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool* in_use_;  // the cache's flag, null for an owned statement
  bool owned_;
  int next_param_ = 1;
  bool bind_failed_ = false;
  int last_code_ = SQLITE_OK;
};

class Database {
 public:
  // Opens or creates the file with journal_mode=WAL, synchronous=NORMAL, foreign_keys=ON and a
  // busy timeout. kInternal naming the path when the file cannot be opened or is not a database.
  // `max_cached` bounds the statement cache: dynamic searches produce many SQL texts, and past
  // this many the idle ones are dropped.
  static Result<std::unique_ptr<Database>> Open(const std::string& path, int busy_timeout_ms,
                                                size_t max_cached);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A prepared statement for `sql`, from the cache when possible. kInternal on a syntax error.
  Result<Stmt> Prepare(std::string_view sql);
  // Runs one or more parameterless statements (schema scripts, pragmas).
  Status Exec(const std::string& sql);
  int64_t Changes() const { return sqlite3_changes64(db_); }
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  Database(sqlite3* db, std::string path, size_t max_cached)
      : db_(db), path_(std::move(path)), max_cached_(max_cached) {}
  void DropIdleStatements();

  sqlite3* db_;
  std::string path_;
  size_t max_cached_;
  std::unordered_map<std::string, std::unique_ptr<Cached>, Hash, std::equal_to<>> cache_;
};

// BEGIN … COMMIT, rolled back when destroyed uncommitted. Write transactions start with
// BEGIN IMMEDIATE so two processes never deadlock upgrading a read lock.
class Transaction {
 public:
  static Result<Transaction> Begin(Database& db, bool write);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

}  // namespace weir::store::sqlite
