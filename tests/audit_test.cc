// End-to-end tests of the audit log and the rate limit: the real `weir server` binary on a free
// port, real HTTP and the real CLI, a real SQLite file that must survive `kill -9`.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "client/http_client.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

// One audit record, as compared in the tests.
struct Row {
  std::string method, path, target, status, principal, source;
};

std::vector<Row> Rows(const json::value& listing) {
  std::vector<Row> out;
  for (const json::value& r : listing.at("audit").as_array()) {
    out.push_back({Str(r, "method"), Str(r, "path"), Str(r, "target"), Str(r, "status"),
                   Str(r, "principal"), Str(r, "source")});
  }
  return out;
}

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", "jobs:\n  kill_grace_ms: 500\n");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  json::value Audit(const std::string& query = "") {
    auto r = http_->Get("/api/weir/v1/admin/audit" + query);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << r->body;
    return Parse(r->body);
  }

  // The writes of the scenario; fills the ids they created.
  void DoWrites() {
    json::object app{{"id", "audit-app"},
                     {"name", "audit-app"},
                     {"user", "cfg-admin"},
                     {"version", "1"},
                     {"status", "ACTIVE"}};
    auto created = http_->PostJson("/api/v3/applications", json::serialize(app));
    ASSERT_TRUE(created.ok());
    ASSERT_EQ(created->status, 201) << created->body;

    json::object job{{"name", "t"},
                     {"user", "tester"},
                     {"version", "1"},
                     {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                     {"commandCriteria", json::array{"type:bash"}},
                     {"commandArguments", json::array{"sleep 60"}}};
    auto submitted = http_->PostJson("/api/v3/jobs", json::serialize(job));
    ASSERT_TRUE(submitted.ok());
    ASSERT_EQ(submitted->status, 202) << submitted->body;
    std::string loc = submitted->Header("location").value_or("");
    job_id_ = loc.substr(loc.rfind('/') + 1);
    ASSERT_FALSE(job_id_.empty());

    // Reads in between: never recorded.
    ASSERT_EQ(http_->Get("/api/v3/jobs/" + job_id_)->status, 200);
    ASSERT_EQ(http_->Get("/api/v3/applications/audit-app")->status, 200);

    auto killed = http_->Delete("/api/v3/jobs/" + job_id_);
    ASSERT_TRUE(killed.ok());
    ASSERT_EQ(killed->status, 202) << killed->body;

    auto published =
        http_->Request("POST",
                       "/api/weir/v1/assets?type=bash&namespace=audit&owner=o&repo=r&branch=main"
                       "&commit=0123abcd&file=x.sh",
                       "echo hi\n", {{"Content-Type", "application/octet-stream"}});
    ASSERT_TRUE(published.ok());
    ASSERT_EQ(published->status, 201) << published->body;
    asset_uuid_ = Str(Parse(published->body), "uuid");

    // A refused write: 400 (an id with a space), recorded with its status; the request's user
    // field names the actor.
    job["id"] = "not a valid id";
    job["user"] = "bad-user";
    auto bad = http_->PostJson("/api/v3/jobs", json::serialize(job));
    ASSERT_TRUE(bad.ok());
    ASSERT_EQ(bad->status, 400) << bad->body;
  }

  // The scenario's records, oldest first, as the listing shows them.
  void ExpectScenario(const json::value& newest_first_listing) {
    std::vector<Row> rows = Rows(newest_first_listing);
    ASSERT_GE(rows.size(), 5u);
    std::vector<Row> last(rows.rbegin() + static_cast<long>(rows.size() - 5), rows.rend());
    const std::vector<Row> want = {
        {"POST", "/api/v3/applications", "audit-app", "201", "cfg-admin", "127.0.0.1"},
        {"POST", "/api/v3/jobs", job_id_, "202", "tester", "127.0.0.1"},
        {"DELETE", "/api/v3/jobs/" + job_id_, job_id_, "202", "anonymous", "127.0.0.1"},
        {"POST", "/api/weir/v1/assets", asset_uuid_, "201", "anonymous", "127.0.0.1"},
        {"POST", "/api/v3/jobs", "", "400", "bad-user", "127.0.0.1"},
    };
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(last[i].method, want[i].method) << i;
      EXPECT_EQ(last[i].path, want[i].path) << i;
      EXPECT_EQ(last[i].target, want[i].target) << i;
      EXPECT_EQ(last[i].status, want[i].status) << i;
      EXPECT_EQ(last[i].principal, want[i].principal) << i;
      EXPECT_EQ(last[i].source, want[i].source) << i;
    }
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
  std::string job_id_;
  std::string asset_uuid_;
};

