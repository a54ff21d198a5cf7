// Issue 15, the gateway engine, end to end through the real `weir server`: output limits that
// hold whatever the speed, a job killed while queued, explained 412s, and the server log's line
// per job event (text and JSON lines).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "client/http_client.h"
#include "job_api.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

// Extra configuration for the 412 explanations: a cluster out of service and a command that no
// cluster links.
const char* kExtraYaml = R"(commands:
  - id: lonely
    name: lonely
    user: admin
    version: "1"
    status: ACTIVE
    executable: /bin/true
    tags: [type:lonely]
clusters:
  - id: old
    name: old
    user: admin
    version: "1"
    status: OUT_OF_SERVICE
    tags: [sched:legacy]
    commands: [bash]
)";

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", Config());
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }
  // One job at a time (1024 MB each, 1024 MB in all), the others queue.
  virtual std::string Config() {
    return "server:\n  log_format: json\n"
           "jobs:\n  kill_grace_ms: 500\n  max_stdout_bytes: 5242880\n"
           "  default_memory_mb: 1024\n  max_system_memory_mb: 1024\n  queue_enabled: true\n";
  }

  json::object Request(const std::string& script) { return BashJobRequest(script); }

  std::string Submit(const std::string& script) { return SubmitJob(*http_, Request(script)); }

  json::value Get(const std::string& path) { return GetJson(*http_, path); }

  std::string Status(const std::string& id) { return JobStatus(*http_, id); }

  std::string WaitFinal(const std::string& id) { return WaitJobFinal(*http_, id); }

  void WaitRunning(const std::string& id) { WaitJobRunning(*http_, id, 60s); }

  // The server log's lines holding `needle`, waiting (≤ 30 s) until there is one.
  std::vector<std::string> LogLinesWith(const std::string& needle) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (true) {
      std::vector<std::string> found;
      std::ifstream in(server_->data_dir() / "server.log");
      std::string line;
      while (std::getline(in, line)) {
        if (line.find(needle) != std::string::npos) found.push_back(line);
      }
      if (!found.empty() || std::chrono::steady_clock::now() > deadline) return found;
      std::this_thread::sleep_for(20ms);
    }
  }

  // The JSON log line of job event `event` ("job.finished") for `id`; null when none.
  json::value EventLine(const std::string& event, const std::string& id) {
    for (const std::string& line : LogLinesWith("\"" + event + "\"")) {
      json::value v = Parse(line);
      if (Str(v, "id") == id) return v;
    }
    ADD_FAILURE() << "no " << event << " line for job " << id;
    return nullptr;
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

// Bug 10: 20 MB written in a fraction of a second used to end SUCCEEDED at a 5 MiB limit.
TEST_F(EngineTest, FastWriterIsKilledAtTheStdoutLimit) {
  std::string id = Submit("head -c 20000000 /dev/zero");
  ASSERT_EQ(WaitFinal(id), "KILLED");
  json::value status = Get("/api/v3/jobs/" + id);
  EXPECT_NE(Str(status, "statusMsg").find("Std out length exceeded."), std::string::npos)
      << Str(status, "statusMsg");
  EXPECT_NE(Str(status, "statusMsg").find("5242880 bytes (jobs.max_stdout_bytes)"),
            std::string::npos)
      << Str(status, "statusMsg");
  auto out = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->body.size(), 5242880u) << "the file keeps the first 5 MiB";
}

