// SQLite-only behaviour of the store: what is on disk, schema versions, damaged or locked files.
// The behaviour every backend shares is in ../store_contract_test.cc.
#include "store/sqlite/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/schema.h"

namespace weir::store::sqlite {
namespace {

using ::testing::HasSubstr;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "weir-sqlite-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "weir.db").string();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A plain SQLite connection beside the store's, to look at or tamper with the file.
  sqlite3* Raw() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    raw_.push_back(db);
    return db;
  }
  void TearDownRaw() {
    for (sqlite3* db : raw_) sqlite3_close(db);
    raw_.clear();
  }
  ~SqliteStoreTest() override { TearDownRaw(); }

  static std::string Scalar(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return out;
  }
  static void Exec(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << " in " << sql;
  }

  static model::JobRecord Job(const std::string& id) {
    model::JobRecord r;
    r.id = id;
    r.request.id = id;
    r.request.name = "n";
    r.request.user = "u";
    r.request.version = "1";
    return r;
  }

  std::filesystem::path dir_;
  std::string path_;
  std::vector<sqlite3*> raw_;
};

TEST_F(SqliteStoreTest, NewFileIsInWalModeAtTheCurrentSchemaVersion) {
  auto store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  sqlite3* db = Raw();
  EXPECT_EQ(Scalar(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(Scalar(db, "SELECT group_concat(version) FROM schema_version"),
            std::to_string(kSchemaVersion));
  // The indexes the job queries rely on.
  for (const char* index :
       {"jobs_status", "jobs_user_status", "jobs_created", "jobs_grouping", "job_tags_tag",
        "cluster_tags_tag", "command_applications_order", "cluster_commands_order"}) {
    EXPECT_EQ(Scalar(db, std::string("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                     "name = '") +
                             index + "'"),
              "1")
        << index;
  }
}

TEST_F(SqliteStoreTest, ReopeningDoesNotMigrateAgain) {
  {
    auto store = SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->CreateJob(Job("j")).ok());
  }
  auto again = SqliteStore::Open(path_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE((*again)->GetJob("j").ok());
  EXPECT_EQ(Scalar(Raw(), "SELECT count(*) FROM schema_version"), "1");
}

TEST_F(SqliteStoreTest, ConcurrentFirstOpensMigrateOnce) {
  std::vector<std::thread> threads;
  std::vector<Status> results(4);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      auto s = SqliteStore::Open(path_);
      results[i] = s.ok() ? Status::Ok() : s.status();
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Scalar(Raw(), "SELECT group_concat(version) FROM schema_version"),
            std::to_string(kSchemaVersion));
}

TEST_F(SqliteStoreTest, AVersionOneFileGainsTheAuditTableAndKeepsItsJobs) {
  {
    auto store = SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->CreateJob(Job("j")).ok());
  }
  // What a file of the previous release looks like: no audit table, version 1.
  Exec(Raw(),
       "DROP INDEX jobs_finished; DROP TABLE job_queue; DROP TABLE nodes; DROP TABLE leases; "
       "DROP TABLE webhook_deliveries; DROP TABLE webhooks; DROP TABLE audit; DROP TABLE events; "
       "DROP TABLE search_fts; DROP TABLE search_docs; "
       "DROP TABLE search_rebuild; UPDATE schema_version SET version = 1");
  TearDownRaw();
  auto store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->GetJob("j").ok());
  AuditRecord r;
  r.principal = "alice";
  ASSERT_TRUE((*store)->AppendAudit(r).ok());
  EXPECT_TRUE((*store)->LastEventId().ok());
  EXPECT_EQ(Scalar(Raw(), "SELECT version FROM schema_version"), std::to_string(kSchemaVersion));
}

TEST_F(SqliteStoreTest, AVersionTwoFileGetsItsJobsAndEntitiesIndexedForSearchOnUpgrade) {
  {
    auto store = SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok());
    model::JobRecord j = Job("old-job");
    j.request.command_args = "--input clickstream";
    ASSERT_TRUE((*store)->CreateJob(j).ok());
    model::ConfigEntity c;
    c.kind = model::Kind::kCluster;
    c.id = "c1";
    c.name = "lakehouse";
    c.user = "ops";
    c.version = "1";
    c.status = "UP";
    ASSERT_TRUE((*store)->Create(c).ok());
  }
  // A file of the previous release: no search tables, version 2.
  Exec(Raw(),
       "DROP INDEX jobs_finished; DROP TABLE job_queue; DROP TABLE nodes; DROP TABLE leases; "
       "DROP TABLE webhook_deliveries; DROP TABLE webhooks; DROP TABLE events; DROP TABLE "
       "search_fts; DROP TABLE search_docs; DROP TABLE search_rebuild;"
       " UPDATE schema_version SET version = 2");
  TearDownRaw();
  auto store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto Find = [&](const char* word) {
    SearchQuery q;
    q.terms = {word};
    PageRequest p;
    auto r = (*store)->SearchText(q, p);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> ids;
    if (r.ok()) {
      for (const auto& h : r->items) ids.push_back(h.id);
    }
    return ids;
  };
  EXPECT_EQ(Find("clickstream"), std::vector<std::string>{"old-job"});
  EXPECT_EQ(Find("lakehouse"), std::vector<std::string>{"c1"});
  EXPECT_EQ(Scalar(Raw(), "SELECT pending FROM search_rebuild"), "0");
  // Indexed once: a second open finds each document once.
  store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(Find("clickstream"), std::vector<std::string>{"old-job"});
}

