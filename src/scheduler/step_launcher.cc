#include "scheduler/step_launcher.h"

#include <atomic>
#include <list>
#include <mutex>
#include <set>
#include <thread>

#include "service/job_service.h"

namespace weir::scheduler {
namespace {

// Ends are noticed without polling by one watcher thread per running job (up to kMaxWatchers),
// each blocked in JobService::WaitFinal, which wakes on every final transition of the service.
// When its job ends the watcher calls the end listener. Jobs beyond the cap, or adopted after
// a restart before State() is first asked about them, are seen by the scheduler's periodic pass.
constexpr size_t kMaxWatchers = 256;
constexpr Millis kWatchSlice{500};  // how long a watcher blocks before checking for shutdown

class JobServiceLauncher final : public StepLauncher {
 public:
  explicit JobServiceLauncher(service::JobService& jobs) : jobs_(jobs) {}

  ~JobServiceLauncher() override {
    std::list<Watcher> watchers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      watchers.swap(watchers_);
    }
    for (Watcher& w : watchers) w.thread.join();
  }

  Status Launch(const model::JobRequest& request) override {
    service::Submission s;
    s.request = request;
    s.client_host = "weir-scheduler";
    s.user_agent = "weir-scheduler";
    Result<std::string> id = jobs_.Submit(std::move(s));
    if (id.ok()) Watch(*id);
    return id.ok() ? Status::Ok() : id.status();
  }

  Result<StepJobState> State(const std::string& job_id) override {
    Result<model::JobRecord> r = jobs_.Get(job_id);
    if (!r.ok()) return r.status();
    StepJobState st;
    st.status = r->job.status;
    st.message = r->job.status_msg;
    st.exit_code = r->execution.exit_code;
    if (model::IsActive(st.status)) Watch(job_id);  // e.g. adopted after a restart
    return st;
  }

  Status Kill(const std::string& job_id) override { return jobs_.Kill(job_id); }

  void SetEndListener(std::function<void()> listener) override {
    std::lock_guard<std::mutex> lock(mu_);
    listener_ = std::make_shared<std::function<void()>>(std::move(listener));
  }

 private:
  struct Watcher {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void Watch(const std::string& job_id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !listener_ || watching_.count(job_id)) return;
    // Reap watchers whose job ended.
    for (auto it = watchers_.begin(); it != watchers_.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = watchers_.erase(it);
      } else {
        ++it;
      }
    }
    if (watchers_.size() >= kMaxWatchers) return;
    watching_.insert(job_id);
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<std::function<void()>> listener = listener_;
    watchers_.push_back(Watcher{std::thread([this, job_id, done, listener] {
                                  WatchLoop(job_id, *listener);
                                  {
                                    std::lock_guard<std::mutex> l(mu_);
                                    watching_.erase(job_id);
                                  }
                                  done->store(true);
                                }),
                                done});
  }

  void WatchLoop(const std::string& job_id, const std::function<void()>& listener) {
    while (true) {
      Result<model::JobRecord> r = jobs_.WaitFinal(job_id, kWatchSlice);
      if (r.ok()) {
        listener();
        return;
      }
      if (r.status().code() != StatusCode::kDeadlineExceeded) return;  // unknown job, I/O error
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
  }

  service::JobService& jobs_;
  std::mutex mu_;
  bool stopping_ = false;                            // GUARDED_BY(mu_)
  std::shared_ptr<std::function<void()>> listener_;  // GUARDED_BY(mu_)
  std::set<std::string> watching_;                   // GUARDED_BY(mu_)
  std::list<Watcher> watchers_;                      // GUARDED_BY(mu_)
};

}  // namespace

std::unique_ptr<StepLauncher> NewJobServiceLauncher(service::JobService& jobs) {
  return std::make_unique<JobServiceLauncher>(jobs);
}

}  // namespace weir::scheduler
