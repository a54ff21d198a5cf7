// Job archives: tar.gz writing and extraction, exclusions, local and S3 locations (against a real
// s3rver, cross-checked with the aws CLI and the system tar).
#include "archive/job_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "archive/s3rver_testing.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/ids.h"
#include "fetch/test_http_server.h"

namespace weir::archive {
namespace {

namespace fs = std::filesystem;
using fetch::testing::Slurp;
using fetch::testing::TempDir;
using ::testing::HasSubstr;

void Write(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

time_t MtimeSeconds(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mtime;
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

// A job directory as set-up leaves it, with dependency copies at every level.
fs::path MakeJobDir(const fs::path& root) {
  fs::path d = root / "job-1";
  Write(d / "stdout", "hello from the job\n");
  Write(d / "stderr", "");
  Write(d / "run", "#!/bin/bash\necho hi\n");
  fs::permissions(d / "run", fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  Write(d / "genie/logs/genie.log", "set-up log\n");
  Write(d / "genie/genie.done", "{\"exitCode\": \"0\"}");
  Write(d / "genie/cluster/c1/config/core-site.xml", "<conf/>");
  Write(d / "genie/cluster/c1/dependencies/hadoop.jar", std::string(5000, 'h'));
  Write(d / "genie/command/spark/dependencies/spark.tgz", std::string(5000, 's'));
  Write(d / "genie/applications/app1/dependencies/app.zip", std::string(5000, 'a'));
  Write(d / "genie/applications/app1/setup.sh", "export A=1\n");
  Write(d / "job-dep.jar", std::string(3000, 'j'));
  Write(d / "query.sql", "select 1;\n");
  Write(d / "out/part-0000", "row\n");
  fs::create_symlink("stdout", d / "stdout.link");
  return d;
}

TEST(WriteTarGz, RoundTripsTheDirectoryMinusExclusions) {
  TempDir tmp;
  fs::path job = MakeJobDir(tmp.path());
  std::vector<std::string> excludes = DefaultArchiveExcludes();
  excludes.push_back("job-dep.jar");
  auto stats = WriteTarGz(job, excludes, tmp / "a.tar.gz");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->excluded, 4);  // three dependency folders and the job's own dependency
  EXPECT_GT(stats->archive_bytes, 0);

  fs::path out = tmp / "x";
  ASSERT_TRUE(ExtractTarGz(tmp / "a.tar.gz", out).ok());
  EXPECT_EQ(Slurp(out / "stdout"), "hello from the job\n");
  EXPECT_EQ(Slurp(out / "genie/logs/genie.log"), "set-up log\n");
  EXPECT_EQ(Slurp(out / "genie/cluster/c1/config/core-site.xml"), "<conf/>");
  EXPECT_EQ(Slurp(out / "genie/applications/app1/setup.sh"), "export A=1\n");
  EXPECT_EQ(Slurp(out / "query.sql"), "select 1;\n");
  EXPECT_EQ(Slurp(out / "out/part-0000"), "row\n");
  EXPECT_TRUE(fs::exists(out / "stderr"));
  EXPECT_FALSE(fs::exists(out / "genie/cluster/c1/dependencies"));
  EXPECT_FALSE(fs::exists(out / "genie/command/spark/dependencies"));
  EXPECT_FALSE(fs::exists(out / "genie/applications/app1/dependencies"));
  EXPECT_FALSE(fs::exists(out / "job-dep.jar"));
  ASSERT_TRUE(fs::is_symlink(out / "stdout.link"));
  EXPECT_EQ(fs::read_symlink(out / "stdout.link"), "stdout");
  // Modes and times survive: the run script stays executable.
  EXPECT_NE(fs::status(out / "run").permissions() & fs::perms::owner_exec, fs::perms::none);
  EXPECT_EQ(MtimeSeconds(out / "stdout"), MtimeSeconds(job / "stdout"));
}

TEST(WriteTarGz, SystemTarReadsWhatWeirWrote) {
  TempDir tmp;
  fs::path job = MakeJobDir(tmp.path());
  ASSERT_TRUE(WriteTarGz(job, DefaultArchiveExcludes(), tmp / "a.tar.gz").ok());
  fs::create_directories(tmp / "t");
  std::string cmd =
      "tar -xzf '" + (tmp / "a.tar.gz").string() + "' -C '" + (tmp / "t").string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(Slurp(tmp / "t/stdout"), "hello from the job\n");
  EXPECT_EQ(Slurp(tmp / "t/genie/genie.done"), "{\"exitCode\": \"0\"}");
}

TEST(WriteTarGz, MissingDirectoryIsNotFound) {
  TempDir tmp;
  auto r = WriteTarGz(tmp / "nope", {}, tmp / "a.tar.gz");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

// Writes an archive holding one member with an arbitrary name.
void WriteHostileArchive(const fs::path& out, const std::string& member) {
  struct archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  archive_write_open_filename(a, out.c_str());
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, member.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, 4);
  archive_write_header(a, e);
  archive_write_data(a, "evil", 4);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
}

// A job that owns its folder swaps a sub-folder for a link out of it while the server archives
// the folder: no archive ever holds what lies outside, and a FIFO left behind blocks nothing.
TEST(WriteTarGz, NeverLeavesTheFolderWhileTheJobSwapsFoldersForLinks) {
  TempDir tmp;
  const fs::path job = tmp.path() / "job";
  Write(job / "sub" / "secret.txt", "inside\n");
  Write(tmp.path() / "outside" / "secret.txt", "TOP-SECRET\n");
  fs::create_symlink(tmp.path() / "outside", job / "out");
  ASSERT_EQ(::mkfifo((job / "pipe").c_str(), 0600), 0);
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    const std::string a = (job / "sub").string(), b = (job / "out").string(),
                      t = (job / "tmp").string();
    while (!stop.load()) {
      ::rename(a.c_str(), t.c_str());
      ::rename(b.c_str(), a.c_str());
      ::rename(t.c_str(), b.c_str());
    }
  });
  int with_inside = 0;
  for (int i = 0; i < 150; ++i) {
    const fs::path out = tmp.path() / (std::to_string(i) + ".tar.gz");
    auto stats = WriteTarGz(job, {}, out);
    const fs::path x = tmp.path() / "extracted" / std::to_string(i);
    Status extracted = stats.ok() ? ExtractTarGz(out, x) : stats.status();
    if (!extracted.ok()) {
      ADD_FAILURE() << extracted;  // the swapper thread still has to be joined
      break;
    }
    for (const auto& e : fs::recursive_directory_iterator(x)) {
      if (e.is_symlink() || !e.is_regular_file()) continue;
      const std::string body = Slurp(e.path());
      EXPECT_EQ(body.find("TOP-SECRET"), std::string::npos) << e.path();
      if (body == "inside\n") ++with_inside;
    }
    fs::remove_all(x);
    fs::remove(out);
  }
  stop = true;
  swapper.join();
  EXPECT_GT(with_inside, 0);  // the folder was archived in place part of the time
}

TEST(ExtractTarGz, RefusesMembersThatLeaveTheFolder) {
  TempDir tmp;
  for (std::string member : {"../escaped", "a/../../escaped", "/tmp/escaped-abs"}) {
    WriteHostileArchive(tmp / "bad.tar.gz", member);
    Status st = ExtractTarGz(tmp / "bad.tar.gz", tmp / "dest");
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << member << ": " << st;
    EXPECT_THAT(st.message(), HasSubstr("outside")) << st;
  }
  EXPECT_FALSE(fs::exists(tmp / "escaped"));
  EXPECT_FALSE(fs::exists("/tmp/escaped-abs"));
}

TEST(ExtractTarGz, GarbageIsInvalidAndMissingIsNotFound) {
  TempDir tmp;
  Write(tmp / "junk.tar.gz", "this is not an archive at all");
  EXPECT_EQ(ExtractTarGz(tmp / "junk.tar.gz", tmp / "d").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ExtractTarGz(tmp / "none.tar.gz", tmp / "d").code(), StatusCode::kNotFound);
}

model::JobRecord Record(const std::string& id, const std::string& location) {
  model::JobRecord r;
  r.id = id;
  r.request.id = id;
  r.request.dependencies = {"https://repo.example/libs/job-dep.jar?x=1"};
  r.job.archive_location = location;
  return r;
}

TEST(JobArchiver, LocalFolderLocation) {
  TempDir tmp;
  fs::path job = MakeJobDir(tmp.path());
  ArchiverOptions o;
  o.location = "file://" + (tmp / "archives").string() + "/";
  auto archiver = JobArchiver::Create(o, nullptr);
  ASSERT_TRUE(archiver.ok()) << archiver.status();
  const std::string uri = (*archiver)->ArchiveUri("job-1").value();
  EXPECT_EQ(uri, "file://" + (tmp / "archives/job-1.tar.gz").string());
  EXPECT_FALSE(*(*archiver)->Exists(uri));
  auto stats = (*archiver)->ArchiveJob(Record("job-1", uri), job);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_TRUE(*(*archiver)->Exists(uri));
  // Nothing but the archive is left in the folder (the temp file was renamed).
  int files = 0;
  for (const auto& e : fs::directory_iterator(tmp / "archives")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);

  ASSERT_TRUE((*archiver)->Download(uri, tmp / "copy.tar.gz").ok());
  ASSERT_TRUE(ExtractTarGz(tmp / "copy.tar.gz", tmp / "x").ok());
  EXPECT_EQ(Slurp(tmp / "x/stdout"), "hello from the job\n");
  EXPECT_FALSE(fs::exists(tmp / "x/job-dep.jar")) << "the job's dependency is left out";
  EXPECT_TRUE(fs::exists(tmp / "x/query.sql"));

  // Plain absolute paths work as locations too.
  o.location = (tmp / "archives2").string();
  auto plain = JobArchiver::Create(o, nullptr);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->ArchiveUri("j").value(), "file://" + (tmp / "archives2/j.tar.gz").string());
}

TEST(JobArchiver, ArchiveUrisParseBackToTheFolderAndTheId) {
  TempDir tmp;
  // A location whose folder name needs encoding must still round-trip.
  const fs::path folder = tmp / "arch ives%2f#?";
  ArchiverOptions o;
  o.location = folder.string();
  auto archiver = JobArchiver::Create(o, nullptr);
  ASSERT_TRUE(archiver.ok()) << archiver.status();
  for (std::string id :
       std::vector<std::string>{"3f2504e0-4f89-41d3-9a0c-0305e82c3301", "name_2026-12-01_x",
                                "a.b-c", std::string(kMaxIdLength, 'z')}) {
    auto uri = (*archiver)->ArchiveUri(id);
    ASSERT_TRUE(uri.ok()) << uri.status();
    auto path = LocalPathOf(*uri);
    ASSERT_TRUE(path.ok()) << path.status();
    EXPECT_EQ(*path, folder.lexically_normal() / (id + ".tar.gz")) << *uri;
  }
  for (std::string id :
       std::vector<std::string>{"..%2fweir.db#2", "..%2f..%2fetc", "victim.tar.gz#", "q?x=1", "..",
                                std::string(255, 'a'), std::string("a\0b", 3)}) {
    auto uri = (*archiver)->ArchiveUri(id);
    ASSERT_FALSE(uri.ok()) << id << " -> " << *uri;
    EXPECT_EQ(uri.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(uri.status().message(), HasSubstr("job id: "));
  }
}

TEST(JobArchiver, ARecordWithAHostileStoredLocationIsNotArchived) {
  // Records written by an older version pasted the raw id into the URI.
  TempDir tmp;
  fs::path job = MakeJobDir(tmp.path());
  ArchiverOptions o;
  o.location = (tmp / "archives").string();
  auto archiver = JobArchiver::Create(o, nullptr);
  ASSERT_TRUE(archiver.ok());
  Write(tmp / "weir.db", "precious");
  const std::string base = "file://" + (tmp / "archives").string();
  struct Case {
    std::string id, uri;
  };
  const std::vector<Case> cases = {
      {"..%2fweir.db#2", base + "/..%2fweir.db#2.tar.gz"},
      {"..%2f..%2fetc", base + "/..%2f..%2fetc.tar.gz"},
      {"victim.tar.gz#", base + "/victim.tar.gz#.tar.gz"},
      {"q?x=1", base + "/q?x=1.tar.gz"},
      {"ok-id", base + "/../weir.db"},           // a valid id with a location naming another file
      {"ok-id", base + "/%2e%2e/ok-id.tar.gz"},  // or leaving the folder
  };
  for (const Case& c : cases) {
    auto stats = (*archiver)->ArchiveJob(Record(c.id, c.uri), job);
    ASSERT_FALSE(stats.ok()) << c.id << " " << c.uri;
    EXPECT_EQ(stats.status().code(), StatusCode::kFailedPrecondition) << stats.status();
  }
  EXPECT_EQ(Slurp(tmp / "weir.db"), "precious");
  EXPECT_FALSE(fs::exists(tmp / "archives/q"));
  EXPECT_FALSE(fs::exists(tmp / "archives/victim.tar.gz"));
}

TEST(JobArchiver, KeepsDependenciesWhenConfigured) {
  TempDir tmp;
  fs::path job = MakeJobDir(tmp.path());
  ArchiverOptions o;
  o.location = (tmp / "archives").string();
  o.excludes.clear();
  o.exclude_job_dependencies = false;
  auto archiver = JobArchiver::Create(o, nullptr);
  ASSERT_TRUE(archiver.ok());
  const std::string uri = (*archiver)->ArchiveUri("job-1").value();
  ASSERT_TRUE((*archiver)->ArchiveJob(Record("job-1", uri), job).ok());
  ASSERT_TRUE(ExtractTarGz(tmp / "archives/job-1.tar.gz", tmp / "x").ok());
  EXPECT_TRUE(fs::exists(tmp / "x/job-dep.jar"));
  EXPECT_TRUE(fs::exists(tmp / "x/genie/cluster/c1/dependencies/hadoop.jar"));
}

TEST(JobArchiver, BadLocationsNameTheSetting) {
  for (std::string loc : {"ftp://host/x", "relative/folder", "s3://", "s3:///prefix"}) {
    ArchiverOptions o;
    o.location = loc;
    auto r = JobArchiver::Create(o, nullptr);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << loc;
    EXPECT_THAT(r.status().message(), HasSubstr("archive location")) << loc;
  }
  ArchiverOptions o;
  o.location = "s3://bucket/prefix";
  auto r = JobArchiver::Create(o, nullptr);
  EXPECT_THAT(r.status().message(), HasSubstr("S3 settings"));
}

TEST(JobArchiver, ArchiveJobNeedsALocationOnTheRecord) {
  TempDir tmp;
  ArchiverOptions o;
  o.location = tmp.path().string();
  auto archiver = JobArchiver::Create(o, nullptr);
  model::JobRecord r = Record("j", "");
  r.job.archive_location.reset();
  EXPECT_EQ((*archiver)->ArchiveJob(r, tmp.path()).status().code(),
            StatusCode::kFailedPrecondition);
}

// --- S3, against a real s3rver ---------------------------------------------------------------

class S3ArchiveTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto s = testing::S3rverProcess::Start({"archives"});
    if (!s.ok()) {
      skip_reason_ = new std::string(s.status().ToString());
      return;
    }
    server_ = s->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) WEIR_MISSING_SERVICE("s3rver", *skip_reason_);
    fetch::S3Config c = server_->Config();
    c.multipart_threshold = 5 << 20;
    c.part_size = 5 << 20;
    auto client = fetch::S3Client::Create(c, SystemClock::Instance());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::shared_ptr<fetch::S3Client>(std::move(*client));
  }

  std::unique_ptr<JobArchiver> Archiver(const std::string& location) {
    ArchiverOptions o;
    o.location = location;
    o.scratch_dir = tmp_ / "scratch";
    auto a = JobArchiver::Create(o, client_);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? std::move(*a) : nullptr;
  }

  static testing::S3rverProcess* server_;
  static std::string* skip_reason_;
  std::shared_ptr<fetch::S3Client> client_;
  TempDir tmp_;
};
testing::S3rverProcess* S3ArchiveTest::server_ = nullptr;
std::string* S3ArchiveTest::skip_reason_ = nullptr;

