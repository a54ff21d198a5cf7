// Tests of the `weir` CLI itself: the real binary against the real `weir server`, asserting what a
// user sees (exit code, stdout, stderr, the `-o json` shape) and the server's state afterwards,
// read back through the HTTP API. Where the CLI is known to be wrong (issue 15: `-o json` of
// `job kill`/`job output ID /`/`apply`, killing a finished job, `job output ID genie` without the
// slash, lowercase status filters, kills of queued jobs, partial `apply`) these tests stay silent.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <set>
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

// ---- Local helpers: JSON fields, CLI tables, waiting on a condition. ----

const json::array& Arr(const json::value& v, const char* key) {
  static const json::array kEmpty;
  if (!v.is_object() || !v.as_object().contains(key) || !v.at(key).is_array()) return kEmpty;
  return v.at(key).as_array();
}

std::vector<std::string> Ids(const json::array& items, const char* key = "id") {
  std::vector<std::string> ids;
  for (const auto& i : items) ids.push_back(Str(i, key));
  return ids;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  return s;
}

// A table the CLI printed: the one whose header line's first column is `first_column`. Columns
// start where the header's words start (after two or more spaces), as the CLI pads every cell
// to its column's width; rows run to the first empty line.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::map<std::string, std::string>> rows;
  std::vector<std::string> Column(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.at(name));
    return out;
  }
};

Table ParseTable(const std::string& text, const std::string& first_column) {
  Table t;
  std::vector<std::string> lines;
  size_t from = 0;
  while (from < text.size()) {
    size_t nl = text.find('\n', from);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(from, nl - from));
    from = nl + 1;
  }
  size_t h = 0;
  while (h < lines.size() && lines[h].rfind(first_column + "  ", 0) != 0) ++h;
  if (h == lines.size()) {
    ADD_FAILURE() << "no table with column " << first_column << " in:\n" << text;
    return t;
  }
  const std::string& header = lines[h];
  std::vector<size_t> starts;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] != ' ' && (i == 0 || (i >= 2 && header[i - 1] == ' ' && header[i - 2] == ' '))) {
      starts.push_back(i);
    }
  }
  auto cell = [&](const std::string& line, size_t c) {
    if (starts[c] >= line.size()) return std::string();
    size_t end = c + 1 < starts.size() ? starts[c + 1] : line.size();
    return Trimmed(line.substr(starts[c], end - starts[c]));
  };
  for (size_t c = 0; c < starts.size(); ++c) t.columns.push_back(cell(header, c));
  for (size_t i = h + 1; i < lines.size() && !lines[i].empty(); ++i) {
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < starts.size(); ++c) row[t.columns[c]] = cell(lines[i], c);
    t.rows.push_back(row);
  }
  return t;
}

// Calls `done` every 20 ms until it returns true; false after `limit`.
template <typename F>
bool WaitFor(F done, std::chrono::seconds limit = 30s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- Fixture: a server with examples/demo.yaml applied. ----

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", "jobs:\n  kill_grace_ms: 500\n");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = Weir({"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  CommandResult Weir(const std::vector<std::string>& args, const fs::path& cwd = {}) {
    return RunWeir(server_->url(), args, cwd);
  }

  json::value Get(const std::string& path, int want_status = 200) {
    auto r = http_->Get(path, {{"Accept", "application/json"}});
    EXPECT_TRUE(r.ok()) << path;
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, want_status) << path << ": " << r->body;
    return Parse(r->body);
  }

  // The raw body of a GET (job output bytes).
  std::string GetBody(const std::string& path) {
    auto r = http_->Get(path, {{"Accept", "*/*"}});
    EXPECT_TRUE(r.ok()) << path;
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return r->body;
  }

  // Submits `script` (bash) to the demo cluster through the API; returns the job id.
  std::string Submit(const std::string& script, const std::string& user = "tester",
                     json::array tags = {}) {
    json::object extra{{"name", "cli-test"}, {"user", user}};
    if (!tags.empty()) extra["tags"] = tags;
    return SubmitJob(*http_, BashJobRequest(script, extra));
  }

  std::string JobStatus(const std::string& id) {
    return Str(Get("/api/v3/jobs/" + id + "/status"), "status");
  }

  // Waits for the job's final status (fails the test at the deadline).
  std::string WaitFinal(const std::string& id) {
    std::string status;
    bool done = WaitFor([&] {
      status = JobStatus(id);
      return status == "SUCCEEDED" || status == "FAILED" || status == "KILLED" ||
             status == "INVALID";
    });
    EXPECT_TRUE(done) << "job " << id << " still " << status;
    return status;
  }

  // Waits until the job runs; returns its process id (its process group), or -1.
  pid_t WaitRunningPid(const std::string& id) {
    if (!WaitFor([&] { return JobStatus(id) == "RUNNING"; })) {
      ADD_FAILURE() << "job " << id << " never reached RUNNING";
      return -1;
    }
    json::value exec = Get("/api/v3/jobs/" + id + "/execution");
    if (!exec.is_object() || !exec.as_object().contains("processId")) {
      ADD_FAILURE() << "no processId: " << json::serialize(exec);
      return -1;
    }
    return static_cast<pid_t>(exec.at("processId").to_number<int64_t>());
  }

  // `weir apply -f` of `yaml` written to a file; returns the result.
  CommandResult Apply(const std::string& yaml) {
    fs::path file = dir_.path() / "conf.yaml";
    WriteFile(file, yaml);
    return Weir({"apply", "-f", file.string()});
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

// ---- job output | kill | status | list ----

TEST_F(CliTest, JobOutputPrintsTheFilesBytesExactly) {
  std::string id = Submit("printf 'one\\ntwo'; printf 'x\\001\\377y' > blob.bin; echo err >&2");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");

  auto out = Weir({"job", "output", id});  // default: stdout
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "one\ntwo");
  EXPECT_EQ(out.err, "");
  auto err = Weir({"job", "output", id, "stderr"});
  ASSERT_EQ(err.exit_code, 0) << err.err;
  EXPECT_EQ(err.out, "err\n");
  auto bin = Weir({"job", "output", id, "blob.bin"});
  ASSERT_EQ(bin.exit_code, 0) << bin.err;
  EXPECT_EQ(bin.out, std::string("x\001\377y"));
  EXPECT_EQ(bin.out, GetBody("/api/v3/jobs/" + id + "/output/blob.bin"));
}

