#include "api/access.h"

#include <algorithm>

namespace weir::api {

bool Authenticated(const HttpRequest& req) { return req.principal != nullptr; }

Status RequireAdmin(const HttpRequest& req, std::string_view what) {
  if (!Authenticated(req) || req.principal->IsAdmin()) return Status::Ok();
  return PermissionDenied(std::string(what) + ": needs the role admin ('" + req.principal->name +
                          "' does not have it)");
}

Result<std::string> JobUser(const HttpRequest& req, const AccessPolicy& policy,
                            const std::string& requested) {
  if (!Authenticated(req)) return requested;
  const std::string& me = req.principal->name;
  if (requested.empty() || requested == me) return me;
  if (req.principal->IsAdmin() && policy.admin_impersonation) return requested;
  return PermissionDenied("job request: user '" + requested + "' is not you ('" + me +
                          "'); only an admin may submit for another user, and only with "
                          "auth.admin_impersonation on (leave user out or set it to '" +
                          me + "')");
}

Status CheckJobAccess(const HttpRequest& req, const AccessPolicy& policy, std::string_view job_id,
                      std::string_view owner, bool output) {
  if (!Authenticated(req) || req.principal->IsAdmin() || req.principal->name == owner) {
    return Status::Ok();
  }
  if (output && policy.output_readable_by_all) return Status::Ok();
  return PermissionDenied("job '" + std::string(job_id) +
                          "': " + (output ? "its output is readable" : "it may be killed") +
                          " only by its owner '" + std::string(owner) + "' or the role admin");
}

Status CheckNamespacePublish(const HttpRequest& req, const AccessPolicy& policy,
                             std::string_view ns) {
  if (!Authenticated(req) || req.principal->IsAdmin()) return Status::Ok();
  auto it = policy.namespace_owners.find(std::string(ns));
  if (it == policy.namespace_owners.end()) it = policy.namespace_owners.find("*");
  if (it == policy.namespace_owners.end()) return Status::Ok();
  for (const std::string& owner : it->second) {
    if (owner == req.principal->name || req.principal->HasRole(owner)) return Status::Ok();
  }
  std::string owners;
  for (const std::string& o : it->second) owners += (owners.empty() ? "" : ", ") + o;
  return PermissionDenied("asset namespace '" + std::string(ns) + "': only its owners (" +
                          (owners.empty() ? std::string("none but admins") : owners) +
                          ") or the role admin publish into it (assets.namespace_owners)");
}

Status CheckEnvironmentWrite(const HttpRequest& req, const AccessPolicy& policy,
                             std::string_view environment, std::string_view what) {
  if (!Authenticated(req)) return Status::Ok();
  auto it = policy.deploy_roles.find(std::string(environment));
  if (it == policy.deploy_roles.end() || req.principal->HasRole(it->second)) return Status::Ok();
  return PermissionDenied("workflow " + std::string(what) + " in environment '" +
                          std::string(environment) + "': needs the role " + it->second +
                          " (auth.deploy_roles)");
}

std::string Actor(const HttpRequest& req, std::string_view claimed) {
  return Authenticated(req) ? req.principal->name : std::string(claimed);
}

}  // namespace weir::api
