// The AuditStore contract of store.h, run against every backend.
//
// Kept apart from store_contract_test.cc (configuration and jobs) so neither file grows past
// one responsibility. Add a backend by adding a factory to Backends() below. Nothing is timed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/testing/required_services.h"
#include "store/open.h"
#include "store/testing/postgres_env.h"  // stops the shared server after the last test
#include "store/testing/postgres_server.h"

namespace weir::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Fresh storage for one test; Open() may be called again to reopen the same storage.
class AuditBackend {
 public:
  virtual ~AuditBackend() = default;
  virtual Result<std::shared_ptr<AuditStore>> Open() = 0;
  // Why this backend cannot run here ("" when it can).
  virtual std::string Missing() const { return ""; }
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<AuditBackend>()> make;
};

class SqliteAuditBackend : public AuditBackend {
 public:
  SqliteAuditBackend() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "weir-audit-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
  }
  ~SqliteAuditBackend() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Result<std::shared_ptr<AuditStore>> Open() override {
    WEIR_ASSIGN_OR_RETURN(SqliteStores s, OpenSqlite((dir_ / "weir.db").string(), clock_));
    return s.audit;
  }

 private:
  std::filesystem::path dir_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
};

// A fresh database on the test process's shared PostgreSQL server.
class PostgresAuditBackend : public AuditBackend {
 public:
  PostgresAuditBackend() {
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
  Result<std::shared_ptr<AuditStore>> Open() override {
    WEIR_ASSIGN_OR_RETURN(Stores s, OpenStores(where_, clock_));
    return s.audit;
  }
  std::string Missing() const override { return missing_; }

 private:
  StoreLocation where_;
  std::string missing_;
  FakeClock clock_{FromEpochMillis(1'700'000'000'000)};
};

std::vector<BackendFactory> Backends() {
  return {{"sqlite", [] { return std::make_unique<SqliteAuditBackend>(); }},
          {"postgres", [] { return std::make_unique<PostgresAuditBackend>(); }}};
}

TimePoint At(int64_t seconds) { return FromEpochMillis(1'700'000'000'000 + seconds * 1000); }

AuditRecord Rec(int64_t seconds, std::string principal, std::string method, std::string path,
                std::string target, int status) {
  AuditRecord r;
  r.time = At(seconds);
  r.principal = std::move(principal);
  r.source = "10.0.0." + std::to_string(seconds % 250);
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = std::move(target);
  r.status = status;
  return r;
}

PageRequest All() {
  PageRequest p;
  p.size = 1000;
  return p;
}

class AuditStoreContractTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (std::string why = backend_->Missing(); !why.empty())
      WEIR_MISSING_SERVICE("postgresql", why);
    auto s = backend_->Open();
    ASSERT_TRUE(s.ok()) << s.status();
    audit_ = *s;
  }

  void Add(const AuditRecord& r) {
    Result<int64_t> seq = audit_->AppendAudit(r);
    ASSERT_TRUE(seq.ok()) << seq.status();
  }

  // The paths of the matching records, in the store's order.
  std::vector<std::string> Paths(const AuditFilter& f, bool newest_first = false) {
    auto page = audit_->SearchAudit(f, All(), newest_first);
    if (!page.ok()) {
      ADD_FAILURE() << page.status();
      return {"<error>"};
    }
    std::vector<std::string> out;
    for (const AuditRecord& r : page->items) out.push_back(r.path);
    return out;
  }

  std::unique_ptr<AuditBackend> backend_;
  std::shared_ptr<AuditStore> audit_;
};

TEST_P(AuditStoreContractTest, AppendKeepsEveryFieldAndGivesIncreasingSeqs) {
  AuditRecord a = Rec(5, "alice", "POST", "/api/v3/jobs", "job-1", 202);
  AuditRecord b = Rec(3, "bob", "DELETE", "/api/v3/jobs/job-1", "job-1", 202);
  auto sa = audit_->AppendAudit(a);
  auto sb = audit_->AppendAudit(b);
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_LT(*sa, *sb);
  auto page = audit_->SearchAudit({}, All());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->total, 2);
  // Append order, not time order: b's earlier time does not move it first.
  const AuditRecord& got = page->items[0];
  EXPECT_EQ(got.seq, *sa);
  EXPECT_EQ(got.time, a.time);
  EXPECT_EQ(got.principal, "alice");
  EXPECT_EQ(got.source, a.source);
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.path, "/api/v3/jobs");
  EXPECT_EQ(got.target, "job-1");
  EXPECT_EQ(got.status, 202);
  EXPECT_EQ(page->items[1].seq, *sb);
  EXPECT_EQ(page->items[1].principal, "bob");
}

