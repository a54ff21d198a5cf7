// Job gateway benchmarks J1, J2, J3 of docs/performance.md (spec: shared/spec/performance.md).
// Every figure is printed as `name: value`; ratios compare weir with a reference measured in the
// same run. Usage: gateway_bench [--jobs N] [--rounds R] [--sleepers N] [--only j1,j1s,j2,j3]
// (j1s: J1 on one server in alternating rounds without and with a stalled event subscriber).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/http_client.h"
#include "common/time_format.h"
#include "weir_process.h"

extern char** environ;

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using weir::testing::TempDir;
using weir::testing::WeirServer;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

void Print(const std::string& name, double value, const char* unit = "") {
  std::printf("%s: %.3f%s\n", name.c_str(), value, unit);
  std::fflush(stdout);
}

// Reference: posix_spawn + waitpid of a 5-line bash run script writing to a file, `parallel` in
// flight, as the raw limit of starting jobs on this machine.
double RawSpawnRate(const std::filesystem::path& dir, int jobs, int parallel) {
  std::filesystem::create_directories(dir);
  auto script = dir / "run";
  // The same command weir runs for a job (`/bin/bash -c 'echo hi'`), output to files, exit code
  // recorded: a 5-line script with no other process than the command.
  std::ofstream(script) << "#!/bin/bash\n"
                           "cd \"${0%/run}\"\n"
                           "export GENIE_JOB_ID=bench\n"
                           "/bin/bash -c 'echo hi' > stdout 2> stderr\n"
                           "echo \"{\\\"exitCode\\\":\\\"$?\\\"}\" > done\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  std::vector<std::string> dirs;
  for (int i = 0; i < parallel; ++i) {
    auto d = dir / std::to_string(i);
    std::filesystem::create_directories(d);
    std::filesystem::copy_file(script, d / "run",
                               std::filesystem::copy_options::overwrite_existing);
    dirs.push_back((d / "run").string());
  }
  auto start = Clock::now();
  std::vector<pid_t> slots(parallel, 0);
  int started = 0, done = 0;
  while (done < jobs) {
    for (int s = 0; s < parallel && started < jobs; ++s) {
      if (slots[s]) continue;
      char* argv[] = {const_cast<char*>("/bin/bash"), const_cast<char*>(dirs[s].c_str()), nullptr};
      pid_t pid;
      posix_spawn(&pid, "/bin/bash", nullptr, nullptr, argv, environ);
      slots[s] = pid;
      ++started;
    }
    int status;
    pid_t pid = ::wait(&status);
    for (auto& s : slots) {
      if (s == pid) s = 0;
    }
    ++done;
  }
  return jobs / std::chrono::duration<double>(Clock::now() - start).count();
}

std::string JobJson(const std::string& args, int memory = 0) {
  json::object req{{"name", "bench"},
                   {"user", "bench"},
                   {"version", "1"},
                   {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                   {"commandCriteria", json::array{"type:bash"}},
                   {"commandArgs", args}};
  if (memory) req["memory"] = memory;
  return json::serialize(req);
}

int64_t CountWithStatus(weir::client::HttpClient& http, const std::string& status) {
  auto r = http.Get("/api/v3/jobs?size=1&status=" + status);
  if (!r.ok() || r->status != 200) return -1;
  return json::parse(r->body).at("page").at("totalElements").to_number<int64_t>();
}

// Submits `jobs` copies of `args` from `threads` client threads; returns the job ids.
std::vector<std::string> SubmitMany(const std::string& url, int jobs, int threads,
                                    const std::string& args, int memory = 0) {
  std::vector<std::string> ids(jobs);
  std::atomic<int> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      weir::client::HttpClient http(url);
      std::string body = JobJson(args, memory);
      for (int i = next++; i < jobs; i = next++) {
        auto r = http.PostJson("/api/v3/jobs", body);
        if (!r.ok() || r->status != 202) {
          std::fprintf(stderr, "submit failed: %s\n",
                       r.ok() ? r->body.c_str() : r.status().ToString().c_str());
          continue;
        }
        std::string loc = r->Header("location").value_or("");
        ids[i] = loc.substr(loc.rfind('/') + 1);
      }
    });
  }
  for (auto& t : ts) t.join();
  return ids;
}

void WaitCount(weir::client::HttpClient& http, const std::string& status, int64_t n,
               int64_t base = 0, std::chrono::seconds limit = std::chrono::seconds(600)) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end && CountWithStatus(http, status) < base + n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

