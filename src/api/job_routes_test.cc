// The jobs API over real HTTP: HttpServer on port 0 with RegisterJobRoutes, a real JobService on
// SQLite and the local executor, driven by the HTTP client (and a raw socket where the exact
// request target matters, since curl normalises "..").
#include "api/job_routes.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "client/http_client.h"
#include "common/fs.h"
#include "common/ids.h"

namespace weir::api {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// ---- pure helpers -------------------------------------------------------------------------------

TEST(MultipartTest, BoundaryFromContentType) {
  EXPECT_EQ(*MultipartBoundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(*MultipartBoundary("multipart/form-data;charset=UTF-8; boundary=\"a b\""), "a b");
  EXPECT_EQ(*MultipartBoundary("Multipart/Form-Data; BOUNDARY=x"), "x");
  EXPECT_FALSE(MultipartBoundary("multipart/form-data").ok());
  EXPECT_FALSE(MultipartBoundary("application/json; boundary=x").ok());
}

TEST(MultipartTest, ParsesPartsWithNamesFileNamesAndBinaryData) {
  std::string binary("\x00\r\n--not-it\r\n\xff", 15);
  std::string body =
      "preamble\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=request\r\n"
      "Content-Type: application/json\r\n\r\n"
      "{\"a\":1}\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=\"attachment\"; filename=\"q;1.sql\"\r\n\r\n" +
      binary +
      "\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=\"attachment\"; filename=\"plain.txt\"; "
      "filename*=UTF-8''%E2%82%AC.txt\r\n\r\n"
      "euro\r\n--XyZ--\r\n";
  auto parts = ParseMultipart(body, "XyZ");
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].name, "request");
  EXPECT_EQ((*parts)[0].content_type, "application/json");
  EXPECT_EQ((*parts)[0].data, "{\"a\":1}");
  EXPECT_FALSE((*parts)[0].filename.has_value());
  EXPECT_EQ((*parts)[1].filename, "q;1.sql");
  EXPECT_EQ((*parts)[1].data, binary);
  EXPECT_EQ((*parts)[2].filename, "\xE2\x82\xAC.txt");  // filename* wins
  EXPECT_EQ((*parts)[2].data, "euro");
}

