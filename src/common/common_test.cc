#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/disk_space.h"
#include "common/fs.h"
#include "common/ids.h"
#include "common/result.h"
#include "common/strings.h"
#include "common/time_format.h"

namespace weir {
namespace {

TEST(TimeFormat, RoundTripsMilliseconds) {
  auto t = ParseIso8601("2021-02-01T19:22:39.455Z");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(ToEpochMillis(*t), 1612207359455LL);
  EXPECT_EQ(FormatIso8601(*t), "2021-02-01T19:22:39.455Z");
}

TEST(TimeFormat, AcceptsOffsetsAndRejectsGarbage) {
  auto t = ParseIso8601("2021-02-01T20:22:39+01:00");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatIso8601(*t), "2021-02-01T19:22:39.000Z");
  EXPECT_FALSE(ParseIso8601("yesterday").ok());
  EXPECT_FALSE(ParseIso8601("2021-02-01T19:22:39Zjunk").ok());
}

TEST(TimeFormat, ReadsHttpDatesAsS3SendsThem) {
  auto t = ParseHttpDate("Mon, 07 Dec 2026 05:31:09 GMT");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(FormatIso8601(*t), "2026-12-07T05:31:09.000Z");
  EXPECT_EQ(FormatIso8601(*ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT")),
            "1994-11-06T08:49:37.000Z");
  EXPECT_FALSE(ParseHttpDate("2026-12-07T05:31:09Z").ok());
  EXPECT_FALSE(ParseHttpDate("Mon, 07 Dez 2026 05:31:09 GMT").ok());
  EXPECT_FALSE(ParseHttpDate("Mon, 07 Dec 2026 05:31:09 CET").ok());
  EXPECT_FALSE(ParseHttpDate("Mon, 07 Dec 2026 05:31:09 GMT and more").ok());
  EXPECT_FALSE(ParseHttpDate("").ok());
}

TEST(TimeFormat, Durations) {
  EXPECT_EQ(FormatIsoDuration(Millis(0)), "PT0S");
  EXPECT_EQ(FormatIsoDuration(Millis(143)), "PT0.143S");
  EXPECT_EQ(FormatIsoDuration(Millis(3723400)), "PT1H2M3.4S");
  EXPECT_EQ(FormatIsoDuration(Millis(60000)), "PT1M");
}

TEST(Ids, UuidsAreWellFormedAndDistinct) {
  std::string a = NewUuid(), b = NewUuid();
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(a, b);
}

TEST(Ids, TheIdRuleIsAnAllowList) {
  struct Case {
    std::string id;
    bool ok;
    std::string message;  // a part of ValidateId's message when refused
  };
  const std::vector<Case> cases = {
      {"3f2504e0-4f89-41d3-9a0c-0305e82c3301", true, ""},
      {"name_2026-12-01_x", true, ""},
      {"a.b-c", true, ""},
      {"job-1.2_x", true, ""},
      {"A", true, ""},
      {"x..y", true, ""},  // dots inside are harmless: one path component, never "." or ".."
      {std::string(kMaxIdLength, 'a'), true, ""},
      {"", false, "must not be empty"},
      {std::string(kMaxIdLength + 1, 'a'), false, "129 characters is too long"},
      {std::string(255, 'a'), false, "too long"},
      {".", false, "must not start with '.'"},
      {"..", false, "must not start with '.'"},
      {".hidden", false, "must not start with '.'"},
      {"-rf", false, "must not start with '-'"},
      {"a/b", false, "character '/' is not allowed"},
      {"..%2fweir.db#2", false, "character '%' is not allowed"},
      {"..%2f..%2fetc", false, "character '%' is not allowed"},
      {"victim.tar.gz#", false, "character '#' is not allowed"},
      {"q?x=1", false, "character '?' is not allowed"},
      {"a\\b", false, "character '\\' is not allowed"},
      {"a b", false, "byte 0x20 is not allowed"},
      {std::string("a\0b", 3), false, "byte 0x00 is not allowed"},
      {"caf\xc3\xa9", false, "byte 0xC3 is not allowed"},
      {"user@host", false, "character '@' is not allowed"},
      {"a:b", false, "character ':' is not allowed"},
  };
  for (const Case& c : cases) {
    Status st = ValidateId("id", c.id);
    EXPECT_EQ(st.ok(), c.ok) << c.id;
    EXPECT_EQ(IsSafeId(c.id), c.ok) << c.id;
    if (!c.ok) {
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(st.message().rfind("id: ", 0), 0u) << st.message();
      EXPECT_NE(st.message().find(c.message), std::string::npos) << st.message();
      EXPECT_NE(st.message().find("ids are 1 to 128 characters from A-Z a-z 0-9 . _ -"),
                std::string::npos)
          << st.message();
    }
  }
  // "<id>.tar.gz" and other derived names stay well under NAME_MAX.
  EXPECT_LT(kMaxIdLength + std::string_view(".tar.gz").size() + 64, 255u);
}

TEST(Ids, FileNamesNeverLeaveTheirFolder) {
  EXPECT_EQ(IdFileName("a.b-c"), "a.b-c");
  for (std::string bad : {std::string(".."), std::string("."), std::string("a/../../etc"),
                          std::string("..%2fweir.db#2"), std::string(255, 'x'), std::string()}) {
    const std::string name = IdFileName(bad);
    EXPECT_EQ(name.rfind("-invalid-id-", 0), 0u) << bad;
    EXPECT_EQ(name.find('/'), std::string::npos);
    EXPECT_LE(name.size(), 29u);
    EXPECT_FALSE(IsSafeId(name));  // no valid id maps to the same name
  }
  EXPECT_NE(IdFileName("a#1"), IdFileName("a#2"));
  auto p = IdPath("/data/archives", "job-1", ".tar.gz");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->string(), "/data/archives/job-1.tar.gz");
  auto bad = IdPath("/data/archives", "../weir.db", ".tar.gz");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(Ids, UriSegmentsAreEncoded) {
  EXPECT_EQ(EncodeUriSegment("name_2026-12-01_x"), "name_2026-12-01_x");
  EXPECT_EQ(EncodeUriSegment("..%2fweir.db#2"), "..%252fweir.db%232");
  EXPECT_EQ(EncodeUriSegment("q?x=1"), "q%3Fx%3D1");
  EXPECT_EQ(EncodeUriSegment("a/b c"), "a%2Fb%20c");
}

TEST(Strings, ControlCharactersAreNamed) {
  EXPECT_TRUE(CheckNoControlChars("name", "plain name, caf\xc3\xa9").ok());
  Status st = CheckNoControlChars("commandArguments[2]", std::string("a\0b", 3));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "commandArguments[2]: control character U+0000 is not allowed");
  EXPECT_EQ(CheckNoControlChars("tags", "a\nb").message(),
            "tags: control character U+000A is not allowed");
  EXPECT_EQ(CheckNoControlChars("tags", "a\x7f").message(),
            "tags: control character U+007F is not allowed");
  EXPECT_EQ(CheckNoControlChars("tags", "a\xc2\x85").message(),
            "tags: control character U+0085 is not allowed");
  EXPECT_FALSE(CheckNoControlChars("name", "a\tb").ok());
  EXPECT_TRUE(CheckNoControlChars("commandArgs", "a\tb", /*allow_tab=*/true).ok());
  EXPECT_FALSE(CheckNoControlChars("commandArgs", "a\rb", /*allow_tab=*/true).ok());
}

TEST(Strings, ShellQuoteSurvivesQuotes) {
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
}

TEST(Strings, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9llo"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // surrogate
}

TEST(Result, CarriesValueOrStatus) {
  Result<int> ok = 3;
  Result<int> bad = NotFound("job 'x': not found");
  EXPECT_EQ(*ok, 3);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
}

class ResolveInsideTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("weir-fs-" + NewUuid());
    std::filesystem::create_directories(root_ / "job" / "sub");
    ASSERT_TRUE(WriteFileAtomic(root_ / "job" / "sub" / "f.txt", "x").ok());
    ASSERT_TRUE(WriteFileAtomic(root_ / "secret", "s").ok());
    std::filesystem::create_symlink(root_ / "secret", root_ / "job" / "link");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
};

