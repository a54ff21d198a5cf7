// Soak benchmark of docs/performance.md: N trivial jobs (`true`, default 50,000) through one
// node (the real `weir server`, SQLite, default archiving), in batches from 8 client threads.
// The server process is sampled from /proc before the load, after a warm-up batch, at
// checkpoints and once the load has ended and archiving is idle: RSS, peak RSS, open
// descriptors, threads, and the database (weir.db + weir.db-wal). Records are retained, so the
// database grows per job (reported as bytes per job); RSS, descriptors and threads should come
// back to their warm level once the load ends. The verdict line says whether they did.
//
// --no-archive turns job archiving off (archive.location: none): the archive worker writes one
// tar.gz per job and, on a loaded machine, falls behind the job intake, so the soak then waits
// for it before the last sample.
//
// Usage: soak_bench [--jobs 50000] [--batch 1000] [--checkpoints 5] [--no-archive]
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "client/http_client.h"
#include "weir_process.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using weir::bench::Clock;
using weir::bench::Print;
using weir::bench::PrintText;
using weir::bench::ProcSample;
using weir::bench::SecondsSince;
using weir::client::HttpClient;

struct Sample {
  ProcSample proc;
  int64_t db_bytes = 0;
  int64_t archives = 0;
};

int64_t CountEntries(const fs::path& dir) {
  std::error_code ec;
  int64_t n = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n;
}

Sample Take(const weir::testing::WeirServer& server) {
  return {weir::bench::SampleProcess(server.pid()), weir::bench::DatabaseBytes(server.data_dir()),
          CountEntries(server.data_dir() / "archives")};
}

void PrintSample(const std::string& name, const Sample& s, int64_t jobs) {
  std::printf(
      "%s: jobs %lld, rss_mb %.1f, peak_rss_mb %.1f, fds %ld, threads %ld, db_mb %.2f, "
      "archives %lld\n",
      name.c_str(), static_cast<long long>(jobs), s.proc.rss_kb / 1024.0, s.proc.hwm_kb / 1024.0,
      s.proc.fds, s.proc.threads, s.db_bytes / 1048576.0, static_cast<long long>(s.archives));
  std::fflush(stdout);
}

