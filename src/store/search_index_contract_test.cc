// The SearchIndex contract of store.h (and ParseSearchQuery), run against every backend.
//
// Documents of jobs and entities come from the backend's own JobStore/ConfigStore writes; the
// tests only ever write through those interfaces and read through SearchText. Add a backend by
// adding a factory to Backends() below. Nothing is timed. PostgreSQL runs on a throwaway server
// (store/testing/postgres_server.h), one fresh database per test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/testing/required_services.h"
#include "store/open.h"
#include "store/store.h"
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

struct Stores {
  std::shared_ptr<ConfigStore> config;
  std::shared_ptr<JobStore> jobs;
  std::shared_ptr<SearchIndex> search;
};

class SearchBackend {
 public:
  virtual ~SearchBackend() = default;
  virtual Result<Stores> Open() = 0;
  // Why this backend cannot run here ("" when it can).
  virtual std::string Missing() const { return ""; }
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<SearchBackend>()> make;
};

class SqliteSearchBackend : public SearchBackend {
 public:
  SqliteSearchBackend() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "weir-search-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
  }
  ~SqliteSearchBackend() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Result<Stores> Open() override {
    WEIR_ASSIGN_OR_RETURN(SqliteStores s, OpenSqlite((dir_ / "weir.db").string(), clock_));
    return Stores{s.config, s.jobs, s.search};
  }

 private:
  std::filesystem::path dir_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
};

// A fresh database on the test process's shared PostgreSQL server.
class PostgresSearchBackend : public SearchBackend {
 public:
  PostgresSearchBackend() {
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
  Result<Stores> Open() override {
    WEIR_ASSIGN_OR_RETURN(SqliteStores s, OpenStores(where_, clock_));
    return Stores{s.config, s.jobs, s.search};
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
  return {{"sqlite", [] { return std::make_unique<SqliteSearchBackend>(); }},
          {"postgres", [] { return std::make_unique<PostgresSearchBackend>(); }}};
}

TimePoint At(int64_t seconds) { return FromEpochMillis(1'700'000'000'000 + seconds * 1000); }

JobRecord Job(const std::string& id, const std::string& name, std::vector<std::string> tags = {},
              std::string args = "") {
  JobRecord r;
  r.id = id;
  r.request.id = id;
  r.request.name = name;
  r.request.user = "alice";
  r.request.version = "1";
  r.request.tags = std::move(tags);
  if (!args.empty()) r.request.command_args = args;
  r.request.command_criteria = {"type:spark"};
  r.job.status = JobStatus::kInit;
  r.job.status_msg = std::string(model::kMsgAccepted);
  r.created = r.updated = At(1);
  return r;
}

ConfigEntity Entity(Kind kind, const std::string& id, const std::string& name,
                    std::string description) {
  ConfigEntity e;
  e.kind = kind;
  e.id = id;
  e.name = name;
  e.user = "ops";
  e.version = "1";
  e.status = kind == Kind::kCluster ? "UP" : "ACTIVE";
  e.description = std::move(description);
  e.tags = {"genie.id:" + id, "genie.name:" + name};
  e.created = e.updated = At(1);
  return e;
}

SearchQuery Q(std::string_view text, std::vector<SearchKind> kinds = {}) {
  Result<std::vector<std::string>> terms = ParseSearchQuery(text);
  EXPECT_TRUE(terms.ok()) << terms.status();
  SearchQuery q;
  if (terms.ok()) q.terms = *terms;
  q.kinds = std::move(kinds);
  return q;
}

PageRequest Size(int size, int page = 0) {
  PageRequest p;
  p.size = size;
  p.page = page;
  return p;
}

class SearchIndexContractTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (std::string why = backend_->Missing(); !why.empty()) {
      WEIR_MISSING_SERVICE("postgresql", why);
    }
    Result<Stores> s = backend_->Open();
    ASSERT_TRUE(s.ok()) << s.status();
    s_ = *s;
  }

