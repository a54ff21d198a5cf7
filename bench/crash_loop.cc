// Crash recovery benchmarks of docs/performance.md: the crash loop and R1, against the real
// `weir server` binary with its SQLite file. Every figure is printed as `name: value`.
//
// crash loop: client threads submit a mix of jobs continuously (quick `true` and `echo`, exits
//   with a known non-zero code, `sleep 1-3`, attachments, a 1 MiB output) while the server is
//   `kill -9`ed at random moments and restarted on the same data folder and port. Every
//   acknowledged submission (202 + id) is recorded with its expected outcome; after the last
//   restart, once every job is final (or a deadline passes), each is checked. lost, stuck,
//   never_ran, wrong_status_exit and wrong_output must all be 0.
// R1: 500 `sleep` jobs running, `kill -9`, restart: time until the server answers and all 500
//   are seen RUNNING, against the start of a server on an empty database (same run), then all
//   500 must end SUCCEEDED with exit code 0.
//
// Usage: crash_loop [--only crash,r1] [--kills 20] [--clients 4] [--deadline-s 180]
//                   [--r1-jobs 500] [--r1-sleep-s 40] [--seed N] [--keep-dir DIR]
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "client/http_client.h"
#include "common/time_format.h"
#include "weir_process.h"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using weir::bench::Clock;
using weir::bench::Print;
using weir::bench::PrintText;
using weir::bench::SecondsSince;
using weir::client::HttpClient;
using weir::testing::TempDir;
using weir::testing::WeirServer;

// What one acknowledged submission must end as.
struct Expected {
  std::string id;
  std::string kind;
  std::string status = "SUCCEEDED";
  int exit_code = 0;
  std::optional<std::string> stdout_text;  // exact stdout
  std::optional<int64_t> stdout_bytes;     // stdout size only (large outputs)
};

// A job to submit: the request body, an optional attachment, and what it must end as.
struct Plan {
  std::string args;
  std::optional<std::pair<std::string, fs::path>> attachment;  // name, local file
  Expected expected;
};

constexpr int64_t kLargeOutputBytes = 1 << 20;

// The mix (weights out of 100): true 30, echo 20, exit N 20, sleep 15, attachment 10, 1 MiB 5.
Plan PickJob(std::mt19937& rng, int client, int64_t n, const fs::path& files_dir) {
  int roll = std::uniform_int_distribution<int>(0, 99)(rng);
  Plan p;
  if (roll < 30) {
    p.args = "true";
    p.expected.kind = "true";
  } else if (roll < 50) {
    std::string word = "crash-loop-" + std::to_string(client) + "-" + std::to_string(n);
    p.args = "echo " + word;
    p.expected.kind = "echo";
    p.expected.stdout_text = word + "\n";
  } else if (roll < 70) {
    int code = std::uniform_int_distribution<int>(1, 120)(rng);
    p.args = "echo failing >&2; exit " + std::to_string(code);
    p.expected.kind = "exit";
    p.expected.status = "FAILED";
    p.expected.exit_code = code;
  } else if (roll < 85) {
    p.args = "sleep " + std::to_string(std::uniform_int_distribution<int>(1, 3)(rng));
    p.expected.kind = "sleep";
  } else if (roll < 95) {
    int64_t size = std::uniform_int_distribution<int64_t>(1, 256 * 1024)(rng);
    fs::path file = files_dir / ("c" + std::to_string(client) + "-" + std::to_string(n) + ".bin");
    {
      std::ofstream out(file, std::ios::binary);
      std::string chunk(static_cast<size_t>(size), 'a' + static_cast<char>(n % 26));
      out << chunk;
    }
    p.args = "wc -c < data.bin";
    p.attachment = {{"data.bin", file}};
    p.expected.kind = "attachment";
    p.expected.stdout_text = std::to_string(size) + "\n";
  } else {
    p.args = "head -c " + std::to_string(kLargeOutputBytes) + " /dev/zero";
    p.expected.kind = "large_output";
    p.expected.stdout_bytes = kLargeOutputBytes;
  }
  return p;
}

// Acknowledged submissions and client-side counters, shared by the client threads.
struct Ledger {
  std::mutex mu;
  std::vector<Expected> acknowledged;
  std::map<int, int64_t> refused;  // HTTP status → count (answers other than 202)
  std::vector<std::string> refused_samples;
  std::atomic<int64_t> transport_errors{0};
};

