// The contract of scheduler_store.h, run against every backend: SQLite on a temp file and
// PostgreSQL on a fresh database of the throwaway server (store/testing/postgres_server.h).
// "Another process" is a second store opened on the same storage. Nothing here is timed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/testing/required_services.h"
#include "store/open.h"
#include "store/scheduler_store.h"
#include "store/testing/postgres_env.h"  // stops the shared server after the last test
#include "store/testing/postgres_server.h"

namespace weir::store {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

class SchedulerStoreContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("weir-sched-store-" + NewUuid());
    fs::create_directories(dir_);
    where_.type = GetParam();
    where_.sqlite_path = (dir_ / "weir.db").string();
    if (GetParam() == "postgresql") {
      testing::PostgresServer* server = testing::SharedPostgres();
      if (server == nullptr) WEIR_MISSING_SERVICE("postgresql", testing::SharedPostgresError());
      Result<std::string> url = server->CreateDatabase();
      if (!url.ok()) WEIR_MISSING_SERVICE("postgresql", url.status().message());
      where_.url = *url;
    }
    store_ = Connect();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // A new, independent connection to this test's storage.
  std::unique_ptr<SchedulerStore> Connect() {
    auto s = OpenSchedulerStore(where_, 10000);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static WfDeploymentRow Deployment(const std::string& workflow, const std::string& env = "prod") {
    WfDeploymentRow d;
    d.id = env + ":acme.warehouse." + workflow;
    d.environment = env;
    d.owner = "acme";
    d.repo = "warehouse";
    d.workflow_id = workflow;
    d.created_ms = 100;
    d.updated_ms = 100;
    return d;
  }

  static WfInstanceRow Instance(const std::string& id, int64_t n, const std::string& status) {
    WfInstanceRow r;
    r.deployed_id = id;
    r.number = n;
    r.version = 1;
    r.bundle_id = "b1";
    r.status = status;
    r.trigger = "manual";
    r.trigger_ms = 1000 * n;
    r.requested_by = "bob";
    r.params = R"({"A":"1"})";
    r.created_ms = 10 * n;
    return r;
  }

  fs::path dir_;
  StoreLocation where_;
  std::unique_ptr<SchedulerStore> store_;
};

TEST_P(SchedulerStoreContractTest, DeploymentsRoundTripAndUpdateKeepsLifecycleState) {
  EXPECT_FALSE(store_->GetDeployment("prod:acme.warehouse.etl")->has_value());
  ASSERT_TRUE(store_->InsertDeployment(Deployment("etl")).ok());
  ASSERT_TRUE(store_->InsertDeployment(Deployment("a")).ok());
  EXPECT_EQ(store_->InsertDeployment(Deployment("etl")).code(), StatusCode::kAlreadyExists);

  auto d = *store_->GetDeployment("prod:acme.warehouse.etl");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->workflow_id, "etl");
  EXPECT_EQ(d->active_version, std::nullopt);
  EXPECT_EQ(d->catchup, "latest");
  EXPECT_EQ(d->next_instance, 1);
  EXPECT_FALSE(d->paused);

  ASSERT_TRUE(store_->SetPaused(d->id, true, 150, std::nullopt).ok());
  d->active_version = 2;
  d->latest_version = 3;
  d->env_params = R"({"X":"y"})";
  d->catchup = "all";
  d->next_instance = 7;
  d->cursor_ms = 5000;
  d->schedule_key = "0 * * * *|UTC";
  d->updated_ms = 200;
  d->paused = false;  // not written by UpdateDeployment
  ASSERT_TRUE(store_->UpdateDeployment(*d).ok());

  auto other = Connect();
  auto e = *other->GetDeployment(d->id);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->active_version, 2);
  EXPECT_EQ(e->latest_version, 3);
  EXPECT_EQ(e->env_params, R"({"X":"y"})");
  EXPECT_EQ(e->catchup, "all");
  EXPECT_EQ(e->next_instance, 7);
  EXPECT_EQ(e->cursor_ms, 5000);
  EXPECT_EQ(e->schedule_key, "0 * * * *|UTC");
  EXPECT_EQ(e->updated_ms, 200);
  EXPECT_EQ(e->created_ms, 100);
  EXPECT_TRUE(e->paused);

  auto all = *store_->ListDeployments();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "prod:acme.warehouse.a");
  EXPECT_EQ(all[1].id, "prod:acme.warehouse.etl");
}

