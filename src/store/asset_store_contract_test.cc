// The contract of asset_store.h, run against every backend: SQLite on a temp file (the store
// OpenSqlite gives) and PostgreSQL on the throwaway server (one fresh database per test).
// Connect() opens an independent store on the same storage, standing for another server process.
// Nothing here is timed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/testing/required_services.h"
#include "store/asset_store.h"
#include "store/open.h"
#include "store/testing/postgres_env.h"  // stops the shared server after the last test
#include "store/testing/postgres_server.h"

namespace weir::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Result<std::shared_ptr<AssetStore>> Connect() = 0;
  virtual std::string Missing() const { return ""; }
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};

class SqliteBackend : public Backend {
 public:
  SqliteBackend() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "weir-assets-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
  }
  ~SqliteBackend() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Result<std::shared_ptr<AssetStore>> Connect() override {
    WEIR_ASSIGN_OR_RETURN(SqliteStores s, OpenSqlite((dir_ / "weir.db").string(), clock_));
    return s.assets;
  }

 private:
  std::filesystem::path dir_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
};

class PostgresBackend : public Backend {
 public:
  PostgresBackend() {
    testing::PostgresServer* server = testing::SharedPostgres();
    if (server == nullptr) {
      missing_ = testing::SharedPostgresError();
      return;
    }
    Result<std::string> url = server->CreateDatabase();
    if (!url.ok()) {
      missing_ = url.status().message();
      return;
    }
    where_.type = "postgresql";
    where_.url = *url;
  }
  Result<std::shared_ptr<AssetStore>> Connect() override {
    WEIR_ASSIGN_OR_RETURN(Stores s, OpenStores(where_, clock_));
    return s.assets;
  }
  std::string Missing() const override { return missing_; }

 private:
  StoreLocation where_;
  std::string missing_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
};

void PrintTo(const BackendFactory& b, std::ostream* os) { *os << b.name; }

std::vector<BackendFactory> Backends() {
  return {
      {"Sqlite", [] { return std::make_unique<SqliteBackend>(); }},
      {"Postgres", [] { return std::make_unique<PostgresBackend>(); }},
  };
}

TimePoint At(int64_t seconds) { return FromEpochMillis(1'700'000'000'000 + seconds * 1000); }

AssetVersionRow Row(const std::string& ns, const std::string& branch = "main",
                    const std::string& sha = std::string(64, 'a')) {
  AssetVersionRow r;
  r.type = "jar";
  r.ns = ns;
  r.owner = "user";
  r.repo = "repo";
  r.branch = branch;
  r.commit = "39206ee8";
  r.sha256 = sha;
  r.size = 42;
  r.file_name = "etl.jar";
  r.extension = "jar";
  r.publisher = "alice";
  return r;
}

// A decision that accepts every publish: uuid "<type>.<ns>.<branch>.<build>", created at `when`.
PublishDecision Accept(TimePoint when, std::optional<AssetNamespaceRow>* seen = nullptr,
                       int64_t* next = nullptr) {
  return [=](const std::optional<AssetNamespaceRow>& owner, AssetVersionRow& r) {
    if (seen != nullptr) *seen = owner;
    if (next != nullptr) *next = r.build;
    r.uuid = r.type + "." + r.ns + "." + r.branch + "." + std::to_string(r.build);
    r.created = when;
    return Status::Ok();
  };
}

std::vector<int64_t> Builds(const std::vector<AssetVersionRow>& rows) {
  std::vector<int64_t> out;
  for (const auto& r : rows) out.push_back(r.build);
  return out;
}
std::vector<std::string> Uuids(const std::vector<AssetVersionRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.uuid);
  return out;
}

class AssetStoreContractTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (std::string why = backend_->Missing(); !why.empty())
      WEIR_MISSING_SERVICE("postgresql", why);
    auto s = backend_->Connect();
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *s;
  }

  // Publishes `row` at `seconds`, expecting success.
  AssetVersionRow Publish(const AssetVersionRow& row, int64_t seconds) {
    auto r = store_->PublishVersion(row, Accept(At(seconds)));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : AssetVersionRow{};
  }

  std::unique_ptr<Backend> backend_;
  std::shared_ptr<AssetStore> store_;
};

