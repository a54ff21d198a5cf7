// The authentication gate on a real HttpServer (port 0): credentials, the 401 it answers, the
// roles it needs, and that a refused request's body is never read.
#include "api/auth_gate.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>

#include "auth/authenticators.h"
#include "client/http_client.h"
#include "common/ids.h"

namespace weir::api {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string HexSha256(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

class AuthGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("weir-gate-test-" + NewUuid());
    fs::create_directories(dir_);
    auto tokens = auth::ParseStaticTokens(HexSha256("alice-token") + " alice user\n" +
                                          HexSha256("root-token") + " ops admin\n" +
                                          HexSha256("norole-token") + " guest viewer\n");
    ASSERT_TRUE(tokens.ok()) << tokens.status().message();
    auth::ChainOptions co;
    co.static_tokens = std::move(*tokens);
    auto router = std::make_shared<Router>();
    auto record = [this](HttpRequest& req) {
      ++handled_;
      std::string who = req.principal ? req.principal->name : "-";
      return HttpResponse::Json(200, "{\"who\":\"" + who + "\"}");
    };
    router->Add("POST", "/api/v3/clusters", record, RouteOptions{64 << 20, true});
    router->Add("GET", "/api/v3/clusters", record);
    router->Add("GET", "/api/weir/v1/admin/cache", record);
    router->Add("POST", "/api/v3/jobs", record, RouteOptions{64 << 20, true});
    router->Add("GET", "/actuator/health", record);
    RegisterMeRoute(*router);
    HttpServerOptions o;
    o.port = 0;
    o.spool_dir = dir_;
    o.gate = MakeAuthGate(auth::NewChainAuthenticator(std::move(co)));
    server_ = NewHttpServer(o, router);
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_->Stop();
    fs::remove_all(dir_);
  }

  client::Response Call(std::string_view method, std::string_view path, std::string token,
                        const client::Headers& headers = {}) {
    client::HttpClient c(base_);
    c.SetBearerToken(std::move(token));
    auto r = c.Request(method, path, method == "GET" ? "" : "{}", headers);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : client::Response{};
  }

  fs::path dir_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
  std::atomic<int> handled_{0};
};

