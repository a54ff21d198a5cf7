#include "fetch/http_client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "common/strings.h"

namespace weir::fetch {

namespace {

constexpr size_t kErrorBodyCap = 64 * 1024;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse response;
  int file_fd = -1;
  int write_errno = 0;
  // Request body source.
  int body_fd = -1;
  int64_t body_pos = 0;
  int64_t body_left = 0;
  int read_errno = 0;
  // The first connection refused by request->peer_check.
  Status refused;
};

curl_socket_t OnOpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  if (purpose == CURLSOCKTYPE_IPCXN && t->request->peer_check) {
    Status s = t->request->peer_check(&address->addr, address->addrlen);
    if (!s.ok()) {
      if (t->refused.ok()) t->refused = s;
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

size_t OnHeader(char* data, size_t size, size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * nitems;
  std::string_view line(data, len);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (StartsWith(line, "HTTP/")) {
    // A new response (interim 1xx, a followed redirect, or the final one): start over.
    t->response.headers.clear();
    t->response.body.clear();
    t->response.body_bytes = 0;
    t->response.reason.clear();
    t->response.status = 0;
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      std::string_view rest = line.substr(sp + 1);
      long long code = 0;
      ParseInt64(rest.substr(0, std::min<size_t>(3, rest.size())), &code);
      t->response.status = static_cast<int>(code);
      if (rest.size() > 4) t->response.reason = std::string(Trim(rest.substr(4)));
    }
    return len;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response.headers.emplace_back(ToLower(Trim(line.substr(0, colon))),
                                     std::string(Trim(line.substr(colon + 1))));
  }
  return len;
}

size_t OnWrite(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * nmemb;
  int status = t->response.status;
  bool to_file = status >= 200 && status < 300 && !t->request->response_file.empty();
  if (to_file) {
    if (t->file_fd < 0) {
      t->file_fd = ::open(t->request->response_file.c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (t->file_fd < 0) {
        t->write_errno = errno;
        return 0;  // makes curl stop with CURLE_WRITE_ERROR
      }
    }
    size_t off = 0;
    while (off < len) {
      ssize_t n = ::write(t->file_fd, data + off, len - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        t->write_errno = errno;
        return 0;
      }
      off += static_cast<size_t>(n);
    }
  } else {
    bool success = status >= 200 && status < 300;
    size_t room = success ? len : (kErrorBodyCap > t->response.body.size()
                                       ? kErrorBodyCap - t->response.body.size()
                                       : 0);
    t->response.body.append(data, std::min(len, room));
  }
  t->response.body_bytes += static_cast<int64_t>(len);
  return len;
}

size_t OnRead(char* buffer, size_t size, size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t want = std::min<int64_t>(static_cast<int64_t>(size * nitems), t->body_left);
  if (want == 0) return 0;
  if (t->body_fd >= 0) {
    ssize_t n;
    do {
      n = ::pread(t->body_fd, buffer, want, t->body_pos);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      t->read_errno = errno;
      return CURL_READFUNC_ABORT;
    }
    if (n == 0) {
      t->read_errno = EIO;  // the file shrank under us
      return CURL_READFUNC_ABORT;
    }
    t->body_pos += n;
    t->body_left -= n;
    return static_cast<size_t>(n);
  }
  std::memcpy(buffer, t->request->body.data() + t->body_pos, want);
  t->body_pos += static_cast<int64_t>(want);
  t->body_left -= static_cast<int64_t>(want);
  return want;
}

std::string Seconds(Millis ms) {
  long long tenths = (ms.count() + 50) / 100;
  if (tenths % 10 == 0) return std::to_string(tenths / 10) + " s";
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
}

long CeilSeconds(Millis ms) { return std::max<long>(1, static_cast<long>((ms.count() + 999) / 1000)); }

Status TransportError(CURLcode code, CURL* curl, const char* errbuf, const Transfer& t,
                      const HttpRequest& request, const HttpOptions& options) {
  std::string detail = errbuf[0] ? std::string(errbuf) : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_CONNECT: {
      long os_errno = 0;
      curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
      if (os_errno == ECONNREFUSED) return Unavailable("connection refused");
      return Unavailable("could not connect: " + detail);
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Unavailable(detail);
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t connect_us = 0;
      curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_us);
      if (connect_us == 0) {
        return DeadlineExceeded("timed out after " + Seconds(options.connect_timeout) +
                                " connecting");
      }
      curl_off_t total_us = 0;
      curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &total_us);
      if (options.total_timeout.count() > 0 && total_us / 1000 >= options.total_timeout.count()) {
        return DeadlineExceeded("timed out after " + Seconds(options.total_timeout) +
                                " (limit for the whole transfer)");
      }
      return DeadlineExceeded("timed out after " + Seconds(Millis(CeilSeconds(options.low_speed_timeout) * 1000)) +
                              " without data");
    }
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING: {
      std::string length = t.response.Header("content-length");
      std::string got = std::to_string(t.response.body_bytes);
      if (code == CURLE_GOT_NOTHING) return Unavailable("connection closed with no response");
      if (!length.empty()) {
        return Unavailable("connection closed after " + got + " of " + length + " bytes");
      }
      return Unavailable("connection closed after " + got + " bytes: " + detail);
    }
    case CURLE_TOO_MANY_REDIRECTS:
      return FailedPrecondition("more than " + std::to_string(options.max_redirects) +
                                " redirects");
    case CURLE_UNSUPPORTED_PROTOCOL:
      return FailedPrecondition("unsupported protocol (only http and https are followed): " +
                                detail);
    case CURLE_WRITE_ERROR:
      if (t.write_errno != 0) {
        return ErrnoStatus("write '" + request.response_file.string() + "'", t.write_errno);
      }
      return Internal("write: " + detail);
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_READ_ERROR:
      if (t.read_errno != 0) {
        return ErrnoStatus("read '" + request.body_file.string() + "'", t.read_errno);
      }
      return Internal("read: " + detail);
    default:
      return Unavailable(detail);
  }
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  std::string key = ToLower(name);
  for (const auto& [n, v] : headers) {
    if (n == key) return v;
  }
  return "";
}

