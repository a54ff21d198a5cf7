// A2 of docs/performance.md (spec: shared/spec/performance.md, issue 11): Genie's day compressed.
// N short jobs (a mix of `true`, `sleep 1` and `exit 3`, one third each) with at most R running at
// once (jobs.max_system_memory_mb with 1 MB per job, jobs.queue_enabled) go through
//   (a) one `weir server` on SQLite, and
//   (b) three `weir server` processes on one PostgreSQL (each R/3 of the capacity, the shared
//       queue), the client threads sending each request to the next node in turn, as a
//       round-robin load balancer would,
// in the same run, one after the other. Then A1 (GET /api/v3/jobs/{id} under wrk, 16
// connections) of a finished and of a running job on the SQLite server against a PostgreSQL
// node, alternating rounds. The PostgreSQL server is started here (store/testing/
// postgres_server.h: initdb into /tmp, a Unix socket, fsync off) and stopped by pid at the end.
//
// Figures (`name: value`; the last line the headline, the ratio (b)/(a) of jobs/s):
//   jobs/s = N / (the last `finished` of the job records - the wall clock before the first
//   submission); submit -> RUNNING = `started` - `created` of each job record (server clocks,
//   millisecond resolution; it includes the wait in the queue); lost = jobs that did not reach
//   the status and exit code their command implies (SUCCEEDED 0, SUCCEEDED 0, FAILED 3), plus
//   refused submissions; run twice = job folders found on more than one node; CPU seconds of the
//   weir and PostgreSQL processes (/proc/<pid>/stat) per 1,000 jobs, to see where time goes.
// Exits 1 when a configuration loses a job or does not finish within its deadline.
//
// Usage: a2_bench [--jobs 20000] [--running 700] [--clients 16] [--only a2,a1]
//                 [--a1-rounds 3] [--a1-seconds 5]
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "client/http_client.h"
#include "common/clock.h"
#include "common/time_format.h"
#include "store/testing/postgres_server.h"
#include "weir_process.h"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using weir::bench::Clock;
using weir::bench::Print;
using weir::bench::PrintText;
using weir::testing::WeirServer;

struct Options {
  int jobs = 20000;
  int running = 700;
  int clients = 16;
  std::string only = "a2,a1";
  int a1_rounds = 3;
  int a1_seconds = 5;
};

// The three kinds of job, by index: the script, and the final status and exit code it implies.
struct Kind {
  const char* script;
  const char* status;
  int exit_code;
};
const Kind kKinds[] = {
    {"true", "SUCCEEDED", 0}, {"sleep 1", "SUCCEEDED", 0}, {"exit 3", "FAILED", 3}};
const Kind& KindOf(int i) { return kKinds[i % 3]; }

