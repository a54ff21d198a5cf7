#include "api/audit.h"

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "api/json_codec.h"
#include "common/strings.h"
#include "common/time_format.h"

namespace weir::api {

namespace {

// Bodies larger than this are not parsed for a `user` member (the record says "anonymous").
constexpr size_t kMaxUserBodyBytes = 1 << 20;

// The `user` member of a JSON object body (Genie's requests), else its `actor` member (the
// workflow routes'); "" when there is neither or the body is not JSON (multipart submissions).
std::string BodyUser(const HttpRequest& req) {
  // Only JSON requests: an uploaded asset that happens to be JSON names nobody.
  if (!StartsWith(ToLower(req.Header("content-type").value_or("")), "application/json")) return "";
  std::string spooled;
  if (req.body.empty() && !req.body_file.empty()) {
    // Spooled bodies (job submit) are still on disk while observers run.
    std::error_code ec;
    const auto size = std::filesystem::file_size(req.body_file, ec);
    if (ec || size == 0 || size > kMaxUserBodyBytes) return "";
    std::ifstream in(req.body_file, std::ios::binary);
    spooled.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string& body = req.body.empty() ? spooled : req.body;
  if (body.empty() || body.size() > kMaxUserBodyBytes) return "";
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || body[first] != '{') return "";
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return "";
  for (const char* name : {"user", "actor"}) {
    const json::value* who = v.as_object().if_contains(name);
    if (who && who->is_string() && !who->as_string().empty()) return std::string(who->as_string());
  }
  return "";
}

// The entity a Location header names directly under the request path ("…/jobs/ID" for a POST
// to "…/jobs"); "" otherwise.
std::string LocationTarget(const HttpRequest& req, const HttpResponse& resp) {
  for (const auto& [name, value] : resp.headers) {
    if (ToLower(name) != "location") continue;
    std::string_view path = value;
    if (size_t scheme = path.find("://"); scheme != std::string_view::npos) {
      size_t slash = path.find('/', scheme + 3);
      path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    }
    std::string base = req.path;
    while (!base.empty() && base.back() == '/') base.pop_back();
    base += '/';
    if (!StartsWith(path, base)) return "";
    std::string_view rest = path.substr(base.size());
    if (rest.empty() || rest.find('/') != std::string_view::npos) return "";
    auto decoded = PercentDecode(rest, /*plus_is_space=*/false);
    return decoded.ok() ? *decoded : std::string(rest);
  }
  return "";
}

std::string ParamTarget(const HttpRequest& req) {
  for (const char* name : {"id", "uuid"}) {
    auto it = req.params.find(name);
    if (it == req.params.end()) continue;
    std::string target = it->second;
    if (auto n = req.params.find("n"); n != req.params.end()) target += "/instances/" + n->second;
    return target;
  }
  return "";
}

json::object RecordJson(const store::AuditRecord& r) {
  return json::object{{"seq", r.seq},
                      {"time", FormatIso8601(r.time)},
                      {"principal", r.principal},
                      {"source", r.source},
                      {"method", r.method},
                      {"path", r.path},
                      {"target", r.target},
                      {"status", r.status}};
}

// ISO-8601 or epoch milliseconds.
Result<std::optional<TimePoint>> QueryTime(const HttpRequest& req, std::string_view name) {
  std::optional<std::string> v = req.Query(name);
  if (!v) return std::optional<TimePoint>();
  long long ms = 0;
  if (ParseInt64(*v, &ms)) return std::optional<TimePoint>(FromEpochMillis(ms));
  auto t = ParseIso8601(*v);
  if (!t.ok()) {
    return InvalidArgument(std::string(name) + ": expected an ISO-8601 time (" +
                           "2026-12-06T10:00:00Z) or epoch milliseconds");
  }
  return std::optional<TimePoint>(*t);
}

Result<store::AuditFilter> ParseFilter(const HttpRequest& req) {
  store::AuditFilter f;
  if (auto v = req.Query("principal")) f.principal = *v;
  WEIR_ASSIGN_OR_RETURN(f.since, QueryTime(req, "since"));
  WEIR_ASSIGN_OR_RETURN(f.until, QueryTime(req, "until"));
  if (auto v = req.Query("path")) f.path_prefix = *v;
  if (auto v = req.Query("target")) f.target = *v;
  if (auto v = req.Query("outcome")) {
    long long status = 0;
    if (*v == "success") {
      f.max_status = 399;
    } else if (*v == "failure") {
      f.min_status = 400;
    } else if (ParseInt64(*v, &status) && status >= 100 && status <= 599) {
      f.min_status = f.max_status = static_cast<int>(status);
    } else {
      return InvalidArgument("outcome: expected success, failure or an HTTP status (404)");
    }
  }
  return f;
}

HttpResponse ListAudit(store::AuditStore& store, const HttpRequest& req) {
  if (req.principal && !req.principal->IsAdmin()) {
    return ErrorResponse(PermissionDenied("audit: reading the audit log needs the admin role"),
                         req);
  }
  static const char* kAllowed[] = {"principal", "since", "until", "path", "target",
                                   "outcome",   "order", "page",  "size"};
  for (const auto& [k, _] : req.query) {
    bool known = false;
    for (const char* a : kAllowed) known |= k == a;
    if (!known) {
      return ErrorResponse(
          InvalidArgument("query parameter '" + k +
                          "': unknown; allowed: principal, since, until, path, target, outcome, "
                          "order, page, size"),
          req);
    }
  }
  auto filter = ParseFilter(req);
  if (!filter.ok()) return ErrorResponse(filter.status(), req);
  bool newest_first = false;
  if (auto order = req.Query("order")) {
    if (*order != "asc" && *order != "desc") {
      return ErrorResponse(InvalidArgument("order: expected asc or desc"), req);
    }
    newest_first = *order == "desc";
  }
  store::PageRequest page;
  page.size = 100;
  struct Bound {
    const char* name;
    int* field;
    long long min, max;
  };
  for (const Bound& b :
       {Bound{"page", &page.page, 0, 1000000}, Bound{"size", &page.size, 1, 1000}}) {
    if (auto v = req.Query(b.name)) {
      long long n = 0;
      if (!ParseInt64(*v, &n) || n < b.min || n > b.max) {
        return ErrorResponse(
            InvalidArgument(std::string(b.name) + ": must be an integer from " +
                            std::to_string(b.min) + " to " + std::to_string(b.max)),
            req);
      }
      *b.field = static_cast<int>(n);
    }
  }
  auto found = store.SearchAudit(*filter, page, newest_first);
  if (!found.ok()) return ErrorResponse(found.status(), req);
  json::array items;
  for (const store::AuditRecord& r : found->items) items.push_back(RecordJson(r));
  json::object p{{"size", page.size},
                 {"totalElements", found->total},
                 {"totalPages", (found->total + page.size - 1) / page.size},
                 {"number", page.page}};
  return JsonResponse(200, json::object{{"audit", std::move(items)}, {"page", std::move(p)}},
                      kJsonType);
}

}  // namespace

bool IsAuditedMethod(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

store::AuditRecord AuditRecordFor(const HttpRequest& req, const HttpResponse& resp,
                                  const Clock& clock) {
  store::AuditRecord r;
  r.time = clock.Now();
  if (req.principal) {
    r.principal = req.principal->name;
  } else {
    r.principal = BodyUser(req);
    if (r.principal.empty()) r.principal = "anonymous";
  }
  r.source = ClientHost(req);
  r.method = req.method;
  r.path = req.path;
  r.target = LocationTarget(req, resp);
  if (r.target.empty()) r.target = ParamTarget(req);
  r.status = resp.status;
  return r;
}

std::function<void(const HttpRequest&, const HttpResponse&)> MakeAuditObserver(
    AuditOptions options) {
  if (!options.on_error) {
    options.on_error = [](const Status& s, const store::AuditRecord& r) {
      std::fprintf(stderr, "audit: FAILED to record %s %s (status %d) by %s: %s\n",
                   r.method.c_str(), r.path.c_str(), r.status, r.principal.c_str(),
                   s.message().c_str());
    };
  }
  auto shared = std::make_shared<AuditOptions>(std::move(options));
  return [shared](const HttpRequest& req, const HttpResponse& resp) {
    if (!IsAuditedMethod(req.method)) return;
    store::AuditRecord record = AuditRecordFor(req, resp, *shared->clock);
    Result<int64_t> seq = shared->store->AppendAudit(record);
    if (!seq.ok()) shared->on_error(seq.status(), record);
  };
}

void RegisterAuditRoutes(Router& router, std::shared_ptr<store::AuditStore> store) {
  router.Add("GET", "/api/weir/v1/admin/audit",
             [store = std::move(store)](HttpRequest& req) { return ListAudit(*store, req); });
}

}  // namespace weir::api
