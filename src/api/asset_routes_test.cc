// The asset API over real HTTP (port 0): publish, list, show, download, resolve, and hostile
// uploads. Also exercises the client side (assets/http_catalog.h) against the real routes.
#include "api/asset_routes.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "assets/asset_json.h"
#include "assets/http_catalog.h"
#include "blob/local_blob_store.h"
#include "blob/sha256.h"
#include "client/http_client.h"
#include "common/ids.h"
#include "common/strings.h"

namespace weir::api {
namespace {

namespace json = boost::json;

constexpr char kPublishQuery[] =
    "/api/weir/v1/assets?type=jar&namespace=etl&owner=user&repo=repo&branch=main"
    "&commit=39206ee8aa&file=etl.jar&publisher=alice";

class AssetRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("weir-asset-routes-" + NewUuid());
    std::filesystem::create_directories(dir_ / "spool");
    auto blobs = blob::NewLocalBlobStore(dir_ / "blobs");
    ASSERT_TRUE(blobs.ok()) << blobs.status();
    blobs_ = std::move(*blobs);
    auto registry = assets::AssetRegistry::Open((dir_ / "weir.db").string(), blobs_);
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = std::move(*registry);
    auto router = std::make_shared<Router>();
    AssetRouteOptions options;
    options.max_upload_bytes = 8 << 20;
    RegisterAssetRoutes(*router, registry_, options);
    HttpServerOptions server_options;
    server_options.port = 0;
    server_options.threads = 2;
    server_options.spool_dir = dir_ / "spool";
    server_ = NewHttpServer(server_options, router);
    ASSERT_TRUE(server_->Start().ok());
    client_ =
        std::make_unique<client::HttpClient>("http://127.0.0.1:" + std::to_string(server_->port()));
  }
  void TearDown() override {
    client_.reset();
    server_->Stop();
    server_.reset();
    registry_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path File(const std::string& content) {
    std::filesystem::path p = dir_ / ("upload-" + NewUuid());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

  client::Response Upload(const std::string& path, const std::string& content,
                          const client::Headers& headers = {}) {
    auto r = client_->UploadFile("POST", path, File(content), headers);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : client::Response{};
  }

  client::Response Get(const std::string& path) {
    auto r = client_->Get(path);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : client::Response{};
  }

  static std::string Message(const client::Response& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("message")) return r.body;
    return std::string(v.as_object().at("message").as_string());
  }

  // Sends raw bytes on a fresh connection; returns what the server answered before closing
  // (empty when `close_early` closes the socket without reading).
  std::string Raw(const std::string& bytes, bool close_early) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    std::string got;
    if (!close_early) {
      timeval tv{10, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char buf[4096];
      while (true) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
        if (got.find("\r\n\r\n") != std::string::npos && got.find("}") != std::string::npos) {
          break;
        }
      }
    }
    ::close(fd);
    return got;
  }

  bool SpoolIsEmptyWithin(std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::filesystem::is_empty(dir_ / "spool")) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::filesystem::path dir_;
  std::shared_ptr<blob::BlobStore> blobs_;
  std::shared_ptr<assets::AssetRegistry> registry_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<client::HttpClient> client_;
};

