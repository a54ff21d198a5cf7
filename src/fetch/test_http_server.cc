#include "fetch/test_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/ids.h"
#include "common/strings.h"
#include "fetch/digest.h"
#include "fetch/http_client.h"
#include "fetch/sigv4.h"
#include "fetch/uri.h"

namespace weir::fetch::testing {

namespace {

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string HeaderOf(const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::string& name) {
  std::string key = ToLower(name);
  for (const auto& [n, v] : headers) {
    if (ToLower(n) == key) return v;
  }
  return "";
}

}  // namespace

std::string TestRequest::Header(const std::string& name) const { return HeaderOf(headers, name); }

// --- TestHttpServer ----------------------------------------------------------------------------

TestHttpServer::TestHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 128) != 0) {
    std::abort();
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TestHttpServer::~TestHttpServer() { Stop(); }

std::string TestHttpServer::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void TestHttpServer::Stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  cv_.notify_all();
  for (std::thread& t : workers) t.join();
}

bool TestHttpServer::Wait(Millis d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_.load(); });
}

void TestHttpServer::AcceptLoop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TestHttpServer::Serve(int fd) {
  std::string buf;
  char chunk[16384];
  size_t header_end;
  while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  bool ok = header_end != std::string::npos;
  TestRequest req;
  if (ok) {
    std::vector<std::string> lines = Split(buf.substr(0, header_end), '\n');
    std::vector<std::string> first = Split(std::string(Trim(lines[0])), ' ');
    ok = first.size() >= 2;
    if (ok) {
      req.method = first[0];
      req.target = first[1];
      size_t q = req.target.find('?');
      req.path = req.target.substr(0, q);
      if (q != std::string::npos) req.query = req.target.substr(q + 1);
    }
    for (size_t i = 1; ok && i < lines.size(); ++i) {
      std::string_view line = Trim(lines[i]);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      req.headers.emplace_back(ToLower(Trim(line.substr(0, colon))),
                               std::string(Trim(line.substr(colon + 1))));
    }
  }
  if (ok) {
    if (ToLower(req.Header("expect")) == "100-continue") {
      SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    long long length = 0;
    ParseInt64(req.Header("content-length"), &length);
    req.body = buf.substr(header_end + 4);
    while (static_cast<long long>(req.body.size()) < length) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      req.body.append(chunk, static_cast<size_t>(n));
    }
    ++request_count_;
    TestResponse resp = handler_(req);
    if (resp.delay.count() > 0 && !Wait(resp.delay)) ok = false;
    if (ok) {
      std::string reason(StandardReason(resp.status));
      std::string head = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason + "\r\n";
      bool has_length = !HeaderOf(resp.headers, "content-length").empty();
      for (const auto& [n, v] : resp.headers) head += n + ": " + v + "\r\n";
      bool bodyless = resp.status == 304 || resp.status == 204 || resp.status < 200;
      if (!has_length && !bodyless) {
        head += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
      }
      head += "Connection: close\r\n\r\n";
      ok = SendAll(fd, head);
      if (ok && resp.stall_after_headers.count() > 0) ok = Wait(resp.stall_after_headers);
      if (ok && req.method != "HEAD" && !bodyless) {
        std::string_view body = resp.body;
        if (resp.cut_after >= 0 && resp.cut_after < static_cast<int64_t>(body.size())) {
          body = body.substr(0, static_cast<size_t>(resp.cut_after));
        }
        SendAll(fd, body);
      }
    }
  }
  ::shutdown(fd, SHUT_WR);
  // Drain briefly so the peer sees an orderly close rather than a reset.
  while (::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT) > 0) {
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = open_fds_.begin(); it != open_fds_.end(); ++it) {
    if (*it == fd) {
      open_fds_.erase(it);
      break;
    }
  }
  ::close(fd);
}

// --- StaticResource ----------------------------------------------------------------------------

StaticResource::StaticResource(std::string content) { SetContent(std::move(content)); }

void StaticResource::SetContent(std::string content) {
  std::lock_guard<std::mutex> lock(mu_);
  content_ = std::move(content);
  ++version_;
  etag_ = "\"v" + std::to_string(version_) + "-" + Sha256Hex(content_).substr(0, 12) + "\"";
  // A distinct, valid HTTP-date per version.
  last_modified_ = "Wed, 21 Oct 2015 07:" + std::string(version_ < 10 ? "0" : "") +
                   std::to_string(version_ % 60) + ":00 GMT";
}

