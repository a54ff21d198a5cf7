// The leadership tasks (database cleanup, user metrics) on a Node over an SQLite store with a
// FakeClock: only the leader runs them, and what each pass changes is checked in the store, the
// archive folder and the gauges.
#include "cluster/leader_tasks.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "archive/job_archive.h"
#include "blob/local_blob_store.h"
#include "metrics/metrics.h"
#include "model/job.h"
#include "store/asset_store.h"

namespace weir::cluster {
namespace {

namespace fs = std::filesystem;
using model::JobStatus;

constexpr int64_t kDay = 24LL * 3600 * 1000;

class LeaderTasksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "weir-leader-tasks-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "archives");
    auto s = store::OpenSqlite((dir_ / "weir.db").string(), clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    stores_ = *s;
    archive::ArchiverOptions ao;
    ao.location = "file://" + (dir_ / "archives").string();
    auto a = archive::JobArchiver::Create(ao, nullptr);
    ASSERT_TRUE(a.ok()) << a.status();
    archiver_ = std::move(*a);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<Node> StartNode(const std::string& id, bool leads) {
    ClusterOptions o;
    o.node_id = id;
    o.background = false;
    o.leader_static = leads;
    auto n = Node::Start(o, stores_.nodes, stores_.jobs, {}, {}, clock_);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? std::move(*n) : nullptr;
  }

  // A job of `user` in `status`; a final one finished `finished_days_ago` days ago, with an
  // archive file at its archive_location when `archived`.
  void PutJob(const std::string& id, JobStatus status, int64_t finished_days_ago,
              bool archived = true, const std::string& user = "alice",
              std::optional<int> memory = std::nullopt) {
    model::JobRecord r;
    r.id = id;
    r.created = r.updated = clock_.Now() - Millis((finished_days_ago + 1) * kDay);
    r.request.id = id;
    r.request.name = id;
    r.request.user = user;
    r.request.version = "1";
    r.job.status = status;
    r.execution.host_name = "a";
    r.execution.memory = memory;
    if (!model::IsActive(status)) {
      r.job.finished = clock_.Now() - Millis(finished_days_ago * kDay);
      auto uri = archiver_->ArchiveUri(id);
      ASSERT_TRUE(uri.ok()) << uri.status();
      r.job.archive_location = *uri;
      if (archived) std::ofstream(ArchivePath(id)) << "tar.gz of " << id;
    }
    ASSERT_TRUE(stores_.jobs->CreateJob(r).ok()) << id;
  }
  fs::path ArchivePath(const std::string& id) { return dir_ / "archives" / (id + ".tar.gz"); }
  bool Exists(const std::string& id) { return stores_.jobs->GetJob(id).ok(); }

  ArchiveRemover Remover() {
    return [this](const model::JobRecord& r) { return archiver_->RemoveJobArchive(r); };
  }
  LeaderTask Cleanup(int64_t days, int batch, ArchiveRemover remover = {}) {
    CleanupOptions o;
    o.job_retention_days = days;
    o.batch_size = batch;
    return DatabaseCleanupTask(o, stores_.jobs, remover ? remover : Remover(), clock_);
  }
  static std::map<std::string, int64_t> Counters(const Node& n, const std::string& task) {
    for (const TaskView& t : n.Tasks()) {
      if (t.name == task) return t.counters;
    }
    ADD_FAILURE() << "no task " << task;
    return {};
  }

  fs::path dir_;
  FakeClock clock_{FromEpochMillis(1'800'000'000'000)};
  store::SqliteStores stores_;
  std::unique_ptr<archive::JobArchiver> archiver_;
};

TEST_F(LeaderTasksTest, CleanupDeletesOldFinishedJobsInBatchesWithTheirArchives) {
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  for (const char* id : {"old1", "old2", "old3", "old4"}) PutJob(id, JobStatus::kSucceeded, 91);
  PutJob("old-failed", JobStatus::kFailed, 200);
  PutJob("old-no-archive", JobStatus::kKilled, 95, /*archived=*/false);
  PutJob("recent", JobStatus::kSucceeded, 89);
  PutJob("running", JobStatus::kRunning, 400);  // created long ago, still running
  PutJob("init", JobStatus::kInit, 400);
  node->AddLeaderTask(Cleanup(90, 2));

  Result<bool> ran = node->RunLeaderTask(kTaskDatabaseCleanup);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_TRUE(*ran);
  for (const char* id : {"old1", "old2", "old3", "old4", "old-failed", "old-no-archive"}) {
    EXPECT_FALSE(Exists(id)) << id;
    EXPECT_FALSE(fs::exists(ArchivePath(id))) << id;
  }
  for (const char* id : {"recent", "running", "init"}) EXPECT_TRUE(Exists(id)) << id;
  EXPECT_TRUE(fs::exists(ArchivePath("recent")));
  auto c = Counters(*node, kTaskDatabaseCleanup);
  EXPECT_EQ(c["jobsDeleted"], 6);
  EXPECT_EQ(c["batches"], 4);  // 2 + 2 + 2 + an empty one that ends the pass
  EXPECT_EQ(c["archivesDeleted"], 5);
  EXPECT_EQ(c["archiveErrors"], 0);

  // A day later the once-recent job is past the retention too.
  clock_.Advance(Millis(2 * kDay));
  ASSERT_TRUE(node->RunLeaderTask(kTaskDatabaseCleanup).ok());
  EXPECT_FALSE(Exists("recent"));
  EXPECT_FALSE(fs::exists(ArchivePath("recent")));
  EXPECT_TRUE(Exists("running"));
  EXPECT_EQ(Counters(*node, kTaskDatabaseCleanup)["jobsDeleted"], 7);
  for (const TaskView& t : node->Tasks()) {
    if (t.name != kTaskDatabaseCleanup) continue;
    EXPECT_TRUE(t.leader_only);
    EXPECT_EQ(t.runs, 2);
    EXPECT_EQ(t.last_run, clock_.Now());
  }
}

TEST_F(LeaderTasksTest, OnlyTheLeaderCleansUp) {
  auto follower = StartNode("b", false);
  ASSERT_TRUE(follower);
  PutJob("old", JobStatus::kSucceeded, 100);
  follower->AddLeaderTask(Cleanup(90, 10));
  Result<bool> ran = follower->RunLeaderTask(kTaskDatabaseCleanup);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_FALSE(*ran);
  EXPECT_TRUE(Exists("old"));
  EXPECT_TRUE(fs::exists(ArchivePath("old")));
  EXPECT_EQ(Counters(*follower, kTaskDatabaseCleanup)["jobsDeleted"], 0);
  EXPECT_EQ(follower->RunLeaderTask("no-such-task").status().code(), StatusCode::kNotFound);
}

TEST_F(LeaderTasksTest, RetentionZeroKeepsEveryJob) {
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  PutJob("ancient", JobStatus::kSucceeded, 5000);
  node->AddLeaderTask(Cleanup(0, 10));
  ASSERT_TRUE(node->RunLeaderTask(kTaskDatabaseCleanup).ok());
  EXPECT_TRUE(Exists("ancient"));
  EXPECT_TRUE(fs::exists(ArchivePath("ancient")));
}

TEST_F(LeaderTasksTest, AnArchiveThatCannotBeRemovedIsCountedAndTheCleanupGoesOn) {
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  PutJob("x", JobStatus::kSucceeded, 100);
  PutJob("y", JobStatus::kSucceeded, 100);
  node->AddLeaderTask(Cleanup(90, 10, [](const model::JobRecord& r) -> Result<bool> {
    if (r.id == "x") return Unavailable("s3: down");
    return true;
  }));
  ASSERT_TRUE(node->RunLeaderTask(kTaskDatabaseCleanup).ok());
  EXPECT_FALSE(Exists("x"));
  EXPECT_FALSE(Exists("y"));
  auto c = Counters(*node, kTaskDatabaseCleanup);
  EXPECT_EQ(c["archiveErrors"], 1);
  EXPECT_EQ(c["archivesDeleted"], 1);
}

TEST_F(LeaderTasksTest, ALeaderThatLosesItsLeaseStopsBetweenBatches) {
  ClusterOptions o;
  o.node_id = "a";
  o.background = false;
  o.leader_mode = "database";
  o.lease_ttl = Millis(15000);
  auto n = Node::Start(o, stores_.nodes, stores_.jobs, {}, {}, clock_);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_TRUE((*n)->IsLeader());
  for (const char* id : {"j1", "j2", "j3", "j4"}) PutJob(id, JobStatus::kSucceeded, 100);
  // The node pauses past its lease while removing the first batch's archives.
  (*n)->AddLeaderTask(Cleanup(90, 2, [this](const model::JobRecord&) -> Result<bool> {
    clock_.Advance(Millis(20000));
    return false;
  }));
  ASSERT_TRUE((*n)->RunLeaderTask(kTaskDatabaseCleanup).ok());
  EXPECT_FALSE(Exists("j1"));
  EXPECT_FALSE(Exists("j2"));
  EXPECT_TRUE(Exists("j3"));
  EXPECT_TRUE(Exists("j4"));
  EXPECT_EQ(Counters(**n, kTaskDatabaseCleanup)["batches"], 1);
}

// ---- orphan blob cleanup ---------------------------------------------------------------------

// Forwards to a real store; runs `after_delete` after each Delete and fails the Deletes of
// `undeletable`.
class HookedBlobStore final : public blob::BlobStore {
 public:
  explicit HookedBlobStore(std::shared_ptr<blob::BlobStore> inner) : inner_(std::move(inner)) {}
  std::string_view backend() const override { return inner_->backend(); }
  Result<blob::BlobInfo> PutFile(const fs::path& source,
                                 std::optional<std::string> expected) override {
    return inner_->PutFile(source, std::move(expected));
  }
  Result<blob::BlobInfo> PutStream(std::istream& in, std::optional<std::string> expected) override {
    return inner_->PutStream(in, std::move(expected));
  }
  Result<blob::BlobInfo> Stat(std::string_view key) override { return inner_->Stat(key); }
  Result<std::unique_ptr<blob::BlobReader>> Open(std::string_view key) override {
    return inner_->Open(key);
  }
  Status CopyTo(std::string_view key, const fs::path& dest) override {
    return inner_->CopyTo(key, dest);
  }
  Result<std::vector<blob::ListedBlob>> List(std::string_view prefix, size_t limit,
                                             std::string_view start_after) override {
    return inner_->List(prefix, limit, start_after);
  }
  Status Delete(std::string_view key) override {
    if (undeletable.count(std::string(key))) return Internal("disk says no");
    Status s = inner_->Delete(key);
    if (after_delete) after_delete();
    return s;
  }
  std::string Uri(std::string_view key) const override { return inner_->Uri(key); }

