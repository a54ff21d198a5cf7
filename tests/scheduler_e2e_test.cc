// End-to-end tests of the workflow scheduler: projects in real git repositories deployed with
// the real `weir` CLI to the real `weir server`, instances whose steps run as real jobs of the
// job gateway, checked through the CLI, weir's workflow API and the Genie job API.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
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
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

const json::array& Arr(const json::value& v, const char* key) {
  static const json::array kEmpty;
  if (!v.is_object() || !v.as_object().contains(key) || !v.at(key).is_array()) return kEmpty;
  return v.at(key).as_array();
}

// Flips the first byte of a file (made writable first: stored blobs may be read-only).
void CorruptFile(const fs::path& p) {
  fs::permissions(p, fs::perms::owner_write, fs::perm_options::add);
  std::string bytes = Slurp(p);
  ASSERT_FALSE(bytes.empty());
  bytes[0] = static_cast<char>(bytes[0] ^ 0x01);
  WriteFile(p, bytes);
}

// An HTTP server on 127.0.0.1 that answers every GET with `body`, but only once Release() was
// called: a job depending on its URL stays in set-up (INIT) until then.
class HeldHttpServer {
 public:
  explicit HeldHttpServer(std::string body) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 && ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
    thread_ = std::thread([this] { Serve(); });
  }
  ~HeldHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void Release() { released_ = true; }
  int requests() const { return requests_; }

 private:
  void Serve() {
    std::vector<int> waiting;
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c >= 0) {
          ++requests_;
          waiting.push_back(c);
        }
      }
      if (!released_) continue;
      for (int c : waiting) {
        char buf[8192];
        pollfd rp{c, POLLIN, 0};
        if (::poll(&rp, 1, 1000) > 0) (void)::recv(c, buf, sizeof buf, 0);
        std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                             std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
        (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
        ::close(c);
      }
      waiting.clear();
    }
    for (int c : waiting) ::close(c);
  }

  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> released_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// The project used by most tests: one bash asset (tool.sh) and the workflows given.
const char* kProjectYaml = R"(project: {owner: acme, repo: pipes, main_branch: main}
assets:
  - name: tool
    type: bash
    namespace: e2e-tool
    build: mkdir -p dist && cp src/tool.sh dist/tool.sh
    file: dist/tool.sh
workflows: [flows]
environments:
  prod:
    params: {TARGET: prod-db}
  staging:
    params: {TARGET: staging-db}
)";

// Two steps; `first` runs the asset after sleeping ${DELAY} seconds, `second` echoes the target.
// `extra_params` declares more parameters (", NAME: value, ...").
std::string ChainWorkflow(const std::string& first_script, const std::string& extra_params = "") {
  return R"(id: chain
params: {DELAY: "0")" +
         extra_params + R"(}
jobs:
  first:
    command: [type:bash]
    cluster: [type:local]
    dependencies: ["${dataflow.bash.e2e-tool}"]
    args: [")" +
         first_script + R"("]
  second:
    command: [type:bash]
    cluster: [type:local]
    depends_on: first
    args: ["echo second ${TARGET} ${INSTANCE_ID}"]
)";
}
const std::string kGoodFirst =
    "sleep ${DELAY}; bash $(basename ${dataflow.bash.e2e-tool}) ${TARGET}";
// `first` waits for the file ${GATE} (or for the folder ${TEST_DIR} to go) before its work;
// declare both with ChainWorkflow's `extra_params`.
const std::string kGatedFirst =
    "while [ ! -e ${GATE} ]; do sleep 0.05; [ -d ${TEST_DIR} ] || exit 9; done; " + kGoodFirst;
const std::string kChainId = "prod:acme.pipes.chain";

bool IsFinal(const std::string& status) {
  return status == "SUCCEEDED" || status == "FAILED" || status == "STOPPED";
}

class SchedulerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Steps fetch dependencies from HTTP servers on 127.0.0.1 (HeldHttpServer): job requests
    // need that network allowed (fetch/perimeter.h).
    server_ = std::make_unique<WeirServer>(
        dir_.path() / "data",
        "jobs:\n  kill_grace_ms: 500\nfetch:\n  allowed_networks: [127.0.0.0/8]\n");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = Weir({"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  CommandResult Weir(const std::vector<std::string>& args, const fs::path& cwd = {}) {
    return RunWeir(server_->url(), args, cwd);
  }

  void Commit(const fs::path& repo, const std::string& message) {
    auto add = Git(repo, "add -A");
    ASSERT_EQ(add.first, 0) << add.second;
    auto c = Git(repo, "commit -q -m " + ShellQuote(message));
    ASSERT_EQ(c.first, 0) << c.second;
  }

  // A new git repository dir_/pipes with kProjectYaml, tool.sh and the given workflow files.
  fs::path MakeProject(const std::map<std::string, std::string>& workflows) {
    fs::path repo = dir_.path() / "pipes";
    WriteFile(repo / "dataflow.yaml", kProjectYaml);
    WriteFile(repo / ".gitignore", ".workflows/\ndist/\n");
    WriteFile(repo / "src" / "tool.sh", "echo \"tool v1 target=$1\"\n");
    for (const auto& [name, text] : workflows) WriteFile(repo / "flows" / name, text);
    EXPECT_EQ(Git(repo, "init -q -b main").first, 0);
    Commit(repo, "first");
    return repo;
  }

  // `weir project deploy ARGS`; expects success and returns its output.
  std::string Deploy(const fs::path& repo, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"project", "deploy"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = Weir(args, repo);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.out;
  }

  static std::string Enc(const std::string& s) { return client::UrlEncode(s); }

  json::value GetJson(const std::string& path, int want_status = 200) {
    auto r = http_->Get(path);
    EXPECT_TRUE(r.ok()) << path;
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, want_status) << path << ": " << r->body;
    return Parse(r->body);
  }

  json::value Workflow(const std::string& id) {
    return GetJson("/api/weir/v1/workflows/" + Enc(id));
  }
  json::value Versions(const std::string& id) {
    return GetJson("/api/weir/v1/workflows/" + Enc(id) + "/versions");
  }
  json::value Instance(const std::string& id, int n) {
    return GetJson("/api/weir/v1/workflows/" + Enc(id) + "/instances/" + std::to_string(n));
  }
  json::value Instances(const std::string& id) {
    return GetJson("/api/weir/v1/workflows/" + Enc(id) + "/instances?size=1000");
  }

  // Starts an instance through the API; returns its number (0 on failure).
  int Run(const std::string& id, json::object params = {}) {
    json::object body{{"params", std::move(params)}, {"requestedBy", "e2e"}};
    auto r = http_->PostJson("/api/weir/v1/workflows/" + Enc(id) + "/run", json::serialize(body));
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return 0;
    EXPECT_EQ(r->status, 201) << r->body;
    json::value v = Parse(r->body);
    return v.is_object() && v.as_object().contains("number")
               ? static_cast<int>(v.at("number").to_number<int64_t>())
               : 0;
  }

  json::value WaitInstance(const std::string& id, int n, std::chrono::seconds limit = 60s) {
    auto end = std::chrono::steady_clock::now() + limit;
    json::value inst;
    while (std::chrono::steady_clock::now() < end) {
      inst = Instance(id, n);
      if (IsFinal(Str(inst, "status"))) return inst;
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << id << "#" << n << " did not finish: " << json::serialize(inst);
    return inst;
  }

  static const json::value* Step(const json::value& inst, const std::string& step) {
    for (const auto& s : Arr(inst, "steps")) {
      if (Str(s, "id") == step) return &s;
    }
    return nullptr;
  }

  // Waits until `step` of the instance is RUNNING; returns false at the deadline.
  bool WaitStepRunning(const std::string& id, int n, const std::string& step,
                       std::chrono::seconds limit = 30s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      json::value inst = Instance(id, n);
      const json::value* s = Step(inst, step);
      if (s != nullptr && Str(*s, "status") == "RUNNING") return true;
      if (IsFinal(Str(inst, "status"))) return false;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // Waits until the job service reports the job RUNNING (its process spawned).
  bool WaitJobRunning(const std::string& job_id, std::chrono::seconds limit = 30s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      auto r = http_->Get("/api/v3/jobs/" + job_id + "/status");
      if (r.ok() && r->status == 200 && Str(Parse(r->body), "status") == "RUNNING") return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  std::string JobStdout(const std::string& job_id) {
    auto r = http_->Get("/api/v3/jobs/" + job_id + "/output/stdout");
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 200) << r->body;
    return r->body;
  }

  std::string StepStdout(const json::value& inst, const std::string& step) {
    const json::value* s = Step(inst, step);
    if (s == nullptr) {
      ADD_FAILURE() << "no step " << step;
      return "";
    }
    return JobStdout(Str(*s, "jobId"));
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(SchedulerE2eTest, SampleProjectRunsEveryStepAsAGroupedJobWithItsAssetUri) {
  auto sample = Weir({"sample", "workflow", "bash", "proj"}, dir_.path());
  ASSERT_EQ(sample.exit_code, 0) << sample.err;
  fs::path repo = dir_.path() / "proj";
  std::string out = Deploy(repo);
  const std::string id = "prod:sample.bash-sample.hello-bash";
  EXPECT_NE(out.find("DEPLOYED AS dataflow.bash.sample-greet.sample.bash-sample.main."),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("DEPLOYED " + id + " VERSION 1 active bundle "), std::string::npos) << out;

  auto run = Weir({"workflow", "run", id, "--wait", "--timeout", "60"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;

  json::value inst = Instance(id, 1);
  ASSERT_EQ(Str(inst, "status"), "SUCCEEDED") << json::serialize(inst);
  EXPECT_EQ(Str(inst, "version"), "1");
  ASSERT_EQ(Arr(inst, "assets").size(), 1u);
  const std::string uuid = Str(Arr(inst, "assets")[0], "uuid");
  const std::string uri = Str(Arr(inst, "assets")[0], "uri");
  EXPECT_EQ(uuid.rfind("dataflow.bash.sample-greet.sample.bash-sample.main.", 0), 0u) << uuid;
  ASSERT_FALSE(uri.empty());
  ASSERT_EQ(Arr(inst, "steps").size(), 2u);

  // Every step is a job of the Genie API with the workflow's grouping and the instance id.
  std::set<std::string> step_jobs;
  for (const auto& s : Arr(inst, "steps")) {
    EXPECT_EQ(Str(s, "status"), "SUCCEEDED") << json::serialize(s);
    step_jobs.insert(Str(s, "jobId"));
  }
  json::value by_group = GetJson("/api/v3/jobs?size=100&grouping=" + Enc(id));
  std::set<std::string> grouped;
  for (const auto& j : Arr(by_group.at("_embedded"), "jobSearchResultList")) {
    grouped.insert(Str(j, "id"));
    EXPECT_EQ(Str(j, "status"), "SUCCEEDED");
  }
  EXPECT_EQ(grouped, step_jobs);
  json::value by_instance = GetJson("/api/v3/jobs?size=100&groupingInstance=" + Enc(id + "#1"));
  EXPECT_EQ(Arr(by_instance.at("_embedded"), "jobSearchResultList").size(), 2u);

  const json::value* greet = Step(inst, "greet");
  ASSERT_NE(greet, nullptr);
  json::value request = GetJson("/api/v3/jobs/" + Str(*greet, "jobId") + "/request");
  EXPECT_EQ(Str(request, "grouping"), id);
  EXPECT_EQ(Str(request, "groupingInstance"), id + "#1");
  EXPECT_EQ(Str(request, "name"), "prod:hello-bash.greet");
  std::set<std::string> deps;
  for (const auto& d : Arr(request, "dependencies")) deps.insert(std::string(d.as_string()));
  // The asset's bytes, under the asset's file name (a copy of the blob named <sha256>/greet.sh).
  const std::string sha = uri.substr(uri.find_last_of('/') + 1);
  bool named = false;
  for (const std::string& d : deps)
    named |= d.size() > sha.size() + 10 &&
             d.compare(d.size() - sha.size() - 9, std::string::npos, sha + "/greet.sh") == 0;
  EXPECT_TRUE(named) << "no dependency <...>/" << sha << "/greet.sh: " << json::serialize(request);
  ASSERT_EQ(Arr(*greet, "assets").size(), 1u);
  ASSERT_TRUE(Arr(*greet, "assets")[0].is_string());
  EXPECT_EQ(std::string(Arr(*greet, "assets")[0].as_string()), uuid);
  json::value count_request =
      GetJson("/api/v3/jobs/" + Str(*Step(inst, "count"), "jobId") + "/request");
  EXPECT_EQ(Str(count_request, "groupingInstance"), id + "#1");

  // The runtime parameters reached the commands.
  const std::string date = Str(inst.at("params"), "EXECUTION_DATE");
  EXPECT_EQ(StepStdout(inst, "greet"), "Hello, it is " + date + "\n");
  EXPECT_EQ(StepStdout(inst, "count"), "1\n");

  // The CLI's instance view names the version, the asset UUID and each step's job.
  auto shown = Weir({"workflow", "instance", id, "1"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find(uuid), std::string::npos) << shown.out;
  for (const auto& j : step_jobs) EXPECT_NE(shown.out.find(j), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("GREETING"), std::string::npos) << shown.out;
}

TEST_F(SchedulerE2eTest, RollbackAfterARegressionWhileAnInstanceOfTheBadVersionRuns) {
  fs::path repo = MakeProject({{"chain.sch.yaml", ChainWorkflow(kGoodFirst)}});
  std::string v1_out = Deploy(repo);
  ASSERT_NE(v1_out.find("DEPLOYED " + kChainId + " VERSION 1 active"), std::string::npos) << v1_out;
  ASSERT_EQ(Weir({"workflow", "run", kChainId, "--wait", "--timeout", "60"}).exit_code, 0);

  // v2: the first step fails (after ${DELAY} seconds).
  WriteFile(repo / "flows" / "chain.sch.yaml",
            ChainWorkflow("sleep ${DELAY}; echo regression; exit 1"));
  Commit(repo, "a regression");
  std::string v2_out = Deploy(repo);
  ASSERT_NE(v2_out.find("DEPLOYED " + kChainId + " VERSION 2 active"), std::string::npos) << v2_out;
  auto failed = Weir({"workflow", "run", kChainId, "--wait", "--timeout", "60"});
  EXPECT_EQ(failed.exit_code, 1) << failed.out << failed.err;
  json::value inst2 = Instance(kChainId, 2);
  EXPECT_EQ(Str(inst2, "status"), "FAILED");
  EXPECT_EQ(Str(inst2, "version"), "2");
  EXPECT_EQ(Str(*Step(inst2, "first"), "status"), "FAILED");
  EXPECT_EQ(Str(*Step(inst2, "second"), "status"), "UPSTREAM_FAILED")
      << json::serialize(inst2);
  EXPECT_NE(Str(inst2, "message").find("first"), std::string::npos) << Str(inst2, "message");

  // An instance of v2 is in flight when v1 is restored.
  int in_flight = Run(kChainId, {{"DELAY", "3"}});
  ASSERT_EQ(in_flight, 3);
  ASSERT_TRUE(WaitStepRunning(kChainId, in_flight, "first"));
  auto rollback = Weir({"workflow", "rollback", kChainId, "--actor", "ops"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.out << rollback.err;
  EXPECT_EQ(Str(Workflow(kChainId), "activeVersion"), "1");
  int next = Run(kChainId);
  ASSERT_EQ(next, 4);

  json::value flight = WaitInstance(kChainId, in_flight);
  EXPECT_EQ(Str(flight, "status"), "FAILED") << json::serialize(flight);
  EXPECT_EQ(Str(flight, "version"), "2");
  EXPECT_EQ(StepStdout(flight, "first"), "regression\n");
  json::value flight_job = GetJson("/api/v3/jobs/" + Str(*Step(flight, "first"), "jobId"));
  EXPECT_EQ(Str(flight_job, "version"), "2");

  json::value after = WaitInstance(kChainId, next);
  EXPECT_EQ(Str(after, "status"), "SUCCEEDED") << json::serialize(after);
  EXPECT_EQ(Str(after, "version"), "1");
  EXPECT_EQ(Str(after, "bundleId"), Str(Instance(kChainId, 1), "bundleId"));
  EXPECT_EQ(StepStdout(after, "first"), "tool v1 target=prod-db\n");
  EXPECT_EQ(StepStdout(after, "second"), "second prod-db 4\n");

  // The activation history records the rollback.
  json::value versions = Versions(kChainId);
  ASSERT_EQ(Arr(versions, "versions").size(), 2u);
  ASSERT_FALSE(Arr(versions, "activations").empty());
  const json::value& last = Arr(versions, "activations")[0];
  EXPECT_EQ(Str(last, "reason"), "rollback");
  EXPECT_EQ(Str(last, "version"), "1");
  EXPECT_EQ(Str(last, "previous"), "2");
  EXPECT_EQ(Str(last, "actor"), "ops");
}

TEST_F(SchedulerE2eTest, TwoEnvironmentsOfOneWorkflowRunSideBySideWithTheirParameters) {
  fs::path repo = MakeProject(
      {{"chain.sch.yaml", ChainWorkflow(kGatedFirst, R"(, GATE: "/", TEST_DIR: "/")")}});
  std::string prod_out = Deploy(repo);
  std::string staging_out = Deploy(repo, {"--env", "staging"});
  const std::string staging = "staging:acme.pipes.chain";
  ASSERT_NE(prod_out.find("DEPLOYED " + kChainId + " VERSION 1"), std::string::npos) << prod_out;
  ASSERT_NE(staging_out.find("DEPLOYED " + staging + " VERSION 1"), std::string::npos)
      << staging_out;
  EXPECT_EQ(Str(Workflow(staging).at("environmentParams"), "TARGET"), "staging-db");

  const fs::path gate = dir_.path() / "gate";
  json::object gated{{"GATE", gate.string()}, {"TEST_DIR", dir_.path().string()}};
  int p = Run(kChainId, gated);
  int s = Run(staging, gated);
  ASSERT_EQ(p, 1);
  ASSERT_EQ(s, 1);
  // Both first steps' jobs are running at the same time; then the gate opens.
  ASSERT_TRUE(WaitStepRunning(kChainId, p, "first"));
  ASSERT_TRUE(WaitStepRunning(staging, s, "first"));
  ASSERT_TRUE(WaitJobRunning(Str(*Step(Instance(kChainId, p), "first"), "jobId")));
  ASSERT_TRUE(WaitJobRunning(Str(*Step(Instance(staging, s), "first"), "jobId")));
  WriteFile(gate, "");
  json::value prod_inst = WaitInstance(kChainId, p);
  json::value staging_inst = WaitInstance(staging, s);
  ASSERT_EQ(Str(prod_inst, "status"), "SUCCEEDED") << json::serialize(prod_inst);
  ASSERT_EQ(Str(staging_inst, "status"), "SUCCEEDED") << json::serialize(staging_inst);
  EXPECT_EQ(Str(prod_inst.at("params"), "TARGET"), "prod-db");
  EXPECT_EQ(Str(staging_inst.at("params"), "TARGET"), "staging-db");
  EXPECT_EQ(Str(staging_inst.at("params"), "ENV"), "staging");
  // The two first steps overlapped in time (ISO-8601 UTC strings compare as times).
  json::value pj = GetJson("/api/v3/jobs/" + Str(*Step(prod_inst, "first"), "jobId"));
  json::value sj = GetJson("/api/v3/jobs/" + Str(*Step(staging_inst, "first"), "jobId"));
  EXPECT_LT(Str(pj, "started"), Str(sj, "finished"));
  EXPECT_LT(Str(sj, "started"), Str(pj, "finished"));
  EXPECT_EQ(StepStdout(prod_inst, "first"), "tool v1 target=prod-db\n");
  EXPECT_EQ(StepStdout(staging_inst, "first"), "tool v1 target=staging-db\n");
  EXPECT_EQ(StepStdout(prod_inst, "second"), "second prod-db 1\n");
  EXPECT_EQ(StepStdout(staging_inst, "second"), "second staging-db 1\n");
  // The bundles differ only by environment; each environment has its own jobs.
  EXPECT_NE(Str(prod_inst, "bundleId"), Str(staging_inst, "bundleId"));
  json::value staging_jobs = GetJson("/api/v3/jobs?size=100&grouping=" + Enc(staging));
  EXPECT_EQ(Arr(staging_jobs.at("_embedded"), "jobSearchResultList").size(), 2u);

  // A manual parameter overrides the environment's.
  auto cli =
      Weir({"workflow", "run", kChainId, "-p", "TARGET=override", "--wait", "--timeout", "60"});
  ASSERT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_EQ(StepStdout(Instance(kChainId, 2), "second"), "second override 2\n");
}

TEST_F(SchedulerE2eTest, IdenticalRedeployCyclesMissingAndCorruptAssetsChangeNothing) {
  fs::path repo = MakeProject({{"chain.sch.yaml", ChainWorkflow(kGoodFirst)}});
  Deploy(repo);
  std::string again = Deploy(repo);
  EXPECT_NE(again.find("DEPLOYED " + kChainId + " VERSION 1 (unchanged"), std::string::npos)
      << again;
  json::value before = Versions(kChainId);
  ASSERT_EQ(Arr(before, "versions").size(), 1u);
  const size_t activations = Arr(before, "activations").size();
  auto unchanged = [&](const char* what) {
    json::value now = Versions(kChainId);
    EXPECT_EQ(Arr(now, "versions").size(), 1u) << what;
    EXPECT_EQ(Arr(now, "activations").size(), activations) << what;
    json::value wf = Workflow(kChainId);
    EXPECT_EQ(Str(wf, "activeVersion"), "1") << what;
    EXPECT_EQ(Str(wf, "latestVersion"), "1") << what;
  };
  unchanged("identical redeploy");

  // A cycle committed to the repository: deploy refuses it with the position.
  WriteFile(repo / "flows" / "chain.sch.yaml",
            ChainWorkflow(kGoodFirst) + "dag:\n  - second -> first\n");
  Commit(repo, "a cycle");
  auto cycle = Weir({"project", "deploy"}, repo);
  EXPECT_NE(cycle.exit_code, 0);
  EXPECT_NE((cycle.out + cycle.err).find("dependency cycle"), std::string::npos)
      << cycle.out << cycle.err;
  EXPECT_NE((cycle.out + cycle.err).find("flows/chain.sch.yaml:"), std::string::npos)
      << cycle.out << cycle.err;
  unchanged("cycle through the CLI");

  // The server checks bundles too: take version 1's manifest and alter it.
  json::value v1 = GetJson("/api/weir/v1/workflows/" + Enc(kChainId) + "/versions/1");
  ASSERT_TRUE(v1.at("manifest").is_object());
  const json::object manifest = v1.at("manifest").as_object();
  auto post = [&](json::object m) {
    m["definition_sha256"] = blob::Sha256Hex(std::string(m["definition"].as_string()));
    json::object body{{"manifest", m}, {"activate", true}, {"deployer", "e2e"}};
    auto r = http_->PostJson("/api/weir/v1/workflows", json::serialize(body));
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : client::Response{};
  };
  json::object with_cycle = manifest;
  with_cycle["definition"] =
      std::string(manifest.at("definition").as_string()) + "dag:\n  - second -> first\n";
  auto r_cycle = post(with_cycle);
  EXPECT_EQ(r_cycle.status, 400) << r_cycle.body;
  EXPECT_NE(r_cycle.body.find("cycle"), std::string::npos) << r_cycle.body;
  unchanged("cycle through the API");

  ASSERT_EQ(manifest.at("assets").as_array().size(), 1u);
  const std::string uuid = Str(manifest.at("assets").as_array()[0], "uuid");
  json::object missing = manifest;
  std::string unpublished = uuid.substr(0, uuid.rfind('.')) + ".99";
  missing["assets"].as_array()[0].as_object()["uuid"] = unpublished;
  missing["definition"] = std::string(manifest.at("definition").as_string()) + "# v-missing\n";
  auto r_missing = post(missing);
  EXPECT_EQ(r_missing.status, 412) << r_missing.body;
  EXPECT_NE(r_missing.body.find(unpublished), std::string::npos) << r_missing.body;
  unchanged("missing asset");

  // A corrupted blob, found when a server verifies it (blobs verified once are remembered
  // for the life of the server process, so the check runs after a restart).
  const std::string uri = Str(manifest.at("assets").as_array()[0], "uri");
  ASSERT_EQ(uri.rfind("file://", 0), 0u) << uri;
  const fs::path blob_file = uri.substr(7);
  const std::string original = Slurp(blob_file);
  CorruptFile(blob_file);
  server_->Stop();
  ASSERT_EQ(server_->Start(), "");
  json::object other = manifest;
  other["definition"] = std::string(manifest.at("definition").as_string()) + "# v-corrupt\n";
  auto r_corrupt = post(other);
  EXPECT_EQ(r_corrupt.status, 412) << r_corrupt.body;
  EXPECT_NE(r_corrupt.body.find(uuid), std::string::npos) << r_corrupt.body;
  EXPECT_NE(r_corrupt.body.find("corrupted"), std::string::npos) << r_corrupt.body;
  unchanged("corrupted blob");

  // Control: with the bytes restored the same altered manifest becomes version 2.
  WriteFile(blob_file, original);
  auto r_ok = post(other);
  EXPECT_EQ(r_ok.status, 201) << r_ok.body;
  EXPECT_EQ(Str(Workflow(kChainId), "latestVersion"), "2");
}

TEST_F(SchedulerE2eTest, ACorruptedAssetBlobRefusesTheDeploy) {
  fs::path repo = MakeProject({{"chain.sch.yaml", ChainWorkflow(kGoodFirst)}});
  auto published = Weir({"project", "deploy", "--assets-only"}, repo);
  ASSERT_EQ(published.exit_code, 0) << published.err;
  json::value record = GetJson("/api/weir/v1/assets:resolve?ref=dataflow.bash.e2e-tool");
  const std::string uri = Str(record, "uri");
  ASSERT_EQ(uri.rfind("file://", 0), 0u) << uri;
  const fs::path blob_file = uri.substr(7);
  const std::string original = Slurp(blob_file);
  CorruptFile(blob_file);

  auto refused = Weir({"project", "deploy"}, repo);
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_EQ(refused.out.find("DEPLOYED " + kChainId), std::string::npos) << refused.out;
  EXPECT_NE(refused.err.find(Str(record, "uuid")), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("corrupted"), std::string::npos) << refused.err;
  GetJson("/api/weir/v1/workflows/" + Enc(kChainId), 404);

  WriteFile(blob_file, original);
  std::string ok = Deploy(repo);
  EXPECT_NE(ok.find("DEPLOYED " + kChainId + " VERSION 1 active"), std::string::npos) << ok;
}

TEST_F(SchedulerE2eTest, AStepFailingTwiceSucceedsWithinItsRetries) {
  const char* flaky = R"(id: flaky
params: {COUNTER: /nonexistent/counter}
jobs:
  flaky:
    command: [type:bash]
    cluster: [type:local]
    args: ["n=$(( $(cat ${COUNTER} 2>/dev/null || echo 0) + 1 )); echo $n > ${COUNTER}; echo attempt $n; test $n -ge 3"]
    retries: {count: 3, backoff: 1s, multiplier: 1}
  after:
    command: [type:bash]
    cluster: [type:local]
    depends_on: flaky
    args: ["echo after"]
)";
  fs::path repo = MakeProject({{"flaky.sch.yaml", flaky}});
  Deploy(repo);
  const std::string id = "prod:acme.pipes.flaky";
  fs::path counter = dir_.path() / "counter";
  auto run = Weir(
      {"workflow", "run", id, "-p", "COUNTER=" + counter.string(), "--wait", "--timeout", "90"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(Slurp(counter), "3\n");
  json::value inst = Instance(id, 1);
  ASSERT_EQ(Str(inst, "status"), "SUCCEEDED") << json::serialize(inst);
  const json::value* step = Step(inst, "flaky");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(Str(*step, "attempts"), "3");
  EXPECT_EQ(Str(*step, "maxAttempts"), "4");
  const json::array& history = Arr(*step, "history");
  ASSERT_EQ(history.size(), 3u) << json::serialize(*step);
  std::set<std::string> jobs;
  for (size_t i = 0; i < history.size(); ++i) {
    EXPECT_EQ(Str(history[i], "attempt"), std::to_string(i + 1));
    EXPECT_EQ(Str(history[i], "status"), i < 2 ? "FAILED" : "SUCCEEDED");
    jobs.insert(Str(history[i], "jobId"));
    EXPECT_EQ(JobStdout(Str(history[i], "jobId")), "attempt " + std::to_string(i + 1) + "\n");
  }
  EXPECT_EQ(jobs.size(), 3u);
  EXPECT_EQ(Str(*step, "jobId"), Str(history[2], "jobId"));
  EXPECT_EQ(Str(*Step(inst, "after"), "status"), "SUCCEEDED");
  json::value grouped = GetJson("/api/v3/jobs?size=100&groupingInstance=" + Enc(id + "#1"));
  EXPECT_EQ(Arr(grouped.at("_embedded"), "jobSearchResultList").size(), 4u);
}

TEST_F(SchedulerE2eTest, Kill9MidDagTheInstanceCompletesOnceAfterRestart) {
  fs::path repo = MakeProject(
      {{"chain.sch.yaml", ChainWorkflow(kGatedFirst, R"(, GATE: "/", TEST_DIR: "/")")}});
  Deploy(repo);
  const fs::path gate = dir_.path() / "gate";
  int n = Run(kChainId, {{"GATE", gate.string()}, {"TEST_DIR", dir_.path().string()}});
  ASSERT_EQ(n, 1);
  ASSERT_TRUE(WaitStepRunning(kChainId, n, "first"));
  std::string first_job = Str(*Step(Instance(kChainId, n), "first"), "jobId");
  ASSERT_TRUE(WaitJobRunning(first_job));  // its process waits for the gate
  server_->Kill9();
  ASSERT_EQ(server_->Start(), "");
  // Re-adopted while still running; then it may finish.
  EXPECT_EQ(Str(GetJson("/api/v3/jobs/" + first_job + "/status"), "status"), "RUNNING");
  WriteFile(gate, "");

  json::value inst = WaitInstance(kChainId, n);
  EXPECT_EQ(Str(inst, "status"), "SUCCEEDED") << json::serialize(inst);
  const json::value* first = Step(inst, "first");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(Str(*first, "jobId"), first_job);  // adopted, not run again
  EXPECT_EQ(Arr(*first, "history").size(), 1u) << json::serialize(*first);
  EXPECT_EQ(StepStdout(inst, "first"), "tool v1 target=prod-db\n");
  EXPECT_EQ(StepStdout(inst, "second"), "second prod-db 1\n");

  // Nothing ran or was triggered twice.
  json::value all = Instances(kChainId);
  EXPECT_EQ(Arr(all, "instances").size(), 1u) << json::serialize(all);
  json::value jobs = GetJson("/api/v3/jobs?size=100&grouping=" + Enc(kChainId));
  EXPECT_EQ(Arr(jobs.at("_embedded"), "jobSearchResultList").size(), 2u);
  // And the next instance is number 2.
  EXPECT_EQ(Run(kChainId), 2);
  EXPECT_EQ(Str(WaitInstance(kChainId, 2), "status"), "SUCCEEDED");
}

// The server is killed while a step's job is still in set-up (fetching a dependency, INIT): the
// job service sets such jobs up again after the restart (acknowledged = will run), so the step
// keeps its job and attempt and the instance completes.
TEST_F(SchedulerE2eTest, Kill9WhileAStepIsInSetUpTheInstanceStillCompletes) {
  const char* held = R"y(id: held
params: {DEP: "http://127.0.0.1:1/none.txt"}
jobs:
  fetch:
    command: [type:bash]
    cluster: [type:local]
    dependencies: ["${DEP}"]
    args: ["cat $(basename ${DEP})"]
)y";
  fs::path repo = MakeProject({{"held.sch.yaml", held}});
  Deploy(repo);
  const std::string id = "prod:acme.pipes.held";
  HeldHttpServer dep("fetched\n");
  int n = Run(id, {{"DEP", dep.url("/dep.txt")}});
  ASSERT_EQ(n, 1);
  ASSERT_TRUE(WaitStepRunning(id, n, "fetch"));
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (dep.requests() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_GT(dep.requests(), 0) << "the job never asked for its dependency";
  std::string job = Str(*Step(Instance(id, n), "fetch"), "jobId");
  EXPECT_EQ(Str(GetJson("/api/v3/jobs/" + job + "/status"), "status"), "INIT");
  server_->Kill9();
  ASSERT_EQ(server_->Start(), "");
  dep.Release();

  json::value inst = WaitInstance(id, n);
  EXPECT_EQ(Str(inst, "status"), "SUCCEEDED") << json::serialize(inst);
  EXPECT_EQ(StepStdout(inst, "fetch"), "fetched\n");
  EXPECT_EQ(Arr(Instances(id), "instances").size(), 1u);
}

// A cron workflow firing every minute: the server is killed while the fired instance runs and
// restarted; that fire time is never run again and the instance completes. Waits for the next
// minute boundary (up to ~65 s).
TEST_F(SchedulerE2eTest, CronFireIsNotRepeatedAcrossAKill9) {
  const char* ticker = R"(id: ticker
schedule: "* * * * *"
jobs:
  tick:
    command: [type:bash]
    cluster: [type:local]
    args: ["sleep 2; echo tick ${EXECUTION_DATE}"]
)";
  fs::path repo = MakeProject({{"ticker.sch.yaml", ticker}});
  Deploy(repo);
  const std::string id = "prod:acme.pipes.ticker";
  EXPECT_NE(Str(Workflow(id), "nextFire"), "null");

  auto end = std::chrono::steady_clock::now() + 75s;
  bool fired = false;
  while (!fired && std::chrono::steady_clock::now() < end) {
    fired = !Arr(Instances(id), "instances").empty();
    if (!fired) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(fired) << "no cron fire within 75 s";
  ASSERT_TRUE(WaitStepRunning(id, 1, "tick"));
  json::value first = Instance(id, 1);
  ASSERT_TRUE(WaitJobRunning(Str(*Step(first, "tick"), "jobId")));
  EXPECT_EQ(Str(first, "trigger"), "cron");
  const std::string fire_time = Str(first, "triggerTime");
  EXPECT_NE(fire_time.find(":00.000Z"), std::string::npos) << fire_time;
  server_->Kill9();
  ASSERT_EQ(server_->Start(), "");

  json::value done = WaitInstance(id, 1);
  EXPECT_EQ(Str(done, "status"), "SUCCEEDED") << json::serialize(done);
  EXPECT_EQ(StepStdout(done, "tick"), "tick " + fire_time + "\n");
  std::this_thread::sleep_for(1s);  // several scheduler passes after the restart
  std::map<std::string, int> per_fire_time;
  json::value after = Instances(id);
  for (const auto& i : Arr(after, "instances")) {
    EXPECT_EQ(Str(i, "trigger"), "cron");
    ++per_fire_time[Str(i, "triggerTime")];
  }
  for (const auto& [t, count] : per_fire_time) EXPECT_EQ(count, 1) << "fire time " << t;
  EXPECT_EQ(per_fire_time[fire_time], 1);
}

}  // namespace
}  // namespace weir::testing
