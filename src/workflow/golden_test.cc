// Golden tests of render + validate. Each folder under testdata/ (except catalog.txt) is a small
// repository holding one *.sch.yaml file; it is rendered against the registry fixture
// testdata/catalog.txt with the environment parameter TARGET_DB and validated. Expected output:
//   expected.rendered.yaml + expected.refs.txt   when the workflow is valid
//   expected.errors.txt                          otherwise (one diagnostic per line)
// Regenerate after an intended change with: WEIR_UPDATE_GOLDEN=1 ./workflow_golden_test
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "assets/catalog.h"
#include "blob/sha256.h"
#include "common/fs.h"
#include "common/strings.h"
#include "workflow/project.h"
#include "workflow/validate.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;

fs::path TestData() { return fs::path(WEIR_SOURCE_DIR) / "src/workflow/testdata"; }

std::vector<assets::AssetRecord> LoadCatalog() {
  std::vector<assets::AssetRecord> records;
  std::ifstream in(TestData() / "catalog.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string uuid, uri;
    long long created = 0;
    fields >> uuid >> created >> uri;
    Result<assets::AssetVersionId> id = assets::ParseUuid(uuid);
    EXPECT_TRUE(id.ok()) << uuid << ": " << id.status();
    if (!id) continue;
    assets::AssetRecord r;
    r.id = *id;
    r.uuid = uuid;
    r.sha256 = blob::Sha256Hex(uuid);
    r.size = 100;
    r.uri = uri;
    r.created = TimePoint(std::chrono::seconds(created));
    records.push_back(std::move(r));
  }
  return records;
}

std::vector<std::string> Cases() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(TestData())) {
    if (e.is_directory()) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Slurp(const fs::path& p) {
  Result<std::string> r = ReadFile(p);
  return r ? *r : std::string("<missing " + p.filename().string() + ">");
}

// Compares `actual` with the golden file, or rewrites it when WEIR_UPDATE_GOLDEN is set.
void Golden(const fs::path& file, const std::string& actual) {
  const char* update = std::getenv("WEIR_UPDATE_GOLDEN");
  if (update != nullptr && *update != '\0' && std::string(update) != "0") {
    ASSERT_TRUE(WriteFileAtomic(file, actual).ok());
    return;
  }
  EXPECT_EQ(Slurp(file), actual) << "golden file " << file
                                 << " differs; WEIR_UPDATE_GOLDEN=1 rewrites it";
}

class GoldenTest : public testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, RenderAndValidateMatchGoldenFiles) {
  const fs::path dir = TestData() / GetParam();
  ProjectSpec spec;
  Result<std::vector<std::string>> files = FindWorkflows(dir, spec);
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 1u) << "each case holds exactly one workflow file";
  const std::string file = files->front();

  assets::MemoryCatalog catalog(LoadCatalog());
  std::string source = Slurp(dir / file);
  CheckedWorkflow checked =
      RenderAndValidate(source, file, catalog, DiskFileHasher(dir), {"TARGET_DB"});

  const fs::path rendered = dir / "expected.rendered.yaml";
  const fs::path refs = dir / "expected.refs.txt";
  const fs::path errors = dir / "expected.errors.txt";
  if (checked.ok()) {
    std::string listing;
    for (const auto& a : checked.render.assets) listing += "asset " + a.uuid + " " + a.uri + "\n";
    for (const auto& f : checked.render.files) {
      listing += "file " + f.path + " " + std::to_string(f.size) + " " + f.uri + "\n";
    }
    for (const auto& p : checked.render.params) {
      listing +=
          "param " + p.name + " " + std::to_string(p.line) + ":" + std::to_string(p.column) + "\n";
    }
    Golden(rendered, checked.render.text);
    Golden(refs, listing);
    EXPECT_FALSE(fs::exists(errors)) << "the case is valid now; remove " << errors;
  } else {
    Golden(errors, FormatDiagnostics(checked.validation.problems));
    EXPECT_FALSE(fs::exists(rendered)) << "the case has errors now; remove " << rendered;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenTest, testing::ValuesIn(Cases()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace weir::workflow
