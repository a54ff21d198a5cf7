// RFC 6902 JSON Patch over JSON Pointers (RFC 6901), with the serialized-size accounting that
// bounds a patch's result at every operation (declared in api/json_codec.h).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "api/json_codec.h"
#include "common/strings.h"

namespace weir::api {

// ---- serialized sizes ----

namespace {

size_t StringJsonSize(std::string_view s) {
  size_t n = 2;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
      n += 2;
    } else if (c < 0x20) {
      n += 6;  // \u00XX
    } else {
      n += 1;
    }
  }
  return n;
}

size_t ScalarJsonSize(const json::value& v) {
  char buf[32];
  switch (v.kind()) {
    case json::kind::null:
      return 4;
    case json::kind::bool_:
      return v.get_bool() ? 4 : 5;
    case json::kind::int64: {
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_int64());
      return static_cast<size_t>(r.ptr - buf);
    }
    case json::kind::uint64: {
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
      return static_cast<size_t>(r.ptr - buf);
    }
    case json::kind::double_:
      return json::serialize(v).size();
    case json::kind::string:
      return StringJsonSize(v.get_string());
    default:
      return 0;
  }
}

// Adds the size of `v` to `*total`; false once *total is over `limit`.
bool AddJsonSize(const json::value& v, size_t limit, size_t* total) {
  if (v.is_array()) {
    const auto& a = v.get_array();
    *total += 2 + (a.empty() ? 0 : a.size() - 1);
    if (*total > limit) return false;
    for (const auto& item : a) {
      if (!AddJsonSize(item, limit, total)) return false;
    }
    return true;
  }
  if (v.is_object()) {
    const auto& o = v.get_object();
    *total += 2 + (o.empty() ? 0 : o.size() - 1);
    for (const auto& kv : o) {
      *total += StringJsonSize(kv.key()) + 1;
      if (*total > limit) return false;
      if (!AddJsonSize(kv.value(), limit, total)) return false;
    }
    return *total <= limit;
  }
  *total += ScalarJsonSize(v);
  return *total <= limit;
}

}  // namespace

size_t JsonSizeUpTo(const json::value& v, size_t limit) {
  size_t total = 0;
  AddJsonSize(v, limit, &total);
  return total;
}

// ---- JSON Patch ----

namespace {

// RFC 6901 reference tokens of a pointer ("" is the whole document).
Result<std::vector<std::string>> ParsePointer(std::string_view ptr, std::string_view member) {
  std::vector<std::string> tokens;
  if (ptr.empty()) return tokens;
  if (ptr.front() != '/') {
    return InvalidArgument("patch: " + std::string(member) + " '" + std::string(ptr.substr(0, 64)) +
                           "' must be empty or start with '/'");
  }
  size_t i = 1;
  std::string cur;
  while (true) {
    if (i >= ptr.size() || ptr[i] == '/') {
      tokens.push_back(std::move(cur));
      cur.clear();
      if (i >= ptr.size()) break;
      ++i;
      continue;
    }
    if (ptr[i] == '~') {
      if (i + 1 < ptr.size() && ptr[i + 1] == '0') {
        cur.push_back('~');
      } else if (i + 1 < ptr.size() && ptr[i + 1] == '1') {
        cur.push_back('/');
      } else {
        return InvalidArgument("patch: " + std::string(member) + " has '~' not followed by 0 or 1");
      }
      i += 2;
      continue;
    }
    cur.push_back(ptr[i++]);
  }
  return tokens;
}

// Array index token: "0" or digits without a leading zero. `dash_ok` admits "-" (end).
bool ParseIndex(const std::string& t, size_t size, bool dash_ok, size_t* out) {
  if (dash_ok && t == "-") {
    *out = size;
    return true;
  }
  if (t.empty() || t.size() > 18 || (t.size() > 1 && t[0] == '0')) return false;
  size_t n = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  *out = n;
  return true;
}

std::string PointerText(const std::vector<std::string>& tokens) {
  std::string s;
  for (const auto& t : tokens) s += "/" + t;
  return s;
}

// Resolves the container holding the last token. nullptr (with a 412 status) when absent.
Result<json::value*> Parent(json::value& doc, const std::vector<std::string>& tokens) {
  json::value* cur = &doc;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (cur->is_object()) {
      auto it = cur->get_object().find(t);
      if (it == cur->get_object().end()) {
        return FailedPrecondition("patch: path " + PointerText(tokens) + " does not exist");
      }
      cur = &it->value();
    } else if (cur->is_array()) {
      size_t idx;
      if (!ParseIndex(t, cur->get_array().size(), false, &idx) || idx >= cur->get_array().size()) {
        return FailedPrecondition("patch: path " + PointerText(tokens) + " does not exist");
      }
      cur = &cur->get_array()[idx];
    } else {
      return FailedPrecondition("patch: path " + PointerText(tokens) + " does not exist");
    }
  }
  return cur;
}