TEST_F(AuthGateTest, MissingCredentialsAre401InvalidRequest) {
  auto r = Call("GET", "/api/v3/clusters", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.Header("www-authenticate").value_or(""),
              HasSubstr("Bearer realm=\"weir\", error=\"invalid_request\", error_description=\""));
  auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("status").as_int64(), 401);
  EXPECT_EQ(body.at("error").as_string(), "Unauthorized");
  EXPECT_EQ(body.at("path").as_string(), "/api/v3/clusters");
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(AuthGateTest, WrongTokenAndWrongSchemeAre401) {
  auto bad = Call("POST", "/api/v3/jobs", "alice-tokeN");
  EXPECT_EQ(bad.status, 401);
  EXPECT_THAT(bad.Header("www-authenticate").value_or(""), HasSubstr("error=\"invalid_token\""));
  auto basic = Call("POST", "/api/v3/jobs", "", {{"Authorization", "Basic YWxpY2U6eA=="}});
  EXPECT_EQ(basic.status, 401);
  EXPECT_THAT(basic.Header("www-authenticate").value_or(""),
              HasSubstr("error=\"invalid_request\""));
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(AuthGateTest, ConfigWritesAndAdminRoutesNeedAdmin) {
  auto user_write = Call("POST", "/api/v3/clusters", "alice-token");
  EXPECT_EQ(user_write.status, 403);
  EXPECT_THAT(user_write.body, HasSubstr("needs the role admin"));
  // Trailing slashes and doubled slashes name the same collection.
  EXPECT_EQ(Call("POST", "/api/v3//clusters/", "alice-token").status, 403);
  EXPECT_EQ(Call("GET", "/api/weir/v1/admin/cache", "alice-token").status, 403);
  EXPECT_EQ(handled_.load(), 0);
  auto user_read = Call("GET", "/api/v3/clusters", "alice-token");
  EXPECT_EQ(user_read.status, 200);
  EXPECT_THAT(user_read.body, HasSubstr("\"who\":\"alice\""));
  EXPECT_EQ(Call("POST", "/api/v3/clusters", "root-token").status, 200);
  EXPECT_EQ(Call("GET", "/api/weir/v1/admin/cache", "root-token").status, 200);
  EXPECT_EQ(Call("POST", "/api/v3/jobs", "alice-token").status, 200);
}

TEST_F(AuthGateTest, PrincipalWithoutRoleUserSeesOnlyMe) {
  EXPECT_EQ(Call("GET", "/api/v3/clusters", "norole-token").status, 403);
  auto me = Call("GET", "/api/weir/v1/me", "norole-token");
  ASSERT_EQ(me.status, 200) << me.body;
  auto o = boost::json::parse(me.body).as_object();
  EXPECT_EQ(o.at("name").as_string(), "guest");
  EXPECT_EQ(o.at("mechanism").as_string(), "token");
  EXPECT_EQ(boost::json::serialize(o.at("roles")), "[\"viewer\"]");
}

TEST_F(AuthGateTest, HealthStaysOpen) {
  EXPECT_EQ(Call("GET", "/actuator/health", "").status, 200);
  EXPECT_EQ(Call("POST", "/api/v3/clusters", "").status, 401);
  EXPECT_TRUE(IsOpenRoute("GET", "/admin/health"));
  EXPECT_TRUE(IsOpenRoute("HEAD", "/actuator/health/"));
  EXPECT_FALSE(IsOpenRoute("POST", "/actuator/health"));
  EXPECT_FALSE(IsOpenRoute("GET", "/actuator/health/x"));
  EXPECT_FALSE(IsOpenRoute("GET", "/api/v3"));
}

// The browser UI's files hold no data: they load without a token (the UI then asks for one).
TEST_F(AuthGateTest, UiFilesStayOpenButNotTheApi) {
  EXPECT_TRUE(IsOpenRoute("GET", "/"));
  EXPECT_TRUE(IsOpenRoute("GET", "/ui"));
  EXPECT_TRUE(IsOpenRoute("GET", "/ui/jobs/42"));
  EXPECT_TRUE(IsOpenRoute("HEAD", "/ui/assets/index-x.js"));
  EXPECT_FALSE(IsOpenRoute("POST", "/ui/jobs"));
  EXPECT_FALSE(IsOpenRoute("GET", "/uix"));
  EXPECT_FALSE(IsOpenRoute("GET", "/api/v3/jobs"));
  EXPECT_FALSE(IsOpenRoute("GET", "/api/ui"));
  // How to sign in is told before signing in; nothing else under /api/weir/v1/ui is open.
  EXPECT_TRUE(IsOpenRoute("GET", "/api/weir/v1/ui/auth"));
  EXPECT_FALSE(IsOpenRoute("POST", "/api/weir/v1/ui/auth"));
  EXPECT_FALSE(IsOpenRoute("GET", "/api/weir/v1/ui/auth/x"));
  EXPECT_FALSE(IsOpenRoute("GET", "/api/weir/v1/ui"));
}

// The head alone (announcing a large body that is never sent) is refused (403: a user writing a
// cluster): the gate decided
// before the server waited for a single body byte, and nothing reached the handler.
TEST_F(AuthGateTest, RefusedBeforeTheBodyIsRead) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string head =
      "POST /api/v3/clusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Authorization: Bearer alice-token\r\nContent-Length: 50000000\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.find("\r\n\r\n") == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    ASSERT_GT(left.count(), 0) << "no answer without the body; got: " << got;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0) << "connection closed without an answer; got: " << got;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  EXPECT_THAT(got, HasSubstr("HTTP/1.1 403"));
  EXPECT_EQ(handled_.load(), 0);
}

}  // namespace
}  // namespace weir::api
