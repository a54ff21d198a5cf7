#include "store/postgres/connection.h"

#include <charconv>

namespace weir::store::postgres {

std::string RedactUrl(std::string_view url) {
  std::string out(url);
  const size_t scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  const size_t start = scheme + 3;
  const size_t at = out.find('@', start);
  const size_t slash = out.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return out;
  const size_t colon = out.find(':', start);
  if (colon == std::string::npos || colon > at) return out;
  out.replace(colon + 1, at - colon - 1, "***");
  return out;
}

std::optional<std::string> Rows::OptString(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return String(row, col);
}

int64_t Rows::Int(int row, int col) const {
  std::string_view t = Text(row, col);
  int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

std::optional<int64_t> Rows::OptInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int(row, col);
}

int64_t Rows::Affected() const {
  if (!r_) return 0;
  const char* n = PQcmdTuples(r_.get());
  int64_t v = 0;
  if (n != nullptr) std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

// ---- Connection -------------------------------------------------------------------------------

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& url,
                                                     const std::string& password,
                                                     int connect_timeout_s) {
  const std::string timeout = std::to_string(connect_timeout_s);
  std::vector<const char*> keys = {"dbname", "connect_timeout", "application_name"};
  std::vector<const char*> values = {url.c_str(), timeout.c_str(), "weir"};
  if (!password.empty()) {
    keys.push_back("password");
    values.push_back(password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* c = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (c == nullptr) return Internal("postgresql: out of memory opening a connection");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = PQerrorMessage(c);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    PQfinish(c);
    return Unavailable("postgresql '" + RedactUrl(url) + "': cannot connect: " + why);
  }
  // Quiet the server's NOTICE lines (IF NOT EXISTS) instead of printing them on stderr.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(new Connection(c));
}

Connection::~Connection() { PQfinish(conn_); }

Result<std::vector<std::string>> Connection::TakeNotifications() {
  if (PQconsumeInput(conn_) == 0) {
    return Unavailable(std::string("postgresql: connection lost: ") + PQerrorMessage(conn_));
  }
  std::vector<std::string> out;
  while (PGnotify* n = PQnotifies(conn_)) {
    out.emplace_back(n->relname);
    PQfreemem(n);
  }
  return out;
}

Status Connection::Reset() {
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Unavailable(std::string("postgresql: reconnecting failed: ") + PQerrorMessage(conn_));
  }
  return Status::Ok();
}

Status Connection::Failed(PGresult* r, std::string_view what) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state != nullptr ? state : "";
  std::string message = r != nullptr ? PQresultErrorMessage(r) : "";
  if (message.empty()) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (r != nullptr) PQclear(r);
  message = "postgresql: " + message;
  const std::string_view s = last_sqlstate_;
  if (PQstatus(conn_) != CONNECTION_OK || s.substr(0, 2) == "08" || s == "57P01") {
    return Unavailable(std::move(message));
  }
  if (s == "40001" || s == "40P01") return Aborted(std::move(message));
  if (s == "53100") return OutOfSpace(std::move(message));
  if (s == "23505") return AlreadyExists(std::move(message));
  if (s == "23503") return FailedPrecondition(std::move(message));
  (void)what;
  return Internal(std::move(message));
}

Result<Rows> Connection::Exec(std::string_view sql, const Params& params) {
  last_sqlstate_.clear();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& v : params.values()) values.push_back(v ? v->c_str() : nullptr);
  const std::string text(sql);
  PGresult* r = PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, /*resultFormat=*/0);
  const ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Failed(r, sql);
  return Rows(r);
}

Status Connection::ExecScript(const std::string& sql) {
  last_sqlstate_.clear();
  PGresult* r = PQexec(conn_, sql.c_str());
  const ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Failed(r, sql);
  PQclear(r);
  return Status::Ok();
}

// ---- Pool -------------------------------------------------------------------------------------

Result<Pool::Lease> Pool::Acquire() {
  std::unique_lock lock(mu_);
  freed_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
  if (!idle_.empty()) {
    std::unique_ptr<Connection> c = std::move(idle_.back());
    idle_.pop_back();
    lock.unlock();
    if (!c->ok()) {
      if (Status s = c->Reset(); !s.ok()) {
        Release(nullptr);
        return s;
      }
    }
    return Lease(this, std::move(c));
  }
  ++open_;
  lock.unlock();
  Result<std::unique_ptr<Connection>> c = Connection::Open(url_, password_, connect_timeout_s_);
  if (!c.ok()) {
    Release(nullptr);
    return c.status();
  }
  return Lease(this, std::move(*c));
}

void Pool::Release(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(mu_);
    if (c) {
      idle_.push_back(std::move(c));
    } else {
      --open_;  // a connection that failed to open or reconnect is given up
    }
  }
  freed_.notify_one();
}

// ---- Transaction ------------------------------------------------------------------------------

Result<Transaction> Transaction::Begin(Connection& c, bool snapshot) {
  WEIR_RETURN_IF_ERROR(
      c.Exec(snapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN").status());
  return Transaction(&c);
}

Transaction::~Transaction() {
  if (c_ != nullptr) (void)c_->Exec("ROLLBACK");
}

Status Transaction::Commit() {
  Connection* c = c_;
  c_ = nullptr;
  return c->Exec("COMMIT").status();
}

}  // namespace weir::store::postgres
