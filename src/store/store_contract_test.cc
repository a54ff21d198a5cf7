// The contract of store.h, run against every backend.
//
// Each backend provides a Backend: fresh, empty storage for one test, to which Connect() opens
// any number of independent connections (the durability and multi-process tests reopen the same
// storage). Add a backend by adding a BackendFactory to Backends() below; every TEST_P here then
// runs against it. Nothing here is timed. PostgreSQL runs on a throwaway server
// (store/testing/postgres_server.h), one fresh database per test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/testing/required_services.h"
#include "model/config.h"
#include "model/job.h"
#include "store/open.h"
#include "store/testing/postgres_env.h"  // stops the shared server after the last test
#include "store/testing/postgres_server.h"

namespace weir::store {
namespace {

using model::ConfigEntity;
using model::JobRecord;
using model::JobStatus;
using model::Kind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// ---- backends ---------------------------------------------------------------------------------

struct Connection {
  std::shared_ptr<ConfigStore> config;
  std::shared_ptr<JobStore> jobs;
  std::shared_ptr<NodeStore> nodes;
  std::shared_ptr<SearchIndex> search;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // A new connection to this test's storage, independent of any other one.
  virtual Result<Connection> Connect() = 0;
  // Why this backend cannot run here ("" when it can): the test then reports a missing service.
  virtual std::string Missing() const { return ""; }
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};

// A fresh database file in a unique temp folder, removed afterwards.
class SqliteBackend : public Backend {
 public:
  SqliteBackend() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "weir-store-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
  }
  ~SqliteBackend() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Result<Connection> Connect() override {
    WEIR_ASSIGN_OR_RETURN(SqliteStores s, OpenSqlite((dir_ / "weir.db").string(), clock_));
    return Connection{s.config, s.jobs, s.nodes, s.search};
  }

 private:
  std::filesystem::path dir_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
};

// A fresh database on the test process's shared PostgreSQL server.
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
  Result<Connection> Connect() override {
    WEIR_ASSIGN_OR_RETURN(Stores s, OpenStores(where_, clock_));
    return Connection{s.config, s.jobs, s.nodes, s.search};
  }
  std::string Missing() const override { return missing_; }

 private:
  StoreLocation where_;
  std::string missing_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
};

// Test names and failure messages show the backend's name, not its bytes.
void PrintTo(const BackendFactory& b, std::ostream* os) { *os << b.name; }

std::vector<BackendFactory> Backends() {
  return {
      {"Sqlite", [] { return std::make_unique<SqliteBackend>(); }},
      {"Postgres", [] { return std::make_unique<PostgresBackend>(); }},
  };
}

// ---- values -----------------------------------------------------------------------------------

// Seconds after a fixed epoch.
TimePoint At(int64_t seconds) { return FromEpochMillis(1'700'000'000'000 + seconds * 1000); }

ConfigEntity Entity(Kind kind, const std::string& id,
                    const std::function<void(ConfigEntity&)>& edit = {}) {
  ConfigEntity e;
  e.kind = kind;
  e.id = id;
  e.name = id + "-name";
  e.user = "alice";
  e.version = "1.0";
  e.status = kind == Kind::kCluster ? "UP" : "ACTIVE";
  if (kind == Kind::kCommand) e.executable = "/usr/bin/" + id;
  e.created = At(0);
  e.updated = At(0);
  if (edit) edit(e);
  model::NormalizeTags(e);
  return e;
}
ConfigEntity App(const std::string& id, const std::function<void(ConfigEntity&)>& edit = {}) {
  return Entity(Kind::kApplication, id, edit);
}
ConfigEntity Cmd(const std::string& id, const std::function<void(ConfigEntity&)>& edit = {}) {
  return Entity(Kind::kCommand, id, edit);
}
ConfigEntity Cluster(const std::string& id, const std::function<void(ConfigEntity&)>& edit = {}) {
  return Entity(Kind::kCluster, id, edit);
}

JobRecord Job(const std::string& id, TimePoint created,
              const std::function<void(JobRecord&)>& edit = {}) {
  JobRecord r;
  r.id = id;
  r.created = created;
  r.updated = created;
  r.request.id = id;
  r.request.name = "job-" + id;
  r.request.user = "alice";
  r.request.version = "1";
  r.request.cluster_criterias = {model::ClusterCriteria{{"sched:sla"}}};
  r.request.command_criteria = {"type:spark"};
  r.job.status = JobStatus::kInit;
  r.job.status_msg = std::string(model::kMsgAccepted);
  if (edit) edit(r);
  return r;
}

template <typename T>
std::vector<std::string> Ids(const std::vector<T>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) {
    if constexpr (std::is_same_v<T, ConfigStore::Candidate>) {
      out.push_back(i.cluster.id);
    } else {
      out.push_back(i.id);
    }
  }
  return out;
}

PageRequest All(std::vector<SortKey> sort = {}) {
  PageRequest p;
  p.size = 1000;
  p.sort = std::move(sort);
  return p;
}

// ---- fixture ----------------------------------------------------------------------------------

class StoreContractTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (std::string why = backend_->Missing(); !why.empty())
      WEIR_MISSING_SERVICE("postgresql", why);
    Result<Connection> c = backend_->Connect();
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = c->config;
    jobs_ = c->jobs;
    nodes_ = c->nodes;
    search_ = c->search;
  }

  void Close() {
    config_.reset();
    jobs_.reset();
  }

  void Put(const ConfigEntity& e) { ASSERT_TRUE(config_->Create(e).ok()) << e.id; }
  void Put(const JobRecord& r) { ASSERT_TRUE(jobs_->CreateJob(r).ok()) << r.id; }

  std::vector<std::string> Search(Kind kind, const ConfigFilter& f, const PageRequest& p = All()) {
    Result<Page<ConfigEntity>> r = config_->Search(kind, f, p);
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      return {"<error>"};
    }
    return Ids(r->items);
  }

  std::vector<std::string> SearchJobs(const JobFilter& f, const PageRequest& p = All()) {
    Result<Page<JobRecord>> r = jobs_->SearchJobs(f, p);
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      return {"<error>"};
    }
    return Ids(r->items);
  }

  std::unique_ptr<Backend> backend_;
  std::shared_ptr<ConfigStore> config_;
  std::shared_ptr<JobStore> jobs_;
  std::shared_ptr<NodeStore> nodes_;
  std::shared_ptr<SearchIndex> search_;
};

// ---- configuration CRUD -----------------------------------------------------------------------

TEST_P(StoreContractTest, CreateThenGetReturnsEveryField) {
  ConfigEntity app = App("spark-app", [](ConfigEntity& e) {
    e.name = "spark";
    e.user = "bob";
    e.version = "3.5.0";
    e.description = "Apache Spark";
    e.metadata_json = R"({"owner":"data","n":[1,2]})";
    e.tags = {"type:spark", "ver:3.5"};
    e.setup_file = "s3://bucket/setup.sh";
    e.configs = {"s3://bucket/b.xml", "s3://bucket/a.xml"};
    e.dependencies = {"s3://bucket/spark.tgz"};
    e.status = "DEPRECATED";
    e.type = "spark";
    e.created = At(1);
    e.updated = At(2);
  });
  ConfigEntity cmd = Cmd("spark-submit", [](ConfigEntity& e) {
    e.executable = "spark-submit --master yarn";
    e.check_delay = 5000;
    e.memory = 2048;
    e.description = "";  // present but empty stays present
  });
  ConfigEntity cluster = Cluster("yarn", [](ConfigEntity& e) { e.status = "OUT_OF_SERVICE"; });
  for (const ConfigEntity& e : {app, cmd, cluster}) {
    Put(e);
    Result<ConfigEntity> got = config_->Get(e.kind, e.id);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, e);
  }
}

TEST_P(StoreContractTest, SameIdInAnotherKindIsIndependent) {
  Put(App("x"));
  Put(Cmd("x"));
  EXPECT_EQ(config_->Get(Kind::kApplication, "x")->kind, Kind::kApplication);
  EXPECT_EQ(config_->Get(Kind::kCommand, "x")->executable, "/usr/bin/x");
  EXPECT_EQ(config_->Get(Kind::kCluster, "x").status().code(), StatusCode::kNotFound);
}

TEST_P(StoreContractTest, DuplicateIdIsAlreadyExistsAndKeepsTheFirst) {
  Put(App("a", [](ConfigEntity& e) { e.name = "first"; }));
  Status s = config_->Create(App("a", [](ConfigEntity& e) { e.name = "second"; }));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("'a'"));
  EXPECT_EQ(config_->Get(Kind::kApplication, "a")->name, "first");
}