TEST_F(CliTest, JobOutputOfAFolderListsItsEntriesWithSizes) {
  std::string id = Submit("mkdir -p res/deep; printf 12345 > res/five.txt; printf ab > res/two");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");

  auto r = Weir({"job", "output", id, "res/"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // One line per entry, "name<TAB>size": folders first, then files, as the API lists them.
  json::value listing = Get("/api/v3/jobs/" + id + "/output/res/");
  std::string want;
  for (const char* group : {"directories", "files"}) {
    for (const auto& e : Arr(listing, group)) want += Str(e, "name") + "\t" + Str(e, "size") + "\n";
  }
  EXPECT_EQ(r.out, want);
  EXPECT_TRUE(Contains(r.out, "five.txt\t5\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "two\t2\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "deep/\t")) << r.out;  // folders end in /

  // The job folder itself: `/`.
  auto root = Weir({"job", "output", id, "/"});
  ASSERT_EQ(root.exit_code, 0) << root.err;
  EXPECT_TRUE(Contains(root.out, "res/\t")) << root.out;
  EXPECT_TRUE(Contains(root.out, "stdout\t0\n")) << root.out;
}

TEST_F(CliTest, JobOutputOfAMissingPathFailsWithAClearMessage) {
  std::string id = Submit("true");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");

  auto r = Weir({"job", "output", id, "no-such-file.txt"});
  EXPECT_EQ(r.exit_code, 3);  // not found (docs/cli.md)
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(Contains(r.err, "weir: ")) << r.err;
  EXPECT_TRUE(Contains(r.err, "no-such-file.txt")) << r.err;
  EXPECT_TRUE(Contains(r.err, "not found")) << r.err;

  auto unknown = Weir({"job", "output", "no-such-job"});
  EXPECT_EQ(unknown.exit_code, 3);  // not found (docs/cli.md)
  EXPECT_EQ(unknown.out, "");
  EXPECT_TRUE(Contains(unknown.err, "no-such-job")) << unknown.err;
}

TEST_F(CliTest, JobKillEndsTheJobKilledAndItsProcessesAreGone) {
  std::string id = Submit("sleep 30 & sleep 30; wait");
  pid_t pid = WaitRunningPid(id);
  ASSERT_GT(pid, 0);
  ASSERT_FALSE(ProcessesInGroup(pid).empty());

  auto r = Weir({"job", "kill", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "kill requested for job " + id + "\n");
  EXPECT_EQ(WaitFinal(id), "KILLED");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id), "statusMsg"), "Job was killed by user.");
  EXPECT_TRUE(WaitFor([&] { return ProcessesInGroup(pid).empty(); }, 10s))
      << "processes of job " << id << " still alive";
}

TEST_F(CliTest, JobKillOfAnUnknownJobFailsNotFound) {
  auto r = Weir({"job", "kill", "no-such-job"});
  EXPECT_EQ(r.exit_code, 3);  // not found (docs/cli.md)
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(Contains(r.err, "weir: ")) << r.err;
  EXPECT_TRUE(Contains(r.err, "no-such-job")) << r.err;
}

