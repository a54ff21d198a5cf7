// What an audit record holds for a request, and who may read the log.
#include "api/audit.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

namespace weir::api {
namespace {

// An AuditStore in memory: enough to watch what the observer and the route do.
class MemoryAudit final : public store::AuditStore {
 public:
  Result<int64_t> AppendAudit(const store::AuditRecord& r) override {
    if (fail) return Internal("disk on fire");
    records.push_back(r);
    records.back().seq = static_cast<int64_t>(records.size());
    return records.back().seq;
  }
  Result<store::Page<store::AuditRecord>> SearchAudit(const store::AuditFilter& f,
                                                      const store::PageRequest&, bool) override {
    last_filter = f;
    store::Page<store::AuditRecord> p;
    p.items = records;
    p.total = static_cast<int64_t>(records.size());
    return p;
  }
  Result<int64_t> PruneAudit(TimePoint) override { return 0; }

  bool fail = false;
  std::vector<store::AuditRecord> records;
  store::AuditFilter last_filter;
};

HttpRequest Req(std::string method, std::string path) {
  HttpRequest req;
  req.method = std::move(method);
  req.target = req.path = std::move(path);
  req.peer_address = "10.9.8.7";
  return req;
}

std::shared_ptr<auth::Principal> Named(std::string name, std::vector<std::string> roles = {}) {
  auto p = std::make_shared<auth::Principal>();
  p->name = std::move(name);
  p->roles = std::move(roles);
  return p;
}

FakeClock clock_at_start{FromEpochMillis(1'700'000'000'000)};

TEST(AuditRecordTest, PrincipalComesFirstThenTheBodyUserThenAnonymous) {
  HttpResponse ok = HttpResponse::Empty(202);
  HttpRequest req = Req("POST", "/api/v3/jobs");
  req.headers.emplace_back("content-type", "application/json");
  req.body = R"({"user": "from-body", "name": "x"})";
  EXPECT_EQ(AuditRecordFor(req, ok, clock_at_start).principal, "from-body");
  req.principal = Named("alice");
  EXPECT_EQ(AuditRecordFor(req, ok, clock_at_start).principal, "alice");
  HttpRequest bare = Req("DELETE", "/api/v3/jobs/j1");
  EXPECT_EQ(AuditRecordFor(bare, ok, clock_at_start).principal, "anonymous");
  bare.body = R"({"actor": "erin"})";  // not declared JSON (an uploaded file): nobody
  EXPECT_EQ(AuditRecordFor(bare, ok, clock_at_start).principal, "anonymous");
  bare.headers.emplace_back("content-type", "application/json; charset=utf-8");
  bare.body = R"({"actor": "erin"})";
  EXPECT_EQ(AuditRecordFor(bare, ok, clock_at_start).principal, "erin");
  bare.body = "not json {";
  EXPECT_EQ(AuditRecordFor(bare, ok, clock_at_start).principal, "anonymous");
}

TEST(AuditRecordTest, ASpooledJsonBodyNamesTheUserToo) {
  HttpRequest req = Req("POST", "/api/v3/jobs");
  req.headers.emplace_back("content-type", "application/json");
  req.body_file = std::filesystem::temp_directory_path() /
                  ("weir-audit-body-" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out(req.body_file);
    out << R"({"name": "x", "user": "spooled-user"})";
  }
  EXPECT_EQ(AuditRecordFor(req, HttpResponse::Empty(202), clock_at_start).principal,
            "spooled-user");
  std::filesystem::remove(req.body_file);
}

TEST(AuditRecordTest, TargetFromLocationElseFromTheRouteParameters) {
  HttpRequest submit = Req("POST", "/api/v3/jobs");
  HttpResponse created = HttpResponse::Empty(202);
  created.SetHeader("Location", "http://127.0.0.1:8080/api/v3/jobs/job-42");
  store::AuditRecord r = AuditRecordFor(submit, created, clock_at_start);
  EXPECT_EQ(r.target, "job-42");
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/v3/jobs");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.source, "10.9.8.7");
  EXPECT_EQ(r.time, clock_at_start.Now());

  HttpRequest kill = Req("DELETE", "/api/v3/jobs/job-42");
  kill.params["id"] = "job-42";
  EXPECT_EQ(AuditRecordFor(kill, HttpResponse::Empty(202), clock_at_start).target, "job-42");
  HttpRequest stop = Req("POST", "/api/weir/v1/workflows/wf/instances/3/stop");
  stop.params = {{"id", "wf"}, {"n", "3"}};
  EXPECT_EQ(AuditRecordFor(stop, HttpResponse::Empty(200), clock_at_start).target,
            "wf/instances/3");
  // A Location elsewhere (not directly under the request path) does not name the target.
  HttpRequest run = Req("POST", "/api/weir/v1/workflows/wf/run");
  run.params["id"] = "wf";
  HttpResponse started = HttpResponse::Empty(201);
  started.SetHeader("Location", "http://h/api/weir/v1/workflows/wf/instances/7");
  EXPECT_EQ(AuditRecordFor(run, started, clock_at_start).target, "wf");
}

TEST(AuditObserverTest, RecordsWritesOnlyAndSurvivesAFailedWrite) {
  auto store = std::make_shared<MemoryAudit>();
  std::vector<std::string> errors;
  AuditOptions o;
  o.store = store;
  o.clock = &clock_at_start;
  o.on_error = [&errors](const Status& s, const store::AuditRecord& r) {
    errors.push_back(r.path + ": " + s.message());
  };
  auto observe = MakeAuditObserver(o);
  for (const char* m : {"GET", "HEAD", "OPTIONS"}) observe(Req(m, "/api/v3/jobs"), HttpResponse{});
  EXPECT_TRUE(store->records.empty());
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE"}) {
    observe(Req(m, "/api/v3/clusters/c"), HttpResponse::Empty(401));
  }
  ASSERT_EQ(store->records.size(), 4u);
  EXPECT_EQ(store->records[3].method, "DELETE");
  EXPECT_EQ(store->records[3].status, 401);
  store->fail = true;
  observe(Req("POST", "/api/v3/jobs"), HttpResponse::Empty(202));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "/api/v3/jobs: disk on fire");
}

