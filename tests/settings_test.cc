// Settings through the real binary (issue 16): each test starts `weir server` with a config file
// that sets one group of settings, and checks what a user would notice if the server ignored it:
// where archives go, output served from an archive once the job folder is swept, attachment
// limits, HTTP and handler threads, and SIGTERM followed by re-adoption of running jobs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "client/http_client.h"
#include "job_api.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

// Names of the entries of a listing's "files" or "directories" (folders end in "/").
std::set<std::string> Names(const json::value& listing, const char* key) {
  std::set<std::string> out;
  if (!listing.is_object() || !listing.as_object().contains(key)) return out;
  for (const auto& e : listing.at(key).as_array()) out.insert(Str(e, "name"));
  return out;
}

// Threads of a live process (/proc/PID/task).
int ThreadCount(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(fs::path("/proc") / std::to_string(pid) / "task", ec), end;
       !ec && it != end; it.increment(ec)) {
    ++n;
  }
  return n;
}

class SettingsTest : public ::testing::Test {
 protected:
  // Starts a server with `config` and the demo applications, commands and cluster.
  void StartServer(const std::string& config) {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", config);
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  json::object Request(const std::string& script) { return BashJobRequest(script); }

  std::string Submit(const std::string& script) { return SubmitJob(*http_, Request(script)); }

  json::value Get(const std::string& path) { return GetJson(*http_, path); }

  std::string Status(const std::string& id) { return JobStatus(*http_, id); }

  std::string WaitFinal(const std::string& id) { return WaitJobFinal(*http_, id); }

  bool WaitRunning(const std::string& id) {
    return WaitFor([&] { return Status(id) == "RUNNING"; }, 60s);
  }

  fs::path data() const { return server_->data_dir(); }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

// ---- archive.location ----

TEST_F(SettingsTest, ArchiveLocationPutsTheFinishedJobsArchiveInTheConfiguredFolder) {
  const fs::path custom = dir_.path() / "elsewhere" / "job-archives";
  StartServer("archive:\n  location: file://" + custom.string() + "\n");
  std::string id = Submit("echo archived-output");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");

  const fs::path archive = custom / (id + ".tar.gz");
  ASSERT_TRUE(WaitFor([&] { return fs::exists(archive); }, 60s))
      << "no archive at " << archive << "; the default folder holds: "
      << (fs::exists(data() / "archives") ? "something" : "nothing");
  EXPECT_GT(fs::file_size(archive), 0u);
  // Not in the default place.
  EXPECT_FALSE(fs::exists(data() / "archives" / (id + ".tar.gz")));
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + id), "archiveLocation"), "file://" + archive.string());
}

// ---- output served from the archive once the job folder is swept ----

TEST_F(SettingsTest, OutputIsServedFromTheArchiveAfterTheJobFolderIsSwept) {
  const fs::path custom = dir_.path() / "kept";
  StartServer("archive:\n  location: file://" + custom.string() +
              "\n  job_dir_retention_hours: 0\n  sweep_interval_s: 1\n");
  std::string id = Submit("echo from-the-job; mkdir -p results; echo 42 > results/answer.txt");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");
  const fs::path job_dir = data() / "jobs" / id;
  ASSERT_TRUE(WaitFor([&] { return !fs::exists(job_dir); }, 60s))
      << "the retention sweep never removed " << job_dir;
  ASSERT_TRUE(fs::exists(custom / (id + ".tar.gz")));

  auto out = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status, 200) << out->body;
  EXPECT_EQ(out->body, "from-the-job\n");
  EXPECT_EQ(out->Header("x-weir-output-source").value_or(""), "archive");

  json::value root = Get("/api/v3/jobs/" + id + "/output");
  EXPECT_TRUE(Names(root, "files").count("stdout")) << json::serialize(root);
  EXPECT_TRUE(Names(root, "directories").count("results/")) << json::serialize(root);
  json::value results = Get("/api/v3/jobs/" + id + "/output/results");
  EXPECT_EQ(Names(results, "files"), std::set<std::string>{"answer.txt"})
      << json::serialize(results);
  auto answer = http_->Get("/api/v3/jobs/" + id + "/output/results/answer.txt");
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->body, "42\n");
  EXPECT_EQ(answer->Header("x-weir-output-source").value_or(""), "archive");
}

