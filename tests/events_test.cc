// End-to-end tests of the event log (issue 13): the real `weir server`, real jobs, and
// subscribers of GET /api/weir/v1/events over real HTTP (the client's SSE reader and a raw
// socket that never reads), plus `weir events tail`.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "client/http_client.h"
#include "client/sse.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

struct Seen {
  int64_t id = 0;
  std::string type;
  json::value data;
};

// A subscriber on its own thread and connection, keeping every event it receives.
class Subscriber {
 public:
  Subscriber(const std::string& url, std::string query, std::string last_id = "")
      : http_(url), query_(std::move(query)), last_id_(std::move(last_id)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Subscriber() { Disconnect(); }

  void Disconnect() {
    cancel_.Cancel();
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Seen> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  bool open() {
    std::lock_guard lock(mu_);
    return open_;
  }
  bool ended() {
    std::lock_guard lock(mu_);
    return ended_;
  }
  int Count(const std::string& type) {
    int n = 0;
    for (const Seen& s : events()) n += s.type == type;
    return n;
  }

 private:
  void Run() {
    client::Headers h;
    if (!last_id_.empty()) h.emplace_back("Last-Event-ID", last_id_);
    client::SseParser parser;
    auto r = http_.StreamGet(
        "/api/weir/v1/events" + query_, h,
        [&](std::string_view bytes) {
          std::lock_guard lock(mu_);
          open_ = true;
          parser.Feed(bytes, [&](const client::SseEvent& e) {
            Seen s;
            s.id = e.id.empty() ? 0 : std::stoll(e.id);
            s.type = e.event;
            s.data = Parse(e.data);
            events_.push_back(std::move(s));
          });
          return true;
        },
        &cancel_);
    std::lock_guard lock(mu_);
    ended_ = true;
    if (!r.ok() || r->status != 200)
      ADD_FAILURE() << "events stream: " << (r.ok() ? r->body : r.status().ToString());
  }

  client::HttpClient http_;
  std::string query_;
  std::string last_id_;
  client::StreamCancel cancel_;
  std::mutex mu_;
  std::vector<Seen> events_;  // GUARDED_BY(mu_)
  bool open_ = false;         // GUARDED_BY(mu_)
  bool ended_ = false;        // GUARDED_BY(mu_)
  std::thread thread_;
};

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", Config());
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }
  virtual std::string Config() {
    return "jobs:\n  max_active_jobs_per_user: 1000\n  default_memory_mb: 1\n";
  }

  std::string Submit(const std::string& script, const std::string& user = "tester") {
    json::object req{{"name", "t"},
                     {"user", user},
                     {"version", "1"},
                     {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                     {"commandCriteria", json::array{"type:bash"}},
                     {"commandArguments", json::array{json::value(script)}}};
    auto r = http_->PostJson("/api/v3/jobs", json::serialize(req));
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->status, 202) << r->body;
    std::string loc = r->Header("location").value_or("");
    return loc.substr(loc.rfind('/') + 1);
  }

  std::string Status(const std::string& id) {
    auto r = http_->Get("/api/v3/jobs/" + id + "/status");
    return r.ok() && r->status == 200 ? Str(Parse(r->body), "status") : "";
  }

