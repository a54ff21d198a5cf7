// The API root and the health probes over a real server on port 0.
#include "api/root_routes.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>

#include "client/http_client.h"

namespace weir::api {
namespace {

namespace json = boost::json;

class RootRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto router = std::make_shared<Router>();
    RegisterRootRoutes(*router, [this] { return ready_.load(); });
    HttpServerOptions opts;
    opts.port = 0;
    server_ = NewHttpServer(opts, router);
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override { server_->Stop(); }

  std::atomic<bool> ready_{true};
  std::unique_ptr<HttpServer> server_;
  std::string base_;
};

TEST_F(RootRoutesTest, RootLinksToTheFourCollections) {
  client::HttpClient c(base_);
  for (const char* path : {"/api/v3", "/api/v3/"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->Header("content-type"), "application/hal+json");
    json::object links = json::parse(r->body).at("_links").as_object();
    for (const char* rel : {"applications", "commands", "clusters", "jobs"}) {
      ASSERT_TRUE(links.contains(rel)) << rel;
      EXPECT_EQ(links.at(rel).at("href").as_string(), base_ + "/api/v3/" + rel);
    }
    EXPECT_EQ(links.at("self").at("href").as_string(), base_ + "/api/v3");
  }
}

TEST_F(RootRoutesTest, HealthFollowsReadiness) {
  client::HttpClient c(base_);
  for (const char* path : {"/admin/health", "/actuator/health"}) {
    ready_ = true;
    auto up = c.Get(path);
    ASSERT_TRUE(up.ok());
    EXPECT_EQ(up->status, 200);
    EXPECT_EQ(json::parse(up->body).at("status").as_string(), "UP");
    ready_ = false;
    auto down = c.Get(path);
    ASSERT_TRUE(down.ok());
    EXPECT_EQ(down->status, 503);
    EXPECT_EQ(json::parse(down->body).at("status").as_string(), "DOWN");
  }
}

}  // namespace
}  // namespace weir::api
