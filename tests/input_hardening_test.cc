// Hostile client input against the real `weir server` binary (issue 8, items 1, 3, 7 and 10a):
// ids that would become paths outside their folder, JSON Patch amplification, numbers without
// bounds and control characters. Each case checks the answer a client gets and that nothing was
// written where it must not be.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "client/http_client.h"
#include "common/clock.h"
#include "job_api.h"
#include "model/job.h"
#include "store/store.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

// The ids of the issue that wrote outside the archive folder, plus a too long one.
std::vector<std::string> HostileIds() {
  return {"..%2fweir.db#2",
          "..%2f..%2fetc",
          "victim.tar.gz#",
          "q?x=1",
          std::string(255, 'i'),
          "..",
          ".hidden",
          "-rf",
          "a/b",
          "a b"};
}

std::string Message(const client::Response& r) {
  json::value v = Parse(r.body);
  if (!v.is_object() || !v.as_object().contains("message")) return "";
  return std::string(v.at("message").as_string());
}

bool IsSqliteFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char head[16] = {};
  in.read(head, sizeof head);
  return in.gcount() == 16 && std::string(head, 15) == "SQLite format 3";
}

// Every file name below `dir`, recursively, relative to it.
std::set<std::string> Tree(const fs::path& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.insert(it->path().lexically_relative(dir).string());
  }
  return out;
}

class InputHardeningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(data(), "jobs:\n  kill_grace_ms: 500\n");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  fs::path data() const { return dir_.path() / "data"; }

  json::object JobRequest(const std::string& script) { return BashJobRequest(script); }

  client::Response Post(const std::string& path, const std::string& body) {
    auto r = http_->PostJson(path, body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : client::Response{};
  }

  std::string SubmitOk(json::object req) {
    auto r = Post("/api/v3/jobs", json::serialize(req));
    EXPECT_EQ(r.status, 202) << r.body;
    std::string loc = r.Header("location").value_or("");
    return loc.substr(loc.rfind('/') + 1);
  }

  json::value Get(const std::string& path) { return GetJson(*http_, path); }

  std::string Status(const std::string& id) { return JobStatus(*http_, id); }

  std::string WaitFinal(const std::string& id) { return WaitJobFinal(*http_, id); }

  // Waits until `path` exists; fails loudly after 60 s.
  void WaitForFile(const fs::path& path) {
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < end) {
      if (fs::exists(path)) return;
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << path << " never appeared";
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(InputHardeningTest, HostileIdsAre400AndNothingIsWrittenOutsideTheFolders) {
  const std::set<std::string> data_before = Tree(data());
  for (const std::string& id : HostileIds()) {
    json::object req = JobRequest("true");
    req["id"] = id;
    auto r = Post("/api/v3/jobs", json::serialize(req));
    EXPECT_EQ(r.status, 400) << id << ": " << r.body;
    EXPECT_EQ(Message(r).rfind("id: ", 0), 0u) << r.body;
    EXPECT_NE(Message(r).find("ids are 1 to 128 characters from A-Z a-z 0-9 . _ -"),
              std::string::npos)
        << r.body;
    // Configuration entities follow the same rule (Genie answers 412 for an invalid entity).
    json::object app{
        {"id", id}, {"name", "n"}, {"user", "u"}, {"version", "1"}, {"status", "ACTIVE"}};
    auto a = Post("/api/v3/applications", json::serialize(app));
    EXPECT_EQ(a.status, 412) << id << ": " << a.body;
    EXPECT_EQ(Message(a).rfind("id: ", 0), 0u) << a.body;
  }
  // A valid job that ends and is archived: had any hostile job been accepted, it would have
  // ended (and been archived) too by now.
  const std::string ok = SubmitOk(JobRequest("echo fine"));
  EXPECT_EQ(WaitFinal(ok), "SUCCEEDED");
  WaitForFile(data() / "archives" / (ok + ".tar.gz"));
  EXPECT_TRUE(IsSqliteFile(data() / "weir.db"));
  EXPECT_FALSE(fs::exists(data() / "archives" / "q"));
  EXPECT_FALSE(fs::exists(data() / "archives" / "victim.tar.gz"));
  EXPECT_FALSE(fs::exists(dir_.path() / "etc.tar.gz"));
  // No job folder or archive other than the valid job's.
  for (const std::string& f : Tree(data() / "jobs")) {
    EXPECT_EQ(f.rfind(ok, 0), 0u) << "unexpected job folder entry " << f;
  }
  for (const std::string& f : Tree(data() / "archives")) {
    EXPECT_EQ(f, ok + ".tar.gz") << "unexpected archive " << f;
  }
  EXPECT_EQ(Get("/api/v3/jobs").at("page").at("totalElements").as_int64(), 1);
  // The database still opens.
  server_->Stop();
  ASSERT_EQ(server_->Start(), "");
  EXPECT_EQ(Status(ok), "SUCCEEDED");
}

TEST_F(InputHardeningTest, ValidIdsRunAndArchive) {
  for (std::string id : {"3f2504e0-4f89-41d3-9a0c-0305e82c3301", "name_2026-12-01_x", "a.b-c"}) {
    json::object req = JobRequest("echo out-" + id);
    req["id"] = id;
    EXPECT_EQ(SubmitOk(req), id);
    EXPECT_EQ(WaitFinal(id), "SUCCEEDED") << id;
    const fs::path archive = fs::absolute(data() / "archives" / (id + ".tar.gz"));
    WaitForFile(archive);
    json::value job = Get("/api/v3/jobs/" + id);
    EXPECT_EQ(std::string(job.at("archiveLocation").as_string()), "file://" + archive.string());
    auto out = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->body, "out-" + id + "\n");
  }
}

TEST_F(InputHardeningTest, ControlCharactersAre400AndNoJobFolderIsMade) {
  struct Case {
    std::string field;
    json::value value;
    std::string message;
  };
  const std::string nul("a\0b", 3);
  const std::vector<Case> cases = {
      {"name", json::value(nul), "name: control character U+0000 is not allowed"},
      {"user", json::value(nul), "user: control character U+0000 is not allowed"},
      {"tags", json::array{"ok", json::string(nul)}, "tags: control character U+0000"},
      {"commandArguments", json::array{"echo", "x", json::string(nul)},
       "commandArguments[2]: control character U+0000 is not allowed"},
      {"commandArgs", json::value("echo 1\rrm -rf ~"), "commandArgs: control character U+000D"},
      {"grouping", json::value("g\r\n"), "grouping: control character U+000D"},
  };
  for (const Case& c : cases) {
    json::object req = JobRequest("true");
    req[c.field] = c.value;
    auto r = Post("/api/v3/jobs", json::serialize(req));
    EXPECT_EQ(r.status, 400) << c.field << ": " << r.body;
    EXPECT_EQ(Message(r).rfind(c.message, 0), 0u) << r.body;
  }
  EXPECT_TRUE(Tree(data() / "jobs").empty());
  EXPECT_EQ(Get("/api/v3/jobs").at("page").at("totalElements").as_int64(), 0);

  // Line breaks and tabs stay usable where a job's text is a script or a query.
  json::object multi = JobRequest("true");
  multi["commandArguments"] = json::array{"printf 'a\\tb\\n'\necho second-line"};
  auto ok = Post("/api/v3/jobs", json::serialize(multi));
  EXPECT_EQ(ok.status, 202) << ok.body;
}

TEST_F(InputHardeningTest, NumbersOutOfRangeAre400NamingTheField) {
  struct Case {
    std::string field;
    std::string raw;  // the number as written in the JSON text
    std::string message;
  };
  const std::vector<Case> cases = {
      {"timeout", "4611686018427387904", "timeout: 4611686018427387904 is out of range"},
      {"timeout", "9.2e15", "timeout: must be an integer"},
      {"timeout", "9223372036854775807", "timeout: 9223372036854775807 is out of range"},
      {"timeout", "0", "timeout: 0 is out of range"},
      {"memory", "1099511627776", "memory: 1099511627776 is out of range"},
      {"memory", "-5", "memory: -5 is out of range"},
      {"cpu", "1000000", "cpu: 1000000 is out of range"},
  };
  for (const Case& c : cases) {
    std::string body = json::serialize(JobRequest("true"));
    body.insert(body.size() - 1, ",\"" + c.field + "\":" + c.raw);
    auto r = Post("/api/v3/jobs", body);
    EXPECT_EQ(r.status, 400) << c.raw << ": " << r.body;
    EXPECT_EQ(Message(r).rfind(c.message, 0), 0u) << r.body;
  }
  EXPECT_EQ(Get("/api/v3/jobs").at("page").at("totalElements").as_int64(), 0);
  // Paging numbers of every search.
  for (std::string path :
       {"/api/v3/jobs?size=100000", "/api/v3/applications?page=-1", "/api/weir/v1/assets?size=5000",
        "/api/weir/v1/assets?page=9223372036854775807"}) {
    auto r = http_->Get(path);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 400) << path << ": " << r->body;
  }
  // A bounded timeout far in the future still shows a sane date.
  json::object req = JobRequest("sleep 60");
  req["timeout"] = model::kMaxJobTimeoutSeconds;
  const std::string id = SubmitOk(req);
  const auto end = std::chrono::steady_clock::now() + 60s;
  while (Status(id) != "RUNNING" && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(Status(id), "RUNNING");
  const std::string deadline(Get("/api/v3/jobs/" + id + "/execution").at("timeout").as_string());
  EXPECT_EQ(deadline.size(), 24u) << deadline;  // yyyy-mm-ddThh:mm:ss.sssZ
  EXPECT_GE(deadline.substr(0, 4), "2030") << deadline;
  EXPECT_EQ(http_->Delete("/api/v3/jobs/" + id)->status, 202);
  EXPECT_EQ(WaitFinal(id), "KILLED");
}

TEST_F(InputHardeningTest, JsonPatchAmplificationIs413AndStoresNothing) {
  const std::string app = R"({"id":"amp","name":"n","user":"u","version":"1","status":"ACTIVE"})";
  ASSERT_EQ(Post("/api/v3/applications", app).status, 201);
  json::array ops;
  ops.push_back(json::object{
      {"op", "add"},
      {"path", "/metadata"},
      {"value", json::object{{"a", json::array{json::string(std::string(1000, 'x'))}}}}});
  for (int i = 0; i < 20; ++i) {
    ops.push_back(json::object{{"op", "copy"}, {"from", "/metadata/a"}, {"path", "/metadata/a/-"}});
  }
  const std::string body = json::serialize(ops);
  EXPECT_LT(body.size(), 2500u);
  auto r = http_->PatchJson("/api/v3/applications/amp", body);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(Message(*r).rfind("json patch: result is larger than 1048576 bytes", 0), 0u) << r->body;
  EXPECT_TRUE(Get("/api/v3/applications/amp").at("metadata").is_null());
  // At 9 copies the result (512 elements, 514 KB) is under the patch limit but over the
  // metadata limit (256 KiB).
  ops.resize(10);
  r = http_->PatchJson("/api/v3/applications/amp", json::serialize(ops));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(Message(*r).rfind("metadata: ", 0), 0u) << r->body;
  EXPECT_TRUE(Get("/api/v3/applications/amp").at("metadata").is_null());
  // Too many operations.
  json::array many;
  for (int i = 0; i < 1001; ++i) {
    many.push_back(json::object{{"op", "test"}, {"path", "/id"}, {"value", "amp"}});
  }
  r = http_->PatchJson("/api/v3/applications/amp", json::serialize(many));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 413) << r->body;
  // A large metadata on create is refused the same way.
  const int64_t apps = Get("/api/v3/applications").at("page").at("totalElements").as_int64();
  const std::string big = R"({"id":"big","name":"n","user":"u","version":"1","status":"ACTIVE",)"
                          R"("metadata":{"k":")" +
                          std::string(300 * 1024, 'm') + "\"}}";
  auto c = Post("/api/v3/applications", big);
  EXPECT_EQ(c.status, 413) << c.body.substr(0, 200);
  EXPECT_EQ(Message(c).rfind("metadata: ", 0), 0u) << c.body.substr(0, 200);
  EXPECT_EQ(Get("/api/v3/applications").at("page").at("totalElements").as_int64(), apps);
  // A normal patch still works.
  r = http_->PatchJson("/api/v3/applications/amp",
                       R"([{"op":"add","path":"/metadata","value":{"team":"data"}}])");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 204) << r->body;
}

