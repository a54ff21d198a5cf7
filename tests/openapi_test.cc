// The API document (issue 13): GET /api/weir/v1/openapi.json of a server started in this
// process names every route its router registers (and nothing it does not), and validates as
// OpenAPI 3.1 with a standard validator from npm (tests/openapi, installed by
// `make openapi-test-deps`; missing: a skip, a failure under WEIR_REQUIRE_SERVICES=1).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdio>
#include <set>
#include <string>

#include "client/http_client.h"
#include "common/testing/required_services.h"
#include "server/server.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const fs::path kOpenApiDir = fs::path(WEIR_SOURCE_DIR) / "tests" / "openapi";

// "{path*}" → "{path}": OpenAPI has no tail parameters; the pattern is documented as one.
std::string OpenApiPath(const std::string& pattern) {
  std::string out = pattern;
  for (size_t pos; (pos = out.find("*}")) != std::string::npos;) out.erase(pos, 1);
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Runs the validator on `file`: exit status and its output.
std::pair<int, std::string> Validate(const fs::path& file) {
  std::string cmd = "cd " + ShellQuote(kOpenApiDir.string()) + " && node validate.mjs " +
                    ShellQuote(file.string()) + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::ServerConfig config;
    config.data_dir = dir_.path() / "data";
    config.listen_port = 0;
    server_ = server::NewServer(config);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    client::HttpClient http("http://127.0.0.1:" + std::to_string(server_->port()));
    auto r = http.Get("/api/weir/v1/openapi.json");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("content-type").value_or(""), "application/json");
    text_ = r->body;
    boost::system::error_code ec;
    doc_ = json::parse(text_, ec);
    ASSERT_FALSE(ec) << "openapi.json is not JSON: " << ec.message();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  TempDir dir_;
  std::unique_ptr<server::Server> server_;
  std::string text_;
  json::value doc_;
};

TEST_F(OpenApiTest, EveryRegisteredRouteIsDocumentedAndNothingElse) {
  ASSERT_TRUE(doc_.is_object());
  EXPECT_EQ(std::string(doc_.at("openapi").as_string()).substr(0, 4), "3.1.");
  const json::object& paths = doc_.at("paths").as_object();
  std::set<std::pair<std::string, std::string>> registered;
  std::string missing;
  for (const auto& route : server_->Routes()) {
    const std::string path = OpenApiPath(route.pattern);
    const std::string method = Lower(route.method);
    registered.emplace(path, method);
    const json::value* item = paths.if_contains(path);
    if (!item || !item->is_object() || !item->as_object().contains(method)) {
      missing += "  " + route.method + " " + route.pattern + "\n";
    }
  }
  EXPECT_GT(registered.size(), 50u);
  EXPECT_EQ(missing, "") << "routes the router registers but openapi.json lacks:\n" << missing;
  std::string extra;
  static const std::set<std::string> kMethods = {"get", "put", "post", "delete", "patch"};
  for (const auto& [path, item] : paths) {
    for (const auto& [method, op] : item.as_object()) {
      if (!kMethods.count(std::string(method))) continue;
      if (!registered.count({std::string(path), std::string(method)})) {
        extra += "  " + std::string(method) + " " + std::string(path) + "\n";
      }
    }
  }
  EXPECT_EQ(extra, "") << "operations openapi.json documents but no route serves:\n" << extra;
}

TEST_F(OpenApiTest, DocumentValidatesWithAStandardOpenApiValidator) {
  if (!fs::exists(kOpenApiDir / "node_modules" / "@seriousme" / "openapi-schema-validator")) {
    WEIR_MISSING_SERVICE("openapi-schema-validator",
                         "tests/openapi/node_modules missing: run `make openapi-test-deps`");
  }
  const fs::path file = dir_.path() / "openapi.json";
  WriteFile(file, text_);
  auto [code, out] = Validate(file);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("\"valid\":true"), std::string::npos) << out;
  EXPECT_NE(out.find("\"version\":\"3.1\""), std::string::npos) << out;

  // The validator does reject a broken document (no `info`, which OpenAPI requires; a path
  // item under a key that is not a path).
  json::value broken = doc_;
  broken.as_object().erase("info");
  broken.at("paths").as_object()["jobs-without-slash"] = json::object{};
  const fs::path bad = dir_.path() / "broken.json";
  WriteFile(bad, json::serialize(broken));
  auto [bad_code, bad_out] = Validate(bad);
  EXPECT_EQ(bad_code, 1) << bad_out;
}

}  // namespace
}  // namespace weir::testing
