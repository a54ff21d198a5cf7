#include "client/http_client.h"

#include <curl/curl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>

#include "common/strings.h"

namespace weir::client {

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t WriteToString(char* p, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(p, size * n);
  return size * n;
}

struct DownloadSink {
  std::FILE* file = nullptr;
  std::string* error_body = nullptr;
  long status = 0;
  CURL* curl = nullptr;
  bool decided = false;
  bool to_file = false;
};

size_t WriteDownload(char* p, size_t size, size_t n, void* user) {
  auto* s = static_cast<DownloadSink*>(user);
  if (!s->decided) {
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
    s->to_file = s->status >= 200 && s->status < 300;
    s->decided = true;
  }
  if (s->to_file) return std::fwrite(p, size, n, s->file) * size;
  s->error_body->append(p, size * n);
  return size * n;
}

size_t HeaderCallback(char* p, size_t size, size_t n, void* user) {
  auto* headers = static_cast<Headers*>(user);
  std::string_view line(p, size * n);
  if (StartsWith(line, "HTTP/")) {
    headers->clear();  // a new response (after 100-continue or a redirect)
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    headers->emplace_back(ToLower(Trim(line.substr(0, colon))),
                          std::string(Trim(line.substr(colon + 1))));
  }
  return size * n;
}

}  // namespace

std::optional<std::string> Response::Header(std::string_view name) const {
  std::string lower = ToLower(name);
  for (const auto& [k, v] : headers) {
    if (k == lower) return v;
  }
  return std::nullopt;
}

struct HttpClient::Impl {
  CURL* curl = nullptr;
};

HttpClient::HttpClient(std::string base_url, std::chrono::milliseconds timeout)
    : HttpClient(std::move(base_url), ClientOptions{}, timeout) {}

HttpClient::HttpClient(std::string base_url, ClientOptions options,
                       std::chrono::milliseconds timeout)
    : base_url_(std::move(base_url)),
      options_(std::move(options)),
      timeout_(timeout),
      impl_(std::make_unique<Impl>()) {
  GlobalInit();
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  impl_->curl = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (impl_->curl) curl_easy_cleanup(impl_->curl);
}

namespace {

// Sets the options common to every request and performs it.
Result<Response> Perform(CURL* curl, const std::string& url, std::string_view method,
                         const Result<Headers>& headers_or, const ClientOptions& options,
                         std::chrono::milliseconds timeout, const std::string& base_url,
                         Response& resp, const std::function<void(CURL*)>& body_setup) {
  if (!headers_or.ok()) return headers_or.status();
  const Headers& headers = *headers_or;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  char error_text[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.client_cert.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, options.client_cert.c_str());
  }
  if (!options.client_key.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLKEY, options.client_key.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(
      curl, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(options.connect_timeout.count() > 0 ? options.connect_timeout.count()
                                                            : 10000));
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, HeaderCallback);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &resp.headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp.body);
  std::string m(method);
  if (m == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (m == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, m.c_str());
  }
  struct curl_slist* list = nullptr;
  bool has_expect = false;
  for (const auto& [k, v] : headers) {
    if (ToLower(k) == "expect") has_expect = true;
    list = curl_slist_append(list, (k + ": " + v).c_str());
  }
  if (!has_expect) list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  if (body_setup) body_setup(curl);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);  // error_text goes out of scope
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    std::string msg =
        "server " + base_url + ": " + (*error_text ? error_text : curl_easy_strerror(rc));
    if (rc == CURLE_COULDNT_CONNECT) {
      return Unavailable(msg + "; is `weir server` running there? (set --server or WEIR_SERVER)");
    }
    if (rc == CURLE_PEER_FAILED_VERIFICATION) {
      return Unavailable(msg +
                         "; to trust the CA that signed the server's certificate, pass --cacert "
                         "FILE (or set WEIR_CACERT)");
    }
    if ((rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR) && options.client_cert.empty() &&
        base_url.rfind("https:", 0) == 0) {
      return Unavailable(msg +
                         "; if the server requires a client certificate, pass --client-cert "
                         "FILE and --client-key FILE");
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) return DeadlineExceeded(msg);
    return Unavailable(msg);
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  resp.status = static_cast<int>(status);
  return resp;
}

}  // namespace

