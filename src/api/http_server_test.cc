// Tests of the HTTP layer: the router, URL decoding, the error mapping, and a real HttpServer on
// port 0 spoken to over real sockets (libcurl for well-formed requests, raw sockets for
// malformed or interrupted ones).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "api/http.h"
#include "api/testing/test_certs.h"
#include "client/http_client.h"
#include "common/ids.h"

namespace weir::api {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

HttpResponse Text(std::string body) {
  return HttpResponse::Json(200, std::move(body), "text/plain");
}

// ---- Router ----

TEST(RouterTest, MatchesLiteralsParamsAndTails) {
  Router r;
  r.Add("GET", "/api/v3/jobs", [](HttpRequest&) { return Text("list"); });
  r.Add("GET", "/api/v3/jobs/{id}", [](HttpRequest&) { return Text("one"); });
  r.Add("GET", "/api/v3/jobs/{id}/output/{path*}", [](HttpRequest&) { return Text("out"); });

  auto m = r.Find("GET", "/api/v3/jobs/j1");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params.at("id"), "j1");

  m = r.Find("GET", "/api/v3/jobs/j1/output/a/b/c.txt");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params.at("id"), "j1");
  EXPECT_EQ(m.params.at("path"), "a/b/c.txt");

  m = r.Find("GET", "/api/v3/jobs/j1/output");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params.at("path"), "");

  m = r.Find("GET", "/api/v3/jobs/j1/output/");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params.at("path"), "");

  EXPECT_EQ(r.Find("GET", "/api/v3/nothing").handler, nullptr);
  EXPECT_FALSE(r.Find("GET", "/api/v3/nothing").method_mismatch);
}

TEST(RouterTest, OtherMethodIsAMismatchNotAMiss) {
  Router r;
  r.Add("GET", "/a/{id}", [](HttpRequest&) { return Text("x"); });
  auto m = r.Find("DELETE", "/a/1");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_TRUE(m.method_mismatch);
}

TEST(RouterTest, MostLiteralPatternWins) {
  Router r;
  int hit = 0;
  r.Add("GET", "/jobs/{id}/{rest*}", [&](HttpRequest&) { hit = 1; return Text(""); });
  r.Add("GET", "/jobs/{id}/status", [&](HttpRequest&) { hit = 2; return Text(""); });
  r.Add("GET", "/jobs/{id}/{what}", [&](HttpRequest&) { hit = 3; return Text(""); });
  HttpRequest req;
  auto m = r.Find("GET", "/jobs/x/status");
  ASSERT_NE(m.handler, nullptr);
  (*m.handler)(req);
  EXPECT_EQ(hit, 2);
  m = r.Find("GET", "/jobs/x/other");
  (*m.handler)(req);
  EXPECT_EQ(hit, 3);
  m = r.Find("GET", "/jobs/x/a/b");
  (*m.handler)(req);
  EXPECT_EQ(hit, 1);
}

TEST(RouterTest, TrailingSlashIsIgnoredAndEmptyParamsDoNotMatch) {
  Router r;
  r.Add("GET", "/api/v3/applications", [](HttpRequest&) { return Text(""); });
  r.Add("GET", "/api/v3/applications/{id}", [](HttpRequest&) { return Text(""); });
  EXPECT_NE(r.Find("GET", "/api/v3/applications/").handler, nullptr);
  EXPECT_TRUE(r.Find("GET", "/api/v3/applications/").params.empty());
  EXPECT_EQ(r.Find("GET", "/api/v3//x").handler, nullptr);
}

TEST(RouterTest, EncodedSlashStaysInItsSegment) {
  Router r;
  r.Add("DELETE", "/apps/{id}/tags/{tag}", [](HttpRequest&) { return Text(""); });
  HttpRequest req;
  std::vector<std::string> segs;
  ASSERT_TRUE(ParseTarget("/apps/a1/tags/team%2Fdata", req, segs).ok());
  auto m = r.FindSegments("DELETE", segs);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params.at("tag"), "team/data");
  EXPECT_EQ(req.path, "/apps/a1/tags/team/data");
}

// ---- URL decoding ----

