// End-to-end tests of webhooks (issue 13): the real `weir server` and `weir webhook` CLI, real
// jobs, and a receiver HTTP server in this process that checks each delivery's signature with
// its own HMAC-SHA256 (OpenSSL here, independent of the server's code), fails deliveries on
// demand and keeps what it accepted.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "client/http_client.h"
#include "fetch/test_http_server.h"
#include "postgres_env.h"
#include "store/testing/postgres_server.h"
#include "test_json.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using fetch::testing::TestHttpServer;
using fetch::testing::TestRequest;
using fetch::testing::TestResponse;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";
const std::string kSecret = "the receiver's shared secret";

std::string Hmac(const std::string& key, const std::string& text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0xf]);
  }
  return out;
}

struct Received {
  int64_t event_id = 0;
  std::string type;
  std::string attempt;
  bool verified = false;
  json::value body;
};

// The receiver: verifies Weir-Signature with `secret`, answers 401 when it does not match, else
// `fail_status` for the next `fail_next` requests (or while `down`), else 204.
class Receiver {
 public:
  explicit Receiver(std::string secret)
      : secret_(std::move(secret)), server_([this](const TestRequest& r) { return Handle(r); }) {}
  std::string url() const { return server_.Url("/hook"); }
  void FailNext(int n) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
  }
  void SetDown(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
  }
  std::vector<Received> all() {
    std::lock_guard lock(mu_);
    return all_;
  }
  // Accepted (2xx) deliveries of each event id.
  std::map<int64_t, int> AcceptedPerEvent() {
    std::lock_guard lock(mu_);
    std::map<int64_t, int> out;
    for (const Received& r : accepted_) ++out[r.event_id];
    return out;
  }
  // Accepted (2xx) deliveries, in arrival order.
  std::vector<Received> accepted() {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  size_t AcceptedOf(const std::string& type) {
    size_t n = 0;
    for (const Received& r : accepted()) n += r.type == type;
    return n;
  }

 private:
  TestResponse Handle(const TestRequest& r) {
    Received got;
    got.event_id = std::atoll(r.Header("weir-event-id").c_str());
    got.type = r.Header("weir-event-type");
    got.attempt = r.Header("weir-delivery-attempt");
    got.body = Parse(r.body);
    const std::string timestamp = r.Header("weir-timestamp");
    got.verified = r.method == "POST" && !timestamp.empty() &&
                   r.Header("weir-signature") == Hmac(secret_, timestamp + "." + r.body);
    std::lock_guard lock(mu_);
    all_.push_back(got);
    TestResponse resp;
    if (!got.verified) {
      resp.status = 401;
    } else if (down_) {
      resp.status = 503;
    } else if (fail_next_ > 0) {
      --fail_next_;
      resp.status = 500;
    } else {
      resp.status = 204;
      accepted_.push_back(got);
    }
    return resp;
  }

  const std::string secret_;
  std::mutex mu_;
  int fail_next_ = 0;               // GUARDED_BY(mu_)
  bool down_ = false;               // GUARDED_BY(mu_)
  std::vector<Received> all_;       // GUARDED_BY(mu_)
  std::vector<Received> accepted_;  // GUARDED_BY(mu_)
  TestHttpServer server_;           // last: stopped first, while the fields it uses still exist
};

class WebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(); }
  void StartServer() {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", Config());
    ASSERT_EQ(server_->Start(), "");
    http_ = std::make_unique<client::HttpClient>(server_->url());
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }
  virtual std::string Config() {
    // Short backoff so retries come quickly; loopback allowed for the receiver in this process.
    return "jobs:\n  max_active_jobs_per_user: 1000\n  default_memory_mb: 1\n"
           "webhooks:\n  max_attempts: 3\n  backoff_initial_ms: 100\n"
           "  backoff_max_seconds: 1\n  allowed_networks: [127.0.0.0/8]\n";
  }

  // `weir webhook add URL --secret-file F [extra...] -o json`; returns the webhook id.
  std::string AddWebhook(const std::string& url, const std::string& secret,
                         std::vector<std::string> extra = {}) {
    const auto file = dir_.path() / "secret";
    WriteFile(file, secret + "\n");
    std::vector<std::string> args = {"webhook",     "add", url,   "--secret-file",
                                     file.string(), "-o",  "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = RunWeir(server_->url(), args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json::value v = Parse(r.out);
    EXPECT_TRUE(v.is_object()) << r.out;
    EXPECT_EQ(r.out.find(secret), std::string::npos) << "the secret must never be shown";
    return v.is_object() ? Str(v, "id") : "";
  }

  std::string Submit(const std::string& script) {
    json::object req{{"name", "t"},
                     {"user", "tester"},
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

  json::array Deliveries(const std::string& id) {
    auto r = RunWeir(server_->url(), {"webhook", "deliveries", id, "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json::value v = Parse(r.out);
    if (!v.is_object() || !v.as_object().contains("deliveries")) return {};
    return v.at("deliveries").as_array();
  }

  // The receiver fails the first two requests: attempts 1, 2, 3 of the first event, then a
  // job's events signed, in order, each once; the log and the cursor show it.
  void CheckSignedDeliveriesRetriedInOrder();

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  std::unique_ptr<client::HttpClient> http_;
};

// A job's JOB_STATUS_CHANGE and JOB_FINISHED events as the receiver accepted them, in order:
// "null>INIT", "INIT>RUNNING", "RUNNING>SUCCEEDED", "FINISHED:SUCCEEDED".
std::vector<std::string> JobStory(const std::vector<Received>& got, const std::string& job) {
  std::vector<std::string> out;
  for (const Received& r : got) {
    if (Str(r.body, "jobId") != job) continue;
    if (r.type == "JOB_STATUS_CHANGE") {
      const std::string from = r.body.at("fromState").is_null() ? "null" : Str(r.body, "fromState");
      out.push_back(from + ">" + Str(r.body, "toState"));
    } else if (r.type == "JOB_FINISHED") {
      out.push_back("FINISHED:" + Str(r.body, "status"));
    }
  }
  return out;
}

const std::vector<std::string> kSucceeded = {"null>INIT", "INIT>RUNNING", "RUNNING>SUCCEEDED",
                                             "FINISHED:SUCCEEDED"};

void WebhooksTest::CheckSignedDeliveriesRetriedInOrder() {
  Receiver receiver(kSecret);
  receiver.FailNext(2);
  const std::string hook = AddWebhook(receiver.url(), kSecret,
                                      {"--type", "JOB_STATUS_CHANGE", "--type", "JOB_FINISHED"});
  ASSERT_FALSE(hook.empty());
  const std::string job = Submit("exit 0");
  ASSERT_TRUE(WaitFor([&] { return receiver.AcceptedOf("JOB_FINISHED") >= 1; }, 60s))
      << "JOB_FINISHED never accepted; " << receiver.all().size() << " requests arrived";

  std::vector<Received> all = receiver.all();
  for (const Received& r : all) EXPECT_TRUE(r.verified) << "event " << r.event_id;
  // The first event failed twice with 500 and was sent again: attempts 1, 2, 3 of one event.
  ASSERT_GE(all.size(), 3u);
  EXPECT_EQ(all[0].event_id, all[1].event_id);
  EXPECT_EQ(all[1].event_id, all[2].event_id);
  EXPECT_EQ(all[0].attempt, "1");
  EXPECT_EQ(all[1].attempt, "2");
  EXPECT_EQ(all[2].attempt, "3");

  std::vector<Received> accepted = receiver.accepted();
  EXPECT_EQ(JobStory(accepted, job), kSucceeded);
  for (size_t i = 1; i < accepted.size(); ++i) {
    EXPECT_LT(accepted[i - 1].event_id, accepted[i].event_id) << "out of order or repeated";
  }
  const Received& finished = accepted.back();
  EXPECT_EQ(finished.type, "JOB_FINISHED");
  EXPECT_EQ(finished.body.at("id").to_number<int64_t>(), finished.event_id);
  EXPECT_EQ(Str(finished.body.at("command"), "id"), "bash");

  // The log, newest first: the delivered attempts, and the two failures with their next retry.
  // (The last row is written just after the receiver answered.)
  ASSERT_TRUE(WaitFor([&] { return Deliveries(hook).size() == 6; }, 30s))
      << json::serialize(Deliveries(hook));
  json::array log = Deliveries(hook);
  const json::value& first = log[5];
  EXPECT_EQ(first.at("attempt").to_number<int64_t>(), 1);
  EXPECT_EQ(Str(first, "outcome"), "retrying");
  EXPECT_EQ(first.at("status").to_number<int64_t>(), 500);
  EXPECT_FALSE(Str(first, "nextRetry").empty());
  EXPECT_EQ(Str(log[3], "outcome"), "delivered");
  EXPECT_EQ(log[3].at("attempt").to_number<int64_t>(), 3);
  EXPECT_TRUE(log[3].at("nextRetry").is_null());
  EXPECT_EQ(Str(log[0], "eventType"), "JOB_FINISHED");

  // The subscription is listed, without its secret, with its cursor at the last event.
  auto list = RunWeir(server_->url(), {"webhook", "list", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.find(kSecret), std::string::npos);
  json::value hooks = Parse(list.out).at("webhooks");
  ASSERT_EQ(hooks.as_array().size(), 1u);
  EXPECT_EQ(hooks.at(0).at("deliveredUpTo").to_number<int64_t>(), finished.event_id);
}

TEST_F(WebhooksTest, SignedDeliveriesAreRetriedAfterFailuresAndArriveInOrder) {
  CheckSignedDeliveriesRetriedInOrder();
}

TEST_F(WebhooksTest, AReceiverWithTheWrongSecretFailsVerificationAndTheEventIsGivenUp) {
  Receiver receiver("not the secret the subscription holds");
  const std::string hook = AddWebhook(receiver.url(), kSecret, {"--type", "JOB_FINISHED"});
  Submit("exit 0");
  // max_attempts 3: three refused attempts, then the event is logged as failed.
  ASSERT_TRUE(WaitFor(
      [&] {
        json::array log = Deliveries(hook);
        return !log.empty() && Str(log[0], "outcome") == "failed";
      },
      60s))
      << json::serialize(Deliveries(hook));
  std::vector<Received> all = receiver.all();
  ASSERT_EQ(all.size(), 3u);
  for (const Received& r : all) EXPECT_FALSE(r.verified);
  EXPECT_TRUE(receiver.accepted().empty());
  json::array log = Deliveries(hook);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].at("status").to_number<int64_t>(), 401);
  EXPECT_EQ(log[0].at("attempt").to_number<int64_t>(), 3);
  EXPECT_TRUE(log[0].at("nextRetry").is_null());
}

TEST_F(WebhooksTest, RedeliveryByHandSendsTheEventAgainAndIsLogged) {
  Receiver receiver(kSecret);
  const std::string hook = AddWebhook(receiver.url(), kSecret, {"--type", "JOB_FINISHED"});
  Submit("exit 3");
  ASSERT_TRUE(WaitFor([&] { return receiver.accepted().size() == 1; }, 60s));
  json::array log = Deliveries(hook);
  ASSERT_EQ(log.size(), 1u);
  const std::string delivery = std::to_string(log[0].at("id").to_number<int64_t>());
  auto r = RunWeir(server_->url(), {"webhook", "redeliver", hook, delivery});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitFor([&] { return receiver.accepted().size() == 2; }, 60s));
  std::vector<Received> got = receiver.accepted();
  EXPECT_EQ(got[1].event_id, got[0].event_id);
  EXPECT_TRUE(got[1].verified);
  EXPECT_EQ(Str(got[1].body, "status"), "FAILED");
  ASSERT_TRUE(WaitFor([&] { return Deliveries(hook).size() == 2; }, 30s));
  log = Deliveries(hook);
  EXPECT_TRUE(log[0].at("manual").as_bool());
  EXPECT_EQ(Str(log[0], "outcome"), "delivered");
  // An unknown delivery is a clear not-found (exit code 3).
  auto missing = RunWeir(server_->url(), {"webhook", "redeliver", hook, "999999"});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
}

TEST_F(WebhooksTest, RemovedSubscriptionIsGoneAndBadUrlsAreRefused) {
  Receiver receiver(kSecret);
  const std::string hook = AddWebhook(receiver.url(), kSecret);
  auto rm = RunWeir(server_->url(), {"webhook", "rm", hook});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  auto list = RunWeir(server_->url(), {"webhook", "list", "-o", "json"});
  EXPECT_TRUE(Parse(list.out).at("webhooks").as_array().empty()) << list.out;
  EXPECT_EQ(RunWeir(server_->url(), {"webhook", "deliveries", hook}).exit_code, 3);

  WriteFile(dir_.path() / "s", "x");
  auto ftp = RunWeir(server_->url(), {"webhook", "add", "ftp://example.com/x", "--secret-file",
                                      (dir_.path() / "s").string()});
  EXPECT_EQ(ftp.exit_code, 1);
  EXPECT_NE(ftp.err.find("not an http:// or https:// URL"), std::string::npos) << ftp.err;
  // Link-local (cloud metadata) stays refused: only 127.0.0.0/8 is allowed in this config.
  auto metadata = RunWeir(server_->url(), {"webhook", "add", "http://169.254.169.254/x",
                                           "--secret-file", (dir_.path() / "s").string()});
  EXPECT_EQ(metadata.exit_code, 1);
  EXPECT_NE(metadata.err.find("webhooks.allowed_networks"), std::string::npos) << metadata.err;
}

class WebhookRestartTest : public WebhooksTest {
 protected:
  std::string Config() override {
    return "jobs:\n  max_active_jobs_per_user: 1000\n  default_memory_mb: 1\n"
           "webhooks:\n  max_attempts: 100\n  backoff_initial_ms: 100\n"
           "  backoff_max_seconds: 1\n  allowed_networks: [127.0.0.0/8]\n";
  }
};

TEST_F(WebhookRestartTest, ARestartMidwayLosesNoEventAndResendsNoneAlreadyDelivered) {
  Receiver receiver(kSecret);
  const std::string hook = AddWebhook(receiver.url(), kSecret,
                                      {"--type", "JOB_STATUS_CHANGE", "--type", "JOB_FINISHED"});
  const std::string first = Submit("exit 0");
  ASSERT_TRUE(WaitFor([&] { return JobStory(receiver.accepted(), first) == kSucceeded; }, 60s));

  // The receiver goes down; a second job runs to its end while deliveries fail.
  receiver.SetDown(true);
  const size_t before = receiver.all().size();
  const std::string second = Submit("exit 0");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = http_->Get("/api/v3/jobs/" + second + "/status");
        return r.ok() && r->status == 200 && Str(Parse(r->body), "status") == "SUCCEEDED";
      },
      60s));
  ASSERT_TRUE(WaitFor([&] { return receiver.all().size() > before; }, 30s));
  server_->Kill9();

  // Back up after a crash: the second job's events all arrive, in order; the first job's
  // (delivered before the crash) are not sent again.
  receiver.SetDown(false);
  ASSERT_EQ(server_->Start(), "");
  ASSERT_TRUE(WaitFor([&] { return receiver.AcceptedOf("JOB_FINISHED") >= 2; }, 60s))
      << receiver.accepted().size() << " accepted";
  std::vector<Received> accepted = receiver.accepted();
  EXPECT_EQ(JobStory(accepted, first), kSucceeded);
  EXPECT_EQ(JobStory(accepted, second), kSucceeded);
  for (size_t i = 1; i < accepted.size(); ++i) {
    EXPECT_LT(accepted[i - 1].event_id, accepted[i].event_id) << "out of order or repeated";
  }
}