int StatusOf(Router& router, HttpRequest& req) {
  Router::Match m = router.Find(req.method, req.path);
  if (!m.handler) return 0;
  return (*m.handler)(req).status;
}

TEST(AuditRouteTest, OnlyAdminsReadWhenThereIsAPrincipal) {
  auto store = std::make_shared<MemoryAudit>();
  Router router;
  RegisterAuditRoutes(router, store);
  HttpRequest open = Req("GET", "/api/weir/v1/admin/audit");
  EXPECT_EQ(StatusOf(router, open), 200);  // auth.mode none: open
  HttpRequest user = open;
  user.principal = Named("bob", {"user"});
  EXPECT_EQ(StatusOf(router, user), 403);
  HttpRequest admin = open;
  admin.principal = Named("root", {"admin", "user"});
  EXPECT_EQ(StatusOf(router, admin), 200);
}

TEST(AuditRouteTest, FiltersReachTheStoreAndBadOnesAre400) {
  auto store = std::make_shared<MemoryAudit>();
  Router router;
  RegisterAuditRoutes(router, store);
  HttpRequest req = Req("GET", "/api/weir/v1/admin/audit");
  req.query = {{"principal", "alice"},
               {"outcome", "failure"},
               {"path", "/api/v3/jobs"},
               {"since", "2026-12-06T10:00:00Z"},
               {"until", "1700000000000"}};
  ASSERT_EQ(StatusOf(router, req), 200);
  EXPECT_EQ(store->last_filter.principal, "alice");
  EXPECT_EQ(store->last_filter.min_status, 400);
  EXPECT_EQ(store->last_filter.max_status, std::nullopt);
  EXPECT_EQ(store->last_filter.path_prefix, "/api/v3/jobs");
  ASSERT_TRUE(store->last_filter.since.has_value());
  EXPECT_EQ(store->last_filter.until, FromEpochMillis(1'700'000'000'000));
  for (auto bad : std::vector<std::pair<std::string, std::string>>{
           {"outcome", "maybe"}, {"since", "yesterday"}, {"size", "0"}, {"colour", "red"}}) {
    HttpRequest b = Req("GET", "/api/weir/v1/admin/audit");
    b.query = {bad};
    EXPECT_EQ(StatusOf(router, b), 400) << bad.first;
  }
}

}  // namespace
}  // namespace weir::api
