// HttpClient: a small blocking HTTP/1.1 client (libcurl) used by the CLI and the tests.
//
// One client keeps one connection alive to one server (base URL such as
// "http://127.0.0.1:8080" or "https://weir.example.com"), with the credentials and TLS trust of
// its ClientOptions. Not thread-safe: use one client per thread. Transport failures
// (connection refused, timeout) are kUnavailable / kDeadlineExceeded with a message naming the
// server; any HTTP status is a successful Result — use ToStatus() to turn a weir/Genie error body
// into a Status.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace weir::client {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  int status = 0;
  Headers headers;  // names lower case
  std::string body;
  std::optional<std::string> Header(std::string_view name) const;
};

// One part of a multipart/form-data body: inline bytes or a file streamed from disk.
struct Part {
  std::string name;          // form field name, e.g. "request" or "attachment"
  std::string filename;      // empty: a plain field
  std::string content_type;  // e.g. "application/json"
  std::string data;          // used when `file` is empty
  std::filesystem::path file;
};

// Credentials and TLS trust for every request of a client.
struct ClientOptions {
  // Sent as `Authorization: Bearer <token>` (unless the request sets Authorization itself).
  // Never part of an error message.
  std::string bearer_token;
  // Used when bearer_token is empty: the token is the file's content without surrounding
  // whitespace, read at the first request. A file readable by group or others, missing or empty
  // fails every request with a Status naming the file (never its content).
  std::filesystem::path token_file;
  // PEM CA certificates trusted for https:// servers instead of the system's store.
  std::filesystem::path ca_file;
  // PEM client certificate and key for servers that require one (mutual TLS).
  std::filesystem::path client_cert;
  std::filesystem::path client_key;
  // How long a connection may take to open; 0: 10 s.
  std::chrono::milliseconds connect_timeout{0};
};

// Ends a StreamGet from another thread at once (its connection is shut down).
class StreamCancel {
 public:
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }

  // Internal to StreamGet.
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;  // orders Cancel()'s shutdown before the socket's close
  int fd_ = -1;    // GUARDED_BY(mu_)
};

// Reads a bearer token file under ClientOptions::token_file's rules.
Result<std::string> ReadTokenFile(const std::filesystem::path& file);

class HttpClient {
 public:
  explicit HttpClient(std::string base_url,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));
  HttpClient(std::string base_url, ClientOptions options,
             std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  const std::string& base_url() const { return base_url_; }
  // Replaces ClientOptions::bearer_token (sent as `Authorization: Bearer <token>` with every
  // request that carries no Authorization header of its own); "" falls back to the token file.
  void SetBearerToken(std::string token) { options_.bearer_token = std::move(token); }

  // `path` starts with '/' and may carry a query string (already encoded).
  Result<Response> Request(std::string_view method, std::string_view path,
                           std::string_view body = {}, const Headers& headers = {});
  Result<Response> Get(std::string_view path, const Headers& headers = {}) {
    return Request("GET", path, {}, headers);
  }
  Result<Response> Delete(std::string_view path) { return Request("DELETE", path); }
  Result<Response> PostJson(std::string_view path, std::string_view json) {
    return Request("POST", path, json, {{"Content-Type", "application/json"}});
  }
  Result<Response> PutJson(std::string_view path, std::string_view json) {
    return Request("PUT", path, json, {{"Content-Type", "application/json"}});
  }
  Result<Response> PatchJson(std::string_view path, std::string_view json) {
    return Request("PATCH", path, json, {{"Content-Type", "application/json"}});
  }
  // Uploads a file as the request body, streamed from disk.
  Result<Response> UploadFile(std::string_view method, std::string_view path,
                              const std::filesystem::path& file, const Headers& headers = {});
  Result<Response> PostMultipart(std::string_view path, const std::vector<Part>& parts);
  // GET whose 2xx body is streamed into `dest` (written to a temp file, renamed when complete);
  // a non-2xx body is returned in Response::body instead.
  Result<Response> Download(std::string_view path, const std::filesystem::path& dest,
                            const Headers& headers = {});
  // GET whose 2xx body is handed to `on_data` piece by piece as it arrives (Server-Sent
  // Events), without the client's overall timeout. Returns when the server ends the body,
  // when `on_data` returns false or when `cancel` is cancelled (then OK with the status seen).
  // A non-2xx body is returned in Response::body instead.
  Result<Response> StreamGet(std::string_view path, const Headers& headers,
                             const std::function<bool(std::string_view)>& on_data,
                             StreamCancel* cancel = nullptr);
  const ClientOptions& options() const { return options_; }

 private:
  struct Impl;
  // The headers of every request, or why they cannot be made (an unusable token file).
  Result<Headers> WithCredentials(const Headers& headers);

  std::string base_url_;
  ClientOptions options_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Impl> impl_;
};

// OK for 2xx; otherwise a Status whose code follows the HTTP status (401 → kUnauthenticated,
// 404 → kNotFound, 409 →
// kAlreadyExists, 412 → kFailedPrecondition, 429 → kResourceExhausted, 503 → kUnavailable,
// 507 → kOutOfSpace, other 4xx → kInvalidArgument, 5xx → kInternal) and whose message is the body's
// "message" field when the body is a weir/Genie error document, else the status line.
Status ToStatus(const Response& r);

// Percent-encodes one query or path component.
std::string UrlEncode(std::string_view s);

}  // namespace weir::client
