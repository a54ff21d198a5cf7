// Authentication at the door: the request gate (HttpServerOptions::gate) that turns a request's
// credentials into HttpRequest::principal, and GET /api/weir/v1/me.
//
// The gate runs before routing and before the body is read, so a refused request changes
// nothing and costs no body I/O. For every request except the open ones it:
//   1. authenticates (Authorization: Bearer, or a verified client certificate): failure answers
//      401 with Genie's JSON error body and
//        WWW-Authenticate: Bearer realm="weir", error="invalid_request"|"invalid_token",
//                          error_description="..."
//      (invalid_request when no usable credentials were sent, invalid_token when they were
//      wrong);
//   2. needs the role `user` (admin brings it), except for /api/weir/v1/me: 403 otherwise;
//   3. needs the role `admin` for POST/PUT/PATCH/DELETE under /api/v3/applications, commands and
//      clusters, and for anything under /api/weir/v1/admin: 403 naming the role otherwise.
// Open without credentials: GET and HEAD of /admin/health and /actuator/health (liveness and
// readiness probes of load balancers and orchestrators; they tell UP/DOWN and disk figures), and
// GET and HEAD of `/` and everything under `/ui` (the browser UI's static files, ui_routes.h: no
// data; the UI asks for a token when the API answers 401), and GET and HEAD of
// /api/weir/v1/ui/auth (how the UI signs in: the OpenID provider's public client settings).
// Finer decisions (job owners, namespaces, environments) are the routes' (access.h).
//
// Chaining: the gate returns nullopt to let the request through, so a server composing several
// gates (rate limits, audit) calls them in turn and stops at the first response.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "api/http.h"
#include "auth/auth.h"

namespace weir::api {

using RequestGate = std::function<std::optional<HttpResponse>(HttpRequest&)>;

// The gate over `authenticator` (shared by the handler threads; must be thread-safe).
RequestGate MakeAuthGate(std::shared_ptr<auth::Authenticator> authenticator);

// True for the routes the gate lets through without credentials.
bool IsOpenRoute(std::string_view method, std::string_view path);

// GET /api/weir/v1/me → {"name": ..., "roles": [...], "mechanism": ...}. Without a principal
// (auth.mode none) it answers {"name":"anonymous","roles":["admin","user"],"mechanism":"none"}:
// everyone may do everything.
void RegisterMeRoute(Router& router);

}  // namespace weir::api
