// The scheduler with a FakeClock, fake blobs and a fake step launcher (the same interface the
// job service adapter implements): deployments, triggers, DAG runs, strategies, recovery.
// Every TEST_P runs on both SchedulerStore backends: SQLite (a temp file) and PostgreSQL (a fresh
// database on the throwaway server of store/testing/postgres_server.h).
#include "scheduler/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>

#include "blob/sha256.h"
#include "common/ids.h"
#include "common/strings.h"
#include "common/testing/required_services.h"
#include "common/time_format.h"
#include "store/open.h"
#include "store/testing/postgres_env.h"  // stops the shared server after the last test
#include "store/testing/postgres_server.h"

namespace weir::scheduler {
namespace {

namespace fs = std::filesystem;
using model::JobStatus;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

TimePoint At(const char* iso) { return *ParseIso8601(iso); }

class FakeBlobs final : public BundleBlobs {
 public:
  Status Verify(std::string_view sha) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!present_.count(std::string(sha))) {
      return FailedPrecondition("blob " + std::string(sha) + ": missing from the blob store");
    }
    if (corrupted_.count(std::string(sha))) {
      return FailedPrecondition("blob " + std::string(sha) +
                                ": content does not match its hash (corrupted)");
    }
    return Status::Ok();
  }
  Status Put(std::string_view bytes, std::string_view sha) override {
    if (blob::Sha256Hex(bytes) != sha) return InvalidArgument("hash mismatch");
    std::lock_guard<std::mutex> lock(mu_);
    present_.insert(std::string(sha));
    return Status::Ok();
  }
  Status VerifyAsset(std::string_view, std::string_view sha) override { return Verify(sha); }
  Result<std::string> FileUri(std::string_view sha, std::string_view name) override {
    return "file:///blobs/" + std::string(sha) + "/" + std::string(name);
  }
  void Add(const std::string& sha) {
    std::lock_guard<std::mutex> lock(mu_);
    present_.insert(sha);
  }
  void Corrupt(const std::string& sha) {
    std::lock_guard<std::mutex> lock(mu_);
    corrupted_.insert(sha);
  }

 private:
  std::mutex mu_;
  std::set<std::string> present_, corrupted_;
};

// Jobs that end only when the test says so.
class FakeLauncher final : public StepLauncher {
 public:
  struct Job {
    model::JobRequest request;
    JobStatus status = JobStatus::kRunning;
    std::string message;
    bool killed = false;
    int kills = 0;  // Kill() calls while the job was active
    std::string stderr_tail;
  };

  Status Launch(const model::JobRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (jobs_.count(request.id)) return AlreadyExists("job '" + request.id + "': exists");
    if (refuse_.has_value()) {
      Status s = *refuse_;
      if (--refuse_count_ <= 0) refuse_.reset();
      if (record_refused_) {
        jobs_[request.id].request = request;
        order_.push_back(request.id);
      }
      return s;
    }
    jobs_[request.id].request = request;
    order_.push_back(request.id);
    return Status::Ok();
  }
  Result<StepJobState> State(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return NotFound("job '" + id + "': not found");
    return StepJobState{it->second.status, it->second.message, std::nullopt,
                        it->second.stderr_tail};
  }
  Status Kill(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return NotFound("job '" + id + "': not found");
    if (model::IsActive(it->second.status)) {
      ++it->second.kills;
      it->second.killed = true;
      if (kill_ends_job_) it->second.status = JobStatus::kKilled;
    }
    return Status::Ok();
  }
  // false: a killed job stays RUNNING until Finish() (a command that takes its time to end).
  void SetKillEndsJob(bool ends) {
    std::lock_guard<std::mutex> lock(mu_);
    kill_ends_job_ = ends;
  }

  void Finish(const std::string& id, JobStatus status, std::string message = "") {
    std::lock_guard<std::mutex> lock(mu_);
    ASSERT_TRUE(jobs_.count(id)) << id;
    jobs_[id].status = status;
    jobs_[id].message = std::move(message);
  }
  void SetStderrTail(const std::string& id, std::string tail) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_[id].stderr_tail = std::move(tail);
  }
  Job Get(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_.at(id);
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return order_.size();
  }
  // The next `n` launches return `s`; with `record`, the job is created anyway (a lost reply).
  void Refuse(Status s, int n = 1, bool record = false) {
    std::lock_guard<std::mutex> lock(mu_);
    refuse_ = std::move(s);
    refuse_count_ = n;
    record_refused_ = record;
  }
  // Job names of every launch, in order.
  std::vector<std::string> Names() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& id : order_) out.push_back(jobs_[id].request.name);
    return out;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Job> jobs_;
  std::vector<std::string> order_;
  std::optional<Status> refuse_;
  int refuse_count_ = 0;
  bool record_refused_ = false;
  bool kill_ends_job_ = true;
};

// The launcher of another node of the cluster: it reads the jobs of `held` (one shared job
// store), but kills none of them (they run elsewhere), as JobService::Kill answers.
class OtherNodeLauncher final : public StepLauncher {
 public:
  explicit OtherNodeLauncher(std::shared_ptr<FakeLauncher> held) : held_(std::move(held)) {}
  Status Launch(const model::JobRequest& request) override { return held_->Launch(request); }
  Result<StepJobState> State(const std::string& id) override { return held_->State(id); }
  Status Kill(const std::string& id) override {
    ++kill_calls;
    return FailedPrecondition("job '" + id + "': runs on node 'a', not on this one");
  }
  std::atomic<int> kill_calls{0};

 private:
  std::shared_ptr<FakeLauncher> held_;
};

constexpr char kCommit[] = "39206ee8aa39206ee8aa39206ee8aa39206ee8aa";

std::string Job(const std::string& id, const std::string& args, const std::string& extra = "") {
  return "  " + id + ":\n    command: [type:bash]\n    cluster: [type:local]\n    args: [\"" +
         args + "\"]\n" + extra;
}

const std::string kChain = "id: etl\njobs:\n" + Job("extract", "extract ${EXECUTION_DATE}") +
                           Job("transform", "transform ${TABLE}") +
                           Job("load", "load ${TARGET_DB}") +
                           "params:\n  TABLE: events\n  TARGET_DB: dev_db\n"
                           "dag:\n  - extract -> transform -> load\n";

const std::string kEtl = "prod:acme.warehouse.etl";

// Step "a" retried once after 5s, then "b".
const std::string kRetryAThenB = "id: etl\njobs:\n" +
                                 Job("a", "a", "    retries: {count: 1, backoff: 5s}\n") +
                                 Job("b", "b", "    depends_on: [a]\n");

struct Blob {
  std::string uuid;
  std::string sha;
};

