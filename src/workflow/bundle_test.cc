// Bundle identity (canonical JSON, stable ids), the verified folder form and the blob form.
#include "workflow/bundle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "blob/sha256.h"
#include "common/fs.h"
#include "common/ids.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("weir-bundle-test-" + NewUuid())) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

const std::map<std::string, std::string> kFiles = {{"sql/load.sql", "INSERT 1;\n"},
                                                   {"sql/setup.sh", "echo hi\n"}};

FileContent MapContent() {
  return [](const BundleFile& f) -> Result<std::string> {
    auto it = kFiles.find(f.path);
    if (it == kFiles.end()) return NotFound("no " + f.path);
    return it->second;
  };
}

BundleManifest Sample() {
  RenderResult r;
  r.text = "id: daily\njobs: {}\n";
  assets::AssetRecord a;
  a.uuid = "dataflow.jar.etl.acme.pipe.main.0a1b2c3d.2";
  a.sha256 = blob::Sha256Hex("jar-2");
  a.uri = "file:///store/2.jar";
  assets::AssetRecord b = a;
  b.uuid = "dataflow.jar.etl.acme.pipe.main.0a1b2c3d.1";
  b.sha256 = blob::Sha256Hex("jar-1");
  b.uri = "file:///store/1.jar";
  r.assets = {a, b};
  for (const auto& [path, text] : kFiles) {
    std::string sha = blob::Sha256Hex(text);
    r.files.push_back({path, sha, static_cast<int64_t>(text.size()),
                       FileUri(sha, fs::path(path).filename().string())});
  }
  return MakeManifest("daily", "prod", "acme", "pipe", "main", std::string(40, 'a'), false,
                      "flows/daily.sch.yaml", r);
}

TEST(BundleTest, CanonicalJsonIsSortedCompactAndStable) {
  BundleManifest m = Sample();
  std::string json = CanonicalJson(m);
  BundleManifest tiny;
  tiny.workflow_id = "w";
  tiny.environment = "branch:feature/x";
  tiny.owner = "o";
  tiny.repo = "r";
  tiny.branch = "feature/x";
  tiny.commit = std::string(40, '0');
  tiny.workflow_file = "w.sch.yaml";
  tiny.definition = "id: \"w\"\n\t\x01";
  tiny.definition_sha256 = "abc";
  EXPECT_EQ(
      CanonicalJson(tiny),
      "{\"assets\":[],\"branch\":\"feature/x\",\"commit\":\"" + std::string(40, '0') +
          "\",\"definition\":\"id: \\\"w\\\"\\n\\t\\u0001\",\"definition_sha256\":\"abc\","
          "\"dirty\":false,\"environment\":\"branch:feature/x\",\"files\":[],\"format\":1,"
          "\"owner\":\"o\",\"repo\":\"r\",\"workflow_file\":\"w.sch.yaml\",\"workflow_id\":\"w\"}");
  EXPECT_EQ(json.rfind("{\"assets\":[{\"sha256\":", 0), 0u) << json;
  EXPECT_THAT(json, HasSubstr("\"definition\":\"id: daily\\njobs: {}\\n\""));
  EXPECT_LT(json.find("0a1b2c3d.1"), json.find("0a1b2c3d.2")) << "assets sorted by uuid";
  EXPECT_LT(json.find("\"workflow_file\""), json.find("\"workflow_id\""));

  // Same inputs, any order of the lists: same id.
  BundleManifest shuffled = m;
  std::reverse(shuffled.assets.begin(), shuffled.assets.end());
  std::reverse(shuffled.files.begin(), shuffled.files.end());
  EXPECT_EQ(BundleId(shuffled), BundleId(m));
  EXPECT_EQ(BundleId(Sample()), BundleId(m));
  EXPECT_EQ(BundleId(m).size(), 64u);
  EXPECT_EQ(BundleId(m), blob::Sha256Hex(json));
}

