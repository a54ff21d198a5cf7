// JobService on real storage: dependencies fetched from a real S3-compatible server (s3rver) and
// from a local HTTP server through the node's dependency cache, archives written to S3 and to a
// local folder and read back by the aws CLI and tar, fetch failures that fail the job in set-up
// with initFailureDetails.txt naming the URI, and the job-directory sweep driven by a FakeClock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "archive/job_archive.h"
#include "archive/s3rver_testing.h"
#include "common/fs.h"
#include "common/ids.h"
#include "fetch/digest.h"
#include "fetch/fetcher.h"
#include "fetch/test_http_server.h"
#include "service/job_service.h"
#include "service/testing/job_service_harness.h"
#ifdef WEIR_HAVE_BLOB_S3
#include "blob/s3_blob_store.h"
#endif

namespace weir::service {
namespace {

namespace fs = std::filesystem;
using archive::testing::S3rverProcess;
using fetch::testing::Slurp;
using model::JobStatus;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr Millis kWait = 60s;

// One s3rver per test process, started on first use and stopped by pid at the end.
S3rverProcess* Server() { return archive::testing::SharedS3rver({"deps", "archives"}); }
class StopS3rver : public ::testing::Environment {
 public:
  void TearDown() override { archive::testing::StopSharedS3rver(); }
};
const auto* const kStopS3rver = ::testing::AddGlobalTestEnvironment(new StopS3rver);

class JobStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = testing::JobServiceHarness::Create("jobstorage");
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(*harness);
    root_ = harness_->root();
    stores_ = harness_->stores();
    options_ = harness_->DefaultOptions();
    options_.max_system_memory_mb = 0;  // no capacity limit: many jobs at once
    options_.max_active_jobs_per_user = 0;
    options_.sweep_interval = Millis(0);  // sweeps are called by the tests
  }

  void TearDown() override {
    if (service_) service_->Shutdown();
    service_.reset();
    harness_.reset();
  }

  fetch::FetchOptions FetchOptionsWithCache(int64_t max_bytes = 1LL << 30) {
    fetch::FetchOptions fo;
    if (Server() != nullptr) fo.s3 = Server()->Config();
    fetch::CacheOptions co;
    co.dir = root_ / "cache";
    co.max_bytes = max_bytes;
    fo.cache = co;
    return fo;
  }

  void Start(fetch::FetchOptions fo, Clock& clock = SystemClock::Instance()) {
    // These tests are about transports and the cache, with servers on 127.0.0.1 and local paths
    // in job requests: the perimeter allows both (it is tested in fetch/perimeter_test.cc and
    // tests/fetch_hardening_test.cc).
    fo.perimeter.allowed_file_roots = {"/"};
    fo.perimeter.allowed_networks = {*fetch::IpNetwork::Parse("127.0.0.0/8")};
    auto fetcher = fetch::NewFetcher(fo, clock, [](std::string_view) {
      return std::optional<std::string>();  // nothing from the environment
    });
    ASSERT_TRUE(fetcher.ok()) << fetcher.status();
    cache_ = (*fetcher)->cache();
    auto service = harness_->NewService(options_, std::move(*fetcher), clock);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = std::move(*service);
  }

  std::shared_ptr<fetch::S3Client> S3() {
    auto c = fetch::S3Client::Create(Server()->Config(), SystemClock::Instance());
    EXPECT_TRUE(c.ok()) << c.status();
    return std::shared_ptr<fetch::S3Client>(std::move(*c));
  }

