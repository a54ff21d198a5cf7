// The asset API: thin translation between HTTP and assets::AssetRegistry.
#include "api/asset_routes.h"

#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "assets/asset_json.h"
#include "blob/local_blob_store.h"
#include "common/ids.h"
#include "common/strings.h"

namespace weir::api {
namespace {

namespace json = boost::json;
using assets::AssetRecord;
using assets::AssetRegistry;

constexpr std::string_view kBase = "/api/weir/v1/assets";
// Bodies served from memory when the blob backend has no local file (remote backends).
constexpr int64_t kMaxInMemoryContent = 64 << 20;

HttpResponse JsonOf(int status, const json::value& v) {
  return HttpResponse::Json(status, json::serialize(v));
}

// Refuses query parameters the route does not know (a typo would otherwise be ignored) and
// values that are not valid UTF-8.
Status CheckQuery(const HttpRequest& req, const std::set<std::string_view>& known) {
  for (const auto& [k, v] : req.query) {
    if (!IsValidUtf8(k)) return InvalidArgument("query: parameter names must be valid UTF-8");
    if (!known.contains(k)) {
      return InvalidArgument("query parameter '" + k + "': unknown; allowed: " +
                             Join(std::vector<std::string>(known.begin(), known.end()), ", "));
    }
    if (!IsValidUtf8(v)) {
      return InvalidArgument("query parameter '" + k + "': must be valid UTF-8");
    }
  }
  return Status::Ok();
}

std::string QueryOr(const HttpRequest& req, std::string_view name) {
  return req.Query(name).value_or("");
}

Result<bool> ParseBool(std::string_view field, std::string_view v) {
  std::string l = ToLower(v);
  if (l.empty() || l == "false" || l == "0" || l == "no") return false;
  if (l == "true" || l == "1" || l == "yes") return true;
  return InvalidArgument(std::string(field) + ": must be true or false, got '" + std::string(v) +
                         "'");
}

Result<int64_t> ParseNonNegative(std::string_view field, std::optional<std::string> v,
                                 int64_t fallback, int64_t max) {
  if (!v) return fallback;
  long long n = 0;
  if (!ParseInt64(*v, &n) || n < 0 || n > max) {
    std::string shown = v->size() > 32 ? v->substr(0, 32) + "..." : *v;
    if (!IsValidUtf8(shown)) shown = "?";
    return InvalidArgument(std::string(field) + ": must be an integer from 0 to " +
                           std::to_string(max) + ", got '" + shown + "'");
  }
  return static_cast<int64_t>(n);
}

// Accepts the canonical UUID, and also one whose branch arrives decoded (a client that did not
// escape '%' in the path): the first five fields and the last two have fixed shapes.
Result<std::string> CanonicalUuid(std::string_view text) {
  auto id = assets::ParseUuid(text);
  if (id.ok()) return assets::FormatUuid(*id);
  std::vector<std::string> parts = Split(text, '.');
  if (parts.size() < 8 || parts[0] != "dataflow") return id.status();
  assets::AssetVersionId lenient;
  lenient.type = parts[1];
  lenient.ns = parts[2];
  lenient.owner = parts[3];
  lenient.repo = parts[4];
  lenient.branch = Join(std::vector<std::string>(parts.begin() + 5, parts.end() - 2), ".");
  lenient.commit = parts[parts.size() - 2];
  long long build = 0;
  if (!ParseInt64(parts.back(), &build)) return id.status();
  lenient.build = build;
  if (!assets::ValidateId(lenient).ok()) return id.status();
  return assets::FormatUuid(lenient);
}

std::string RecordPath(const AssetRecord& r) {
  return std::string(kBase) + "/" + PercentEncode(r.uuid);
}

// A Content-Disposition filename: the published name when it is plain ASCII, else uuid.ext.
std::string DownloadName(const AssetRecord& r) {
  bool plain = !r.file_name.empty();
  for (unsigned char c : r.file_name) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') plain = false;
  }
  if (plain) return r.file_name;
  return r.uuid + (r.extension.empty() ? "" : "." + r.extension);
}

class AssetRoutes {
 public:
  AssetRoutes(std::shared_ptr<AssetRegistry> registry, AssetRouteOptions options)
      : registry_(std::move(registry)), options_(std::move(options)) {}

  const AccessPolicy& Policy() const {
    static const AccessPolicy kOpen;
    return options_.access ? *options_.access : kOpen;
  }

