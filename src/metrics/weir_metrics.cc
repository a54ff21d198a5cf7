#include "metrics/weir_metrics.h"

#include "metrics/process_metrics.h"

namespace weir::metrics {

namespace {

// Seconds from a submission to RUNNING: set-up (dependency downloads) can take minutes.
std::vector<double> StartBuckets() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
}

// Seconds a cron fire was handled after its fire time: the scheduler's tick, or a catch-up.
std::vector<double> LagBuckets() { return {0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600}; }

WeirMetrics* Make() {
  Registry& r = DefaultRegistry();
  auto* m = new WeirMetrics{
      r.AddCounter("weir_http_requests_total",
                   "HTTP requests answered by a route or refused by the request gate, by method, "
                   "route pattern and status code",
                   {"method", "route", "status"}),
      r.AddHistogram("weir_http_request_duration_seconds",
                     "Time from a request's head read to its response made, by method and route "
                     "pattern",
                     {"method", "route"}, LatencyBuckets()),
      r.AddCounter("weir_job_transitions_total",
                   "Job status changes recorded, by the status entered (INIT when accepted)",
                   {"status"}),
      r.AddCounter("weir_job_submissions_total",
                   "Job submissions by outcome (accepted, or why they were refused)", {"outcome"}),
      r.AddHistogram("weir_job_submit_to_running_seconds",
                     "Time from a job's submission to its RUNNING record", {}, StartBuckets()),
      r.AddGauge("weir_job_queue_length", "Jobs waiting in the queue for node capacity"),
      r.AddGauge("weir_jobs_active",
                 "Active jobs on this node by phase (queued, setting_up, running)", {"phase"}),
      r.AddGauge("weir_jobs_running", "Running jobs by user", {"user"}),
      r.AddGauge("weir_job_memory_reserved_bytes",
                 "Memory reserved by the user's admitted jobs on this node", {"user"}),
      r.AddCounter("weir_job_spawn_failures_total",
                   "Jobs whose run script could not be started (the job ends FAILED)"),
      r.AddCounter("weir_job_archives_total", "Job folder archives written (ok) or failed",
                   {"outcome"}),
      r.AddCounter("weir_job_dir_sweeps_total", "Passes of the job directory sweep"),
      r.AddCounter("weir_job_dirs_removed_total",
                   "Job directories removed by the sweep (archived, retention passed)"),
      r.AddCounter("weir_dependency_cache_hits_total",
                   "Dependency fetches served from the node's cache"),
      r.AddCounter("weir_dependency_cache_misses_total",
                   "Dependency fetches that downloaded the body"),
      r.AddCounter("weir_dependency_cache_downloaded_bytes_total",
                   "Body bytes the dependency cache downloaded"),
      r.AddCounter("weir_dependency_cache_evictions_total",
                   "Dependency cache entries evicted to respect its size bound"),
      r.AddGauge("weir_dependency_cache_bytes", "Total size of the dependency cache's entries"),
      r.AddGauge("weir_dependency_cache_entries", "Entries in the dependency cache"),
      r.AddCounter("weir_scheduler_fires_total", "Cron fires that created a workflow instance"),
      r.AddHistogram("weir_scheduler_fire_lag_seconds",
                     "Time from a cron fire time to the instance created for it", {}, LagBuckets()),
      r.AddCounter("weir_workflow_instances_total",
                   "Workflow instances by the state they entered (RUNNING when created, then "
                   "their end)",
                   {"state"}),
      r.AddCounter("weir_workflow_step_retries_total",
                   "Workflow step attempts that failed and were scheduled to run again"),
      r.AddHistogram("weir_store_operation_duration_seconds",
                     "Time of job store operations, by operation", {"operation"}, LatencyBuckets()),
      r.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes"),
      r.AddGauge("process_open_fds", "Number of open file descriptors"),
      r.AddGauge("process_max_fds", "Maximum number of open file descriptors (soft limit)"),
      r.AddGauge("process_threads", "Number of threads of the process"),
      r.AddGauge("weir_build_info", "Always 1; the label names the weir version", {"version"}),
      r.AddGauge("weir_user_active_jobs",
                 "Active (INIT or RUNNING) jobs of the whole cluster by user, set by the leader "
                 "(user=\"_other\" sums the users past metrics.user_max_series)",
                 {"user"}),
      r.AddGauge("weir_user_active_memory_bytes",
                 "Memory asked for by the user's active jobs over the whole cluster, set by the "
                 "leader",
                 {"user"}),
  };
  r.AddCollector([m] { CollectProcessMetrics(*m); });
  return m;
}

}  // namespace

WeirMetrics& Weir() {
  static WeirMetrics* m = Make();  // never destroyed: threads may record at exit
  return *m;
}

std::string_view SubmissionOutcomeForCode(std::string_view code) {
  if (code == "OK") return "accepted";
  if (code == "INVALID_ARGUMENT" || code == "PAYLOAD_TOO_LARGE") return "invalid";
  if (code == "ALREADY_EXISTS") return "duplicate";
  if (code == "FAILED_PRECONDITION") return "unsatisfiable";
  if (code == "RESOURCE_EXHAUSTED") return "user_limit";
  if (code == "UNAVAILABLE") return "capacity";
  if (code == "OUT_OF_SPACE") return "out_of_space";
  if (code == "PERMISSION_DENIED") return "denied";
  return "error";
}

}  // namespace weir::metrics