TEST_P(StoreContractTest, UnknownIdIsNotFoundNamingIt) {
  Result<ConfigEntity> got = config_->Get(Kind::kCluster, "nope");
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("'nope'"));
  EXPECT_EQ(config_->Update(Cluster("nope")).code(), StatusCode::kNotFound);
  EXPECT_EQ(config_->Delete(Kind::kCluster, "nope").code(), StatusCode::kNotFound);
}

TEST_P(StoreContractTest, UpdateReplacesEverythingButIdAndCreated) {
  Put(App("a", [](ConfigEntity& e) {
    e.tags = {"old"};
    e.description = "old";
    e.type = "hadoop";
    e.configs = {"c1"};
  }));
  ConfigEntity changed = App("a", [](ConfigEntity& e) {
    e.name = "renamed";
    e.user = "carol";
    e.version = "2";
    e.status = "INACTIVE";
    e.tags = {"new"};
    e.created = At(100);  // ignored
    e.updated = At(200);
  });
  ASSERT_TRUE(config_->Update(changed).ok());
  Result<ConfigEntity> got = config_->Get(Kind::kApplication, "a");
  ASSERT_TRUE(got.ok());
  ConfigEntity expected = changed;
  expected.created = At(0);
  EXPECT_EQ(*got, expected);
  ConfigFilter old_tag;
  old_tag.tags = {"old"};
  EXPECT_THAT(Search(Kind::kApplication, old_tag), IsEmpty());
  ConfigFilter new_tag;
  new_tag.tags = {"new"};
  EXPECT_THAT(Search(Kind::kApplication, new_tag), ElementsAre("a"));
}

TEST_P(StoreContractTest, DeleteRemovesOnlyThatEntity) {
  Put(App("a"));
  Put(App("b"));
  ASSERT_TRUE(config_->Delete(Kind::kApplication, "a").ok());
  EXPECT_EQ(config_->Get(Kind::kApplication, "a").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(config_->Get(Kind::kApplication, "b").ok());
  // The id is free again.
  EXPECT_TRUE(config_->Create(App("a")).ok());
}

TEST_P(StoreContractTest, DeleteAllEmptiesOneKind) {
  Put(App("a"));
  Put(App("b"));
  Put(Cmd("c"));
  ASSERT_TRUE(config_->DeleteAll(Kind::kApplication).ok());
  EXPECT_THAT(Search(Kind::kApplication, {}), IsEmpty());
  EXPECT_THAT(Search(Kind::kCommand, {}), ElementsAre("c"));
  EXPECT_TRUE(config_->DeleteAll(Kind::kCluster).ok());  // empty is fine
}

// ---- configuration search ---------------------------------------------------------------------

TEST_P(StoreContractTest, SearchDefaultsToUpdatedDescendingWithIdTieBreak) {
  Put(App("b", [](ConfigEntity& e) { e.updated = At(5); }));
  Put(App("c", [](ConfigEntity& e) { e.updated = At(9); }));
  Put(App("a", [](ConfigEntity& e) { e.updated = At(5); }));
  Put(App("d", [](ConfigEntity& e) { e.updated = At(1); }));
  EXPECT_THAT(Search(Kind::kApplication, {}), ElementsAre("c", "a", "b", "d"));
}

TEST_P(StoreContractTest, SearchStringFiltersUseLikeOnlyWithPercent) {
  Put(App("1", [](ConfigEntity& e) { e.name = "spark"; }));
  Put(App("2", [](ConfigEntity& e) { e.name = "spark-3"; }));
  Put(App("3", [](ConfigEntity& e) { e.name = "Spark"; }));
  Put(App("4", [](ConfigEntity& e) { e.name = "pyspark"; }));
  Put(App("5", [](ConfigEntity& e) { e.name = "spa_k"; }));
  Put(App("6", [](ConfigEntity& e) { e.name = "sp*rk"; }));
  auto by_name = [&](std::string v) {
    ConfigFilter f;
    f.name = std::move(v);
    std::vector<std::string> ids = Search(Kind::kApplication, f);
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  EXPECT_THAT(by_name("spark"), ElementsAre("1"));  // equality, case-sensitive
  EXPECT_THAT(by_name("spa_k"), ElementsAre("5"));  // no '%': '_' is literal
  EXPECT_THAT(by_name("spark%"), ElementsAre("1", "2"));
  EXPECT_THAT(by_name("%spark"), ElementsAre("1", "4"));
  EXPECT_THAT(by_name("%spark%"), ElementsAre("1", "2", "4"));
  EXPECT_THAT(by_name("%park"), ElementsAre("1", "3", "4"));   // LIKE is case-sensitive too
  EXPECT_THAT(by_name("spa_k%"), ElementsAre("1", "2", "5"));  // '_' is one character in LIKE
  EXPECT_THAT(by_name("sp*%"), ElementsAre("6"));              // other characters are literal
  EXPECT_THAT(by_name("%"), ElementsAre("1", "2", "3", "4", "5", "6"));
  EXPECT_THAT(by_name("nothing%"), IsEmpty());
}

TEST_P(StoreContractTest, SearchByUserAndType) {
  Put(App("a", [](ConfigEntity& e) {
    e.user = "alice";
    e.type = "spark";
  }));
  Put(App("b", [](ConfigEntity& e) {
    e.user = "bob";
    e.type = "spark";
  }));
  Put(App("c", [](ConfigEntity& e) {
    e.user = "bob";
    e.type = "hive";
  }));
  Put(App("d", [](ConfigEntity& e) { e.user = "bobby"; }));
  ConfigFilter f;
  f.user = "bob";
  EXPECT_THAT(Search(Kind::kApplication, f), UnorderedElementsAre("b", "c"));
  f.user = "bob%";
  EXPECT_THAT(Search(Kind::kApplication, f), UnorderedElementsAre("b", "c", "d"));
  f.type = "spark";
  EXPECT_THAT(Search(Kind::kApplication, f), ElementsAre("b"));
  f.user.reset();
  f.type = "%i%";
  EXPECT_THAT(Search(Kind::kApplication, f), ElementsAre("c"));
}

TEST_P(StoreContractTest, SearchStatusesAreOred) {
  Put(Cluster("up", [](ConfigEntity& e) { e.status = "UP"; }));
  Put(Cluster("oos", [](ConfigEntity& e) { e.status = "OUT_OF_SERVICE"; }));
  Put(Cluster("term", [](ConfigEntity& e) { e.status = "TERMINATED"; }));
  ConfigFilter f;
  f.statuses = {"UP"};
  EXPECT_THAT(Search(Kind::kCluster, f), ElementsAre("up"));
  f.statuses = {"UP", "TERMINATED"};
  EXPECT_THAT(Search(Kind::kCluster, f), UnorderedElementsAre("up", "term"));
  f.statuses = {};
  EXPECT_THAT(Search(Kind::kCluster, f), UnorderedElementsAre("up", "oos", "term"));
}

TEST_P(StoreContractTest, SearchTagsAreAnded) {
  Put(Cluster("a", [](ConfigEntity& e) { e.tags = {"sched:sla", "type:yarn"}; }));
  Put(Cluster("b", [](ConfigEntity& e) { e.tags = {"sched:adhoc", "type:yarn"}; }));
  Put(Cluster("c", [](ConfigEntity& e) { e.tags = {"sched:sla"}; }));
  ConfigFilter f;
  f.tags = {"type:yarn"};
  EXPECT_THAT(Search(Kind::kCluster, f), UnorderedElementsAre("a", "b"));
  f.tags = {"type:yarn", "sched:sla"};
  EXPECT_THAT(Search(Kind::kCluster, f), ElementsAre("a"));
  f.tags = {"sched:sla", "sched:sla"};  // a repeated tag is one condition
  EXPECT_THAT(Search(Kind::kCluster, f), UnorderedElementsAre("a", "c"));
  f.tags = {"type:yarn", "missing"};
  EXPECT_THAT(Search(Kind::kCluster, f), IsEmpty());
  f.tags = {"genie.id:b"};  // implicit tags are searchable
  EXPECT_THAT(Search(Kind::kCluster, f), ElementsAre("b"));
}

TEST_P(StoreContractTest, SearchUpdatedBoundsMinInclusiveMaxExclusive) {
  for (int i = 1; i <= 5; ++i) {
    Put(Cluster("c" + std::to_string(i), [i](ConfigEntity& e) { e.updated = At(i); }));
  }
  ConfigFilter f;
  f.min_updated = At(2);
  f.max_updated = At(4);
  EXPECT_THAT(Search(Kind::kCluster, f), ElementsAre("c3", "c2"));
  f.max_updated.reset();
  EXPECT_THAT(Search(Kind::kCluster, f), ElementsAre("c5", "c4", "c3", "c2"));
  f.min_updated.reset();
  f.max_updated = At(2);
  EXPECT_THAT(Search(Kind::kCluster, f), ElementsAre("c1"));
}

TEST_P(StoreContractTest, SearchFiltersCombine) {
  Put(App("a", [](ConfigEntity& e) {
    e.name = "spark";
    e.tags = {"t"};
    e.status = "ACTIVE";
  }));
  Put(App("b", [](ConfigEntity& e) {
    e.name = "spark";
    e.tags = {"t"};
    e.status = "INACTIVE";
  }));
  Put(App("c", [](ConfigEntity& e) {
    e.name = "spark";
    e.status = "ACTIVE";
  }));
  Put(App("d", [](ConfigEntity& e) {
    e.name = "hive";
    e.tags = {"t"};
    e.status = "ACTIVE";
  }));
  ConfigFilter f;
  f.name = "spark";
  f.tags = {"t"};
  f.statuses = {"ACTIVE"};
  EXPECT_THAT(Search(Kind::kApplication, f), ElementsAre("a"));
}

TEST_P(StoreContractTest, SearchPagesCarryTheTotal) {
  for (int i = 0; i < 25; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "c%02d", i);
    Put(Cmd(id, [i](ConfigEntity& e) { e.updated = At(i); }));
  }
  std::vector<std::string> seen;
  for (int page = 0; page < 3; ++page) {
    PageRequest p;
    p.page = page;
    p.size = 10;
    p.sort = {{"id", true}};
    Result<Page<ConfigEntity>> r = config_->Search(Kind::kCommand, {}, p);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->total, 25);
    EXPECT_EQ(r->items.size(), page < 2 ? 10u : 5u);
    for (const auto& e : r->items) seen.push_back(e.id);
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(seen.front(), "c00");
  EXPECT_EQ(seen.back(), "c24");

  PageRequest beyond;
  beyond.page = 7;
  beyond.size = 10;
  Result<Page<ConfigEntity>> r = config_->Search(Kind::kCommand, {}, beyond);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->items, IsEmpty());
  EXPECT_EQ(r->total, 25);

  ConfigFilter f;
  f.name = "c0%";
  PageRequest small;
  small.size = 3;
  r = config_->Search(Kind::kCommand, f, small);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, 10);  // the filter's matches, not the table
  EXPECT_EQ(r->items.size(), 3u);
}

