// Render behaviour beyond the golden files: positions after substitutions, caching, escapes,
// symlinks that leave the repository.
#include "workflow/render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "blob/sha256.h"
#include "common/fs.h"
#include "common/ids.h"
#include "workflow/validate.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

assets::AssetRecord Record(const std::string& uuid, int64_t created, const std::string& uri) {
  assets::AssetRecord r;
  r.id = *assets::ParseUuid(uuid);
  r.uuid = uuid;
  r.sha256 = blob::Sha256Hex(uuid);
  r.uri = uri;
  r.created = TimePoint(std::chrono::seconds(created));
  return r;
}

FileHasher NoFiles() {
  return [](const std::string& p) -> Result<FileRef> { return NotFound(p); };
}

TEST(RenderTest, EscapesAndRuntimeParametersAreLeftForRunTime) {
  assets::MemoryCatalog catalog;
  RenderResult r =
      Render("a: $${X} ${Y} $$ $ ${} ${a-b} $${dataflow.x}\n", "w.sch.yaml", catalog, NoFiles());
  ASSERT_TRUE(r.ok()) << FormatDiagnostics(r.errors);
  EXPECT_EQ(r.text, "a: ${X} ${Y} $$ $ ${} ${a-b} ${dataflow.x}\n");
  ASSERT_EQ(r.params.size(), 1u);
  EXPECT_EQ(r.params[0], (ParamRef{"Y", 1, 10}));
}

TEST(RenderTest, ReportsEveryErrorOnALineWithItsColumn) {
  assets::MemoryCatalog catalog;
  RenderResult r = Render("x: 1\ny: ${dataflow.a.b} and ${dataflow.c.d@main}\n", "w.sch.yaml",
                          catalog, NoFiles());
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_EQ(r.errors[0].column, 4);
  EXPECT_EQ(r.errors[0].reference, "dataflow.a.b");
  EXPECT_EQ(r.errors[1].column, 24);
  EXPECT_EQ(r.errors[1].reference, "dataflow.c.d@main");
}

TEST(RenderTest, ValidationPositionsPointIntoTheSourceAfterSubstitutions) {
  assets::MemoryCatalog catalog({Record("dataflow.py.lib.o.r.main.0a1b2c3d.1", 1,
                                        "file:///a/very/long/path/to/the/stored/asset.zip")});
  const std::string source =
      "id: w\n"
      "jobs:\n"
      "  a:\n"
      "    command: x\n"
      "    cluster: y\n"
      "    dependencies: [${dataflow.py.lib}, relative.zip]\n";
  CheckedWorkflow c = RenderAndValidate(source, "w.sch.yaml", catalog, NoFiles(), {});
  ASSERT_EQ(c.validation.problems.size(), 1u) << FormatDiagnostics(c.validation.problems);
  const Diagnostic& d = c.validation.problems[0];
  EXPECT_EQ(d.line, 6);
  EXPECT_EQ(d.column, static_cast<int>(source.substr(source.find("    dep")).find("relative")) + 1);
  EXPECT_THAT(d.message, HasSubstr("'relative.zip' is not a URI"));
}

