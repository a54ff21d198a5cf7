// Storage benchmark (docs/performance.md, "Storage"). Prints `name: value` lines.
//
// S1 job start latency: submit → RUNNING recorded, for a job with 5 dependencies of 10 MB each
//    served over HTTP on loopback, through the dependency cache (warm: entries present, each use
//    revalidated with a conditional GET answered 304) and without a cache (every job downloads
//    the 50 MB), in the same run on the same server; the real JobService with SQLite and the
//    local executor.
// S2 cache throughput: placing the same 5 × 10 MB into a job folder from a warm cache (hard
//    links; and private copies, hard_links = false) against a plain `cp` of the files.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/ids.h"
#include "fetch/cache.h"
#include "fetch/fetcher.h"
#include "fetch/http_fetcher.h"
#include "fetch/test_http_server.h"
#include "service/job_service.h"
#include "service/testing/job_service_harness.h"

namespace weir {
namespace {

namespace fs = std::filesystem;
using Clock_ = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kDeps = 5;
constexpr size_t kDepBytes = 10u << 20;
constexpr int kRuns = 7;

double Ms(Clock_::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Node {
  std::unique_ptr<service::testing::JobServiceHarness> harness;  // outlives the service
  std::unique_ptr<service::JobService> service;
  fetch::DependencyCache* cache = nullptr;
};

template <typename T>
T OrExit(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*r);
}

// A job service with the demo cluster and command in its own temp folder (`name` in its name).
Node StartNode(std::string_view name, std::optional<fetch::CacheOptions> cache) {
  Node n;
  n.harness = OrExit(service::testing::JobServiceHarness::Create(name), "node");
  service::JobServiceOptions o = n.harness->DefaultOptions();
  o.host_name = "bench";
  o.sweep_interval = Millis(0);
  fetch::FetchOptions fo;
  fo.cache = std::move(cache);
  std::unique_ptr<fetch::UriFetcher> fetcher =
      OrExit(fetch::NewFetcher(fo, SystemClock::Instance()), "fetcher");
  n.cache = fetcher->cache();
  n.service = OrExit(n.harness->NewService(o, std::move(fetcher)), "job service");
  return n;
}

// Submit → RUNNING, in ms (polls the record every 0.2 ms).
double StartLatency(service::JobService& s, const std::vector<std::string>& deps) {
  service::Submission sub;
  sub.request.name = "bench";
  sub.request.user = "bench";
  sub.request.version = "1";
  sub.request.cluster_criterias = {{{"sched:sla"}}};
  sub.request.command_criteria = {"type:bash"};
  sub.request.command_arguments = {"true"};
  sub.request.dependencies = deps;
  const auto t0 = Clock_::now();
  auto id = s.Submit(std::move(sub));
  if (!id.ok()) {
    std::fprintf(stderr, "submit: %s\n", id.status().ToString().c_str());
    std::exit(1);
  }
  double ms = -1;
  while (true) {
    auto r = s.Get(*id);
    if (r.ok() && r->job.status != model::JobStatus::kInit) {
      ms = Ms(Clock_::now() - t0);
      if (r->job.status != model::JobStatus::kRunning &&
          r->job.status != model::JobStatus::kSucceeded) {
        std::fprintf(stderr, "job %s: %s\n", id->c_str(), r->job.status_msg.c_str());
        std::exit(1);
      }
      break;
    }
    std::this_thread::sleep_for(200us);
  }
  (void)s.WaitFinal(*id, Millis(60000));
  return ms;
}

int Run() {
  fetch::testing::TempDir tmp;
  std::vector<std::unique_ptr<fetch::testing::StaticResource>> files;
  for (int i = 0; i < kDeps; ++i) {
    files.push_back(std::make_unique<fetch::testing::StaticResource>(
        std::string(kDepBytes, static_cast<char>('a' + i))));
  }
  fetch::testing::TestHttpServer http([&](const fetch::testing::TestRequest& r) {
    int i = r.path.size() > 5 ? r.path[5] - '0' : 0;  // "/dep-N.jar"
    if (i < 0 || i >= kDeps) i = 0;
    return files[i]->Handle(r);
  });
  std::vector<std::string> deps;
  for (int i = 0; i < kDeps; ++i) deps.push_back(http.Url("/dep-" + std::to_string(i) + ".jar"));

  // S1: with a warm cache and without a cache, same server, same run.
  fetch::CacheOptions co;
  co.dir = tmp / "node-cached/cache";
  Node cached = StartNode("storage-bench-cached", co);
  const double cold = StartLatency(*cached.service, deps);  // fills the cache
  std::vector<double> warm, uncached_runs, nodeps;
  for (int i = 0; i < kRuns; ++i) warm.push_back(StartLatency(*cached.service, deps));
  for (int i = 0; i < kRuns; ++i) nodeps.push_back(StartLatency(*cached.service, {}));
  Node uncached = StartNode("storage-bench-uncached", std::nullopt);
  for (int i = 0; i < kRuns; ++i) uncached_runs.push_back(StartLatency(*uncached.service, deps));
  std::printf("storage.start_latency_no_deps_ms: %.1f\n", Median(nodeps));
  std::printf("storage.start_latency_5x10MB_cached_ms: %.1f\n", Median(warm));
  std::printf("storage.start_latency_5x10MB_uncached_ms: %.1f\n", Median(uncached_runs));
  std::printf("storage.start_latency_5x10MB_cold_cache_ms: %.1f\n", cold);
  fetch::CacheStats st = cached.cache->Stats();
  std::printf("storage.cache_hits: %lld\n", static_cast<long long>(st.hits));
  std::printf("storage.cache_misses: %lld\n", static_cast<long long>(st.misses));
  cached.service->Shutdown();
  uncached.service->Shutdown();

  // S2: placement throughput from a warm cache vs cp of the same files.
  const double total_mb = kDeps * static_cast<double>(kDepBytes) / (1 << 20);
  for (bool links : {true, false}) {
    fetch::CacheOptions o;
    o.dir = tmp / (links ? "c-links" : "c-copies");
    o.hard_links = links;
    o.fresh_for = Millis(3600000);  // measure placement, not revalidation
    auto cache = fetch::DependencyCache::Open(o, std::make_shared<fetch::HttpFetcher>(),
                                              SystemClock::Instance());
    if (!cache.ok()) return 1;
    for (const auto& d : deps) (void)(*cache)->Fetch(d, tmp / "warm" / fs::path(d).filename());
    std::vector<double> runs;
    for (int r = 0; r < kRuns; ++r) {
      const fs::path dest = tmp / ("place-" + NewUuid());
      const auto t0 = Clock_::now();
      for (const auto& d : deps) (void)(*cache)->Fetch(d, dest / fs::path(d).filename());
      runs.push_back(Ms(Clock_::now() - t0));
      fs::remove_all(dest);
    }
    std::printf("storage.cache_place_%s_5x10MB_ms: %.2f\n", links ? "hardlink" : "copy",
                Median(runs));
    std::printf("storage.cache_place_%s_MBps: %.0f\n", links ? "hardlink" : "copy",
                total_mb / (Median(runs) / 1000));
    if (links) {
      // The same files, copied with cp from the cache's data folder.
      std::vector<double> cp_runs;
      std::string sources;
      for (const auto& d : deps) sources += " '" + (*cache)->DataPath(d).string() + "'";
      for (int r = 0; r < kRuns; ++r) {
        const fs::path dest = tmp / ("cp-" + NewUuid());
        fs::create_directories(dest);
        const std::string cmd = "cp" + sources + " '" + dest.string() + "'";
        const auto t0 = Clock_::now();
        if (std::system(cmd.c_str()) != 0) return 1;
        cp_runs.push_back(Ms(Clock_::now() - t0));
        fs::remove_all(dest);
      }
      std::printf("storage.cp_5x10MB_ms: %.2f\n", Median(cp_runs));
      std::printf("storage.cp_MBps: %.0f\n", total_mb / (Median(cp_runs) / 1000));
    }
  }
  return 0;
}

}  // namespace
}  // namespace weir

int main() { return weir::Run(); }