// ---- attachments.max_file_bytes, attachments.max_total_bytes ----

TEST_F(SettingsTest, AttachmentLimitsRefuseOversizedSubmissionsWith413) {
  StartServer("attachments:\n  max_file_bytes: 1000\n  max_total_bytes: 1500\n");
  TempDir files;
  auto file = [&](const std::string& name, size_t bytes) {
    WriteFile(files.path() / name, std::string(bytes, 'x'));
    return client::Part{"attachment", name, "application/octet-stream", "", files.path() / name};
  };
  auto submit = [&](std::vector<client::Part> attachments) {
    json::object req = Request("cat *.bin | wc -c");
    std::vector<client::Part> parts = {
        {"request", "", "application/json", json::serialize(req), {}}};
    for (auto& p : attachments) parts.push_back(std::move(p));
    auto r = http_->PostMultipart("/api/v3/jobs", parts);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : client::Response{};
  };

  client::Response one_too_big = submit({file("big.bin", 1001)});
  EXPECT_EQ(one_too_big.status, 413) << one_too_big.body;
  EXPECT_EQ(Str(Parse(one_too_big.body), "message"),
            "attachment 'big.bin': 1001 bytes, more than the limit of 1000 bytes per file");

  client::Response too_much = submit({file("a.bin", 800), file("b.bin", 701)});
  EXPECT_EQ(too_much.status, 413) << too_much.body;
  EXPECT_EQ(Str(Parse(too_much.body), "message"),
            "attachments: 1501 bytes in all, more than the limit of 1500 bytes");

  // Exactly at both limits: accepted, and the job sees every byte.
  client::Response fits = submit({file("c.bin", 1000), file("d.bin", 500)});
  ASSERT_EQ(fits.status, 202) << fits.body;
  std::string id = JobIdOf(fits);
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");
  EXPECT_EQ(http_->Get("/api/v3/jobs/" + id + "/output/stdout")->body, "1500\n");
  // The refused submissions left no job behind.
  json::value all = Get("/api/v3/jobs");
  EXPECT_EQ(all.at("_embedded").at("jobSearchResultList").as_array().size(), 1u);
}

// ---- server.http_threads, server.handler_threads ----

// The server really runs the configured threads: a server with 5 more I/O threads and 7 more
// handler threads than another has exactly 12 more threads.
TEST_F(SettingsTest, HttpAndHandlerThreadsAreTheConfiguredNumbers) {
  auto threads_of = [&](int http, int handlers) {
    TempDir d;
    WeirServer s(d.path() / "data", "server:\n  http_threads: " + std::to_string(http) +
                                        "\n  handler_threads: " + std::to_string(handlers) + "\n");
    EXPECT_EQ(s.Start(), "");
    client::HttpClient c(s.url());
    auto health = c.Get("/admin/health");  // every pool is up once a request has been served
    EXPECT_TRUE(health.ok() && health->status == 200);
    int n = ThreadCount(s.pid());
    s.Stop();
    return n;
  };
  const int small = threads_of(1, 2);
  const int large = threads_of(6, 9);
  EXPECT_GT(small, 3);
  EXPECT_EQ(large - small, (6 - 1) + (9 - 2)) << small << " threads, then " << large;
}

