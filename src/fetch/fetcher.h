// The node's Fetcher: one exec::Fetcher that takes any dependency, attachment or archive URI a
// job names and puts its bytes at a destination path, choosing the transport by scheme:
//   /absolute/path, file:///path, file://localhost/path   copied from local disk
//   http://..., https://...                                 HttpFetcher (libcurl)
//   s3://bucket/key                                         S3Client (weir's SigV4)
// Remote schemes go through the DependencyCache when one is configured (see cache.h), else
// straight to the source. The destination appears whole or not at all (temp file + rename).
// URIs of a job request (FetchForJob, CheckJobUri) are held to the node's Perimeter (see
// perimeter.h): local files only inside fetch.allowed_file_roots, checked on the file actually
// opened; http(s) hosts resolved and checked before the transfer (so an entry cached for admin
// configuration is not handed out for a refused host), then every connection checked by the
// HTTP source. Admin configuration (Fetch) is not restricted.
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
#include "fetch/perimeter.h"
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
  // `perimeter` judges job requests' URIs; null: the default one (no local file, no restricted
  // network). `remote` must give FetchForJob the same perimeter for its connections.
  explicit UriFetcher(std::shared_ptr<exec::Fetcher> remote,
                      std::shared_ptr<DependencyCache> cache = nullptr,
                      std::shared_ptr<const Perimeter> perimeter = nullptr);

  Status Fetch(const std::string& uri, const std::filesystem::path& dest) override;
  Status FetchForJob(const std::string& uri, const std::filesystem::path& dest) override;
  Status CheckJobUri(const std::string& uri) const override;

  // The cache behind remote fetches, null when there is none (for Stats()).
  DependencyCache* cache() const { return cache_.get(); }

 private:
  std::shared_ptr<exec::Fetcher> remote_;
  std::shared_ptr<DependencyCache> cache_;
  std::shared_ptr<const Perimeter> perimeter_;  // never null
};

struct FetchOptions {
  HttpOptions http;
  // The S3 client's settings; fields left empty come from the AWS_* environment
  // (see s3_client.h). Its `http` field is replaced by `http` above.
  S3Config s3;
  // The dependency cache; std::nullopt downloads on every fetch.
  std::optional<CacheOptions> cache;
  // What job requests' URIs may reach (default: no local file, no restricted network).
  PerimeterOptions perimeter;
};

// Builds the node's fetcher: HTTP source, S3 source, optional cache, dispatch, perimeter. Fails
// fast on bad S3, cache or perimeter settings, naming the setting.
Result<std::unique_ptr<UriFetcher>> NewFetcher(const FetchOptions& options, Clock& clock,
                                               const EnvLookup& env = ProcessEnv);

// Copies a local regular file (absolute path or file:// URI) to `dest` atomically, keeping its
// permission bits. No perimeter: for admin configuration and the server's own files.
Status CopyLocal(const std::string& uri, const std::filesystem::path& dest);

}  // namespace weir::fetch
