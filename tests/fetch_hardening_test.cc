// Dependency fetching is not a way around the file system or the network perimeter: the real
// `weir server` binary, job requests naming local files and loopback URLs (refused at
// submission, or at set-up when the refusal only shows then), and the settings that allow them.
#include <gtest/gtest.h>
#include <netdb.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "client/http_client.h"
#include "fetch/test_http_server.h"
#include "job_api.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

// A dependency server on 127.0.0.1 whose answers wait until Release(): a job fetching from it
// stays in set-up meanwhile.
class HeldServer {
 public:
  HeldServer()
      : server_([this](const fetch::testing::TestRequest& r) {
          {
            std::unique_lock<std::mutex> lock(mu_);
            ++requests_;
            cv_.notify_all();
            cv_.wait(lock, [&] { return released_; });
          }
          fetch::testing::TestResponse resp;
          resp.body = "held body\n";
          return resp;
        }) {}
  ~HeldServer() {
    Release();
    server_.Stop();
  }
  std::string Url(const std::string& path) const { return server_.Url(path); }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  // Waits (≤ 30 s) for a first request; false when none came.
  bool WaitRequest() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 30s, [&] { return requests_ > 0; });
  }
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int requests_ = 0;
  fetch::testing::TestHttpServer server_;
};

class FetchHardeningTest : public ::testing::Test {
 protected:
  void StartServer(const std::string& config_yaml) {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", config_yaml);
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  json::object Request(const std::string& script, json::object extra = {}) {
    return BashJobRequest(script, extra);
  }

  // POSTs a job; returns (status, body).
  std::pair<int, std::string> Post(const json::object& req) {
    auto r = http_->PostJson("/api/v3/jobs", json::serialize(req));
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return {0, ""};
    return {r->status, r->body};
  }

  std::string Submit(const json::object& req) { return SubmitJob(*http_, req); }

  json::value Get(const std::string& path) { return GetJson(*http_, path); }

  std::string WaitFinal(const std::string& id) { return WaitJobFinal(*http_, id); }

  std::string Stdout(const std::string& id) {
    auto r = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
    return r.ok() && r->status == 200 ? r->body : "";
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(FetchHardeningTest, LocalFilesOutsideTheAllowedRootsAreRefusedAtSubmission) {
  StartServer("");
  auto [status, body] =
      Post(Request("cat passwd", {{"dependencies", json::array{"file:///etc/passwd"}}}));
  EXPECT_EQ(status, 400) << body;
  EXPECT_NE(body.find("dependencies[0]: file:///etc/passwd is outside fetch.allowed_file_roots; "
                      "ask an administrator to add its folder or attach the file"),
            std::string::npos)
      << body;

  // Plain paths, setup files and configs alike; the second dependency is named.
  auto setup = Post(Request("true", {{"setupFile", "/etc/hostname"}}));
  EXPECT_EQ(setup.first, 400) << setup.second;
  EXPECT_NE(setup.second.find("setupFile: /etc/hostname is outside fetch.allowed_file_roots"),
            std::string::npos)
      << setup.second;
  auto config = Post(Request("true", {{"configs", json::array{"file:///etc/../etc/group"}}}));
  EXPECT_EQ(config.first, 400) << config.second;
  EXPECT_NE(config.second.find("configs[0]:"), std::string::npos) << config.second;
  // Even the server's own database, through a ".." from its blob folder.
  const std::string db =
      "file://" + fs::absolute(server_->data_dir()).string() + "/blobs/../weir.db";
  auto own = Post(Request("true", {{"dependencies", json::array{"https://example.com/a", db}}}));
  EXPECT_EQ(own.first, 400) << own.second;
  EXPECT_NE(own.second.find("dependencies[1]:"), std::string::npos) << own.second;

  // Nothing was recorded.
  json::value jobs = Get("/api/v3/jobs");
  EXPECT_EQ(json::serialize(jobs).find("\"tester\""), std::string::npos) << json::serialize(jobs);
}

TEST_F(FetchHardeningTest, FilesUnderAnAllowedRootAreFetchedAndASymlinkSwappedInFailsSetUp) {
  const fs::path share = dir_.path() / "share";
  fs::create_directories(share);
  WriteFile(share / "data.txt", "shared data\n");
  WriteFile(dir_.path() / "secret.txt", "secret\n");
  StartServer("fetch:\n  allowed_file_roots: [" + share.string() +
              "]\n  allowed_networks: [127.0.0.0/8]\n");

  std::string ok = Submit(Request(
      "cat data.txt", {{"dependencies", json::array{"file://" + (share / "data.txt").string()}}}));
  ASSERT_EQ(WaitFinal(ok), "SUCCEEDED");
  EXPECT_EQ(Stdout(ok), "shared data\n");

  // A file that is regular at submission, swapped for a symlink pointing out while the job is in
  // set-up (held by its first dependency).
  HeldServer held2;
  WriteFile(share / "later.txt", "harmless\n");
  std::string id =
      Submit(Request("cat later.txt",
                     {{"dependencies", json::array{held2.Url("/first.txt"),
                                                   "file://" + (share / "later.txt").string()}}}));
  ASSERT_TRUE(held2.WaitRequest()) << "the job never fetched its first dependency";
  fs::remove(share / "later.txt");
  fs::create_symlink(dir_.path() / "secret.txt", share / "later.txt");
  held2.Release();
  ASSERT_EQ(WaitFinal(id), "FAILED");
  json::value job = Get("/api/v3/jobs/" + id);
  const std::string msg = Str(job, "statusMsg");
  EXPECT_NE(msg.find("Job failed at set-up"), std::string::npos) << msg;
  EXPECT_NE(msg.find("dependencies[1]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("is outside fetch.allowed_file_roots"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(server_->data_dir() / "jobs" / id / "later.txt"));
  EXPECT_EQ(Stdout(id), "");
}

TEST_F(FetchHardeningTest, LoopbackUrlsOfJobRequestsAreRefusedByDefault) {
  fetch::testing::StaticResource dep("dep body\n");
  fetch::testing::TestHttpServer dep_server(
      [&](const fetch::testing::TestRequest& r) { return dep.Handle(r); });
  StartServer("");
  const std::string url = dep_server.Url("/x.txt");
  auto [status, body] = Post(Request("cat x.txt", {{"dependencies", json::array{url}}}));
  EXPECT_EQ(status, 400) << body;
  EXPECT_NE(body.find("dependencies[0]: " + url +
                      ": address 127.0.0.1 is loopback, refused by fetch.allowed_networks"),
            std::string::npos)
      << body;
  auto metadata =
      Post(Request("true", {{"dependencies", json::array{"http://169.254.169.254/latest"}}}));
  EXPECT_EQ(metadata.first, 400);
  EXPECT_NE(metadata.second.find("address 169.254.169.254 is link-local, refused by "
                                 "fetch.allowed_networks"),
            std::string::npos)
      << metadata.second;
  auto v6 = Post(Request("true", {{"setupFile", "http://[::ffff:10.0.0.1]/s.sh"}}));
  EXPECT_EQ(v6.first, 400) << v6.second;
  EXPECT_NE(v6.second.find("is private"), std::string::npos) << v6.second;
  EXPECT_EQ(dep_server.RequestCount(), 0);

  // Admin-made configuration is trusted: a command whose dependency is the same URL runs.
  json::object command{{"id", "with-dep"},
                       {"name", "with-dep"},
                       {"user", "admin"},
                       {"version", "1"},
                       {"status", "ACTIVE"},
                       {"executable", "/bin/bash -c"},
                       {"tags", json::array{"type:with-dep"}},
                       {"dependencies", json::array{url}}};
  auto created = http_->PostJson("/api/v3/commands", json::serialize(command));
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(created->status, 201) << created->body;
  auto linked = http_->PostJson("/api/v3/clusters/local/commands", "[\"with-dep\"]");
  ASSERT_TRUE(linked.ok());
  ASSERT_LT(linked->status, 300) << linked->body;
  json::object req = Request("cat $GENIE_COMMAND_DIR/dependencies/x.txt");
  req["commandCriteria"] = json::array{"type:with-dep"};
  std::string id = Submit(req);
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED") << Str(Get("/api/v3/jobs/" + id), "statusMsg");
  EXPECT_EQ(Stdout(id), "dep body\n");
}

TEST_F(FetchHardeningTest, LoopbackUrlsAreFetchedWhenAllowedNetworksHoldThem) {
  fetch::testing::StaticResource dep("dep body\n");
  fetch::testing::TestHttpServer dep_server(
      [&](const fetch::testing::TestRequest& r) { return dep.Handle(r); });
  StartServer("fetch:\n  allowed_networks: [127.0.0.0/8]\n");
  std::string id =
      Submit(Request("cat x.txt", {{"dependencies", json::array{dep_server.Url("/x.txt")}}}));
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED") << Str(Get("/api/v3/jobs/" + id), "statusMsg");
  EXPECT_EQ(Stdout(id), "dep body\n");
  // Only that block: link-local stays refused.
  auto metadata =
      Post(Request("true", {{"dependencies", json::array{"http://169.254.169.254/latest"}}}));
  EXPECT_EQ(metadata.first, 400) << metadata.second;
}

TEST_F(FetchHardeningTest, AHostNameThatResolvesToLoopbackFailsAtSetUp) {
  // The machine's own name resolves to a loopback address on many hosts (/etc/hosts); it is no
  // literal, so submission accepts it and set-up must refuse it.
  char name[256] = {0};
  ASSERT_EQ(::gethostname(name, sizeof name - 1), 0);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  bool all_loopback = ::getaddrinfo(name, nullptr, &hints, &list) == 0 && list != nullptr;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET ||
        (ntohl(reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr.s_addr) >> 24) != 127) {
      all_loopback = false;
    }
  }
  if (list != nullptr) ::freeaddrinfo(list);
  if (!all_loopback) GTEST_SKIP() << "host name '" << name << "' does not resolve to 127/8 only";

  fetch::testing::StaticResource dep("dep body\n");
  fetch::testing::TestHttpServer dep_server(
      [&](const fetch::testing::TestRequest& r) { return dep.Handle(r); });
  StartServer("");
  const std::string url =
      "http://" + std::string(name) + ":" + std::to_string(dep_server.port()) + "/x.txt";
  std::string id = Submit(Request("cat x.txt", {{"dependencies", json::array{url}}}));
  ASSERT_EQ(WaitFinal(id), "FAILED");
  const std::string msg = Str(Get("/api/v3/jobs/" + id), "statusMsg");
  EXPECT_NE(msg.find("is loopback, refused by fetch.allowed_networks"), std::string::npos) << msg;
  EXPECT_EQ(dep_server.RequestCount(), 0);
}

}  // namespace
}  // namespace weir::testing
