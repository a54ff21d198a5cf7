// GET /metrics through the real binary: the counters a user would look at after running jobs,
// `promtool check metrics` on the real output, a real Prometheus (Debian's, started by the test
// on loopback) scraping weir and answering a query for a job counter, and who may read it.
//
// promtool or prometheus missing: WEIR_MISSING_SERVICE (a failure under WEIR_REQUIRE_SERVICES=1,
// as in CI; `make test` installs Debian's prometheus package).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <string>

#include "blob/sha256.h"
#include "client/http_client.h"
#include "common/testing/required_services.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

// The program on PATH, or "" when there is none.
std::string OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (!candidate.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return "";
}

// A loopback port free right now (the kernel's pick for port 0).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// The value of the sample `series` (name and labels exactly as rendered), or -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  const std::string prefix = series + " ";
  size_t pos = 0;
  while ((pos = text.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      return std::stod(text.substr(pos + prefix.size(), text.find('\n', pos) - pos));
    }
    pos += prefix.size();
  }
  return -1;
}

class MetricsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", "jobs:\n  kill_grace_ms: 500\n");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  std::string Submit(const std::string& script, int expected = 202, json::object extra = {}) {
    json::object req{{"name", "t"},
                     {"user", "tester"},
                     {"version", "1"},
                     {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                     {"commandCriteria", json::array{"type:bash"}},
                     {"commandArguments", json::array{json::value(script)}}};
    for (auto& [k, v] : extra) req[k] = v;
    auto r = http_->PostJson("/api/v3/jobs", json::serialize(req));
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->status, expected) << r->body;
    std::string loc = r->Header("location").value_or("");
    return loc.substr(loc.rfind('/') + 1);
  }

  std::string Status(const std::string& id) {
    auto r = http_->Get("/api/v3/jobs/" + id + "/status");
    return r.ok() && r->status == 200 ? Str(Parse(r->body), "status") : "";
  }

  // Three jobs that succeed and one that fails, all ended; returns the ids.
  std::vector<std::string> RunJobs() {
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(Submit("echo hello " + std::to_string(i)));
    ids.push_back(Submit("exit 3"));
    for (const std::string& id : ids) {
      EXPECT_TRUE(WaitFor(
          [&] {
            std::string s = Status(id);
            return s != "" && s != "INIT" && s != "RUNNING";
          },
          60s))
          << "job " << id << " never ended";
    }
    return ids;
  }

  std::string Metrics() {
    auto r = http_->Get("/metrics");
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->Header("content-type").value_or(""), "text/plain; version=0.0.4; charset=utf-8");
    return r->body;
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(MetricsE2eTest, CountsJobsSubmissionsAndRequestsByRoutePattern) {
  std::vector<std::string> ids = RunJobs();
  Submit("echo never", 412, {{"memory", 10'000'000}});  // over the maximum: recorded INVALID

  const std::string text = Metrics();
  EXPECT_EQ(Sample(text, "weir_job_transitions_total{status=\"SUCCEEDED\"}"), 3) << text;
  EXPECT_EQ(Sample(text, "weir_job_transitions_total{status=\"FAILED\"}"), 1) << text;
  EXPECT_EQ(Sample(text, "weir_job_transitions_total{status=\"RUNNING\"}"), 4) << text;
  EXPECT_EQ(Sample(text, "weir_job_submissions_total{outcome=\"accepted\"}"), 4) << text;
  EXPECT_EQ(Sample(text, "weir_job_submissions_total{outcome=\"unsatisfiable\"}"), 1) << text;
  EXPECT_EQ(Sample(text, "weir_job_transitions_total{status=\"INVALID\"}"), 1) << text;
  EXPECT_EQ(Sample(text, "weir_job_submit_to_running_seconds_count"), 4) << text;
  EXPECT_EQ(Sample(text, "weir_job_queue_length"), 0) << text;
  EXPECT_EQ(Sample(text,
                   "weir_http_requests_total{method=\"POST\",route=\"/api/v3/jobs\",status="
                   "\"202\"}"),
            4)
      << text;
  EXPECT_GE(Sample(text,
                   "weir_http_requests_total{method=\"GET\",route=\"/api/v3/jobs/{id}/"
                   "status\",status=\"200\"}"),
            4)
      << text;
  EXPECT_GE(Sample(text,
                   "weir_http_request_duration_seconds_count{method=\"GET\",route=\"/api/"
                   "v3/jobs/{id}/status\"}"),
            4)
      << text;
  // Bounded cardinality: a route's pattern, never the raw path with a job id.
  for (const std::string& id : ids) EXPECT_EQ(text.find(id), std::string::npos) << id;
  EXPECT_GT(Sample(text, "process_resident_memory_bytes"), 0) << text;
  EXPECT_GT(Sample(text, "process_open_fds"), 0) << text;
  EXPECT_GT(Sample(text, "process_threads"), 1) << text;
}

