// Event delivery lag (issue 13): from a job status change recorded on the server (the event's
// `timestamp`, millisecond resolution, so each figure may read up to 1 ms high) to an SSE
// subscriber of GET /api/weir/v1/events receiving it, with 1 and with 100 subscribers attached.
// Prints `name: value` lines. Usage: event_lag_bench [--jobs N] [--subscribers a,b,...]
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/http_client.h"
#include "client/sse.h"
#include "common/time_format.h"
#include "weir_process.h"

namespace {

namespace json = boost::json;
using weir::testing::TempDir;
using weir::testing::WeirServer;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One subscriber: the lag of every JOB_STATUS_CHANGE it receives.
class LagSubscriber {
 public:
  explicit LagSubscriber(const std::string& url) : http_(url) {
    thread_ = std::thread([this] { Run(); });
  }
  ~LagSubscriber() {
    cancel_.Cancel();
    if (thread_.joinable()) thread_.join();
  }
  bool open() const { return open_.load(); }
  int64_t received() const { return received_.load(); }
  std::vector<double> lags() {
    std::lock_guard lock(mu_);
    return lags_;
  }

 private:
  void Run() {
    weir::client::SseParser parser;
    http_.StreamGet(
        "/api/weir/v1/events?type=JOB_STATUS_CHANGE", {},
        [&](std::string_view bytes) {
          const double now = NowMs();
          open_ = true;
          parser.Feed(bytes, [&](const weir::client::SseEvent& e) {
            boost::system::error_code ec;
            json::value v = json::parse(e.data, ec);
            if (ec || !v.is_object()) return;
            auto ts = weir::ParseIso8601(v.at("timestamp").as_string());
            if (!ts.ok()) return;
            const double at = static_cast<double>(weir::ToEpochMillis(*ts));
            std::lock_guard lock(mu_);
            lags_.push_back(now - at);
            ++received_;
          });
          return true;
        },
        &cancel_);
  }

  weir::client::HttpClient http_;
  weir::client::StreamCancel cancel_;
  std::atomic<bool> open_{false};
  std::atomic<int64_t> received_{0};
  std::mutex mu_;
  std::vector<double> lags_;
  std::thread thread_;
};

bool Submit(weir::client::HttpClient& http) {
  json::object req{{"name", "lag"},
                   {"user", "bench"},
                   {"version", "1"},
                   {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                   {"commandCriteria", json::array{"type:bash"}},
                   {"commandArguments", json::array{"true"}}};
  auto r = http.PostJson("/api/v3/jobs", json::serialize(req));
  return r.ok() && r->status == 202;
}

int Measure(int subscribers, int jobs) {
  TempDir dir;
  WeirServer server(dir.path() / "data",
                    "jobs:\n  max_active_jobs_per_user: 100000\n  default_memory_mb: 1\n");
  if (std::string err = server.Start(); !err.empty()) {
    std::fprintf(stderr, "server: %s\n", err.c_str());
    return 1;
  }
  auto applied = weir::testing::RunWeir(
      server.url(), {"apply", "-f", std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml"});
  if (applied.exit_code != 0) {
    std::fprintf(stderr, "apply: %s\n", applied.err.c_str());
    return 1;
  }
  std::vector<std::unique_ptr<LagSubscriber>> subs;
  for (int i = 0; i < subscribers; ++i)
    subs.push_back(std::make_unique<LagSubscriber>(server.url()));
  if (!weir::testing::WaitFor(
          [&] { return std::all_of(subs.begin(), subs.end(), [](auto& s) { return s->open(); }); },
          std::chrono::seconds(60))) {
    std::fprintf(stderr, "subscribers did not connect\n");
    return 1;
  }
  weir::client::HttpClient http(server.url());
  for (int i = 0; i < jobs; ++i) {
    if (!Submit(http)) {
      std::fprintf(stderr, "submit failed\n");
      return 1;
    }
  }
  const int64_t want = 3LL * jobs;  // INIT, RUNNING, SUCCEEDED
  if (!weir::testing::WaitFor(
          [&] {
            return std::all_of(subs.begin(), subs.end(),
                               [&](auto& s) { return s->received() >= want; });
          },
          std::chrono::seconds(600))) {
    std::fprintf(stderr, "not every event arrived\n");
    return 1;
  }
  std::vector<double> all;
  for (auto& s : subs) {
    auto l = s->lags();
    all.insert(all.end(), l.begin(), l.end());
  }
  std::printf("event_lag_%d_subscribers_p50_ms: %.3f\n", subscribers, Percentile(all, 0.50));
  std::printf("event_lag_%d_subscribers_p99_ms: %.3f\n", subscribers, Percentile(all, 0.99));
  std::printf("event_lag_%d_subscribers_events: %zu\n", subscribers, all.size());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = 200;
  std::vector<int> counts = {1, 100};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--jobs") == 0) jobs = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--subscribers") == 0) {
      counts.clear();
      std::stringstream ss(argv[i + 1]);
      std::string n;
      while (std::getline(ss, n, ',')) counts.push_back(std::stoi(n));
    }
  }
  for (int n : counts) {
    if (int rc = Measure(n, jobs); rc != 0) return rc;
  }
  return 0;
}
