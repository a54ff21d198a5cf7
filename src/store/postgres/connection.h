// A thin adapter over libpq: connections opened from a `postgresql://` URL (the password passed
// apart, never part of a message), parameterised statements, results read as text, a small pool
// of connections, transactions, and the one place SQLSTATE codes become Status values. Private to
// src/store/postgres/.
//
// Every value reaches the server as a parameter ($1, $2, ...); only table and column names, which
// come from fixed tables in the store, appear in SQL text.
//
// Threading: a Connection is NOT thread-safe; a Pool hands each one to one caller at a time.
// Errors: connection failures (SQLSTATE class 08, a lost connection) → kUnavailable; serialization
// failures and deadlocks (40001, 40P01) → kAborted; disk full (53100) → kOutOfSpace; a unique
// violation (23505) → kAlreadyExists; a foreign-key violation (23503) → kFailedPrecondition;
// anything else → kInternal with the server's message.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace weir::store::postgres {

// "postgresql://weir@db:5432/weir" with any password in it replaced by "***" (for messages).
std::string RedactUrl(std::string_view url);

// Values for $1, $2, ... in order; std::nullopt is SQL NULL.
class Params {
 public:
  Params& Add(int64_t v) { return Add(std::to_string(v)); }
  Params& Add(std::string_view v) {
    values_.emplace_back(std::string(v));
    return *this;
  }
  Params& Add(const char* v) { return Add(std::string_view(v)); }
  Params& Add(const std::string& v) { return Add(std::string_view(v)); }
  Params& Add(const std::optional<std::string>& v) {
    values_.push_back(v);
    return *this;
  }
  Params& Add(const std::optional<int64_t>& v) {
    if (!v) return AddNull();
    return Add(*v);
  }
  Params& AddNull() {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  // Adds `v` and returns its placeholder ("$3").
  template <typename T>
  std::string Next(const T& v) {
    Add(v);
    return "$" + std::to_string(values_.size());
  }
  size_t size() const { return values_.size(); }
  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  std::vector<std::optional<std::string>> values_;
};

// The rows of one statement, read as text.
class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* r) : r_(r, &PQclear) {}
  int size() const { return r_ ? PQntuples(r_.get()) : 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string_view Text(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col))};
  }
  std::string String(int row, int col) const { return std::string(Text(row, col)); }
  std::optional<std::string> OptString(int row, int col) const;
  int64_t Int(int row, int col) const;
  std::optional<int64_t> OptInt(int row, int col) const;
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t Affected() const;

 private:
  std::shared_ptr<PGresult> r_;
};

class Connection {
 public:
  // Connects to `url` (a libpq URI or key=value string) with `password` when not empty.
  // kUnavailable naming the redacted URL when the server cannot be reached or refuses us.
  static Result<std::unique_ptr<Connection>> Open(const std::string& url,
                                                  const std::string& password,
                                                  int connect_timeout_s);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with `params`. On failure the Status is mapped as in the file comment
  // and last_sqlstate() holds the server's code ("23505").
  Result<Rows> Exec(std::string_view sql, const Params& params = {});
  // Runs one or more parameterless statements (schema scripts).
  Status ExecScript(const std::string& sql);
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // False once the connection to the server is lost (the pool then reconnects).
  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  // Reconnects with the same parameters.
  Status Reset();
  // For LISTEN: the socket to wait on for the server's messages, and the channels of the
  // notifications received so far (reads what arrived without blocking; kUnavailable when the
  // connection is lost).
  int Socket() const { return PQsocket(conn_); }
  Result<std::vector<std::string>> TakeNotifications();

 private:
  explicit Connection(PGconn* c) : conn_(c) {}
  Status Failed(PGresult* r, std::string_view what);

  PGconn* conn_;
  std::string last_sqlstate_;
};

// At most `size` connections, opened when first needed. Acquire() waits for a free one.
class Pool {
 public:
  Pool(std::string url, std::string password, int size, int connect_timeout_s)
      : url_(std::move(url)),
        password_(std::move(password)),
        size_(size),
        connect_timeout_s_(connect_timeout_s) {}

  // A connection borrowed until the Lease goes away.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (c_) pool_->Release(std::move(c_));
    }
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };

  Result<Lease> Acquire();
  const std::string& url() const { return url_; }

 private:
  void Release(std::unique_ptr<Connection> c);

  const std::string url_;
  const std::string password_;
  const int size_;
  const int connect_timeout_s_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;  // GUARDED_BY(mu_)
  int open_ = 0;                                   // GUARDED_BY(mu_): idle + leased
};

// BEGIN … COMMIT on one connection, rolled back when destroyed uncommitted. `snapshot` makes it
// REPEATABLE READ READ ONLY (a count and a page see one state).
class Transaction {
 public:
  static Result<Transaction> Begin(Connection& c, bool snapshot = false);
  Transaction(Transaction&& other) noexcept : c_(other.c_) { other.c_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status Commit();

 private:
  explicit Transaction(Connection* c) : c_(c) {}
  Connection* c_;
};

}  // namespace weir::store::postgres
