// Issue 10 (CLI part): `-o json` prints exactly one JSON document on stdout for the project and
// workflow commands (progress goes to stderr), and the lifecycle verbs `weir workflow pause |
// resume | undeploy` against the real server, with the bash sample project. The cron side of
// pause/undeploy is covered with the scheduler's injected clock in src/scheduler/scheduler_test.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <string>

#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const std::string kWorkflow = "prod:sample.bash-sample.hello-bash";

// stdout parsed as exactly one JSON document (boost::json::parse refuses trailing text).
json::value OneDocument(const CommandResult& r, const std::string& what) {
  boost::system::error_code ec;
  json::value v = json::parse(r.out, ec);
  EXPECT_FALSE(ec) << what << ": stdout is not exactly one JSON document:\n"
                   << r.out << "\nstderr:\n"
                   << r.err;
  return ec ? json::value() : v;
}

// The entry of `id` in `workflow list -o json` (null when not listed).
json::value Listed(const json::value& list, const std::string& id) {
  if (!list.is_object() || !list.as_object().contains("workflows")) return nullptr;
  for (const auto& w : list.at("workflows").as_array()) {
    if (Str(w, "id") == id) return w;
  }
  return nullptr;
}

class WorkflowLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data");
    ASSERT_EQ(server_->Start(), "");
    auto apply = RunWeir(server_->url(),
                         {"apply", "-f", std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml"});
    ASSERT_EQ(apply.exit_code, 0) << apply.out << apply.err;
    auto sample = RunWeir(server_->url(), {"sample", "workflow", "bash", "project"}, dir_.path());
    ASSERT_EQ(sample.exit_code, 0) << sample.out << sample.err;
    project_ = dir_.path() / "project";
  }

  CommandResult Weir(const std::vector<std::string>& args) {
    return RunWeir(server_->url(), args, project_);
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  fs::path project_;
};

TEST_F(WorkflowLifecycle, ProjectCommandsPrintOneJsonDocumentAndProgressOnStderr) {
  auto build = Weir({"project", "build", "-o", "json"});
  ASSERT_EQ(build.exit_code, 0) << build.out << build.err;
  json::value b = OneDocument(build, "project build");
  EXPECT_EQ(Str(b, "ok"), "true");
  EXPECT_FALSE(b.at("assets").as_array().empty()) << build.out;

  auto test = Weir({"project", "test", "-o", "json"});
  ASSERT_EQ(test.exit_code, 0) << test.out << test.err;
  json::value t = OneDocument(test, "project test");
  EXPECT_EQ(Str(t, "environment"), "prod");
  ASSERT_FALSE(t.at("workflows").as_array().empty()) << test.out;
  EXPECT_EQ(Str(t.at("workflows").as_array()[0], "valid"), "true");
  EXPECT_NE(test.err.find("VALID "), std::string::npos) << test.err;

  auto dry = Weir({"project", "deploy", "--dry-run", "-o", "json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  OneDocument(dry, "project deploy --dry-run");
  EXPECT_NE(dry.err.find("WOULD DEPLOY " + kWorkflow), std::string::npos) << dry.err;

  auto deploy = Weir({"project", "deploy", "-o", "json"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.out << deploy.err;
  json::value d = OneDocument(deploy, "project deploy");
  ASSERT_EQ(d.at("workflows").as_array().size(), 1u) << deploy.out;
  const json::value& w = d.at("workflows").as_array()[0];
  EXPECT_EQ(Str(w, "workflow"), kWorkflow);
  EXPECT_TRUE(w.at("version").is_int64()) << deploy.out;  // an integer, as in `workflow list`

  // `asset list` without --type/--namespace lists the namespaces (discovery).
  auto assets = Weir({"asset", "list", "-o", "json"});
  ASSERT_EQ(assets.exit_code, 0) << assets.out << assets.err;
  json::value ns = OneDocument(assets, "asset list");
  ASSERT_TRUE(ns.is_object() && ns.as_object().contains("namespaces")) << assets.out;
  bool found = false;
  for (const auto& n : ns.at("namespaces").as_array()) {
    if (Str(n, "type") == "bash" && Str(n, "namespace") == "sample-greet") found = true;
  }
  EXPECT_TRUE(found) << assets.out;

  auto list = Weir({"workflow", "list", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  json::value l = OneDocument(list, "workflow list");
  EXPECT_TRUE(Listed(l, kWorkflow).at("latestVersion").is_int64()) << list.out;
}

TEST_F(WorkflowLifecycle, PauseKeepsManualRunsResumeAndUndeployHidesFromList) {
  auto deploy = Weir({"project", "deploy"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.out << deploy.err;

  auto pause = Weir({"workflow", "pause", kWorkflow, "-o", "json"});
  ASSERT_EQ(pause.exit_code, 0) << pause.out << pause.err;
  EXPECT_EQ(Str(OneDocument(pause, "workflow pause"), "paused"), "true");
  auto table = Weir({"workflow", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("paused"), std::string::npos) << table.out;

  // A restart keeps the pause.
  server_->Stop();
  ASSERT_EQ(server_->Start(), "");
  json::value l = OneDocument(Weir({"workflow", "list", "-o", "json"}), "workflow list");
  EXPECT_EQ(Str(Listed(l, kWorkflow), "paused"), "true") << json::serialize(l);

  // Manual runs still work while paused.
  auto run = Weir({"workflow", "run", kWorkflow, "--wait", "--timeout", "120", "-o", "json"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(Str(OneDocument(run, "workflow run --wait"), "status"), "SUCCEEDED");

  auto resume = Weir({"workflow", "resume", kWorkflow});
  ASSERT_EQ(resume.exit_code, 0) << resume.out << resume.err;
  EXPECT_NE(resume.out.find(kWorkflow + ": active"), std::string::npos) << resume.out;

  auto undeploy = Weir({"workflow", "undeploy", kWorkflow});
  ASSERT_EQ(undeploy.exit_code, 0) << undeploy.out << undeploy.err;
  l = OneDocument(Weir({"workflow", "list", "-o", "json"}), "workflow list");
  EXPECT_TRUE(Listed(l, kWorkflow).is_null()) << json::serialize(l);
  l = OneDocument(Weir({"workflow", "list", "--all", "-o", "json"}), "workflow list --all");
  EXPECT_TRUE(Listed(l, kWorkflow).at("undeployed").is_string()) << json::serialize(l);
  auto refused = Weir({"workflow", "run", kWorkflow});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("weir project deploy"), std::string::npos) << refused.err;
  auto versions = Weir({"workflow", "versions", kWorkflow, "-o", "json"});
  EXPECT_EQ(versions.exit_code, 0) << versions.err;  // kept for audit

  // Deploying again brings it back.
  auto again = Weir({"project", "deploy"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  l = OneDocument(Weir({"workflow", "list", "-o", "json"}), "workflow list");
  EXPECT_FALSE(Listed(l, kWorkflow).is_null()) << json::serialize(l);
}

// Branch environments deploy manual-only (no cron) by default; `project prune` undeploys the
// branch environments whose git branch is gone from the project's repository, and leaves the
// others (and other environments) alone.
TEST_F(WorkflowLifecycle, BranchEnvironmentsAreManualAndPruneUndeploysGoneBranches) {
  const std::string keep = "branch:keep:sample.bash-sample.hello-bash";
  const std::string gone = "branch:gone:sample.bash-sample.hello-bash";
  ASSERT_EQ(std::system(("git -C '" + project_.string() + "' branch keep").c_str()), 0);
  for (const char* env : {"branch:keep", "branch:gone", "prod"}) {
    auto d = Weir({"project", "deploy", "--env", env});
    ASSERT_EQ(d.exit_code, 0) << env << d.out << d.err;
  }
  json::value l = OneDocument(Weir({"workflow", "list", "-o", "json"}), "workflow list");
  EXPECT_EQ(Str(Listed(l, keep), "paused"), "true") << json::serialize(l);
  EXPECT_TRUE(Listed(l, keep).at("nextFire").is_null()) << json::serialize(l);
  EXPECT_EQ(Str(Listed(l, kWorkflow), "paused"), "false") << json::serialize(l);

  auto dry = Weir({"project", "prune", "--dry-run", "-o", "json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  json::value d = OneDocument(dry, "project prune --dry-run");
  ASSERT_EQ(d.at("undeployed").as_array().size(), 1u) << dry.out;
  EXPECT_EQ(Str(d.at("undeployed").as_array()[0], "workflow"), gone);
  l = OneDocument(Weir({"workflow", "list", "-o", "json"}), "workflow list");
  EXPECT_FALSE(Listed(l, gone).is_null()) << "a dry run changed something";

  auto prune = Weir({"project", "prune"});
  ASSERT_EQ(prune.exit_code, 0) << prune.out << prune.err;
  l = OneDocument(Weir({"workflow", "list", "-o", "json"}), "workflow list");
  EXPECT_TRUE(Listed(l, gone).is_null()) << json::serialize(l);
  EXPECT_FALSE(Listed(l, keep).is_null()) << json::serialize(l);
  EXPECT_FALSE(Listed(l, kWorkflow).is_null()) << json::serialize(l);
  auto again = Weir({"project", "prune", "-o", "json"});
  EXPECT_TRUE(OneDocument(again, "project prune").at("undeployed").as_array().empty()) << again.out;
}

}  // namespace
}  // namespace weir::testing