  // The whole stored log matching `query`, through `weir events tail --no-follow -o json`.
  std::vector<Seen> StoredLog(std::vector<std::string> filters = {}, int64_t since = 0) {
    std::vector<std::string> args = {"events",      "tail", "--since", std::to_string(since),
                                     "--no-follow", "-o",   "json"};
    args.insert(args.end(), filters.begin(), filters.end());
    auto r = RunWeir(server_->url(), args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<Seen> out;
    json::value doc = Parse(r.out);
    if (!doc.is_object()) return out;
    for (const json::value& e : doc.at("events").as_array()) {
      Seen s;
      s.id = e.at("id").to_number<int64_t>();
      s.type = Str(e, "type");
      s.data = e;
      out.push_back(std::move(s));
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

// Every job's status changes, as a subscriber saw them: "null>INIT", "INIT>RUNNING", ...
std::map<std::string, std::vector<std::string>> Transitions(const std::vector<Seen>& events) {
  std::map<std::string, std::vector<std::string>> out;
  for (const Seen& s : events) {
    if (s.type != "JOB_STATUS_CHANGE") continue;
    std::string from = s.data.at("fromState").is_null() ? "null" : Str(s.data, "fromState");
    out[Str(s.data, "jobId")].push_back(from + ">" + Str(s.data, "toState"));
  }
  return out;
}

void ExpectIncreasingIds(const std::vector<Seen>& events) {
  for (size_t i = 1; i < events.size(); ++i) {
    ASSERT_LT(events[i - 1].id, events[i].id) << "event " << i << " repeats or reorders the log";
  }
}

TEST_F(EventsTest, HundredJobsEveryTransitionArrivesInOrderExactlyOnce) {
  Subscriber sub(server_->url(), "?user=tester");
  ASSERT_TRUE(WaitFor([&] { return sub.open(); }, 30s)) << "the stream never opened";
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(Submit("exit " + std::to_string(i % 3 == 0)));
  ASSERT_TRUE(WaitFor([&] { return sub.Count("JOB_FINISHED") >= 100; }, 180s))
      << "only " << sub.Count("JOB_FINISHED") << " of 100 JOB_FINISHED events arrived";
  std::vector<Seen> live = sub.events();
  ExpectIncreasingIds(live);
  auto transitions = Transitions(live);
  ASSERT_EQ(transitions.size(), 100u);
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string end = i % 3 == 0 ? "RUNNING>FAILED" : "RUNNING>SUCCEEDED";
    EXPECT_EQ(transitions[ids[i]], (std::vector<std::string>{"null>INIT", "INIT>RUNNING", end}))
        << "job " << i;
  }
  for (const Seen& s : live) {
    if (s.type != "JOB_FINISHED") continue;
    // Genie 4's JOB_FINISHED fields.
    EXPECT_EQ(Str(s.data.at("request"), "user"), "tester");
    EXPECT_EQ(Str(s.data.at("cluster"), "id"), "local");
    EXPECT_EQ(Str(s.data.at("command"), "id"), "bash");
    EXPECT_FALSE(Str(s.data, "finished").empty());
    EXPECT_TRUE(s.data.at("exitCode").is_int64());
    EXPECT_FALSE(Str(s.data, "timestamp").empty());
  }
  // The durable log holds exactly what was sent live, and a filter on another user is empty.
  std::vector<Seen> stored = StoredLog({"--user", "tester"});
  ASSERT_EQ(stored.size(), live.size());
  for (size_t i = 0; i < live.size(); ++i) EXPECT_EQ(stored[i].id, live[i].id);
  EXPECT_TRUE(StoredLog({"--user", "nobody"}).empty());
}

TEST_F(EventsTest, ResumingWithLastEventIdLosesNothing) {
  auto first = std::make_unique<Subscriber>(server_->url(), "");
  ASSERT_TRUE(WaitFor([&] { return first->open(); }, 30s));
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Submit("true"));
  ASSERT_TRUE(WaitFor([&] { return first->Count("JOB_FINISHED") >= 5; }, 60s));
  first->Disconnect();
  std::vector<Seen> before = first->events();
  ASSERT_FALSE(before.empty());
  // While nobody listens, more jobs run.
  for (int i = 0; i < 5; ++i) ids.push_back(Submit("true"));
  ASSERT_TRUE(WaitFor([&] { return Status(ids.back()) == "SUCCEEDED"; }, 60s));
  Subscriber again(server_->url(), "", std::to_string(before.back().id));
  ASSERT_TRUE(WaitFor([&] { return again.Count("JOB_FINISHED") >= 5; }, 60s));
  std::vector<Seen> all = before;
  for (const Seen& s : again.events()) all.push_back(s);
  ExpectIncreasingIds(all);
  std::vector<Seen> stored = StoredLog();
  ASSERT_EQ(all.size(), stored.size());
  auto transitions = Transitions(all);
  for (const std::string& id : ids) {
    EXPECT_EQ(transitions[id],
              (std::vector<std::string>{"null>INIT", "INIT>RUNNING", "RUNNING>SUCCEEDED"}));
  }
}

TEST_F(EventsTest, WaitFollowsTheStreamAndTailPrintsOneDocument) {
  auto r = RunWeir(server_->url(), {"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--user",
                                    "tester", "--wait", "--", "echo hi"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto tail = RunWeir(server_->url(), {"events", "tail", "--since", "0", "--count", "2", "-o",
                                       "json", "--type", "JOB_STATUS_CHANGE"});
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  json::value doc = Parse(tail.out);
  ASSERT_TRUE(doc.is_object()) << tail.out;
  ASSERT_EQ(doc.at("events").as_array().size(), 2u);
  EXPECT_EQ(Str(doc.at("events").as_array()[1], "toState"), "RUNNING");
  auto refused = RunWeir(server_->url(), {"events", "tail", "-o", "json"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(refused.out.empty()) << refused.out;
}

// The client drops the stream while the jobs are still running and resumes from the last id
// it got: the two halves are the whole log, each transition once, in order.
TEST_F(EventsTest, DisconnectingMidwayAndResumingLosesAndRepeatsNothing) {
  auto first = std::make_unique<Subscriber>(server_->url(), "?user=tester");
  ASSERT_TRUE(WaitFor([&] { return first->open(); }, 30s));
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(Submit("true"));
  ASSERT_TRUE(WaitFor([&] { return first->events().size() >= 60; }, 120s));
  first->Disconnect();
  std::vector<Seen> before = first->events();
  ASSERT_LT(first->Count("JOB_FINISHED"), 100) << "every job ended before the disconnect";
  Subscriber again(server_->url(), "?user=tester", std::to_string(before.back().id));
  auto finished = [&] {
    int n = again.Count("JOB_FINISHED");
    for (const Seen& s : before) n += s.type == "JOB_FINISHED";
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return finished() >= 100; }, 180s))
      << "only " << finished() << " of 100 JOB_FINISHED events arrived";
  std::vector<Seen> all = before;
  for (const Seen& s : again.events()) all.push_back(s);
  ExpectIncreasingIds(all);
  auto transitions = Transitions(all);
  ASSERT_EQ(transitions.size(), 100u);
  for (const std::string& id : ids) {
    EXPECT_EQ(transitions[id],
              (std::vector<std::string>{"null>INIT", "INIT>RUNNING", "RUNNING>SUCCEEDED"}))
        << "job " << id;
  }
  EXPECT_EQ(all.size(), StoredLog({"--user", "tester"}).size());
}

// ---- workflow, deployment and asset events ----

const char* kProjectYaml = R"(project: {owner: acme, repo: feats, main_branch: main}
assets:
  - name: noop
    type: bash
    namespace: e2e-events
    build: mkdir -p dist && cp src/noop.sh dist/noop.sh
    file: dist/noop.sh
workflows: [flows]
environments:
  prod: {}
)";

// `load` runs after `extract`.
std::string PipeYaml(const std::string& word) {
  return "id: pipe\njobs:\n  extract:\n    command: [type:bash]\n    cluster: [type:local]\n"
         "    args: [\"echo " +
         word +
         "\"]\n  load:\n    command: [type:bash]\n    cluster: [type:local]\n"
         "    depends_on: extract\n    args: [\"echo load\"]\n";
}

class WorkflowEventsTest : public EventsTest {
 protected:
  void SetUp() override {
    EventsTest::SetUp();
    repo_ = dir_.path() / "feats";
    WriteFile(repo_ / "dataflow.yaml", kProjectYaml);
    WriteFile(repo_ / ".gitignore", ".workflows/\ndist/\n");
    WriteFile(repo_ / "src" / "noop.sh", "true\n");
    WriteFile(repo_ / "flows" / "pipe.sch.yaml", PipeYaml("one"));
    ASSERT_EQ(Git(repo_, "init -q -b main").first, 0);
    Commit("first");
  }
  void Commit(const std::string& message) {
    ASSERT_EQ(Git(repo_, "add -A").first, 0);
    auto c = Git(repo_, "commit -q -m " + message);
    ASSERT_EQ(c.first, 0) << c.second;
  }
  void Deploy() {
    auto d = RunWeir(server_->url(), {"project", "deploy"}, repo_);
    ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
  }
  std::string Head() {
    auto h = Git(repo_, "rev-parse HEAD");
    return h.second.substr(0, 40);
  }
  static std::vector<std::string> Types(const std::vector<Seen>& events) {
    std::vector<std::string> out;
    for (const Seen& s : events) out.push_back(s.type);
    return out;
  }

  const std::string id_ = "prod:acme.feats.pipe";
  std::filesystem::path repo_;
};

TEST_F(WorkflowEventsTest, DeployActivateRollbackAndPublishAreEvents) {
  Subscriber sub(server_->url(), "");
  ASSERT_TRUE(WaitFor([&] { return sub.open(); }, 30s));
  Deploy();
  const std::string first_commit = Head();
  WriteFile(repo_ / "flows" / "pipe.sch.yaml", PipeYaml("two"));
  Commit("second");
  Deploy();
  auto rb = RunWeir(server_->url(), {"workflow", "rollback", id_});
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  ASSERT_TRUE(WaitFor([&] { return sub.Count("WORKFLOW_ACTIVATED") >= 3; }, 30s))
      << sub.Count("WORKFLOW_ACTIVATED") << " activations seen";

  std::vector<Seen> live = sub.events();
  ExpectIncreasingIds(live);
  std::vector<Seen> wf;  // this workflow's events, in log order
  std::vector<Seen> assets;
  for (const Seen& s : live) {
    if (s.type == "ASSET_PUBLISHED") assets.push_back(s);
    if (s.type.rfind("WORKFLOW_", 0) == 0 && Str(s.data, "workflow") == id_) wf.push_back(s);
  }
  ASSERT_EQ(Types(wf), (std::vector<std::string>{"WORKFLOW_DEPLOYED", "WORKFLOW_ACTIVATED",
                                                 "WORKFLOW_DEPLOYED", "WORKFLOW_ACTIVATED",
                                                 "WORKFLOW_ACTIVATED"}));
  EXPECT_EQ(wf[0].data.at("version").to_number<int64_t>(), 1);
  EXPECT_EQ(Str(wf[0].data, "environment"), "prod");
  EXPECT_EQ(Str(wf[0].data, "commit"), first_commit);
  EXPECT_EQ(Str(wf[0].data, "branch"), "main");
  EXPECT_EQ(Str(wf[0].data, "bundleId").size(), 64u) << json::serialize(wf[0].data);
  EXPECT_TRUE(wf[1].data.at("fromVersion").is_null());
  EXPECT_EQ(wf[1].data.at("toVersion").to_number<int64_t>(), 1);
  EXPECT_EQ(Str(wf[1].data, "reason"), "deploy");
  EXPECT_FALSE(wf[1].data.at("rollback").as_bool());
  EXPECT_EQ(wf[2].data.at("version").to_number<int64_t>(), 2);
  EXPECT_NE(Str(wf[2].data, "bundleId"), Str(wf[0].data, "bundleId"));
  EXPECT_EQ(wf[3].data.at("fromVersion").to_number<int64_t>(), 1);
  EXPECT_EQ(wf[3].data.at("toVersion").to_number<int64_t>(), 2);
  EXPECT_EQ(wf[4].data.at("fromVersion").to_number<int64_t>(), 2);
  EXPECT_EQ(wf[4].data.at("toVersion").to_number<int64_t>(), 1);
  EXPECT_EQ(Str(wf[4].data, "reason"), "rollback");
  EXPECT_TRUE(wf[4].data.at("rollback").as_bool());

  // The asset was published once (the second deploy reuses the same bytes' version or adds
  // one for the new commit): each event names the version the registry holds.
  ASSERT_FALSE(assets.empty());
  const Seen& a = assets.front();
  EXPECT_EQ(Str(a.data, "namespace"), "e2e-events");
  EXPECT_EQ(Str(a.data, "branch"), "main");
  EXPECT_EQ(Str(a.data, "commit"), first_commit.substr(0, 8));
  auto got = http_->Get("/api/weir/v1/assets/" + client::UrlEncode(Str(a.data, "versionId")));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, 200) << Str(a.data, "versionId") << ": " << got->body;
  // Asset events come before the deployment that uses them.
  EXPECT_LT(a.id, wf[0].id);

  // `weir events tail` names the workflow and the versions.
  auto tail =
      RunWeir(server_->url(), {"events", "tail", "--workflow", id_, "--since", "0", "--no-follow"});
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  EXPECT_NE(tail.out.find(" WORKFLOW_ACTIVATED " + id_ + ": version 2 -> 1 (rollback)\n"),
            std::string::npos)
      << tail.out;
  EXPECT_NE(tail.out.find(" WORKFLOW_DEPLOYED " + id_ + ": version 2 (bundle "), std::string::npos)
      << tail.out;

  // The `workflow` filter keeps exactly this workflow's events, live and stored.
  std::vector<Seen> stored = StoredLog({"--workflow", id_});
  ASSERT_EQ(stored.size(), wf.size());
  for (size_t i = 0; i < wf.size(); ++i) EXPECT_EQ(stored[i].id, wf[i].id);
}

TEST_F(WorkflowEventsTest, RunWaitFollowsInstanceAndStepEventsInOrder) {
  Deploy();
  Subscriber sub(server_->url(), "?workflow=" + client::UrlEncode(id_));
  ASSERT_TRUE(WaitFor([&] { return sub.open(); }, 30s));
  auto run = RunWeir(server_->url(), {"workflow", "run", id_, "--wait", "--timeout", "120"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  // Progress came from the stream: only step events name the job.
  EXPECT_NE(run.err.find("step extract: RUNNING (attempt 1, job "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("step load: SUCCEEDED"), std::string::npos) << run.err;
  EXPECT_LT(run.err.find("step extract: SUCCEEDED"), run.err.find("step load: RUNNING")) << run.err;
  EXPECT_NE(run.err.find(id_ + "#1: SUCCEEDED"), std::string::npos) << run.err;
  auto tail = RunWeir(server_->url(), {"events", "tail", "--workflow", id_, "--type",
                                       "WORKFLOW_STEP_CHANGE", "--since", "0", "--count", "1"});
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  EXPECT_NE(tail.out.find(" WORKFLOW_STEP_CHANGE " + id_ + "#1 step extract job "),
            std::string::npos)
      << tail.out;

  ASSERT_TRUE(WaitFor(
      [&] {
        for (const Seen& s : sub.events()) {
          if (s.type == "WORKFLOW_INSTANCE_CHANGE" && Str(s.data, "toState") == "SUCCEEDED") {
            return true;
          }
        }
        return false;
      },
      30s));
  std::vector<Seen> live = sub.events();
  ExpectIncreasingIds(live);
  std::vector<std::string> seq;  // "instance CREATED>RUNNING", "extract PENDING>RUNNING", ...
  std::map<std::string, std::string> job_of;
  for (const Seen& s : live) {
    EXPECT_EQ(Str(s.data, "workflow"), id_);
    EXPECT_EQ(s.data.at("instance").to_number<int64_t>(), 1);
    const std::string from = s.data.at("fromState").is_null() ? "null" : Str(s.data, "fromState");
    if (s.type == "WORKFLOW_INSTANCE_CHANGE") {
      seq.push_back("instance " + from + ">" + Str(s.data, "toState"));
      EXPECT_EQ(s.data.at("version").to_number<int64_t>(), 1);
      EXPECT_FALSE(Str(s.data, "logicalDate").empty());
    } else {
      ASSERT_EQ(s.type, "WORKFLOW_STEP_CHANGE");
      seq.push_back(Str(s.data, "step") + " " + from + ">" + Str(s.data, "toState"));
      EXPECT_EQ(s.data.at("attempt").to_number<int64_t>(), 1);
      if (Str(s.data, "toState") == "RUNNING") job_of[Str(s.data, "step")] = Str(s.data, "jobId");
    }
  }
  EXPECT_EQ(seq, (std::vector<std::string>{"instance null>CREATED", "instance CREATED>RUNNING",
                                           "extract PENDING>RUNNING", "extract RUNNING>SUCCEEDED",
                                           "load PENDING>RUNNING", "load RUNNING>SUCCEEDED",
                                           "instance RUNNING>SUCCEEDED"}));
  // The job ids are the instance's, and the jobs' own events carry them.
  auto inst = http_->Get("/api/weir/v1/workflows/" + client::UrlEncode(id_) + "/instances/1");
  ASSERT_TRUE(inst.ok());
  const json::value instance = Parse(inst->body);
  for (const json::value& step : instance.at("steps").as_array()) {
    EXPECT_EQ(job_of[Str(step, "id")], Str(step, "jobId")) << Str(step, "id");
    EXPECT_EQ(Status(Str(step, "jobId")), "SUCCEEDED");
  }
}

class StalledSubscriberTest : public EventsTest {
 protected:
  std::string Config() override {
    return EventsTest::Config() + "events:\n  subscriber_buffer: 4\n";
  }
};

// A subscriber that never reads fills its socket and then its buffer: jobs still finish, and
// when it finally reads it is told where to resume, and resuming there loses nothing.
TEST_F(StalledSubscriberTest, NeverBlocksJobsAndIsToldToResume) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  int small = 1024;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string get = "GET /api/weir/v1/events HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd, get.data(), get.size()), static_cast<ssize_t>(get.size()));
  // Wait until the server has the subscriber (the stream's head is sent).
  char first = 0;
  ASSERT_EQ(::recv(fd, &first, 1, MSG_PEEK), 1);

  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) ids.push_back(Submit("true"));
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitFor([&] { return Status(id) == "SUCCEEDED"; }, 120s))
        << "job " << id << " did not finish with a stalled subscriber attached";
  }
  // Now read everything: the stream ends with a resume event naming the last id sent.
  std::string text;
  char buf[65536];
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t body = text.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos) << text.substr(0, 200);
  // Undo the chunked framing enough for the SSE parser: chunk-size lines are not SSE fields.
  std::vector<client::SseEvent> events;
  client::SseParser parser;
  std::string dechunked;
  size_t pos = body + 4;
  while (pos < text.size()) {
    size_t eol = text.find("\r\n", pos);
    if (eol == std::string::npos) break;
    size_t len = std::stoul(text.substr(pos, eol - pos), nullptr, 16);
    if (len == 0) break;
    dechunked += text.substr(eol + 2, len);
    pos = eol + 2 + len + 2;
  }
  parser.Feed(dechunked, [&](const client::SseEvent& e) { events.push_back(e); });
  ASSERT_FALSE(events.empty());
  ASSERT_EQ(events.back().event, "resume")
      << dechunked.substr(dechunked.size() > 400 ? dechunked.size() - 400 : 0);
  json::value resume = Parse(events.back().data);
  const int64_t last = resume.at("lastEventId").to_number<int64_t>();
  // The events it got, then the log from its last id, are the whole log.
  int64_t got = 0;
  for (const auto& e : events) got += e.event != "resume";
  std::vector<Seen> stored = StoredLog();
  std::vector<Seen> rest = StoredLog({}, last);
  EXPECT_EQ(static_cast<size_t>(got) + rest.size(), stored.size());
  EXPECT_LT(static_cast<size_t>(got), stored.size()) << "the subscriber was never cut off";
}

}  // namespace
}  // namespace weir::testing
