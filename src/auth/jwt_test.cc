// Tests of the JWT authenticator: keys generated here with OpenSSL, JWKS documents built from
// them, and tokens minted by the small signer below (independent of the code under test).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "auth/auth.h"
#include "auth/jose.h"
#include "common/time_format.h"
#include "fetch/test_http_server.h"

namespace weir::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace json = boost::json;
using fetch::testing::StaticResource;
using fetch::testing::TempDir;
using fetch::testing::TestHttpServer;
using fetch::testing::TestRequest;
using fetch::testing::TestResponse;

// ---- the test's own JOSE encoder and signer ----

std::string B64(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  if (in.size() - i == 1) {
    uint32_t v = byte(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (in.size() - i == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

std::string Bn2Bin(const BIGNUM* bn, int pad = 0) {
  std::string out(pad > 0 ? pad : BN_num_bytes(bn), '\0');
  if (pad > 0) {
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), pad);
  } else {
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  }
  return out;
}

std::string BnParam(EVP_PKEY* pkey, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(pkey, name, &bn), 1) << name;
  std::string out = Bn2Bin(bn, pad);
  BN_free(bn);
  return out;
}

// Signs like a JWS signer: the signature in its JWS form (ES256: r||s).
std::string Sign(JwsAlg alg, EVP_PKEY* pkey, const std::string& secret, std::string_view input,
                 int pss_salt = 32) {
  if (alg == JwsAlg::kHS256) {
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return std::string(reinterpret_cast<char*>(mac), len);
  }
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(
      EVP_DigestSignInit(md, &pctx, alg == JwsAlg::kEdDSA ? nullptr : EVP_sha256(), nullptr, pkey),
      1);
  if (alg == JwsAlg::kPS256) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256());
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt);
  }
  size_t len = 0;
  EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  sig.resize(len);
  EVP_MD_CTX_free(md);
  if (alg != JwsAlg::kES256) return sig;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  std::string raw = Bn2Bin(ECDSA_SIG_get0_r(es), 32) + Bn2Bin(ECDSA_SIG_get0_s(es), 32);
  ECDSA_SIG_free(es);
  return raw;
}

struct TestKey {
  std::string kid;
  JwsAlg alg;
  EVP_PKEY* pkey = nullptr;  // shared, freed by the suite
  std::string secret;
};

std::string Mint(const json::object& header, const json::object& claims, const TestKey& key) {
  std::string input = B64(json::serialize(header)) + "." + B64(json::serialize(claims));
  return input + "." + B64(Sign(key.alg, key.pkey, key.secret, input));
}