TEST_P(StoreContractTest, SearchSortsOnSeveralFieldsBothWays) {
  Put(App("a", [](ConfigEntity& e) {
    e.name = "n2";
    e.user = "u1";
    e.version = "3";
    e.status = "ACTIVE";
    e.created = At(3);
    e.updated = At(1);
  }));
  Put(App("b", [](ConfigEntity& e) {
    e.name = "n1";
    e.user = "u2";
    e.version = "1";
    e.status = "INACTIVE";
    e.created = At(1);
    e.updated = At(3);
  }));
  Put(App("c", [](ConfigEntity& e) {
    e.name = "n3";
    e.user = "u1";
    e.version = "2";
    e.status = "DEPRECATED";
    e.created = At(2);
    e.updated = At(2);
  }));
  auto sorted = [&](std::vector<SortKey> keys) {
    return Search(Kind::kApplication, {}, All(keys));
  };
  EXPECT_THAT(sorted({{"name", true}}), ElementsAre("b", "a", "c"));
  EXPECT_THAT(sorted({{"name", false}}), ElementsAre("c", "a", "b"));
  EXPECT_THAT(sorted({{"created", true}}), ElementsAre("b", "c", "a"));
  EXPECT_THAT(sorted({{"created", false}}), ElementsAre("a", "c", "b"));
  EXPECT_THAT(sorted({{"updated", true}}), ElementsAre("a", "c", "b"));
  EXPECT_THAT(sorted({{"version", true}}), ElementsAre("b", "c", "a"));
  EXPECT_THAT(sorted({{"status", true}}), ElementsAre("a", "c", "b"));
  EXPECT_THAT(sorted({{"id", false}}), ElementsAre("c", "b", "a"));
  // Several keys: user, then name descending.
  EXPECT_THAT(sorted({{"user", true}, {"name", false}}), ElementsAre("c", "a", "b"));
  EXPECT_THAT(sorted({{"user", false}, {"name", true}}), ElementsAre("b", "a", "c"));
}

TEST_P(StoreContractTest, SearchRejectsUnknownSortFieldAndBadPage) {
  PageRequest p = All({{"executable", true}});
  Result<Page<ConfigEntity>> r = config_->Search(Kind::kCommand, {}, p);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("'executable'"));
  EXPECT_THAT(r.status().message(), HasSubstr("id, name, user, version, status, created, updated"));
  PageRequest bad;
  bad.size = 0;
  EXPECT_EQ(config_->Search(Kind::kCommand, {}, bad).status().code(), StatusCode::kInvalidArgument);
  bad.size = 10;
  bad.page = -1;
  EXPECT_EQ(config_->Search(Kind::kCommand, {}, bad).status().code(), StatusCode::kInvalidArgument);
}

// ---- links ------------------------------------------------------------------------------------

TEST_P(StoreContractTest, CommandApplicationsKeepOrderAndSetReplaces) {
  Put(Cmd("cmd"));
  for (const char* id : {"a", "b", "c", "d"}) Put(App(id));
  EXPECT_THAT(*config_->GetCommandApplications("cmd"), IsEmpty());
  ASSERT_TRUE(config_->SetCommandApplications("cmd", {"c", "a", "d"}).ok());
  EXPECT_THAT(*config_->GetCommandApplications("cmd"), ElementsAre("c", "a", "d"));
  ASSERT_TRUE(config_->SetCommandApplications("cmd", {"b", "c"}).ok());
  EXPECT_THAT(*config_->GetCommandApplications("cmd"), ElementsAre("b", "c"));
  // A repeated id keeps its first position.
  ASSERT_TRUE(config_->SetCommandApplications("cmd", {"d", "a", "d", "b", "a"}).ok());
  EXPECT_THAT(*config_->GetCommandApplications("cmd"), ElementsAre("d", "a", "b"));
  ASSERT_TRUE(config_->SetCommandApplications("cmd", {}).ok());
  EXPECT_THAT(*config_->GetCommandApplications("cmd"), IsEmpty());
}

TEST_P(StoreContractTest, ClusterCommandsKeepOrderAndSetReplaces) {
  Put(Cluster("cl"));
  for (const char* id : {"x", "y", "z"}) Put(Cmd(id));
  ASSERT_TRUE(config_->SetClusterCommands("cl", {"z", "x", "z", "y"}).ok());
  EXPECT_THAT(*config_->GetClusterCommands("cl"), ElementsAre("z", "x", "y"));
  ASSERT_TRUE(config_->SetClusterCommands("cl", {"y"}).ok());
  EXPECT_THAT(*config_->GetClusterCommands("cl"), ElementsAre("y"));
}

TEST_P(StoreContractTest, SetLinksWithUnknownIdFailsAndChangesNothing) {
  Put(Cmd("cmd"));
  Put(App("a"));
  Put(Cluster("cl"));
  ASSERT_TRUE(config_->SetCommandApplications("cmd", {"a"}).ok());
  Status s = config_->SetCommandApplications("cmd", {"a", "ghost"});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("'ghost'"));
  EXPECT_THAT(*config_->GetCommandApplications("cmd"), ElementsAre("a"));
  // An application id is not a command id.
  s = config_->SetClusterCommands("cl", {"a"});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("'a'"));
  EXPECT_THAT(*config_->GetClusterCommands("cl"), IsEmpty());
}

