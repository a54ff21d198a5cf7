// Resolution that cannot surprise production, with the real binary: a bash sample project on
// main and on feature/x, deployed to a real server. "latest" in prod is main's newest build
// even when feature/x has a newer one; `project test`, `workflow render` and `project deploy`
// print which version each reference became; an asset whose bytes did not change is not
// published again; a dependency lands in the job folder under its asset's file name.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "client/http_client.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr char kWorkflow[] = "prod:sample.bash-sample.hello-bash";
constexpr char kMainUuidPart[] = "dataflow.bash.sample-greet.sample.bash-sample.main.";
constexpr char kFeatureUuidPart[] = "dataflow.bash.sample-greet.sample.bash-sample.feature%2Fx.";

class DataflowResolution : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
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

  void GitOk(const std::string& args) {
    auto [rc, out] = Git(project_, args);
    ASSERT_EQ(rc, 0) << "git " << args << ": " << out;
  }

  json::value GetJson(const std::string& path) {
    auto r = http_->Get(path);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return nullptr;
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return Parse(r->body);
  }

  // The JSON document of a `-o json` command: its last stdout line.
  static json::value LastLineJson(const std::string& out) {
    std::string s = out;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return Parse(s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1));
  }

  // feature/x gets a different greet.sh, published (a newer build than anything on main).
  void PublishNewerFeatureBuild() {
    GitOk("checkout -q -b feature/x");
    WriteFile(project_ / "src/greet.sh",
              "#!/usr/bin/env bash\necho \"FROM FEATURE BRANCH $1 $2\"\n");
    GitOk("commit -q -am feature");
    auto publish = Weir({"project", "deploy", "--assets-only"});
    ASSERT_EQ(publish.exit_code, 0) << publish.out << publish.err;
    ASSERT_NE(publish.out.find(kFeatureUuidPart), std::string::npos) << publish.out;
    GitOk("checkout -q main");
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
  fs::path project_;
};

