#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

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

TEST(Ids, SafeIds) {
  EXPECT_TRUE(IsSafeId("job-1.2_x"));
  EXPECT_FALSE(IsSafeId(""));
  EXPECT_FALSE(IsSafeId(".."));
  EXPECT_FALSE(IsSafeId("a/b"));
  EXPECT_FALSE(IsSafeId(std::string(256, 'a')));
}

TEST(Strings, ShellQuoteSurvivesQuotes) {
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
}

TEST(Strings, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9llo"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));        // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));    // surrogate
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
