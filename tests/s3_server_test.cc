// S3 through the real binary: s3rver (tests/s3, started by archive/s3rver_testing.h) and the real
// `weir server` configured for it (assets.blob_backend s3, archive.location s3://bucket/prefix,
// the s3: section), driven over real HTTP and the real CLI. What lands in S3 is checked with the
// standard S3 client (the aws CLI), not with weir's own.
//
// s3rver or the aws CLI missing: WEIR_MISSING_SERVICE (a failure under WEIR_REQUIRE_SERVICES=1,
// as in CI; a skip otherwise).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "archive/s3rver_testing.h"
#include "blob/sha256.h"
#include "client/http_client.h"
#include "common/testing/required_services.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using archive::testing::RunAwsCli;
using archive::testing::S3rverProcess;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

std::string Field(const std::string& body, const char* key) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object() || !v.as_object().contains(key)) return "";
  const auto& f = v.at(key);
  return f.is_string() ? std::string(f.as_string()) : json::serialize(f);
}

class S3ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto s = S3rverProcess::Start({"blobs", "archives"});
    if (s.ok()) {
      s3rver_ = s->release();
    } else {
      s3rver_error_ = new std::string(s.status().ToString());
    }
  }
  static void TearDownTestSuite() {
    delete s3rver_;  // stops it by pid and removes its folder
    s3rver_ = nullptr;
  }

  void SetUp() override {
    if (s3rver_ == nullptr) WEIR_MISSING_SERVICE("s3rver", *s3rver_error_);
    if (archive::testing::AwsCliPath().empty()) {
      WEIR_MISSING_SERVICE("aws CLI", "no `aws` on PATH (Debian package awscli; make deps)");
    }
    const std::string config =
        "assets:\n"
        "  blob_backend: s3\n"
        "  blob_s3_bucket: blobs\n"
        "  blob_s3_prefix: e2e/blobs\n"
        "archive:\n"
        "  location: s3://archives/e2e\n"
        "  job_dir_retention_hours: 0\n"
        "  sweep_interval_s: 1\n"
        "s3:\n"
        "  endpoint: " +
        s3rver_->endpoint() +
        "\n"
        "  region: us-east-1\n"
        "  addressing: path\n"
        "  access_key_id: S3RVER\n"
        "  secret_access_key: S3RVER\n";
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", config);
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
  }

  // `aws s3 ls --recursive s3://PATH`: the listing, or "" with a test failure.
  std::string AwsList(const std::string& path) {
    auto r = RunAwsCli(*s3rver_, {"s3", "ls", "--recursive", "s3://" + path});
    // `aws s3 ls` exits 1 when nothing matches.
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.output;
    return r.exit_code == 0 ? r.output : "";
  }

  static S3rverProcess* s3rver_;
  static std::string* s3rver_error_;
  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

S3rverProcess* S3ServerTest::s3rver_ = nullptr;
std::string* S3ServerTest::s3rver_error_ = nullptr;

TEST_F(S3ServerTest, PublishedAssetBytesLiveInS3AndComeBackIdentical) {
  std::string bytes;
  for (int i = 0; i < 300000; ++i) bytes.push_back(static_cast<char>((i * 7 + i / 251) & 0xff));
  const std::string sha = blob::Sha256Hex(bytes);
  auto r = http_->Request("POST",
                          "/api/weir/v1/assets?type=bash&namespace=s3-e2e&owner=o&repo=r"
                          "&branch=main&commit=0123abcd&file=payload.bin",
                          bytes, {{"Content-Type", "application/octet-stream"}});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 201) << r->body;
  const std::string uuid = Field(r->body, "uuid");
  ASSERT_FALSE(uuid.empty()) << r->body;

  // The bytes are in the bucket, under the configured prefix, named by their hash.
  const std::string listing = AwsList("blobs/e2e/blobs/");
  EXPECT_NE(listing.find(sha), std::string::npos) << listing;
  EXPECT_NE(listing.find(std::to_string(bytes.size())), std::string::npos) << listing;

  auto content = http_->Get("/api/weir/v1/assets/" + client::UrlEncode(uuid) + "/content");
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(content->status, 200);
  EXPECT_TRUE(content->body == bytes) << "the asset came back different (" << content->body.size()
                                      << " bytes, want " << bytes.size() << ")";
  EXPECT_EQ(content->Header("x-weir-sha256").value_or(""), sha);

  // The CLI's download (SHA-256 verified) gives the same bytes.
  const fs::path out = dir_.path() / "got.bin";
  auto got = RunWeir(server_->url(), {"asset", "get", uuid, "--out", out.string()});
  ASSERT_EQ(got.exit_code, 0) << got.out << got.err;
  EXPECT_TRUE(Slurp(out) == bytes);
}