TEST_P(StoreContractTest, LinksOfUnknownOwnerAreNotFound) {
  Put(App("a"));
  EXPECT_EQ(config_->GetCommandApplications("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(config_->SetCommandApplications("nope", {"a"}).code(), StatusCode::kNotFound);
  EXPECT_EQ(config_->GetClusterCommands("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(config_->SetClusterCommands("nope", {}).code(), StatusCode::kNotFound);
  EXPECT_EQ(config_->CommandsForApplication("nope", {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(config_->ClustersForCommand("nope", {}).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreContractTest, DeletingALinkedApplicationIsRefusedNamingTheCommands) {
  Put(App("a"));
  Put(Cmd("c1"));
  Put(Cmd("c2"));
  Put(Cmd("c3"));
  ASSERT_TRUE(config_->SetCommandApplications("c1", {"a"}).ok());
  ASSERT_TRUE(config_->SetCommandApplications("c2", {"a"}).ok());
  Status s = config_->Delete(Kind::kApplication, "a");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("'c1'"));
  EXPECT_THAT(s.message(), HasSubstr("'c2'"));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("'c3'")));
  EXPECT_TRUE(config_->Get(Kind::kApplication, "a").ok());
  ASSERT_TRUE(config_->SetCommandApplications("c1", {}).ok());
  ASSERT_TRUE(config_->SetCommandApplications("c2", {}).ok());
  EXPECT_TRUE(config_->Delete(Kind::kApplication, "a").ok());
}

TEST_P(StoreContractTest, DeletingACommandDropsItsLinks) {
  Put(App("a"));
  Put(Cmd("c"));
  Put(Cmd("keep"));
  Put(Cluster("cl"));
  ASSERT_TRUE(config_->SetCommandApplications("c", {"a"}).ok());
  ASSERT_TRUE(config_->SetClusterCommands("cl", {"keep", "c"}).ok());
  ASSERT_TRUE(config_->Delete(Kind::kCommand, "c").ok());
  EXPECT_THAT(*config_->GetClusterCommands("cl"), ElementsAre("keep"));
  EXPECT_THAT(*config_->CommandsForApplication("a", {}), IsEmpty());
  EXPECT_TRUE(config_->Delete(Kind::kApplication, "a").ok());  // no longer linked
  // A new command with the old id starts without links.
  Put(Cmd("c"));
  EXPECT_THAT(*config_->GetCommandApplications("c"), IsEmpty());
  EXPECT_THAT(*config_->ClustersForCommand("c", {}), IsEmpty());
}

TEST_P(StoreContractTest, DeletingAClusterDropsItsLinks) {
  Put(Cmd("c"));
  Put(Cluster("cl"));
  Put(Cluster("other"));
  ASSERT_TRUE(config_->SetClusterCommands("cl", {"c"}).ok());
  ASSERT_TRUE(config_->SetClusterCommands("other", {"c"}).ok());
  ASSERT_TRUE(config_->Delete(Kind::kCluster, "cl").ok());
  EXPECT_THAT(Ids(*config_->ClustersForCommand("c", {})), ElementsAre("other"));
  Put(Cluster("cl"));
  EXPECT_THAT(*config_->GetClusterCommands("cl"), IsEmpty());
}

TEST_P(StoreContractTest, DeleteAllApplicationsIsRefusedWhileAnyIsLinked) {
  Put(App("a"));
  Put(App("b"));
  Put(Cmd("c"));
  ASSERT_TRUE(config_->SetCommandApplications("c", {"b"}).ok());
  Status s = config_->DeleteAll(Kind::kApplication);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("'c'"));
  EXPECT_THAT(Search(Kind::kApplication, {}), UnorderedElementsAre("a", "b"));
  // Deleting every command drops the links, then the applications can go.
  ASSERT_TRUE(config_->DeleteAll(Kind::kCommand).ok());
  EXPECT_TRUE(config_->DeleteAll(Kind::kApplication).ok());
  EXPECT_THAT(Search(Kind::kApplication, {}), IsEmpty());
}

TEST_P(StoreContractTest, ReverseLookupsFilterByStatus) {
  Put(App("a"));
  Put(Cmd("active"));
  Put(Cmd("old", [](ConfigEntity& e) { e.status = "DEPRECATED"; }));
  Put(Cmd("unlinked"));
  Put(Cluster("up"));
  Put(Cluster("down", [](ConfigEntity& e) { e.status = "TERMINATED"; }));
  ASSERT_TRUE(config_->SetCommandApplications("active", {"a"}).ok());
  ASSERT_TRUE(config_->SetCommandApplications("old", {"a"}).ok());
  ASSERT_TRUE(config_->SetClusterCommands("up", {"active"}).ok());
  ASSERT_TRUE(config_->SetClusterCommands("down", {"active"}).ok());

  Result<std::vector<ConfigEntity>> cmds = config_->CommandsForApplication("a", {});
  ASSERT_TRUE(cmds.ok());
  EXPECT_THAT(Ids(*cmds), UnorderedElementsAre("active", "old"));
  EXPECT_EQ(*std::find_if(cmds->begin(), cmds->end(), [](auto& c) { return c.id == "old"; }),
            Cmd("old", [](ConfigEntity& e) { e.status = "DEPRECATED"; }));
  EXPECT_THAT(Ids(*config_->CommandsForApplication("a", {"DEPRECATED"})), ElementsAre("old"));
  EXPECT_THAT(Ids(*config_->CommandsForApplication("a", {"ACTIVE", "DEPRECATED"})),
              UnorderedElementsAre("active", "old"));
  EXPECT_THAT(*config_->CommandsForApplication("a", {"INACTIVE"}), IsEmpty());

  EXPECT_THAT(Ids(*config_->ClustersForCommand("active", {})), UnorderedElementsAre("up", "down"));
  EXPECT_THAT(Ids(*config_->ClustersForCommand("active", {"UP"})), ElementsAre("up"));
  EXPECT_THAT(*config_->ClustersForCommand("unlinked", {}), IsEmpty());
}

// ---- FindCandidates ---------------------------------------------------------------------------

class FindCandidatesTest : public StoreContractTest {
 protected:
  void SetUp() override {
    StoreContractTest::SetUp();
    if (HasFatalFailure()) return;
    auto tags = [](std::vector<std::string> t) { return [t](ConfigEntity& e) { e.tags = t; }; };
    Put(Cluster("sla", tags({"sched:sla", "type:yarn"})));
    Put(Cluster("adhoc", tags({"sched:adhoc", "type:yarn"})));
    Put(Cluster("oos", [](ConfigEntity& e) {
      e.tags = {"sched:sla", "type:yarn"};
      e.status = "OUT_OF_SERVICE";
    }));
    Put(Cluster("hive-only", tags({"sched:sla", "type:yarn"})));
    Put(Cluster("bare", tags({"sched:sla", "type:yarn"})));  // no commands at all
    Put(Cmd("spark2", tags({"type:spark", "ver:2"})));
    Put(Cmd("spark3", tags({"type:spark", "ver:3"})));
    Put(Cmd("spark-old", [](ConfigEntity& e) {
      e.tags = {"type:spark"};
      e.status = "DEPRECATED";
    }));
    Put(Cmd("hive", tags({"type:hive"})));
    ASSERT_TRUE(config_->SetClusterCommands("sla", {"spark-old", "spark3", "hive", "spark2"}).ok());
    ASSERT_TRUE(config_->SetClusterCommands("adhoc", {"spark2"}).ok());
    ASSERT_TRUE(config_->SetClusterCommands("oos", {"spark2", "spark3"}).ok());
    ASSERT_TRUE(config_->SetClusterCommands("hive-only", {"hive"}).ok());
  }

  // cluster id → its commands' ids, clusters in id order (the interface leaves it open).
  std::map<std::string, std::vector<std::string>> Find(std::vector<std::string> cluster_tags,
                                                       std::vector<std::string> command_tags) {
    Result<std::vector<ConfigStore::Candidate>> r =
        config_->FindCandidates(cluster_tags, command_tags);
    std::map<std::string, std::vector<std::string>> out;
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      return out;
    }
    for (const auto& c : *r) {
      EXPECT_FALSE(out.count(c.cluster.id)) << "cluster listed twice: " << c.cluster.id;
      out[c.cluster.id] = Ids(c.commands);
    }
    return out;
  }
};

TEST_P(FindCandidatesTest, Table) {
  using M = std::map<std::string, std::vector<std::string>>;
  struct Case {
    std::vector<std::string> cluster_tags, command_tags;
    M want;
  };
  const std::vector<Case> cases = {
      // UP clusters only, ACTIVE commands only, in the cluster's order.
      {{"sched:sla"}, {"type:spark"}, M{{"sla", {"spark3", "spark2"}}}},
      {{"type:yarn"}, {"type:spark"}, M{{"sla", {"spark3", "spark2"}}, {"adhoc", {"spark2"}}}},
      {{"type:yarn"}, {"type:spark", "ver:2"}, M{{"sla", {"spark2"}}, {"adhoc", {"spark2"}}}},
      {{"sched:sla", "type:yarn"}, {"type:hive"}, M{{"sla", {"hive"}}, {"hive-only", {"hive"}}}},
      {{"sched:sla", "sched:adhoc"}, {"type:spark"}, M{}},
      {{"type:yarn"}, {"type:pig"}, M{}},
      {{"nope"}, {"type:spark"}, M{}},
      // Implicit tags work as criteria.
      {{"genie.id:adhoc"}, {"genie.name:spark2-name"}, M{{"adhoc", {"spark2"}}}},
      // No command tags: every ACTIVE linked command.
      {{"genie.id:sla"}, {}, M{{"sla", {"spark3", "hive", "spark2"}}}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(Find(cases[i].cluster_tags, cases[i].command_tags), cases[i].want) << "case " << i;
  }
}

TEST_P(FindCandidatesTest, ReturnsWholeEntities) {
  Result<std::vector<ConfigStore::Candidate>> r =
      config_->FindCandidates({"sched:adhoc"}, {"ver:2"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].cluster, Cluster("adhoc", [](ConfigEntity& e) {
              e.tags = {"sched:adhoc", "type:yarn"};
            }));
  ASSERT_EQ((*r)[0].commands.size(), 1u);
  EXPECT_EQ((*r)[0].commands[0], Cmd("spark2", [](ConfigEntity& e) {
              e.tags = {"type:spark", "ver:2"};
            }));
}

TEST_P(FindCandidatesTest, FollowsStatusAndLinkChanges) {
  ASSERT_TRUE(config_
                  ->Update(Cluster("adhoc",
                                   [](ConfigEntity& e) {
                                     e.tags = {"sched:adhoc", "type:yarn"};
                                     e.status = "TERMINATED";
                                   }))
                  .ok());
  ASSERT_TRUE(config_->SetClusterCommands("sla", {"spark2", "spark3"}).ok());
  EXPECT_EQ(Find({"type:yarn"}, {"type:spark"}),
            (std::map<std::string, std::vector<std::string>>{{"sla", {"spark2", "spark3"}}}));
}

// ---- jobs -------------------------------------------------------------------------------------

JobRecord FullJob() {
  return Job("full", At(10), [](JobRecord& r) {
    r.updated = At(20);
    r.request.name = "nightly";
    r.request.user = "dora";
    r.request.version = "2.1";
    r.request.description = "a description";
    r.request.metadata_json = R"({"team":"etl"})";
    r.request.tags = {"sched:daily", "team:etl"};
    r.request.setup_file = "s3://b/setup";
    r.request.configs = {"s3://b/c"};
    r.request.dependencies = {"s3://b/d1", "s3://b/d2"};
    r.request.command_args = "-e 'select 1'";
    r.request.command_arguments = {"a b", "c"};
    r.request.cluster_criterias = {model::ClusterCriteria{{"sched:sla", "type:yarn"}},
                                   model::ClusterCriteria{{"sched:adhoc"}}};
    r.request.command_criteria = {"type:spark", "ver:3"};
    r.request.group = "etl";
    r.request.disable_log_archival = true;
    r.request.email = "dora@example.com";
    r.request.cpu = 4;
    r.request.memory = 4096;
    r.request.timeout = 3600;
    r.request.applications = {"spark3", "hadoop"};
    r.request.grouping = "pipeline";
    r.request.grouping_instance = "pipeline-2024-01-01";
    r.job.status = JobStatus::kRunning;
    r.job.status_msg = std::string(model::kMsgRunning);
    r.job.started = At(11);
    r.job.archive_location = "s3://archive/full";
    r.job.cluster_id = "sla";
    r.job.cluster_name = "sla-name";
    r.job.command_id = "spark3";
    r.job.command_name = "spark3-name";
    r.job.application_ids = {"spark3", "hadoop"};
    r.execution.host_name = "node-1";
    r.execution.process_id = 4242;
    r.execution.check_delay = 500;
    r.execution.timeout = 3600;
    r.execution.memory = 4096;
    r.execution.slurm_job_id = "8812";
    r.metadata.client_host = "10.0.0.1";
    r.metadata.user_agent = "pygenie/3.3";
    r.metadata.num_attachments = 2;
    r.metadata.total_size_of_attachments = 12345;
    r.metadata.std_out_size = 0;
  });
}

TEST_P(StoreContractTest, JobRoundTripsEveryField) {
  JobRecord full = FullJob();
  Put(full);
  Result<JobRecord> got = jobs_->GetJob("full");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, full);

  JobRecord minimal = Job("minimal", At(1));
  Put(minimal);
  EXPECT_EQ(*jobs_->GetJob("minimal"), minimal);
}

TEST_P(StoreContractTest, JobDuplicateIdAndUnknownId) {
  Put(Job("j", At(1)));
  Status s = jobs_->CreateJob(Job("j", At(2), [](JobRecord& r) { r.request.name = "other"; }));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("'j'"));
  EXPECT_EQ(jobs_->GetJob("j")->request.name, "job-j");
  Result<JobRecord> missing = jobs_->GetJob("ghost");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("'ghost'"));
  EXPECT_EQ(jobs_->UpdateJob(Job("ghost", At(1))).code(), StatusCode::kNotFound);
}

TEST_P(StoreContractTest, UpdateJobReplacesStateButNotRequestOrCreated) {
  Put(Job("j", At(1)));
  JobRecord next = FullJob();
  next.id = "j";
  next.created = At(999);
  next.updated = At(50);
  ASSERT_TRUE(jobs_->UpdateJob(next).ok());
  Result<JobRecord> got = jobs_->GetJob("j");
  ASSERT_TRUE(got.ok());
  JobRecord expected = next;
  expected.created = At(1);
  expected.request = Job("j", At(1)).request;
  EXPECT_EQ(*got, expected);
  // The search columns follow the update.
  JobFilter f;
  f.cluster_name = "sla-name";
  f.statuses = {JobStatus::kRunning};
  EXPECT_THAT(SearchJobs(f), ElementsAre("j"));
}

TEST_P(StoreContractTest, FinalStatusNeverChanges) {
  for (JobStatus final_status :
       {JobStatus::kSucceeded, JobStatus::kKilled, JobStatus::kFailed, JobStatus::kInvalid}) {
    const std::string id = "j-" + std::string(model::JobStatusName(final_status));
    Put(Job(id, At(1)));
    JobRecord r = *jobs_->GetJob(id);
    r.job.status = JobStatus::kRunning;
    ASSERT_TRUE(jobs_->UpdateJob(r).ok());
    r.job.status = final_status;
    r.job.finished = At(5);
    r.execution.exit_code = 1;
    ASSERT_TRUE(jobs_->UpdateJob(r).ok());
    for (JobStatus next : {JobStatus::kRunning, JobStatus::kSucceeded, final_status}) {
      JobRecord again = r;
      again.job.status = next;
      again.execution.exit_code = 0;
      Status s = jobs_->UpdateJob(again);
      EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << id;
      EXPECT_THAT(s.message(), HasSubstr(std::string(model::JobStatusName(final_status))));
    }
    EXPECT_EQ(*jobs_->GetJob(id), r);
  }
  // Created final (e.g. INVALID at submission): also frozen.
  Put(Job("born-failed", At(1), [](JobRecord& r) { r.job.status = JobStatus::kFailed; }));
  EXPECT_EQ(jobs_->UpdateJob(Job("born-failed", At(1))).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(jobs_->GetJob("born-failed")->job.status, JobStatus::kFailed);
}

// Six jobs covering every JobFilter field; default order is created desc.
class JobSearchTest : public StoreContractTest {
 protected:
  void SetUp() override {
    StoreContractTest::SetUp();
    if (HasFatalFailure()) return;
    Put(Job("j1", At(1), [](JobRecord& r) {
      r.request.name = "etl-daily";
      r.request.user = "alice";
      r.request.tags = {"team:etl", "sched:daily"};
      r.request.grouping = "pipe";
      r.request.grouping_instance = "pipe-1";
      r.job.status = JobStatus::kSucceeded;
      r.job.started = At(10);
      r.job.finished = At(20);
      r.job.cluster_id = "sla";
      r.job.cluster_name = "sla-cluster";
      r.job.command_id = "spark3";
      r.job.command_name = "spark";
    }));
    Put(Job("j2", At(2), [](JobRecord& r) {
      r.request.name = "etl-hourly";
      r.request.user = "bob";
      r.request.tags = {"team:etl"};
      r.request.grouping = "pipe";
      r.request.grouping_instance = "pipe-2";
      r.job.status = JobStatus::kFailed;
      r.job.started = At(11);
      r.job.finished = At(30);
      r.job.cluster_id = "adhoc";
      r.job.cluster_name = "adhoc-cluster";
      r.job.command_id = "spark2";
      r.job.command_name = "spark";
    }));
    Put(Job("j3", At(3), [](JobRecord& r) {
      r.request.name = "report";
      r.request.user = "alice";
      r.request.tags = {"sched:daily"};
      r.job.status = JobStatus::kRunning;
      r.job.started = At(12);
      r.job.cluster_id = "sla";
      r.job.cluster_name = "sla-cluster";
      r.job.command_id = "hive";
      r.job.command_name = "hive";
    }));
    Put(Job("j4", At(4), [](JobRecord& r) {
      r.request.name = "adhoc-query";
      r.request.user = "carol";
      r.job.status = JobStatus::kInit;
    }));
    Put(Job("j5", At(5), [](JobRecord& r) {
      r.request.name = "etl-daily";
      r.request.user = "alice";
      r.request.tags = {"team:etl", "sched:daily", "prio:high"};
      r.request.grouping = "other";
      r.job.status = JobStatus::kKilled;
      r.job.started = At(20);
      r.job.finished = At(21);
      r.job.cluster_id = "sla";
      r.job.cluster_name = "sla-cluster";
      r.job.command_id = "spark3";
      r.job.command_name = "spark";
    }));
    Put(Job("x6", At(6), [](JobRecord& r) {
      r.request.name = "ETL-daily";
      r.request.user = "alice";
      r.job.status = JobStatus::kInvalid;
      r.job.finished = At(6);
    }));
  }
};

TEST_P(JobSearchTest, EveryFilterField) {
  struct Case {
    std::string what;
    JobFilter filter;
    std::vector<std::string> want;  // in default order: created desc
  };
  auto f = [](const std::function<void(JobFilter&)>& edit) {
    JobFilter jf;
    edit(jf);
    return jf;
  };
  const std::vector<Case> cases = {
      {"none", {}, {"x6", "j5", "j4", "j3", "j2", "j1"}},
      {"id =", f([](auto& x) { x.id = "j3"; }), {"j3"}},
      {"id like", f([](auto& x) { x.id = "j%"; }), {"j5", "j4", "j3", "j2", "j1"}},
      {"name =", f([](auto& x) { x.name = "etl-daily"; }), {"j5", "j1"}},
      {"name like", f([](auto& x) { x.name = "etl-%"; }), {"j5", "j2", "j1"}},
      {"name like is case-sensitive", f([](auto& x) { x.name = "ETL%"; }), {"x6"}},
      {"user =", f([](auto& x) { x.user = "alice"; }), {"x6", "j5", "j3", "j1"}},
      {"user like", f([](auto& x) { x.user = "%o%"; }), {"j4", "j2"}},
      {"one status", f([](auto& x) { x.statuses = {JobStatus::kRunning}; }), {"j3"}},
      {"statuses or-ed",
       f([](auto& x) {
         x.statuses = {JobStatus::kInit, JobStatus::kSucceeded, JobStatus::kKilled};
       }),
       {"j5", "j4", "j1"}},
      {"one tag", f([](auto& x) { x.tags = {"team:etl"}; }), {"j5", "j2", "j1"}},
      {"tags and-ed",
       f([](auto& x) {
         x.tags = {"team:etl", "sched:daily"};
       }),
       {"j5", "j1"}},
      {"three tags",
       f([](auto& x) {
         x.tags = {"team:etl", "sched:daily", "prio:high"};
       }),
       {"j5"}},
      {"unknown tag",
       f([](auto& x) {
         x.tags = {"team:etl", "nope"};
       }),
       {}},
      {"clusterName", f([](auto& x) { x.cluster_name = "sla-cluster"; }), {"j5", "j3", "j1"}},
      {"clusterName like", f([](auto& x) { x.cluster_name = "%hoc%"; }), {"j2"}},
      {"clusterId", f([](auto& x) { x.cluster_id = "adhoc"; }), {"j2"}},
      {"commandName", f([](auto& x) { x.command_name = "spark"; }), {"j5", "j2", "j1"}},
      {"commandId", f([](auto& x) { x.command_id = "spark3"; }), {"j5", "j1"}},
      {"commandId like", f([](auto& x) { x.command_id = "spark%"; }), {"j5", "j2", "j1"}},
      {"grouping", f([](auto& x) { x.grouping = "pipe"; }), {"j2", "j1"}},
      {"groupingInstance", f([](auto& x) { x.grouping_instance = "pipe-2"; }), {"j2"}},
      {"groupingInstance like", f([](auto& x) { x.grouping_instance = "pipe-%"; }), {"j2", "j1"}},
      {"minStarted inclusive", f([](auto& x) { x.min_started = At(12); }), {"j5", "j3"}},
      {"maxStarted exclusive", f([](auto& x) { x.max_started = At(12); }), {"j2", "j1"}},
      {"started window",
       f([](auto& x) {
         x.min_started = At(11);
         x.max_started = At(20);
       }),
       {"j3", "j2"}},
      {"minFinished inclusive", f([](auto& x) { x.min_finished = At(21); }), {"j5", "j2"}},
      {"maxFinished exclusive", f([](auto& x) { x.max_finished = At(20); }), {"x6"}},
      {"finished window",
       f([](auto& x) {
         x.min_finished = At(20);
         x.max_finished = At(30);
       }),
       {"j5", "j1"}},
      {"combined",
       f([](auto& x) {
         x.user = "alice";
         x.tags = {"sched:daily"};
         x.statuses = {JobStatus::kSucceeded, JobStatus::kRunning};
         x.cluster_id = "sla";
       }),
       {"j3", "j1"}},
  };
  for (const Case& c : cases) EXPECT_EQ(SearchJobs(c.filter), c.want) << c.what;
}

TEST_P(JobSearchTest, SortsOnEveryWireField) {
  auto sorted = [&](std::string field, bool asc) { return SearchJobs({}, All({{field, asc}})); };
  EXPECT_EQ(sorted("created", true),
            (std::vector<std::string>{"j1", "j2", "j3", "j4", "j5", "x6"}));
  EXPECT_EQ(sorted("id", false), (std::vector<std::string>{"x6", "j5", "j4", "j3", "j2", "j1"}));
  // Ties fall back to id ascending.
  EXPECT_EQ(sorted("name", true), (std::vector<std::string>{"x6", "j4", "j1", "j5", "j2", "j3"}));
  EXPECT_EQ(sorted("name", false), (std::vector<std::string>{"j3", "j2", "j1", "j5", "j4", "x6"}));
  EXPECT_EQ(sorted("user", true), (std::vector<std::string>{"j1", "j3", "j5", "x6", "j2", "j4"}));
  EXPECT_EQ(sorted("status", true),  // FAILED, INIT, INVALID, KILLED, RUNNING, SUCCEEDED
            (std::vector<std::string>{"j2", "j4", "x6", "j5", "j3", "j1"}));
  EXPECT_EQ(sorted("updated", false),
            (std::vector<std::string>{"x6", "j5", "j4", "j3", "j2", "j1"}));
  // Absent times sort as the smallest value: first ascending, last descending.
  EXPECT_EQ(sorted("started", true),
            (std::vector<std::string>{"j4", "x6", "j1", "j2", "j3", "j5"}));
  EXPECT_EQ(sorted("started", false),
            (std::vector<std::string>{"j5", "j3", "j2", "j1", "j4", "x6"}));
  EXPECT_EQ(sorted("finished", false),
            (std::vector<std::string>{"j2", "j5", "j1", "x6", "j3", "j4"}));
  EXPECT_EQ(sorted("clusterName", true),
            (std::vector<std::string>{"j4", "x6", "j2", "j1", "j3", "j5"}));
  EXPECT_EQ(sorted("commandName", false),
            (std::vector<std::string>{"j1", "j2", "j5", "j3", "j4", "x6"}));
  // Two keys.
  EXPECT_EQ(SearchJobs({}, All({{"commandName", true}, {"created", false}})),
            (std::vector<std::string>{"x6", "j4", "j3", "j5", "j2", "j1"}));
}

TEST_P(JobSearchTest, UnknownSortFieldNamesTheWireNames) {
  Result<Page<JobRecord>> r = jobs_->SearchJobs({}, All({{"cluster_name", true}}));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("'cluster_name'"));
  EXPECT_THAT(r.status().message(), HasSubstr("clusterName"));
  EXPECT_THAT(r.status().message(), HasSubstr("commandName"));
}

TEST_P(JobSearchTest, PagesCarryTheTotal) {
  PageRequest p;
  p.size = 4;
  Result<Page<JobRecord>> first = jobs_->SearchJobs({}, p);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->total, 6);
  EXPECT_EQ(Ids(first->items), (std::vector<std::string>{"x6", "j5", "j4", "j3"}));
  p.page = 1;
  Result<Page<JobRecord>> second = jobs_->SearchJobs({}, p);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->total, 6);
  EXPECT_EQ(Ids(second->items), (std::vector<std::string>{"j2", "j1"}));
  JobFilter alice;
  alice.user = "alice";
  p.page = 0;
  p.size = 1;
  Result<Page<JobRecord>> one = jobs_->SearchJobs(alice, p);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->total, 4);
  EXPECT_EQ(Ids(one->items), std::vector<std::string>{"x6"});
  // Items are whole records.
  EXPECT_EQ(one->items[0], *jobs_->GetJob("x6"));
}

