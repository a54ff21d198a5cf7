// dataflow.yaml parsing (including hostile YAML), environments and workflow discovery.
#include "workflow/project.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/fs.h"
#include "common/ids.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

constexpr char kFull[] = R"(project:
  owner: acme
  repo: pipelines
  main_branch: trunk
assets:
  - name: etl
    type: python
    namespace: etl-lib
    build: python3 build.py
    file: dist/etl.zip
    test: python3 -m unittest
    dir: etl
  - name: report
    type: sql
    namespace: reports
    file: sql/report.sql
workflows: [flows, extra/one.sch.yaml]
environments:
  prod:
    params: {TARGET_DB: warehouse}
  staging:
    params:
      TARGET_DB: warehouse_staging
  "branch:*":
    params: {TARGET_DB: scratch}
  "sandbox:alice": {}
branches:
  release: staging
)";

std::string Errors(const ParsedProject& p) { return FormatDiagnostics(p.errors); }

TEST(ProjectTest, ParsesEveryField) {
  ParsedProject p = ParseProject(kFull);
  ASSERT_TRUE(p.spec.has_value()) << Errors(p);
  const ProjectSpec& s = *p.spec;
  EXPECT_EQ(s.owner, "acme");
  EXPECT_EQ(s.repo, "pipelines");
  EXPECT_EQ(s.main_branch, "trunk");
  ASSERT_EQ(s.assets.size(), 2u);
  EXPECT_EQ(s.assets[0].name, "etl");
  EXPECT_EQ(s.assets[0].type, "python");
  EXPECT_EQ(s.assets[0].ns, "etl-lib");
  EXPECT_EQ(s.assets[0].build, "python3 build.py");
  EXPECT_EQ(s.assets[0].file, "dist/etl.zip");
  EXPECT_EQ(s.assets[0].test, "python3 -m unittest");
  EXPECT_EQ(s.assets[0].dir, "etl");
  EXPECT_EQ(s.assets[1].dir, ".");
  EXPECT_EQ(s.assets[1].build, "");
  EXPECT_EQ(s.workflows, (std::vector<std::string>{"flows", "extra/one.sch.yaml"}));
  EXPECT_EQ(s.FindAsset("report"), &s.assets[1]);
  EXPECT_EQ(s.FindAsset("nope"), nullptr);
}

TEST(ProjectTest, BranchesMapToEnvironmentsWithDefaults) {
  ParsedProject p = ParseProject(kFull);
  ASSERT_TRUE(p.spec.has_value()) << Errors(p);
  EXPECT_EQ(EnvironmentForBranch(*p.spec, "trunk"), "prod");
  EXPECT_EQ(EnvironmentForBranch(*p.spec, "release"), "staging");
  EXPECT_EQ(EnvironmentForBranch(*p.spec, "feature/x"), "branch:feature/x");
  EXPECT_EQ(ParamsForEnvironment(*p.spec, "prod").at("TARGET_DB"), "warehouse");
  EXPECT_EQ(ParamsForEnvironment(*p.spec, "staging").at("TARGET_DB"), "warehouse_staging");
  EXPECT_EQ(ParamsForEnvironment(*p.spec, "branch:feature/x").at("TARGET_DB"), "scratch");
  EXPECT_TRUE(ParamsForEnvironment(*p.spec, "sandbox:alice").empty());
  EXPECT_TRUE(ParamsForEnvironment(*p.spec, "sandbox:bob").empty());
}

// Branch environments do not inherit production's cron: manual only unless `schedule: cron`.
TEST(ProjectTest, ScheduleIsPerEnvironmentAndManualByDefaultForBranches) {
  ParsedProject none = ParseProject("project: {owner: a, repo: b}\n");
  ASSERT_TRUE(none.spec.has_value()) << Errors(none);
  EXPECT_TRUE(CronForEnvironment(*none.spec, "prod"));
  EXPECT_TRUE(CronForEnvironment(*none.spec, "staging"));
  EXPECT_TRUE(CronForEnvironment(*none.spec, "sandbox:alice"));
  EXPECT_FALSE(CronForEnvironment(*none.spec, "branch:feature/x"));

  ParsedProject p = ParseProject(
      "project: {owner: a, repo: b}\n"
      "environments:\n"
      "  staging: {schedule: manual}\n"
      "  branch:*: {schedule: cron}\n"
      "  branch:wip: {schedule: manual}\n");
  ASSERT_TRUE(p.spec.has_value()) << Errors(p);
  EXPECT_TRUE(CronForEnvironment(*p.spec, "prod"));
  EXPECT_FALSE(CronForEnvironment(*p.spec, "staging"));
  EXPECT_TRUE(CronForEnvironment(*p.spec, "branch:feature/x"));
  EXPECT_FALSE(CronForEnvironment(*p.spec, "branch:wip"));

  ParsedProject bad = ParseProject("environments:\n  prod: {schedule: hourly}\n");
  EXPECT_FALSE(bad.spec.has_value());
  EXPECT_THAT(Errors(bad), HasSubstr("use cron"));
}

