#include "fetch/perimeter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fetch/cache.h"
#include "fetch/fetcher.h"
#include "fetch/http_fetcher.h"
#include "fetch/test_http_server.h"

namespace weir::fetch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::Slurp;
using testing::StaticResource;
using testing::TempDir;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

IpAddress Ip(const std::string& text) {
  Result<IpAddress> a = IpAddress::Parse(text);
  EXPECT_TRUE(a.ok()) << text << ": " << a.status();
  return a.ok() ? *a : IpAddress{};
}

IpNetwork Net(const std::string& text) {
  Result<IpNetwork> n = IpNetwork::Parse(text);
  EXPECT_TRUE(n.ok()) << text << ": " << n.status();
  return n.ok() ? *n : IpNetwork{};
}

TEST(IpNetworkTest, ContainsTable) {
  struct Case {
    const char* network;
    const char* address;
    bool inside;
  };
  const Case cases[] = {
      {"127.0.0.0/8", "127.0.0.1", true},
      {"127.0.0.0/8", "127.255.255.255", true},
      {"127.0.0.0/8", "128.0.0.0", false},
      {"127.0.0.0/8", "126.255.255.255", false},
      {"127.0.0.0/8", "::ffff:127.0.0.1", true},  // mapped form of an IPv4 address
      {"127.0.0.0/8", "::1", false},
      {"10.1.2.3", "10.1.2.3", true},  // a single address is /32
      {"10.1.2.3", "10.1.2.4", false},
      {"10.1.2.3/32", "10.1.2.3", true},
      {"172.16.0.0/12", "172.31.255.255", true},
      {"172.16.0.0/12", "172.32.0.0", false},
      {"172.16.0.0/12", "172.15.255.255", false},
      {"192.168.1.128/25", "192.168.1.128", true},
      {"192.168.1.128/25", "192.168.1.127", false},
      {"0.0.0.0/0", "8.8.8.8", true},
      {"0.0.0.0/0", "::ffff:1.2.3.4", true},
      {"0.0.0.0/0", "2001:db8::1", false},  // an IPv4 block never holds a real IPv6 address
      {"::/0", "2001:db8::1", true},
      {"::/0", "10.0.0.1", true},  // every address, mapped IPv4 included
      {"fd00::/8", "fd12:3456::1", true},
      {"fd00::/8", "fc00::1", false},
      {"fe80::/10", "febf:ffff::1", true},
      {"fe80::/10", "fec0::1", false},
      {"::1/128", "::1", true},
      {"::1", "::2", false},
      {"2001:db8::/127", "2001:db8::1", true},
      {"2001:db8::/127", "2001:db8::2", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Net(c.network).Contains(Ip(c.address)), c.inside) << c.network << " ∋ " << c.address;
  }
}

TEST(IpNetworkTest, RefusesMalformedBlocksNamingThem) {
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "fd00::/129",
                          "fd00::1/8", "example.com/8", "", "10.0.0/8", "127.1/8"}) {
    Result<IpNetwork> n = IpNetwork::Parse(bad);
    EXPECT_FALSE(n.ok()) << bad;
    if (!n.ok()) {
      EXPECT_THAT(n.status().message(), HasSubstr(std::string("'") + bad + "'"));
    }
  }
  EXPECT_EQ(Net("10.0.0.0/8").ToString(), "10.0.0.0/8");
  EXPECT_EQ(Net("fd00::/8").ToString(), "fd00::/8");
}