TEST_P(SchedulerStoreContractTest, PauseResumeAndUndeployDecideWhatMayFire) {
  WfDeploymentRow d = Deployment("etl");
  d.active_version = 1;
  d.schedule_key = "0 * * * *|UTC";
  d.cursor_ms = 1000;
  ASSERT_TRUE(store_->InsertDeployment(d).ok());
  WfDeploymentRow manual = Deployment("manual");  // no schedule: never a cron candidate
  manual.active_version = 1;
  ASSERT_TRUE(store_->InsertDeployment(manual).ok());

  auto ids = [&](int64_t now) {
    std::vector<std::string> out;
    std::vector<WfDeploymentRow> rows = *store_->DeploymentsToFire(now);
    for (const WfDeploymentRow& r : rows) out.push_back(r.id);
    return out;
  };
  EXPECT_THAT(ids(2000), ElementsAre(d.id));
  EXPECT_THAT(ids(1000), IsEmpty());  // cursor not before now

  ASSERT_TRUE(store_->SetPaused(d.id, true, 2000, 2000).ok());
  EXPECT_THAT(ids(3000), IsEmpty());
  EXPECT_EQ((*store_->GetDeployment(d.id))->updated_ms, 2000);

  // Resume skips what was missed: the cursor moves to now.
  ASSERT_TRUE(store_->SetPaused(d.id, false, 5000, std::nullopt).ok());
  auto r = *store_->GetDeployment(d.id);
  EXPECT_FALSE(r->paused);
  EXPECT_EQ(r->cursor_ms, 5000);
  EXPECT_EQ(r->updated_ms, 2000);
  EXPECT_THAT(ids(6000), ElementsAre(d.id));
  // Resuming what is not paused changes nothing.
  ASSERT_TRUE(store_->SetPaused(d.id, false, 9000, 9000).ok());
  EXPECT_EQ((*store_->GetDeployment(d.id))->cursor_ms, 5000);

  ASSERT_TRUE(store_->SetUndeployed(d.id, 7000).ok());
  ASSERT_TRUE(store_->SetUndeployed(d.id, 8000).ok());
  EXPECT_EQ((*store_->GetDeployment(d.id))->undeployed_ms, 7000);
  EXPECT_THAT(ids(9000), IsEmpty());
  ASSERT_TRUE(store_->ClearUndeployed(d.id).ok());
  EXPECT_EQ((*store_->GetDeployment(d.id))->undeployed_ms, std::nullopt);
  EXPECT_THAT(ids(9000), ElementsAre(d.id));
}

TEST_P(SchedulerStoreContractTest, DeploymentsOfRepoAreTheActiveRunnableOthers) {
  WfDeploymentRow a = Deployment("a"), b = Deployment("b"), c = Deployment("c");
  WfDeploymentRow dev = Deployment("d", "dev"), none = Deployment("e");
  a.active_version = b.active_version = c.active_version = dev.active_version = 1;
  for (const auto& d : {a, b, c, dev, none}) ASSERT_TRUE(store_->InsertDeployment(d).ok());
  ASSERT_TRUE(store_->SetPaused(c.id, true, 1, std::nullopt).ok());
  auto rows = *store_->DeploymentsOfRepo("prod", "acme", "warehouse", a.id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, b.id);
}