std::string StaticResource::etag() const {
  std::lock_guard<std::mutex> lock(mu_);
  return etag_;
}

TestResponse StaticResource::Handle(const TestRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  TestResponse resp;
  resp.delay = delay;
  if (request.method == "HEAD") {
    ++heads_;
  } else {
    ++gets_;
  }
  if (status != 200) {
    resp.status = status;
    return resp;
  }
  std::string inm = request.Header("if-none-match");
  std::string ims = request.Header("if-modified-since");
  if (request.method == "GET" && (!inm.empty() || !ims.empty())) ++conditional_gets_;
  if (honour_conditionals && request.method == "GET") {
    bool match = false;
    if (!inm.empty()) {
      match = send_etag && inm == etag_;
    } else if (!ims.empty()) {
      match = send_last_modified && ims == last_modified_;
    }
    if (match) {
      ++not_modified_;
      resp.status = 304;
      if (send_etag) resp.headers.emplace_back("ETag", etag_);
      return resp;
    }
  }
  if (send_etag) resp.headers.emplace_back("ETag", etag_);
  if (send_last_modified) resp.headers.emplace_back("Last-Modified", last_modified_);
  resp.body = content_;
  resp.cut_after = cut_after;
  resp.stall_after_headers = stall_after_headers;
  if (request.method == "GET") ++full_bodies_;
  return resp;
}

// --- FakeS3 ------------------------------------------------------------------------------------

namespace {

std::string S3Error(int status, const std::string& code, const std::string& message,
                    TestResponse* resp) {
  resp->status = status;
  resp->headers.emplace_back("Content-Type", "application/xml");
  resp->body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code +
               "</Code><Message>" + message + "</Message></Error>";
  return code;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else out.push_back(c);
  }
  return out;
}

std::string Unescape(std::string s) {
  for (auto [from, to] : {std::pair{"&quot;", "\""}, {"&lt;", "<"}, {"&gt;", ">"},
                          {"&apos;", "'"}, {"&amp;", "&"}}) {
    size_t pos = 0;
    while ((pos = s.find(from, pos)) != std::string::npos) {
      s.replace(pos, std::string(from).size(), to);
      pos += std::string(to).size();
    }
  }
  return s;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(const std::string& query) {
  std::vector<std::pair<std::string, std::string>> out;
  if (query.empty()) return out;
  for (const std::string& part : Split(query, '&')) {
    size_t eq = part.find('=');
    std::string name = part.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : part.substr(eq + 1);
    out.emplace_back(PercentDecode(name).value_or("?bad"), PercentDecode(value).value_or("?bad"));
  }
  return out;
}

std::string QueryValue(const std::vector<std::pair<std::string, std::string>>& q,
                       const std::string& name, bool* present = nullptr) {
  for (const auto& [n, v] : q) {
    if (n == name) {
      if (present) *present = true;
      return v;
    }
  }
  if (present) *present = false;
  return "";
}

std::string ObjectEtag(const std::string& data) {
  return "\"" + Sha256Hex(data).substr(0, 32) + "\"";
}

}  // namespace

FakeS3::FakeS3(std::string access_key, std::string secret_key, std::string region)
    : access_key_(std::move(access_key)),
      secret_key_(std::move(secret_key)),
      region_(std::move(region)) {}

std::string FakeS3::last_auth_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_auth_error_;
}

std::vector<std::string> FakeS3::methods_seen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return methods_seen_;
}

bool FakeS3::HasObject(const std::string& bucket, const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto b = buckets_.find(bucket);
  return b != buckets_.end() && b->second.count(key) != 0;
}

std::string FakeS3::Object(const std::string& bucket, const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return "";
  auto o = b->second.find(key);
  return o == b->second.end() ? "" : o->second;
}

void FakeS3::PutObject(const std::string& bucket, const std::string& key, std::string data) {
  std::lock_guard<std::mutex> lock(mu_);
  buckets_[bucket][key] = std::move(data);
}

int FakeS3::open_uploads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(uploads_.size());
}