// The parameter is the store backend: "sqlite" or "postgresql".
class SchedulerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::path("/tmp") / ("weir-scheduler-" + NewUuid());
    fs::create_directories(dir_);
    where_.type = GetParam();
    where_.sqlite_path = (dir_ / "weir.db").string();
    if (GetParam() == "postgresql") {
      store::testing::PostgresServer* server = store::testing::SharedPostgres();
      if (server == nullptr)
        WEIR_MISSING_SERVICE("postgresql", store::testing::SharedPostgresError());
      Result<std::string> url = server->CreateDatabase();
      if (!url.ok()) WEIR_MISSING_SERVICE("postgresql", url.status().message());
      where_.url = *url;
    }
    Open();
  }
  bool OnSqlite() const { return GetParam() == "sqlite"; }

  // A scheduler over this test's storage (a new connection to it).
  std::unique_ptr<Scheduler> OpenScheduler(const SchedulerOptions& o,
                                           std::shared_ptr<StepLauncher> launcher = nullptr) {
    auto store = store::OpenSchedulerStore(where_, o.busy_timeout_ms);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    if (!launcher) launcher = launcher_;
    auto s = Scheduler::Open(std::shared_ptr<store::SchedulerStore>(std::move(*store)), o, blobs_,
                             launcher, clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  void TearDown() override {
    sched_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Open(int max_catchup = 100) {
    sched_.reset();
    SchedulerOptions o;
    o.misfire_grace = 60s;
    o.max_catchup = max_catchup;
    o.capacity_retry = 2s;
    o.events = [this](const store::EventRecord& e) { OnEvent(e); };
    sched_ = OpenScheduler(o);
    ASSERT_NE(sched_, nullptr);
  }

  static std::string Manifest(const std::string& definition, const std::string& env = "prod",
                              const std::vector<workflow::BundleAsset>& assets = {},
                              const std::vector<workflow::BundleFile>& files = {},
                              bool dirty = false) {
    workflow::BundleManifest m;
    m.environment = env;
    m.owner = "acme";
    m.repo = "warehouse";
    m.branch = "main";
    m.commit = kCommit;
    m.dirty = dirty;
    m.workflow_file = "flows/etl.sch.yaml";
    m.definition = definition;
    m.definition_sha256 = blob::Sha256Hex(definition);
    size_t id_at = definition.find("id: ") + 4;
    m.workflow_id = definition.substr(id_at, definition.find('\n', id_at) - id_at);
    m.assets = assets;
    m.files = files;
    return workflow::CanonicalJson(m);
  }

  DeployResult Deploy(const std::string& definition, const std::string& env = "prod",
                      std::optional<Params> env_params = std::nullopt,
                      std::optional<CatchUp> catchup = std::nullopt, bool activate = true) {
    DeployRequest r;
    r.manifest_json = Manifest(definition, env);
    r.deployer = "alice";
    r.environment_params = std::move(env_params);
    r.catchup = catchup;
    r.activate = activate;
    auto d = sched_->Deploy(r);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : DeployResult{};
  }

  void Tick() {
    Status s = sched_->Tick();
    ASSERT_TRUE(s.ok()) << s;
  }

  // Sets the clock to `iso`, then ticks.
  void TickAt(const char* iso) {
    clock_.Set(At(iso));
    Tick();
  }

  // A scheduler of a node of the cluster over this test's storage: it leads while `token` gives
  // a fencing token other than 0 (SchedulerOptions::leader_token), checked against the lease
  // `fence_lease` when that is set; `reports` gets the report of each of its ticks.
  std::unique_ptr<Scheduler> OpenNode(std::function<int64_t()> token,
                                      std::vector<TickReport>* reports = nullptr,
                                      const std::string& fence_lease = "",
                                      std::shared_ptr<StepLauncher> launcher = nullptr) {
    SchedulerOptions o;
    o.leader_token = std::move(token);
    o.fence_lease = fence_lease;
    if (reports) o.on_tick = [reports](const TickReport& r) { reports->push_back(r); };
    return OpenScheduler(o, std::move(launcher));
  }

  Instance Run(const std::string& id, Params params = {}) {
    RunRequest r;
    r.params = std::move(params);
    r.requested_by = "bob";
    auto i = sched_->Run(id, r);
    EXPECT_TRUE(i.ok()) << i.status();
    return i.ok() ? *i : Instance{};
  }

  // A manual run of `id`, then a tick (which starts it).
  void RunAndTick(const std::string& id) {
    Run(id);
    Tick();
  }

  Instance Inst(const std::string& id, int64_t n) {
    auto i = sched_->GetInstance(id, n);
    EXPECT_TRUE(i.ok()) << i.status();
    return i.ok() ? *i : Instance{};
  }

  static const StepRun& Step(const Instance& i, const std::string& step) {
    for (const StepRun& s : i.steps) {
      if (s.id == step) return s;
    }
    static StepRun missing;
    ADD_FAILURE() << "no step " << step;
    return missing;
  }

  std::string JobOf(const std::string& id, int64_t n, const std::string& step) {
    return Step(Inst(id, n), step).job_id;
  }

  // Ends the step's current job and ticks.
  void Complete(const std::string& id, int64_t n, const std::string& step,
                JobStatus status = JobStatus::kSucceeded) {
    std::string job = JobOf(id, n, step);
    ASSERT_FALSE(job.empty()) << step << " has no job";
    launcher_->Finish(job, status, status == JobStatus::kSucceeded ? "ok" : "Job failed.");
    Tick();
  }

  // Deploys kEtl with the one step "a", runs it and ticks: the job id of its step.
  std::string StartOneStepJob() {
    Deploy("id: etl\njobs:\n" + Job("a", "a"));
    RunAndTick(kEtl);
    return JobOf(kEtl, 1, "a");
  }

  // With kRetryAThenB deployed: a run whose step "a" fails its first attempt and is retried
  // after its backoff (5s); its second attempt is running.
  void RunAndRetryA() {
    RunAndTick(kEtl);
    Complete(kEtl, 1, "a", JobStatus::kFailed);
    clock_.Advance(5s);
    Tick();
  }

  int64_t CountInstances(const std::string& id) {
    auto p = sched_->Instances(id, {});
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? p->total : -1;
  }

  // Runs one statement on this test's storage, as another process would.
  void Sql(const std::string& statement) {
    if (!OnSqlite()) {
      auto r = store::testing::SharedPostgres()->Query(where_.url, statement);
      EXPECT_TRUE(r.ok()) << r.status();
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "weir.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  // The sink: each event, with the status a separate connection reads for the instance it names
  // at that moment (so a test sees whether the change was committed before the event came).
  void OnEvent(const store::EventRecord& e) {
    boost::json::value d = boost::json::parse(e.data);
    std::string committed;
    if (e.type == "WORKFLOW_INSTANCE_CHANGE") {
      sqlite3* db = nullptr;
      if (sqlite3_open_v2((dir_ / "weir.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
          SQLITE_OK) {
        sqlite3_stmt* q = nullptr;
        sqlite3_prepare_v2(db,
                           "SELECT status FROM wf_instances WHERE deployed_id = ? AND instance = ?",
                           -1, &q, nullptr);
        std::string wf = e.workflow;
        sqlite3_bind_text(q, 1, wf.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 2, d.at("instance").to_number<int64_t>());
        if (sqlite3_step(q) == SQLITE_ROW) {
          committed = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
        }
        sqlite3_finalize(q);
      }
      sqlite3_close(db);
    }
    std::lock_guard<std::mutex> lock(events_mu_);
    events_.push_back({e, std::move(d), std::move(committed)});
  }
  struct SeenEvent {
    store::EventRecord record;
    boost::json::value data;
    std::string committed;  // WORKFLOW_INSTANCE_CHANGE: the instance's stored status then
  };
  std::vector<SeenEvent> Events() {
    std::lock_guard<std::mutex> lock(events_mu_);
    return events_;
  }
  // "type from>to" per event ("instance", "step <id>", "deployed v", "activated a>b").
  std::vector<std::string> EventLines() {
    std::vector<std::string> out;
    for (const SeenEvent& e : Events()) {
      auto str = [&](const char* k) {
        const boost::json::value& v = e.data.at(k);
        return v.is_null()     ? std::string("null")
               : v.is_string() ? std::string(v.as_string())
                               : boost::json::serialize(v);
      };
      if (e.record.type == "WORKFLOW_INSTANCE_CHANGE") {
        out.push_back("instance " + str("fromState") + ">" + str("toState"));
      } else if (e.record.type == "WORKFLOW_STEP_CHANGE") {
        out.push_back("step " + str("step") + " " + str("fromState") + ">" + str("toState") + " #" +
                      str("attempt"));
      } else if (e.record.type == "WORKFLOW_DEPLOYED") {
        out.push_back("deployed " + str("version"));
      } else if (e.record.type == "WORKFLOW_ACTIVATED") {
        out.push_back("activated " + str("fromVersion") + ">" + str("toVersion") + " " +
                      str("reason"));
      }
    }
    return out;
  }

  std::mutex events_mu_;
  std::vector<SeenEvent> events_;  // GUARDED_BY(events_mu_)
  fs::path dir_;
  store::StoreLocation where_;
  FakeClock clock_{At("2026-03-02T10:00:00Z")};
  std::shared_ptr<FakeBlobs> blobs_ = std::make_shared<FakeBlobs>();
  std::shared_ptr<FakeLauncher> launcher_ = std::make_shared<FakeLauncher>();
  std::unique_ptr<Scheduler> sched_;
};

// ---- deployments ----------------------------------------------------------------------------

TEST_P(SchedulerTest, DeployRecordsAnActiveVersionUnderItsDeployedId) {
  DeployResult d = Deploy(kChain);
  EXPECT_EQ(d.deployed_id, kEtl);
  EXPECT_EQ(d.version, 1);
  EXPECT_TRUE(d.created);
  EXPECT_TRUE(d.active);
  EXPECT_EQ(d.bundle_id, blob::Sha256Hex(Manifest(kChain)));
  auto w = sched_->Get(kEtl);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->active_version, 1);
  EXPECT_EQ(w->latest_version, 1);
  EXPECT_EQ(w->environment, "prod");
  EXPECT_EQ(w->run_strategy, "sequential");
  EXPECT_EQ(w->catchup, CatchUp::kLatest);
  auto v = sched_->GetVersion(kEtl, 1);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->deployer, "alice");
  EXPECT_EQ(v->commit, kCommit);
  EXPECT_EQ(v->manifest_json, Manifest(kChain));
}

TEST_P(SchedulerTest, IdenticalBundleCreatesNoNewVersion) {
  DeployResult a = Deploy(kChain);
  DeployResult b = Deploy(kChain);
  EXPECT_EQ(b.version, a.version);
  EXPECT_FALSE(b.created);
  EXPECT_EQ(b.bundle_id, a.bundle_id);
  auto versions = sched_->Versions(kEtl);
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 1u);
  // The dirty flag is part of the bundle: another version.
  DeployRequest r;
  r.manifest_json = Manifest(kChain, "prod", {}, {}, /*dirty=*/true);
  auto c = sched_->Deploy(r);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->version, 2);
  EXPECT_TRUE(c->created);
}

TEST_P(SchedulerTest, MissingOrCorruptedBlobIsRefusedAndNothingChanges) {
  const std::string sha_ok = blob::Sha256Hex("jar v1");
  const std::string sha_bad = blob::Sha256Hex("jar v2");
  blobs_->Add(sha_ok);
  const workflow::BundleAsset good{"dataflow.jar.etl.acme.warehouse.main.39206ee8.1", sha_ok,
                                   "file:///blobs/" + sha_ok};
  const workflow::BundleAsset bad{"dataflow.jar.etl.acme.warehouse.main.39206ee8.2", sha_bad,
                                  "file:///blobs/" + sha_bad};
  // Missing blob on a first deploy: no deployed workflow appears.
  DeployRequest r;
  r.manifest_json = Manifest(kChain, "prod", {bad});
  auto d = sched_->Deploy(r);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(d.status().message(), HasSubstr(bad.uuid));
  EXPECT_THAT(d.status().message(), HasSubstr("missing"));
  EXPECT_EQ(sched_->Get(kEtl).status().code(), StatusCode::kNotFound);

  // With v1 deployed, a corrupted blob changes neither versions nor the active one.
  r.manifest_json = Manifest(kChain, "prod", {good});
  ASSERT_TRUE(sched_->Deploy(r).ok());
  blobs_->Add(sha_bad);
  blobs_->Corrupt(sha_bad);
  r.manifest_json = Manifest(kChain, "prod", {good, bad});
  d = sched_->Deploy(r);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("corrupt"));
  auto versions = sched_->Versions(kEtl);
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ(sched_->Get(kEtl)->active_version, 1);

  // A missing repository file is refused too; uploading it with the deploy makes it pass.
  const std::string sql = "select 1;";
  workflow::BundleFile file{"flows/load.sql", blob::Sha256Hex(sql), 9,
                            "bundle://files/" + blob::Sha256Hex(sql) + "/load.sql"};
  r.manifest_json = Manifest(kChain, "prod", {good}, {file});
  d = sched_->Deploy(r);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("flows/load.sql"));
  r.files = {sql};
  d = sched_->Deploy(r);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->version, 2);
}

TEST_P(SchedulerTest, ReferencedBlobsNameEveryVersionsBundleFilesAndAssets) {
  auto none = sched_->ReferencedBlobs();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  const std::string jar = blob::Sha256Hex("jar v1");
  blobs_->Add(jar);
  const workflow::BundleAsset asset{"dataflow.jar.etl.acme.warehouse.main.39206ee8.1", jar,
                                    "file:///blobs/" + jar};
  const std::string sql = "select 1;";
  const workflow::BundleFile file{"flows/load.sql", blob::Sha256Hex(sql), 9,
                                  "bundle://files/" + blob::Sha256Hex(sql) + "/load.sql"};
  DeployRequest r;
  r.manifest_json = Manifest(kChain, "prod", {asset}, {file});
  r.files = {sql};
  auto v1 = sched_->Deploy(r);
  ASSERT_TRUE(v1.ok()) << v1.status();
  // Version 2 drops the file; version 1 is still stored (a rollback needs its file), and an
  // undeployed workflow may be deployed again: both keep their blobs.
  const DeployResult v2 = Deploy(kChain);
  ASSERT_TRUE(sched_->Undeploy(kEtl, "alice").ok());
  auto refs = sched_->ReferencedBlobs();
  ASSERT_TRUE(refs.ok()) << refs.status();
  std::vector<std::string> want = {v1->bundle_id, v2.bundle_id, jar, blob::Sha256Hex(sql)};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(*refs, want);
}

TEST_P(SchedulerTest, CycleAndUnknownDependencyAreRefused) {
  const std::string cycle =
      "id: etl\njobs:\n" + Job("a", "a") + Job("b", "b") + "dag:\n  - a -> b -> a\n";
  DeployRequest r;
  r.manifest_json = Manifest(cycle);
  auto d = sched_->Deploy(r);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(d.status().message(), HasSubstr("cycle"));
  const std::string unknown = "id: etl\njobs:\n" + Job("a", "a", "    depends_on: [ghost]\n");
  r.manifest_json = Manifest(unknown);
  d = sched_->Deploy(r);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("ghost"));
  EXPECT_EQ(sched_->Get(kEtl).status().code(), StatusCode::kNotFound);
}

TEST_P(SchedulerTest, DeployWithoutActivationThenActivate) {
  Deploy(kChain);
  const std::string v2 = kChain + "# v2\n";
  DeployResult d = Deploy(v2, "prod", std::nullopt, std::nullopt, /*activate=*/false);
  EXPECT_EQ(d.version, 2);
  EXPECT_FALSE(d.active);
  EXPECT_EQ(sched_->Get(kEtl)->active_version, 1);
  EXPECT_EQ(sched_->Get(kEtl)->latest_version, 2);
  auto a = sched_->Activate(kEtl, 2, "carol");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->active_version, 2);
  EXPECT_EQ(sched_->Activate(kEtl, 9, "carol").status().code(), StatusCode::kNotFound);
}

