#include "api/json_codec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "common/strings.h"
#include "common/time_format.h"

namespace weir::api {

// ---- responses ----

HttpResponse JsonResponse(int status, const json::value& v, std::string_view content_type) {
  return HttpResponse::Json(status, json::serialize(v), std::string(content_type));
}

// ---- parsing ----

Result<json::value> ParseJson(std::string_view text, std::string_view what) {
  if (Trim(text).empty()) {
    return InvalidArgument(std::string(what) + ": empty; send a JSON document");
  }
  json::parse_options opts;
  opts.max_depth = 64;
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec, {}, opts);
  if (ec) {
    return InvalidArgument(std::string(what) + ": invalid JSON (" + ec.message() + ")");
  }
  return v;
}

Result<json::value> ParseJsonBody(const HttpRequest& req) { return ParseJson(req.body); }

namespace {

std::string F(std::string_view field) { return std::string(field); }

const json::value* Member(const json::object& o, std::string_view field) {
  auto it = o.find(json::string_view(field.data(), field.size()));
  if (it == o.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

std::string ToStd(const json::string& s) { return std::string(s.data(), s.size()); }

}  // namespace

Result<std::optional<std::string>> OptionalString(const json::object& o, std::string_view field) {
  const json::value* v = Member(o, field);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return InvalidArgument(F(field) + ": must be a string");
  return std::optional<std::string>(ToStd(v->get_string()));
}

Result<std::optional<int64_t>> OptionalInt(const json::object& o, std::string_view field) {
  const json::value* v = Member(o, field);
  if (!v) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->get_int64());
  if (v->is_uint64()) {
    if (v->get_uint64() > static_cast<uint64_t>(INT64_MAX)) {
      return InvalidArgument(F(field) + ": number too large");
    }
    return std::optional<int64_t>(static_cast<int64_t>(v->get_uint64()));
  }
  if (v->is_double()) {
    double d = v->get_double();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) {
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
  }
  return InvalidArgument(F(field) + ": must be an integer");
}

Result<std::optional<bool>> OptionalBool(const json::object& o, std::string_view field) {
  const json::value* v = Member(o, field);
  if (!v) return std::optional<bool>();
  if (!v->is_bool()) return InvalidArgument(F(field) + ": must be true or false");
  return std::optional<bool>(v->get_bool());
}

Result<std::vector<std::string>> StringArray(const json::value& v, std::string_view field) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (!v.is_array()) return InvalidArgument(F(field) + ": must be an array of strings");
  const auto& a = v.get_array();
  out.reserve(a.size());
  for (const auto& item : a) {
    if (!item.is_string()) return InvalidArgument(F(field) + ": must be an array of strings");
    out.push_back(ToStd(item.get_string()));
  }
  return out;
}

Result<std::vector<std::string>> OptionalStringArray(const json::object& o,
                                                     std::string_view field) {
  const json::value* v = Member(o, field);
  if (!v) return std::vector<std::string>();
  return StringArray(*v, field);
}

// ---- links ----

json::object HalLink(std::string_view href, bool templated) {
  json::object o;
  o["href"] = href;
  if (templated) o["templated"] = true;
  return o;
}

json::object HalLinks(const std::vector<Link>& links) {
  json::object o;
  for (const auto& l : links) o[l.rel] = HalLink(l.href, l.templated);
  return o;
}

json::array ListLinks(const std::vector<Link>& links) {
  json::array a;
  for (const auto& l : links) {
    json::object o;
    o["rel"] = l.rel;
    o["href"] = l.href;
    a.push_back(std::move(o));
  }
  return a;
}

std::string ResourceUrl(std::string_view base_url, std::string_view collection,
                        std::string_view id) {
  std::string out;
  out.reserve(base_url.size() + collection.size() + id.size() + 10);
  out.append(base_url);
  out.append("/api/v3/");
  out.append(collection);
  out.push_back('/');
  out.append(PercentEncode(id, ":@!$'()*+,;="));
  return out;
}

// ---- configuration resources ----

