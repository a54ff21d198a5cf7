// One HTTP request over libcurl, shared by the HTTP fetcher and the S3 client.
//
// Perform() sends one request (following redirects when asked, at most max_redirects, http and
// https only) and returns the final response: status, reason, headers and body. A 2xx body goes
// to `response_file` when one is given (the caller owns temp-file naming and the final rename);
// any other body, or every body without a file, stays in memory, capped at 64 KiB for non-2xx
// (enough for an S3 error document). Transport failures come back as a Status whose message is
// the cause only, for the caller to prefix with its context:
//   kUnavailable        "connection refused", "could not resolve host 'x'", "connection closed
//                       after N of M bytes", TLS and other network failures
//   kDeadlineExceeded   "timed out after N s connecting", "timed out after N s without data"
//   kFailedPrecondition "more than N redirects"
//   (peer_check's)      a connection refused by HttpRequest::peer_check
//   (ErrnoStatus)       writing the response file failed
// HTTP error statuses are not transport failures: callers turn them into a Status with
// HttpStatusError. Thread-safe: each call uses its own curl handle.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace weir::fetch {

struct HttpOptions {
  Millis connect_timeout{10'000};
  // The transfer is aborted when fewer than low_speed_bytes arrive per second for this long
  // (a stalled server), however long the whole download takes.
  Millis low_speed_timeout{30'000};
  int64_t low_speed_bytes = 1;
  Millis total_timeout{0};  // 0: no limit on the whole transfer
  int max_redirects = 5;
  std::string user_agent = "weir-fetch";
  std::string ca_file;  // PEM bundle for https; "" uses the system store
};

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;             // already encoded
  std::vector<std::pair<std::string, std::string>> headers;
  bool follow_redirects = true;
  // Request body: `body` in memory, or a range of `body_file` when that is set.
  std::string body;
  std::filesystem::path body_file;
  int64_t body_offset = 0;
  int64_t body_length = -1;  // -1: to the end of the file
  // Where a 2xx response body goes; empty keeps it in HttpResponse::body.
  std::filesystem::path response_file;
  // When set, called with the peer address of every connection the transfer is about to open
  // (each address tried, each redirect hop), before connecting. A non-OK status refuses that
  // connection; when no connection could be made the request fails with the first refusal's
  // status and message. Proxies from the environment are not used then: the check must see the
  // real peer, not a proxy.
  std::function<Status(const sockaddr*, socklen_t)> peer_check;
};

struct HttpResponse {
  int status = 0;
  std::string reason;  // from the status line, or the standard phrase when the server sent none
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, final response
  std::string body;
  int64_t body_bytes = 0;  // bytes received in the final response body (file or memory)

  // The first value of header `name` (case-insensitive), "" when absent.
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

Result<HttpResponse> Perform(const HttpRequest& request, const HttpOptions& options);

// Status for an HTTP error response: "HTTP 404 Not Found" with the code chosen by what the
// caller should do: 404/410 kNotFound, 401/403 kPermissionDenied, 408/429/5xx kUnavailable,
// 400 kInvalidArgument, other codes kFailedPrecondition. `detail`, when not empty, is appended
// in parentheses.
Status HttpStatusError(int status, std::string_view reason, std::string_view detail = {});

// The standard reason phrase for a status code ("Not Found"), "" when unknown.
std::string_view StandardReason(int status);

}  // namespace weir::fetch
