// `weir apply` as a GitOps tool and the configuration commands beside it (issue 15): the real
// `weir` binary against the real `weir server`. A bad file changes nothing (checked on the server
// afterwards), misspelled keys are named, `--dry-run` lists changed fields and writes nothing,
// fields a resource leaves out are cleared, `--prune` deletes what the file no longer lists but
// refuses what is still linked, and `delete`, `tag add|rm` and `get` (links both ways) work.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "client/http_client.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::string kBase = R"(applications:
  - {id: app1, name: app1, user: ops, version: "1", status: ACTIVE}
commands:
  - id: c-echo
    name: c-echo
    user: ops
    version: "1"
    status: ACTIVE
    executable: /bin/echo
    description: says things
    tags: [type:echo]
    applications: [app1]
  - {id: c-spare, name: c-spare, user: ops, version: "1", status: ACTIVE, executable: /bin/true}
clusters:
  - {id: box, name: box, user: ops, version: "1", status: UP, tags: [site:box], commands: [c-echo]}
)";

class CliApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
  }

  CommandResult Weir(const std::vector<std::string>& args) { return RunWeir(server_->url(), args); }

  CommandResult Apply(const std::string& yaml, std::vector<std::string> extra = {}) {
    fs::path file = dir_.path() / "conf.yaml";
    WriteFile(file, yaml);
    std::vector<std::string> args = {"apply", "-f", file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return Weir(args);
  }

  int StatusOf(const std::string& path) {
    auto r = http_->Get(path, {{"Accept", "application/json"}});
    EXPECT_TRUE(r.ok()) << path;
    return r.ok() ? r->status : -1;
  }

  json::value Get(const std::string& path) {
    auto r = http_->Get(path, {{"Accept", "application/json"}});
    EXPECT_TRUE(r.ok()) << path;
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return Parse(r->body);
  }

  std::vector<std::string> LinkedIds(const std::string& path) {
    std::vector<std::string> ids;
    json::value v = Get(path);
    if (v.is_array()) {
      for (const auto& i : v.as_array()) ids.push_back(Str(i, "id"));
    }
    return ids;
  }

  // The server's configuration, minus the volatile fields, as one comparable string.
  std::string Snapshot() {
    std::string out;
    for (const char* kind : {"applications", "commands", "clusters"}) {
      json::value page = Get(std::string("/api/v3/") + kind + "?size=1000");
      out += json::serialize(page.as_object().contains("_embedded") ? page.at("_embedded")
                                                                    : json::value());
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(CliApplyTest, AMisspelledKeyIsNamedWithTheNearestValidKeyAndNothingIsWritten) {
  std::string yaml = kBase + R"(  - id: other
    name: other
    user: ops
    version: "1"
    status: UP
    setupfile: file:///tmp/setup.sh
)";
  auto r = Apply(yaml);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Contains(r.err, "cluster 'other': unknown key 'setupfile'")) << r.err;
  EXPECT_TRUE(Contains(r.err, "did you mean 'setupFile'")) << r.err;
  EXPECT_TRUE(Contains(r.err, "nothing was changed")) << r.err;
  // The good resources before it were not created either.
  EXPECT_EQ(StatusOf("/api/v3/applications/app1"), 404);
  EXPECT_EQ(StatusOf("/api/v3/commands/c-echo"), 404);
  EXPECT_EQ(StatusOf("/api/v3/clusters/box"), 404);
}

TEST_F(CliApplyTest, AFileWithOneBadResourceChangesNothingOnTheServer) {
  ASSERT_EQ(Apply(kBase).exit_code, 0);
  std::string before = Snapshot();
  // A changed description, a new command, and a cluster linking a command nowhere to be found.
  std::string yaml = kBase;
  yaml.replace(yaml.find("says things"), 11, "says more");
  yaml +=
      R"(  - {id: box2, name: box2, user: ops, version: "1", status: UP, commands: [c-echo, c-nowhere]}
)";
  yaml.insert(yaml.find("clusters:"),
              "  - {id: c-new, name: c-new, user: ops, version: \"1\", status: ACTIVE, executable: "
              "/bin/true, dependancies: [file:///x]}\n");
  auto r = Apply(yaml);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Contains(r.err, "unknown key 'dependancies'")) << r.err;
  EXPECT_TRUE(Contains(r.err, "did you mean 'dependencies'")) << r.err;
  // With the misspelling fixed, the unknown command is what stops it.
  size_t at = yaml.find("dependancies");
  yaml.replace(at, 12, "dependencies");
  r = Apply(yaml);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Contains(r.err, "cluster 'box2' links command 'c-nowhere'")) << r.err;
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(StatusOf("/api/v3/commands/c-new"), 404);
  EXPECT_EQ(StatusOf("/api/v3/clusters/box2"), 404);
  EXPECT_EQ(Str(Get("/api/v3/commands/c-echo"), "description"), "says things");
}