  std::function<void()> after_delete;
  std::set<std::string> undeletable;

 private:
  std::shared_ptr<blob::BlobStore> inner_;
};

class OrphanBlobsTest : public LeaderTasksTest {
 protected:
  void SetUp() override {
    LeaderTasksTest::SetUp();
    auto b = blob::NewLocalBlobStore(dir_ / "blobs");
    ASSERT_TRUE(b.ok()) << b.status();
    local_ = std::shared_ptr<blob::BlobStore>(std::move(*b));
    blobs_ = std::make_shared<HookedBlobStore>(local_);
    // Blob files carry real times: the fake clock starts at the real now.
    clock_.Set(SystemClock::Instance().Now());
  }

  // Stores `content` as a blob last written `hours_ago` hours before the fake clock's now.
  std::string PutBlob(const std::string& content, int64_t hours_ago) {
    auto info = local_->PutBytes(content);
    EXPECT_TRUE(info.ok()) << info.status();
    if (!info.ok()) return "";
    const fs::path file = dir_ / "blobs" / info->key.substr(0, 2) / info->key;
    const int64_t ms = ToEpochMillis(clock_.Now()) - hours_ago * 3600 * 1000;
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = ms / 1000;
    times[0].tv_nsec = times[1].tv_nsec = (ms % 1000) * 1000000;
    EXPECT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
    return info->key;
  }
  bool Stored(const std::string& key) { return local_->Stat(key).ok(); }

