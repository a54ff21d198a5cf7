#include "bench_support.h"

#include <dirent.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace weir::bench {

namespace json = boost::json;
namespace fs = std::filesystem;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void Print(const std::string& name, double value) {
  std::printf("%s: %.3f\n", name.c_str(), value);
  std::fflush(stdout);
}

void PrintText(const std::string& name, const std::string& value) {
  std::printf("%s: %s\n", name.c_str(), value.c_str());
  std::fflush(stdout);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

const char* const kBenchConfig =
    "jobs:\n"
    "  max_active_jobs_per_user: 0\n"
    "  max_system_memory_mb: 100000000\n"
    "  setup_threads: 2\n";

std::unique_ptr<testing::WeirServer> StartDemoServer(const fs::path& data_dir,
                                                     const std::string& extra_config) {
  auto s = std::make_unique<testing::WeirServer>(data_dir, kBenchConfig + extra_config);
  std::string err = s->Start();
  if (!err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    std::exit(1);
  }
  auto applied = testing::RunWeir(
      s->url(), {"apply", "-f", std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml"});
  if (applied.exit_code != 0) {
    std::fprintf(stderr, "apply failed: %s\n", applied.err.c_str());
    std::exit(1);
  }
  return s;
}

std::string BashJobJson(const std::string& script, int memory_mb) {
  json::object req{{"name", "bench"},
                   {"user", "bench"},
                   {"version", "1"},
                   {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                   {"commandCriteria", json::array{"type:bash"}},
                   {"commandArgs", testing::ShellQuote(script)}};
  if (memory_mb > 0) req["memory"] = memory_mb;
  return json::serialize(req);
}

std::string IdFromLocation(const client::Response& r) {
  std::string loc = r.Header("location").value_or("");
  size_t slash = loc.rfind('/');
  return slash == std::string::npos ? "" : loc.substr(slash + 1);
}

bool IsFinal(const std::string& status) {
  return status == "SUCCEEDED" || status == "FAILED" || status == "KILLED" || status == "INVALID";
}

namespace {

// The parsed JSON body of a 200 answer to GET `path`, or null.
json::value GetJson(client::HttpClient& http, const std::string& path, int* http_status) {
  auto r = http.Get(path);
  if (http_status) *http_status = r.ok() ? r->status : 0;
  if (!r.ok() || r->status != 200) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  return ec ? json::value(nullptr) : v;
}

std::optional<int64_t> OptInt(const json::value& v, const char* key) {
  if (!v.is_object() || !v.as_object().contains(key)) return std::nullopt;
  const json::value& f = v.at(key);
  if (f.is_int64()) return f.as_int64();
  if (f.is_uint64()) return static_cast<int64_t>(f.as_uint64());
  if (f.is_string()) {
    const std::string s(f.as_string());
    char* end = nullptr;
    long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end && *end == '\0') return n;
  }
  return std::nullopt;
}

std::string Str(const json::value& v, const char* key) {
  if (!v.is_object() || !v.as_object().contains(key) || !v.at(key).is_string()) return "";
  return std::string(v.at(key).as_string());
}

}  // namespace

JobOutcome FetchOutcome(client::HttpClient& http, const std::string& id) {
  JobOutcome o;
  json::value job = GetJson(http, "/api/v3/jobs/" + id, &o.http_status);
  if (job.is_null()) return o;
  o.status = Str(job, "status");
  o.status_msg = Str(job, "statusMsg");
  o.started = !Str(job, "started").empty();
  if (!IsFinal(o.status)) return o;
  o.exit_code = OptInt(GetJson(http, "/api/v3/jobs/" + id + "/execution", nullptr), "exitCode");
  o.stdout_bytes = OptInt(GetJson(http, "/api/v3/jobs/" + id + "/metadata", nullptr), "stdOutSize");
  return o;
}

int64_t CountWithStatus(client::HttpClient& http, const std::string& status) {
  json::value page = GetJson(http, "/api/v3/jobs?size=1&status=" + status, nullptr);
  if (!page.is_object() || !page.as_object().contains("page")) return -1;
  return OptInt(page.at("page"), "totalElements").value_or(-1);
}

ProcSample SampleProcess(pid_t pid) {
  ProcSample s;
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream in(proc + "/status");
  std::string line;
  auto field = [&](const char* key, long* out) {
    size_t n = std::strlen(key);
    if (line.compare(0, n, key) == 0) *out = std::atol(line.c_str() + n);
  };
  while (std::getline(in, line)) {
    field("VmRSS:", &s.rss_kb);
    field("VmHWM:", &s.hwm_kb);
    field("Threads:", &s.threads);
  }
  if (DIR* d = ::opendir((proc + "/fd").c_str())) {
    long n = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    s.fds = n;
  }
  return s;
}

int64_t DatabaseBytes(const fs::path& data_dir) {
  int64_t total = 0;
  for (const char* name : {"weir.db", "weir.db-wal"}) {
    std::error_code ec;
    auto n = fs::file_size(data_dir / name, ec);
    if (!ec) total += static_cast<int64_t>(n);
  }
  return total;
}

double LoadAverage1() {
  double l[1] = {-1};
  return ::getloadavg(l, 1) == 1 ? l[0] : -1;
}

}  // namespace weir::bench