Result<json::value*> Locate(json::value& doc, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return &doc;
  WEIR_ASSIGN_OR_RETURN(json::value * parent, Parent(doc, tokens));
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    auto it = parent->get_object().find(last);
    if (it != parent->get_object().end()) return &it->value();
  } else if (parent->is_array()) {
    size_t idx;
    if (ParseIndex(last, parent->get_array().size(), false, &idx) &&
        idx < parent->get_array().size()) {
      return &parent->get_array()[idx];
    }
  }
  return FailedPrecondition("patch: path " + PointerText(tokens) + " does not exist");
}

// Adds `value` (whose serialized size is `value_size`) at `tokens`; `*delta` receives how many
// bytes the serialized document grows (negative when it shrinks).
Status AddAt(json::value& doc, const std::vector<std::string>& tokens, json::value value,
             size_t value_size, int64_t* delta) {
  if (tokens.empty()) {
    *delta = static_cast<int64_t>(value_size) -
             static_cast<int64_t>(JsonSizeUpTo(doc, std::numeric_limits<size_t>::max()));
    doc = std::move(value);
    return Status::Ok();
  }
  WEIR_ASSIGN_OR_RETURN(json::value * parent, Parent(doc, tokens));
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    auto& o = parent->get_object();
    auto it = o.find(last);
    if (it != o.end()) {
      *delta = static_cast<int64_t>(value_size) -
               static_cast<int64_t>(JsonSizeUpTo(it->value(), std::numeric_limits<size_t>::max()));
      it->value() = std::move(value);
    } else {
      *delta = static_cast<int64_t>(StringJsonSize(last) + 1 + value_size + (o.empty() ? 0 : 1));
      o[last] = std::move(value);
    }
    return Status::Ok();
  }
  if (parent->is_array()) {
    auto& a = parent->get_array();
    size_t idx;
    if (!ParseIndex(last, a.size(), true, &idx) || idx > a.size()) {
      return FailedPrecondition("patch: index " + PointerText(tokens) + " is out of range");
    }
    *delta = static_cast<int64_t>(value_size + (a.empty() ? 0 : 1));
    a.insert(a.begin() + static_cast<std::ptrdiff_t>(idx), std::move(value));
    return Status::Ok();
  }
  return FailedPrecondition("patch: path " + PointerText(tokens) + " does not exist");
}

// Removes and returns the value at `tokens`; `*delta` receives the (negative) change of the
// serialized document's size.
Result<json::value> RemoveAt(json::value& doc, const std::vector<std::string>& tokens,
                             int64_t* delta) {
  if (tokens.empty()) return FailedPrecondition("patch: cannot remove the whole document");
  WEIR_ASSIGN_OR_RETURN(json::value * parent, Parent(doc, tokens));
  const std::string& last = tokens.back();
  constexpr size_t kAll = std::numeric_limits<size_t>::max();
  if (parent->is_object()) {
    auto& o = parent->get_object();
    auto it = o.find(last);
    if (it != o.end()) {
      *delta = -static_cast<int64_t>(StringJsonSize(last) + 1 + JsonSizeUpTo(it->value(), kAll) +
                                     (o.size() > 1 ? 1 : 0));
      json::value out = std::move(it->value());
      o.erase(it);
      return out;
    }
  } else if (parent->is_array()) {
    auto& a = parent->get_array();
    size_t idx;
    if (ParseIndex(last, a.size(), false, &idx) && idx < a.size()) {
      *delta = -static_cast<int64_t>(JsonSizeUpTo(a[idx], kAll) + (a.size() > 1 ? 1 : 0));
      json::value out = std::move(a[idx]);
      a.erase(a.begin() + static_cast<std::ptrdiff_t>(idx));
      return out;
    }
  }
  return FailedPrecondition("patch: path " + PointerText(tokens) + " does not exist");
}