void ClientLoop(int client, const std::string& url, const fs::path& files_dir, uint32_t seed,
                const std::atomic<bool>& stop, Ledger& ledger) {
  std::mt19937 rng(seed);
  auto http = std::make_unique<HttpClient>(url, std::chrono::seconds(10));
  for (int64_t n = 0; !stop.load(); ++n) {
    Plan plan = PickJob(rng, client, n, files_dir);
    std::string body = weir::bench::BashJobJson(plan.args);
    weir::Result<weir::client::Response> r =
        plan.attachment
            ? http->PostMultipart("/api/v3/jobs",
                                  {{"request", "", "application/json", body, {}},
                                   {"attachment", plan.attachment->first,
                                    "application/octet-stream", "", plan.attachment->second}})
            : http->PostJson("/api/v3/jobs", body);
    if (plan.attachment) {
      std::error_code ec;
      fs::remove(plan.attachment->second, ec);
    }
    if (!r.ok()) {
      // The server is down or died mid-request: not acknowledged, so nothing is owed.
      ++ledger.transport_errors;
      http = std::make_unique<HttpClient>(url, std::chrono::seconds(10));
      std::this_thread::sleep_for(50ms);
      continue;
    }
    if (r->status == 202) {
      plan.expected.id = weir::bench::IdFromLocation(*r);
      std::lock_guard<std::mutex> lock(ledger.mu);
      ledger.acknowledged.push_back(std::move(plan.expected));
    } else {
      std::lock_guard<std::mutex> lock(ledger.mu);
      ++ledger.refused[r->status];
      if (ledger.refused_samples.size() < 5) {
        ledger.refused_samples.push_back(std::to_string(r->status) + " " + r->body.substr(0, 200));
      }
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 40)(rng)));
  }
}

