// Authorization: who may do what, decided by the routes over HttpRequest::principal.
//
// A request without a principal (auth.mode none: no authentication gate installed) is allowed
// everything, as before authentication existed; every check below then passes and Actor()
// keeps the body's value. With a principal:
//   - config writes and /api/weir/v1/admin/* need `admin` (checked by the gate, auth_gate.h);
//   - a job's `user` is the principal; naming another needs admin + admin_impersonation;
//   - killing a job, and reading its output, need its owner or admin (output: or
//     output_readable_by_all);
//   - publishing into an asset namespace needs one of its owners (principal names or roles);
//   - writing a workflow (deploy, activate, rollback, run, restart, stop) in an environment
//     listed in deploy_roles needs that role;
//   - the actor recorded by a write is the principal's name, never a body field.
// Refusals are kPermissionDenied (403) with a message naming the role or owner needed.
//
// Thread-safe: a policy is immutable once built and shared by the route handlers.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/http.h"
#include "common/status.h"

namespace weir::api {

struct AccessPolicy {
  bool admin_impersonation = false;     // auth.admin_impersonation
  bool output_readable_by_all = false;  // auth.output_readable_by_all
  // auth.deploy_roles: environment ("prod") → the role its workflow writes need.
  std::map<std::string, std::string> deploy_roles;
  // assets.namespace_owners: namespace → principal names or roles that may publish into it;
  // the key "*" applies to namespaces not listed. Without an entry (and no "*"), any user may
  // publish. Admins always may.
  std::map<std::string, std::vector<std::string>> namespace_owners;
};

// True when the request was authenticated (a principal is present).
bool Authenticated(const HttpRequest& req);

// Needs `admin`; `what` names the action ("cluster create").
Status RequireAdmin(const HttpRequest& req, std::string_view what);

// The job user a submission runs as: the principal, or `requested` when it is empty or equal;
// another name only for an admin when policy.admin_impersonation. Without a principal:
// `requested` unchanged.
Result<std::string> JobUser(const HttpRequest& req, const AccessPolicy& policy,
                            const std::string& requested);

// Kill (`output` false) or output read (`output` true) of a job owned by `owner`.
Status CheckJobAccess(const HttpRequest& req, const AccessPolicy& policy, std::string_view job_id,
                      std::string_view owner, bool output);

// Publishing into asset namespace `ns`.
Status CheckNamespacePublish(const HttpRequest& req, const AccessPolicy& policy,
                             std::string_view ns);

// A workflow write (`what`: "deploy", "activate", ...) in `environment`.
Status CheckEnvironmentWrite(const HttpRequest& req, const AccessPolicy& policy,
                             std::string_view environment, std::string_view what);

// Who a write is recorded as: the principal's name; without one, `claimed` (the body field).
std::string Actor(const HttpRequest& req, std::string_view claimed);

}  // namespace weir::api
