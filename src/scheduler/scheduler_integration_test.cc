// The scheduler over the real job service (SQLite store, local executor, real bash processes)
// and a real local blob store: a 3-step DAG end to end, its asset fetched by the job.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "blob/local_blob_store.h"
#include "blob/sha256.h"
#include "common/fs.h"
#include "scheduler/scheduler.h"
#include "service/job_service.h"
#include "service/testing/job_service_harness.h"

namespace weir::scheduler {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SchedulerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = service::testing::JobServiceHarness::Create(
        "sched-it", service::testing::HarnessConfig{.cluster_tags = {"type:local"}});
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(*harness);
    root_ = harness_->root();
    auto jobs = harness_->NewService(harness_->DefaultOptions());
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    jobs_ = std::move(*jobs);

    auto blobs = blob::NewLocalBlobStore(root_ / "blobs");
    ASSERT_TRUE(blobs.ok()) << blobs.status();
    blobs_ = std::shared_ptr<blob::BlobStore>(std::move(*blobs));

    ASSERT_NO_FATAL_FAILURE(OpenScheduler(20ms));
    ASSERT_TRUE(sched_->Recover().ok());
    ASSERT_TRUE(sched_->Start().ok());
  }

  // sched_: a scheduler on the job store's database file (like the server) whose periodic pass
  // runs every `poll`; not yet recovered or started.
  void OpenScheduler(Millis poll) {
    SchedulerOptions so;
    so.db_path = harness_->db_path();
    so.poll_interval = poll;
    auto s = Scheduler::Open(so, NewBlobStoreBundleBlobs(blobs_, root_ / "bundle-files"),
                             std::shared_ptr<StepLauncher>(NewJobServiceLauncher(*jobs_)),
                             SystemClock::Instance());
    ASSERT_TRUE(s.ok()) << s.status();
    sched_ = std::move(*s);
  }

  // A manifest of acme/warehouse on branch main, at a commit of 40 `commit` characters, for the
  // workflow `id` defined by `definition` in <id>.sch.yaml.
  static workflow::BundleManifest Manifest(const std::string& id, const std::string& environment,
                                           char commit, const std::string& definition) {
    workflow::BundleManifest m;
    m.workflow_id = id;
    m.environment = environment;
    m.owner = "acme";
    m.repo = "warehouse";
    m.branch = "main";
    m.commit = std::string(40, commit);
    m.workflow_file = id + ".sch.yaml";
    m.definition = definition;
    m.definition_sha256 = blob::Sha256Hex(definition);
    return m;
  }

  void TearDown() override {
    if (sched_) sched_->Shutdown();
    sched_.reset();
    if (jobs_) jobs_->Shutdown();
    jobs_.reset();
    harness_.reset();
  }

  Instance WaitFinal(const std::string& id, int64_t n) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto i = sched_->GetInstance(id, n);
      EXPECT_TRUE(i.ok()) << i.status();
      if (i.ok() && IsFinal(i->status)) return *i;
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "instance " << id << "#" << n << " did not finish";
    return {};
  }

  std::unique_ptr<service::testing::JobServiceHarness> harness_;
  fs::path root_;
  std::unique_ptr<service::JobService> jobs_;
  std::shared_ptr<blob::BlobStore> blobs_;
  std::unique_ptr<Scheduler> sched_;
};

TEST_F(SchedulerIntegrationTest, ThreeStepDagOfBashJobsRunsEndToEnd) {
  const std::string bytes = "asset-bytes-v1";
  auto put = blobs_->PutBytes(bytes);
  ASSERT_TRUE(put.ok()) << put.status();
  const std::string sha = put->key;
  const std::string out = (root_ / "out.txt").string();
  const std::string sql = "select 1;";
  const std::string sql_sha = blob::Sha256Hex(sql);
  const std::string definition =
      "id: etl\n"
      "params:\n  TARGET: " +
      out +
      "\n"
      "jobs:\n"
      "  extract:\n    command: [type:bash]\n    cluster: [type:local]\n"
      "    args: [\"echo extract ${INSTANCE_ID} >> ${TARGET}\"]\n"
      "  transform:\n    command: [type:bash]\n    cluster: [type:local]\n"
      "    dependencies: [\"" +
      blobs_->Uri(sha) +
      "\"]\n"
      "    args: [\"test \\\"$(cat " +
      sha + ")\\\" = " + bytes +
      " && echo transform >> ${TARGET}\"]\n"
      "  load:\n    command: [type:bash]\n    cluster: [type:local]\n"
      "    configs: [\"bundle://files/" +
      sql_sha +
      "/load.sql\"]\n"
      "    args: [\"echo load ${ENV} $(cat load.sql) >> ${TARGET}\"]\n"
      "dag:\n  - extract -> transform -> load\n";
  workflow::BundleManifest m = Manifest("etl", "prod", 'a', definition);
  m.assets = {{"dataflow.txt.data.acme.warehouse.main.aaaaaaaa.1", sha, blobs_->Uri(sha)}};
  m.files = {{"flows/load.sql", sql_sha, static_cast<int64_t>(sql.size()),
              "bundle://files/" + sql_sha + "/load.sql"}};
  DeployRequest dr;
  dr.manifest_json = workflow::CanonicalJson(m);
  dr.deployer = "alice";
  dr.files = {sql};  // uploaded with the deploy
  auto d = sched_->Deploy(dr);
  ASSERT_TRUE(d.ok()) << d.status();

  auto run = sched_->Run(d->deployed_id, {});
  ASSERT_TRUE(run.ok()) << run.status();
  Instance i = WaitFinal(d->deployed_id, run->number);
  ASSERT_EQ(i.status, InstanceStatus::kSucceeded) << i.message;
  EXPECT_EQ(ReadFile(out).value_or(""), "extract 1\ntransform\nload prod select 1;\n");
  ASSERT_EQ(i.steps.size(), 3u);
  for (const StepRun& s : i.steps) {
    auto job = jobs_->Get(s.job_id);
    ASSERT_TRUE(job.ok()) << job.status();
    EXPECT_EQ(job->job.status, model::JobStatus::kSucceeded) << s.id;
    EXPECT_EQ(job->request.grouping, d->deployed_id);
    EXPECT_EQ(job->request.grouping_instance, d->deployed_id + "#1");
    EXPECT_EQ(job->request.user, "alice");
  }
  EXPECT_THAT(i.steps[1].assets, ::testing::ElementsAre(m.assets[0].uuid));
}