TEST(MultipartTest, MalformedBodiesAreRefused) {
  const std::vector<std::string> bad = {
      "",                                                                     // nothing
      "--B\r\nContent-Disposition: form-data; name=a\r\n\r\ndata",            // no closing
      "--B\r\nContent-Disposition: form-data; name=a",                        // no headers end
      "--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--",                    // no disposition
      "--Bjunk\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--B--",  // bad delimiter
  };
  for (const std::string& body : bad) {
    auto parts = ParseMultipart(body, "B");
    EXPECT_FALSE(parts.ok()) << body;
    if (!parts.ok()) {
      EXPECT_EQ(parts.status().code(), StatusCode::kInvalidArgument);
    }
  }
  auto empty = ParseMultipart("--B--\r\n", "B");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(AttachmentNameTest, PathsAreStrippedAndBadNamesRefused) {
  EXPECT_EQ(*SanitizeAttachmentName("query.sql"), "query.sql");
  EXPECT_EQ(*SanitizeAttachmentName("../../etc/passwd"), "passwd");
  EXPECT_EQ(*SanitizeAttachmentName("C:\\Users\\me\\data.csv"), "data.csv");
  EXPECT_EQ(*SanitizeAttachmentName("/abs/path/x"), "x");
  EXPECT_EQ(*SanitizeAttachmentName(".hidden"), ".hidden");
  for (std::string bad : {std::string(""), std::string(".."), std::string("."), std::string("dir/"),
                          std::string("a/.."), std::string("x\ny"), std::string("tab\there"),
                          std::string(300, 'a'), std::string("\xff\xfe")}) {
    auto r = SanitizeAttachmentName(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(RangeTest, SingleRangesAndUnsatisfiable) {
  struct Case {
    std::string header;
    uint64_t size;
    RangeAnswer::Kind kind;
    uint64_t offset, length;
  };
  const std::vector<Case> cases = {
      {"", 10, RangeAnswer::kWhole, 0, 10},
      {"bytes=2-5", 10, RangeAnswer::kPartial, 2, 4},
      {"bytes=2-", 10, RangeAnswer::kPartial, 2, 8},
      {"bytes=-3", 10, RangeAnswer::kPartial, 7, 3},
      {"bytes=-30", 10, RangeAnswer::kPartial, 0, 10},
      {"bytes=5-100", 10, RangeAnswer::kPartial, 5, 5},
      {"bytes=9-9", 10, RangeAnswer::kPartial, 9, 1},
      {"bytes=10-", 10, RangeAnswer::kUnsatisfiable, 0, 0},
      {"bytes=50-60", 10, RangeAnswer::kUnsatisfiable, 0, 0},
      {"bytes=-0", 10, RangeAnswer::kUnsatisfiable, 0, 0},
      {"bytes=0-", 0, RangeAnswer::kUnsatisfiable, 0, 0},
      {"bytes=0-1,4-5", 10, RangeAnswer::kWhole, 0, 10},  // several ranges: whole file
      {"bytes=5-2", 10, RangeAnswer::kWhole, 0, 10},      // invalid: ignored
      {"items=1-2", 10, RangeAnswer::kWhole, 0, 10},
      {"bytes=a-b", 10, RangeAnswer::kWhole, 0, 10},
  };
  for (const Case& c : cases) {
    RangeAnswer r = ParseRange(c.header, c.size);
    EXPECT_EQ(r.kind, c.kind) << c.header;
    if (r.kind != RangeAnswer::kUnsatisfiable) {
      EXPECT_EQ(r.offset, c.offset) << c.header;
      EXPECT_EQ(r.length, c.length) << c.header;
    }
  }
}

TEST(AcceptTest, HtmlOnlyWhenPreferred) {
  EXPECT_FALSE(PrefersHtml(""));
  EXPECT_FALSE(PrefersHtml("*/*"));
  EXPECT_FALSE(PrefersHtml("application/json"));
  EXPECT_FALSE(PrefersHtml("text/html;q=0.5, application/json"));
  EXPECT_TRUE(PrefersHtml("text/html"));
  EXPECT_TRUE(
      PrefersHtml("text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8"));
  EXPECT_TRUE(PrefersHtml("text/*, application/json;q=0.5"));
}

TEST(ContentTypeTest, GuessedFromNameThenContent) {
  EXPECT_THAT(GuessContentType("a.json", ""), HasSubstr("application/json"));
  EXPECT_THAT(GuessContentType("x.LOG", ""), HasSubstr("text/plain"));
  EXPECT_THAT(GuessContentType("stdout", "hello\n"), HasSubstr("text/plain"));
  EXPECT_EQ(GuessContentType("blob", std::string("\x00\x01\x02", 3)), "application/octet-stream");
  EXPECT_EQ(GuessContentType("data.gz", "text"), "application/gzip");
}

// ---- over HTTP ----------------------------------------------------------------------------------

model::ConfigEntity Entity(model::Kind kind, const std::string& id, std::vector<std::string> tags) {
  model::ConfigEntity e;
  e.kind = kind;
  e.id = id;
  e.name = id + " name";
  e.user = "admin";
  e.version = "1";
  e.tags = std::move(tags);
  e.status = kind == model::Kind::kCluster ? "UP" : "ACTIVE";
  model::NormalizeTags(e);
  return e;
}

json::value Parse(const std::string& s) {
  std::error_code ec;
  json::value v = json::parse(s, ec);
  EXPECT_FALSE(ec) << "not JSON: " << s;
  return v;
}

std::set<std::string> Keys(const json::value& v) {
  std::set<std::string> out;
  if (!v.is_object()) return out;
  for (const auto& kv : v.get_object()) out.insert(std::string(kv.key()));
  return out;
}

struct RawResponse {
  int status = 0;
  std::string head;
  std::string body;
};

// One request with the target sent byte for byte (no client-side normalisation).
RawResponse RawGet(uint16_t port, const std::string& target) {
  RawResponse out;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return out;
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string all;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) all.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t sp = all.find(' ');
  if (sp != std::string::npos) out.status = std::atoi(all.c_str() + sp + 1);
  size_t split = all.find("\r\n\r\n");
  out.head = all.substr(0, split);
  if (split != std::string::npos) out.body = all.substr(split + 4);
  return out;
}

class JobRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path("/tmp") / ("weir-jobroutes-" + NewUuid());
    ASSERT_TRUE(MakeDirs(root_ / "jobs").ok());
    ASSERT_TRUE(MakeDirs(root_ / "spool").ok());
    { std::ofstream(root_ / "secret.txt") << "TOP-SECRET\n"; }
    auto stores = store::OpenSqlite((root_ / "weir.db").string(), SystemClock::Instance());
    ASSERT_TRUE(stores.ok()) << stores.status();
    stores_ = *stores;
    auto cluster = Entity(model::Kind::kCluster, "local", {"sched:sla"});
    auto bash = Entity(model::Kind::kCommand, "bash", {"type:bash"});
    bash.executable = "/bin/bash -c";
    auto app = Entity(model::Kind::kApplication, "app1", {"type:tool"});
    ASSERT_TRUE(stores_.config->Create(cluster).ok());
    ASSERT_TRUE(stores_.config->Create(bash).ok());
    ASSERT_TRUE(stores_.config->Create(app).ok());
    ASSERT_TRUE(stores_.config->SetClusterCommands("local", {"bash"}).ok());
    ASSERT_TRUE(stores_.config->SetCommandApplications("bash", {"app1"}).ok());
    service_options_.jobs_dir = root_ / "jobs";
    service_options_.host_name = "node-1";
    service_options_.launch.kill_grace = 500ms;
    service_options_.max_active_jobs_per_user = 3;
    route_options_.spool_dir = root_ / "spool";
    route_options_.max_attachment_bytes = 1000;
    route_options_.max_total_attachment_bytes = 1500;
  }

  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    if (service_) service_->Shutdown();
    service_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void Start() {
    std::vector<std::unique_ptr<resolve::ClusterSelector>> selectors;
    selectors.push_back(resolve::NewRandomSelector(1));
    service_ = service::NewJobService(service_options_, stores_.config, stores_.jobs,
                                      exec::NewLocalExecutor(SystemClock::Instance()),
                                      exec::NewLocalFileFetcher(), std::move(selectors),
                                      SystemClock::Instance());
    ASSERT_TRUE(service_->Recover().ok());
    auto router = std::make_shared<Router>();
    RegisterJobRoutes(*router, *service_, stores_.jobs, stores_.config, route_options_);
    HttpServerOptions ho;
    ho.port = 0;
    ho.threads = 2;
    ho.spool_dir = root_ / "spool";
    server_ = NewHttpServer(ho, router);
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    http_ = std::make_unique<client::HttpClient>(base_);
  }

  static json::object Request(const std::string& script, const std::string& user = "alice") {
    return json::object{{"name", "routes test"},
                        {"user", user},
                        {"version", "1"},
                        {"tags", json::array{"t:a", "t:b"}},
                        {"metadata", json::object{{"k", "v"}}},
                        {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                        {"commandCriteria", json::array{"type:bash"}},
                        {"commandArguments", json::array{json::value(script)}}};
  }

  // Submits; returns the id from Location.
  std::string Submit(const json::object& req) {
    auto r = http_->PostJson("/api/v3/jobs", json::serialize(req));
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 202) << r->body;
    std::string loc = r->Header("location").value_or("");
    std::string id = loc.substr(loc.rfind('/') + 1);
    EXPECT_EQ(loc, base_ + "/api/v3/jobs/" + id);
    return id;
  }

  model::JobRecord Final(const std::string& id) {
    auto r = service_->WaitFinal(id, 30s);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : model::JobRecord{};
  }

  json::value GetJson(const std::string& path, int want = 200,
                      const std::string& content_type = "application/hal+json") {
    auto r = http_->Get(path);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return nullptr;
    EXPECT_EQ(r->status, want) << path << ": " << r->body;
    if (want == 200) {
      EXPECT_THAT(r->Header("content-type").value_or(""), HasSubstr(content_type));
    }
    return Parse(r->body);
  }

  // Checks an error answer: status and a message naming `field`.
  void ExpectError(const Result<client::Response>& r, int status, const std::string& field) {
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, status) << r->body;
    json::value v = Parse(r->body);
    ASSERT_TRUE(v.is_object()) << r->body;
    EXPECT_EQ(v.at("status").to_number<int>(), status);
    EXPECT_THAT(std::string(v.at("message").as_string()), HasSubstr(field)) << r->body;
  }

  fs::path root_;
  store::SqliteStores stores_;
  service::JobServiceOptions service_options_;
  JobRoutesOptions route_options_;
  std::unique_ptr<service::JobService> service_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
  std::unique_ptr<client::HttpClient> http_;
};

