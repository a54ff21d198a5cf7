// Durability under hostile conditions, against the real `weir server` binary: a job acknowledged
// (202) runs even when the server is killed during its set-up, and a full disk gets clear 507
// answers, a degraded health report, and loses no job end.
//
// The full-disk test puts the server's data dir on a small tmpfs of its own (mount(2), which
// needs root or CAP_SYS_ADMIN; the test is skipped, saying so, where it cannot mount) and fills
// it with a file, then frees the space by deleting that file.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <thread>
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

// Polls `pred` until it holds or `limit` passes; the caller asserts on the result.
bool Eventually(const std::function<bool()>& pred, std::chrono::seconds limit = 30s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(25ms);
  }
  return pred();
}

// An HTTP server on loopback that accepts requests and answers none until Release(): a job
// dependency served by it keeps the job in set-up as long as the test wants.
class HeldDependency {
 public:
  explicit HeldDependency(std::string body) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 && ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
    thread_ = std::thread([this] { Loop(); });
  }
  ~HeldDependency() {
    stop_ = true;
    thread_.join();
    for (int c : held_) ::close(c);
    ::close(fd_);
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int requests() const { return requests_; }
  void Release() { released_ = true; }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          held_.push_back(c);
          ++requests_;
        }
      }
      if (!released_) continue;
      for (int c : held_) {
        char buf[4096];
        pollfd rp{c, POLLIN, 0};
        if (::poll(&rp, 1, 500) > 0) (void)::recv(c, buf, sizeof buf, 0);
        const std::string reply =
            "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_.size()) +
            "\r\nConnection: close\r\n\r\n" + body_;
        (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
        ::close(c);
      }
      held_.clear();
    }
  }

  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> held_;  // used by the loop thread only (and the destructor after it)
  std::atomic<bool> stop_{false};
  std::atomic<bool> released_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

class DurabilityTest : public ::testing::Test {
 protected:
  void StartServer(const fs::path& data_dir, const std::string& config) {
    server_ = std::make_unique<WeirServer>(data_dir, config);
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
  }

