// HTTPS end to end: the real `weir server` with server.tls, spoken to by curl, `openssl s_client`,
// the `weir` CLI and raw TLS sockets; and the CLI's credentials (--token, --token-file) as a
// server receives them. Certificates are made per test by the openssl command line
// (api/testing/test_certs.h).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/testing/test_certs.h"
#include "fetch/test_http_server.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
using api::testing::MakeTestCerts;
using api::testing::TestCerts;

struct Shell {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

// Runs a shell command (stdin /dev/null) under `timeout 60`, so a hung client fails the test.
Shell Sh(const std::string& command) {
  std::string full = "timeout 60 " + command + " </dev/null 2>&1";
  Shell r;
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int rc = ::pclose(p);
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return r;
}

// The status curl's -w '%{http_code}' printed last: "000" when no HTTP answer came.
std::string HttpCode(const Shell& r) {
  return r.out.size() < 3 ? r.out : r.out.substr(r.out.size() - 3);
}

std::string TlsConfig(const TestCerts& c, const std::string& extra_tls = "",
                      const std::string& extra_server = "") {
  return "server:\n" + extra_server + "  tls:\n    cert: " + c.server_cert.string() +
         "\n    key: " + c.server_key.string() + "\n" + extra_tls;
}

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Waits until the peer closes `fd` (a read returns 0 or fails) or `limit` passes; true when
// closed. Bytes that arrive meanwhile (TLS alerts) are dropped.
bool ClosedByPeerWithin(int fd, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

// A TLS client connection made with OpenSSL directly, for what curl cannot do (stall midway).
class RawTlsClient {
 public:
  ~RawTlsClient() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  // Connects and completes the handshake, trusting `ca`. "" on success.
  std::string Open(int port, const fs::path& ca) {
    fd_ = Connect(port);
    if (fd_ < 0) return "connect failed";
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
      char err[256];
      ERR_error_string_n(ERR_get_error(), err, sizeof err);
      return std::string("handshake failed: ") + err;
    }
    return "";
  }
  bool Write(const std::string& bytes) {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }
  // Reads what the server sends until it closes (or `limit` passes): the decrypted bytes, and
  // whether the server closed.
  std::pair<std::string, bool> ReadUntilClosed(std::chrono::seconds limit) {
    std::string out;
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (SSL_pending(ssl_) == 0) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
      }
      char buf[4096];
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) {
        int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_WANT_READ) continue;
        return {out, true};
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return {out, false};
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_.path() / "pki");
    ASSERT_EQ(MakeTestCerts(tmp_.path() / "pki", &certs_), "");
  }
  std::string Curl(const std::string& args, const std::string& url) {
    return "curl -sS -o /dev/null -w '%{http_code}' " + args + " " + ShellQuote(url);
  }

  TempDir tmp_;
  TestCerts certs_;
};

TEST_F(TlsTest, HttpsWorksForTrustingClientsOnlyAndPlainHttpGetsNoAnswer) {
  WeirServer server(tmp_.path() / "data", TlsConfig(certs_));
  ASSERT_EQ(server.Start(), "");
  ASSERT_EQ(server.url().rfind("https://127.0.0.1:", 0), 0u) << server.url();
  const std::string jobs = server.url() + "/api/v3/jobs";

  Shell trusted = Sh(Curl("--cacert " + certs_.ca.string(), jobs));
  EXPECT_EQ(trusted.exit_code, 0) << trusted.out;
  EXPECT_EQ(trusted.out, "200");
  // By name too: the certificate carries localhost in its subjectAltName.
  Shell by_name = Sh(Curl("--cacert " + certs_.ca.string(),
                          "https://localhost:" + std::to_string(server.port()) + "/api/v3/jobs"));
  EXPECT_EQ(by_name.out, "200");

  // Without our CA the server's certificate is not trusted: curl stops at verification (60).
  Shell untrusted = Sh(Curl("", jobs));
  EXPECT_EQ(untrusted.exit_code, 60) << untrusted.out;
  Shell wrong_ca = Sh(Curl("--cacert " + certs_.other_ca.string(), jobs));
  EXPECT_EQ(wrong_ca.exit_code, 60) << wrong_ca.out;

  // Plain HTTP on the TLS port: no HTTP answer at all (curl reports code 000).
  Shell plain = Sh(Curl("", "http://127.0.0.1:" + std::to_string(server.port()) + "/api/v3/jobs"));
  EXPECT_NE(plain.exit_code, 0) << plain.out;
  EXPECT_EQ(HttpCode(plain), "000") << plain.out;

  // The CLI over HTTPS: with --cacert (or WEIR_CACERT) it lists jobs; without, a clear error.
  CommandResult submitted = RunWeir(server.url(), {"--cacert", certs_.ca.string(), "job", "list"});
  EXPECT_EQ(submitted.exit_code, 0) << submitted.err;
  ::setenv("WEIR_CACERT", certs_.ca.string().c_str(), 1);
  CommandResult from_env = RunWeir(server.url(), {"job", "list"});
  ::unsetenv("WEIR_CACERT");
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
  CommandResult no_ca = RunWeir(server.url(), {"job", "list"});
  EXPECT_EQ(no_ca.exit_code, 5);  // cannot reach a weir server
  EXPECT_NE(no_ca.err.find("--cacert"), std::string::npos) << no_ca.err;
}

