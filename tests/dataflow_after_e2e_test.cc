// End-to-end tests of the last parts of issue 10 with the real `weir` binary: cross-workflow
// triggers (`after:` with the upstream's logical date, once per date, durable across kill -9,
// `after_timeout`, validation at deploy), version churn (an unrelated commit deploys no new
// workflow or asset version) and trigger rules (steps independent of a failed one still run).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>

#include "client/http_client.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

const char* kProjectYaml = R"(project: {owner: acme, repo: chain, main_branch: main}
assets:
  - name: noop
    type: bash
    namespace: after-noop
    build: mkdir -p dist && cp src/noop.sh dist/noop.sh
    file: dist/noop.sh
workflows: [flows]
environments:
  prod: {}
)";

// up-a uses the asset (so an asset change makes a new version of it, and only of it).
const char* kUpA = R"(id: up-a
jobs:
  a:
    command: [type:bash]
    cluster: [type:local]
    dependencies: ["${dataflow.bash.after-noop}"]
    args: ["bash noop.sh && echo a"]
)";

// up-b fails while the file named by FAIL_FLAG exists (set per run with -p).
const char* kUpB = R"(id: up-b
params: {FAIL_FLAG: /nonexistent/weir-after-flag}
jobs:
  b:
    command: [type:bash]
    cluster: [type:local]
    args: ["test ! -e '${FAIL_FLAG}'"]
)";

const char* kUpC = R"(id: up-c
jobs:
  c: {command: [type:bash], cluster: [type:local], args: ["echo c"]}
)";

const char* kDown = R"(id: down
after: [up-a, up-b]
after_timeout: 1h
jobs:
  report:
    command: [type:bash]
    cluster: [type:local]
    args: ["echo date=${EXECUTION_DATE}"]
)";

const char* kLate = R"(id: late
after: [up-a, up-c]
after_timeout: 2s
jobs:
  report: {command: [type:bash], cluster: [type:local], args: ["echo late"]}
)";

// extract fails; load needs it; side -> side2 does not: they run to the end.
const char* kMixed = R"(id: mixed
jobs:
  extract: {command: [type:bash], cluster: [type:local], args: ["exit 4"]}
  load: {command: [type:bash], cluster: [type:local], depends_on: extract, args: ["echo load"]}
  side: {command: [type:bash], cluster: [type:local], args: ["sleep 1; echo side"]}
  side2: {command: [type:bash], cluster: [type:local], depends_on: side, args: ["echo side2"]}
)";

const std::string kDownId = "prod:acme.chain.down";
const std::string kLateId = "prod:acme.chain.late";

const json::array& Arr(const json::value& v, const char* key) {
  static const json::array kEmpty;
  if (!v.is_object() || !v.as_object().contains(key) || !v.at(key).is_array()) return kEmpty;
  return v.at(key).as_array();
}