// Bug 11: a job killed while queued never ran: no exit code, a message that says so, and its
// output answers "job never started".
TEST_F(EngineTest, JobKilledWhileQueuedSaysItNeverStarted) {
  std::string first = Submit("sleep 60");
  WaitRunning(first);
  std::string queued = Submit("echo never");
  ASSERT_EQ(Status(queued), "INIT");
  auto killed = http_->Delete("/api/v3/jobs/" + queued);
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->status, 202);
  ASSERT_EQ(WaitFinal(queued), "KILLED");
  json::value job = Get("/api/v3/jobs/" + queued);
  EXPECT_NE(Str(job, "statusMsg").find("before it started"), std::string::npos)
      << Str(job, "statusMsg");
  json::value exec = Get("/api/v3/jobs/" + queued + "/execution");
  EXPECT_TRUE(exec.at("exitCode").is_null()) << json::serialize(exec);
  auto out = http_->Get("/api/v3/jobs/" + queued + "/output/stdout");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status, 404);
  EXPECT_NE(Str(Parse(out->body), "message").find("job never started"), std::string::npos)
      << out->body;
  // A job killed while it runs keeps Genie's 999.
  ASSERT_TRUE(http_->Delete("/api/v3/jobs/" + first).ok());
  ASSERT_EQ(WaitFinal(first), "KILLED");
  EXPECT_EQ(Get("/api/v3/jobs/" + first + "/execution").at("exitCode"), json::value(999));
}

TEST_F(EngineTest, NoMatch412ExplainsWhichCriterionMatchedNothing) {
  fs::path extra = dir_.path() / "extra.yaml";
  std::ofstream(extra) << kExtraYaml;
  auto applied = RunWeir(server_->url(), {"apply", "-f", extra.string()});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;

  auto submit = [&](json::array clusters, json::array command) {
    json::object req = Request("true");
    req["clusterCriterias"] = std::move(clusters);
    req["commandCriteria"] = std::move(command);
    auto r = http_->PostJson("/api/v3/jobs", json::serialize(req));
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->status, 412) << r->body;
    return Parse(r->body);
  };
  // A misspelled cluster tag: the criterion, and the nearest tag.
  json::value typo =
      submit(json::array{json::object{{"tags", {"sched:adhok"}}}}, json::array{"type:bash"});
  EXPECT_EQ(Str(typo, "status"), "412");
  EXPECT_EQ(Str(typo, "error"), "Precondition Failed");
  EXPECT_EQ(Str(typo, "message").rfind("No cluster/command combination found", 0), 0u)
      << Str(typo, "message");
  EXPECT_NE(Str(typo, "message").find("'sched:adhoc'"), std::string::npos);
  const json::value& c0 = typo.at("detail").at("clusterCriterias").at(0);
  EXPECT_EQ(Str(c0, "criterion"), "clusterCriterias[0]");
  EXPECT_EQ(Str(c0, "matched"), "0");
  EXPECT_EQ(Str(c0.at("unknownTags").at(0), "tag"), "sched:adhok");
  EXPECT_EQ(c0.at("unknownTags").at(0).at("nearest").at(0), json::value("sched:adhoc"));

  // A cluster with the tags but OUT_OF_SERVICE.
  json::value down =
      submit(json::array{json::object{{"tags", {"sched:legacy"}}}}, json::array{"type:bash"});
  const json::value& excluded =
      down.at("detail").at("clusterCriterias").at(0).at("excludedForStatus").at(0);
  EXPECT_EQ(Str(excluded, "id"), "old");
  EXPECT_EQ(Str(excluded, "status"), "OUT_OF_SERVICE");

  // A command that matches but is not linked to the matching cluster.
  json::value unlinked =
      submit(json::array{json::object{{"tags", {"sched:sla"}}}}, json::array{"type:lonely"});
  const json::value& nl = unlinked.at("detail").at("notLinked").at(0);
  EXPECT_EQ(Str(nl.at("cluster"), "id"), "local");
  EXPECT_EQ(Str(nl.at("commands").at(0), "id"), "lonely");
  EXPECT_NE(Str(unlinked, "message").find("is linked to it"), std::string::npos);
  EXPECT_GE(unlinked.at("detail").at("reasons").as_array().size(), 1u);
}

