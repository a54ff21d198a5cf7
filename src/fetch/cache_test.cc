#include "fetch/cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <fstream>
#include <thread>

#include "fetch/http_fetcher.h"
#include "fetch/test_http_server.h"

namespace weir::fetch {
namespace {

using ::testing::HasSubstr;
using testing::Slurp;
using testing::StaticResource;
using testing::TempDir;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

namespace fs = std::filesystem;

struct stat Stat(const fs::path& p) {
  struct stat st{};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st;
}

// Waits (really: the server runs on real threads) until `pred` holds, at most 10 s.
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class CacheTest : public ::testing::Test {
 protected:
  CacheTest()
      : a_(std::string(1000, 'a')),
        b_(std::string(1000, 'b')),
        c_(std::string(1000, 'c')),
        big_(std::string(5000, 'g')),
        server_([this](const TestRequest& r) { return Route(r); }),
        clock_(FromEpochMillis(1'700'000'000'000)) {
    HttpOptions http;
    http.low_speed_timeout = Millis(2000);
    source_ = std::make_shared<HttpFetcher>(http);
  }

  ~CacheTest() override { Release(); }  // never leave a server thread waiting

  void Release() {
    if (!released_.exchange(true)) release_.set_value();
  }

  TestResponse Route(const TestRequest& r) {
    if (r.path == "/a.jar" && hold_a_) {
      a_held_ = true;
      gate_.wait();
    }
    if (r.path == "/a.jar") return a_.Handle(r);
    if (r.path == "/b.jar") return b_.Handle(r);
    if (r.path == "/c.jar") return c_.Handle(r);
    if (r.path == "/big.jar") return big_.Handle(r);
    TestResponse resp;
    resp.status = 404;
    return resp;
  }

  std::unique_ptr<DependencyCache> Open(CacheOptions o = {}) {
    o.dir = dir_ / "cache";
    if (o.max_bytes == CacheOptions{}.max_bytes) o.max_bytes = 1 << 20;
    Result<std::unique_ptr<DependencyCache>> c = DependencyCache::Open(o, source_, clock_);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  fs::path Job(int n, const std::string& file) {
    return dir_ / ("jobs/job-" + std::to_string(n)) / file;
  }

  TempDir dir_;
  // While hold_a_, requests for /a.jar wait until release_ is set.
  std::atomic<bool> hold_a_{false};
  std::atomic<bool> a_held_{false};
  std::atomic<bool> released_{false};
  std::promise<void> release_;
  std::shared_future<void> gate_ = release_.get_future().share();
  StaticResource a_, b_, c_, big_;
  TestHttpServer server_;
  FakeClock clock_;
  std::shared_ptr<HttpFetcher> source_;
};

TEST_F(CacheTest, SecondFetchRevalidatesWithEtagAndDownloadsNoBody) {
  auto cache = Open();
  std::string uri = server_.Url("/a.jar");
  ASSERT_TRUE(cache->Fetch(uri, Job(1, "a.jar")).ok());
  ASSERT_TRUE(cache->Fetch(uri, Job(2, "a.jar")).ok());

  EXPECT_EQ(a_.full_bodies(), 1);
  EXPECT_EQ(a_.conditional_gets(), 1);
  EXPECT_EQ(a_.not_modified(), 1);
  CacheStats s = cache->Stats();
  EXPECT_EQ(s.misses, 1);
  EXPECT_EQ(s.hits, 1);
  EXPECT_EQ(s.revalidations, 1);
  EXPECT_EQ(s.bytes_downloaded, 1000);
  EXPECT_EQ(s.entries, 1);
  EXPECT_EQ(s.bytes, 1000);
  EXPECT_EQ(Slurp(Job(1, "a.jar")), std::string(1000, 'a'));
  EXPECT_EQ(Slurp(Job(2, "a.jar")), std::string(1000, 'a'));
}

TEST_F(CacheTest, JobFilesAreReadOnlyHardLinksOfTheEntry) {
  auto cache = Open();
  std::string uri = server_.Url("/a.jar");
  ASSERT_TRUE(cache->Fetch(uri, Job(1, "a.jar")).ok());
  struct stat entry = Stat(cache->DataPath(uri));
  struct stat job = Stat(Job(1, "a.jar"));
  EXPECT_EQ(entry.st_ino, job.st_ino);
  EXPECT_EQ(entry.st_mode & 0777, 0444u);
  // The job cannot write through its link.
  if (::geteuid() != 0) {  // root ignores mode bits
    std::ofstream out(Job(1, "a.jar"), std::ios::app);
    EXPECT_FALSE(out.is_open());
  }
}

TEST_F(CacheTest, CopyModeGivesEachJobAPrivateWritableFile) {
  CacheOptions o;
  o.hard_links = false;
  auto cache = Open(o);
  std::string uri = server_.Url("/a.jar");
  ASSERT_TRUE(cache->Fetch(uri, Job(1, "a.jar")).ok());
  struct stat entry = Stat(cache->DataPath(uri));
  struct stat job = Stat(Job(1, "a.jar"));
  EXPECT_NE(entry.st_ino, job.st_ino);
  EXPECT_EQ(job.st_mode & 0777, 0644u);
  EXPECT_EQ(Slurp(Job(1, "a.jar")), std::string(1000, 'a'));
}

TEST_F(CacheTest, ChangedResourceReplacesTheEntry) {
  auto cache = Open();
  std::string uri = server_.Url("/a.jar");
  ASSERT_TRUE(cache->Fetch(uri, Job(1, "a.jar")).ok());
  a_.SetContent("version two");
  ASSERT_TRUE(cache->Fetch(uri, Job(2, "a.jar")).ok());
  EXPECT_EQ(Slurp(Job(1, "a.jar")), std::string(1000, 'a'));  // job 1 keeps what it got
  EXPECT_EQ(Slurp(Job(2, "a.jar")), "version two");
  EXPECT_EQ(a_.full_bodies(), 2);
  CacheStats s = cache->Stats();
  EXPECT_EQ(s.misses, 2);
  EXPECT_EQ(s.bytes, static_cast<int64_t>(std::string("version two").size()));
}

TEST_F(CacheTest, LastModifiedAloneRevalidatesWithIfModifiedSince) {
  a_.send_etag = false;
  auto cache = Open();
  std::string uri = server_.Url("/a.jar");
  ASSERT_TRUE(cache->Fetch(uri, Job(1, "a.jar")).ok());
  ASSERT_TRUE(cache->Fetch(uri, Job(2, "a.jar")).ok());
  EXPECT_EQ(a_.full_bodies(), 1);
  EXPECT_EQ(a_.not_modified(), 1);
  EXPECT_EQ(cache->Stats().bytes_downloaded, 1000);
}

TEST_F(CacheTest, WithoutValidatorsAHeadKeepsTheEntryUntilMaxAge) {
  a_.send_etag = false;
  a_.send_last_modified = false;
  CacheOptions o;
  o.unvalidated_max_age = Millis(60'000);
  auto cache = Open(o);
  std::string uri = server_.Url("/a.jar");
  ASSERT_TRUE(cache->Fetch(uri, Job(1, "a.jar")).ok());
  clock_.Advance(Millis(30'000));
  ASSERT_TRUE(cache->Fetch(uri, Job(2, "a.jar")).ok());
  EXPECT_EQ(a_.heads(), 1);
  EXPECT_EQ(a_.full_bodies(), 1);  // same Content-Length within max age: no download

  clock_.Advance(Millis(31'000));  // 61 s after the download
  ASSERT_TRUE(cache->Fetch(uri, Job(3, "a.jar")).ok());
  EXPECT_EQ(a_.full_bodies(), 2);
  CacheStats s = cache->Stats();
  EXPECT_EQ(s.misses, 2);
  EXPECT_EQ(s.hits, 1);
  EXPECT_EQ(s.revalidations, 1);
}

TEST_F(CacheTest, WithoutValidatorsASizeChangeDownloadsAgain) {
  a_.send_etag = false;
  a_.send_last_modified = false;
  auto cache = Open();
  std::string uri = server_.Url("/a.jar");
  ASSERT_TRUE(cache->Fetch(uri, Job(1, "a.jar")).ok());
  a_.SetContent("shorter");
  ASSERT_TRUE(cache->Fetch(uri, Job(2, "a.jar")).ok());
  EXPECT_EQ(Slurp(Job(2, "a.jar")), "shorter");
  EXPECT_EQ(a_.full_bodies(), 2);
}

TEST_F(CacheTest, FreshForSkipsTheServerEntirely) {
  CacheOptions o;
  o.fresh_for = Millis(60'000);
  auto cache = Open(o);
  std::string uri = server_.Url("/a.jar");
  ASSERT_TRUE(cache->Fetch(uri, Job(1, "a.jar")).ok());
  ASSERT_TRUE(cache->Fetch(uri, Job(2, "a.jar")).ok());
  EXPECT_EQ(a_.gets(), 1);
  clock_.Advance(Millis(61'000));
  ASSERT_TRUE(cache->Fetch(uri, Job(3, "a.jar")).ok());
  EXPECT_EQ(a_.gets(), 2);
  EXPECT_EQ(a_.not_modified(), 1);
}

TEST_F(CacheTest, FiftyConcurrentFetchesDownloadOnce) {
  big_.delay = Millis(500);  // every fetcher starts while the first download is in flight
  auto cache = Open();
  std::string uri = server_.Url("/big.jar");
  std::vector<std::thread> threads;
  std::vector<Status> results(50);
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] { results[i] = cache->Fetch(uri, Job(i, "big.jar")); });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i];
    ASSERT_EQ(Slurp(Job(i, "big.jar")).size(), 5000u);
  }
  EXPECT_EQ(big_.full_bodies(), 1);
  CacheStats s = cache->Stats();
  EXPECT_EQ(s.misses, 1);
  EXPECT_EQ(s.hits, 49);
  EXPECT_EQ(s.bytes_downloaded, 5000);
}

TEST_F(CacheTest, AFailedFlightFailsEveryWaiterWithTheSameMessage) {
  big_.status = 404;
  big_.delay = Millis(1000);
  auto cache = Open();
  std::string uri = server_.Url("/big.jar");
  std::vector<std::thread> threads;
  std::vector<Status> results(20);
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] { results[i] = cache->Fetch(uri, Job(i, "big.jar")); });
  }
  for (std::thread& t : threads) t.join();
  for (const Status& s : results) {
    EXPECT_EQ(s.code(), StatusCode::kNotFound);
    EXPECT_EQ(s.message(), "fetch '" + uri + "': HTTP 404 Not Found");
  }
  EXPECT_EQ(big_.gets(), 1);
  EXPECT_EQ(cache->Stats().entries, 0);
}

TEST_F(CacheTest, EvictsLeastRecentlyUsedFirst) {
  CacheOptions o;
  o.max_bytes = 2500;  // room for two 1000-byte entries
  auto cache = Open(o);
  std::string a = server_.Url("/a.jar"), b = server_.Url("/b.jar"), c = server_.Url("/c.jar");
  ASSERT_TRUE(cache->Fetch(a, Job(1, "a.jar")).ok());
  ASSERT_TRUE(cache->Fetch(b, Job(1, "b.jar")).ok());
  ASSERT_TRUE(cache->Fetch(a, Job(2, "a.jar")).ok());  // a is now more recent than b
  ASSERT_TRUE(cache->Fetch(c, Job(2, "c.jar")).ok());
  EXPECT_TRUE(fs::exists(cache->DataPath(a)));
  EXPECT_FALSE(fs::exists(cache->DataPath(b)));
  EXPECT_TRUE(fs::exists(cache->DataPath(c)));
  EXPECT_EQ(cache->Stats().evictions, 1);
  EXPECT_EQ(Slurp(Job(1, "b.jar")), std::string(1000, 'b'));  // the job's link survives

  ASSERT_TRUE(cache->Fetch(b, Job(3, "b.jar")).ok());  // b comes back; a is now the oldest
  EXPECT_FALSE(fs::exists(cache->DataPath(a)));
  EXPECT_TRUE(fs::exists(cache->DataPath(b)));
  EXPECT_TRUE(fs::exists(cache->DataPath(c)));
  CacheStats s = cache->Stats();
  EXPECT_EQ(s.evictions, 2);
  EXPECT_EQ(s.bytes, 2000);
  EXPECT_EQ(b_.full_bodies(), 2);
}

TEST_F(CacheTest, AnEntryInUseIsNotEvicted) {
  CacheOptions o;
  o.max_bytes = 1500;  // one entry
  auto cache = Open(o);
  std::string a = server_.Url("/a.jar"), b = server_.Url("/b.jar");
  ASSERT_TRUE(cache->Fetch(a, Job(1, "a.jar")).ok());
  hold_a_ = true;  // a's revalidation hangs until released: a stays pinned meanwhile
  Status a_status;
  std::thread user([&] { a_status = cache->Fetch(a, Job(2, "a.jar")); });
  ASSERT_TRUE(Eventually([&] { return a_held_.load(); }));
  // b arrives while a is in use: a is older, but pinned, so b goes once its job has it.
  Status b_status = cache->Fetch(b, Job(2, "b.jar"));
  Release();
  user.join();
  ASSERT_TRUE(b_status.ok()) << b_status;
  ASSERT_TRUE(a_status.ok()) << a_status;
  EXPECT_TRUE(fs::exists(cache->DataPath(a)));
  EXPECT_FALSE(fs::exists(cache->DataPath(b)));
  EXPECT_EQ(Slurp(Job(2, "b.jar")), std::string(1000, 'b'));
  EXPECT_EQ(Slurp(Job(2, "a.jar")), std::string(1000, 'a'));
  EXPECT_EQ(cache->Stats().evictions, 1);
  EXPECT_EQ(cache->Stats().bytes, 1000);
}

TEST_F(CacheTest, AnEntryLargerThanTheBoundIsServedThenDropped) {
  CacheOptions o;
  o.max_bytes = 2000;
  auto cache = Open(o);
  std::string uri = server_.Url("/big.jar");
  ASSERT_TRUE(cache->Fetch(uri, Job(1, "big.jar")).ok());
  EXPECT_EQ(Slurp(Job(1, "big.jar")).size(), 5000u);
  EXPECT_FALSE(fs::exists(cache->DataPath(uri)));
  EXPECT_EQ(cache->Stats().bytes, 0);
}

TEST_F(CacheTest, CutDownloadLeavesNoEntryAndAClearError) {
  big_.cut_after = 1200;
  auto cache = Open();
  std::string uri = server_.Url("/big.jar");
  Status s = cache->Fetch(uri, Job(1, "big.jar"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "fetch '" + uri + "': connection closed after 1200 of 5000 bytes");
  EXPECT_FALSE(fs::exists(cache->DataPath(uri)));
  EXPECT_FALSE(fs::exists(Job(1, "big.jar")));
  EXPECT_TRUE(fs::is_empty(dir_ / "cache/tmp"));
  EXPECT_EQ(cache->Stats().entries, 0);

  big_.cut_after = -1;
  ASSERT_TRUE(cache->Fetch(uri, Job(1, "big.jar")).ok());
  EXPECT_EQ(Slurp(Job(1, "big.jar")).size(), 5000u);
}

TEST_F(CacheTest, NotFoundCreatesNoEntry) {
  auto cache = Open();
  std::string uri = server_.Url("/nope.jar");
  Status s = cache->Fetch(uri, Job(1, "nope.jar"));
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "fetch '" + uri + "': HTTP 404 Not Found");
  EXPECT_EQ(cache->Stats().entries, 0);
}

TEST_F(CacheTest, EntriesSurviveARestartAndKeepTheirLruOrder) {
  std::string a = server_.Url("/a.jar"), b = server_.Url("/b.jar"), c = server_.Url("/c.jar");
  {
    auto cache = Open();
    ASSERT_TRUE(cache->Fetch(a, Job(1, "a.jar")).ok());
    clock_.Advance(Millis(1000));
    ASSERT_TRUE(cache->Fetch(b, Job(1, "b.jar")).ok());
    clock_.Advance(Millis(1000));
    ASSERT_TRUE(cache->Fetch(a, Job(2, "a.jar")).ok());  // a used last
  }
  CacheOptions o;
  o.max_bytes = 2500;
  auto cache = Open(o);
  EXPECT_EQ(cache->Stats().entries, 2);
  ASSERT_TRUE(cache->Fetch(a, Job(3, "a.jar")).ok());
  EXPECT_EQ(a_.full_bodies(), 1);  // revalidated after the restart, not downloaded
  ASSERT_TRUE(cache->Fetch(c, Job(3, "c.jar")).ok());
  EXPECT_FALSE(fs::exists(cache->DataPath(b)));  // b was least recently used
  EXPECT_TRUE(fs::exists(cache->DataPath(a)));
}

TEST_F(CacheTest, OpenDropsLeftoversAndBrokenEntries) {
  std::string a = server_.Url("/a.jar"), b = server_.Url("/b.jar");
  fs::path b_data;
  {
    auto cache = Open();
    ASSERT_TRUE(cache->Fetch(a, Job(1, "a.jar")).ok());
    ASSERT_TRUE(cache->Fetch(b, Job(1, "b.jar")).ok());
    b_data = cache->DataPath(b);
  }
  std::ofstream(dir_ / "cache/tmp/half-download") << "partial";
  std::ofstream(dir_ / "cache/data/0123456789abcdef") << "no metadata";
  fs::remove(dir_ / "cache/meta" / b_data.filename());  // b loses its metadata
  auto cache = Open();
  CacheStats s = cache->Stats();
  EXPECT_EQ(s.entries, 1);
  EXPECT_EQ(s.bytes, 1000);
  EXPECT_TRUE(fs::is_empty(dir_ / "cache/tmp"));
  EXPECT_FALSE(fs::exists(dir_ / "cache/data/0123456789abcdef"));
  EXPECT_FALSE(fs::exists(b_data));
  EXPECT_EQ(Stat(dir_ / "cache").st_mode & 0777, 0700u);
}

TEST_F(CacheTest, ATamperedEntryIsDownloadedAgain) {
  auto cache = Open();
  std::string uri = server_.Url("/a.jar");
  ASSERT_TRUE(cache->Fetch(uri, Job(1, "a.jar")).ok());
  // A job running as the service user chmods its link and writes: the shared inode changes.
  ASSERT_EQ(::chmod(Job(1, "a.jar").c_str(), 0644), 0);
  {
    std::ofstream(Job(1, "a.jar"), std::ios::trunc) << "tampered";
  }
  ASSERT_TRUE(cache->Fetch(uri, Job(2, "a.jar")).ok());
  EXPECT_EQ(Slurp(Job(2, "a.jar")), std::string(1000, 'a'));
  EXPECT_EQ(a_.full_bodies(), 2);
}

TEST_F(CacheTest, OpenRejectsBadOptions) {
  CacheOptions o;
  o.dir = dir_ / "c";
  o.max_bytes = 0;
  Result<std::unique_ptr<DependencyCache>> c = DependencyCache::Open(o, source_, clock_);
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("max_bytes"));
}

}  // namespace
}  // namespace weir::fetch