std::vector<Link> ConfigLinks(const model::ConfigEntity& e, std::string_view base_url) {
  std::string self = ResourceUrl(base_url, model::KindCollection(e.kind), e.id);
  std::vector<Link> links;
  links.push_back({"self", self, false});
  switch (e.kind) {
    case model::Kind::kApplication:
      links.push_back({"commands", self + "/commands{?status}", true});
      break;
    case model::Kind::kCommand:
      links.push_back({"applications", self + "/applications", false});
      links.push_back({"clusters", self + "/clusters{?status}", true});
      break;
    case model::Kind::kCluster:
      links.push_back({"commands", self + "/commands{?status}", true});
      break;
  }
  return links;
}

namespace {

json::value OptionalJson(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return json::value(json::string(*s));
}

json::array ToArray(const std::vector<std::string>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(json::string(s));
  return a;
}

}  // namespace

json::object ConfigToJson(const model::ConfigEntity& e, std::string_view base_url,
                          LinkStyle style) {
  json::object o;
  o.reserve(20);
  o["id"] = e.id;
  o["created"] = FormatIso8601(e.created);
  o["updated"] = FormatIso8601(e.updated);
  o["version"] = e.version;
  o["user"] = e.user;
  o["name"] = e.name;
  o["description"] = OptionalJson(e.description);
  if (e.metadata_json.empty()) {
    o["metadata"] = nullptr;
  } else {
    boost::system::error_code ec;
    json::value m = json::parse(e.metadata_json, ec);
    o["metadata"] = ec ? json::value(nullptr) : std::move(m);
  }
  o["tags"] = ToArray(e.tags);
  o["configs"] = ToArray(e.configs);
  o["dependencies"] = ToArray(e.dependencies);
  o["setupFile"] = OptionalJson(e.setup_file);
  o["status"] = e.status;
  switch (e.kind) {
    case model::Kind::kApplication:
      o["type"] = OptionalJson(e.type);
      break;
    case model::Kind::kCommand:
      o["executable"] = e.executable;
      o["checkDelay"] = e.check_delay;
      if (e.memory) {
        o["memory"] = *e.memory;
      } else {
        o["memory"] = nullptr;
      }
      break;
    case model::Kind::kCluster:
      break;
  }
  if (style == LinkStyle::kHal) {
    o["_links"] = HalLinks(ConfigLinks(e, base_url));
  } else if (style == LinkStyle::kList) {
    o["links"] = ListLinks(ConfigLinks(e, base_url));
  }
  return o;
}

Result<model::ConfigEntity> ConfigFromJson(model::Kind kind, const json::value& v) {
  if (!v.is_object()) {
    return InvalidArgument("request body: expected a JSON object describing the " +
                           std::string(model::KindName(kind)));
  }
  const json::object& o = v.get_object();
  model::ConfigEntity e;
  e.kind = kind;
  WEIR_ASSIGN_OR_RETURN(auto id, OptionalString(o, "id"));
  e.id = id.value_or("");
  WEIR_ASSIGN_OR_RETURN(auto name, OptionalString(o, "name"));
  e.name = name.value_or("");
  WEIR_ASSIGN_OR_RETURN(auto user, OptionalString(o, "user"));
  e.user = user.value_or("");
  WEIR_ASSIGN_OR_RETURN(auto version, OptionalString(o, "version"));
  e.version = version.value_or("");
  WEIR_ASSIGN_OR_RETURN(e.description, OptionalString(o, "description"));
  if (const json::value* m = Member(o, "metadata")) {
    if (!m->is_object()) return InvalidArgument("metadata: must be a JSON object or null");
    e.metadata_json = json::serialize(*m);
  }
  WEIR_ASSIGN_OR_RETURN(e.tags, OptionalStringArray(o, "tags"));
  WEIR_ASSIGN_OR_RETURN(e.configs, OptionalStringArray(o, "configs"));
  WEIR_ASSIGN_OR_RETURN(e.dependencies, OptionalStringArray(o, "dependencies"));
  WEIR_ASSIGN_OR_RETURN(e.setup_file, OptionalString(o, "setupFile"));
  WEIR_ASSIGN_OR_RETURN(auto status, OptionalString(o, "status"));
  if (!status) {
    return FailedPrecondition("status: required, one of " + Join(model::ValidStatuses(kind), ", "));
  }
  if (!model::IsValidStatus(kind, *status)) {
    std::string shown = status->size() > 64 ? status->substr(0, 64) + "..." : *status;
    if (!IsValidUtf8(shown)) shown = "?";
    return InvalidArgument("status: '" + shown + "' is not one of " +
                           Join(model::ValidStatuses(kind), ", "));
  }
  e.status = *status;
  if (kind == model::Kind::kApplication) {
    WEIR_ASSIGN_OR_RETURN(e.type, OptionalString(o, "type"));
  }
  if (kind == model::Kind::kCommand) {
    WEIR_ASSIGN_OR_RETURN(auto exe, OptionalString(o, "executable"));
    e.executable = exe.value_or("");
    WEIR_ASSIGN_OR_RETURN(auto delay, OptionalInt(o, "checkDelay"));
    if (delay) e.check_delay = *delay;
    WEIR_ASSIGN_OR_RETURN(auto memory, OptionalInt(o, "memory"));
    if (memory) {
      if (*memory > INT32_MAX || *memory < INT32_MIN) {
        return InvalidArgument("memory: must be a number of MB below 2^31");
      }
      e.memory = static_cast<int>(*memory);
    }
  }
  return e;
}

