// The API over real storage: a finished job's output served from its archive (local folder and
// S3 via s3rver) once the job directory is removed, Range included; the operator's cache route;
// attachment names that try to hide a traversal. Real HTTP server on port 0, real JobService.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>

#include "api/admin_routes.h"
#include "api/job_routes.h"
#include "archive/archived_outputs.h"
#include "archive/s3rver_testing.h"
#include "client/http_client.h"
#include "common/fs.h"
#include "fetch/fetcher.h"
#include "service/testing/job_service_harness.h"

namespace weir::api {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using archive::testing::S3rverProcess;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// One s3rver per test process, started on first use and stopped by pid at the end.
S3rverProcess* S3rver() { return archive::testing::SharedS3rver({"archives", "deps"}); }
class StopS3rver : public ::testing::Environment {
 public:
  void TearDown() override { archive::testing::StopSharedS3rver(); }
};
const auto* const kStopS3rver = ::testing::AddGlobalTestEnvironment(new StopS3rver);

class StorageRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = service::testing::JobServiceHarness::Create("storage-routes");
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(*harness);
    root_ = harness_->root();
    stores_ = harness_->stores();
    ASSERT_TRUE(MakeDirs(root_ / "spool").ok());
    service_options_ = harness_->DefaultOptions();
    service_options_.host_name = "node-1";
    service_options_.sweep_interval = Millis(0);
    service_options_.job_dir_retention = Millis(0);
    route_options_.spool_dir = root_ / "spool";
  }

  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    if (service_) service_->Shutdown();
    service_.reset();
    harness_.reset();
  }

  std::shared_ptr<fetch::S3Client> S3() {
    auto c = fetch::S3Client::Create(S3rver()->Config(), SystemClock::Instance());
    EXPECT_TRUE(c.ok()) << c.status();
    return std::shared_ptr<fetch::S3Client>(std::move(*c));
  }

  // Archives to `location`; the output routes read archives through a cache under root_.
  void UseArchives(const std::string& location, std::shared_ptr<fetch::S3Client> s3) {
    archive::ArchiverOptions ao;
    ao.location = location;
    ao.scratch_dir = root_ / "scratch";
    auto archiver = archive::JobArchiver::Create(ao, s3);
    ASSERT_TRUE(archiver.ok()) << archiver.status();
    std::shared_ptr<const archive::JobArchiver> shared(std::move(*archiver));
    service_options_.archiver = shared;
    archive::ArchivedOutputsOptions oo;
    oo.dir = root_ / "archive-cache";
    auto outputs = archive::ArchivedOutputs::Create(oo, shared, SystemClock::Instance());
    ASSERT_TRUE(outputs.ok()) << outputs.status();
    route_options_.archived_outputs = std::move(*outputs);
  }

  void Start(std::unique_ptr<exec::Fetcher> fetcher = exec::NewLocalFileFetcher(),
             const fetch::DependencyCache* cache = nullptr) {
    auto service = harness_->NewService(service_options_, std::move(fetcher));
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = std::move(*service);
    auto router = std::make_shared<Router>();
    RegisterJobRoutes(*router, *service_, stores_.jobs, stores_.config, route_options_);
    RegisterAdminRoutes(*router, AdminRoutesOptions{cache});
    HttpServerOptions ho;
    ho.port = 0;
    ho.threads = 2;
    ho.spool_dir = root_ / "spool";
    server_ = NewHttpServer(ho, router);
    ASSERT_TRUE(server_->Start().ok());
    http_ =
        std::make_unique<client::HttpClient>("http://127.0.0.1:" + std::to_string(server_->port()));
  }

  static json::object Request(const std::string& script) {
    return json::object{{"name", "storage routes"},
                        {"user", "alice"},
                        {"version", "1"},
                        {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                        {"commandCriteria", json::array{"type:bash"}},
                        {"commandArguments", json::array{json::value(script)}}};
  }

  std::string Submit(const json::object& req) {
    auto r = http_->PostJson("/api/v3/jobs", json::serialize(req));
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 202) << r->body;
    std::string loc = r->Header("location").value_or("");
    return loc.substr(loc.rfind('/') + 1);
  }

  model::JobRecord Final(const std::string& id) {
    auto r = service_->WaitFinal(id, 30s);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : model::JobRecord{};
  }

  // Runs a job, waits for its archive, then lets the sweep remove its directory.
  std::string RunArchiveAndRemove(const std::string& script) {
    const std::string id = Submit(Request(script));
    EXPECT_EQ(Final(id).job.status, model::JobStatus::kSucceeded);
    EXPECT_TRUE(service_->WaitArchivesIdle(30s).ok());
    auto sweep = service_->SweepJobDirectories();
    EXPECT_TRUE(sweep.ok()) << sweep.status();
    EXPECT_EQ(sweep->removed, 1);
    EXPECT_FALSE(fs::exists(service_->JobDirectory(id)));
    return id;
  }

  // stdout and a Range of it, a nested file and the listing, all from the archive.
  void ExpectOutputFromArchive(const std::string& id) {
    const std::string base = "/api/v3/jobs/" + id + "/output";
    auto whole = http_->Get(base + "/stdout");
    ASSERT_TRUE(whole.ok());
    EXPECT_EQ(whole->status, 200) << whole->body;
    EXPECT_EQ(whole->body, "0123456789");
    EXPECT_EQ(whole->Header("x-weir-output-source").value_or(""), "archive");
    auto part = http_->Get(base + "/stdout", {{"Range", "bytes=2-5"}});
    ASSERT_TRUE(part.ok());
    EXPECT_EQ(part->status, 206);
    EXPECT_EQ(part->body, "2345");
    EXPECT_EQ(part->Header("content-range").value_or(""), "bytes 2-5/10");
    auto tail = http_->Get(base + "/stdout", {{"Range", "bytes=-3"}});
    EXPECT_EQ(tail->body, "789");
    EXPECT_EQ(http_->Get(base + "/genie/genie.done")->status, 200);
    auto listing = http_->Get(base);
    ASSERT_TRUE(listing.ok());
    EXPECT_EQ(listing->status, 200);
    json::value v = json::parse(listing->body);
    std::set<std::string> names;
    for (const auto& f : v.at("files").as_array()) {
      names.insert(std::string(f.at("name").as_string()));
    }
    EXPECT_TRUE(names.count("stdout") && names.count("run")) << listing->body;
    auto escape = http_->Get(base + "/..%2F..%2Fweir.db");
    EXPECT_EQ(escape->status, 400) << escape->body;
  }

  std::unique_ptr<service::testing::JobServiceHarness> harness_;
  fs::path root_;
  store::SqliteStores stores_;
  service::JobServiceOptions service_options_;
  JobRoutesOptions route_options_;
  std::unique_ptr<service::JobService> service_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(StorageRoutesTest, OutputComesFromALocalArchiveOnceTheDirectoryIsGone) {
  UseArchives("file://" + (root_ / "archives").string(), nullptr);
  Start();
  const std::string id = RunArchiveAndRemove("printf 0123456789");
  auto job = http_->Get("/api/v3/jobs/" + id);
  EXPECT_THAT(job->body,
              HasSubstr("file://" + (root_ / "archives").string() + "/" + id + ".tar.gz"));
  ExpectOutputFromArchive(id);
}