TEST_F(S3ArchiveTest, AwsCliReadsTheArchiveWeirWrote) {
  fs::path job = MakeJobDir(tmp_.path());
  auto archiver = Archiver("s3://archives/weir/jobs/");
  ASSERT_NE(archiver, nullptr);
  const std::string uri = archiver->ArchiveUri("job-1").value();
  EXPECT_EQ(uri, "s3://archives/weir/jobs/job-1.tar.gz");
  ASSERT_TRUE(archiver->ArchiveJob(Record("job-1", uri), job).ok());
  EXPECT_TRUE(*archiver->Exists(uri));
  EXPECT_TRUE(fs::is_empty(tmp_ / "scratch")) << "the local tar.gz is removed after upload";

  auto ls = testing::RunAwsCli(*server_, {"s3", "ls", "s3://archives/weir/jobs/"});
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_THAT(ls.output, HasSubstr("job-1.tar.gz"));
  const fs::path got = tmp_ / "from-aws.tar.gz";
  auto cp = testing::RunAwsCli(*server_, {"s3", "cp", uri, got.string()});
  ASSERT_EQ(cp.exit_code, 0) << cp.output;
  fs::create_directories(tmp_ / "t");
  std::string cmd = "tar -xzf '" + got.string() + "' -C '" + (tmp_ / "t").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(Slurp(tmp_ / "t/stdout"), "hello from the job\n");
  EXPECT_FALSE(fs::exists(tmp_ / "t/job-dep.jar"));
}

