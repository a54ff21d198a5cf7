#include "server/server_metrics.h"

#include <chrono>
#include <type_traits>
#include <utility>

#include "metrics/weir_metrics.h"

namespace weir::server {

namespace {

class TimedStore final : public store::JobStore {
 public:
  explicit TimedStore(std::shared_ptr<store::JobStore> store)
      : store_(std::move(store)), m_(metrics::Weir()) {}

  Status CreateJob(const model::JobRecord& r) override {
    return Timed("create_job", [&] { return store_->CreateJob(r); });
  }
  Result<model::JobRecord> GetJob(const std::string& id) override {
    return Timed("get_job", [&] { return store_->GetJob(id); });
  }
  Status UpdateJob(const model::JobRecord& r) override {
    return Timed("update_job", [&] { return store_->UpdateJob(r); });
  }
  Result<store::Page<model::JobRecord>> SearchJobs(const store::JobFilter& f,
                                                   const store::PageRequest& p) override {
    return Timed("search_jobs", [&] { return store_->SearchJobs(f, p); });
  }
  Result<std::vector<model::JobRecord>> JobsWithStatus(
      const std::vector<model::JobStatus>& statuses) override {
    return Timed("jobs_with_status", [&] { return store_->JobsWithStatus(statuses); });
  }
  Result<int64_t> CountActiveJobs(const std::string& user) override {
    return Timed("count_active_jobs", [&] { return store_->CountActiveJobs(user); });
  }
  Result<std::optional<model::JobRecord>> ClaimQueuedJob(const std::string& node,
                                                         int64_t max_memory_mb,
                                                         TimePoint now) override {
    return Timed("claim_queued_job",
                 [&] { return store_->ClaimQueuedJob(node, max_memory_mb, now); });
  }
  Result<bool> UnqueueJob(const std::string& id) override {
    return Timed("unqueue_job", [&] { return store_->UnqueueJob(id); });
  }
  Result<std::vector<model::JobRecord>> DeleteFinishedJobs(TimePoint before, int limit) override {
    return Timed("delete_finished_jobs", [&] { return store_->DeleteFinishedJobs(before, limit); });
  }

 private:
  template <typename F>
  std::invoke_result_t<F> Timed(const char* operation, F&& f) {
    const auto start = std::chrono::steady_clock::now();
    auto result = f();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    m_.store_operation_duration.With({operation}).Observe(took.count());
    return result;
  }

  std::shared_ptr<store::JobStore> store_;
  metrics::WeirMetrics& m_;
};

}  // namespace

std::shared_ptr<store::JobStore> TimedJobStore(std::shared_ptr<store::JobStore> store) {
  return std::make_shared<TimedStore>(std::move(store));
}

int AddServerCollector(service::JobService& jobs, const fetch::DependencyCache* cache,
                       std::string version) {
  metrics::WeirMetrics& m = metrics::Weir();
  m.build_info.With({version}).Set(1);
  return metrics::DefaultRegistry().AddCollector([&m, &jobs, cache] {
    const service::ServiceLoad load = jobs.Load();
    m.job_queue_length.With({}).Set(static_cast<double>(load.queued));
    m.jobs_active.With({"queued"}).Set(static_cast<double>(load.queued));
    m.jobs_active.With({"setting_up"}).Set(static_cast<double>(load.setting_up));
    m.jobs_active.With({"running"}).Set(static_cast<double>(load.running));
    // Users without active jobs drop out (bounded by the users active now).
    m.jobs_running_per_user.Clear();
    m.job_memory_per_user.Clear();
    for (const auto& [user, u] : load.users) {
      m.jobs_running_per_user.With({user}).Set(static_cast<double>(u.running));
      m.job_memory_per_user.With({user}).Set(static_cast<double>(u.memory_mb) * 1024 * 1024);
    }
    if (cache != nullptr) {
      const fetch::CacheStats s = cache->Stats();
      m.cache_hits.With({}).SetTotal(static_cast<double>(s.hits));
      m.cache_misses.With({}).SetTotal(static_cast<double>(s.misses));
      m.cache_downloaded_bytes.With({}).SetTotal(static_cast<double>(s.bytes_downloaded));
      m.cache_evictions.With({}).SetTotal(static_cast<double>(s.evictions));
      m.cache_bytes.With({}).Set(static_cast<double>(s.bytes));
      m.cache_entries.With({}).Set(static_cast<double>(s.entries));
    }
  });
}

}  // namespace weir::server