TEST(ParseTargetTest, DecodesPathAndQuery) {
  HttpRequest req;
  std::vector<std::string> segs;
  ASSERT_TRUE(
      ParseTarget("/api/v3/a%20b?name=spark%25&tag=a+b&tag=c%2Bd&empty=&flag", req, segs).ok());
  EXPECT_EQ(req.path, "/api/v3/a b");
  EXPECT_EQ(req.target, "/api/v3/a%20b?name=spark%25&tag=a+b&tag=c%2Bd&empty=&flag");
  EXPECT_EQ(req.Query("name"), "spark%");
  EXPECT_THAT(req.QueryAll("tag"), ::testing::ElementsAre("a b", "c+d"));
  EXPECT_EQ(req.Query("empty"), "");
  EXPECT_EQ(req.Query("flag"), "");
  EXPECT_EQ(req.Query("missing"), std::nullopt);
  EXPECT_THAT(segs, ::testing::ElementsAre("api", "v3", "a b"));
}

TEST(ParseTargetTest, PlusInPathIsLiteral) {
  HttpRequest req;
  std::vector<std::string> segs;
  ASSERT_TRUE(ParseTarget("/x/a+b", req, segs).ok());
  EXPECT_EQ(req.path, "/x/a+b");
}

TEST(ParseTargetTest, RejectsBadEscapesAndRelativeTargets) {
  HttpRequest req;
  std::vector<std::string> segs;
  EXPECT_EQ(ParseTarget("/x/%zz", req, segs).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTarget("/x?a=%4", req, segs).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTarget("/x/%", req, segs).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTarget("http://host/x", req, segs).code(), StatusCode::kInvalidArgument);
}

TEST(PercentEncodeTest, RoundTrips) {
  std::string raw = "a b/c:d%é";
  std::string enc = PercentEncode(raw);
  EXPECT_EQ(enc, "a%20b%2Fc%3Ad%25%C3%A9");
  EXPECT_EQ(PercentEncode(raw, ":"), "a%20b%2Fc:d%25%C3%A9");
  EXPECT_EQ(*PercentDecode(enc, false), raw);
}

// ---- errors and request views ----

TEST(ErrorsTest, StatusMapping) {
  EXPECT_EQ(HttpStatusFor(InvalidArgument("x")), 400);
  EXPECT_EQ(HttpStatusFor(NotFound("x")), 404);
  EXPECT_EQ(HttpStatusFor(DeadlineExceeded("x")), 408);
  EXPECT_EQ(HttpStatusFor(AlreadyExists("x")), 409);
  EXPECT_EQ(HttpStatusFor(FailedPrecondition("x")), 412);
  EXPECT_EQ(HttpStatusFor(ResourceExhausted("x")), 429);
  EXPECT_EQ(HttpStatusFor(PermissionDenied("x")), 403);
  EXPECT_EQ(HttpStatusFor(Unavailable("x")), 503);
  EXPECT_EQ(HttpStatusFor(Unimplemented("x")), 501);
  EXPECT_EQ(HttpStatusFor(Internal("x")), 500);
  EXPECT_EQ(HttpStatusFor(Aborted("x")), 500);
}

TEST(ErrorsTest, GenieErrorBody) {
  HttpRequest req;
  req.path = "/api/v3/jobs/x";
  HttpResponse r = ErrorResponse(NotFound("job 'x': not found"), req);
  EXPECT_EQ(r.status, 404);
  ASSERT_FALSE(r.headers.empty());
  EXPECT_EQ(r.headers[0].second, "application/json");
  auto v = boost::json::parse(r.body).as_object();
  EXPECT_EQ(v.at("status").as_int64(), 404);
  EXPECT_EQ(v.at("error").as_string(), "Not Found");
  EXPECT_EQ(v.at("message").as_string(), "job 'x': not found");
  EXPECT_EQ(v.at("path").as_string(), "/api/v3/jobs/x");
  std::string ts(v.at("timestamp").as_string());
  EXPECT_EQ(ts.size(), 24u) << ts;  // 2021-02-01T19:22:39.455Z
  EXPECT_EQ(ts.back(), 'Z');
}

TEST(ErrorsTest, InvalidUtf8InMessageStillGivesValidJson) {
  HttpRequest req;
  req.path = "/x";
  HttpResponse r = ErrorResponse(400, "name: bad \xff\xfe value", req);
  EXPECT_NO_THROW(boost::json::parse(r.body));
}

HttpRequest WithHeaders(std::vector<std::pair<std::string, std::string>> h) {
  HttpRequest req;
  req.headers = std::move(h);
  req.peer_address = "10.0.0.9";
  return req;
}

