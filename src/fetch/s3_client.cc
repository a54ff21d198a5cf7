#include "fetch/s3_client.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <system_error>

#include "common/fs.h"
#include "common/strings.h"
#include "fetch/digest.h"
#include "fetch/http_fetcher.h"
#include "fetch/uri.h"

namespace weir::fetch {

namespace {

constexpr int64_t kMinPartSize = 5LL << 20;
constexpr int64_t kMaxParts = 10000;

std::string S3Uri(const std::string& bucket, const std::string& key) {
  return "s3://" + bucket + "/" + key;
}

std::string OpContext(std::string_view op, const std::string& bucket, const std::string& key) {
  return "s3 " + std::string(op) + " '" + S3Uri(bucket, key) + "'";
}

// --- a minimal reader for S3's small, flat XML documents ---------------------------------------

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out.push_back(s[i]);
      continue;
    }
    std::string_view entity = s.substr(i + 1, semi - i - 1);
    if (entity == "amp") out.push_back('&');
    else if (entity == "lt") out.push_back('<');
    else if (entity == "gt") out.push_back('>');
    else if (entity == "quot") out.push_back('"');
    else if (entity == "apos") out.push_back('\'');
    else if (StartsWith(entity, "#")) {
      long code = StartsWith(entity, "#x") || StartsWith(entity, "#X")
                      ? std::strtol(std::string(entity.substr(2)).c_str(), nullptr, 16)
                      : std::strtol(std::string(entity.substr(1)).c_str(), nullptr, 10);
      if (code > 0 && code < 0x80) {
        out.push_back(static_cast<char>(code));
      } else if (code >= 0x80 && code < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (code >> 6)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
      } else if (code >= 0x800 && code < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (code >> 12)));
        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
      } else if (code >= 0x10000 && code < 0x110000) {
        out.push_back(static_cast<char>(0xF0 | (code >> 18)));
        out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// The raw inner text of each <tag ...>...</tag> in `xml`, in order (S3 documents do not nest an
// element inside one of the same name). A self-closing <tag/> gives "".
std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  std::string open = "<" + std::string(tag);
  std::string close = "</" + std::string(tag) + ">";
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    size_t after = pos + open.size();
    if (after >= xml.size()) break;
    char c = xml[after];
    if (c != '>' && c != ' ' && c != '/' && c != '\t' && c != '\n' && c != '\r') {
      pos = after;  // a longer tag name sharing the prefix
      continue;
    }
    size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) break;
    if (xml[gt - 1] == '/') {
      out.emplace_back();
      pos = gt + 1;
      continue;
    }
    size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(gt + 1, end - gt - 1));
    pos = end + close.size();
  }
  return out;
}

std::string XmlText(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> all = XmlElements(xml, tag);
  return all.empty() ? "" : XmlUnescape(Trim(all.front()));
}

// "HTTP 403 Forbidden (SignatureDoesNotMatch: The request signature ...)".
Status S3HttpError(const HttpResponse& response) {
  std::string detail;
  std::string code = XmlText(response.body, "Code");
  std::string message = XmlText(response.body, "Message");
  if (!code.empty()) detail = code;
  if (!message.empty()) detail += (detail.empty() ? "" : ": ") + message;
  return HttpStatusError(response.status, response.reason, detail);
}

bool IsDnsCompatibleBucket(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return bucket.front() != '-' && bucket.back() != '-';
}

void AddPutHeaders(const S3PutOptions& options,
                   std::vector<std::pair<std::string, std::string>>* headers) {
  if (!options.content_type.empty()) headers->emplace_back("Content-Type", options.content_type);
  for (const auto& [name, value] : options.metadata) {
    headers->emplace_back("x-amz-meta-" + ToLower(name), value);
  }
}

Result<int64_t> FileSize(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return ErrnoStatus("read '" + path.string() + "'", ec.value());
  return static_cast<int64_t>(size);
}

}  // namespace

struct S3Client::Call {
  std::string method;
  std::string bucket;
  std::string key;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::filesystem::path body_file;
  int64_t body_offset = 0;
  int64_t body_length = -1;
  std::string payload_hash;  // computed from the body when empty
  std::filesystem::path response_file;
};

std::optional<std::string> ProcessEnv(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

S3Config S3ConfigWithEnvironment(S3Config config, const EnvLookup& env) {
  if (config.credentials.access_key_id.empty()) {
    config.credentials.access_key_id = env("AWS_ACCESS_KEY_ID").value_or("");
    config.credentials.secret_access_key = env("AWS_SECRET_ACCESS_KEY").value_or("");
    config.credentials.session_token = env("AWS_SESSION_TOKEN").value_or("");
  }
  if (config.region.empty()) {
    config.region = env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or(""));
  }
  if (config.endpoint.empty()) {
    config.endpoint = env("AWS_ENDPOINT_URL_S3").value_or(env("AWS_ENDPOINT_URL").value_or(""));
  }
  return config;
}

