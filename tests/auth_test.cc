// End-to-end tests of authentication and authorization: the real `weir server` binary with
// auth.mode required and a static tokens file written by the test, driven over real HTTP and
// through the real CLI (WEIR_TOKEN).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "blob/sha256.h"
#include "client/http_client.h"
#include "test_json.h"
#include "weir_process.h"
#include "workflow/bundle.h"

namespace weir::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";
const std::string kAlice = "alice-7f3a9c", kBob = "bob-51e2d0", kOps = "ops-c0ffee",
                  kDeployer = "deployer-9d8e7f";

std::string HexSha256(std::string_view s) { return blob::Sha256Hex(s); }

// Sets WEIR_TOKEN for the CLI processes the test starts, and clears it again.
class TokenEnv {
 public:
  explicit TokenEnv(const std::string& token) { ::setenv("WEIR_TOKEN", token.c_str(), 1); }
  ~TokenEnv() { ::unsetenv("WEIR_TOKEN"); }
};

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("WEIR_TOKEN");
    const auto tokens = dir_.path() / "tokens";
    WriteFile(tokens, "# principals of the test\n" + HexSha256(kAlice) + " alice user\n" +
                          HexSha256(kBob) + " bob user\n" + HexSha256(kOps) + " ops admin\n" +
                          HexSha256(kDeployer) + " release-bot user,deployer-prod\n");
    ASSERT_EQ(::chmod(tokens.c_str(), 0600), 0);
    server_ =
        std::make_unique<WeirServer>(dir_.path() / "data",
                                     "jobs:\n  kill_grace_ms: 500\n"
                                     "auth:\n  mode: required\n  static_tokens_file: " +
                                         tokens.string() +
                                         "\n  deploy_roles: {prod: deployer-prod}\n"
                                         "assets:\n  namespace_owners: {payments: [alice]}\n");
    ASSERT_EQ(server_->Start(), "");
    TokenEnv env(kOps);
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  std::unique_ptr<client::HttpClient> As(const std::string& token) {
    auto c = std::make_unique<client::HttpClient>(server_->url());
    c->SetBearerToken(token);
    return c;
  }

  client::Response Call(const std::string& token, std::string_view method, std::string_view path,
                        std::string_view body = {}, const client::Headers& headers = {}) {
    client::Headers h = headers;
    if (!body.empty()) h.emplace_back("Content-Type", "application/json");
    auto r = As(token)->Request(method, path, body, h);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : client::Response{};
  }

  json::object JobRequest(const std::string& script, const std::string& user = "") {
    json::object req{{"name", "t"},
                     {"version", "1"},
                     {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                     {"commandCriteria", json::array{"type:bash"}},
                     {"commandArguments", json::array{json::value(script)}}};
    if (!user.empty()) req["user"] = user;
    return req;
  }

  // Submits as `token`; returns the job id.
  std::string Submit(const std::string& token, const std::string& script) {
    auto r = Call(token, "POST", "/api/v3/jobs", json::serialize(JobRequest(script)));
    EXPECT_EQ(r.status, 202) << r.body;
    std::string loc = r.Header("location").value_or("");
    return loc.substr(loc.rfind('/') + 1);
  }

  std::string Status(const std::string& id) {
    return Str(Parse(Call(kOps, "GET", "/api/v3/jobs/" + id + "/status").body), "status");
  }

  void WaitStatus(const std::string& id, const std::string& want) {
    auto end = std::chrono::steady_clock::now() + 60s;
    std::string status;
    while (std::chrono::steady_clock::now() < end) {
      status = Status(id);
      if (status == want) return;
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "job " << id << " is " << status << ", not " << want << " after 60 s";
  }

  int64_t TotalJobs() {
    json::value page = Parse(Call(kOps, "GET", "/api/v3/jobs").body);
    return page.at("page").at("totalElements").to_number<int64_t>();
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
};

void ExpectUnauthorized(const client::Response& r, const std::string& error) {
  EXPECT_EQ(r.status, 401) << r.body;
  std::string challenge = r.Header("www-authenticate").value_or("");
  EXPECT_EQ(challenge.rfind("Bearer realm=\"weir\", error=\"" + error + "\"", 0), 0u) << challenge;
  EXPECT_NE(challenge.find("error_description=\""), std::string::npos) << challenge;
  EXPECT_EQ(Str(Parse(r.body), "error"), "Unauthorized");
}

TEST_F(AuthTest, MissingBadOrWrongSchemeCredentialsAre401AndChangeNothing) {
  const int64_t jobs_before = TotalJobs();
  const std::string job = json::serialize(JobRequest("echo hi"));
  ExpectUnauthorized(Call("", "POST", "/api/v3/jobs", job), "invalid_request");
  ExpectUnauthorized(Call(kAlice + "x", "POST", "/api/v3/jobs", job), "invalid_token");
  ExpectUnauthorized(
      Call("", "POST", "/api/v3/jobs", job, {{"Authorization", "Basic YWxpY2U6c2VjcmV0"}}),
      "invalid_request");
  // An admin's token hash is not a token.
  ExpectUnauthorized(Call(HexSha256(kOps), "POST", "/api/v3/clusters", "{}"), "invalid_token");
  ExpectUnauthorized(Call("", "GET", "/api/v3/jobs"), "invalid_request");
  EXPECT_EQ(TotalJobs(), jobs_before);
  // Health probes stay open.
  EXPECT_EQ(Call("", "GET", "/actuator/health").status, 200);
}

TEST_F(AuthTest, OnlyAdminsChangeClusters) {
  const std::string cluster =
      R"({"id":"auth-c1","name":"c1","user":"x","version":"1","status":"UP","tags":["t:1"]})";
  auto by_user = Call(kAlice, "POST", "/api/v3/clusters", cluster);
  EXPECT_EQ(by_user.status, 403) << by_user.body;
  EXPECT_NE(by_user.body.find("admin"), std::string::npos) << by_user.body;
  EXPECT_EQ(Call(kOps, "GET", "/api/v3/clusters/auth-c1").status, 404);
  auto by_admin = Call(kOps, "POST", "/api/v3/clusters", cluster);
  EXPECT_EQ(by_admin.status, 201) << by_admin.body;
  EXPECT_EQ(Call(kAlice, "GET", "/api/v3/clusters/auth-c1").status, 200);
  EXPECT_EQ(Call(kAlice, "DELETE", "/api/v3/clusters/auth-c1").status, 403);
  EXPECT_EQ(Call(kOps, "GET", "/api/v3/clusters/auth-c1").status, 200);
}

// Webhook subscriptions carry secrets and reach out of the server: admins only, every route.
TEST_F(AuthTest, OnlyAdminsManageWebhooks) {
  const std::string hook = R"({"url":"https://hooks.invalid/weir","secret":"s3cret"})";
  auto by_user = Call(kAlice, "POST", "/api/weir/v1/webhooks", hook);
  EXPECT_EQ(by_user.status, 403) << by_user.body;
  EXPECT_NE(by_user.body.find("admin"), std::string::npos) << by_user.body;
  EXPECT_EQ(Call(kAlice, "GET", "/api/weir/v1/webhooks").status, 403);
  auto by_admin = Call(kOps, "POST", "/api/weir/v1/webhooks", hook);
  ASSERT_EQ(by_admin.status, 201) << by_admin.body;
  const std::string id = Str(Parse(by_admin.body), "id");
  const std::string path = "/api/weir/v1/webhooks/" + id;
  EXPECT_EQ(Call(kAlice, "GET", path).status, 403);
  EXPECT_EQ(Call(kAlice, "GET", path + "/deliveries").status, 403);
  EXPECT_EQ(Call(kAlice, "POST", path + "/deliveries/1/redeliver").status, 403);
  EXPECT_EQ(Call(kAlice, "DELETE", path).status, 403);
  EXPECT_EQ(Call("", "GET", "/api/weir/v1/webhooks").status, 401);
  EXPECT_EQ(Call(kOps, "GET", path).status, 200);
  EXPECT_EQ(Call(kOps, "DELETE", path).status, 204);
}

TEST_F(AuthTest, JobsBelongToTheirPrincipal) {
  const std::string id = Submit(kAlice, "echo secret-of-alice; sleep 120");
  WaitStatus(id, "RUNNING");
  EXPECT_EQ(Str(Parse(Call(kOps, "GET", "/api/v3/jobs/" + id).body), "user"), "alice");

  auto kill = Call(kBob, "DELETE", "/api/v3/jobs/" + id);
  EXPECT_EQ(kill.status, 403) << kill.body;
  EXPECT_NE(kill.body.find("alice"), std::string::npos) << kill.body;
  EXPECT_EQ(Status(id), "RUNNING");

  auto peek = Call(kBob, "GET", "/api/v3/jobs/" + id + "/output/stdout");
  EXPECT_EQ(peek.status, 403) << peek.body;
  EXPECT_EQ(peek.body.find("secret-of-alice"), std::string::npos);
  // The owner and an admin read it (stdout is written as the job runs).
  auto end = std::chrono::steady_clock::now() + 30s;
  std::string seen;
  while (seen.find("secret-of-alice") == std::string::npos &&
         std::chrono::steady_clock::now() < end) {
    seen = Call(kOps, "GET", "/api/v3/jobs/" + id + "/output/stdout").body;
    if (seen.find("secret-of-alice") == std::string::npos) std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(seen.find("secret-of-alice"), std::string::npos) << seen;
  EXPECT_EQ(Call(kAlice, "GET", "/api/v3/jobs/" + id + "/output/stdout").status, 200);

  EXPECT_EQ(Call(kAlice, "DELETE", "/api/v3/jobs/" + id).status, 202);
  WaitStatus(id, "KILLED");
}

TEST_F(AuthTest, NamingAnotherUserIsRefused) {
  const int64_t before = TotalJobs();
  auto as_root = Call(kAlice, "POST", "/api/v3/jobs", json::serialize(JobRequest("id", "root")));
  EXPECT_EQ(as_root.status, 403) << as_root.body;
  EXPECT_NE(as_root.body.find("root"), std::string::npos);
  // Admins too, unless auth.admin_impersonation is on.
  EXPECT_EQ(Call(kOps, "POST", "/api/v3/jobs", json::serialize(JobRequest("id", "root"))).status,
            403);
  EXPECT_EQ(TotalJobs(), before);
  // Naming oneself is fine.
  auto self = Call(kBob, "POST", "/api/v3/jobs", json::serialize(JobRequest("true", "bob")));
  EXPECT_EQ(self.status, 202) << self.body;
}

TEST_F(AuthTest, OnlyNamespaceOwnersPublishAndThePublisherIsThePrincipal) {
  const std::string query =
      "/api/weir/v1/assets?type=jar&namespace=payments&owner=acme&repo=pay&branch=main"
      "&commit=0123456789abcdef&publisher=mallory";
  auto by_bob = Call(kBob, "POST", query, "bytes of bob");
  EXPECT_EQ(by_bob.status, 403) << by_bob.body;
  EXPECT_NE(by_bob.body.find("alice"), std::string::npos) << by_bob.body;
  json::value list = Parse(Call(kOps, "GET", "/api/weir/v1/assets?namespace=payments").body);
  EXPECT_EQ(list.at("assets").as_array().size(), 0u);

  auto by_alice = Call(kAlice, "POST", query, "bytes of alice");
  ASSERT_EQ(by_alice.status, 201) << by_alice.body;
  EXPECT_EQ(Str(Parse(by_alice.body), "publisher"), "alice");
  // Namespaces without owners stay open to every user.
  auto open = Call(kBob, "POST",
                   "/api/weir/v1/assets?type=jar&namespace=scratch&owner=acme&repo=pay"
                   "&branch=main&commit=0123456789abcdef",
                   "x");
  EXPECT_EQ(open.status, 201) << open.body;
}

std::string ProdManifest() {
  const std::string definition =
      "id: etl\njobs:\n  a:\n    command: [type:bash]\n    cluster: [type:local]\n";
  workflow::BundleManifest m;
  m.workflow_id = "etl";
  m.environment = "prod";
  m.owner = "acme";
  m.repo = "warehouse";
  m.branch = "main";
  m.commit = std::string(40, 'c');
  m.workflow_file = "etl.sch.yaml";
  m.definition = definition;
  m.definition_sha256 = blob::Sha256Hex(definition);
  return workflow::CanonicalJson(m);
}

TEST_F(AuthTest, ProdNeedsItsDeployRoleAndTheActorIsThePrincipal) {
  const std::string body =
      "{\"manifest\":" + ProdManifest() + ",\"deployer\":\"someone-else\",\"activate\":false}";
  auto by_alice = Call(kAlice, "POST", "/api/weir/v1/workflows", body);
  EXPECT_EQ(by_alice.status, 403) << by_alice.body;
  EXPECT_NE(by_alice.body.find("deployer-prod"), std::string::npos) << by_alice.body;
  EXPECT_EQ(Call(kOps, "GET", "/api/weir/v1/workflows/prod%3Aacme.warehouse.etl").status, 404);

  auto deployed = Call(kDeployer, "POST", "/api/weir/v1/workflows", body);
  ASSERT_EQ(deployed.status, 201) << deployed.body;
  const std::string path = "/api/weir/v1/workflows/prod%3Aacme.warehouse.etl";
  // Activate and rollback in prod: the role again; the body's actor is not believed.
  EXPECT_EQ(Call(kAlice, "POST", path + "/activate", R"({"version":1,"actor":"x"})").status, 403);
  auto activated =
      Call(kDeployer, "POST", path + "/activate", R"({"version":1,"actor":"someone-else"})");
  EXPECT_EQ(activated.status, 200) << activated.body;

  json::value versions = Parse(Call(kAlice, "GET", path + "/versions").body);
  ASSERT_EQ(versions.at("versions").as_array().size(), 1u);
  EXPECT_EQ(Str(versions.at("versions").at(0), "deployer"), "release-bot");
  ASSERT_EQ(versions.at("activations").as_array().size(), 1u) << json::serialize(versions);
  EXPECT_EQ(Str(versions.at("activations").at(0), "reason"), "activate");
  for (const json::value& a : versions.at("activations").as_array()) {
    EXPECT_EQ(Str(a, "actor"), "release-bot") << json::serialize(a);
  }
}

TEST_F(AuthTest, MeAndWhoAmI) {
  json::value me = Parse(Call(kDeployer, "GET", "/api/weir/v1/me").body);
  EXPECT_EQ(Str(me, "name"), "release-bot");
  EXPECT_EQ(Str(me, "mechanism"), "token");
  EXPECT_EQ(json::serialize(me.at("roles")), R"(["deployer-prod","user"])");
  ExpectUnauthorized(Call("", "GET", "/api/weir/v1/me"), "invalid_request");

  {
    TokenEnv env(kBob);
    auto who = RunWeir(server_->url(), {"whoami"});
    EXPECT_EQ(who.exit_code, 0) << who.err;
    EXPECT_NE(who.out.find("name: bob"), std::string::npos) << who.out;
    EXPECT_NE(who.out.find("roles: user"), std::string::npos) << who.out;
  }
  auto anonymous = RunWeir(server_->url(), {"whoami"});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_NE(anonymous.err.find("no credentials"), std::string::npos) << anonymous.err;
}

TEST(AuthExposureTest, NoAuthIsRefusedBeyondLoopbackWithoutTheFlag) {
  TempDir dir;
  const std::string err_file = (dir.path() / "stderr").string();
  const std::string data = (dir.path() / "data").string();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 2);
    ::execl(WeirBinary().c_str(), "weir", "server", "--listen", "0.0.0.0:0", "--data-dir",
            data.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // A refusal is immediate; a server that starts anyway is killed here and the test fails.
  int status = 0;
  pid_t done = 0;
  auto end = std::chrono::steady_clock::now() + 60s;
  while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(20ms);
  }
  if (done == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    FAIL() << "weir server listened on 0.0.0.0 with auth.mode none: " << Slurp(err_file);
  }
  const std::string err = Slurp(err_file);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2) << err;
  EXPECT_NE(err.find("--insecure-no-auth"), std::string::npos) << err;
  EXPECT_NE(err.find("auth.mode"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "data" / "weir.db"));
}

}  // namespace
}  // namespace weir::testing