json::object JwkOf(const TestKey& key, bool with_alg = true) {
  json::object jwk;
  if (!key.kid.empty()) jwk["kid"] = key.kid;
  if (with_alg) jwk["alg"] = std::string(JwsAlgName(key.alg));
  switch (key.alg) {
    case JwsAlg::kRS256:
    case JwsAlg::kPS256:
      jwk["kty"] = "RSA";
      jwk["n"] = B64(BnParam(key.pkey, OSSL_PKEY_PARAM_RSA_N));
      jwk["e"] = B64(BnParam(key.pkey, OSSL_PKEY_PARAM_RSA_E));
      break;
    case JwsAlg::kES256:
      jwk["kty"] = "EC";
      jwk["crv"] = "P-256";
      jwk["x"] = B64(BnParam(key.pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32));
      jwk["y"] = B64(BnParam(key.pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
      break;
    case JwsAlg::kEdDSA: {
      jwk["kty"] = "OKP";
      jwk["crv"] = "Ed25519";
      unsigned char raw[32];
      size_t len = sizeof(raw);
      EVP_PKEY_get_raw_public_key(key.pkey, raw, &len);
      jwk["x"] = B64(std::string(reinterpret_cast<char*>(raw), len));
      break;
    }
    case JwsAlg::kHS256:
      jwk["kty"] = "oct";
      jwk["k"] = B64(key.secret);
      break;
  }
  return jwk;
}

std::string Jwks(const std::vector<TestKey>& keys) {
  json::array arr;
  for (const auto& k : keys) arr.push_back(JwkOf(k));
  return json::serialize(json::object{{"keys", arr}});
}

std::string RsaPublicPem(EVP_PKEY* pkey) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pkey);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

std::string PublicDer(EVP_PKEY* pkey) {
  unsigned char* buf = nullptr;
  int len = i2d_PUBKEY(pkey, &buf);
  std::string der(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
  OPENSSL_free(buf);
  return der;
}

std::string RandomBytes(size_t n) {
  std::string s(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n));
  return s;
}

// ---- fixture ----

const TimePoint kStart = FromEpochMillis(1796551200000);  // 2026-12-06T10:00:00Z
int64_t Sec(TimePoint t) { return ToEpochMillis(t) / 1000; }

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = EVP_RSA_gen(2048);
    rsa2_ = EVP_RSA_gen(2048);
    ec_ = EVP_EC_gen("P-256");
    ed_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    attacker_ = EVP_RSA_gen(2048);
    hs_secret_ = RandomBytes(32);
  }
  static void TearDownTestSuite() {
    for (EVP_PKEY* k : {rsa_, rsa2_, ec_, ed_, attacker_}) EVP_PKEY_free(k);
  }

  TestKey Rs() const { return {"rsa1", JwsAlg::kRS256, rsa_, ""}; }
  TestKey Ps() const { return {"pss1", JwsAlg::kPS256, rsa_, ""}; }
  TestKey Es() const { return {"ec1", JwsAlg::kES256, ec_, ""}; }
  TestKey Ed() const { return {"ed1", JwsAlg::kEdDSA, ed_, ""}; }
  TestKey Hs() const { return {"hs1", JwsAlg::kHS256, nullptr, hs_secret_}; }
  std::vector<TestKey> AllKeys() const { return {Rs(), Ps(), Es(), Ed(), Hs()}; }

  JwtConfig Config(const std::string& jwks) {
    std::filesystem::path file = dir_ / ("jwks" + std::to_string(files_++) + ".json");
    std::ofstream(file) << jwks;
    JwtConfig config;
    config.jwks_file = file;
    config.issuers = {"https://idp.example"};
    config.audiences = {"weir", "weir-other"};
    return config;
  }

  std::unique_ptr<Authenticator> Make(JwtConfig config) {
    Result<std::unique_ptr<Authenticator>> a = NewJwtAuthenticator(std::move(config), clock_);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? std::move(*a) : nullptr;
  }
  std::unique_ptr<Authenticator> MakeAll() { return Make(Config(Jwks(AllKeys()))); }

  json::object Claims() const {
    return {{"iss", "https://idp.example"},
            {"aud", "weir"},
            {"sub", "alice"},
            {"exp", Sec(clock_.Now()) + 3600},
            {"scope", "openid admin"}};
  }
  static json::object Header(const TestKey& key) {
    return {{"alg", std::string(JwsAlgName(key.alg))}, {"kid", key.kid}, {"typ", "JWT"}};
  }
  std::string Token(const TestKey& key) const { return Mint(Header(key), Claims(), key); }

  static Result<Principal> Auth(Authenticator& a, const std::string& token) {
    return a.Authenticate(Credentials{"Bearer " + token, ""});
  }
  // Refused with kUnauthenticated and a message starting with `prefix`, which never echoes a
  // part of the token.
  static void ExpectRefused(Authenticator& a, const std::string& token, const std::string& prefix) {
    Result<Principal> r = Auth(a, token);
    ASSERT_FALSE(r.ok()) << "accepted, expected: " << prefix;
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
    EXPECT_THAT(r.status().message(), StartsWith(prefix));
    size_t start = 0;
    while (start < token.size()) {
      size_t dot = token.find('.', start);
      std::string part = token.substr(start, dot == std::string::npos ? dot : dot - start);
      if (part.size() > 8) {
        EXPECT_THAT(r.status().message(), ::testing::Not(HasSubstr(part)));
      }
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  }

  static inline EVP_PKEY* rsa_ = nullptr;
  static inline EVP_PKEY* rsa2_ = nullptr;
  static inline EVP_PKEY* ec_ = nullptr;
  static inline EVP_PKEY* ed_ = nullptr;
  static inline EVP_PKEY* attacker_ = nullptr;
  static inline std::string hs_secret_;

  FakeClock clock_{kStart};
  TempDir dir_;
  int files_ = 0;
};

// ---- base64url and JWKS ----

TEST(Base64UrlTest, StrictDecoding) {
  EXPECT_EQ(*Base64UrlDecode("aGk"), "hi");
  EXPECT_EQ(*Base64UrlDecode(""), "");
  EXPECT_EQ(*Base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_FALSE(Base64UrlDecode("aGk=").ok());    // padding
  EXPECT_FALSE(Base64UrlDecode("+/8").ok());     // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("aGkh a").ok());  // space
  EXPECT_FALSE(Base64UrlDecode("aGkha").ok());   // length 1 mod 4
  EXPECT_FALSE(Base64UrlDecode("aGl").ok());     // non-zero trailing bits ("aGk" is canonical)
  for (std::string s : {"", "a", "ab", "abc", "\xff\x00\x10"}) {
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(s)), s);
    EXPECT_EQ(Base64UrlEncode(s), B64(s));
  }
}