TEST_P(SchedulerStoreContractTest, VersionsAndActivations) {
  const std::string id = "prod:acme.warehouse.etl";
  for (int v = 1; v <= 3; ++v) {
    WfVersionRow r;
    r.deployed_id = id;
    r.version = v;
    r.bundle_id = "bundle" + std::to_string(v);
    r.manifest = "{\"v\":" + std::to_string(v) + "}";
    r.deployer = "alice";
    r.dirty = v == 2;
    r.branch = "main";
    r.commit = "c" + std::to_string(v);
    r.created_ms = v;
    ASSERT_TRUE(store_->InsertVersion(r).ok());
  }
  WfVersionRow same_bundle;
  same_bundle.deployed_id = id;
  same_bundle.version = 4;
  same_bundle.bundle_id = "bundle1";
  EXPECT_EQ(store_->InsertVersion(same_bundle).code(), StatusCode::kAlreadyExists);

  EXPECT_EQ(*store_->VersionOfBundle(id, "bundle2"), 2);
  EXPECT_EQ(*store_->VersionOfBundle(id, "other"), std::nullopt);
  auto v2 = *store_->GetVersion(id, 2);
  ASSERT_TRUE(v2.has_value());
  EXPECT_EQ(v2->manifest, "{\"v\":2}");
  EXPECT_TRUE(v2->dirty);
  EXPECT_EQ(v2->commit, "c2");
  EXPECT_FALSE(store_->GetVersion(id, 9)->has_value());
  auto listed = *store_->ListVersions(id, false);
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].version, 3);
  EXPECT_EQ(listed[2].version, 1);
  EXPECT_EQ(listed[0].manifest, "");
  EXPECT_EQ((*store_->ListVersions(id, true))[0].manifest, "{\"v\":3}");

  // Activations: 1, 3, 2, 3 — the most recent one below 3 is 2, below 2 is 1.
  std::optional<int64_t> previous;
  int64_t at = 0;
  for (int64_t v : {1, 3, 2, 3}) {
    WfActivationRow a{v, previous, "activate", "bob", ++at};
    ASSERT_TRUE(store_->InsertActivation(id, a).ok());
    previous = v;
  }
  auto history = *store_->ListActivations(id);
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history[0].version, 3);
  EXPECT_EQ(history[0].previous, 2);
  EXPECT_EQ(history[3].version, 1);
  EXPECT_EQ(history[3].previous, std::nullopt);
  EXPECT_EQ(*store_->LastActivatedBelow(id, 3), 2);
  EXPECT_EQ(*store_->LastActivatedBelow(id, 2), 1);
  EXPECT_EQ(*store_->LastActivatedBelow(id, 1), std::nullopt);
}

TEST_P(SchedulerStoreContractTest, BundleManifestsNameEachStoredBundleOnce) {
  EXPECT_TRUE(store_->BundleManifests()->empty());
  auto insert = [&](const std::string& id, int64_t version, const std::string& bundle) {
    WfVersionRow r;
    r.deployed_id = id;
    r.version = version;
    r.bundle_id = bundle;
    r.manifest = "{\"bundle\":\"" + bundle + "\"}";
    r.deployer = "alice";
    ASSERT_TRUE(store_->InsertVersion(r).ok());
  };
  insert("prod:acme.warehouse.etl", 1, "bbbb");
  insert("prod:acme.warehouse.etl", 2, "aaaa");
  insert("staging:acme.warehouse.etl", 1, "bbbb");  // the same bundle deployed elsewhere
  ASSERT_TRUE(store_->SetUndeployed("prod:acme.warehouse.etl", 5).ok());
  auto all = store_->BundleManifests();
  ASSERT_TRUE(all.ok()) << all.status();
  using Pair = std::pair<std::string, std::string>;
  EXPECT_EQ(*all, (std::vector<Pair>{{"aaaa", "{\"bundle\":\"aaaa\"}"},
                                     {"bbbb", "{\"bundle\":\"bbbb\"}"}}));
}

TEST_P(SchedulerStoreContractTest, AFireTimeIsMarkedOnceAlsoFromAnotherConnection) {
  const std::string id = "prod:acme.warehouse.etl";
  EXPECT_FALSE(*store_->HasFire(id, 3600000));
  EXPECT_TRUE(*store_->MarkFire(id, 3600000, 1, 5));
  EXPECT_FALSE(*store_->MarkFire(id, 3600000, 2, 6));
  auto other = Connect();
  EXPECT_FALSE(*other->MarkFire(id, 3600000, 3, 7));
  EXPECT_TRUE(*other->HasFire(id, 3600000));
  EXPECT_TRUE(*other->MarkFire(id, 7200000, 2, 7));
  EXPECT_TRUE(*other->MarkFire("prod:acme.warehouse.other", 3600000, 1, 7));
}