TEST(RenderTest, ValidWorkflowGivesTheModel) {
  assets::MemoryCatalog catalog(
      {Record("dataflow.py.lib.o.r.main.0a1b2c3d.1", 1, "file:///x.zip")});
  CheckedWorkflow c = RenderAndValidate(
      "id: w\nschedule: '@daily'\njobs:\n  a: {command: x, cluster: [[p, q], [r]], "
      "dependencies: ['${dataflow.py.lib}'], timeout: 2h, memory: 2G, retries: 1}\n"
      "  b: {command: [x, y], cluster: z, args: [one, 'two words']}\ndag: [a -> b]\n",
      "w.sch.yaml", catalog, NoFiles(), {});
  ASSERT_TRUE(c.ok()) << FormatDiagnostics(c.validation.problems);
  const Workflow& w = *c.validation.workflow;
  EXPECT_EQ(w.id, "w");
  EXPECT_EQ(w.schedule, "@daily");
  EXPECT_EQ(w.timezone, "UTC");
  ASSERT_EQ(w.jobs.size(), 2u);
  EXPECT_EQ(w.jobs[0].cluster, (std::vector<std::vector<std::string>>{{"p", "q"}, {"r"}}));
  EXPECT_EQ(w.jobs[0].dependencies, (std::vector<std::string>{"file:///x.zip"}));
  EXPECT_EQ(w.jobs[0].timeout_seconds, 7200);
  EXPECT_EQ(w.jobs[0].memory_mb, 2048);
  EXPECT_EQ(w.jobs[0].retries, 1);
  EXPECT_EQ(w.jobs[1].command, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(w.jobs[1].args, (std::vector<std::string>{"one", "two words"}));
  EXPECT_EQ(w.jobs[1].depends_on, (std::vector<std::string>{"a"}));
  ASSERT_EQ(c.render.assets.size(), 1u);
}

class CountingCatalog : public assets::AssetCatalog {
 public:
  explicit CountingCatalog(assets::AssetCatalog& inner) : inner_(inner) {}
  Result<assets::AssetRecord> Resolve(const assets::AssetRef& ref) override {
    ++calls;
    return inner_.Resolve(ref);
  }
  std::vector<std::string> Suggestions(const assets::AssetRef& ref) override {
    return inner_.Suggestions(ref);
  }
  std::atomic<int> calls{0};

 private:
  assets::AssetCatalog& inner_;
};

TEST(RenderTest, CachingCatalogKeepsTheFirstAnswerForEveryWorkflow) {
  assets::MemoryCatalog memory({Record("dataflow.py.lib.o.r.main.0a1b2c3d.1", 1, "file:///1")});
  CountingCatalog counting(memory);
  CachingCatalog cache(counting);
  RenderResult first = Render("a: ${dataflow.py.lib}\n", "a.sch.yaml", cache, NoFiles());
  // A newer version is published between two renders of one deploy: both keep build 1.
  memory.Add(Record("dataflow.py.lib.o.r.main.0a1b2c3d.2", 2, "file:///2"));
  RenderResult second = Render("b: ${dataflow.py.lib}\n", "b.sch.yaml", cache, NoFiles());
  EXPECT_EQ(first.text, "a: file:///1\n");
  EXPECT_EQ(second.text, "b: file:///1\n");
  EXPECT_EQ(counting.calls.load(), 1);
}

TEST(RenderTest, DiskHasherRefusesSymlinksThatLeaveTheRepository) {
  fs::path root = fs::temp_directory_path() / ("weir-render-test-" + NewUuid());
  fs::create_directories(root / "flows");
  ASSERT_TRUE(WriteFileAtomic(root / "flows/q.sql", "select 1;\n").ok());
  fs::create_symlink("/etc/hostname", root / "flows/escape.sql");
  assets::MemoryCatalog catalog;
  RenderResult r = Render("a: ${dataflow.file:q.sql}\nb: ${dataflow.file:escape.sql}\n",
                          "flows/w.sch.yaml", catalog, DiskFileHasher(root));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_THAT(r.errors[0].message, HasSubstr("leaves"));
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.files[0].path, "flows/q.sql");
  EXPECT_EQ(r.files[0].sha256, blob::Sha256Hex("select 1;\n"));
  EXPECT_EQ(r.files[0].size, 10);
  EXPECT_EQ(r.files[0].uri, "bundle://files/" + r.files[0].sha256 + "/q.sql");
  std::error_code ec;
  fs::remove_all(root, ec);
}

TEST(RenderTest, FileUriEncodesTheName) {
  EXPECT_EQ(FileUri("ab", "my query #1.sql"), "bundle://files/ab/my%20query%20%231.sql");
}

}  // namespace
}  // namespace weir::workflow