TEST_F(JwtTest, JwksSkipsKeysNotForSignaturesAndRefusesAmbiguousOnes) {
  json::object enc = JwkOf(Rs());
  enc["use"] = "enc";
  json::object p384{{"kty", "EC"}, {"crv", "P-384"}, {"x", "AA"}, {"y", "AA"}};
  json::object rs384 = JwkOf(Rs());
  rs384["alg"] = "RS384";
  rs384["kid"] = "rs384";
  json::array keys{enc, p384, rs384, JwkOf(Es())};
  Result<KeyList> parsed = ParseJwks(json::serialize(json::object{{"keys", keys}}));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0]->kid(), "ec1");

  EXPECT_THAT(ParseJwks(Jwks({Rs(), Rs()})).status().message(), HasSubstr("kid used by two"));
  json::object oct = JwkOf(Hs());
  oct.erase("alg");
  EXPECT_THAT(
      ParseJwks(json::serialize(json::object{{"keys", json::array{oct}}})).status().message(),
      HasSubstr("oct key needs"));
  json::object short_oct = JwkOf(Hs());
  short_oct["k"] = B64(RandomBytes(16));
  EXPECT_THAT(
      ParseJwks(json::serialize(json::object{{"keys", json::array{short_oct}}})).status().message(),
      HasSubstr("under 32 bytes"));
  json::object off_curve = JwkOf(Es());
  std::string y = *Base64UrlDecode(std::string(off_curve["y"].as_string()));
  y[31] ^= 1;
  off_curve["y"] = B64(y);
  EXPECT_THAT(
      ParseJwks(json::serialize(json::object{{"keys", json::array{off_curve}}})).status().message(),
      HasSubstr("not a point on P-256"));
  json::object misfit = JwkOf(Es());
  misfit["alg"] = "RS256";
  EXPECT_THAT(
      ParseJwks(json::serialize(json::object{{"keys", json::array{misfit}}})).status().message(),
      HasSubstr("does not fit kty EC"));
  EVP_PKEY* small = EVP_RSA_gen(1024);
  EXPECT_THAT(ParseJwks(Jwks({{"small", JwsAlg::kRS256, small, ""}})).status().message(),
              HasSubstr("under 2048 bits"));
  EVP_PKEY_free(small);
  EXPECT_THAT(
      ParseJwks(json::serialize(json::object{{"keys", json::array{enc}}})).status().message(),
      HasSubstr("no usable key"));
}

TEST_F(JwtTest, ConfigErrorsNameTheSetting) {
  auto error = [&](JwtConfig c) {
    Result<std::unique_ptr<Authenticator>> a = NewJwtAuthenticator(std::move(c), clock_);
    return a.ok() ? std::string("ok") : a.status().message();
  };
  JwtConfig c = Config(Jwks(AllKeys()));
  EXPECT_EQ(error(c), "ok");
  JwtConfig none = c;
  none.jwks_file.clear();
  EXPECT_THAT(error(none), HasSubstr("auth.jwks_file or auth.jwks_uri"));
  JwtConfig both = c;
  both.jwks_uri = "https://idp.example/jwks";
  EXPECT_THAT(error(both), HasSubstr("set only one"));
  JwtConfig no_iss = c;
  no_iss.issuers.clear();
  EXPECT_THAT(error(no_iss), HasSubstr("auth.issuers"));
  JwtConfig no_aud = c;
  no_aud.audiences.clear();
  EXPECT_THAT(error(no_aud), HasSubstr("auth.audiences"));
  JwtConfig missing = c;
  missing.jwks_file = dir_ / "missing.json";
  EXPECT_THAT(error(missing), HasSubstr("auth.jwks_file: cannot read"));
  JwtConfig bad = Config("{\"keys\": [{\"kty\": \"oct\", \"k\": \"" + B64(hs_secret_) + "\"}]}");
  EXPECT_THAT(error(bad), HasSubstr("auth.jwks_file: JWKS: key 0: an oct key needs"));
  JwtConfig plain = c;
  plain.jwks_file.clear();
  plain.jwks_uri = "http://idp.example/jwks";
  EXPECT_THAT(error(plain), HasSubstr("auth.jwks_uri: must be https://"));
}

// ---- good tokens ----

TEST_F(JwtTest, EveryAlgorithmAcceptsAGoodToken) {
  auto a = MakeAll();
  for (const TestKey& key : AllKeys()) {
    SCOPED_TRACE(std::string(JwsAlgName(key.alg)));
    Result<Principal> p = Auth(*a, Token(key));
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->name, "alice");
    EXPECT_EQ(p->mechanism, "jwt");
    EXPECT_THAT(p->roles, ElementsAre("openid", "admin", "user"));
    EXPECT_EQ(p->expires, std::chrono::system_clock::time_point(
                              std::chrono::seconds(Sec(clock_.Now()) + 3600)));
  }
}

TEST_F(JwtTest, KeysWithoutAlgTakeTheirTypesAlgorithm) {
  json::array keys{JwkOf(Rs(), false), JwkOf(Es(), false), JwkOf(Ed(), false)};
  auto a = Make(Config(json::serialize(json::object{{"keys", keys}})));
  EXPECT_TRUE(Auth(*a, Token(Rs())).ok());
  EXPECT_TRUE(Auth(*a, Token(Es())).ok());
  EXPECT_TRUE(Auth(*a, Token(Ed())).ok());
  TestKey ps_as_rs1 = Ps();
  ps_as_rs1.kid = "rsa1";
  ExpectRefused(*a, Token(ps_as_rs1), "invalid_token: alg PS256 does not match the key's RS256");
}

