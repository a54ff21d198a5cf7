#include "api/auth_gate.h"

#include <boost/json.hpp>

#include "api/access.h"
#include "common/strings.h"

namespace weir::api {

namespace {

constexpr std::string_view kMePath = "/api/weir/v1/me";

// The path's non-empty segments (the router ignores a trailing slash; so does this).
std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  for (std::string& s : Split(path, '/')) {
    if (!s.empty()) out.push_back(std::move(s));
  }
  return out;
}

bool NeedsAdmin(const HttpRequest& req, const std::vector<std::string>& seg) {
  const bool read = req.method == "GET" || req.method == "HEAD";
  if (seg.size() >= 3 && seg[0] == "api" && seg[1] == "v3" &&
      (seg[2] == "applications" || seg[2] == "commands" || seg[2] == "clusters")) {
    return !read;
  }
  return seg.size() >= 4 && seg[0] == "api" && seg[1] == "weir" && seg[2] == "v1" &&
         seg[3] == "admin";
}

// A quoted-string of RFC 9110 cannot hold '"' or '\' unescaped, nor control characters.
std::string QuotedSafe(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\'');
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

HttpResponse Unauthorized(const Status& s, const HttpRequest& req) {
  std::string_view message = s.message();
  std::string error = "invalid_token";
  size_t colon = message.find(':');
  if (colon != std::string_view::npos) {
    std::string_view code = message.substr(0, colon);
    if (code == "invalid_request" || code == "invalid_token" || code == "insufficient_scope") {
      error = std::string(code);
      message = Trim(message.substr(colon + 1));
    }
  }
  HttpResponse resp = ErrorResponse(401, "authentication: " + std::string(message), req);
  resp.SetHeader("WWW-Authenticate", "Bearer realm=\"weir\", error=\"" + error +
                                         "\", error_description=\"" + QuotedSafe(message) + "\"");
  return resp;
}

}  // namespace

bool IsOpenRoute(std::string_view method, std::string_view path) {
  if (method != "GET" && method != "HEAD") return false;
  std::vector<std::string> seg = Segments(path);
  // The browser UI's files (ui_routes.h) hold no data; the UI sends a token to the API itself.
  if (seg.empty() || seg[0] == "ui") return true;
  // How the UI signs in (ui_routes.h): what it needs before it has a token; nothing secret.
  if (seg == std::vector<std::string>{"api", "weir", "v1", "ui", "auth"}) return true;
  return seg.size() == 2 && (seg[0] == "admin" || seg[0] == "actuator") && seg[1] == "health";
}

RequestGate MakeAuthGate(std::shared_ptr<auth::Authenticator> authenticator) {
  return
      [authenticator = std::move(authenticator)](HttpRequest& req) -> std::optional<HttpResponse> {
        if (IsOpenRoute(req.method, req.path)) return std::nullopt;
        auth::Credentials c;
        c.authorization = req.Header("authorization").value_or("");
        c.client_cert_subject = req.client_cert_subject;
        Result<auth::Principal> p = authenticator->Authenticate(c);
        if (!p.ok()) {
          if (p.status().code() == StatusCode::kUnauthenticated)
            return Unauthorized(p.status(), req);
          // A verifier that could not decide (JWKS unreachable): not the client's fault.
          return ErrorResponse(p.status(), req);
        }
        req.principal = std::make_shared<const auth::Principal>(std::move(*p));
        const std::vector<std::string> seg = Segments(req.path);
        if (!req.principal->HasRole("user") && !req.principal->IsAdmin() && req.path != kMePath) {
          return ErrorResponse(PermissionDenied("request: needs the role user ('" +
                                                req.principal->name + "' has no role user)"),
                               req);
        }
        if (NeedsAdmin(req, seg)) {
          Status s = RequireAdmin(req, req.method + " " + req.path);
          if (!s.ok()) return ErrorResponse(s, req);
        }
        return std::nullopt;
      };
}

void RegisterMeRoute(Router& router) {
  router.Add("GET", std::string(kMePath), [](HttpRequest& req) {
    boost::json::object o;
    boost::json::array roles;
    if (req.principal) {
      for (const std::string& r : req.principal->roles) roles.emplace_back(r);
    } else {
      roles.emplace_back("admin");
      roles.emplace_back("user");
    }
    o["name"] = req.principal ? req.principal->name : "anonymous";
    o["roles"] = std::move(roles);
    o["mechanism"] = req.principal ? req.principal->mechanism : "none";
    return HttpResponse::Json(200, boost::json::serialize(o));
  });
}

}  // namespace weir::api
