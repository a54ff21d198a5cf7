#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "metrics/weir_metrics.h"

namespace weir::metrics {
namespace {

TEST(MetricsEscaping, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(EscapeLabelValue(R"(C:\dir "x")"), R"(C:\\dir \"x\")");
  EXPECT_EQ(EscapeLabelValue("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeLabelValue("plain/{id}"), "plain/{id}");
}

TEST(MetricsEscaping, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(EscapeHelp("a \\ b\n\"c\""), "a \\\\ b\\n\"c\"");
}

TEST(MetricsRender, EscapedLabelValueInTheOutput) {
  Registry r;
  r.AddCounter("t_total", "Help with \\ and\nnewline", {"user"}).With({"a\"b\\c\nd"}).Inc(2);
  EXPECT_EQ(r.Render(),
            "# HELP t_total Help with \\\\ and\\nnewline\n"
            "# TYPE t_total counter\n"
            "t_total{user=\"a\\\"b\\\\c\\nd\"} 2\n");
}

TEST(MetricsRender, FamiliesInNameOrderChildrenInLabelOrder) {
  Registry r;
  auto& g = r.AddGauge("z_gauge", "G", {"a", "b"});
  g.With({"y", "1"}).Set(1.5);
  g.With({"x", "2"}).Set(-3);
  r.AddCounter("a_total", "C");  // unlabelled: shows 0 before any increment
  EXPECT_EQ(r.Render(),
            "# HELP a_total C\n# TYPE a_total counter\na_total 0\n"
            "# HELP z_gauge G\n# TYPE z_gauge gauge\n"
            "z_gauge{a=\"x\",b=\"2\"} -3\n"
            "z_gauge{a=\"y\",b=\"1\"} 1.5\n");
}

TEST(MetricsHistogram, BoundsAreInclusiveAndBucketsCumulative) {
  Registry r;
  auto& h = r.AddHistogram("lat_seconds", "L", {"route"}, {0.1, 1, 10}).With({"/x"});
  for (double v : {0.05, 0.1, 0.1000001, 1.0, 10.0, 10.5, 1e9}) h.Observe(v);
  Histogram::Snapshot s = h.Read();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 2u);  // 0.05 and 0.1 (le is "less or equal")
  EXPECT_EQ(s.cumulative[1], 4u);  // + 0.1000001 and 1.0
  EXPECT_EQ(s.cumulative[2], 5u);  // + 10.0
  EXPECT_EQ(s.cumulative[3], 7u);  // + 10.5 and 1e9 in +Inf
  EXPECT_EQ(s.count, 7u);
  EXPECT_EQ(r.Render(),
            "# HELP lat_seconds L\n# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
            "lat_seconds_bucket{route=\"/x\",le=\"1\"} 4\n"
            "lat_seconds_bucket{route=\"/x\",le=\"10\"} 5\n"
            "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 7\n"
            "lat_seconds_sum{route=\"/x\"} " +
                FormatValue(0.05 + 0.1 + 0.1000001 + 1.0 + 10.0 + 10.5 + 1e9) +
                "\n"
                "lat_seconds_count{route=\"/x\"} 7\n");
}

TEST(MetricsValues, Formatting) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(-0.25), "-0.25");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(0.0 / 0.0), "NaN");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
}

TEST(MetricsConcurrency, IncrementsFromManyThreadsAreAllCounted) {
  Registry r;
  auto& c = r.AddCounter("c_total", "C", {"k"});
  auto& h = r.AddHistogram("h_seconds", "H", {}, {1});
  constexpr int kThreads = 8, kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        c.With({t % 2 ? "odd" : "even"}).Inc();
        h.With({}).Observe(i % 2 ? 0.5 : 2);
      }
    });
  }
  // Renders race with the increments; they must not crash or tear.
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(r.Render().empty());
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.With({"odd"}).Value(), kThreads / 2 * kPerThread);
  EXPECT_EQ(c.With({"even"}).Value(), kThreads / 2 * kPerThread);
  Histogram::Snapshot s = h.With({}).Read();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kThreads) * kPerThread);
  EXPECT_EQ(s.cumulative[0], s.count / 2);
  EXPECT_DOUBLE_EQ(s.sum, kThreads * kPerThread / 2 * 2.5);
}

TEST(MetricsRegistry, SameNameReturnsTheSameFamilyAndCollectorsRunBeforeRender) {
  Registry r;
  auto& a = r.AddGauge("g", "G", {"user"});
  auto& b = r.AddGauge("g", "G", {"user"});
  EXPECT_EQ(&a, &b);
  int runs = 0;
  int id = r.AddCollector([&] {
    ++runs;
    a.Clear();
    a.With({"bob"}).Set(runs);
  });
  EXPECT_NE(r.Render().find("g{user=\"bob\"} 1\n"), std::string::npos);
  EXPECT_NE(r.Render().find("g{user=\"bob\"} 2\n"), std::string::npos);
  r.RemoveCollector(id);
  r.Render();
  EXPECT_EQ(runs, 2);
}

TEST(MetricsRegistryDeathTest, MisuseAborts) {
  Registry r;
  EXPECT_DEATH(r.AddCounter("bad-name", "x"), "invalid metric name");
  EXPECT_DEATH(r.AddHistogram("h", "x", {"le"}, {1}), "invalid label name");
  auto& c = r.AddCounter("c_total", "x", {"a"});
  EXPECT_DEATH(c.With({"1", "2"}), "2 label values for 1 label names");
  EXPECT_DEATH(r.AddGauge("c_total", "x", {"a"}), "registered twice");
}

TEST(WeirMetrics, SubmissionOutcomes) {
  EXPECT_EQ(SubmissionOutcomeForCode("OK"), "accepted");
  EXPECT_EQ(SubmissionOutcomeForCode("UNAVAILABLE"), "capacity");
  EXPECT_EQ(SubmissionOutcomeForCode("RESOURCE_EXHAUSTED"), "user_limit");
  EXPECT_EQ(SubmissionOutcomeForCode("SOMETHING"), "error");
}

TEST(WeirMetrics, ProcessFiguresAreReadAtRender) {
  Weir();
  const std::string out = DefaultRegistry().Render();
  EXPECT_NE(out.find("# TYPE process_resident_memory_bytes gauge\n"), std::string::npos);
  EXPECT_EQ(out.find("process_resident_memory_bytes 0\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("process_threads 0\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("process_open_fds 0\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace weir::metrics