TEST_P(SchedulerTest, RollbackWalksBackThroughEarlierActiveVersions) {
  Deploy(kChain);
  Deploy(kChain + "# v2\n");
  Deploy(kChain + "# v3\n");
  auto r = sched_->Rollback(kEtl, std::nullopt, "carol");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->active_version, 2);
  r = sched_->Rollback(kEtl, std::nullopt, "carol");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->active_version, 1);
  r = sched_->Rollback(kEtl, std::nullopt, "carol");
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(sched_->Rollback(kEtl, 3, "carol").status().code(), StatusCode::kInvalidArgument);
  auto history = sched_->Activations(kEtl);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 5u);
  EXPECT_EQ((*history)[0].version, 1);
  EXPECT_EQ((*history)[0].previous, 2);
  EXPECT_EQ((*history)[0].reason, "rollback");
  EXPECT_EQ((*history)[0].actor, "carol");
  EXPECT_EQ((*history)[4].reason, "deploy");
}

// The documented rule is "the most recently active older version", not "the next lower
// number": after v1 is re-activated between v2 and v3, a rollback from v3 goes to v1.
TEST_P(SchedulerTest, RollbackFollowsActivationHistoryNotVersionNumbers) {
  Deploy(kChain);
  Deploy(kChain + "# v2\n");
  Deploy(kChain + "# v3\n", "prod", std::nullopt, std::nullopt, /*activate=*/false);
  ASSERT_TRUE(sched_->Activate(kEtl, 1, "carol").ok());
  ASSERT_TRUE(sched_->Activate(kEtl, 3, "carol").ok());
  auto r = sched_->Rollback(kEtl, std::nullopt, "dave");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->active_version, 1);
  // Nothing older than v1 was ever active: a further rollback has nowhere to go.
  EXPECT_EQ(sched_->Rollback(kEtl, std::nullopt, "dave").status().code(),
            StatusCode::kFailedPrecondition);
}

// ---- DAG runs -------------------------------------------------------------------------------

TEST_P(SchedulerTest, SequentialDagRunsStepsInOrderAsJobs) {
  Deploy(kChain, "prod", Params{{"TARGET_DB", "prod_db"}});
  Instance i = Run(kEtl);
  EXPECT_EQ(i.number, 1);
  EXPECT_EQ(i.id, kEtl + "#1");
  EXPECT_EQ(i.status, InstanceStatus::kCreated);
  EXPECT_EQ(i.trigger, "manual");
  Tick();
  i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kRunning);
  EXPECT_EQ(Step(i, "extract").status, StepStatus::kRunning);
  EXPECT_EQ(Step(i, "transform").status, StepStatus::kPending);
  ASSERT_EQ(launcher_->count(), 1u);

  FakeLauncher::Job job = launcher_->Get(Step(i, "extract").job_id);
  EXPECT_EQ(job.request.name, "prod:etl.extract");
  EXPECT_EQ(job.request.grouping, kEtl);
  EXPECT_EQ(job.request.grouping_instance, kEtl + "#1");
  EXPECT_EQ(job.request.user, "alice");
  EXPECT_EQ(job.request.version, "1");
  EXPECT_THAT(job.request.command_arguments, ElementsAre("extract 2026-03-02T10:00:00.000Z"));
  EXPECT_THAT(job.request.command_criteria, ElementsAre("type:bash"));
  ASSERT_EQ(job.request.cluster_criterias.size(), 1u);
  EXPECT_THAT(job.request.cluster_criterias[0].tags, ElementsAre("type:local"));

  Complete(kEtl, 1, "extract");
  EXPECT_EQ(Step(Inst(kEtl, 1), "transform").status, StepStatus::kRunning);
  Complete(kEtl, 1, "transform");
  Complete(kEtl, 1, "load");
  i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kSucceeded);
  EXPECT_THAT(launcher_->Names(),
              ElementsAre("prod:etl.extract", "prod:etl.transform", "prod:etl.load"));
  EXPECT_THAT(launcher_->Get(Step(i, "load").job_id).request.command_arguments,
              ElementsAre("load prod_db"));
  EXPECT_EQ(i.params.at("TABLE"), "events");
  EXPECT_EQ(i.params.at("WORKFLOW_ID"), kEtl);
  EXPECT_EQ(i.params.at("INSTANCE_ID"), "1");
  EXPECT_EQ(i.params.at("ENV"), "prod");
  EXPECT_TRUE(i.finished.has_value());
}

TEST_P(SchedulerTest, ParallelBranchesStartTogetherAndJoin) {
  const std::string diamond = "id: etl\njobs:\n" + Job("a", "a") + Job("b", "b") + Job("c", "c") +
                              Job("d", "d", "    depends_on: [b, c]\n") + "dag:\n  - a -> b, c\n";
  Deploy(diamond);
  RunAndTick(kEtl);
  Complete(kEtl, 1, "a");
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(Step(i, "b").status, StepStatus::kRunning);
  EXPECT_EQ(Step(i, "c").status, StepStatus::kRunning);
  EXPECT_EQ(Step(i, "d").status, StepStatus::kPending);
  Complete(kEtl, 1, "b");
  EXPECT_EQ(Step(Inst(kEtl, 1), "d").status, StepStatus::kPending);
  Complete(kEtl, 1, "c");
  EXPECT_EQ(Step(Inst(kEtl, 1), "d").status, StepStatus::kRunning);
  Complete(kEtl, 1, "d");
  EXPECT_EQ(Inst(kEtl, 1).status, InstanceStatus::kSucceeded);
}

TEST_P(SchedulerTest, AFailureStopsOnlyItsDownstreamIndependentStepsRunToTheEnd) {
  // Airflow semantics: c -> d does not depend on a, so it runs to the end (d starts after the
  // failure, e's retry still happens) and the instance ends FAILED once nothing can run.
  const std::string two = "id: etl\njobs:\n" + Job("a", "a") + Job("b", "b") + Job("c", "c") +
                          Job("d", "d") + Job("e", "e", "    retries: {count: 1, backoff: 5s}\n") +
                          "dag:\n  - a -> b\n  - c -> d\n";
  Deploy(two);
  RunAndTick(kEtl);
  Complete(kEtl, 1, "a", JobStatus::kFailed);
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(Step(i, "a").status, StepStatus::kFailed);
  EXPECT_EQ(Step(i, "b").status, StepStatus::kUpstreamFailed);
  EXPECT_THAT(Step(i, "b").message, HasSubstr("upstream step 'a' failed"));
  EXPECT_EQ(Step(i, "c").status, StepStatus::kRunning);
  EXPECT_EQ(i.status, InstanceStatus::kRunning);  // c still runs
  Complete(kEtl, 1, "c");
  i = Inst(kEtl, 1);
  EXPECT_EQ(Step(i, "d").status, StepStatus::kRunning);  // independent of a: started
  EXPECT_EQ(i.status, InstanceStatus::kRunning);
  Complete(kEtl, 1, "e", JobStatus::kFailed);
  EXPECT_EQ(Step(Inst(kEtl, 1), "e").status, StepStatus::kWaitingRetry);
  Complete(kEtl, 1, "d");
  EXPECT_EQ(Inst(kEtl, 1).status, InstanceStatus::kRunning);  // e waits for its retry
  clock_.Advance(5s);
  Tick();
  EXPECT_EQ(Step(Inst(kEtl, 1), "e").status, StepStatus::kRunning);
  Complete(kEtl, 1, "e");
  i = Inst(kEtl, 1);
  EXPECT_EQ(Step(i, "d").status, StepStatus::kSucceeded);
  EXPECT_EQ(Step(i, "e").status, StepStatus::kSucceeded);
  EXPECT_EQ(i.status, InstanceStatus::kFailed);
  EXPECT_THAT(i.message, HasSubstr("step 'a' failed"));
  EXPECT_EQ(launcher_->count(), 5u);  // a, c, d, e twice; never b
}

TEST_P(SchedulerTest, RetriesTwiceWithExponentialBackoffThenSucceeds) {
  const std::string flaky =
      "id: etl\njobs:\n" + Job("a", "a", "    retries: {count: 2, backoff: 10s, multiplier: 3}\n");
  Deploy(flaky);
  RunAndTick(kEtl);
  std::string first = JobOf(kEtl, 1, "a");
  Complete(kEtl, 1, "a", JobStatus::kFailed);
  StepRun s = Step(Inst(kEtl, 1), "a");
  EXPECT_EQ(s.status, StepStatus::kWaitingRetry);
  EXPECT_EQ(s.next_attempt, clock_.Now() + 10s);
  clock_.Advance(9s);
  Tick();
  EXPECT_EQ(launcher_->count(), 1u);
  clock_.Advance(1s);
  Tick();
  EXPECT_EQ(launcher_->count(), 2u);
  std::string second = JobOf(kEtl, 1, "a");
  EXPECT_NE(second, first);
  Complete(kEtl, 1, "a", JobStatus::kFailed);
  EXPECT_EQ(Step(Inst(kEtl, 1), "a").next_attempt, clock_.Now() + 30s);
  clock_.Advance(30s);
  Tick();
  Complete(kEtl, 1, "a");
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kSucceeded);
  s = Step(i, "a");
  EXPECT_EQ(s.attempts, 3);
  EXPECT_EQ(s.max_attempts, 3);
  ASSERT_EQ(s.history.size(), 3u);
  EXPECT_EQ(s.history[0].job_id, first);
  EXPECT_EQ(s.history[0].status, "FAILED");
  EXPECT_EQ(s.history[2].status, "SUCCEEDED");
}

TEST_P(SchedulerTest, RetriesSpentFailTheInstance) {
  Deploy(kRetryAThenB);
  RunAndRetryA();
  Complete(kEtl, 1, "a", JobStatus::kFailed);
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kFailed);
  EXPECT_THAT(Step(i, "a").message, HasSubstr("failed after 2 attempts"));
  EXPECT_EQ(Step(i, "b").status, StepStatus::kUpstreamFailed);
}

// ---- events ----------------------------------------------------------------------------------

