#pragma once
// The job output routes: GET /api/v3/jobs/{id}/output[/{path}] serve a job's folder (a listing
// as JSON or HTML, a file with Range, types guessed), from the live folder or, when the folder
// is gone, from the job's archive. Everything beneath the folder is opened through descriptors
// (common/fs.h OpenBeneath), so a job that owns its folder cannot make the server read outside it.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/access.h"
#include "api/forwarding.h"
#include "api/http.h"
#include "archive/archived_outputs.h"
#include "service/job_service.h"
#include "store/store.h"

namespace weir::api {

struct OutputRoutesOptions {
  // A listing answers at most this many entries per response (`?page=`/`?size=` select a slice).
  uint64_t max_listing_entries = 10000;
  // Reads archived output when a job directory is gone; null: such output answers 404.
  std::shared_ptr<archive::ArchivedOutputs> archived_outputs;
  // Who may read whose output (access.h); null: the default policy.
  std::shared_ptr<const AccessPolicy> access;
  // Output of a job on another node is asked of that node (forwarding.h); null: never.
  std::shared_ptr<const JobForwarder> forwarder;
};

// Registers the two output routes. The job's record comes from `jobs`, its folder from `service`.
void RegisterOutputRoutes(Router& router, service::JobService& service,
                          std::shared_ptr<store::JobStore> jobs, OutputRoutesOptions options);

// A Range header against a file of `size` bytes. Only one range ("bytes=a-b", "a-", "-n") is
// honoured; anything else serves the whole file.
struct RangeAnswer {
  enum Kind { kWhole, kPartial, kUnsatisfiable } kind = kWhole;
  uint64_t offset = 0;
  uint64_t length = 0;
};
RangeAnswer ParseRange(std::string_view header, uint64_t size);

// True when the Accept header ranks text/html above application/json.
bool PrefersHtml(std::string_view accept);

// A content type guessed from the file name (and, for names without a known extension, from
// whether `head` looks like text).
std::string GuessContentType(std::string_view file_name, std::string_view head);

}  // namespace weir::api
