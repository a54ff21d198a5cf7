#include "assets/http_catalog.h"

#include <boost/json.hpp>
#include <mutex>

#include "assets/asset_json.h"
#include "blob/sha256.h"

namespace weir::assets {
namespace json = boost::json;
namespace {

void AddParam(std::string& q, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  q += q.empty() ? '?' : '&';
  q += key;
  q += '=';
  q += client::UrlEncode(value);
}

Result<AssetRecord> RecordOrError(const Result<client::Response>& r) {
  if (!r.ok()) return r.status();
  if (r->status < 200 || r->status >= 300) return AssetApiStatus(*r);
  return RecordFromJsonText(r->body);
}

class HttpCatalog final : public AssetCatalog {
 public:
  explicit HttpCatalog(client::HttpClient& client) : client_(client) {}

  Result<AssetRecord> Resolve(const AssetRef& ref) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string q;
    AddParam(q, "ref", ref.ToString());
    return RecordOrError(client_.Get(std::string(kAssetsApi) + ":resolve" + q));
  }

  std::vector<std::string> Suggestions(const AssetRef& ref) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string q;
    AddParam(q, "ref", ref.ToString());
    auto r = client_.Get(std::string(kAssetsApi) + ":suggest" + q);
    if (!r.ok() || r->status != 200) return {};
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    std::vector<std::string> out;
    if (ec || !v.is_object()) return out;
    const json::value* list = v.as_object().if_contains("suggestions");
    if (list == nullptr || !list->is_array()) return out;
    for (const json::value& s : list->as_array()) {
      if (s.is_string()) out.emplace_back(s.as_string());
    }
    return out;
  }

 private:
  std::mutex mu_;
  client::HttpClient& client_;
};

}  // namespace

Status AssetApiStatus(const client::Response& response) {
  Status s = client::ToStatus(response);
  if (s.ok()) return s;
  if (response.status == 403) return PermissionDenied(s.message());
  if (response.status == 413) return ResourceExhausted(s.message());
  return s;
}

Result<AssetRecord> PublishViaHttp(client::HttpClient& client, const PublishRequest& request,
                                   const std::filesystem::path& file) {
  std::string sha = request.sha256;
  if (sha.empty()) {
    WEIR_ASSIGN_OR_RETURN(sha, blob::Sha256File(file));
  }
  std::string q;
  AddParam(q, "type", request.type);
  AddParam(q, "namespace", request.ns);
  AddParam(q, "owner", request.owner);
  AddParam(q, "repo", request.repo);
  AddParam(q, "branch", request.branch);
  AddParam(q, "commit", request.commit);
  AddParam(q, "uuid", request.uuid);
  AddParam(q, "dirty", request.dirty ? "true" : "false");
  AddParam(q, "file", request.file_name);
  AddParam(q, "extension", request.extension);
  AddParam(q, "publisher", request.publisher);
  client::Headers headers = {{"Content-Type", "application/octet-stream"}, {"X-Weir-Sha256", sha}};
  auto r = client.UploadFile("POST", std::string(kAssetsApi) + q, file, headers);
  return RecordOrError(r);
}

Result<AssetRecord> GetViaHttp(client::HttpClient& client, std::string_view uuid) {
  return RecordOrError(client.Get(std::string(kAssetsApi) + "/" + client::UrlEncode(uuid)));
}

Result<ListPage> ListViaHttp(client::HttpClient& client, const ListQuery& query) {
  std::string q;
  AddParam(q, "type", query.type);
  AddParam(q, "namespace", query.ns);
  AddParam(q, "branch", query.branch);
  AddParam(q, "owner", query.owner);
  AddParam(q, "repo", query.repo);
  AddParam(q, "page", std::to_string(query.page));
  AddParam(q, "size", std::to_string(query.size));
  WEIR_ASSIGN_OR_RETURN(client::Response r, client.Get(std::string(kAssetsApi) + q));
  if (r.status != 200) return AssetApiStatus(r);
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object()) return Internal("asset list: the server answered invalid JSON");
  ListPage page;
  const json::object& o = v.as_object();
  if (const json::value* a = o.if_contains("assets"); a != nullptr && a->is_array()) {
    for (const json::value& item : a->as_array()) {
      WEIR_ASSIGN_OR_RETURN(AssetRecord rec, RecordFromJson(item));
      page.records.push_back(std::move(rec));
    }
  }
  if (const json::value* p = o.if_contains("page"); p != nullptr && p->is_object()) {
    auto get = [&](const char* key) -> int64_t {
      const json::value* f = p->as_object().if_contains(key);
      return f != nullptr && f->is_int64() ? f->as_int64() : 0;
    };
    page.total = get("totalElements");
    page.page = get("number");
    page.size = get("size");
  }
  return page;
}

Status DownloadViaHttp(client::HttpClient& client, const AssetRecord& record,
                       const std::filesystem::path& dest) {
  std::filesystem::path tmp = dest;
  tmp += ".weir-download";
  WEIR_ASSIGN_OR_RETURN(
      client::Response r,
      client.Download(std::string(kAssetsApi) + "/" + client::UrlEncode(record.uuid) + "/content",
                      tmp));
  if (r.status != 200) return AssetApiStatus(r);
  std::error_code ec;
  auto size = std::filesystem::file_size(tmp, ec);
  auto sha = blob::Sha256File(tmp);
  if (ec || !sha.ok() || static_cast<int64_t>(size) != record.size || *sha != record.sha256) {
    std::filesystem::remove(tmp, ec);
    return Internal("asset " + record.uuid + ": downloaded content does not match its sha256 " +
                    record.sha256 + "; retry the download");
  }
  std::filesystem::rename(tmp, dest, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return Internal("asset " + record.uuid + ": cannot write '" + dest.string() +
                    "': " + ec.message());
  }
  return Status::Ok();
}

std::unique_ptr<AssetCatalog> NewHttpCatalog(client::HttpClient& client) {
  return std::make_unique<HttpCatalog>(client);
}

}  // namespace weir::assets