// The fence of a leader's write transactions: it holds while the leader lease still carries the
// token, and refuses once another node took the lease (or before anyone did).
TEST_P(SchedulerStoreContractTest, AFenceHoldsOnlyForTheLeasesCurrentToken) {
  FakeClock clock(FromEpochMillis(1000000));
  auto stores = OpenStores(where_, clock);
  ASSERT_TRUE(stores.ok()) << stores.status();
  {
    auto txn = store_->Begin();
    ASSERT_TRUE(txn.ok()) << txn.status();
    EXPECT_EQ(store_->CheckFence("leader", 1).code(), StatusCode::kFailedPrecondition);
  }
  auto first = stores->nodes->AcquireLease("leader", "a", clock.Now(), Millis(3000));
  ASSERT_TRUE(first.ok()) << first.status();
  {
    auto txn = store_->Begin();
    ASSERT_TRUE(txn.ok()) << txn.status();
    EXPECT_TRUE(store_->CheckFence("leader", first->token).ok());
    EXPECT_EQ(store_->CheckFence("leader", first->token + 1).code(),
              StatusCode::kFailedPrecondition);
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  // a's lease expires; b takes it with a larger token: a's token no longer passes.
  auto second =
      stores->nodes->AcquireLease("leader", "b", clock.Now() + Millis(5000), Millis(3000));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->holder, "b");
  auto txn = store_->Begin();
  ASSERT_TRUE(txn.ok()) << txn.status();
  Status old = store_->CheckFence("leader", first->token);
  EXPECT_EQ(old.code(), StatusCode::kFailedPrecondition) << old;
  EXPECT_NE(old.message().find("fenced"), std::string::npos) << old;
  EXPECT_TRUE(store_->CheckFence("leader", second->token).ok());
}

