// The jobs API of Genie v3 (/api/v3/jobs...): submission (JSON or multipart with attachments),
// search, the job's resources (request, execution, metadata, status, cluster, command,
// applications), its output directory (listing, file download with byte ranges) and kill.
//
//   POST   /api/v3/jobs                       202 + Location; 400/409/412/413/429/503
//   GET    /api/v3/jobs                       search page (_embedded.jobSearchResultList)
//   GET    /api/v3/jobs/{id}                  the Job, with its 9 HAL links
//   GET    /api/v3/jobs/{id}/status           {"status": "..."}
//   GET    /api/v3/jobs/{id}/request|execution|metadata|cluster|command|applications
//   GET    /api/v3/jobs/{id}/output[/{path}]  directory listing (JSON, or HTML when Accept
//                                             prefers it; paged: ?page=&size=, see
//                                             JobRoutesOptions::max_listing_entries) or the
//                                             file's bytes (Range honoured); a FIFO, socket or
//                                             device answers 403 and is never opened
//   DELETE /api/v3/jobs/{id}                  kill: 202; 404 for an unknown job
//   POST   /api/weir/v1/jobs/prepare          local mode (local_routes.h): a submission as
//                                             POST /api/v3/jobs, set up but never launched here
//
// With authentication (HttpRequest::principal set), access.h decides: the job's user is the
// principal (another `user` in the body answers 403 unless admin impersonation is allowed);
// kill and output answer 403 to anyone but the job's owner and admins (output: unless
// readable by all).
//
// Output of a finished job whose directory is gone from this node (removed after its retention,
// or the job ran on a lost node) is served from its archive (archive_location on the record)
// through JobRoutesOptions::archived_outputs: the archive is extracted once into a local cache
// folder (see archive/archived_outputs.h for why whole) and then listed and served like the
// directory itself, Range included; such answers carry "X-Weir-Output-Source: archive". An
// archive that cannot be read answers with the cause (404 when it is missing, 503 when S3 is
// unreachable).
//
// Output paths are resolved with ResolveInside: "..", absolute paths and symlinks that leave the
// job directory answer 4xx and nothing outside the directory is ever read.
//
// Threading: handlers run on the server's handler pool; they call JobService (thread-safe) and
// the stores (thread-safe) and never block on a job.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/access.h"
#include "api/http.h"
#include "api/output_routes.h"
#include "archive/archived_outputs.h"
#include "common/clock.h"
#include "common/result.h"
#include "service/job_service.h"
#include "store/store.h"

namespace weir::api {

struct JobRoutesOptions {
  // Where uploaded attachments are written (one folder per submission) before the service
  // takes them. Empty: the system temp folder. Should be on the jobs' file system (renames).
  std::filesystem::path spool_dir;
  uint64_t max_request_bytes = 256ULL << 20;           // a whole submission, multipart included
  uint64_t max_json_bytes = 8ULL << 20;                // the job request document
  uint64_t max_attachment_bytes = 100ULL << 20;        // each attached file
  uint64_t max_total_attachment_bytes = 200ULL << 20;  // all attached files together
  Clock* clock = &SystemClock::Instance();             // "now" for the runtime of running jobs
  // Output listings answer at most this many entries per response (`?page=`/`?size=` and the
  // "page"/"next" fields of the listing give the rest), so one huge folder cannot hold a
  // handler thread or the response memory for long.
  uint64_t max_listing_entries = 10000;
  // Reads archived output when a job directory is gone; null: such output answers 404.
  std::shared_ptr<archive::ArchivedOutputs> archived_outputs;
  // Who may submit as whom, kill and read output (access.h); null: the default policy. Checks
  // apply only to requests with a principal (an authentication gate is installed).
  std::shared_ptr<const AccessPolicy> access;
  // Kill and output of a job on another node go to that node (forwarding.h); null: never.
  std::shared_ptr<const JobForwarder> forwarder;
};

void RegisterJobRoutes(Router& router, service::JobService& service,
                       std::shared_ptr<store::JobStore> jobs,
                       std::shared_ptr<store::ConfigStore> config, JobRoutesOptions options);

// ---- Helpers of the routes, exposed for their unit tests ----

// One part of a multipart/form-data body; `data` points into the parsed body.
struct MultipartPart {
  std::string name;                     // Content-Disposition name
  std::optional<std::string> filename;  // Content-Disposition filename (filename* preferred)
  std::string content_type;             // empty when the part has none
  std::string_view data;
};

// The boundary parameter of a multipart/form-data Content-Type. kInvalidArgument otherwise.
Result<std::string> MultipartBoundary(std::string_view content_type);
// Splits a multipart body (RFC 7578 / RFC 2046, CRLF line ends). kInvalidArgument naming what is
// malformed (no opening boundary, a part without headers end, no closing boundary, a part
// without Content-Disposition name).
Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body, std::string_view boundary);
// The file name an attachment gets in the job directory: any directory part ('/' or '\\') is
// dropped; empty, ".", "..", control characters, invalid UTF-8 and more than 255 bytes are
// kInvalidArgument.
Result<std::string> SanitizeAttachmentName(std::string_view filename);

}  // namespace weir::api
