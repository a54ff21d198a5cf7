// The S3 blob backend: the BlobStore contract suite against a real s3rver, plus what is
// particular to S3 (metadata, multipart, URIs, settings, wrong credentials against a fake S3 that
// checks signatures).
#include "blob/s3_blob_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "archive/s3rver_testing.h"
#include "blob/blob_store_contract.h"
#include "blob/sha256.h"
#include "fetch/test_http_server.h"

namespace weir::blob {
namespace {

namespace fs = std::filesystem;
using archive::testing::S3rverProcess;
using ::testing::HasSubstr;

// One s3rver per test process, started on first use (node takes about a second) and stopped
// by pid when the tests end.
S3rverProcess* Server() { return archive::testing::SharedS3rver({"blobs"}); }
class StopS3rver : public ::testing::Environment {
 public:
  void TearDown() override { archive::testing::StopSharedS3rver(); }
};
const auto* const kStopS3rver = ::testing::AddGlobalTestEnvironment(new StopS3rver);

std::shared_ptr<fetch::S3Client> Client(int64_t multipart = 64LL << 20) {
  fetch::S3Config c = Server()->Config();
  c.multipart_threshold = multipart;
  c.part_size = std::min<int64_t>(multipart, 16LL << 20);
  auto client = fetch::S3Client::Create(c, SystemClock::Instance());
  EXPECT_TRUE(client.ok()) << client.status();
  return std::shared_ptr<fetch::S3Client>(std::move(*client));
}

Result<std::unique_ptr<BlobStore>> MakeS3Store(const fs::path& scratch) {
  if (Server() == nullptr) {
    return FailedPrecondition(
        testenv::MissingServiceMessage("s3rver", archive::testing::SharedS3rverError()));
  }
  S3BlobStoreOptions o;
  o.bucket = "blobs";
  // A fresh prefix per test: the contract expects an empty store.
  o.prefix = "contract/" + scratch.filename().string();
  o.scratch_dir = scratch / "s3-scratch";
  return NewS3BlobStore(o, Client());
}

INSTANTIATE_TEST_SUITE_P(S3, BlobStoreContractTest,
                         ::testing::Values(BlobBackendFactory{
                             "s3", MakeS3Store,
                             []() -> std::pair<std::string, std::string> {
                               if (Server() != nullptr) return {};
                               return {"s3rver", archive::testing::SharedS3rverError()};
                             }}),
                         [](const auto& info) { return info.param.name; });

class S3BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Server() == nullptr) {
      WEIR_MISSING_SERVICE("s3rver", archive::testing::SharedS3rverError());
    }
  }
  fetch::testing::TempDir tmp_;
};

TEST_F(S3BlobStoreTest, KeepsTheHashInMetadataAndRendersS3Uris) {
  auto client = Client();
  auto store = NewS3BlobStore({"blobs", "/assets/v1/", tmp_.path()}, client);
  ASSERT_TRUE(store.ok()) << store.status();
  auto info = (*store)->PutBytes("asset bytes");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ((*store)->backend(), "s3");
  EXPECT_EQ((*store)->Uri(info->key), "s3://blobs/assets/v1/" + info->key);
  auto head = client->HeadObject("blobs", "assets/v1/" + info->key);
  ASSERT_TRUE(head.ok()) << head.status();
  bool found = false;
  for (const auto& [name, value] : head->metadata) {
    if (name == "sha256") {
      found = true;
      EXPECT_EQ(value, info->key);
    }
  }
  EXPECT_TRUE(found) << "x-amz-meta-sha256 is kept on the object";

  // The standard S3 client reads the same object at the URI jobs would fetch.
  auto cp = archive::testing::RunAwsCli(
      *Server(), {"s3", "cp", (*store)->Uri(info->key), (tmp_ / "via-aws").string()});
  ASSERT_EQ(cp.exit_code, 0) << cp.output;
  EXPECT_EQ(fetch::testing::Slurp(tmp_ / "via-aws"), "asset bytes");
}

