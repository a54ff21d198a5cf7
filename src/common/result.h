// Result<T>: a value or a non-OK Status, with the surface of std::expected that weir uses.
//
//   Result<Job> r = store.GetJob(id);
//   if (!r) return r.status();
//   Use(*r);
//
// Accessing the value of an error Result aborts (a broken invariant, not a recoverable error).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "common/status.h"

namespace weir {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) {
      std::fprintf(stderr, "Result constructed from an OK status without a value\n");
      std::abort();
    }
  }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  bool has_value() const { return ok(); }
  const Status& status() const { return status_; }
  const Status& error() const { return status_; }

  T& value() & { Check(); return *value_; }
  const T& value() const& { Check(); return *value_; }
  T&& value() && { Check(); return std::move(*value_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T value_or(T fallback) const { return ok() ? *value_ : std::move(fallback); }

 private:
  void Check() const {
    if (!value_) {
      std::fprintf(stderr, "value() of an error Result: %s\n", status_.ToString().c_str());
      std::abort();
    }
  }
  std::optional<T> value_;
  Status status_;
};

}  // namespace weir

// Evaluates `rexpr` (a Result<T>); on error returns its Status, else moves the value into `lhs`.
#define WEIR_ASSIGN_OR_RETURN(lhs, rexpr) \
  WEIR_ASSIGN_OR_RETURN_IMPL_(WEIR_CONCAT_(weir_result_, __LINE__), lhs, rexpr)
#define WEIR_CONCAT_INNER_(a, b) a##b
#define WEIR_CONCAT_(a, b) WEIR_CONCAT_INNER_(a, b)
#define WEIR_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