TEST_P(SchedulerStoreContractTest, AnUncommittedTransactionLeavesNothing) {
  const std::string id = "prod:acme.warehouse.etl";
  {
    auto txn = store_->Begin();
    ASSERT_TRUE(txn.ok()) << txn.status();
    ASSERT_TRUE(*store_->MarkFire(id, 1000, 1, 1));
    ASSERT_TRUE(store_->InsertInstance(Instance(id, 1, "CREATED"), 1).ok());
  }  // rolled back
  EXPECT_FALSE(*store_->HasFire(id, 1000));
  EXPECT_FALSE(store_->GetInstance(id, 1)->has_value());
  {
    auto txn = store_->Begin();
    ASSERT_TRUE(txn.ok()) << txn.status();
    ASSERT_TRUE(*store_->MarkFire(id, 1000, 1, 1));
    ASSERT_TRUE(store_->InsertInstance(Instance(id, 1, "CREATED"), 1).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto other = Connect();
  EXPECT_TRUE(*other->HasFire(id, 1000));
  EXPECT_TRUE(other->GetInstance(id, 1)->has_value());
}

// Read-modify-write transactions of several connections at once lose no update: each one's
// write transaction excludes the others for its whole length.
TEST_P(SchedulerStoreContractTest, WriteTransactionsOfSeveralConnectionsLoseNoUpdate) {
  WfDeploymentRow d = Deployment("etl");
  ASSERT_TRUE(store_->InsertDeployment(d).ok());
  constexpr int kThreads = 4, kPerThread = 15;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto s = Connect();
      if (s == nullptr) {
        ++failures;
        return;
      }
      for (int i = 0; i < kPerThread; ++i) {
        auto txn = s->Begin();
        if (!txn.ok()) {
          ++failures;
          continue;
        }
        auto row = s->GetDeployment(d.id);
        if (!row.ok() || !row->has_value()) {
          ++failures;
          continue;
        }
        WfDeploymentRow next = **row;
        next.next_instance += 1;
        if (!s->UpdateDeployment(next).ok() || !(*txn)->Commit().ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*store_->GetDeployment(d.id))->next_instance, 1 + kThreads * kPerThread);
}

TEST_P(SchedulerStoreContractTest, InstancesArePagedNewestFirstAndFilteredByStatus) {
  const std::string id = "prod:acme.warehouse.etl";
  const char* statuses[] = {"SUCCEEDED", "FAILED", "RUNNING", "CREATED", "SUCCEEDED"};
  for (int n = 1; n <= 5; ++n) {
    ASSERT_TRUE(store_->InsertInstance(Instance(id, n, statuses[n - 1]), 1).ok());
  }
  ASSERT_TRUE(store_->InsertInstance(Instance("prod:acme.warehouse.b", 1, "RUNNING"), 1).ok());
  EXPECT_EQ(store_->InsertInstance(Instance(id, 3, "CREATED"), 1).code(),
            StatusCode::kAlreadyExists);

  auto numbers = [](const std::vector<WfInstanceRow>& rows) {
    std::vector<int64_t> out;
    for (const auto& r : rows) out.push_back(r.number);
    return out;
  };
  EXPECT_THAT(numbers(*store_->ListInstances(id, {}, 2, 0)), ElementsAre(5, 4));
  EXPECT_THAT(numbers(*store_->ListInstances(id, {}, 2, 4)), ElementsAre(1));
  EXPECT_THAT(numbers(*store_->ListInstances(id, {"SUCCEEDED", "FAILED"}, 10, 0)),
              ElementsAre(5, 2, 1));
  EXPECT_EQ(*store_->CountInstances(id, {}), 5);
  EXPECT_EQ(*store_->CountInstances(id, {"SUCCEEDED"}), 2);
  EXPECT_THAT(*store_->ActiveInstances(),
              ElementsAre(Pair("prod:acme.warehouse.b", 1), Pair(id, 3), Pair(id, 4)));

  WfInstanceRow r = **store_->GetInstance(id, 3);
  EXPECT_EQ(r.params, R"({"A":"1"})");
  EXPECT_EQ(r.trigger_ms, 3000);
  EXPECT_EQ(r.started_ms, std::nullopt);
  r.status = "SUCCEEDED";
  r.message = "done";
  r.run = 2;
  r.started_ms = 40;
  r.finished_ms = 50;
  ASSERT_TRUE(store_->UpdateInstance(r, 50).ok());
  WfInstanceRow back = **Connect()->GetInstance(id, 3);
  EXPECT_EQ(back.status, "SUCCEEDED");
  EXPECT_EQ(back.message, "done");
  EXPECT_EQ(back.run, 2);
  EXPECT_EQ(back.started_ms, 40);
  EXPECT_EQ(back.finished_ms, 50);
  EXPECT_THAT(*store_->ActiveInstances(),
              ElementsAre(Pair("prod:acme.warehouse.b", 1), Pair(id, 4)));

  ASSERT_TRUE(store_->InsertBackfill(id, 4, 3).ok());
  EXPECT_EQ(*store_->BackfillParallel(id, 4), 3);
  EXPECT_EQ(*store_->BackfillParallel(id, 5), std::nullopt);
}

TEST_P(SchedulerStoreContractTest, StepsAttemptsAndRunningSteps) {
  const std::string id = "prod:acme.warehouse.etl";
  ASSERT_TRUE(store_->InsertInstance(Instance(id, 1, "RUNNING"), 1).ok());
  for (int p = 0; p < 3; ++p) {
    WfStepRow s;
    s.step = std::string(1, static_cast<char>('z' - p));  // z, y, x: file order is not name order
    s.position = p;
    ASSERT_TRUE(store_->InsertStep(id, 1, s).ok());
  }
  auto steps = *store_->ListSteps(id, 1);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].step, "z");
  EXPECT_EQ(steps[2].step, "x");
  EXPECT_EQ(steps[0].status, "PENDING");
  EXPECT_EQ(steps[0].job_id, std::nullopt);
  EXPECT_FALSE(steps[0].submitted);

  // z is launched (claimed with its job id, not yet accepted), y runs, x waits to retry.
  steps[0].status = "RUNNING";
  steps[0].job_id = "job-z";
  steps[0].attempts = 1;
  steps[1].status = "RUNNING";
  steps[1].job_id = "job-y";
  steps[1].submitted = true;
  steps[1].started_ms = 7;
  steps[2].status = "WAITING_RETRY";
  steps[2].not_before_ms = 99;
  steps[2].message = "retry";
  for (const auto& s : steps) ASSERT_TRUE(store_->UpdateStep(id, 1, s).ok());
  auto running = *store_->RunningSteps();
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].deployed_id, id);
  EXPECT_EQ(running[0].instance, 1);
  EXPECT_EQ(running[0].step, "y");
  EXPECT_EQ(running[0].job_id, "job-y");
  auto again = *Connect()->ListSteps(id, 1);
  EXPECT_EQ(again[2].status, "WAITING_RETRY");
  EXPECT_EQ(again[2].not_before_ms, 99);
  EXPECT_EQ(again[2].message, "retry");
  EXPECT_EQ(again[1].started_ms, 7);

  WfAttemptRow a{"y", "job-y", 1, 1, "", "", 10, std::nullopt};
  ASSERT_TRUE(store_->InsertAttempt(id, 1, a).ok());
  EXPECT_EQ(store_->InsertAttempt(id, 1, a).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(store_->InsertAttempt(id, 1, {"z", "job-z2", 2, 1, "", "", 5, std::nullopt}).ok());
  ASSERT_TRUE(store_->FinishAttempt("job-y", "FAILED", "exit 1", 20).ok());
  auto attempts = *store_->ListAttempts(id, 1);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].job_id, "job-z2");  // by creation time
  EXPECT_EQ(attempts[0].status, "SUBMITTING");
  EXPECT_EQ(attempts[0].run, 2);
  EXPECT_EQ(attempts[1].status, "FAILED");
  EXPECT_EQ(attempts[1].message, "exit 1");
  EXPECT_EQ(attempts[1].finished_ms, 20);
  EXPECT_EQ(attempts[1].step, "y");
}

