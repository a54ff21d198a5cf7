// The leader's database cleanup and user metrics with the real binary (docs/scaling.md): a data
// folder holds an old finished job and a recent one (written through the store before the
// server starts, with their archives); the server's cleanup deletes the old job and its archive
// and keeps the recent one; /metrics shows the active jobs per user while a job runs and drops
// the user's series once it ends. The orphan blob cleanup deletes a stray blob a failed publish
// left, and keeps the blobs of a published asset and of a deployed workflow's bundle.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <set>

#include "blob/sha256.h"
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
  // The server's data folder; a test may write into it before the first start.
  fs::path Data() const { return dir_.path() / "data"; }
  // Starts a server on Data() with `config` (after a stopped one, the same data is read again):
  // "" once it answers, else why not.
  std::string StartServer(const std::string& config) {
    server_ = std::make_unique<WeirServer>(Data(), config);
    return server_->Start();
  }
  // Loads examples/demo.yaml into the server with `weir apply`.
  CommandResult ApplyDemo() { return RunWeir(server_->url(), {"apply", "-f", kDemo}); }

  Result<client::Response> Fetch(const std::string& path) {
    client::HttpClient c(server_->url());
    return c.Get(path);
  }
  int HttpStatus(const std::string& path) {
    auto r = Fetch(path);
    return r.ok() ? r->status : -1;
  }
  std::string Get(const std::string& path) {
    auto r = Fetch(path);
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
  const fs::path archives = Data() / "archives";
  fs::create_directories(archives);
  const TimePoint now = SystemClock().Now();
  {
    SystemClock clock;
    auto stores = store::OpenSqlite((Data() / "weir.db").string(), clock);
    ASSERT_TRUE(stores.ok()) << stores.status();
    WriteFinishedJob(*stores->jobs, archives, "old-job", now - Millis(100 * kDayMs));
    WriteFinishedJob(*stores->jobs, archives, "recent-job", now - Millis(2 * kDayMs));
  }
  ASSERT_EQ(StartServer("cleanup:\n  job_retention_days: 30\n  batch_size: 10\n"
                        "metrics:\n  user_interval_seconds: 1\n"),
            "");

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
  auto applied = ApplyDemo();
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

// Every blob file under `blobs` (<shard>/<sha256>), as "<shard>/<sha256>".
std::set<std::string> BlobFiles(const fs::path& blobs) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(blobs)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name.size() == 64 && e.path().parent_path().filename() == name.substr(0, 2)) {
      out.insert(name.substr(0, 2) + "/" + name);
    }
  }
  return out;
}

// Sets a file's modified time `age` into the past.
void MakeOld(const fs::path& p, std::chrono::hours age) {
  const auto when = std::chrono::system_clock::now() - age;
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = std::chrono::system_clock::to_time_t(when);
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0) << p;
}

// A project with one bash asset and a workflow whose step uses the asset and a repository file
// (stored in the blob store with the bundle).
const char* kProjectYaml = R"(project: {owner: acme, repo: pipes, main_branch: main}
assets:
  - name: tool
    type: bash
    namespace: blob-tool
    build: mkdir -p dist && cp src/tool.sh dist/tool.sh
    file: dist/tool.sh
workflows: [flows]
environments:
  prod:
    params: {}
)";
const char* kWorkflow = R"(id: load
jobs:
  load:
    command: [type:bash]
    cluster: [type:local]
    dependencies: ["${dataflow.bash.blob-tool}", "${dataflow.file:../sql/load.sql}"]
    args: ["bash tool.sh; cat load.sql"]
)";

TEST_F(LeaderTasksTest, OrphanBlobsAreDeletedAndAssetAndBundleBlobsKept) {
  const std::string config = "cleanup:\n  orphan_blob_grace_hours: 1\n";
  ASSERT_EQ(StartServer(config), "");
  ASSERT_EQ(ApplyDemo().exit_code, 0);

  // Publish an asset and deploy a workflow that uses it and a repository file.
  const fs::path repo = dir_.path() / "pipes";
  WriteFile(repo / "dataflow.yaml", kProjectYaml);
  WriteFile(repo / ".gitignore", ".workflows/\ndist/\n");
  WriteFile(repo / "src" / "tool.sh", "echo tool ran\n");
  WriteFile(repo / "sql" / "load.sql", "select 'bundle file';\n");
  WriteFile(repo / "flows" / "load.sch.yaml", kWorkflow);
  ASSERT_EQ(Git(repo, "init -q -b main").first, 0);
  ASSERT_EQ(Git(repo, "add -A").first, 0);
  ASSERT_EQ(Git(repo, "commit -q -m first").first, 0);
  auto deployed = RunWeir(server_->url(), {"project", "deploy"}, repo);
  ASSERT_EQ(deployed.exit_code, 0) << deployed.out << deployed.err;
  const std::string id = "prod:acme.pipes.load";
  auto run = RunWeir(server_->url(), {"workflow", "run", id, "--wait", "--timeout", "60"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const std::string uuid =
      Field(Parse(Get("/api/weir/v1/assets:resolve?ref=dataflow.bash.blob-tool")), "uuid");
  ASSERT_FALSE(uuid.empty());
  server_->Stop();

  // A failed publish left a blob no version references; every blob is two days old.
  const fs::path blobs = Data() / "blobs";
  const std::set<std::string> kept = BlobFiles(blobs);
  ASSERT_GE(kept.size(), 2u) << "the asset and the bundle's file are blobs";
  const std::string stray_content = "bytes of a publish that failed";
  const std::string stray = blob::Sha256Hex(stray_content);
  WriteFile(blobs / stray.substr(0, 2) / stray, stray_content);
  for (const std::string& f : BlobFiles(blobs)) MakeOld(blobs / f, std::chrono::hours(48));

  // The cleanup runs as the server starts leading.
  ASSERT_EQ(StartServer(config), "");
  ASSERT_TRUE(
      WaitFor([&] { return Counter("orphan-blob-cleanup", "blobsDeleted") >= 1; }, seconds(30)))
      << "the stray blob was never deleted; admin/tasks: " << Get("/api/weir/v1/admin/tasks");
  EXPECT_FALSE(fs::exists(blobs / stray.substr(0, 2) / stray));
  EXPECT_EQ(BlobFiles(blobs), kept) << "only the stray blob goes";
  EXPECT_EQ(Counter("orphan-blob-cleanup", "blobsDeleted"), 1);
  EXPECT_EQ(Counter("orphan-blob-cleanup", "bytesFreed"),
            static_cast<int64_t>(stray_content.size()));

  // The asset still downloads and the workflow still runs with its file.
  const fs::path got = dir_.path() / "tool.sh";
  auto get = RunWeir(server_->url(), {"asset", "get", uuid, "--out", got.string()});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(Slurp(got), "echo tool ran\n");
  run = RunWeir(server_->url(), {"workflow", "run", id, "--wait", "--timeout", "60"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  server_->Stop();
}

}  // namespace
}  // namespace weir::testing
