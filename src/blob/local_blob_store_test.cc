#include "blob/local_blob_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "blob/blob_store_contract.h"

namespace weir::blob {
namespace {

INSTANTIATE_TEST_SUITE_P(
    Local, BlobStoreContractTest,
    ::testing::Values(BlobBackendFactory{
        "local",
        [](const std::filesystem::path& scratch) { return NewLocalBlobStore(scratch / "blobs"); },
        {}}),
    [](const ::testing::TestParamInfo<BlobBackendFactory>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    ByName, BlobStoreContractTest,
    ::testing::Values(BlobBackendFactory{"factory",
                                         [](const std::filesystem::path& scratch) {
                                           return NewBlobStore("local", {scratch / "b", {}});
                                         },
                                         {}}),
    [](const ::testing::TestParamInfo<BlobBackendFactory>& info) { return info.param.name; });

class LocalBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("weir-blob-local-" + NewUuid());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
};

TEST_F(LocalBlobStoreTest, UriIsAFileUriOfTheShardedPath) {
  auto store = NewLocalBlobStore(root_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto info = (*store)->PutBytes("hello");
  ASSERT_TRUE(info.ok());
  std::string uri = (*store)->Uri(info->key);
  auto path = PathFromFileUri(uri);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, root_ / info->key.substr(0, 2) / info->key);
  std::ifstream in(*path);
  std::stringstream got;
  got << in.rdbuf();
  EXPECT_EQ(got.str(), "hello");
  // Leaves nothing behind in tmp/.
  EXPECT_TRUE(std::filesystem::is_empty(root_ / "tmp"));
}

TEST_F(LocalBlobStoreTest, FileUriEscapesAndRoundTrips) {
  std::filesystem::path p = "/data dir/ü/x%y";
  EXPECT_EQ(FileUri(p), "file:///data%20dir/%C3%BC/x%25y");
  EXPECT_EQ(PathFromFileUri(FileUri(p)).value(), p);
  EXPECT_FALSE(PathFromFileUri("s3://bucket/key").ok());
  EXPECT_FALSE(PathFromFileUri("file://relative").ok());
}

TEST_F(LocalBlobStoreTest, StaleTemporaryFilesAreRemovedOnOpen) {
  ASSERT_TRUE(NewLocalBlobStore(root_).ok());
  std::ofstream(root_ / "tmp" / "crashed-put") << "partial";
  FakeClock clock(SystemClock::Instance().Now());
  ASSERT_TRUE(NewLocalBlobStore(root_, clock).ok());
  EXPECT_TRUE(std::filesystem::exists(root_ / "tmp" / "crashed-put")) << "too recent to remove";
  clock.Advance(std::chrono::hours(2));
  ASSERT_TRUE(NewLocalBlobStore(root_, clock).ok());
  EXPECT_FALSE(std::filesystem::exists(root_ / "tmp" / "crashed-put"));
}

TEST_F(LocalBlobStoreTest, StoredBlobsAreReadOnly) {
  auto store = NewLocalBlobStore(root_);
  auto info = (*store)->PutBytes("immutable");
  auto perms = std::filesystem::status(root_ / info->key.substr(0, 2) / info->key).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::owner_write, std::filesystem::perms::none);
}

TEST_F(LocalBlobStoreTest, ListShowsTheFileMtimeAndAPutOfStoredContentRefreshesIt) {
  auto store = NewLocalBlobStore(root_);
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string key = (*store)->PutBytes("old orphan")->key;
  const std::filesystem::path file = root_ / key.substr(0, 2) / key;
  // A blob written two days ago (a failed publish's leftover).
  const auto two_days_ago = SystemClock::Instance().Now() - std::chrono::hours(48);
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = ToEpochMillis(two_days_ago) / 1000;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  auto listed = (*store)->List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(ToEpochMillis((*listed)[0].modified), ToEpochMillis(two_days_ago) / 1000 * 1000);

  // A new publish of the same bytes makes the blob young again, so the orphan cleanup leaves it.
  ASSERT_TRUE((*store)->PutBytes("old orphan").ok());
  listed = (*store)->List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_GT((*listed)[0].modified, SystemClock::Instance().Now() - std::chrono::hours(1));
}

TEST(BlobFactoryTest, UnknownBackendNamesTheKnownOnes) {
  auto r = NewBlobStore("s4", {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("local"), std::string::npos) << r.status();
  EXPECT_EQ(NewBlobStore("local", {}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weir::blob