TEST_P(StoreContractTest, JobsWithStatusOldestFirstTiesInCreationOrder) {
  Put(Job("late", At(9)));
  Put(Job("running", At(1), [](JobRecord& r) { r.job.status = JobStatus::kRunning; }));
  Put(Job("done", At(0), [](JobRecord& r) { r.job.status = JobStatus::kSucceeded; }));
  Put(Job("tie-b", At(5)));
  Put(Job("tie-a", At(5)));
  Put(Job("early", At(2)));
  Result<std::vector<JobRecord>> init = jobs_->JobsWithStatus({JobStatus::kInit});
  ASSERT_TRUE(init.ok());
  EXPECT_THAT(Ids(*init), ElementsAre("early", "tie-b", "tie-a", "late"));
  Result<std::vector<JobRecord>> active =
      jobs_->JobsWithStatus({JobStatus::kRunning, JobStatus::kInit});
  ASSERT_TRUE(active.ok());
  EXPECT_THAT(Ids(*active), ElementsAre("running", "early", "tie-b", "tie-a", "late"));
  EXPECT_EQ(active->front(), *jobs_->GetJob("running"));
  EXPECT_THAT(*jobs_->JobsWithStatus({JobStatus::kKilled}), IsEmpty());
}

TEST_P(StoreContractTest, CountActiveJobsCountsInitAndRunningOfOneUser) {
  auto put = [&](std::string id, std::string user, JobStatus s) {
    Put(Job(id, At(1), [&](JobRecord& r) {
      r.request.user = user;
      r.job.status = s;
    }));
  };
  put("1", "alice", JobStatus::kInit);
  put("2", "alice", JobStatus::kRunning);
  put("3", "alice", JobStatus::kSucceeded);
  put("4", "alice", JobStatus::kFailed);
  put("5", "bob", JobStatus::kRunning);
  EXPECT_EQ(*jobs_->CountActiveJobs("alice"), 2);
  EXPECT_EQ(*jobs_->CountActiveJobs("bob"), 1);
  EXPECT_EQ(*jobs_->CountActiveJobs("nobody"), 0);
  JobRecord r = *jobs_->GetJob("2");
  r.job.status = JobStatus::kSucceeded;
  ASSERT_TRUE(jobs_->UpdateJob(r).ok());
  EXPECT_EQ(*jobs_->CountActiveJobs("alice"), 1);
}

