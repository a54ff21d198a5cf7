// /metrics render time with 10,000 jobs recorded (issue 13). The families weir's server records
// (metrics/weir_metrics.h) are fed what 10,000 jobs leave behind (a submission, INIT, RUNNING and
// an end each, a submit → RUNNING time, three HTTP requests on route patterns, four store
// operations, 200 users with active jobs), then DefaultRegistry().Render() is timed.
// Reference, in the same run: writing the very same sample lines with snprintf into a string (the
// least any exposition code must do for those bytes); the ratio is weir's render over that.
// Prints `name: value` lines; the last is the headline.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "metrics/weir_metrics.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The same lines, without a registry: copy each sample line's parts with snprintf.
std::string NaiveRender(const std::vector<std::pair<std::string, double>>& samples) {
  std::string out;
  out.reserve(64 * 1024);
  char buf[512];
  for (const auto& [series, value] : samples) {
    int n = std::snprintf(buf, sizeof buf, "%s %.17g\n", series.c_str(), value);
    out.append(buf, static_cast<size_t>(std::max(0, n)));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = 10000;
  int rounds = 200;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--jobs") jobs = std::stoi(argv[i + 1]);
    if (std::string(argv[i]) == "--rounds") rounds = std::stoi(argv[i + 1]);
  }
  using weir::metrics::Weir;
  weir::metrics::WeirMetrics& m = Weir();
  const char* finals[] = {"SUCCEEDED", "FAILED", "KILLED"};
  const char* routes[] = {"/api/v3/jobs", "/api/v3/jobs/{id}/status", "/api/v3/jobs/{id}",
                          "/api/v3/jobs/{id}/output/{path*}", "/api/v3/jobs/{id}/execution"};
  const auto fed = Clock::now();
  for (int i = 0; i < jobs; ++i) {
    m.job_submissions.With({"accepted"}).Inc();
    m.job_transitions.With({"INIT"}).Inc();
    m.job_transitions.With({"RUNNING"}).Inc();
    m.job_transitions.With({finals[i % 3]}).Inc();
    m.job_submit_to_running.With({}).Observe(0.002 + (i % 100) * 0.001);
    m.http_requests.With({"POST", routes[0], "202"}).Inc();
    for (int r = 1; r < 3; ++r) {
      m.http_requests.With({"GET", routes[(i + r) % 4 + 1], "200"}).Inc();
      m.http_request_duration.With({"GET", routes[(i + r) % 4 + 1]}).Observe(0.0004);
    }
    m.http_request_duration.With({"POST", routes[0]}).Observe(0.003);
    for (const char* op : {"create_job", "update_job", "update_job", "get_job"}) {
      m.store_operation_duration.With({op}).Observe(0.0002);
    }
  }
  for (int u = 0; u < 200; ++u) {
    const std::string user = "user-" + std::to_string(u);
    m.jobs_running_per_user.With({user}).Set(u % 7);
    m.job_memory_per_user.With({user}).Set((u % 7) * 1024.0 * 1024 * 1024);
  }
  const double feed_s = std::chrono::duration<double>(Clock::now() - fed).count();

  weir::metrics::Registry& registry = weir::metrics::DefaultRegistry();
  std::string text = registry.Render();
  // The reference's input: the same series and values, parsed back from one render.
  std::vector<std::pair<std::string, double>> samples;
  size_t series = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    samples.emplace_back(line.substr(0, sp), std::stod(line.substr(sp + 1)));
    ++series;
  }

  std::vector<double> weir_us, naive_us;
  size_t sink = 0;
  for (int r = 0; r < rounds; ++r) {  // alternately, so both see the same machine load
    auto t0 = Clock::now();
    sink += registry.Render().size();
    auto t1 = Clock::now();
    sink += NaiveRender(samples).size();
    auto t2 = Clock::now();
    weir_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    naive_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
  }
  const double w = Median(weir_us), n = Median(naive_us);
  std::printf("metrics_jobs_recorded: %d\n", jobs);
  std::printf("metrics_feed_ns_per_job: %.0f\n", feed_s * 1e9 / jobs);
  std::printf("metrics_series: %zu\n", series);
  std::printf("metrics_bytes: %zu\n", text.size());
  std::printf("metrics_reference_snprintf_us_p50: %.1f\n", n);
  std::printf("metrics_render_us_p50: %.1f\n", w);
  std::printf("metrics_render_us_max: %.1f\n", *std::max_element(weir_us.begin(), weir_us.end()));
  std::printf("metrics_checksum: %zu\n", sink % 10);
  std::printf(
      "M1 /metrics render with %d jobs recorded: %.0f us (%.2f x snprintf of the same "
      "lines)\n",
      jobs, w, w / n);
  return 0;
}