TEST_F(StorageRoutesTest, OutputComesFromAnS3ArchiveOnceTheDirectoryIsGone) {
  if (S3rver() == nullptr) WEIR_MISSING_SERVICE("s3rver", archive::testing::SharedS3rverError());
  UseArchives("s3://archives/api", S3());
  Start();
  const std::string id = RunArchiveAndRemove("printf 0123456789");
  auto job = http_->Get("/api/v3/jobs/" + id);
  EXPECT_THAT(job->body, HasSubstr("s3://archives/api/" + id + ".tar.gz"));
  ExpectOutputFromArchive(id);
}

TEST_F(StorageRoutesTest, MissingArchiveAndUnarchivedJobsAnswer404WithTheCause) {
  UseArchives((root_ / "archives").string(), nullptr);
  Start();
  const std::string id = RunArchiveAndRemove("printf 0123456789");
  fs::remove(root_ / "archives" / (id + ".tar.gz"));
  auto r = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_THAT(r->body, HasSubstr("no archive at"));

  json::object req = Request("echo x");
  req["disableLogArchival"] = true;
  const std::string local = Submit(req);
  Final(local);
  fs::remove_all(service_->JobDirectory(local));
  auto gone = http_->Get("/api/v3/jobs/" + local + "/output/stdout");
  EXPECT_EQ(gone->status, 404);
  EXPECT_THAT(gone->body, HasSubstr("not archived"));
}

