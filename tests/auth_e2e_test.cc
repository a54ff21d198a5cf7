// End-to-end tests of JWT and mutual-TLS authentication through the real `weir server` binary:
// the test makes its own keys with OpenSSL (RSA and Ed25519), writes a JWKS file, mints tokens
// with its own small signer (independent of the code under test), and drives the server over real
// HTTP(S) and through the real CLI (`weir whoami`, WEIR_TOKEN, --token, --client-cert).
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/testing/test_certs.h"
#include "client/http_client.h"
#include "fetch/test_http_server.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";
const std::string kIssuer = "https://idp.weir-test.example";
const std::string kAudience = "weir-e2e";

// ---- the test's own JOSE encoding and signing ----

std::string B64(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

std::string BnParam(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(pkey, name, &bn), 1) << name;
  std::string out(BN_num_bytes(bn), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

// RS256 (RSA key) or EdDSA (Ed25519 key) signature of `input`.
std::string SignAsym(EVP_PKEY* pkey, bool eddsa, std::string_view input) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestSignInit(md, nullptr, eddsa ? nullptr : EVP_sha256(), nullptr, pkey), 1);
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  EXPECT_EQ(EVP_DigestSign(md, nullptr, &len, in, input.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(
      EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()), 1);
  sig.resize(len);
  EVP_MD_CTX_free(md);
  return sig;
}

std::string SignHs256(const std::string& secret, std::string_view input) {
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

std::string SigningInput(const json::object& header, const json::object& claims) {
  return B64(json::serialize(header)) + "." + B64(json::serialize(claims));
}

json::object RsaJwk(EVP_PKEY* pkey, const std::string& kid) {
  return {{"kty", "RSA"},
          {"kid", kid},
          {"alg", "RS256"},
          {"use", "sig"},
          {"n", B64(BnParam(pkey, OSSL_PKEY_PARAM_RSA_N))},
          {"e", B64(BnParam(pkey, OSSL_PKEY_PARAM_RSA_E))}};
}

json::object Ed25519Jwk(EVP_PKEY* pkey, const std::string& kid) {
  unsigned char raw[32];
  size_t len = sizeof raw;
  EXPECT_EQ(EVP_PKEY_get_raw_public_key(pkey, raw, &len), 1);
  return {{"kty", "OKP"},
          {"crv", "Ed25519"},
          {"kid", kid},
          {"alg", "EdDSA"},
          {"x", B64(std::string(reinterpret_cast<char*>(raw), len))}};
}

std::string PublicPem(EVP_PKEY* pkey) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pkey);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

int64_t NowSec() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Sets WEIR_TOKEN for the CLI processes the test starts, and clears it again.
class TokenEnv {
 public:
  explicit TokenEnv(const std::string& token) { ::setenv("WEIR_TOKEN", token.c_str(), 1); }
  ~TokenEnv() { ::unsetenv("WEIR_TOKEN"); }
};

// ---- JWT through the real server ----

class JwtE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = EVP_RSA_gen(2048);
    ed_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    attacker_ = EVP_RSA_gen(2048);
  }
  static void TearDownTestSuite() {
    for (EVP_PKEY* k : {rsa_, ed_, attacker_}) EVP_PKEY_free(k);
  }

  void SetUp() override {
    ::unsetenv("WEIR_TOKEN");
    ASSERT_NE(rsa_, nullptr);
    ASSERT_NE(ed_, nullptr);
    const auto jwks = dir_.path() / "jwks.json";
    WriteFile(jwks, json::serialize(json::object{
                        {"keys", json::array{RsaJwk(rsa_, "rsa-1"), Ed25519Jwk(ed_, "ed-1")}}}));
    server_ = std::make_unique<WeirServer>(
        dir_.path() / "data", "auth:\n  mode: required\n  jwt:\n    jwks_file: " + jwks.string() +
                                  "\n    issuers: [" + kIssuer + "]\n    audiences: [" + kAudience +
                                  "]\n    roles_claim: scope\n    role_prefix: genie_\n");
    ASSERT_EQ(server_->Start(), "");
    TokenEnv env(Admin());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  // Claims a good token has: issuer, audience, a five-minute lifetime.
  static json::object Claims(const std::string& sub, const std::string& scope) {
    const int64_t now = NowSec();
    return {{"iss", kIssuer}, {"aud", kAudience}, {"sub", sub},      {"scope", scope},
            {"iat", now},     {"nbf", now - 5},   {"exp", now + 300}};
  }
  static std::string MintRs(const json::object& claims, const std::string& kid = "rsa-1",
                            EVP_PKEY* key = nullptr, json::object header = {}) {
    header["alg"] = "RS256";
    header["typ"] = "JWT";
    header["kid"] = kid;
    std::string input = SigningInput(header, claims);
    return input + "." + B64(SignAsym(key ? key : rsa_, false, input));
  }
  static std::string MintEd(const json::object& claims) {
    std::string input = SigningInput({{"alg", "EdDSA"}, {"kid", "ed-1"}}, claims);
    return input + "." + B64(SignAsym(ed_, true, input));
  }
  static std::string MintHs(const json::object& claims, const std::string& kid,
                            const std::string& secret) {
    std::string input = SigningInput({{"alg", "HS256"}, {"typ", "JWT"}, {"kid", kid}}, claims);
    return input + "." + B64(SignHs256(secret, input));
  }
  static std::string Admin() { return MintRs(Claims("erin-admin", "openid genie_admin")); }

  client::Response Call(const std::string& token, std::string_view method, std::string_view path,
                        std::string_view body = {}) {
    client::HttpClient c(server_->url());
    if (!token.empty()) c.SetBearerToken(token);
    client::Headers h;
    if (!body.empty()) h.emplace_back("Content-Type", "application/json");
    auto r = c.Request(method, path, body, h);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : client::Response{};
  }

  static std::string Cluster(const std::string& id) {
    return R"({"id":")" + id +
           R"(","name":"c","user":"x","version":"1","status":"UP","tags":["t:1"]})";
  }

  static EVP_PKEY* rsa_;
  static EVP_PKEY* ed_;
  static EVP_PKEY* attacker_;
  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
};