TEST_F(CliTest, JobStatusShowsStatusMessageClusterCommandAndExitCode) {
  std::string id = Submit("exit 3");
  ASSERT_EQ(WaitFinal(id), "FAILED");
  json::value job = Get("/api/v3/jobs/" + id);

  auto r = Weir({"job", "status", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Table t = ParseTable(r.out, "ID");
  ASSERT_EQ(t.rows.size(), 1u) << r.out;
  EXPECT_EQ(t.rows[0]["ID"], id);
  EXPECT_EQ(t.rows[0]["STATUS"], "FAILED");
  EXPECT_EQ(t.rows[0]["MESSAGE"], Str(job, "statusMsg"));
  EXPECT_EQ(t.rows[0]["CLUSTER"], "local");
  EXPECT_EQ(t.rows[0]["COMMAND"], "bash");
  EXPECT_EQ(t.rows[0]["EXIT"], "3");

  auto j = Weir({"-o", "json", "job", "status", id});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json::value v = Parse(j.out);
  EXPECT_EQ(Str(v, "id"), id);
  EXPECT_EQ(Str(v, "status"), "FAILED");
  EXPECT_EQ(Str(v, "clusterName"), "local");
  EXPECT_EQ(Str(v, "exitCode"), "3");
  EXPECT_EQ(Str(v, "statusMsg"), Str(job, "statusMsg"));

  auto missing = Weir({"job", "status", "no-such-job"});
  EXPECT_EQ(missing.exit_code, 3);  // not found (docs/cli.md)
  EXPECT_EQ(missing.out, "");
  EXPECT_TRUE(Contains(missing.err, "no-such-job")) << missing.err;
}

TEST_F(CliTest, JobListFiltersByStatusUserAndTagNewestFirst) {
  std::string a = Submit("true", "alice", {"team:x"});
  ASSERT_EQ(WaitFinal(a), "SUCCEEDED");
  std::string b = Submit("exit 1", "bob", {"team:y"});
  ASSERT_EQ(WaitFinal(b), "FAILED");
  std::string c = Submit("exit 2", "alice", {"team:x"});
  ASSERT_EQ(WaitFinal(c), "FAILED");

  auto ids = [&](const std::vector<std::string>& filters) {
    std::vector<std::string> args = {"job", "list"};
    args.insert(args.end(), filters.begin(), filters.end());
    auto r = Weir(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseTable(r.out, "ID").Column("ID");
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({}), (V{c, b, a}));
  EXPECT_EQ(ids({"--status", "FAILED"}), (V{c, b}));
  EXPECT_EQ(ids({"--status", "SUCCEEDED", "--status", "FAILED"}), (V{c, b, a}));
  EXPECT_EQ(ids({"--user", "alice"}), (V{c, a}));
  EXPECT_EQ(ids({"--tag", "team:x", "--status", "FAILED"}), (V{c}));
  EXPECT_EQ(ids({"--tag", "team:y"}), (V{b}));
  EXPECT_EQ(ids({"--size", "1"}), (V{c}));

  auto table = Weir({"job", "list", "--user", "bob"});
  Table t = ParseTable(table.out, "ID");
  ASSERT_EQ(t.rows.size(), 1u) << table.out;
  EXPECT_EQ(t.rows[0]["USER"], "bob");
  EXPECT_EQ(t.rows[0]["STATUS"], "FAILED");
  EXPECT_EQ(t.rows[0]["CLUSTER"], "local");
  EXPECT_EQ(t.rows[0]["COMMAND"], "bash");

  auto j = Weir({"-o", "json", "job", "list", "--status", "FAILED"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json::value v = ListItems(j.out, "jobs");
  ASSERT_TRUE(v.is_array()) << j.out;
  EXPECT_EQ(Ids(v.as_array()), (V{c, b}));
  EXPECT_EQ(Str(v.as_array()[0], "user"), "alice");
}

// ---- cluster | command | application list ----

const char* kExtraConfig = R"(commands:
  - id: old-bash
    name: old-bash
    user: admin
    version: "4"
    status: DEPRECATED
    executable: /bin/bash -c
    tags: [type:bash, era:old]
clusters:
  - id: spare
    name: spare
    user: admin
    version: "2"
    status: OUT_OF_SERVICE
    tags: [sched:spare]
    commands: [old-bash]
)";

TEST_F(CliTest, ClusterListShowsStatusAndUserTagsAndFilters) {
  ASSERT_EQ(Apply(kExtraConfig).exit_code, 0);

  auto r = Weir({"cluster", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Table t = ParseTable(r.out, "ID");
  EXPECT_EQ(t.columns,
            (std::vector<std::string>{"ID", "NAME", "VERSION", "STATUS", "TAGS", "UPDATED"}));
  std::map<std::string, std::map<std::string, std::string>> by_id;
  for (const auto& row : t.rows) by_id[row.at("ID")] = row;
  ASSERT_EQ(by_id.size(), 2u) << r.out;
  EXPECT_EQ(by_id["local"]["STATUS"], "UP");
  EXPECT_EQ(by_id["local"]["VERSION"], "1");
  // The user's tags, without the genie.id:/genie.name: tags the server adds.
  std::set<std::string> tags;
  std::string cell = by_id["local"]["TAGS"];
  for (size_t from = 0; from <= cell.size();) {
    size_t comma = std::min(cell.find(',', from), cell.size());
    tags.insert(cell.substr(from, comma - from));
    from = comma + 1;
  }
  EXPECT_EQ(tags, (std::set<std::string>{"sched:sla", "sched:adhoc", "type:local"})) << cell;
  EXPECT_EQ(by_id["spare"]["STATUS"], "OUT_OF_SERVICE");
  EXPECT_EQ(by_id["spare"]["TAGS"], "sched:spare");

  auto out = Weir({"cluster", "list", "--status", "OUT_OF_SERVICE"});
  EXPECT_EQ(ParseTable(out.out, "ID").Column("ID"), std::vector<std::string>{"spare"});
  auto tagged = Weir({"cluster", "list", "--tag", "type:local"});
  EXPECT_EQ(ParseTable(tagged.out, "ID").Column("ID"), std::vector<std::string>{"local"});
  auto none = Weir({"cluster", "list", "--tag", "no:such"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_TRUE(ParseTable(none.out, "ID").rows.empty()) << none.out;
}

TEST_F(CliTest, ClusterListJsonIsTheApisItems) {
  ASSERT_EQ(Apply(kExtraConfig).exit_code, 0);
  auto r = Weir({"-o", "json", "cluster", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::value v = ListItems(r.out, "clusters");
  ASSERT_TRUE(v.is_array()) << r.out;
  json::value api = Get("/api/v3/clusters?size=100");
  const json::array& items = Arr(api.at("_embedded"), "clusterList");
  ASSERT_EQ(v.as_array().size(), 2u);
  EXPECT_EQ(Ids(v.as_array()), Ids(items));
  for (const auto& c : v.as_array()) {
    EXPECT_FALSE(Str(c, "status").empty()) << json::serialize(c);
    EXPECT_FALSE(Arr(c, "tags").empty()) << json::serialize(c);
  }
  auto spare = Weir({"-o", "json", "cluster", "list", "--status", "OUT_OF_SERVICE"});
  json::value s = ListItems(spare.out, "clusters");
  ASSERT_TRUE(s.is_array() && s.as_array().size() == 1) << spare.out;
  EXPECT_EQ(Str(s.as_array()[0], "id"), "spare");
  EXPECT_EQ(Str(s.as_array()[0], "status"), "OUT_OF_SERVICE");
}

TEST_F(CliTest, CommandListShowsStatusVersionTagsAndFilters) {
  ASSERT_EQ(Apply(kExtraConfig).exit_code, 0);

  auto r = Weir({"command", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Table t = ParseTable(r.out, "ID");
  std::set<std::string> ids;
  for (const auto& row : t.rows) ids.insert(row.at("ID"));
  EXPECT_EQ(ids, (std::set<std::string>{"bash", "python", "sqlite", "old-bash"})) << r.out;
  for (const auto& row : t.rows) {
    if (row.at("ID") == "old-bash") {
      EXPECT_EQ(row.at("STATUS"), "DEPRECATED");
      EXPECT_EQ(row.at("VERSION"), "4");
      EXPECT_EQ(row.at("TAGS"), "era:old,type:bash");  // sorted
    }
    if (row.at("ID") == "python") EXPECT_EQ(row.at("TAGS"), "type:python");
  }

  auto bash = Weir({"command", "list", "--tag", "type:bash"});
  auto bash_ids = ParseTable(bash.out, "ID").Column("ID");
  EXPECT_EQ(std::set<std::string>(bash_ids.begin(), bash_ids.end()),
            (std::set<std::string>{"bash", "old-bash"}));
  auto active = Weir({"command", "list", "--tag", "type:bash", "--status", "ACTIVE"});
  EXPECT_EQ(ParseTable(active.out, "ID").Column("ID"), std::vector<std::string>{"bash"});

  auto j = Weir({"-o", "json", "command", "list", "--tag", "type:python"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json::value v = ListItems(j.out, "commands");
  ASSERT_TRUE(v.is_array() && v.as_array().size() == 1) << j.out;
  EXPECT_EQ(Str(v.as_array()[0], "id"), "python");
  EXPECT_EQ(Str(v.as_array()[0], "executable"), "python3 -c");
}

TEST_F(CliTest, ApplicationListShowsTheTableAndJson) {
  auto r = Weir({"application", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Table t = ParseTable(r.out, "ID");
  ASSERT_EQ(t.rows.size(), 1u) << r.out;
  EXPECT_EQ(t.rows[0]["ID"], "python3");
  EXPECT_EQ(t.rows[0]["NAME"], "python3");
  EXPECT_EQ(t.rows[0]["VERSION"], "3");
  EXPECT_EQ(t.rows[0]["STATUS"], "ACTIVE");
  EXPECT_EQ(t.rows[0]["TAGS"], "type:python");
  EXPECT_EQ(t.rows[0]["UPDATED"], Str(Get("/api/v3/applications/python3"), "updated"));

  auto j = Weir({"-o", "json", "application", "list", "--status", "ACTIVE"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json::value v = ListItems(j.out, "applications");
  ASSERT_TRUE(v.is_array() && v.as_array().size() == 1) << j.out;
  EXPECT_EQ(Str(v.as_array()[0], "type"), "python");
  auto inactive = Weir({"-o", "json", "application", "list", "--status", "INACTIVE"});
  EXPECT_EQ(ListItems(inactive.out, "applications"), json::value(json::array{})) << inactive.out;
}

// ---- WEIR_SERVER ----

// A URL where no server listens (port 1 needs root to listen on; nothing does here).
std::string DeadUrl() { return "http://127.0.0.1:1"; }

TEST_F(CliTest, WeirServerEnvChoosesTheServerWhenNoFlagIsGiven) {
  auto r = RunWeirWithEnv({"cluster", "list"}, {"WEIR_SERVER=" + server_->url()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseTable(r.out, "ID").Column("ID"), std::vector<std::string>{"local"});

  // Without --server and with WEIR_SERVER at a dead address, the command fails there.
  auto dead = RunWeirWithEnv({"cluster", "list"}, {"WEIR_SERVER=" + DeadUrl()});
  EXPECT_EQ(dead.exit_code, 5);  // cannot reach a weir server
  EXPECT_EQ(dead.out, "");
  EXPECT_TRUE(Contains(dead.err, "weir: ")) << dead.err;
}

TEST_F(CliTest, ServerFlagWinsOverWeirServerEnv) {
  auto r =
      RunWeirWithEnv({"--server", server_->url(), "cluster", "list"}, {"WEIR_SERVER=" + DeadUrl()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseTable(r.out, "ID").Column("ID"), std::vector<std::string>{"local"});

  // The other way round: the flag names the dead address, so the env's good one is not used.
  auto dead =
      RunWeirWithEnv({"--server", DeadUrl(), "cluster", "list"}, {"WEIR_SERVER=" + server_->url()});
  EXPECT_EQ(dead.exit_code, 5);  // cannot reach a weir server
  EXPECT_EQ(dead.out, "");
  // A job submitted with WEIR_SERVER lands on that server.
  auto sub = RunWeirWithEnv({"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--", "true"},
                            {"WEIR_SERVER=" + server_->url()});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  std::string id = Trimmed(sub.out.substr(0, sub.out.find('\n')));
  EXPECT_EQ(WaitFinal(id), "SUCCEEDED");
}

// ---- apply: update and relink ----

std::string ConfigYaml(const std::string& description, const std::string& cluster_status,
                       const std::string& commands) {
  return R"(applications:
  - {id: app1, name: app1, user: ops, version: "1", status: ACTIVE, tags: [kind:app]}
commands:
  - id: c-echo
    name: c-echo
    user: ops
    version: "1"
    status: ACTIVE
    executable: /bin/echo
    tags: [type:echo]
    applications: [app1]
  - id: c-true
    name: c-true
    user: ops
    version: "1"
    status: ACTIVE
    executable: /bin/true
    tags: [type:true]
  - id: c-false
    name: c-false
    user: ops
    version: "1"
    status: ACTIVE
    executable: /bin/false
    tags: [type:false]
clusters:
  - id: box
    name: box
    user: ops
    version: "1"
    status: )" +
         cluster_status +
         R"(
    description: )" +
         description +
         R"(
    tags: [site:box]
    commands: )" +
         commands + "\n";
}

std::vector<std::string> LinkedIds(const json::value& list) {
  return list.is_array() ? Ids(list.as_array()) : std::vector<std::string>{};
}

TEST_F(CliTest, ApplyingTheSameFileTwiceChangesNothingAndSaysSo) {
  const std::string yaml = ConfigYaml("first box", "UP", "[c-echo, c-true]");
  auto first = Apply(yaml);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(Contains(first.out, "clusters/box created\n")) << first.out;
  EXPECT_TRUE(Contains(first.out, "commands/c-echo created\n")) << first.out;
  json::value box = Get("/api/v3/clusters/box");
  json::value echo = Get("/api/v3/commands/c-echo");

  auto second = Apply(yaml);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  for (const char* line :
       {"applications/app1 unchanged\n", "commands/c-echo unchanged\n",
        "commands/c-true unchanged\n", "commands/c-false unchanged\n", "clusters/box unchanged\n",
        "commands/c-echo/applications unchanged\n", "clusters/box/commands unchanged\n"}) {
    EXPECT_TRUE(Contains(second.out, line)) << line << " in\n" << second.out;
  }
  EXPECT_TRUE(Contains(second.out, ": 0 changes\n")) << second.out;
  EXPECT_FALSE(Contains(second.out, "updated")) << second.out;
  EXPECT_FALSE(Contains(second.out, "created")) << second.out;
  // Nothing was written: the server's update times did not move.
  EXPECT_EQ(Str(Get("/api/v3/clusters/box"), "updated"), Str(box, "updated"));
  EXPECT_EQ(Str(Get("/api/v3/commands/c-echo"), "updated"), Str(echo, "updated"));
}

TEST_F(CliTest, ApplyUpdatesTheFieldsThatChangedAndOnlyThatResource) {
  ASSERT_EQ(Apply(ConfigYaml("first box", "UP", "[c-echo]")).exit_code, 0);
  json::value before = Get("/api/v3/clusters/box");
  json::value echo = Get("/api/v3/commands/c-echo");

  auto r = Apply(ConfigYaml("second box", "OUT_OF_SERVICE", "[c-echo]"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "clusters/box updated\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "commands/c-echo unchanged\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "clusters/box/commands unchanged\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, ": 1 change\n")) << r.out;

  json::value after = Get("/api/v3/clusters/box");
  EXPECT_EQ(Str(after, "description"), "second box");
  EXPECT_EQ(Str(after, "status"), "OUT_OF_SERVICE");
  EXPECT_EQ(Str(after, "name"), "box");
  EXPECT_EQ(Str(after, "created"), Str(before, "created"));
  std::set<std::string> tags;
  for (const auto& t : Arr(after, "tags")) tags.insert(std::string(t.as_string()));
  EXPECT_TRUE(tags.count("site:box")) << json::serialize(after);
  EXPECT_EQ(Str(Get("/api/v3/commands/c-echo"), "updated"), Str(echo, "updated"));
  EXPECT_EQ(LinkedIds(Get("/api/v3/clusters/box/commands")), std::vector<std::string>{"c-echo"});

  // The CLI's list shows the change.
  auto list = Weir({"cluster", "list", "--status", "OUT_OF_SERVICE"});
  EXPECT_EQ(ParseTable(list.out, "ID").Column("ID"), std::vector<std::string>{"box"});
}

TEST_F(CliTest, ApplyReplacesAClustersCommandLinksInTheFilesOrder) {
  ASSERT_EQ(Apply(ConfigYaml("box", "UP", "[c-echo, c-true]")).exit_code, 0);
  using V = std::vector<std::string>;
  EXPECT_EQ(LinkedIds(Get("/api/v3/clusters/box/commands")), (V{"c-echo", "c-true"}));

  // Another set: replaced, in the new order.
  auto r = Apply(ConfigYaml("box", "UP", "[c-false, c-echo]"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "clusters/box/commands updated\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "clusters/box unchanged\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, ": 1 change\n")) << r.out;
  EXPECT_EQ(LinkedIds(Get("/api/v3/clusters/box/commands")), (V{"c-false", "c-echo"}));

  // The same set in another order (the first is the default command): replaced too.
  auto swapped = Apply(ConfigYaml("box", "UP", "[c-echo, c-false]"));
  ASSERT_EQ(swapped.exit_code, 0) << swapped.err;
  EXPECT_TRUE(Contains(swapped.out, "clusters/box/commands updated\n")) << swapped.out;
  EXPECT_EQ(LinkedIds(Get("/api/v3/clusters/box/commands")), (V{"c-echo", "c-false"}));
  // The command side sees the link.
  EXPECT_EQ(LinkedIds(Get("/api/v3/commands/c-true/clusters")), V{});
  EXPECT_EQ(LinkedIds(Get("/api/v3/commands/c-false/clusters")), V{"box"});
}

// ---- workflow activate | versions | rollback | instances | stop | restart ----

// A project in a git repository with workflows `w` (two steps; `second` succeeds only once the
// marker file exists) and `sleeper` (one step that sleeps 30 s). `label` goes into `first`'s
// output, so changing it makes a new version.
class CliWorkflowTest : public CliTest {
 protected:
  const std::string kW = "prod:acme.cli.w";
  const std::string kSleeper = "prod:acme.cli.sleeper";

  fs::path Marker() const { return dir_.path() / "marker"; }

  void WriteWorkflows(const std::string& label) {
    WriteFile(repo() / "flows" / "w.sch.yaml", R"(id: w
jobs:
  first:
    command: [type:bash]
    cluster: [type:local]
    args: ["echo first )" + label + R"("]
  second:
    command: [type:bash]
    cluster: [type:local]
    depends_on: first
    args: ["test -f )" + Marker().string() + R"( && echo second"]
)");
    WriteFile(repo() / "flows" / "sleeper.sch.yaml", R"(id: sleeper
jobs:
  nap:
    command: [type:bash]
    cluster: [type:local]
    args: ["sleep 30"]
)");
  }

  fs::path repo() const { return dir_.path() / "proj"; }

  // Commits the current files and deploys them (a new version when they changed).
  void CommitAndDeploy(const std::string& message) {
    auto add = Git(repo(), "add -A");
    ASSERT_EQ(add.first, 0) << add.second;
    auto c = Git(repo(), "commit -q -m " + ShellQuote(message));
    ASSERT_EQ(c.first, 0) << c.second;
    auto d = Weir({"project", "deploy"}, repo());
    ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
  }

  void MakeProject() {
    WriteFile(repo() / "dataflow.yaml",
              "project: {owner: acme, repo: cli, main_branch: main}\nassets: []\n"
              "workflows: [flows]\n");
    WriteFile(repo() / ".gitignore", ".workflows/\n");
    WriteWorkflows("v1");
    ASSERT_EQ(Git(repo(), "init -q -b main").first, 0);
    CommitAndDeploy("v1");
  }

  // Deploys versions 1..n of the workflows (version k prints "first vk").
  void DeployVersions(int n) {
    MakeProject();
    for (int k = 2; k <= n; ++k) {
      WriteWorkflows("v" + std::to_string(k));
      CommitAndDeploy("v" + std::to_string(k));
    }
  }

  std::string Path(const std::string& id) {
    return "/api/weir/v1/workflows/" + client::UrlEncode(id);
  }
  json::value Instance(const std::string& id, int n) {
    return Get(Path(id) + "/instances/" + std::to_string(n));
  }
  // The step of an instance (an empty object, and a test failure, when it has none).
  static const json::value* Step(const json::value& inst, const std::string& step) {
    static const json::value kNone = json::object{};
    for (const auto& s : Arr(inst, "steps")) {
      if (Str(s, "id") == step) return &s;
    }
    ADD_FAILURE() << "no step " << step << " in " << json::serialize(inst);
    return &kNone;
  }
  static bool Final(const std::string& s) {
    return s == "SUCCEEDED" || s == "FAILED" || s == "STOPPED";
  }
  json::value WaitInstance(const std::string& id, int n) {
    json::value inst;
    bool done = WaitFor(
        [&] {
          inst = Instance(id, n);
          return Final(Str(inst, "status"));
        },
        60s);
    EXPECT_TRUE(done) << id << "#" << n << " did not finish: " << json::serialize(inst);
    return inst;
  }
  // `weir workflow run ID`; returns the instance number it printed ("ID#N").
  int RunViaCli(const std::string& id) {
    auto r = Weir({"workflow", "run", id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind(id + "#", 0), 0u) << r.out;
    return std::atoi(r.out.substr(id.size() + 1).c_str());
  }
};

TEST_F(CliWorkflowTest, ActivateChangesTheActiveVersionTheServerReports) {
  DeployVersions(2);
  ASSERT_EQ(Str(Get(Path(kW)), "activeVersion"), "2");

  auto r = Weir({"workflow", "activate", kW, "1", "--actor", "ops"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "workflow:     " + kW + "\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "active:       1 (latest 2)\n")) << r.out;
  EXPECT_EQ(Str(Get(Path(kW)), "activeVersion"), "1");
  // A new instance runs the activated version.
  WriteFile(Marker(), "");
  int n = RunViaCli(kW);
  json::value inst = WaitInstance(kW, n);
  EXPECT_EQ(Str(inst, "version"), "1");
  EXPECT_EQ(GetBody("/api/v3/jobs/" + Str(*Step(inst, "first"), "jobId") + "/output/stdout"),
            "first v1\n");

  auto j = Weir({"-o", "json", "workflow", "activate", kW, "2"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(Str(Parse(j.out), "activeVersion"), "2");
  EXPECT_EQ(Str(Get(Path(kW)), "activeVersion"), "2");

  auto unknown = Weir({"workflow", "activate", kW, "9"});
  EXPECT_EQ(unknown.exit_code, 3);  // not found (docs/cli.md)
  EXPECT_TRUE(Contains(unknown.err, "weir: workflow activate: ")) << unknown.err;
  EXPECT_EQ(Str(Get(Path(kW)), "activeVersion"), "2");
}

TEST_F(CliWorkflowTest, VersionsShowsEveryVersionAndTheActivationHistoryNewestFirst) {
  DeployVersions(2);
  ASSERT_EQ(Weir({"workflow", "activate", kW, "1", "--actor", "ops"}).exit_code, 0);

  auto r = Weir({"workflow", "versions", kW});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Table versions = ParseTable(r.out, "VERSION");
  EXPECT_EQ(versions.Column("VERSION"), (std::vector<std::string>{"2", "1 *"})) << r.out;
  Table history = ParseTable(r.out, "AT");
  ASSERT_EQ(history.rows.size(), 3u) << r.out;
  EXPECT_EQ(history.rows[0]["REASON"], "activate");
  EXPECT_EQ(history.rows[0]["VERSION"], "2 -> 1");
  EXPECT_EQ(history.rows[0]["ACTOR"], "ops");
  EXPECT_EQ(history.rows[1]["REASON"], "deploy");
  EXPECT_EQ(history.rows[1]["VERSION"], "1 -> 2");
  EXPECT_EQ(history.rows[2]["REASON"], "deploy");
  EXPECT_EQ(history.rows[2]["VERSION"], "- -> 1");

  auto j = Weir({"-o", "json", "workflow", "versions", kW});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(Parse(j.out), Get(Path(kW) + "/versions"));
}

TEST_F(CliWorkflowTest, RollbackGoesToTheMostRecentlyActiveOlderVersion) {
  DeployVersions(3);
  ASSERT_EQ(Weir({"workflow", "activate", kW, "1"}).exit_code, 0);
  ASSERT_EQ(Weir({"workflow", "activate", kW, "3"}).exit_code, 0);

  // Active 3; of the older versions, 1 was active more recently than 2.
  auto r = Weir({"workflow", "rollback", kW, "--actor", "ops"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "active:       1 (latest 3)\n")) << r.out;
  EXPECT_EQ(Str(Get(Path(kW)), "activeVersion"), "1");
  json::value history = Get(Path(kW) + "/versions");
  ASSERT_FALSE(Arr(history, "activations").empty()) << json::serialize(history);
  const json::value& last = Arr(history, "activations")[0];
  EXPECT_EQ(Str(last, "reason"), "rollback");
  EXPECT_EQ(Str(last, "previous"), "3");
  EXPECT_EQ(Str(last, "actor"), "ops");

  // --to names the version.
  ASSERT_EQ(Weir({"workflow", "activate", kW, "3"}).exit_code, 0);
  auto to = Weir({"workflow", "rollback", kW, "--to", "2"});
  ASSERT_EQ(to.exit_code, 0) << to.err;
  EXPECT_EQ(Str(Get(Path(kW)), "activeVersion"), "2");
  auto newer = Weir({"workflow", "rollback", kW, "--to", "3"});
  EXPECT_EQ(newer.exit_code, 1);
  EXPECT_TRUE(Contains(newer.err, "weir: workflow rollback: ")) << newer.err;
  EXPECT_EQ(Str(Get(Path(kW)), "activeVersion"), "2");
}

TEST_F(CliWorkflowTest, InstancesAreListedNewestFirstAndPaged) {
  MakeProject();
  WriteFile(Marker(), "");
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(RunViaCli(kW), i);
    ASSERT_EQ(Str(WaitInstance(kW, i), "status"), "SUCCEEDED");
  }
  std::remove(Marker().c_str());
  ASSERT_EQ(RunViaCli(kW), 4);
  ASSERT_EQ(Str(WaitInstance(kW, 4), "status"), "FAILED");

  using V = std::vector<std::string>;
  auto r = Weir({"workflow", "instances", kW});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Table t = ParseTable(r.out, "N");
  EXPECT_EQ(t.Column("N"), (V{"4", "3", "2", "1"})) << r.out;
  EXPECT_EQ(t.Column("STATUS"), (V{"FAILED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"}));
  EXPECT_EQ(t.rows[0]["VERSION"], "v1");

  auto page = Weir({"workflow", "instances", kW, "--size", "3", "--page", "1"});
  EXPECT_EQ(ParseTable(page.out, "N").Column("N"), V{"1"}) << page.out;
  auto first = Weir({"workflow", "instances", kW, "--size", "2"});
  EXPECT_EQ(ParseTable(first.out, "N").Column("N"), (V{"4", "3"})) << first.out;
  auto ok = Weir({"workflow", "instances", kW, "--status", "SUCCEEDED", "--size", "2"});
  EXPECT_EQ(ParseTable(ok.out, "N").Column("N"), (V{"3", "2"})) << ok.out;

  auto j = Weir({"-o", "json", "workflow", "instances", kW, "--size", "2", "--page", "1"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json::value v = Parse(j.out);
  EXPECT_EQ(Ids(Arr(v, "instances"), "number"), (V{"2", "1"}));
  EXPECT_EQ(Str(v.at("page"), "totalElements"), "4");
  EXPECT_EQ(Str(v.at("page"), "totalPages"), "2");
}

TEST_F(CliWorkflowTest, StopEndsARunningInstanceAndKillsItsJob) {
  MakeProject();
  int n = RunViaCli(kSleeper);
  ASSERT_EQ(n, 1);
  std::string job;
  ASSERT_TRUE(WaitFor([&] {
    json::value inst = Instance(kSleeper, n);
    for (const auto& s : Arr(inst, "steps")) {
      if (Str(s, "id") == "nap" && Str(s, "status") == "RUNNING") job = Str(s, "jobId");
    }
    return !job.empty();
  })) << json::serialize(Instance(kSleeper, n));
  pid_t pid = WaitRunningPid(job);
  ASSERT_GT(pid, 0);

  auto r = Weir({"workflow", "stop", kSleeper, "1", "--actor", "ops"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(kSleeper + "#1: STOPPED", 0), 0u) << r.out;
  json::value inst = Instance(kSleeper, n);
  EXPECT_EQ(Str(inst, "status"), "STOPPED");
  EXPECT_EQ(Str(*Step(inst, "nap"), "status"), "STOPPED");
  EXPECT_EQ(WaitFinal(job), "KILLED");
  EXPECT_TRUE(WaitFor([&] { return ProcessesInGroup(pid).empty(); }, 10s))
      << "processes of job " << job << " still alive";

  // Stopping it again is refused: it already ended.
  auto again = Weir({"workflow", "stop", kSleeper, "1"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Contains(again.err, "weir: workflow stop: ")) << again.err;
}

TEST_F(CliWorkflowTest, RestartOfAFailedInstanceRerunsOnlyTheIncompleteSteps) {
  MakeProject();
  int n = RunViaCli(kW);  // no marker: `second` fails
  json::value failed = WaitInstance(kW, n);
  ASSERT_EQ(Str(failed, "status"), "FAILED") << json::serialize(failed);
  ASSERT_EQ(Str(*Step(failed, "first"), "status"), "SUCCEEDED");
  const std::string first_job = Str(*Step(failed, "first"), "jobId");
  const std::string failed_job = Str(*Step(failed, "second"), "jobId");

  WriteFile(Marker(), "");
  auto r = Weir({"workflow", "restart", kW, std::to_string(n), "--actor", "ops"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(kW + "#" + std::to_string(n) + ": ", 0), 0u) << r.out;
  json::value done = WaitInstance(kW, n);
  ASSERT_EQ(Str(done, "status"), "SUCCEEDED") << json::serialize(done);
  EXPECT_EQ(Str(done, "run"), "2");
  // `first` kept its job and ran once; `second` ran again as a new job.
  EXPECT_EQ(Str(*Step(done, "first"), "jobId"), first_job);
  EXPECT_EQ(Arr(*Step(done, "first"), "history").size(), 1u);
  const std::string second_job = Str(*Step(done, "second"), "jobId");
  EXPECT_NE(second_job, failed_job);
  EXPECT_EQ(GetBody("/api/v3/jobs/" + second_job + "/output/stdout"), "second\n");
  json::value grouped = Get("/api/v3/jobs?size=100&groupingInstance=" +
                            client::UrlEncode(kW + "#" + std::to_string(n)));
  EXPECT_EQ(Arr(grouped.at("_embedded"), "jobSearchResultList").size(), 3u);

  // A succeeded instance is not restarted.
  auto again = Weir({"workflow", "restart", kW, std::to_string(n)});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Contains(again.err, "weir: workflow restart: ")) << again.err;
  EXPECT_EQ(Str(Instance(kW, n), "run"), "2");
}

}  // namespace
}  // namespace weir::testing
