// Full-text search (GET /api/weir/v1/search, `weir search`) and the dry run of a submission
// (POST /api/weir/v1/jobs/resolve, `weir job submit --dry-run`), issue 13: the real `weir`
// binary against the real `weir server`.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "client/http_client.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

// Clusters and commands whose resolution the dry-run tests predict:
//   zone-a   UP,             sched:sla zone:a  → spark (DEPRECATED, skipped), bash
//   zone-b   UP,             sched:sla zone:b  → spark3, bash
//   old-a    OUT_OF_SERVICE, sched:sla zone:a  → bash
const char* kConfig = R"yaml(
applications:
  - {id: py, name: py, user: admin, version: "1", status: ACTIVE, tags: [type:py]}
  - {id: jars, name: jars, user: admin, version: "1", status: ACTIVE, tags: [type:jars]}
commands:
  - {id: bash, name: bash, user: admin, version: "1", status: ACTIVE, executable: /bin/bash -c,
     tags: [type:bash], description: Runs its arguments as a bash command line}
  - {id: spark, name: spark, user: admin, version: "2", status: DEPRECATED, executable: /bin/true,
     tags: [type:spark]}
  - {id: spark3, name: spark3, user: admin, version: "3", status: ACTIVE, executable: /bin/true,
     tags: [type:spark], memory: 256, applications: [jars]}