TEST(BaseUrlTest, HostAndForwardedHeaders) {
  EXPECT_EQ(BaseUrl(WithHeaders({{"host", "genie.example.com"}})), "http://genie.example.com");
  EXPECT_EQ(BaseUrl(WithHeaders({{"host", "127.0.0.1:8080"}})), "http://127.0.0.1:8080");
  EXPECT_EQ(BaseUrl(WithHeaders({{"host", "[::1]:8080"}})), "http://[::1]:8080");
  EXPECT_EQ(BaseUrl(WithHeaders({{"host", "127.0.0.1:8080"},
                                 {"x-forwarded-proto", "https"},
                                 {"x-forwarded-host", "genie.example.com"}})),
            "https://genie.example.com");
  EXPECT_EQ(BaseUrl(WithHeaders({{"host", "internal:8080"},
                                 {"x-forwarded-host", "edge.example.com, proxy2"},
                                 {"x-forwarded-port", "8443"},
                                 {"x-forwarded-proto", "https"}})),
            "https://edge.example.com:8443");
  EXPECT_EQ(BaseUrl(WithHeaders({{"host", "internal:8080"}, {"x-forwarded-proto", "https"}})),
            "https://internal");
  EXPECT_EQ(BaseUrl(WithHeaders({{"host", "a.example.com:80"}})), "http://a.example.com");
  EXPECT_EQ(BaseUrl(WithHeaders({})), "http://localhost");
  // A hostile Host cannot inject text into links.
  EXPECT_EQ(BaseUrl(WithHeaders({{"host", "evil.com/\"><script>"}})), "http://localhost");
}

TEST(ClientHostTest, FirstForwardedForElsePeer) {
  EXPECT_EQ(ClientHost(WithHeaders({{"x-forwarded-for", "192.168.1.5, 10.0.0.1"}})),
            "192.168.1.5");
  EXPECT_EQ(ClientHost(WithHeaders({})), "10.0.0.9");
}

TEST(HttpRequestTest, HeaderLookupIsCaseInsensitive) {
  HttpRequest req = WithHeaders({{"content-type", "application/json"}});
  EXPECT_EQ(req.Header("Content-Type"), "application/json");
  EXPECT_EQ(req.Header("accept"), std::nullopt);
}

// ---- a real server ----

// Sends raw bytes and reads until the server closes the connection (or 5 s pass).
std::string RawExchange(uint16_t port, const std::string& request, bool half_close = false) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

int ConnectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

template <class Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("weir-http-test-" + NewUuid());
    fs::create_directories(dir_ / "spool");
    router_ = std::make_shared<Router>();
    router_->Add("GET", "/hello/{name}", [](HttpRequest& req) {
      std::string body = "hello " + req.Param("name");
      if (auto q = req.Query("greeting")) body += " " + *q;
      return Text(body);
    });
    router_->Add("POST", "/echo",
                 [](HttpRequest& req) { return Text(std::to_string(req.body.size()) + ":" + req.body); },
                 RouteOptions{1000, false});
    router_->Add(
        "PUT", "/spool",
        [this](HttpRequest& req) {
          ++spool_calls_;
          spooled_path_ = req.body_file;
          std::ifstream in(req.body_file, std::ios::binary);
          std::string content((std::istreambuf_iterator<char>(in)), {});
          return Text(std::to_string(content.size()) + ":" + (req.body.empty() ? "mem-empty" : "mem-full") +
                      ":" + (content.size() > 10 ? content.substr(0, 10) : content));
        },
        RouteOptions{64 << 20, true});
    router_->Add("GET", "/throw", [](HttpRequest&) -> HttpResponse {
      throw std::runtime_error("boom");
    });
    router_->Add("GET", "/file", [this](HttpRequest& req) {
      HttpResponse r;
      r.status = 200;
      r.SetHeader("Content-Type", "application/octet-stream");
      uint64_t size = fs::file_size(dir_ / "big.bin");
      FileBody fb{dir_ / "big.bin", 0, size};
      if (auto off = req.Query("offset")) {
        fb.offset = std::stoull(*off);
        fb.length = std::stoull(*req.Query("length"));
      }
      r.file = fb;
      return r;
    });
    router_->Add("GET", "/whoami", [](HttpRequest& req) {
      return Text(req.peer_address + " " + req.method + " " + req.path);
    });
    router_->Add("DELETE", "/hello/{name}", [](HttpRequest&) { return HttpResponse::Empty(204); });
    HttpServerOptions opts;
    opts.port = 0;
    opts.threads = 2;
    opts.spool_dir = dir_ / "spool";
    opts.max_header_bytes = 8 * 1024;
    server_ = NewHttpServer(opts, router_);
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_NE(server_->port(), 0);
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_->Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  bool SpoolEmpty() { return fs::is_empty(dir_ / "spool"); }

  fs::path dir_;
  std::shared_ptr<Router> router_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
  std::atomic<int> spool_calls_{0};
  fs::path spooled_path_;
};