// ---- durability and sharing -------------------------------------------------------------------

TEST_P(StoreContractTest, EverythingSurvivesReopening) {
  ConfigEntity app = App("a", [](ConfigEntity& e) {
    e.tags = {"t"};
    e.metadata_json = "{}";
  });
  ConfigEntity cmd = Cmd("c", [](ConfigEntity& e) { e.memory = 512; });
  ConfigEntity cluster = Cluster("cl", [](ConfigEntity& e) { e.tags = {"sched:sla"}; });
  Put(app);
  Put(cmd);
  Put(cluster);
  ASSERT_TRUE(config_->SetCommandApplications("c", {"a"}).ok());
  ASSERT_TRUE(config_->SetClusterCommands("cl", {"c"}).ok());
  JobRecord full = FullJob();
  Put(full);
  full.job.status = JobStatus::kSucceeded;
  full.job.finished = At(30);
  full.execution.exit_code = 0;
  ASSERT_TRUE(jobs_->UpdateJob(full).ok());

  Close();
  Result<Connection> c = backend_->Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  config_ = c->config;
  jobs_ = c->jobs;

  EXPECT_EQ(*config_->Get(Kind::kApplication, "a"), app);
  EXPECT_EQ(*config_->Get(Kind::kCommand, "c"), cmd);
  EXPECT_EQ(*config_->Get(Kind::kCluster, "cl"), cluster);
  EXPECT_THAT(*config_->GetCommandApplications("c"), ElementsAre("a"));
  EXPECT_THAT(*config_->GetClusterCommands("cl"), ElementsAre("c"));
  EXPECT_EQ(*jobs_->GetJob("full"), full);
  ConfigFilter f;
  f.tags = {"t"};
  EXPECT_THAT(Search(Kind::kApplication, f), ElementsAre("a"));
  JobFilter jf;
  jf.tags = {"team:etl"};
  EXPECT_THAT(SearchJobs(jf), ElementsAre("full"));
  EXPECT_EQ(jobs_->UpdateJob(full).code(), StatusCode::kFailedPrecondition);
}

