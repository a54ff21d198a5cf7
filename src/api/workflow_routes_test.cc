// The workflow API over real HTTP (port 0), with the real Scheduler on a temp database, a
// FakeClock, fake blobs and a fake step launcher.
#include "api/workflow_routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "blob/sha256.h"
#include "client/http_client.h"
#include "common/ids.h"
#include "common/time_format.h"

namespace weir::api {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

class FakeBlobs final : public scheduler::BundleBlobs {
 public:
  Status Verify(std::string_view sha) override {
    std::lock_guard<std::mutex> lock(mu_);
    return present_.count(std::string(sha))
               ? Status::Ok()
               : FailedPrecondition("blob " + std::string(sha) + ": missing from the blob store");
  }
  Status Put(std::string_view bytes, std::string_view sha) override {
    if (blob::Sha256Hex(bytes) != sha) return InvalidArgument("hash mismatch");
    std::lock_guard<std::mutex> lock(mu_);
    present_.insert(std::string(sha));
    return Status::Ok();
  }
  Status VerifyAsset(std::string_view, std::string_view sha) override { return Verify(sha); }
  Result<std::string> FileUri(std::string_view sha, std::string_view name) override {
    return "file:///blobs/" + std::string(sha) + "/" + std::string(name);
  }

 private:
  std::mutex mu_;
  std::set<std::string> present_;
};

class FakeLauncher final : public scheduler::StepLauncher {
 public:
  Status Launch(const model::JobRequest& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_[r.id] = model::JobStatus::kRunning;
    return Status::Ok();
  }
  Result<scheduler::StepJobState> State(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!jobs_.count(id)) return NotFound("job " + id);
    return scheduler::StepJobState{jobs_[id], "", std::nullopt};
  }
  Status Kill(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_[id] = model::JobStatus::kKilled;
    return Status::Ok();
  }
  model::JobStatus JobState(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_.at(id);
  }

 private:
  std::mutex mu_;
  std::map<std::string, model::JobStatus> jobs_;
};

const std::string kDefinition =
    "id: etl\nparams:\n  TABLE: events\njobs:\n"
    "  a:\n    command: [type:bash]\n    cluster: [type:local]\n    args: [\"a ${TABLE}\"]\n"
    "  b:\n    command: [type:bash]\n    cluster: [type:local]\n    depends_on: [a]\n";

std::string Manifest(const std::string& definition, const std::string& env,
                     std::vector<workflow::BundleFile> files = {}) {
  workflow::BundleManifest m;
  m.workflow_id = "etl";
  m.environment = env;
  m.owner = "acme";
  m.repo = "warehouse";
  m.branch = "main";
  m.commit = std::string(40, 'c');
  m.workflow_file = "etl.sch.yaml";
  m.definition = definition;
  m.definition_sha256 = blob::Sha256Hex(definition);
  m.files = std::move(files);
  return workflow::CanonicalJson(m);
}

class WorkflowRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path("/tmp") / ("weir-workflow-routes-" + NewUuid());
    std::filesystem::create_directories(dir_ / "spool");
    scheduler::SchedulerOptions o;
    o.db_path = (dir_ / "weir.db").string();
    auto s = scheduler::Scheduler::Open(o, blobs_, launcher_, clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    sched_ = std::shared_ptr<scheduler::Scheduler>(std::move(*s));
    auto router = std::make_shared<Router>();
    RegisterWorkflowRoutes(*router, sched_);
    HttpServerOptions so;
    so.port = 0;
    so.spool_dir = dir_ / "spool";
    server_ = NewHttpServer(so, router);
    ASSERT_TRUE(server_->Start().ok());
    client_ =
        std::make_unique<client::HttpClient>("http://127.0.0.1:" + std::to_string(server_->port()));
  }
  void TearDown() override {
    client_.reset();
    server_->Stop();
    server_.reset();
    sched_.reset();
    std::filesystem::remove_all(dir_);
  }

  struct Reply {
    int status = 0;
    json::value body;
  };
  Reply Call(const std::string& method, const std::string& path, const std::string& body = "") {
    auto r = method == "GET"
                 ? client_->Get(path)
                 : client_->Request(method, path, body, {{"Content-Type", "application/json"}});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    Reply out;
    out.status = r->status;
    boost::system::error_code ec;
    out.body = json::parse(r->body, ec);
    EXPECT_FALSE(ec) << r->body;
    return out;
  }
  static std::string Str(const json::value& v, const char* key) {
    const json::value* f = v.as_object().if_contains(key);
    return f && f->is_string() ? std::string(f->as_string()) : "";
  }
  static std::string DeployBody(const std::string& manifest, const std::string& extra = "") {
    return "{\"manifest\":" + manifest + ",\"deployer\":\"alice\"" + extra + "}";
  }

  std::filesystem::path dir_;
  FakeClock clock_{*ParseIso8601("2026-03-02T10:00:00Z")};
  std::shared_ptr<FakeBlobs> blobs_ = std::make_shared<FakeBlobs>();
  std::shared_ptr<FakeLauncher> launcher_ = std::make_shared<FakeLauncher>();
  std::shared_ptr<scheduler::Scheduler> sched_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<client::HttpClient> client_;
};