TEST_F(ResolveInsideTest, ServesInsideRefusesOutside) {
  EXPECT_TRUE(ResolveInside(root_ / "job", "sub/f.txt").ok());
  EXPECT_EQ(ResolveInside(root_ / "job", "../secret").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveInside(root_ / "job", "/etc/passwd").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveInside(root_ / "job", "link").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ResolveInside(root_ / "job", "nope").status().code(), StatusCode::kNotFound);
}

// Reads what OpenBeneath opened (a regular file), "" when it failed.
std::string ReadBeneath(const std::filesystem::path& root, std::string_view rel) {
  UniqueFd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  Result<UniqueFd> fd = OpenBeneath(dir.get(), rel, O_RDONLY);
  if (!fd.ok()) return "";
  char buf[64];
  ssize_t n = ::read(fd->get(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

TEST_F(ResolveInsideTest, OpenBeneathFollowsInsideLinksAndRefusesTheWayOut) {
  const auto job = root_ / "job";
  std::filesystem::create_symlink("sub/f.txt", job / "inner");
  std::filesystem::create_symlink(root_, job / "up");
  EXPECT_EQ(ReadBeneath(job, "sub/f.txt"), "x");
  EXPECT_EQ(ReadBeneath(job, "inner"), "x");  // a link that stays inside is followed
  UniqueFd dir(::open(job.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  EXPECT_EQ(OpenBeneath(dir.get(), "link", O_RDONLY).status().code(),
            StatusCode::kPermissionDenied);  // an absolute link to a file outside
  EXPECT_EQ(OpenBeneath(dir.get(), "up/secret", O_RDONLY).status().code(),
            StatusCode::kPermissionDenied);  // a folder link leading out
  EXPECT_EQ(OpenBeneath(dir.get(), "../secret", O_RDONLY).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenBeneath(dir.get(), "/etc/passwd", O_RDONLY).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenBeneath(dir.get(), "nope", O_RDONLY).status().code(), StatusCode::kNotFound);
  Result<UniqueFd> self = OpenBeneath(dir.get(), "", O_RDONLY | O_DIRECTORY);
  EXPECT_TRUE(self.ok()) << self.status().ToString();
}

// The owner of a job folder swaps a sub-folder for a link to the outside as fast as it can
// while the server opens a file inside it: no open ever reads the outside file.
TEST_F(ResolveInsideTest, OpenBeneathNeverLeavesWhileTheTreeIsSwapped) {
  const auto job = root_ / "job";
  std::filesystem::create_directories(root_ / "outside");
  ASSERT_TRUE(WriteFileAtomic(root_ / "outside" / "f.txt", "SECRET").ok());
  std::filesystem::create_symlink(root_ / "outside", job / "swap");
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    const std::string a = (job / "sub").string(), b = (job / "swap").string(),
                      t = (job / "tmp").string();
    while (!stop.load()) {  // exchange "sub" (a folder) and "swap" (the link out)
      ::rename(a.c_str(), t.c_str());
      ::rename(b.c_str(), a.c_str());
      ::rename(t.c_str(), b.c_str());
    }
  });
  int inside = 0, outside = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string got = ReadBeneath(job, "sub/f.txt");
    if (got == "x") ++inside;
    if (got == "SECRET") ++outside;
  }
  stop = true;
  swapper.join();
  EXPECT_EQ(outside, 0);
  EXPECT_GT(inside, 0);  // the race was real: the folder was there part of the time
}

TEST_F(ResolveInsideTest, RemoveTreeUnlinksLinksWithoutEnteringThem) {
  const auto job = root_ / "job";
  std::filesystem::create_directories(root_ / "outside" / "deep");
  ASSERT_TRUE(WriteFileAtomic(root_ / "outside" / "deep" / "keep.txt", "k").ok());
  std::filesystem::create_symlink(root_ / "outside", job / "sub" / "out");
  std::filesystem::create_directories(job / "a" / "b" / "c");
  ASSERT_TRUE(WriteFileAtomic(job / "a" / "b" / "c" / "f", "f").ok());
  ASSERT_TRUE(RemoveTree(job).ok());
  EXPECT_FALSE(std::filesystem::exists(job));
  EXPECT_TRUE(std::filesystem::exists(root_ / "outside" / "deep" / "keep.txt"));
  EXPECT_TRUE(std::filesystem::exists(root_ / "secret"));  // "link" pointed here
  EXPECT_TRUE(RemoveTree(job).ok());                       // already gone: nothing to do
}

// A full disk or quota is its own code (the api answers 507), not a limit of the request.
TEST(ErrnoStatus, FullDiskIsOutOfSpace) {
  EXPECT_EQ(ErrnoStatus("write x", ENOSPC).code(), StatusCode::kOutOfSpace);
  EXPECT_EQ(ErrnoStatus("write x", EDQUOT).code(), StatusCode::kOutOfSpace);
  EXPECT_EQ(ErrnoStatus("open x", EMFILE).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus("write x", ENOSPC).ToString(),
            "OUT_OF_SPACE: write x: No space left on device");
}

TEST(FreeSpaceFloor, RefusesBelowTheFloorNamingTheSetting) {
  const std::filesystem::path here = std::filesystem::temp_directory_path();
  FreeSpaceFloor none({here}, 0, "jobs.min_free_disk_mb");
  EXPECT_TRUE(none.Check().ok());
  FreeSpaceFloor low({here}, 1, "jobs.min_free_disk_mb");
  EXPECT_TRUE(low.Check().ok());
  // No disk has an exbibyte free.
  FreeSpaceFloor high({here}, int64_t{1} << 60, "jobs.min_free_disk_mb");
  Status st = high.Check();
  EXPECT_EQ(st.code(), StatusCode::kOutOfSpace);
  EXPECT_NE(st.message().find("jobs.min_free_disk_mb: "), std::string::npos) << st;
  EXPECT_NE(st.message().find(" free on " + here.string()), std::string::npos) << st;
  EXPECT_NE(st.message().find("below the floor of 1024 PiB"), std::string::npos) << st;
  auto readings = high.Read();
  ASSERT_EQ(readings.size(), 1u);
  EXPECT_TRUE(readings[0].ok);
  EXPECT_GT(readings[0].total_bytes, 0);
  // A path that does not exist is reported, not counted as full.
  FreeSpaceFloor gone({here / "no-such-dir-weir"}, int64_t{1} << 60, "x");
  EXPECT_TRUE(gone.Check().ok());
  EXPECT_FALSE(gone.Read()[0].ok);
}

TEST(FormatBytes, Units) {
  EXPECT_EQ(FormatBytes(10), "10 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(256LL << 20), "256 MiB");
}

}  // namespace
}  // namespace weir
