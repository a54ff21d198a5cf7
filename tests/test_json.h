// JSON helpers shared by the integration tests (GoogleTest): a response body parsed, and a field
// read as text. The harness itself (weir_process.h) stays free of GoogleTest for the benchmarks.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace weir::testing {

// `s` parsed; a body that is not JSON fails the test (and gives null).
inline boost::json::value Parse(const std::string& s) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(s, ec);
  EXPECT_FALSE(ec) << "not JSON: " << s.substr(0, 500);
  return ec ? boost::json::value() : v;
}

// A field as text: strings as they are, anything else serialized; "" when missing.
inline std::string Str(const boost::json::value& v, const char* key) {
  if (!v.is_object() || !v.as_object().contains(key)) return "";
  const auto& f = v.at(key);
  return f.is_string() ? std::string(f.as_string()) : boost::json::serialize(f);
}

// The items of a CLI list printed with -o json (docs/cli.md: {"<kind>": [...], "page": {...}}),
// e.g. ListItems(out, "jobs"); null (and a failed test) when the output has no such array.
inline boost::json::value ListItems(const std::string& out, const char* kind) {
  boost::json::value v = Parse(out);
  const boost::json::value* items = v.is_object() ? v.as_object().if_contains(kind) : nullptr;
  EXPECT_TRUE(items != nullptr && items->is_array()) << "no '" << kind << "' array in " << out;
  return items != nullptr && items->is_array() ? *items : boost::json::value();
}

}  // namespace weir::testing