TEST_F(JobRoutesTest, JsonSubmissionAndEveryJobResource) {
  Start();
  std::string id = Submit(Request("echo hello"));
  ASSERT_EQ(Final(id).job.status, model::JobStatus::kSucceeded);
  const std::string url = base_ + "/api/v3/jobs/" + id;

  json::value job = GetJson("/api/v3/jobs/" + id);
  EXPECT_EQ(job.at("id").as_string(), id);
  EXPECT_EQ(job.at("status").as_string(), "SUCCEEDED");
  EXPECT_EQ(job.at("statusMsg").as_string(), "Job finished successfully.");
  EXPECT_EQ(job.at("clusterName").as_string(), "local name");
  EXPECT_EQ(job.at("commandName").as_string(), "bash name");
  EXPECT_EQ(job.at("commandArgs").as_string(), "'echo hello'");
  EXPECT_EQ(job.at("metadata").at("k").as_string(), "v");
  EXPECT_TRUE(std::string(job.at("runtime").as_string()).starts_with("PT"));
  EXPECT_TRUE(std::string(job.at("started").as_string()).ends_with("Z"));
  EXPECT_TRUE(job.at("archiveLocation").is_null());
  const json::object& links = job.at("_links").as_object();
  EXPECT_EQ(Keys(links),
            (std::set<std::string>{"self", "output", "request", "execution", "metadata", "status",
                                   "cluster", "command", "applications"}));
  EXPECT_EQ(links.at("self").at("href").as_string(), url);
  EXPECT_EQ(links.at("output").at("href").as_string(), url + "/output");
  EXPECT_EQ(links.at("applications").at("href").as_string(), url + "/applications");

  json::value status = GetJson("/api/v3/jobs/" + id + "/status", 200, "application/json");
  EXPECT_EQ(json::serialize(status), "{\"status\":\"SUCCEEDED\"}");

  json::value request = GetJson("/api/v3/jobs/" + id + "/request");
  EXPECT_EQ(request.at("name").as_string(), "routes test");
  EXPECT_EQ(request.at("commandArguments").as_array().size(), 1u);
  EXPECT_EQ(request.at("clusterCriterias").as_array()[0].at("tags").as_array()[0].as_string(),
            "sched:sla");
  EXPECT_EQ(Keys(request.at("_links")),
            (std::set<std::string>{"self", "job", "execution", "output", "status", "metadata"}));
  EXPECT_EQ(request.at("_links").at("self").at("href").as_string(), url + "/request");
  EXPECT_EQ(request.at("_links").at("job").at("href").as_string(), url);

  json::value execution = GetJson("/api/v3/jobs/" + id + "/execution");
  EXPECT_EQ(execution.at("hostName").as_string(), "node-1");
  EXPECT_EQ(execution.at("exitCode").to_number<int>(), 0);
  EXPECT_EQ(execution.at("memory").to_number<int>(), 1024);
  EXPECT_GT(execution.at("processId").to_number<int>(), 0);
  EXPECT_TRUE(execution.at("timeout").is_string());
  EXPECT_EQ(Keys(execution.at("_links")),
            (std::set<std::string>{"self", "job", "request", "output", "status", "metadata"}));

  json::value metadata = GetJson("/api/v3/jobs/" + id + "/metadata");
  EXPECT_EQ(metadata.at("clientHost").as_string(), "127.0.0.1");
  EXPECT_EQ(metadata.at("numAttachments").to_number<int>(), 0);
  EXPECT_EQ(metadata.at("stdOutSize").to_number<int>(), 6);
  EXPECT_EQ(Keys(metadata.at("_links")),
            (std::set<std::string>{"self", "job", "request", "execution", "output", "status"}));

  json::value cluster = GetJson("/api/v3/jobs/" + id + "/cluster");
  EXPECT_EQ(cluster.at("id").as_string(), "local");
  EXPECT_EQ(cluster.at("_links").at("self").at("href").as_string(),
            base_ + "/api/v3/clusters/local");
  json::value command = GetJson("/api/v3/jobs/" + id + "/command");
  EXPECT_EQ(command.at("executable").as_string(), "/bin/bash -c");
  json::value apps = GetJson("/api/v3/jobs/" + id + "/applications");
  ASSERT_TRUE(apps.is_array());
  ASSERT_EQ(apps.as_array().size(), 1u);
  EXPECT_EQ(apps.as_array()[0].at("id").as_string(), "app1");
  EXPECT_TRUE(apps.as_array()[0].at("links").is_array());
}

