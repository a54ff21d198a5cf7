#include "fetch/http_fetcher.h"

#include <gmock/gmock.h>
#include <fstream>
#include <gtest/gtest.h>

#include "fetch/test_http_server.h"

namespace weir::fetch {
namespace {

using ::testing::HasSubstr;
using testing::ClosedPort;
using testing::Slurp;
using testing::StaticResource;
using testing::TempDir;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

int FilesIn(const std::filesystem::path& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

HttpOptions FastOptions() {
  HttpOptions o;
  o.connect_timeout = Millis(2000);
  o.low_speed_timeout = Millis(1000);
  return o;
}

class HttpFetcherTest : public ::testing::Test {
 protected:
  HttpFetcherTest()
      : jar_(std::string(5000, 'j')),
        server_([this](const TestRequest& r) { return Route(r); }),
        fetcher_(FastOptions()) {}

  TestResponse Route(const TestRequest& r) {
    if (r.path == "/x.jar") return jar_.Handle(r);
    if (StartsWith(r.path, "/hop/")) {
      int n = std::stoi(r.path.substr(5));
      TestResponse resp;
      resp.status = 302;
      resp.headers.emplace_back("Location", n == 0 ? "/x.jar" : "/hop/" + std::to_string(n - 1));
      return resp;
    }
    TestResponse resp;
    resp.status = 404;
    resp.body = "no such thing";
    return resp;
  }

  static bool StartsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

  TempDir dir_;
  StaticResource jar_;
  TestHttpServer server_;
  HttpFetcher fetcher_;
};

TEST_F(HttpFetcherTest, DownloadsTheBodyWithItsValidators) {
  Result<GetOutcome> r = fetcher_.Get(server_.Url("/x.jar"), dir_ / "x.jar", {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Slurp(dir_ / "x.jar"), std::string(5000, 'j'));
  EXPECT_FALSE(r->not_modified);
  EXPECT_EQ(r->meta.size, 5000);
  EXPECT_EQ(r->meta.etag, jar_.etag());
  EXPECT_FALSE(r->meta.last_modified.empty());
  EXPECT_EQ(r->bytes_downloaded, 5000);
  EXPECT_EQ(FilesIn(dir_.path()), 1);  // no temp file left behind
}

TEST_F(HttpFetcherTest, NotFoundNamesTheUriAndTheStatus) {
  std::string uri = server_.Url("/missing.jar");
  Status s = fetcher_.Fetch(uri, dir_ / "missing.jar");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "fetch '" + uri + "': HTTP 404 Not Found");
  EXPECT_EQ(FilesIn(dir_.path()), 0);
}

TEST_F(HttpFetcherTest, ConnectionRefusedIsUnavailable) {
  std::string uri = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/x.jar";
  Status s = fetcher_.Fetch(uri, dir_ / "x.jar");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "fetch '" + uri + "': connection refused");
}

TEST_F(HttpFetcherTest, StalledServerTimesOut) {
  jar_.stall_after_headers = Millis(20'000);
  std::string uri = server_.Url("/x.jar");
  Status s = fetcher_.Fetch(uri, dir_ / "x.jar");
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.message(), "fetch '" + uri + "': timed out after 1 s without data");
  EXPECT_EQ(FilesIn(dir_.path()), 0);
  server_.Stop();  // ends the stall at once
}

TEST_F(HttpFetcherTest, CutDownloadLeavesThePreviousFileAndNoPart) {
  ASSERT_TRUE(testing::Slurp(dir_ / "x.jar").empty());
  {
    std::ofstream(dir_ / "x.jar") << "previous version";
  }
  jar_.cut_after = 1000;
  std::string uri = server_.Url("/x.jar");
  Status s = fetcher_.Fetch(uri, dir_ / "x.jar");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "fetch '" + uri + "': connection closed after 1000 of 5000 bytes");
  EXPECT_EQ(Slurp(dir_ / "x.jar"), "previous version");
  EXPECT_EQ(FilesIn(dir_.path()), 1);
}

TEST_F(HttpFetcherTest, FollowsRedirectsUpToTheLimit) {
  ASSERT_TRUE(fetcher_.Fetch(server_.Url("/hop/4"), dir_ / "a.jar").ok());
  EXPECT_EQ(Slurp(dir_ / "a.jar").size(), 5000u);
  Status s = fetcher_.Fetch(server_.Url("/hop/9"), dir_ / "b.jar");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("more than 5 redirects"));
}

TEST_F(HttpFetcherTest, ConditionalGetAnsweredNotModifiedLeavesDestUntouched) {
  {
    std::ofstream(dir_ / "x.jar") << "cached copy";
  }
  Result<GetOutcome> r = fetcher_.Get(server_.Url("/x.jar"), dir_ / "x.jar",
                                      Conditions{jar_.etag(), ""});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->not_modified);
  EXPECT_EQ(r->bytes_downloaded, 0);
  EXPECT_EQ(Slurp(dir_ / "x.jar"), "cached copy");
  EXPECT_EQ(jar_.not_modified(), 1);
}

TEST_F(HttpFetcherTest, HeadReportsSizeAndValidators) {
  Result<RemoteMeta> m = fetcher_.Head(server_.Url("/x.jar"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->size, 5000);
  EXPECT_EQ(m->etag, jar_.etag());
  EXPECT_EQ(jar_.heads(), 1);
  EXPECT_EQ(jar_.full_bodies(), 0);
}

TEST_F(HttpFetcherTest, CredentialsInTheUriStayOutOfMessages) {
  std::string uri = "http://alice:s3cret@127.0.0.1:" + std::to_string(server_.port()) + "/nope";
  Status s = fetcher_.Fetch(uri, dir_ / "nope");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("s3cret")));
  EXPECT_THAT(s.message(), HasSubstr("http://***@127.0.0.1:"));
}

TEST_F(HttpFetcherTest, RejectsOtherSchemes) {
  Status s = fetcher_.Fetch("ftp://host/x", dir_ / "x");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weir::fetch
