#include "service/testing/job_service_harness.h"

#include <chrono>
#include <system_error>
#include <utility>

#include "common/fs.h"
#include "common/ids.h"
#include "exec/executor.h"
#include "resolve/resolve.h"

namespace weir::service::testing {

namespace fs = std::filesystem;

model::ConfigEntity DemoEntity(model::Kind kind, const std::string& id,
                               std::vector<std::string> tags) {
  model::ConfigEntity e;
  e.kind = kind;
  e.id = id;
  e.name = id;
  e.user = "admin";
  e.version = "1";
  e.tags = std::move(tags);
  e.status = kind == model::Kind::kCluster ? "UP" : "ACTIVE";
  model::NormalizeTags(e);
  return e;
}

Result<std::unique_ptr<JobServiceHarness>> JobServiceHarness::Create(std::string_view name,
                                                                     HarnessConfig config) {
  std::unique_ptr<JobServiceHarness> h(new JobServiceHarness(
      fs::temp_directory_path() / ("weir-" + std::string(name) + "-" + NewUuid())));
  WEIR_RETURN_IF_ERROR(MakeDirs(h->root_ / "jobs").WithContext("job service harness"));
  Result<store::SqliteStores> stores = store::OpenSqlite(h->db_path(), SystemClock::Instance());
  if (!stores.ok()) return stores.status().WithContext("job service harness");
  h->stores_ = *stores;
  WEIR_RETURN_IF_ERROR(
      h->stores_.config
          ->Create(DemoEntity(model::Kind::kCluster, "local", std::move(config.cluster_tags)))
          .WithContext("job service harness"));
  model::ConfigEntity bash = DemoEntity(model::Kind::kCommand, "bash", {"type:bash"});
  bash.executable = "/bin/bash -c";
  WEIR_RETURN_IF_ERROR(h->AddCommand(bash));
  return h;
}

JobServiceHarness::~JobServiceHarness() {
  stores_ = {};
  std::error_code ec;
  fs::remove_all(root_, ec);
}

Status JobServiceHarness::AddCommand(const model::ConfigEntity& command) {
  WEIR_RETURN_IF_ERROR(stores_.config->Create(command).WithContext("job service harness"));
  commands_.push_back(command.id);
  return stores_.config->SetClusterCommands("local", commands_).WithContext("job service harness");
}

JobServiceOptions JobServiceHarness::DefaultOptions() const {
  JobServiceOptions o;
  o.jobs_dir = root_ / "jobs";
  o.host_name = "test-host";
  o.weir_version = "test";
  o.launch.kill_grace = std::chrono::milliseconds(500);
  return o;
}

Result<std::unique_ptr<JobService>> JobServiceHarness::NewService(
    const JobServiceOptions& options, std::unique_ptr<exec::Fetcher> fetcher, Clock& clock) const {
  std::vector<std::unique_ptr<resolve::ClusterSelector>> selectors;
  selectors.push_back(resolve::NewRandomSelector(1));
  std::unique_ptr<JobService> service =
      NewJobService(options, stores_.config, stores_.jobs, exec::NewLocalExecutor(clock),
                    std::move(fetcher), std::move(selectors), clock);
  if (Status s = service->Recover(); !s.ok()) {
    service->Shutdown();
    return s.WithContext("job service harness: recover");
  }
  return service;
}

}  // namespace weir::service::testing