TEST_F(JobRoutesTest, UnknownJobsAre404) {
  Start();
  for (std::string sub : {"", "/status", "/request", "/execution", "/metadata", "/cluster",
                          "/command", "/applications", "/output", "/output/stdout"}) {
    auto r = http_->Get("/api/v3/jobs/no-such-job" + sub);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 404) << sub;
  }
  ExpectError(http_->Delete("/api/v3/jobs/no-such-job"), 404, "no-such-job");
}

TEST_F(JobRoutesTest, KillIs202AndEndsTheJob) {
  Start();
  std::string id = Submit(Request("sleep 30"));
  // Killed while running (a job killed before its launch says so: KilledQueuedJob...).
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (service_->Get(id)->job.status != model::JobStatus::kRunning) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the job never ran";
    std::this_thread::sleep_for(10ms);
  }
  auto r = http_->Delete("/api/v3/jobs/" + id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(Final(id).job.status, model::JobStatus::kKilled);
  EXPECT_EQ(http_->Delete("/api/v3/jobs/" + id)->status, 202);  // final: no-op
  json::value job = GetJson("/api/v3/jobs/" + id);
  EXPECT_EQ(job.at("statusMsg").as_string(), "Job was killed by user.");
}

TEST_F(JobRoutesTest, SubmissionErrorsMapToStatusCodes) {
  service_options_.max_system_memory_mb = 2048;
  service_options_.max_job_memory_mb = 2048;
  Start();
  // 409 duplicate id.
  json::object req = Request("true");
  req["id"] = "fixed-id";
  Submit(req);
  ExpectError(http_->PostJson("/api/v3/jobs", json::serialize(req)), 409, "fixed-id");
  Final("fixed-id");
  // 412 no match, and the job is recorded FAILED.
  json::object nomatch = Request("true");
  nomatch["id"] = "nomatch";
  nomatch["clusterCriterias"] = json::array{json::object{{"tags", {"no:such"}}}};
  ExpectError(http_->PostJson("/api/v3/jobs", json::serialize(nomatch)), 412,
              "No cluster/command combination found");
  EXPECT_EQ(GetJson("/api/v3/jobs/nomatch/status", 200, "application/json").at("status"), "FAILED");
  // 412 memory above the maximum, recorded INVALID.
  json::object big = Request("true");
  big["id"] = "big";
  big["memory"] = 4096;
  ExpectError(http_->PostJson("/api/v3/jobs", json::serialize(big)), 412, "memory");
  EXPECT_EQ(GetJson("/api/v3/jobs/big/status", 200, "application/json").at("status"), "INVALID");
  // 503 at capacity (2 × 1024 MB running).
  std::string a = Submit(Request("sleep 30", "u1"));
  std::string b = Submit(Request("sleep 30", "u2"));
  ExpectError(http_->PostJson("/api/v3/jobs", json::serialize(Request("true", "u3"))), 503,
              "capacity");
  EXPECT_EQ(http_->Delete("/api/v3/jobs/" + a)->status, 202);
  EXPECT_EQ(http_->Delete("/api/v3/jobs/" + b)->status, 202);
  Final(a);
  Final(b);
}

