// The server's part of GET /metrics: the job store timed per operation, and the collector that
// copies figures kept elsewhere (the job service's load, the dependency cache's statistics) into
// metrics/weir_metrics.h's families before each render.
#pragma once

#include <memory>
#include <string>

#include "fetch/cache.h"
#include "service/job_service.h"
#include "store/store.h"

namespace weir::server {

// `store` with each call's duration recorded in weir_store_operation_duration_seconds
// {operation="create_job"|"get_job"|"update_job"|"search_jobs"|"jobs_with_status"|
// "count_active_jobs"}. Thread-safe as `store` is.
std::shared_ptr<store::JobStore> TimedJobStore(std::shared_ptr<store::JobStore> store);

// Registers the collector in metrics::DefaultRegistry() and returns its id (for
// RemoveCollector, which must run before `jobs` or `cache` go). `cache` may be null (no cache).
int AddServerCollector(service::JobService& jobs, const fetch::DependencyCache* cache,
                       std::string version);

}  // namespace weir::server