TEST_F(JwtTest, SchemeAndSize) {
  auto a = MakeAll();
  std::string token = Token(Rs());
  EXPECT_TRUE(a->Authenticate({"bearer  " + token, ""}).ok());
  EXPECT_THAT(a->Authenticate({"", ""}).status().message(),
              StartsWith("invalid_request: no credentials"));
  EXPECT_THAT(a->Authenticate({"Basic " + B64("alice:pw"), ""}).status().message(),
              StartsWith("invalid_request: unsupported authorization scheme"));
  EXPECT_THAT(a->Authenticate({"Bearer ", ""}).status().message(), StartsWith("invalid_request"));
  // 1 MB: refused on its size before any decoding.
  std::string huge =
      B64(json::serialize(json::object{{"alg", "RS256"}, {"pad", std::string(1 << 20, 'x')}})) +
      ".e30.AAAA";
  Result<Principal> r = Auth(*a, huge);
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(r.status().message(), "invalid_request: token larger than 16384 bytes");
}

TEST_F(JwtTest, NoKidSelectsTheOnlyKey) {
  TestKey anonymous = Rs();
  anonymous.kid.clear();
  auto one = Make(Config(Jwks({anonymous})));
  json::object header{{"alg", "RS256"}};
  EXPECT_TRUE(Auth(*one, Mint(header, Claims(), anonymous)).ok());
  auto all = MakeAll();
  ExpectRefused(*all, Mint(header, Claims(), Rs()),
                "invalid_token: token has no kid and the key set holds 5 keys");
}

// ---- hostile tokens ----

TEST_F(JwtTest, AlgNoneIsRefusedWithAndWithoutSignature) {
  auto a = MakeAll();
  for (std::string alg : {"none", "None", "NONE"}) {
    json::object header{{"alg", alg}, {"kid", "rsa1"}};
    std::string unsigned_token =
        B64(json::serialize(header)) + "." + B64(json::serialize(Claims())) + ".";
    ExpectRefused(*a, unsigned_token, "invalid_token: alg none is not accepted");
    std::string input = B64(json::serialize(header)) + "." + B64(json::serialize(Claims()));
    ExpectRefused(*a, input + "." + B64(Sign(JwsAlg::kRS256, rsa_, "", input)),
                  "invalid_token: alg none is not accepted");
  }
  json::object no_alg{{"kid", "rsa1"}};
  ExpectRefused(*a, Mint(no_alg, Claims(), Rs()), "invalid_token: alg missing");
  json::object rs384{{"alg", "RS384"}, {"kid", "rsa1"}};
  ExpectRefused(*a, Mint(rs384, Claims(), Rs()), "invalid_token: unsupported alg");
}

TEST_F(JwtTest, Hs256WithTheRsaPublicKeyAsSecretIsRefused) {
  auto a = MakeAll();
  TestKey anonymous = Rs();
  anonymous.kid.clear();
  auto one = Make(Config(Jwks({anonymous})));
  for (const std::string& secret : {RsaPublicPem(rsa_), PublicDer(rsa_)}) {
    TestKey forged{"rsa1", JwsAlg::kHS256, nullptr, secret};
    ExpectRefused(*a, Token(forged), "invalid_token: alg HS256 does not match the key's RS256");
    ExpectRefused(*one, Mint({{"alg", "HS256"}}, Claims(), forged),
                  "invalid_token: alg HS256 does not match the key's RS256");
  }
}

TEST_F(JwtTest, SwappingRs256AndPs256IsRefused) {
  auto a = MakeAll();
  TestKey ps_on_rs = {"rsa1", JwsAlg::kPS256, rsa_, ""};
  ExpectRefused(*a, Token(ps_on_rs), "invalid_token: alg PS256 does not match the key's RS256");
  TestKey rs_on_ps = {"pss1", JwsAlg::kRS256, rsa_, ""};
  ExpectRefused(*a, Token(rs_on_ps), "invalid_token: alg RS256 does not match the key's PS256");
  // The header claims RS256 but the signature is PSS (and the other way round).
  std::string input = B64(json::serialize(Header(Rs()))) + "." + B64(json::serialize(Claims()));
  ExpectRefused(*a, input + "." + B64(Sign(JwsAlg::kPS256, rsa_, "", input)),
                "invalid_token: signature does not verify");
  input = B64(json::serialize(Header(Ps()))) + "." + B64(json::serialize(Claims()));
  ExpectRefused(*a, input + "." + B64(Sign(JwsAlg::kRS256, rsa_, "", input)),
                "invalid_token: signature does not verify");
}

TEST_F(JwtTest, Ps256NeedsASaltOfThirtyTwoBytes) {
  auto a = MakeAll();
  std::string input = B64(json::serialize(Header(Ps()))) + "." + B64(json::serialize(Claims()));
  EXPECT_TRUE(Auth(*a, input + "." + B64(Sign(JwsAlg::kPS256, rsa_, "", input, 32))).ok());
  for (int salt : {0, 20, 64}) {
    ExpectRefused(*a, input + "." + B64(Sign(JwsAlg::kPS256, rsa_, "", input, salt)),
                  "invalid_token: signature does not verify");
  }
}

