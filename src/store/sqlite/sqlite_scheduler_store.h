// The SQLite SchedulerStore (scheduler_store.h): the tables wf_deployments, wf_versions,
// wf_activations, wf_fires, wf_after_pending, wf_backfills, wf_instances, wf_steps and
// wf_attempts in the server's SQLite file, over a connection of its own (WAL, busy timeout).
// Open() creates missing tables and adds the lifecycle columns (paused, undeployed_ms) to files
// made before them, so every existing data folder keeps working. Nothing else in the file is
// touched.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/scheduler_store.h"

namespace weir::store::sqlite {

// kInternal naming `path` when it cannot be opened or its tables cannot be made.
Result<std::unique_ptr<SchedulerStore>> OpenSchedulerStore(const std::string& path,
                                                           int busy_timeout_ms);

}  // namespace weir::store::sqlite
