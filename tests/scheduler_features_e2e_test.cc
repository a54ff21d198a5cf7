// End-to-end tests of the scheduling features of issue 10 with the real `weir` binary: backfill
// of a schedule's past fire times (with logical dates in the workflow's time zone), and a failing
// step whose stderr reaches the step's message while downstream steps end UPSTREAM_FAILED.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <thread>

#include "client/http_client.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

const char* kProjectYaml = R"(project: {owner: acme, repo: feats, main_branch: main}
assets:
  - name: noop
    type: bash
    namespace: e2e-noop
    build: mkdir -p dist && cp src/noop.sh dist/noop.sh
    file: dist/noop.sh
workflows: [flows]
environments:
  prod: {}
)";

// Daily at 07:00 in Asia/Kolkata (01:30 UTC); the step prints its logical dates.
const char* kDaily = R"(id: daily
schedule: "0 7 * * *"
timezone: Asia/Kolkata
jobs:
  report:
    command: [type:bash]
    cluster: [type:local]
    args: ["echo day=${EXECUTION_DAY} local=${EXECUTION_DATE_LOCAL}"]
)";

// `extract` fails with a message on stderr; `load` needs it; `notify` runs on a failure.
const char* kFailing = R"(id: failing
jobs:
  extract:
    command: [type:bash]
    cluster: [type:local]
    args: ["echo starting >&2; echo 'fatal: table events_2026 is missing' >&2; exit 3"]
  load:
    command: [type:bash]
    cluster: [type:local]
    depends_on: extract
    args: ["echo load"]
  notify:
    command: [type:bash]
    cluster: [type:local]
    depends_on: extract
    trigger_rule: one_failed
    args: ["echo notify"]
)";

const json::array& Arr(const json::value& v, const char* key) {
  static const json::array kEmpty;
  if (!v.is_object() || !v.as_object().contains(key) || !v.at(key).is_array()) return kEmpty;
  return v.at(key).as_array();
}

