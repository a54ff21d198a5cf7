// The WebhookStore contract of store.h, run against every backend (SQLite on temp files,
// PostgreSQL on a fresh database of the throwaway server, store/testing/postgres_server.h):
// subscriptions round-trip with their filter and secret, the delivery log and its order, the
// durable cursor that only moves forward, the attempt count a restarted dispatcher resumes from,
// and removal. Reopen() opens the storage again (on PostgreSQL: a new connection pool, as a
// restarted or another server would). Nothing is timed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/testing/required_services.h"
#include "store/open.h"
#include "store/store.h"
#include "store/testing/postgres_env.h"  // stops the shared server after the last test
#include "store/testing/postgres_server.h"

namespace weir::store {
namespace {

// Where one test's stores live; Open() may be called again for the same storage.
struct BackendFactory {
  std::string name;
  // Returns the StoreLocation for a fresh storage under `dir`, or "" in `missing` with why the
  // backend cannot run here.
  std::function<StoreLocation(const std::filesystem::path& dir, std::string* missing)> locate;
};

// Test names and failure messages show the backend's name, not its bytes.
void PrintTo(const BackendFactory& b, std::ostream* os) { *os << b.name; }

std::vector<BackendFactory> Backends() {
  return {{"sqlite",
           [](const std::filesystem::path& dir, std::string*) {
             StoreLocation where;
             where.sqlite_path = (dir / "weir.db").string();
             return where;
           }},
          {"postgres", [](const std::filesystem::path&, std::string* missing) {
             StoreLocation where;
             where.type = "postgresql";
             testing::PostgresServer* server = testing::SharedPostgres();
             if (server == nullptr) {
               *missing = testing::SharedPostgresError();
               return where;
             }
             Result<std::string> url = server->CreateDatabase();
             if (!url.ok()) {
               *missing = url.status().message();
               return where;
             }
             where.url = *url;
             return where;
           }}};
}

TimePoint At(int64_t seconds) { return FromEpochMillis(1'700'000'000'000 + seconds * 1000); }

class WebhookStoreTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "weir-webhooks-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    std::string missing;
    where_ = GetParam().locate(dir_, &missing);
    if (!missing.empty()) WEIR_MISSING_SERVICE("postgresql", missing);
    Reopen();
  }
  void TearDown() override {
    stores_ = {};
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Reopen() {
    stores_ = {};
    auto s = OpenStores(where_, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = *s;
    ASSERT_NE(stores_.webhooks, nullptr);
  }
  WebhookStore& store() { return *stores_.webhooks; }

  static WebhookRecord Hook(std::string id) {
    WebhookRecord w;
    w.id = std::move(id);
    w.url = "https://hooks.example/" + w.id;
    w.filter.types = {"JOB_STATUS_CHANGE", "JOB_FINISHED"};
    w.filter.user = "alice";
    w.filter.job_id = "j1";
    w.secret = "s3cret-" + w.id;
    w.created = At(1);
    w.delivered_up_to = 7;
    return w;
  }
  static WebhookDelivery Attempt(std::string hook, int64_t event, int attempt,
                                 DeliveryOutcome outcome) {
    WebhookDelivery d;
    d.webhook_id = std::move(hook);
    d.event_id = event;
    d.event_type = "JOB_FINISHED";
    d.attempt = attempt;
    d.time = At(10 + attempt);
    d.http_status = outcome == DeliveryOutcome::kDelivered ? 204 : 500;
    d.error = outcome == DeliveryOutcome::kDelivered ? "" : "HTTP 500 Internal Server Error";
    d.duration_ms = 12;
    d.outcome = outcome;
    if (outcome == DeliveryOutcome::kRetrying) d.next_retry = At(20 + attempt);
    return d;
  }

  std::filesystem::path dir_;
  StoreLocation where_;
  FakeClock clock_{At(0)};
  SqliteStores stores_;
};

TEST_P(WebhookStoreTest, SubscriptionRoundTripsWithFilterSecretAndCursor) {
  ASSERT_TRUE(store().CreateWebhook(Hook("a")).ok());
  WebhookRecord b = Hook("b");
  b.filter = {};
  b.enabled = false;
  ASSERT_TRUE(store().CreateWebhook(b).ok());
  Reopen();  // durable
  auto got = store().GetWebhook("a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->url, "https://hooks.example/a");
  EXPECT_EQ(got->secret, "s3cret-a");
  EXPECT_EQ(got->filter.types, (std::vector<std::string>{"JOB_STATUS_CHANGE", "JOB_FINISHED"}));
  EXPECT_EQ(got->filter.user, "alice");
  EXPECT_EQ(got->filter.job_id, "j1");
  EXPECT_FALSE(got->filter.grouping.has_value());
  EXPECT_TRUE(got->enabled);
  EXPECT_EQ(got->created, At(1));
  EXPECT_EQ(got->delivered_up_to, 7);
  auto all = store().ListWebhooks();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "a");
  EXPECT_EQ((*all)[1].id, "b");
  EXPECT_FALSE((*all)[1].enabled);
  EXPECT_TRUE((*all)[1].filter.types.empty());
  EXPECT_FALSE((*all)[1].filter.user.has_value());
}

TEST_P(WebhookStoreTest, DuplicateAndMissingIdsAreNamed) {
  ASSERT_TRUE(store().CreateWebhook(Hook("a")).ok());
  EXPECT_EQ(store().CreateWebhook(Hook("a")).code(), StatusCode::kAlreadyExists);
  auto missing = store().GetWebhook("nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
  EXPECT_EQ(store().DeleteWebhook("nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(
      store().RecordDelivery(Attempt("nope", 8, 1, DeliveryOutcome::kFailed), true).status().code(),
      StatusCode::kNotFound);
  EXPECT_EQ(store().ListDeliveries("nope", 10).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store().GetDelivery("a", 12345).status().code(), StatusCode::kNotFound);
}

TEST_P(WebhookStoreTest, DeliveryLogIsNewestFirstAndCursorMovesOnlyWhenAskedAndForward) {
  ASSERT_TRUE(store().CreateWebhook(Hook("a")).ok());
  auto r1 = store().RecordDelivery(Attempt("a", 8, 1, DeliveryOutcome::kRetrying), false);
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(store().GetWebhook("a")->delivered_up_to, 7) << "a retry must not move the cursor";
  auto r2 = store().RecordDelivery(Attempt("a", 8, 2, DeliveryOutcome::kDelivered), true);
  ASSERT_TRUE(r2.ok());
  EXPECT_GT(*r2, *r1);
  EXPECT_EQ(store().GetWebhook("a")->delivered_up_to, 8);
  // A redelivery by hand of an older event never moves the cursor back.
  WebhookDelivery manual = Attempt("a", 3, 1, DeliveryOutcome::kDelivered);
  manual.manual = true;
  ASSERT_TRUE(store().RecordDelivery(manual, true).ok());
  EXPECT_EQ(store().GetWebhook("a")->delivered_up_to, 8);

  Reopen();
  auto log = store().ListDeliveries("a", 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ((*log)[0].event_id, 3);
  EXPECT_TRUE((*log)[0].manual);
  EXPECT_EQ((*log)[1].attempt, 2);
  EXPECT_EQ((*log)[1].outcome, DeliveryOutcome::kDelivered);
  EXPECT_EQ((*log)[1].http_status, 204);
  const WebhookDelivery& first = (*log)[2];
  EXPECT_EQ(first.id, *r1);
  EXPECT_EQ(first.event_id, 8);
  EXPECT_EQ(first.event_type, "JOB_FINISHED");
  EXPECT_EQ(first.attempt, 1);
  EXPECT_FALSE(first.manual);
  EXPECT_EQ(first.time, At(11));
  EXPECT_EQ(first.http_status, 500);
  EXPECT_EQ(first.error, "HTTP 500 Internal Server Error");
  EXPECT_EQ(first.duration_ms, 12);
  EXPECT_EQ(first.outcome, DeliveryOutcome::kRetrying);
  EXPECT_EQ(first.next_retry, At(21));
  EXPECT_FALSE((*log)[1].next_retry.has_value());
  auto one = store().GetDelivery("a", *r1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->attempt, 1);
  auto limited = store().ListDeliveries("a", 1);
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->size(), 1u);
  EXPECT_EQ((*limited)[0].event_id, 3);
  EXPECT_EQ(store().ListDeliveries("a", 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(WebhookStoreTest, LastAttemptCountsTheOrderedStreamOnly) {
  ASSERT_TRUE(store().CreateWebhook(Hook("a")).ok());
  ASSERT_TRUE(store().CreateWebhook(Hook("b")).ok());
  EXPECT_EQ(*store().LastAttempt("a", 8), 0);
  ASSERT_TRUE(store().RecordDelivery(Attempt("a", 8, 1, DeliveryOutcome::kRetrying), false).ok());
  ASSERT_TRUE(store().RecordDelivery(Attempt("a", 8, 2, DeliveryOutcome::kRetrying), false).ok());
  WebhookDelivery manual = Attempt("a", 8, 9, DeliveryOutcome::kFailed);
  manual.manual = true;
  ASSERT_TRUE(store().RecordDelivery(manual, false).ok());
  ASSERT_TRUE(store().RecordDelivery(Attempt("b", 8, 5, DeliveryOutcome::kRetrying), false).ok());
  EXPECT_EQ(*store().LastAttempt("a", 8), 2);
  EXPECT_EQ(*store().LastAttempt("a", 9), 0);
  EXPECT_EQ(*store().LastAttempt("b", 8), 5);
}

TEST_P(WebhookStoreTest, DeleteRemovesTheSubscriptionAndItsLog) {
  ASSERT_TRUE(store().CreateWebhook(Hook("a")).ok());
  ASSERT_TRUE(store().CreateWebhook(Hook("b")).ok());
  ASSERT_TRUE(store().RecordDelivery(Attempt("a", 8, 1, DeliveryOutcome::kFailed), true).ok());
  ASSERT_TRUE(store().RecordDelivery(Attempt("b", 8, 1, DeliveryOutcome::kFailed), true).ok());
  ASSERT_TRUE(store().DeleteWebhook("a").ok());
  EXPECT_EQ(store().GetWebhook("a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store().ListWebhooks()->size(), 1u);
  EXPECT_EQ(store().ListDeliveries("b", 10)->size(), 1u);
  // The id can be used again, with an empty log.
  ASSERT_TRUE(store().CreateWebhook(Hook("a")).ok());
  EXPECT_TRUE(store().ListDeliveries("a", 10)->empty());
}

TEST_P(WebhookStoreTest, LogKeepsTheNewestRowsOnly) {
  ASSERT_TRUE(store().CreateWebhook(Hook("a")).ok());
  for (int i = 1; i <= kMaxDeliveriesPerWebhook + 5; ++i) {
    ASSERT_TRUE(
        store().RecordDelivery(Attempt("a", 100 + i, 1, DeliveryOutcome::kDelivered), true).ok());
  }
  auto log = store().ListDeliveries("a", 5000);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), static_cast<size_t>(kMaxDeliveriesPerWebhook));
  EXPECT_EQ(log->front().event_id, 100 + kMaxDeliveriesPerWebhook + 5);
  EXPECT_EQ(log->back().event_id, 106);
}

// Another opening of the same storage (another server on the database) sees the subscription
// and the cursor the first one moved: a new leader resumes where the old one stopped.
TEST_P(WebhookStoreTest, AnotherOpeningSeesTheCursorAndTheLog) {
  ASSERT_TRUE(store().CreateWebhook(Hook("a")).ok());
  auto other = OpenStores(where_, clock_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  ASSERT_NE(other->webhooks, nullptr);
  auto seen = other->webhooks->GetWebhook("a");
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(seen->delivered_up_to, 7);
  ASSERT_TRUE(store().RecordDelivery(Attempt("a", 9, 1, DeliveryOutcome::kRetrying), false).ok());
  ASSERT_TRUE(store().RecordDelivery(Attempt("a", 9, 2, DeliveryOutcome::kDelivered), true).ok());
  EXPECT_EQ(other->webhooks->GetWebhook("a")->delivered_up_to, 9);
  EXPECT_EQ(*other->webhooks->LastAttempt("a", 9), 2);
  // The other one goes on from there; the first one sees its rows.
  ASSERT_TRUE(
      other->webhooks->RecordDelivery(Attempt("a", 12, 1, DeliveryOutcome::kDelivered), true).ok());
  EXPECT_EQ(store().GetWebhook("a")->delivered_up_to, 12);
  EXPECT_EQ(store().ListDeliveries("a", 10)->size(), 3u);
  ASSERT_TRUE(other->webhooks->DeleteWebhook("a").ok());
  EXPECT_EQ(store().GetWebhook("a").status().code(), StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, WebhookStoreTest, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace weir::store