TEST_F(DataflowResolution, ProdTakesMainsBuildAndEveryCommandSaysWhich) {
  // main's first build, then a newer one on feature/x.
  auto first = Weir({"project", "deploy", "--assets-only"});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  PublishNewerFeatureBuild();

  // project test and workflow render (local build of main) and deploy (main's published build)
  // all resolve for prod from main, and print the table on stderr.
  auto test = Weir({"project", "test", "--skip-tests"});
  ASSERT_EQ(test.exit_code, 0) << test.out << test.err;
  EXPECT_NE(test.err.find("RESOLVED (environment prod)"), std::string::npos) << test.err;
  EXPECT_NE(test.err.find("${dataflow.bash.sample-greet}"), std::string::npos) << test.err;
  EXPECT_NE(test.err.find("main#next"), std::string::npos) << test.err;
  EXPECT_EQ(test.err.find("feature"), std::string::npos) << test.err;

  auto render = Weir({"workflow", "render", "flows/hello.sch.yaml"});
  ASSERT_EQ(render.exit_code, 0) << render.out << render.err;
  EXPECT_NE(render.err.find("main#next"), std::string::npos) << render.err;
  EXPECT_EQ(render.out.find("RESOLVED"), std::string::npos) << "table on stdout: " << render.out;

  auto deploy = Weir({"project", "deploy"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.out << deploy.err;
  EXPECT_NE(deploy.err.find("RESOLVED (environment prod)"), std::string::npos) << deploy.err;
  EXPECT_NE(deploy.err.find(std::string(kMainUuidPart) + ""), std::string::npos) << deploy.err;
  EXPECT_NE(deploy.err.find("main#1"), std::string::npos) << deploy.err;
  EXPECT_EQ(deploy.err.find("feature"), std::string::npos) << deploy.err;
  // Same bytes as main's build 1: reused, not published again.
  EXPECT_NE(deploy.out.find("(reused: same bytes as the newest build on main"), std::string::npos)
      << deploy.out;

  // The step runs main's greet.sh, found in its job folder under that name.
  auto run = RunWeir(server_->url(), {"workflow", "run", kWorkflow, "--wait", "--timeout", "120"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  json::value instance =
      GetJson("/api/weir/v1/workflows/" + std::string(kWorkflow) + "/instances/1");
  std::string greet_job;
  for (const json::value& step : instance.at("steps").as_array()) {
    if (step.at("id") == "greet") greet_job = Str(step, "jobId");
  }
  ASSERT_FALSE(greet_job.empty()) << json::serialize(instance);
  // The instance records main's build as the asset it used, not feature/x's.
  EXPECT_NE(json::serialize(instance).find(kMainUuidPart), std::string::npos)
      << json::serialize(instance);
  EXPECT_EQ(json::serialize(instance).find(kFeatureUuidPart), std::string::npos)
      << json::serialize(instance);
  auto out = http_->Get("/api/v3/jobs/" + greet_job + "/output/stdout");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->body.find("Hello, it is"), std::string::npos) << out->body;
  EXPECT_EQ(out->body.find("FROM FEATURE BRANCH"), std::string::npos) << out->body;
  json::value request = GetJson("/api/v3/jobs/" + greet_job + "/request");
  bool named = false;
  for (const json::value& dep : request.at("dependencies").as_array()) {
    std::string uri(dep.as_string());
    if (uri.size() > 9 && uri.substr(uri.size() - 9) == "/greet.sh") named = true;
  }
  EXPECT_TRUE(named) << "no dependency named greet.sh: " << json::serialize(request);
}

TEST_F(DataflowResolution, BranchEnvironmentTakesItsOwnBuildAndJsonListsResolutions) {
  auto first = Weir({"project", "deploy", "--assets-only"});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  PublishNewerFeatureBuild();
  GitOk("checkout -q feature/x");

  auto deploy = Weir({"-o", "json", "project", "deploy"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.out << deploy.err;
  json::value doc = LastLineJson(deploy.out);
  ASSERT_TRUE(doc.is_object()) << deploy.out;
  const json::array& rows = doc.at("resolutions").as_array();
  ASSERT_EQ(rows.size(), 1u) << json::serialize(doc);
  EXPECT_EQ(rows[0].at("reference"), "dataflow.bash.sample-greet");
  EXPECT_EQ(rows[0].at("branch"), "feature/x");
  EXPECT_EQ(rows[0].at("build"), 1);
  EXPECT_NE(Str(rows[0], "uuid").find(kFeatureUuidPart), std::string::npos);
  // The asset was already published from this commit: reused.
  EXPECT_EQ(doc.at("assets").at(0).at("reused"), true) << json::serialize(doc);
}

TEST_F(DataflowResolution, UnchangedBytesAreNotPublishedAgainAndAnIdenticalBundleMakesNoVersion) {
  auto first = Weir({"project", "deploy"});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("VERSION 1"), std::string::npos) << first.out;

  // The same commit again: the asset is reused and the identical bundle makes no new version.
  auto same = Weir({"project", "deploy"});
  ASSERT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("(reused: same bytes as the newest build on main"), std::string::npos)
      << same.out;
  EXPECT_NE(same.out.find("VERSION 1 (unchanged: identical bundle)"), std::string::npos)
      << same.out;

  // An unrelated commit: greet.sh's bytes are the same, so no new asset version; the workflow
  // renders to the same text (main#1); the bundle differs only in its source commit, so the
  // scheduler records no new version (tests/dataflow_after_e2e_test.cc checks that).
  WriteFile(project_ / "NOTES.md", "unrelated\n");
  GitOk("add NOTES.md");
  GitOk("commit -q -m notes");
  auto again = Weir({"project", "deploy"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("(reused: same bytes as the newest build on main"), std::string::npos)
      << again.out;
  EXPECT_NE(again.err.find("main#1"), std::string::npos) << again.err;
  EXPECT_EQ(GetJson("/api/weir/v1/assets?type=bash&namespace=sample-greet")
                .at("page")
                .at("totalElements"),
            1);

  // Changed bytes: a new build, rendered into the new version.
  WriteFile(project_ / "src/greet.sh", "#!/usr/bin/env bash\necho \"$1! it is $2\"\n");
  GitOk("commit -q -am change");
  auto changed = Weir({"project", "deploy"});
  ASSERT_EQ(changed.exit_code, 0) << changed.out << changed.err;
  EXPECT_EQ(changed.out.find("(reused"), std::string::npos) << changed.out;
  EXPECT_NE(changed.err.find("main#2"), std::string::npos) << changed.err;
  EXPECT_EQ(GetJson("/api/weir/v1/assets?type=bash&namespace=sample-greet")
                .at("page")
                .at("totalElements"),
            2);
}

}  // namespace
}  // namespace weir::testing