bool HttpResponse::HasHeader(std::string_view name) const {
  std::string key = ToLower(name);
  for (const auto& [n, v] : headers) {
    if (n == key) return true;
  }
  return false;
}

std::string_view StandardReason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

Status HttpStatusError(int status, std::string_view reason, std::string_view detail) {
  std::string m = "HTTP " + std::to_string(status);
  std::string_view phrase = reason.empty() ? StandardReason(status) : reason;
  if (!phrase.empty()) m += " " + std::string(phrase);
  if (!detail.empty()) m += " (" + std::string(detail) + ")";
  if (status == 404 || status == 410) return NotFound(std::move(m));
  if (status == 401 || status == 403) return PermissionDenied(std::move(m));
  if (status == 408 || status == 429 || status >= 500) return Unavailable(std::move(m));
  if (status == 400) return InvalidArgument(std::move(m));
  return FailedPrecondition(std::move(m));
}

Result<HttpResponse> Perform(const HttpRequest& request, const HttpOptions& options) {
  GlobalInitOnce();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Internal("curl: could not create a handle");
  Transfer t;
  t.request = &request;
  char errbuf[CURL_ERROR_SIZE];
  errbuf[0] = '\0';

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // Send the path exactly as given: S3 keys may contain "/./" or "/../", and the signature
  // covers the path as written.
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options.low_speed_bytes));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, CeilSeconds(options.low_speed_timeout));
  if (options.total_timeout.count() > 0) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
  }
  if (!options.user_agent.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERAGENT, options.user_agent.c_str());
  }
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  if (request.peer_check) {
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, OnOpenSocket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &t);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
  }

  bool has_body_method = request.method == "PUT" || request.method == "POST";
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (has_body_method) {
    if (!request.body_file.empty()) {
      t.body_fd = ::open(request.body_file.c_str(), O_RDONLY | O_CLOEXEC);
      if (t.body_fd < 0) {
        int err = errno;
        curl_easy_cleanup(curl);
        return ErrnoStatus("read '" + request.body_file.string() + "'", err);
      }
      t.body_pos = request.body_offset;
      if (request.body_length >= 0) {
        t.body_left = request.body_length;
      } else {
        off_t end = ::lseek(t.body_fd, 0, SEEK_END);
        t.body_left = end > request.body_offset ? end - request.body_offset : 0;
      }
    } else {
      t.body_left = static_cast<int64_t>(request.body.size());
    }
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(t.body_left));
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    if (request.method != "PUT") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  // No "Expect: 100-continue" round trip before uploads.
  if (has_body_method) headers = curl_slist_append(headers, "Expect:");
  if (headers != nullptr) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode code = curl_easy_perform(curl);
  Status result;
  if (code == CURLE_COULDNT_CONNECT && !t.refused.ok()) {
    result = t.refused;
  } else if (code != CURLE_OK) {
    result = TransportError(code, curl, errbuf, t, request, options);
  } else if (t.response.status >= 200 && t.response.status < 300 &&
             !request.response_file.empty()) {
    if (t.file_fd < 0) {  // an empty body still makes a (empty) file
      t.file_fd = ::open(request.response_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                         0644);
      if (t.file_fd < 0) result = ErrnoStatus("write '" + request.response_file.string() + "'", errno);
    }
    if (t.file_fd >= 0 && ::fsync(t.file_fd) != 0) {
      result = ErrnoStatus("fsync '" + request.response_file.string() + "'", errno);
    }
  }
  if (t.file_fd >= 0 && ::close(t.file_fd) != 0 && result.ok()) {
    result = ErrnoStatus("close '" + request.response_file.string() + "'", errno);
  }
  if (t.body_fd >= 0) ::close(t.body_fd);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (!result.ok()) return result;
  if (t.response.reason.empty()) t.response.reason = std::string(StandardReason(t.response.status));
  return std::move(t.response);
}

}  // namespace weir::fetch