  void PutS3(const std::string& bucket, const std::string& key, const std::string& data) {
    fs::path f = root_ / ("upload-" + NewUuid());
    std::ofstream(f, std::ios::binary) << data;
    auto r = S3()->PutObject(bucket, key, f);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  static model::JobRequest Request(const std::string& script) {
    model::JobRequest r;
    r.name = "storage job";
    r.user = "alice";
    r.version = "1";
    r.cluster_criterias = {{{"sched:sla"}}};
    r.command_criteria = {"type:bash"};
    r.command_arguments = {script};
    return r;
  }

  std::string Submit(model::JobRequest r) {
    Submission s;
    s.request = std::move(r);
    auto id = service_->Submit(std::move(s));
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  model::JobRecord Final(const std::string& id) {
    auto r = service_->WaitFinal(id, kWait);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : model::JobRecord{};
  }

  std::string Stdout(const std::string& id) {
    return ReadFile(exec::paths::Stdout(service_->JobDirectory(id))).value_or("<missing>");
  }
  std::string InitFailure(const std::string& id) {
    return ReadFile(exec::paths::InitFailureFile(service_->JobDirectory(id))).value_or("<missing>");
  }

  std::unique_ptr<testing::JobServiceHarness> harness_;
  fs::path root_;
  store::SqliteStores stores_;
  JobServiceOptions options_;
  std::unique_ptr<JobService> service_;
  fetch::DependencyCache* cache_ = nullptr;
};

#define REQUIRE_S3RVER() \
  if (Server() == nullptr) WEIR_MISSING_SERVICE("s3rver", archive::testing::SharedS3rverError())

// --- fetching ------------------------------------------------------------------------------------

TEST_F(JobStorageTest, JobSeesTheBytesOfAnS3Dependency) {
  REQUIRE_S3RVER();
  const std::string data = "bytes stored in s3rver\n" + std::string(100000, 'z');
  PutS3("deps", "libs/v1/data.bin", data);
  Start(FetchOptionsWithCache());
  auto req = Request("sha256sum data.bin | cut -c1-64; head -c 23 data.bin");
  req.dependencies = {"s3://deps/libs/v1/data.bin"};
  const std::string id = Submit(req);
  model::JobRecord r = Final(id);
  EXPECT_EQ(r.job.status, JobStatus::kSucceeded) << r.job.status_msg << InitFailure(id);
  EXPECT_EQ(Stdout(id), fetch::Sha256Hex(data) + "\nbytes stored in s3rver\n");
  EXPECT_EQ(cache_->Stats().misses, 1);
}

TEST_F(JobStorageTest, EntitySetupFilesConfigsAndDependenciesComeOverHttpAndS3) {
  REQUIRE_S3RVER();
  PutS3("deps", "cluster/site.xml", "<site/>\n");
  fetch::testing::StaticResource setup("export FROM_SETUP=over-http\n");
  fetch::testing::StaticResource tool(std::string(20000, 't'));
  fetch::testing::TestHttpServer http([&](const fetch::testing::TestRequest& r) {
    return r.path == "/setup.sh" ? setup.Handle(r) : tool.Handle(r);
  });
  auto cluster = *stores_.config->Get(model::Kind::kCluster, "local");
  cluster.configs = {"s3://deps/cluster/site.xml"};
  ASSERT_TRUE(stores_.config->Update(cluster).ok());
  auto command = *stores_.config->Get(model::Kind::kCommand, "bash");
  command.setup_file = http.Url("/setup.sh");
  command.dependencies = {http.Url("/tools/tool.bin")};
  ASSERT_TRUE(stores_.config->Update(command).ok());
  Start(FetchOptionsWithCache());
  const std::string id =
      Submit(Request("echo $FROM_SETUP; cat $GENIE_CLUSTER_DIR/config/site.xml; "
                     "stat -c %s $GENIE_COMMAND_DIR/dependencies/tool.bin"));
  model::JobRecord r = Final(id);
  EXPECT_EQ(r.job.status, JobStatus::kSucceeded) << r.job.status_msg << InitFailure(id);
  EXPECT_EQ(Stdout(id), "over-http\n<site/>\n20000\n");
}

#ifdef WEIR_HAVE_BLOB_S3
// An asset published to the S3 blob store renders to an s3:// URI that a job fetches.
TEST_F(JobStorageTest, BlobPublishedToS3IsFetchedByAJobFromItsUri) {
  REQUIRE_S3RVER();
  auto store = blob::NewS3BlobStore({"deps", "assets/blobs", root_ / "blob-scratch"}, S3());
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string content = "asset content published by weir\n";
  auto info = (*store)->PutBytes(content);
  ASSERT_TRUE(info.ok()) << info.status();
  const std::string uri = (*store)->Uri(info->key);
  EXPECT_EQ(uri, "s3://deps/assets/blobs/" + info->key);
  Start(FetchOptionsWithCache());
  auto req = Request("cat " + info->key);
  req.dependencies = {uri};
  const std::string id = Submit(req);
  EXPECT_EQ(Final(id).job.status, JobStatus::kSucceeded) << InitFailure(id);
  EXPECT_EQ(Stdout(id), content);
}
#endif

TEST_F(JobStorageTest, MissingS3ObjectFailsTheJobInSetUpNamingTheUri) {
  REQUIRE_S3RVER();
  Start(FetchOptionsWithCache());
  auto req = Request("echo never runs");
  req.dependencies = {"s3://deps/missing/nothing.jar"};
  const std::string id = Submit(req);
  model::JobRecord r = Final(id);
  EXPECT_EQ(r.job.status, JobStatus::kFailed);
  EXPECT_THAT(r.job.status_msg, HasSubstr("s3://deps/missing/nothing.jar"));
  const std::string details = InitFailure(id);
  EXPECT_THAT(details, HasSubstr("s3://deps/missing/nothing.jar"));
  EXPECT_THAT(details, HasSubstr("404"));
  EXPECT_THAT(details, HasSubstr("NoSuchKey"));
  EXPECT_FALSE(fs::exists(exec::paths::Stdout(service_->JobDirectory(id))));
}

// s3rver accepts any secret, so this runs against the fake S3 that verifies SigV4.
TEST_F(JobStorageTest, WrongCredentialsFailTheJobInSetUpNamingTheUri) {
  fetch::testing::FakeS3 fake("AKIDWEIR", "the-right-secret", "us-east-1");
  fake.PutObject("private", "conf/app.conf", "secret config");
  fetch::testing::TestHttpServer http(
      [&](const fetch::testing::TestRequest& r) { return fake.Handle(r); });
  fetch::FetchOptions fo;
  fo.s3.endpoint = "http://127.0.0.1:" + std::to_string(http.port());
  fo.s3.region = "us-east-1";
  fo.s3.addressing = fetch::S3Addressing::kPath;
  fo.s3.credentials = {"AKIDWEIR", "a-wrong-secret", ""};
  Start(fo);
  auto req = Request("cat app.conf");
  req.configs = {"s3://private/conf/app.conf"};
  const std::string id = Submit(req);
  model::JobRecord r = Final(id);
  EXPECT_EQ(r.job.status, JobStatus::kFailed);
  const std::string details = InitFailure(id);
  EXPECT_THAT(details, HasSubstr("s3://private/conf/app.conf"));
  EXPECT_THAT(details, HasSubstr("403"));
  EXPECT_THAT(details, HasSubstr("SignatureDoesNotMatch"));
  EXPECT_GE(fake.auth_failures(), 1);
}

TEST_F(JobStorageTest, UnknownSchemeAndUnreachableServerFailClearly) {
  const int closed = fetch::testing::ClosedPort();
  fetch::FetchOptions fo;
  fo.http.connect_timeout = 2s;
  Start(fo);
  auto req = Request("true");
  req.dependencies = {"ftp://files.example/x.jar"};
  std::string id = Submit(req);
  EXPECT_EQ(Final(id).job.status, JobStatus::kFailed);
  EXPECT_THAT(InitFailure(id), HasSubstr("unsupported scheme 'ftp'"));

  req.dependencies = {"http://127.0.0.1:" + std::to_string(closed) + "/lib/x.jar"};
  id = Submit(req);
  EXPECT_EQ(Final(id).job.status, JobStatus::kFailed);
  EXPECT_THAT(InitFailure(id), HasSubstr("/lib/x.jar"));
  EXPECT_THAT(InitFailure(id), HasSubstr("connection refused"));
}

TEST_F(JobStorageTest, FiftyConcurrentJobsDownloadASharedDependencyOnce) {
  fetch::testing::StaticResource jar(std::string(1 << 20, 'j'));
  jar.delay = 300ms;  // keep the first download in flight while the other set-ups arrive
  fetch::testing::TestHttpServer http(
      [&](const fetch::testing::TestRequest& r) { return jar.Handle(r); });
  options_.setup_threads = 8;
  Start(FetchOptionsWithCache());
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    auto req = Request("test $(stat -c %s shared.jar) = 1048576");
    req.dependencies = {http.Url("/libs/shared.jar")};
    ids.push_back(Submit(req));
  }
  for (const std::string& id : ids) {
    model::JobRecord r = Final(id);
    EXPECT_EQ(r.job.status, JobStatus::kSucceeded) << id << ": " << r.job.status_msg;
  }
  EXPECT_EQ(jar.full_bodies(), 1) << "one download for 50 jobs";
  fetch::CacheStats stats = cache_->Stats();
  EXPECT_EQ(stats.misses, 1);
  EXPECT_EQ(stats.bytes_downloaded, 1 << 20);
  EXPECT_EQ(stats.hits + stats.misses, 50);
}

TEST_F(JobStorageTest, SmallCacheBoundEvictsAndDownloadsAgain) {
  fetch::testing::StaticResource a(std::string(400000, 'a'));
  fetch::testing::StaticResource b(std::string(400000, 'b'));
  fetch::testing::StaticResource c(std::string(400000, 'c'));
  fetch::testing::TestHttpServer http([&](const fetch::testing::TestRequest& r) {
    if (r.path == "/a.bin") return a.Handle(r);
    if (r.path == "/b.bin") return b.Handle(r);
    return c.Handle(r);
  });
  Start(FetchOptionsWithCache(1000000));  // room for two of the three
  for (const std::string name : {"a", "b", "c", "a"}) {
    auto req = Request("test -s " + name + ".bin");
    req.dependencies = {http.Url("/" + name + ".bin")};
    const std::string id = Submit(req);
    EXPECT_EQ(Final(id).job.status, JobStatus::kSucceeded) << name;
  }
  fetch::CacheStats stats = cache_->Stats();
  EXPECT_GE(stats.evictions, 2);
  EXPECT_LE(stats.bytes, 1000000);
  EXPECT_EQ(a.full_bodies(), 2) << "a was evicted, so its second job downloads it again";
  EXPECT_EQ(b.full_bodies(), 1);
}

// --- archives ------------------------------------------------------------------------------------

TEST_F(JobStorageTest, ArchivesToS3AndTheAwsCliReadsIt) {
  REQUIRE_S3RVER();
  archive::ArchiverOptions ao;
  ao.location = "s3://archives/weir/jobs";
  ao.scratch_dir = root_ / "scratch";
  auto archiver = archive::JobArchiver::Create(ao, S3());
  ASSERT_TRUE(archiver.ok()) << archiver.status();
  options_.archiver = std::move(*archiver);
  fetch::testing::StaticResource dep(std::string(300000, 'd'));
  fetch::testing::TestHttpServer http(
      [&](const fetch::testing::TestRequest& r) { return dep.Handle(r); });
  Start(FetchOptionsWithCache());
  auto req = Request("echo archived output; echo err >&2");
  req.dependencies = {http.Url("/big/dep.jar")};
  const std::string id = Submit(req);
  model::JobRecord r = Final(id);
  ASSERT_EQ(r.job.status, JobStatus::kSucceeded) << r.job.status_msg;
  const std::string uri = "s3://archives/weir/jobs/" + id + ".tar.gz";
  EXPECT_EQ(r.job.archive_location, uri);
  ASSERT_TRUE(service_->WaitArchivesIdle(kWait).ok());

  const fs::path got = root_ / "from-aws.tar.gz";
  auto cp = archive::testing::RunAwsCli(*Server(), {"s3", "cp", uri, got.string()});
  ASSERT_EQ(cp.exit_code, 0) << cp.output;
  fs::create_directories(root_ / "x");
  const std::string cmd = "tar -xzf '" + got.string() + "' -C '" + (root_ / "x").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(Slurp(root_ / "x/stdout"), "archived output\n");
  EXPECT_EQ(Slurp(root_ / "x/stderr"), "err\n");
  EXPECT_TRUE(fs::exists(root_ / "x/run"));
  EXPECT_TRUE(fs::exists(root_ / "x/genie/genie.done"));
  EXPECT_FALSE(fs::exists(root_ / "x/dep.jar")) << "dependency copies are not archived";
}

TEST_F(JobStorageTest, DisableLogArchivalLeavesNoArchive) {
  archive::ArchiverOptions ao;
  ao.location = (root_ / "archives").string();
  auto archiver = archive::JobArchiver::Create(ao, nullptr);
  ASSERT_TRUE(archiver.ok());
  options_.archiver = std::move(*archiver);
  Start(fetch::FetchOptions{});
  auto req = Request("echo x");
  req.disable_log_archival = true;
  const std::string id = Submit(req);
  model::JobRecord r = Final(id);
  EXPECT_EQ(r.job.status, JobStatus::kSucceeded);
  EXPECT_FALSE(r.job.archive_location.has_value());
  ASSERT_TRUE(service_->WaitArchivesIdle(kWait).ok());
  EXPECT_FALSE(fs::exists(root_ / "archives" / (id + ".tar.gz")));
}

TEST_F(JobStorageTest, FailedSetUpIsArchivedWithItsDetails) {
  archive::ArchiverOptions ao;
  ao.location = (root_ / "archives").string();
  auto archiver = archive::JobArchiver::Create(ao, nullptr);
  ASSERT_TRUE(archiver.ok());
  options_.archiver = std::move(*archiver);
  Start(fetch::FetchOptions{});
  auto req = Request("true");
  req.dependencies = {"file:///no/such/file.jar"};
  const std::string id = Submit(req);
  model::JobRecord r = Final(id);
  EXPECT_EQ(r.job.status, JobStatus::kFailed);
  ASSERT_TRUE(r.job.archive_location.has_value());
  // The final status can be read before the archive is queued, so WaitArchivesIdle may return
  // before it is written: wait for the archive itself (renamed into place when complete).
  const fs::path tar = root_ / "archives" / (id + ".tar.gz");
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!fs::exists(tar) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(fs::exists(tar)) << "no archive of the failed set-up after " << kWait.count()
                               << " ms";
  ASSERT_TRUE(archive::ExtractTarGz(tar, root_ / "x").ok());
  EXPECT_THAT(Slurp(root_ / "x/initFailureDetails.txt"), HasSubstr("/no/such/file.jar"));
}

TEST_F(JobStorageTest, SweepRemovesArchivedDirectoriesAfterTheRetention) {
  FakeClock clock(FromEpochMillis(1'700'000'000'000));
  archive::ArchiverOptions ao;
  ao.location = (root_ / "archives").string();
  auto archiver = archive::JobArchiver::Create(ao, nullptr);
  ASSERT_TRUE(archiver.ok());
  options_.archiver = std::move(*archiver);
  options_.job_dir_retention = 1h;
  Start(fetch::FetchOptions{}, clock);
  const std::string archived = Submit(Request("echo keep me"));
  auto unarchived_req = Request("echo local only");
  unarchived_req.disable_log_archival = true;
  const std::string unarchived = Submit(unarchived_req);
  Final(archived);
  Final(unarchived);
  ASSERT_TRUE(service_->WaitArchivesIdle(kWait).ok());

  auto sweep = service_->SweepJobDirectories();
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->removed, 0) << "the retention has not passed";
  EXPECT_TRUE(fs::exists(service_->JobDirectory(archived)));