  // Ids of the hits, in order.
  std::vector<std::string> Ids(const SearchQuery& q, const PageRequest& p = Size(100)) {
    Result<Page<SearchHit>> r = s_.search->SearchText(q, p);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> out;
    if (r.ok()) {
      for (const auto& h : r->items) out.push_back(h.id);
    }
    return out;
  }

  std::unique_ptr<SearchBackend> backend_;
  Stores s_;
};

TEST_P(SearchIndexContractTest, FindsAJobByAWordOfItsArgumentsAndByATagFragment) {
  ASSERT_TRUE(s_.jobs
                  ->CreateJob(Job("j1", "nightly", {"sched:sla", "team:data"},
                                  "--input s3://bucket/clickstream --date 2026-12-01"))
                  .ok());
  ASSERT_TRUE(s_.jobs->CreateJob(Job("j2", "hourly", {"sched:adhoc"}, "--input orders")).ok());
  EXPECT_THAT(Ids(Q("clickstream")), ElementsAre("j1"));
  EXPECT_THAT(Ids(Q("sched:s")), ElementsAre("j1"));
  EXPECT_THAT(Ids(Q("sched:")), UnorderedElementsAre("j1", "j2"));
  // Every term must match.
  EXPECT_THAT(Ids(Q("orders hourly")), ElementsAre("j2"));
  EXPECT_THAT(Ids(Q("orders nightly")), IsEmpty());
  // The user, the status message and the id are searchable too.
  EXPECT_THAT(Ids(Q("alice")), UnorderedElementsAre("j1", "j2"));
  EXPECT_THAT(Ids(Q("initialization")), UnorderedElementsAre("j1", "j2"));
  EXPECT_THAT(Ids(Q("j2")), ElementsAre("j2"));
}

TEST_P(SearchIndexContractTest, AnUpdatedJobIsFoundByItsNewStatusMessageOnly) {
  JobRecord r = Job("j1", "etl");
  ASSERT_TRUE(s_.jobs->CreateJob(r).ok());
  r.job.status = JobStatus::kFailed;
  r.job.status_msg = "Job failed: quota exhausted";
  r.updated = At(2);
  ASSERT_TRUE(s_.jobs->UpdateJob(r).ok());
  EXPECT_THAT(Ids(Q("quota")), ElementsAre("j1"));
  EXPECT_THAT(Ids(Q("initialization")), IsEmpty());
  Result<Page<SearchHit>> hits = s_.search->SearchText(Q("quota"), Size(10));
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->items.size(), 1u);
  EXPECT_EQ(hits->items[0].status, "FAILED");
  EXPECT_EQ(hits->items[0].kind, SearchKind::kJob);
}

TEST_P(SearchIndexContractTest, TheExactNameComesFirst) {
  // Documents that mention "etl" more often, or in a longer name, must not outrank the job
  // named exactly "etl".
  ASSERT_TRUE(s_.jobs->CreateJob(Job("a", "etl-nightly-backfill", {"etl"}, "etl etl etl")).ok());
  ASSERT_TRUE(s_.jobs->CreateJob(Job("b", "report", {}, "--after etl")).ok());
  ASSERT_TRUE(s_.jobs->CreateJob(Job("c", "ETL", {}, "")).ok());
  ASSERT_TRUE(s_.jobs->CreateJob(Job("d", "etl loader", {"etl"}, "etl")).ok());
  std::vector<std::string> ids = Ids(Q("etl"));
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids[0], "c");
  // A match in the name outranks one only in the arguments.
  EXPECT_EQ(ids[3], "b");
}

TEST_P(SearchIndexContractTest, HitsCarryMarkedHighlights) {
  ASSERT_TRUE(s_.jobs->CreateJob(Job("j1", "clickstream loader", {}, "--from kafka")).ok());
  Result<Page<SearchHit>> hits = s_.search->SearchText(Q("click"), Size(10));
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_EQ(hits->items.size(), 1u);
  EXPECT_EQ(hits->items[0].name, "clickstream loader");
  EXPECT_EQ(hits->items[0].name_highlight, "<mark>clickstream</mark> loader");
  EXPECT_THAT(hits->items[0].snippet, HasSubstr("<mark>clickstream</mark>"));
  hits = s_.search->SearchText(Q("kafka"), Size(10));
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->items.size(), 1u);
  EXPECT_EQ(hits->items[0].name_highlight, "clickstream loader");
  EXPECT_THAT(hits->items[0].snippet, HasSubstr("<mark>kafka</mark>"));
  EXPECT_GT(hits->items[0].score, 0);
}

