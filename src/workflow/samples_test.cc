// Every sample recipe is a working project: it loads, its asset test passes, its build
// produces the declared file, and its workflow renders and validates offline in every
// environment it defines.
#include "workflow/samples.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/fs.h"
#include "common/ids.h"
#include "workflow/project_ops.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;

class SampleTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("weir-sample-test-" + NewUuid());
    Result<std::map<std::string, std::string>> files = SampleProject(GetParam());
    ASSERT_TRUE(files.ok()) << files.status();
    for (const auto& [rel, text] : *files) {
      ASSERT_TRUE(MakeDirs((root_ / rel).parent_path()).ok());
      ASSERT_TRUE(WriteFileAtomic(root_ / rel, text).ok());
    }
    for (std::vector<std::string> args :
         {std::vector<std::string>{"git", "init", "-q", "-b", "main"},
          {"git", "add", "-A"},
          {"git", "-c", "user.name=T", "-c", "user.email=t@weir.local", "commit", "-q", "-m",
           "sample"}}) {
      Result<ProcessResult> r = RunCapture(args, root_);
      ASSERT_TRUE(r.ok() && r->exit_code == 0) << args[1] << ": " << (r.ok() ? r->err : "");
    }
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  fs::path root_;
};

TEST_P(SampleTest, TestsBuildsRendersAndValidates) {
  Result<Project> p = LoadProject(root_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->git.dirty);
  ASSERT_EQ(p->spec.assets.size(), 1u);
  const AssetSpec& asset = p->spec.assets[0];

  Result<int> test = RunAssetCommand(*p, asset, asset.test);
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_EQ(*test, 0) << "asset test of recipe " << GetParam();
  Result<int> build = RunAssetCommand(*p, asset, asset.build);
  ASSERT_TRUE(build.ok()) << build.status();
  EXPECT_EQ(*build, 0);
  EXPECT_TRUE(BuiltFile(*p, asset).ok());

  Result<std::vector<std::string>> files = FindWorkflows(p->root, p->spec);
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 1u);
  ProjectCatalog offline(*p, nullptr);
  for (const char* env : {"prod", "branch:feature/x"}) {
    std::vector<WorkflowCheck> checks = CheckProject(*p, *files, offline, env);
    ASSERT_EQ(checks.size(), 1u);
    EXPECT_TRUE(checks[0].ok()) << env << ":\n"
                                << FormatDiagnostics(checks[0].checked.validation.problems);
    ASSERT_EQ(checks[0].checked.render.assets.size(), 1u);
    EXPECT_EQ(checks[0].checked.render.assets[0].uuid, "local:" + asset.name);
  }
  // Build outputs are ignored: building leaves the tree clean.
  EXPECT_FALSE(ReadGitFacts(root_)->dirty);
}

INSTANTIATE_TEST_SUITE_P(Recipes, SampleTest, testing::ValuesIn(SampleRecipes()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(SampleProjectTest, UnknownRecipeNamesTheKnownOnes) {
  Result<std::map<std::string, std::string>> r = SampleProject("java");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), testing::HasSubstr("bash, python or sql"));
}

}  // namespace
}  // namespace weir::workflow