EVP_PKEY* JwtE2eTest::rsa_ = nullptr;
EVP_PKEY* JwtE2eTest::ed_ = nullptr;
EVP_PKEY* JwtE2eTest::attacker_ = nullptr;

TEST_F(JwtE2eTest, WhoAmIShowsThePrincipalAndGenieRolesOfAGoodToken) {
  {
    TokenEnv env(MintRs(Claims("carol", "openid genie_user profile")));
    auto who = RunWeir(server_->url(), {"whoami"});
    EXPECT_EQ(who.exit_code, 0) << who.err;
    EXPECT_NE(who.out.find("name: carol\n"), std::string::npos) << who.out;
    EXPECT_NE(who.out.find("roles: user\n"), std::string::npos) << who.out;
    EXPECT_NE(who.out.find("mechanism: jwt"), std::string::npos) << who.out;
  }
  // An Ed25519 key of the same set, the token given with --token.
  auto who = RunWeir(server_->url(), {"--token", MintEd(Claims("dave", "genie_user")), "whoami"});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_NE(who.out.find("name: dave\n"), std::string::npos) << who.out;
  EXPECT_NE(who.out.find("roles: user\n"), std::string::npos) << who.out;
  // Without a token: refused.
  auto anonymous = RunWeir(server_->url(), {"whoami"});
  EXPECT_NE(anonymous.exit_code, 0) << anonymous.out;
}