int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// utime + stime of a process in seconds; 0 when it is gone.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(in, s) || s.rfind(')') == std::string::npos) return 0;
  std::istringstream rest(s.substr(s.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The PostgreSQL postmaster and its children (backends, writer, walwriter...).
std::vector<pid_t> PostgresProcesses(pid_t postmaster) {
  std::vector<pid_t> out = {postmaster};
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(e.path() / "stat");
    std::string s;
    if (!std::getline(in, s) || s.rfind(')') == std::string::npos) continue;
    std::istringstream rest(s.substr(s.rfind(')') + 2));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == postmaster) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

// The postmaster's children come and go (one backend per connection): sum what they used so
// far. A backend that ended takes its CPU time with it, so this undercounts short-lived ones;
// weir keeps its connections in a pool, so they live as long as the servers.
double PostgresCpuSeconds(pid_t postmaster) {
  double total = 0;
  for (pid_t p : PostgresProcesses(postmaster)) total += CpuSeconds(p);
  return total;
}

json::value GetJson(weir::client::HttpClient& http, const std::string& path) {
  auto r = http.Get(path);
  if (!r.ok() || r->status != 200) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  return ec ? json::value(nullptr) : v;
}

std::string Str(const json::value& v, const char* key) {
  if (!v.is_object()) return "";
  const json::value* f = v.as_object().if_contains(key);
  return f && f->is_string() ? std::string(f->as_string()) : "";
}

int64_t Millis(const json::value& v, const char* key) {
  auto t = weir::ParseIso8601(Str(v, key));
  return t.ok() ? weir::ToEpochMillis(*t) : -1;
}

std::optional<int64_t> ExitCode(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const json::value* f = v.as_object().if_contains("exitCode");
  if (f == nullptr) return std::nullopt;
  if (f->is_int64()) return f->as_int64();
  if (f->is_string()) {
    const std::string s(f->as_string());
    char* end = nullptr;
    long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0') return n;
  }
  return std::nullopt;
}

// Jobs in a final status, as `via` counts them from the store.
int64_t FinalCount(weir::client::HttpClient& via) {
  int64_t s = weir::bench::CountWithStatus(via, "SUCCEEDED");
  int64_t f = weir::bench::CountWithStatus(via, "FAILED");
  return s < 0 || f < 0 ? -1 : s + f;
}

struct Setup {
  std::string name;  // "sqlite" or "pg3"
  std::vector<WeirServer*> nodes;
  std::vector<pid_t> cpu_pids;  // weir servers
  pid_t postmaster = -1;        // -1: no PostgreSQL
  weir::store::testing::PostgresServer* pg = nullptr;
  std::string db_url;
};

// PostgreSQL's own counters, for where time goes: committed transactions in the database.
int64_t PgCommits(const Setup& s) {
  if (s.pg == nullptr) return 0;
  auto v = s.pg->Query(s.db_url, "SELECT xact_commit FROM pg_stat_database WHERE datname = 'weir'");
  return v.ok() && !v->empty() ? std::stoll(*v) : 0;
}

struct Figures {
  double jobs_per_s = 0;
  int64_t lost = 0;
};

// Runs A2 on `s`; prints its figures with prefix `a2_<name>_`.
Figures RunA2(const Setup& s, const Options& o) {
  const std::string p = "a2_" + s.name + "_";
  const int n = o.jobs;
  std::vector<std::string> ids(n);
  std::atomic<int> next{0}, refused{0};
  std::mutex err_mu;
  std::string first_error;
  std::vector<std::string> bodies;
  for (const Kind& k : kKinds) bodies.push_back(weir::bench::BashJobJson(k.script, 1));

  double weir_cpu0 = 0;
  for (pid_t pid : s.cpu_pids) weir_cpu0 += CpuSeconds(pid);
  const double pg_cpu0 = s.postmaster > 0 ? PostgresCpuSeconds(s.postmaster) : 0;
  const int64_t commits0 = PgCommits(s);
  const int64_t wall0 = WallMillis();
  const auto t0 = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < o.clients; ++c) {
    clients.emplace_back([&, c] {
      // One connection per node; request i goes to node i mod nodes (round robin).
      std::vector<std::unique_ptr<weir::client::HttpClient>> conns;
      for (WeirServer* w : s.nodes)
        conns.push_back(std::make_unique<weir::client::HttpClient>(w->url()));
      (void)c;
      for (int i = next++; i < n; i = next++) {
        auto& http = *conns[static_cast<size_t>(i) % conns.size()];
        auto r = http.PostJson("/api/v3/jobs", bodies[static_cast<size_t>(i) % 3]);
        if (!r.ok() || r->status != 202) {
          ++refused;
          std::lock_guard<std::mutex> lock(err_mu);
          if (first_error.empty()) {
            first_error =
                r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString();
          }
          continue;
        }
        ids[static_cast<size_t>(i)] = weir::bench::IdFromLocation(*r);
      }
    });
  }
  for (auto& t : clients) t.join();
  const double submit_s = weir::bench::SecondsSince(t0);
  Print(p + "submitted_jobs", n - refused.load());
  Print(p + "submit_seconds", submit_s);
  if (refused > 0) PrintText(p + "first_refusal", first_error);

  // Wait until every accepted job is final, with a deadline that assumes >= 10 jobs/s.
  weir::client::HttpClient watch(s.nodes.front()->url());
  const int64_t expected = n - refused.load();
  const auto deadline = t0 + std::chrono::seconds(120 + n / 10);
  int64_t final_count = 0;
  auto last_note = Clock::now();
  while ((final_count = FinalCount(watch)) < expected && Clock::now() < deadline) {
    if (Clock::now() - last_note > std::chrono::seconds(15)) {
      std::fprintf(stderr, "%s: %lld of %lld final after %.0f s (load %.1f)\n", s.name.c_str(),
                   static_cast<long long>(final_count), static_cast<long long>(expected),
                   weir::bench::SecondsSince(t0), weir::bench::LoadAverage1());
      last_note = Clock::now();
    }
    // Once a second: each poll is two counts, which PostgreSQL answers by a sequential scan of
    // the jobs table once most jobs have that status (the bench's own load on the database).
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  const double elapsed_s = weir::bench::SecondsSince(t0);
  double weir_cpu = -weir_cpu0;
  for (pid_t pid : s.cpu_pids) weir_cpu += CpuSeconds(pid);
  const double pg_cpu = s.postmaster > 0 ? PostgresCpuSeconds(s.postmaster) - pg_cpu0 : 0;
  const double load = weir::bench::LoadAverage1();
  const int64_t commits = PgCommits(s) - commits0;
  std::string tables;
  if (s.pg != nullptr) {
    // Per table: sequential scans / rows they read, index scans, rows inserted / updated.
    auto t = s.pg->Query(
        s.db_url,
        "SELECT string_agg(relname || ' seq ' || seq_scan || '/' || seq_tup_read || ' idx ' || "
        "coalesce(idx_scan, 0) || ' ins ' || n_tup_ins || ' upd ' || n_tup_upd, '; ' ORDER BY "
        "seq_tup_read DESC) FROM pg_stat_user_tables WHERE schemaname = current_schema()");
    tables = t.ok() ? *t : t.status().ToString();
  }
  if (final_count < expected) {
    std::fprintf(stderr, "%s: only %lld of %lld jobs final after %.0f s: a stuck queue?\n",
                 s.name.c_str(), static_cast<long long>(final_count),
                 static_cast<long long>(expected), elapsed_s);
  }

  // Every job's record, read through the nodes in turn, from several threads.
  std::vector<double> to_running, to_running_direct;
  std::vector<int64_t> finished(static_cast<size_t>(n), -1);
  std::atomic<int64_t> wrong{0}, run_twice{0}, no_folder{0};
  std::atomic<int> cursor{0};
  std::mutex mu;
  std::string first_wrong;
  std::vector<std::thread> readers;
  for (int c = 0; c < 4; ++c) {
    readers.emplace_back([&] {
      std::vector<std::unique_ptr<weir::client::HttpClient>> conns;
      for (WeirServer* w : s.nodes)
        conns.push_back(std::make_unique<weir::client::HttpClient>(w->url()));
      std::vector<double> mine, mine_direct;
      for (int i = cursor++; i < n; i = cursor++) {
        const std::string& id = ids[static_cast<size_t>(i)];
        if (id.empty()) continue;  // refused: counted as lost below
        auto& http = *conns[static_cast<size_t>(i) % conns.size()];
        json::value job = GetJson(http, "/api/v3/jobs/" + id);
        json::value exec = GetJson(http, "/api/v3/jobs/" + id + "/execution");
        const Kind& k = KindOf(i);
        const std::string status = Str(job, "status");
        const auto code = ExitCode(exec);
        if (status != k.status || !code || *code != k.exit_code) {
          ++wrong;
          std::lock_guard<std::mutex> lock(mu);
          if (first_wrong.empty()) {
            first_wrong = id + " (`" + k.script + "`): " + status + " exit " +
                          (code ? std::to_string(*code) : "none") + " " + Str(job, "statusMsg");
          }
          continue;
        }
        const int64_t created = Millis(job, "created"), started = Millis(job, "started");
        finished[static_cast<size_t>(i)] = Millis(job, "finished");
        if (created >= 0 && started >= 0) {
          mine.push_back(static_cast<double>(started - created));
          // The first R submissions found a free slot: no wait in the queue.
          if (i < o.running) mine_direct.push_back(static_cast<double>(started - created));
        }
        // Its folder must be on exactly one node: the one it names as its host.
        int folders = 0;
        for (WeirServer* w : s.nodes) folders += fs::exists(w->data_dir() / "jobs" / id) ? 1 : 0;
        if (folders > 1) ++run_twice;
        if (folders == 0) ++no_folder;
      }
      std::lock_guard<std::mutex> lock(mu);
      to_running.insert(to_running.end(), mine.begin(), mine.end());
      to_running_direct.insert(to_running_direct.end(), mine_direct.begin(), mine_direct.end());
    });
  }
  for (auto& t : readers) t.join();
  const int64_t last_finished = *std::max_element(finished.begin(), finished.end());

  Figures f;
  f.lost = refused.load() + wrong.load();
  const double span_s = last_finished > wall0 ? (last_finished - wall0) / 1000.0 : elapsed_s;
  f.jobs_per_s = n / span_s;
  Print(p + "nodes", static_cast<double>(s.nodes.size()));
  Print(p + "seconds_to_last_finished", span_s);
  Print(p + "jobs_per_s", f.jobs_per_s);
  Print(p + "submit_to_running_p50_ms", weir::bench::Percentile(to_running, 0.5));
  Print(p + "submit_to_running_p99_ms", weir::bench::Percentile(to_running, 0.99));
  Print(p + "submit_to_running_first_" + std::to_string(o.running) + "_jobs_p50_ms",
        weir::bench::Percentile(to_running_direct, 0.5));
  Print(p + "submit_to_running_first_" + std::to_string(o.running) + "_jobs_p99_ms",
        weir::bench::Percentile(to_running_direct, 0.99));
  Print(p + "jobs_lost (target 0)", static_cast<double>(f.lost));
  if (!first_wrong.empty()) PrintText(p + "first_lost_job", first_wrong);
  Print(p + "jobs_run_on_two_nodes (target 0)", static_cast<double>(run_twice.load()));
  Print(p + "jobs_without_folder", static_cast<double>(no_folder.load()));
  Print(p + "weir_cpu_s_per_1000_jobs", weir_cpu * 1000.0 / n);
  if (s.postmaster > 0) {
    Print(p + "postgres_cpu_s_per_1000_jobs", pg_cpu * 1000.0 / n);
    Print(p + "postgres_commits_per_job", static_cast<double>(commits) / n);
    PrintText(p + "postgres_table_counters", tables);
  }
  Print(p + "load_average_1m_at_end", load);
  Print(p + "netflix_day_150000_jobs_minutes", 150000.0 / f.jobs_per_s / 60.0);
  if (final_count < expected || run_twice > 0) f.lost = std::max<int64_t>(f.lost, 1);
  return f;
}

// wrk -t1 -c16 for `seconds` against `url`: requests/s and the p99 in ms (0, 0 on failure).
std::pair<double, double> Wrk(const std::string& url, int seconds) {
  const std::string cmd =
      "wrk -t1 -c16 -d" + std::to_string(seconds) + "s --latency " + url + " 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) return {0, 0};
  std::string out;
  char buf[4096];
  while (size_t got = std::fread(buf, 1, sizeof buf, f)) out.append(buf, got);
  ::pclose(f);
  if (out.find("Non-2xx") != std::string::npos) {
    std::fprintf(stderr, "wrk got non-2xx answers from %s:\n%s\n", url.c_str(), out.c_str());
    return {0, 0};
  }
  double rps = 0, p99 = 0;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string a, b;
    words >> a >> b;
    if (a == "Requests/sec:") rps = std::atof(b.c_str());
    if (a == "99%") {
      double v = std::atof(b.c_str());
      if (b.size() > 2 && b.compare(b.size() - 2, 2, "us") == 0)
        v /= 1000;
      else if (b.size() > 2 && b.compare(b.size() - 2, 2, "ms") == 0) {
      } else if (!b.empty() && b.back() == 's')
        v *= 1000;
      p99 = v;
    }
  }
  return {rps, p99};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// A finished and a running job on `w`; their ids.
std::pair<std::string, std::string> A1Jobs(WeirServer& w) {
  weir::client::HttpClient http(w.url());
  auto done = http.PostJson("/api/v3/jobs", weir::bench::BashJobJson("echo hi", 1));
  auto sleeping = http.PostJson("/api/v3/jobs", weir::bench::BashJobJson("sleep 600", 1));
  if (!done.ok() || done->status != 202 || !sleeping.ok() || sleeping->status != 202) {
    std::fprintf(stderr, "a1: could not submit its jobs\n");
    std::exit(1);
  }
  std::string d = weir::bench::IdFromLocation(*done), r = weir::bench::IdFromLocation(*sleeping);
  bool ok = weir::testing::WaitFor(
      [&] {
        return Str(GetJson(http, "/api/v3/jobs/" + d), "status") == "SUCCEEDED" &&
               Str(GetJson(http, "/api/v3/jobs/" + r), "status") == "RUNNING";
      },
      std::chrono::seconds(300));
  if (!ok) {
    std::fprintf(stderr, "a1: its jobs did not reach SUCCEEDED / RUNNING in 300 s\n");
    std::exit(1);
  }
  return {d, r};
}

void RunA1(WeirServer& sqlite, WeirServer& pg, const Options& o) {
  auto [sd, sr] = A1Jobs(sqlite);
  auto [pd, pr] = A1Jobs(pg);
  struct Target {
    const char* name;
    std::string sqlite_url, pg_url;
  };
  const Target targets[] = {
      {"finished", sqlite.url() + "/api/v3/jobs/" + sd, pg.url() + "/api/v3/jobs/" + pd},
      {"running", sqlite.url() + "/api/v3/jobs/" + sr, pg.url() + "/api/v3/jobs/" + pr}};
  for (const Target& t : targets) {
    std::vector<double> s_rps, p_rps, s_p99, p_p99;
    for (int r = 0; r < o.a1_rounds; ++r) {
      auto [sr_rps, sr_p99] = Wrk(t.sqlite_url, o.a1_seconds);
      auto [pr_rps, pr_p99] = Wrk(t.pg_url, o.a1_seconds);
      if (sr_rps <= 0 || pr_rps <= 0) {
        std::fprintf(stderr, "a1: wrk failed\n");
        std::exit(1);
      }
      s_rps.push_back(sr_rps);
      p_rps.push_back(pr_rps);
      s_p99.push_back(sr_p99);
      p_p99.push_back(pr_p99);
      std::printf("a1_%s_round_%d: sqlite %.0f req/s, postgresql %.0f req/s\n", t.name, r + 1,
                  sr_rps, pr_rps);
    }
    const std::string p = std::string("a1_") + t.name + "_c16_";
    Print(p + "sqlite_req_per_s", Median(s_rps));
    Print(p + "postgresql_req_per_s", Median(p_rps));
    Print(p + "sqlite_p99_ms", Median(s_p99));
    Print(p + "postgresql_p99_ms", Median(p_p99));
    Print(p + "ratio_postgresql_to_sqlite", Median(p_rps) / Median(s_rps));
  }
  // The sleeping jobs outlive a server that stops (a restart re-adopts them): kill them.
  for (auto [w, id] : {std::pair{&sqlite, sr}, std::pair{&pg, pr}}) {
    weir::client::HttpClient http(w->url());
    (void)http.Delete("/api/v3/jobs/" + id);
    weir::testing::WaitFor(
        [&] { return Str(GetJson(http, "/api/v3/jobs/" + id), "status") == "KILLED"; },
        std::chrono::seconds(60));
  }
}

std::unique_ptr<WeirServer> Start(const fs::path& dir, const std::string& yaml, bool apply) {
  auto w = std::make_unique<WeirServer>(dir, yaml);
  std::string err = w->Start();
  if (!err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    std::exit(1);
  }
  if (apply) {
    auto r = weir::testing::RunWeir(
        w->url(), {"apply", "-f", std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml"});
    if (r.exit_code != 0) {
      std::fprintf(stderr, "apply failed: %s\n", r.err.c_str());
      std::exit(1);
    }
  }
  return w;
}

// The job settings of a node with `capacity` jobs of 1 MB at once and room to queue them all.
std::string JobsYaml(int capacity, int queued) {
  return "jobs:\n  max_active_jobs_per_user: 0\n  default_memory_mb: 1\n  max_system_memory_mb: " +
         std::to_string(capacity) +
         "\n  queue_enabled: true\n  max_queued_jobs: " + std::to_string(queued) +
         "\n  setup_threads: 2\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--jobs")
      o.jobs = std::atoi(argv[i + 1]);
    else if (a == "--running")
      o.running = std::atoi(argv[i + 1]);
    else if (a == "--clients")
      o.clients = std::atoi(argv[i + 1]);
    else if (a == "--only")
      o.only = argv[i + 1];
    else if (a == "--a1-rounds")
      o.a1_rounds = std::atoi(argv[i + 1]);
    else if (a == "--a1-seconds")
      o.a1_seconds = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (o.jobs < 3 || o.running < 3 || o.clients < 1) {
    std::fprintf(stderr, "--jobs and --running must be at least 3, --clients at least 1\n");
    return 2;
  }
  auto want = [&](const std::string& k) {
    return ("," + o.only + ",").find("," + k + ",") != std::string::npos;
  };
  ::signal(SIGPIPE, SIG_IGN);
  std::printf("a2_jobs: %d\na2_max_running: %d\na2_clients: %d\n", o.jobs, o.running, o.clients);
  Print("load_average_1m_at_start", weir::bench::LoadAverage1());

  auto pg = weir::store::testing::PostgresServer::Start();
  if (!pg.ok()) {
    std::fprintf(stderr, "postgresql: %s\n", pg.status().ToString().c_str());
    return 1;
  }
  auto db = (*pg)->CreateDatabase();
  if (!db.ok()) {
    std::fprintf(stderr, "postgresql: %s\n", db.status().ToString().c_str());
    return 1;
  }
  weir::testing::TempDir tmp;
  auto sqlite = Start(tmp.path() / "sqlite", JobsYaml(o.running, o.jobs), true);

  // Three nodes on one database, the capacity split (700 = 234 + 233 + 233); node 1 leads.
  std::vector<std::unique_ptr<WeirServer>> nodes;
  for (int k = 0; k < 3; ++k) {
    const int cap = o.running / 3 + (k < o.running % 3 ? 1 : 0);
    std::string yaml = "server:\n  node_id: node-" + std::to_string(k + 1) +
                       "\nstore:\n  type: postgresql\n  url: \"" + *db + "\"\n" +
                       JobsYaml(cap, o.jobs) +
                       "leader:\n  mode: static\n  static: " + (k == 0 ? "true" : "false") + "\n";
    // The clusters and commands are rows of the shared database: applied once, through node 1.
    nodes.push_back(Start(tmp.path() / ("node-" + std::to_string(k + 1)), yaml, k == 0));
  }

  int rc = 0;
  if (want("a2")) {
    Setup a{"sqlite", {sqlite.get()}, {sqlite->pid()}, -1};
    Setup b{"pg3", {}, {}, (*pg)->pid(), pg->get(), *db};
    for (auto& w : nodes) {
      b.nodes.push_back(w.get());
      b.cpu_pids.push_back(w->pid());
    }
    Figures fa = RunA2(a, o);
    Figures fb = RunA2(b, o);
    if (fa.lost > 0 || fb.lost > 0) rc = 1;
    Print("a2_ratio_pg3_to_sqlite_jobs_per_s", fb.jobs_per_s / fa.jobs_per_s);
    if (want("a1")) RunA1(*sqlite, *nodes.front(), o);
    Print("headline_a2_ratio_pg3_to_sqlite", fb.jobs_per_s / fa.jobs_per_s);
  } else if (want("a1")) {
    RunA1(*sqlite, *nodes.front(), o);
  }
  nodes.clear();
  sqlite.reset();
  return rc;  // the PostgreSQL server is stopped (by pid) as *pg goes
}