TEST_F(S3ServerTest, JobOutputIsServedFromTheS3ArchiveOnceTheFolderIsSwept) {
  auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  json::object req{{"name", "s3-archive"},
                   {"user", "tester"},
                   {"version", "1"},
                   {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                   {"commandCriteria", json::array{"type:bash"}},
                   {"commandArguments", json::array{"printf 0123456789; mkdir -p nested/dir; "
                                                    "printf deep > nested/dir/file.txt"}}};
  auto submitted = http_->PostJson("/api/v3/jobs", json::serialize(req));
  ASSERT_TRUE(submitted.ok());
  ASSERT_EQ(submitted->status, 202) << submitted->body;
  std::string loc = submitted->Header("location").value_or("");
  const std::string id = loc.substr(loc.rfind('/') + 1);
  ASSERT_FALSE(id.empty());

  const auto deadline = std::chrono::steady_clock::now() + 90s;
  std::string status;
  while (std::chrono::steady_clock::now() < deadline) {
    status = Field(http_->Get("/api/v3/jobs/" + id + "/status")->body, "status");
    if (status != "INIT" && status != "RUNNING") break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(status, "SUCCEEDED");
  auto job = http_->Get("/api/v3/jobs/" + id);
  EXPECT_NE(job->body.find("s3://archives/e2e/" + id + ".tar.gz"), std::string::npos) << job->body;

  // The archive appears in s3rver (seen by the aws CLI) ...
  std::string archived;
  while (std::chrono::steady_clock::now() < deadline) {
    archived = AwsList("archives/e2e/");
    if (archived.find(id + ".tar.gz") != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_NE(archived.find(id + ".tar.gz"), std::string::npos)
      << "the job was not archived into s3rver within 90 s: " << archived;
  // ... and the retention sweep (0 hours, every second) removes the local folder.
  const fs::path folder = server_->data_dir() / "jobs" / id;
  while (std::chrono::steady_clock::now() < deadline && fs::exists(folder)) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_FALSE(fs::exists(folder)) << "the sweep did not remove " << folder << " within 90 s";

  const std::string base = "/api/v3/jobs/" + id + "/output";
  auto stdout_file = http_->Get(base + "/stdout");
  ASSERT_TRUE(stdout_file.ok());
  EXPECT_EQ(stdout_file->status, 200) << stdout_file->body;
  EXPECT_EQ(stdout_file->body, "0123456789");
  EXPECT_EQ(stdout_file->Header("x-weir-output-source").value_or(""), "archive");
  auto nested = http_->Get(base + "/nested/dir/file.txt");
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(nested->status, 200) << nested->body;
  EXPECT_EQ(nested->body, "deep");

  auto listing = http_->Get(base);
  ASSERT_TRUE(listing.ok());
  ASSERT_EQ(listing->status, 200) << listing->body;
  EXPECT_EQ(listing->Header("x-weir-output-source").value_or(""), "archive");
  json::value v = json::parse(listing->body);
  std::set<std::string> files, dirs;
  for (const auto& f : v.at("files").as_array())
    files.insert(std::string(f.at("name").as_string()));
  for (const auto& d : v.at("directories").as_array()) {
    std::string name(d.at("name").as_string());
    if (!name.empty() && name.back() == '/') name.pop_back();  // directories end in '/'
    dirs.insert(name);
  }
  EXPECT_TRUE(files.count("stdout") && files.count("run")) << listing->body;
  EXPECT_TRUE(dirs.count("nested")) << listing->body;
}

}  // namespace
}  // namespace weir::testing