TEST_F(TlsTest, OldProtocolsAndWeakCiphersAreRefused) {
  WeirServer server(tmp_.path() / "data", TlsConfig(certs_));
  ASSERT_EQ(server.Start(), "");
  const std::string s_client =
      "openssl s_client -connect 127.0.0.1:" + std::to_string(server.port()) + " -CAfile " +
      certs_.ca.string() + " ";
  // Controls: TLS 1.3, and TLS 1.2 with ECDHE and AES-GCM, complete a handshake.
  Shell tls13 = Sh(s_client + "-tls1_3");
  EXPECT_EQ(tls13.exit_code, 0) << tls13.out;
  Shell tls12 = Sh(s_client + "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_EQ(tls12.exit_code, 0) << tls12.out;
  // TLS 1.1 (the client's own security level lowered so that it offers it) and 1.0: refused.
  Shell tls11 = Sh(s_client + "-tls1_1 -cipher DEFAULT@SECLEVEL=0");
  EXPECT_NE(tls11.exit_code, 0) << tls11.out;
  Shell tls10 = Sh(s_client + "-tls1 -cipher DEFAULT@SECLEVEL=0");
  EXPECT_NE(tls10.exit_code, 0) << tls10.out;
  // TLS 1.2 with a CBC cipher (no AEAD) that OpenSSL's defaults would accept: refused.
  Shell cbc = Sh(s_client + "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA");
  EXPECT_NE(cbc.exit_code, 0) << cbc.out;
  Shell cbc256 = Sh(s_client + "-tls1_2 -cipher ECDHE-ECDSA-AES256-SHA384");
  EXPECT_NE(cbc256.exit_code, 0) << cbc256.out;
}

TEST_F(TlsTest, ClientCaRequiresATrustedClientCertificate) {
  WeirServer server(tmp_.path() / "data",
                    TlsConfig(certs_, "    client_ca: " + certs_.ca.string() + "\n"));
  ASSERT_EQ(server.Start(), "");
  const std::string jobs = server.url() + "/api/v3/jobs";
  const std::string ca = "--cacert " + certs_.ca.string() + " ";

  Shell none = Sh(Curl(ca, jobs));
  EXPECT_NE(none.exit_code, 0) << none.out;
  EXPECT_EQ(HttpCode(none), "000") << none.out;
  EXPECT_NE(none.out.find("certificate required"), std::string::npos) << none.out;
  Shell foreign = Sh(Curl(ca + "--cert " + certs_.other_client_cert.string() + " --key " +
                              certs_.other_client_key.string(),
                          jobs));
  EXPECT_NE(foreign.exit_code, 0) << foreign.out;
  EXPECT_EQ(HttpCode(foreign), "000") << foreign.out;
  Shell good = Sh(Curl(
      ca + "--cert " + certs_.client_cert.string() + " --key " + certs_.client_key.string(), jobs));
  EXPECT_EQ(good.exit_code, 0) << good.out;
  EXPECT_EQ(good.out, "200");

  CommandResult cli = RunWeir(
      server.url(), {"--cacert", certs_.ca.string(), "--client-cert", certs_.client_cert.string(),
                     "--client-key", certs_.client_key.string(), "job", "list"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  CommandResult cli_no_cert =
      RunWeir(server.url(), {"--cacert", certs_.ca.string(), "job", "list"});
  EXPECT_EQ(cli_no_cert.exit_code, 5);
  EXPECT_NE(cli_no_cert.err.find("--client-cert"), std::string::npos) << cli_no_cert.err;
}

TEST_F(TlsTest, KeyFileReadableByEveryUserRefusesToStart) {
  fs::permissions(certs_.server_key, fs::perms::others_read, fs::perm_options::add);
  WeirServer server(tmp_.path() / "data", TlsConfig(certs_));
  std::string failure = server.Start();
  ASSERT_NE(failure, "");
  EXPECT_NE(failure.find("server.tls.key: " + certs_.server_key.string()), std::string::npos)
      << failure;
  EXPECT_NE(failure.find("readable by every user"), std::string::npos) << failure;
}

TEST_F(TlsTest, ClientsThatStallInTheHandshakeOrTheHeaderAreCutOff) {
  WeirServer server(tmp_.path() / "data",
                    TlsConfig(certs_, "    handshake_timeout_ms: 1000\n",
                              "  header_timeout_ms: 1000\n  max_connections_per_client: 3\n"));
  ASSERT_EQ(server.Start(), "");

  // TCP open, no ClientHello: closed at the handshake deadline, long before our 30 s.
  int silent = Connect(server.port());
  ASSERT_GE(silent, 0);
  EXPECT_TRUE(ClosedByPeerWithin(silent, std::chrono::seconds(30)))
      << "a client that never starts the handshake keeps its connection";
  ::close(silent);

  // Handshake done, half a request header, then nothing: closed at the header deadline, with no
  // answer.
  RawTlsClient slow;
  ASSERT_EQ(slow.Open(server.port(), certs_.ca), "");
  ASSERT_TRUE(slow.Write("GET /api/v3/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
  auto [answer, closed] = slow.ReadUntilClosed(std::chrono::seconds(30));
  EXPECT_TRUE(closed) << "a client that stalls in the request header keeps its connection";
  EXPECT_EQ(answer, "");

  // The connection cap holds over TLS: with 3 connections open, a fourth is answered 503 (over
  // TLS) and closed.
  std::vector<std::unique_ptr<RawTlsClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawTlsClient>());
    ASSERT_EQ(held.back()->Open(server.port(), certs_.ca), "");
  }
  RawTlsClient fourth;
  ASSERT_EQ(fourth.Open(server.port(), certs_.ca), "");
  auto [refusal, refused_closed] = fourth.ReadUntilClosed(std::chrono::seconds(30));
  EXPECT_TRUE(refused_closed);
  EXPECT_EQ(refusal.rfind("HTTP/1.1 503", 0), 0u) << refusal;
  EXPECT_NE(refusal.find("max_connections_per_client"), std::string::npos) << refusal;
}

// The CLI's credentials, seen by a plain HTTP server that records the Authorization header.
class TokenTest : public ::testing::Test {
 protected:
  TokenTest()
      : server_([this](const fetch::testing::TestRequest& req) {
          std::lock_guard<std::mutex> lock(mu_);
          authorization_.push_back(req.Header("authorization"));
          fetch::testing::TestResponse r;
          r.headers = {{"Content-Type", "application/json"}};
          r.body = R"({"_embedded":{"jobSearchResultList":[]},"page":{"totalElements":0}})";
          return r;
        }) {}
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::vector<std::string> Seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return authorization_;
  }

  TempDir tmp_;
  std::mutex mu_;
  std::vector<std::string> authorization_;
  fetch::testing::TestHttpServer server_;
};

TEST_F(TokenTest, TokenFlagEnvAndFileSendABearerHeader) {
  CommandResult flag = RunWeir(Url(), {"--token", "tok-from-flag", "job", "list"});
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  ::setenv("WEIR_TOKEN", "tok-from-env", 1);
  CommandResult env = RunWeir(Url(), {"job", "list"});
  fs::path file = tmp_.path() / "token";
  WriteFile(file, "tok-from-file\n");
  ::chmod(file.c_str(), 0600);
  // An explicit --token-file beats WEIR_TOKEN from the environment.
  CommandResult from_file = RunWeir(Url(), {"--token-file", file.string(), "job", "list"});
  ::unsetenv("WEIR_TOKEN");
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  CommandResult anonymous = RunWeir(Url(), {"job", "list"});
  EXPECT_EQ(anonymous.exit_code, 0) << anonymous.err;
  EXPECT_EQ(Seen(), (std::vector<std::string>{"Bearer tok-from-flag", "Bearer tok-from-env",
                                              "Bearer tok-from-file", ""}));
}

TEST_F(TokenTest, TokenFileReadableByOthersIsRefusedWithoutShowingTheToken) {
  fs::path file = tmp_.path() / "token";
  WriteFile(file, "tok-secret-123\n");
  ::chmod(file.c_str(), 0640);
  ::setenv("WEIR_TOKEN_FILE", file.string().c_str(), 1);
  CommandResult r = RunWeir(Url(), {"job", "list"});
  ::unsetenv("WEIR_TOKEN_FILE");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(file.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("tok-secret-123"), std::string::npos) << r.err;
  EXPECT_TRUE(Seen().empty()) << "nothing is sent with an unusable token file";

  // Nor does a transport error show a token given on the command line.
  CommandResult down = RunWeir("http://127.0.0.1:1", {"--token", "tok-secret-123", "job", "list"});
  EXPECT_EQ(down.exit_code, 5);
  EXPECT_EQ(down.err.find("tok-secret-123"), std::string::npos) << down.err;
  EXPECT_EQ(down.out.find("tok-secret-123"), std::string::npos) << down.out;
}

}  // namespace
}  // namespace weir::testing