  clock.Advance(59min);
  EXPECT_EQ(service_->SweepJobDirectories()->removed, 0);
  clock.Advance(2min);
  sweep = service_->SweepJobDirectories();
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->removed, 1);
  EXPECT_FALSE(fs::exists(service_->JobDirectory(archived)));
  EXPECT_TRUE(fs::exists(root_ / "archives" / (archived + ".tar.gz")));
  EXPECT_TRUE(fs::exists(service_->JobDirectory(unarchived)))
      << "a job without an archive keeps its directory";
  EXPECT_EQ(service_->SweepJobDirectories()->removed, 0);
}

TEST_F(JobStorageTest, SweepArchivesJobsWhoseArchiveWasNeverWritten) {
  FakeClock clock(FromEpochMillis(1'700'000'000'000));
  archive::ArchiverOptions ao;
  ao.location = (root_ / "archives").string();
  auto archiver = archive::JobArchiver::Create(ao, nullptr);
  ASSERT_TRUE(archiver.ok());
  options_.archiver = std::move(*archiver);
  options_.job_dir_retention = Millis(0);
  Start(fetch::FetchOptions{}, clock);
  const std::string id = Submit(Request("echo again"));
  Final(id);
  ASSERT_TRUE(service_->WaitArchivesIdle(kWait).ok());
  // As if the server had stopped before archiving: no archive, no mark.
  fs::remove(root_ / "archives" / (id + ".tar.gz"));
  fs::remove(root_ / "job-archived" / id);

  auto sweep = service_->SweepJobDirectories();
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->queued_archives, 1);
  EXPECT_EQ(sweep->removed, 0) << "never removed before its archive exists";
  ASSERT_TRUE(service_->WaitArchivesIdle(kWait).ok());
  EXPECT_TRUE(fs::exists(root_ / "archives" / (id + ".tar.gz")));
  EXPECT_EQ(service_->SweepJobDirectories()->removed, 1);
  EXPECT_FALSE(fs::exists(service_->JobDirectory(id)));
}

}  // namespace
}  // namespace weir::service