TEST_F(HttpServerTest, ServesRoutesWithDecodedParamsOverKeepAlive) {
  client::HttpClient c(base_);
  for (int i = 0; i < 3; ++i) {
    auto r = c.Get("/hello/w%C3%B6rld?greeting=good+day%21");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello w\xC3\xB6rld good day!");
  }
  auto who = c.Get("/whoami");
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->body, "127.0.0.1 GET /whoami");
}

TEST_F(HttpServerTest, RawKeepAliveServesPipelinedRequests) {
  std::string two =
      "GET /hello/a HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /hello/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string out = RawExchange(server_->port(), two);
  EXPECT_THAT(out, HasSubstr("hello a"));
  EXPECT_THAT(out, HasSubstr("hello b"));
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405WithGenieErrors) {
  client::HttpClient c(base_);
  auto r = c.Get("/nope");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  auto body = boost::json::parse(r->body).as_object();
  EXPECT_EQ(body.at("status").as_int64(), 404);
  EXPECT_EQ(body.at("error").as_string(), "Not Found");
  EXPECT_EQ(body.at("path").as_string(), "/nope");

  r = c.Request("PATCH", "/hello/x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(boost::json::parse(r->body).at("error").as_string(), "Method Not Allowed");
}

TEST_F(HttpServerTest, BodyWithinLimitReachesHandler) {
  client::HttpClient c(base_);
  auto r = c.Request("POST", "/echo", std::string(1000, 'x'));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.substr(0, 5), "1000:");
}

TEST_F(HttpServerTest, BodyOverLimitIs413BeforeReading) {
  client::HttpClient c(base_);
  auto r = c.Request("POST", "/echo", std::string(1001, 'x'));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 413);
  auto body = boost::json::parse(r->body).as_object();
  EXPECT_EQ(body.at("message").as_string(),
            "request body: 1001 bytes exceeds the limit of 1000 bytes");
  // The announced length alone triggers it: the server answers without waiting for the body.
  std::string out = RawExchange(server_->port(),
                                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n"
                                "only a little");
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 413"));
  EXPECT_THAT(out, HasSubstr("50000000 bytes exceeds the limit of 1000 bytes"));
  // The connection survives for the next client.
  auto ok = c.Get("/hello/again");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413) {
  std::string chunk(800, 'y');
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 2; ++i) req += "320\r\n" + chunk + "\r\n";
  req += "0\r\n\r\n";
  std::string out = RawExchange(server_->port(), req);
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 413"));
  EXPECT_THAT(out, HasSubstr("exceeds the limit of 1000 bytes"));
}