  // Cluster "local" with command "bash" and, when `held_dependency` is set, command "held"
  // (tag type:held) whose dependency is that URL (admin-made configuration).
  void Configure(const std::string& held_dependency = "") {
    std::string yaml = R"(commands:
  - {id: bash, name: bash, user: admin, version: "1", status: ACTIVE,
     executable: /bin/bash -c, tags: [type:bash]}
)";
    std::string commands = "bash";
    if (!held_dependency.empty()) {
      yaml +=
          "  - {id: held, name: held, user: admin, version: \"1\", status: ACTIVE,\n"
          "     executable: /bin/bash -c, tags: [type:held],\n"
          "     dependencies: [\"" +
          held_dependency + "\"]}\n";
      commands += ", held";
    }
    yaml +=
        "clusters:\n  - {id: local, name: local, user: admin, version: \"1\", status: UP,\n"
        "     tags: [sched:sla], commands: [" +
        commands + "]}\n";
    const fs::path file = config_dir_.path() / "config.yaml";
    WriteFile(file, yaml);
    auto applied = RunWeir(server_->url(), {"apply", "-f", file.string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.err << applied.out;
  }

  static json::object Request(const std::string& script, const std::string& command_tag) {
    return json::object{{"name", "durable"},
                        {"user", "tester"},
                        {"version", "1"},
                        {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                        {"commandCriteria", json::array{json::value(command_tag)}},
                        {"commandArgs", "'" + script + "'"}};  // one argument of bash -c
  }

  std::string IdOf(const client::Response& r) {
    std::string loc = r.Header("location").value_or("");
    return loc.substr(loc.rfind('/') + 1);
  }

  std::string Submit(const std::string& script) {
    auto r = http_->PostJson("/api/v3/jobs", json::serialize(Request(script, "type:bash")));
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 202) << r->body;
    return IdOf(*r);
  }

  std::string Status(const std::string& id) { return JobStatus(*http_, id); }

  // The status as the store has it: a search reads the database, not the service's memory.
  std::string StoredStatus(const std::string& id) {
    auto r = http_->Get("/api/v3/jobs?id=" + id);
    if (!r.ok() || r->status != 200) return "";
    json::value page = Parse(r->body);
    if (!page.is_object() || !page.as_object().contains("_embedded")) return "";
    const auto& list = page.at("_embedded").at("jobSearchResultList").as_array();
    return list.empty() ? "" : Str(list[0], "status");
  }

  std::string WaitFinal(const std::string& id, std::chrono::seconds limit = 60s) {
    std::string s;
    Eventually(
        [&] {
          s = Status(id);
          return !s.empty() && s != "INIT" && s != "RUNNING";
        },
        limit);
    return s;
  }

  TempDir dir_;
  TempDir config_dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

// Issue 8 item 9: a job answered 202 whose set-up (here: a dependency download, with an
// attachment staged) had not finished when the server was killed must still run after the
// restart, with its attachment, and only once.
TEST_F(DurabilityTest, AJobAcknowledgedDuringSetUpRunsAfterKill9) {
  HeldDependency dep("from the dependency\n");
  StartServer(dir_.path() / "data", "jobs:\n  kill_grace_ms: 500\n  min_free_disk_mb: 0\n");
  Configure(dep.Url("/dep.txt"));

  const fs::path runs = dir_.path() / "runs";
  WriteFile(dir_.path() / "upload" / "data.txt", "from the attachment\n");
  json::object req = Request(
      "echo run >> " + runs.string() + "; cat data.txt $GENIE_COMMAND_DIR/dependencies/dep.txt",
      "type:held");
  auto r = http_->PostMultipart(
      "/api/v3/jobs",
      {{"request", "", "application/json", json::serialize(req), {}},
       {"attachment", "data.txt", "text/plain", "", dir_.path() / "upload" / "data.txt"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string id = IdOf(*r);

  ASSERT_TRUE(Eventually([&] { return dep.requests() > 0; })) << "set-up never fetched";
  EXPECT_EQ(Status(id), "INIT");
  server_->Kill9();
  ASSERT_EQ(server_->Start(), "");
  dep.Release();

  EXPECT_EQ(WaitFinal(id), "SUCCEEDED") << Parse(http_->Get("/api/v3/jobs/" + id)->body);
  auto out = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->body, "from the attachment\nfrom the dependency\n");
  EXPECT_EQ(Slurp(runs), "run\n");  // once
}

// A job that launched just before the crash, while RUNNING had not been recorded, is re-adopted
// and not started a second time (its launch marker is on disk).
TEST_F(DurabilityTest, AJobRunningAcrossKill9RunsOnce) {
  StartServer(dir_.path() / "data", "jobs:\n  kill_grace_ms: 500\n  min_free_disk_mb: 0\n");
  Configure();
  const fs::path runs = dir_.path() / "runs";
  const fs::path gate = dir_.path() / "gate";
  std::string id = Submit("echo run >> " + runs.string() + "; while [ ! -e " + gate.string() +
                          " ]; do sleep 0.05; done; echo ended");
  ASSERT_TRUE(Eventually([&] { return Status(id) == "RUNNING"; }));
  server_->Kill9();
  ASSERT_EQ(server_->Start(), "");
  WriteFile(gate, "go");
  EXPECT_EQ(WaitFinal(id), "SUCCEEDED");
  EXPECT_EQ(http_->Get("/api/v3/jobs/" + id + "/output/stdout")->body, "ended\n");
  EXPECT_EQ(Slurp(runs), "run\n");
}

// A tmpfs of its own for the server's data dir; unmounted (lazily) by the destructor.
class SmallDisk {
 public:
  SmallDisk(fs::path dir, const std::string& size) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    const std::string options = "size=" + size + ",mode=0755";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

  // Writes `file` until the disk refuses another byte.
  void Fill(const fs::path& file) {
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    std::vector<char> block(1 << 20, 'x');
    for (size_t chunk : {size_t{1} << 20, size_t{4096}, size_t{1}}) {
      while (::write(fd, block.data(), chunk) == static_cast<ssize_t>(chunk)) {
      }
    }
    const int err = errno;
    ::close(fd);
    ASSERT_EQ(err, ENOSPC) << std::strerror(err);
  }

 private:
  fs::path dir_;
  bool mounted_ = false;
  std::string error_;
};

// Issue 8 items 4 and 8, and the free-space floor: a full disk answers 507 saying so, for
// submissions and configuration writes alike; health reports it; a job that ends meanwhile is
// shown ended and its end is stored once space is freed, without a restart.
TEST_F(DurabilityTest, AFullDiskAnswers507AndLosesNoJobEnd) {
  SmallDisk disk(dir_.path() / "data", "32m");
  if (!disk.mounted()) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << disk.error() << "): needs root";
  }
  // The floor sits at 8 MiB of a 32 MiB disk: first the floor refuses, then the disk is full.
  StartServer(dir_.path() / "data", "jobs:\n  kill_grace_ms: 500\n  min_free_disk_mb: 8\n");
  Configure();
  auto health = http_->Get("/admin/health");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200) << health->body;
  json::value h = Parse(health->body);
  EXPECT_EQ(Str(h, "status"), "UP");
  EXPECT_EQ(Str(h.at("components").at("diskSpace"), "status"), "UP");
  EXPECT_EQ(Str(h.at("components").at("diskSpace").at("details"), "threshold"),
            std::to_string(8 << 20));

  const fs::path gate = dir_.path() / "gate";  // outside the small disk
  std::string id = Submit("while [ ! -e " + gate.string() + " ]; do sleep 0.05; done; exit 0");
  ASSERT_TRUE(Eventually([&] { return Status(id) == "RUNNING"; }));

  // Below the floor (but not full): new jobs are refused, naming the setting.
  const fs::path ballast = dir_.path() / "data" / "ballast";
  WriteFile(ballast, std::string(size_t{26} << 20, 'b'));
  ASSERT_TRUE(Eventually([&] {  // free space is read at most once a second
    auto r = http_->Get("/admin/health");
    return r.ok() && r->status == 503 &&
           Str(Parse(r->body).at("components").at("diskSpace"), "status") == "DOWN";
  })) << http_->Get("/admin/health")->body;
  auto floor = http_->PostJson("/api/v3/jobs", json::serialize(Request("true", "type:bash")));
  ASSERT_TRUE(floor.ok());
  EXPECT_EQ(floor->status, 507);
  EXPECT_NE(floor->body.find("jobs.min_free_disk_mb"), std::string::npos) << floor->body;
  EXPECT_NE(floor->body.find("Insufficient Storage"), std::string::npos) << floor->body;

  // Full.
  disk.Fill(dir_.path() / "data" / "filler");
  auto sub = http_->PostJson("/api/v3/jobs", json::serialize(Request("true", "type:bash")));
  ASSERT_TRUE(sub.ok()) << "the connection was closed without an answer";
  EXPECT_EQ(sub->status, 507) << sub->body;
  EXPECT_NE(sub->body.find("disk is full"), std::string::npos) << sub->body;
  json::object app{{"id", "full-app"},
                   {"name", "full-app"},
                   {"user", "admin"},
                   {"version", "1"},
                   {"status", "ACTIVE"}};
  auto conf = http_->PostJson("/api/v3/applications", json::serialize(app));
  ASSERT_TRUE(conf.ok());
  EXPECT_EQ(conf->status, 507) << conf->body;
  EXPECT_NE(conf->body.find("disk is full"), std::string::npos) << conf->body;

  // The running job ends while nothing can be written: it reads as ended at once.
  WriteFile(gate, "go");
  EXPECT_EQ(WaitFinal(id), "SUCCEEDED");
  ASSERT_TRUE(Eventually([&] {
    auto r = http_->Get("/admin/health");
    return r.ok() && r->status == 503 &&
           Str(Parse(r->body).at("components").at("jobStore"), "status") == "DOWN";
  })) << http_->Get("/admin/health")->body;
  h = Parse(http_->Get("/admin/health")->body);
  EXPECT_EQ(Str(h, "status"), "DOWN");
  EXPECT_EQ(Str(h.at("components").at("diskSpace"), "status"), "DOWN");
  EXPECT_EQ(Str(h.at("components").at("jobStore").at("details"), "unwrittenJobRecords"), "1");
  EXPECT_EQ(StoredStatus(id), "RUNNING");
  // Killing it changes nothing: it has ended.
  EXPECT_EQ(http_->Delete("/api/v3/jobs/" + id)->status, 202);
  EXPECT_EQ(Status(id), "SUCCEEDED");

  // Space comes back: the end is stored without a restart, health recovers, jobs run again.
  fs::remove(dir_.path() / "data" / "filler");
  fs::remove(ballast);
  ASSERT_TRUE(Eventually([&] { return StoredStatus(id) == "SUCCEEDED"; }))
      << "the end was never stored";
  ASSERT_TRUE(Eventually([&] {
    auto r = http_->Get("/admin/health");
    return r.ok() && r->status == 200;
  })) << http_->Get("/admin/health")->body;
  EXPECT_EQ(Str(Parse(http_->Get("/api/v3/jobs/" + id + "/execution")->body), "exitCode"), "0");
  std::string after = Submit("echo back");
  EXPECT_EQ(WaitFinal(after), "SUCCEEDED");
  server_->Stop();  // before the disk goes
}

}  // namespace
}  // namespace weir::testing