class DataflowAfterE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = Weir({"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
    repo_ = dir_.path() / "chain";
    WriteFile(repo_ / "dataflow.yaml", kProjectYaml);
    WriteFile(repo_ / ".gitignore", ".workflows/\ndist/\n");
    WriteFile(repo_ / "src" / "noop.sh", "true\n");
    // `down` is written first: deploy must still deploy its upstream workflows before it.
    WriteFile(repo_ / "flows" / "0-down.sch.yaml", kDown);
    WriteFile(repo_ / "flows" / "late.sch.yaml", kLate);
    WriteFile(repo_ / "flows" / "up-a.sch.yaml", kUpA);
    WriteFile(repo_ / "flows" / "up-b.sch.yaml", kUpB);
    WriteFile(repo_ / "flows" / "up-c.sch.yaml", kUpC);
    WriteFile(repo_ / "flows" / "mixed.sch.yaml", kMixed);
    ASSERT_EQ(Git(repo_, "init -q -b main").first, 0);
    Commit("first");
    auto d = Weir({"project", "deploy"}, repo_);
    ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
  }

  void Commit(const std::string& message) {
    ASSERT_EQ(Git(repo_, "add -A").first, 0);
    auto c = Git(repo_, "commit -q -m " + ShellQuote(message));
    ASSERT_EQ(c.first, 0) << c.second;
  }

  CommandResult Weir(const std::vector<std::string>& args, const fs::path& cwd = {}) {
    return RunWeir(server_->url(), args, cwd);
  }

  // `weir workflow run ID --wait` for a logical date; returns the final status.
  std::string RunFor(const std::string& workflow, const std::string& date,
                     const std::vector<std::string>& params = {}) {
    std::vector<std::string> args = {"workflow",
                                     "run",
                                     "prod:acme.chain." + workflow,
                                     "-p",
                                     "EXECUTION_DATE=" + date,
                                     "--wait",
                                     "--timeout",
                                     "90",
                                     "-o",
                                     "json"};
    for (const std::string& p : params) {
      args.push_back("-p");
      args.push_back(p);
    }
    auto r = Weir(args);
    json::value v = Parse(r.out);
    return Str(v, "status");
  }

  json::value GetJson(const std::string& path) {
    auto r = http_->Get(path);
    EXPECT_TRUE(r.ok()) << path;
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return Parse(r->body);
  }

  // Instances of a deployed workflow, newest first.
  json::array Instances(const std::string& id) {
    json::value page = GetJson("/api/weir/v1/workflows/" + client::UrlEncode(id) + "/instances");
    return Arr(page, "instances");
  }

  json::value Workflow(const std::string& id) {
    return GetJson("/api/weir/v1/workflows/" + client::UrlEncode(id));
  }

  TempDir dir_;
  fs::path repo_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(DataflowAfterE2eTest, AfterStartsOncePerLogicalDateWhenAllUpstreamsSucceededAcrossKill9) {
  const std::string d1 = "2026-05-01T00:00:00Z";
  ASSERT_EQ(RunFor("up-a", d1), "SUCCEEDED");
  EXPECT_TRUE(Instances(kDownId).empty()) << "down started before up-b succeeded";

  // The pending trigger (up-a succeeded for d1) survives a crash.
  server_->Kill9();
  ASSERT_EQ(server_->Start(), "");
  ASSERT_EQ(RunFor("up-b", d1), "SUCCEEDED");
  ASSERT_TRUE(WaitFor(
      [&] {
        json::array i = Instances(kDownId);
        return i.size() == 1 && Str(i[0], "status") == "SUCCEEDED";
      },
      60s))
      << json::serialize(Instances(kDownId));
  json::value first = Instances(kDownId)[0];
  EXPECT_EQ(Str(first, "trigger"), "after");
  EXPECT_EQ(Str(first, "triggerTime"), "2026-05-01T00:00:00.000Z");

  // Another upstream success for the same date, then a restart of weir: no second instance (the
  // up-a run's SUCCEEDED and its trigger bookkeeping are one transaction).
  ASSERT_EQ(RunFor("up-a", d1), "SUCCEEDED");
  server_->Stop();
  ASSERT_EQ(server_->Start(), "");
  ASSERT_EQ(RunFor("up-b", d1), "SUCCEEDED");
  EXPECT_EQ(Instances(kDownId).size(), 1u) << json::serialize(Instances(kDownId));

  // A failed upstream instance that is restarted and then succeeds triggers its date once.
  const std::string d2 = "2026-05-02T00:00:00Z";
  const fs::path flag = dir_.path() / "fail-b";
  WriteFile(flag, "x");
  ASSERT_EQ(RunFor("up-b", d2, {"FAIL_FLAG=" + flag.string()}), "FAILED");
  ASSERT_EQ(RunFor("up-a", d2), "SUCCEEDED");
  EXPECT_EQ(Instances(kDownId).size(), 1u) << "down started although up-b failed for d2";
  fs::remove(flag);
  json::array b_instances = Instances("prod:acme.chain.up-b");
  ASSERT_FALSE(b_instances.empty());
  auto restart = Weir({"workflow", "restart", "prod:acme.chain.up-b", Str(b_instances[0], "number"),
                       "--wait", "--timeout", "90"});
  ASSERT_EQ(restart.exit_code, 0) << restart.out << restart.err;
  ASSERT_TRUE(WaitFor([&] { return Instances(kDownId).size() == 2; }, 60s))
      << json::serialize(Instances(kDownId));
  EXPECT_EQ(Str(Instances(kDownId)[0], "triggerTime"), "2026-05-02T00:00:00.000Z");

  // `workflow list` shows what a workflow runs after.
  auto list = Weir({"workflow", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("after up-a, up-b"), std::string::npos) << list.out;
}

TEST_F(DataflowAfterE2eTest, AnUpstreamThatDoesNotSucceedWithinAfterTimeoutFailsTheInstance) {
  const std::string d = "2026-06-01T00:00:00Z";
  ASSERT_EQ(RunFor("up-a", d), "SUCCEEDED");
  ASSERT_TRUE(WaitFor([&] { return !Instances(kLateId).empty(); }, 60s))
      << "no instance of late after its after_timeout";
  json::value inst = Instances(kLateId)[0];
  EXPECT_EQ(Str(inst, "status"), "FAILED");
  EXPECT_EQ(Str(inst, "trigger"), "after");
  EXPECT_EQ(Str(inst, "triggerTime"), "2026-06-01T00:00:00.000Z");
  EXPECT_NE(Str(inst, "message").find("upstream workflow 'up-c' did not succeed"),
            std::string::npos)
      << Str(inst, "message");
  auto shown = Weir({"workflow", "instances", kLateId});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("'up-c' did not succeed"), std::string::npos) << shown.out;

  // up-c succeeding late for that date starts nothing more.
  ASSERT_EQ(RunFor("up-c", d), "SUCCEEDED");
  EXPECT_EQ(Instances(kLateId).size(), 1u) << json::serialize(Instances(kLateId));
}

TEST_F(DataflowAfterE2eTest, AnUnknownWorkflowInAfterIsRefusedAtDeployNamingTheField) {
  WriteFile(repo_ / "flows" / "bad.sch.yaml",
            "id: bad\nafter: [up-a, up-x]\njobs:\n  j: {command: [type:bash], cluster: "
            "[type:local], args: [\"true\"]}\n");
  Commit("bad");
  auto d = Weir({"project", "deploy"}, repo_);
  EXPECT_EQ(d.exit_code, 1) << d.out << d.err;
  // The problems are progress lines (stdout for people, stderr with -o json).
  const std::string said = d.out + d.err;
  EXPECT_NE(said.find("flows/bad.sch.yaml:2:15: after: unknown workflow 'up-x'"), std::string::npos)
      << said;
  EXPECT_NE(said.find("did you mean: up-a"), std::string::npos) << said;
  auto t = Weir({"project", "test", "--offline"}, repo_);
  EXPECT_EQ(t.exit_code, 1);
  EXPECT_NE((t.out + t.err).find("after: unknown workflow 'up-x'"), std::string::npos)
      << t.out << t.err;
  // Nothing of it was deployed.
  auto r = http_->Get("/api/weir/v1/workflows/" + client::UrlEncode("prod:acme.chain.bad"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
}

TEST_F(DataflowAfterE2eTest, AnUnrelatedCommitDeploysNoNewVersionsAndAnAssetChangeDoes) {
  const std::string up_a = "prod:acme.chain.up-a", up_b = "prod:acme.chain.up-b";
  ASSERT_EQ(Str(Workflow(up_a), "latestVersion"), "1");
  auto assets = [&] {
    auto r = Weir({"asset", "list", "--type", "bash", "--namespace", "after-noop", "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::serialize(Parse(r.out));
  };
  const std::string assets_before = assets();

  WriteFile(repo_ / "README.md", "unrelated\n");
  Commit("docs");
  auto d = Weir({"project", "deploy"}, repo_);
  ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
  EXPECT_NE(d.err.find("REUSED noop"), std::string::npos) << d.err;
  EXPECT_NE(d.out.find("DEPLOYED " + up_a + " VERSION 1 (unchanged: same rendered workflow"),
            std::string::npos)
      << d.out;
  EXPECT_NE(d.out.find("only the commit differs"), std::string::npos) << d.out;
  EXPECT_EQ(d.out.find("VERSION 2"), std::string::npos) << d.out;
  EXPECT_EQ(Str(Workflow(up_a), "latestVersion"), "1");
  EXPECT_EQ(Str(Workflow(kDownId), "latestVersion"), "1");
  EXPECT_EQ(assets(), assets_before) << "a new asset version for an unrelated commit";

  WriteFile(repo_ / "src" / "noop.sh", "true  # changed\n");
  Commit("asset");
  d = Weir({"project", "deploy"}, repo_);
  ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
  EXPECT_EQ(d.err.find("REUSED noop"), std::string::npos) << d.err;
  EXPECT_NE(d.out.find("DEPLOYED " + up_a + " VERSION 2 active"), std::string::npos) << d.out;
  EXPECT_EQ(Str(Workflow(up_a), "latestVersion"), "2");
  EXPECT_EQ(Str(Workflow(up_b), "latestVersion"), "1");  // it does not use the asset
  EXPECT_NE(assets(), assets_before);
}

TEST_F(DataflowAfterE2eTest, StepsIndependentOfAFailedStepRunToTheEnd) {
  auto run =
      Weir({"workflow", "run", "prod:acme.chain.mixed", "--wait", "--timeout", "90", "-o", "json"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  json::value inst = Parse(run.out);
  EXPECT_EQ(Str(inst, "status"), "FAILED") << run.out;
  std::map<std::string, std::string> status;
  for (const auto& s : Arr(inst, "steps")) status[Str(s, "id")] = Str(s, "status");
  EXPECT_EQ(status["extract"], "FAILED");
  EXPECT_EQ(status["load"], "UPSTREAM_FAILED");
  EXPECT_EQ(status["side"], "SUCCEEDED");
  EXPECT_EQ(status["side2"], "SUCCEEDED") << "a step independent of the failure did not run";
}

}  // namespace
}  // namespace weir::testing
