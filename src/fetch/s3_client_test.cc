#include "fetch/s3_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "fetch/test_http_server.h"

namespace weir::fetch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::FakeS3;
using testing::Slurp;
using testing::TempDir;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

constexpr char kKey[] = "AKIDWEIRTEST";
constexpr char kSecret[] = "weir/secret+key=";
constexpr char kRegion[] = "eu-west-1";

void WriteFile(const std::filesystem::path& p, const std::string& data) {
  std::ofstream(p, std::ios::binary) << data;
}

class S3ClientTest : public ::testing::Test {
 protected:
  S3ClientTest()
      : fake_(kKey, kSecret, kRegion),
        server_([this](const TestRequest& r) { return Route(r); }),
        clock_(FromEpochMillis(1'700'000'000'000)) {}

  TestResponse Route(const TestRequest& r) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_ = r;
    }
    if (fail_part_ != 0 && r.query.find("partNumber=" + std::to_string(fail_part_)) == 0) {
      TestResponse resp;
      resp.status = 500;
      resp.body = "<Error><Code>InternalError</Code><Message>try again</Message></Error>";
      return resp;
    }
    return fake_.Handle(r);
  }

  std::unique_ptr<S3Client> Client(S3Config c = {}) {
    if (c.endpoint.empty()) c.endpoint = "http://127.0.0.1:" + std::to_string(server_.port());
    if (c.region.empty()) c.region = kRegion;
    if (c.credentials.access_key_id.empty()) c.credentials = {kKey, kSecret, ""};
    Result<std::unique_ptr<S3Client>> client = S3Client::Create(c, clock_);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  TestRequest Last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

  TempDir dir_;
  FakeS3 fake_;
  TestHttpServer server_;
  FakeClock clock_;
  std::mutex mu_;
  TestRequest last_;
  int fail_part_ = 0;
};

TEST_F(S3ClientTest, PutGetHeadDeleteRoundTrip) {
  auto s3 = Client();
  WriteFile(dir_ / "in.bin", "hello s3");
  Result<S3ObjectInfo> put = s3->PutObject("bkt", "dir/in.bin", dir_ / "in.bin", "text/plain");
  ASSERT_TRUE(put.ok()) << put.status() << "\n" << fake_.last_auth_error();
  EXPECT_EQ(fake_.Object("bkt", "dir/in.bin"), "hello s3");
  EXPECT_EQ(Last().path, "/bkt/dir/in.bin");
  EXPECT_EQ(Last().Header("x-amz-content-sha256"),  // SHA-256 of "hello s3"
            "f2ff189a4ef686231302becc266e6c8d5eee814b868d11631f7660073fc9b613");

  Result<GetOutcome> got = s3->GetObject("bkt", "dir/in.bin", dir_ / "out.bin");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(Slurp(dir_ / "out.bin"), "hello s3");
  EXPECT_EQ(got->meta.etag, put->etag);

  Result<S3ObjectInfo> head = s3->HeadObject("bkt", "dir/in.bin");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, 8);
  EXPECT_EQ(head->etag, put->etag);

  ASSERT_TRUE(s3->DeleteObject("bkt", "dir/in.bin").ok());
  EXPECT_FALSE(fake_.HasObject("bkt", "dir/in.bin"));
  Result<GetOutcome> gone = s3->GetObject("bkt", "dir/in.bin", dir_ / "gone.bin");
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(),
            "s3 GetObject 's3://bkt/dir/in.bin': HTTP 404 Not Found (NoSuchKey: The specified "
            "key does not exist.)");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "gone.bin"));
  EXPECT_EQ(fake_.auth_failures(), 0) << fake_.last_auth_error();
}

TEST_F(S3ClientTest, AuthorizationHeaderHasTheSigV4Shape) {
  auto s3 = Client();
  fake_.PutObject("bkt", "k", "v");
  ASSERT_TRUE(s3->HeadObject("bkt", "k").ok());
  TestRequest r = Last();
  EXPECT_EQ(r.Header("x-amz-date"), "20231114T221320Z");
  EXPECT_EQ(r.Header("x-amz-content-sha256"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_THAT(r.Header("authorization"),
              ::testing::MatchesRegex(
                  "AWS4-HMAC-SHA256 Credential=AKIDWEIRTEST/20231114/eu-west-1/s3/aws4_request, "
                  "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}"));
}

TEST_F(S3ClientTest, KeysWithReservedAndNonAsciiCharactersAreSignedAsSent) {
  auto s3 = Client();
  WriteFile(dir_ / "f", "x");
  for (std::string key : {"a b/c+d=e&f$g.txt", "caf\xC3\xA9/\xE1\x88\xB4.jar", "x/./y/../z~",
                          "100%/q?r#s"}) {
    ASSERT_TRUE(s3->PutObject("bkt", key, dir_ / "f").ok()) << key << ": "
                                                            << fake_.last_auth_error();
    EXPECT_TRUE(fake_.HasObject("bkt", key)) << key;
    ASSERT_TRUE(s3->GetObject("bkt", key, dir_ / "g").ok()) << key;
  }
  EXPECT_EQ(fake_.auth_failures(), 0);
}

TEST_F(S3ClientTest, ConditionalGetAnsweredNotModified) {
  auto s3 = Client();
  fake_.PutObject("bkt", "dep.jar", "jar bytes");
  Result<S3ObjectInfo> head = s3->HeadObject("bkt", "dep.jar");
  ASSERT_TRUE(head.ok());
  Result<GetOutcome> got =
      s3->GetObject("bkt", "dep.jar", dir_ / "dep.jar", Conditions{head->etag, ""});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->not_modified);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "dep.jar"));
  EXPECT_EQ(Last().Header("if-none-match"), head->etag);
  EXPECT_THAT(Last().Header("authorization"), HasSubstr("if-none-match"));
}