namespace {

Status CheckUri(std::string_view field, const std::string& v) {
  if (Trim(v).empty()) return FailedPrecondition(F(field) + ": entries must not be blank");
  if (v.size() > 1024) return FailedPrecondition(F(field) + ": at most 1024 characters each");
  if (!IsValidUtf8(v)) return FailedPrecondition(F(field) + ": must be valid UTF-8");
  return Status::Ok();
}

}  // namespace

Status ValidateConfig(const model::ConfigEntity& e) {
  if (Status s = model::Validate(e); !s.ok()) {
    // Genie answers 412 for an entity that breaks a constraint; a size limit stays 413.
    if (s.code() == StatusCode::kInvalidArgument) return FailedPrecondition(s.message());
    return s;
  }
  if (e.setup_file) {
    if (e.setup_file->size() > 1024) {
      return FailedPrecondition("setupFile: at most 1024 characters");
    }
    if (!IsValidUtf8(*e.setup_file)) return FailedPrecondition("setupFile: must be valid UTF-8");
  }
  for (const auto& c : e.configs) WEIR_RETURN_IF_ERROR(CheckUri("configs", c));
  for (const auto& d : e.dependencies) WEIR_RETURN_IF_ERROR(CheckUri("dependencies", d));
  if (e.type && e.type->size() > 255) return FailedPrecondition("type: at most 255 characters");
  if (e.kind == model::Kind::kCommand && e.executable.size() > 255) {
    return FailedPrecondition("executable: at most 255 characters");
  }
  return Status::Ok();
}

// ---- paging ----

