// Lenient JSON readers of the cluster integration tests, which poll outputs that may not be JSON
// yet. Unlike test_json.h (whose Parse fails the test on a non-JSON body and whose Str gives
// "null" for a null field), a bad document reads as null and a null field as "".
#pragma once

#include <boost/json.hpp>
#include <string>

namespace weir::testing::json_fields {

namespace json = boost::json;

// `text` parsed; null when it is not one JSON document.
inline json::value Parse(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
}

// A field as text: strings as they are, anything else serialized; "" when missing or null.
inline std::string Field(const json::value& v, const char* key) {
  if (!v.is_object()) return "";
  const json::value* f = v.as_object().if_contains(key);
  if (f == nullptr || f->is_null()) return "";
  if (f->is_string()) return std::string(f->as_string());
  return json::serialize(*f);
}

}  // namespace weir::testing::json_fields
