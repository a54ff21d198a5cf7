// PostgreSQL-only behaviour of the store: schema versions and migrations, a password kept apart
// from the URL and out of every message, an unreachable server, older databases upgraded (the
// search index filled from their rows). The shared contract is in store_contract_test.cc,
// audit_store_contract_test.cc, event_store_contract_test.cc and search_index_contract_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "common/clock.h"
#include "common/testing/required_services.h"
#include "store/open.h"
#include "store/postgres/connection.h"
#include "store/postgres/schema.h"
#include "store/testing/postgres_env.h"  // stops the shared server after the last test
#include "store/testing/postgres_server.h"

namespace weir::store {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = testing::SharedPostgres();
    if (server_ == nullptr) WEIR_MISSING_SERVICE("postgresql", testing::SharedPostgresError());
    Result<std::string> url = server_->CreateDatabase();
    ASSERT_TRUE(url.ok()) << url.status();
    where_.type = "postgresql";
    where_.url = *url;
  }
  std::string Sql(const std::string& sql) {
    Result<std::string> r = server_->Query(where_.url, sql);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "<error>";
  }

  testing::PostgresServer* server_ = nullptr;
  StoreLocation where_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
};

TEST_F(PostgresStoreTest, StatusOfAnEmptyDatabaseThenMigrateBringsItToTheLatest) {
  Result<SchemaInfo> before = ReadSchema(where_);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->version, 0);
  EXPECT_EQ(before->latest, postgres::kSchemaVersion);
  EXPECT_EQ(Sql("SELECT to_regclass('jobs') IS NULL"), "t");  // reading changed nothing

  Result<SchemaInfo> migrated = MigrateSchema(where_);
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  EXPECT_EQ(migrated->before, 0);
  EXPECT_EQ(migrated->version, postgres::kSchemaVersion);
  EXPECT_EQ(Sql("SELECT string_agg(version::text, ',') FROM schema_version"),
            std::to_string(postgres::kSchemaVersion));

  // Again: nothing to do, still one row.
  Result<SchemaInfo> again = MigrateSchema(where_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->before, postgres::kSchemaVersion);
  EXPECT_EQ(Sql("SELECT count(*) FROM schema_version"), "1");
}

