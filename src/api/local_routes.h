// Local mode (weir's own, /api/weir/v1/jobs/...): a job set up by the server and run on the
// user's machine by `weir job run-local`, which reports back here (see service/job_service.h,
// "Local mode"). The job itself is submitted with POST /api/weir/v1/jobs/prepare (job_routes.h:
// the same body and answers as POST /api/v3/jobs).
//
//   GET  /api/weir/v1/jobs/{id}/local/folder     the prepared job folder as a tar.gz (members
//                                                relative to the folder); 412 while it is
//                                                still being set up or once the job is final
//   POST /api/weir/v1/jobs/{id}/local/start      {"host": "...", "pid": N}: RUNNING; answers
//                                                {"id","status","statusMsg","heartbeatIntervalMs"}
//   POST /api/weir/v1/jobs/{id}/local/heartbeat  204; 412 when the job is final (killed, or its
//                                                heartbeats were missed): the runner stops it
//   PUT  /api/weir/v1/jobs/{id}/local/output     a tar.gz of the runner's folder, extracted into
//                                                the job's folder on the server (then served by
//                                                the output routes and archived with the job);
//                                                only while the job is RUNNING; members that
//                                                would land outside the folder answer 400
//   POST /api/weir/v1/jobs/{id}/local/end        {"exitCode": N, "stdoutSize": N, "stderrSize":
//                                                N}: SUCCEEDED (0) or FAILED; answers as start
//
// Errors: 404 unknown job, 412 not a local job / not in the state the call needs (the message
// says which), 400 malformed body. With authentication, only the job's owner and admins may
// call them (403 otherwise), like a kill.
//
// Threading: handlers run on the server's handler pool; the folder is packed into the spool
// folder and served from an unlinked file.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "api/access.h"
#include "api/http.h"
#include "service/job_service.h"
#include "store/store.h"

namespace weir::api {

struct LocalRouteOptions {
  std::filesystem::path spool_dir;         // where folders are packed and uploads land; empty: temp
  uint64_t max_upload_bytes = 1ULL << 30;  // PUT .../local/output bodies
  // Told to runners; a third of the heartbeat timeout suits.
  std::chrono::milliseconds heartbeat_interval{20000};
  std::shared_ptr<const AccessPolicy> access;  // null: the default policy
};

void RegisterLocalRoutes(Router& router, service::JobService& service,
                         std::shared_ptr<store::JobStore> jobs, LocalRouteOptions options);

}  // namespace weir::api