TEST_F(StorageRoutesTest, CacheCountersAreVisibleToTheOperator) {
  if (S3rver() == nullptr) WEIR_MISSING_SERVICE("s3rver", archive::testing::SharedS3rverError());
  {
    fs::path f = root_ / "dep.bin";
    std::ofstream(f) << std::string(5000, 'd');
    ASSERT_TRUE(S3()->PutObject("deps", "admin/dep.bin", f).ok());
  }
  fetch::FetchOptions fo;
  fo.s3 = S3rver()->Config();
  fetch::CacheOptions co;
  co.dir = root_ / "cache";
  co.max_bytes = 1 << 20;
  fo.cache = co;
  auto fetcher = fetch::NewFetcher(fo, SystemClock::Instance(),
                                   [](std::string_view) { return std::optional<std::string>(); });
  ASSERT_TRUE(fetcher.ok()) << fetcher.status();
  const fetch::DependencyCache* cache = (*fetcher)->cache();
  Start(std::move(*fetcher), cache);
  for (int i = 0; i < 2; ++i) {
    json::object req = Request("test -s dep.bin");
    req["dependencies"] = json::array{"s3://deps/admin/dep.bin"};
    EXPECT_EQ(Final(Submit(req)).job.status, model::JobStatus::kSucceeded);
  }
  auto r = http_->Get("/api/weir/v1/admin/cache");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  json::value v = json::parse(r->body);
  EXPECT_EQ(v.at("enabled"), true);
  EXPECT_EQ(v.at("misses").to_number<int>(), 1);
  EXPECT_EQ(v.at("hits").to_number<int>(), 1);
  EXPECT_EQ(v.at("revalidations").to_number<int>(), 1);
  EXPECT_EQ(v.at("bytesDownloaded").to_number<int>(), 5000);
  EXPECT_EQ(v.at("entries").to_number<int>(), 1);
  EXPECT_EQ(v.at("bytes").to_number<int>(), 5000);
  EXPECT_EQ(v.at("maxBytes").to_number<int>(), 1 << 20);
  EXPECT_DOUBLE_EQ(v.at("hitRatio").to_number<double>(), 0.5);
}

TEST_F(StorageRoutesTest, CacheRouteWithoutACache) {
  Start();
  auto r = http_->Get("/api/weir/v1/admin/cache");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body).at("enabled"), false);
}

// Names that hide a traversal in an encoded filename* or in Windows separators land as plain
// files inside the job directory, and nothing is written outside it.
TEST_F(StorageRoutesTest, AttachmentNamesCannotHideATraversal) {
  Start();
  auto part = [](const std::string& disposition, const std::string& data) {
    return "--BND\r\nContent-Disposition: form-data; " + disposition + "\r\n\r\n" + data + "\r\n";
  };
  const std::string body =
      part("name=\"request\"", json::serialize(Request("cat evil.txt win.txt"))) +
      part("name=\"attachment\"; filename=\"x\"; filename*=UTF-8''..%2F..%2F..%2Fevil.txt", "E\n") +
      part("name=\"attachment\"; filename=\"..\\\\..\\\\win.txt\"", "W\n") + "--BND--\r\n";
  auto r = http_->Request("POST", "/api/v3/jobs", body,
                          {{"Content-Type", "multipart/form-data; boundary=BND"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 202) << r->body;
  std::string loc = r->Header("location").value_or("");
  std::string id = loc.substr(loc.rfind('/') + 1);
  EXPECT_EQ(Final(id).job.status, model::JobStatus::kSucceeded);
  EXPECT_EQ(http_->Get("/api/v3/jobs/" + id + "/output/stdout")->body, "E\nW\n");
  EXPECT_FALSE(fs::exists(root_ / "evil.txt"));
  EXPECT_FALSE(fs::exists(root_ / "jobs/evil.txt"));
  EXPECT_FALSE(fs::exists(root_ / "win.txt"));
}

}  // namespace
}  // namespace weir::api