// Submits `jobs` `true` jobs from 8 threads; returns how many were refused or unanswered.
int64_t SubmitBatch(const std::string& url, int jobs) {
  std::atomic<int> next{0};
  std::atomic<int64_t> failed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&] {
      HttpClient http(url);
      const std::string body = weir::bench::BashJobJson("true", 1);
      for (int i = next++; i < jobs; i = next++) {
        auto r = http.PostJson("/api/v3/jobs", body);
        if (!r.ok() || r->status != 202) {
          if (failed++ < 3) {
            std::fprintf(stderr, "soak submit failed: %s\n",
                         r.ok() ? r->body.c_str() : r.status().ToString().c_str());
          }
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  return failed.load();
}

// Waits until no job is INIT or RUNNING; false at the deadline.
bool WaitIdle(HttpClient& http, Clock::time_point deadline) {
  while (Clock::now() < deadline) {
    if (weir::bench::CountWithStatus(http, "INIT,RUNNING") == 0) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t total = 50000;
  int batch = 1000, checkpoints = 5;
  bool archive = true;
  for (int i = 1; i < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--no-archive") {
      archive = false;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "option %s needs a value\n", a.c_str());
      return 2;
    }
    if (a == "--jobs" || a == "--soak-jobs")
      total = std::atoll(argv[i + 1]);
    else if (a == "--batch")
      batch = std::atoi(argv[i + 1]);
    else if (a == "--checkpoints")
      checkpoints = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (total < 2 || batch < 1 || checkpoints < 1) {
    std::fprintf(stderr, "soak_bench: --jobs >= 2, --batch >= 1, --checkpoints >= 1\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  weir::testing::TempDir tmp;
  auto server = weir::bench::StartDemoServer(tmp.path() / "data",
                                             archive ? "" : "archive:\n  location: none\n");
  weir::bench::PrintText("soak_archiving", archive ? "on" : "off");
  const std::string url = server->url();
  HttpClient http(url, std::chrono::seconds(30));
  std::this_thread::sleep_for(1s);
  Sample before = Take(*server);
  PrintSample("soak_before", before, 0);

  // Warm-up: thread pools, caches and SQLite's page cache reach their working size.
  const int64_t warm_jobs = std::min<int64_t>(std::max<int64_t>(batch / 2, 1), total / 10 + 1);
  int64_t refused = SubmitBatch(url, static_cast<int>(warm_jobs));
  if (!WaitIdle(http, Clock::now() + 600s)) {
    std::fprintf(stderr, "soak: warm-up jobs did not finish\n");
    return 1;
  }
  int64_t done = warm_jobs;
  std::this_thread::sleep_for(2s);
  Sample warm = Take(*server);
  PrintSample("soak_warm", warm, done);

  const int64_t checkpoint_every = std::max<int64_t>(1, (total - done) / checkpoints);
  int64_t next_checkpoint = done + checkpoint_every;
  Sample mid = warm;
  int64_t mid_jobs = done;
  auto t0 = Clock::now();
  auto last = t0;
  int64_t last_done = done;
  while (done < total) {
    int n = static_cast<int>(std::min<int64_t>(batch, total - done));
    refused += SubmitBatch(url, n);
    if (!WaitIdle(http, Clock::now() + 600s)) {
      std::fprintf(stderr, "soak: a batch did not finish within 600 s\n");
      return 1;
    }
    done += n;
    if (done >= next_checkpoint || done >= total) {
      Sample s = Take(*server);
      double rate = (done - last_done) / SecondsSince(last);
      PrintSample("soak_checkpoint", s, done);
      std::printf("soak_checkpoint_rate: %.1f jobs/s, load average %.2f\n", rate,
                  weir::bench::LoadAverage1());
      if (mid_jobs - warm_jobs < (total - warm_jobs) / 2) {
        mid = s;
        mid_jobs = done;
      }
      last = Clock::now();
      last_done = done;
      next_checkpoint += checkpoint_every;
    }
  }
  double load_s = SecondsSince(t0);

  // After the load: let the archive worker catch up (every job is archived), then idle.
  auto archive_start = Clock::now();
  while (archive && SecondsSince(archive_start) < 1800 &&
         CountEntries(server->data_dir() / "archives") < done) {
    std::this_thread::sleep_for(200ms);
  }
  if (archive) Print("soak_archive_catch_up_after_load_s", SecondsSince(archive_start));
  std::this_thread::sleep_for(3s);
  Sample after = Take(*server);
  PrintSample("soak_after", after, done);
  int64_t failed = weir::bench::CountWithStatus(http, "FAILED,KILLED,INVALID");
  int64_t succeeded = weir::bench::CountWithStatus(http, "SUCCEEDED");

  const int64_t measured_jobs = done - warm_jobs;
  // From the empty database over every job: the WAL holds up to ~4 MB not yet checkpointed at
  // any sample, which over a few thousand jobs would swamp a per-job figure taken from warm.
  const double db_per_job =
      static_cast<double>(after.db_bytes - before.db_bytes) / static_cast<double>(done);
  const long rss_growth_kb = after.proc.rss_kb - warm.proc.rss_kb;
  const long rss_second_half_kb = after.proc.rss_kb - mid.proc.rss_kb;
  const long fd_growth = after.proc.fds - warm.proc.fds;
  const long thread_growth = after.proc.threads - warm.proc.threads;
  Print("soak_jobs", static_cast<double>(done));
  Print("soak_succeeded", static_cast<double>(succeeded));
  Print("soak_failed_or_killed", static_cast<double>(failed));
  Print("soak_refused_or_unanswered_submissions", static_cast<double>(refused));
  Print("soak_jobs_per_s", measured_jobs / load_s);
  Print("soak_load_average_1m", weir::bench::LoadAverage1());
  Print("soak_db_bytes_per_job", db_per_job);
  Print("soak_rss_growth_after_load_vs_warm_mb", rss_growth_kb / 1024.0);
  Print("soak_rss_growth_second_half_mb (" + std::to_string(done - mid_jobs) + " jobs)",
        rss_second_half_kb / 1024.0);
  Print("soak_fd_growth_after_load_vs_warm", static_cast<double>(fd_growth));
  Print("soak_thread_growth_after_load_vs_warm", static_cast<double>(thread_growth));
  // Growth beyond the retained records: descriptors or threads not given back, or RSS still
  // rising over the second half of the load by more than 4 MiB and 256 bytes per job (a per-job
  // leak; allocator noise stays under that).
  const bool leak = fd_growth > 0 || thread_growth > 0 ||
                    rss_second_half_kb > std::max<int64_t>(4096, (done - mid_jobs) / 4);
  PrintText("soak_verdict", leak ? "GROWTH beyond retained records (see the figures above)"
                                 : "no growth beyond retained records");
  return 0;  // figures, not assertions: `make bench` goes on to the next benchmark
}
