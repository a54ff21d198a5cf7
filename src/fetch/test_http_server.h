// Test helpers for the fetch module: a small threaded HTTP/1.1 server on 127.0.0.1 (port 0) whose
// answers the test scripts, a static resource with switches (omit ETag / Last-Modified, honour or
// ignore conditional requests, cut a body midway, stall, delay) and request counters, and a fake
// S3 endpoint that checks each request's SigV4 Authorization header against the bytes it
// received. One connection per request ("Connection: close"). Test-only code.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace weir::fetch::testing {

struct TestRequest {
  std::string method;
  std::string target;  // as on the request line: raw path and query
  std::string path;    // raw (encoded) path
  std::string query;   // raw, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string Header(const std::string& name) const;
};

struct TestResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int64_t cut_after = -1;        // close the connection after this many body bytes
  Millis delay{0};               // wait before answering at all
  Millis stall_after_headers{0}; // wait between the headers and the body
};

using Handler = std::function<TestResponse(const TestRequest&)>;

class TestHttpServer {
 public:
  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& path) const;
  // Stops accepting, ends stalls and delays, closes open connections, joins every thread.
  void Stop();
  int64_t RequestCount() const { return request_count_.load(); }

 private:
  void AcceptLoop();
  void Serve(int fd);
  // Waits `d` or until Stop(); false when stopped.
  bool Wait(Millis d);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> request_count_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;  // GUARDED_BY(mu_)
  std::vector<int> open_fds_;         // GUARDED_BY(mu_)
};

// A file as a static web server serves it, with switches. Thread-safe.
class StaticResource {
 public:
  explicit StaticResource(std::string content);

  TestResponse Handle(const TestRequest& request);

  // Switches (set before or between fetches).
  void SetContent(std::string content);  // also changes the ETag and Last-Modified
  bool send_etag = true;
  bool send_last_modified = true;
  bool honour_conditionals = true;  // answer 304 when If-None-Match / If-Modified-Since match
  int64_t cut_after = -1;
  Millis delay{0};
  Millis stall_after_headers{0};
  int status = 200;  // anything else is answered with an empty body

  // Counters.
  int gets() const { return gets_.load(); }
  int heads() const { return heads_.load(); }
  int full_bodies() const { return full_bodies_.load(); }  // 200 answers to GET
  int not_modified() const { return not_modified_.load(); }
  int conditional_gets() const { return conditional_gets_.load(); }
  std::string etag() const;

 private:
  mutable std::mutex mu_;
  std::string content_;
  std::string etag_;
  std::string last_modified_;
  int version_ = 0;
  std::atomic<int> gets_{0}, heads_{0}, full_bodies_{0}, not_modified_{0}, conditional_gets_{0};
};

// An in-memory S3 endpoint for one access key. Path-style requests ("/bucket/key") and
// virtual-host ones ("Host: bucket.localhost:port") both work. Every request must carry a SigV4
// Authorization header whose credential scope, signed headers, payload hash and signature match
// what arrived; otherwise the answer is 403 SignatureDoesNotMatch and last_auth_error() says why.
// Supports PUT/GET/HEAD/DELETE object (GET honours If-None-Match), ListObjectsV2 (pages of
// page_size keys) and multipart upload. Thread-safe.
class FakeS3 {
 public:
  FakeS3(std::string access_key, std::string secret_key, std::string region);
  TestResponse Handle(const TestRequest& request);

  int page_size = 1000;
  std::string last_auth_error() const;
  int auth_failures() const { return auth_failures_.load(); }
  std::vector<std::string> methods_seen() const;  // "PUT ?partNumber" style, in order
  bool HasObject(const std::string& bucket, const std::string& key) const;
  std::string Object(const std::string& bucket, const std::string& key) const;
  void PutObject(const std::string& bucket, const std::string& key, std::string data);
  int open_uploads() const;

 private:
  std::string CheckAuth(const TestRequest& request) const;

  std::string access_key_;
  std::string secret_key_;
  std::string region_;
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> buckets_;  // bucket → key → bytes
  struct Upload {
    std::string bucket, key;
    std::map<int, std::string> parts;
  };
  std::map<std::string, Upload> uploads_;
  int next_upload_ = 1;
  std::string last_auth_error_;
  std::vector<std::string> methods_seen_;
  std::atomic<int> auth_failures_{0};
};

// A unique folder under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Reads a whole file ("" when missing).
std::string Slurp(const std::filesystem::path& path);
// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int ClosedPort();

}  // namespace weir::fetch::testing