TEST_P(AuditStoreContractTest, FiltersMatchAndCombine) {
  Add(Rec(1, "alice", "POST", "/api/v3/applications", "app-1", 201));
  Add(Rec(2, "bob", "POST", "/api/v3/jobs", "job-1", 202));
  Add(Rec(3, "alice", "DELETE", "/api/v3/jobs/job-1", "job-1", 202));
  Add(Rec(4, "alice", "POST", "/api/v3/jobs", "", 400));
  Add(Rec(5, "", "POST", "/api/v3/jobsx", "", 401));

  AuditFilter f;
  f.principal = "alice";
  EXPECT_THAT(Paths(f), ElementsAre("/api/v3/applications", "/api/v3/jobs/job-1", "/api/v3/jobs"));
  f = {};
  f.since = At(2);
  f.until = At(4);  // since inclusive, until exclusive
  EXPECT_THAT(Paths(f), ElementsAre("/api/v3/jobs", "/api/v3/jobs/job-1"));
  f = {};
  f.path_prefix = "/api/v3/jobs/";
  EXPECT_THAT(Paths(f), ElementsAre("/api/v3/jobs/job-1"));
  f.path_prefix = "/api/v3/jobs";
  EXPECT_EQ(Paths(f).size(), 4u);
  f.path_prefix = "/API/v3/jobs";  // case counts
  EXPECT_THAT(Paths(f), IsEmpty());
  f.path_prefix = "/api/v3/job%";  // no patterns
  EXPECT_THAT(Paths(f), IsEmpty());
  f = {};
  f.target = "job-1";
  EXPECT_THAT(Paths(f), ElementsAre("/api/v3/jobs", "/api/v3/jobs/job-1"));
  f = {};
  f.min_status = 400;
  EXPECT_THAT(Paths(f), ElementsAre("/api/v3/jobs", "/api/v3/jobsx"));
  f = {};
  f.max_status = 399;
  EXPECT_EQ(Paths(f).size(), 3u);
  f = {};
  f.principal = "alice";
  f.path_prefix = "/api/v3/jobs";
  f.max_status = 299;
  EXPECT_THAT(Paths(f), ElementsAre("/api/v3/jobs/job-1"));
}

TEST_P(AuditStoreContractTest, PagesCarryTheTotalAndNewestFirstReverses) {
  for (int i = 0; i < 7; ++i) Add(Rec(i, "p", "POST", "/r" + std::to_string(i), "", 200));
  PageRequest p;
  p.size = 3;
  p.page = 2;
  auto last = audit_->SearchAudit({}, p);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->total, 7);
  ASSERT_EQ(last->items.size(), 1u);
  EXPECT_EQ(last->items[0].path, "/r6");
  p.page = 0;
  auto newest = audit_->SearchAudit({}, p, /*newest_first=*/true);
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->items.size(), 3u);
  EXPECT_EQ(newest->items[0].path, "/r6");
  EXPECT_EQ(newest->items[2].path, "/r4");
  p.size = 0;
  EXPECT_EQ(audit_->SearchAudit({}, p).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(AuditStoreContractTest, PruneRemovesOnlyOlderRecords) {
  Add(Rec(10, "p", "POST", "/old", "", 200));
  Add(Rec(20, "p", "POST", "/edge", "", 200));
  Add(Rec(30, "p", "POST", "/new", "", 200));
  auto removed = audit_->PruneAudit(At(20));
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1);
  EXPECT_THAT(Paths({}), ElementsAre("/edge", "/new"));
  EXPECT_EQ(*audit_->PruneAudit(At(20)), 0);
}

TEST_P(AuditStoreContractTest, RecordsSurviveReopeningAndSeqsAreNotReused) {
  Add(Rec(1, "p", "POST", "/a", "", 200));
  Add(Rec(2, "p", "POST", "/b", "", 200));
  auto before = audit_->SearchAudit({}, All());
  ASSERT_TRUE(before.ok());
  const int64_t last_seq = before->items.back().seq;
  audit_.reset();
  auto reopened = backend_->Open();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  audit_ = *reopened;
  EXPECT_THAT(Paths({}), ElementsAre("/a", "/b"));
  // Even with the newest record pruned, a new record gets a larger seq than any before.
  ASSERT_EQ(*audit_->PruneAudit(At(3)), 2);
  auto seq = audit_->AppendAudit(Rec(4, "p", "POST", "/c", "", 200));
  ASSERT_TRUE(seq.ok());
  EXPECT_GT(*seq, last_seq);
}

std::string BackendName(const ::testing::TestParamInfo<BackendFactory>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditStoreContractTest, ::testing::ValuesIn(Backends()),
                         BackendName);

}  // namespace
}  // namespace weir::store