TEST_P(SchedulerTest, EventsFollowEachCommittedTransitionInOrder) {
  if (!OnSqlite()) GTEST_SKIP() << "reads the committed rows through a second SQLite connection";
  Deploy(kRetryAThenB);
  RunAndRetryA();
  Complete(kEtl, 1, "a");
  Complete(kEtl, 1, "b");
  ASSERT_EQ(Inst(kEtl, 1).status, InstanceStatus::kSucceeded);
  ASSERT_TRUE(sched_->Rollback(kEtl, std::nullopt, "carol").status().code() ==
              StatusCode::kFailedPrecondition);  // nothing to roll back to: no event
  EXPECT_THAT(EventLines(),
              ElementsAre("deployed 1", "activated null>1 deploy", "instance null>CREATED",
                          "instance CREATED>RUNNING", "step a PENDING>RUNNING #1",
                          "step a RUNNING>WAITING_RETRY #1", "step a WAITING_RETRY>RUNNING #2",
                          "step a RUNNING>SUCCEEDED #2", "step b PENDING>RUNNING #1",
                          "step b RUNNING>SUCCEEDED #1", "instance RUNNING>SUCCEEDED"));
  for (const SeenEvent& e : Events()) {
    EXPECT_EQ(e.record.workflow, kEtl);
    EXPECT_EQ(e.data.at("workflow").as_string(), kEtl);
    if (e.record.type != "WORKFLOW_INSTANCE_CHANGE") continue;
    // Handed over only once the change is committed: another connection already reads it.
    EXPECT_EQ(e.committed, std::string(e.data.at("toState").as_string()));
    EXPECT_EQ(e.data.at("version").to_number<int64_t>(), 1);
    EXPECT_EQ(e.data.at("logicalDate").as_string(), "2026-03-02T10:00:00.000Z");
    EXPECT_EQ(e.record.user, "bob");
  }
}

TEST_P(SchedulerTest, ARolledBackChangeHasNoEvent) {
  if (!OnSqlite()) GTEST_SKIP() << "forces the rollback with a SQLite trigger";
  Deploy("id: etl\njobs:\n" + Job("a", "a"));
  const size_t before = Events().size();
  // The instance row is written, then its step row fails: the transaction rolls back.
  Sql("CREATE TRIGGER no_steps BEFORE INSERT ON wf_steps BEGIN SELECT RAISE(ABORT, 'full'); END");
  RunRequest r;
  EXPECT_FALSE(sched_->Run(kEtl, r).ok());
  Sql("DROP TRIGGER no_steps");
  EXPECT_EQ(Events().size(), before) << EventLines().back();
  Run(kEtl);  // number 1 again: the first never existed
  std::vector<std::string> lines = EventLines();
  ASSERT_EQ(lines.size(), before + 1);
  EXPECT_EQ(lines.back(), "instance null>CREATED");
  EXPECT_EQ(Events().back().data.at("instance").to_number<int64_t>(), 1);
}

TEST_P(SchedulerTest, RestartRunsOnlyTheIncompleteSteps) {
  Deploy(kChain);
  RunAndTick(kEtl);
  std::string extract_job = JobOf(kEtl, 1, "extract");
  Complete(kEtl, 1, "extract");
  Complete(kEtl, 1, "transform", JobStatus::kFailed);
  ASSERT_EQ(Inst(kEtl, 1).status, InstanceStatus::kFailed);
  auto r = sched_->Restart(kEtl, 1, "dave");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->run, 2);
  EXPECT_EQ(r->status, InstanceStatus::kCreated);
  EXPECT_EQ(Step(*r, "extract").status, StepStatus::kSucceeded);
  EXPECT_EQ(Step(*r, "transform").status, StepStatus::kPending);
  Tick();
  Complete(kEtl, 1, "transform");
  Complete(kEtl, 1, "load");
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kSucceeded);
  EXPECT_EQ(Step(i, "extract").job_id, extract_job);
  EXPECT_EQ(Step(i, "transform").history.size(), 2u);
  EXPECT_EQ(Step(i, "transform").history[1].run, 2);
  EXPECT_THAT(launcher_->Names(), ElementsAre("prod:etl.extract", "prod:etl.transform",
                                              "prod:etl.transform", "prod:etl.load"));
  EXPECT_EQ(sched_->Restart(kEtl, 1, "dave").status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(SchedulerTest, StopKillsRunningJobsAndStartsNothingMore) {
  const std::string fork = "id: etl\njobs:\n" + Job("a", "a") + Job("b", "b") +
                           Job("c", "c", "    depends_on: [a, b]\n");
  Deploy(fork);
  RunAndTick(kEtl);
  std::string a = JobOf(kEtl, 1, "a"), b = JobOf(kEtl, 1, "b");
  auto s = sched_->Stop(kEtl, 1, "erin");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->status, InstanceStatus::kStopped);
  EXPECT_EQ(s->message, "stopped by erin");
  EXPECT_TRUE(launcher_->Get(a).killed);
  EXPECT_TRUE(launcher_->Get(b).killed);
  Tick();
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kStopped);
  EXPECT_EQ(Step(i, "a").status, StepStatus::kStopped);
  EXPECT_EQ(Step(i, "c").status, StepStatus::kStopped);
  EXPECT_EQ(launcher_->count(), 2u);
  EXPECT_EQ(sched_->Stop(kEtl, 1, "erin").status().code(), StatusCode::kFailedPrecondition);
  // A stopped instance can be restarted.
  ASSERT_TRUE(sched_->Restart(kEtl, 1, "erin").ok());
  Tick();
  EXPECT_EQ(launcher_->count(), 4u);
}

TEST_P(SchedulerTest, RollbackNextInstanceUsesV1WhileInFlightV2FinishesOnV2) {
  const std::string v1 = "id: etl\njobs:\n" + Job("a", "version one");
  const std::string v2 = "id: etl\njobs:\n" + Job("a", "version two");
  Deploy(v1);
  Deploy(v2);
  RunAndTick(kEtl);
  ASSERT_EQ(Inst(kEtl, 1).version, 2);
  auto rb = sched_->Rollback(kEtl, std::nullopt, "ops");
  ASSERT_TRUE(rb.ok()) << rb.status();
  EXPECT_EQ(rb->active_version, 1);
  Instance second = Run(kEtl);
  EXPECT_EQ(second.version, 1);
  Tick();
  EXPECT_EQ(Inst(kEtl, 2).status, InstanceStatus::kCreated);  // sequential: waits for #1
  Complete(kEtl, 1, "a");
  Instance first = Inst(kEtl, 1);
  EXPECT_EQ(first.status, InstanceStatus::kSucceeded);
  EXPECT_EQ(first.version, 2);
  EXPECT_THAT(launcher_->Get(Step(first, "a").job_id).request.command_arguments,
              ElementsAre("version two"));
  Instance next = Inst(kEtl, 2);
  EXPECT_EQ(next.status, InstanceStatus::kRunning);
  EXPECT_THAT(launcher_->Get(Step(next, "a").job_id).request.command_arguments,
              ElementsAre("version one"));
  EXPECT_EQ(next.bundle_id, sched_->GetVersion(kEtl, 1)->bundle_id);
}

TEST_P(SchedulerTest, TwoEnvironmentsRunSideBySideWithTheirOwnParameters) {
  Deploy(kChain, "prod", Params{{"TARGET_DB", "warehouse_prod"}});
  Deploy(kChain, "branch:feature/x", Params{{"TARGET_DB", "warehouse_x"}});
  const std::string branch = "branch:feature/x:acme.warehouse.etl";
  EXPECT_EQ(sched_->Get(branch)->active_version, 1);
  EXPECT_EQ(sched_->Get(kEtl)->active_version, 1);
  Run(kEtl);
  Run(branch);
  Tick();
  for (const std::string& id : {kEtl, branch}) {
    Complete(id, 1, "extract");
    Complete(id, 1, "transform");
  }
  Instance p = Inst(kEtl, 1), b = Inst(branch, 1);
  EXPECT_THAT(launcher_->Get(Step(p, "load").job_id).request.command_arguments,
              ElementsAre("load warehouse_prod"));
  EXPECT_THAT(launcher_->Get(Step(b, "load").job_id).request.command_arguments,
              ElementsAre("load warehouse_x"));
  EXPECT_EQ(b.params.at("ENV"), "branch:feature/x");
  EXPECT_EQ(launcher_->Get(Step(b, "load").job_id).request.grouping, branch);
  auto list = sched_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
}