Result<std::unique_ptr<S3Client>> S3Client::Create(S3Config config, Clock& clock) {
  if (config.region.empty()) config.region = "us-east-1";
  bool aws = config.endpoint.empty();
  if (aws) config.endpoint = "https://s3." + config.region + ".amazonaws.com";
  Result<ParsedUri> parsed = ParseUri(config.endpoint);
  if (!parsed.ok() || (parsed->scheme != "http" && parsed->scheme != "https") ||
      parsed->host.empty() || !parsed->query.empty()) {
    return InvalidArgument("s3 endpoint '" + RedactUri(config.endpoint) +
                           "': must be http(s)://host[:port], e.g. http://127.0.0.1:4568");
  }
  if (config.part_size < kMinPartSize) {
    return InvalidArgument("s3 part_size " + std::to_string(config.part_size) +
                           ": must be at least 5 MiB (5242880), the S3 minimum");
  }
  if (config.multipart_threshold < config.part_size) {
    return InvalidArgument("s3 multipart_threshold: must be at least part_size (" +
                           std::to_string(config.part_size) + ")");
  }
  if (!config.credentials.access_key_id.empty() && config.credentials.secret_access_key.empty()) {
    return InvalidArgument("s3 credentials: access key '" + config.credentials.access_key_id +
                           "' has no secret key; set both or neither");
  }
  std::unique_ptr<S3Client> client(new S3Client(std::move(config), clock));
  client->scheme_ = parsed->scheme;
  client->host_ = parsed->host.find(':') != std::string::npos ? "[" + parsed->host + "]"
                                                               : parsed->host;
  client->port_ = parsed->port;
  client->base_path_ = parsed->path;
  while (!client->base_path_.empty() && client->base_path_.back() == '/') {
    client->base_path_.pop_back();
  }
  client->aws_endpoint_ = aws || EndsWith(parsed->host, ".amazonaws.com");
  return client;
}

bool S3Client::PathStyle(const std::string& bucket) const {
  switch (config_.addressing) {
    case S3Addressing::kPath: return true;
    case S3Addressing::kVirtualHost: return false;
    case S3Addressing::kAuto: return !aws_endpoint_ || !IsDnsCompatibleBucket(bucket);
  }
  return true;
}

std::string S3Client::ObjectUrl(const std::string& bucket, const std::string& key) const {
  bool default_port = port_ == 0 || (scheme_ == "http" && port_ == 80) ||
                      (scheme_ == "https" && port_ == 443);
  std::string port = default_port ? "" : ":" + std::to_string(port_);
  std::string encoded_key = key.empty() ? "" : "/" + UriEncode(key, false);
  if (PathStyle(bucket)) {
    return scheme_ + "://" + host_ + port + base_path_ + "/" + UriEncode(bucket, true) +
           encoded_key;
  }
  return scheme_ + "://" + bucket + "." + host_ + port + base_path_ +
         (encoded_key.empty() ? "/" : encoded_key);
}

Result<HttpResponse> S3Client::Send(const Call& call) const {
  std::string url = ObjectUrl(call.bucket, call.key);
  Result<ParsedUri> parsed = ParseUri(url);
  if (!parsed.ok()) return parsed.status();
  std::string host_header = parsed->authority;

  std::string payload_hash = call.payload_hash;
  if (payload_hash.empty()) {
    if (!call.body_file.empty()) {
      WEIR_ASSIGN_OR_RETURN(payload_hash,
                            Sha256FileHex(call.body_file, call.body_offset, call.body_length));
    } else {
      payload_hash = Sha256Hex(call.body);
    }
  }

  HttpRequest request;
  request.method = call.method;
  request.follow_redirects = false;  // a redirect would need a new signature for the new host
  std::string query = CanonicalQueryString(call.query);
  request.url = url + (query.empty() ? "" : "?" + query);
  request.body = call.body;
  request.body_file = call.body_file;
  request.body_offset = call.body_offset;
  request.body_length = call.body_length;
  request.response_file = call.response_file;

  std::vector<std::pair<std::string, std::string>> headers = call.headers;
  headers.emplace_back("Host", host_header);
  if (!config_.credentials.access_key_id.empty()) {
    std::string amz_date = AmzDate(clock_.Now());
    headers.emplace_back("x-amz-date", amz_date);
    headers.emplace_back("x-amz-content-sha256", payload_hash);
    if (!config_.credentials.session_token.empty()) {
      headers.emplace_back("x-amz-security-token", config_.credentials.session_token);
    }
    SigV4Request to_sign;
    to_sign.method = call.method;
    to_sign.canonical_uri = parsed->path.empty() ? "/" : parsed->path;
    to_sign.query = call.query;
    to_sign.headers = headers;
    to_sign.payload_hash = payload_hash;
    SigV4Result signature =
        SignV4(to_sign, config_.credentials, config_.region, "s3", amz_date);
    request.headers = std::move(headers);
    request.headers.emplace_back("Authorization", signature.authorization);
  } else {
    request.headers = std::move(headers);
  }
  return Perform(request, config_.http);
}