TEST_F(InputHardeningTest, StoredRecordsWithInvalidIdsDoNotStopTheServer) {
  server_->Stop();
  const fs::path db = data() / "weir.db";
  {
    auto stores = store::OpenSqlite(db.string(), SystemClock::Instance());
    ASSERT_TRUE(stores.ok()) << stores.status();
    const std::string archives = "file://" + fs::absolute(data() / "archives").string();
    int n = 0;
    for (std::string id : std::vector<std::string>{
             "..%2fweir.db#2", "..%2f..%2fetc", "victim.tar.gz#", "q?x=1", std::string(255, 'i')}) {
      model::JobRecord r;
      r.id = id;
      r.request.id = id;
      r.request.name = "old";
      r.request.user = "tester";
      r.request.version = "1";
      r.request.cluster_criterias = {{{"sched:sla"}}};
      r.request.command_criteria = {"type:bash"};
      r.created = r.updated = SystemClock::Instance().Now();
      r.job.status = (n++ % 2 == 0) ? model::JobStatus::kRunning : model::JobStatus::kInit;
      r.job.started = r.created;
      r.job.archive_location = archives + "/" + id + ".tar.gz";  // as older versions built it
      ASSERT_TRUE(stores->jobs->CreateJob(r).ok());
      // Its folder, as an older version made it: archiving it would write through the id.
      WriteFile(data() / "jobs" / id / "stdout", "old output\n");
    }
  }
  ASSERT_EQ(server_->Start(), "");
  EXPECT_EQ(Status("q%3Fx%3D1"), "FAILED");
  EXPECT_EQ(Status("..%252fweir.db%232"), "FAILED");
  // The server works, and nothing was written from the old ids.
  const std::string ok = SubmitOk(JobRequest("echo fine"));
  EXPECT_EQ(WaitFinal(ok), "SUCCEEDED");
  WaitForFile(data() / "archives" / (ok + ".tar.gz"));
  EXPECT_TRUE(IsSqliteFile(db));
  for (const std::string& f : Tree(data() / "archives")) {
    EXPECT_EQ(f, ok + ".tar.gz") << "unexpected archive " << f;
  }
  auto out = http_->Get("/api/v3/jobs/q%3Fx%3D1/output/");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status, 404) << out->body;
  server_->Stop();
  ASSERT_EQ(server_->Start(), "");
}

}  // namespace
}  // namespace weir::testing
