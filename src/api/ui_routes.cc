#include "api/ui_routes.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <map>
#include <memory>
#include <string>

namespace weir::api {
namespace {

constexpr std::string_view kPrefix = "/ui/";
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
constexpr std::string_view kRevalidate = "no-cache";
// The UI loads only its own scripts and styles and talks only to this server; downloads are
// blob: URLs the page makes itself.
// `connect_src` adds origins the page may call (the OpenID provider's, with auth.oidc).
std::string Csp(const std::string& connect_src) {
  return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
         "connect-src 'self'" +
         connect_src + "; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
}

// "https://idp.example:8443/realms/x" → "https://idp.example:8443" (URLs checked at start).
std::string OriginOf(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  const size_t end = url.find_first_of("/?#", scheme + 3);
  return std::string(url.substr(0, end));
}

// The JSON of GET /api/weir/v1/ui/auth.
std::string AuthDocument(const UiAuthOptions& auth) {
  boost::json::object doc;
  doc["mode"] = auth.mode;
  if (auth.oidc) {
    const auth::OidcClientConfig& o = *auth.oidc;
    boost::json::object oidc;
    oidc["issuer"] = o.issuer;
    oidc["client_id"] = o.client_id;
    oidc["scopes"] = o.scopes;
    oidc["token"] = o.token;
    if (!o.authorization_endpoint.empty())
      oidc["authorization_endpoint"] = o.authorization_endpoint;
    if (!o.token_endpoint.empty()) oidc["token_endpoint"] = o.token_endpoint;
    doc["oidc"] = std::move(oidc);
  } else {
    doc["oidc"] = nullptr;
  }
  return boost::json::serialize(doc);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// True when the comma-separated header value lists `token` with a q-value other than 0.
bool ListsToken(std::string_view header, std::string_view token) {
  const std::string h = Lower(header);
  size_t pos = 0;
  while (pos <= h.size()) {
    size_t end = h.find(',', pos);
    if (end == std::string::npos) end = h.size();
    std::string_view item(h.data() + pos, end - pos);
    size_t semi = item.find(';');
    std::string_view name = item.substr(0, semi);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name == token) {
      if (semi == std::string_view::npos) return true;
      std::string params(item.substr(semi + 1));
      params.erase(std::remove(params.begin(), params.end(), ' '), params.end());
      return !(params.rfind("q=0", 0) == 0 &&
               params.find_first_of("123456789") == std::string::npos);
    }
    pos = end + 1;
  }
  return false;
}

HttpResponse Redirect(int status, std::string location) {
  HttpResponse r = HttpResponse::Empty(status);
  r.SetHeader("Location", std::move(location));
  r.SetHeader("Cache-Control", std::string(kRevalidate));
  return r;
}

HttpResponse NoFile(const HttpRequest& req) {
  HttpResponse r = ErrorResponse(404, "ui: no such file (reload the page for the current UI)", req);
  r.SetHeader("X-Content-Type-Options", "nosniff");
  return r;
}

HttpResponse Serve(const HttpRequest& req, const UiFile& f, const std::string& csp) {
  HttpResponse r;
  r.SetHeader("Content-Type", std::string(f.content_type));
  r.SetHeader("X-Content-Type-Options", "nosniff");
  r.SetHeader("Content-Security-Policy", csp);
  r.SetHeader("Referrer-Policy", "no-referrer");
  const bool immutable = f.path.starts_with("assets/");
  r.SetHeader("Cache-Control", std::string(immutable ? kImmutable : kRevalidate));
  r.SetHeader("ETag", std::string(f.etag));
  if (!f.gzip.empty()) r.SetHeader("Vary", "Accept-Encoding");
  if (auto inm = req.Header("if-none-match"); inm && inm->find(f.etag) != std::string::npos) {
    r.status = 304;
    return r;
  }
  r.status = 200;
  const bool gzip =
      !f.gzip.empty() && ListsToken(req.Header("accept-encoding").value_or(""), "gzip");
  if (gzip) {
    r.SetHeader("Content-Encoding", "gzip");
    r.body.assign(f.gzip);
  } else {
    r.body.assign(f.data);
  }
  return r;
}

}  // namespace

void RegisterUiRoutes(Router& router, std::span<const UiFile> files, UiAuthOptions auth) {
  auto by_path = std::make_shared<std::map<std::string, const UiFile*, std::less<>>>();
  for (const UiFile& f : files) (*by_path)[std::string(f.path)] = &f;
  std::string connect_src;
  if (auth.oidc) {
    // The discovery document is under the issuer; the token endpoint may be elsewhere (set
    // auth.oidc.token_endpoint then, so its origin is allowed here).
    for (const std::string& url : {auth.oidc->issuer, auth.oidc->token_endpoint}) {
      const std::string origin = OriginOf(url);
      if (!origin.empty() && connect_src.find(" " + origin) == std::string::npos) {
        connect_src += " " + origin;
      }
    }
  }
  auto csp = std::make_shared<const std::string>(Csp(connect_src));
  auto auth_doc = std::make_shared<const std::string>(AuthDocument(auth));
  router.Add("GET", "/api/weir/v1/ui/auth", [auth_doc](HttpRequest&) {
    HttpResponse r = HttpResponse::Json(200, *auth_doc);
    r.SetHeader("Cache-Control", std::string(kRevalidate));
    return r;
  });

  router.Add("GET", "/", [](HttpRequest& req) {
    if (ListsToken(req.Header("accept").value_or(""), "text/html")) {
      return Redirect(302, std::string(kPrefix));
    }
    return HttpResponse::Json(200, R"({"ui":"/ui/","api":"/api/v3"})");
  });
  router.Add("GET", "/ui", [](HttpRequest&) { return Redirect(301, std::string(kPrefix)); });
  router.Add("GET", "/ui/{path*}", [by_path, csp](HttpRequest& req) {
    std::string path = req.Param("path");
    if (path.empty()) path = "index.html";
    if (auto it = by_path->find(path); it != by_path->end()) return Serve(req, *it->second, *csp);
    // No such file: an asset (under assets/, or a top-level name with an extension such as
    // favicon.ico) is a 404; any other path is one of the app's views (/ui/jobs/42/output/x.log),
    // whose page is index.html.
    const bool top_level_file =
        path.find('/') == std::string::npos && path.find('.') != std::string::npos;
    if (path.starts_with("assets/") || top_level_file) return NoFile(req);
    auto index = by_path->find("index.html");
    if (index == by_path->end()) return NoFile(req);
    return Serve(req, *index->second, *csp);
  });
}

}  // namespace weir::api