  HttpResponse Publish(HttpRequest& req) {
    Status s = CheckQuery(req, {"type", "namespace", "owner", "repo", "branch", "commit", "dirty",
                                "file", "extension", "uuid", "publisher"});
    if (!s.ok()) return ErrorResponse(s, req);
    auto length = req.Header("content-length");
    if (!length) {
      return ErrorResponse(411, "request: Content-Length is required (the size of the asset)", req);
    }
    long long declared = 0;
    if (!ParseInt64(*length, &declared) || declared < 0) {
      return ErrorResponse(400, "Content-Length: must be a non-negative integer", req);
    }
    assets::PublishRequest p;
    p.type = QueryOr(req, "type");
    p.ns = QueryOr(req, "namespace");
    p.owner = QueryOr(req, "owner");
    p.repo = QueryOr(req, "repo");
    p.branch = QueryOr(req, "branch");
    p.commit = QueryOr(req, "commit");
    p.uuid = QueryOr(req, "uuid");
    p.file_name = QueryOr(req, "file");
    p.extension = QueryOr(req, "extension");
    p.publisher = QueryOr(req, "publisher");
    p.size = declared;
    p.sha256 = req.Header("x-weir-sha256").value_or("");
    auto dirty = ParseBool("dirty", QueryOr(req, "dirty"));
    if (!dirty.ok()) return ErrorResponse(dirty.status(), req);
    p.dirty = *dirty;
    if (p.uuid.empty()) {
      // Name every missing field at once.
      std::vector<std::string> missing;
      for (auto [name, value] : {std::pair<const char*, const std::string*>{"type", &p.type},
                                 {"namespace", &p.ns},
                                 {"owner", &p.owner},
                                 {"repo", &p.repo},
                                 {"branch", &p.branch},
                                 {"commit", &p.commit}}) {
        if (value->empty()) missing.push_back(name);
      }
      if (!missing.empty()) {
        return ErrorResponse(InvalidArgument("asset publish: missing query parameter(s) " +
                                             Join(missing, ", ") + " (or give uuid=)"),
                             req);
      }
    }

    // Only a namespace's owners publish into it (access.h); the publisher is who signed in.
    std::vector<std::string> namespaces;
    if (!p.ns.empty()) namespaces.push_back(p.ns);
    if (!p.uuid.empty()) {
      auto id = assets::ParseUuid(p.uuid);
      if (!id.ok()) return ErrorResponse(id.status(), req);
      namespaces.push_back(id->ns);
    }
    for (const std::string& ns : namespaces) {
      Status allowed = CheckNamespacePublish(req, Policy(), ns);
      if (!allowed.ok()) return ErrorResponse(allowed, req);
    }
    p.publisher = Actor(req, p.publisher);

    std::filesystem::path content = req.body_file;
    std::filesystem::path empty_file;
    if (content.empty()) {
      if (declared != 0 || !req.body.empty()) {
        return ErrorResponse(500, "asset publish: the request body was not spooled", req);
      }
      // Zero-byte assets: no body was read, publish an empty file.
      empty_file = std::filesystem::temp_directory_path() / ("weir-empty-" + NewUuid());
      std::ofstream(empty_file).close();
      content = empty_file;
    }
    auto record = registry_->Publish(p, content);
    if (!empty_file.empty()) {
      std::error_code ec;
      std::filesystem::remove(empty_file, ec);
    }
    if (!record.ok()) return ErrorResponse(record.status(), req);
    HttpResponse resp = JsonOf(201, assets::RecordToJsonObject(*record));
    resp.SetHeader("Location", BaseUrl(req) + RecordPath(*record));
    return resp;
  }

  HttpResponse List(HttpRequest& req) {
    Status s = CheckQuery(req, {"type", "namespace", "branch", "owner", "repo", "page", "size"});
    if (!s.ok()) return ErrorResponse(s, req);
    assets::ListQuery q;
    q.type = QueryOr(req, "type");
    q.ns = QueryOr(req, "namespace");
    q.branch = QueryOr(req, "branch");
    q.owner = QueryOr(req, "owner");
    q.repo = QueryOr(req, "repo");
    auto page = ParseNonNegative("page", req.Query("page"), 0, 1000000);
    if (!page.ok()) return ErrorResponse(page.status(), req);
    auto size = ParseNonNegative("size", req.Query("size"), 50, 1000);
    if (!size.ok()) return ErrorResponse(size.status(), req);
    q.page = *page;
    q.size = *size;
    auto result = registry_->List(q);
    if (!result.ok()) return ErrorResponse(result.status(), req);
    json::array items;
    for (const AssetRecord& r : result->records) items.push_back(assets::RecordToJsonObject(r));
    json::object page_obj;
    page_obj["size"] = result->size;
    page_obj["totalElements"] = result->total;
    page_obj["totalPages"] = (result->total + result->size - 1) / result->size;
    page_obj["number"] = result->page;
    json::object body;
    body["assets"] = std::move(items);
    body["page"] = std::move(page_obj);
    return JsonOf(200, body);
  }

  HttpResponse Get(HttpRequest& req) {
    auto record = Lookup(req, false);
    if (!record.ok()) return ErrorResponse(record.status(), req);
    return JsonOf(200, assets::RecordToJsonObject(*record));
  }

