// HTTP routes of the workflow scheduler, under /api/weir/v1/workflows (docs/api.md "Workflows").
// {id} is a deployed workflow id "<env>:<owner>.<repo>.<workflow id>", percent-encoded as one
// path segment (a branch environment's '/' travels as %2F).
//
//   POST /api/weir/v1/workflows                       deploy a bundle; 201 new version, 200 an
//        identical bundle. JSON {"manifest": {..} or "..", "activate", "deployer",
//        "environmentParams", "catchup"}, or multipart/form-data with a `manifest` part, an
//        optional `options` part (the same fields as JSON) and one `file` part per repository
//        file of the manifest whose bytes the blob store does not have yet.
//   GET  /api/weir/v1/workflows                       {"workflows": [deployed workflows]}
//   GET  /api/weir/v1/workflows/{id}                  one deployed workflow
//   GET  /api/weir/v1/workflows/{id}/versions         {"versions": [newest first], "activations":
//   [..]} GET  /api/weir/v1/workflows/{id}/versions/{v}     one version with its manifest POST
//   /api/weir/v1/workflows/{id}/activate         {"version": N, "actor"} POST
//   /api/weir/v1/workflows/{id}/rollback         {"version": N (optional), "actor"} POST
//   /api/weir/v1/workflows/{id}/run              {"params": {..}, "requestedBy"} → 201 instance GET
//   /api/weir/v1/workflows/{id}/instances?status=&page=&size=   newest first GET
//   /api/weir/v1/workflows/{id}/instances/{n}    the instance with its steps POST
//   /api/weir/v1/workflows/{id}/instances/{n}/restart   {"actor"} POST
//   /api/weir/v1/workflows/{id}/instances/{n}/stop      {"actor"}
//
// Errors (Genie's error body via ErrorResponse): 400 bad JSON, field or query parameter, invalid
// definition (every problem listed); 404 unknown workflow, version or instance; 412 missing or
// corrupted blob, nothing to roll back to, stop of a finished instance, restart of a running one;
// 413 body over the limit; 503 database busy.
//
// Threading: handlers run on the server's I/O threads and call the Scheduler (thread-safe). A
// deploy re-hashes blobs it has not verified before, inside the handler.
#pragma once

#include <cstdint>
#include <memory>

#include "api/access.h"
#include "api/http.h"
#include "scheduler/scheduler.h"
#include "store/store.h"

namespace weir::api {

struct WorkflowRouteOptions {
  uint64_t max_deploy_bytes = uint64_t{256} << 20;  // a deploy request, files included
  // Environments' deploy roles (access.h); null: none. With a principal, every write (deploy,
  // activate, rollback, run, restart, stop) in an environment of auth.deploy_roles needs its
  // role (403 otherwise), and the recorded deployer, actor or requestedBy is the principal's
  // name whatever the body says.
  std::shared_ptr<const AccessPolicy> access;
  // Where deploy, activate, rollback, pause, resume and undeploy put the workflow's search
  // document (search_routes.h IndexWorkflow); null: workflows are not indexed.
  std::shared_ptr<store::SearchIndex> search;
};

// Registers the workflow endpoints on `router`; the handlers share ownership of `scheduler`.
void RegisterWorkflowRoutes(Router& router, std::shared_ptr<scheduler::Scheduler> scheduler,
                            WorkflowRouteOptions options = {});

}  // namespace weir::api
