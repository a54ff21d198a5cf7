#include "fetch/fetcher.h"

#include <unistd.h>

#include <system_error>

#include "common/fs.h"
#include "common/strings.h"
#include "fetch/http_fetcher.h"
#include "fetch/uri.h"

namespace weir::fetch {

namespace fs = std::filesystem;

namespace {

std::string Context(const std::string& uri) { return "fetch '" + RedactUri(uri) + "'"; }

enum class Kind { kLocal, kRemote };

Result<Kind> Classify(const std::string& uri) {
  if (StartsWith(uri, "/")) return Kind::kLocal;
  Result<ParsedUri> parsed = ParseUri(uri);
  if (!parsed.ok()) return parsed.status().WithContext(Context(uri));
  if (parsed->scheme.empty()) {
    return InvalidArgument(Context(uri) +
                           ": a relative path; use an absolute path or a file, http, https or "
                           "s3 URI");
  }
  if (parsed->scheme == "file") return Kind::kLocal;
  if (parsed->scheme == "http" || parsed->scheme == "https" || parsed->scheme == "s3") {
    return Kind::kRemote;
  }
  return InvalidArgument(Context(uri) + ": unsupported scheme '" + parsed->scheme +
                         "' (supported: file, http, https, s3)");
}

}  // namespace

Status CopyLocal(const std::string& uri, const fs::path& dest) {
  const std::string ctx = Context(uri);
  std::string path = uri;
  if (!StartsWith(uri, "/")) {
    WEIR_ASSIGN_OR_RETURN(ParsedUri parsed, ParseUri(uri));
    if (!parsed.authority.empty() && parsed.authority != "localhost") {
      return InvalidArgument(ctx + ": file URIs must name a local path (file:///path), not host '" +
                             parsed.authority + "'");
    }
    Result<std::string> decoded = PercentDecode(parsed.path);
    if (!decoded.ok()) return decoded.status().WithContext(ctx);
    path = *decoded;
    if (!StartsWith(path, "/")) return InvalidArgument(ctx + ": the path must be absolute");
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) return InvalidArgument(ctx + ": is a directory, not a file");
  if (!dest.parent_path().empty()) WEIR_RETURN_IF_ERROR(MakeDirs(dest.parent_path()).WithContext(ctx));
  fs::path tmp = TempPathBeside(dest);
  fs::copy_file(path, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    ::unlink(tmp.c_str());
    return ErrnoStatus(ctx, ec.value());
  }
  return PlaceAtomically(tmp, dest).WithContext(ctx);
}

Result<RemoteSource*> SchemeSource::Pick(const std::string& uri) const {
  WEIR_ASSIGN_OR_RETURN(ParsedUri parsed, ParseUri(uri));
  if (parsed.scheme == "http" || parsed.scheme == "https") {
    if (http_ == nullptr) return FailedPrecondition(Context(uri) + ": no HTTP source configured");
    return http_.get();
  }
  if (parsed.scheme == "s3") {
    if (s3_ == nullptr) return FailedPrecondition(Context(uri) + ": no S3 client configured");
    return s3_.get();
  }
  return InvalidArgument(Context(uri) + ": unsupported scheme '" + parsed.scheme +
                         "' for a remote source (supported: http, https, s3)");
}

Result<GetOutcome> SchemeSource::Get(const std::string& uri, const fs::path& dest,
                                     const Conditions& conditions) {
  WEIR_ASSIGN_OR_RETURN(RemoteSource * source, Pick(uri));
  return source->Get(uri, dest, conditions);
}

Result<RemoteMeta> SchemeSource::Head(const std::string& uri) {
  WEIR_ASSIGN_OR_RETURN(RemoteSource * source, Pick(uri));
  return source->Head(uri);
}

Status UriFetcher::Fetch(const std::string& uri, const fs::path& dest) {
  WEIR_ASSIGN_OR_RETURN(Kind kind, Classify(uri));
  if (kind == Kind::kLocal) return CopyLocal(uri, dest);
  if (remote_ == nullptr) {
    return FailedPrecondition(Context(uri) + ": remote fetching is not configured");
  }
  return remote_->Fetch(uri, dest);
}

Result<std::unique_ptr<UriFetcher>> NewFetcher(const FetchOptions& options, Clock& clock,
                                               const EnvLookup& env) {
  auto http = std::make_shared<HttpFetcher>(options.http);
  S3Config s3_config = S3ConfigWithEnvironment(options.s3, env);
  s3_config.http = options.http;
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, S3Client::Create(s3_config, clock));
  auto s3 = std::make_shared<S3Source>(std::shared_ptr<S3Client>(std::move(client)));
  auto remote = std::make_shared<SchemeSource>(http, s3);
  if (!options.cache.has_value()) return std::make_unique<UriFetcher>(remote);
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<DependencyCache> cache,
                        DependencyCache::Open(*options.cache, remote, clock));
  std::shared_ptr<DependencyCache> shared(std::move(cache));
  return std::make_unique<UriFetcher>(shared, shared);
}

}  // namespace weir::fetch