const std::string kWorkflows = "/api/weir/v1/workflows";
const std::string kEtl = "/api/weir/v1/workflows/prod%3Aacme.warehouse.etl";

TEST_F(WorkflowRoutesTest, DeployListVersionsActivateRollback) {
  Reply d = Call("POST", kWorkflows,
                 DeployBody(Manifest(kDefinition, "prod"),
                            ",\"environmentParams\":{\"TARGET_DB\":\"prod_db\"},"
                            "\"catchup\":\"all\""));
  ASSERT_EQ(d.status, 201) << json::serialize(d.body);
  EXPECT_EQ(Str(d.body, "deployedId"), "prod:acme.warehouse.etl");
  EXPECT_EQ(d.body.at("version").as_int64(), 1);
  EXPECT_TRUE(d.body.at("active").as_bool());
  EXPECT_EQ(Str(d.body.at("workflow"), "catchup"), "all");
  EXPECT_EQ(Str(d.body.at("workflow").at("environmentParams"), "TARGET_DB"), "prod_db");

  // The same bundle again: 200, same version.
  Reply again = Call("POST", kWorkflows, DeployBody(Manifest(kDefinition, "prod")));
  EXPECT_EQ(again.status, 200);
  EXPECT_FALSE(again.body.at("created").as_bool());
  EXPECT_EQ(again.body.at("version").as_int64(), 1);
  // The manifest may also travel as a JSON string.
  Reply v2 = Call("POST", kWorkflows,
                  "{\"manifest\":" +
                      json::serialize(json::value(Manifest(kDefinition + "# 2\n", "prod"))) + "}");
  ASSERT_EQ(v2.status, 201) << json::serialize(v2.body);
  EXPECT_EQ(v2.body.at("version").as_int64(), 2);

  Reply list = Call("GET", kWorkflows);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body.at("workflows").as_array().size(), 1u);
  EXPECT_EQ(list.body.at("workflows").at(0).at("activeVersion").as_int64(), 2);

  Reply versions = Call("GET", kEtl + "/versions");
  ASSERT_EQ(versions.status, 200);
  ASSERT_EQ(versions.body.at("versions").as_array().size(), 2u);
  EXPECT_EQ(versions.body.at("versions").at(0).at("version").as_int64(), 2);
  EXPECT_EQ(versions.body.at("activations").as_array().size(), 2u);

  Reply one = Call("GET", kEtl + "/versions/1");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(Str(one.body.at("manifest"), "workflow_id"), "etl");
  EXPECT_EQ(Call("GET", kEtl + "/versions/7").status, 404);

  Reply rb = Call("POST", kEtl + "/rollback", "{\"actor\":\"ops\"}");
  ASSERT_EQ(rb.status, 200) << json::serialize(rb.body);
  EXPECT_EQ(rb.body.at("activeVersion").as_int64(), 1);
  Reply again_rb = Call("POST", kEtl + "/rollback", "");
  EXPECT_EQ(again_rb.status, 412);
  Reply act = Call("POST", kEtl + "/activate", "{\"version\":2}");
  ASSERT_EQ(act.status, 200);
  EXPECT_EQ(act.body.at("activeVersion").as_int64(), 2);
  EXPECT_EQ(Call("POST", kEtl + "/activate", "{}").status, 400);
  EXPECT_EQ(Call("POST", kEtl + "/activate", "{\"version\":2,\"bogus\":1}").status, 400);
}