  HttpResponse Content(HttpRequest& req) {
    auto record = Lookup(req, true);
    if (!record.ok()) return ErrorResponse(record.status(), req);
    HttpResponse resp;
    resp.status = 200;
    auto path = blob::PathFromFileUri(record->uri);
    if (path.ok()) {
      resp.file = FileBody{*path, 0, static_cast<uint64_t>(record->size)};
    } else {
      // A remote backend: relay small blobs; large ones are fetched from the URI directly.
      if (record->size > kMaxInMemoryContent) {
        return ErrorResponse(
            Unimplemented("asset " + record->uuid + ": fetch the content from " + record->uri),
            req);
      }
      auto reader = registry_->blobs().Open(record->sha256);
      if (!reader.ok()) return ErrorResponse(reader.status(), req);
      std::string buf(1 << 16, '\0');
      while (true) {
        auto n = (*reader)->Read(buf.data(), buf.size());
        if (!n.ok()) return ErrorResponse(n.status(), req);
        if (*n == 0) break;
        resp.body.append(buf.data(), *n);
      }
    }
    resp.SetHeader("Content-Type", "application/octet-stream");
    resp.SetHeader("Content-Disposition", "attachment; filename=\"" + DownloadName(*record) + "\"");
    resp.SetHeader("X-Weir-Sha256", record->sha256);
    resp.SetHeader("ETag", "\"" + record->sha256 + "\"");
    resp.SetHeader("Cache-Control", "public, max-age=31536000, immutable");
    return resp;
  }

  HttpResponse Resolve(HttpRequest& req) {
    auto ref = RefParam(req);
    if (!ref.ok()) return ErrorResponse(ref.status(), req);
    auto record = registry_->Resolve(*ref);
    if (record.ok()) return JsonOf(200, assets::RecordToJsonObject(*record));
    Status s = record.status();
    if (s.code() == StatusCode::kNotFound) {
      std::vector<std::string> existing = registry_->Suggestions(*ref);
      if (!existing.empty()) s = NotFound(s.message() + "; existing: " + Join(existing, ", "));
    }
    return ErrorResponse(s, req);
  }

  HttpResponse Suggest(HttpRequest& req) {
    auto ref = RefParam(req);
    if (!ref.ok()) return ErrorResponse(ref.status(), req);
    json::array list;
    for (const std::string& s : registry_->Suggestions(*ref)) list.emplace_back(s);
    json::object body;
    body["suggestions"] = std::move(list);
    return JsonOf(200, body);
  }

 private:
  // The {uuid} path parameter. Falls back to cutting it out of the decoded path when the server
  // did not fill the parameters (the segment may hold a decoded '/', so cut by prefix and suffix).
  static std::string UuidParam(const HttpRequest& req, bool content) {
    auto it = req.params.find("uuid");
    if (it != req.params.end()) return it->second;
    std::string_view path = req.path;
    const std::string prefix = std::string(kBase) + "/";
    if (!StartsWith(path, prefix)) return {};
    path.remove_prefix(prefix.size());
    if (content && EndsWith(path, "/content"))
      path.remove_suffix(std::string_view("/content").size());
    return std::string(path);
  }

  Result<AssetRecord> Lookup(const HttpRequest& req, bool content) {
    const std::string raw = UuidParam(req, content);
    if (!IsValidUtf8(raw)) return InvalidArgument("asset uuid: must be valid UTF-8");
    auto uuid = CanonicalUuid(raw);
    if (!uuid.ok()) return uuid.status();
    return registry_->Get(*uuid);
  }

  Result<assets::AssetRef> RefParam(const HttpRequest& req) {
    WEIR_RETURN_IF_ERROR(CheckQuery(req, {"ref"}));
    auto ref = req.Query("ref");
    if (!ref || ref->empty()) {
      return InvalidArgument("query parameter 'ref': required, e.g. ref=dataflow.jar.etl@main");
    }
    std::string_view text = *ref;
    if (StartsWith(text, "${") && EndsWith(text, "}")) text = text.substr(2, text.size() - 3);
    return assets::ParseRef(text);
  }

  std::shared_ptr<AssetRegistry> registry_;
  AssetRouteOptions options_;
};

}  // namespace

void RegisterAssetRoutes(Router& router, std::shared_ptr<AssetRegistry> registry,
                         AssetRouteOptions options) {
  auto routes = std::make_shared<AssetRoutes>(std::move(registry), options);
  const std::string base(kBase);
  RouteOptions upload;
  upload.max_body_bytes = options.max_upload_bytes;
  upload.spool_body_to_file = true;
  router.Add(
      "POST", base, [routes](HttpRequest& r) { return routes->Publish(r); }, upload);
  router.Add("GET", base, [routes](HttpRequest& r) { return routes->List(r); });
  router.Add("GET", base + ":resolve", [routes](HttpRequest& r) { return routes->Resolve(r); });
  router.Add("GET", base + ":suggest", [routes](HttpRequest& r) { return routes->Suggest(r); });
  router.Add("GET", base + "/{uuid}", [routes](HttpRequest& r) { return routes->Get(r); });
  router.Add("GET", base + "/{uuid}/content",
             [routes](HttpRequest& r) { return routes->Content(r); });
}

}  // namespace weir::api