TEST_P(SchedulerTest, ManualRunParametersAndBackfillDate) {
  Deploy(kChain);
  Instance i = Run(kEtl, {{"TABLE", "clicks"}, {"EXECUTION_DATE", "2026-01-31T00:00:00Z"}});
  EXPECT_EQ(i.params.at("TABLE"), "clicks");
  EXPECT_EQ(i.params.at("EXECUTION_DATE"), "2026-01-31T00:00:00.000Z");
  EXPECT_EQ(i.trigger_time, At("2026-01-31T00:00:00Z"));
  RunRequest bad;
  bad.params = {{"ENV", "other"}};
  EXPECT_EQ(sched_->Run(kEtl, bad).status().code(), StatusCode::kInvalidArgument);
  bad.params = {{"EXECUTION_DATE", "yesterday"}};
  EXPECT_EQ(sched_->Run(kEtl, bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sched_->Run("prod:acme.warehouse.nope", {}).status().code(), StatusCode::kNotFound);
}

TEST_P(SchedulerTest, StepsGetBundleAssetsAsDependenciesAndFileUrisMapped) {
  const std::string jar = blob::Sha256Hex("jar"), sql = blob::Sha256Hex("sql");
  blobs_->Add(jar);
  blobs_->Add(sql);
  const workflow::BundleAsset asset{"dataflow.jar.etl.acme.warehouse.main.39206ee8.4", jar,
                                    "file:///assets/etl.jar"};
  const workflow::BundleFile file{"flows/load.sql", sql, 3, "bundle://files/" + sql + "/load.sql"};
  const std::string def = "id: etl\njobs:\n" +
                          Job("a", "java -jar file:///assets/etl.jar --sql " + file.uri) +
                          Job("b", "b");
  DeployRequest r;
  r.manifest_json = Manifest(def, "prod", {asset}, {file});
  ASSERT_TRUE(sched_->Deploy(r).ok());
  RunAndTick(kEtl);
  Instance i = Inst(kEtl, 1);
  ASSERT_EQ(i.assets.size(), 1u);
  EXPECT_EQ(i.assets[0].uuid, asset.uuid);
  EXPECT_THAT(Step(i, "a").assets, ElementsAre(asset.uuid));
  EXPECT_TRUE(Step(i, "b").assets.empty());
  model::JobRequest req = launcher_->Get(Step(i, "a").job_id).request;
  EXPECT_THAT(
      req.command_arguments,
      ElementsAre("java -jar file:///assets/etl.jar --sql file:///blobs/" + sql + "/load.sql"));
  EXPECT_THAT(req.dependencies,
              ElementsAre("file:///blobs/" + sql + "/load.sql", "file:///assets/etl.jar"));
}

// An asset with a recorded file name reaches the job under that name (its URI is mapped like a
// bundle file's), wherever the definition mentions it; the step still records the asset.
TEST_P(SchedulerTest, AssetDependenciesKeepTheirFileName) {
  const std::string sh = blob::Sha256Hex("greet");
  blobs_->Add(sh);
  const workflow::BundleAsset asset{"dataflow.bash.greet.acme.warehouse.main.39206ee8.2", sh,
                                    "file:///store/blobs/" + sh, "greet.sh"};
  const std::string def = "id: etl\njobs:\n" + Job("a", "bash $(basename " + asset.uri + ") x",
                                                   "    dependencies: [\"" + asset.uri + "\"]\n");
  DeployRequest r;
  r.manifest_json = Manifest(def, "prod", {asset}, {});
  ASSERT_TRUE(sched_->Deploy(r).ok());
  RunAndTick(kEtl);
  Instance i = Inst(kEtl, 1);
  EXPECT_THAT(Step(i, "a").assets, ElementsAre(asset.uuid));
  model::JobRequest req = launcher_->Get(Step(i, "a").job_id).request;
  const std::string named = "file:///blobs/" + sh + "/greet.sh";
  EXPECT_THAT(req.dependencies, ElementsAre(named));
  EXPECT_THAT(req.command_arguments, ElementsAre("bash $(basename " + named + ") x"));
}

// ---- run strategies -------------------------------------------------------------------------

TEST_P(SchedulerTest, FirstOnlySkipsNewInstancesWhileOneRuns) {
  Deploy("id: etl\nrun_strategy: first_only\njobs:\n" + Job("a", "a"));
  RunAndTick(kEtl);
  RunAndTick(kEtl);
  Instance skipped = Inst(kEtl, 2);
  EXPECT_EQ(skipped.status, InstanceStatus::kStopped);
  EXPECT_THAT(skipped.message, HasSubstr("skipped"));
  EXPECT_EQ(Inst(kEtl, 1).status, InstanceStatus::kRunning);
  EXPECT_EQ(launcher_->count(), 1u);
}

TEST_P(SchedulerTest, LastOnlyStopsTheRunningInstanceForTheNewOne) {
  Deploy("id: etl\nrun_strategy: last_only\njobs:\n" + Job("a", "a"));
  RunAndTick(kEtl);
  std::string old_job = JobOf(kEtl, 1, "a");
  Run(kEtl);
  RunAndTick(kEtl);
  EXPECT_EQ(Inst(kEtl, 1).status, InstanceStatus::kStopped);
  EXPECT_THAT(Inst(kEtl, 1).message, HasSubstr("superseded by instance 3"));
  EXPECT_EQ(Inst(kEtl, 2).status, InstanceStatus::kStopped);
  EXPECT_EQ(Inst(kEtl, 3).status, InstanceStatus::kRunning);
  EXPECT_TRUE(launcher_->Get(old_job).killed);
  EXPECT_EQ(launcher_->count(), 2u);
}

TEST_P(SchedulerTest, ParallelRunsUpToMaxConcurrency) {
  Deploy("id: etl\nrun_strategy: parallel\nmax_concurrency: 2\njobs:\n" + Job("a", "a"));
  for (int k = 0; k < 3; ++k) Run(kEtl);
  Tick();
  EXPECT_EQ(Inst(kEtl, 1).status, InstanceStatus::kRunning);
  EXPECT_EQ(Inst(kEtl, 2).status, InstanceStatus::kRunning);
  EXPECT_EQ(Inst(kEtl, 3).status, InstanceStatus::kCreated);
  Complete(kEtl, 2, "a");
  EXPECT_EQ(Inst(kEtl, 3).status, InstanceStatus::kRunning);
}

// ---- triggers -------------------------------------------------------------------------------

const std::string kHourly =
    "id: etl\nschedule: \"0 * * * *\"\ntimezone: UTC\njobs:\n" + Job("a", "at ${EXECUTION_DATE}");

TEST_P(SchedulerTest, CronFiresOnceAcrossARestartAndAcrossTwoSchedulers) {
  Deploy(kHourly);
  EXPECT_EQ(sched_->Get(kEtl)->next_fire, At("2026-03-02T11:00:00Z"));
  TickAt("2026-03-02T10:59:59Z");
  EXPECT_EQ(CountInstances(kEtl), 0);
  TickAt("2026-03-02T11:00:00Z");
  ASSERT_EQ(CountInstances(kEtl), 1);
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(i.trigger, "cron");
  EXPECT_EQ(i.trigger_time, At("2026-03-02T11:00:00Z"));
  EXPECT_EQ(i.params.at("EXECUTION_DATE"), "2026-03-02T11:00:00.000Z");
  Tick();
  EXPECT_EQ(CountInstances(kEtl), 1);

  // A restart: a new scheduler over the same database does not fire 11:00 again.
  Open();
  TickAt("2026-03-02T11:00:30Z");
  EXPECT_EQ(CountInstances(kEtl), 1);

  // A second scheduler whose cursor lags (e.g. it read the row before the first one fired):
  // the (workflow, fire time) row stops the duplicate.
  TickAt("2026-03-02T12:00:00Z");
  ASSERT_EQ(CountInstances(kEtl), 2);
  Sql("UPDATE wf_deployments SET cursor_ms = " +
      std::to_string(ToEpochMillis(At("2026-03-02T11:30:00Z"))));
  std::unique_ptr<Scheduler> other = OpenScheduler(SchedulerOptions{});
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->Tick().ok());
  EXPECT_EQ(CountInstances(kEtl), 2);
}

// Fire times follow the workflow's time zone: 02:30 in Kolkata (UTC+05:30) is 21:00 UTC the
// day before, and the instance records that instant.
TEST_P(SchedulerTest, CronFiresInTheWorkflowsTimeZone) {
  Deploy("id: etl\nschedule: \"30 2 * * *\"\ntimezone: Asia/Kolkata\njobs:\n" +
         Job("a", "at ${EXECUTION_DATE}"));
  EXPECT_EQ(sched_->Get(kEtl)->next_fire, At("2026-03-02T21:00:00Z"));
  TickAt("2026-03-02T20:59:59Z");
  EXPECT_EQ(CountInstances(kEtl), 0);
  TickAt("2026-03-02T21:00:00Z");
  ASSERT_EQ(CountInstances(kEtl), 1);
  EXPECT_EQ(Inst(kEtl, 1).trigger_time, At("2026-03-02T21:00:00Z"));
  EXPECT_EQ(Inst(kEtl, 1).params.at("EXECUTION_DATE"), "2026-03-02T21:00:00.000Z");
}

// 09:00 in New York is 14:00 UTC before the DST change of 2026-03-08 and 13:00 UTC after it.
TEST_P(SchedulerTest, CronKeepsLocalTimeAcrossADstChange) {
  clock_.Set(At("2026-03-07T12:00:00Z"));
  Deploy("id: etl\nschedule: \"0 9 * * *\"\ntimezone: America/New_York\njobs:\n" +
         Job("a", "at ${EXECUTION_DATE}"));
  EXPECT_EQ(sched_->Get(kEtl)->next_fire, At("2026-03-07T14:00:00Z"));
  TickAt("2026-03-07T14:00:05Z");
  ASSERT_EQ(CountInstances(kEtl), 1);
  EXPECT_EQ(sched_->Get(kEtl)->next_fire, At("2026-03-08T13:00:00Z"));
  TickAt("2026-03-08T13:00:05Z");
  ASSERT_EQ(CountInstances(kEtl), 2);
  EXPECT_EQ(Inst(kEtl, 2).trigger_time, At("2026-03-08T13:00:00Z"));
}

TEST_P(SchedulerTest, CatchUpPoliciesAfterDowntime) {
  const std::string none_env = "staging", all_env = "sandbox:alice";
  Deploy(kHourly, "prod", std::nullopt, CatchUp::kLatest);
  Deploy(kHourly, none_env, std::nullopt, CatchUp::kNone);
  Deploy(kHourly, all_env, std::nullopt, CatchUp::kAll);
  const std::string none_id = "staging:acme.warehouse.etl";
  const std::string all_id = "sandbox:alice:acme.warehouse.etl";
  sched_.reset();                          // the server is down ...
  clock_.Set(At("2026-03-02T15:30:00Z"));  // ... while 11:00 to 15:00 pass
  Open();
  Tick();
  ASSERT_EQ(CountInstances(kEtl), 1);
  EXPECT_EQ(Inst(kEtl, 1).trigger_time, At("2026-03-02T15:00:00Z"));
  EXPECT_EQ(CountInstances(none_id), 0);
  ASSERT_EQ(CountInstances(all_id), 5);
  for (int n = 1; n <= 5; ++n) {
    EXPECT_EQ(Inst(all_id, n).trigger_time, At("2026-03-02T11:00:00Z") + std::chrono::hours(n - 1));
  }
  // On time again: every policy fires the next hour once.
  TickAt("2026-03-02T16:00:10Z");
  EXPECT_EQ(CountInstances(kEtl), 2);
  EXPECT_EQ(CountInstances(none_id), 1);
  EXPECT_EQ(CountInstances(all_id), 6);
}

TEST_P(SchedulerTest, CatchUpAllIsBounded) {
  Open(/*max_catchup=*/3);
  Deploy(kHourly, "prod", std::nullopt, CatchUp::kAll);
  clock_.Set(At("2026-03-03T10:00:00Z"));  // 24 fire times missed
  Tick();
  ASSERT_EQ(CountInstances(kEtl), 3);
  EXPECT_EQ(Inst(kEtl, 1).trigger_time, At("2026-03-03T08:00:00Z"));
  EXPECT_EQ(Inst(kEtl, 3).trigger_time, At("2026-03-03T10:00:00Z"));
}

TEST_P(SchedulerTest, ANewScheduleDoesNotFireForTimesBeforeItsActivation) {
  Deploy("id: etl\njobs:\n" + Job("a", "a"));
  clock_.Set(At("2026-03-02T12:30:00Z"));
  Deploy(kHourly);
  Tick();
  EXPECT_EQ(CountInstances(kEtl), 0);
  TickAt("2026-03-02T13:00:00Z");
  EXPECT_EQ(CountInstances(kEtl), 1);
}

// Instances are listed newest first, a page at a time, with the total of all pages.
TEST_P(SchedulerTest, InstancesAreListedNewestFirstInPages) {
  Deploy("id: etl\njobs:\n" + Job("a", "a"));
  for (int n = 0; n < 5; ++n) Run(kEtl);
  auto numbers = [&](int64_t page) {
    InstanceQuery q;
    q.page = page;
    q.size = 2;
    auto p = sched_->Instances(kEtl, q);
    EXPECT_TRUE(p.ok()) << p.status();
    std::vector<int64_t> out;
    if (!p.ok()) return out;
    EXPECT_EQ(p->total, 5);
    for (const Instance& i : p->instances) out.push_back(i.number);
    return out;
  };
  EXPECT_THAT(numbers(0), ElementsAre(5, 4));
  EXPECT_THAT(numbers(1), ElementsAre(3, 2));
  EXPECT_THAT(numbers(2), ElementsAre(1));
  EXPECT_TRUE(numbers(3).empty());
}

// ---- recovery -------------------------------------------------------------------------------

TEST_P(SchedulerTest, RecoverResolvesJobsThatEndedWhileDown) {
  Deploy(kChain);
  RunAndTick(kEtl);
  std::string job = JobOf(kEtl, 1, "extract");
  sched_.reset();                                 // down
  launcher_->Finish(job, JobStatus::kSucceeded);  // the job ends meanwhile
  Open();
  ASSERT_TRUE(sched_->Recover().ok());
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(Step(i, "extract").status, StepStatus::kSucceeded);
  EXPECT_EQ(Step(i, "transform").status, StepStatus::kRunning);
}