TEST_F(S3ArchiveTest, LargeArchiveGoesUpInPartsAndComesBackWhole) {
  fs::path job = tmp_ / "big-job";
  const std::string data = RandomBytes(12 << 20, 7);  // incompressible: > 2 parts of 5 MiB
  Write(job / "stdout", data);
  auto archiver = Archiver("s3://archives/big");
  ASSERT_NE(archiver, nullptr);
  const std::string uri = archiver->ArchiveUri("big-job").value();
  auto stats = archiver->Archive(job, uri, {});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GT(stats->archive_bytes, 10 << 20);
  auto head = client_->HeadObject("archives", "big/big-job.tar.gz");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, stats->archive_bytes);

  const fs::path got = tmp_ / "big.tar.gz";
  auto cp = testing::RunAwsCli(*server_, {"s3", "cp", uri, got.string()});
  ASSERT_EQ(cp.exit_code, 0) << cp.output;
  ASSERT_TRUE(ExtractTarGz(got, tmp_ / "x").ok());
  EXPECT_TRUE(Slurp(tmp_ / "x/stdout") == data);
}

TEST_F(S3ArchiveTest, MissingArchiveIsReportedAsSuch) {
  auto archiver = Archiver("s3://archives/none");
  ASSERT_NE(archiver, nullptr);
  const std::string uri = archiver->ArchiveUri("never").value();
  auto exists = archiver->Exists(uri);
  ASSERT_TRUE(exists.ok()) << exists.status();
  EXPECT_FALSE(*exists);
  Status st = archiver->Download(uri, tmp_ / "x.tar.gz");
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st;
  EXPECT_THAT(st.message(), HasSubstr(uri));
  EXPECT_FALSE(fs::exists(tmp_ / "x.tar.gz"));
}

TEST_F(S3ArchiveTest, MissingBucketFailsTheArchiveClearly) {
  fs::path job = MakeJobDir(tmp_.path());
  auto archiver = Archiver("s3://no-such-bucket/p");
  ASSERT_NE(archiver, nullptr);
  const std::string uri = archiver->ArchiveUri("job-1").value();
  auto r = archiver->ArchiveJob(Record("job-1", uri), job);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("no-such-bucket"));
  EXPECT_TRUE(fs::is_empty(tmp_ / "scratch"));
}

}  // namespace
}  // namespace weir::archive