TEST(RestrictedRangeTest, Table) {
  struct Case {
    const char* address;
    const char* range;
  };
  const Case cases[] = {
      {"127.0.0.1", "loopback"},
      {"127.255.0.9", "loopback"},
      {"::1", "loopback"},
      {"::ffff:127.0.0.1", "loopback"},
      {"64:ff9b::7f00:1", "loopback"},  // NAT64 of 127.0.0.1
      {"::127.0.0.1", "loopback"},      // IPv4-compatible (deprecated)
      {"169.254.169.254", "link-local"},
      {"::ffff:169.254.169.254", "link-local"},
      {"fe80::1", "link-local"},
      {"10.0.0.1", "private"},
      {"172.16.0.1", "private"},
      {"172.31.255.254", "private"},
      {"192.168.0.1", "private"},
      {"fc00::1", "private"},
      {"fd00:ec2::254", "private"},  // AWS metadata over IPv6
      {"fec0::1", "private"},
      {"::ffff:10.1.1.1", "private"},
      {"100.64.0.1", "shared"},
      {"100.100.100.200", "shared"},  // a cloud's metadata address
      {"0.0.0.0", "unspecified"},
      {"0.1.2.3", "unspecified"},
      {"::", "unspecified"},
      {"::ffff:0.0.0.0", "unspecified"},
      {"8.8.8.8", ""},
      {"172.32.0.1", ""},
      {"172.15.0.1", ""},
      {"100.128.0.1", ""},
      {"169.255.0.1", ""},
      {"192.169.0.1", ""},
      {"2001:4860:4860::8888", ""},
      {"::ffff:8.8.8.8", ""},
      {"fe00::1", ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RestrictedRange(Ip(c.address)), c.range) << c.address;
  }
}

TEST(IpAddressTest, LenientFormsAreTheAddressesCurlWouldReach) {
  for (const char* form : {"127.1", "0x7f000001", "2130706433", "0177.0.0.1", "[::1]"}) {
    Result<IpAddress> a = IpAddress::Parse(form, /*lenient_v4=*/true);
    ASSERT_TRUE(a.ok()) << form;
    EXPECT_EQ(RestrictedRange(*a), "loopback") << form;
  }
  EXPECT_FALSE(IpAddress::Parse("127.1").ok());  // strict by default (CIDRs)
  EXPECT_FALSE(IpAddress::Parse("example.com", true).ok());
  EXPECT_EQ(Ip("10.0.0.1").ToString(), "10.0.0.1");
  EXPECT_EQ(Ip("fe80::1%eth0").ToString(), "fe80::1");
}

TEST(PerimeterTest, AddressesInsideAllowedNetworksPass) {
  auto p = Perimeter::Create({{}, {Net("127.0.0.0/8"), Net("fd00::/8")}});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->CheckAddress(Ip("127.0.0.1")).ok());
  EXPECT_TRUE(p->CheckAddress(Ip("::ffff:127.0.0.1")).ok());
  EXPECT_TRUE(p->CheckAddress(Ip("fd00::5")).ok());
  EXPECT_TRUE(p->CheckAddress(Ip("8.8.8.8")).ok());
  Status s = p->CheckAddress(Ip("169.254.169.254"));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "address 169.254.169.254 is link-local, refused by fetch.allowed_networks");
  EXPECT_FALSE(p->CheckAddress(Ip("::1")).ok());
}

TEST(PerimeterTest, SubmissionCheckOfHttpUrisUsesLiteralsAndLocalhostOnly) {
  auto p = Perimeter::Create({});
  ASSERT_TRUE(p.ok());
  Status meta = p->CheckJobUri("http://169.254.169.254/latest/meta-data");
  EXPECT_EQ(meta.message(),
            "http://169.254.169.254/latest/meta-data: address 169.254.169.254 is link-local, "
            "refused by fetch.allowed_networks");
  EXPECT_FALSE(p->CheckJobUri("https://user:secret@127.0.0.1:8443/x").ok());
  EXPECT_THAT(p->CheckJobUri("https://user:secret@127.0.0.1:8443/x").message(),
              ::testing::Not(HasSubstr("secret")));
  EXPECT_FALSE(p->CheckJobUri("http://[::1]:80/x").ok());
  EXPECT_FALSE(p->CheckJobUri("http://[::ffff:10.0.0.1]/x").ok());
  EXPECT_FALSE(p->CheckJobUri("http://LOCALHOST./x").ok());
  EXPECT_FALSE(p->CheckJobUri("http://db.localhost/x").ok());
  EXPECT_FALSE(p->CheckJobUri("http://2130706433/x").ok());
  EXPECT_FALSE(p->CheckJobUri("http://0/x").ok());
  EXPECT_TRUE(p->CheckJobUri("https://repo.example.com/x.jar").ok());  // names: at fetch time
  EXPECT_TRUE(p->CheckJobUri("http://93.184.216.34/x").ok());
  EXPECT_TRUE(p->CheckJobUri("s3://bucket/key").ok());  // the admin's endpoint
}

class PerimeterFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "allowed" / "sub");
    fs::create_directories(dir_ / "outside");
    Write(dir_ / "allowed" / "sub" / "ok.txt", "inside");
    Write(dir_ / "outside" / "secret.txt", "secret");
    auto p = Perimeter::Create({{dir_ / "allowed/"}, {}});
    ASSERT_TRUE(p.ok()) << p.status();
    perimeter_ = std::make_unique<Perimeter>(*p);
  }
  static void Write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
  std::string Uri(const fs::path& p) { return "file://" + p.string(); }

  TempDir dir_;
  std::unique_ptr<Perimeter> perimeter_;
};

TEST_F(PerimeterFilesTest, RootCheckResolvesDotDotAndSymlinks) {
  const fs::path allowed = dir_ / "allowed";
  EXPECT_TRUE(perimeter_->CheckJobUri(Uri(allowed / "sub" / "ok.txt")).ok());
  EXPECT_TRUE(perimeter_->CheckJobUri((allowed / "sub" / "ok.txt").string()).ok());
  EXPECT_TRUE(perimeter_->CheckJobUri(Uri(allowed / "sub" / ".." / "sub" / "ok.txt")).ok());
  EXPECT_TRUE(perimeter_->CheckJobUri(Uri(allowed / "not-yet.txt")).ok());  // may appear later

  Status dotdot = perimeter_->CheckJobUri(Uri(allowed / ".." / "outside" / "secret.txt"));
  EXPECT_EQ(dotdot.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(dotdot.message(), HasSubstr("is outside fetch.allowed_file_roots"));
  EXPECT_FALSE(
      perimeter_->CheckJobUri("file://" + allowed.string() + "/%2e%2e/outside/secret.txt").ok());
  EXPECT_FALSE(perimeter_->CheckJobUri(Uri(allowed)).ok());  // the root itself is no file
  // A sibling whose name starts like the root is not inside it.
  fs::create_directories(dir_ / "allowed-not");
  Write(dir_ / "allowed-not" / "x", "x");
  EXPECT_FALSE(perimeter_->CheckJobUri(Uri(dir_ / "allowed-not" / "x")).ok());

  fs::create_symlink(dir_ / "outside" / "secret.txt", allowed / "link.txt");
  fs::create_symlink(dir_ / "outside", allowed / "dirlink");
  EXPECT_FALSE(perimeter_->CheckJobUri(Uri(allowed / "link.txt")).ok());
  EXPECT_FALSE(perimeter_->CheckJobUri(Uri(allowed / "dirlink" / "secret.txt")).ok());
  // A symlink that stays inside is fine.
  fs::create_symlink(allowed / "sub" / "ok.txt", allowed / "inner.txt");
  EXPECT_TRUE(perimeter_->CheckJobUri(Uri(allowed / "inner.txt")).ok());

  Status passwd = perimeter_->CheckJobUri("file:///etc/passwd");
  EXPECT_EQ(passwd.message(),
            "file:///etc/passwd is outside fetch.allowed_file_roots; ask an administrator to add "
            "its folder or attach the file");
  EXPECT_FALSE(perimeter_->CheckJobUri("/etc/passwd").ok());
}

TEST_F(PerimeterFilesTest, NoRootsRefuseEveryLocalFile) {
  auto none = Perimeter::Create({});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->CheckJobUri(Uri(dir_ / "allowed" / "sub" / "ok.txt")).ok());
  auto all = Perimeter::Create({{"/"}, {}});
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->CheckJobUri("/etc/passwd").ok());
  EXPECT_FALSE(Perimeter::Create({{"relative/dir"}, {}}).ok());
}

