#include "assets/registry.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "blob/local_blob_store.h"
#include "blob/sha256.h"
#include "common/ids.h"
#include "common/strings.h"
#include "common/testing/required_services.h"
#include "store/open.h"
#include "store/testing/postgres_env.h"  // stops the shared server after the last test
#include "store/testing/postgres_server.h"

namespace weir::assets {
namespace {

// Every test runs with the registry's rows in SQLite (the server's file) and in PostgreSQL (a
// fresh database on the throwaway server).
enum class Backend { kSqlite, kPostgres };

class RegistryTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("weir-registry-" + NewUuid());
    std::filesystem::create_directories(dir_);
    if (GetParam() == Backend::kSqlite) {
      where_.sqlite_path = (dir_ / "weir.db").string();
    } else {
      store::testing::PostgresServer* pg = store::testing::SharedPostgres();
      if (pg == nullptr) {
        WEIR_MISSING_SERVICE("postgresql", store::testing::SharedPostgresError());
      }
      auto url = pg->CreateDatabase();
      ASSERT_TRUE(url.ok()) << url.status();
      where_.type = "postgresql";
      where_.url = *url;
    }
    auto blobs = blob::NewLocalBlobStore(dir_ / "blobs");
    ASSERT_TRUE(blobs.ok()) << blobs.status();
    blobs_ = std::move(*blobs);
    Reopen();
  }
  void TearDown() override {
    registry_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A registry on the same storage, as another server (or this one after a restart) opens it.
  Result<std::unique_ptr<AssetRegistry>> OpenAnother() {
    WEIR_ASSIGN_OR_RETURN(store::Stores stores, store::OpenStores(where_, clock_));
    return AssetRegistry::Open(stores.assets, blobs_, clock_);
  }
  void Reopen() {
    registry_.reset();
    auto r = OpenAnother();
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = std::move(*r);
  }

  std::filesystem::path File(const std::string& content) {
    std::filesystem::path p = dir_ / ("upload-" + NewUuid());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

  static PublishRequest Req(std::string ns, std::string branch = "main",
                            std::string repo = "repo") {
    PublishRequest r;
    r.type = "jar";
    r.ns = std::move(ns);
    r.owner = "user";
    r.repo = std::move(repo);
    r.branch = std::move(branch);
    r.commit = "39206ee8c0ffee00";
    r.file_name = "etl.jar";
    r.publisher = "alice";
    return r;
  }

  Result<AssetRecord> Publish(const PublishRequest& req, const std::string& content) {
    clock_.Advance(std::chrono::seconds(1));
    return registry_->Publish(req, File(content));
  }

  std::string Bytes(const AssetRecord& r) {
    std::filesystem::path dest = dir_ / ("download-" + NewUuid());
    EXPECT_TRUE(blobs_->CopyTo(r.sha256, dest).ok());
    std::ifstream in(dest, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::filesystem::path dir_;
  store::StoreLocation where_;
  FakeClock clock_{FromEpochMillis(1700000000000)};
  std::shared_ptr<blob::BlobStore> blobs_;
  std::unique_ptr<AssetRegistry> registry_;
};

TEST_P(RegistryTest, PublishReturnsTheFullRecord) {
  auto r = Publish(Req("scala-workflow"), "jar bytes");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->uuid, "dataflow.jar.scala-workflow.user.repo.main.39206ee8.1");
  EXPECT_EQ(r->sha256, blob::Sha256Hex("jar bytes"));
  EXPECT_EQ(r->size, 9);
  EXPECT_EQ(r->extension, "jar");
  EXPECT_EQ(r->file_name, "etl.jar");
  EXPECT_EQ(r->path, "assets/jar/scala-workflow/user/repo/main/39206ee8/1.jar");
  EXPECT_EQ(r->publisher, "alice");
  EXPECT_EQ(r->created, clock_.Now());
  EXPECT_EQ(r->uri, blobs_->Uri(r->sha256));
  EXPECT_EQ(Bytes(*r), "jar bytes");
  auto got = registry_->Get(r->uuid);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, *r);
}

TEST_P(RegistryTest, BuildNumbersAreConsecutivePerBranch) {
  EXPECT_EQ(Publish(Req("ns"), "a")->id.build, 1);
  EXPECT_EQ(Publish(Req("ns"), "b")->id.build, 2);
  EXPECT_EQ(Publish(Req("ns", "feature/x"), "c")->id.build, 1);
  EXPECT_EQ(Publish(Req("ns"), "d")->id.build, 3);
  auto f = Publish(Req("ns", "feature/x"), "e");
  EXPECT_EQ(f->id.build, 2);
  EXPECT_EQ(f->uuid, "dataflow.jar.ns.user.repo.feature%2Fx.39206ee8.2");
  EXPECT_EQ(f->path, "assets/jar/ns/user/repo/feature%2Fx/39206ee8/2.jar");
  // Survives a restart.
  Reopen();
  EXPECT_EQ(Publish(Req("ns"), "f")->id.build, 4);
}

TEST_P(RegistryTest, ResolvesTheFourReferenceForms) {
  auto m1 = Publish(Req("etl"), "m1");
  auto m2 = Publish(Req("etl"), "m2");
  auto d1 = Publish(Req("etl", "dev"), "d1");
  ASSERT_TRUE(m1.ok() && m2.ok() && d1.ok());
  auto resolve = [&](const std::string& text) {
    auto ref = ParseRef(text);
    EXPECT_TRUE(ref.ok()) << ref.status();
    return registry_->Resolve(*ref);
  };
  EXPECT_EQ(resolve("dataflow.jar.etl")->uuid, d1->uuid);
  EXPECT_EQ(resolve("dataflow.jar.etl@main")->uuid, m2->uuid);
  EXPECT_EQ(resolve("dataflow.jar.etl@main#1")->uuid, m1->uuid);
  EXPECT_EQ(resolve(m1->uuid)->sha256, blob::Sha256Hex("m1"));

  auto missing = resolve("dataflow.jar.etl@main#9");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no build 9 on branch 'main'"), std::string::npos)
      << missing.status();
  EXPECT_EQ(resolve("dataflow.jar.etl@nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(resolve("dataflow.jar.other").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(resolve("dataflow.jar.etl.user.repo.main.39206ee8.7").status().code(),
            StatusCode::kNotFound);

  auto sugg = registry_->Suggestions(*ParseRef("dataflow.jar.etl@main#9"));
  ASSERT_FALSE(sugg.empty());
  EXPECT_EQ(sugg[0], "branch 'main' (builds 1..2)");
  auto ns_sugg = registry_->Suggestions(*ParseRef("dataflow.jar.etx"));
  ASSERT_FALSE(ns_sugg.empty());
  EXPECT_EQ(ns_sugg[0], "namespace 'etl' (jar)");
}

// Version churn: a deploy whose built bytes equal the newest build on its branch reuses that
// version; changed bytes, another branch's equal build, another dirty state or another
// repository's namespace never do.
TEST_P(RegistryTest, ReusableVersionIsTheNewestBuildOnTheBranchWithEqualBytes) {
  ASSERT_TRUE(Publish(Req("etl"), "v1").ok());
  auto v2 = Publish(Req("etl"), "v2");
  ASSERT_TRUE(v2.ok());
  ASSERT_TRUE(Publish(Req("etl", "feature/x"), "v3").ok());
  AssetVersionId where{"jar", "etl", "user", "repo", "main", "", 0};

  Result<AssetRecord> same = ReusableVersion(*registry_, where, v2->sha256, false);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->uuid, v2->uuid);
  // Bytes of an older build of the branch: a new version (the newest is what "latest" means).
  EXPECT_EQ(ReusableVersion(*registry_, where, blob::Sha256Hex("v1"), false).status().code(),
            StatusCode::kNotFound);
  // Bytes only feature/x has: not reused on main.
  EXPECT_EQ(ReusableVersion(*registry_, where, blob::Sha256Hex("v3"), false).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ReusableVersion(*registry_, where, v2->sha256, true).status().code(),
            StatusCode::kNotFound);
  AssetVersionId intruder = where;
  intruder.repo = "intruder";
  EXPECT_EQ(ReusableVersion(*registry_, intruder, v2->sha256, false).status().code(),
            StatusCode::kNotFound);
  AssetVersionId fresh = where;
  fresh.branch = "new-branch";
  EXPECT_EQ(ReusableVersion(*registry_, fresh, v2->sha256, false).status().code(),
            StatusCode::kNotFound);
}

TEST_P(RegistryTest, NamespaceOfAnotherRepositoryIsRefused) {
  ASSERT_TRUE(Publish(Req("shared"), "x").ok());
  auto r = Publish(Req("shared", "main", "intruder"), "y");
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("'user/repo'"), std::string::npos) << r.status();
  PublishRequest other_type = Req("shared");
  other_type.type = "python";
  EXPECT_EQ(Publish(other_type, "z").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(registry_->List({})->total, 1);
}

TEST_P(RegistryTest, ExplicitUuidMustBeNewAndNext) {
  auto first = Publish(Req("ns"), "a");
  ASSERT_TRUE(first.ok());
  PublishRequest again;
  again.uuid = first->uuid;
  auto dup = Publish(again, "other content");
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists) << dup.status();
  EXPECT_EQ(registry_->Get(first->uuid)->sha256, blob::Sha256Hex("a"));
  // The same build number from another commit is taken too: a branch's builds are used once,
  // never silently renumbered.
  PublishRequest same_build;
  same_build.uuid = "dataflow.jar.ns.user.repo.main.0badc0de.1";
  auto taken = Publish(same_build, "other commit");
  EXPECT_EQ(taken.status().code(), StatusCode::kAlreadyExists) << taken.status();
  EXPECT_EQ(registry_->List({})->total, 1);

  PublishRequest skip;
  skip.uuid = "dataflow.jar.ns.user.repo.main.39206ee8.5";
  EXPECT_EQ(Publish(skip, "b").status().code(), StatusCode::kFailedPrecondition);
  PublishRequest next;
  next.uuid = "dataflow.jar.ns.user.repo.main.39206ee8.2";
  auto ok = Publish(next, "b");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->uuid, next.uuid);