TEST_P(SearchIndexContractTest, PagesAreStableAndCountEveryMatch) {
  for (int i = 0; i < 25; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "j%02d", i);
    ASSERT_TRUE(s_.jobs->CreateJob(Job(id, "same name", {}, "")).ok());
  }
  std::vector<std::string> all;
  for (int page = 0; page < 3; ++page) {
    Result<Page<SearchHit>> r = s_.search->SearchText(Q("same"), Size(10, page));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->total, 25);
    for (const auto& h : r->items) all.push_back(h.id);
  }
  ASSERT_EQ(all.size(), 25u);
  std::vector<std::string> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(all, sorted);  // equal relevance: by id
  Result<Page<SearchHit>> past = s_.search->SearchText(Q("same"), Size(10, 9));
  ASSERT_TRUE(past.ok());
  EXPECT_THAT(past->items, IsEmpty());
  EXPECT_EQ(past->total, 25);
  EXPECT_EQ(s_.search->SearchText(Q("same"), Size(0)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(SearchIndexContractTest, EntitiesAreIndexedAsTheyChangeAndForgottenWhenDeleted) {
  ASSERT_TRUE(
      s_.config->Create(Entity(Kind::kCluster, "c1", "yarn-prod", "the production warehouse"))
          .ok());
  ASSERT_TRUE(
      s_.config->Create(Entity(Kind::kCommand, "cmd1", "spark-submit", "spark on the warehouse"))
          .ok());
  ASSERT_TRUE(s_.jobs->CreateJob(Job("j1", "warehouse load")).ok());
  EXPECT_THAT(Ids(Q("warehouse")), UnorderedElementsAre("c1", "cmd1", "j1"));
  EXPECT_THAT(Ids(Q("warehouse"), /*p=*/Size(100)).size(), 3u);
  EXPECT_THAT(Ids(Q("warehouse", {SearchKind::kCluster, SearchKind::kJob})),
              UnorderedElementsAre("c1", "j1"));
  EXPECT_THAT(Ids(Q("genie.name:yarn")), ElementsAre("c1"));

  ConfigEntity changed = Entity(Kind::kCluster, "c1", "yarn-prod", "moved to the lakehouse");
  changed.updated = At(5);
  ASSERT_TRUE(s_.config->Update(changed).ok());
  EXPECT_THAT(Ids(Q("lakehouse")), ElementsAre("c1"));
  EXPECT_THAT(Ids(Q("warehouse")), UnorderedElementsAre("cmd1", "j1"));

  ASSERT_TRUE(s_.config->Delete(Kind::kCluster, "c1").ok());
  EXPECT_THAT(Ids(Q("lakehouse")), IsEmpty());
  ASSERT_TRUE(s_.config->DeleteAll(Kind::kCommand).ok());
  EXPECT_THAT(Ids(Q("warehouse")), ElementsAre("j1"));
}

TEST_P(SearchIndexContractTest, WorkflowDocumentsAreHandedIn) {
  SearchDocument d;
  d.kind = SearchKind::kWorkflow;
  d.id = "prod:acme.etl.daily";
  d.name = d.id;
  d.text = "daily revenue rollup extract transform";
  ASSERT_TRUE(s_.search->PutSearchDocument(d).ok());
  EXPECT_THAT(Ids(Q("revenue")), ElementsAre("prod:acme.etl.daily"));
  EXPECT_THAT(Ids(Q("acme.etl")), ElementsAre("prod:acme.etl.daily"));
  d.text = "weekly";
  ASSERT_TRUE(s_.search->PutSearchDocument(d).ok());
  EXPECT_THAT(Ids(Q("revenue")), IsEmpty());

  SearchDocument other = d;
  other.id = other.name = "dev:acme.etl.daily";
  ASSERT_TRUE(s_.search->ReplaceSearchDocuments(SearchKind::kWorkflow, {other}).ok());
  EXPECT_THAT(Ids(Q("weekly")), ElementsAre("dev:acme.etl.daily"));
  ASSERT_TRUE(s_.search->RemoveSearchDocument(SearchKind::kWorkflow, other.id).ok());
  EXPECT_THAT(Ids(Q("weekly")), IsEmpty());
  EXPECT_TRUE(s_.search->RemoveSearchDocument(SearchKind::kWorkflow, "absent").ok());

  // Jobs and entities are the store's own documents.
  SearchDocument job = d;
  job.kind = SearchKind::kJob;
  EXPECT_EQ(s_.search->PutSearchDocument(job).code(), StatusCode::kInvalidArgument);
}

TEST_P(SearchIndexContractTest, HostileQueriesNeverBecomeStorageErrors) {
  ASSERT_TRUE(s_.jobs->CreateJob(Job("j1", "near me", {"a\"b"}, "--x \"quoted\" * (NEAR)")).ok());
  for (std::string_view text :
       {"\"",   "\"\"",      "near(",     "NEAR(a b)", "a OR b",  "AND",           "NOT x",
        "*",    "x*",        "^start",    "a:b:c",     "col:val", "{ref name}: x", "-x",
        "+x",   "(",         ")",         "\"quoted",  "a\"b",    "a'b",           "é",
        "🙂", "name:near", "  near   ", "a\tb"}) {
    Result<std::vector<std::string>> terms = ParseSearchQuery(text);
    if (!terms.ok()) {
      EXPECT_EQ(terms.status().code(), StatusCode::kInvalidArgument) << text;
      continue;
    }
    SearchQuery q;
    q.terms = *terms;
    Result<Page<SearchHit>> r = s_.search->SearchText(q, Size(10));
    EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  }
  EXPECT_THAT(Ids(Q("NEAR(")), ElementsAre("j1"));
  EXPECT_THAT(Ids(Q("\"quoted")), ElementsAre("j1"));
}

INSTANTIATE_TEST_SUITE_P(Backends, SearchIndexContractTest, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

// ---- ParseSearchQuery (the same for every backend) --------------------------------------------

TEST(ParseSearchQueryTest, SplitsOnWhiteSpaceAndDropsPunctuationOnlyTerms) {
  Result<std::vector<std::string>> t = ParseSearchQuery("  etl  sched:s * \"\" NEAR(");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(*t, ElementsAre("etl", "sched:s", "NEAR("));
}

TEST(ParseSearchQueryTest, RefusesQueriesWithNothingToFindOrTooMuch) {
  for (std::string_view text : {"", "   ", "*", "\" ( ) *"}) {
    Result<std::vector<std::string>> t = ParseSearchQuery(text);
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(t.status().message(), HasSubstr("q: "));
  }
  EXPECT_EQ(ParseSearchQuery(std::string(kMaxSearchQueryBytes + 1, 'a')).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(ParseSearchQuery(std::string(kMaxSearchQueryBytes, 'a')).ok());
  std::string many;
  for (size_t i = 0; i <= kMaxSearchTerms; ++i) many += "w ";
  EXPECT_THAT(ParseSearchQuery(many).status().message(), HasSubstr("words"));
  EXPECT_EQ(ParseSearchQuery("bad\x01").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSearchQuery("\xff\xfe").status().code(), StatusCode::kInvalidArgument);
}

TEST(ParseSearchQueryTest, KindsHaveWireNames) {
  for (SearchKind k : {SearchKind::kJob, SearchKind::kApplication, SearchKind::kCommand,
                       SearchKind::kCluster, SearchKind::kWorkflow}) {
    Result<SearchKind> back = ParseSearchKind(SearchKindName(k));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, k);
  }
  EXPECT_THAT(ParseSearchKind("jobs").status().message(), HasSubstr("workflow"));
}

}  // namespace
}  // namespace weir::store