TEST_F(PerimeterFilesTest, FetchTimeChecksTheFileActuallyOpened) {
  UriFetcher fetcher(nullptr, nullptr, std::make_shared<const Perimeter>(*perimeter_));
  const fs::path allowed = dir_ / "allowed";
  ASSERT_TRUE(fetcher.FetchForJob(Uri(allowed / "sub" / "ok.txt"), dir_ / "job" / "ok.txt").ok());
  EXPECT_EQ(Slurp(dir_ / "job" / "ok.txt"), "inside");

  // Passed at submission as a regular file, then swapped for a symlink pointing out.
  const fs::path swapped = allowed / "swapped.txt";
  Write(swapped, "harmless");
  ASSERT_TRUE(fetcher.CheckJobUri(Uri(swapped)).ok());
  fs::remove(swapped);
  fs::create_symlink(dir_ / "outside" / "secret.txt", swapped);
  Status s = fetcher.FetchForJob(Uri(swapped), dir_ / "job" / "swapped.txt");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(s.message(), HasSubstr("is outside fetch.allowed_file_roots"));
  EXPECT_FALSE(fs::exists(dir_ / "job" / "swapped.txt"));

  // A FIFO inside the root does not hang set-up.
  ASSERT_EQ(::mkfifo((allowed / "fifo").c_str(), 0600), 0);
  Status fifo = fetcher.FetchForJob(Uri(allowed / "fifo"), dir_ / "job" / "fifo");
  EXPECT_EQ(fifo.code(), StatusCode::kInvalidArgument) << fifo;
  EXPECT_THAT(fifo.message(), HasSubstr("not a regular file"));

  // Admin configuration is not restricted.
  EXPECT_TRUE(fetcher.Fetch(Uri(dir_ / "outside" / "secret.txt"), dir_ / "job" / "admin").ok());
  EXPECT_EQ(Slurp(dir_ / "job" / "admin"), "secret");
}

TEST(PerimeterOpenTest, RootsReachedThroughSymlinksAreComparedCanonically) {
  // OpenAllowedFile checks the path, then the opened descriptor's path: a root configured through
  // a symlink must match both in canonical form.
  TempDir dir;
  fs::create_directories(dir / "real");
  std::ofstream(dir / "real" / "f") << "x";
  fs::create_symlink(dir / "real", dir / "alias");
  auto p = Perimeter::Create({{dir / "alias"}, {}});
  ASSERT_TRUE(p.ok());
  Result<int> fd = p->OpenAllowedFile("file://" + (dir / "alias" / "f").string());
  ASSERT_TRUE(fd.ok()) << fd.status();
  ::close(*fd);
  Result<int> direct = p->OpenAllowedFile((dir / "real" / "f").string());
  ASSERT_TRUE(direct.ok()) << direct.status();
  ::close(*direct);
}

// --- connections -------------------------------------------------------------------------------

HttpOptions Fast() {
  HttpOptions o;
  o.connect_timeout = Millis(2000);
  o.low_speed_timeout = Millis(1000);
  return o;
}

class PerimeterHttpTest : public ::testing::Test {
 protected:
  PerimeterHttpTest()
      : jar_("jar bytes"), server_([this](const TestRequest& r) { return Route(r); }) {}

  TestResponse Route(const TestRequest& r) {
    if (r.path == "/x.jar") return jar_.Handle(r);
    TestResponse resp;
    if (r.path == "/to-other-loopback") {
      resp.status = 302;
      resp.headers.emplace_back("Location",
                                "http://127.0.0.2:" + std::to_string(server_.port()) + "/x.jar");
      return resp;
    }
    resp.status = 404;
    return resp;
  }