TEST_F(JobRoutesTest, PerUserLimitIs429) {
  Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Submit(Request("sleep 30", "busy")));
  ExpectError(http_->PostJson("/api/v3/jobs", json::serialize(Request("true", "busy"))), 429,
              "busy");
  for (const auto& id : ids) EXPECT_EQ(http_->Delete("/api/v3/jobs/" + id)->status, 202);
  for (const auto& id : ids) Final(id);
}

TEST_F(JobRoutesTest, BadRequestsAre400NamingTheField) {
  Start();
  ExpectError(http_->PostJson("/api/v3/jobs", "{\"name\": "), 400, "JSON");
  ExpectError(http_->PostJson("/api/v3/jobs", "[1,2]"), 400, "object");
  struct Case {
    std::string field;
    json::value value;
  };
  for (const Case& c :
       std::vector<Case>{{"memory", "abc"},
                         {"memory", 1.5},
                         {"timeout", json::array{}},
                         {"clusterCriterias", "sched:sla"},
                         {"clusterCriterias", json::array{"x"}},
                         {"commandCriteria", json::array{1}},
                         {"tags", "a"},
                         {"name", 3},
                         {"disableLogArchival", "yes"},
                         {"metadata", "text"},
                         {"commandArguments", "echo"},
                         {"environmentVariables", "A=1"},
                         {"environmentVariables", json::object{{"A", 1}}},
                         {"environmentVariables", json::object{{"1A", "x"}}},
                         {"environmentVariables", json::object{{"A-B", "x"}}},
                         {"environmentVariables", json::object{{"GENIE_JOB_ID", "x"}}},
                         {"environmentVariables", json::object{{"A", "x\ny"}}}}) {
    json::object req = Request("true");
    req[c.field] = c.value;
    ExpectError(http_->PostJson("/api/v3/jobs", json::serialize(req)), 400, c.field);
  }
  for (std::string missing : {"name", "user", "version", "clusterCriterias", "commandCriteria"}) {
    json::object req = Request("true");
    req.erase(missing);
    ExpectError(http_->PostJson("/api/v3/jobs", json::serialize(req)), 400, missing);
  }
  json::object neg = Request("true");
  neg["memory"] = -5;
  ExpectError(http_->PostJson("/api/v3/jobs", json::serialize(neg)), 400, "memory");
}

