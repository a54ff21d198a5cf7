#include "api/forwarding.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "client/http_client.h"

namespace weir::api {

namespace {

bool IsHopByHop(const std::string& name) {
  static constexpr std::array<std::string_view, 10> kHop = {
      "connection", "keep-alive",    "proxy-authenticate", "proxy-authorization",
      "te",         "trailer",       "transfer-encoding",  "upgrade",
      "host",       "content-length"};
  return std::find(kHop.begin(), kHop.end(), name) != kHop.end();
}

// Headers of the owner's answer worth passing back (framing is the server's own).
bool KeepResponseHeader(const std::string& name) {
  static constexpr std::array<std::string_view, 8> kKeep = {
      "content-type",  "content-range", "accept-ranges", "content-disposition",
      "last-modified", "etag",          "location",      "retry-after"};
  return std::find(kKeep.begin(), kKeep.end(), name) != kKeep.end();
}

}  // namespace

std::optional<std::string> JobForwarder::OwnerUrl(const HttpRequest& req, const model::JobRecord& r,
                                                  bool active_only) const {
  if (options_.node_id.empty() || !options_.nodes) return std::nullopt;
  if (req.Header(kForwardedFromHeader)) return std::nullopt;  // forwarded once: never again
  const std::string& owner = r.execution.host_name;
  if (owner.empty() || owner == options_.node_id) return std::nullopt;
  if (active_only && !model::IsActive(r.job.status)) return std::nullopt;
  auto node = options_.nodes->GetNode(owner);
  if (!node.ok()) {
    if (node.status().code() != StatusCode::kNotFound) {
      spdlog::warn("forwarding: job {}: reading node {}: {}; answering here", r.id, owner,
                   node.status().ToString());
    }
    return std::nullopt;
  }
  if (node->url.empty()) return std::nullopt;
  return node->url;
}

std::optional<HttpResponse> JobForwarder::Forward(const HttpRequest& req, const model::JobRecord& r,
                                                  const std::string& owner_url) const {
  const std::string& owner = r.execution.host_name;
  client::ClientOptions co;
  co.connect_timeout = options_.connect_timeout;
  client::HttpClient c(owner_url, co, options_.read_timeout);
  client::Headers headers;
  for (const auto& [name, value] : req.headers) {
    if (!IsHopByHop(name)) headers.emplace_back(name, value);
  }
  headers.emplace_back(std::string(kForwardedFromHeader), BaseUrl(req) + req.target);
  auto resp = c.Request(req.method, req.target, req.body, headers);
  if (!resp.ok()) {
    spdlog::warn("forwarding: job {}: {} {} to node {} at {} failed: {}; answering here", r.id,
                 req.method, req.path, owner, owner_url, resp.status().ToString());
    return std::nullopt;
  }
  HttpResponse out;
  out.status = resp->status;
  out.body = std::move(resp->body);
  for (const auto& [name, value] : resp->headers) {
    if (KeepResponseHeader(name)) out.SetHeader(name, value);
  }
  return out;
}

}  // namespace weir::api