TEST_F(AssetRoutesTest, PublishListShowDownloadResolve) {
  std::string bytes = "PK\x03\x04 jar bytes";
  auto r = Upload(kPublishQuery, bytes, {{"X-Weir-Sha256", blob::Sha256Hex(bytes)}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto record = assets::RecordFromJsonText(r.body);
  ASSERT_TRUE(record.ok()) << record.status() << r.body;
  EXPECT_EQ(record->uuid, "dataflow.jar.etl.user.repo.main.39206ee8.1");
  EXPECT_EQ(record->size, static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(record->publisher, "alice");
  ASSERT_TRUE(r.Header("location").has_value());
  EXPECT_TRUE(EndsWith(*r.Header("location"), "/api/weir/v1/assets/" + record->uuid));

  ASSERT_EQ(Upload(kPublishQuery, "second").status, 201);

  auto list = Get("/api/weir/v1/assets?type=jar&namespace=etl&branch=main");
  ASSERT_EQ(list.status, 200) << list.body;
  json::value lv = json::parse(list.body);
  const auto& items = lv.at("assets").as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].at("build").as_int64(), 2) << "newest first";
  EXPECT_EQ(lv.at("page").at("totalElements").as_int64(), 2);
  auto page = Get("/api/weir/v1/assets?namespace=etl&page=1&size=1");
  EXPECT_EQ(json::parse(page.body).at("assets").as_array()[0].at("build").as_int64(), 1);

  auto show = Get("/api/weir/v1/assets/" + record->uuid);
  ASSERT_EQ(show.status, 200) << show.body;
  EXPECT_EQ(assets::RecordFromJsonText(show.body).value(), *record);

  auto content = Get("/api/weir/v1/assets/" + record->uuid + "/content");
  ASSERT_EQ(content.status, 200);
  EXPECT_EQ(content.body, bytes);
  EXPECT_EQ(content.Header("x-weir-sha256").value_or(""), record->sha256);

  auto resolved = Get("/api/weir/v1/assets:resolve?ref=dataflow.jar.etl@main%231");
  ASSERT_EQ(resolved.status, 200) << resolved.body;
  EXPECT_EQ(assets::RecordFromJsonText(resolved.body)->uuid, record->uuid);
  auto latest = Get("/api/weir/v1/assets:resolve?ref=%24%7Bdataflow.jar.etl%7D");
  ASSERT_EQ(latest.status, 200) << latest.body;
  EXPECT_EQ(assets::RecordFromJsonText(latest.body)->id.build, 2);

  auto missing = Get("/api/weir/v1/assets:resolve?ref=dataflow.jar.etl@main%239");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(Message(missing).find("no build 9 on branch 'main'; existing: branch 'main' "
                                  "(builds 1..2)"),
            std::string::npos)
      << missing.body;
  auto suggest = Get("/api/weir/v1/assets:suggest?ref=dataflow.jar.etx");
  ASSERT_EQ(suggest.status, 200);
  EXPECT_EQ(json::parse(suggest.body).at("suggestions").as_array()[0].as_string(),
            "namespace 'etl' (jar)");
  EXPECT_EQ(Get("/api/weir/v1/assets/dataflow.jar.etl.user.repo.main.39206ee8.7").status, 404);
}

// Three builds in pages of two: two pages (rounded up), the last holding the oldest build.
TEST_F(AssetRoutesTest, ListPagesCountAPartialLastPage) {
  for (const char* bytes : {"one", "two", "three"}) {
    ASSERT_EQ(Upload(kPublishQuery, bytes).status, 201);
  }
  auto first = Get("/api/weir/v1/assets?namespace=etl&page=0&size=2");
  ASSERT_EQ(first.status, 200) << first.body;
  json::value fv = json::parse(first.body);
  EXPECT_EQ(fv.at("page").at("totalElements").as_int64(), 3);
  EXPECT_EQ(fv.at("page").at("totalPages").as_int64(), 2);
  EXPECT_EQ(fv.at("assets").as_array().size(), 2u);
  auto last = Get("/api/weir/v1/assets?namespace=etl&page=1&size=2");
  ASSERT_EQ(last.status, 200) << last.body;
  json::value lv = json::parse(last.body);
  ASSERT_EQ(lv.at("assets").as_array().size(), 1u);
  EXPECT_EQ(lv.at("assets").as_array()[0].at("build").as_int64(), 1);
  EXPECT_EQ(lv.at("page").at("totalPages").as_int64(), 2);
}

TEST_F(AssetRoutesTest, BranchWithSlashIsReachableEncodedOrNot) {
  std::string q =
      "/api/weir/v1/assets?type=jar&namespace=etl&owner=user&repo=repo"
      "&branch=feature%2Fx&commit=39206ee8";
  auto r = Upload(q, "x");
  ASSERT_EQ(r.status, 201) << r.body;
  std::string uuid = "dataflow.jar.etl.user.repo.feature%2Fx.39206ee8.1";
  EXPECT_EQ(assets::RecordFromJsonText(r.body)->uuid, uuid);
  EXPECT_EQ(Get("/api/weir/v1/assets/" + client::UrlEncode(uuid)).status, 200);
  EXPECT_EQ(Get("/api/weir/v1/assets/" + uuid).status, 200) << "decoded branch accepted too";
  EXPECT_EQ(Get("/api/weir/v1/assets:resolve?ref=dataflow.jar.etl%40feature%2Fx").status, 200);
}

TEST_F(AssetRoutesTest, ConflictsMapToTheirStatuses) {
  ASSERT_EQ(Upload(kPublishQuery, "a").status, 201);
  auto other_repo = Upload(
      "/api/weir/v1/assets?type=jar&namespace=etl&owner=user&repo=other&branch=main"
      "&commit=39206ee8",
      "b");
  EXPECT_EQ(other_repo.status, 403) << other_repo.body;
  EXPECT_NE(Message(other_repo).find("'user/repo'"), std::string::npos) << other_repo.body;
  auto dup = Upload("/api/weir/v1/assets?uuid=dataflow.jar.etl.user.repo.main.39206ee8.1", "c");
  EXPECT_EQ(dup.status, 409) << dup.body;
  auto bad_hash = Upload(kPublishQuery, "d", {{"X-Weir-Sha256", blob::Sha256Hex("e")}});
  EXPECT_EQ(bad_hash.status, 400) << bad_hash.body;
  EXPECT_NE(Message(bad_hash).find("sha256"), std::string::npos);
  EXPECT_EQ(registry_->List({})->total, 1);
}

TEST_F(AssetRoutesTest, HostileRequestsAreRefusedClearly) {
  auto traversal = Upload(
      "/api/weir/v1/assets?type=jar&namespace=..%2F..%2Fetc&owner=user&repo=repo&branch=main"
      "&commit=39206ee8",
      "x");
  EXPECT_EQ(traversal.status, 400);
  EXPECT_TRUE(StartsWith(Message(traversal), "namespace: ")) << traversal.body;

  auto utf8 = Upload(
      "/api/weir/v1/assets?type=jar&namespace=etl&owner=user&repo=repo&branch=ma%FFin"
      "&commit=39206ee8",
      "x");
  EXPECT_EQ(utf8.status, 400);
  EXPECT_NE(Message(utf8).find("UTF-8"), std::string::npos) << utf8.body;

  auto missing = Upload("/api/weir/v1/assets?type=jar&namespace=etl", "x");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(Message(missing).find("owner, repo, branch, commit"), std::string::npos)
      << missing.body;

  auto typo = Upload(std::string(kPublishQuery) + "&namesapce=x", "x");
  EXPECT_EQ(typo.status, 400);
  EXPECT_NE(Message(typo).find("'namesapce'"), std::string::npos) << typo.body;

  EXPECT_EQ(Get("/api/weir/v1/assets/..%2F..%2Fetc%2Fpasswd").status, 400);
  EXPECT_EQ(Get("/api/weir/v1/assets/..%2F..%2Fetc%2Fpasswd/content").status, 400);
  EXPECT_EQ(Get("/api/weir/v1/assets?page=-1").status, 400);
  EXPECT_EQ(Get("/api/weir/v1/assets:resolve").status, 400);
  EXPECT_EQ(Get("/api/weir/v1/assets:resolve?ref=dataflow.file:x.sql").status, 400);
  EXPECT_EQ(registry_->List({})->total, 0);
  EXPECT_TRUE(blobs_->List("")->empty());
}

TEST_F(AssetRoutesTest, OversizedDeclaredBodyIsRefusedBeforeReading) {
  // 3 GB declared; not a byte of body is sent, so a 413 must come from the headers alone.
  std::string head = std::string("POST ") + kPublishQuery +
                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3000000000\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n";
  std::string answer = Raw(head, /*close_early=*/false);
  EXPECT_TRUE(StartsWith(answer, "HTTP/1.1 413")) << answer;
  EXPECT_EQ(registry_->List({})->total, 0);
}

TEST_F(AssetRoutesTest, LengthIsRequired) {
  std::string head = std::string("POST ") + kPublishQuery +
                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\n";
  std::string answer = Raw(head, false);
  EXPECT_TRUE(StartsWith(answer, "HTTP/1.1 411")) << answer;
}

TEST_F(AssetRoutesTest, ClientDisconnectMidUploadLeavesNothing) {
  std::string head = std::string("POST ") + kPublishQuery +
                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048576\r\n\r\n";
  Raw(head + std::string(512 * 1024, 'h'), /*close_early=*/true);
  EXPECT_TRUE(SpoolIsEmptyWithin(std::chrono::seconds(10))) << "partial upload left on disk";
  EXPECT_EQ(registry_->List({})->total, 0);
  EXPECT_TRUE(blobs_->List("")->empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "blobs" / "tmp"));
  // The server is still fine and the next publish gets build 1.
  auto r = Upload(kPublishQuery, "whole");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(assets::RecordFromJsonText(r.body)->id.build, 1);
}