// A stop marks the attempts whose jobs it asked to kill KILLING; they are listed until the job's
// end replaces that status.
TEST_P(SchedulerStoreContractTest, KillingAttemptsAreListedUntilTheirEndIsRecorded) {
  const std::string id = "prod:acme.warehouse.etl";
  ASSERT_TRUE(store_->InsertInstance(Instance(id, 1, "STOPPED"), 1).ok());
  for (const char* job : {"job-b", "job-a", "job-c"}) {
    WfAttemptRow a{std::string("step-") + job, job, 1, 1, "", "", 10, std::nullopt};
    ASSERT_TRUE(store_->InsertAttempt(id, 1, a).ok());
  }
  EXPECT_TRUE(store_->KillingAttempts()->empty()) << "SUBMITTING is not KILLING";
  ASSERT_TRUE(store_->FinishAttempt("job-b", "KILLING", "stopped by erin", std::nullopt).ok());
  ASSERT_TRUE(store_->FinishAttempt("job-a", "KILLING", "stopped by ops", std::nullopt).ok());
  ASSERT_TRUE(store_->FinishAttempt("job-c", "SUCCEEDED", "", 20).ok());
  auto killing = *Connect()->KillingAttempts();
  ASSERT_EQ(killing.size(), 2u);
  EXPECT_EQ(killing[0].job_id, "job-a");  // by job id
  EXPECT_EQ(killing[0].deployed_id, id);
  EXPECT_EQ(killing[0].instance, 1);
  EXPECT_EQ(killing[0].step, "step-job-a");
  EXPECT_EQ(killing[0].message, "stopped by ops");
  EXPECT_EQ(killing[1].job_id, "job-b");
  ASSERT_TRUE(store_->FinishAttempt("job-a", "KILLED", "stopped by ops", 30).ok());
  killing = *store_->KillingAttempts();
  ASSERT_EQ(killing.size(), 1u);
  EXPECT_EQ(killing[0].job_id, "job-b");
}

TEST_P(SchedulerStoreContractTest, AfterWaitsKeepTheFirstSuccessPerUpstream) {
  const std::string down = "prod:acme.warehouse.down";
  ASSERT_TRUE(store_->InsertAfterSuccess(down, 1000, "a", 50, 1).ok());
  ASSERT_TRUE(store_->InsertAfterSuccess(down, 1000, "a", 90, 2).ok());  // ignored
  ASSERT_TRUE(store_->InsertAfterSuccess(down, 1000, "b", 70, 1).ok());
  ASSERT_TRUE(store_->InsertAfterSuccess(down, 2000, "a", 80, 3).ok());
  EXPECT_THAT(*store_->AfterSuccesses(down, 1000), ElementsAre(Pair("a", 50), Pair("b", 70)));
  auto waits = *store_->AfterWaits();
  ASSERT_EQ(waits.size(), 2u);
  EXPECT_EQ(waits[0].logical_ms, 1000);
  EXPECT_EQ(waits[0].first_succeeded_ms, 50);
  EXPECT_EQ(waits[1].logical_ms, 2000);
  ASSERT_TRUE(store_->DeleteAfterWait(down, 1000).ok());
  EXPECT_THAT(*store_->AfterSuccesses(down, 1000), IsEmpty());
  EXPECT_EQ(store_->AfterWaits()->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, SchedulerStoreContractTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace weir::store