TEST_P(StoreContractTest, SecondConnectionSeesCommittedData) {
  Result<Connection> other = backend_->Connect();
  ASSERT_TRUE(other.ok()) << other.status();
  Put(App("a"));
  Put(Job("j", At(1)));
  EXPECT_TRUE(other->config->Get(Kind::kApplication, "a").ok());
  JobRecord r = *other->jobs->GetJob("j");
  r.job.status = JobStatus::kRunning;
  ASSERT_TRUE(other->jobs->UpdateJob(r).ok());
  EXPECT_EQ(jobs_->GetJob("j")->job.status, JobStatus::kRunning);
  ASSERT_TRUE(other->config->Create(Cmd("c")).ok());
  EXPECT_THAT(Search(Kind::kCommand, {}), ElementsAre("c"));
  EXPECT_EQ(config_->Create(Cmd("c")).code(), StatusCode::kAlreadyExists);
}

// A separate process opens the same storage while this one keeps its connection: each sees the
// other's commits.
TEST_P(StoreContractTest, SecondProcessSeesCommittedData) {
  // Fork with no connection open in this process, so the child inherits no database state.
  Close();
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(go[1]);
    char byte;
    if (read(go[0], &byte, 1) != 1) _exit(10);
    Result<Connection> c = backend_->Connect();
    if (!c.ok()) _exit(11);
    Result<JobRecord> j = c->jobs->GetJob("from-parent");
    if (!j.ok() || j->request.name != "job-from-parent") _exit(12);
    if (!c->config->Get(Kind::kCluster, "cl").ok()) _exit(13);
    if (!c->jobs->CreateJob(Job("from-child", At(2))).ok()) _exit(14);
    _exit(0);
  }
  close(go[0]);
  Result<Connection> c = backend_->Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  config_ = c->config;
  jobs_ = c->jobs;
  Put(Job("from-parent", At(1)));
  Put(Cluster("cl"));
  ASSERT_EQ(write(go[1], "x", 1), 1);
  close(go[1]);

  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "child did not finish in 30 s";
  }
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "child failed at step " << WEXITSTATUS(status);
  Result<JobRecord> from_child = jobs_->GetJob("from-child");
  ASSERT_TRUE(from_child.ok()) << from_child.status();
  EXPECT_EQ(*from_child, Job("from-child", At(2)));
}

TEST_P(StoreContractTest, ConcurrentCallsFromManyThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        JobRecord r = Job(id, At(i));
        if (!jobs_->CreateJob(r).ok()) ++failures;
        r.job.status = JobStatus::kRunning;
        if (!jobs_->UpdateJob(r).ok()) ++failures;
        Result<JobRecord> got = jobs_->GetJob(id);
        if (!got.ok() || *got != r) ++failures;
        if (!config_->Create(App(id)).ok()) ++failures;
        if (!jobs_->SearchJobs({}, PageRequest{}).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*jobs_->CountActiveJobs("alice"), kThreads * kPerThread);
  EXPECT_EQ(config_->Search(Kind::kApplication, {}, PageRequest{})->total, kThreads * kPerThread);
}

std::string BackendName(const ::testing::TestParamInfo<BackendFactory>& info) {
  return info.param.name;
}

// ---- shared queue, nodes, leases (issue 11) ----------------------------------------------------

JobRecord Queued(const std::string& id, TimePoint created, int memory) {
  return Job(id, created, [memory](JobRecord& r) {
    r.job.status_msg = std::string(model::kMsgQueued);
    r.execution.memory = memory;
    r.execution.host_name = "";  // not placed yet: enters the shared queue
  });
}

std::optional<std::string> Claim(JobStore& jobs, const std::string& node, int64_t max_memory) {
  Result<std::optional<JobRecord>> r = jobs.ClaimQueuedJob(node, max_memory, At(100));
  if (!r.ok()) {
    ADD_FAILURE() << r.status();
    return "<error>";
  }
  if (!*r) return std::nullopt;
  EXPECT_EQ((*r)->execution.host_name, node);
  return (*r)->id;
}

TEST_P(StoreContractTest, QueuedJobsAreClaimedOldestFirstOnceAndRecordTheirNode) {
  Put(Queued("q1", At(1), 100));
  Put(Queued("q2", At(2), 500));
  Put(Queued("q3", At(3), 100));
  Put(Job("placed", At(0), [](JobRecord& r) { r.execution.host_name = "node-a"; }));

  EXPECT_EQ(Claim(*jobs_, "node-b", -1), "q1");
  Result<JobRecord> q1 = jobs_->GetJob("q1");
  ASSERT_TRUE(q1.ok()) << q1.status();
  EXPECT_EQ(q1->execution.host_name, "node-b");
  EXPECT_EQ(q1->job.status, JobStatus::kInit);
  EXPECT_EQ(q1->updated, At(100));
  // FIFO: q2 does not fit in 200 MB, so q3 waits behind it.
  EXPECT_EQ(Claim(*jobs_, "node-b", 200), std::nullopt);
  EXPECT_EQ(Claim(*jobs_, "node-c", 500), "q2");
  // Taken out unclaimed (a kill of a queued job): nobody claims it any more.
  Result<bool> out = jobs_->UnqueueJob("q3");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(*out);
  EXPECT_EQ(Claim(*jobs_, "node-b", -1), std::nullopt);
  out = jobs_->UnqueueJob("q3");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(*out);
  out = jobs_->UnqueueJob("placed");  // never queued
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(*out);
}