TEST_F(AssetRoutesTest, ZeroByteAssetIsPublishable) {
  auto r = Upload(kPublishQuery, "");
  ASSERT_EQ(r.status, 201) << r.body;
  auto record = assets::RecordFromJsonText(r.body);
  EXPECT_EQ(record->size, 0);
  EXPECT_EQ(record->sha256, blob::Sha256Hex(""));
}

TEST_F(AssetRoutesTest, ClientHelpersRoundTrip) {
  assets::PublishRequest p;
  p.type = "python";
  p.ns = "py-etl";
  p.owner = "user";
  p.repo = "repo";
  p.branch = "feature/y";
  p.commit = "0123456789abcdef0123456789abcdef01234567";
  p.file_name = "etl.whl";
  p.dirty = true;
  std::string bytes(300000, 'w');
  auto published = assets::PublishViaHttp(*client_, p, File(bytes));
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(published->uuid, "dataflow.python.py-etl.user.repo.feature%2Fy.01234567.1");
  EXPECT_TRUE(published->dirty);

  auto got = assets::GetViaHttp(*client_, published->uuid);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, *published);

  assets::ListQuery q;
  q.ns = "py-etl";
  auto list = assets::ListViaHttp(*client_, q);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->records.size(), 1u);
  EXPECT_EQ(list->total, 1);

  std::filesystem::path dest = dir_ / "downloaded.whl";
  ASSERT_TRUE(assets::DownloadViaHttp(*client_, *published, dest).ok());
  std::ifstream in(dest, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), bytes);

  assets::AssetRecord tampered = *published;
  tampered.sha256 = blob::Sha256Hex("not it");
  std::filesystem::path dest2 = dir_ / "tampered.whl";
  EXPECT_EQ(assets::DownloadViaHttp(*client_, tampered, dest2).code(), StatusCode::kInternal);
  EXPECT_FALSE(std::filesystem::exists(dest2));

  auto catalog = assets::NewHttpCatalog(*client_);
  auto resolved = catalog->Resolve(*assets::ParseRef("dataflow.python.py-etl@feature/y"));
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->uuid, published->uuid);
  auto missing = catalog->Resolve(*assets::ParseRef("dataflow.python.py-etl@main"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto suggestions = catalog->Suggestions(*assets::ParseRef("dataflow.python.py-etl@main"));
  ASSERT_FALSE(suggestions.empty());
  EXPECT_EQ(suggestions[0], "branch 'feature/y' (build 1)");

  p.repo = "other";
  auto refused = assets::PublishViaHttp(*client_, p, File("z"));
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << refused.status();
}

}  // namespace
}  // namespace weir::api