TEST_F(JobRoutesTest, MultipartSubmissionWithAttachments) {
  Start();
  fs::path file = root_ / "q.sql";
  { std::ofstream(file) << "select 1;\n"; }
  auto r = http_->PostMultipart(
      "/api/v3/jobs",
      {{"request", "", "application/json", json::serialize(Request("cat q.sql notes.txt")), {}},
       {"attachment", "q.sql", "application/octet-stream", "", file},
       {"attachment", "../../notes.txt", "text/plain", "n\n", {}}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 202) << r->body;
  std::string loc = r->Header("location").value_or("");
  std::string id = loc.substr(loc.rfind('/') + 1);
  EXPECT_EQ(Final(id).job.status, model::JobStatus::kSucceeded);
  auto out = http_->Get("/api/v3/jobs/" + id + "/output/stdout");
  EXPECT_EQ(out->body, "select 1;\nn\n");
  json::value meta = GetJson("/api/v3/jobs/" + id + "/metadata");
  EXPECT_EQ(meta.at("numAttachments").to_number<int>(), 2);
  EXPECT_EQ(meta.at("totalSizeOfAttachments").to_number<int>(), 12);
  // Nothing is left in the spool folder.
  size_t left = 0;
  for (const auto& e : fs::directory_iterator(root_ / "spool")) {
    (void)e;
    ++left;
  }
  EXPECT_EQ(left, 0u);
}

TEST_F(JobRoutesTest, MultipartErrors) {
  Start();
  const std::string request = json::serialize(Request("true"));
  auto post = [&](const std::string& body) {
    return http_->Request("POST", "/api/v3/jobs", body,
                          {{"Content-Type", "multipart/form-data; boundary=BND"}});
  };
  auto part = [](const std::string& disposition, const std::string& data) {
    return "--BND\r\nContent-Disposition: form-data; " + disposition + "\r\n\r\n" + data + "\r\n";
  };
  const std::string req_part = part("name=\"request\"", request);
  ExpectError(post(part("name=\"attachment\"; filename=\"a.txt\"", "x") + "--BND--\r\n"), 400,
              "request");
  ExpectError(post(req_part + part("name=\"attachment\"; filename=\"..\"", "x") + "--BND--"), 400,
              "attachment");
  ExpectError(
      post(req_part + part("name=\"attachment\"; filename=\"bad\x01name\"", "x") + "--BND--"), 400,
      "control");
  ExpectError(post(req_part + part("name=\"attachment\"", "no file name") + "--BND--"), 400,
              "file name");
  ExpectError(post(req_part + part("name=\"attachment\"; filename=\"d.txt\"", "1") +
                   part("name=\"attachment\"; filename=\"x/d.txt\"", "2") + "--BND--"),
              400, "d.txt");
  ExpectError(post(req_part + "--BND\r\nContent-Disposition: form-data; name=x\r\n\r\nabc"), 400,
              "multipart");
  // 413: one file over the per-file limit, then files over the total.
  ExpectError(
      post(req_part + part("name=\"attachment\"; filename=\"big.bin\"", std::string(1001, 'b')) +
           "--BND--"),
      413, "big.bin");
  ExpectError(
      post(req_part + part("name=\"attachment\"; filename=\"a.bin\"", std::string(800, 'a')) +
           part("name=\"attachment\"; filename=\"b.bin\"", std::string(800, 'b')) + "--BND--"),
      413, "attachments");
  ExpectError(post(part("name=\"request\"", "{bad json") + "--BND--"), 400, "JSON");
  // Nothing was accepted and nothing is left in the spool folder.
  auto page = GetJson("/api/v3/jobs");
  EXPECT_EQ(page.at("page").at("totalElements").to_number<int>(), 0);
  EXPECT_TRUE(fs::is_empty(root_ / "spool"));
}

TEST_F(JobRoutesTest, SearchFiltersAndPages) {
  Start();
  // `created` has millisecond resolution and ties order by id: space the submissions so the
  // creation order the assertions rely on is unambiguous.
  std::string a = Submit(Request("true", "alice"));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string b = Submit(Request("exit 2", "alice"));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  json::object tagged = Request("true", "bob");
  tagged["tags"] = json::array{"t:a", "only:bob"};
  tagged["grouping"] = "g1";
  std::string c = Submit(tagged);
  Final(a);
  Final(b);
  Final(c);

  json::value all = GetJson("/api/v3/jobs");
  EXPECT_EQ(all.at("page").at("size").to_number<int>(), 10);
  EXPECT_EQ(all.at("page").at("totalElements").to_number<int>(), 3);
  const json::array& items = all.at("_embedded").at("jobSearchResultList").as_array();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].at("id").as_string(), c);  // created, desc
  EXPECT_EQ(Keys(items[0]),
            (std::set<std::string>{"id", "name", "user", "status", "started", "finished",
                                   "clusterName", "commandName", "runtime", "_links"}));
  EXPECT_EQ(items[0].at("_links").at("self").at("href").as_string(), base_ + "/api/v3/jobs/" + c);

  auto count = [&](const std::string& query) {
    json::value v = GetJson("/api/v3/jobs?" + query);
    return v.at("page").at("totalElements").to_number<int>();
  };
  EXPECT_EQ(count("user=alice"), 2);
  EXPECT_EQ(count("user=al%25"), 2);
  EXPECT_EQ(count("status=FAILED"), 1);
  EXPECT_EQ(count("status=FAILED&status=SUCCEEDED"), 3);
  EXPECT_EQ(count("status=FAILED,SUCCEEDED"), 3);
  // Genie parses status values case-insensitively (issue 15, bug 9).
  EXPECT_EQ(count("status=failed"), 1);
  EXPECT_EQ(count("status=Failed&status=succeeded"), 3);
  EXPECT_EQ(count("status=failed,sUcCeEdEd"), 3);
  EXPECT_EQ(count("tag=t:a"), 3);
  EXPECT_EQ(count("tag=t:a&tag=only:bob"), 1);
  EXPECT_EQ(count("grouping=g1"), 1);
  EXPECT_EQ(count("clusterId=local&commandName=bash%20name"), 3);
  EXPECT_EQ(count("id=" + a), 1);
  EXPECT_EQ(count("minStarted=0"), 3);
  EXPECT_EQ(count("maxStarted=1"), 0);
  EXPECT_EQ(count("minFinished=4102444800000"), 0);  // year 2100

  json::value paged = GetJson("/api/v3/jobs?size=1&page=1&sort=created,asc");
  const json::array& one = paged.at("_embedded").at("jobSearchResultList").as_array();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].at("id").as_string(), b);
  EXPECT_EQ(paged.at("page").at("totalPages").to_number<int>(), 3);
  for (const char* rel : {"self", "first", "prev", "next", "last"}) {
    EXPECT_TRUE(paged.at("_links").as_object().contains(rel)) << rel;
  }

  ExpectError(http_->Get("/api/v3/jobs?status=DONE"), 400, "status");
  ExpectError(http_->Get("/api/v3/jobs?minStarted=yesterday"), 400, "minStarted");
  ExpectError(http_->Get("/api/v3/jobs?size=x"), 400, "size");
  auto none = GetJson("/api/v3/jobs?user=nobody");
  EXPECT_EQ(none.at("_embedded").at("jobSearchResultList").as_array().size(), 0u);
}