// An asset keeps its published file name in the manifest (so a job folder gets `etl.jar`, not
// a hash); manifests without names (made before) keep their canonical JSON and id.
TEST(BundleTest, AssetsCarryTheirDependencyFileName) {
  assets::AssetRecord rec;
  rec.id.ns = "etl";
  rec.file_name = "etl-1.0.jar";
  rec.extension = "jar";
  EXPECT_EQ(DependencyFileName(rec), "etl-1.0.jar");
  rec.file_name = "../x.jar";
  EXPECT_EQ(DependencyFileName(rec), "etl.jar");
  rec.extension = "";
  EXPECT_EQ(DependencyFileName(rec), "");

  RenderResult r;
  r.text = "id: daily\njobs: {}\n";
  assets::AssetRecord a;
  a.uuid = "dataflow.jar.etl.acme.pipe.main.0a1b2c3d.2";
  a.id.ns = "etl";
  a.sha256 = blob::Sha256Hex("jar-2");
  a.uri = "file:///store/blobs/" + a.sha256;
  a.file_name = "etl.jar";
  r.assets = {a};
  BundleManifest named = MakeManifest("daily", "prod", "acme", "pipe", "main", std::string(40, 'a'),
                                      false, "flows/daily.sch.yaml", r);
  ASSERT_EQ(named.assets.size(), 1u);
  EXPECT_EQ(named.assets[0].file_name, "etl.jar");
  std::string json = CanonicalJson(named);
  EXPECT_THAT(json, HasSubstr("{\"file_name\":\"etl.jar\",\"sha256\":"));
  Result<BundleManifest> back = ParseManifest(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, named);

  BundleManifest unnamed = named;
  unnamed.assets[0].file_name.clear();
  EXPECT_THAT(CanonicalJson(unnamed), testing::Not(HasSubstr("file_name")));
  EXPECT_NE(BundleId(unnamed), BundleId(named));

  BundleManifest bad = named;
  bad.assets[0].file_name = "../../etc/passwd";
  EXPECT_THAT(ParseManifest(CanonicalJson(bad)).status().message(),
              HasSubstr("is not a plain file name"));
}

TEST(BundleTest, AnyChangeChangesTheId) {
  const std::string base = BundleId(Sample());
  std::vector<std::pair<const char*, std::function<void(BundleManifest&)>>> changes = {
      {"workflow_id", [](BundleManifest& m) { m.workflow_id = "daily2"; }},
      {"environment", [](BundleManifest& m) { m.environment = "staging"; }},
      {"owner", [](BundleManifest& m) { m.owner = "acme2"; }},
      {"repo", [](BundleManifest& m) { m.repo = "pipe2"; }},
      {"branch", [](BundleManifest& m) { m.branch = "dev"; }},
      {"commit", [](BundleManifest& m) { m.commit = std::string(40, 'b'); }},
      {"dirty", [](BundleManifest& m) { m.dirty = true; }},
      {"workflow_file", [](BundleManifest& m) { m.workflow_file = "x.sch.yaml"; }},
      {"definition", [](BundleManifest& m) { m.definition += " "; }},
      {"asset uuid", [](BundleManifest& m) { m.assets[0].uuid += "0"; }},
      {"asset sha", [](BundleManifest& m) { m.assets[0].sha256 = std::string(64, 'c'); }},
      {"asset uri", [](BundleManifest& m) { m.assets[0].uri += "x"; }},
      {"asset removed", [](BundleManifest& m) { m.assets.pop_back(); }},
      {"file path", [](BundleManifest& m) { m.files[0].path = "other.sql"; }},
      {"file size", [](BundleManifest& m) { m.files[0].size += 1; }},
      {"file sha", [](BundleManifest& m) { m.files[0].sha256 = std::string(64, 'd'); }},
  };
  std::set<std::string> ids = {base};
  for (auto& [what, change] : changes) {
    BundleManifest m = Sample();
    change(m);
    std::string id = BundleId(m);
    EXPECT_NE(id, base) << what;
    EXPECT_TRUE(ids.insert(id).second) << what << " collides with another change";
  }
}

