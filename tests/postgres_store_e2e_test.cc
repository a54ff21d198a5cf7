// The real `weir server` with store.type postgresql against a throwaway PostgreSQL server
// (store/testing/postgres_server.h): configuration, jobs and published assets go to PostgreSQL
// and survive a restart; `weir db status` / `weir db migrate` on both backends; a database written
// by a newer weir is refused; the password comes from the environment and never reaches the log;
// the event log (an SSE subscriber, `--wait` following the stream) and full-text search
// (`weir search`) on PostgreSQL.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "client/http_client.h"
#include "client/sse.h"
#include "postgres_env.h"
#include "store/postgres/schema.h"
#include "store/sqlite/schema.h"
#include "store/testing/postgres_server.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

json::value ParseOne(const std::string& out) {
  boost::system::error_code ec;
  json::value v = json::parse(out, ec);
  EXPECT_FALSE(ec) << "not one JSON document: " << out;
  return v;
}

std::string Field(const json::value& v, const char* key) {
  if (!v.is_object()) return "";
  const json::value* f = v.as_object().if_contains(key);
  if (f == nullptr) return "";
  if (f->is_string()) return std::string(f->as_string());
  return json::serialize(*f);
}

class PostgresStoreE2eTest : public PostgresDatabaseTest {
 protected:
  std::string PgConfig() const {
    return "store:\n  type: postgresql\n  url: \"" + url_ + "\"\njobs:\n  kill_grace_ms: 500\n";
  }
  std::string Sql(const std::string& sql) {
    auto r = pg_->Query(url_, sql);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "<error>";
  }
  fs::path WriteConfig(const std::string& yaml) {
    fs::path p = dir_.path() / "weir.yaml";
    std::ofstream(p) << yaml;
    return p;
  }

  TempDir dir_;
};