Result<Response> HttpClient::Request(std::string_view method, std::string_view path,
                                     std::string_view body, const Headers& headers) {
  Response resp;
  std::string b(body);
  bool send_body = !(method == "GET" || method == "HEAD") || !body.empty();
  return Perform(impl_->curl, base_url_ + std::string(path), method, WithCredentials(headers),
                 options_, timeout_, base_url_, resp, [&](CURL* c) {
                   if (send_body) {
                     curl_easy_setopt(c, CURLOPT_POSTFIELDS, b.data());
                     curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                      static_cast<curl_off_t>(b.size()));
                   }
                 });
}

namespace {
size_t ReadFromFile(char* p, size_t size, size_t n, void* user) {
  return std::fread(p, 1, size * n, static_cast<std::FILE*>(user));
}
}  // namespace

Result<Response> HttpClient::UploadFile(std::string_view method, std::string_view path,
                                        const std::filesystem::path& file, const Headers& headers) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) return ErrnoStatus("upload " + file.string(), errno);
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  Response resp;
  auto r = Perform(impl_->curl, base_url_ + std::string(path), method, WithCredentials(headers),
                   options_, timeout_, base_url_, resp, [&](CURL* c) {
                     curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
                     curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadFromFile);
                     curl_easy_setopt(c, CURLOPT_READDATA, f);
                     curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                                      static_cast<curl_off_t>(ec ? 0 : size));
                   });
  std::fclose(f);
  return r;
}

Result<Response> HttpClient::PostMultipart(std::string_view path, const std::vector<Part>& parts) {
  Response resp;
  curl_mime* mime = curl_mime_init(impl_->curl);
  for (const auto& p : parts) {
    curl_mimepart* part = curl_mime_addpart(mime);
    curl_mime_name(part, p.name.c_str());
    if (!p.file.empty()) {
      curl_mime_filedata(part, p.file.c_str());
    } else {
      curl_mime_data(part, p.data.data(), p.data.size());
    }
    if (!p.filename.empty()) curl_mime_filename(part, p.filename.c_str());
    if (!p.content_type.empty()) curl_mime_type(part, p.content_type.c_str());
  }
  auto r = Perform(impl_->curl, base_url_ + std::string(path), "POST", WithCredentials({}),
                   options_, timeout_, base_url_, resp,
                   [&](CURL* c) { curl_easy_setopt(c, CURLOPT_MIMEPOST, mime); });
  curl_mime_free(mime);
  return r;
}

Result<Response> HttpClient::Download(std::string_view path, const std::filesystem::path& dest,
                                      const Headers& headers) {
  std::filesystem::path tmp = dest;
  tmp += ".part";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return ErrnoStatus("download to " + dest.string(), errno);
  Response resp;
  DownloadSink sink;
  sink.file = f;
  sink.error_body = &resp.body;
  sink.curl = impl_->curl;
  auto r = Perform(impl_->curl, base_url_ + std::string(path), "GET", WithCredentials(headers),
                   options_, timeout_, base_url_, resp, [&](CURL* c) {
                     curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteDownload);
                     curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
                   });
  bool ok = std::fclose(f) == 0;
  if (r.ok() && r->status >= 200 && r->status < 300 && ok) {
    std::error_code ec;
    std::filesystem::rename(tmp, dest, ec);
    if (ec) return ErrnoStatus("download to " + dest.string(), ec.value());
  } else {
    std::filesystem::remove(tmp);
  }
  return r;
}

void StreamCancel::Cancel() {
  cancelled_.store(true);
  std::lock_guard lock(mu_);
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

namespace {

struct StreamSink {
  const std::function<bool(std::string_view)>* on_data = nullptr;
  std::string* error_body = nullptr;
  StreamCancel* cancel = nullptr;
  CURL* curl = nullptr;
  bool stopped = false;
};

size_t WriteStream(char* p, size_t size, size_t n, void* user) {
  auto* sink = static_cast<StreamSink*>(user);
  if (sink->cancel && sink->cancel->cancelled()) {
    sink->stopped = true;
    return 0;
  }
  long status = 0;
  curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300) {
    sink->error_body->append(p, size * n);
    return size * n;
  }
  if (!(*sink->on_data)(std::string_view(p, size * n))) {
    sink->stopped = true;
    return 0;
  }
  return size * n;
}

curl_socket_t OpenStreamSocket(void* user, curlsocktype, struct curl_sockaddr* addr) {
  auto* cancel = static_cast<StreamCancel*>(user);
  if (cancel->cancelled()) return CURL_SOCKET_BAD;
  curl_socket_t fd = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  std::lock_guard lock(cancel->mu_);
  cancel->fd_ = fd;
  if (cancel->cancelled()) ::shutdown(fd, SHUT_RDWR);
  return fd;
}

int CloseStreamSocket(void* user, curl_socket_t fd) {
  auto* cancel = static_cast<StreamCancel*>(user);
  std::lock_guard lock(cancel->mu_);
  if (cancel->fd_ == fd) cancel->fd_ = -1;
  return ::close(fd);
}

}  // namespace

