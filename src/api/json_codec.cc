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

}  // namespace weir::api