TEST_F(AuditTest, WritesAreRecordedInOrderWithTheirOutcomeAndReadsAreNot) {
  ASSERT_NO_FATAL_FAILURE(DoWrites());
  json::value listing = Audit("?order=desc&size=5");
  ExpectScenario(listing);
  // Everything recorded is a write: `weir apply`'s creations, the scenario; no GET at all.
  json::value all = Audit("?size=1000");
  EXPECT_GT(all.at("page").at("totalElements").as_int64(), 5);
  for (const Row& r : Rows(all)) EXPECT_NE(r.method, "GET") << r.path;
  // The demo's configuration came in through `weir apply`, recorded under its user field.
  bool apply_seen = false;
  for (const Row& r : Rows(all)) apply_seen |= r.path == "/api/v3/commands" && r.target == "bash";
  EXPECT_TRUE(apply_seen);
}

TEST_F(AuditTest, FiltersAndTheCommandLine) {
  ASSERT_NO_FATAL_FAILURE(DoWrites());
  std::vector<Row> failed = Rows(Audit("?outcome=failure"));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].status, "400");
  std::vector<Row> on_job = Rows(Audit("?target=" + job_id_));
  ASSERT_EQ(on_job.size(), 2u);
  EXPECT_EQ(on_job[0].method, "POST");
  EXPECT_EQ(on_job[1].method, "DELETE");
  std::vector<Row> jobs = Rows(Audit("?path=/api/v3/jobs/"));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].method, "DELETE");
  EXPECT_EQ(Rows(Audit("?principal=tester")).size(), 1u);
  EXPECT_TRUE(Rows(Audit("?since=2999-01-01T00:00:00Z")).empty());
  auto bad = http_->Get("/api/weir/v1/admin/audit?outcome=maybe");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);

  auto table = RunWeir(server_->url(), {"audit", "--principal", "tester"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("PRINCIPAL"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(job_id_), std::string::npos) << table.out;
  auto as_json =
      RunWeir(server_->url(), {"audit", "--outcome", "failure", "--newest-first", "-o", "json"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  std::vector<Row> cli_failed = Rows(Parse(as_json.out));
  ASSERT_EQ(cli_failed.size(), 1u);
  EXPECT_EQ(cli_failed[0].principal, "bad-user");
}

TEST_F(AuditTest, RecordsSurviveKill9AndRestart) {
  ASSERT_NO_FATAL_FAILURE(DoWrites());
  server_->Kill9();
  ASSERT_EQ(server_->Start(), "");
  ExpectScenario(Audit("?order=desc&size=5"));
}

// A tiny rate: 1 request per second per client, 2 at once.
class RateLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(
        dir_.path() / "data", "server:\n  rate_limit:\n    requests_per_second: 1\n    burst: 2\n");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
  }

  // Repeats `method path` until the answer is not 429 (deadline 30 s, failing loudly).
  client::Response UntilAdmitted(const std::string& method, const std::string& path) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (true) {
      auto r = http_->Request(method, path, "", {});
      EXPECT_TRUE(r.ok());
      if (!r.ok() || r->status != 429) return r.ok() ? *r : client::Response{};
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << method << " " << path << " still refused with 429 after 30 s";
        return *r;
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(RateLimitTest, PastTheBurstAnswers429WithRetryAfterThenRecovers) {
  // Twenty requests take far under the 18 s they would need to pass a rate of 1/s: one is
  // refused, whatever the machine's speed.
  std::optional<client::Response> refused;
  for (int i = 0; i < 20 && !refused; ++i) {
    auto r = http_->Request("POST", "/api/v3/applications", "{}",
                            {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r.ok());
    if (r->status == 429) refused = *r;
  }
  ASSERT_TRUE(refused.has_value()) << "no request was refused";
  const std::string retry_after = refused->Header("retry-after").value_or("");
  EXPECT_TRUE(retry_after == "1") << "Retry-After: '" << retry_after << "'";
  json::value body = Parse(refused->body);
  EXPECT_EQ(Str(body, "status"), "429");
  EXPECT_EQ(Str(body, "error"), "Too Many Requests");
  EXPECT_EQ(Str(body, "path"), "/api/v3/applications");

  // Recovers once a token is back.
  client::Response again = UntilAdmitted("GET", "/api/v3");
  EXPECT_EQ(again.status, 200);
  // The refused write is in the audit log with its 429 and an unknown principal.
  client::Response listing = UntilAdmitted("GET", "/api/weir/v1/admin/audit?outcome=429");
  ASSERT_EQ(listing.status, 200) << listing.body;
  std::vector<Row> rows = Rows(Parse(listing.body));
  ASSERT_GE(rows.size(), 1u);
  EXPECT_EQ(rows[0].method, "POST");
  EXPECT_EQ(rows[0].path, "/api/v3/applications");
  EXPECT_EQ(rows[0].principal, "anonymous");
}

}  // namespace
}  // namespace weir::testing