Result<Response> HttpClient::StreamGet(std::string_view path, const Headers& headers,
                                       const std::function<bool(std::string_view)>& on_data,
                                       StreamCancel* cancel) {
  Response resp;
  StreamSink sink;
  sink.on_data = &on_data;
  sink.error_body = &resp.body;
  sink.cancel = cancel;
  sink.curl = impl_->curl;
  auto r = Perform(impl_->curl, base_url_ + std::string(path), "GET", WithCredentials(headers),
                   options_, std::chrono::milliseconds(0), base_url_, resp, [&](CURL* c) {
                     curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteStream);
                     curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
                     if (cancel) {
                       curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, OpenStreamSocket);
                       curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, cancel);
                       curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, CloseStreamSocket);
                       curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, cancel);
                       // The connection is not reused: its close must reach CloseStreamSocket
                       // while `cancel` lives.
                       curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
                     }
                   });
  if (!r.ok() && (sink.stopped || (cancel && cancel->cancelled()))) {
    long status = 0;
    curl_easy_getinfo(impl_->curl, CURLINFO_RESPONSE_CODE, &status);
    resp.status = static_cast<int>(status);
    return resp;
  }
  return r;
}

Result<std::string> ReadTokenFile(const std::filesystem::path& file) {
  const std::string name = "token file " + file.string();
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return ErrnoStatus(name, errno);
  if (!S_ISREG(st.st_mode)) return InvalidArgument(name + ": not a regular file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return PermissionDenied(name + ": readable or writable by group or others (mode " + mode +
                            "); make it private with chmod 600 " + file.string());
  }
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return ErrnoStatus(name, errno);
  std::string token(Trim(text));
  if (token.empty()) return InvalidArgument(name + ": empty; it should hold the bearer token");
  return token;
}

Result<Headers> HttpClient::WithCredentials(const Headers& headers) {
  if (options_.bearer_token.empty() && !options_.token_file.empty()) {
    auto token = ReadTokenFile(options_.token_file);
    if (!token.ok()) return token.status();
    options_.bearer_token = std::move(*token);
  }
  if (options_.bearer_token.empty()) return headers;
  for (char c : options_.bearer_token) {
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) {
      return InvalidArgument(
          "bearer token: holds spaces or control characters; give the token alone (--token, "
          "WEIR_TOKEN or the token file)");
    }
  }
  for (const auto& [k, v] : headers) {
    if (ToLower(k) == "authorization") return headers;
  }
  Headers out = headers;
  out.emplace_back("Authorization", "Bearer " + options_.bearer_token);
  return out;
}

Status ToStatus(const Response& r) {
  if (r.status >= 200 && r.status < 300) return Status::Ok();
  std::string message = "HTTP " + std::to_string(r.status);
  boost::system::error_code ec;
  auto doc = boost::json::parse(r.body, ec);
  if (!ec && doc.is_object()) {
    if (auto* m = doc.as_object().if_contains("message"); m && m->is_string()) {
      message = std::string(m->as_string());
    }
  } else if (!r.body.empty() && r.body.size() < 300) {
    message += ": " + std::string(Trim(r.body));
  }
  switch (r.status) {
    case 401:
      return Unauthenticated(message);
    case 404:
      return NotFound(message);
    case 409:
      return AlreadyExists(message);
    case 412:
      return FailedPrecondition(message);
    case 429:
      return ResourceExhausted(message);
    case 403:
      return PermissionDenied(message);
    case 408:
      return DeadlineExceeded(message);
    case 413:  // too large: the same request would be refused again
      return InvalidArgument(message);
    case 503:
      return Unavailable(message);
    case 507:
      return OutOfSpace(message);
    default:
      break;
  }
  if (r.status >= 400 && r.status < 500) return InvalidArgument(message);
  return Internal(message);
}

std::string UrlEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace weir::client