// Waits until every id is final or the deadline passes; returns the ids still not final.
std::vector<std::string> WaitAllFinal(const std::string& url, std::vector<std::string> pending,
                                      Clock::time_point deadline) {
  HttpClient http(url, std::chrono::seconds(10));
  while (!pending.empty()) {
    std::vector<std::string> still;
    for (const std::string& id : pending) {
      auto r = http.Get("/api/v3/jobs/" + id + "/status");
      bool final = false;
      if (r.ok() && r->status == 200) {
        boost::system::error_code ec;
        json::value v = json::parse(r->body, ec);
        final = !ec && v.is_object() && v.as_object().contains("status") &&
                v.at("status").is_string() &&
                weir::bench::IsFinal(std::string(v.at("status").as_string()));
      } else if (r.ok() && r->status == 404) {
        final = true;  // unknown: reported as lost by the check, waiting will not help
      }
      if (!final) still.push_back(id);
    }
    pending.swap(still);
    if (pending.empty() || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(250ms);
  }
  return pending;
}

// The body of GET /output/stdout ("" with ok=false when unreadable).
std::optional<std::string> Stdout(HttpClient& http, const std::string& id) {
  auto r = http.Get("/api/v3/jobs/" + id + "/output/stdout");
  if (!r.ok() || r->status != 200) return std::nullopt;
  return r->body;
}

// The size of stdout from a one-byte range read's Content-Range ("bytes 0-0/SIZE").
std::optional<int64_t> StdoutSize(HttpClient& http, const std::string& id) {
  auto r = http.Get("/api/v3/jobs/" + id + "/output/stdout", {{"Range", "bytes=0-0"}});
  if (!r.ok() || r->status != 206) return std::nullopt;
  std::string range = r->Header("content-range").value_or("");
  size_t slash = range.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  return std::atoll(range.c_str() + slash + 1);
}

void PrintIds(const std::string& name, const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  std::string line;
  for (size_t i = 0; i < ids.size() && i < 100; ++i) line += (i ? " " : "") + ids[i];
  if (ids.size() > 100) line += " ... (" + std::to_string(ids.size() - 100) + " more)";
  PrintText(name, line);
}

int RunCrashLoop(int kills, int clients, int deadline_s, uint32_t seed, const fs::path& keep) {
  TempDir tmp;
  const fs::path root = keep.empty() ? tmp.path() : keep;
  fs::path files = root / "attachments";
  fs::create_directories(files);
  auto server = weir::bench::StartDemoServer(root / "data");
  const std::string url = server->url();
  std::mt19937 rng(seed);
  Ledger ledger;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back(ClientLoop, c, url, files, seed + 1 + static_cast<uint32_t>(c),
                         std::cref(stop), std::ref(ledger));
  }
  std::vector<double> restart_s;
  for (int k = 1; k <= kills; ++k) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 3000)(rng)));
    server->Kill9();
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 500)(rng)));
    auto start = Clock::now();
    std::string err = server->Start();
    if (!err.empty()) {
      std::fprintf(stderr, "restart %d failed: %s\n", k, err.c_str());
      stop = true;
      for (auto& t : threads) t.join();
      return 1;
    }
    restart_s.push_back(SecondsSince(start));
    std::size_t acked;
    {
      std::lock_guard<std::mutex> lock(ledger.mu);
      acked = ledger.acknowledged.size();
    }
    std::printf("crash_loop_kill_%d: restarted in %.3f s, %zu acknowledged so far\n", k,
                restart_s.back(), acked);
    std::fflush(stdout);
  }
  // The last restart above is the final one: stop submitting, let everything end.
  stop = true;
  for (auto& t : threads) t.join();
  double load_seconds = SecondsSince(t0);

  std::vector<Expected> acked = ledger.acknowledged;
  std::vector<std::string> ids;
  for (const auto& e : acked) ids.push_back(e.id);
  auto wait_start = Clock::now();
  WaitAllFinal(url, ids, wait_start + std::chrono::seconds(deadline_s));
  double wait_seconds = SecondsSince(wait_start);

  HttpClient http(url, std::chrono::seconds(30));
  std::vector<std::string> lost, wrong, stuck, never_ran, wrong_output;
  std::map<std::string, int64_t> per_kind;
  for (const Expected& e : acked) {
    ++per_kind[e.kind];
    weir::bench::JobOutcome o = weir::bench::FetchOutcome(http, e.id);
    if (o.http_status != 200) {
      lost.push_back(e.id + "(" + std::to_string(o.http_status) + ")");
    } else if (!weir::bench::IsFinal(o.status)) {
      stuck.push_back(e.id + "(" + o.status + ")");
    } else if (o.status_msg.find("restarted before") != std::string::npos || !o.started) {
      bool restarted = o.status_msg.find("restarted before") != std::string::npos;
      never_ran.push_back(
          e.id + "(" + e.kind +
          (restarted ? ", restarted before start)" : ", never started: " + o.status + ")"));
    } else if (o.status != e.status || o.exit_code != std::optional<int64_t>(e.exit_code)) {
      wrong.push_back(e.id + "(" + e.kind + ": " + o.status + "/" +
                      (o.exit_code ? std::to_string(*o.exit_code) : "none") + ", expected " +
                      e.status + "/" + std::to_string(e.exit_code) + ")");
    } else if (e.stdout_text && Stdout(http, e.id) != e.stdout_text) {
      wrong_output.push_back(e.id + "(" + e.kind + ")");
    } else if (e.stdout_bytes && StdoutSize(http, e.id) != e.stdout_bytes) {
      wrong_output.push_back(e.id + "(" + e.kind + ")");
    }
  }
  // Submissions the server recorded but whose 202 never reached the client (killed while
  // answering): they owe nothing, but show that the kill moments hit the request path.
  int64_t recorded = weir::bench::CountWithStatus(http, "");
  int64_t refused = 0;
  for (const auto& [status, n] : ledger.refused) refused += n;

  Print("crash_loop_kills", kills);
  Print("crash_loop_load_seconds", load_seconds);
  Print("crash_loop_restart_median_s", weir::bench::Percentile(restart_s, 0.5));
  Print("crash_loop_restart_max_s", weir::bench::Percentile(restart_s, 1.0));
  for (const auto& [kind, n] : per_kind) Print("crash_loop_acknowledged_" + kind, n);
  Print("crash_loop_unanswered_submissions (server down or killed mid-request)",
        static_cast<double>(ledger.transport_errors.load()));
  Print("crash_loop_refused_submissions (answered, not 202)", static_cast<double>(refused));
  for (const auto& s : ledger.refused_samples) PrintText("crash_loop_refused_sample", s);
  Print("crash_loop_recorded_but_unacknowledged",
        static_cast<double>(recorded - static_cast<int64_t>(acked.size())));
  Print("crash_loop_wait_for_final_s", wait_seconds);
  Print("crash_loop_load_average_1m", weir::bench::LoadAverage1());
  PrintIds("crash_loop_lost_ids", lost);
  PrintIds("crash_loop_wrong_status_exit_ids", wrong);
  PrintIds("crash_loop_stuck_ids", stuck);
  PrintIds("crash_loop_never_ran_ids", never_ran);
  PrintIds("crash_loop_wrong_output_ids", wrong_output);
  Print("crash_loop_acknowledged", static_cast<double>(acked.size()));
  Print("crash_loop_lost", static_cast<double>(lost.size()));
  Print("crash_loop_wrong_status_exit", static_cast<double>(wrong.size()));
  Print("crash_loop_stuck", static_cast<double>(stuck.size()));
  Print("crash_loop_never_ran", static_cast<double>(never_ran.size()));
  Print("crash_loop_wrong_output", static_cast<double>(wrong_output.size()));
  size_t bad = lost.size() + wrong.size() + stuck.size() + never_ran.size() + wrong_output.size();
  Print("crash_loop_acknowledged_not_honoured (must be 0)", static_cast<double>(bad));
  return 0;
}

