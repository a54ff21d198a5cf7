#include "fetch/http_fetcher.h"

#include <unistd.h>

#include "common/fs.h"
#include "common/strings.h"
#include "fetch/uri.h"

namespace weir::fetch {

namespace {

std::string Context(const std::string& uri) { return "fetch '" + RedactUri(uri) + "'"; }

Status CheckHttpUri(const std::string& uri) {
  Result<ParsedUri> parsed = ParseUri(uri);
  if (!parsed.ok()) return parsed.status().WithContext(Context(uri));
  if (parsed->scheme != "http" && parsed->scheme != "https") {
    return InvalidArgument(Context(uri) + ": not an http or https URI");
  }
  if (parsed->host.empty()) return InvalidArgument(Context(uri) + ": no host");
  return Status::Ok();
}

}  // namespace

HttpFetcher::HttpFetcher(HttpOptions options, std::shared_ptr<const Perimeter> perimeter)
    : options_(std::move(options)), perimeter_(std::move(perimeter)) {
  if (perimeter_ == nullptr) perimeter_ = std::make_shared<const Perimeter>(*Perimeter::Create({}));
}

RemoteMeta MetaFromResponse(const HttpResponse& response) {
  RemoteMeta meta;
  long long size = -1;
  std::string length = response.Header("content-length");
  if (!length.empty() && ParseInt64(length, &size) && size >= 0) meta.size = size;
  meta.etag = response.Header("etag");
  meta.last_modified = response.Header("last-modified");
  return meta;
}

Result<GetOutcome> HttpFetcher::Get(const std::string& uri, const std::filesystem::path& dest,
                                    const Conditions& conditions) {
  WEIR_RETURN_IF_ERROR(CheckHttpUri(uri));
  HttpRequest request;
  request.method = "GET";
  request.url = uri;
  if (conditions.from_job_request) {
    request.peer_check = [perimeter = perimeter_](const sockaddr* addr, socklen_t len) -> Status {
      Result<IpAddress> address = IpAddress::FromSockaddr(addr, len);
      if (!address.ok()) return PermissionDenied(address.status().message());
      return perimeter->CheckAddress(*address);
    };
  }
  if (!conditions.if_none_match.empty()) {
    request.headers.emplace_back("If-None-Match", conditions.if_none_match);
  }
  if (!conditions.if_modified_since.empty()) {
    request.headers.emplace_back("If-Modified-Since", conditions.if_modified_since);
  }
  if (!dest.parent_path().empty()) {
    WEIR_RETURN_IF_ERROR(MakeDirs(dest.parent_path()).WithContext(Context(uri)));
  }
  std::filesystem::path tmp = TempPathBeside(dest);
  request.response_file = tmp;
  Result<HttpResponse> response = Perform(request, options_);
  if (!response.ok()) {
    ::unlink(tmp.c_str());
    return response.status().WithContext(Context(uri));
  }
  GetOutcome outcome;
  outcome.meta = MetaFromResponse(*response);
  outcome.bytes_downloaded = response->body_bytes;
  if (response->status == 304) {
    ::unlink(tmp.c_str());
    if (conditions.if_none_match.empty() && conditions.if_modified_since.empty()) {
      return Unavailable(Context(uri) + ": HTTP 304 Not Modified to a request without "
                         "validators");
    }
    outcome.not_modified = true;
    outcome.meta.size = -1;  // a 304 has no body; its Content-Length, if any, is not the file's
    return outcome;
  }
  if (response->status < 200 || response->status >= 300) {
    ::unlink(tmp.c_str());
    return HttpStatusError(response->status, response->reason).WithContext(Context(uri));
  }
  outcome.meta.size = response->body_bytes;
  WEIR_RETURN_IF_ERROR(PlaceAtomically(tmp, dest).WithContext(Context(uri)));
  return outcome;
}

Result<RemoteMeta> HttpFetcher::Head(const std::string& uri) {
  WEIR_RETURN_IF_ERROR(CheckHttpUri(uri));
  HttpRequest request;
  request.method = "HEAD";
  request.url = uri;
  Result<HttpResponse> response = Perform(request, options_);
  if (!response.ok()) return response.status().WithContext(Context(uri));
  if (response->status < 200 || response->status >= 300) {
    return HttpStatusError(response->status, response->reason).WithContext(Context(uri));
  }
  return MetaFromResponse(*response);
}

}  // namespace weir::fetch