TEST_F(PostgresStoreE2eTest, JobsAndConfigLiveInPostgresAndSurviveARestart) {
  WeirServer server(dir_.path() / "data", PgConfig());
  ASSERT_EQ(server.Start(), "");
  auto applied = RunWeir(server.url(), {"apply", "-f", kDemo});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  auto sub = RunWeir(server.url(), {"-o", "json", "job", "submit", "-c", "sched:sla", "-C",
                                    "type:bash", "--wait", "--", "echo hello-from-pg"});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  const std::string id = Field(ParseOne(sub.out), "id");
  ASSERT_FALSE(id.empty()) << sub.out;

  // The rows are PostgreSQL's, not the node's SQLite file's.
  EXPECT_EQ(Sql("SELECT status FROM jobs WHERE id = '" + id + "'"), "SUCCEEDED");
  EXPECT_EQ(Sql("SELECT count(*) FROM clusters"), "1");
  EXPECT_NE(Sql("SELECT count(*) FROM audit"), "0");
  // The start log says where everything is.
  EXPECT_NE(Slurp(server.data_dir() / "server.log").find("workflows and assets in postgresql"),
            std::string::npos);

  server.Stop();
  ASSERT_EQ(server.Start(), "");
  auto status = RunWeir(server.url(), {"-o", "json", "job", "status", id});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(Field(ParseOne(status.out), "status"), "SUCCEEDED");
  auto out = RunWeir(server.url(), {"job", "output", id, "stdout"});
  EXPECT_EQ(out.out, "hello-from-pg\n") << out.err;
  auto clusters = RunWeir(server.url(), {"-o", "json", "cluster", "list"});
  ASSERT_EQ(clusters.exit_code, 0) << clusters.err;
  EXPECT_NE(clusters.out.find("\"id\":\"local\""), std::string::npos) << clusters.out;
  // Jobs submitted after the restart keep going to the same database.
  auto again = RunWeir(server.url(), {"job", "submit", "-c", "sched:sla", "-C", "type:bash",
                                      "--wait", "--", "true"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs"), "2");
}

// On PostgreSQL the scheduler's step and instance events are in the event log too, so
// `workflow run --wait` follows the stream (each step as it changes, with its job) and exits by
// the instance's status.
TEST_F(PostgresStoreE2eTest, WorkflowRunWaitFollowsTheStepEventsOnPostgres) {
  WeirServer server(dir_.path() / "data", PgConfig());
  ASSERT_EQ(server.Start(), "");
  ASSERT_EQ(RunWeir(server.url(), {"apply", "-f", kDemo}).exit_code, 0);
  const fs::path repo = dir_.path() / "feats";
  WriteFile(
      repo / "dataflow.yaml",
      "project: {owner: acme, repo: feats, main_branch: main}\nassets:\n  - name: noop\n"
      "    type: bash\n    namespace: e2e-pg\n    build: mkdir -p dist && cp src/noop.sh "
      "dist/noop.sh\n    file: dist/noop.sh\nworkflows: [flows]\nenvironments:\n  prod: {}\n");
  WriteFile(repo / ".gitignore", ".workflows/\ndist/\n");
  WriteFile(repo / "src" / "noop.sh", "true\n");
  WriteFile(repo / "flows" / "pipe.sch.yaml",
            "id: pipe\njobs:\n  extract:\n    command: [type:bash]\n    cluster: [type:local]\n"
            "    args: [\"echo one\"]\n  load:\n    command: [type:bash]\n"
            "    cluster: [type:local]\n    depends_on: extract\n    args: [\"exit 2\"]\n");
  ASSERT_EQ(Git(repo, "init -q -b main").first, 0);
  ASSERT_EQ(Git(repo, "add -A").first, 0);
  ASSERT_EQ(Git(repo, "commit -q -m first").first, 0);
  auto d = RunWeir(server.url(), {"project", "deploy"}, repo);
  ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
  auto run = RunWeir(server.url(),
                     {"workflow", "run", "prod:acme.feats.pipe", "--wait", "--timeout", "120"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;  // `load` fails
  EXPECT_NE(run.err.find("step extract: SUCCEEDED"), std::string::npos) << run.err;
  // The stream's form (polling prints "attempt 1/1").
  EXPECT_NE(run.err.find("step load: FAILED (attempt 1, job "), std::string::npos) << run.err;
  // Committed in PostgreSQL: the step events are rows of its event log.
  EXPECT_EQ(Sql("SELECT count(*) > 0 FROM events WHERE type = 'WORKFLOW_STEP_CHANGE'"), "t");
  EXPECT_NE(run.err.find("prod:acme.feats.pipe#1: FAILED"), std::string::npos) << run.err;
}

// The status of instance `n` in `weir -o json workflow instances ID` ("" when not listed).
std::string InstanceStatus(const std::string& server_url, const std::string& id, int n) {
  auto r = RunWeir(server_url, {"-o", "json", "workflow", "instances", id});
  if (r.exit_code != 0) return "";
  json::value v = ParseOne(r.out);
  const json::value* list = v.is_object() ? v.as_object().if_contains("instances") : nullptr;
  if (list == nullptr || !list->is_array()) return "";
  for (const json::value& i : list->as_array()) {
    if (Field(i, "number") == std::to_string(n)) return Field(i, "status");
  }
  return "";
}

// A workflow deployed to a server on PostgreSQL runs to SUCCEEDED with its versions, instance,
// steps and attempts in PostgreSQL; after a restart the server still knows it and runs it again.
TEST_F(PostgresStoreE2eTest, AWorkflowDeployedOnPostgresRunsToSucceededAndSurvivesARestart) {
  WeirServer server(dir_.path() / "data", PgConfig());
  ASSERT_EQ(server.Start(), "");
  auto applied = RunWeir(server.url(), {"apply", "-f", kDemo});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;

  const fs::path repo = dir_.path() / "proj";
  WriteFile(repo / "dataflow.yaml",
            "project: {owner: acme, repo: pg, main_branch: main}\nassets: []\n"
            "workflows: [flows]\n");
  WriteFile(repo / ".gitignore", ".workflows/\n");
  WriteFile(repo / "flows" / "w.sch.yaml", R"(id: w
jobs:
  first:
    command: [type:bash]
    cluster: [type:local]
    args: ["echo first"]
  second:
    command: [type:bash]
    cluster: [type:local]
    depends_on: first
    args: ["echo second"]
)");
  ASSERT_EQ(Git(repo, "init -q -b main").first, 0);
  ASSERT_EQ(Git(repo, "add -A").first, 0);
  ASSERT_EQ(Git(repo, "commit -q -m v1").first, 0);
  auto deployed = RunWeir(server.url(), {"project", "deploy"}, repo);
  ASSERT_EQ(deployed.exit_code, 0) << deployed.out << deployed.err;

  const std::string id = "prod:acme.pg.w";
  EXPECT_EQ(Sql("SELECT active_version FROM wf_deployments WHERE deployed_id = '" + id + "'"), "1");
  auto run = RunWeir(server.url(), {"workflow", "run", id});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out.rfind(id + "#1", 0), 0u) << run.out;
  std::string status;
  EXPECT_TRUE(WaitFor(
      [&] {
        status = InstanceStatus(server.url(), id, 1);
        return status == "SUCCEEDED" || status == "FAILED" || status == "STOPPED";
      },
      60s))
      << "instance 1 never ended: " << status;
  EXPECT_EQ(status, "SUCCEEDED");

  // The rows are PostgreSQL's: the instance, both steps and one attempt each.
  EXPECT_EQ(Sql("SELECT status FROM wf_instances WHERE deployed_id = '" + id + "'"), "SUCCEEDED");
  EXPECT_EQ(Sql("SELECT string_agg(step || '=' || status, ',' ORDER BY position) FROM wf_steps"),
            "first=SUCCEEDED,second=SUCCEEDED");
  EXPECT_EQ(Sql("SELECT count(*) FROM wf_attempts WHERE status = 'SUCCEEDED'"), "2");
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE grouping = '" + id + "'"), "2");

  // A restart keeps the deployment and the instance; a second run succeeds too.
  server.Stop();
  ASSERT_EQ(server.Start(), "");
  EXPECT_EQ(InstanceStatus(server.url(), id, 1), "SUCCEEDED");
  auto again = RunWeir(server.url(), {"workflow", "run", id});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(WaitFor([&] { return InstanceStatus(server.url(), id, 2) == "SUCCEEDED"; }, 60s))
      << "instance 2: " << InstanceStatus(server.url(), id, 2);
  EXPECT_EQ(Sql("SELECT count(*) FROM wf_instances WHERE status = 'SUCCEEDED'"), "2");
}

TEST_F(PostgresStoreE2eTest, DbStatusAndMigrateOnAnEmptyDatabaseThenANewerOneIsRefused) {
  const fs::path cfg = WriteConfig(PgConfig());
  auto before = RunWeirWithEnv({"-o", "json", "db", "status", "-c", cfg.string()}, {});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  json::value b = ParseOne(before.out);
  EXPECT_EQ(Field(b, "version"), "0");
  const std::string latest = std::to_string(store::postgres::kSchemaVersion);
  EXPECT_EQ(Field(b, "latest"), latest);
  EXPECT_EQ(Field(b, "state"), "pending");

  auto migrate = RunWeirWithEnv({"-o", "json", "db", "migrate", "-c", cfg.string()}, {});
  ASSERT_EQ(migrate.exit_code, 0) << migrate.err;
  json::value m = ParseOne(migrate.out);
  EXPECT_EQ(Field(m, "version"), latest);
  EXPECT_EQ(Field(m, "applied"), latest);
  EXPECT_EQ(Field(m, "state"), "current");
  EXPECT_EQ(Sql("SELECT version FROM schema_version"), latest);

  Sql("UPDATE schema_version SET version = 99");
  auto newer = RunWeirWithEnv({"db", "status", "-c", cfg.string()}, {});
  EXPECT_EQ(newer.exit_code, 1);
  EXPECT_NE(newer.out.find("newer weir"), std::string::npos) << newer.out;
  WeirServer server(dir_.path() / "data", PgConfig());
  std::string started = server.Start();
  EXPECT_NE(started.find("version 99 was written by a newer weir"), std::string::npos) << started;
  EXPECT_NE(started.find("upgrade weir"), std::string::npos) << started;
}

// A database made by the SQLite store as it is today upgrades in place: status shows it current,
// migrate changes nothing, and the server starts on it with its configuration.
TEST_F(PostgresStoreE2eTest, ExistingSqliteDatabaseStaysUsableWithDbCommands) {
  const fs::path data = dir_.path() / "sqlite-data";
  {
    WeirServer server(data, "jobs:\n  kill_grace_ms: 500\n");
    ASSERT_EQ(server.Start(), "");
    auto applied = RunWeir(server.url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
    server.Stop();
  }
  auto status = RunWeirWithEnv({"-o", "json", "db", "status", "--data-dir", data.string()}, {});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  json::value s = ParseOne(status.out);
  EXPECT_EQ(Field(s, "version"), std::to_string(store::sqlite::kSchemaVersion));
  EXPECT_EQ(Field(s, "state"), "current");
  EXPECT_NE(Field(s, "store").find((data / "weir.db").string()), std::string::npos);
  auto migrate = RunWeirWithEnv({"-o", "json", "db", "migrate", "--data-dir", data.string()}, {});
  ASSERT_EQ(migrate.exit_code, 0) << migrate.err;
  EXPECT_EQ(Field(ParseOne(migrate.out), "applied"), "0");

  WeirServer server(data, "jobs:\n  kill_grace_ms: 500\n");
  ASSERT_EQ(server.Start(), "");
  auto clusters = RunWeir(server.url(), {"-o", "json", "cluster", "list"});
  EXPECT_NE(clusters.out.find("\"id\":\"local\""), std::string::npos) << clusters.out;
}

// Every "DEPLOYED AS <uuid>" of `weir project deploy`'s output, in order.
std::vector<std::string> DeployedUuids(const std::string& out) {
  std::vector<std::string> uuids;
  std::istringstream in(out);
  std::string line;
  const std::string marker = "DEPLOYED AS ";
  while (std::getline(in, line)) {
    if (line.rfind(marker, 0) != 0) continue;
    std::string rest = line.substr(marker.size());
    uuids.push_back(rest.substr(0, rest.find(' ')));
  }
  return uuids;
}

// The asset registry on PostgreSQL: `weir project deploy --assets-only` publishes (the CLI's way
// to publish), `weir asset list` and `weir asset get` read it back, the rows are PostgreSQL's,
// and after a restart the next publish continues the branch's builds.
TEST_F(PostgresStoreE2eTest, PublishedAssetsLiveInPostgresAndSurviveARestart) {
  WeirServer server(dir_.path() / "data", PgConfig());
  ASSERT_EQ(server.Start(), "");
  auto sample = RunWeir(server.url(), {"sample", "workflow", "bash", "repo"}, dir_.path());
  ASSERT_EQ(sample.exit_code, 0) << sample.out << sample.err;
  const fs::path repo = dir_.path() / "repo";
  auto deploy = RunWeir(server.url(), {"project", "deploy", "--assets-only"}, repo);
  ASSERT_EQ(deploy.exit_code, 0) << deploy.out << deploy.err;
  std::vector<std::string> uuids = DeployedUuids(deploy.out);
  ASSERT_EQ(uuids.size(), 1u) << deploy.out;
  const std::string first = uuids[0];
  EXPECT_EQ(first.substr(first.size() - 2), ".1") << first;

  // The rows are PostgreSQL's: the version and its namespace's owner.
  EXPECT_EQ(Sql("SELECT uuid FROM assets"), first);
  EXPECT_EQ(Sql("SELECT owner || '/' || repo FROM asset_namespaces WHERE ns = 'sample-greet'"),
            "sample/bash-sample");

  auto list = RunWeir(server.url(), {"-o", "json", "asset", "list", "--type", "bash", "--namespace",
                                     "sample-greet"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(first), std::string::npos) << list.out;
  const fs::path got = dir_.path() / "got.sh";
  auto get = RunWeir(server.url(), {"asset", "get", first, "--out", got.string()});
  ASSERT_EQ(get.exit_code, 0) << get.out << get.err;
  const std::string bytes = Slurp(repo / "dist" / "greet.sh");
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(Slurp(got), bytes);
  EXPECT_EQ(
      Sql("SELECT sha256 FROM assets WHERE uuid = '" + first + "'"),
      Field(ParseOne(RunWeir(server.url(), {"-o", "json", "asset", "show", first}).out), "sha256"));

  server.Stop();
  ASSERT_EQ(server.Start(), "");
  auto again = RunWeir(server.url(), {"-o", "json", "asset", "list", "--type", "bash",
                                      "--namespace", "sample-greet"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find(first), std::string::npos) << again.out;
  // New bytes on the same branch: build 2.
  std::ofstream(repo / "src" / "greet.sh", std::ios::app) << "# changed\n";
  auto add = Git(repo, "commit -q -a -m changed");
  ASSERT_EQ(add.first, 0) << add.second;
  auto second = RunWeir(server.url(), {"project", "deploy", "--assets-only"}, repo);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  uuids = DeployedUuids(second.out);
  ASSERT_EQ(uuids.size(), 1u) << second.out;
  EXPECT_EQ(uuids[0].substr(uuids[0].size() - 2), ".2") << uuids[0];
  EXPECT_EQ(Sql("SELECT count(*) FROM assets"), "2");
  EXPECT_EQ(Sql("SELECT max(build) FROM assets WHERE branch = 'main'"), "2");
}

TEST_F(PostgresStoreE2eTest, PasswordComesFromTheEnvironmentAndNeverFromTheUrl) {
  WeirServer in_url(dir_.path() / "data1",
                    "store:\n  type: postgresql\n  url: postgresql://weir:secret@db/weir\n");
  std::string refused = in_url.Start();
  EXPECT_NE(refused.find("store.url: holds a password"), std::string::npos) << refused;
  EXPECT_EQ(refused.find("secret"), std::string::npos) << refused;

  auto locked = store::testing::PostgresServer::Start("Pg-Pass-From-Env");
  ASSERT_TRUE(locked.ok()) << locked.status();
  auto url = (*locked)->CreateDatabase();
  ASSERT_TRUE(url.ok()) << url.status();
  const std::string yaml = "store:\n  type: postgresql\n  url: \"" + *url +
                           "\"\n  password_env: WEIR_TEST_PG_PASSWORD\n";
  ::unsetenv("WEIR_TEST_PG_PASSWORD");
  WeirServer unset(dir_.path() / "data2", yaml);
  std::string no_var = unset.Start();
  EXPECT_NE(no_var.find("store.password_env: the variable WEIR_TEST_PG_PASSWORD is not set"),
            std::string::npos)
      << no_var;

  ::setenv("WEIR_TEST_PG_PASSWORD", "Pg-Pass-From-Env", 1);
  WeirServer server(dir_.path() / "data3", yaml);
  ASSERT_EQ(server.Start(), "");
  auto applied = RunWeir(server.url(), {"apply", "-f", kDemo});
  EXPECT_EQ(applied.exit_code, 0) << applied.err;
  server.Stop();
  ::unsetenv("WEIR_TEST_PG_PASSWORD");
  EXPECT_EQ(Slurp(server.data_dir() / "server.log").find("Pg-Pass-From-Env"), std::string::npos);
  EXPECT_EQ((*locked)->Query(*url, "SELECT count(*) FROM clusters").value_or("?"), "1");
}

// One SSE subscriber of GET /api/weir/v1/events on its own thread: "type:jobId:from>to" of each
// event it received, in order, with the ids.
class EventSubscriber {
 public:
  EventSubscriber(const std::string& url, std::string query, std::string last_id) : http_(url) {
    thread_ = std::thread([this, query = std::move(query), last_id = std::move(last_id)] {
      client::Headers h;
      if (!last_id.empty()) h.emplace_back("Last-Event-ID", last_id);
      client::SseParser parser;
      auto r = http_.StreamGet(
          "/api/weir/v1/events" + query, h,
          [&](std::string_view bytes) {
            std::lock_guard lock(mu_);
            parser.Feed(bytes, [&](const client::SseEvent& e) {
              if (e.event.empty() || e.data.empty()) return;
              json::value d = ParseOne(e.data);
              std::string line = e.event + ":" + Field(d, "jobId");
              if (e.event == "JOB_STATUS_CHANGE") {
                line += ":" + (Field(d, "fromState") == "null" ? "" : Field(d, "fromState")) + ">" +
                        Field(d, "toState");
              }
              seen_.push_back(line);
              ids_.push_back(e.id.empty() ? 0 : std::stoll(e.id));
            });
            return true;
          },
          &cancel_);
      std::lock_guard lock(mu_);
      if (!r.ok() || r->status != 200) {
        failure_ = r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString();
      }
    });
  }
  ~EventSubscriber() {
    cancel_.Cancel();
    thread_.join();
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::vector<int64_t> ids() {
    std::lock_guard lock(mu_);
    return ids_;
  }
  std::string failure() {
    std::lock_guard lock(mu_);
    return failure_;
  }

 private:
  client::HttpClient http_;
  client::StreamCancel cancel_;
  std::mutex mu_;
  std::vector<std::string> seen_;  // GUARDED_BY(mu_)
  std::vector<int64_t> ids_;       // GUARDED_BY(mu_)
  std::string failure_;            // GUARDED_BY(mu_)
  std::thread thread_;
};

std::vector<std::string> OfJob(const std::vector<std::string>& seen, const std::string& id) {
  std::vector<std::string> out;
  for (const auto& s : seen) {
    if (s.find(":" + id) != std::string::npos) out.push_back(s);
  }
  return out;
}

TEST_F(PostgresStoreE2eTest, EventsAreLoggedInPostgresStreamedAndFollowedByWait) {
  WeirServer server(dir_.path() / "data", PgConfig());
  ASSERT_EQ(server.Start(), "");
  auto applied = RunWeir(server.url(), {"apply", "-f", kDemo});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;

  // `--wait` follows the job's events (it polls only when the stream is off).
  auto first = RunWeir(server.url(), {"-o", "json", "job", "submit", "-c", "sched:sla", "-C",
                                      "type:bash", "--user", "tester", "--wait", "--", "echo one"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string first_id = Field(ParseOne(first.out), "id");
  ASSERT_FALSE(first_id.empty()) << first.out;
  client::HttpClient http(server.url());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("route=\"/api/weir/v1/events\",status=\"200\""), std::string::npos)
      << "`weir job submit --wait` did not follow the event stream";
  // The log is PostgreSQL's.
  EXPECT_EQ(Sql("SELECT count(*) FROM events WHERE job_id = '" + first_id + "'"), "4");

  // A subscriber resuming from the start gets the first job's changes from the log, then a
  // second job's live, each once and in order.
  EventSubscriber sub(server.url(), "?user=tester", "0");
  ASSERT_TRUE(WaitFor([&] { return OfJob(sub.seen(), first_id).size() >= 4; }, 30s))
      << "the stored events never arrived: " << sub.failure();
  auto second = RunWeir(server.url(), {"job", "submit", "-c", "sched:sla", "-C", "type:bash",
                                       "--user", "tester", "--", "exit 3"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const std::string second_id = second.out.substr(0, second.out.find('\n'));
  ASSERT_TRUE(WaitFor([&] { return OfJob(sub.seen(), second_id).size() >= 4; }, 60s))
      << "the live events never arrived: " << sub.failure();
  const std::vector<std::string> seen = sub.seen();
  EXPECT_EQ(OfJob(seen, first_id),
            (std::vector<std::string>{"JOB_STATUS_CHANGE:" + first_id + ":>INIT",
                                      "JOB_STATUS_CHANGE:" + first_id + ":INIT>RUNNING",
                                      "JOB_STATUS_CHANGE:" + first_id + ":RUNNING>SUCCEEDED",
                                      "JOB_FINISHED:" + first_id}));
  EXPECT_EQ(OfJob(seen, second_id),
            (std::vector<std::string>{"JOB_STATUS_CHANGE:" + second_id + ":>INIT",
                                      "JOB_STATUS_CHANGE:" + second_id + ":INIT>RUNNING",
                                      "JOB_STATUS_CHANGE:" + second_id + ":RUNNING>FAILED",
                                      "JOB_FINISHED:" + second_id}));
  const std::vector<int64_t> ids = sub.ids();
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_LT(ids[i - 1], ids[i]) << "event " << i;
}

TEST_F(PostgresStoreE2eTest, SearchFindsAJobByAWordOfItsArguments) {
  WeirServer server(dir_.path() / "data", PgConfig());
  ASSERT_EQ(server.Start(), "");
  auto applied = RunWeir(server.url(), {"apply", "-f", kDemo});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  auto sub = RunWeir(server.url(),
                     {"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--name", "nightly",
                      "--tag", "team:data", "--", "echo", "s3://bucket/clickstream-2026"});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  const std::string id = sub.out.substr(0, sub.out.find('\n'));
  auto other = RunWeir(server.url(), {"job", "submit", "-c", "sched:sla", "-C", "type:bash",
                                      "--name", "hourly", "--", "echo", "orders"});
  ASSERT_EQ(other.exit_code, 0) << other.err;

  auto found = RunWeir(server.url(), {"search", "clickstream", "-o", "json"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  json::value hits = ParseOne(found.out);
  ASSERT_TRUE(hits.is_object() && hits.as_object().contains("hits")) << found.out;
  ASSERT_EQ(hits.at("hits").as_array().size(), 1u) << found.out;
  EXPECT_EQ(Field(hits.at("hits").at(0), "id"), id);
  EXPECT_NE(
      Field(hits.at("hits").at(0).at("highlights"), "snippet").find("<mark>clickstream</mark>"),
      std::string::npos)
      << found.out;
  // A tag fragment, and the table for people.
  auto by_tag = RunWeir(server.url(), {"search", "team:d", "--kind", "job"});
  ASSERT_EQ(by_tag.exit_code, 0) << by_tag.err;
  EXPECT_NE(by_tag.out.find(id), std::string::npos) << by_tag.out;
  EXPECT_EQ(by_tag.out.find(other.out.substr(0, other.out.find('\n'))), std::string::npos)
      << by_tag.out;
  // The index is PostgreSQL's.
  EXPECT_EQ(Sql("SELECT count(*) FROM search_docs WHERE kind = 'job'"), "2");
}

}  // namespace
}  // namespace weir::testing