Result<GetOutcome> S3Client::GetObject(const std::string& bucket, const std::string& key,
                                       const std::filesystem::path& dest,
                                       const Conditions& conditions, std::string_view context) {
  std::string ctx = context.empty() ? OpContext("GetObject", bucket, key) : std::string(context);
  Call call;
  call.method = "GET";
  call.bucket = bucket;
  call.key = key;
  if (!conditions.if_none_match.empty()) {
    call.headers.emplace_back("If-None-Match", conditions.if_none_match);
  }
  if (!conditions.if_modified_since.empty()) {
    call.headers.emplace_back("If-Modified-Since", conditions.if_modified_since);
  }
  if (!dest.parent_path().empty()) {
    WEIR_RETURN_IF_ERROR(MakeDirs(dest.parent_path()).WithContext(ctx));
  }
  std::filesystem::path tmp = TempPathBeside(dest);
  call.response_file = tmp;
  Result<HttpResponse> response = Send(call);
  if (!response.ok()) {
    ::unlink(tmp.c_str());
    return response.status().WithContext(ctx);
  }
  GetOutcome outcome;
  outcome.meta = MetaFromResponse(*response);
  outcome.bytes_downloaded = response->body_bytes;
  if (response->status == 304) {
    ::unlink(tmp.c_str());
    if (conditions.if_none_match.empty() && conditions.if_modified_since.empty()) {
      return Unavailable(ctx + ": HTTP 304 Not Modified to a request without "
                         "validators");
    }
    outcome.not_modified = true;
    outcome.meta.size = -1;
    return outcome;
  }
  if (response->status < 200 || response->status >= 300) {
    ::unlink(tmp.c_str());
    return S3HttpError(*response).WithContext(ctx);
  }
  outcome.meta.size = response->body_bytes;
  WEIR_RETURN_IF_ERROR(PlaceAtomically(tmp, dest).WithContext(ctx));
  return outcome;
}

Result<S3ObjectInfo> S3Client::HeadObject(const std::string& bucket, const std::string& key,
                                          std::string_view context) {
  std::string ctx = context.empty() ? OpContext("HeadObject", bucket, key) : std::string(context);
  Call call;
  call.method = "HEAD";
  call.bucket = bucket;
  call.key = key;
  Result<HttpResponse> response = Send(call);
  if (!response.ok()) return response.status().WithContext(ctx);
  if (response->status < 200 || response->status >= 300) {
    return S3HttpError(*response).WithContext(ctx);
  }
  RemoteMeta meta = MetaFromResponse(*response);
  S3ObjectInfo info{key, meta.size, meta.etag, meta.last_modified, {}};
  constexpr std::string_view kMetaPrefix = "x-amz-meta-";
  for (const auto& [name, value] : response->headers) {
    if (StartsWith(name, kMetaPrefix)) {
      info.metadata.emplace_back(name.substr(kMetaPrefix.size()), value);
    }
  }
  return info;
}

Result<S3ObjectInfo> S3Client::PutObject(const std::string& bucket, const std::string& key,
                                         const std::filesystem::path& source,
                                         const std::string& content_type) {
  S3PutOptions options;
  options.content_type = content_type;
  return PutObject(bucket, key, source, options);
}

Result<S3ObjectInfo> S3Client::PutObject(const std::string& bucket, const std::string& key,
                                         const std::filesystem::path& source,
                                         const S3PutOptions& options) {
  std::string ctx = OpContext("PutObject", bucket, key);
  Result<int64_t> size = FileSize(source);
  if (!size.ok()) return size.status().WithContext(ctx);
  Call call;
  call.method = "PUT";
  call.bucket = bucket;
  call.key = key;
  call.body_file = source;
  AddPutHeaders(options, &call.headers);
  Result<HttpResponse> response = Send(call);
  if (!response.ok()) return response.status().WithContext(ctx);
  if (response->status < 200 || response->status >= 300) {
    return S3HttpError(*response).WithContext(ctx);
  }
  return S3ObjectInfo{key, *size, response->Header("etag"), "", {}};
}

