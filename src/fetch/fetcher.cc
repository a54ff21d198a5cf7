#include "fetch/fetcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <system_error>

#include "common/fs.h"
#include "common/strings.h"
#include "fetch/http_fetcher.h"
#include "fetch/perimeter.h"
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

namespace {

// Copies the open regular file `in` to `dest` atomically, keeping its permission bits (an
// executable dependency stays executable). Closes `in`.
Status CopyDescriptor(int in, const std::string& uri, const fs::path& dest) {
  const std::string ctx = Context(uri);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{in};
  struct stat st {};
  if (::fstat(in, &st) != 0) return ErrnoStatus(ctx, errno);
  if (S_ISDIR(st.st_mode)) return InvalidArgument(ctx + ": is a directory, not a file");
  if (!S_ISREG(st.st_mode)) return InvalidArgument(ctx + ": not a regular file");
  if (!dest.parent_path().empty()) {
    WEIR_RETURN_IF_ERROR(MakeDirs(dest.parent_path()).WithContext(ctx));
  }
  fs::path tmp = TempPathBeside(dest);
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) return ErrnoStatus(ctx, errno);
  auto fail = [&](int err) {
    ::close(out);
    ::unlink(tmp.c_str());
    return ErrnoStatus(ctx, err);
  };
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno);
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return fail(errno);
      off += w;
    }
  }
  if (::fchmod(out, st.st_mode & 0777) != 0) return fail(errno);
  if (::close(out) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus(ctx, err);
  }
  return PlaceAtomically(tmp, dest).WithContext(ctx);
}

}  // namespace

Status CopyLocal(const std::string& uri, const fs::path& dest) {
  Result<std::string> path = LocalPathOfUri(uri);
  if (!path.ok()) return path.status().WithContext(Context(uri));
  // Non-blocking: opening a FIFO must not hang set-up (reads of regular files ignore it).
  int in = ::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (in < 0) return ErrnoStatus(Context(uri), errno);
  return CopyDescriptor(in, uri, dest);
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

UriFetcher::UriFetcher(std::shared_ptr<exec::Fetcher> remote,
                       std::shared_ptr<DependencyCache> cache,
                       std::shared_ptr<const Perimeter> perimeter)
    : remote_(std::move(remote)), cache_(std::move(cache)), perimeter_(std::move(perimeter)) {
  if (perimeter_ == nullptr) perimeter_ = std::make_shared<const Perimeter>(*Perimeter::Create({}));
}

Status UriFetcher::FetchForJob(const std::string& uri, const fs::path& dest) {
  WEIR_ASSIGN_OR_RETURN(Kind kind, Classify(uri));
  if (kind == Kind::kLocal) {
    WEIR_ASSIGN_OR_RETURN(int in, perimeter_->OpenAllowedFile(uri));
    return CopyDescriptor(in, uri, dest);
  }
  WEIR_RETURN_IF_ERROR(perimeter_->CheckHostBeforeFetch(uri));
  if (remote_ == nullptr) {
    return FailedPrecondition(Context(uri) + ": remote fetching is not configured");
  }
  return remote_->FetchForJob(uri, dest);
}

Status UriFetcher::CheckJobUri(const std::string& uri) const {
  return perimeter_->CheckJobUri(uri);
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
  WEIR_ASSIGN_OR_RETURN(Perimeter made, Perimeter::Create(options.perimeter));
  auto perimeter = std::make_shared<const Perimeter>(std::move(made));
  auto http = std::make_shared<HttpFetcher>(options.http, perimeter);
  S3Config s3_config = S3ConfigWithEnvironment(options.s3, env);
  s3_config.http = options.http;
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, S3Client::Create(s3_config, clock));
  auto s3 = std::make_shared<S3Source>(std::shared_ptr<S3Client>(std::move(client)));
  auto remote = std::make_shared<SchemeSource>(http, s3);
  if (!options.cache.has_value()) return std::make_unique<UriFetcher>(remote, nullptr, perimeter);
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<DependencyCache> cache,
                        DependencyCache::Open(*options.cache, remote, clock));
  std::shared_ptr<DependencyCache> shared(std::move(cache));
  return std::make_unique<UriFetcher>(shared, shared, perimeter);
}

}  // namespace weir::fetch
