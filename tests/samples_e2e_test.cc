// Every sample recipe as a new data engineer meets it: `weir sample workflow RECIPE`,
// `weir project deploy --dry-run`, `weir project deploy`, then `weir workflow run --wait`
// against the real server with the demo configuration. Each step's job must succeed and print
// what the recipe promises.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <string>

#include "client/http_client.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

struct Recipe {
  std::string name;         // bash, python, sql
  std::string workflow;     // the deployed id
  std::string last_step;    // the step whose stdout is checked
  std::string last_output;  // a line that step prints
  std::string out_param;    // the parameter naming where the recipe writes ("": none)
  std::string dependency;   // the file name the last step's asset has in its job folder
};

class SamplesEndToEnd : public ::testing::TestWithParam<Recipe> {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto apply = RunWeir(server_->url(),
                         {"apply", "-f", std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml"});
    ASSERT_EQ(apply.exit_code, 0) << apply.out << apply.err;
  }

  json::value GetJson(const std::string& path) {
    auto r = http_->Get(path);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return nullptr;
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    EXPECT_FALSE(ec) << "not JSON: " << r->body;
    return v;
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_P(SamplesEndToEnd, DeploysAndRunsToSuccess) {
  const Recipe& recipe = GetParam();
  const std::string url = server_->url();
  auto sample = RunWeir(url, {"sample", "workflow", recipe.name, "project"}, dir_.path());
  ASSERT_EQ(sample.exit_code, 0) << sample.out << sample.err;
  const fs::path project = dir_.path() / "project";

  // A dry run builds, renders and writes the bundle locally, and changes nothing on the server.
  auto dry = RunWeir(url, {"project", "deploy", "--dry-run"}, project);
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_NE(dry.out.find("WOULD DEPLOY " + recipe.workflow), std::string::npos) << dry.out;
  auto none = http_->Get("/api/weir/v1/workflows/" + recipe.workflow);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->status, 404) << none->body;
  EXPECT_EQ(GetJson("/api/weir/v1/assets").at("page").at("totalElements"), 0);

  auto deploy = RunWeir(url, {"project", "deploy"}, project);
  ASSERT_EQ(deploy.exit_code, 0) << deploy.out << deploy.err;
  EXPECT_NE(deploy.out.find("DEPLOYED " + recipe.workflow), std::string::npos) << deploy.out;

  // Where a recipe writes is a parameter: keep it inside the test's folder.
  std::vector<std::string> args = {"workflow", "run",       recipe.workflow,
                                   "--wait",   "--timeout", "120"};
  if (!recipe.out_param.empty()) {
    args.insert(args.end(), {"-p", recipe.out_param + "=" + (dir_.path() / "out").string()});
  }
  auto run = RunWeir(url, args);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;

  json::value instance = GetJson("/api/weir/v1/workflows/" + recipe.workflow + "/instances/1");
  ASSERT_TRUE(instance.is_object());
  EXPECT_EQ(instance.at("status"), "SUCCEEDED") << json::serialize(instance);
  std::string last_job;
  for (const json::value& step : instance.at("steps").as_array()) {
    EXPECT_EQ(step.at("status"), "SUCCEEDED") << json::serialize(step);
    if (step.at("id") == recipe.last_step.c_str() && step.at("jobId").is_string()) {
      last_job = std::string(step.at("jobId").as_string());
    }
  }
  ASSERT_FALSE(last_job.empty()) << "no job for step " << recipe.last_step << ": "
                                 << json::serialize(instance);
  auto out = http_->Get("/api/v3/jobs/" + last_job + "/output/stdout");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->body.find(recipe.last_output), std::string::npos)
      << "stdout of step " << recipe.last_step << ":\n"
      << out->body;

  // The request the step's job was given names only files that exist: no dependency picked
  // up a character of the shell around ${dataflow.file:...} (a ')' once became part of one).
  // The asset keeps its file name (the recipe runs it by that name, no $(basename ...)).
  json::value request = GetJson("/api/v3/jobs/" + last_job + "/request");
  bool named = false;
  for (const json::value& dep : request.at("dependencies").as_array()) {
    std::string uri(dep.as_string());
    EXPECT_EQ(uri.find("%29"), std::string::npos) << uri;
    if (uri.size() > recipe.dependency.size() &&
        uri.compare(uri.size() - recipe.dependency.size() - 1, std::string::npos,
                    "/" + recipe.dependency) == 0) {
      named = true;
    }
  }
  EXPECT_TRUE(named) << "no dependency named " << recipe.dependency << ": "
                     << json::serialize(request);
}

// Cron, containers and `env -i` leave $USER unset: the deployer and the user the steps run as are
// then the local account's name, never empty and never the scheduler's own name.
TEST_F(SamplesEndToEnd, WithoutUserVariablesTheAccountNameIsTheDeployer) {
  const std::string url = server_->url();
  ASSERT_EQ(RunWeir(url, {"sample", "workflow", "bash", "project"}, dir_.path()).exit_code, 0);
  const fs::path project = dir_.path() / "project";
  const std::string account = [] {
    passwd* pw = ::getpwuid(::getuid());
    return pw != nullptr ? std::string(pw->pw_name) : std::string();
  }();
  ASSERT_FALSE(account.empty());
  const std::string weir = ShellQuote(WeirBinary().string());
  for (const std::string& args :
       {std::string("project deploy"),
        std::string("workflow run prod:sample.bash-sample.hello-bash --wait --timeout 120")}) {
    const std::string cmd = "cd " + ShellQuote(project.string()) + " && env -u USER -u LOGNAME " +
                            weir + " --server " + url + " " + args + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  json::value versions =
      GetJson("/api/weir/v1/workflows/prod:sample.bash-sample.hello-bash/versions");
  ASSERT_TRUE(versions.is_object()) << json::serialize(versions);
  EXPECT_EQ(versions.at("versions").at(0).at("deployer"), account.c_str())
      << json::serialize(versions);
  json::value instance =
      GetJson("/api/weir/v1/workflows/prod:sample.bash-sample.hello-bash/instances/1");
  for (const json::value& step : instance.at("steps").as_array()) {
    ASSERT_TRUE(step.at("jobId").is_string()) << json::serialize(step);
    json::value job = GetJson("/api/v3/jobs/" + std::string(step.at("jobId").as_string()));
    EXPECT_EQ(job.at("user"), account.c_str()) << json::serialize(job);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Recipes, SamplesEndToEnd,
    ::testing::Values(
        Recipe{"bash", "prod:sample.bash-sample.hello-bash", "greet", ", it is ", "", "greet.sh"},
        // The python and sql recipes write inside their job folders by default.
        Recipe{"python", "prod:sample.python-sample.hourly-etl", "summarize",
               "wrote out/prod/summary-", "", "sample_etl.pyz"},
        Recipe{"sql", "prod:sample.sql-sample.daily-report", "report", "click", "", "report.sql"}),
    [](const ::testing::TestParamInfo<Recipe>& info) { return info.param.name; });

}  // namespace
}  // namespace weir::testing