TEST_F(PostgresStoreTest, AVersionOneDatabaseGetsTheAuditTableAndKeepsItsRows) {
  ASSERT_TRUE(OpenStores(where_, clock_).ok());
  Sql("INSERT INTO jobs (id, name, user_name, status, created, updated, cluster_name,"
      " cluster_id, command_name, command_id, request, state)"
      " VALUES ('old', 'n', 'u', 'SUCCEEDED', 1, 1, '', '', '', '', '{}', '{}')");
  // What a database of the previous release looks like: no audit table, version 1.
  Sql("DROP TABLE audit, events, search_docs, search_rebuild");
  // Nor the tables of later versions.
  Sql("DROP TABLE wf_deployments, wf_versions, wf_activations, wf_fires, wf_after_pending, "
      "wf_backfills, wf_instances, wf_steps, wf_attempts");
  Sql("DROP TABLE assets, asset_namespaces");
  Sql("DROP TABLE job_queue, nodes, leases");
  Sql("DROP TABLE webhook_deliveries, webhooks");
  Sql("DROP INDEX jobs_finished");
  Sql("UPDATE schema_version SET version = 1");
  Result<Stores> s = OpenStores(where_, clock_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(Sql("SELECT version FROM schema_version"), std::to_string(postgres::kSchemaVersion));
  EXPECT_EQ(Sql("SELECT count(*) FROM pg_indexes WHERE indexname = 'wf_attempts_killing'"), "1");
  EXPECT_TRUE(s->jobs->GetJob("old").ok());
  AuditRecord r;
  r.time = FromEpochMillis(5);
  r.method = "POST";
  r.path = "/x";
  EXPECT_TRUE(s->audit->AppendAudit(r).ok());
}

// A database of the release before the event log and the search index (version 2, with jobs and
// entities in it) gets both at its next open, and its existing rows become searchable.
TEST_F(PostgresStoreTest, AVersionTwoDatabaseGetsTheEventLogAndItsRowsIndexed) {
  {
    Result<Stores> s = OpenStores(where_, clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    model::JobRecord r;
    r.id = "old-job";
    r.request.id = r.id;
    r.request.name = "legacy";
    r.request.user = "alice";
    r.request.command_args = "--input s3://bucket/clickstream";
    r.job.status = model::JobStatus::kSucceeded;
    ASSERT_TRUE(s->jobs->CreateJob(r).ok());
    model::ConfigEntity c;
    c.kind = model::Kind::kCluster;
    c.id = "c1";
    c.name = "yarn-prod";
    c.user = "ops";
    c.version = "1";
    c.status = "UP";
    ASSERT_TRUE(s->config->Create(c).ok());
  }
  // A version-2 database has none of the later tables (the scheduler's, the event log, search,
  // the asset registry's, webhooks).
  Sql("DROP TABLE events, search_docs, search_rebuild, assets, asset_namespaces, job_queue, nodes, "
      "leases");
  Sql("DROP TABLE wf_deployments, wf_versions, wf_activations, wf_fires, wf_after_pending, "
      "wf_backfills, wf_instances, wf_steps, wf_attempts");
  Sql("DROP TABLE webhook_deliveries, webhooks");
  Sql("DROP INDEX jobs_finished");
  Sql("UPDATE schema_version SET version = 2");
  Result<Stores> s = OpenStores(where_, clock_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(Sql("SELECT version FROM schema_version"), std::to_string(postgres::kSchemaVersion));
  SearchQuery q;
  q.terms = {"clickstream"};
  PageRequest page;
  Result<Page<SearchHit>> hits = s->search->SearchText(q, page);
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_EQ(hits->items.size(), 1u);
  EXPECT_EQ(hits->items[0].id, "old-job");
  q.terms = {"yarn"};
  hits = s->search->SearchText(q, page);
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_EQ(hits->items.size(), 1u);
  EXPECT_EQ(hits->items[0].id, "c1");
  // Indexed once: the flag is cleared.
  EXPECT_EQ(Sql("SELECT pending FROM search_rebuild"), "0");
  EXPECT_EQ(*s->events->LastEventId(), 0);
  EventRecord e;
  e.type = "JOB_FINISHED";
  e.data = "{}";
  EXPECT_EQ(*s->events->AppendEvent(e), 1);
}

// Two stores on one database are two servers: the listener of one hears the events the other
// stores (through LISTEN/NOTIFY), and its own, each once and in id order.
TEST_F(PostgresStoreTest, AListenerHearsTheEventsOfOtherServersOnTheDatabaseInOrder) {
  Result<Stores> a = OpenStores(where_, clock_);
  ASSERT_TRUE(a.ok()) << a.status();
  Result<Stores> b = OpenStores(where_, clock_);
  ASSERT_TRUE(b.ok()) << b.status();
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::string> heard;
  Result<int64_t> before = a->events->SetEventListener([&](const EventRecord& e) {
    std::lock_guard lock(mu);
    heard.push_back(e.type + ":" + std::to_string(e.id));
    changed.notify_all();
  });
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(*before, 0);
  auto append = [](Stores& s, const std::string& type) {
    EventRecord e;
    e.type = type;
    e.data = "{}";
    Result<int64_t> id = s.events->AppendEvent(e);
    EXPECT_TRUE(id.ok()) << id.status();
    return type + ":" + std::to_string(id.ok() ? *id : -1);
  };
  auto wait_for = [&](size_t n) {
    std::unique_lock lock(mu);
    return changed.wait_for(lock, std::chrono::seconds(30), [&] { return heard.size() >= n; });
  };
  std::vector<std::string> stored;
  stored.push_back(append(*b, "OTHER_1"));
  // Only the LISTEN thread tells another server's events: once this one is heard, it listens.
  ASSERT_TRUE(wait_for(1)) << "the other server's first event never reached the listener";
  stored.push_back(append(*b, "OTHER_2"));
  ASSERT_TRUE(wait_for(2)) << "no NOTIFY brought the other server's next event";
  stored.push_back(append(*b, "OTHER_3"));
  stored.push_back(append(*a, "OWN"));  // the other server's older event is told first
  ASSERT_TRUE(wait_for(4)) << "the listener heard " << heard.size() << " events";
  std::lock_guard lock(mu);
  EXPECT_EQ(heard, stored);
}

TEST_F(PostgresStoreTest, ADatabaseFromANewerWeirIsRefusedSayingToUpgrade) {
  ASSERT_TRUE(OpenStores(where_, clock_).ok());
  Sql("UPDATE schema_version SET version = 99");
  Result<Stores> s = OpenStores(where_, clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("version 99 was written by a newer weir"));
  EXPECT_THAT(s.status().message(), HasSubstr("upgrade weir"));
  EXPECT_EQ(MigrateSchema(where_).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadSchema(where_)->version, 99);  // status still reads it
}

TEST_F(PostgresStoreTest, UnreachableServerIsUnavailableNamingTheUrlWithoutPassword) {
  StoreLocation where;
  where.type = "postgresql";
  where.url = "postgresql://weir:hunter2@/nowhere?host=/nonexistent-weir-socket-dir&port=1";
  where.password = "s3cret-pw";
  Result<Stores> s = OpenStores(where, clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.status().message(), HasSubstr("postgresql://weir:***@/nowhere"));
  EXPECT_THAT(s.status().message(), Not(HasSubstr("hunter2")));
  EXPECT_THAT(s.status().message(), Not(HasSubstr("s3cret-pw")));
}

TEST(RedactUrlTest, HidesOnlyThePassword) {
  EXPECT_EQ(postgres::RedactUrl("postgresql://weir:pw@db:5432/weir"),
            "postgresql://weir:***@db:5432/weir");
  EXPECT_EQ(postgres::RedactUrl("postgresql://weir@db/weir"), "postgresql://weir@db/weir");
  EXPECT_EQ(postgres::RedactUrl("postgresql://db:5432/weir"), "postgresql://db:5432/weir");
}

// A server that demands a password: the store connects with the one passed apart from the URL.
TEST(PostgresPasswordTest, PasswordGivenApartFromTheUrlIsUsed) {
  auto server = testing::PostgresServer::Start("pw-Only-In-Env");
  if (!server.ok()) WEIR_MISSING_SERVICE("postgresql", server.status().message());
  Result<std::string> url = (*server)->CreateDatabase();
  ASSERT_TRUE(url.ok()) << url.status();
  FakeClock clock{FromEpochMillis(1)};
  StoreLocation where;
  where.type = "postgresql";
  where.url = *url;
  Result<Stores> without = OpenStores(where, clock);
  ASSERT_FALSE(without.ok());
  EXPECT_EQ(without.status().code(), StatusCode::kUnavailable);
  where.password = "wrong";
  EXPECT_FALSE(OpenStores(where, clock).ok());
  where.password = "pw-Only-In-Env";
  Result<Stores> with = OpenStores(where, clock);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_TRUE(with->jobs->SearchJobs({}, PageRequest{}).ok());
}

}  // namespace
}  // namespace weir::store