TEST_F(S3BlobStoreTest, LargeFilesGoUpInPartsWithTheirMetadata) {
  auto client = Client(5 << 20);  // multipart above 5 MiB, parts of 5 MiB
  auto store = NewS3BlobStore({"blobs", "multipart", tmp_.path()}, client);
  ASSERT_TRUE(store.ok());
  std::mt19937 gen(3);
  std::string data((11 << 20) + 123, '\0');
  for (char& c : data) c = static_cast<char>(gen());
  fs::path src = tmp_ / "big.bin";
  std::ofstream(src, std::ios::binary) << data;
  auto info = (*store)->PutFile(src, Sha256Hex(data));
  ASSERT_TRUE(info.ok()) << info.status();
  auto stat = (*store)->Stat(info->key);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->size, static_cast<int64_t>(data.size()));
  ASSERT_TRUE((*store)->CopyTo(info->key, tmp_ / "back.bin").ok());
  EXPECT_TRUE(fetch::testing::Slurp(tmp_ / "back.bin") == data);
}

TEST_F(S3BlobStoreTest, CorruptObjectIsDetectedOnRead) {
  auto client = Client();
  auto store = NewS3BlobStore({"blobs", "corrupt", tmp_.path()}, client);
  ASSERT_TRUE(store.ok());
  const std::string key = Sha256Hex("the real content");
  fs::path other = tmp_ / "other";
  std::ofstream(other) << "tampered content";
  ASSERT_TRUE(client->PutObject("blobs", "corrupt/" + key, other).ok());
  EXPECT_EQ((*store)->CopyTo(key, tmp_ / "dest").code(), StatusCode::kInternal);
  EXPECT_FALSE(fs::exists(tmp_ / "dest"));
  EXPECT_EQ((*store)->Open(key).status().code(), StatusCode::kInternal);
}

// The orphan-blob cleanup deletes unreferenced blobs by age, so a publish that stores bytes an
// old orphan already holds must make the object young again; a recent copy is not sent twice.
// The object is tampered with after the first Put so that a second upload shows in its content.
TEST_F(S3BlobStoreTest, APutOfAnOldObjectUploadsItAgainAndOfARecentOneDoesNot) {
  auto client = Client();
  FakeClock clock(SystemClock::Instance().Now());
  S3BlobStoreOptions o{"blobs", "refresh", tmp_.path()};
  o.clock = &clock;
  auto store = NewS3BlobStore(o, client);
  ASSERT_TRUE(store.ok()) << store.status();
  auto first = (*store)->PutBytes("published twice");
  ASSERT_TRUE(first.ok()) << first.status();
  fs::path other = tmp_ / "other";
  std::ofstream(other) << "tampered content";
  ASSERT_TRUE(client->PutObject("blobs", "refresh/" + first->key, other).ok());

  // A minute later the copy is recent: left as it is (and still reads as corrupt).
  clock.Advance(std::chrono::minutes(1));
  ASSERT_TRUE((*store)->PutBytes("published twice").ok());
  EXPECT_EQ((*store)->Open(first->key).status().code(), StatusCode::kInternal)
      << "a copy younger than refresh_after was uploaded again";

  // Two hours later it is old: the same bytes go up again, and the object is whole and young.
  clock.Advance(std::chrono::hours(2));
  auto again = (*store)->PutBytes("published twice");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->key, first->key);
  auto reader = (*store)->Open(first->key);
  ASSERT_TRUE(reader.ok()) << "an old copy was not uploaded again: " << reader.status();
  auto listed = (*store)->List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_GE((*listed)[0].modified, SystemClock::Instance().Now() - std::chrono::minutes(1));
}