TEST_F(SchedulerIntegrationTest, StopKillsTheRunningProcess) {
  const std::string definition =
      "id: slow\njobs:\n  nap:\n    command: [type:bash]\n    cluster: [type:local]\n"
      "    args: [\"sleep 60\"]\n";
  workflow::BundleManifest m = Manifest("slow", "prod", 'b', definition);
  DeployRequest dr;
  dr.manifest_json = workflow::CanonicalJson(m);
  auto d = sched_->Deploy(dr);
  ASSERT_TRUE(d.ok()) << d.status();
  auto run = sched_->Run(d->deployed_id, {});
  ASSERT_TRUE(run.ok());
  std::string job;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto i = sched_->GetInstance(d->deployed_id, 1);
    ASSERT_TRUE(i.ok());
    job = i->steps[0].job_id;
    if (!job.empty()) {
      auto r = jobs_->Get(job);
      if (r.ok() && r->job.status == model::JobStatus::kRunning) break;
    }
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(job.empty());
  auto stopped = sched_->Stop(d->deployed_id, 1, "test");
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  auto final = jobs_->WaitFinal(job, 30s);
  ASSERT_TRUE(final.ok()) << final.status();
  EXPECT_EQ(final->job.status, model::JobStatus::kKilled);
  EXPECT_EQ(sched_->GetInstance(d->deployed_id, 1)->status, InstanceStatus::kStopped);
}

TEST_F(SchedulerIntegrationTest, JobEndsAreNoticedWithoutWaitingForThePeriodicPass) {
  // A scheduler whose periodic pass is a minute apart: only the job-end watchers can move the
  // DAG along within the test's deadline.
  sched_->Shutdown();
  sched_.reset();
  ASSERT_NO_FATAL_FAILURE(OpenScheduler(std::chrono::minutes(1)));
  ASSERT_TRUE(sched_->Start().ok());
  std::string definition = "id: chain\njobs:\n";
  for (const char* step : {"a", "b", "c"}) {
    definition += std::string("  ") + step +
                  ":\n    command: [type:bash]\n    cluster: [type:local]\n    args: [\"true\"]\n";
  }
  definition += "dag:\n  - a -> b -> c\n";
  workflow::BundleManifest m = Manifest("chain", "staging", 'c', definition);
  DeployRequest dr;
  dr.manifest_json = workflow::CanonicalJson(m);
  auto d = sched_->Deploy(dr);
  ASSERT_TRUE(d.ok()) << d.status();
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(sched_->Run(d->deployed_id, {}).ok());
  Instance i = WaitFinal(d->deployed_id, 1);
  EXPECT_EQ(i.status, InstanceStatus::kSucceeded) << i.message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST_F(SchedulerIntegrationTest, BundleBlobsOverTheLocalStoreVerifyHashesAndNameFiles) {
  std::map<std::string, std::string> registry;
  auto bb = NewBlobStoreBundleBlobs(blobs_, root_ / "named",
                                    [&](std::string_view uuid) -> Result<std::string> {
                                      auto it = registry.find(std::string(uuid));
                                      if (it == registry.end()) return NotFound("no");
                                      return it->second;
                                    });
  const std::string good = blobs_->PutBytes("good bytes")->key;
  const std::string bad = blobs_->PutBytes("soon corrupted")->key;
  const std::string absent = blob::Sha256Hex("never stored");
  EXPECT_TRUE(bb->Verify(good).ok());
  EXPECT_EQ(bb->Verify(absent).code(), StatusCode::kFailedPrecondition);
  // Corrupt the stored blob behind the store's back.
  auto path = blob::PathFromFileUri(blobs_->Uri(bad));
  ASSERT_TRUE(path.ok());
  fs::permissions(*path, fs::perms::owner_write, fs::perm_options::add);
  ASSERT_TRUE(WriteFileAtomic(*path, "tampered").ok());
  Status corrupted = bb->Verify(bad);
  EXPECT_EQ(corrupted.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(corrupted.message(), ::testing::HasSubstr("corrupted"));

  const std::string uuid = "dataflow.txt.data.acme.warehouse.main.aaaaaaaa.1";
  EXPECT_THAT(bb->VerifyAsset(uuid, good).message(), ::testing::HasSubstr("not published"));
  registry[uuid] = absent;
  EXPECT_THAT(bb->VerifyAsset(uuid, good).message(), ::testing::HasSubstr("registered with"));
  registry[uuid] = good;
  EXPECT_TRUE(bb->VerifyAsset(uuid, good).ok());

  auto uri = bb->FileUri(good, "my%20file.sql");
  ASSERT_TRUE(uri.ok()) << uri.status();
  auto named = blob::PathFromFileUri(*uri);
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->filename(), "my file.sql");
  EXPECT_EQ(ReadFile(*named).value_or(""), "good bytes");
  EXPECT_EQ(bb->FileUri(good, "my%20file.sql").value_or(""), *uri);  // idempotent
  EXPECT_EQ(bb->FileUri(good, "..").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bb->FileUri(absent, "x").status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace weir::scheduler