TEST(BundleTest, ParseRoundTripsAndRefusesBadManifests) {
  BundleManifest m = Sample();
  Result<BundleManifest> back = ParseManifest(CanonicalJson(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, m);

  EXPECT_FALSE(ParseManifest("[]").ok());
  EXPECT_FALSE(ParseManifest("{").ok());
  std::string json = CanonicalJson(m);
  std::string tampered = json;
  tampered.replace(tampered.find("id: daily"), 9, "id: other");
  EXPECT_THAT(ParseManifest(tampered).status().message(), HasSubstr("definition_sha256"));
  BundleManifest bad = m;
  bad.files[0].path = "../escape";
  EXPECT_FALSE(ParseManifest(CanonicalJson(bad)).ok());
  bad = m;
  bad.environment = "production";
  EXPECT_FALSE(ParseManifest(CanonicalJson(bad)).ok());
  std::string extra = json;
  extra.insert(1, "\"surprise\":1,");
  EXPECT_THAT(ParseManifest(extra).status().message(), HasSubstr("unknown key 'surprise'"));
}

TEST(BundleTest, FolderIsWrittenCompleteVerifiedAndIdempotent) {
  TempDir d;
  BundleManifest m = Sample();
  Result<fs::path> dir = WriteBundleDir(d.path(), m, MapContent());
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(dir->filename().string(), BundleId(m));
  for (const BundleFile& f : m.files) {
    EXPECT_EQ(*ReadFile(*dir / "files" / f.sha256), kFiles.at(f.path));
  }
  EXPECT_EQ(*ReadFile(*dir / "definition.yaml"), m.definition);
  Result<BundleManifest> read = ReadBundleDir(*dir);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, m);

  // Writing the same bundle again reuses the verified folder; no temporary folders remain.
  Result<fs::path> again = WriteBundleDir(d.path(), m, MapContent());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *dir);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(d.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);

  // Corruption of a stored file is detected.
  ASSERT_TRUE(WriteFileAtomic(*dir / "files" / m.files[0].sha256, "tampered").ok());
  EXPECT_THAT(ReadBundleDir(*dir).status().message(), HasSubstr("is corrupt"));
}

TEST(BundleTest, ChangedSourceFileLeavesNothingBehind) {
  TempDir d;
  BundleManifest m = Sample();
  FileContent changed = [](const BundleFile& f) -> Result<std::string> {
    return "edited after rendering: " + f.path;
  };
  Result<fs::path> dir = WriteBundleDir(d.path(), m, changed);
  ASSERT_FALSE(dir.ok());
  EXPECT_THAT(dir.status().message(), HasSubstr("changed since it was rendered"));
  EXPECT_TRUE(fs::is_empty(d.path()));
}

TEST(BundleTest, BlobFormIsAcceptedOnlyWhenEveryFileIsStored) {
  TempDir d;
  Result<std::unique_ptr<blob::BlobStore>> store =
      blob::NewBlobStore("local", blob::BlobStoreConfig{d.path() / "blobs", {}});
  ASSERT_TRUE(store.ok()) << store.status();
  BundleManifest m = Sample();

  EXPECT_EQ(VerifyBundleBlobs(**store, BundleId(m)).status().code(),
            StatusCode::kFailedPrecondition);
  Result<std::string> id = PutBundleBlobs(**store, m, MapContent());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, BundleId(m));
  Result<BundleManifest> verified = VerifyBundleBlobs(**store, *id);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(*verified, m);

  // A manifest stored without its files is refused, naming the missing file.
  BundleManifest other = m;
  other.files.push_back({"extra.txt", blob::Sha256Hex("extra"), 5, "bundle://files/x/extra.txt"});
  ASSERT_TRUE((*store)->PutBytes(CanonicalJson(other)).ok());
  Result<BundleManifest> missing = VerifyBundleBlobs(**store, BundleId(other));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("'extra.txt'"));
}

}  // namespace
}  // namespace weir::workflow
