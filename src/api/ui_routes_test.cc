// The browser UI's routes over a real server on port 0, with a small fixed set of files (the
// embedded build output is checked end to end by tests/ui_test.cc).
#include "api/ui_routes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/http_client.h"

namespace weir::api {
namespace {

const std::string kIndex = "<!doctype html><title>weir</title><div id=app></div>";
const std::string kScript = "console.log('weir');";
const std::string kScriptGzip = "\x1f\x8bpretend-gzip";

const UiFile kFiles[] = {
    {"index.html", "text/html; charset=utf-8", kIndex, "", "\"idx1\""},
    {"assets/index-abc123.js", "text/javascript; charset=utf-8", kScript, kScriptGzip, "\"js1\""},
};

class UiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override { Serve({}); }

  void Serve(UiAuthOptions auth) {
    if (server_) server_->Stop();
    auto router = std::make_shared<Router>();
    RegisterUiRoutes(*router, kFiles, std::move(auth));
    HttpServerOptions opts;
    opts.port = 0;
    server_ = NewHttpServer(opts, router);
    ASSERT_TRUE(server_->Start().ok());
    client_ =
        std::make_unique<client::HttpClient>("http://127.0.0.1:" + std::to_string(server_->port()));
  }
  void TearDown() override { server_->Stop(); }

  client::Response Get(const std::string& path, const client::Headers& headers = {}) {
    auto r = client_->Get(path, headers);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : client::Response{};
  }

  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<client::HttpClient> client_;
};

TEST_F(UiRoutesTest, BrowsersAreRedirectedFromTheRootToTheUi) {
  auto browser = Get("/", {{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}});
  EXPECT_EQ(browser.status, 302);
  EXPECT_EQ(browser.Header("location"), "/ui/");
  auto api_client = Get("/", {{"Accept", "application/json"}});
  EXPECT_EQ(api_client.status, 200);
  EXPECT_NE(api_client.body.find("\"/ui/\""), std::string::npos) << api_client.body;
  auto bare = Get("/ui");
  EXPECT_EQ(bare.status, 301);
  EXPECT_EQ(bare.Header("location"), "/ui/");
}

TEST_F(UiRoutesTest, IndexIsRevalidatedAndAssetsAreImmutable) {
  auto index = Get("/ui/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, kIndex);
  EXPECT_EQ(index.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(index.Header("cache-control"), "no-cache");
  EXPECT_EQ(index.Header("x-content-type-options"), "nosniff");
  EXPECT_NE(index.Header("content-security-policy").value_or("").find("default-src 'self'"),
            std::string::npos);

  auto script = Get("/ui/assets/index-abc123.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.body, kScript);
  EXPECT_EQ(script.Header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(script.Header("cache-control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(script.Header("etag"), "\"js1\"");
  EXPECT_FALSE(script.Header("content-encoding").has_value());
}

TEST_F(UiRoutesTest, GzipOnlyForClientsThatAcceptIt) {
  auto gz = Get("/ui/assets/index-abc123.js", {{"Accept-Encoding", "br, gzip;q=0.8"}});
  EXPECT_EQ(gz.status, 200);
  EXPECT_EQ(gz.Header("content-encoding"), "gzip");
  EXPECT_EQ(gz.Header("vary"), "Accept-Encoding");
  EXPECT_EQ(gz.body, kScriptGzip);
  auto refused = Get("/ui/assets/index-abc123.js", {{"Accept-Encoding", "gzip;q=0, identity"}});
  EXPECT_FALSE(refused.Header("content-encoding").has_value());
  EXPECT_EQ(refused.body, kScript);
}

TEST_F(UiRoutesTest, MatchingEtagAnswersNotModified) {
  auto again = Get("/ui/assets/index-abc123.js", {{"If-None-Match", "\"js1\""}});
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(again.body, "");
  auto changed = Get("/ui/assets/index-abc123.js", {{"If-None-Match", "\"old\""}});
  EXPECT_EQ(changed.status, 200);
}

TEST_F(UiRoutesTest, ViewsOfTheAppServeIndexButMissingAssetsAre404) {
  for (const char* view : {"/ui/jobs", "/ui/jobs/42", "/ui/jobs/42/output/genie/logs/env.log",
                           "/ui/config/clusters/local"}) {
    auto r = Get(view);
    EXPECT_EQ(r.status, 200) << view;
    EXPECT_EQ(r.body, kIndex) << view;
    EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8") << view;
  }
  for (const char* missing : {"/ui/assets/index-old999.js", "/ui/favicon.ico"}) {
    auto r = Get(missing);
    EXPECT_EQ(r.status, 404) << missing;
    EXPECT_EQ(r.body.find("<!doctype"), std::string::npos) << missing;
  }
}

// Without auth.oidc the UI is told the mode and no provider; its pages call only this server.
TEST_F(UiRoutesTest, AuthDocumentWithoutAProvider) {
  auto r = Get("/api/weir/v1/ui/auth");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"mode":"none","oidc":null})");
  EXPECT_NE(
      Get("/ui/jobs").Header("content-security-policy").value_or("").find("connect-src 'self';"),
      std::string::npos);
}

// With auth.oidc the UI learns the provider's public client settings (endpoint overrides only
// when set), and its pages may call the issuer's and the token endpoint's origins, nothing else.
TEST_F(UiRoutesTest, AuthDocumentNamesTheProviderAndThePagesMayCallIt) {
  auth::OidcClientConfig oidc;
  oidc.issuer = "https://idp.example/realms/data";
  oidc.client_id = "weir-ui";
  oidc.scopes = "openid profile";
  oidc.token_endpoint = "https://tokens.example:8443/oauth2/token";
  Serve({"required", oidc});
  auto r = Get("/api/weir/v1/ui/auth");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"mode":"required","oidc":{"issuer":"https://idp.example/realms/data",)"
                    R"("client_id":"weir-ui","scopes":"openid profile","token":"id_token",)"
                    R"("token_endpoint":"https://tokens.example:8443/oauth2/token"}})");
  for (const char* page : {"/ui/", "/ui/auth/callback"}) {
    auto p = Get(page);
    EXPECT_EQ(p.status, 200) << page;
    EXPECT_EQ(p.body, kIndex) << page;
    EXPECT_NE(p.Header("content-security-policy")
                  .value_or("")
                  .find("connect-src 'self' https://idp.example https://tokens.example:8443;"),
              std::string::npos)
        << p.Header("content-security-policy").value_or("");
  }
}

}  // namespace
}  // namespace weir::api