  std::shared_ptr<const Perimeter> Allowing(std::vector<std::string> networks) {
    PerimeterOptions o;
    for (const auto& n : networks) o.allowed_networks.push_back(Net(n));
    return std::make_shared<const Perimeter>(*Perimeter::Create(o));
  }

  TempDir dir_;
  StaticResource jar_;
  TestHttpServer server_;
};

TEST_F(PerimeterHttpTest, ConnectionsOfJobRequestsAreCheckedWhateverTheHostName) {
  HttpFetcher fetcher(Fast(), Allowing({}));
  // "localhost" is a name: only the connect-time check sees that it is 127.0.0.1 / ::1.
  const std::string by_name = "http://localhost:" + std::to_string(server_.port()) + "/x.jar";
  Status s = fetcher.FetchForJob(by_name, dir_ / "a.jar");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(s.message(), HasSubstr("is loopback, refused by fetch.allowed_networks"));
  EXPECT_THAT(s.message(), HasSubstr("fetch 'http://localhost:"));
  EXPECT_EQ(server_.RequestCount(), 0);
  EXPECT_FALSE(fs::exists(dir_ / "a.jar"));
  // Admin configuration is not restricted.
  ASSERT_TRUE(fetcher.Fetch(by_name, dir_ / "b.jar").ok());
  EXPECT_EQ(Slurp(dir_ / "b.jar"), "jar bytes");
}

TEST_F(PerimeterHttpTest, EveryRedirectHopIsChecked) {
  // 127.0.0.1 is allowed, 127.0.0.2 is not: the redirect there is refused before connecting.
  HttpFetcher fetcher(Fast(), Allowing({"127.0.0.1/32"}));
  ASSERT_TRUE(fetcher.FetchForJob(server_.Url("/x.jar"), dir_ / "ok.jar").ok());
  Status s = fetcher.FetchForJob(server_.Url("/to-other-loopback"), dir_ / "hop.jar");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(s.message(),
              HasSubstr("address 127.0.0.2 is loopback, refused by fetch.allowed_networks"));
  EXPECT_FALSE(fs::exists(dir_ / "hop.jar"));
}

TEST_F(PerimeterHttpTest, CachedEntriesOfAdminUrisAreNotHandedToRefusedJobRequests) {
  Clock& clock = SystemClock::Instance();
  auto http = std::make_shared<HttpFetcher>(Fast(), Allowing({}));
  CacheOptions co;
  co.dir = dir_ / "cache";
  co.fresh_for = Millis(3'600'000);  // would serve without asking
  auto cache = DependencyCache::Open(co, http, clock);
  ASSERT_TRUE(cache.ok()) << cache.status();
  std::shared_ptr<DependencyCache> shared(std::move(*cache));
  UriFetcher fetcher(shared, shared, Allowing({}));
  const std::string uri = server_.Url("/x.jar");
  ASSERT_TRUE(fetcher.Fetch(uri, dir_ / "admin.jar").ok());  // an admin's dependency, cached
  Status s = fetcher.FetchForJob(uri, dir_ / "job.jar");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(s.message(), HasSubstr("address 127.0.0.1 is loopback"));
  EXPECT_FALSE(fs::exists(dir_ / "job.jar"));

  // Without the freshness window the cache asks the source, which checks the connection.
  co.dir = dir_ / "cache2";
  co.fresh_for = Millis(0);
  auto cache2 = DependencyCache::Open(co, http, clock);
  ASSERT_TRUE(cache2.ok());
  ASSERT_TRUE((*cache2)->Fetch(uri, dir_ / "admin2.jar").ok());
  Status s2 = (*cache2)->FetchForJob(uri, dir_ / "job2.jar");
  EXPECT_EQ(s2.code(), StatusCode::kPermissionDenied) << s2;
  EXPECT_FALSE(fs::exists(dir_ / "job2.jar"));
}

}  // namespace
}  // namespace weir::fetch
