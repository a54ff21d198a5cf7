// End-to-end tests of the Dataflow side (assets, references, project checks): real git
// repositories in a temp folder, the real `weir` CLI, and the real `weir server` over HTTP.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <barrier>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "blob/sha256.h"
#include "client/http_client.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// Every "DEPLOYED AS <uuid>" of a deploy's output, in order.
std::vector<std::string> DeployedUuids(const std::string& out) {
  std::vector<std::string> uuids;
  std::istringstream in(out);
  std::string line;
  const std::string marker = "DEPLOYED AS ";
  while (std::getline(in, line)) {
    if (line.rfind(marker, 0) != 0) continue;
    std::string rest = line.substr(marker.size());
    uuids.push_back(rest.substr(0, rest.find(' ')));
  }
  return uuids;
}

// Sends raw bytes on a fresh connection; returns whatever the server answered within `wait`.
std::string RawExchange(int port, const std::string& bytes, bool close_after_send = false,
                        std::chrono::milliseconds wait = std::chrono::seconds(10)) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  if (!close_after_send) {
    auto end = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      answer.append(buf, static_cast<size_t>(n));
      size_t head_end = answer.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::smatch m;
        std::string head = answer.substr(0, head_end);
        if (std::regex_search(head, m, std::regex("[Cc]ontent-[Ll]ength: *([0-9]+)")) &&
            answer.size() >= head_end + 4 + std::stoul(m[1])) {
          break;
        }
      }
    }
  }
  ::close(fd);
  return answer;
}

const char* kBashSampleGreet = "dataflow.bash.sample-greet";

class DataflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", Config());
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
  }
  virtual std::string Config() { return ""; }

  CommandResult Weir(const std::vector<std::string>& args, const fs::path& cwd = {}) {
    return RunWeir(server_->url(), args, cwd);
  }

  // `weir sample workflow RECIPE` into dir_/NAME: a git repository on main with one commit.
  fs::path Sample(const std::string& recipe, const std::string& name) {
    auto r = Weir({"sample", "workflow", recipe, name}, dir_.path());
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return dir_.path() / name;
  }

  void Commit(const fs::path& repo, const std::string& message) {
    auto add = Git(repo, "add -A");
    ASSERT_EQ(add.first, 0) << add.second;
    auto c = Git(repo, "commit -q -m " + ShellQuote(message));
    ASSERT_EQ(c.first, 0) << c.second;
  }

  std::string Head8(const fs::path& repo) {
    auto r = Git(repo, "rev-parse HEAD");
    EXPECT_EQ(r.first, 0) << r.second;
    return r.second.substr(0, 8);
  }

  // `weir project deploy --assets-only`; returns the single published UUID.
  std::string PublishOne(const fs::path& repo) {
    auto r = Weir({"project", "deploy", "--assets-only"}, repo);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    auto uuids = DeployedUuids(r.out);
    EXPECT_EQ(uuids.size(), 1u) << r.out;
    return uuids.empty() ? "" : uuids[0];
  }

  // The bash sample's greet.sh gets a new line and a commit: the next publish has new bytes.
  void ChangeGreet(const fs::path& repo, const std::string& line) {
    std::ofstream(repo / "src" / "greet.sh", std::ios::app) << "# " << line << "\n";
    Commit(repo, line);
  }

  // The bash sample with main builds 1 and 2 and feature/x build 1 (published in that order).
  struct History {
    fs::path repo;
    std::string main1, main2, feature1;
  };
  History BuildHistory() {
    History h;
    h.repo = Sample("bash", "repo-a");
    h.main1 = PublishOne(h.repo);
    ChangeGreet(h.repo, "second");
    h.main2 = PublishOne(h.repo);
    auto co = Git(h.repo, "checkout -q -b feature/x");
    EXPECT_EQ(co.first, 0) << co.second;
    ChangeGreet(h.repo, "on a feature branch");
    h.feature1 = PublishOne(h.repo);
    return h;
  }

  json::value GetJson(const std::string& path, int want_status = 200) {
    auto r = http_->Get(path);
    EXPECT_TRUE(r.ok()) << path;
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, want_status) << path << ": " << r->body;
    return Parse(r->body);
  }

  json::value Resolve(const std::string& ref, int want_status = 200) {
    return GetJson("/api/weir/v1/assets:resolve?ref=" + client::UrlEncode(ref), want_status);
  }

  void ExpectHealthy() {
    auto r = http_->Get("/admin/health");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("UP"), std::string::npos) << r->body;
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(DataflowTest, UuidFormatAndBuildNumbersPerBranch) {
  fs::path a = Sample("bash", "repo-a");
  std::string c1 = Head8(a);
  EXPECT_EQ(PublishOne(a), "dataflow.bash.sample-greet.sample.bash-sample.main." + c1 + ".1");

  // Publishing the same commit and bytes again reuses the version.
  auto again = Weir({"project", "deploy", "--assets-only"}, a);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(DeployedUuids(again.out),
            std::vector<std::string>{"dataflow.bash.sample-greet.sample.bash-sample.main." + c1 +
                                     ".1"});

  ChangeGreet(a, "second");
  std::string c2 = Head8(a);
  ASSERT_NE(c1, c2);
  EXPECT_EQ(PublishOne(a), "dataflow.bash.sample-greet.sample.bash-sample.main." + c2 + ".2");

  ASSERT_EQ(Git(a, "checkout -q -b feature/x").first, 0);
  ChangeGreet(a, "feature");
  std::string f1 = Head8(a);
  std::string feature_uuid = PublishOne(a);
  EXPECT_EQ(feature_uuid,
            "dataflow.bash.sample-greet.sample.bash-sample.feature%2Fx." + f1 + ".1");
  std::regex shape(
      R"(dataflow\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_%-]+\.[0-9a-f]{8}\.[1-9][0-9]*)");
  EXPECT_TRUE(std::regex_match(feature_uuid, shape)) << feature_uuid;

  // A dirty tree is refused (nothing published) unless --allow-dirty.
  std::ofstream(a / "src" / "greet.sh", std::ios::app) << "# uncommitted\n";
  auto dirty = Weir({"project", "deploy", "--assets-only"}, a);
  EXPECT_NE(dirty.exit_code, 0) << dirty.out;
  EXPECT_TRUE(DeployedUuids(dirty.out).empty()) << dirty.out;
  ASSERT_EQ(Git(a, "checkout -q -- src/greet.sh").first, 0);

  // A second repository: owner/repo from its origin remote, its own build numbers.
  fs::path b = dir_.path() / "repo-b";
  WriteFile(b / "dataflow.yaml",
            "assets:\n"
            "  - name: report\n"
            "    type: sql\n"
            "    namespace: e2e-report\n"
            "    file: sql/report.sql\n");
  WriteFile(b / "sql" / "report.sql", "select 1;\n");
  WriteFile(b / ".gitignore", ".workflows/\n");
  ASSERT_EQ(Git(b, "init -q -b main").first, 0);
  ASSERT_EQ(Git(b, "remote add origin https://git.example.com/acme/warehouse.git").first, 0);
  Commit(b, "first");
  std::string b1 = Head8(b);
  EXPECT_EQ(PublishOne(b), "dataflow.sql.e2e-report.acme.warehouse.main." + b1 + ".1");
  WriteFile(b / "sql" / "report.sql", "select 2;\n");
  Commit(b, "second");
  EXPECT_EQ(PublishOne(b), "dataflow.sql.e2e-report.acme.warehouse.main." + Head8(b) + ".2");

  // The registry lists the versions newest first, and per branch.
  json::value all = GetJson("/api/weir/v1/assets?type=bash&namespace=sample-greet");
  const auto& list = all.at("assets").as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(Str(list[0], "uuid"), feature_uuid);
  EXPECT_EQ(Str(list[0], "branch"), "feature/x");
  EXPECT_EQ(Str(list[2], "build"), "1");
  json::value mains = GetJson("/api/weir/v1/assets?type=bash&namespace=sample-greet&branch=main");
  EXPECT_EQ(mains.at("assets").as_array().size(), 2u);
  auto cli = Weir({"asset", "list", "--type", "bash", "--namespace", "sample-greet", "--branch",
                   "feature/x"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find(feature_uuid), std::string::npos) << cli.out;
  EXPECT_EQ(cli.out.find(".main."), std::string::npos) << cli.out;
}

TEST_F(DataflowTest, FourReferenceFormsResolveThroughTheApiAndRender) {
  History h = BuildHistory();
  auto uuid_of = [&](const std::string& ref) { return Str(Resolve(ref), "uuid"); };
  EXPECT_EQ(uuid_of(kBashSampleGreet), h.feature1);  // newest, any branch
  EXPECT_EQ(uuid_of(std::string(kBashSampleGreet) + "@main"), h.main2);
  EXPECT_EQ(uuid_of(std::string(kBashSampleGreet) + "@main#1"), h.main1);
  EXPECT_EQ(uuid_of(std::string(kBashSampleGreet) + "@feature/x"), h.feature1);
  EXPECT_EQ(uuid_of(std::string(kBashSampleGreet) + "@feature%2Fx"), h.feature1);
  EXPECT_EQ(uuid_of(h.main1), h.main1);
  EXPECT_EQ(uuid_of("${" + h.main2 + "}"), h.main2);

  json::value missing = Resolve(std::string(kBashSampleGreet) + "@main#9", 404);
  EXPECT_NE(Str(missing, "message").find("no build 9 on branch 'main'"), std::string::npos)
      << Str(missing, "message");
  EXPECT_NE(Str(missing, "message").find("builds 1..2"), std::string::npos);
  json::value no_ns = Resolve("dataflow.bash.sample-gret", 404);
  EXPECT_NE(Str(no_ns, "message").find("sample-gret"), std::string::npos);
  Resolve("dataflow.bash", 400);

  std::map<std::string, std::string> uri;
  for (const auto& u : {h.main1, h.main2, h.feature1}) {
    uri[u] = Str(GetJson("/api/weir/v1/assets/" + client::UrlEncode(u)), "uri");
    ASSERT_EQ(uri[u].rfind("file://", 0), 0u) << uri[u];
  }
  ASSERT_EQ(std::set<std::string>({uri[h.main1], uri[h.main2], uri[h.feature1]}).size(), 3u);

  // `weir workflow render` of a file outside any project: every form becomes its URI.
  fs::path loose = dir_.path() / "loose";
  WriteFile(loose / "refs.sch.yaml",
            "id: refs\n"
            "jobs:\n"
            "  a:\n"
            "    command: [type:bash]\n"
            "    cluster: [type:local]\n"
            "    args:\n"
            "      - \"newest=${dataflow.bash.sample-greet}\"\n"
            "      - \"branch=${dataflow.bash.sample-greet@main}\"\n"
            "      - \"build=${dataflow.bash.sample-greet@main#1}\"\n"
            "      - \"exact=${" + h.feature1 + "}\"\n"
            "      - \"literal=$${HOME}\"\n");
  auto r = Weir({"workflow", "render", "refs.sch.yaml"}, loose);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("newest=" + uri[h.feature1] + "\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("branch=" + uri[h.main2] + "\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("build=" + uri[h.main1] + "\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exact=" + uri[h.feature1] + "\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("literal=${HOME}\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("dataflow."), std::string::npos) << r.out;

  // An unresolvable reference: file:line:column and what exists, exit 1.
  const std::string bad_line = "    args: [\"x ${dataflow.bash.sample-greet@main#7}\"]";
  WriteFile(loose / "bad.sch.yaml",
            "id: bad\n"
            "jobs:\n"
            "  a:\n"
            "    command: [type:bash]\n"
            "    cluster: [type:local]\n" +
                bad_line + "\n");
  auto bad = Weir({"workflow", "render", "bad.sch.yaml"}, loose);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("bad.sch.yaml:6:" + std::to_string(bad_line.find("${") + 1) + ": "),
            std::string::npos)
      << bad.err;
  EXPECT_NE(bad.err.find("no build 7 on branch 'main'"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("feature/x"), std::string::npos) << bad.err;
}

TEST_F(DataflowTest, NamespaceOwnedByAnotherRepositoryIsRefused) {
  fs::path a = Sample("bash", "repo-a");
  std::string owned = PublishOne(a);
  ASSERT_FALSE(owned.empty());

  fs::path b = dir_.path() / "repo-b";
  WriteFile(b / "dataflow.yaml",
            "project: {owner: other, repo: thief}\n"
            "assets:\n"
            "  - name: greet\n"
            "    type: bash\n"
            "    namespace: sample-greet\n"
            "    file: greet.sh\n");
  WriteFile(b / "greet.sh", "echo stolen\n");
  ASSERT_EQ(Git(b, "init -q -b main").first, 0);
  Commit(b, "claims a namespace");
  auto r = Weir({"project", "deploy", "--assets-only"}, b);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_TRUE(DeployedUuids(r.out).empty()) << r.out;
  EXPECT_NE(r.err.find("namespace 'sample-greet'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sample/bash-sample"), std::string::npos) << r.err;

  // Through the API: 403 naming the owner; the namespace still has only repo A's version.
  auto direct = http_->Request(
      "POST",
      "/api/weir/v1/assets?type=bash&namespace=sample-greet&owner=other&repo=thief&branch=main"
      "&commit=0123abcd",
      "echo stolen\n", {{"Content-Type", "application/octet-stream"}});
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(direct->status, 403) << direct->body;
  EXPECT_NE(direct->body.find("sample/bash-sample"), std::string::npos) << direct->body;
  // The owning repository with another type in the namespace: refused too.
  auto other_type = http_->Request(
      "POST",
      "/api/weir/v1/assets?type=python&namespace=sample-greet&owner=sample&repo=bash-sample"
      "&branch=main&commit=0123abcd",
      "print(1)\n", {{"Content-Type", "application/octet-stream"}});
  ASSERT_TRUE(other_type.ok());
  EXPECT_EQ(other_type->status, 412) << other_type->body;

  json::value list = GetJson("/api/weir/v1/assets?namespace=sample-greet");
  ASSERT_EQ(list.at("assets").as_array().size(), 1u);
  EXPECT_EQ(Str(list.at("assets").as_array()[0], "uuid"), owned);
}

TEST_F(DataflowTest, PublishedBytesNeverChange) {
  fs::path a = Sample("bash", "repo-a");
  std::string first = PublishOne(a);
  std::string original = Slurp(a / "dist" / "greet.sh");
  ASSERT_FALSE(original.empty());
  auto get1 = Weir({"asset", "get", first, "--out", (dir_.path() / "v1.sh").string()});
  ASSERT_EQ(get1.exit_code, 0) << get1.err;
  EXPECT_EQ(Slurp(dir_.path() / "v1.sh"), original);
  std::string sha = Str(GetJson("/api/weir/v1/assets/" + client::UrlEncode(first)), "sha256");
  EXPECT_EQ(sha, blob::Sha256Hex(original));

  ChangeGreet(a, "later");
  std::string second = PublishOne(a);
  ASSERT_NE(second, first);
  EXPECT_NE(Slurp(a / "dist" / "greet.sh"), original);

  // Publishing over the existing UUID is refused; the old version keeps its bytes.
  auto overwrite = http_->Request("POST",
                                  "/api/weir/v1/assets?uuid=" + client::UrlEncode(first),
                                  "echo replaced\n",
                                  {{"Content-Type", "application/octet-stream"}});
  ASSERT_TRUE(overwrite.ok());
  EXPECT_EQ(overwrite->status, 409) << overwrite->body;

  auto get2 = Weir({"asset", "get", first, "--out", (dir_.path() / "v1-again.sh").string()});
  ASSERT_EQ(get2.exit_code, 0) << get2.err;
  std::string again = Slurp(dir_.path() / "v1-again.sh");
  EXPECT_EQ(again, original);
  EXPECT_EQ(blob::Sha256Hex(again), sha);
  json::value record = GetJson("/api/weir/v1/assets/" + client::UrlEncode(first));
  EXPECT_EQ(Str(record, "sha256"), sha);
  auto content = http_->Get("/api/weir/v1/assets/" + client::UrlEncode(first) + "/content");
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(content->body, original);
  EXPECT_EQ(content->Header("x-weir-sha256").value_or(""), sha);
}

// Publishes that really overlap: a server with several I/O and handler threads, and eight
// connections that each send all of their request but the last body byte, wait until every other
// connection has done the same, then send it. All eight requests are open in the server at once
// and their handlers are dispatched in one burst.
class ThreadedDataflowTest : public DataflowTest {
 protected:
  std::string Config() override { return "server:\n  http_threads: 4\n  handler_threads: 8\n"; }
};

TEST_F(ThreadedDataflowTest, ConcurrentPublishesOfOneNamespaceGetDistinctConsecutiveBuilds) {
  constexpr int kPublishers = 8;
  std::vector<std::string> answers(kPublishers);
  std::vector<char> held_open(kPublishers, 0);  // not vector<bool>: written by several threads
  std::barrier all_open(kPublishers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPublishers; ++i) {
    threads.emplace_back([&, i] {
      const std::string body = "echo " + std::to_string(i) + "\n";
      const std::string head =
          "POST /api/weir/v1/assets?type=bash&namespace=busy&owner=o&repo=r&branch=main"
          "&commit=0123abcd&file=x.sh HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          "Content-Type: application/octet-stream\r\nConnection: close\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n";
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      const std::string first = head + body.substr(0, body.size() - 1);
      ok = ok && ::send(fd, first.data(), first.size(), MSG_NOSIGNAL) ==
                     static_cast<ssize_t>(first.size());
      // The server cannot answer a request whose body is incomplete: nothing to read yet.
      pollfd p{fd, POLLIN, 0};
      held_open[i] = ok && ::poll(&p, 1, 0) == 0;
      all_open.arrive_and_wait();
      ok = ok && ::send(fd, body.data() + body.size() - 1, 1, MSG_NOSIGNAL) == 1;
      auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (ok && std::chrono::steady_clock::now() < end) {
        pollfd q{fd, POLLIN, 0};
        if (::poll(&q, 1, 100) <= 0) continue;
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;  // Connection: close ends the answer
        answers[i].append(buf, static_cast<size_t>(n));
      }
      if (fd >= 0) ::close(fd);
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> builds;
  for (int i = 0; i < kPublishers; ++i) {
    EXPECT_TRUE(held_open[i]) << i;
    const std::string& a = answers[i];
    EXPECT_EQ(a.rfind("HTTP/1.1 201", 0), 0u) << i << ": " << a;
    size_t body_at = a.find("\r\n\r\n");
    ASSERT_NE(body_at, std::string::npos) << i << ": " << a;
    std::string uuid = Str(Parse(a.substr(body_at + 4)), "uuid");
    builds.insert(uuid.substr(uuid.rfind('.') + 1));
  }
  std::set<std::string> want;
  for (int i = 1; i <= kPublishers; ++i) want.insert(std::to_string(i));
  EXPECT_EQ(builds, want);
}

TEST_F(DataflowTest, HostileInputIsRefusedAndTheServerStaysHealthy) {
  auto post = [&](const std::string& query, const std::string& body) {
    auto r = http_->Request("POST", "/api/weir/v1/assets?" + query, body,
                            {{"Content-Type", "application/octet-stream"}});
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : client::Response{};
  };
  const std::string base = "owner=o&repo=r&branch=main&commit=0123abcd";
  auto dotdot = post("type=bash&namespace=..%2F..%2Fetc&" + base, "x");
  EXPECT_EQ(dotdot.status, 400) << dotdot.body;
  EXPECT_NE(dotdot.body.find("namespace"), std::string::npos) << dotdot.body;
  auto dotdot_type = post("type=..&namespace=ok&" + base, "x");
  EXPECT_EQ(dotdot_type.status, 400) << dotdot_type.body;
  auto dotdot_file = post("type=bash&namespace=ok&file=..%2F..%2Fpasswd&" + base, "x");
  EXPECT_EQ(dotdot_file.status, 400) << dotdot_file.body;
  auto bad_utf8 =
      post("type=bash&namespace=ok&owner=o&repo=r&branch=%FF%FEmain&commit=0123abcd", "x");
  EXPECT_EQ(bad_utf8.status, 400) << bad_utf8.body;
  EXPECT_NE(bad_utf8.body.find("UTF-8"), std::string::npos) << bad_utf8.body;
  auto bad_sha = http_->Request("POST", "/api/weir/v1/assets?type=bash&namespace=ok&" + base, "x",
                                {{"Content-Type", "application/octet-stream"},
                                 {"X-Weir-Sha256", std::string(64, '0')}});
  ASSERT_TRUE(bad_sha.ok());
  EXPECT_EQ(bad_sha->status, 400) << bad_sha->body;
  EXPECT_EQ(GetJson("/api/weir/v1/assets/..%2F..%2Fweir.db", 400).is_object(), true);
  Resolve("dataflow.bash.../../etc", 400);

  // A declared 3 GB body is refused before it is sent.
  std::string big = RawExchange(
      server_->port(),
      "POST /api/weir/v1/assets?type=bash&namespace=big&" + base +
          " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
          "Content-Length: 3221225472\r\n\r\n");
  EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big;
  EXPECT_NE(big.find("exceeds the limit"), std::string::npos) << big;

  // An upload cut off midway leaves no version and no partial blob.
  RawExchange(server_->port(),
              "POST /api/weir/v1/assets?type=bash&namespace=cut&" + base +
                  " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                  "Content-Length: 1000000\r\n\r\n" +
                  std::string(100000, 'x'),
              /*close_after_send=*/true);
  ExpectHealthy();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t leftovers = 0;
  do {
    leftovers = 0;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(server_->data_dir() / "blobs", ec)) {
      if (e.is_regular_file()) ++leftovers;
    }
    if (leftovers == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(leftovers, 0u) << "partial upload left files under blobs/";
  EXPECT_EQ(GetJson("/api/weir/v1/assets?namespace=cut").at("assets").as_array().size(), 0u);
  EXPECT_EQ(GetJson("/api/weir/v1/assets").at("assets").as_array().size(), 0u);

  // A YAML bomb and invalid UTF-8 in project files: clear errors, quickly.
  fs::path p = dir_.path() / "hostile";
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + std::string(1, c) + " [*" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + ", *" + prev + "]\n";
  }
  WriteFile(p / "dataflow.yaml", "project: {owner: o, repo: r}\nassets: []\n" + bomb);
  ASSERT_EQ(Git(p, "init -q -b main").first, 0);
  Commit(p, "bomb");
  auto start = std::chrono::steady_clock::now();
  auto r = Weir({"project", "test", "--offline"}, p);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_NE(r.err.find("dataflow.yaml:"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("aliases"), std::string::npos) << r.out << r.err;

  WriteFile(p / "dataflow.yaml", "project: {owner: o, repo: r}\nassets: []\n");
  WriteFile(p / "flows" / "utf.sch.yaml",
            "id: utf\njobs:\n  a: {command: [type:bash], cluster: [type:local], args: \"caf\xC3\"}\n"
            "  b: {command: [type:bash], cluster: [type:local], args: \"\xFF\"}\n");
  auto u = Weir({"project", "test", "--offline"}, p);
  EXPECT_EQ(u.exit_code, 1);
  EXPECT_NE((u.out + u.err).find("utf.sch.yaml:3:"), std::string::npos) << u.out << u.err;
  EXPECT_NE((u.out + u.err).find("UTF-8"), std::string::npos) << u.out << u.err;
  ExpectHealthy();
}

TEST_F(DataflowTest, ProjectTestRendersEveryWorkflowAndReportsBrokenOnesWithPositions) {
  fs::path a = Sample("bash", "repo-a");
  auto ok = Weir({"project", "test"}, a);
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("PASSED greet"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("VALID flows/hello.sch.yaml"), std::string::npos) << ok.out;
  fs::path rendered = a / ".workflows" / "hello-bash.rendered.yaml";
  ASSERT_TRUE(fs::exists(rendered));
  std::string text = Slurp(rendered);
  // Before anything is published the project's own build is used (a local file URI).
  EXPECT_NE(text.find("file://" + fs::canonical(a).string() + "/dist/greet.sh"),
            std::string::npos)
      << text;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#", 0) == 0) continue;  // comments keep the sample's $${...} examples
    EXPECT_EQ(line.find("${dataflow."), std::string::npos) << line;
  }
  EXPECT_NE(text.find("${GREETING}"), std::string::npos) << "runtime parameters stay: " << text;

  const std::string bad_line_6 = "    dependencies: [\"${dataflow.bash.no-such-ns}\"]";
  const std::string bad_line_7 = "  b: {command: [type:bash], cluster: [type:local], depends_on: c}";
  WriteFile(a / "flows" / "bad.sch.yaml",
            "id: bad\n"
            "jobs:\n"
            "  a:\n"
            "    command: [type:bash]\n"
            "    cluster: [type:local]\n" +
                bad_line_6 + "\n" + bad_line_7 + "\n" +
                "  c: {command: [type:bash], cluster: [type:local], depends_on: b}\n"
                "  d:\n"
                "    command: [type:bash]\n"
                "    cluster: [type:local]\n"
                "    args: [\"echo ${UNDEFINED_PARAM}\"]\n");
  auto bad = Weir({"project", "test"}, a);
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  std::string all = bad.out + bad.err;
  size_t col6 = bad_line_6.find("${") + 1;
  size_t col7 = bad_line_7.rfind('c') + 1;  // the dependency that closes the cycle
  EXPECT_NE(all.find("flows/bad.sch.yaml:6:" + std::to_string(col6) + ": asset "
                     "'dataflow.bash.no-such-ns'"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("flows/bad.sch.yaml:7:" + std::to_string(col7) +
                     ": dependency cycle: b -> c -> b"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("flows/bad.sch.yaml:12:"), std::string::npos) << all;
  EXPECT_NE(all.find("UNDEFINED_PARAM"), std::string::npos) << all;
  EXPECT_NE(all.find("INVALID flows/bad.sch.yaml"), std::string::npos) << all;
  EXPECT_NE(all.find("VALID flows/hello.sch.yaml"), std::string::npos) << all;
  EXPECT_NE(all.find("SUMMARY"), std::string::npos) << all;
  EXPECT_FALSE(fs::exists(a / ".workflows" / "bad.rendered.yaml"));
  EXPECT_TRUE(fs::exists(rendered));

  // Deploy refuses the broken workflow: no workflow is registered.
  Commit(a, "broken workflow");
  auto deploy = Weir({"project", "deploy"}, a);
  EXPECT_NE(deploy.exit_code, 0) << deploy.out;
  EXPECT_EQ(deploy.out.find("DEPLOYED prod:"), std::string::npos) << deploy.out;
  json::value wfs = GetJson("/api/weir/v1/workflows");
  EXPECT_EQ(wfs.at("workflows").as_array().size(), 0u) << json::serialize(wfs);
}

}  // namespace
}  // namespace weir::testing
