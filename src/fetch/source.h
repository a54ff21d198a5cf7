// RemoteSource: a protocol that can download a resource named by URI and tell whether a copy
// still matches it. The dependency cache (cache.h) is written against this, so HTTP and S3 (and
// test fakes) plug into it alike.
//
// Contract for implementations:
// - Get() writes the body to a temporary file beside `dest` and renames it over `dest` only when
//   the whole body arrived: `dest` is the complete new version or is left as it was, never a
//   part. With conditions set and matched by the server (HTTP 304), `dest` is not touched and
//   not_modified is true.
// - Errors read "fetch '<uri>': <cause>" (credentials in the URI redacted); codes: kNotFound
//   (404), kPermissionDenied (401/403), kUnavailable (network, 5xx, cut transfer),
//   kDeadlineExceeded (timeouts), kInvalidArgument (a malformed URI), kFailedPrecondition
//   (other HTTP errors, too many redirects).
// - Thread-safe: many Get/Head calls may run at once.
// - Conditions::from_job_request marks a URI that a job request named: a source that reaches a
//   network applies its perimeter to it (HttpFetcher: see perimeter.h). S3 sources ignore it
//   (their endpoint is admin configuration).
// Fetch() (from exec::Fetcher) is an unconditional Get; FetchForJob() one with
// from_job_request set.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/result.h"
#include "exec/job_dir.h"

namespace weir::fetch {

// What the server said about one version of a resource. Empty strings: not sent.
struct RemoteMeta {
  int64_t size = -1;          // Content-Length; -1 when unknown
  std::string etag;           // exactly as sent, quotes included
  std::string last_modified;  // exactly as sent (an HTTP-date)
};

// Validators for a conditional request. Empty fields are not sent.
struct Conditions {
  std::string if_none_match;      // an ETag previously received
  std::string if_modified_since;  // a Last-Modified previously received
  bool from_job_request = false;  // a job request named the URI: the source's perimeter applies
};

struct GetOutcome {
  bool not_modified = false;     // the server answered 304: `dest` untouched
  RemoteMeta meta;               // of the downloaded version (or as the 304 restated it)
  int64_t bytes_downloaded = 0;  // body bytes received
};

class RemoteSource : public exec::Fetcher {
 public:
  virtual Result<GetOutcome> Get(const std::string& uri, const std::filesystem::path& dest,
                                 const Conditions& conditions) = 0;
  // Metadata without the body (HEAD). Errors as for Get.
  virtual Result<RemoteMeta> Head(const std::string& uri) = 0;

  Status Fetch(const std::string& uri, const std::filesystem::path& dest) override {
    Result<GetOutcome> r = Get(uri, dest, Conditions{});
    return r.ok() ? Status::Ok() : r.status();
  }
  Status FetchForJob(const std::string& uri, const std::filesystem::path& dest) override {
    Conditions conditions;
    conditions.from_job_request = true;
    Result<GetOutcome> r = Get(uri, dest, conditions);
    return r.ok() ? Status::Ok() : r.status();
  }
};

// A temporary name beside `dest` for a download in progress: same folder (so the final rename is
// atomic), hidden, unique per call.
std::filesystem::path TempPathBeside(const std::filesystem::path& dest);

// Renames `tmp` over `dest` and fsyncs the folder; removes `tmp` on failure.
Status PlaceAtomically(const std::filesystem::path& tmp, const std::filesystem::path& dest);

}  // namespace weir::fetch