// With several I/O and handler threads, a request whose body is still arriving does not hold up
// another client: the fast answer arrives while the slow request is still open, and the slow one
// completes afterwards.
TEST_F(SettingsTest, ASlowRequestDoesNotDelayAFastOneWithSeveralThreads) {
  StartServer("server:\n  http_threads: 4\n  handler_threads: 4\n");
  const std::string body =
      R"({"id":"slow-app","name":"slow","user":"u","version":"1","status":"ACTIVE"})";
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto send_all = [&](const std::string& bytes) {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  };
  const size_t half = body.size() / 2;
  ASSERT_TRUE(
      send_all("POST /api/v3/applications HTTP/1.1\r\nHost: x\r\n"
               "Content-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, half)));

  // Fast requests on other connections answer while the slow body is incomplete.
  for (int i = 0; i < 3; ++i) {
    client::HttpClient fast(server_->url(), 10s);
    auto health = fast.Get("/admin/health");
    ASSERT_TRUE(health.ok()) << health.status();
    EXPECT_EQ(health->status, 200);
    auto apps = fast.Get("/api/v3/applications");
    ASSERT_TRUE(apps.ok());
    EXPECT_EQ(apps->status, 200);
  }
  // The slow request is still open: no answer yet, connection not closed.
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "the server answered or closed an incomplete request";

  ASSERT_TRUE(send_all(body.substr(half)));
  std::string answer;
  ASSERT_TRUE(WaitFor(
      [&] {
        pollfd q{fd, POLLIN, 0};
        if (::poll(&q, 1, 0) > 0) {
          char buf[4096];
          ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          if (n <= 0) return true;
          answer.append(buf, static_cast<size_t>(n));
        }
        return answer.find("\r\n\r\n") != std::string::npos;
      },
      30s))
      << "no answer to the completed slow request: " << answer;
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer;
  EXPECT_EQ(Str(Get("/api/v3/applications/slow-app"), "name"), "slow");
}

// ---- SIGTERM, then re-adoption ----

// SIGTERM stops the server but not its jobs. The next start re-adopts them: a job that ended while
// the server was down gets its true outcome, and one still running is RUNNING, then ends with its
// real exit code and its full output.
TEST_F(SettingsTest, JobsSurviveSigtermAndAreReadoptedByTheNextStart) {
  StartServer("jobs:\n  kill_grace_ms: 500\n");
  const fs::path gate_a = dir_.path() / "gate-a", gate_b = dir_.path() / "gate-b";
  auto gated = [](const fs::path& gate, const std::string& then) {
    // The job also ends if the test's folder is gone (a failed test leaves no process behind).
    return "echo started; while [ ! -e " + ShellQuote(gate.string()) + " ]; do sleep 0.05; [ -d " +
           ShellQuote(gate.parent_path().string()) + " ] || exit 9; done; " + then;
  };
  std::string a = Submit(gated(gate_a, "echo a-done; exit 5"));
  std::string b = Submit(gated(gate_b, "echo b-done"));
  ASSERT_TRUE(WaitRunning(a));
  ASSERT_TRUE(WaitRunning(b));
  auto pid_of = [&](const std::string& id) {
    return static_cast<pid_t>(
        Get("/api/v3/jobs/" + id + "/execution").at("processId").to_number<int64_t>());
  };
  const pid_t pid_a = pid_of(a), pid_b = pid_of(b);

  server_->Stop();  // SIGTERM, waits for the server to exit
  EXPECT_FALSE(ProcessesInGroup(pid_a).empty()) << "SIGTERM of the server ended job a";
  EXPECT_FALSE(ProcessesInGroup(pid_b).empty()) << "SIGTERM of the server ended job b";
  // Job a ends while the server is down.
  WriteFile(gate_a, "");
  ASSERT_TRUE(WaitFor([&] { return ProcessesInGroup(pid_a).empty(); }, 30s))
      << "job a did not end after its gate opened";

  ASSERT_EQ(server_->Start(), "");
  EXPECT_EQ(WaitFinal(a), "FAILED");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + a + "/execution"), "exitCode"), "5");
  EXPECT_EQ(http_->Get("/api/v3/jobs/" + a + "/output/stdout")->body, "started\na-done\n");

  EXPECT_EQ(Status(b), "RUNNING");
  EXPECT_FALSE(ProcessesInGroup(pid_b).empty());
  WriteFile(gate_b, "");
  EXPECT_EQ(WaitFinal(b), "SUCCEEDED");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + b + "/execution"), "exitCode"), "0");
  EXPECT_EQ(http_->Get("/api/v3/jobs/" + b + "/output/stdout")->body, "started\nb-done\n");
  EXPECT_EQ(Str(Get("/api/v3/jobs/" + b), "statusMsg"), "Job finished successfully.");
}

}  // namespace
}  // namespace weir::testing