TEST_F(MetricsE2eTest, PromtoolAcceptsTheRealOutput) {
  const std::string promtool = OnPath("promtool");
  if (promtool.empty()) WEIR_MISSING_SERVICE("promtool", "not on PATH (Debian package prometheus)");
  RunJobs();
  const fs::path file = dir_.path() / "metrics.txt";
  WriteFile(file, Metrics());
  const fs::path out = dir_.path() / "promtool.out";
  const std::string cmd = ShellQuote(promtool) + " check metrics < " + ShellQuote(file.string()) +
                          " > " + ShellQuote(out.string()) + " 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << Slurp(out) << "\n--- the output checked:\n" << Slurp(file);
}

// A Prometheus of the test's own: temp dir, free loopback port, scraping weir every second.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& binary, const fs::path& dir, int weir_port)
      : dir_(dir), port_(FreePort()) {
    WriteFile(dir_ / "prometheus.yml",
              "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
              "scrape_configs:\n  - job_name: weir\n    metrics_path: /metrics\n"
              "    static_configs:\n      - targets: ['127.0.0.1:" +
                  std::to_string(weir_port) + "']\n");
    const std::string config = (dir_ / "prometheus.yml").string();
    const std::string data = (dir_ / "tsdb").string();
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
    const std::string log = (dir_ / "prometheus.log").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      const std::string config_flag = "--config.file=" + config;
      const std::string data_flag = "--storage.tsdb.path=" + data;
      ::execl(binary.c_str(), binary.c_str(), config_flag.c_str(), data_flag.c_str(),
              listen.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Log() const { return Slurp(dir_ / "prometheus.log"); }

 private:
  fs::path dir_;
  int port_;
  pid_t pid_ = -1;
};

TEST_F(MetricsE2eTest, RealPrometheusScrapesWeirAndAnswersAJobCounterQuery) {
  const std::string binary = OnPath("prometheus");
  if (binary.empty()) WEIR_MISSING_SERVICE("prometheus", "not on PATH (Debian package prometheus)");
  RunJobs();
  PrometheusProcess prom(binary, dir_.path() / "prometheus", server_->port());
  client::HttpClient api(prom.url(), std::chrono::seconds(5));
  std::string last;
  const bool answered = WaitFor(
      [&] {
        auto r = api.Get(
            "/api/v1/query?query=weir_job_transitions_total%7Bstatus%3D%22SUCCEEDED"
            "%22%7D");
        if (!r.ok() || r->status != 200) return false;
        last = r->body;
        json::value v = Parse(r->body);
        const json::array& result = v.at("data").at("result").as_array();
        // [ {"metric": {...}, "value": [ <time>, "3" ]} ]
        return result.size() == 1 && result[0].at("value").as_array()[1].as_string() == "3" &&
               result[0].at("metric").at("job").as_string() == "weir";
      },
      90s);
  EXPECT_TRUE(answered) << "Prometheus never answered 3 SUCCEEDED jobs; last answer: " << last
                        << "\n--- prometheus log:\n"
                        << prom.Log();
}

// With authentication on, /metrics needs the admin role, unless metrics.public opens it.
class MetricsAuthTest : public ::testing::Test {
 protected:
  std::unique_ptr<WeirServer> Start(bool open) {
    const fs::path tokens = dir_.path() / "tokens";
    WriteFile(tokens,
              blob::Sha256Hex(kUser) + " alice user\n" + blob::Sha256Hex(kAdmin) + " ops admin\n");
    EXPECT_EQ(::chmod(tokens.c_str(), 0600), 0);
    auto server = std::make_unique<WeirServer>(
        dir_.path() / (open ? "open" : "closed"),
        "auth:\n  mode: required\n  static_tokens_file: " + tokens.string() +
            "\nmetrics:\n  public: " + (open ? "true" : "false") + "\n");
    EXPECT_EQ(server->Start(), "");
    return server;
  }
  int StatusOf(const WeirServer& server, const std::string& token) {
    client::HttpClient c(server.url());
    if (!token.empty()) c.SetBearerToken(token);
    auto r = c.Get("/metrics");
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->status : -1;
  }
  const std::string kUser = "alice-5a1e7c", kAdmin = "ops-0b5e4d";
  TempDir dir_;
};

TEST_F(MetricsAuthTest, NeedsAdminUnlessPublic) {
  auto closed = Start(false);
  EXPECT_EQ(StatusOf(*closed, ""), 401);
  EXPECT_EQ(StatusOf(*closed, kUser), 403);
  EXPECT_EQ(StatusOf(*closed, kAdmin), 200);
  closed->Stop();
  auto open = Start(true);
  EXPECT_EQ(StatusOf(*open, ""), 200);
  client::HttpClient c(open->url());
  auto jobs = c.Get("/api/v3/jobs");  // only /metrics is opened
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->status, 401);
}

}  // namespace
}  // namespace weir::testing
