#include "fetch/fetcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "fetch/test_http_server.h"
#include "fetch/uri.h"

namespace weir::fetch {
namespace {

using ::testing::HasSubstr;
using testing::FakeS3;
using testing::Slurp;
using testing::StaticResource;
using testing::TempDir;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

TEST(UriTest, ParsesTheParts) {
  Result<ParsedUri> u = ParseUri("HTTPS://user:pw@example.com:8443/a%20b/c?x=1&y=2#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->authority, "user:pw@example.com:8443");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/a%20b/c");
  EXPECT_EQ(u->query, "x=1&y=2");
  Result<ParsedUri> v6 = ParseUri("http://[::1]:80/");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(ParseUri("/plain/path")->scheme, "");
  EXPECT_EQ(ParseUri("http://h:99999/").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseUri("mailto:x").status().code(), StatusCode::kInvalidArgument);
}

TEST(UriTest, PercentDecodeAndRedact) {
  EXPECT_EQ(*PercentDecode("a%20b%2Fc"), "a b/c");
  EXPECT_FALSE(PercentDecode("bad%2").ok());
  EXPECT_FALSE(PercentDecode("nul%00").ok());
  EXPECT_EQ(RedactUri("https://u:secret@h/p?q"), "https://***@h/p?q");
  EXPECT_EQ(RedactUri("https://h/p@q"), "https://h/p@q");
}

class FetcherTest : public ::testing::Test {
 protected:
  FetcherTest()
      : jar_("jar content"),
        s3_("AKIDFETCH", "fetchsecret", "us-east-1"),
        server_([this](const TestRequest& r) {
          if (r.path == "/lib/x.jar") return jar_.Handle(r);
          return s3_.Handle(r);
        }),
        clock_(FromEpochMillis(1'700'000'000'000)) {
    std::ofstream(dir_ / "local file.txt") << "local bytes";
  }

  EnvLookup Env() {
    std::map<std::string, std::string> vars = {
        {"AWS_ACCESS_KEY_ID", "AKIDFETCH"},
        {"AWS_SECRET_ACCESS_KEY", "fetchsecret"},
        {"AWS_ENDPOINT_URL", "http://127.0.0.1:" + std::to_string(server_.port())}};
    return [vars](std::string_view name) -> std::optional<std::string> {
      auto it = vars.find(std::string(name));
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  }

  std::unique_ptr<UriFetcher> Make(bool with_cache) {
    FetchOptions o;
    if (with_cache) {
      o.cache = CacheOptions();
      o.cache->dir = dir_ / "cache";
    }
    Result<std::unique_ptr<UriFetcher>> f = NewFetcher(o, clock_, Env());
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? std::move(f).value() : nullptr;
  }

  TempDir dir_;
  StaticResource jar_;
  FakeS3 s3_;
  TestHttpServer server_;
  FakeClock clock_;
};

TEST_F(FetcherTest, UnknownSchemeNamesWhatIsSupported) {
  auto f = Make(false);
  Status s = f->Fetch("ftp://x", dir_ / "x");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "fetch 'ftp://x': unsupported scheme 'ftp' (supported: file, http, https, s3)");
  EXPECT_EQ(f->Fetch("relative/x.jar", dir_ / "x").code(), StatusCode::kInvalidArgument);
}

TEST_F(FetcherTest, CopiesLocalFilesByPathAndFileUri) {
  auto f = Make(false);
  std::string path = (dir_ / "local file.txt").string();
  ASSERT_TRUE(f->Fetch(path, dir_ / "job/a.txt").ok());
  EXPECT_EQ(Slurp(dir_ / "job/a.txt"), "local bytes");
  std::string encoded = "file://" + path.substr(0, path.find("local file.txt")) + "local%20file.txt";
  ASSERT_TRUE(f->Fetch(encoded, dir_ / "job/b.txt").ok()) << encoded;
  EXPECT_EQ(Slurp(dir_ / "job/b.txt"), "local bytes");
  ASSERT_TRUE(f->Fetch("file://localhost" + path, dir_ / "job/c.txt").ok());

  Status missing = f->Fetch("/nonexistent/x.jar", dir_ / "job/x.jar");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "fetch '/nonexistent/x.jar': No such file or directory");
  EXPECT_EQ(f->Fetch("file://otherhost/x", dir_ / "job/y").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->Fetch(dir_.path().string(), dir_ / "job/z").code(), StatusCode::kInvalidArgument);
}

TEST_F(FetcherTest, HttpAndS3GoThroughTheCache) {
  auto f = Make(true);
  ASSERT_NE(f->cache(), nullptr);
  std::string http = server_.Url("/lib/x.jar");
  ASSERT_TRUE(f->Fetch(http, dir_ / "job1/x.jar").ok());
  ASSERT_TRUE(f->Fetch(http, dir_ / "job2/x.jar").ok());
  EXPECT_EQ(Slurp(dir_ / "job2/x.jar"), "jar content");
  EXPECT_EQ(jar_.full_bodies(), 1);

  s3_.PutObject("bkt", "deps/y.jar", "from s3");
  ASSERT_TRUE(f->Fetch("s3://bkt/deps/y.jar", dir_ / "job1/y.jar").ok())
      << s3_.last_auth_error();
  ASSERT_TRUE(f->Fetch("s3://bkt/deps/y.jar", dir_ / "job2/y.jar").ok());
  EXPECT_EQ(Slurp(dir_ / "job2/y.jar"), "from s3");

  CacheStats s = f->cache()->Stats();
  EXPECT_EQ(s.misses, 2);
  EXPECT_EQ(s.hits, 2);
  EXPECT_EQ(s.revalidations, 2);
  EXPECT_EQ(s3_.auth_failures(), 0);
}

TEST_F(FetcherTest, WithoutACacheEveryFetchDownloads) {
  auto f = Make(false);
  EXPECT_EQ(f->cache(), nullptr);
  std::string http = server_.Url("/lib/x.jar");
  Status first = f->Fetch(http, dir_ / "job1/x.jar");
  ASSERT_TRUE(first.ok()) << first;
  ASSERT_TRUE(f->Fetch(http, dir_ / "job2/x.jar").ok());
  EXPECT_EQ(jar_.full_bodies(), 2);
}

TEST_F(FetcherTest, BadS3SettingsFailFast) {
  FetchOptions o;
  o.s3.endpoint = "localhost:4568";
  Result<std::unique_ptr<UriFetcher>> f = NewFetcher(o, clock_, Env());
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(f.status().message(), HasSubstr("s3 endpoint"));
}

}  // namespace
}  // namespace weir::fetch
