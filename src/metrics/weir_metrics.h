// The metrics weir records, in one place: every module that counts something includes this and
// records into Weir(), a set of families of DefaultRegistry() made on first use. docs/operations.md
// ("Metrics") lists them with their meaning; keep the two in step.
//
// Label values come from bounded sets only: HTTP routes are the router's patterns (never a raw
// path), statuses and outcomes are fixed words, users are those with active jobs.
// Thread-safety: as metrics.h (recording is lock-free apart from a shard lock in With()).
#pragma once

#include <string>
#include <string_view>

#include "metrics/metrics.h"

namespace weir::metrics {

struct WeirMetrics {
  // HTTP (api/): every request a route or the gate answered.
  CounterFamily& http_requests;            // weir_http_requests_total{method,route,status}
  HistogramFamily& http_request_duration;  // weir_http_request_duration_seconds{method,route}
  // Jobs (service/).
  CounterFamily& job_transitions;          // weir_job_transitions_total{status}
  CounterFamily& job_submissions;          // weir_job_submissions_total{outcome}
  HistogramFamily& job_submit_to_running;  // weir_job_submit_to_running_seconds
  GaugeFamily& job_queue_length;           // weir_job_queue_length
  GaugeFamily& jobs_active;                // weir_jobs_active{phase}
  GaugeFamily& jobs_running_per_user;      // weir_jobs_running{user}
  GaugeFamily& job_memory_per_user;        // weir_job_memory_reserved_bytes{user}
  CounterFamily& job_spawn_failures;       // weir_job_spawn_failures_total
  CounterFamily& job_archives;             // weir_job_archives_total{outcome}
  CounterFamily& job_dir_sweeps;           // weir_job_dir_sweeps_total
  CounterFamily& job_dirs_removed;         // weir_job_dirs_removed_total
  // Dependency cache (fetch/), copied from its statistics at each render.
  CounterFamily& cache_hits;              // weir_dependency_cache_hits_total
  CounterFamily& cache_misses;            // weir_dependency_cache_misses_total
  CounterFamily& cache_downloaded_bytes;  // weir_dependency_cache_downloaded_bytes_total
  CounterFamily& cache_evictions;         // weir_dependency_cache_evictions_total
  GaugeFamily& cache_bytes;               // weir_dependency_cache_bytes
  GaugeFamily& cache_entries;             // weir_dependency_cache_entries
  // Scheduler (scheduler/).
  CounterFamily& scheduler_fires;        // weir_scheduler_fires_total
  HistogramFamily& scheduler_fire_lag;   // weir_scheduler_fire_lag_seconds
  CounterFamily& workflow_instances;     // weir_workflow_instances_total{state}
  CounterFamily& workflow_step_retries;  // weir_workflow_step_retries_total
  // Store (timed at the JobStore interface).
  HistogramFamily& store_operation_duration;  // weir_store_operation_duration_seconds{operation}
  // The process, read from /proc at each render (process_metrics.h).
  GaugeFamily& process_resident_memory;  // process_resident_memory_bytes
  GaugeFamily& process_open_fds;         // process_open_fds
  GaugeFamily& process_max_fds;          // process_max_fds
  GaugeFamily& process_threads;          // process_threads
  GaugeFamily& build_info;               // weir_build_info{version} = 1
  // Cluster-wide, set by the leader's user-metrics task (cluster/leader_tasks.h); empty on the
  // other nodes.
  GaugeFamily& user_active_jobs;          // weir_user_active_jobs{user}
  GaugeFamily& user_active_memory_bytes;  // weir_user_active_memory_bytes{user}
};

// The families above, registered in DefaultRegistry() on the first call.
WeirMetrics& Weir();

// The outcome label of a submission refused with a status code (StatusCodeName), in lower
// case words: "invalid", "duplicate", "unsatisfiable", "user_limit", "capacity",
// "out_of_space", "error" for anything else.
std::string_view SubmissionOutcomeForCode(std::string_view status_code_name);

}  // namespace weir::metrics
