// JobServiceHarness: a real JobService on real storage in a temporary folder, for tests and
// benchmarks (no GoogleTest dependency, so benches link it too).
//
// Create() makes /tmp/weir-<name>-<uuid>/ with jobs/ in it, opens the SQLite store weir.db there
// and registers the demo configuration: cluster "local" (status UP, tags from HarnessConfig) with
// command "bash" (tag type:bash, executable "/bin/bash -c"). AddCommand() links more commands to
// that cluster. NewService() builds the service the way the server composes it: the local
// executor, the given dependency fetcher, one random cluster selector (seeded, so picks repeat),
// and Recover() already called. The harness does not own the services it builds: shut them down
// (and destroy them) before the harness, whose destructor removes the folder.
//
// Not thread-safe; one harness per test or benchmark. Errors come from the store and the file
// system, with their context ("job service harness: ...").
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "exec/job_dir.h"
#include "model/config.h"
#include "service/job_service.h"
#include "store/store.h"

namespace weir::service::testing {

struct HarnessConfig {
  std::vector<std::string> cluster_tags = {"sched:sla"};  // of the demo cluster "local"
};

// A configuration entity as the demo data has it: name = id, user "admin", version "1", status
// UP for clusters and ACTIVE otherwise, tags normalised.
model::ConfigEntity DemoEntity(model::Kind kind, const std::string& id,
                               std::vector<std::string> tags);

class JobServiceHarness {
 public:
  // `name` becomes part of the folder name (e.g. "jobsvc").
  static Result<std::unique_ptr<JobServiceHarness>> Create(std::string_view name,
                                                           HarnessConfig config = {});
  ~JobServiceHarness();  // removes root()
  JobServiceHarness(const JobServiceHarness&) = delete;
  JobServiceHarness& operator=(const JobServiceHarness&) = delete;

  const std::filesystem::path& root() const { return root_; }
  std::string db_path() const { return (root_ / "weir.db").string(); }
  const store::SqliteStores& stores() const { return stores_; }

  // Registers `command` and links it to the demo cluster after the commands already linked.
  Status AddCommand(const model::ConfigEntity& command);

  // jobs_dir = root()/jobs, host_name "test-host", weir_version "test", kill grace 500 ms; the
  // rest are JobServiceOptions' defaults.
  JobServiceOptions DefaultOptions() const;

  // A recovered JobService on this harness's store (see the header comment).
  Result<std::unique_ptr<JobService>> NewService(
      const JobServiceOptions& options,
      std::unique_ptr<exec::Fetcher> fetcher = exec::NewLocalFileFetcher(),
      Clock& clock = SystemClock::Instance()) const;

 private:
  explicit JobServiceHarness(std::filesystem::path root) : root_(std::move(root)) {}

  std::filesystem::path root_;
  store::SqliteStores stores_;
  std::vector<std::string> commands_;  // linked to the demo cluster, in order
};

}  // namespace weir::service::testing