TEST(ProjectTest, EnvironmentNames) {
  for (const char* ok : {"prod", "staging", "sandbox:alice", "branch:feature/x"}) {
    EXPECT_TRUE(ValidateEnvironmentName(ok).ok()) << ok;
  }
  for (const char* bad : {"", "production", "sandbox:", "branch:", "sandbox:a b", "dev"}) {
    EXPECT_EQ(ValidateEnvironmentName(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ProjectTest, ReportsEveryProblemWithPositions) {
  ParsedProject p = ParseProject(R"(projet: {}
assets:
  - name: etl
    type: py.thon
    namespace: etl-lib
    file: ../outside.zip
  - name: etl
    type: python
    namespace: etl-lib
    file: /abs/path.zip
    dir: ../..
  - name: nofile
    type: sql
    namespace: x
  - name: twin
    type: python
    namespace: etl-lib
    file: twin.zip
workflows: ["../flows"]
environments:
  production: {}
  prod:
    params: {ENV: x, 9X: y, OK: fine}
branches:
  main: nowhere
)");
  EXPECT_FALSE(p.spec.has_value());
  std::string e = Errors(p);
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:1:1: dataflow.yaml: unknown key 'projet' (did you "
                           "mean: project)"));
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:4:11: asset.type"));
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:6:11: asset.file '../outside.zip': must stay inside"));
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:7:11: asset.name 'etl': declared twice"));
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:17:16: asset 'twin': another asset already publishes "
                           "type 'python' into namespace 'etl-lib'"));
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:10:11: asset.file '/abs/path.zip': must be relative"));
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:11:10: asset.dir '../..'"));
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:12:5: asset: 'file' is required"));
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:19:13: workflows: '../flows' must stay inside"));
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:21:3: environments: environment 'production'"));
  EXPECT_THAT(e, HasSubstr("'ENV' is a built-in parameter"));
  EXPECT_THAT(e, HasSubstr("parameter name '9X'"));
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:25:9: branches.main: environment 'nowhere'"));
}

TEST(ProjectTest, ResolveLatestFromIsAnyOrAListOfBranches) {
  ParsedProject p = ParseProject(R"(environments:
  prod: {resolve_latest_from: [main]}
  staging: {resolve_latest_from: any}
  "branch:*":
    resolve_latest_from: [release, main]
  "sandbox:*": {resolve_latest_from: develop}
)");
  ASSERT_TRUE(p.spec.has_value()) << Errors(p);
  EXPECT_EQ(LatestPolicyFor(*p.spec, "prod"), (LatestPolicy{false, {"main"}}));
  EXPECT_EQ(LatestPolicyFor(*p.spec, "staging"), (LatestPolicy{true, {}}));
  EXPECT_EQ(LatestPolicyFor(*p.spec, "branch:feature/x"),
            (LatestPolicy{false, {"release", "main"}}));
  EXPECT_EQ(LatestPolicyFor(*p.spec, "sandbox:bob"), (LatestPolicy{false, {"develop"}}));

  ParsedProject bad = ParseProject(R"(environments:
  prod: {resolve_latest_from: []}
  staging: {resolve_latest_from: [main, any]}
  "branch:*": {resolve_latest_from: {main: 1}}
)");
  EXPECT_FALSE(bad.spec.has_value());
  std::string e = Errors(bad);
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:2:31: environments.prod.resolve_latest_from: name at "
                           "least one branch"));
  EXPECT_THAT(e, HasSubstr("dataflow.yaml:3:41: environments.staging.resolve_latest_from: `any` "
                           "stands alone"));
  EXPECT_THAT(e, HasSubstr("environments.branch:*.resolve_latest_from"));
}

TEST(ProjectTest, RefusesAliasBomb) {
  // "Billion laughs": nine levels of ten aliases each expand to 10^9 nodes.
  std::string doc = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    doc += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) doc += (k ? ", " : "") + prev;
    doc += "]\n";
  }
  ParsedProject p = ParseProject(doc);
  EXPECT_FALSE(p.spec.has_value());
  ASSERT_EQ(p.errors.size(), 1u) << Errors(p);
  EXPECT_THAT(p.errors[0].message, HasSubstr("once aliases are expanded"));
  EXPECT_GT(p.errors[0].line, 1);
}

TEST(ProjectTest, SmallAliasesStillWork) {
  ParsedProject p = ParseProject(R"(environments:
  prod:
    params: &common {TARGET_DB: warehouse}
  staging:
    params: *common
)");
  ASSERT_TRUE(p.spec.has_value()) << Errors(p);
  EXPECT_EQ(ParamsForEnvironment(*p.spec, "staging").at("TARGET_DB"), "warehouse");
}