  // Publishes an asset version whose bytes are the blob `sha256`.
  void PublishAsset(const std::string& ns, const std::string& sha256) {
    store::AssetVersionRow row;
    row.type = "jar";
    row.ns = ns;
    row.owner = "acme";
    row.repo = "warehouse";
    row.branch = "main";
    row.commit = "39206ee8";
    row.sha256 = sha256;
    row.size = 1;
    row.file_name = ns + ".jar";
    row.extension = "jar";
    row.publisher = "alice";
    auto r = stores_.assets->PublishVersion(row, [&](const std::optional<store::AssetNamespaceRow>&,
                                                     store::AssetVersionRow& v) {
      v.uuid = "dataflow.jar." + ns + ".acme.warehouse.main.39206ee8." + std::to_string(v.build);
      v.created = clock_.Now();
      return Status::Ok();
    });
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // The server's two sources: the asset store's rows and (standing in for the scheduler's
  // stored versions) the bundle blobs in `bundle_keys_`.
  LeaderTask Task(int64_t grace_hours, size_t page_size = 1000) {
    OrphanBlobOptions o;
    o.grace_hours = grace_hours;
    o.page_size = page_size;
    std::vector<BlobReferences> refs = {
        {"asset versions", [assets = stores_.assets] { return assets->ReferencedBlobs(); }},
        {"workflow bundles",
         [this]() -> Result<std::vector<std::string>> {
           if (!bundles_error_.ok()) return bundles_error_;
           return bundle_keys_;
         }},
    };
    return OrphanBlobCleanupTask(o, blobs_, std::move(refs), clock_);
  }
  static const TaskView* View(const Node& n, const std::string& task,
                              std::vector<TaskView>& views) {
    views = n.Tasks();
    for (const TaskView& t : views) {
      if (t.name == task) return &t;
    }
    return nullptr;
  }

  std::shared_ptr<blob::BlobStore> local_;
  std::shared_ptr<HookedBlobStore> blobs_;
  std::vector<std::string> bundle_keys_;
  Status bundles_error_;
};

TEST_F(OrphanBlobsTest, OldUnreferencedBlobsAreDeletedAndReferencedOrYoungOnesKept) {
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  const std::string orphan = PutBlob("failed publish", 48);
  const std::string young = PutBlob("publish in progress", 2);
  const std::string asset = PutBlob("published jar", 24 * 300);
  const std::string bundle_file = PutBlob("select 1; -- deployed", 24 * 300);
  PublishAsset("etl", asset);
  bundle_keys_ = {bundle_file, std::string(64, 'e')};  // a bundle may name a blob not here
  node->AddLeaderTask(Task(24));

  Result<bool> ran = node->RunLeaderTask(kTaskOrphanBlobCleanup);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_TRUE(*ran);
  EXPECT_FALSE(Stored(orphan)) << "an unreferenced blob 48 hours old is past the 24 hour grace";
  EXPECT_TRUE(Stored(young)) << "a blob younger than the grace period may be a publish going on";
  EXPECT_TRUE(Stored(asset)) << "an asset version's blob is referenced";
  EXPECT_TRUE(Stored(bundle_file)) << "a deployed bundle's file is referenced";
  auto c = Counters(*node, kTaskOrphanBlobCleanup);
  EXPECT_EQ(c["blobsDeleted"], 1);
  EXPECT_EQ(c["bytesFreed"], static_cast<int64_t>(std::string("failed publish").size()));
  EXPECT_EQ(c["blobsListed"], 4);
  EXPECT_EQ(c["blobsReferenced"], 3);
  EXPECT_EQ(c["deleteErrors"], 0);

  // A day later the young blob is past the grace period too; the referenced ones stay.
  clock_.Advance(std::chrono::hours(23));
  ASSERT_TRUE(node->RunLeaderTask(kTaskOrphanBlobCleanup).ok());
  EXPECT_FALSE(Stored(young));
  EXPECT_TRUE(Stored(asset));
  EXPECT_TRUE(Stored(bundle_file));
  c = Counters(*node, kTaskOrphanBlobCleanup);
  EXPECT_EQ(c["blobsDeleted"], 2);
  EXPECT_EQ(c["blobsListed"], 3);
}

TEST_F(OrphanBlobsTest, OnlyTheLeaderDeletesBlobs) {
  auto follower = StartNode("b", false);
  ASSERT_TRUE(follower);
  const std::string orphan = PutBlob("failed publish", 48);
  follower->AddLeaderTask(Task(24));
  Result<bool> ran = follower->RunLeaderTask(kTaskOrphanBlobCleanup);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_FALSE(*ran);
  EXPECT_TRUE(Stored(orphan));
  EXPECT_EQ(Counters(*follower, kTaskOrphanBlobCleanup)["blobsDeleted"], 0);
}

TEST_F(OrphanBlobsTest, GraceZeroDeletesNoBlob) {
  auto node = StartNode("a", true);
  const std::string orphan = PutBlob("failed publish", 24 * 1000);
  node->AddLeaderTask(Task(0));
  ASSERT_TRUE(node->RunLeaderTask(kTaskOrphanBlobCleanup).ok());
  EXPECT_TRUE(Stored(orphan));
  std::vector<TaskView> views;
  const TaskView* t = View(*node, kTaskOrphanBlobCleanup, views);
  ASSERT_NE(t, nullptr);
  bool shown = false;
  for (const auto& [name, value] : t->settings) {
    shown = shown || (name == "cleanup.orphan_blob_grace_hours" && value == "0 (delete no blob)");
  }
  EXPECT_TRUE(shown) << "admin/tasks says that no blob is deleted";
}

TEST_F(OrphanBlobsTest, AdminTasksShowEachCleanupsSettingsInOrder) {
  using Settings = std::vector<std::pair<std::string, std::string>>;
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  node->AddLeaderTask(Cleanup(0, 250));
  node->AddLeaderTask(Task(36));
  std::vector<TaskView> views;
  const TaskView* cleanup = View(*node, kTaskDatabaseCleanup, views);
  ASSERT_NE(cleanup, nullptr);
  EXPECT_EQ(cleanup->settings, (Settings{{"cleanup.job_retention_days", "0 (keep every job)"},
                                         {"cleanup.batch_size", "250"},
                                         {"cleanup.interval_minutes", "60"}}));
  const TaskView* orphans = View(*node, kTaskOrphanBlobCleanup, views);
  ASSERT_NE(orphans, nullptr);
  EXPECT_EQ(orphans->settings, (Settings{{"cleanup.orphan_blob_grace_hours", "36"},
                                         {"cleanup.interval_minutes", "60"},
                                         {"blob backend", "local"}}));
}

TEST_F(OrphanBlobsTest, EveryPageOfTheListingIsSwept) {
  auto node = StartNode("a", true);
  std::vector<std::string> orphans;
  for (int i = 0; i < 7; ++i) orphans.push_back(PutBlob("orphan " + std::to_string(i), 48));
  const std::string asset = PutBlob("published jar", 48);
  PublishAsset("etl", asset);
  node->AddLeaderTask(Task(24, /*page_size=*/3));
  ASSERT_TRUE(node->RunLeaderTask(kTaskOrphanBlobCleanup).ok());
  for (const std::string& k : orphans) EXPECT_FALSE(Stored(k)) << k;
  EXPECT_TRUE(Stored(asset));
  EXPECT_EQ(Counters(*node, kTaskOrphanBlobCleanup)["blobsListed"], 8);
  EXPECT_EQ(Counters(*node, kTaskOrphanBlobCleanup)["blobsDeleted"], 7);
}

TEST_F(OrphanBlobsTest, AReferenceSourceThatFailsDeletesNothing) {
  auto node = StartNode("a", true);
  const std::string orphan = PutBlob("failed publish", 48);
  bundles_error_ = Unavailable("database locked");
  node->AddLeaderTask(Task(24));
  Result<bool> ran = node->RunLeaderTask(kTaskOrphanBlobCleanup);
  EXPECT_FALSE(ran.ok());
  EXPECT_NE(ran.status().message().find("workflow bundles"), std::string::npos) << ran.status();
  EXPECT_TRUE(Stored(orphan)) << "without the whole reference set nothing may be deleted";
  std::vector<TaskView> views;
  const TaskView* t = View(*node, kTaskOrphanBlobCleanup, views);
  ASSERT_NE(t, nullptr);
  EXPECT_NE(t->last_error.find("database locked"), std::string::npos) << t->last_error;
}

TEST_F(OrphanBlobsTest, ABlobThatCannotBeDeletedIsCountedAndTheOthersGo) {
  auto node = StartNode("a", true);
  const std::string stuck = PutBlob("stuck orphan", 48);
  const std::string other = PutBlob("other orphan", 48);
  blobs_->undeletable.insert(stuck);
  node->AddLeaderTask(Task(24));
  Result<bool> ran = node->RunLeaderTask(kTaskOrphanBlobCleanup);
  EXPECT_FALSE(ran.ok());
  EXPECT_TRUE(Stored(stuck));
  EXPECT_FALSE(Stored(other));
  auto c = Counters(*node, kTaskOrphanBlobCleanup);
  EXPECT_EQ(c["deleteErrors"], 1);
  EXPECT_EQ(c["blobsDeleted"], 1);
  std::vector<TaskView> views;
  const TaskView* t = View(*node, kTaskOrphanBlobCleanup, views);
  ASSERT_NE(t, nullptr);
  EXPECT_NE(t->last_error.find(stuck), std::string::npos) << t->last_error;
}

TEST_F(OrphanBlobsTest, ALeaderThatLosesItsLeaseStopsBetweenDeletions) {
  ClusterOptions o;
  o.node_id = "a";
  o.background = false;
  o.leader_mode = "database";
  o.lease_ttl = Millis(15000);
  auto n = Node::Start(o, stores_.nodes, stores_.jobs, {}, {}, clock_);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_TRUE((*n)->IsLeader());
  for (int i = 0; i < 3; ++i) PutBlob("orphan " + std::to_string(i), 48);
  // The node pauses past its lease while deleting the first blob.
  blobs_->after_delete = [this] { clock_.Advance(Millis(20000)); };
  (*n)->AddLeaderTask(Task(24));
  ASSERT_TRUE((*n)->RunLeaderTask(kTaskOrphanBlobCleanup).ok());
  EXPECT_EQ(local_->List("")->size(), 2u);
  EXPECT_EQ(Counters(**n, kTaskOrphanBlobCleanup)["blobsDeleted"], 1);
}

TEST_F(OrphanBlobsTest, ABlobStoredAgainSinceTheListingIsKept) {
  auto node = StartNode("a", true);
  std::map<std::string, std::string> content;  // key → bytes, in the order the pass goes
  for (const char* c : {"orphan a", "orphan b"}) content[PutBlob(c, 48)] = c;
  const std::string first = content.begin()->first;
  const std::string again = std::next(content.begin())->first;
  // While the first orphan is deleted, a publish stores the second one's bytes again (its
  // version row is not committed yet): the blob is young now and must stay.
  bool stored_again = false;
  blobs_->after_delete = [&] {
    if (stored_again) return;
    stored_again = true;
    ASSERT_TRUE(local_->PutBytes(content[again]).ok());
  };
  node->AddLeaderTask(Task(24));
  ASSERT_TRUE(node->RunLeaderTask(kTaskOrphanBlobCleanup).ok());
  EXPECT_FALSE(Stored(first));
  EXPECT_TRUE(Stored(again));
}

// ---- user metrics ------------------------------------------------------------------------------

class UserMetricsTest : public LeaderTasksTest {
 protected:
  LeaderTask Task(int max_series) {
    UserMetricsOptions o;
    o.max_series = max_series;
    return UserMetricsTask(o, stores_.jobs, jobs_gauge_, memory_gauge_);
  }
  // user → (active jobs, memory bytes) as the gauges show them.
  std::map<std::string, std::pair<double, double>> Shown() {
    std::map<std::string, std::pair<double, double>> out;
    jobs_gauge_.ForEach([&](const std::vector<std::string>& l, const metrics::Gauge& g) {
      out[l[0]].first = g.Value();
    });
    memory_gauge_.ForEach([&](const std::vector<std::string>& l, const metrics::Gauge& g) {
      out[l[0]].second = g.Value();
    });
    return out;
  }
  void Finish(const std::string& id) {
    model::JobRecord r = *stores_.jobs->GetJob(id);
    r.job.status = JobStatus::kSucceeded;
    r.job.finished = clock_.Now();
    ASSERT_TRUE(stores_.jobs->UpdateJob(r).ok());
  }