TEST_P(SchedulerTest, AnInterruptedSubmissionIsRetriedUnderTheSameJobIdAndAdopted) {
  Deploy(kChain);
  Run(kEtl);
  // The job service took the job but the answer was lost (as in a crash right after Submit).
  launcher_->Refuse(Unavailable("connection lost"), 1, /*record=*/true);
  Tick();
  StepRun s = Step(Inst(kEtl, 1), "extract");
  EXPECT_EQ(s.status, StepStatus::kRunning);
  EXPECT_THAT(s.message, HasSubstr("waiting to submit"));
  clock_.Advance(2s);
  Tick();
  EXPECT_EQ(launcher_->count(), 1u);  // adopted, not launched twice
  EXPECT_EQ(Step(Inst(kEtl, 1), "extract").history.back().status, "SUBMITTED");
  Complete(kEtl, 1, "extract");
  EXPECT_EQ(Step(Inst(kEtl, 1), "transform").status, StepStatus::kRunning);
}

TEST_P(SchedulerTest, ARefusedSubmissionFailsTheAttempt) {
  Deploy("id: etl\njobs:\n" + Job("a", "a"));
  Run(kEtl);
  launcher_->Refuse(FailedPrecondition("No cluster/command combination found"));
  Tick();
  Tick();
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kFailed);
  EXPECT_THAT(Step(i, "a").message, HasSubstr("No cluster/command"));
}

// ---- trigger rules, fail-fast, logical dates, backfill ----------------------------------------

TEST_P(SchedulerTest, TriggerRulesDecideWhatRunsAfterAFailureAndTheInstanceEndsAtOnce) {
  // a fails: b (all_success) and its downstream c can never run; cleanup (all_done) and alert
  // (one_failed) run; report (one_success on a) is impossible; on_ok (one_failed on d) is skipped.
  const std::string wf =
      "id: etl\njobs:\n" + Job("a", "a") + Job("d", "d") + Job("b", "b", "    depends_on: [a]\n") +
      Job("c", "c", "    depends_on: [b]\n") +
      Job("cleanup", "cleanup", "    depends_on: [a, d]\n    trigger_rule: all_done\n") +
      Job("alert", "alert", "    depends_on: [c]\n    trigger_rule: one_failed\n") +
      Job("report", "report", "    depends_on: [a]\n    trigger_rule: one_success\n") +
      Job("on_ok", "on_ok", "    depends_on: [d]\n    trigger_rule: one_failed\n");
  Deploy(wf);
  RunAndTick(kEtl);
  Complete(kEtl, 1, "d");
  EXPECT_EQ(Step(Inst(kEtl, 1), "on_ok").status, StepStatus::kSkipped);
  EXPECT_EQ(Step(Inst(kEtl, 1), "cleanup").status, StepStatus::kPending);  // a still runs
  Complete(kEtl, 1, "a", JobStatus::kFailed);
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(Step(i, "b").status, StepStatus::kUpstreamFailed);
  EXPECT_EQ(Step(i, "c").status, StepStatus::kUpstreamFailed);
  EXPECT_THAT(Step(i, "c").message, HasSubstr("upstream step 'b' failed"));
  EXPECT_EQ(Step(i, "report").status, StepStatus::kUpstreamFailed);
  EXPECT_EQ(Step(i, "cleanup").status, StepStatus::kRunning);
  EXPECT_EQ(Step(i, "alert").status, StepStatus::kRunning);
  EXPECT_EQ(i.status, InstanceStatus::kRunning);
  Complete(kEtl, 1, "cleanup");
  Complete(kEtl, 1, "alert");
  i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kFailed);  // a handler's success does not hide a failure
  EXPECT_THAT(i.message, HasSubstr("step 'a' failed"));
  for (const StepRun& s : i.steps) EXPECT_NE(s.status, StepStatus::kPending) << s.id;
}

TEST_P(SchedulerTest, AFailureWithoutHandlersEndsTheInstanceWithDownstreamUpstreamFailed) {
  Deploy(kChain);
  RunAndTick(kEtl);
  Complete(kEtl, 1, "extract", JobStatus::kFailed);
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kFailed);
  EXPECT_EQ(Step(i, "transform").status, StepStatus::kUpstreamFailed);
  EXPECT_EQ(Step(i, "load").status, StepStatus::kUpstreamFailed);
  EXPECT_TRUE(Step(i, "load").finished.has_value());
  // A restart runs them again.
  ASSERT_TRUE(sched_->Restart(kEtl, 1, "dave").ok());
  Tick();
  EXPECT_EQ(Step(Inst(kEtl, 1), "extract").status, StepStatus::kRunning);
  EXPECT_EQ(Step(Inst(kEtl, 1), "transform").status, StepStatus::kPending);
}

TEST_P(SchedulerTest, OneFailedHandlerIsSkippedWhenEverythingSucceeds) {
  Deploy("id: etl\njobs:\n" + Job("a", "a") +
         Job("alert", "alert", "    depends_on: [a]\n    trigger_rule: one_failed\n"));
  RunAndTick(kEtl);
  Complete(kEtl, 1, "a");
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(Step(i, "alert").status, StepStatus::kSkipped);
  EXPECT_EQ(i.status, InstanceStatus::kSucceeded);
  EXPECT_THAT(i.message, HasSubstr("1 skipped"));
  EXPECT_EQ(launcher_->count(), 1u);
}

TEST_P(SchedulerTest, AnUnknownTriggerRuleIsRefusedAtDeploy) {
  DeployRequest r;
  r.manifest_json = Manifest("id: etl\njobs:\n" + Job("a", "a", "    trigger_rule: sometimes\n"));
  auto d = sched_->Deploy(r);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(d.status().message(), HasSubstr("trigger_rule: 'sometimes'"));
}

TEST_P(SchedulerTest, ANoMatchRefusalFailsTheStepAtOnceWithoutSpendingRetries) {
  Deploy("id: etl\njobs:\n" + Job("a", "a", "    retries: {count: 3, backoff: 5s}\n"));
  Run(kEtl);
  launcher_->Refuse(FailedPrecondition("No cluster/command combination found"), 1);
  Tick();  // the submission is refused: the step fails
  Tick();  // and the instance ends
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kFailed);
  EXPECT_EQ(Step(i, "a").status, StepStatus::kFailed);
  EXPECT_EQ(Step(i, "a").attempts, 1);
  EXPECT_THAT(Step(i, "a").message, HasSubstr("configuration error"));
  EXPECT_THAT(Step(i, "a").message, HasSubstr("No cluster/command"));
  EXPECT_THAT(i.message, HasSubstr("No cluster/command"));
  // A capacity refusal still waits and a job failure still retries.
  Deploy("id: etl\njobs:\n" + Job("a", "b", "    retries: {count: 3, backoff: 5s}\n"));
  RunAndTick(kEtl);
  Complete(kEtl, 2, "a", JobStatus::kFailed);
  EXPECT_EQ(Step(Inst(kEtl, 2), "a").status, StepStatus::kWaitingRetry);
}

TEST_P(SchedulerTest, LogicalDatesInTheWorkflowsTimeZone) {
  // 01:30 UTC is 07:00 in Asia/Kolkata; 20:00 UTC is already the next day there.
  Deploy("id: etl\nschedule: \"0 7 * * *\"\ntimezone: Asia/Kolkata\njobs:\n" +
         Job("a", "a ${EXECUTION_DATE} ${EXECUTION_DATE_LOCAL} ${EXECUTION_DAY}"));
  Instance i = Run(kEtl, {{"EXECUTION_DATE", "2026-03-02T01:30:00Z"}});
  EXPECT_EQ(i.params.at("EXECUTION_DATE_LOCAL"), "2026-03-02T07:00:00+05:30");
  EXPECT_EQ(i.params.at("EXECUTION_DAY"), "2026-03-02");
  i = Run(kEtl, {{"EXECUTION_DATE", "2026-03-02T20:00:00Z"}});
  EXPECT_EQ(i.params.at("EXECUTION_DATE_LOCAL"), "2026-03-03T01:30:00+05:30");
  EXPECT_EQ(i.params.at("EXECUTION_DAY"), "2026-03-03");
  Tick();
  EXPECT_THAT(launcher_->Get(JobOf(kEtl, 1, "a")).request.command_arguments,
              ElementsAre("a 2026-03-02T01:30:00.000Z 2026-03-02T07:00:00+05:30 2026-03-02"));
  // A cron instance gets them too; and they cannot be overridden.
  TickAt("2026-03-04T01:30:00Z");
  EXPECT_EQ(Inst(kEtl, 3).params.at("EXECUTION_DAY"), "2026-03-04");
  RunRequest r;
  r.params = {{"EXECUTION_DAY", "2026-01-01"}};
  EXPECT_EQ(sched_->Run(kEtl, r).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(SchedulerTest, BackfillCreatesOneInstancePerFireTimeBoundedAndSkipsTimesAlreadyRun) {
  // Daily at 07:00 Asia/Kolkata = 01:30 UTC. The cron already ran 2026-03-02.
  clock_.Set(At("2026-03-02T01:00:00Z"));
  Deploy("id: etl\nschedule: \"0 7 * * *\"\ntimezone: Asia/Kolkata\njobs:\n" +
         Job("a", "a ${EXECUTION_DAY}"));
  Tick();
  TickAt("2026-03-02T01:30:00Z");
  ASSERT_EQ(CountInstances(kEtl), 1);
  Complete(kEtl, 1, "a");
  BackfillRequest b;
  b.from = At("2026-02-27T00:00:00Z");
  b.to = At("2026-03-02T01:30:00Z");
  b.parallel = 2;
  b.requested_by = "erin";
  auto r = sched_->Backfill(kEtl, b);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->created.size(), 3u);  // 02-27, 02-28, 03-01
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_EQ(r->skipped[0], At("2026-03-02T01:30:00Z"));
  EXPECT_EQ(r->created[0].trigger, "backfill");
  EXPECT_EQ(r->created[0].trigger_time, At("2026-02-27T01:30:00Z"));
  EXPECT_EQ(r->created[2].trigger_time, At("2026-03-01T01:30:00Z"));
  EXPECT_EQ(r->created[0].params.at("EXECUTION_DAY"), "2026-02-27");
  Tick();
  // At most 2 at once, oldest first.
  EXPECT_EQ(Inst(kEtl, 2).status, InstanceStatus::kRunning);
  EXPECT_EQ(Inst(kEtl, 3).status, InstanceStatus::kRunning);
  EXPECT_EQ(Inst(kEtl, 4).status, InstanceStatus::kCreated);
  Complete(kEtl, 3, "a");
  EXPECT_EQ(Inst(kEtl, 4).status, InstanceStatus::kRunning);
  Complete(kEtl, 2, "a");
  Complete(kEtl, 4, "a");
  EXPECT_EQ(Inst(kEtl, 4).status, InstanceStatus::kSucceeded);
  // The same range again creates nothing.
  r = sched_->Backfill(kEtl, b);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->created.empty());
  EXPECT_EQ(r->skipped.size(), 4u);
  EXPECT_EQ(CountInstances(kEtl), 4);
  // Bad requests.
  b.from = At("2026-03-05T00:00:00Z");
  EXPECT_EQ(sched_->Backfill(kEtl, b).status().code(), StatusCode::kInvalidArgument);
  Deploy(kChain + "# no schedule\n");
  b.from = At("2026-02-27T00:00:00Z");
  EXPECT_EQ(sched_->Backfill(kEtl, b).status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(SchedulerTest, AFailedJobsStderrTailIsInTheStepMessage) {
  Deploy("id: etl\njobs:\n" + Job("a", "a"));
  RunAndTick(kEtl);
  launcher_->SetStderrTail(JobOf(kEtl, 1, "a"), "Traceback\nValueError: bad row 7");
  Complete(kEtl, 1, "a", JobStatus::kFailed);
  Instance i = Inst(kEtl, 1);
  EXPECT_THAT(Step(i, "a").message,
              HasSubstr("last lines of stderr:\nTraceback\nValueError: bad row 7"));
  EXPECT_THAT(i.message, HasSubstr("ValueError: bad row 7"));
}

TEST(TailOfFileTest, KeepsTheLastLinesWithinTheByteBound) {
  const fs::path p = fs::path("/tmp") / ("weir-tail-" + NewUuid());
  {
    std::ofstream out(p);
    for (int n = 1; n <= 30; ++n) out << "line " << n << "\n";
  }
  EXPECT_EQ(TailOfFile(p.string(), 3, 4096), "line 28\nline 29\nline 30");
  EXPECT_EQ(TailOfFile(p.string(), 10, 12), "line 30");  // a partial first line is dropped
  EXPECT_EQ(TailOfFile((p.string() + ".missing"), 3, 4096), "");
  fs::remove(p);
}

// ---- lifecycle (issue 10) -------------------------------------------------------------------

// A paused workflow fires nothing on cron, across a restart; a manual run still starts; after
// resume the next fire time fires and the ones missed while paused do not.
TEST_P(SchedulerTest, PausedWorkflowFiresNoCronButRunsManuallyAndResumeSkipsMissedTimes) {
  Deploy(kHourly);
  auto p = sched_->Pause(kEtl, "carol");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->paused);
  EXPECT_FALSE(p->next_fire.has_value());
  TickAt("2026-03-02T11:00:00Z");
  EXPECT_EQ(CountInstances(kEtl), 0);

  Open();  // a restart keeps the pause
  EXPECT_TRUE(sched_->Get(kEtl)->paused);
  TickAt("2026-03-02T12:00:00Z");
  EXPECT_EQ(CountInstances(kEtl), 0);
  EXPECT_EQ(Run(kEtl).trigger, "manual");
  EXPECT_EQ(CountInstances(kEtl), 1);

  clock_.Set(At("2026-03-02T12:30:00Z"));
  auto r = sched_->Resume(kEtl, "carol");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->paused);
  EXPECT_EQ(r->next_fire, At("2026-03-02T13:00:00Z"));
  Tick();
  EXPECT_EQ(CountInstances(kEtl), 1);  // 11:00 and 12:00 were missed while paused
  TickAt("2026-03-02T13:00:00Z");
  ASSERT_EQ(CountInstances(kEtl), 2);
  EXPECT_EQ(Inst(kEtl, 2).trigger, "cron");
  EXPECT_EQ(Inst(kEtl, 2).trigger_time, At("2026-03-02T13:00:00Z"));
  EXPECT_EQ(sched_->Pause("prod:acme.warehouse.nope", "").status().code(), StatusCode::kNotFound);
}