TEST(ProjectTest, RefusesDeepNesting) {
  std::string doc = "project: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  ParsedProject p = ParseProject(doc);
  ASSERT_EQ(p.errors.size(), 1u) << Errors(p);
  EXPECT_THAT(p.errors[0].message, HasSubstr("nesting deeper than 64"));
}

TEST(ProjectTest, RefusesDeepBlockNestingToo) {
  // Indentation only: no brackets, no aliases (the single-parse path).
  std::string doc = "project:\n";
  for (int i = 1; i <= 100; ++i) doc += std::string(2 * i, ' ') + "k" + std::to_string(i) + ":\n";
  ParsedProject p = ParseProject(doc);
  ASSERT_EQ(p.errors.size(), 1u) << Errors(p);
  EXPECT_THAT(p.errors[0].message, HasSubstr("nesting deeper than 64"));
}

TEST(ProjectTest, AliasesInBlockSequencesAreCounted) {
  std::string doc = "a0: &a0\n";
  for (int k = 0; k < 20; ++k) doc += "  - x\n";
  for (int i = 1; i <= 6; ++i) {
    doc += "a" + std::to_string(i) + ": &a" + std::to_string(i) + "\n";
    for (int k = 0; k < 20; ++k) doc += "  - *a" + std::to_string(i - 1) + "\n";
  }
  ParsedProject p = ParseProject(doc);
  ASSERT_EQ(p.errors.size(), 1u) << Errors(p);
  EXPECT_THAT(p.errors[0].message, HasSubstr("once aliases are expanded"));
}

TEST(ProjectTest, RefusesInvalidUtf8WithPosition) {
  ParsedProject p = ParseProject("project:\n  owner: ac\xC3\x28me\n");
  ASSERT_EQ(p.errors.size(), 1u) << Errors(p);
  EXPECT_EQ(p.errors[0].line, 2);
  EXPECT_EQ(p.errors[0].column, 12);
  EXPECT_THAT(p.errors[0].message, HasSubstr("not valid UTF-8"));
  // Overlong encoding of '/' and a UTF-16 surrogate are refused too.
  EXPECT_FALSE(ParseProject("x: \xC0\xAF\n").spec.has_value());
  EXPECT_FALSE(ParseProject("x: \xED\xA0\x80\n").spec.has_value());
}

TEST(ProjectTest, RefusesOversizedAndMultiDocumentFiles) {
  std::string big = "assets: []\n# " + std::string(2 << 20, 'x') + "\n";
  ParsedProject p = ParseProject(big);
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_THAT(p.errors[0].message, HasSubstr("more than the limit"));
  p = ParseProject("assets: []\n---\nassets: []\n");
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_THAT(p.errors[0].message, HasSubstr("more than one document"));
  p = ParseProject("assets: [\n");
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_THAT(p.errors[0].message, HasSubstr("yaml:"));
  p = ParseProject("");
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_THAT(p.errors[0].message, HasSubstr("empty"));
}

TEST(ProjectTest, RelativePathRules) {
  EXPECT_EQ(CheckRelativePath("a/b.sql"), "");
  EXPECT_EQ(CheckRelativePath("./a"), "");
  EXPECT_NE(CheckRelativePath("../a"), "");
  EXPECT_NE(CheckRelativePath("a/../../b"), "");
  EXPECT_NE(CheckRelativePath("/etc/passwd"), "");
  EXPECT_NE(CheckRelativePath("."), "");
  EXPECT_NE(CheckRelativePath(""), "");
  EXPECT_NE(CheckRelativePath("a\\b"), "");
  EXPECT_NE(CheckRelativePath(std::string("a\0b", 3)), "");
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("weir-workflow-test-" + NewUuid())) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void Write(const std::string& rel, const std::string& text) const {
    fs::create_directories((path_ / rel).parent_path());
    ASSERT_TRUE(WriteFileAtomic(path_ / rel, text).ok());
  }

 private:
  fs::path path_;
};

TEST(ProjectTest, FindsWorkflowsRecursivelySkippingHiddenFolders) {
  TempDir d;
  d.Write("a.sch.yaml", "id: a");
  d.Write("flows/deep/b.sch.yaml", "id: b");
  d.Write("flows/notes.yaml", "x: 1");
  d.Write(".workflows/a.rendered.sch.yaml", "id: a");
  d.Write(".git/c.sch.yaml", "id: c");
  ProjectSpec spec;
  Result<std::vector<std::string>> all = FindWorkflows(d.path(), spec);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, (std::vector<std::string>{"a.sch.yaml", "flows/deep/b.sch.yaml"}));

  spec.workflows = {"flows", "a.sch.yaml"};
  all = FindWorkflows(d.path(), spec);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, (std::vector<std::string>{"a.sch.yaml", "flows/deep/b.sch.yaml"}));

  spec.workflows = {"missing"};
  EXPECT_EQ(FindWorkflows(d.path(), spec).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace weir::workflow
