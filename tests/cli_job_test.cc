// `weir job ...` as scripts use it (issue 15): the real `weir` binary against the real `weir
// server`, asserting exit codes (docs/cli.md), stdout (one JSON document with `-o json`) and
// stderr, and what reached the server, read back through the HTTP API.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "client/http_client.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::set<std::string> Keys(const json::value& v) {
  std::set<std::string> keys;
  if (v.is_object()) {
    for (const auto& kv : v.as_object()) keys.insert(std::string(kv.key()));
  }
  return keys;
}

// A server with examples/demo.yaml applied and room for exactly one 1024 MB job: a second job
// queues (INIT), and a user may have one active job (a second is 429).
class CliJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.path() / "files");
    WriteFile(dir_.path() / "files" / "app.conf", "x=1\n");
    server_ = std::make_unique<WeirServer>(
        dir_.path() / "data", "fetch:\n  allowed_file_roots: [" + (dir_.path() / "files").string() +
                                  "]\n"
                                  "jobs:\n  kill_grace_ms: 500\n"
                                  "  max_system_memory_mb: 1024\n"
                                  "  queue_enabled: true\n"
                                  "  max_active_jobs_per_user: 1\n"
                                  "attachments:\n  max_file_bytes: 1000\n");
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = Weir({"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  CommandResult Weir(const std::vector<std::string>& args) { return RunWeir(server_->url(), args); }

  json::value Get(const std::string& path) {
    auto r = http_->Get(path, {{"Accept", "application/json"}});
    EXPECT_TRUE(r.ok()) << path;
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return Parse(r->body);
  }

  // Submits `script` (bash) through the CLI; returns the job id printed on stdout.
  std::string Submit(const std::string& script, const std::string& user = "tester") {
    auto r =
        Weir({"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--user", user, "--", script});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string id = r.out;
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }

  std::string JobStatus(const std::string& id) {
    return Str(Get("/api/v3/jobs/" + id + "/status"), "status");
  }

  std::string WaitFinal(const std::string& id) {
    std::string status;
    bool done = WaitFor(
        [&] {
          status = JobStatus(id);
          return status == "SUCCEEDED" || status == "FAILED" || status == "KILLED" ||
                 status == "INVALID";
        },
        60s);
    EXPECT_TRUE(done) << "job " << id << " still " << status;
    return status;
  }

  void WaitStatus(const std::string& id, const std::string& want) {
    ASSERT_TRUE(WaitFor([&] { return JobStatus(id) == want; }, 60s))
        << "job " << id << " never reached " << want << " (is " << JobStatus(id) << ")";
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

// Bug 1: words after `--` reach the command one by one, quoted for the user; --args as written.
TEST_F(CliJobTest, WordsAfterDashDashAreEachOneArgumentOfTheCommand) {
  auto r = Weir({"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--wait", "--",
                 "printf '[%s]' \"$@\"", "zero", "a b", "c'd", "$HOME"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[a b][c'd][$HOME]");

  auto raw = Weir(
      {"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--wait", "--args", "'echo hello'"});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(raw.out, "hello\n");

  // The help's examples are the forms that work.
  auto help = Weir({"job", "submit", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(Contains(help.out, "--wait -- 'echo hi; date'")) << help.out;
  EXPECT_FALSE(Contains(help.out, "--args 'echo hi'")) << help.out;
  EXPECT_TRUE(Contains(help.out, "read on the server's machine")) << help.out;
}

// --env KEY=VALUE reaches the command's environment (after the set-up files), is kept in the
// job's request, and a malformed pair or a reserved name is refused before anything runs.
TEST_F(CliJobTest, EnvPairsReachTheCommandAndBadOnesAreRefused) {
  auto r = Weir({"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--env",
                 "GREETING=hello world", "--env", "EMPTY=", "--env", "QUOTE=it's $HOME", "--wait",
                 "--", "printf '%s|%s|%s' \"$GREETING\" \"${EMPTY-unset}\" \"$QUOTE\""});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello world||it's $HOME");

  auto id = Weir({"-o", "json", "job", "submit", "-c", "sched:sla", "-C", "type:bash", "--env",
                  "TARGET_DB=warehouse", "--", "true"});
  ASSERT_EQ(id.exit_code, 0) << id.err;
  auto req = http_->Get("/api/v3/jobs/" + Str(Parse(id.out), "id") + "/request");
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(Str(Parse(req->body).at("environmentVariables"), "TARGET_DB"), "warehouse")
      << req->body;

  auto no_eq = Weir(
      {"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--env", "NOVALUE", "--", "true"});
  EXPECT_EQ(no_eq.exit_code, 2);
  EXPECT_TRUE(Contains(no_eq.err, "--env 'NOVALUE': expected KEY=VALUE")) << no_eq.err;
  auto reserved = Weir({"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--env",
                        "GENIE_JOB_ID=x", "--", "true"});
  EXPECT_EQ(reserved.exit_code, 1);
  EXPECT_TRUE(Contains(reserved.err, "GENIE_")) << reserved.err;
}

// Bug 4: a mistyped subcommand names the word and the nearest command, exit 2.
TEST_F(CliJobTest, AMistypedCommandNamesTheWordAndTheNearestValidOne) {
  auto r = Weir({"job", "sumbit", "-c", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err,
                       "weir: unknown command 'sumbit' for 'weir job'; did you mean "
                       "'submit'?"))
      << r.err;
  EXPECT_FALSE(Contains(r.err, "A subcommand is required")) << r.err;

  auto top = Weir({"-o", "json", "jbo", "list"});
  EXPECT_EQ(top.exit_code, 2);
  EXPECT_TRUE(Contains(top.err, "unknown command 'jbo' for 'weir'; did you mean 'job'?"))
      << top.err;

  // Nothing close: the valid commands are listed.
  auto far = Weir({"cluster", "zzzzzz", "x"});
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_TRUE(Contains(far.err, "unknown command 'zzzzzz' for 'weir cluster'; valid commands: "))
      << far.err;
  EXPECT_TRUE(Contains(far.err, "list")) << far.err;
  EXPECT_EQ(far.out, "");
}

// Bug 5: one job document (no `_links`, with exitCode) in every command's `-o json`.
TEST_F(CliJobTest, EveryJobCommandPrintsTheSameJobDocumentWithJsonOutput) {
  auto sub = Weir({"-o", "json", "job", "submit", "-c", "sched:sla", "-C", "type:bash", "--wait",
                   "--", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(sub.exit_code, 6) << sub.err;  // FAILED
  json::value doc = Parse(sub.out);        // exactly one document: the job's stdout is not there
  const std::string id = Str(doc, "id");
  ASSERT_FALSE(id.empty()) << sub.out;
  EXPECT_EQ(Str(doc, "status"), "FAILED");
  EXPECT_EQ(Str(doc, "exitCode"), "3");
  EXPECT_FALSE(doc.as_object().contains("_links"));
  // Every field of the API's job, without `_links`.
  std::set<std::string> fields = Keys(Get("/api/v3/jobs/" + id));
  fields.erase("_links");
  fields.insert("exitCode");
  EXPECT_EQ(Keys(doc), fields);

  // The same document from every command (archival may still fill in archiveLocation after the
  // job ended, so the fields are compared that the job's end fixes).
  auto same = [&](const json::value& v, const std::string& what) {
    EXPECT_EQ(Keys(v), fields) << what;
    for (const char* k : {"id", "status", "statusMsg", "exitCode", "started", "finished",
                          "clusterName", "commandName", "commandArgs", "runtime"}) {
      EXPECT_EQ(Str(v, k), Str(doc, k)) << what << ": " << k;
    }
  };
  for (const char* cmd : {"get", "status"}) {
    auto r = Weir({"-o", "json", "job", cmd, id});
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    same(Parse(r.out), cmd);
  }
  auto wait = Weir({"-o", "json", "job", "wait", id});
  EXPECT_EQ(wait.exit_code, 6) << wait.err;
  same(Parse(wait.out), "wait");

  auto list = Weir({"-o", "json", "job", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  json::value items = ListItems(list.out, "jobs");
  ASSERT_TRUE(items.is_array()) << list.out;
  EXPECT_EQ(Str(Parse(list.out).at("page"), "totalElements"), "1") << list.out;
  ASSERT_EQ(items.as_array().size(), 1u) << list.out;
  same(items.as_array()[0], "list");

  auto kill = Weir({"-o", "json", "job", "kill", id});
  EXPECT_EQ(kill.exit_code, 8) << kill.err;
  same(Parse(kill.out), "kill");

  // A folder listing with -o json is the API's listing document.
  auto root = Weir({"-o", "json", "job", "output", id, "/"});
  ASSERT_EQ(root.exit_code, 0) << root.err;
  json::value listing = Parse(root.out);
  for (const char* k : {"parent", "directories", "files"}) {
    EXPECT_TRUE(listing.is_object() && listing.as_object().contains(k)) << k << ": " << root.out;
  }
  std::set<std::string> names;
  for (const auto& f : listing.at("files").as_array()) names.insert(Str(f, "name"));
  EXPECT_TRUE(names.count("stdout") && names.count("stderr")) << root.out;
}

// Bug 6: killing a job that already ended says how it ended, exit 8, nothing on stdout.
TEST_F(CliJobTest, KillingAFinishedJobSaysItAlreadyEndedAndHow) {
  std::string id = Submit("true");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");
  json::value job = Get("/api/v3/jobs/" + id);
  auto r = Weir({"job", "kill", id});
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(Contains(r.err, "job " + id + " already ended SUCCEEDED at " + Str(job, "finished")))
      << r.err;
  EXPECT_FALSE(Contains(r.err, "kill requested")) << r.err;
  EXPECT_EQ(JobStatus(id), "SUCCEEDED");
}

// Bug 8: `genie` and `genie/` both list the folder.
TEST_F(CliJobTest, OutputOfAFolderWithoutTheSlashListsItLikeWithTheSlash) {
  std::string id = Submit("echo hi");
  ASSERT_EQ(WaitFinal(id), "SUCCEEDED");
  auto slash = Weir({"job", "output", id, "genie/"});
  ASSERT_EQ(slash.exit_code, 0) << slash.err;
  ASSERT_TRUE(Contains(slash.out, "\t")) << slash.out;
  auto bare = Weir({"job", "output", id, "genie"});
  ASSERT_EQ(bare.exit_code, 0) << bare.err;
  EXPECT_EQ(bare.out, slash.out);
  EXPECT_FALSE(Contains(bare.out, "{")) << bare.out;
}

// Bug 9: status values in any case; a wrong one is a usage error naming the valid values.
TEST_F(CliJobTest, StatusFiltersTakeAnyCase) {
  std::string ok = Submit("true");
  ASSERT_EQ(WaitFinal(ok), "SUCCEEDED");
  std::string bad = Submit("exit 1");
  ASSERT_EQ(WaitFinal(bad), "FAILED");
  for (const char* s : {"failed", "Failed", "FAILED"}) {
    auto r = Weir({"-o", "json", "job", "list", "--status", s});
    ASSERT_EQ(r.exit_code, 0) << s << ": " << r.err;
    json::value v = ListItems(r.out, "jobs");
    ASSERT_TRUE(v.is_array() && v.as_array().size() == 1) << s << ": " << r.out;
    EXPECT_EQ(Str(v.as_array()[0], "id"), bad) << s;
  }
  auto wrong = Weir({"job", "list", "--status", "done"});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_TRUE(Contains(wrong.err, "FAILED")) << wrong.err;
}

// A submission over a size limit (413) is refused for good: exit 1, not 4 ("retry"), with the
// server's message naming the limit.
TEST_F(CliJobTest, ATooLargeAttachmentExitsOneWithTheLimit) {
  const fs::path big = dir_.path() / "big.bin";
  WriteFile(big, std::string(2000, 'x'));
  auto r = Weir({"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--attach", big.string(),
                 "--", "true"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(Contains(r.err, "1000")) << r.err;
}

// Bug 11 (CLI side) and the exit codes of queued, rejected and killed jobs.
TEST_F(CliJobTest, AJobKilledWhileQueuedSaysItNeverStarted) {
  std::string running = Submit("sleep 60", "alice");
  WaitStatus(running, "RUNNING");
  // alice has one active job: a second is 429, worth retrying (exit 4).
  auto limited = Weir(
      {"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--user", "alice", "--", "true"});
  EXPECT_EQ(limited.exit_code, 4) << limited.err;
  // No memory left: bob's job queues.
  std::string queued = Submit("echo never", "bob");
  ASSERT_EQ(JobStatus(queued), "INIT");
  auto kill = Weir({"job", "kill", queued});
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  ASSERT_EQ(WaitFinal(queued), "KILLED");

  auto status = Weir({"job", "status", queued});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(Contains(status.err, "never started")) << status.err;
  EXPECT_FALSE(Contains(status.out, "999")) << status.out;

  auto out = Weir({"job", "output", queued});
  EXPECT_EQ(out.exit_code, 3) << out.err;
  EXPECT_TRUE(Contains(out.err, "job " + queued + " never started")) << out.err;
  EXPECT_FALSE(Contains(out.err, "not archived")) << out.err;

  auto wait = Weir({"job", "wait", "--exit-code", queued});
  EXPECT_EQ(wait.exit_code, 7) << wait.err;  // KILLED, no exit code of its own

  ASSERT_EQ(Weir({"job", "kill", running}).exit_code, 0);
  ASSERT_EQ(WaitFinal(running), "KILLED");
  EXPECT_EQ(Weir({"job", "wait", running}).exit_code, 7);
}

// The documented exit codes: 0, 3, 6, --exit-code, 5 for no server.
TEST_F(CliJobTest, ExitCodesSeparateFailedNotFoundAndTheJobsOwnCode) {
  auto ok = Weir({"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--wait", "--", "true"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto failed =
      Weir({"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--wait", "--", "exit 42"});
  EXPECT_EQ(failed.exit_code, 6) << failed.err;
  auto own = Weir({"job", "submit", "-c", "sched:sla", "-C", "type:bash", "--wait", "--exit-code",
                   "--", "exit 42"});
  EXPECT_EQ(own.exit_code, 42) << own.err;

  for (const char* cmd : {"status", "get", "kill", "wait", "output"}) {
    auto r = Weir({"job", cmd, "no-such-job"});
    EXPECT_EQ(r.exit_code, 3) << cmd << ": " << r.err;
    EXPECT_TRUE(Contains(r.err, "no-such-job")) << cmd << ": " << r.err;
  }

  // Nothing listens on the port: exit 5.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);  // bound, never listening, now closed: connections are refused
  auto none =
      RunWeir("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), {"job", "status", "x"});
  EXPECT_EQ(none.exit_code, 5) << none.err;
}

// A URL that answers HTTP but is not weir: said so, exit 5.
TEST_F(CliJobTest, AUrlThatIsNotWeirIsNamedAsSuch) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::atomic<bool> stop{false};
  // A web server that knows nothing: every request is an HTML 404.
  std::thread web([&] {
    while (!stop) {
      int c = ::accept(fd, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      std::string req;
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      const std::string body = "<html><body>Not Found</body></html>";
      std::string resp = "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      (void)!::write(c, resp.data(), resp.size());
      ::close(c);
    }
  });
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto status = RunWeir(url, {"job", "status", "abc"});
  auto list = RunWeir(url, {"job", "list"});
  stop = true;
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  web.join();
  EXPECT_EQ(status.exit_code, 5) << status.err;
  EXPECT_TRUE(Contains(status.err, "weir: no weir server at " + url + ": got HTTP 404 from " + url +
                                       "/api/v3/jobs/abc"))
      << status.err;
  EXPECT_EQ(list.exit_code, 5) << list.err;
  EXPECT_TRUE(Contains(list.err, "no weir server at " + url)) << list.err;
}

// Bug 10 (CLI flags): submit fields and list filters reach the API.
TEST_F(CliJobTest, SubmitFieldsAndListFiltersMapToTheApi) {
  auto r = Weir({"job",
                 "submit",
                 "-c",
                 "sched:sla",
                 "-C",
                 "type:bash",
                 "--name",
                 "nightly",
                 "--description",
                 "the nightly load",
                 "--metadata",
                 R"({"team":"data"})",
                 "--config",
                 "file://" + (dir_.path() / "files" / "app.conf").string(),
                 "--disable-archival",
                 "--grouping",
                 "wf1",
                 "--grouping-instance",
                 "wf1-7",
                 "--wait",
                 "--",
                 "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto listed = Weir({"-o", "json", "job", "list", "--name", "nightly"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json::value items = ListItems(listed.out, "jobs");
  ASSERT_TRUE(items.is_array() && items.as_array().size() == 1) << listed.out;
  const std::string id = Str(items.as_array()[0], "id");
  json::value req = Get("/api/v3/jobs/" + id + "/request");
  EXPECT_EQ(Str(req, "description"), "the nightly load");
  EXPECT_EQ(Str(req.at("metadata"), "team"), "data");
  EXPECT_EQ(Str(req, "configs"),
            "[\"file://" + (dir_.path() / "files" / "app.conf").string() + "\"]");
  EXPECT_EQ(Str(req, "disableLogArchival"), "true");
  EXPECT_EQ(Str(req, "grouping"), "wf1");
  EXPECT_EQ(Str(req, "groupingInstance"), "wf1-7");

  std::string other = Submit("true");
  ASSERT_EQ(WaitFinal(other), "SUCCEEDED");
  auto ids = [&](std::vector<std::string> filters) {
    filters.insert(filters.begin(), {"-o", "json", "job", "list"});
    auto l = Weir(filters);
    EXPECT_EQ(l.exit_code, 0) << l.err;
    std::vector<std::string> out;
    json::value v = ListItems(l.out, "jobs");
    if (v.is_array()) {
      for (const auto& j : v.as_array()) out.push_back(Str(j, "id"));
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({}), (V{other, id}));
  EXPECT_EQ(ids({"--grouping", "wf1"}), (V{id}));
  EXPECT_EQ(ids({"--grouping-instance", "wf1-7"}), (V{id}));
  EXPECT_EQ(ids({"--cluster", "local", "--command", "bash"}), (V{other, id}));
  EXPECT_EQ(ids({"--cluster", "elsewhere"}), V{});
  EXPECT_EQ(ids({"--since", "2000-01-01"}), (V{other, id}));
  EXPECT_EQ(ids({"--since", "2100-01-01T00:00:00Z"}), V{});
  EXPECT_EQ(ids({"--until", "2000-01-01"}), V{});
  EXPECT_EQ(ids({"--size", "1", "--page", "1"}), (V{id}));

  auto bad_time = Weir({"job", "list", "--since", "yesterday"});
  EXPECT_EQ(bad_time.exit_code, 2);
  EXPECT_TRUE(Contains(bad_time.err, "--since 'yesterday'")) << bad_time.err;
  auto bad_meta = Weir({"job", "submit", "-c", "a", "-C", "b", "--metadata", "[1]", "--", "x"});
  EXPECT_EQ(bad_meta.exit_code, 2);
  EXPECT_TRUE(Contains(bad_meta.err, "--metadata")) << bad_meta.err;
}

}  // namespace
}  // namespace weir::testing