  PublishRequest disagree = Req("other-ns");
  disagree.uuid = "dataflow.jar.ns.user.repo.main.39206ee8.3";
  EXPECT_EQ(Publish(disagree, "c").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(RegistryTest, ConcurrentPublishesGetDistinctConsecutiveBuilds) {
  constexpr int kThreads = 8;
  std::vector<std::filesystem::path> files;
  for (int i = 0; i < kThreads; ++i) files.push_back(File("content " + std::to_string(i)));
  std::vector<Result<AssetRecord>> results(kThreads, Status(StatusCode::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = registry_->Publish(Req("busy"), files[i]); });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> builds;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    builds.insert(r->id.build);
  }
  EXPECT_EQ(builds, (std::set<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST_P(RegistryTest, ConcurrentPublishesFromTwoConnectionsStayConsecutive) {
  // A second registry on the same storage stands for another server process.
  auto other = OpenAnother();
  ASSERT_TRUE(other.ok()) << other.status();
  std::vector<Result<AssetRecord>> results(8, Status(StatusCode::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      AssetRegistry& reg = i % 2 ? **other : *registry_;
      results[i] = reg.Publish(Req("two"), File("c" + std::to_string(i)));
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> builds;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    builds.insert(r->id.build);
  }
  EXPECT_EQ(builds.size(), 8u);
  EXPECT_EQ(*builds.rbegin(), 8);
}

TEST_P(RegistryTest, ContentBehindAUuidNeverChangesAndIsDeduplicated) {
  auto v1 = Publish(Req("ns"), "version one");
  auto v2 = Publish(Req("ns"), "version two");
  auto v3 = Publish(Req("ns"), "version one");
  ASSERT_TRUE(v1.ok() && v2.ok() && v3.ok());
  EXPECT_NE(v1->uuid, v3->uuid);
  EXPECT_EQ(v1->sha256, v3->sha256);
  EXPECT_EQ(v1->uri, v3->uri);
  EXPECT_EQ(blobs_->List("")->size(), 2u) << "same bytes stored once";
  EXPECT_EQ(Bytes(*registry_->Get(v1->uuid)), "version one");
  EXPECT_EQ(Bytes(*registry_->Get(v2->uuid)), "version two");
}

TEST_P(RegistryTest, SizeOrHashMismatchLeavesNoVersion) {
  PublishRequest wrong_size = Req("ns");
  wrong_size.size = 100;
  auto r1 = Publish(wrong_size, "short");
  EXPECT_EQ(r1.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r1.status().message().find("size: declared 100 bytes, received 5"), std::string::npos)
      << r1.status();
  PublishRequest wrong_hash = Req("ns");
  wrong_hash.sha256 = blob::Sha256Hex("something else");
  auto r2 = Publish(wrong_hash, "content");
  EXPECT_EQ(r2.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->List({})->total, 0);
  EXPECT_TRUE(blobs_->List("")->empty());
  PublishRequest right = Req("ns");
  right.sha256 = blob::Sha256Hex("content");
  right.size = 7;
  auto r3 = Publish(right, "content");
  ASSERT_TRUE(r3.ok()) << r3.status();
  EXPECT_EQ(r3->id.build, 1) << "failed publishes consume no build number";
}

TEST_P(RegistryTest, HostileFieldsAreRefused) {
  auto code = [&](PublishRequest r) { return Publish(r, "x").status().code(); };
  PublishRequest r = Req("../etc");
  EXPECT_EQ(code(r), StatusCode::kInvalidArgument);
  r = Req("ns");
  r.owner = "a/b";
  EXPECT_EQ(code(r), StatusCode::kInvalidArgument);
  r = Req("ns");
  r.file_name = "../../x.jar";
  EXPECT_EQ(code(r), StatusCode::kInvalidArgument);
  r = Req("ns");
  r.extension = "../x";
  EXPECT_EQ(code(r), StatusCode::kInvalidArgument);
  r = Req("ns", "bad\xff");
  EXPECT_EQ(code(r), StatusCode::kInvalidArgument);
  r = Req("ns");
  r.commit = "";
  auto missing = Publish(r, "x");
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(StartsWith(missing.status().message(), "commit:")) << missing.status();
  EXPECT_EQ(registry_->Get("not-a-uuid").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->Get("dataflow.jar.ns.user.repo.main.39206ee8.1").status().code(),
            StatusCode::kNotFound);
}

TEST_P(RegistryTest, ListIsNewestFirstWithFiltersAndPages) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Publish(Req("a"), "a" + std::to_string(i)).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Publish(Req("a", "dev"), "d" + std::to_string(i)).ok());
  ASSERT_TRUE(Publish(Req("b"), "b").ok());

  ListQuery by_ns;
  by_ns.type = "jar";
  by_ns.ns = "a";
  auto all = registry_->List(by_ns);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->total, 8);
  ASSERT_EQ(all->records.size(), 8u);
  EXPECT_TRUE(std::is_sorted(all->records.begin(), all->records.end(),
                             [](const auto& x, const auto& y) { return x.created > y.created; }));
  EXPECT_EQ(all->records.front().id.branch, "dev");

  ListQuery main_q;
  main_q.ns = "a";
  main_q.branch = "main";
  main_q.page = 1;
  main_q.size = 2;
  auto main_page = registry_->List(main_q);
  ASSERT_TRUE(main_page.ok());
  EXPECT_EQ(main_page->total, 5);
  ASSERT_EQ(main_page->records.size(), 2u);
  EXPECT_EQ(main_page->records[0].id.build, 3);
  EXPECT_EQ(main_page->records[1].id.build, 2);
  ListQuery nobody;
  nobody.owner = "user";
  nobody.repo = "nobody";
  EXPECT_EQ(registry_->List(nobody)->total, 0);
  ListQuery empty_page;
  empty_page.size = 0;
  EXPECT_EQ(registry_->List(empty_page).status().code(), StatusCode::kInvalidArgument);
}

// A data folder from before the rows moved behind store::AssetStore: its tables, as the registry
// created them then, and their rows are read as they are, and publishing continues from them.
TEST(RegistrySqliteFileTest, VersionsWrittenBeforeTheAssetStoreAreReadAndContinued) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("weir-registry-" + NewUuid());
  std::filesystem::create_directories(dir);
  const std::string db_path = (dir / "weir.db").string();
  const std::string sha = blob::Sha256Hex("old bytes");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    const std::string sql = R"sql(
CREATE TABLE asset_namespaces (ns TEXT PRIMARY KEY NOT NULL, type TEXT NOT NULL,
  owner TEXT NOT NULL, repo TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE assets (seq INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL, ns TEXT NOT NULL, owner TEXT NOT NULL, repo TEXT NOT NULL,
  branch TEXT NOT NULL, commit_short TEXT NOT NULL, build INTEGER NOT NULL,
  sha256 TEXT NOT NULL, size INTEGER NOT NULL, file_name TEXT NOT NULL,
  extension TEXT NOT NULL, dirty INTEGER NOT NULL, publisher TEXT NOT NULL,
  created_ms INTEGER NOT NULL, UNIQUE (type, ns, owner, repo, branch, build));
INSERT INTO asset_namespaces VALUES ('legacy', 'jar', 'user', 'repo', 1600000000000);
INSERT INTO assets (uuid, type, ns, owner, repo, branch, commit_short, build, sha256, size,
  file_name, extension, dirty, publisher, created_ms)
  VALUES ('dataflow.jar.legacy.user.repo.main.39206ee8.1', 'jar', 'legacy', 'user', 'repo',
          'main', '39206ee8', 1, ')sql" +
                            sha + R"sql(', 9, 'old.jar', 'jar', 1, 'bob',
          1600000000000);
)sql";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
    sqlite3_close(db);
  }
  {
    FakeClock clock(FromEpochMillis(1700000000000));
    auto blobs = blob::NewLocalBlobStore(dir / "blobs");
    ASSERT_TRUE(blobs.ok()) << blobs.status();
    store::StoreLocation where;
    where.sqlite_path = db_path;
    auto stores = store::OpenStores(where, clock);
    ASSERT_TRUE(stores.ok()) << stores.status();
    auto registry = AssetRegistry::Open(stores->assets, std::move(*blobs), clock);
    ASSERT_TRUE(registry.ok()) << registry.status();

    auto old = (*registry)->Get("dataflow.jar.legacy.user.repo.main.39206ee8.1");
    ASSERT_TRUE(old.ok()) << old.status();
    EXPECT_EQ(old->sha256, sha);
    EXPECT_EQ(old->size, 9);
    EXPECT_EQ(old->file_name, "old.jar");
    EXPECT_TRUE(old->dirty);
    EXPECT_EQ(old->publisher, "bob");
    EXPECT_EQ(old->created, FromEpochMillis(1600000000000));
    EXPECT_EQ((*registry)->Resolve(*ParseRef("dataflow.jar.legacy@main"))->uuid, old->uuid);

    const std::filesystem::path upload = dir / "upload";
    std::ofstream(upload, std::ios::binary) << "new bytes";
    PublishRequest req;
    req.type = "jar";
    req.ns = "legacy";
    req.owner = "user";
    req.repo = "repo";
    req.branch = "main";
    req.commit = "0badc0de";
    auto next = (*registry)->Publish(req, upload);
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->id.build, 2);
    req.repo = "intruder";
    EXPECT_EQ((*registry)->Publish(req, upload).status().code(), StatusCode::kPermissionDenied);
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, RegistryTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace weir::assets