TEST_F(CliApplyTest, AWriteTheServerRefusesHalfWayIsUndone) {
  ASSERT_EQ(Apply(kBase).exit_code, 0);
  // Valid for the CLI, refused by the server (an unknown cluster status) after a command was
  // created and another updated.
  std::string yaml = kBase;
  yaml.replace(yaml.find("says things"), 11, "says more");
  yaml.replace(yaml.find("status: UP"), 10, "status: BROKEN");
  yaml.insert(yaml.find("clusters:"),
              "  - {id: c-new, name: c-new, user: ops, version: \"1\", status: ACTIVE, executable: "
              "/bin/true}\n");
  auto r = Apply(yaml);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_TRUE(Contains(r.err, "clusters/box")) << r.err;
  EXPECT_TRUE(Contains(r.err, "were undone: the server is as before")) << r.err;
  EXPECT_EQ(StatusOf("/api/v3/commands/c-new"), 404);
  EXPECT_EQ(Str(Get("/api/v3/commands/c-echo"), "description"), "says things");
  EXPECT_EQ(Str(Get("/api/v3/clusters/box"), "status"), "UP");
}

TEST_F(CliApplyTest, ACreateIsOneLineAndItsDryRunListsTheFields) {
  auto plan = Apply(kBase, {"--dry-run"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_TRUE(Contains(plan.out,
                       "commands/c-echo would create\n"
                       "  name: (unset) -> c-echo\n"))
      << plan.out;
  EXPECT_TRUE(Contains(plan.out, "  executable: (unset) -> /bin/echo\n")) << plan.out;

  auto r = Apply(kBase);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "commands/c-echo created\ncommands/c-spare created\n")) << r.out;
  EXPECT_FALSE(Contains(r.out, "(unset)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "clusters/box/commands updated\n  [] -> [c-echo]\n")) << r.out;
}

TEST_F(CliApplyTest, DryRunListsEachChangedFieldAndWritesNothing) {
  ASSERT_EQ(Apply(kBase).exit_code, 0);
  std::string before = Snapshot();
  std::string yaml = kBase;
  yaml.replace(yaml.find("says things"), 11, "says more");
  yaml.replace(yaml.find("status: UP"), 10, "status: OUT_OF_SERVICE");
  yaml.replace(yaml.find("commands: [c-echo]"), 18, "commands: [c-spare, c-echo]");
  auto r = Apply(yaml, {"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out,
                       "commands/c-echo would update\n  description: says things -> "
                       "says more\n"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "clusters/box would update\n  status: UP -> OUT_OF_SERVICE\n"))
      << r.out;
  EXPECT_TRUE(Contains(r.out,
                       "clusters/box/commands would update\n  [c-echo] -> [c-spare, "
                       "c-echo]\n"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "commands/c-spare unchanged\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "3 changes would be made; nothing was written")) << r.out;
  EXPECT_EQ(Snapshot(), before);

  // -o json: one document with the same plan.
  auto j = Weir({"-o", "json", "apply", "-f", (dir_.path() / "conf.yaml").string(), "--dry-run"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json::value doc = Parse(j.out);
  ASSERT_TRUE(doc.is_object()) << j.out;
  EXPECT_EQ(doc.at("changes").to_number<int64_t>(), 3);
  bool seen = false;
  for (const auto& item : doc.at("resources").as_array()) {
    if (Str(item, "id") != "box" || Str(item, "kind") != "cluster") continue;
    seen = true;
    EXPECT_EQ(Str(item, "action"), "update");
    ASSERT_EQ(item.at("changes").as_array().size(), 1u) << json::serialize(item);
    EXPECT_EQ(Str(item.at("changes").as_array()[0], "new"), "OUT_OF_SERVICE");
  }
  EXPECT_TRUE(seen) << j.out;
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(CliApplyTest, AFieldRemovedFromTheFileIsClearedOnTheServer) {
  ASSERT_EQ(Apply(kBase).exit_code, 0);
  ASSERT_EQ(Str(Get("/api/v3/commands/c-echo"), "description"), "says things");
  std::string yaml = kBase;
  yaml.erase(yaml.find("    description: says things\n"), 29);
  auto r = Apply(yaml);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "commands/c-echo updated\n  description: says things -> (unset)"))
      << r.out;
  EXPECT_TRUE(Get("/api/v3/commands/c-echo").at("description").is_null());
  // And again: nothing left to change.
  r = Apply(yaml);
  EXPECT_TRUE(Contains(r.out, ": 0 changes\n")) << r.out;
}

TEST_F(CliApplyTest, PruneDeletesAnUnusedCommandAndRefusesOneStillLinked) {
  ASSERT_EQ(Apply(kBase).exit_code, 0);
  // A cluster the file does not manage links c-echo.
  auto made = http_->PostJson("/api/v3/clusters",
                              R"({"id":"manual","name":"manual","user":"ops","version":"1",
                                  "status":"UP"})");
  ASSERT_TRUE(made.ok());
  ASSERT_EQ(made->status, 201) << made->body;
  ASSERT_EQ(http_->PutJson("/api/v3/clusters/manual/commands", R"(["c-echo"])")->status, 204);

  // Only the commands section: c-spare and c-echo both unlisted; c-echo is still used.
  const std::string only_app = R"(applications:
  - {id: app1, name: app1, user: ops, version: "1", status: ACTIVE}
commands: []
)";
  std::string before = Snapshot();
  auto refused = Apply(only_app, {"--prune"});
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_TRUE(Contains(refused.err, "command 'c-echo' is still used by clusters [box, manual]") ||
              Contains(refused.err, "command 'c-echo' is still used by clusters [manual, box]"))
      << refused.err;
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(StatusOf("/api/v3/commands/c-spare"), 200);

  // The file keeps c-echo: c-spare alone is pruned; clusters are not in the file, so untouched.
  std::string keep_echo = kBase;
  keep_echo.erase(keep_echo.find("  - {id: c-spare"),
                  keep_echo.find("clusters:") - keep_echo.find("  - {id: c-spare"));
  keep_echo.erase(keep_echo.find("clusters:"));
  auto dry = Apply(keep_echo, {"--prune", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(Contains(dry.out, "commands/c-spare would delete\n")) << dry.out;
  EXPECT_EQ(StatusOf("/api/v3/commands/c-spare"), 200);
  auto pruned = Apply(keep_echo, {"--prune"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  EXPECT_TRUE(Contains(pruned.out, "commands/c-spare deleted\n")) << pruned.out;
  EXPECT_EQ(StatusOf("/api/v3/commands/c-spare"), 404);
  EXPECT_EQ(StatusOf("/api/v3/commands/c-echo"), 200);
  EXPECT_EQ(StatusOf("/api/v3/clusters/manual"), 200);
  EXPECT_EQ(StatusOf("/api/v3/clusters/box"), 200);
}

TEST_F(CliApplyTest, GetShowsLinksBothWays) {
  ASSERT_EQ(Apply(kBase).exit_code, 0);
  auto cluster = Weir({"cluster", "get", "box"});
  ASSERT_EQ(cluster.exit_code, 0) << cluster.err;
  EXPECT_TRUE(Contains(cluster.out, "linked commands: c-echo\n")) << cluster.out;
  auto command = Weir({"command", "get", "c-echo"});
  ASSERT_EQ(command.exit_code, 0) << command.err;
  EXPECT_TRUE(Contains(command.out, "linked clusters: box\n")) << command.out;
  EXPECT_TRUE(Contains(command.out, "linked applications: app1\n")) << command.out;
  auto app = Weir({"application", "get", "app1"});
  ASSERT_EQ(app.exit_code, 0) << app.err;
  EXPECT_TRUE(Contains(app.out, "linked commands: c-echo\n")) << app.out;
  auto spare = Weir({"-o", "json", "command", "get", "c-spare"});
  ASSERT_EQ(spare.exit_code, 0) << spare.err;
  json::value doc = Parse(spare.out);
  EXPECT_EQ(json::serialize(doc.at("links")), R"({"clusters":[],"applications":[]})");
}

TEST_F(CliApplyTest, DeleteAndTagCommandsForEachType) {
  ASSERT_EQ(Apply(kBase).exit_code, 0);
  for (const auto& [noun, id] : std::vector<std::pair<std::string, std::string>>{
           {"application", "app1"}, {"command", "c-spare"}, {"cluster", "box"}}) {
    auto add = Weir({noun, "tag", "add", id, "team:a", "tier:gold"});
    ASSERT_EQ(add.exit_code, 0) << add.err;
    std::string path = "/api/v3/" + noun + "s/" + id + "/tags";
    json::value tags = Get(path);
    EXPECT_TRUE(Contains(json::serialize(tags), "\"team:a\"")) << noun << json::serialize(tags);
    EXPECT_TRUE(Contains(json::serialize(tags), "\"tier:gold\"")) << noun;
    auto rm = Weir({noun, "tag", "rm", id, "team:a"});
    ASSERT_EQ(rm.exit_code, 0) << rm.err;
    tags = Get(path);
    EXPECT_FALSE(Contains(json::serialize(tags), "\"team:a\"")) << noun << json::serialize(tags);
    EXPECT_TRUE(Contains(json::serialize(tags), "\"tier:gold\"")) << noun;
  }
  // Still linked: refused, named, nothing deleted.
  auto refused = Weir({"command", "delete", "c-echo"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(Contains(refused.err, "still used by clusters box")) << refused.err;
  EXPECT_EQ(StatusOf("/api/v3/commands/c-echo"), 200);
  auto app_refused = Weir({"application", "delete", "app1"});
  EXPECT_NE(app_refused.exit_code, 0);
  EXPECT_TRUE(Contains(app_refused.err, "still used by commands c-echo")) << app_refused.err;
  EXPECT_EQ(StatusOf("/api/v3/applications/app1"), 200);
  // Unused: deleted, for each type.
  for (const auto& [noun, id] :
       std::vector<std::pair<std::string, std::string>>{{"cluster", "box"},
                                                        {"command", "c-echo"},
                                                        {"command", "c-spare"},
                                                        {"application", "app1"}}) {
    auto del = Weir({noun, "delete", id});
    EXPECT_EQ(del.exit_code, 0) << noun << " " << id << ": " << del.err;
    EXPECT_EQ(StatusOf("/api/v3/" + noun + "s/" + id), 404);
  }
  auto missing = Weir({"cluster", "delete", "box"});
  EXPECT_NE(missing.exit_code, 0);
}

}  // namespace
}  // namespace weir::testing