// --- R1 ----------------------------------------------------------------------------------------

// Waits until GET /admin/health answers 200; false at the deadline.
bool WaitHealthy(const std::string& url, Clock::time_point deadline) {
  HttpClient http(url, std::chrono::seconds(5));
  while (Clock::now() < deadline) {
    auto r = http.Get("/admin/health");
    if (r.ok() && r->status == 200) return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

std::vector<std::string> SubmitSleepers(const std::string& url, int jobs, int sleep_s) {
  std::vector<std::string> ids(jobs);
  std::atomic<int> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&] {
      HttpClient http(url);
      std::string body = weir::bench::BashJobJson("sleep " + std::to_string(sleep_s), 1);
      for (int i = next++; i < jobs; i = next++) {
        auto r = http.PostJson("/api/v3/jobs", body);
        if (r.ok() && r->status == 202) {
          ids[i] = weir::bench::IdFromLocation(*r);
        } else {
          std::fprintf(stderr, "r1 submit failed: %s\n",
                       r.ok() ? r->body.c_str() : r.status().ToString().c_str());
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  ids.erase(std::remove(ids.begin(), ids.end(), ""), ids.end());
  return ids;
}

int RunR1(int jobs, int sleep_s) {
  TempDir tmp;
  // Reference: a server starting on an empty database, from spawn to a 200 from /admin/health.
  std::vector<double> empty_start;
  for (int i = 0; i < 3; ++i) {
    WeirServer s(tmp.path() / ("empty" + std::to_string(i)), weir::bench::kBenchConfig);
    auto t = Clock::now();
    if (!s.Start().empty() || !WaitHealthy(s.url(), Clock::now() + 30s)) {
      std::fprintf(stderr, "r1: empty server did not start\n");
      return 1;
    }
    empty_start.push_back(SecondsSince(t));
    s.Stop();
  }

  auto server = weir::bench::StartDemoServer(tmp.path() / "r1");
  const std::string url = server->url();
  HttpClient http(url, std::chrono::seconds(30));
  auto submitted_at = Clock::now();
  std::vector<std::string> ids = SubmitSleepers(url, jobs, sleep_s);
  auto deadline = Clock::now() + std::chrono::seconds(180);
  while (Clock::now() < deadline && weir::bench::CountWithStatus(http, "RUNNING") < jobs) {
    std::this_thread::sleep_for(20ms);
  }
  int64_t running_before = weir::bench::CountWithStatus(http, "RUNNING");
  double ramp_s = SecondsSince(submitted_at);
  if (ramp_s > sleep_s - 5) {
    std::fprintf(stderr,
                 "r1: reaching RUNNING took %.1f s, near the %d s sleep: raise "
                 "--r1-sleep-s\n",
                 ramp_s, sleep_s);
  }
  // Reference 2: the raw cost of checking that 500 processes are alive (kill(pid, 0)).
  std::vector<pid_t> pids;
  for (const auto& id : ids) {
    auto r = http.Get("/api/v3/jobs/" + id + "/execution");
    if (!r.ok() || r->status != 200) continue;
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (!ec && v.is_object() && v.at("processId").is_int64()) {
      pids.push_back(static_cast<pid_t>(v.at("processId").as_int64()));
    }
  }
  auto pid_t0 = Clock::now();
  int alive = 0;
  for (pid_t p : pids) alive += ::kill(p, 0) == 0 ? 1 : 0;
  double pid_check_ms = SecondsSince(pid_t0) * 1000;

  server->Kill9();
  auto restart = Clock::now();
  std::string err = server->Start();
  if (!err.empty()) {
    std::fprintf(stderr, "r1 restart failed: %s\n", err.c_str());
    return 1;
  }
  bool healthy = WaitHealthy(url, Clock::now() + 60s);
  double to_answer_s = SecondsSince(restart);
  HttpClient after(url, std::chrono::seconds(30));
  int64_t running_after = -1;
  auto running_deadline = Clock::now() + 60s;
  while (Clock::now() < running_deadline) {
    running_after = weir::bench::CountWithStatus(after, "RUNNING");
    if (running_after >= running_before) break;
    std::this_thread::sleep_for(2ms);
  }
  double to_running_s = SecondsSince(restart);
  double adopted_age_s = SecondsSince(submitted_at);

  std::vector<std::string> stuck =
      WaitAllFinal(url, ids, Clock::now() + std::chrono::seconds(sleep_s + 180));
  int64_t succeeded = 0, lost = 0, wrong = 0;
  std::vector<std::string> bad;
  std::vector<double> lag_ms;
  for (const auto& id : ids) {
    weir::bench::JobOutcome o = weir::bench::FetchOutcome(after, id);
    if (o.http_status != 200) {
      ++lost;
      bad.push_back(id + "(lost)");
    } else if (o.status == "SUCCEEDED" && o.exit_code == std::optional<int64_t>(0)) {
      ++succeeded;
    } else if (weir::bench::IsFinal(o.status)) {
      ++wrong;
      bad.push_back(id + "(" + o.status + ")");
    }
    auto r = after.Get("/api/v3/jobs/" + id);
    if (r.ok() && r->status == 200) {
      boost::system::error_code ec;
      json::value v = json::parse(r->body, ec);
      if (!ec && v.at("started").is_string() && v.at("finished").is_string()) {
        auto s = weir::ParseIso8601(std::string(v.at("started").as_string()));
        auto f = weir::ParseIso8601(std::string(v.at("finished").as_string()));
        if (s.ok() && f.ok()) {
          lag_ms.push_back(static_cast<double>(weir::ToEpochMillis(*f) - weir::ToEpochMillis(*s)) -
                           sleep_s * 1000.0);
        }
      }
    }
  }
  double empty = weir::bench::Percentile(empty_start, 0.5);
  Print("r1_jobs_submitted", static_cast<double>(ids.size()));
  Print("r1_running_before_kill", static_cast<double>(running_before));
  Print("r1_seconds_from_first_submit_to_kill", ramp_s);
  Print("r1_ref_empty_database_start_to_health_s (median of 3)", empty);
  Print("r1_ref_raw_kill0_check_ms (" + std::to_string(alive) + " of " +
            std::to_string(pids.size()) + " pids alive)",
        pid_check_ms);
  Print("r1_restart_to_health_s", healthy ? to_answer_s : -1);
  Print("r1_running_after_restart", static_cast<double>(running_after));
  Print("r1_job_age_when_all_seen_running_s", adopted_age_s);
  Print("r1_succeeded_exit_0", static_cast<double>(succeeded));
  Print("r1_lost", static_cast<double>(lost));
  Print("r1_wrong_status_or_exit", static_cast<double>(wrong));
  Print("r1_stuck", static_cast<double>(stuck.size()));
  PrintIds("r1_bad_ids", bad);
  PrintIds("r1_stuck_ids", stuck);
  Print("r1_end_recorded_after_sleep_p50_ms", weir::bench::Percentile(lag_ms, 0.5));
  Print("r1_end_recorded_after_sleep_p99_ms", weir::bench::Percentile(lag_ms, 0.99));
  Print("r1_load_average_1m", weir::bench::LoadAverage1());
  Print("r1_ratio_restart_to_empty_start", empty > 0 ? to_running_s / empty : -1);
  Print("r1_restart_to_all_running_s (target <= 2)", to_running_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string only = "crash,r1";
  int kills = 20, clients = 4, deadline_s = 180, r1_jobs = 500, r1_sleep_s = 40;
  uint32_t seed = std::random_device{}();
  std::string keep;  // --keep-dir: the crash loop's data folder stays there for inspection
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--only")
      only = argv[i + 1];
    else if (a == "--kills")
      kills = std::atoi(argv[i + 1]);
    else if (a == "--clients")
      clients = std::atoi(argv[i + 1]);
    else if (a == "--deadline-s")
      deadline_s = std::atoi(argv[i + 1]);
    else if (a == "--r1-jobs")
      r1_jobs = std::atoi(argv[i + 1]);
    else if (a == "--r1-sleep-s")
      r1_sleep_s = std::atoi(argv[i + 1]);
    else if (a == "--keep-dir")
      keep = argv[i + 1];
    else if (a == "--seed")
      seed = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  // A job's pipes must not kill the bench when a server dies mid-write.
  ::signal(SIGPIPE, SIG_IGN);
  PrintText("seed", std::to_string(seed));
  int rc = 0;
  if (only.find("crash") != std::string::npos)
    rc |= RunCrashLoop(kills, clients, deadline_s, seed, keep);
  if (only.find("r1") != std::string::npos) rc |= RunR1(r1_jobs, r1_sleep_s);
  return rc;
}