TEST_F(WorkflowRoutesTest, RunShowStopRestartInstances) {
  ASSERT_EQ(Call("POST", kWorkflows, DeployBody(Manifest(kDefinition, "prod"))).status, 201);
  Reply run = Call("POST", kEtl + "/run",
                   "{\"params\":{\"TABLE\":\"clicks\",\"N\":3},\"requestedBy\":\"bob\"}");
  ASSERT_EQ(run.status, 201) << json::serialize(run.body);
  EXPECT_EQ(run.body.at("number").as_int64(), 1);
  EXPECT_EQ(Str(run.body, "id"), "prod:acme.warehouse.etl#1");
  EXPECT_EQ(Str(run.body.at("params"), "TABLE"), "clicks");
  EXPECT_EQ(Str(run.body.at("params"), "N"), "3");
  ASSERT_TRUE(sched_->Tick().ok());

  Reply inst = Call("GET", kEtl + "/instances/1");
  ASSERT_EQ(inst.status, 200);
  EXPECT_EQ(Str(inst.body, "status"), "RUNNING");
  const json::value& a = inst.body.at("steps").at(0);
  EXPECT_EQ(Str(a, "id"), "a");
  EXPECT_EQ(Str(a, "status"), "RUNNING");
  std::string job = Str(a, "jobId");
  EXPECT_EQ(job.size(), 36u);
  EXPECT_EQ(Str(inst.body.at("steps").at(1), "status"), "PENDING");
  EXPECT_TRUE(inst.body.at("steps").at(1).at("jobId").is_null());

  Reply list = Call("GET", kEtl + "/instances?status=running,created");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.at("page").at("totalElements").as_int64(), 1);
  EXPECT_EQ(Call("GET", kEtl + "/instances?status=BOGUS").status, 400);
  EXPECT_EQ(Call("GET", kEtl + "/instances?colour=red").status, 400);

  Reply stop = Call("POST", kEtl + "/instances/1/stop", "{\"actor\":\"erin\"}");
  ASSERT_EQ(stop.status, 200);
  EXPECT_EQ(Str(stop.body, "status"), "STOPPED");
  EXPECT_EQ(launcher_->JobState(job), model::JobStatus::kKilled);
  EXPECT_EQ(Call("POST", kEtl + "/instances/1/stop", "").status, 412);
  Reply restart = Call("POST", kEtl + "/instances/1/restart", "");
  ASSERT_EQ(restart.status, 200);
  EXPECT_EQ(restart.body.at("run").as_int64(), 2);
  EXPECT_EQ(Call("GET", kEtl + "/instances/9").status, 404);
  EXPECT_EQ(Call("GET", kEtl + "/instances/x").status, 400);
  EXPECT_EQ(Call("POST", kEtl + "/run", "{\"params\":{\"ENV\":\"x\"}}").status, 400);
}

TEST_F(WorkflowRoutesTest, BranchEnvironmentIdTravelsEncoded) {
  ASSERT_EQ(Call("POST", kWorkflows, DeployBody(Manifest(kDefinition, "branch:feature/x"))).status,
            201);
  Reply w =
      Call("GET", kWorkflows + "/" + client::UrlEncode("branch:feature/x:acme.warehouse.etl"));
  ASSERT_EQ(w.status, 200) << json::serialize(w.body);
  EXPECT_EQ(Str(w.body, "environment"), "branch:feature/x");
}

TEST_F(WorkflowRoutesTest, DeployErrors) {
  EXPECT_EQ(Call("POST", kWorkflows, "{not json").status, 400);
  EXPECT_EQ(Call("POST", kWorkflows, "{}").status, 400);
  Reply cycle = Call("POST", kWorkflows,
                     DeployBody(Manifest("id: etl\njobs:\n  a:\n    command: [x]\n    cluster: "
                                         "[y]\n    depends_on: [a]\n",
                                         "prod")));
  EXPECT_EQ(cycle.status, 400);
  EXPECT_THAT(Str(cycle.body, "message"), HasSubstr("cycle"));
  const std::string sql = "select 1;";
  const std::string sha = blob::Sha256Hex(sql);
  workflow::BundleFile f{"load.sql", sha, static_cast<int64_t>(sql.size()),
                         "bundle://files/" + sha + "/load.sql"};
  Reply missing = Call("POST", kWorkflows, DeployBody(Manifest(kDefinition, "prod", {f})));
  EXPECT_EQ(missing.status, 412);
  EXPECT_THAT(Str(missing.body, "message"), HasSubstr("load.sql"));
  EXPECT_EQ(Call("GET", kEtl).status, 404);

  // Multipart: the manifest, options and the file's bytes in one request.
  std::vector<client::Part> parts = {
      {"manifest", "", "application/json", Manifest(kDefinition, "prod", {f}), {}},
      {"options", "", "application/json", "{\"activate\":false,\"deployer\":\"ci\"}", {}},
      {"file", "load.sql", "application/octet-stream", sql, {}}};
  auto r = client_->PostMultipart(kWorkflows, parts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_THAT(r->body, HasSubstr("\"active\":false"));
  EXPECT_EQ(Call("GET", kEtl + "/versions").body.at("versions").at(0).at("deployer"), "ci");
}

}  // namespace
}  // namespace weir::api
