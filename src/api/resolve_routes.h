// The dry run of a job submission:
//
//   POST /api/weir/v1/jobs/resolve   body: a job request, as for POST /api/v3/jobs (JSON)
//
// answers 200 with what a submission of that request would get now, without recording,
// reserving or queueing anything (service::JobService::DryRunSubmit, resolve::Consider):
//   {"outcome": "ACCEPTED" | "QUEUED" | "FAILED" | "INVALID" | "REJECTED",
//    "submitStatus": the HTTP status POST /api/v3/jobs would answer (202, 412, 409, 429, 503),
//    "message": why not, for FAILED, INVALID and REJECTED ("" otherwise),
//    "cluster": {"id", "name"} | null, "command": {"id", "name"} | null,
//    "applications": [ids in set-up order],
//    "decidedBy": "only candidate" | a selector's name | "random", "candidates": N,
//    "memory": {"mb", "source": "request" | "command" | "default", "maxJobMemoryMb"},
//    "limits": {"userActiveJobs", "maxActiveJobsPerUser", "usedMemoryMb", "capacityMb",
//               "queuedJobs"},
//    "clusterCriterias": [{"criterion", "tags", "tried",
//                          "clusters": [{"id", "name", "status", "candidate", "chosen",
//                                        "command": {"id", "name"} (candidates), "excluded"}]}],
//    "commands": [{"id", "name", "status", "candidate", "chosen", "excluded"}],
//    "reasons": [why nothing matched: the sentences of a submission's 412] (FAILED only)}
// With "decidedBy": "random" a real submission picks any of the candidate clusters.
// A request Submit() refuses before resolution (malformed, invalid, a URI outside the fetch
// perimeter, a run-as user without an account) answers the same 4xx as the submission would;
// with authentication the job user is the principal, as for a submission.
#pragma once

#include <memory>

#include "api/access.h"
#include "api/http.h"
#include "service/job_service.h"
#include "store/store.h"

namespace weir::api {

void RegisterResolveRoutes(Router& router, service::JobService& service,
                           std::shared_ptr<store::ConfigStore> config,
                           std::shared_ptr<const AccessPolicy> access);

}  // namespace weir::api