TEST_F(HttpServerTest, ExpectContinueGetsTheBodyThrough) {
  client::HttpClient c(base_);
  auto r = c.Request("POST", "/echo", "abc", {{"Expect", "100-continue"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "3:abc");
}

TEST_F(HttpServerTest, SpooledBodyIsAFileRemovedAfterTheHandler) {
  std::string payload(3 << 20, 'z');
  payload.replace(0, 10, "0123456789");
  fs::path src = dir_ / "upload.bin";
  {
    std::ofstream out(src, std::ios::binary);
    out << payload;
  }
  client::HttpClient c(base_);
  auto r = c.UploadFile("PUT", "/spool", src);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::to_string(payload.size()) + ":mem-empty:0123456789");
  EXPECT_EQ(spooled_path_.parent_path(), dir_ / "spool");
  EXPECT_FALSE(fs::exists(spooled_path_));
  EXPECT_TRUE(SpoolEmpty());
}

TEST_F(HttpServerTest, ClientLeavingMidBodyNeverReachesTheHandler) {
  int fd = ConnectTo(server_->port());
  ASSERT_GE(fd, 0);
  std::string head = "PUT /spool HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
  std::string part(20000, 'p');
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  ASSERT_EQ(::send(fd, part.data(), part.size(), MSG_NOSIGNAL), static_cast<ssize_t>(part.size()));
  ASSERT_TRUE(WaitFor([&] { return !SpoolEmpty(); })) << "the body was never spooled";
  ::close(fd);
  EXPECT_TRUE(WaitFor([&] { return SpoolEmpty(); })) << "the partial spool file was left behind";
  EXPECT_EQ(spool_calls_.load(), 0);
}

TEST_F(HttpServerTest, FileBodyIsStreamedWhole) {
  std::string content;
  content.reserve(5 << 20);
  for (int i = 0; content.size() < (5u << 20) + 123; ++i) content += std::to_string(i) + ",";
  {
    std::ofstream out(dir_ / "big.bin", std::ios::binary);
    out << content;
  }
  client::HttpClient c(base_);
  auto r = c.Get("/file");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-type"), "application/octet-stream");
  EXPECT_EQ(r->Header("content-length"), std::to_string(content.size()));
  EXPECT_TRUE(r->body == content) << "body differs, size " << r->body.size();

  auto part = c.Get("/file?offset=100000&length=70000");
  ASSERT_TRUE(part.ok());
  EXPECT_TRUE(part->body == content.substr(100000, 70000));

  // HEAD announces the length without a body.
  auto head = c.Request("HEAD", "/file");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), std::to_string(content.size()));
  EXPECT_TRUE(head->body.empty());
}

TEST_F(HttpServerTest, MalformedRequestsAre400) {
  std::string out = RawExchange(server_->port(), "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(out, HasSubstr("\"status\":400"));

  out = RawExchange(server_->port(), "GET /hello/%zz HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(out, HasSubstr("percent-escape"));

  out = RawExchange(server_->port(), "GET /hello/x HTTP/1.1\r\nBad Header\r\n\r\n");
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 400"));
}

TEST_F(HttpServerTest, OversizedHeaderIs431) {
  std::string out = RawExchange(
      server_->port(), "GET /hello/x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'h') +
                           "\r\n\r\n");
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 431"));
}

TEST_F(HttpServerTest, ThrowingHandlerIs500AndTheServerCarriesOn) {
  client::HttpClient c(base_);
  auto r = c.Get("/throw");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
  auto body = boost::json::parse(r->body).as_object();
  EXPECT_EQ(body.at("error").as_string(), "Internal Server Error");
  EXPECT_THAT(std::string(body.at("message").as_string()), HasSubstr("boom"));
  auto again = c.Get("/hello/after");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->body, "hello after");
}

TEST_F(HttpServerTest, EmptyResponsesCarryNoBody) {
  client::HttpClient c(base_);
  auto r = c.Delete("/hello/x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 204);
  EXPECT_TRUE(r->body.empty());
  auto next = c.Get("/hello/y");  // the same connection still parses
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->body, "hello y");
}

TEST_F(HttpServerTest, StopClosesIdleKeepAliveConnectionsPromptly) {
  int fd = ConnectTo(server_->port());
  ASSERT_GE(fd, 0);
  std::string req = "GET /hello/idle HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_GT(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), 0);
  char buf[512];
  ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);  // response read; the connection stays open
  auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  ::close(fd);
  client::HttpClient c(base_, std::chrono::seconds(2));
  auto r = c.Get("/hello/x");
  EXPECT_FALSE(r.ok());
}

TEST(HttpServerStartTest, PortInUseFailsWithStatus) {
  auto router = std::make_shared<Router>();
  HttpServerOptions opts;
  opts.port = 0;
  auto a = NewHttpServer(opts, router);
  ASSERT_TRUE(a->Start().ok());
  opts.port = a->port();
  auto b = NewHttpServer(opts, router);
  Status s = b->Start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr(std::to_string(a->port())));
  opts.host = "not-an-ip";
  opts.port = 0;
  EXPECT_EQ(NewHttpServer(opts, router)->Start().code(), StatusCode::kInvalidArgument);
}

// ---- TLS ----

class HttpsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("weir-https-test-" + NewUuid());
    fs::create_directories(dir_);
    ASSERT_EQ(testing::MakeTestCerts(dir_, &certs_), "");
    router_ = std::make_shared<Router>();
    router_->Add("GET", "/subject",
                 [](HttpRequest& req) { return Text("subject=" + req.client_cert_subject); });
    options_.port = 0;
    options_.tls.cert_file = certs_.server_cert;
    options_.tls.key_file = certs_.server_key;
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Status Start() {
    server_ = NewHttpServer(options_, router_);
    return server_->Start();
  }
  std::string Url() const { return "https://127.0.0.1:" + std::to_string(server_->port()); }

  fs::path dir_;
  testing::TestCerts certs_;
  std::shared_ptr<Router> router_;
  HttpServerOptions options_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpsServerTest, HandlersSeeTheVerifiedClientCertificateSubject) {
  options_.tls.client_ca_file = certs_.ca;
  ASSERT_TRUE(Start().ok());
  client::ClientOptions with_cert;
  with_cert.ca_file = certs_.ca;
  with_cert.client_cert = certs_.client_cert;
  with_cert.client_key = certs_.client_key;
  client::HttpClient alice(Url(), with_cert);
  for (int i = 0; i < 2; ++i) {  // and again on the kept-alive connection
    auto r = alice.Get("/subject");
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->body, "subject=CN=alice,O=weir-test");
  }

  client::ClientOptions no_cert;
  no_cert.ca_file = certs_.ca;
  auto refused = client::HttpClient(Url(), no_cert).Get("/subject");
  EXPECT_FALSE(refused.ok()) << "status " << refused->status << " body " << refused->body;

  client::ClientOptions foreign = with_cert;
  foreign.client_cert = certs_.other_client_cert;
  foreign.client_key = certs_.other_client_key;
  auto untrusted = client::HttpClient(Url(), foreign).Get("/subject");
  EXPECT_FALSE(untrusted.ok()) << "status " << untrusted->status << " body " << untrusted->body;
}

TEST_F(HttpsServerTest, WithoutClientCaTheSubjectIsEmptyAndPlainHttpGetsNoAnswer) {
  ASSERT_TRUE(Start().ok());
  client::ClientOptions trust;
  trust.ca_file = certs_.ca;
  auto r = client::HttpClient(Url(), trust).Get("/subject");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body, "subject=");
  std::string answer = RawExchange(server_->port(), "GET /subject HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(answer.find("HTTP/1.1"), std::string::npos) << answer;
}

TEST_F(HttpsServerTest, KeyReadableByEveryUserOrWrongFilesRefuseToStart) {
  fs::permissions(certs_.server_key, fs::perms::others_read, fs::perm_options::add);
  Status s = Start();
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr(certs_.server_key.string()));
  EXPECT_THAT(s.message(), HasSubstr("chmod 600"));
  server_.reset();

  fs::permissions(certs_.server_key, fs::perms::others_read, fs::perm_options::remove);
  options_.tls.key_file = certs_.client_key;  // not the certificate's key
  s = Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("server.tls.key"));
  server_.reset();

  options_.tls.key_file = certs_.server_key;
  options_.tls.cert_file = dir_ / "missing.pem";
  s = Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr((dir_ / "missing.pem").string()));
  server_.reset();
}

// ---- the handler pool, trusted proxies, response files ----

TEST(HttpServerPoolTest, BlockingHandlerDoesNotStopOtherConnections) {
  auto router = std::make_shared<Router>();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> blocked{false};
  router->Add("GET", "/block", [&](HttpRequest&) {
    blocked = true;
    released.wait();
    return Text("unblocked");
  });
  router->Add("GET", "/fast", [](HttpRequest&) { return Text("fast"); });
  HttpServerOptions opts;
  opts.port = 0;
  opts.threads = 1;  // one I/O thread: a handler run on it would stop every connection
  auto server = NewHttpServer(opts, router);
  ASSERT_TRUE(server->Start().ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(server->port());
  std::thread slow([&] {
    client::HttpClient c(base, std::chrono::seconds(30));
    auto r = c.Get("/block");
    EXPECT_TRUE(r.ok() && r->body == "unblocked");
  });
  ASSERT_TRUE(WaitFor([&] { return blocked.load(); }));
  client::HttpClient c(base, std::chrono::seconds(2));
  auto r = c.Get("/fast");
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) EXPECT_EQ(r->body, "fast");
  release.set_value();
  slow.join();
  server->Stop();
}