Result<std::string> S3Client::CreateMultipartUpload(const std::string& bucket,
                                                     const std::string& key,
                                                     const S3PutOptions& options) {
  std::string ctx = OpContext("CreateMultipartUpload", bucket, key);
  Call call;
  call.method = "POST";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"uploads", ""}};
  AddPutHeaders(options, &call.headers);
  Result<HttpResponse> response = Send(call);
  if (!response.ok()) return response.status().WithContext(ctx);
  if (response->status < 200 || response->status >= 300) {
    return S3HttpError(*response).WithContext(ctx);
  }
  std::string upload_id = XmlText(response->body, "UploadId");
  if (upload_id.empty()) return Internal(ctx + ": the answer has no UploadId");
  return upload_id;
}

Result<std::string> S3Client::UploadPart(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, int part_number,
                                         const std::filesystem::path& source, int64_t offset,
                                         int64_t length) {
  std::string ctx = OpContext("UploadPart", bucket, key) + " part " + std::to_string(part_number);
  if (part_number < 1 || part_number > kMaxParts) {
    return InvalidArgument(ctx + ": part number must be 1..10000");
  }
  Call call;
  call.method = "PUT";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  call.body_file = source;
  call.body_offset = offset;
  call.body_length = length;
  Result<HttpResponse> response = Send(call);
  if (!response.ok()) return response.status().WithContext(ctx);
  if (response->status < 200 || response->status >= 300) {
    return S3HttpError(*response).WithContext(ctx);
  }
  std::string etag = response->Header("etag");
  if (etag.empty()) return Internal(ctx + ": the answer has no ETag");
  return etag;
}

Result<S3ObjectInfo> S3Client::CompleteMultipartUpload(
    const std::string& bucket, const std::string& key, const std::string& upload_id,
    const std::vector<S3CompletedPart>& parts) {
  std::string ctx = OpContext("CompleteMultipartUpload", bucket, key);
  std::string xml = "<CompleteMultipartUpload>";
  for (const S3CompletedPart& part : parts) {
    xml += "<Part><PartNumber>" + std::to_string(part.part_number) + "</PartNumber><ETag>" +
           XmlEscape(part.etag) + "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  Call call;
  call.method = "POST";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"uploadId", upload_id}};
  call.headers.emplace_back("Content-Type", "application/xml");
  call.body = std::move(xml);
  Result<HttpResponse> response = Send(call);
  if (!response.ok()) return response.status().WithContext(ctx);
  // S3 may answer 200 and still report a failure in an <Error> document.
  if (response->status < 200 || response->status >= 300 ||
      !XmlElements(response->body, "Error").empty()) {
    HttpResponse failed = *response;
    if (failed.status < 300) {
      failed.status = 500;
      failed.reason = "Internal Server Error";
    }
    return S3HttpError(failed).WithContext(ctx);
  }
  S3ObjectInfo info;
  info.key = key;
  info.etag = XmlText(response->body, "ETag");
  return info;
}

Status S3Client::AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) {
  std::string ctx = OpContext("AbortMultipartUpload", bucket, key);
  Call call;
  call.method = "DELETE";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"uploadId", upload_id}};
  Result<HttpResponse> response = Send(call);
  if (!response.ok()) return response.status().WithContext(ctx);
  if (response->status < 200 || response->status >= 300) {
    return S3HttpError(*response).WithContext(ctx);
  }
  return Status::Ok();
}

Result<S3ObjectInfo> S3Client::UploadFile(const std::string& bucket, const std::string& key,
                                          const std::filesystem::path& source) {
  return UploadFile(bucket, key, source, S3PutOptions{});
}

Result<S3ObjectInfo> S3Client::UploadFile(const std::string& bucket, const std::string& key,
                                          const std::filesystem::path& source,
                                          const S3PutOptions& options) {
  Result<int64_t> size = FileSize(source);
  if (!size.ok()) return size.status().WithContext(OpContext("UploadFile", bucket, key));
  if (*size <= config_.multipart_threshold) return PutObject(bucket, key, source, options);

  int64_t part_size = config_.part_size;
  while ((*size + part_size - 1) / part_size > kMaxParts) part_size *= 2;
  WEIR_ASSIGN_OR_RETURN(std::string upload_id, CreateMultipartUpload(bucket, key, options));
  std::vector<S3CompletedPart> parts;
  for (int64_t offset = 0; offset < *size; offset += part_size) {
    int number = static_cast<int>(parts.size()) + 1;
    Result<std::string> etag = UploadPart(bucket, key, upload_id, number, source, offset,
                                          std::min(part_size, *size - offset));
    if (!etag.ok()) {
      (void)AbortMultipartUpload(bucket, key, upload_id);  // best effort; report the cause
      return etag.status();
    }
    parts.push_back({number, *etag});
  }
  Result<S3ObjectInfo> done = CompleteMultipartUpload(bucket, key, upload_id, parts);
  if (!done.ok()) {
    (void)AbortMultipartUpload(bucket, key, upload_id);
    return done.status();
  }
  done->size = *size;
  return done;
}

