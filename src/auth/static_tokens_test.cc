// The static tokens file parser, its permission check, and the chain authenticator over it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "auth/authenticators.h"

namespace weir::auth {
namespace {

// Any 64 hex digits: the parser does not know the token.
const std::string kCiHash = "4f6e1b1f3c1d4c0b2c7c8e4c1e0a9f7f5f0b7d0a3e4f8f2f6f4c2b1a0e9d8c7b";

std::string HexSha256(const std::string& s) {
  // The test computes the hashes through the parser's own input path: sha256sum's format.
  FILE* p = ::popen(("printf '%s' '" + s + "' | sha256sum").c_str(), "r");
  char buf[128] = {0};
  size_t n = std::fread(buf, 1, 64, p);
  ::pclose(p);
  return std::string(buf, n);
}

TEST(StaticTokens, ParsesLinesCommentsAndRoles) {
  auto t = ParseStaticTokens("# machines\n\n" + kCiHash + "  ci-bot  user   # the CI\r\n" +
                             std::string(64, 'A') + "\tops admin,deployer-prod\n");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].principal.name, "ci-bot");
  EXPECT_EQ((*t)[0].principal.mechanism, "token");
  EXPECT_EQ((*t)[0].principal.roles, std::vector<std::string>({"user"}));
  EXPECT_EQ((*t)[0].sha256.size(), 32u);
  EXPECT_EQ((*t)[1].principal.name, "ops");
  // admin brings user; sorted.
  EXPECT_EQ((*t)[1].principal.roles, std::vector<std::string>({"admin", "deployer-prod", "user"}));
}

TEST(StaticTokens, RefusesMalformedLinesNamingThem) {
  auto two_fields = ParseStaticTokens("# x\n" + kCiHash + " ci-bot\n");
  ASSERT_FALSE(two_fields.ok());
  EXPECT_NE(two_fields.status().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(ParseStaticTokens(kCiHash.substr(1) + " a user\n").ok());
  EXPECT_FALSE(ParseStaticTokens(std::string(63, 'a') + "g a user\n").ok());
  EXPECT_FALSE(ParseStaticTokens(kCiHash + " a user,,admin\n").ok());
  auto dup = ParseStaticTokens(kCiHash + " a user\n" + kCiHash + " b admin\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("twice"), std::string::npos);
}

TEST(StaticTokens, RefusesAGroupWritableFile) {
  auto dir = std::filesystem::temp_directory_path() / ("weir-tokens-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "tokens";
  std::ofstream(file) << kCiHash << " ci-bot user\n";
  ASSERT_EQ(::chmod(file.c_str(), 0620), 0);
  auto loose = LoadStaticTokens(file);
  ASSERT_FALSE(loose.ok());
  EXPECT_EQ(loose.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(loose.status().message().find("chmod go-w"), std::string::npos);
  ASSERT_EQ(::chmod(file.c_str(), 0602), 0);
  EXPECT_FALSE(LoadStaticTokens(file).ok());
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  auto ok = LoadStaticTokens(file);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->size(), 1u);
  std::filesystem::remove_all(dir);
}

TEST(ChainAuthenticator, StaticTokensBearerOnly) {
  auto tokens = ParseStaticTokens(HexSha256("ci-secret") + " ci-bot user\n" +
                                  HexSha256("admin-secret") + " ops admin\n");
  ASSERT_TRUE(tokens.ok()) << tokens.status().message();
  ChainOptions o;
  o.static_tokens = *tokens;
  auto a = NewChainAuthenticator(std::move(o));

  auto ci = a->Authenticate({"Bearer ci-secret", ""});
  ASSERT_TRUE(ci.ok()) << ci.status().message();
  EXPECT_EQ(ci->name, "ci-bot");
  auto ops = a->Authenticate({"bearer   admin-secret ", ""});
  ASSERT_TRUE(ops.ok()) << ops.status().message();
  EXPECT_TRUE(ops->IsAdmin());

  auto missing = a->Authenticate({"", ""});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(missing.status().message().starts_with("invalid_request:"));
  auto basic = a->Authenticate({"Basic Y2k6Y2ktc2VjcmV0", ""});
  ASSERT_FALSE(basic.ok());
  EXPECT_TRUE(basic.status().message().starts_with("invalid_request:"));
  auto wrong = a->Authenticate({"Bearer ci-secreT", ""});
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(wrong.status().message().starts_with("invalid_token:"));
  // The token's hash, presented as the token, is not the token.
  EXPECT_FALSE(a->Authenticate({"Bearer " + HexSha256("ci-secret"), ""}).ok());
  // A certificate does not count unless mTLS is configured.
  EXPECT_FALSE(a->Authenticate({"", "/CN=ci-bot"}).ok());
}

TEST(ChainAuthenticator, ClientCertificateSubject) {
  ChainOptions o;
  o.mtls = MtlsConfig{{{"deploy-robot", {"deployer-prod"}}}, {"user"}};
  auto a = NewChainAuthenticator(std::move(o));
  auto robot = a->Authenticate({"", "CN=deploy-robot,O=Example"});
  ASSERT_TRUE(robot.ok()) << robot.status().message();
  EXPECT_EQ(robot->name, "deploy-robot");
  EXPECT_EQ(robot->mechanism, "mtls");
  EXPECT_EQ(robot->roles, std::vector<std::string>({"deployer-prod"}));
  auto other = a->Authenticate({"", "/O=Example/CN=alice"});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->name, "alice");
  EXPECT_EQ(other->roles, std::vector<std::string>({"user"}));
  EXPECT_FALSE(a->Authenticate({"", "/O=Example"}).ok());
  // Presented but unknown bearer credentials win over the certificate.
  EXPECT_FALSE(a->Authenticate({"Bearer nope", "/CN=alice"}).ok());
}

TEST(SubjectCommonName, Forms) {
  EXPECT_EQ(SubjectCommonName("CN=a"), "a");
  EXPECT_EQ(SubjectCommonName("O=x, CN=b"), "b");
  EXPECT_EQ(SubjectCommonName("/C=US/CN=c/O=y"), "c");
  EXPECT_EQ(SubjectCommonName("O=xCN=d"), "");
}

}  // namespace
}  // namespace weir::auth