const char* kConfig =
    "jobs:\n"
    "  max_active_jobs_per_user: 0\n"
    "  max_system_memory_mb: 100000000\n"
    "  setup_threads: 2\n";

std::unique_ptr<WeirServer> StartServer(const std::filesystem::path& dir) {
  auto s = std::make_unique<WeirServer>(dir, kConfig);
  std::string err = s->Start();
  if (!err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    std::exit(1);
  }
  auto applied = weir::testing::RunWeir(
      s->url(), {"apply", "-f", std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml"});
  if (applied.exit_code != 0) {
    std::fprintf(stderr, "apply failed: %s\n", applied.err.c_str());
    std::exit(1);
  }
  return s;
}

long ReadStatusKb(pid_t pid, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key) + 1));
  }
  return -1;
}

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(in, s);
  std::istringstream rest(s.substr(s.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {
    rest >> field;
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

struct JobTimes {
  double to_running_ms, to_final_ms, runtime_ms;
};

std::vector<JobTimes> Times(const std::string& url, const std::vector<std::string>& ids) {
  weir::client::HttpClient http(url);
  std::vector<JobTimes> out;
  for (const auto& id : ids) {
    if (id.empty()) continue;
    auto r = http.Get("/api/v3/jobs/" + id);
    if (!r.ok() || r->status != 200) continue;
    auto v = json::parse(r->body);
    auto t = [&](const char* k) -> double {
      if (!v.as_object().contains(k) || !v.at(k).is_string()) return -1;
      auto p = weir::ParseIso8601(std::string(v.at(k).as_string()));
      return p.ok() ? static_cast<double>(weir::ToEpochMillis(*p)) : -1;
    };
    double created = t("created"), started = t("started"), finished = t("finished");
    if (created < 0 || started < 0 || finished < 0) continue;
    out.push_back({started - created, finished - created, finished - started});
  }
  return out;
}

// A subscriber of GET /api/weir/v1/events that never reads: its socket fills (a small receive
// buffer), then its buffer in the server. Returns the socket, or -1. Close it to end it.
int StalledSubscriber(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int small = 1024;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string get = "GET /api/weir/v1/events HTTP/1.1\r\nHost: bench\r\n\r\n";
  char first = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::write(fd, get.data(), get.size()) != static_cast<ssize_t>(get.size()) ||
      ::recv(fd, &first, 1, MSG_PEEK) != 1) {  // the stream's head: the server subscribed it
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = 2000, rounds = 3, sleepers = 1000;
  std::string only = "j1,j2,j3";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--jobs")
      jobs = std::atoi(argv[i + 1]);
    else if (a == "--rounds")
      rounds = std::atoi(argv[i + 1]);
    else if (a == "--sleepers")
      sleepers = std::atoi(argv[i + 1]);
    else if (a == "--only")
      only = argv[i + 1];
  }
  auto want = [&](const std::string& k) {
    return ("," + only + ",").find("," + k + ",") != std::string::npos;
  };
  TempDir tmp;
  double headline = 0;

  if (want("j1")) {
    auto server = StartServer(tmp.path() / "j1");
    weir::client::HttpClient http(server->url());
    std::vector<double> raw, e2e;
    int64_t done = 0;
    for (int r = 0; r < rounds; ++r) {
      raw.push_back(RawSpawnRate(tmp.path() / "raw", jobs, 8));
      auto start = Clock::now();
      SubmitMany(server->url(), jobs, 8, "'echo hi'");
      WaitCount(http, "SUCCEEDED", jobs, done);
      done += jobs;
      e2e.push_back(jobs / std::chrono::duration<double>(Clock::now() - start).count());
      std::printf("j1_round_%d: raw %.0f jobs/s, weir %.0f jobs/s\n", r + 1, raw.back(),
                  e2e.back());
    }
    Print("j1_raw_spawn_jobs_per_s", Median(raw));
    Print("j1_weir_end_to_end_jobs_per_s", Median(e2e));
    Print("j1_vs_slurm_reference_40_jobs_per_s", Median(e2e) / 40.0);
    headline = Median(e2e) / Median(raw);
    Print("j1_ratio_weir_to_raw (target >= 0.40)", headline);
  }

  if (want("j1s")) {
    // The same J1 load on one server, alternating rounds without and with a subscriber that
    // never reads (issue 13: job handling within 10 % of J1 with one stalled subscriber).
    auto server = StartServer(tmp.path() / "j1s");
    weir::client::HttpClient http(server->url());
    std::vector<double> plain, stalled;
    int64_t done = 0;
    for (int r = 0; r < rounds; ++r) {
      for (bool with_stalled : {false, true}) {
        int fd = with_stalled ? StalledSubscriber(server->port()) : -1;
        if (with_stalled && fd < 0) {
          std::fprintf(stderr, "j1s: the stalled subscriber could not connect\n");
          return 1;
        }
        auto start = Clock::now();
        SubmitMany(server->url(), jobs, 8, "'echo hi'");
        WaitCount(http, "SUCCEEDED", jobs, done);
        done += jobs;
        double rate = jobs / std::chrono::duration<double>(Clock::now() - start).count();
        (with_stalled ? stalled : plain).push_back(rate);
        if (fd >= 0) ::close(fd);
      }
      std::printf("j1s_round_%d: weir %.0f jobs/s, with a stalled subscriber %.0f jobs/s\n", r + 1,
                  plain.back(), stalled.back());
    }
    Print("j1s_weir_jobs_per_s", Median(plain));
    Print("j1s_weir_with_stalled_subscriber_jobs_per_s", Median(stalled));
    Print("j1s_ratio_stalled_to_plain (target >= 0.90)", Median(stalled) / Median(plain));
  }

  if (want("j2")) {
    auto server = StartServer(tmp.path() / "j2");
    std::vector<std::string> ids;
    std::vector<std::thread> ts;
    const int rate = 50, seconds = 10;
    auto start = Clock::now();
    weir::client::HttpClient http(server->url());
    for (int i = 0; i < rate * seconds; ++i) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1000000 / rate));
      auto r = http.PostJson("/api/v3/jobs", JobJson("true"));
      if (r.ok() && r->status == 202) {
        std::string loc = r->Header("location").value_or("");
        ids.push_back(loc.substr(loc.rfind('/') + 1));
      }
    }
    WaitCount(http, "SUCCEEDED", static_cast<int64_t>(ids.size()));
    auto times = Times(server->url(), ids);
    std::vector<double> running, final;
    for (const auto& t : times) {
      running.push_back(t.to_running_ms);
      final.push_back(t.to_final_ms);
    }
    Print("j2_jobs", static_cast<double>(times.size()));
    Print("j2_submit_to_running_p50_ms (target <= 5)", Percentile(running, 0.5));
    Print("j2_submit_to_running_p99_ms (target <= 25)", Percentile(running, 0.99));
    Print("j2_submit_to_succeeded_p50_ms (target <= 15)", Percentile(final, 0.5));
  }

  if (want("j3")) {
    auto server = StartServer(tmp.path() / "j3");
    weir::client::HttpClient http(server->url());
    const int sleep_s = 20;
    auto ids = SubmitMany(server->url(), sleepers, 8, "'sleep " + std::to_string(sleep_s) + "'", 1);
    WaitCount(http, "RUNNING", sleepers, 0, std::chrono::seconds(120));
    int64_t running = CountWithStatus(http, "RUNNING");
    std::this_thread::sleep_for(std::chrono::seconds(1));
    double cpu0 = CpuSeconds(server->pid());
    auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(5));
    double cpu = (CpuSeconds(server->pid()) - cpu0) /
                 std::chrono::duration<double>(Clock::now() - t0).count();
    long rss = ReadStatusKb(server->pid(), "VmRSS:");
    WaitCount(http, "SUCCEEDED", sleepers, 0, std::chrono::seconds(180));
    long hwm = ReadStatusKb(server->pid(), "VmHWM:");
    auto times = Times(server->url(), ids);
    std::vector<double> lag;
    for (const auto& t : times) lag.push_back(t.runtime_ms - sleep_s * 1000.0);
    Print("j3_jobs_running_at_once", static_cast<double>(running));
    Print("j3_server_rss_mb_while_sleeping (target <= 200)", rss / 1024.0);
    Print("j3_server_peak_rss_mb", hwm / 1024.0);
    Print("j3_server_cpu_percent_of_one_core_while_sleeping (target <= 5)", cpu * 100);
    Print("j3_end_recorded_after_sleep_p50_ms", Percentile(lag, 0.5));
    Print("j3_end_recorded_after_sleep_p99_ms (target <= 50)", Percentile(lag, 0.99));
  }
  if (headline > 0) Print("headline_j1_ratio", headline);
  return 0;
}