TEST_F(JwtTest, ExpiryAndNotBeforeWithLeewayAtBothEdges) {
  auto a = MakeAll();
  const int64_t now = Sec(clock_.Now());
  auto token = [&](std::optional<int64_t> exp, std::optional<int64_t> nbf, int n) {
    json::object c = Claims();
    c["jti"] = n;  // distinct tokens: no cache hits
    if (exp)
      c["exp"] = *exp;
    else
      c.erase("exp");
    if (nbf) c["nbf"] = *nbf;
    return Mint(Header(Rs()), c, Rs());
  };
  // Leeway 60 s: valid while now < exp + 60.
  EXPECT_TRUE(Auth(*a, token(now - 59, std::nullopt, 1)).ok());
  ExpectRefused(
      *a, token(now - 60, std::nullopt, 2),
      "invalid_token: token expired at " + FormatIso8601(FromEpochMillis((now - 60) * 1000)));
  ExpectRefused(*a, token(now - 3600, std::nullopt, 3), "invalid_token: token expired at");
  // Valid once now >= nbf - 60.
  EXPECT_TRUE(Auth(*a, token(now + 3600, now + 60, 4)).ok());
  ExpectRefused(*a, token(now + 3600, now + 61, 5), "invalid_token: token not valid before");
  // Millisecond edge on the clock side: a fresh token expiring at now.
  std::string edge = token(now, std::nullopt, 6);
  clock_.Advance(Millis(59'999));
  EXPECT_TRUE(Auth(*a, edge).ok());
  clock_.Advance(Millis(1));
  ExpectRefused(*a, edge, "invalid_token: token expired at");  // also out of the cache

  JwtConfig strict = Config(Jwks(AllKeys()));
  strict.leeway = std::chrono::seconds(0);
  auto b = Make(strict);
  const int64_t later = Sec(clock_.Now());
  ExpectRefused(*b, token(later, std::nullopt, 7), "invalid_token: token expired at");
  EXPECT_TRUE(Auth(*b, token(later + 1, later, 8)).ok());
  ExpectRefused(*b, token(later + 10, later + 1, 9), "invalid_token: token not valid before");
}

TEST_F(JwtTest, IssuerAudienceAndRequiredClaims) {
  auto a = MakeAll();
  auto with = [&](const std::string& name, json::value v) {
    json::object c = Claims();
    if (v.is_null())
      c.erase(name);
    else
      c[name] = v;
    return Mint(Header(Rs()), c, Rs());
  };
  ExpectRefused(*a, with("iss", "https://evil.example"), "invalid_token: issuer not accepted");
  ExpectRefused(*a, with("iss", nullptr), "invalid_token: iss claim missing");
  ExpectRefused(*a, with("aud", "other"), "invalid_token: audience not accepted");
  ExpectRefused(*a, with("aud", json::array{"other", "third"}),
                "invalid_token: audience not accepted");
  ExpectRefused(*a, with("aud", nullptr), "invalid_token: aud claim missing");
  ExpectRefused(*a, with("aud", 7), "invalid_token: aud claim must be");
  EXPECT_TRUE(Auth(*a, with("aud", json::array{"other", "weir-other"})).ok());
  EXPECT_TRUE(Auth(*a, with("aud", json::array{"weir", "other"})).ok());
  ExpectRefused(*a, with("exp", nullptr), "invalid_token: exp claim missing");
  ExpectRefused(*a, with("exp", "tomorrow"), "invalid_token: exp claim is not a NumericDate");
  ExpectRefused(*a, with("exp", 1e300), "invalid_token: exp claim is not a NumericDate");
  ExpectRefused(*a, with("sub", nullptr), "invalid_token: sub claim missing or empty");
  ExpectRefused(*a, with("sub", ""), "invalid_token: sub claim missing or empty");
  ExpectRefused(*a, with("sub", 42), "invalid_token: sub claim missing or empty");
  ExpectRefused(*a, with("sub", "bob\nadmin"),
                "invalid_token: sub claim holds a control character");
  ExpectRefused(*a, with("scope", 5), "invalid_token: scope claim must be");
}

TEST_F(JwtTest, UnknownKidAndPathLikeKid) {
  auto a = MakeAll();
  for (std::string kid : {"rsa2", "../../etc/passwd", "rsa1 ", "RSA1", ""}) {
    TestKey k = Rs();
    k.kid = kid;
    ExpectRefused(*a, Token(k), "invalid_token: unknown kid");
  }
  ExpectRefused(*a, Mint({{"alg", "RS256"}, {"kid", 1}}, Claims(), Rs()),
                "invalid_token: kid must be a string");
}

TEST_F(JwtTest, TamperedTruncatedAndMalformedTokens) {
  auto a = MakeAll();
  std::string good = Token(Rs());
  ASSERT_TRUE(Auth(*a, good).ok());
  size_t dot1 = good.find('.'), dot2 = good.rfind('.');
  json::object evil = Claims();
  evil["sub"] = "root";
  std::string tampered = good.substr(0, dot1 + 1) + B64(json::serialize(evil)) + good.substr(dot2);
  ExpectRefused(*a, tampered, "invalid_token: signature does not verify");
  std::string flipped = good;
  flipped[dot2 + 5] = flipped[dot2 + 5] == 'A' ? 'B' : 'A';
  ExpectRefused(*a, flipped, "invalid_token: signature does not verify");
  ExpectRefused(*a, good.substr(0, good.size() - 10), "invalid_token: signature does not verify");
  ExpectRefused(*a, good.substr(0, dot2), "invalid_token: malformed token");
  ExpectRefused(*a, good.substr(0, dot2 + 1), "invalid_token: signature does not verify");
  ExpectRefused(*a, good + ".e30", "invalid_token: malformed token");
  ExpectRefused(*a, good + "..", "invalid_token: malformed token");
  ExpectRefused(*a, "a.b.c.d.e", "invalid_token: malformed token");
  // Bad base64url in each segment.
  ExpectRefused(*a, good.substr(0, dot2) + "." + good.substr(dot2 + 1) + "=",
                "invalid_token: signature does not verify");
  ExpectRefused(*a, "=" + good, "invalid_token: header is not");
  ExpectRefused(*a, B64("[1]") + good.substr(dot1), "invalid_token: header is not");
  std::string padded_payload = good.substr(0, dot2) + "==" + good.substr(dot2);
  ExpectRefused(*a, padded_payload, "invalid_token: signature does not verify");
  // A correctly signed payload that is not JSON.
  std::string input = good.substr(0, dot1) + "." + B64("not json");
  ExpectRefused(*a, input + "." + B64(Sign(JwsAlg::kRS256, rsa_, "", input)),
                "invalid_token: payload is not");
}

TEST_F(JwtTest, CritIsRefused) {
  auto a = MakeAll();
  json::object h = Header(Rs());
  h["crit"] = json::array{"exp"};
  h["exp"] = 1;
  ExpectRefused(*a, Mint(h, Claims(), Rs()), "invalid_token: critical header parameters");
}

TEST_F(JwtTest, KeyUrlHeadersAreIgnored) {
  std::atomic<int> requests{0};
  TestKey attacker{"attacker", JwsAlg::kRS256, attacker_, ""};
  std::string attacker_jwks = Jwks({attacker});
  TestHttpServer evil([&](const TestRequest&) {
    ++requests;
    return TestResponse{200, {{"Content-Type", "application/json"}}, attacker_jwks};
  });
  auto a = MakeAll();
  auto with_refs = [&](json::object h) {
    h["jku"] = evil.Url("/jwks.json");
    h["x5u"] = evil.Url("/cert.pem");
    h["jwk"] = JwkOf(attacker);
    h["x5c"] = json::array{B64(PublicDer(attacker_))};
    return h;
  };
  // The attacker's own kid: not in our key set.
  ExpectRefused(*a, Mint(with_refs(Header(attacker)), Claims(), attacker),
                "invalid_token: unknown kid");
  // Our kid, the attacker's signature: our key decides.
  TestKey posing{"rsa1", JwsAlg::kRS256, attacker_, ""};
  ExpectRefused(*a, Mint(with_refs(Header(posing)), Claims(), posing),
                "invalid_token: signature does not verify");
  // No kid at all with a one-key set: still our key.
  TestKey anonymous = Rs();
  anonymous.kid.clear();
  auto one = Make(Config(Jwks({anonymous})));
  ExpectRefused(*one, Mint(with_refs({{"alg", "RS256"}}), Claims(), attacker),
                "invalid_token: signature does not verify");
  // A genuine token carrying the same headers is accepted: they are ignored, not refused.
  EXPECT_TRUE(Auth(*a, Mint(with_refs(Header(Rs())), Claims(), Rs())).ok());
  EXPECT_EQ(requests.load(), 0);
}

TEST_F(JwtTest, Es256SignatureForms) {
  auto a = MakeAll();
  std::string input = B64(json::serialize(Header(Es()))) + "." + B64(json::serialize(Claims()));
  std::string raw = Sign(JwsAlg::kES256, ec_, "", input);
  ASSERT_TRUE(Auth(*a, input + "." + B64(raw)).ok());

  // The DER form OpenSSL produces is not the JWS form.
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, ec_);
  size_t len = 80;
  std::string der(len, '\0');
  EVP_DigestSign(md, reinterpret_cast<unsigned char*>(der.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  der.resize(len);
  EVP_MD_CTX_free(md);
  ExpectRefused(*a, input + "." + B64(der), "invalid_token: signature does not verify");

  const std::string zero(32, '\0');
  ExpectRefused(*a, input + "." + B64(zero + raw.substr(32)),
                "invalid_token: signature does not verify");
  ExpectRefused(*a, input + "." + B64(raw.substr(0, 32) + zero),
                "invalid_token: signature does not verify");
  ExpectRefused(*a, input + "." + B64(std::string(64, '\0')),
                "invalid_token: signature does not verify");

  // r or s equal to the group order n, or s + n: out of range, refused.
  BIGNUM* n = nullptr;
  BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
  ExpectRefused(*a, input + "." + B64(raw.substr(0, 32) + Bn2Bin(n, 32)),
                "invalid_token: signature does not verify");
  ExpectRefused(*a, input + "." + B64(Bn2Bin(n, 32) + raw.substr(32)),
                "invalid_token: signature does not verify");
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  BIGNUM* high = BN_new();
  BN_add(high, s, n);
  if (BN_num_bytes(high) <= 32) {
    ExpectRefused(*a, input + "." + B64(raw.substr(0, 32) + Bn2Bin(high, 32)),
                  "invalid_token: signature does not verify");
  }
  // n - s: the mirror ("high-S" when s was low) is a valid ECDSA signature of the same token;
  // JWS does not require low-S, and most signers do not normalize, so it is accepted. It is a
  // different token string, verified (and cached) on its own.
  BIGNUM* mirror = BN_new();
  BN_sub(mirror, n, s);
  EXPECT_TRUE(Auth(*a, input + "." + B64(raw.substr(0, 32) + Bn2Bin(mirror, 32))).ok());
  for (BIGNUM* b : {n, s, high, mirror}) BN_free(b);
}

TEST_F(JwtTest, RolesFromStringOrArrayWithPrefix) {
  JwtConfig c = Config(Jwks(AllKeys()));
  c.roles_claim = "groups";
  c.role_prefix = "genie_";
  auto a = Make(c);
  auto roles = [&](json::value groups) {
    json::object claims = Claims();
    claims["groups"] = groups;
    Result<Principal> p = Auth(*a, Mint(Header(Rs()), claims, Rs()));
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? p->roles : std::vector<std::string>{"<refused>"};
  };
  EXPECT_THAT(
      roles(json::array{"genie_admin", "staff", "genie_deploy-prod", "genie_admin", "genie_"}),
      ElementsAre("admin", "deploy-prod", "user"));
  EXPECT_THAT(roles("genie_user   genie_user other"), ElementsAre("user"));
  EXPECT_THAT(roles(json::array{}), ElementsAre());
  json::object no_groups = Claims();
  Result<Principal> p = Auth(*a, Mint(Header(Rs()), no_groups, Rs()));
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->roles.empty());
  EXPECT_FALSE(p->IsAdmin());
  json::object bad = Claims();
  bad["groups"] = json::array{"genie_admin", 3};
  ExpectRefused(*a, Mint(Header(Rs()), bad, Rs()), "invalid_token: groups claim must be");

  JwtConfig plain = Config(Jwks(AllKeys()));
  plain.principal_claim = "client_id";
  auto b = Make(plain);
  json::object genie3 = Claims();
  genie3["client_id"] = "ci-bot";
  genie3["scope"] = "user admin user";
  Result<Principal> q = Auth(*b, Mint(Header(Es()), genie3, Es()));
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->name, "ci-bot");
  EXPECT_THAT(q->roles, ElementsAre("user", "admin"));
}

// ---- JWKS URL ----

class JwksServer {
 public:
  explicit JwksServer(std::string jwks)
      : resource_(std::move(jwks)),
        server_([this](const TestRequest& r) { return resource_.Handle(r); }) {}
  StaticResource& resource() { return resource_; }
  std::string Url() const { return server_.Url("/.well-known/jwks.json"); }

 private:
  StaticResource resource_;
  TestHttpServer server_;
};

TEST_F(JwtTest, JwksUriRotationIsPickedUpOnUnknownKidAtMostOncePerInterval) {
  JwksServer server(Jwks({Rs()}));
  JwtConfig c = Config("");
  c.jwks_file.clear();
  c.jwks_uri = server.Url();
  auto a = Make(c);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(server.resource().gets(), 1);  // fetched at start
  std::string old_token = Token(Rs());
  EXPECT_TRUE(Auth(*a, old_token).ok());
  EXPECT_EQ(server.resource().gets(), 1);

  // The provider rotates to a new key; a token naming it arrives.
  TestKey next{"rsa2", JwsAlg::kRS256, rsa2_, ""};
  server.resource().SetContent(Jwks({next}));
  // Less than the interval since the start fetch: no fetch, unknown kid.
  ExpectRefused(*a, Token(next), "invalid_token: unknown kid");
  EXPECT_EQ(server.resource().gets(), 1);
  clock_.Advance(std::chrono::seconds(60));
  EXPECT_TRUE(Auth(*a, Token(next)).ok());
  EXPECT_EQ(server.resource().gets(), 2);
  // The old key left the set: its cached token goes with it.
  ExpectRefused(*a, old_token, "invalid_token: unknown kid");
  // Random kids cannot make weir hammer the provider.
  for (int i = 0; i < 20; ++i) {
    TestKey random{"random" + std::to_string(i), JwsAlg::kRS256, rsa2_, ""};
    ExpectRefused(*a, Token(random), "invalid_token: unknown kid");
  }
  EXPECT_EQ(server.resource().gets(), 2);
  clock_.Advance(std::chrono::seconds(59));
  ExpectRefused(*a, Token({"random", JwsAlg::kRS256, rsa2_, ""}), "invalid_token: unknown kid");
  EXPECT_EQ(server.resource().gets(), 2);
  clock_.Advance(std::chrono::seconds(1));
  ExpectRefused(*a, Token({"random", JwsAlg::kRS256, rsa2_, ""}), "invalid_token: unknown kid");
  EXPECT_EQ(server.resource().gets(), 3);

  // A failed refresh (500, then garbage) keeps the keys in use.
  server.resource().status = 500;
  clock_.Advance(std::chrono::seconds(60));
  ExpectRefused(*a, Token({"other", JwsAlg::kRS256, rsa2_, ""}), "invalid_token: unknown kid");
  EXPECT_EQ(server.resource().gets(), 4);
  EXPECT_TRUE(Auth(*a, Token(next)).ok());
  server.resource().status = 200;
  server.resource().SetContent("{\"keys\": 5}");
  clock_.Advance(std::chrono::seconds(60));
  ExpectRefused(*a, Token({"other", JwsAlg::kRS256, rsa2_, ""}), "invalid_token: unknown kid");
  EXPECT_EQ(server.resource().gets(), 5);
  TestKey fresh = next;
  fresh.kid = "rsa2";
  json::object claims = Claims();
  claims["jti"] = "uncached";
  EXPECT_TRUE(Auth(*a, Mint(Header(fresh), claims, fresh)).ok());
}

TEST_F(JwtTest, ConcurrentUnknownKidsCauseOneFetch) {
  JwksServer server(Jwks({Rs()}));
  JwtConfig c = Config("");
  c.jwks_file.clear();
  c.jwks_uri = server.Url();
  auto a = Make(c);
  ASSERT_NE(a, nullptr);
  TestKey next{"rsa2", JwsAlg::kRS256, rsa2_, ""};
  server.resource().SetContent(Jwks({Rs(), next}));
  server.resource().delay = Millis(200);  // let the other requests queue behind the fetch
  clock_.Advance(std::chrono::seconds(61));
  std::vector<std::string> tokens;
  for (int i = 0; i < 8; ++i) {
    json::object claims = Claims();
    claims["jti"] = i;
    tokens.push_back(Mint(Header(next), claims, next));
  }
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { accepted += Auth(*a, tokens[i]).ok() ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 8);
  EXPECT_EQ(server.resource().gets(), 2);  // start + one refresh
}

TEST_F(JwtTest, FirstFetchFailureIsUnavailable) {
  JwtConfig c = Config("");
  c.jwks_file.clear();
  c.jwks_uri = "http://127.0.0.1:" + std::to_string(fetch::testing::ClosedPort()) + "/jwks";
  c.jwks_fetch_timeout = Millis(2000);
  Result<std::unique_ptr<Authenticator>> a = NewJwtAuthenticator(c, clock_);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(a.status().message(), StartsWith("auth.jwks_uri: "));
}

// ---- cache ----

TEST_F(JwtTest, CacheNeverLetsAForgeryOrAnExpiredTokenThrough) {
  auto a = MakeAll();
  std::string good = Token(Es());
  ASSERT_TRUE(Auth(*a, good).ok());
  ASSERT_TRUE(Auth(*a, good).ok());  // hit
  // Same header and payload as the cached token, another signature.
  std::string forged = good.substr(0, good.rfind('.') + 1) + B64(RandomBytes(64));
  ExpectRefused(*a, forged, "invalid_token: signature does not verify");
  ExpectRefused(*a, forged, "invalid_token: signature does not verify");
  clock_.Advance(std::chrono::seconds(3600 + 60));
  ExpectRefused(*a, good, "invalid_token: token expired at");
}

TEST_F(JwtTest, CostOfCachedAndUncachedRs256) {
  auto a = MakeAll();
  constexpr int kTokens = 300, kHits = 20000;
  std::vector<std::string> tokens;
  for (int i = 0; i < kTokens; ++i) {
    json::object claims = Claims();
    claims["jti"] = i;
    tokens.push_back(Mint(Header(Rs()), claims, Rs()));
  }
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& t : tokens) ASSERT_TRUE(Auth(*a, t).ok());
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < kHits; ++i) ASSERT_TRUE(Auth(*a, tokens[0]).ok());
  auto t2 = std::chrono::steady_clock::now();
  using us = std::chrono::duration<double, std::micro>;
  std::printf("RS256 (2048-bit) verification: uncached %.1f us, cached %.2f us per token\n",
              us(t1 - t0).count() / kTokens, us(t2 - t1).count() / kHits);
}

}  // namespace
}  // namespace weir::auth