TEST(IpSetTest, AddressesAndRanges) {
  auto set = IpSet::Parse({"127.0.0.1", "10.0.0.0/8", "fd00::/8", " 192.168.1.0/24 "});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->Contains("127.0.0.1"));
  EXPECT_TRUE(set->Contains("::ffff:127.0.0.1"));
  EXPECT_FALSE(set->Contains("127.0.0.2"));
  EXPECT_TRUE(set->Contains("10.200.3.4"));
  EXPECT_FALSE(set->Contains("11.0.0.1"));
  EXPECT_TRUE(set->Contains("192.168.1.77"));
  EXPECT_FALSE(set->Contains("192.168.2.1"));
  EXPECT_TRUE(set->Contains("fd12::1"));
  EXPECT_FALSE(set->Contains("fe80::1"));
  EXPECT_FALSE(set->Contains("evil.example"));
  EXPECT_FALSE(IpSet::Parse({}).value().Contains("127.0.0.1"));
  for (const char* bad : {"localhost", "10.0.0.0/33", "10.0.0.0/", "::1/129", "1.2.3.4/x"}) {
    auto r = IpSet::Parse({bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr(bad));
  }
}

TEST(ForwardedPolicyTest, UntrustedPeersCannotChooseLinksOrClientHost) {
  HttpRequest req = WithHeaders({{"host", "127.0.0.1:8080"},
                                 {"x-forwarded-host", "evil.example"},
                                 {"x-forwarded-proto", "https"},
                                 {"x-forwarded-for", "6.6.6.6"},
                                 {"forwarded", "host=evil.example"}});
  ApplyForwardedPolicy(req, IpSet());
  EXPECT_EQ(BaseUrl(req), "http://127.0.0.1:8080");
  EXPECT_EQ(ClientHost(req), "10.0.0.9");
  EXPECT_EQ(req.Header("forwarded"), std::nullopt);
}

TEST(ForwardedPolicyTest, TrustedProxyIsBelievedUpToTheFirstUntrustedHop) {
  auto proxies = IpSet::Parse({"10.0.0.0/24"});
  ASSERT_TRUE(proxies.ok());
  HttpRequest req = WithHeaders({{"host", "internal:8080"},
                                 {"x-forwarded-host", "genie.example.com"},
                                 {"x-forwarded-proto", "https"},
                                 {"x-forwarded-for", "1.2.3.4, 5.6.7.8"},
                                 {"x-forwarded-for", "10.0.0.3"}});
  ApplyForwardedPolicy(req, *proxies);
  EXPECT_EQ(BaseUrl(req), "https://genie.example.com");
  // 1.2.3.4 is what the client claimed; 5.6.7.8 is what our proxy saw.
  EXPECT_EQ(ClientHost(req), "5.6.7.8");
}

TEST(OpenRegularFileTest, RefusesFifosWithoutBlockingAndServesFiles) {
  fs::path dir = fs::temp_directory_path() / ("weir-open-test-" + NewUuid());
  fs::create_directories(dir);
  ASSERT_EQ(::mkfifo((dir / "pipe").c_str(), 0600), 0);
  std::ofstream(dir / "file") << "hello";
  fs::create_symlink(dir / "file", dir / "link");
  // A blocking open of the FIFO would never return: run it apart and fail loudly instead.
  auto fifo = std::async(std::launch::async, [&] {
    struct stat st {};
    return OpenRegularFile(dir / "pipe", true, &st, "out/pipe").status();
  });
  ASSERT_EQ(fifo.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "OpenRegularFile blocked on a FIFO";
  Status s = fifo.get();
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("'out/pipe'"));
  EXPECT_THAT(s.message(), HasSubstr("FIFO"));

  struct stat st {};
  auto file = OpenRegularFile(dir / "file", true, &st);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(st.st_size, 5);
  char buf[8];
  EXPECT_EQ(::pread((*file)->fd(), buf, sizeof buf, 0), 5);
  EXPECT_EQ(OpenRegularFile(dir / "link", true, &st).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(OpenRegularFile(dir / "link", false, &st).ok());
  EXPECT_EQ(OpenRegularFile(dir / "missing", true, &st).status().code(), StatusCode::kNotFound);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace weir::api