TEST_F(JobRoutesTest, OutputListingJsonAndHtml) {
  Start();
  std::string id = Submit(Request("mkdir -p sub/deeper && echo x > sub/file.txt && echo out"));
  ASSERT_EQ(Final(id).job.status, model::JobStatus::kSucceeded);
  const std::string out_url = base_ + "/api/v3/jobs/" + id + "/output/";

  for (std::string path : {"/output", "/output/"}) {
    json::value root = GetJson("/api/v3/jobs/" + id + path, 200, "application/json");
    EXPECT_TRUE(root.at("parent").is_null());
    std::vector<std::string> dirs, files;
    for (const auto& d : root.at("directories").as_array()) {
      dirs.emplace_back(d.at("name").as_string());
      EXPECT_TRUE(d.at("lastModified").is_string());
    }
    for (const auto& f : root.at("files").as_array()) files.emplace_back(f.at("name").as_string());
    EXPECT_EQ(dirs, (std::vector<std::string>{"genie/", "sub/"}));
    EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));
    EXPECT_THAT(files, ::testing::IsSupersetOf({"run", "stderr", "stdout"}));
    for (const auto& f : root.at("files").as_array()) {
      if (f.at("name") == "stdout") {
        EXPECT_EQ(f.at("size").to_number<int>(), 4);
        EXPECT_EQ(f.at("url").as_string(), out_url + "stdout");
      }
    }
    EXPECT_EQ(root.at("directories").as_array()[1].at("url").as_string(), out_url + "sub/");
  }

  json::value sub = GetJson("/api/v3/jobs/" + id + "/output/sub/", 200, "application/json");
  ASSERT_TRUE(sub.at("parent").is_object());
  EXPECT_EQ(sub.at("parent").at("url").as_string(), out_url);
  EXPECT_EQ(sub.at("directories").as_array()[0].at("name").as_string(), "deeper/");
  EXPECT_EQ(sub.at("directories").as_array()[0].at("url").as_string(), out_url + "sub/deeper/");
  EXPECT_EQ(sub.at("files").as_array()[0].at("url").as_string(), out_url + "sub/file.txt");
  json::value deeper =
      GetJson("/api/v3/jobs/" + id + "/output/sub/deeper", 200, "application/json");
  EXPECT_EQ(deeper.at("parent").at("url").as_string(), out_url + "sub/");

  auto html = http_->Get("/api/v3/jobs/" + id + "/output",
                         {{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}});
  ASSERT_TRUE(html.ok());
  EXPECT_EQ(html->status, 200);
  EXPECT_THAT(html->Header("content-type").value_or(""), HasSubstr("text/html"));
  EXPECT_THAT(html->body, HasSubstr("<a href=\"" + out_url + "stdout\">stdout</a>"));
  EXPECT_THAT(html->body, HasSubstr("sub/"));
}

TEST_F(JobRoutesTest, OutputFilesWithRanges) {
  Start();
  std::string id = Submit(Request("printf 0123456789; echo '{}' > r.json"));
  ASSERT_EQ(Final(id).job.status, model::JobStatus::kSucceeded);
  const std::string path = "/api/v3/jobs/" + id + "/output/stdout";
  auto whole = http_->Get(path);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, "0123456789");
  EXPECT_EQ(whole->Header("accept-ranges").value_or(""), "bytes");
  EXPECT_THAT(whole->Header("content-type").value_or(""), HasSubstr("text/plain"));
  EXPECT_THAT(whole->Header("last-modified").value_or(""), HasSubstr("GMT"));
  EXPECT_THAT(
      http_->Get("/api/v3/jobs/" + id + "/output/r.json")->Header("content-type").value_or(""),
      HasSubstr("application/json"));

  struct Case {
    std::string range;
    int status;
    std::string body;
    std::string content_range;
  };
  for (const Case& c : std::vector<Case>{{"bytes=2-5", 206, "2345", "bytes 2-5/10"},
                                         {"bytes=7-", 206, "789", "bytes 7-9/10"},
                                         {"bytes=-3", 206, "789", "bytes 7-9/10"},
                                         {"bytes=8-100", 206, "89", "bytes 8-9/10"},
                                         {"bytes=0-1,5-6", 200, "0123456789", ""},
                                         {"bytes=50-60", 416, "", "bytes */10"}}) {
    auto r = http_->Get(path, {{"Range", c.range}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, c.status) << c.range;
    if (c.status != 416) {
      EXPECT_EQ(r->body, c.body) << c.range;
    }
    EXPECT_EQ(r->Header("content-range").value_or(""), c.content_range) << c.range;
  }
  auto missing = http_->Get("/api/v3/jobs/" + id + "/output/nothing-here");
  EXPECT_EQ(missing->status, 404);
}