Result<std::vector<S3ObjectInfo>> S3Client::ListObjectsV2(const std::string& bucket,
                                                          const std::string& prefix,
                                                          const std::string& start_after,
                                                          size_t max_objects) {
  std::string ctx = "s3 ListObjectsV2 '" + S3Uri(bucket, prefix) + "'";
  std::vector<S3ObjectInfo> objects;
  std::string token;
  for (;;) {
    Call call;
    call.method = "GET";
    call.bucket = bucket;
    call.query = {{"list-type", "2"}};
    if (!prefix.empty()) call.query.emplace_back("prefix", prefix);
    if (!token.empty()) call.query.emplace_back("continuation-token", token);
    if (!start_after.empty()) call.query.emplace_back("start-after", start_after);
    Result<HttpResponse> response = Send(call);
    if (!response.ok()) return response.status().WithContext(ctx);
    if (response->status < 200 || response->status >= 300) {
      return S3HttpError(*response).WithContext(ctx);
    }
    for (std::string_view contents : XmlElements(response->body, "Contents")) {
      S3ObjectInfo info;
      info.key = XmlText(contents, "Key");
      long long size = -1;
      if (ParseInt64(XmlText(contents, "Size"), &size)) info.size = size;
      info.etag = XmlText(contents, "ETag");
      info.last_modified = XmlText(contents, "LastModified");
      objects.push_back(std::move(info));
    }
    bool truncated = XmlText(response->body, "IsTruncated") == "true";
    std::string next = XmlText(response->body, "NextContinuationToken");
    if (!truncated) break;
    if (max_objects > 0 && objects.size() >= max_objects) break;
    if (next.empty() || next == token) {
      return Internal(ctx + ": the listing is truncated but has no new continuation token");
    }
    token = std::move(next);
  }
  return objects;
}

Status S3Client::DeleteObject(const std::string& bucket, const std::string& key) {
  std::string ctx = OpContext("DeleteObject", bucket, key);
  Call call;
  call.method = "DELETE";
  call.bucket = bucket;
  call.key = key;
  Result<HttpResponse> response = Send(call);
  if (!response.ok()) return response.status().WithContext(ctx);
  if ((response->status < 200 || response->status >= 300) && response->status != 404) {
    return S3HttpError(*response).WithContext(ctx);
  }
  return Status::Ok();
}

Status ParseS3Uri(const std::string& uri, std::string* bucket, std::string* key) {
  std::string ctx = "fetch '" + RedactUri(uri) + "'";
  if (!StartsWith(uri, "s3://")) return InvalidArgument(ctx + ": not an s3:// URI");
  std::string_view rest = std::string_view(uri).substr(5);
  size_t slash = rest.find('/');
  if (slash == 0 || rest.empty()) {
    return InvalidArgument(ctx + ": no bucket; expected s3://bucket/key");
  }
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    return InvalidArgument(ctx + ": no key; expected s3://bucket/key");
  }
  *bucket = std::string(rest.substr(0, slash));
  *key = std::string(rest.substr(slash + 1));
  return Status::Ok();
}

Result<GetOutcome> S3Source::Get(const std::string& uri, const std::filesystem::path& dest,
                                 const Conditions& conditions) {
  std::string bucket;
  std::string key;
  WEIR_RETURN_IF_ERROR(ParseS3Uri(uri, &bucket, &key));
  return client_->GetObject(bucket, key, dest, conditions, "fetch '" + uri + "'");
}

Result<RemoteMeta> S3Source::Head(const std::string& uri) {
  std::string bucket;
  std::string key;
  WEIR_RETURN_IF_ERROR(ParseS3Uri(uri, &bucket, &key));
  WEIR_ASSIGN_OR_RETURN(S3ObjectInfo info,
                        client_->HeadObject(bucket, key, "fetch '" + uri + "'"));
  return RemoteMeta{info.size, info.etag, info.last_modified};
}

}  // namespace weir::fetch
