// HttpFetcher: downloads http:// and https:// URIs with libcurl (see http_client.h for timeouts
// and redirect limits). A download lands in a temporary file beside the destination and is
// renamed over it only once complete, so a cut transfer never leaves a file that looks whole.
// Messages: "fetch 'http://host/x.jar': HTTP 404 Not Found", "...: timed out after 30 s without
// data", "...: connection refused". A Get with Conditions::from_job_request checks the peer of
// every connection (each redirect hop too) against the fetcher's Perimeter: "fetch
// 'http://10.0.0.5/x': address 10.0.0.5 is private, refused by fetch.allowed_networks"
// (kPermissionDenied). Without a Perimeter given, the default one (no network allowed) applies.
// Thread-safe.
#pragma once

#include <memory>

#include "fetch/http_client.h"
#include "fetch/perimeter.h"
#include "fetch/source.h"

namespace weir::fetch {

class HttpFetcher final : public RemoteSource {
 public:
  explicit HttpFetcher(HttpOptions options = {},
                       std::shared_ptr<const Perimeter> perimeter = nullptr);

  Result<GetOutcome> Get(const std::string& uri, const std::filesystem::path& dest,
                         const Conditions& conditions) override;
  Result<RemoteMeta> Head(const std::string& uri) override;

  const HttpOptions& options() const { return options_; }

 private:
  HttpOptions options_;
  std::shared_ptr<const Perimeter> perimeter_;  // never null
};

// Reads size, ETag and Last-Modified from a response.
RemoteMeta MetaFromResponse(const HttpResponse& response);

}  // namespace weir::fetch
