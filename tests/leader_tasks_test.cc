// The leader's database cleanup and user metrics with the real binary (docs/scaling.md): a data
// folder holds an old finished job and a recent one (written through the store before the
// server starts, with their archives); the server's cleanup deletes the old job and its archive
// and keeps the recent one; /metrics shows the active jobs per user while a job runs and drops
// the user's series once it ends.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>

#include "client/http_client.h"
#include "common/clock.h"
#include "json_fields.h"
#include "model/job.h"
#include "store/store.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::seconds;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

using json_fields::Field;
using json_fields::Parse;

// A finished job as an older server would have left it, with an archive file.
void WriteFinishedJob(store::JobStore& jobs, const fs::path& archives, const std::string& id,
                      TimePoint finished) {
  model::JobRecord r;
  r.id = id;
  r.created = r.updated = finished - Millis(60000);
  r.request.id = id;
  r.request.name = id;
  r.request.user = "alice";
  r.request.version = "1";
  r.request.cluster_criterias = {model::ClusterCriteria{{"sched:sla"}}};
  r.request.command_criteria = {"type:bash"};
  r.job.status = model::JobStatus::kSucceeded;
  r.job.status_msg = "Job finished successfully";
  r.job.started = r.created;
  r.job.finished = finished;
  r.job.archive_location = "file://" + (archives / (id + ".tar.gz")).string();
  r.execution.exit_code = 0;
  ASSERT_TRUE(jobs.CreateJob(r).ok()) << id;
  std::ofstream(archives / (id + ".tar.gz")) << "archive of " << id;
}

class LeaderTasksTest : public ::testing::Test {
 protected:
  int HttpStatus(const std::string& path) {
    client::HttpClient c(server_->url());
    auto r = c.Get(path);
    return r.ok() ? r->status : -1;
  }
  std::string Get(const std::string& path) {
    client::HttpClient c(server_->url());
    auto r = c.Get(path);
    return r.ok() && r->status == 200 ? r->body : "";
  }
  // A counter of the task `name` in admin/tasks (-1 when the task is not listed).
  int64_t Counter(const std::string& name, const std::string& counter) {
    json::value v = Parse(Get("/api/weir/v1/admin/tasks"));
    if (!v.is_object()) return -1;
    for (const json::value& t : v.as_object()["tasks"].as_array()) {
      if (Field(t, "name") != name) continue;
      if (counter == "runs") return t.as_object().at("runs").as_int64();
      const json::value* c = t.as_object().at("counters").as_object().if_contains(counter);
      return c ? c->as_int64() : 0;
    }
    return -1;
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
};

TEST_F(LeaderTasksTest, CleanupDeletesOldJobsWithArchivesAndUserMetricsFollowRunningJobs) {
  const fs::path data = dir_.path() / "data";
  const fs::path archives = data / "archives";
  fs::create_directories(archives);
  const TimePoint now = SystemClock().Now();
  {
    SystemClock clock;
    auto stores = store::OpenSqlite((data / "weir.db").string(), clock);
    ASSERT_TRUE(stores.ok()) << stores.status();
    WriteFinishedJob(*stores->jobs, archives, "old-job", now - Millis(100 * kDayMs));
    WriteFinishedJob(*stores->jobs, archives, "recent-job", now - Millis(2 * kDayMs));
  }
  server_ = std::make_unique<WeirServer>(data,
                                         "cleanup:\n  job_retention_days: 30\n  batch_size: 10\n"
                                         "metrics:\n  user_interval_seconds: 1\n");
  ASSERT_EQ(server_->Start(), "");

  // The first pass runs as the server starts leading.
  ASSERT_TRUE(WaitFor([&] { return HttpStatus("/api/v3/jobs/old-job") == 404; }, seconds(30)))
      << "the old job was never deleted; admin/tasks: " << Get("/api/weir/v1/admin/tasks");
  EXPECT_FALSE(fs::exists(archives / "old-job.tar.gz"));
  EXPECT_EQ(HttpStatus("/api/v3/jobs/recent-job"), 200);
  EXPECT_TRUE(fs::exists(archives / "recent-job.tar.gz"));
  ASSERT_TRUE(
      WaitFor([&] { return Counter("database-cleanup", "archivesDeleted") == 1; }, seconds(30)))
      << Get("/api/weir/v1/admin/tasks");
  EXPECT_EQ(Counter("database-cleanup", "jobsDeleted"), 1);

  // A running job shows in the per-user gauges, and its user's series goes when it ends.
  auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  auto sub = RunWeir(server_->url(), {"-o", "json", "job", "submit", "-c", "sched:sla", "-C",
                                      "type:bash", "--", "sleep 600"});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  const std::string id = Field(Parse(sub.out), "id");
  ASSERT_FALSE(id.empty()) << sub.out;
  const std::string user = Field(Parse(Get("/api/v3/jobs/" + id)), "user");
  ASSERT_FALSE(user.empty());
  const std::string series = "weir_user_active_jobs{user=\"" + user + "\"} 1";
  ASSERT_TRUE(
      WaitFor([&] { return Get("/metrics").find(series) != std::string::npos; }, seconds(30)))
      << "no " << series << " in:\n"
      << Get("/metrics");
  EXPECT_NE(Get("/metrics").find("weir_user_active_memory_bytes{user=\"" + user + "\"}"),
            std::string::npos);

  auto kill = RunWeir(server_->url(), {"job", "kill", id});
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  ASSERT_TRUE(WaitFor(
      [&] {
        return Get("/metrics").find("weir_user_active_jobs{user=\"" + user + "\"}") ==
               std::string::npos;
      },
      seconds(30)))
      << Get("/metrics");
  server_->Stop();
}

}  // namespace
}  // namespace weir::testing
