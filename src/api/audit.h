// The audit log's HTTP side: which requests are recorded, what a record holds, and the admin
// listing GET /api/weir/v1/admin/audit.
//
// Recorded: every request whose method changes state (anything but GET, HEAD and OPTIONS),
// whether a route answered it or a request gate refused it (401, 429); the server's own answers
// (404 for an unknown path, 405, 413, framing errors) never reach the observer. Reads are not
// recorded. A record holds:
//   time       when the answer was made (the injected Clock)
//   principal  req.principal's name; without one (auth.mode none) the `user` member of a JSON
//              request body (job submit, config create) or else its `actor` member (workflow
//              deploy, activate, stop...), else "anonymous" (multipart bodies: "anonymous")
//   source     ClientHost(req): X-Forwarded-For only from trusted proxies
//   method, path (percent-decoded, without the query)
//   target     the entity written, where known: the last path segment of a Location header
//              under the request path (a created job, application, asset or workflow), else the
//              route's {id} or {uuid} (with "/instances/{n}" for a workflow instance)
//   status     the HTTP status answered
//
// The record is written synchronously, before the answer is sent, so a client that saw its
// answer finds the record. A failed write never changes the answer (the request's own effect
// stands): it is reported through AuditOptions::on_error, which the server logs as an error.
#pragma once

#include <functional>
#include <memory>

#include "api/http.h"
#include "common/clock.h"
#include "store/store.h"

namespace weir::api {

struct AuditOptions {
  std::shared_ptr<store::AuditStore> store;
  // REQUIRES: outlives the observer.
  const Clock* clock = nullptr;
  // Called with the failure and the record that was lost; default: a line on stderr.
  std::function<void(const Status&, const store::AuditRecord&)> on_error;
};

// True for the methods the audit log records.
bool IsAuditedMethod(std::string_view method);

// The record for `req` answered with `resp` (time from `clock`). Exposed for tests.
store::AuditRecord AuditRecordFor(const HttpRequest& req, const HttpResponse& resp,
                                  const Clock& clock);

// An HttpServerOptions::observer that appends a record for each audited request.
std::function<void(const HttpRequest&, const HttpResponse&)> MakeAuditObserver(
    AuditOptions options);

// GET /api/weir/v1/admin/audit: records oldest first (`order=desc`: newest first), filtered by
//   principal=NAME       exact
//   since=T, until=T     ISO-8601 or epoch milliseconds; since inclusive, until exclusive
//   path=PREFIX          the request path starts with PREFIX
//   target=ID            exact
//   outcome=success|failure|NNN   status < 400, ≥ 400, or exactly NNN
// paged by `page` (from 0) and `size` (1..1000, default 100):
//   {"audit": [{"seq", "time", "principal", "source", "method", "path", "target", "status"}],
//    "page": {"size", "totalElements", "totalPages", "number"}}
// When the request has a principal, only an admin may read it (403 otherwise); without one
// (auth.mode none) the route is open like every other.
void RegisterAuditRoutes(Router& router, std::shared_ptr<store::AuditStore> store);

}  // namespace weir::api