clusters:
  - {id: zone-a, name: zone-a, user: admin, version: "1", status: UP, tags: [sched:sla, zone:a],
     commands: [spark, bash], description: The warehouse in zone a}
  - {id: zone-b, name: zone-b, user: admin, version: "1", status: UP, tags: [sched:sla, zone:b],
     commands: [spark3, bash]}
  - {id: old-a, name: old-a, user: admin, version: "1", status: OUT_OF_SERVICE,
     tags: [sched:sla, zone:a], commands: [bash]}
)yaml";

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    WriteFile(dir_.path() / "config.yaml", kConfig);
    auto applied = Weir({"apply", "-f", (dir_.path() / "config.yaml").string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  CommandResult Weir(const std::vector<std::string>& args) { return RunWeir(server_->url(), args); }

  // Submits through the HTTP API; returns the job id.
  std::string Submit(json::object request) {
    if (!request.contains("user")) request["user"] = "tester";
    if (!request.contains("version")) request["version"] = "1";
    if (!request.contains("name")) request["name"] = "job";
    if (!request.contains("commandArgs")) request["commandArgs"] = "true";
    auto r = http_->PostJson("/api/v3/jobs", json::serialize(request));
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 202) << r->body;
    std::string location = r->Header("location").value_or("");
    return location.substr(location.rfind('/') + 1);
  }

  json::value Get(const std::string& path) {
    auto r = http_->Get(path);
    EXPECT_TRUE(r.ok()) << path;
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return Parse(r->body);
  }

  // The ids of `weir search ... -o json`, in order.
  std::vector<std::string> SearchIds(std::vector<std::string> args) {
    args.insert(args.begin(), "search");
    args.push_back("-o");
    args.push_back("json");
    CommandResult r = Weir(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> ids;
    json::value v = ListItems(r.out, "hits");
    if (v.is_array()) {
      for (const auto& h : v.as_array()) ids.push_back(Str(h, "id"));
    }
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

json::object Request(std::vector<std::vector<std::string>> clusters,
                     std::vector<std::string> command) {
  json::array criterias;
  for (const auto& tags : clusters) {
    criterias.push_back(json::object{{"tags", json::array(tags.begin(), tags.end())}});
  }
  return json::object{{"clusterCriterias", std::move(criterias)},
                      {"commandCriteria", json::array(command.begin(), command.end())}};
}

bool Has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST_F(SearchTest, FindsAJobByAWordOfItsArgumentsAndByATagFragment) {
  auto submitted = Weir({"job", "submit", "-c", "zone:a", "-C", "type:bash", "--name", "nightly",
                         "--tag", "sched:sla", "--", "echo", "clickstream-2026"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  std::string id = submitted.out.substr(0, submitted.out.find('\n'));
  std::string other = Submit(
      json::object{{"name", "hourly"},
                   {"tags", json::array{"sched:adhoc"}},
                   {"clusterCriterias", json::array{json::object{{"tags", json::array{"zone:a"}}}}},
                   {"commandCriteria", json::array{"type:bash"}}});

  EXPECT_EQ(SearchIds({"clickstream"}), std::vector<std::string>{id});
  EXPECT_EQ(SearchIds({"sched:s", "--kind", "job"}), std::vector<std::string>{id});
  std::vector<std::string> both = SearchIds({"sched:", "--kind", "job"});
  EXPECT_EQ(std::set<std::string>(both.begin(), both.end()), (std::set<std::string>{id, other}));

  // The hit says what it is, where to read it and where the words matched.
  auto r = http_->Get("/api/weir/v1/search?q=clickstream");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  json::value v = Parse(r->body);
  const json::value& hit = v.at("hits").at(0);
  EXPECT_EQ(Str(hit, "kind"), "job");
  EXPECT_EQ(Str(hit, "name"), "nightly");
  EXPECT_EQ(Str(hit, "href"), server_->url() + "/api/v3/jobs/" + id);
  EXPECT_NE(Str(hit.at("highlights"), "snippet").find("<mark>clickstream</mark>"),
            std::string::npos)
      << r->body;

  // The table for people marks the match and names the job.
  CommandResult table = Weir({"search", "clickstream"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find(id), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("*clickstream*"), std::string::npos) << table.out;

  // A job's later status message is searchable: the index follows the job.
  ASSERT_TRUE(WaitFor(
      [&] {
        return Has(SearchIds({"finished", "successfully"}), id);
      },
      60s))
      << "the finished job's status message never became searchable";
}

TEST_F(SearchTest, RankingPutsTheExactNameFirst) {
  auto criteria = Request({{"zone:a"}}, {"type:bash"});
  auto with = [&](const char* name, const char* args, json::array tags) {
    json::object o = criteria;
    o["name"] = name;
    o["commandArgs"] = args;
    o["tags"] = std::move(tags);
    return Submit(o);
  };
  std::string longer = with("etl-nightly-backfill", "echo etl etl etl", json::array{"etl"});
  std::string mention = with("report", "echo after etl", json::array{});
  std::string exact = with("etl", "true", json::array{});
  std::vector<std::string> ids = SearchIds({"etl", "--kind", "job"});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], exact);
  EXPECT_EQ(ids[2], mention);  // a match in the arguments only ranks below matches in names
  EXPECT_EQ(ids[1], longer);
}

TEST_F(SearchTest, ConfigurationAndKindsAreSearchable) {
  EXPECT_EQ(SearchIds({"warehouse"}), std::vector<std::string>{"zone-a"});
  EXPECT_EQ(SearchIds({"spark", "--kind", "command"}),
            (std::vector<std::string>{"spark", "spark3"}));
  EXPECT_TRUE(SearchIds({"warehouse", "--kind", "job,application"}).empty());
  // A kind that does not exist is the user's mistake, named.
  CommandResult bad = Weir({"search", "x", "--kind", "jobs"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("kind"), std::string::npos) << bad.err;
}

TEST_F(SearchTest, HostileQueriesAnswer200OrAClear400NeverA5xx) {
  Submit(Request({{"zone:a"}}, {"type:bash"}));
  const std::vector<std::string> queries = {
      "\"",
      "\"\"",
      "NEAR(",
      "NEAR(a b, 2)",
      "a OR b",
      "AND",
      "NOT",
      "*",
      "x*",
      "^x",
      "name:bash",
      "{name}: x",
      "-x",
      "(",
      ")",
      "'",
      "a\"b",
      "%",
      "%25",
      "\\",
      "é 🙂",
      "col:",
      "AND OR NOT",
      "NEAR",
      std::string(10 * 1024, 'a'),
      std::string(5000, '"'),
      std::string(200, '('),
      "a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7 8 9"};
  for (const std::string& q : queries) {
    auto r = http_->Get("/api/weir/v1/search?q=" + client::UrlEncode(q));
    ASSERT_TRUE(r.ok()) << q;
    EXPECT_TRUE(r->status == 200 || r->status == 400)
        << "q=" << q.substr(0, 40) << ": " << r->status << " " << r->body.substr(0, 300);
    if (r->status == 400) {
      EXPECT_NE(Str(Parse(r->body), "message").rfind("q: ", 0), std::string::npos)
          << "q=" << q.substr(0, 40) << ": " << r->body.substr(0, 300);
    }
  }
  // Bad parameters are named too.
  for (const std::string& path :
       {std::string("/api/weir/v1/search"), std::string("/api/weir/v1/search?q=a&size=0"),
        std::string("/api/weir/v1/search?q=a&size=101"),
        std::string("/api/weir/v1/search?q=a&page=-1"),
        std::string("/api/weir/v1/search?q=a&sort=name")}) {
    auto r = http_->Get(path);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 400) << path << ": " << r->body;
  }
  // The CLI reports a refused query as a rejection (exit 1), on stderr.
  CommandResult cli = Weir({"search", "--", "*"});
  EXPECT_EQ(cli.exit_code, 1) << cli.out;
  EXPECT_TRUE(cli.out.empty()) << cli.out;
  EXPECT_NE(cli.err.find("q: "), std::string::npos) << cli.err;
}

TEST_F(SearchTest, PagesCoverEveryMatchOnce) {
  std::set<std::string> submitted;
  for (int i = 0; i < 12; ++i) {
    json::object o = Request({{"zone:a"}}, {"type:bash"});
    o["name"] = "pagetest";
    submitted.insert(Submit(o));
  }
  // Relevance depends on each document's text, which changes with the job's status message:
  // pages are stable over unchanging documents, so let every job end first.
  for (const std::string& id : submitted) {
    ASSERT_TRUE(WaitFor(
        [&] { return Str(Get("/api/v3/jobs/" + id + "/status"), "status") == "SUCCEEDED"; }, 60s))
        << "job " << id << " never succeeded";
  }
  std::set<std::string> seen;
  for (int page = 0; page < 3; ++page) {
    json::value v = Get("/api/weir/v1/search?q=pagetest&size=5&page=" + std::to_string(page));
    EXPECT_EQ(v.at("page").at("totalElements").as_int64(), 12);
    EXPECT_EQ(v.at("page").at("totalPages").as_int64(), 3);
    EXPECT_EQ(v.at("page").at("number").as_int64(), page);
    EXPECT_EQ(v.at("hits").as_array().size(), page < 2 ? 5u : 2u);
    for (const auto& h : v.at("hits").as_array()) {
      EXPECT_TRUE(seen.insert(Str(h, "id")).second) << "twice: " << Str(h, "id");
    }
  }
  EXPECT_EQ(seen, submitted);
  EXPECT_TRUE(Get("/api/weir/v1/search?q=pagetest&size=5&page=3").at("hits").as_array().empty());
}

TEST_F(SearchTest, WorkflowsAreFoundByTheirStepsAndStillAfterARestart) {
  ASSERT_EQ(Weir({"apply", "-f", std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml"}).exit_code,
            0);
  ASSERT_EQ(
      RunWeir(server_->url(), {"sample", "workflow", "bash", "project"}, dir_.path()).exit_code, 0);
  auto deploy = RunWeir(server_->url(), {"project", "deploy"}, dir_.path() / "project");
  ASSERT_EQ(deploy.exit_code, 0) << deploy.out << deploy.err;
  const std::string workflow = "prod:sample.bash-sample.hello-bash";
  EXPECT_EQ(SearchIds({"greet", "--kind", "workflow"}), std::vector<std::string>{workflow});
  EXPECT_EQ(SearchIds({"hello-bash", "--kind", "workflow"}), std::vector<std::string>{workflow});
  server_->Stop();
  ASSERT_EQ(server_->Start(), "");
  EXPECT_EQ(SearchIds({"greet", "--kind", "workflow"}), std::vector<std::string>{workflow});
  EXPECT_EQ(SearchIds({"warehouse"}), std::vector<std::string>{"zone-a"});
}

// ---- dry run -----------------------------------------------------------------------------------

json::value DryRunJson(WeirServer& server, const json::object& request) {
  client::HttpClient http(server.url());
  json::object body = request;
  body["user"] = "tester";
  body["version"] = "1";
  body["name"] = "dry";
  body["commandArgs"] = "true";
  auto r = http.PostJson("/api/weir/v1/jobs/resolve", json::serialize(body));
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return {};
  EXPECT_EQ(r->status, 200) << r->body;
  return Parse(r->body);
}

std::vector<std::string> Ids(const json::value& array) {
  std::vector<std::string> out;
  if (!array.is_array()) return out;
  for (const auto& v : array.as_array())
    out.push_back(v.is_string() ? std::string(v.as_string()) : Str(v, "id"));
  return out;
}

const json::value* Find(const json::value& array, const std::string& id) {
  for (const auto& v : array.as_array()) {
    if (Str(v, "id") == id) return &v;
  }
  return nullptr;
}

TEST_F(SearchTest, DryRunMatchesWhatARealSubmitThenChooses) {
  struct Case {
    json::object request;
    std::string cluster, command;
    std::vector<std::string> applications;
  };
  std::vector<Case> cases = {
      {Request({{"zone:a"}}, {"type:bash"}), "zone-a", "bash", {}},
      {Request({{"zone:b"}}, {"type:spark"}), "zone-b", "spark3", {"jars"}},
      // The first entry matches nothing: the fallback entry decides.
      {Request({{"zone:c"}, {"zone:b"}}, {"type:bash"}), "zone-b", "bash", {}},
      // Applications named by the request win over the command's.
      {[] {
         json::object o = Request({{"zone:b"}}, {"type:spark"});
         o["applications"] = json::array{"py"};
         return o;
       }(),
       "zone-b",
       "spark3",
       {"py"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(json::serialize(c.request));
    json::value dry = DryRunJson(*server_, c.request);
    EXPECT_EQ(Str(dry, "outcome"), "ACCEPTED");
    EXPECT_EQ(Str(dry, "submitStatus"), "202");
    EXPECT_EQ(Str(dry, "decidedBy"), "only candidate");
    EXPECT_EQ(Str(dry.at("cluster"), "id"), c.cluster);
    EXPECT_EQ(Str(dry.at("command"), "id"), c.command);
    EXPECT_EQ(Ids(dry.at("applications")), c.applications);

    std::string id = Submit(c.request);
    json::value job = Get("/api/v3/jobs/" + id);
    EXPECT_EQ(Str(job, "clusterName"), Str(dry.at("cluster"), "name"));
    EXPECT_EQ(Str(job, "commandName"), Str(dry.at("command"), "name"));
    EXPECT_EQ(Ids(Get("/api/v3/jobs/" + id + "/applications")), c.applications);
  }

  // Two candidates: the dry run says the pick is random and lists both; the real pick is one.
  json::value dry = DryRunJson(*server_, Request({{"sched:sla"}}, {"type:bash"}));
  EXPECT_EQ(Str(dry, "decidedBy"), "random");
  EXPECT_EQ(Str(dry, "candidates"), "2");
  std::string id = Submit(Request({{"sched:sla"}}, {"type:bash"}));
  const std::string picked = Str(Get("/api/v3/jobs/" + id), "clusterName");
  EXPECT_TRUE(picked == "zone-a" || picked == "zone-b") << picked;
}

TEST_F(SearchTest, DryRunSaysWhyEachOtherCandidateWasExcluded) {
  json::value dry = DryRunJson(*server_, Request({{"zone:a"}}, {"type:bash"}));
  const json::value& criterion = dry.at("clusterCriterias").at(0);
  EXPECT_EQ(Str(criterion, "tried"), "true");
  const json::value& clusters = criterion.at("clusters");
  ASSERT_NE(Find(clusters, "zone-a"), nullptr);
  EXPECT_EQ(Str(*Find(clusters, "zone-a"), "chosen"), "true");
  EXPECT_EQ(Str(Find(clusters, "zone-a")->at("command"), "id"), "bash");
  ASSERT_NE(Find(clusters, "old-a"), nullptr);
  EXPECT_NE(Str(*Find(clusters, "old-a"), "excluded").find("status OUT_OF_SERVICE"),
            std::string::npos);
  ASSERT_NE(Find(clusters, "zone-b"), nullptr);
  EXPECT_NE(Str(*Find(clusters, "zone-b"), "excluded").find("lacks tags [zone:a]"),
            std::string::npos);
  const json::value& commands = dry.at("commands");
  EXPECT_EQ(Str(*Find(commands, "bash"), "chosen"), "true");
  EXPECT_NE(Str(*Find(commands, "spark"), "excluded").find("status DEPRECATED"), std::string::npos);
  EXPECT_NE(Str(*Find(commands, "spark3"), "excluded").find("lacks tags [type:bash]"),
            std::string::npos);
  EXPECT_EQ(Str(dry.at("memory"), "source"), "default");

  // Spark on zone-a: its only spark command is DEPRECATED, so zone-a is out for that reason.
  json::value none = DryRunJson(*server_, Request({{"zone:a"}}, {"type:spark"}));
  EXPECT_EQ(Str(none, "outcome"), "FAILED");
  EXPECT_EQ(Str(none, "submitStatus"), "412");
  EXPECT_EQ(Str(none, "cluster"), "null");
  EXPECT_NE(Str(*Find(none.at("clusterCriterias").at(0).at("clusters"), "zone-a"), "excluded")
                .find("no ACTIVE command linked"),
            std::string::npos);
  EXPECT_FALSE(none.at("reasons").as_array().empty());

  // Memory above the maximum: INVALID, as a submission would record it.
  json::object big = Request({{"zone:a"}}, {"type:bash"});
  big["memory"] = 1 << 20;
  json::value invalid = DryRunJson(*server_, big);
  EXPECT_EQ(Str(invalid, "outcome"), "INVALID");
  EXPECT_NE(Str(invalid, "message").find("exceeds the maximum job memory"), std::string::npos);

  // Nothing was recorded by any dry run.
  EXPECT_EQ(Get("/api/v3/jobs").at("page").at("totalElements").as_int64(), 0);
}

TEST_F(SearchTest, JobSubmitDryRunPrintsTheResolution) {
  CommandResult r = Weir({"job", "submit", "--dry-run", "-c", "zone:b", "-C", "type:spark", "-o",
                          "json", "--", "echo", "hi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::value v = Parse(r.out);  // exactly one document
  EXPECT_EQ(Str(v, "outcome"), "ACCEPTED");
  EXPECT_EQ(Str(v.at("cluster"), "id"), "zone-b");
  EXPECT_EQ(Str(v.at("command"), "id"), "spark3");
  EXPECT_EQ(Str(v.at("memory"), "mb"), "256");
  EXPECT_EQ(Str(v.at("memory"), "source"), "command");

  CommandResult table =
      Weir({"job", "submit", "--dry-run", "-c", "zone:a", "-C", "type:bash", "--", "true"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("ACCEPTED"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("zone-a (zone-a)"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("status OUT_OF_SERVICE"), std::string::npos) << table.out;

  CommandResult none =
      Weir({"job", "submit", "--dry-run", "-c", "zone:z", "-C", "type:bash", "--", "true"});
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_NE(none.out.find("FAILED"), std::string::npos) << none.out;

  EXPECT_EQ(Get("/api/v3/jobs").at("page").at("totalElements").as_int64(), 0);
}

}  // namespace
}  // namespace weir::testing