// Undeploy takes a workflow off the schedule and refuses runs; versions stay; a new deploy
// brings it back.
TEST_P(SchedulerTest, UndeployStopsFiresAndRunsKeepsVersionsAndRedeployRestores) {
  Deploy(kHourly);
  auto u = sched_->Undeploy(kEtl, "carol");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->undeployed.has_value());
  TickAt("2026-03-02T11:00:00Z");
  EXPECT_EQ(CountInstances(kEtl), 0);
  RunRequest r;
  auto refused = sched_->Run(kEtl, r);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("weir project deploy"));
  EXPECT_EQ(sched_->Versions(kEtl)->size(), 1u);
  Open();
  EXPECT_TRUE(sched_->Get(kEtl)->undeployed.has_value());

  Deploy(kHourly);  // the same bundle: no new version, but deployed again
  EXPECT_FALSE(sched_->Get(kEtl)->undeployed.has_value());
  EXPECT_EQ(sched_->Versions(kEtl)->size(), 1u);
  TickAt("2026-03-02T12:00:00Z");
  EXPECT_EQ(CountInstances(kEtl), 1);
}

// A deploy with `paused` (what a `schedule: manual` environment such as branch:* sends) fires no
// cron; manual runs work; a later deploy without `paused` keeps the state.
TEST_P(SchedulerTest, DeployPausedFiresNoCronAndLaterDeploysKeepIt) {
  DeployRequest r;
  r.manifest_json = Manifest(kHourly, "branch:feature-x");
  r.deployer = "alice";
  r.paused = true;
  ASSERT_TRUE(sched_->Deploy(r).ok());
  const std::string id = "branch:feature-x:acme.warehouse.etl";
  EXPECT_TRUE(sched_->Get(id)->paused);
  TickAt("2026-03-02T11:00:00Z");
  EXPECT_EQ(CountInstances(id), 0);
  EXPECT_EQ(Run(id).trigger, "manual");
  Deploy(kHourly, "branch:feature-x");
  EXPECT_TRUE(sched_->Get(id)->paused);
  TickAt("2026-03-02T12:00:00Z");
  EXPECT_EQ(CountInstances(id), 1);
}

// A database made before the lifecycle columns is upgraded on open; twice is harmless.
TEST_P(SchedulerTest, OldDatabaseWithoutLifecycleColumnsIsUpgraded) {
  if (!OnSqlite()) GTEST_SKIP() << "SQLite files made before the lifecycle columns";
  Deploy(kHourly);
  sched_.reset();
  Sql("ALTER TABLE wf_deployments DROP COLUMN paused");
  Sql("ALTER TABLE wf_deployments DROP COLUMN undeployed_ms");
  Open();
  Open();
  auto w = sched_->Get(kEtl);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_FALSE(w->paused);
  ASSERT_TRUE(sched_->Pause(kEtl, "").ok());
  EXPECT_TRUE(sched_->Get(kEtl)->paused);
}

// ---- cross-workflow triggers (after:) --------------------------------------------------------

TEST_P(SchedulerTest, AfterStartsOncePerLogicalDateWhenEveryUpstreamSucceededAcrossARestart) {
  const std::string a = "prod:acme.warehouse.a", b = "prod:acme.warehouse.b";
  const std::string down = "prod:acme.warehouse.down";
  Deploy("id: a\njobs:\n" + Job("s", "a"));
  Deploy("id: b\njobs:\n" + Job("s", "b"));
  Deploy("id: down\nafter: [a, b]\nafter_timeout: 1h\njobs:\n" + Job("s", "d ${EXECUTION_DATE}"));
  const Params day1 = {{"EXECUTION_DATE", "2026-03-01T00:00:00Z"}};
  Run(a, day1);
  Tick();
  Complete(a, 1, "s");
  ASSERT_EQ(Inst(a, 1).status, InstanceStatus::kSucceeded);
  EXPECT_EQ(CountInstances(down), 0);

  Open();  // a restart keeps the pending trigger
  Run(b, day1);
  Tick();
  Complete(b, 1, "s");
  ASSERT_EQ(CountInstances(down), 1);
  Instance d = Inst(down, 1);
  EXPECT_EQ(d.trigger, "after");
  EXPECT_EQ(d.trigger_time, At("2026-03-01T00:00:00Z"));
  EXPECT_EQ(d.params.at("EXECUTION_DATE"), "2026-03-01T00:00:00.000Z");

  // Another success of an upstream for the same date starts nothing more.
  Run(a, day1);
  Tick();
  Complete(a, 2, "s");
  EXPECT_EQ(CountInstances(down), 1);

  // Timeout: b never succeeds for day 2; after an hour the instance is FAILED, naming b.
  Run(a, {{"EXECUTION_DATE", "2026-03-02T00:00:00Z"}});
  Tick();
  Complete(a, 3, "s");
  clock_.Advance(std::chrono::minutes(59));
  Tick();
  EXPECT_EQ(CountInstances(down), 1);
  clock_.Advance(std::chrono::minutes(1));
  Tick();
  ASSERT_EQ(CountInstances(down), 2);
  d = Inst(down, 2);
  EXPECT_EQ(d.status, InstanceStatus::kFailed);
  EXPECT_THAT(d.message, HasSubstr("upstream workflow 'b' did not succeed"));
  EXPECT_THAT(d.message, HasSubstr("after_timeout 1h"));
  // b succeeding late for day 2 starts nothing more.
  Run(b, {{"EXECUTION_DATE", "2026-03-02T00:00:00Z"}});
  Tick();
  Complete(b, 2, "s");
  EXPECT_EQ(CountInstances(down), 2);
}

TEST_P(SchedulerTest, AfterNamingAWorkflowNotDeployedIsRefused) {
  DeployRequest r;
  r.manifest_json = Manifest("id: down\nafter: [nope]\njobs:\n" + Job("s", "d"), "prod");
  auto d = sched_->Deploy(r);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(d.status().message(), HasSubstr("after: unknown workflow 'nope'"));
}

TEST_P(SchedulerTest, ABundleThatDiffersOnlyInItsCommitCreatesNoVersion) {
  const std::string wf = "id: etl\njobs:\n" + Job("a", "a");
  DeployResult first = Deploy(wf);
  DeployRequest r;
  std::string manifest = Manifest(wf, "prod");
  const std::string other(40, 'b');
  manifest.replace(manifest.find(kCommit), std::string(kCommit).size(), other);
  r.manifest_json = manifest;
  auto d = sched_->Deploy(r);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->created);
  EXPECT_EQ(d->version, first.version);
  EXPECT_EQ(d->bundle_id, first.bundle_id);
  // Another definition is a new version.
  DeployResult changed = Deploy("id: etl\njobs:\n" + Job("a", "a2"));
  EXPECT_TRUE(changed.created);
  EXPECT_EQ(changed.version, 2);
}

// ---- leadership (cluster mode) --------------------------------------------------------------