// The same server on PostgreSQL (store.type postgresql, a fresh database of the throwaway
// server): subscriptions, deliveries, the log and the cursor live there.
class WebhooksPostgresTest : public WebhooksTest {
 protected:
  void SetUp() override {
    store::testing::PostgresServer* pg = nullptr;
    NewPostgresDatabase(&pg, &url_);
    if (url_.empty()) return;  // no server: reported as missing
    StartServer();
  }
  std::string Config() override {
    return WebhooksTest::Config() + "store:\n  type: postgresql\n  url: \"" + url_ + "\"\n";
  }
  std::string url_;
};

TEST_F(WebhooksPostgresTest, SignedDeliveriesAreRetriedAfterFailuresAndArriveInOrder) {
  CheckSignedDeliveriesRetriedInOrder();
  // The subscription is in the database: a restarted server lists it with its cursor.
  server_->Stop();
  ASSERT_EQ(server_->Start(), "");
  auto list = RunWeir(server_->url(), {"webhook", "list", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  json::value hooks = Parse(list.out).at("webhooks");
  ASSERT_EQ(hooks.as_array().size(), 1u) << list.out;
  EXPECT_GT(hooks.at(0).at("deliveredUpTo").to_number<int64_t>(), 0);
}

// Two servers on one PostgreSQL database with a database leader lease: whichever server a job
// or a subscription goes through, each event reaches the receiver once (the leader delivers);
// when the leader is killed the other server takes over at the durable cursor.
class WebhookClusterTest : public PostgresDatabaseTest {
 protected:
  WeirServer& StartNode(const std::string& id) {
    const std::string yaml =
        "server:\n  node_id: " + id + "\nstore:\n  type: postgresql\n  url: \"" + url_ +
        "\"\njobs:\n  max_active_jobs_per_user: 1000\n  default_memory_mb: 1\n"
        "node:\n  heartbeat_interval_ms: 200\n"
        "leader:\n  mode: database\n  lease_ttl_ms: 5000\n"
        "webhooks:\n  max_attempts: 100\n  backoff_initial_ms: 100\n  backoff_max_seconds: 1\n"
        "  allowed_networks: [127.0.0.0/8]\n";
    servers_.push_back(std::make_unique<WeirServer>(dir_.path() / id, yaml));
    EXPECT_EQ(servers_.back()->Start(), "") << id;
    return *servers_.back();
  }
  std::string Submit(WeirServer& on) {
    auto r = RunWeir(on.url(), {"-o", "json", "job", "submit", "-c", "sched:sla", "-C", "type:bash",
                                "--", "exit 0"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json::value v = Parse(r.out);
    return v.is_object() ? Str(v, "id") : "";
  }
  std::string Leader(WeirServer& via) {
    auto r = RunWeir(via.url(), {"-o", "json", "node", "list"});
    if (r.exit_code != 0) return "";
    json::value v = Parse(r.out);
    if (!v.is_object() || !v.at("leader").is_object()) return "";
    const json::value* node = v.at("leader").as_object().if_contains("node");
    return node && node->is_string() ? std::string(node->as_string()) : "";
  }

  TempDir dir_;
  std::vector<std::unique_ptr<WeirServer>> servers_;
};

TEST_F(WebhookClusterTest, EachEventIsDeliveredOnceByTheLeaderAndANewLeaderGoesOn) {
  WeirServer& a = StartNode("node-a");
  WeirServer& b = StartNode("node-b");
  ASSERT_TRUE(WaitFor([&] { return !Leader(a).empty() && Leader(a) == Leader(b); }, 30s));
  auto applied = RunWeir(a.url(), {"apply", "-f", kDemo});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;

  Receiver receiver(kSecret);
  const auto file = dir_.path() / "secret";
  WriteFile(file, kSecret + "\n");
  // Stored through B, whoever leads.
  auto added =
      RunWeir(b.url(), {"webhook", "add", receiver.url(), "--secret-file", file.string(), "--type",
                        "JOB_STATUS_CHANGE", "--type", "JOB_FINISHED", "-o", "json"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  const std::string hook = Str(Parse(added.out), "id");

  std::vector<std::string> jobs;
  for (int i = 0; i < 3; ++i) {
    jobs.push_back(Submit(a));
    jobs.push_back(Submit(b));
  }
  ASSERT_TRUE(WaitFor([&] { return receiver.AcceptedOf("JOB_FINISHED") >= jobs.size(); }, 90s))
      << receiver.AcceptedOf("JOB_FINISHED") << " of " << jobs.size() << " JOB_FINISHED";
  std::vector<Received> accepted = receiver.accepted();
  for (const std::string& job : jobs) EXPECT_EQ(JobStory(accepted, job), kSucceeded) << job;
  for (const auto& [event, n] : receiver.AcceptedPerEvent()) {
    EXPECT_EQ(n, 1) << "event " << event << " delivered " << n << " times";
  }
  for (const Received& r : receiver.all()) EXPECT_TRUE(r.verified) << "event " << r.event_id;
  for (size_t i = 1; i < accepted.size(); ++i) {
    EXPECT_LT(accepted[i - 1].event_id, accepted[i].event_id) << "out of order or repeated";
  }

  // Every accepted event is settled in the database (its log row and the cursor are written
  // just after the receiver answered), so nothing is in flight when the leader dies.
  int64_t last = 0;
  for (const Received& r : accepted) last = std::max(last, r.event_id);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto list = RunWeir(b.url(), {"webhook", "list", "-o", "json"});
        json::value v = Parse(list.out);
        return v.is_object() && v.at("webhooks").as_array().size() == 1 &&
               v.at("webhooks").at(0).at("deliveredUpTo").to_number<int64_t>() >= last;
      },
      30s));

  // The leader dies; the other server leads after the lease and delivers what follows.
  const std::string leader = Leader(a);
  WeirServer& dead = leader == "node-a" ? a : b;
  WeirServer& alive = leader == "node-a" ? b : a;
  const std::string other = leader == "node-a" ? "node-b" : "node-a";
  dead.Kill9();
  ASSERT_TRUE(WaitFor([&] { return Leader(alive) == other; }, 60s));
  const std::string late = Submit(alive);
  ASSERT_TRUE(WaitFor([&] { return JobStory(receiver.accepted(), late) == kSucceeded; }, 90s))
      << JobStory(receiver.accepted(), late).size() << " events of the late job";
  for (const std::string& job : jobs) {
    EXPECT_EQ(JobStory(receiver.accepted(), job), kSucceeded) << job << " after the handover";
  }
  auto log = RunWeir(alive.url(), {"webhook", "deliveries", hook, "-o", "json"});
  EXPECT_EQ(log.exit_code, 0) << log.err;
}

}  // namespace
}  // namespace weir::testing
