// ArchivedOutputs: extraction on first access, reuse, single flight, LRU bound, missing archives.
#include "archive/archived_outputs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "fetch/test_http_server.h"

namespace weir::archive {
namespace {

namespace fs = std::filesystem;
using fetch::testing::Slurp;
using fetch::testing::TempDir;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

void Write(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

class ArchivedOutputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ArchiverOptions o;
    o.location = (tmp_ / "archives").string();
    auto a = JobArchiver::Create(o, nullptr);
    ASSERT_TRUE(a.ok()) << a.status();
    archiver_ = std::shared_ptr<JobArchiver>(std::move(*a));
  }

  // Archives a job directory holding `stdout` and returns its archive URI.
  std::string ArchiveJob(const std::string& id, const std::string& stdout_data) {
    fs::path dir = tmp_ / "jobs" / id;
    Write(dir / "stdout", stdout_data);
    Write(dir / "genie/logs/genie.log", "log of " + id);
    std::string uri = archiver_->ArchiveUri(id).value();
    auto st = archiver_->Archive(dir, uri, {});
    EXPECT_TRUE(st.ok()) << st.status();
    return uri;
  }

  std::unique_ptr<ArchivedOutputs> Outputs(int64_t max_bytes) {
    ArchivedOutputsOptions o;
    o.dir = tmp_ / "cache";
    o.max_bytes = max_bytes;
    o.min_idle = 60s;
    auto r = ArchivedOutputs::Create(o, archiver_, clock_);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? std::move(*r) : nullptr;
  }

  TempDir tmp_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
  std::shared_ptr<JobArchiver> archiver_;
};

TEST_F(ArchivedOutputsTest, ExtractsOnceAndReuses) {
  const std::string uri = ArchiveJob("j1", "the output\n");
  auto outputs = Outputs(1 << 20);
  auto dir = outputs->Open("j1", uri);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(Slurp(*dir / "stdout"), "the output\n");
  EXPECT_EQ(Slurp(*dir / "genie/logs/genie.log"), "log of j1");
  auto again = outputs->Open("j1", uri);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *dir);
  EXPECT_EQ(outputs->GetStats().extractions, 1);
  EXPECT_EQ(outputs->GetStats().reuses, 1);
  // Only the extracted folder remains in the cache (no temp folders).
  int entries = 0;
  for (const auto& e : fs::directory_iterator(tmp_ / "cache")) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "j1");
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(ArchivedOutputsTest, ConcurrentOpensShareOneExtraction) {
  const std::string uri = ArchiveJob("j1", std::string(2 << 20, 'x'));
  auto outputs = Outputs(64 << 20);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto d = outputs->Open("j1", uri);
      if (d.ok() && fs::file_size(*d / "stdout") == (2u << 20)) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(outputs->GetStats().extractions, 1);
}

TEST_F(ArchivedOutputsTest, MissingArchiveIsNotFoundAndLeavesNothing) {
  auto outputs = Outputs(1 << 20);
  auto r = outputs->Open("gone", archiver_->ArchiveUri("gone").value());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("job 'gone'"));
  EXPECT_TRUE(fs::is_empty(tmp_ / "cache"));
  EXPECT_EQ(outputs->Open("../x", "file:///x").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ArchivedOutputsTest, EvictsLeastRecentlyUsedButNeverAFolderJustServed) {
  const std::string a = ArchiveJob("a", std::string(600, 'a'));
  const std::string b = ArchiveJob("b", std::string(600, 'b'));
  const std::string c = ArchiveJob("c", std::string(600, 'c'));
  auto outputs = Outputs(1500);  // room for two
  ASSERT_TRUE(outputs->Open("a", a).ok());
  ASSERT_TRUE(outputs->Open("b", b).ok());
  // Over the bound, but both were used just now: a response may still be reading them.
  ASSERT_TRUE(outputs->Open("c", c).ok());
  EXPECT_EQ(outputs->GetStats().evictions, 0);
  EXPECT_EQ(outputs->GetStats().entries, 3);

  clock_.Advance(2min);
  ASSERT_TRUE(outputs->Open("b", b).ok());  // b is now the most recently used of a and b
  const std::string d = ArchiveJob("d", std::string(600, 'd'));
  ASSERT_TRUE(outputs->Open("d", d).ok());
  // Over the bound: 'a' (least recent) goes, then 'c'; 'b' was used <60 s ago, 'd' is new.
  EXPECT_FALSE(fs::exists(tmp_ / "cache/a"));
  EXPECT_FALSE(fs::exists(tmp_ / "cache/c"));
  EXPECT_TRUE(fs::exists(tmp_ / "cache/b"));
  EXPECT_TRUE(fs::exists(tmp_ / "cache/d"));
  EXPECT_EQ(outputs->GetStats().evictions, 2);
  // An evicted job is extracted again on its next access.
  auto again = outputs->Open("a", a);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Slurp(*again / "stdout"), std::string(600, 'a'));
}

TEST_F(ArchivedOutputsTest, CreateEmptiesWhatAnEarlierProcessLeft) {
  Write(tmp_ / "cache/old-job/stdout", "stale");
  auto outputs = Outputs(1 << 20);
  EXPECT_FALSE(fs::exists(tmp_ / "cache/old-job"));
}

}  // namespace
}  // namespace weir::archive