// "" when the Authorization header is right for what arrived, else why not.
std::string FakeS3::CheckAuth(const TestRequest& request) const {
  std::string auth = request.Header("authorization");
  const std::string kPrefix = "AWS4-HMAC-SHA256 ";
  if (!StartsWith(auth, kPrefix)) return "Authorization does not start with AWS4-HMAC-SHA256";
  std::string credential, signed_headers, signature;
  for (const std::string& raw : Split(auth.substr(kPrefix.size()), ',')) {
    std::string part(Trim(raw));
    if (StartsWith(part, "Credential=")) credential = part.substr(11);
    else if (StartsWith(part, "SignedHeaders=")) signed_headers = part.substr(14);
    else if (StartsWith(part, "Signature=")) signature = part.substr(10);
    else return "unexpected Authorization part '" + part + "'";
  }
  std::vector<std::string> scope = Split(credential, '/');
  if (scope.size() != 5) return "Credential must be key/date/region/service/aws4_request";
  std::string amz_date = request.Header("x-amz-date");
  if (amz_date.size() != 16 || amz_date[8] != 'T' || amz_date.back() != 'Z') {
    return "x-amz-date must be YYYYMMDDTHHMMSSZ";
  }
  if (scope[0] != access_key_) return "unknown access key '" + scope[0] + "'";
  if (scope[1] != amz_date.substr(0, 8)) return "credential date is not the x-amz-date day";
  if (scope[2] != region_) return "region '" + scope[2] + "' is not '" + region_ + "'";
  if (scope[3] != "s3" || scope[4] != "aws4_request") return "scope must end s3/aws4_request";
  if (signature.size() != 64 || signature.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return "Signature must be 64 lowercase hex digits";
  }
  std::vector<std::string> names = Split(signed_headers, ';');
  for (const char* required : {"host", "x-amz-content-sha256", "x-amz-date"}) {
    if (std::find(names.begin(), names.end(), required) == names.end()) {
      return std::string("SignedHeaders lacks ") + required;
    }
  }
  if (!std::is_sorted(names.begin(), names.end())) return "SignedHeaders are not sorted";
  std::string payload = request.Header("x-amz-content-sha256");
  if (payload != std::string(kUnsignedPayload) && payload != Sha256Hex(request.body)) {
    return "x-amz-content-sha256 is not the SHA-256 of the body received";
  }
  SigV4Request to_sign;
  to_sign.method = request.method;
  to_sign.canonical_uri = request.path;
  to_sign.query = ParseQuery(request.query);
  for (const std::string& name : names) {
    if (request.Header(name).empty() && name != "host") return "signed header '" + name + "' missing";
    to_sign.headers.emplace_back(name, request.Header(name));
  }
  to_sign.payload_hash = payload;
  SigV4Result expected = SignV4(to_sign, {access_key_, secret_key_, ""}, region_, "s3", amz_date);
  if (expected.signature != signature) {
    return "signature mismatch; canonical request here:\n" + expected.canonical_request;
  }
  return "";
}

