// S3Client: the S3 operations weir needs, against AWS or any S3-compatible endpoint (s3rver,
// MinIO, Ceph), signed with weir's own SigV4 (sigv4.h) over libcurl (http_client.h).
//
// Addressing: virtual-host style ("https://bucket.s3.region.amazonaws.com/key") or path style
// ("http://127.0.0.1:4568/bucket/key"). kAuto picks virtual-host for AWS endpoints and bucket
// names that are valid DNS labels, path style otherwise (custom endpoints, dotted buckets).
// Credentials: given in S3Config, else (S3ConfigWithEnvironment) AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; region from AWS_REGION / AWS_DEFAULT_REGION; endpoint
// from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. Without an access key requests go unsigned
// (public buckets). Every request carries x-amz-content-sha256 with the SHA-256 of its body.
//
// Errors read "s3 <Operation> 's3://bucket/key': HTTP 403 Forbidden (AccessDenied: Access
// Denied)", codes as HttpStatusError gives them (NoSuchKey → kNotFound, AccessDenied and
// SignatureDoesNotMatch → kPermissionDenied, 5xx → kUnavailable), or the transport error.
// Downloads are atomic (temp file + rename). Thread-safe: calls share only immutable state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "fetch/http_client.h"
#include "fetch/sigv4.h"
#include "fetch/source.h"

namespace weir::fetch {

enum class S3Addressing { kAuto, kPath, kVirtualHost };

struct S3Config {
  std::string endpoint;  // "http://127.0.0.1:4568"; "" → https://s3.<region>.amazonaws.com
  std::string region;    // "" → us-east-1
  SigV4Credentials credentials;
  S3Addressing addressing = S3Addressing::kAuto;
  HttpOptions http;
  // UploadFile switches to a multipart upload above this size, in parts of part_size bytes
  // (S3 requires at least 5 MiB per part but the last, and at most 10,000 parts; the part size
  // grows when a file needs more).
  int64_t multipart_threshold = 64LL << 20;
  int64_t part_size = 16LL << 20;
};

// Reads one environment variable; std::nullopt when unset or empty.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
std::optional<std::string> ProcessEnv(std::string_view name);

// `config` with the fields it leaves empty filled from the AWS_* variables above. Credentials
// come from the environment only when the config names no access key (never half and half).
S3Config S3ConfigWithEnvironment(S3Config config, const EnvLookup& env = ProcessEnv);

struct S3ObjectInfo {
  std::string key;
  int64_t size = -1;
  std::string etag;           // as S3 sends it, quotes included
  std::string last_modified;  // HTTP-date from GET/HEAD, ISO 8601 from listings
  // User metadata from HeadObject (x-amz-meta-<name>: names lower-cased, without the prefix).
  std::vector<std::pair<std::string, std::string>> metadata;
};

// Settings of a new object: its Content-Type and user metadata, sent as x-amz-meta-<name>
// headers (names are lower-cased; values should be ASCII, as S3 requires).
struct S3PutOptions {
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> metadata;
};

struct S3CompletedPart {
  int part_number = 0;
  std::string etag;
};

class S3Client {
 public:
  // kInvalidArgument naming the setting: endpoint not http(s)://host[:port], part_size under
  // 5 MiB, multipart_threshold under part_size.
  static Result<std::unique_ptr<S3Client>> Create(S3Config config, Clock& clock);

  // Downloads to `dest` atomically. With conditions matched by S3 (304), `dest` is untouched
  // and not_modified is true. `context` replaces the default message prefix.
  Result<GetOutcome> GetObject(const std::string& bucket, const std::string& key,
                               const std::filesystem::path& dest,
                               const Conditions& conditions = {},
                               std::string_view context = {});
  Result<S3ObjectInfo> HeadObject(const std::string& bucket, const std::string& key,
                                  std::string_view context = {});
  // One PUT of the whole file.
  Result<S3ObjectInfo> PutObject(const std::string& bucket, const std::string& key,
                                 const std::filesystem::path& source,
                                 const std::string& content_type = "");
  // PutObject, or a multipart upload above multipart_threshold (aborted on any failure).
  Result<S3ObjectInfo> UploadFile(const std::string& bucket, const std::string& key,
                                  const std::filesystem::path& source);
  // The same with a Content-Type and user metadata (kept on multipart uploads too).
  Result<S3ObjectInfo> PutObject(const std::string& bucket, const std::string& key,
                                 const std::filesystem::path& source,
                                 const S3PutOptions& options);
  Result<S3ObjectInfo> UploadFile(const std::string& bucket, const std::string& key,
                                  const std::filesystem::path& source,
                                  const S3PutOptions& options);

  Result<std::string> CreateMultipartUpload(const std::string& bucket, const std::string& key,
                                            const S3PutOptions& options = {});
  // Uploads `length` bytes of `source` from `offset` as part `part_number` (1..10000); returns
  // the part's ETag.
  Result<std::string> UploadPart(const std::string& bucket, const std::string& key,
                                 const std::string& upload_id, int part_number,
                                 const std::filesystem::path& source, int64_t offset,
                                 int64_t length);
  Result<S3ObjectInfo> CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                               const std::string& upload_id,
                                               const std::vector<S3CompletedPart>& parts);
  Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id);

  // Every object whose key starts with `prefix` (and sorts after `start_after` when given), in
  // key order, following continuation tokens; with `max_objects` > 0, stops after the page that
  // reaches that many (so it may return a few more).
  Result<std::vector<S3ObjectInfo>> ListObjectsV2(const std::string& bucket,
                                                  const std::string& prefix,
                                                  const std::string& start_after = "",
                                                  size_t max_objects = 0);
  // Deleting a missing key succeeds, as in S3.
  Status DeleteObject(const std::string& bucket, const std::string& key);

  // The URL a request for bucket/key goes to.
  std::string ObjectUrl(const std::string& bucket, const std::string& key) const;
  const S3Config& config() const { return config_; }

 private:
  struct Call;
  S3Client(S3Config config, Clock& clock) : config_(std::move(config)), clock_(clock) {}
  bool PathStyle(const std::string& bucket) const;
  Result<HttpResponse> Send(const Call& call) const;

  S3Config config_;
  Clock& clock_;
  std::string scheme_;      // http or https
  std::string host_;        // endpoint host, brackets for IPv6
  int port_ = 0;            // 0: the scheme's default
  std::string base_path_;   // endpoint path prefix without a trailing '/'
  bool aws_endpoint_ = false;
};

// S3Source: RemoteSource for s3://bucket/key URIs over an S3Client.
class S3Source final : public RemoteSource {
 public:
  explicit S3Source(std::shared_ptr<S3Client> client) : client_(std::move(client)) {}
  Result<GetOutcome> Get(const std::string& uri, const std::filesystem::path& dest,
                         const Conditions& conditions) override;
  Result<RemoteMeta> Head(const std::string& uri) override;

 private:
  std::shared_ptr<S3Client> client_;
};

// Splits "s3://bucket/key/with/slashes" (key taken literally, not percent-decoded);
// kInvalidArgument without a bucket or a key.
Status ParseS3Uri(const std::string& uri, std::string* bucket, std::string* key);

}  // namespace weir::fetch
