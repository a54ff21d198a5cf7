// Status: the outcome of an operation that crosses a module boundary.
//
// weir does not throw across modules. A function that can fail returns Status (or Result<T>,
// see result.h). Codes follow Abseil's canonical set; pick them by what the caller should do:
//   kInvalidArgument     the input is wrong whatever the state (bad field, malformed JSON)
//   kNotFound            the named thing does not exist
//   kAlreadyExists       a create collided with an existing id
//   kFailedPrecondition  the state must change first (no matching cluster, app still linked)
//   kResourceExhausted   a limit was reached (per-user job limit, body too large)
//   kUnavailable         try again later (node at capacity, server shutting down)
//   kDeadlineExceeded    a timeout expired
//   kPermissionDenied    the caller may not do this (namespace owned by another repository)
//   kAborted             a concurrent change won; retry the read-modify-write
//   kInternal            a bug or an I/O failure the caller cannot fix
//   kOutOfSpace          the server's storage is full (disk, quota, database): free space, retry
//   kPayloadTooLarge     the request itself (or what it would make) is over a size limit:
//                        JSON Patch result, metadata; the message names the limit
//   kUnauthenticated     the request carries no valid credentials (missing, expired or forged
//                        token): authenticate and retry; never used for "not allowed" (that is
//                        kPermissionDenied)
// Only src/api/ maps codes to HTTP statuses. Messages read "context: detail", no final period.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace weir {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kResourceExhausted,
  kUnavailable,
  kDeadlineExceeded,
  kPermissionDenied,
  kAborted,
  kUnimplemented,
  kInternal,
  kOutOfSpace,
  kPayloadTooLarge,
  kUnauthenticated,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NOT_FOUND: job 'x': not found", or "OK".
  std::string ToString() const;
  // Returns a copy whose message is "context: <message>".
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& s);

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status OutOfSpace(std::string m) { return {StatusCode::kOutOfSpace, std::move(m)}; }
inline Status PayloadTooLarge(std::string m) {
  return {StatusCode::kPayloadTooLarge, std::move(m)};
}
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}

// Status from errno: ENOENT → kNotFound, EEXIST → kAlreadyExists, EACCES → kPermissionDenied,
// ENOSPC/EDQUOT → kOutOfSpace, EMFILE/ENFILE → kResourceExhausted, anything else
// kInternal. The one place errno becomes a code.
Status ErrnoStatus(std::string_view context, int err);

}  // namespace weir

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define WEIR_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::weir::Status weir_status_ = (expr);       \
    if (!weir_status_.ok()) return weir_status_; \
  } while (0)