// The scheduler of a node that does not lead (token 0) fires nothing and starts no step; its
// routes still record runs. A new lead (a new token) first continues what runs, then fires each
// due time once; a lead that ends mid-way leaves the rest to the next leader.
TEST_P(SchedulerTest, OnlyTheLeaderTicksAndANewLeaderContinuesWhatRuns) {
  std::atomic<int64_t> token{0};
  std::vector<TickReport> reports;
  sched_ = OpenNode([&] { return token.load(); }, &reports);
  ASSERT_NE(sched_, nullptr);
  Deploy(kHourly);
  Deploy(kChain, "staging");
  const std::string staging = "staging:acme.warehouse.etl";
  Run(staging);  // a route: recorded on any node

  clock_.Set(At("2026-03-02T11:00:00Z"));
  ASSERT_TRUE(sched_->Recover().ok());
  Tick();
  EXPECT_EQ(CountInstances(kEtl), 0) << "a non-leader fired a cron trigger";
  EXPECT_EQ(Inst(staging, 1).status, InstanceStatus::kCreated);
  EXPECT_EQ(launcher_->count(), 0u);
  EXPECT_TRUE(reports.empty());

  token = 7;  // this node now leads
  Tick();
  ASSERT_EQ(CountInstances(kEtl), 1);
  EXPECT_EQ(Inst(kEtl, 1).trigger_time, At("2026-03-02T11:00:00Z"));
  EXPECT_EQ(Step(Inst(staging, 1), "extract").status, StepStatus::kRunning);
  EXPECT_EQ(launcher_->count(), 2u);  // staging's extract and the cron instance's step
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].new_lead);
  EXPECT_EQ(reports[0].token, 7);
  EXPECT_EQ(reports[0].fires, 1);
  EXPECT_EQ(reports[0].steps_started, 2);

  // The lead passes elsewhere: the job ends and 12:00 comes, but this node does nothing.
  token = 0;
  launcher_->Finish(JobOf(staging, 1, "extract"), JobStatus::kSucceeded, "ok");
  launcher_->Finish(JobOf(kEtl, 1, "a"), JobStatus::kSucceeded, "ok");
  TickAt("2026-03-02T12:00:00Z");
  EXPECT_EQ(CountInstances(kEtl), 1);
  EXPECT_EQ(Step(Inst(staging, 1), "extract").status, StepStatus::kRunning);
  EXPECT_EQ(launcher_->count(), 2u);

  // Leading again under a newer token: the ended job is read (not launched again), the next
  // step starts, and 12:00 fires once.
  token = 9;
  Tick();
  Tick();
  Instance i = Inst(staging, 1);
  EXPECT_EQ(Step(i, "extract").status, StepStatus::kSucceeded);
  EXPECT_EQ(Step(i, "extract").history.size(), 1u);
  EXPECT_EQ(Step(i, "transform").status, StepStatus::kRunning);
  EXPECT_EQ(Inst(kEtl, 1).status, InstanceStatus::kSucceeded);
  ASSERT_EQ(CountInstances(kEtl), 2);
  EXPECT_EQ(Inst(kEtl, 2).trigger_time, At("2026-03-02T12:00:00Z"));
  EXPECT_EQ(launcher_->count(), 4u);
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_TRUE(reports[1].new_lead);
  EXPECT_FALSE(reports[2].new_lead);
}

// A leader paused past its lease still believes it leads (its token is not 0), but the lease in
// the database carries a newer token: its write transactions are refused, nothing fires, and
// the new leader fires the time once.
TEST_P(SchedulerTest, AFencedOldLeaderWritesNothing) {
  auto stores = store::OpenStores(where_, clock_);
  ASSERT_TRUE(stores.ok()) << stores.status();
  auto mine = stores->nodes->AcquireLease("leader", "old", clock_.Now(), 15s);
  ASSERT_TRUE(mine.ok()) << mine.status();
  std::vector<TickReport> reports;
  sched_ = OpenNode([t = mine->token] { return t; }, &reports, "leader");
  ASSERT_NE(sched_, nullptr);
  Deploy(kHourly);
  Run(kEtl);

  // While its lease holds, the old leader acts.
  Tick();
  EXPECT_EQ(launcher_->count(), 1u);
  EXPECT_FALSE(reports.back().lost_lead);

  // It pauses; the lease expires and passes to another node. Meanwhile the job ends, a run is
  // asked for and 11:00 comes.
  auto theirs = stores->nodes->AcquireLease("leader", "new", clock_.Now() + 20s, 15s);
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  ASSERT_GT(theirs->token, mine->token);
  launcher_->Finish(JobOf(kEtl, 1, "a"), JobStatus::kSucceeded, "ok");
  clock_.Set(At("2026-03-02T11:00:00Z"));
  RunAndTick(kEtl);
  EXPECT_EQ(CountInstances(kEtl), 2) << "the fenced leader fired 11:00";
  EXPECT_EQ(Inst(kEtl, 1).status, InstanceStatus::kRunning);
  EXPECT_EQ(Inst(kEtl, 2).status, InstanceStatus::kCreated);
  EXPECT_EQ(launcher_->count(), 1u);
  EXPECT_TRUE(reports.back().lost_lead);
  EXPECT_EQ(reports.back().fires, 0);

  // The new leader continues both instances and fires 11:00 once.
  std::unique_ptr<Scheduler> leader =
      OpenNode([t = theirs->token] { return t; }, nullptr, "leader");
  ASSERT_NE(leader, nullptr);
  ASSERT_TRUE(leader->Tick().ok());
  EXPECT_EQ(Inst(kEtl, 1).status, InstanceStatus::kSucceeded);
  EXPECT_EQ(Inst(kEtl, 2).status, InstanceStatus::kRunning);
  ASSERT_EQ(CountInstances(kEtl), 3);
  EXPECT_EQ(Inst(kEtl, 3).trigger_time, At("2026-03-02T11:00:00Z"));
  EXPECT_EQ(launcher_->count(), 2u);
  ASSERT_TRUE(sched_->Tick().ok());  // still fenced
  EXPECT_EQ(CountInstances(kEtl), 3);
  EXPECT_EQ(launcher_->count(), 2u);
}

// A stop answered by a node that does not lead, and does not hold the step's job, cannot kill
// it there: the attempt is KILLING, not KILLED. The node that holds the job (here the leader)
// kills it on its next tick, once however many ticks follow, and the leader records the job's
// real end once it came.
TEST_P(SchedulerTest, AStopThroughAnotherNodeKillsTheStepJobOnceWhereItRuns) {
  launcher_->SetKillEndsJob(false);  // the command takes its time to end after the kill
  sched_ = OpenNode([] { return int64_t{7}; });
  ASSERT_NE(sched_, nullptr);
  const std::string job = StartOneStepJob();
  ASSERT_FALSE(job.empty());

  auto elsewhere = std::make_shared<OtherNodeLauncher>(launcher_);
  std::unique_ptr<Scheduler> follower = OpenNode([] { return int64_t{0}; }, nullptr, "", elsewhere);
  ASSERT_NE(follower, nullptr);
  auto stopped = follower->Stop(kEtl, 1, "erin");
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->status, InstanceStatus::kStopped);
  EXPECT_EQ(Step(*stopped, "a").status, StepStatus::kStopped);
  ASSERT_EQ(Step(*stopped, "a").history.size(), 1u);
  EXPECT_EQ(Step(*stopped, "a").history[0].status, "KILLING");
  EXPECT_EQ(elsewhere->kill_calls.load(), 1);  // its job service: "runs on another node"
  EXPECT_EQ(launcher_->Get(job).kills, 0);
  ASSERT_TRUE(follower->Tick().ok());
  ASSERT_TRUE(follower->Tick().ok());
  EXPECT_EQ(elsewhere->kill_calls.load(), 1) << "a node asked again for a kill it cannot make";

  Tick();  // the node that holds the job
  EXPECT_EQ(launcher_->Get(job).kills, 1);
  EXPECT_EQ(Step(Inst(kEtl, 1), "a").history[0].status, "KILLING");  // still ending
  for (int i = 0; i < 3; ++i) {
    Tick();
    ASSERT_TRUE(follower->Tick().ok());
  }
  EXPECT_EQ(launcher_->Get(job).kills, 1) << "the job was killed again on a later tick";

  launcher_->Finish(job, JobStatus::kKilled, "Job was killed by user.");
  Tick();
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kStopped);
  EXPECT_EQ(Step(i, "a").status, StepStatus::kStopped);
  EXPECT_EQ(Step(i, "a").history[0].status, "KILLED");
  EXPECT_EQ(Step(i, "a").history[0].message, "stopped by erin");
  EXPECT_TRUE(Step(i, "a").history[0].finished.has_value());
  Tick();
  EXPECT_EQ(launcher_->Get(job).kills, 1);
  EXPECT_EQ(launcher_->count(), 1u);  // nothing started after the stop
}

// A stop answered by another node can commit while the leader's tick is between listing the
// active instances (read before its transaction) and reading each of them in it. The leader then
// sees the instance ended and leaves it: admitting it again ended it FAILED ("no step can run any
// more"), as a slow three-node test once showed. The stop lands exactly there: the leader asks
// for its fencing token first when its tick starts, then when Advance begins its transaction.
TEST_P(SchedulerTest, AStopCommittedWhileTheLeaderTicksStaysStopped) {
  std::atomic<int> token_calls{0};
  std::function<void()> at_second_call;
  sched_ = OpenNode([&] {
    if (++token_calls == 2 && at_second_call) std::exchange(at_second_call, nullptr)();
    return int64_t{7};
  });
  ASSERT_NE(sched_, nullptr);
  const std::string job = StartOneStepJob();
  ASSERT_FALSE(job.empty());
  auto elsewhere = std::make_shared<OtherNodeLauncher>(launcher_);
  std::unique_ptr<Scheduler> follower = OpenNode([] { return int64_t{0}; }, nullptr, "", elsewhere);
  ASSERT_NE(follower, nullptr);

  Result<Instance> stopped = Internal("the stop never ran");
  at_second_call = [&] { stopped = follower->Stop(kEtl, 1, "erin"); };
  token_calls = 0;
  Tick();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->status, InstanceStatus::kStopped);
  Instance i = Inst(kEtl, 1);
  EXPECT_EQ(i.status, InstanceStatus::kStopped) << i.message;
  EXPECT_EQ(i.message, "stopped by erin");
  EXPECT_EQ(Step(i, "a").status, StepStatus::kStopped);
  Tick();
  EXPECT_EQ(Inst(kEtl, 1).status, InstanceStatus::kStopped);
  EXPECT_EQ(launcher_->count(), 1u);  // nothing started after the stop
}

// The instance is stopped while the lead moves: the node that holds the job no longer leads,
// yet its tick kills the job (once); the new leader, which cannot kill it, records its end.
TEST_P(SchedulerTest, TheNodeHoldingAStoppedStepsJobKillsItAfterTheLeadMoved) {
  launcher_->SetKillEndsJob(false);
  std::atomic<int64_t> token{7};
  sched_ = OpenNode([&] { return token.load(); });
  ASSERT_NE(sched_, nullptr);
  const std::string job = StartOneStepJob();
  ASSERT_FALSE(job.empty());

  token = 0;  // the lead passes to another node, which continues the running instance
  auto elsewhere = std::make_shared<OtherNodeLauncher>(launcher_);
  std::unique_ptr<Scheduler> leader = OpenNode([] { return int64_t{9}; }, nullptr, "", elsewhere);
  ASSERT_NE(leader, nullptr);
  ASSERT_TRUE(leader->Tick().ok());
  EXPECT_EQ(Step(Inst(kEtl, 1), "a").status, StepStatus::kRunning);
  ASSERT_TRUE(leader->Stop(kEtl, 1, "ops").ok());
  ASSERT_TRUE(leader->Tick().ok());
  EXPECT_EQ(launcher_->Get(job).kills, 0);
  EXPECT_EQ(Step(Inst(kEtl, 1), "a").history[0].status, "KILLING");

  Tick();  // the holder, not leading
  Tick();
  EXPECT_EQ(launcher_->Get(job).kills, 1);
  launcher_->Finish(job, JobStatus::kKilled, "Job was killed by user.");
  Tick();  // a follower records nothing
  EXPECT_EQ(Step(Inst(kEtl, 1), "a").history[0].status, "KILLING");
  ASSERT_TRUE(leader->Tick().ok());
  EXPECT_EQ(Step(Inst(kEtl, 1), "a").history[0].status, "KILLED");
  EXPECT_EQ(launcher_->Get(job).kills, 1);
  EXPECT_EQ(launcher_->count(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, SchedulerTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace weir::scheduler