TEST(S3BlobStoreSettings, FromConfigValidatesAndBuilds) {
  BlobStoreConfig config;
  config.root = "/tmp";
  auto env = [](std::string_view) { return std::optional<std::string>(); };
  auto none = NewS3BlobStoreFromConfig(config, SystemClock::Instance(), env);
  EXPECT_THAT(none.status().message(), HasSubstr("'bucket'"));
  config.settings = {{"bucket", "b"}, {"typo", "x"}};
  EXPECT_THAT(NewS3BlobStoreFromConfig(config, SystemClock::Instance(), env).status().message(),
              HasSubstr("'typo'"));
  config.settings = {{"bucket", "b"}, {"addressing", "sideways"}};
  EXPECT_THAT(NewS3BlobStoreFromConfig(config, SystemClock::Instance(), env).status().message(),
              HasSubstr("'addressing'"));
  config.settings = {{"bucket", "b"}, {"part_size", "12x"}};
  EXPECT_THAT(NewS3BlobStoreFromConfig(config, SystemClock::Instance(), env).status().message(),
              HasSubstr("'part_size'"));
  config.settings = {
      {"bucket", "b"}, {"prefix", "p"}, {"endpoint", "http://127.0.0.1:9"}, {"addressing", "path"}};
  auto ok = NewS3BlobStoreFromConfig(config, SystemClock::Instance(), env);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)->Uri(std::string(64, 'a')), "s3://b/p/" + std::string(64, 'a'));
}

// Which requests a multipart upload sends is seen at the fake S3 (s3rver does not tell).
TEST(S3BlobStoreMultipart, LargeFilesAreSentInPartsAndSmallOnesInOnePut) {
  fetch::testing::FakeS3 fake("AKID", "secret", "us-east-1");
  fetch::testing::TestHttpServer http(
      [&](const fetch::testing::TestRequest& r) { return fake.Handle(r); });
  fetch::S3Config c;
  c.endpoint = "http://127.0.0.1:" + std::to_string(http.port());
  c.addressing = fetch::S3Addressing::kPath;
  c.credentials = {"AKID", "secret", ""};
  c.multipart_threshold = c.part_size = 5 << 20;
  auto client = fetch::S3Client::Create(c, SystemClock::Instance());
  ASSERT_TRUE(client.ok());
  fetch::testing::TempDir tmp;
  auto store =
      NewS3BlobStore({"b", "p", tmp.path()}, std::shared_ptr<fetch::S3Client>(std::move(*client)));
  ASSERT_TRUE(store.ok());
  std::string big((11 << 20), 'q');
  auto info = (*store)->PutBytes(big);
  ASSERT_TRUE(info.ok()) << info.status();
  std::vector<std::string> seen = fake.methods_seen();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "POST ?uploads"), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "PUT ?partNumber"), 3);
  EXPECT_TRUE(fake.Object("b", "p/" + info->key) == big);
  ASSERT_TRUE((*store)->PutBytes("small").ok());
  seen = fake.methods_seen();
  EXPECT_EQ(seen.back(), "PUT");
}

// s3rver accepts any secret, so wrong credentials are checked against the fake S3 that verifies
// SigV4 signatures.
TEST(S3BlobStoreAuth, WrongCredentialsArePermissionDenied) {
  fetch::testing::FakeS3 fake("AKIDRIGHT", "right-secret", "us-east-1");
  fetch::testing::TestHttpServer http(
      [&](const fetch::testing::TestRequest& r) { return fake.Handle(r); });
  fetch::S3Config c;
  c.endpoint = "http://127.0.0.1:" + std::to_string(http.port());
  c.region = "us-east-1";
  c.addressing = fetch::S3Addressing::kPath;
  c.credentials = {"AKIDRIGHT", "wrong-secret", ""};
  auto client = fetch::S3Client::Create(c, SystemClock::Instance());
  ASSERT_TRUE(client.ok());
  fetch::testing::TempDir tmp;
  auto store =
      NewS3BlobStore({"b", "", tmp.path()}, std::shared_ptr<fetch::S3Client>(std::move(*client)));
  ASSERT_TRUE(store.ok());
  auto put = (*store)->PutBytes("x");
  EXPECT_EQ(put.status().code(), StatusCode::kPermissionDenied) << put.status();
  EXPECT_THAT(put.status().message(), HasSubstr("403"));
}

}  // namespace
}  // namespace weir::blob