// JSON equality where numbers compare by value (1 == 1.0), as RFC 6902 `test` requires.
bool JsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_double() || b.is_double()) return a.to_number<double>() == b.to_number<double>();
    if (a.is_int64() && b.is_int64()) return a.get_int64() == b.get_int64();
    if (a.is_uint64() && b.is_uint64()) return a.get_uint64() == b.get_uint64();
    const json::value& s = a.is_int64() ? a : b;
    const json::value& u = a.is_int64() ? b : a;
    return s.get_int64() >= 0 && static_cast<uint64_t>(s.get_int64()) == u.get_uint64();
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!JsonEqual(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      auto it = y.find(kv.key());
      if (it == y.end() || !JsonEqual(kv.value(), it->value())) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace

Result<json::value> ApplyJsonPatch(const json::value& doc, const json::value& patch, size_t max_ops,
                                   size_t max_bytes) {
  if (!patch.is_array()) {
    return InvalidArgument(
        "patch: expected a JSON Patch array such as "
        "[{\"op\":\"replace\",\"path\":\"/user\",\"value\":\"x\"}]");
  }
  if (patch.get_array().size() > max_ops) {
    return PayloadTooLarge("json patch: " + std::to_string(patch.get_array().size()) +
                           " operations are more than the limit of " + std::to_string(max_ops));
  }
  const std::string too_large =
      "json patch: result is larger than " + std::to_string(max_bytes) + " bytes";
  json::value out = doc;
  // The serialized size of `out`, kept up to date operation by operation, so that no operation
  // builds a document over the limit (a `copy` is refused before it copies).
  int64_t size = static_cast<int64_t>(JsonSizeUpTo(out, max_bytes));
  const int64_t limit = static_cast<int64_t>(max_bytes);
  if (size > limit) return PayloadTooLarge(too_large + " before the patch");
  size_t n = 0;
  for (const auto& opv : patch.get_array()) {
    std::string at = "patch: operation " + std::to_string(n++);
    if (!opv.is_object()) return InvalidArgument(at + ": must be an object");
    const auto& o = opv.get_object();
    auto op_it = o.find("op");
    if (op_it == o.end() || !op_it->value().is_string()) {
      return InvalidArgument(at + ": 'op' must be add, remove, replace, move, copy or test");
    }
    std::string op = std::string(op_it->value().get_string());
    auto path_it = o.find("path");
    if (path_it == o.end() || !path_it->value().is_string()) {
      return InvalidArgument(at + ": 'path' must be a JSON Pointer string");
    }
    WEIR_ASSIGN_OR_RETURN(auto path,
                          ParsePointer(std::string(path_it->value().get_string()), "path"));
    auto value_it = o.find("value");
    auto need_value = [&]() -> Status {
      if (value_it == o.end()) return InvalidArgument(at + ": '" + op + "' needs a 'value'");
      return Status::Ok();
    };
    auto from_tokens = [&]() -> Result<std::vector<std::string>> {
      auto from_it = o.find("from");
      if (from_it == o.end() || !from_it->value().is_string()) {
        return InvalidArgument(at + ": '" + op + "' needs a 'from' JSON Pointer string");
      }
      return ParsePointer(std::string(from_it->value().get_string()), "from");
    };
    // The size a copied value may have so that the document stays within the limit (checked
    // before copying; the exact growth is checked after every operation).
    auto room = [&]() -> size_t { return static_cast<size_t>(std::max<int64_t>(0, limit - size)); };
    int64_t delta = 0;
    if (op == "add") {
      WEIR_RETURN_IF_ERROR(need_value());
      // The value is already in memory (it came with the request): only the result counts.
      const size_t value_size = JsonSizeUpTo(value_it->value(), max_bytes);
      if (value_size > max_bytes) return PayloadTooLarge(too_large + " (" + at + ")");
      WEIR_RETURN_IF_ERROR(AddAt(out, path, value_it->value(), value_size, &delta));
    } else if (op == "remove") {
      WEIR_ASSIGN_OR_RETURN(auto removed, RemoveAt(out, path, &delta));
      (void)removed;
    } else if (op == "replace") {
      WEIR_RETURN_IF_ERROR(need_value());
      WEIR_ASSIGN_OR_RETURN(json::value * target, Locate(out, path));
      const size_t old_size = JsonSizeUpTo(*target, std::numeric_limits<size_t>::max());
      const size_t value_size = JsonSizeUpTo(value_it->value(), max_bytes);
      if (value_size > max_bytes) return PayloadTooLarge(too_large + " (" + at + ")");
      *target = value_it->value();
      delta = static_cast<int64_t>(value_size) - static_cast<int64_t>(old_size);
    } else if (op == "move") {
      WEIR_ASSIGN_OR_RETURN(auto from, from_tokens());
      if (path.size() > from.size() && std::equal(from.begin(), from.end(), path.begin())) {
        return FailedPrecondition(at + ": cannot move " + PointerText(from) +
                                  " into its own child");
      }
      if (from == path) {
        WEIR_ASSIGN_OR_RETURN(json::value * exists, Locate(out, from));
        (void)exists;
        continue;
      }
      int64_t removed_delta = 0;
      WEIR_ASSIGN_OR_RETURN(json::value moved, RemoveAt(out, from, &removed_delta));
      const size_t moved_size = JsonSizeUpTo(moved, std::numeric_limits<size_t>::max());
      WEIR_RETURN_IF_ERROR(AddAt(out, path, std::move(moved), moved_size, &delta));
      delta += removed_delta;
    } else if (op == "copy") {
      WEIR_ASSIGN_OR_RETURN(auto from, from_tokens());
      WEIR_ASSIGN_OR_RETURN(json::value * src, Locate(out, from));
      const size_t src_size = JsonSizeUpTo(*src, room());
      if (src_size > room()) return PayloadTooLarge(too_large + " (" + at + ")");
      json::value copy = *src;
      WEIR_RETURN_IF_ERROR(AddAt(out, path, std::move(copy), src_size, &delta));
    } else if (op == "test") {
      WEIR_RETURN_IF_ERROR(need_value());
      WEIR_ASSIGN_OR_RETURN(json::value * target, Locate(out, path));
      if (!JsonEqual(*target, value_it->value())) {
        return FailedPrecondition(at + ": test failed, " + PointerText(path) +
                                  " does not hold the expected value");
      }
    } else {
      return InvalidArgument(at + ": unknown op '" + op.substr(0, 32) +
                             "'; use add, remove, replace, move, copy or test");
    }
    size += delta;
    if (size > limit) return PayloadTooLarge(too_large + " (" + at + ")");
  }
  return out;
}

}  // namespace weir::api