TEST_P(AssetStoreContractTest, PublishStoresEveryFieldAndClaimsTheNamespace) {
  EXPECT_EQ(*store_->GetNamespace("etl"), std::nullopt);
  std::optional<AssetNamespaceRow> seen{AssetNamespaceRow{}};
  int64_t next = 0;
  AssetVersionRow in = Row("etl", "feature/x");
  in.dirty = true;
  in.file_name = "étl 1.0.jar";
  in.size = 1234567890123;
  auto stored = store_->PublishVersion(in, Accept(At(5), &seen, &next));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(seen, std::nullopt) << "a new namespace is unclaimed";
  EXPECT_EQ(next, 1);
  AssetVersionRow want = in;
  want.build = 1;
  want.uuid = "jar.etl.feature/x.1";
  want.created = At(5);
  EXPECT_EQ(*stored, want);

  auto got = store_->GetVersion(want.uuid);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, want);
  auto ns = store_->GetNamespace("etl");
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ(*ns, (AssetNamespaceRow{"etl", "jar", "user", "repo", At(5)}));

  // The next publish into it sees its owner; a reopened store sees the same rows.
  auto again = backend_->Connect();
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE((*again)->PublishVersion(Row("etl"), Accept(At(6), &seen, &next)).ok());
  EXPECT_EQ(seen, (AssetNamespaceRow{"etl", "jar", "user", "repo", At(5)}));
  EXPECT_EQ(next, 1) << "builds count per branch";
  EXPECT_EQ(*(*again)->GetVersion(want.uuid), want);
}

TEST_P(AssetStoreContractTest, BuildsAreConsecutivePerBranch) {
  EXPECT_EQ(Publish(Row("ns"), 1).build, 1);
  EXPECT_EQ(Publish(Row("ns"), 2).build, 2);
  EXPECT_EQ(Publish(Row("ns", "dev"), 3).build, 1);
  EXPECT_EQ(Publish(Row("ns"), 4).build, 3);
  AssetVersionRow other_repo = Row("ns");
  other_repo.repo = "fork";  // the store counts per repository; ownership is the registry's rule
  auto fork = store_->PublishVersion(
      other_repo, [](const std::optional<AssetNamespaceRow>&, AssetVersionRow& r) {
        r.uuid = "fork." + std::to_string(r.build);
        r.created = At(5);
        return Status::Ok();
      });
  ASSERT_TRUE(fork.ok()) << fork.status();
  EXPECT_EQ(fork->build, 1);
  EXPECT_EQ(Publish(Row("ns"), 6).build, 4);
}

TEST_P(AssetStoreContractTest, ARefusedDecisionLeavesNothingBehind) {
  int calls = 0;
  auto refused = store_->PublishVersion(
      Row("fresh"), [&](const std::optional<AssetNamespaceRow>&, AssetVersionRow&) {
        ++calls;
        return PermissionDenied("namespace 'fresh': not yours");
      });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(refused.status().message(), "namespace 'fresh': not yours");
  EXPECT_EQ(*store_->GetNamespace("fresh"), std::nullopt) << "the claim is rolled back";
  EXPECT_EQ(store_->ListVersions({}, 0, 10)->total, 0);
  EXPECT_EQ(Publish(Row("fresh"), 1).build, 1) << "a refused publish uses no build";
}

TEST_P(AssetStoreContractTest, ATakenUuidIsAlreadyExistsAndChangesNothing) {
  AssetVersionRow first = Publish(Row("ns"), 1);
  auto dup =
      store_->PublishVersion(Row("ns", "dev", std::string(64, 'b')),
                             [&](const std::optional<AssetNamespaceRow>&, AssetVersionRow& r) {
                               r.uuid = first.uuid;
                               r.created = At(2);
                               return Status::Ok();
                             });
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists) << dup.status();
  EXPECT_EQ(*store_->GetVersion(first.uuid), first);
  EXPECT_EQ(store_->ListVersions({}, 0, 10)->total, 1);
}

TEST_P(AssetStoreContractTest, MissingVersionsAreNotFound) {
  Publish(Row("ns"), 1);
  EXPECT_EQ(store_->GetVersion("jar.ns.main.9").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->NewestVersion("jar", "other").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->NewestVersion("python", "ns").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->NewestOnBranch("jar", "ns", "dev").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->VersionOnBranch("jar", "ns", "main", 2).status().code(), StatusCode::kNotFound);
}

TEST_P(AssetStoreContractTest, NewestIsByTimeThenPublicationAndPerBranchByBuild) {
  Publish(Row("ns"), 10);                        // main 1
  Publish(Row("ns"), 20);                        // main 2
  Publish(Row("ns", "dev"), 30);                 // dev 1
  AssetVersionRow tie = Publish(Row("ns"), 30);  // main 3, same time as dev 1: published later
  Publish(Row("ns", "old"), 5);                  // an earlier time published last
  EXPECT_EQ(store_->NewestVersion("jar", "ns")->uuid, tie.uuid);
  EXPECT_EQ(store_->NewestOnBranch("jar", "ns", "main")->build, 3);
  EXPECT_EQ(store_->NewestOnBranch("jar", "ns", "dev")->uuid, "jar.ns.dev.1");
  EXPECT_EQ(store_->VersionOnBranch("jar", "ns", "main", 2)->created, At(20));
}