TEST_F(SqliteStoreTest, AVersionFourFileGainsWebhooksAndKeepsItsEvents) {
  int64_t event = 0;
  {
    auto store = SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok());
    EventRecord e;
    e.type = "JOB_FINISHED";
    e.data = "{}";
    auto id = (*store)->AppendEvent(e);
    ASSERT_TRUE(id.ok());
    event = *id;
  }
  // A file of the previous release: no webhook tables, version 4.
  Exec(Raw(),
       "DROP INDEX jobs_finished; DROP TABLE job_queue; DROP TABLE nodes; DROP TABLE leases; "
       "DROP TABLE webhook_deliveries; DROP TABLE webhooks; UPDATE schema_version SET version = 4");
  TearDownRaw();
  auto store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->LastEventId(), event);
  WebhookRecord w;
  w.id = "h";
  w.url = "https://example.com/h";
  w.secret = "s";
  ASSERT_TRUE((*store)->CreateWebhook(w).ok());
  EXPECT_TRUE((*store)->ListDeliveries("h", 10)->empty());
  EXPECT_EQ(Scalar(Raw(), "SELECT version FROM schema_version"), std::to_string(kSchemaVersion));
}

TEST_F(SqliteStoreTest, FtsQueryQuotesEveryTermAsAPrefixPhrase) {
  EXPECT_EQ(FtsQuery({"sched:s", "a\"b", "NEAR("}), "\"sched:s\"* \"a\"\"b\"* \"NEAR(\"*");
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefused) {
  ASSERT_TRUE(SqliteStore::Open(path_).ok());
  Exec(Raw(), "UPDATE schema_version SET version = 99");
  TearDownRaw();
  auto store = SqliteStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("99"));
  EXPECT_THAT(store.status().message(), HasSubstr("upgrade weir"));
  EXPECT_THAT(store.status().message(), HasSubstr(path_));
}

TEST_F(SqliteStoreTest, FileThatIsNotADatabaseIsRefusedNamingIt) {
  {
    std::ofstream out(path_);
    out << "this is not an sqlite database, just some text that is long enough to look like a "
           "header and then some more text to fill a page";
  }
  auto store = SqliteStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInternal);
  EXPECT_THAT(store.status().message(), HasSubstr(path_));
}

TEST_F(SqliteStoreTest, MissingFolderIsRefusedNamingThePath) {
  const std::string path = (dir_ / "no" / "such" / "weir.db").string();
  auto store = SqliteStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_THAT(store.status().message(), HasSubstr("folder"));
}

TEST_F(SqliteStoreTest, DamagedRecordIsInternalNamingTheJob) {
  auto store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->CreateJob(Job("j")).ok());
  Exec(Raw(), "UPDATE jobs SET state = 'not json' WHERE id = 'j'");
  Result<model::JobRecord> got = (*store)->GetJob("j");
  EXPECT_EQ(got.status().code(), StatusCode::kInternal);
  EXPECT_THAT(got.status().message(), HasSubstr("job 'j'"));
  Exec(Raw(), "UPDATE jobs SET state = '{}', status = 'LOST' WHERE id = 'j'");
  got = (*store)->GetJob("j");
  EXPECT_EQ(got.status().code(), StatusCode::kInternal);
  EXPECT_THAT(got.status().message(), HasSubstr("LOST"));
}

TEST_F(SqliteStoreTest, LockHeldByAnotherProcessIsUnavailable) {
  SqliteOptions options;
  options.busy_timeout_ms = 50;
  auto store = SqliteStore::Open(path_, options);
  ASSERT_TRUE(store.ok());
  sqlite3* other = Raw();
  Exec(other, "BEGIN IMMEDIATE");
  Status s = (*store)->CreateJob(Job("j"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s;
  // Readers are not blocked by the writer (WAL).
  EXPECT_EQ((*store)->GetJob("j").status().code(), StatusCode::kNotFound);
  Exec(other, "COMMIT");
  EXPECT_TRUE((*store)->CreateJob(Job("j")).ok());
}

TEST_F(SqliteStoreTest, ManyDistinctSearchesOutgrowTheStatementCache) {
  SqliteOptions options;
  options.max_cached_statements = 8;
  auto store = SqliteStore::Open(path_, options);
  ASSERT_TRUE(store.ok());
  model::JobRecord r = Job("j");
  r.request.tags = {"t0"};
  ASSERT_TRUE((*store)->CreateJob(r).ok());
  // Each tag count is a different SQL text.
  for (int n = 1; n <= 40; ++n) {
    JobFilter f;
    f.tags.push_back("t0");
    for (int i = 1; i < n; ++i) f.tags.push_back("x" + std::to_string(i));
    Result<Page<model::JobRecord>> page = (*store)->SearchJobs(f, PageRequest{});
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_EQ(page->total, n == 1 ? 1 : 0) << n;
  }
  EXPECT_TRUE((*store)->GetJob("j").ok());
}

TEST(LikeToGlobTest, TranslatesWildcardsAndEscapesGlobSyntax) {
  EXPECT_EQ(LikeToGlob("spark%"), "spark*");
  EXPECT_EQ(LikeToGlob("%a_b%"), "*a?b*");
  EXPECT_EQ(LikeToGlob("a*b?c[d]"), "a[*]b[?]c[[]d]");
  EXPECT_EQ(LikeToGlob("été%"), "été*");
  EXPECT_EQ(LikeToGlob(""), "");
}

}  // namespace
}  // namespace weir::store::sqlite
