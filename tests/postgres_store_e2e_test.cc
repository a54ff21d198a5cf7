// The real `weir server` with store.type postgresql against a throwaway PostgreSQL server
// (store/testing/postgres_server.h): configuration, jobs and published assets go to PostgreSQL
// and survive a restart; `weir db status` / `weir db migrate` on both backends; a database written
// by a newer weir is refused; the password comes from the environment and never reaches the log.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "common/testing/required_services.h"
#include "store/testing/postgres_server.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

class StopPostgres : public ::testing::Environment {
 public:
  void TearDown() override { store::testing::StopSharedPostgres(); }
};
const auto* const kStopPostgres = ::testing::AddGlobalTestEnvironment(new StopPostgres);

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

class PostgresStoreE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = store::testing::SharedPostgres();
    if (pg_ == nullptr) WEIR_MISSING_SERVICE("postgresql", store::testing::SharedPostgresError());
    auto url = pg_->CreateDatabase();
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
  }
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
  store::testing::PostgresServer* pg_ = nullptr;
  std::string url_;
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
  // The start log says what is not in PostgreSQL yet.
  EXPECT_NE(Slurp(server.data_dir() / "server.log").find("the scheduler still uses SQLite"),
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

TEST_F(PostgresStoreE2eTest, DbStatusAndMigrateOnAnEmptyDatabaseThenANewerOneIsRefused) {
  const fs::path cfg = WriteConfig(PgConfig());
  auto before = RunWeirWithEnv({"-o", "json", "db", "status", "-c", cfg.string()}, {});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  json::value b = ParseOne(before.out);
  EXPECT_EQ(Field(b, "version"), "0");
  const std::string latest = Field(b, "latest");
  EXPECT_NE(latest, "0");
  EXPECT_EQ(Field(b, "state"), "pending");

  auto migrate = RunWeirWithEnv({"-o", "json", "db", "migrate", "-c", cfg.string()}, {});
  ASSERT_EQ(migrate.exit_code, 0) << migrate.err;
  json::value m = ParseOne(migrate.out);
  EXPECT_EQ(Field(m, "version"), latest);
  EXPECT_EQ(Field(m, "applied"), latest);
  EXPECT_EQ(Field(m, "state"), "current");
  EXPECT_EQ(Sql("SELECT version FROM schema_version"), latest);

  Sql("UPDATE schema_version SET version = 777");
  auto newer = RunWeirWithEnv({"db", "status", "-c", cfg.string()}, {});
  EXPECT_EQ(newer.exit_code, 1);
  EXPECT_NE(newer.out.find("newer weir"), std::string::npos) << newer.out;
  WeirServer server(dir_.path() / "data", PgConfig());
  std::string started = server.Start();
  EXPECT_NE(started.find("version 777 was written by a newer weir"), std::string::npos) << started;
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
  EXPECT_EQ(Field(s, "version"), "5");  // SQLite schema 3: search, 4: event log, 5: webhooks
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

}  // namespace
}  // namespace weir::testing
