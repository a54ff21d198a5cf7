// The pure parts of webhook delivery: the signature (checked against Python's hmac and
// `openssl dgst -sha256 -hmac`), the backoff schedule, and which URLs a subscription may name;
// and delivery by the leader only, over a real SQLite store and a receiver in this process.
#include "service/webhook_dispatcher.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "fetch/test_http_server.h"

namespace weir::service {
namespace {

TEST(WebhookSignatureTest, IsHmacSha256OfTimestampDotBodyInLowerCaseHex) {
  // printf '%s' '1765000000.{"id":7,"type":"JOB_FINISHED"}' | openssl dgst -sha256 -hmac whsec-test
  EXPECT_EQ(WebhookSignature("whsec-test", "1765000000", R"({"id":7,"type":"JOB_FINISHED"})"),
            "sha256=15a320348f953992eb82abdf7d909328aba9f6e6b718f68f8f4900f597d507a1");
  EXPECT_NE(WebhookSignature("whsec-test", "1765000001", R"({"id":7,"type":"JOB_FINISHED"})"),
            WebhookSignature("whsec-test", "1765000000", R"({"id":7,"type":"JOB_FINISHED"})"));
}

TEST(WebhookBackoffTest, DoublesFromTheInitialWaitUpToTheMaximum) {
  WebhookOptions o;
  o.backoff_initial = Millis(1000);
  o.backoff_max = Millis(600'000);
  EXPECT_EQ(WebhookBackoff(o, 1), Millis(1000));
  EXPECT_EQ(WebhookBackoff(o, 2), Millis(2000));
  EXPECT_EQ(WebhookBackoff(o, 3), Millis(4000));
  EXPECT_EQ(WebhookBackoff(o, 10), Millis(512'000));
  EXPECT_EQ(WebhookBackoff(o, 11), Millis(600'000));
  EXPECT_EQ(WebhookBackoff(o, 100), Millis(600'000));
}

TEST(CheckWebhookUrlTest, OnlyHttpToPublicOrAllowedAddresses) {
  WebhookOptions o;
  EXPECT_TRUE(CheckWebhookUrl("https://hooks.example.com/weir", o).ok());
  EXPECT_TRUE(CheckWebhookUrl("http://203.0.113.9:8080/x?y=1", o).ok());
  for (const char* bad : {"ftp://example.com/x", "file:///etc/passwd", "example.com/x", "http:///x",
                          "https://exa mple.com/", "http://127.0.0.1/x", "http://localhost:9000/",
                          "http://[::1]/", "http://169.254.169.254/", "http://10.1.2.3/",
                          "http://user@192.168.1.1/", "http://2130706433/"}) {
    Status s = CheckWebhookUrl(bad, o);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(CheckWebhookUrl("http://10.1.2.3/", o).message().find("webhooks.allowed_networks"),
            std::string::npos);
  o.allowed_networks = {*fetch::IpNetwork::Parse("127.0.0.0/8")};
  EXPECT_TRUE(CheckWebhookUrl("http://127.0.0.1:9000/hook", o).ok());
  EXPECT_TRUE(CheckWebhookUrl("http://localhost:9000/hook", o).ok());
  EXPECT_FALSE(CheckWebhookUrl("http://10.1.2.3/", o).ok());
}

// A server that does not lead delivers nothing of the ordered stream; when it starts leading
// it goes on after the subscription's durable cursor, which another server (the old leader)
// moved meanwhile: no event before it is sent again.
TEST(WebhookDispatcherLeadershipTest, OnlyTheLeaderDeliversAndANewLeaderResumesAtTheCursor) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "weir-wh-lead-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  FakeClock clock(FromEpochMillis(1'700'000'000'000));
  {
    auto stores = store::OpenSqlite((dir / "weir.db").string(), clock);
    ASSERT_TRUE(stores.ok()) << stores.status();
    auto hub = EventHub::Create(stores->events, EventHubOptions{64});
    ASSERT_TRUE(hub.ok()) << hub.status();

    std::mutex mu;
    std::vector<int64_t> received;  // GUARDED_BY(mu)
    fetch::testing::TestHttpServer receiver([&](const fetch::testing::TestRequest& r) {
      std::lock_guard lock(mu);
      received.push_back(std::atoll(r.Header("weir-event-id").c_str()));
      fetch::testing::TestResponse resp;
      resp.status = 204;
      return resp;
    });

    store::WebhookRecord hook;
    hook.id = "h";
    hook.url = receiver.Url("/hook");
    hook.secret = "s";
    hook.created = clock.Now();
    ASSERT_TRUE(stores->webhooks->CreateWebhook(hook).ok());

    std::atomic<bool> leader{false};
    WebhookOptions o;
    o.allowed_networks = {*fetch::IpNetwork::Parse("127.0.0.0/8")};
    o.backoff_initial = Millis(10);
    o.backoff_max = Millis(10);
    o.sync_interval = Millis(20);
    o.is_leader = [&leader] { return leader.load(); };
    auto d = WebhookDispatcher::Start(stores->webhooks, *hub, o, clock);
    ASSERT_TRUE(d.ok()) << d.status();

    std::vector<int64_t> ids;
    for (int i = 0; i < 5; ++i) {
      store::EventRecord e;
      e.type = "ASSET_PUBLISHED";
      e.time = clock.Now();
      e.data = "{}";
      auto id = (*hub)->Append(e);
      ASSERT_TRUE(id.ok()) << id.status();
      ids.push_back(*id);
    }
    // The old leader delivered the first three.
    store::WebhookDelivery done;
    done.webhook_id = "h";
    done.event_id = ids[2];
    done.event_type = "ASSET_PUBLISHED";
    done.time = clock.Now();
    done.http_status = 204;
    ASSERT_TRUE(stores->webhooks->RecordDelivery(done, /*advance_cursor=*/true).ok());

    leader = true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (!received.empty() && received.back() == ids[4]) break;
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "event " << ids[4] << " never came";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    (*d)->Stop();
    std::lock_guard lock(mu);
    EXPECT_EQ(received, (std::vector<int64_t>{ids[3], ids[4]}));
    auto h = stores->webhooks->GetWebhook("h");
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->delivered_up_to, ids[4]);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace weir::service
