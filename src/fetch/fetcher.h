// The node's Fetcher: one exec::Fetcher that takes any dependency, attachment or archive URI a
// job names and puts its bytes at a destination path, choosing the transport by scheme:
//   /absolute/path, file:///path, file://localhost/path   copied from local disk
//   http://..., https://...                                 HttpFetcher (libcurl)
//   s3://bucket/key                                         S3Client (weir's SigV4)
// Remote schemes go through the DependencyCache when one is configured (see cache.h), else
// straight to the source. The destination appears whole or not at all (temp file + rename).
// Errors name the URI and the cause:
//   kInvalidArgument "fetch 'ftp://x': unsupported scheme 'ftp' (supported: file, http, https,
//                    s3)", relative paths, malformed URIs
//   kNotFound        a missing local file, HTTP 404, S3 NoSuchKey
//   others           as RemoteSource documents (source.h)
// Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "exec/job_dir.h"
#include "fetch/cache.h"
#include "fetch/http_client.h"
#include "fetch/s3_client.h"
#include "fetch/source.h"

namespace weir::fetch {

// A RemoteSource that sends http/https URIs to one source and s3 URIs to another (either may be
// null: that scheme then fails with kFailedPrecondition naming what to configure).
class SchemeSource final : public RemoteSource {
 public:
  SchemeSource(std::shared_ptr<RemoteSource> http, std::shared_ptr<RemoteSource> s3)
      : http_(std::move(http)), s3_(std::move(s3)) {}
  Result<GetOutcome> Get(const std::string& uri, const std::filesystem::path& dest,
                         const Conditions& conditions) override;
  Result<RemoteMeta> Head(const std::string& uri) override;

 private:
  Result<RemoteSource*> Pick(const std::string& uri) const;
  std::shared_ptr<RemoteSource> http_;
  std::shared_ptr<RemoteSource> s3_;
};

class UriFetcher final : public exec::Fetcher {
 public:
  // `remote` serves http, https and s3 URIs: a DependencyCache, a SchemeSource, or a test fake.
  explicit UriFetcher(std::shared_ptr<exec::Fetcher> remote,
                      std::shared_ptr<DependencyCache> cache = nullptr)
      : remote_(std::move(remote)), cache_(std::move(cache)) {}

  Status Fetch(const std::string& uri, const std::filesystem::path& dest) override;

  // The cache behind remote fetches, null when there is none (for Stats()).
  DependencyCache* cache() const { return cache_.get(); }

 private:
  std::shared_ptr<exec::Fetcher> remote_;
  std::shared_ptr<DependencyCache> cache_;
};

struct FetchOptions {
  HttpOptions http;
  // The S3 client's settings; fields left empty come from the AWS_* environment
  // (see s3_client.h). Its `http` field is replaced by `http` above.
  S3Config s3;
  // The dependency cache; std::nullopt downloads on every fetch.
  std::optional<CacheOptions> cache;
};

// Builds the node's fetcher: HTTP source, S3 source, optional cache, dispatch. Fails fast on bad
// S3 or cache settings, naming the setting.
Result<std::unique_ptr<UriFetcher>> NewFetcher(const FetchOptions& options, Clock& clock,
                                               const EnvLookup& env = ProcessEnv);

// Copies a local file (absolute path or file:// URI) to `dest` atomically.
Status CopyLocal(const std::string& uri, const std::filesystem::path& dest);

}  // namespace weir::fetch