TEST_F(JwtE2eTest, AJobSubmittedWithATokenBelongsToItsPrincipal) {
  const std::string carol = MintRs(Claims("carol", "genie_user"));
  json::object req{{"name", "jwt-job"},
                   {"version", "1"},
                   {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                   {"commandCriteria", json::array{"type:bash"}},
                   {"commandArguments", json::array{"echo hello-from-carol"}}};
  auto submitted = Call(carol, "POST", "/api/v3/jobs", json::serialize(req));
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  std::string loc = submitted.Header("location").value_or("");
  const std::string id = loc.substr(loc.rfind('/') + 1);
  ASSERT_FALSE(id.empty()) << loc;
  std::string status;
  ASSERT_TRUE(WaitFor(
      [&] {
        status = Str(Parse(Call(carol, "GET", "/api/v3/jobs/" + id + "/status").body), "status");
        return status == "SUCCEEDED" || status == "FAILED" || status == "KILLED";
      },
      60s))
      << "job " << id << " is still " << status;
  EXPECT_EQ(status, "SUCCEEDED");
  EXPECT_EQ(Str(Parse(Call(Admin(), "GET", "/api/v3/jobs/" + id).body), "user"), "carol");
  auto out = Call(carol, "GET", "/api/v3/jobs/" + id + "/output/stdout");
  EXPECT_EQ(out.status, 200);
  EXPECT_NE(out.body.find("hello-from-carol"), std::string::npos) << out.body;
}

TEST_F(JwtE2eTest, OnlyAnAdminScopeCreatesClusters) {
  auto by_user =
      Call(MintEd(Claims("dave", "genie_user")), "POST", "/api/v3/clusters", Cluster("jwt-c1"));
  EXPECT_EQ(by_user.status, 403) << by_user.body;
  // A role without Genie's prefix does not count.
  auto unprefixed =
      Call(MintRs(Claims("dave", "admin")), "POST", "/api/v3/clusters", Cluster("jwt-c1"));
  EXPECT_EQ(unprefixed.status, 403) << unprefixed.body;
  EXPECT_EQ(Call(Admin(), "GET", "/api/v3/clusters/jwt-c1").status, 404);
  auto by_admin = Call(Admin(), "POST", "/api/v3/clusters", Cluster("jwt-c1"));
  EXPECT_EQ(by_admin.status, 201) << by_admin.body;
  EXPECT_EQ(Call(Admin(), "GET", "/api/v3/clusters/jwt-c1").status, 200);
}

TEST_F(JwtE2eTest, HostileTokensAre401AndCreateNothing) {
  // A JWKS with the attacker's key, served where a `jku` header points (never to be fetched).
  json::object foreign_jwks{
      {"keys", json::array{RsaJwk(attacker_, "rsa-1"), RsaJwk(attacker_, "evil-1")}}};
  fetch::testing::TestHttpServer jku_server([&](const fetch::testing::TestRequest&) {
    fetch::testing::TestResponse r;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = json::serialize(foreign_jwks);
    return r;
  });
  const std::string jku = jku_server.Url("/jwks.json");

  // Every hostile token claims admin, so that one accepted by mistake would create its cluster.
  const json::object admin = Claims("mallory", "genie_admin");
  auto with = [&](const char* key, json::value v) {
    json::object c = admin;
    c[key] = std::move(v);
    return c;
  };
  const int64_t now = NowSec();
  const std::string good = MintRs(Claims("carol", "genie_user"));
  const std::string good_payload =
      good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
  std::string tampered = good;
  tampered.replace(good.find('.') + 1, good_payload.size(), B64(json::serialize(admin)));

  const std::vector<std::pair<std::string, std::string>> hostile = {
      {"alg none", B64(R"({"alg":"none","typ":"JWT"})") + "." + B64(json::serialize(admin)) + "."},
      {"alg none with the kid of a key",
       B64(R"({"alg":"none","kid":"rsa-1"})") + "." + B64(json::serialize(admin)) + "."},
      {"HS256 keyed with the RSA public key PEM", MintHs(admin, "rsa-1", PublicPem(rsa_))},
      {"expired", MintRs(with("exp", now - 3600))},
      {"nbf in the future", MintRs(with("nbf", now + 3600))},
      {"wrong iss", MintRs(with("iss", "https://idp.evil.example"))},
      {"wrong aud", MintRs(with("aud", "some-other-service"))},
      {"no aud",
       [&] {
         json::object c = admin;
         c.erase("aud");
         return MintRs(c);
       }()},
      {"unknown kid", MintRs(admin, "rsa-2")},
      {"tampered payload", tampered},
      {"kid with ../, signed by the real key", MintRs(admin, "../rsa-1")},
      {"kid with ../ to /dev/null, HS256 with an empty secret",
       MintHs(admin, "../../../../../../../../dev/null", "")},
      {"jku to a foreign JWKS, kid of the foreign key",
       MintRs(admin, "evil-1", attacker_, {{"jku", jku}})},
      {"jku to a foreign JWKS, kid of the real key",
       MintRs(admin, "rsa-1", attacker_, {{"jku", jku}})},
      {"signed by a foreign key", MintRs(admin, "rsa-1", attacker_)},
  };
  int n = 0;
  for (const auto& [what, token] : hostile) {
    SCOPED_TRACE(what);
    const std::string id = "hostile-" + std::to_string(++n);
    auto r = Call(token, "POST", "/api/v3/clusters", Cluster(id));
    EXPECT_EQ(r.status, 401) << r.body;
    std::string challenge = r.Header("www-authenticate").value_or("");
    EXPECT_EQ(challenge.rfind("Bearer ", 0), 0u) << challenge;
    EXPECT_NE(challenge.find("error="), std::string::npos) << challenge;
    EXPECT_EQ(Call(Admin(), "GET", "/api/v3/clusters/" + id).status, 404);
    auto me = Call(token, "GET", "/api/weir/v1/me");
    EXPECT_EQ(me.status, 401) << me.body;
    EXPECT_EQ(me.body.find("mallory"), std::string::npos) << me.body;
  }
  EXPECT_EQ(jku_server.RequestCount(), 0) << "the server fetched a token's jku";
  // The same server still takes a good token (the refusals were not a broken verifier).
  EXPECT_EQ(Call(good, "GET", "/api/weir/v1/me").status, 200);
}

// ---- mutual TLS through the real server ----

class MtlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("WEIR_TOKEN");
    std::filesystem::create_directories(dir_.path() / "pki");
    ASSERT_EQ(api::testing::MakeTestCerts(dir_.path() / "pki", &certs_), "");
    server_ = std::make_unique<WeirServer>(
        dir_.path() / "data", "server:\n  tls:\n    cert: " + certs_.server_cert.string() +
                                  "\n    key: " + certs_.server_key.string() +
                                  "\n    client_ca: " + certs_.ca.string() +
                                  "\nauth:\n  mode: required\n  mtls:\n    enabled: true\n"
                                  "    roles: {alice: [admin]}\n    default_roles: [user]\n");
    ASSERT_EQ(server_->Start(), "");
    ASSERT_EQ(server_->url().rfind("https://", 0), 0u) << server_->url();
  }

  std::vector<std::string> Tls(std::vector<std::string> args, bool with_client_cert = true) {
    std::vector<std::string> all = {"--cacert", certs_.ca.string()};
    if (with_client_cert) {
      all.insert(all.end(), {"--client-cert", certs_.client_cert.string(), "--client-key",
                             certs_.client_key.string()});
    }
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }

  TempDir dir_;
  api::testing::TestCerts certs_;
  std::unique_ptr<WeirServer> server_;
};