class SchedulerFeaturesE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = Weir({"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
    repo_ = dir_.path() / "feats";
    WriteFile(repo_ / "dataflow.yaml", kProjectYaml);
    WriteFile(repo_ / ".gitignore", ".workflows/\ndist/\n");
    WriteFile(repo_ / "src" / "noop.sh", "true\n");
    WriteFile(repo_ / "flows" / "daily.sch.yaml", kDaily);
    WriteFile(repo_ / "flows" / "failing.sch.yaml", kFailing);
    ASSERT_EQ(Git(repo_, "init -q -b main").first, 0);
    ASSERT_EQ(Git(repo_, "add -A").first, 0);
    auto c = Git(repo_, "commit -q -m first");
    ASSERT_EQ(c.first, 0) << c.second;
    auto d = Weir({"project", "deploy"}, repo_);
    ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
  }

  CommandResult Weir(const std::vector<std::string>& args, const fs::path& cwd = {}) {
    return RunWeir(server_->url(), args, cwd);
  }

  json::value GetJson(const std::string& path) {
    auto r = http_->Get(path);
    EXPECT_TRUE(r.ok()) << path;
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return Parse(r->body);
  }

  json::value Instance(const std::string& id, int n) {
    return GetJson("/api/weir/v1/workflows/" + client::UrlEncode(id) + "/instances/" +
                   std::to_string(n));
  }

  static const json::value* Step(const json::value& inst, const std::string& step) {
    for (const auto& s : Arr(inst, "steps")) {
      if (Str(s, "id") == step) return &s;
    }
    return nullptr;
  }

  TempDir dir_;
  fs::path repo_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(SchedulerFeaturesE2eTest, BackfillRunsEachFireTimeOnceWithLocalLogicalDates) {
  const std::string id = "prod:acme.feats.daily";
  // 2026-01-01..03 at 01:30 UTC: three fire times.
  auto b = Weir({"workflow", "backfill", id, "--from", "2026-01-01T00:00:00Z", "--to",
                 "2026-01-03T23:00:00Z", "--parallel", "2", "--timeout", "90", "-o", "json"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  json::value out = Parse(b.out);  // exactly one JSON document on stdout
  ASSERT_EQ(Arr(out, "created").size(), 3u) << b.out;
  EXPECT_TRUE(Arr(out, "skipped").empty());
  EXPECT_NE(b.err.find("3 instance(s) created"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("3 instance(s) ended, 0 did not succeed"), std::string::npos) << b.err;
  std::map<std::string, std::string> day_of;  // logical time → step output
  for (const json::value& i : Arr(out, "created")) {
    EXPECT_EQ(Str(i, "status"), "SUCCEEDED") << json::serialize(i);
    EXPECT_EQ(Str(i, "trigger"), "backfill");
    json::value inst = Instance(id, static_cast<int>(i.at("number").to_number<int64_t>()));
    const json::value* step = Step(inst, "report");
    ASSERT_NE(step, nullptr);
    auto r = http_->Get("/api/v3/jobs/" + Str(*step, "jobId") + "/output/stdout");
    ASSERT_TRUE(r.ok());
    day_of[Str(i, "triggerTime")] = r->body;
  }
  EXPECT_EQ(day_of["2026-01-01T01:30:00.000Z"], "day=2026-01-01 local=2026-01-01T07:00:00+05:30\n");
  EXPECT_EQ(day_of["2026-01-03T01:30:00.000Z"], "day=2026-01-03 local=2026-01-03T07:00:00+05:30\n");

  // Again over a wider range: only the new fire time runs.
  b = Weir({"workflow", "backfill", id, "--from", "2026-01-01T00:00:00Z", "--to",
            "2026-01-04T23:00:00Z", "--timeout", "90", "-o", "json"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  out = Parse(b.out);
  ASSERT_EQ(Arr(out, "created").size(), 1u) << b.out;
  EXPECT_EQ(Str(Arr(out, "created")[0], "triggerTime"), "2026-01-04T01:30:00.000Z");
  EXPECT_EQ(Arr(out, "skipped").size(), 3u);
  EXPECT_NE(b.err.find("3 fire time(s) already run (skipped)"), std::string::npos) << b.err;

  // A workflow without a schedule has nothing to backfill.
  b = Weir({"workflow", "backfill", "prod:acme.feats.failing", "--from", "2026-01-01T00:00:00Z",
            "--to", "2026-01-02T00:00:00Z"});
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.err.find("no schedule"), std::string::npos) << b.err;
}

TEST_F(SchedulerFeaturesE2eTest, AFailingStepsStderrIsInItsMessageAndDownstreamIsUpstreamFailed) {
  const std::string id = "prod:acme.feats.failing";
  auto run = Weir({"workflow", "run", id, "--wait", "--timeout", "90"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  // Step progress on stderr while waiting.
  EXPECT_NE(run.err.find("step extract: FAILED"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("step load: UPSTREAM_FAILED"), std::string::npos) << run.err;
  json::value inst = Instance(id, 1);
  ASSERT_EQ(Str(inst, "status"), "FAILED") << json::serialize(inst);
  const json::value* extract = Step(inst, "extract");
  ASSERT_NE(extract, nullptr);
  EXPECT_NE(Str(*extract, "message").find("exit code 3"), std::string::npos)
      << Str(*extract, "message");
  EXPECT_NE(Str(*extract, "message")
                .find("last lines of stderr:\nstarting\nfatal: table events_2026 is missing"),
            std::string::npos)
      << Str(*extract, "message");
  EXPECT_NE(Str(inst, "message").find("fatal: table events_2026 is missing"), std::string::npos);
  EXPECT_EQ(Str(*Step(inst, "load"), "status"), "UPSTREAM_FAILED");
  EXPECT_EQ(Str(*Step(inst, "notify"), "status"), "SUCCEEDED");
  // The job's name carries the environment.
  auto job = http_->Get("/api/v3/jobs/" + Str(*extract, "jobId"));
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(Str(Parse(job->body), "name"), "prod:failing.extract");

  // restart --wait runs the failed steps again and follows them like run --wait.
  auto again = Weir({"workflow", "restart", id, "1", "--wait", "--timeout", "90"});
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
  EXPECT_TRUE(again.err.find(": CREATED") != std::string::npos ||
              again.err.find(": RUNNING") != std::string::npos)
      << "restart --wait did not follow the instance again: " << again.err;
  EXPECT_NE(again.err.find("step extract: FAILED"), std::string::npos) << again.err;
  EXPECT_NE(again.out.find("FAILED"), std::string::npos) << again.out;
  EXPECT_EQ(Str(Instance(id, 1), "status"), "FAILED");
}

}  // namespace
}  // namespace weir::testing