  metrics::Registry registry_;
  metrics::GaugeFamily& jobs_gauge_ = registry_.AddGauge("t_user_jobs", "test", {"user"});
  metrics::GaugeFamily& memory_gauge_ = registry_.AddGauge("t_user_memory", "test", {"user"});
};

constexpr double kMiB = 1024.0 * 1024.0;

TEST_F(UserMetricsTest, CountsActiveJobsAndMemoryPerUserAcrossNodes) {
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  PutJob("a1", JobStatus::kRunning, 0, true, "alice", 512);
  PutJob("a2", JobStatus::kInit, 0, true, "alice", 256);
  PutJob("a3", JobStatus::kSucceeded, 0, true, "alice", 4096);  // finished: not counted
  PutJob("b1", JobStatus::kRunning, 0, true, "bob");            // no memory asked
  node->AddLeaderTask(Task(10));
  ASSERT_TRUE(*node->RunLeaderTask(kTaskUserMetrics));
  using P = std::pair<double, double>;
  EXPECT_EQ(Shown(), (std::map<std::string, P>{{"alice", P(2, 768 * kMiB)}, {"bob", P(1, 0)}}));
  auto c = Counters(*node, kTaskUserMetrics);
  EXPECT_EQ(c["users"], 2);
  EXPECT_EQ(c["activeJobs"], 3);

  // bob's job ends: his series goes; the counters show the last pass, not a sum.
  Finish("b1");
  ASSERT_TRUE(*node->RunLeaderTask(kTaskUserMetrics));
  EXPECT_EQ(Shown(), (std::map<std::string, P>{{"alice", P(2, 768 * kMiB)}}));
  c = Counters(*node, kTaskUserMetrics);
  EXPECT_EQ(c["users"], 1);
  EXPECT_EQ(c["activeJobs"], 2);
}

TEST_F(UserMetricsTest, UsersPastTheSeriesLimitAreSummedUnderOther) {
  auto node = StartNode("a", true);
  ASSERT_TRUE(node);
  PutJob("c1", JobStatus::kRunning, 0, true, "carol", 100);
  PutJob("c2", JobStatus::kRunning, 0, true, "carol", 100);
  PutJob("c3", JobStatus::kRunning, 0, true, "carol", 100);
  PutJob("d1", JobStatus::kRunning, 0, true, "dave", 10);
  PutJob("d2", JobStatus::kRunning, 0, true, "dave", 10);
  PutJob("e1", JobStatus::kRunning, 0, true, "erin", 1);
  PutJob("f1", JobStatus::kRunning, 0, true, "frank", 2);
  node->AddLeaderTask(Task(2));
  ASSERT_TRUE(*node->RunLeaderTask(kTaskUserMetrics));
  using P = std::pair<double, double>;
  EXPECT_EQ(Shown(), (std::map<std::string, P>{{"carol", P(3, 300 * kMiB)},
                                               {"dave", P(2, 20 * kMiB)},
                                               {"_other", P(2, 3 * kMiB)}}));
  EXPECT_EQ(Counters(*node, kTaskUserMetrics)["otherUsers"], 2);
}

TEST_F(UserMetricsTest, AFollowerShowsNoUserSeries) {
  auto follower = StartNode("b", false);
  ASSERT_TRUE(follower);
  PutJob("a1", JobStatus::kRunning, 0, true, "alice", 512);
  jobs_gauge_.With({"stale"}).Set(7);  // left from when this node led
  memory_gauge_.With({"stale"}).Set(7);
  follower->AddLeaderTask(Task(10));
  Result<bool> ran = follower->RunLeaderTask(kTaskUserMetrics);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_FALSE(*ran);
  EXPECT_TRUE(Shown().empty());
}

}  // namespace
}  // namespace weir::cluster