namespace {

Result<long long> QueryInt(const HttpRequest& req, std::string_view name, long long fallback,
                           long long min, long long max) {
  auto v = req.Query(name);
  if (!v || v->empty()) return fallback;
  long long n = 0;
  if (!ParseInt64(*v, &n) || n < min || n > max) {
    return InvalidArgument(F(name) + ": must be an integer from " + std::to_string(min) +
                           " to " + std::to_string(max));
  }
  return n;
}

bool IsFieldName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<PageQuery> ParsePageQuery(const HttpRequest& req, int default_size,
                                 std::string_view default_sort) {
  PageQuery q;
  WEIR_ASSIGN_OR_RETURN(long long page, QueryInt(req, "page", 0, 0, 1000000));
  WEIR_ASSIGN_OR_RETURN(long long size, QueryInt(req, "size", default_size, 1, 1000));
  q.request.page = static_cast<int>(page);
  q.request.size = static_cast<int>(size);
  std::vector<std::string> texts;
  for (const std::string& raw : req.QueryAll("sort")) {
    if (Trim(raw).empty()) continue;
    std::vector<std::string> parts = Split(raw, ',');
    bool ascending = true;
    std::string last = ToLower(Trim(parts.back()));
    if (parts.size() > 1 && (last == "asc" || last == "desc")) {
      ascending = last == "asc";
      parts.pop_back();
    }
    for (const auto& p : parts) {
      std::string field(Trim(p));
      if (!IsFieldName(field)) {
        return InvalidArgument("sort: '" + (IsValidUtf8(field) ? field : std::string("?")) +
                               "' is not a field name; use field[,asc|desc]");
      }
      q.request.sort.push_back({field, ascending});
      texts.push_back(field + (ascending ? ",asc" : ",desc"));
    }
  }
  q.sort_text = texts.empty() ? std::string(default_sort) : Join(texts, "&sort=");
  return q;
}

Result<std::optional<TimePoint>> QueryEpochMillis(const HttpRequest& req, std::string_view name) {
  auto v = req.Query(name);
  if (!v || v->empty()) return std::optional<TimePoint>();
  long long n = 0;
  if (!ParseInt64(*v, &n)) {
    return InvalidArgument(F(name) + ": must be a time in milliseconds since the epoch");
  }
  return std::optional<TimePoint>(FromEpochMillis(n));
}

json::object SearchPage(const HttpRequest& req, std::string_view list_name, json::array items,
                        int64_t total_elements, const PageQuery& page,
                        const std::vector<std::string>& filter_names) {
  const std::string base = BaseUrl(req) + PercentEncode(req.path, "/:@!$'()*+,;=");
  // The filters the request gave, in its order, and the ones it did not (the template).
  std::string given;
  std::vector<std::string> missing;
  for (const auto& name : filter_names) {
    if (!req.Query(name)) missing.push_back(name);
  }
  for (const auto& [k, v] : req.query) {
    if (std::find(filter_names.begin(), filter_names.end(), k) == filter_names.end()) continue;
    if (!given.empty()) given += '&';
    given += PercentEncode(k);
    given += '=';
    given += PercentEncode(v, ":,");
  }
  std::string self = base;
  if (!given.empty()) self += "?" + given;
  if (!missing.empty()) {
    self += given.empty() ? "{?" : "{&";
    self += Join(missing, ",");
    self += "}";
  }

  const int64_t size = page.request.size;
  const int64_t number = page.request.page;
  const int64_t total_pages = size > 0 ? (total_elements + size - 1) / size : 0;
  auto page_href = [&](int64_t n) {
    std::string h = base + "?";
    if (!given.empty()) h += given + "&";
    h += "page=" + std::to_string(n) + "&size=" + std::to_string(size) + "&sort=" +
         page.sort_text;
    return h;
  };

  json::object links;
  const bool has_prev = number > 0;
  const bool has_next = number + 1 < total_pages;
  if (has_prev || has_next) links["first"] = HalLink(page_href(0));
  if (has_prev) links["prev"] = HalLink(page_href(number - 1));
  links["self"] = HalLink(self, !missing.empty());
  if (has_next) links["next"] = HalLink(page_href(number + 1));
  if (has_prev || has_next) links["last"] = HalLink(page_href(total_pages > 0 ? total_pages - 1 : 0));

  json::object out;
  json::object embedded;
  embedded[list_name] = std::move(items);
  out["_embedded"] = std::move(embedded);
  out["_links"] = std::move(links);
  json::object p;
  p["size"] = size;
  p["totalElements"] = total_elements;
  p["totalPages"] = total_pages;
  p["number"] = number;
  out["page"] = std::move(p);
  return out;
}

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
    return InvalidArgument("patch: " + F(member) + " '" + std::string(ptr.substr(0, 64)) +
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
        return InvalidArgument("patch: " + F(member) + " has '~' not followed by 0 or 1");
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
    return InvalidArgument("patch: expected a JSON Patch array such as "
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
    std::string op = ToStd(op_it->value().get_string());
    auto path_it = o.find("path");
    if (path_it == o.end() || !path_it->value().is_string()) {
      return InvalidArgument(at + ": 'path' must be a JSON Pointer string");
    }
    WEIR_ASSIGN_OR_RETURN(auto path, ParsePointer(ToStd(path_it->value().get_string()), "path"));
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
      return ParsePointer(ToStd(from_it->value().get_string()), "from");
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