TEST_F(MtlsE2eTest, TheClientCertificatesCommonNameIsThePrincipal) {
  auto who = RunWeir(server_->url(), Tls({"whoami"}));
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_NE(who.out.find("name: alice\n"), std::string::npos) << who.out;
  EXPECT_NE(who.out.find("roles: admin, user\n"), std::string::npos) << who.out;
  EXPECT_NE(who.out.find("mechanism: mtls"), std::string::npos) << who.out;
  // The certificate's roles are used: alice (admin) creates a cluster.
  client::ClientOptions opts;
  opts.ca_file = certs_.ca.string();
  opts.client_cert = certs_.client_cert.string();
  opts.client_key = certs_.client_key.string();
  client::HttpClient http(server_->url(), opts);
  auto created = http.Request(
      "POST", "/api/v3/clusters",
      R"({"id":"mtls-c1","name":"c","user":"x","version":"1","status":"UP","tags":["t:1"]})",
      {{"Content-Type", "application/json"}});
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(created->status, 201) << created->body;
}

TEST_F(MtlsE2eTest, WithoutATrustedClientCertificateTheConnectionIsRefused) {
  auto no_cert = RunWeir(server_->url(), Tls({"whoami"}, false));
  EXPECT_NE(no_cert.exit_code, 0) << no_cert.out;
  EXPECT_EQ(no_cert.out.find("name:"), std::string::npos) << no_cert.out;
  // The CLI says the server wants a client certificate.
  EXPECT_NE(no_cert.err.find("--client-cert"), std::string::npos) << no_cert.err;
  // A certificate from a CA the server does not trust: refused as well.
  auto foreign = RunWeir(server_->url(), {"--cacert", certs_.ca.string(), "--client-cert",
                                          certs_.other_client_cert.string(), "--client-key",
                                          certs_.other_client_key.string(), "whoami"});
  EXPECT_NE(foreign.exit_code, 0) << foreign.out;
  EXPECT_EQ(foreign.out.find("mallory"), std::string::npos) << foreign.out;
}

}  // namespace
}  // namespace weir::testing