TEST_F(JobRoutesTest, OutputNeverLeavesTheJobDirectory) {
  Start();
  const std::string secret = (root_ / "secret.txt").string();
  std::string id = Submit(Request("ln -s " + secret + " escape; ln -s " + root_.string() +
                                  " outdir; ln -s stdout inner; echo inside > inside.txt"));
  ASSERT_EQ(Final(id).job.status, model::JobStatus::kSucceeded);
  const uint16_t port = server_->port();
  const std::string base = "/api/v3/jobs/" + id;
  // Paths that try to leave the folder are refused (400); links that lead out of it are
  // forbidden (403).
  for (const auto& [target, want] : std::vector<std::pair<std::string, int>>{
           {base + "/output/../../weir.db", 400},
           {base + "/output/..%2f..%2fweir.db", 400},
           {base + "/output/%2e%2e/%2e%2e/secret.txt", 400},
           {base + "/output/%2E%2E/%2E%2E/secret.txt", 400},
           {base + "/output//etc/passwd", 400},
           {base + "/output/%2Fetc%2Fpasswd", 400},
           {base + "/output/%2F" + root_.relative_path().string() + "/secret.txt", 400},
           {base + "/output/escape", 403},
           {base + "/output/outdir/secret.txt", 403},
           {base + "/output/outdir/", 403},
           {base + "/output/genie/../../secret.txt", 400},
           {base + "/output/sub/%00x", 400}}) {
    RawResponse r = RawGet(port, target);
    EXPECT_EQ(r.status, want) << target << ": " << r.body;
    EXPECT_EQ(r.body.find("TOP-SECRET"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
  }
  // A link that stays inside is served; links out of the folder are not even listed.
  EXPECT_EQ(RawGet(port, base + "/output/inside.txt").body, "inside\n");
  EXPECT_EQ(RawGet(port, base + "/output/inner").status, 200);
  json::value listing = GetJson(base + "/output", 200, "application/json");
  for (const auto& f : listing.at("files").as_array()) {
    EXPECT_NE(f.at("name"), "escape");
  }
  for (const auto& d : listing.at("directories").as_array()) {
    EXPECT_NE(d.at("name"), "outdir/");
  }
}

// A job owns its folder (jobs.run_as_user) and may swap a folder for a link out of it as fast as
// it can while output is being served: no answer ever carries what lies outside.
TEST_F(JobRoutesTest, OutputNeverLeavesWhileTheJobSwapsFoldersForLinks) {
  Start();
  std::string id =
      Submit(Request("mkdir sub; echo inside > sub/secret.txt; ln -s " + root_.string() + " out"));
  ASSERT_EQ(Final(id).job.status, model::JobStatus::kSucceeded);
  const fs::path dir = root_ / "jobs" / id;
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    const std::string a = (dir / "sub").string(), b = (dir / "out").string(),
                      t = (dir / "tmp").string();
    while (!stop.load()) {  // exchange "sub" (a folder) and "out" (a link to the server's root)
      ::rename(a.c_str(), t.c_str());
      ::rename(b.c_str(), a.c_str());
      ::rename(t.c_str(), b.c_str());
    }
  });
  const std::string base = "/api/v3/jobs/" + id + "/output/";
  int served = 0;
  for (int i = 0; i < 1000; ++i) {
    auto file = http_->Get(base + "sub/secret.txt");
    auto listing = http_->Get(base + "sub/");
    if (!file.ok() || !listing.ok()) {
      ADD_FAILURE() << "request failed";  // the swapper thread still has to be joined
      break;
    }
    EXPECT_EQ(file->body.find("TOP-SECRET"), std::string::npos);
    EXPECT_EQ(listing->body.find("weir.db"), std::string::npos) << listing->body;
    EXPECT_EQ(listing->body.find("\"jobs/\""), std::string::npos) << listing->body;
    if (file->status == 200) {
      EXPECT_EQ(file->body, "inside\n");
      ++served;
    }
  }
  stop = true;
  swapper.join();
  EXPECT_GT(served, 0);  // the folder was in place part of the time: the race was run
}

TEST_F(JobRoutesTest, RunningJobHasAGrowingRuntime) {
  Start();
  std::string id = Submit(Request("sleep 30"));
  for (int i = 0; i < 500; ++i) {
    if (service_->Get(id)->job.status == model::JobStatus::kRunning) break;
    std::this_thread::sleep_for(10ms);
  }
  json::value job = GetJson("/api/v3/jobs/" + id);
  EXPECT_EQ(job.at("status").as_string(), "RUNNING");
  EXPECT_TRUE(job.at("finished").is_null());
  // "PT1.234S" (or "PT2M3.5S"): the seconds, as a number.
  auto seconds = [](const json::value& j) {
    std::string d(j.at("runtime").as_string());
    EXPECT_TRUE(d.starts_with("PT") && d.ends_with("S")) << d;
    double total = 0;
    size_t at = 2;
    for (size_t pos = at; pos < d.size(); ++pos) {
      char unit = d[pos];
      if (unit != 'H' && unit != 'M' && unit != 'S') continue;
      double n = std::stod(d.substr(at, pos - at));
      total += unit == 'H' ? n * 3600 : unit == 'M' ? n * 60 : n;
      at = pos + 1;
    }
    return total;
  };
  const double first = seconds(job);
  std::this_thread::sleep_for(1100ms);
  const double later = seconds(GetJson("/api/v3/jobs/" + id));
  EXPECT_GE(later - first, 1.0) << "runtime of a running job must follow the clock";
  EXPECT_EQ(http_->Delete("/api/v3/jobs/" + id)->status, 202);
  Final(id);
}

}  // namespace
}  // namespace weir::api