TEST_F(EngineTest, CliSubmitPrintsTheExplanationOfANoMatch) {
  CommandResult r = RunWeir(server_->url(), {"job", "submit", "--cluster-tags", "sched:adhok",
                                             "--command-tags", "type:bash", "--args", "true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("No cluster/command combination found for the given criteria:\n  - "
                       "clusterCriterias[0] [sched:adhok] matched no UP cluster: no cluster has "
                       "the tag 'sched:adhok' (nearest: 'sched:adhoc'"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("`weir cluster list`"), std::string::npos) << r.err;
}

TEST_F(EngineTest, JsonLogHasALinePerJobEvent) {
  std::string ok = Submit("true");
  ASSERT_EQ(WaitFinal(ok), "SUCCEEDED");
  json::value accepted = EventLine("job.accepted", ok);
  EXPECT_EQ(Str(accepted, "user"), "tester");
  EXPECT_EQ(Str(accepted, "cluster"), "local");
  EXPECT_EQ(Str(accepted, "command"), "bash");
  EXPECT_EQ(Str(accepted, "status"), "INIT");
  EXPECT_EQ(Str(accepted, "level"), "info");
  EXPECT_FALSE(Str(accepted, "time").empty());
  EXPECT_EQ(Str(EventLine("job.started", ok), "status"), "RUNNING");
  json::value finished = EventLine("job.finished", ok);
  EXPECT_EQ(Str(finished, "status"), "SUCCEEDED");
  EXPECT_EQ(Str(finished, "exitCode"), "0");
  EXPECT_TRUE(finished.at("durationMs").is_number()) << json::serialize(finished);

  std::string sleeper = Submit("sleep 60");
  WaitRunning(sleeper);
  ASSERT_TRUE(http_->Delete("/api/v3/jobs/" + sleeper).ok());
  ASSERT_EQ(WaitFinal(sleeper), "KILLED");
  json::value killed = EventLine("job.killed", sleeper);
  EXPECT_EQ(Str(killed, "status"), "KILLED");
  EXPECT_EQ(Str(killed, "message"), "Job was killed by user.");

  json::object bad = Request("true");
  bad["commandCriteria"] = json::array{"type:nothing"};
  auto r = http_->PostJson("/api/v3/jobs", json::serialize(bad));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 412);
  std::vector<std::string> rejected = LogLinesWith("\"job.rejected\"");
  ASSERT_EQ(rejected.size(), 1u);
  json::value rej = Parse(rejected[0]);
  EXPECT_EQ(Str(rej, "level"), "warning");
  EXPECT_EQ(Str(rej, "user"), "tester");
  EXPECT_EQ(Str(rej, "status"), "FAILED_PRECONDITION");

  // Every line of the log written by the logger is a JSON object.
  std::ifstream in(server_->data_dir() / "server.log");
  std::string line;
  int json_lines = 0;
  while (std::getline(in, line)) {
    if (line.rfind("weir server listening", 0) == 0) continue;  // the start line, on stdout
    json::value v = Parse(line);
    EXPECT_TRUE(v.is_object() && v.as_object().contains("time")) << line;
    ++json_lines;
  }
  EXPECT_GE(json_lines, 7);
}

class EngineTextLogTest : public EngineTest {
 protected:
  std::string Config() override { return "jobs:\n  kill_grace_ms: 500\n"; }
};

TEST_F(EngineTextLogTest, TextLogHasALinePerJobEvent) {
  std::string id = Submit("exit 3");
  ASSERT_EQ(WaitFinal(id), "FAILED");
  std::vector<std::string> lines = LogLinesWith("job finished: id=" + id);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("user=tester cluster=local command=bash status=FAILED exitCode=3 "
                          "duration=PT"),
            std::string::npos)
      << lines[0];
  EXPECT_EQ(LogLinesWith("job accepted: id=" + id).size(), 1u);
  EXPECT_EQ(LogLinesWith("job started: id=" + id).size(), 1u);
}

}  // namespace
}  // namespace weir::testing