TEST_P(StoreContractTest, ConcurrentClaimsOverSeparateConnectionsTakeEveryJobExactlyOnce) {
  constexpr int kJobs = 40;
  for (int i = 0; i < kJobs; ++i) Put(Queued("j" + std::to_string(i), At(i), 10));
  constexpr int kClaimers = 4;
  std::vector<std::vector<std::string>> claimed(kClaimers);
  std::vector<std::thread> threads;
  std::vector<Connection> connections;
  for (int t = 0; t < kClaimers; ++t) {
    Result<Connection> c = backend_->Connect();
    ASSERT_TRUE(c.ok()) << c.status();
    connections.push_back(*c);
  }
  for (int t = 0; t < kClaimers; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        auto r = connections[t].jobs->ClaimQueuedJob("node-" + std::to_string(t), -1, At(100));
        if (!r.ok()) {
          if (r.status().code() == StatusCode::kUnavailable) continue;  // busy: retry
          ADD_FAILURE() << r.status();
          return;
        }
        if (!*r) return;
        claimed[t].push_back((*r)->id);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::map<std::string, int> times;
  for (const auto& ids : claimed) {
    for (const auto& id : ids) ++times[id];
  }
  EXPECT_EQ(times.size(), static_cast<size_t>(kJobs));
  for (const auto& [id, n] : times) EXPECT_EQ(n, 1) << id << " claimed " << n << " times";
  // Each job records the node that claimed it.
  for (int t = 0; t < kClaimers; ++t) {
    for (const auto& id : claimed[t]) {
      Result<JobRecord> r = jobs_->GetJob(id);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->execution.host_name, "node-" + std::to_string(t)) << id;
    }
  }
}

TEST_P(StoreContractTest, NodesAreUpsertedAndListedById) {
  NodeRecord b{"node-b", "http://b:8080", At(1), At(5), 2, 1000, 400};
  NodeRecord a{"node-a", "http://a:8080", At(1), At(6), 0, 0, -1};
  ASSERT_TRUE(nodes_->PutNode(b).ok());
  ASSERT_TRUE(nodes_->PutNode(a).ok());
  b.heartbeat = At(9);
  b.running_jobs = 3;
  b.free_memory_mb = 100;
  ASSERT_TRUE(nodes_->PutNode(b).ok());
  Result<std::vector<NodeRecord>> all = nodes_->ListNodes();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "node-a");
  EXPECT_EQ((*all)[0].free_memory_mb, -1);
  EXPECT_EQ((*all)[1].id, "node-b");
  EXPECT_EQ((*all)[1].url, "http://b:8080");
  EXPECT_EQ((*all)[1].heartbeat, At(9));
  EXPECT_EQ((*all)[1].running_jobs, 3);
  EXPECT_EQ((*all)[1].capacity_mb, 1000);
  EXPECT_EQ((*all)[1].free_memory_mb, 100);
  EXPECT_EQ(nodes_->GetNode("node-c").status().code(), StatusCode::kNotFound);
  Result<NodeRecord> got = nodes_->GetNode("node-b");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->started, At(1));
}

TEST_P(StoreContractTest, ALeaseIsHeldUntilItExpiresAndItsTokenGrowsWithEachNewHolder) {
  const Millis ttl(10000);
  auto take = [&](const std::string& node, int64_t at) {
    Result<LeaseRecord> l = nodes_->AcquireLease("leader", node, At(at), ttl);
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? *l : LeaseRecord{};
  };
  Result<LeaseRecord> none = nodes_->GetLease("leader");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->holder, "");
  LeaseRecord l = take("a", 0);
  EXPECT_EQ(l.holder, "a");
  EXPECT_EQ(l.token, 1);
  EXPECT_EQ(l.expires, At(10));
  l = take("b", 5);  // held: b does not get it
  EXPECT_EQ(l.holder, "a");
  EXPECT_EQ(l.token, 1);
  l = take("a", 8);  // renewed: same token, later expiry
  EXPECT_EQ(l.holder, "a");
  EXPECT_EQ(l.token, 1);
  EXPECT_EQ(l.expires, At(18));
  l = take("b", 18);  // expired: b takes over with a new token
  EXPECT_EQ(l.holder, "b");
  EXPECT_EQ(l.token, 2);
  EXPECT_EQ(l.acquired, At(18));
  l = take("a", 19);  // the old holder comes back too late
  EXPECT_EQ(l.holder, "b");
  EXPECT_EQ(l.token, 2);
  Result<LeaseRecord> stored = nodes_->GetLease("leader");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->holder, "b");
  EXPECT_EQ(stored->token, 2);
  EXPECT_EQ(stored->expires, At(28));
}

// ---- database cleanup --------------------------------------------------------------------------

TEST_P(StoreContractTest, DeleteFinishedJobsRemovesOnlyOldFinishedJobsOldestFirstInBatches) {
  auto put = [&](std::string id, JobStatus s, std::optional<int64_t> finished) {
    Put(Job(id, At(0), [&](JobRecord& r) {
      r.job.status = s;
      if (finished) r.job.finished = At(*finished);
      r.request.tags = {"sched:sla", "cleanup"};
      r.request.name = "cleanme-" + id;
    }));
  };
  put("old-b", JobStatus::kSucceeded, 10);
  put("old-a", JobStatus::kFailed, 10);  // same finished time: id order
  put("old-c", JobStatus::kKilled, 20);
  put("recent", JobStatus::kSucceeded, 100);
  put("edge", JobStatus::kSucceeded, 50);  // finished exactly at the cut: kept
  put("running", JobStatus::kRunning, std::nullopt);
  put("init", JobStatus::kInit, std::nullopt);
  // An active job with a finished time (never written by weir, but never removed either).
  put("odd", JobStatus::kRunning, 5);

  Result<std::vector<JobRecord>> first = jobs_->DeleteFinishedJobs(At(50), 2);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(Ids(*first), (std::vector<std::string>{"old-a", "old-b"}));
  EXPECT_EQ((*first)[0].request.name, "cleanme-old-a");  // whole records come back
  EXPECT_EQ(jobs_->GetJob("old-a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(jobs_->GetJob("old-b").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(jobs_->GetJob("old-c").ok());

  Result<std::vector<JobRecord>> second = jobs_->DeleteFinishedJobs(At(50), 2);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Ids(*second), (std::vector<std::string>{"old-c"}));
  Result<std::vector<JobRecord>> third = jobs_->DeleteFinishedJobs(At(50), 2);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(third->empty());

  for (const char* kept : {"recent", "edge", "running", "init", "odd"}) {
    EXPECT_TRUE(jobs_->GetJob(kept).ok()) << kept;
  }
  // Tags, searches and the full-text index no longer know the removed jobs.
  JobFilter tagged;
  tagged.tags = {"cleanup"};
  EXPECT_EQ(SearchJobs(tagged),
            (std::vector<std::string>{"edge", "init", "odd", "recent", "running"}));
  SearchQuery q;
  q.terms = {"cleanme"};
  PageRequest page;
  page.size = 100;
  Result<Page<SearchHit>> hits = search_->SearchText(q, page);
  ASSERT_TRUE(hits.ok()) << hits.status();
  std::vector<std::string> hit_ids = Ids(hits->items);
  std::sort(hit_ids.begin(), hit_ids.end());
  EXPECT_EQ(hit_ids, (std::vector<std::string>{"edge", "init", "odd", "recent", "running"}));
  // The id is free again.
  put("old-a", JobStatus::kSucceeded, 200);
  EXPECT_EQ(jobs_->DeleteFinishedJobs(At(50), 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreContractTest, DeleteFinishedJobsTakesAFinishedJobOutOfTheQueue) {
  // A queued job that ended before any node claimed it (a kill of a queued job that raced).
  Put(Queued("q1", At(1), 100));
  JobRecord r = *jobs_->GetJob("q1");
  r.job.status = JobStatus::kKilled;
  r.job.finished = At(2);
  ASSERT_TRUE(jobs_->UpdateJob(r).ok());
  Result<std::vector<JobRecord>> gone = jobs_->DeleteFinishedJobs(At(10), 10);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(Ids(*gone), (std::vector<std::string>{"q1"}));
  Result<bool> out = jobs_->UnqueueJob("q1");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(*out);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest, ::testing::ValuesIn(Backends()), BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, FindCandidatesTest, ::testing::ValuesIn(Backends()),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, JobSearchTest, ::testing::ValuesIn(Backends()), BackendName);

}  // namespace
}  // namespace weir::store