TEST_F(S3ClientTest, WrongSecretIsPermissionDeniedWithS3sCode) {
  S3Config c;
  c.credentials = {kKey, "not the secret", ""};
  auto s3 = Client(c);
  Result<S3ObjectInfo> head = s3->HeadObject("bkt", "k");
  EXPECT_EQ(head.status().code(), StatusCode::kPermissionDenied);
  fake_.PutObject("bkt", "k", "v");
  Result<GetOutcome> got = s3->GetObject("bkt", "k", dir_ / "k");
  EXPECT_EQ(got.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(got.status().message(),
              HasSubstr("s3 GetObject 's3://bkt/k': HTTP 403 Forbidden (SignatureDoesNotMatch"));
}

TEST_F(S3ClientTest, ListObjectsV2FollowsContinuationTokens) {
  fake_.page_size = 2;
  for (std::string k : {"logs/a", "logs/b/1", "logs/b/2", "logs/c&d", "logs/e", "other/x"}) {
    fake_.PutObject("bkt", k, k);
  }
  auto s3 = Client();
  Result<std::vector<S3ObjectInfo>> list = s3->ListObjectsV2("bkt", "logs/");
  ASSERT_TRUE(list.ok()) << list.status() << "\n" << fake_.last_auth_error();
  std::vector<std::string> keys;
  for (const S3ObjectInfo& o : *list) keys.push_back(o.key);
  EXPECT_THAT(keys, ElementsAre("logs/a", "logs/b/1", "logs/b/2", "logs/c&d", "logs/e"));
  EXPECT_EQ((*list)[3].size, 8);
  EXPECT_EQ((*list)[0].etag.front(), '"');
  EXPECT_EQ(fake_.auth_failures(), 0);
}

TEST_F(S3ClientTest, LargeFilesUploadInParts) {
  S3Config c;
  c.part_size = 5 << 20;
  c.multipart_threshold = 5 << 20;
  auto s3 = Client(c);
  std::string data;
  for (int i = 0; i < (11 << 20) / 16; ++i) data += "0123456789abcde\n";
  WriteFile(dir_ / "big", data);
  Result<S3ObjectInfo> up = s3->UploadFile("bkt", "big/file", dir_ / "big");
  ASSERT_TRUE(up.ok()) << up.status() << "\n" << fake_.last_auth_error();
  EXPECT_EQ(up->size, static_cast<int64_t>(data.size()));
  EXPECT_THAT(up->etag, HasSubstr("-3\""));
  EXPECT_EQ(fake_.Object("bkt", "big/file"), data);
  EXPECT_THAT(fake_.methods_seen(),
              ElementsAre("POST ?uploads", "PUT ?partNumber", "PUT ?partNumber",
                          "PUT ?partNumber", "POST ?uploadId"));
  EXPECT_EQ(fake_.open_uploads(), 0);
}

TEST_F(S3ClientTest, AFailedPartAbortsTheUpload) {
  S3Config c;
  c.part_size = 5 << 20;
  c.multipart_threshold = 5 << 20;
  auto s3 = Client(c);
  WriteFile(dir_ / "big", std::string(11 << 20, 'z'));
  fail_part_ = 2;
  Result<S3ObjectInfo> up = s3->UploadFile("bkt", "big/file", dir_ / "big");
  EXPECT_EQ(up.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(up.status().message(),
              HasSubstr("s3 UploadPart 's3://bkt/big/file' part 2: HTTP 500 Internal Server "
                        "Error (InternalError: try again)"));
  EXPECT_EQ(fake_.open_uploads(), 0);  // aborted
  EXPECT_EQ(fake_.methods_seen().back(), "DELETE ?uploadId");
  EXPECT_FALSE(fake_.HasObject("bkt", "big/file"));
}

TEST_F(S3ClientTest, VirtualHostAddressingPutsTheBucketInTheHost) {
  S3Config c;
  c.endpoint = "http://localhost:" + std::to_string(server_.port());
  c.addressing = S3Addressing::kVirtualHost;
  auto s3 = Client(c);
  EXPECT_EQ(s3->ObjectUrl("bkt", "a b"),
            "http://bkt.localhost:" + std::to_string(server_.port()) + "/a%20b");
  WriteFile(dir_ / "f", "virtual");
  Result<S3ObjectInfo> put = s3->PutObject("bkt", "a b", dir_ / "f");
  if (!put.ok() && put.status().code() == StatusCode::kUnavailable) {
    GTEST_SKIP() << "this libcurl does not resolve *.localhost: " << put.status();
  }
  ASSERT_TRUE(put.ok()) << put.status() << "\n" << fake_.last_auth_error();
  EXPECT_EQ(Last().Header("host"), "bkt.localhost:" + std::to_string(server_.port()));
  EXPECT_EQ(Last().path, "/a%20b");
  EXPECT_EQ(fake_.Object("bkt", "a b"), "virtual");
}

TEST_F(S3ClientTest, AddressingDefaultsFollowTheEndpoint) {
  S3Config on_aws;
  on_aws.region = "eu-west-1";
  on_aws.credentials = {kKey, kSecret, ""};
  Result<std::unique_ptr<S3Client>> aws = S3Client::Create(on_aws, clock_);
  ASSERT_TRUE(aws.ok());
  EXPECT_EQ((*aws)->ObjectUrl("bkt", "a/b c"), "https://bkt.s3.eu-west-1.amazonaws.com/a/b%20c");
  EXPECT_EQ((*aws)->ObjectUrl("my.bucket", "k"), "https://s3.eu-west-1.amazonaws.com/my.bucket/k");
  auto custom = Client();
  EXPECT_EQ(custom->ObjectUrl("bkt", "k"),
            "http://127.0.0.1:" + std::to_string(server_.port()) + "/bkt/k");
}

TEST_F(S3ClientTest, SessionTokenIsSentAndSigned) {
  S3Config c;
  c.credentials = {kKey, kSecret, "session/token=="};
  auto s3 = Client(c);
  fake_.PutObject("bkt", "k", "v");
  ASSERT_TRUE(s3->HeadObject("bkt", "k").ok()) << fake_.last_auth_error();
  EXPECT_EQ(Last().Header("x-amz-security-token"), "session/token==");
  EXPECT_THAT(Last().Header("authorization"), HasSubstr("x-amz-security-token"));
}

TEST_F(S3ClientTest, CreateRejectsBadSettings) {
  S3Config bad;
  bad.endpoint = "ftp://host";
  Result<std::unique_ptr<S3Client>> c = S3Client::Create(bad, clock_);
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("s3 endpoint 'ftp://host'"));
  S3Config small;
  small.part_size = 1 << 20;
  c = S3Client::Create(small, clock_);
  EXPECT_THAT(c.status().message(), HasSubstr("part_size"));
}

TEST(S3ConfigTest, EnvironmentFillsOnlyWhatTheConfigLeavesEmpty) {
  std::map<std::string, std::string> vars = {
      {"AWS_ACCESS_KEY_ID", "ENVKEY"},      {"AWS_SECRET_ACCESS_KEY", "envsecret"},
      {"AWS_SESSION_TOKEN", "envtoken"},    {"AWS_REGION", "ap-south-1"},
      {"AWS_ENDPOINT_URL", "http://127.0.0.1:4568"}};
  EnvLookup env = [&](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  S3Config from_env = S3ConfigWithEnvironment({}, env);
  EXPECT_EQ(from_env.credentials.access_key_id, "ENVKEY");
  EXPECT_EQ(from_env.credentials.secret_access_key, "envsecret");
  EXPECT_EQ(from_env.credentials.session_token, "envtoken");
  EXPECT_EQ(from_env.region, "ap-south-1");
  EXPECT_EQ(from_env.endpoint, "http://127.0.0.1:4568");

  S3Config explicit_config;
  explicit_config.credentials = {"MINE", "minesecret", ""};
  explicit_config.region = "us-west-2";
  S3Config merged = S3ConfigWithEnvironment(explicit_config, env);
  EXPECT_EQ(merged.credentials.access_key_id, "MINE");
  EXPECT_EQ(merged.credentials.secret_access_key, "minesecret");
  EXPECT_EQ(merged.credentials.session_token, "");  // never mixed with the environment's
  EXPECT_EQ(merged.region, "us-west-2");
}

TEST_F(S3ClientTest, S3SourceServesS3Uris) {
  auto client = std::shared_ptr<S3Client>(Client());
  S3Source source(client);
  fake_.PutObject("bkt", "libs/dep.jar", "dep");
  ASSERT_TRUE(source.Fetch("s3://bkt/libs/dep.jar", dir_ / "dep.jar").ok());
  EXPECT_EQ(Slurp(dir_ / "dep.jar"), "dep");
  Status missing = source.Fetch("s3://bkt/libs/none.jar", dir_ / "none.jar");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.message(),
            "fetch 's3://bkt/libs/none.jar': HTTP 404 Not Found (NoSuchKey: The specified key "
            "does not exist.)");
  EXPECT_EQ(source.Fetch("s3://bkt", dir_ / "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(source.Fetch("s3:///key", dir_ / "x").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weir::fetch