TEST_P(AssetStoreContractTest, ListIsNewestFirstFilteredAndPaged) {
  for (int i = 0; i < 5; ++i) Publish(Row("a"), 10 + i);
  for (int i = 0; i < 3; ++i) Publish(Row("a", "dev"), 20 + i);
  AssetVersionRow b = Row("b");
  b.owner = "other";
  Publish(b, 30);

  auto all = store_->ListVersions({}, 0, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->total, 9);
  ASSERT_EQ(all->items.size(), 9u);
  EXPECT_EQ(all->items.front().ns, "b");
  EXPECT_EQ(all->items.back().uuid, "jar.a.main.1");

  AssetVersionFilter main;
  main.ns = "a";
  main.branch = "main";
  auto page = store_->ListVersions(main, 1, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, 5);
  EXPECT_THAT(Builds(page->items), ElementsAre(3, 2));
  auto past_end = store_->ListVersions(main, 9, 2);
  ASSERT_TRUE(past_end.ok());
  EXPECT_EQ(past_end->total, 5);
  EXPECT_TRUE(past_end->items.empty());

  AssetVersionFilter by_owner;
  by_owner.owner = "other";
  by_owner.type = "jar";
  EXPECT_THAT(Uuids(store_->ListVersions(by_owner, 0, 10)->items), ElementsAre("jar.b.main.1"));
  AssetVersionFilter nobody;
  nobody.repo = "nobody";
  EXPECT_EQ(store_->ListVersions(nobody, 0, 10)->total, 0);
  EXPECT_EQ(store_->ListVersions({}, -1, 10).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ListVersions({}, 0, 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(AssetStoreContractTest, VersionsNearANamespace) {
  Publish(Row("etl"), 1);
  Publish(Row("etl", "dev"), 2);
  AssetVersionRow py = Row("etl");
  py.type = "python";
  py.repo = "py";
  Publish(py, 3);
  Publish(Row("etl-jobs"), 4);
  Publish(Row("etl-jobs"), 5);
  Publish(Row("zzz"), 6);
  AssetVersionRow other_type = Row("pyonly");
  other_type.type = "python";
  Publish(other_type, 7);

  EXPECT_THAT(Uuids(*store_->VersionsNear("jar", "etl", false, 100)),
              ElementsAre("jar.etl.dev.1", "jar.etl.main.1"));
  // Everything in 'etl' whatever its type, and the latest of each other jar namespace.
  EXPECT_THAT(Uuids(*store_->VersionsNear("jar", "etl", true, 100)),
              ElementsAre("jar.zzz.main.1", "jar.etl-jobs.main.2", "python.etl.main.1",
                          "jar.etl.dev.1", "jar.etl.main.1"));
  EXPECT_EQ(store_->VersionsNear("jar", "etl", true, 2)->size(), 2u);
  EXPECT_EQ(store_->VersionsNear("jar", "etl", true, 0).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(AssetStoreContractTest, BlobReferencesFollowTheVersions) {
  const std::string used(64, 'c');
  EXPECT_FALSE(*store_->BlobReferenced(used));
  Publish(Row("ns", "main", used), 1);
  EXPECT_TRUE(*store_->BlobReferenced(used));
  EXPECT_FALSE(*store_->BlobReferenced(std::string(64, 'd')));
}

TEST_P(AssetStoreContractTest, ReferencedBlobsListsEveryVersionsBlobOnce) {
  ASSERT_TRUE(store_->ReferencedBlobs().ok());
  EXPECT_TRUE(store_->ReferencedBlobs()->empty());
  const std::string a(64, 'a'), b(64, 'b');
  Publish(Row("ns", "main", b), 1);
  Publish(Row("ns", "main", a), 2);
  Publish(Row("other", "dev", b), 1);
  auto refs = store_->ReferencedBlobs();
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_EQ(*refs, (std::vector<std::string>{a, b}));
}

// Two stores on the same storage stand for two servers: every publish into one branch gets its
// own build, with no gap and no failure.
TEST_P(AssetStoreContractTest, ConcurrentPublishesFromTwoStoresGetConsecutiveBuilds) {
  auto other = backend_->Connect();
  ASSERT_TRUE(other.ok()) << other.status();
  constexpr int kThreads = 8;
  constexpr int kEach = 5;
  std::vector<std::thread> threads;
  std::vector<Status> failures(kThreads, Status::Ok());
  std::vector<std::vector<int64_t>> builds(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      AssetStore& s = t % 2 ? **other : *store_;
      for (int i = 0; i < kEach; ++i) {
        // A brand-new namespace: the first publishes race to claim it.
        auto r = s.PublishVersion(Row("race"), Accept(At(t * 100 + i)));
        if (!r.ok()) {
          failures[t] = r.status();
          return;
        }
        builds[t].push_back(r->build);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(failures[t].ok()) << failures[t];
    all.insert(builds[t].begin(), builds[t].end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach)) << "a build given twice";
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kEach) << "a gap in the builds";
  EXPECT_EQ(store_->ListVersions({}, 0, 1000)->total, kThreads * kEach);
}

std::string BackendName(const ::testing::TestParamInfo<BackendFactory>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Backends, AssetStoreContractTest, ::testing::ValuesIn(Backends()),
                         BackendName);

}  // namespace
}  // namespace weir::store