TestResponse FakeS3::Handle(const TestRequest& request) {
  TestResponse resp;
  std::string why = CheckAuth(request);
  std::lock_guard<std::mutex> lock(mu_);
  if (!why.empty()) {
    last_auth_error_ = why;
    ++auth_failures_;
    S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match",
            &resp);
    return resp;
  }
  auto query = ParseQuery(request.query);
  std::string host = request.Header("host");
  std::string bucket, key;
  std::string path = PercentDecode(request.path).value_or("");
  size_t dot = host.find(".localhost");
  if (dot != std::string::npos) {
    bucket = host.substr(0, dot);
    key = path.size() > 1 ? path.substr(1) : "";
  } else {
    std::string rest = path.size() > 1 ? path.substr(1) : "";
    size_t slash = rest.find('/');
    bucket = rest.substr(0, slash);
    key = slash == std::string::npos ? "" : rest.substr(slash + 1);
  }
  bool has_upload_id = false, has_uploads = false, has_part = false;
  std::string upload_id = QueryValue(query, "uploadId", &has_upload_id);
  QueryValue(query, "uploads", &has_uploads);
  std::string part = QueryValue(query, "partNumber", &has_part);
  methods_seen_.push_back(request.method + (has_part ? " ?partNumber" : has_uploads ? " ?uploads"
                                                      : has_upload_id ? " ?uploadId" : ""));
  auto& objects = buckets_[bucket];

  if (request.method == "GET" && key.empty()) {  // ListObjectsV2
    if (QueryValue(query, "list-type") != "2") {
      S3Error(400, "InvalidArgument", "only list-type=2", &resp);
      return resp;
    }
    std::string prefix = QueryValue(query, "prefix");
    std::string after = QueryValue(query, "continuation-token");
    std::vector<std::string> keys;
    for (const auto& [k, v] : objects) {
      if (StartsWith(k, prefix) && (after.empty() || k > after)) keys.push_back(k);
    }
    bool truncated = static_cast<int>(keys.size()) > page_size;
    if (truncated) keys.resize(static_cast<size_t>(page_size));
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Name>" +
                      Escape(bucket) + "</Name><Prefix>" + Escape(prefix) + "</Prefix><KeyCount>" +
                      std::to_string(keys.size()) + "</KeyCount><IsTruncated>" +
                      (truncated ? "true" : "false") + "</IsTruncated>";
    if (truncated) xml += "<NextContinuationToken>" + Escape(keys.back()) + "</NextContinuationToken>";
    for (const std::string& k : keys) {
      xml += "<Contents><Key>" + Escape(k) + "</Key><LastModified>2024-01-01T00:00:00.000Z"
             "</LastModified><ETag>" + Escape(ObjectEtag(objects[k])) + "</ETag><Size>" +
             std::to_string(objects[k].size()) + "</Size></Contents>";
    }
    xml += "</ListBucketResult>";
    resp.body = xml;
    return resp;
  }
  if (request.method == "POST" && has_uploads) {
    std::string id = "upload-" + std::to_string(next_upload_++) + "+/=";
    uploads_[id] = Upload{bucket, key, {}};
    resp.body = "<InitiateMultipartUploadResult><Bucket>" + Escape(bucket) + "</Bucket><Key>" +
                Escape(key) + "</Key><UploadId>" + Escape(id) + "</UploadId>"
                "</InitiateMultipartUploadResult>";
    return resp;
  }
  if (request.method == "PUT" && has_part) {
    auto up = uploads_.find(upload_id);
    if (up == uploads_.end()) {
      S3Error(404, "NoSuchUpload", "The specified upload does not exist", &resp);
      return resp;
    }
    up->second.parts[std::atoi(part.c_str())] = request.body;
    resp.headers.emplace_back("ETag", ObjectEtag(request.body));
    return resp;
  }
  if (request.method == "POST" && has_upload_id) {
    auto up = uploads_.find(upload_id);
    if (up == uploads_.end()) {
      S3Error(404, "NoSuchUpload", "The specified upload does not exist", &resp);
      return resp;
    }
    std::string data;
    int count = 0;
    size_t pos = 0;
    while ((pos = request.body.find("<PartNumber>", pos)) != std::string::npos) {
      int number = std::atoi(request.body.c_str() + pos + 12);
      size_t e1 = request.body.find("<ETag>", pos);
      size_t e2 = request.body.find("</ETag>", e1);
      std::string etag = Unescape(request.body.substr(e1 + 6, e2 - e1 - 6));
      auto p = up->second.parts.find(number);
      if (p == up->second.parts.end() || ObjectEtag(p->second) != etag) {
        S3Error(400, "InvalidPart", "A part was not found or its ETag differs", &resp);
        return resp;
      }
      data += p->second;
      ++count;
      pos = e2;
    }
    objects[key] = data;
    uploads_.erase(up);
    std::string etag = "\"" + Sha256Hex(data).substr(0, 32) + "-" + std::to_string(count) + "\"";
    resp.body = "<CompleteMultipartUploadResult><Key>" + Escape(key) + "</Key><ETag>" +
                Escape(etag) + "</ETag></CompleteMultipartUploadResult>";
    return resp;
  }
  if (request.method == "DELETE" && has_upload_id) {
    uploads_.erase(upload_id);
    resp.status = 204;
    return resp;
  }
  if (request.method == "PUT") {
    objects[key] = request.body;
    resp.headers.emplace_back("ETag", ObjectEtag(request.body));
    return resp;
  }
  if (request.method == "DELETE") {
    objects.erase(key);
    resp.status = 204;
    return resp;
  }
  if (request.method == "GET" || request.method == "HEAD") {
    auto o = objects.find(key);
    if (o == objects.end()) {
      S3Error(404, "NoSuchKey", "The specified key does not exist.", &resp);
      if (request.method == "HEAD") resp.body.clear();
      return resp;
    }
    std::string etag = ObjectEtag(o->second);
    resp.headers.emplace_back("ETag", etag);
    resp.headers.emplace_back("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT");
    if (request.Header("if-none-match") == etag) {
      resp.status = 304;
      return resp;
    }
    resp.body = o->second;
    return resp;
  }
  S3Error(405, "MethodNotAllowed", "not supported by the fake", &resp);
  return resp;
}

// --- small helpers -----------------------------------------------------------------------------

TempDir::TempDir() {
  path_ = std::filesystem::path("/tmp") / ("weir-fetch-test-" + NewUuid());
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace weir::fetch::testing
