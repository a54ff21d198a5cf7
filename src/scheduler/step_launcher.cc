#include "scheduler/step_launcher.h"

#include <atomic>
#include <fstream>
#include <list>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <vector>

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
    if (!model::IsActive(st.status) && st.status != model::JobStatus::kSucceeded) {
      st.stderr_tail = TailOfFile((jobs_.JobDirectory(job_id) / "stderr").string(),
                                  kStderrTailLines, kStderrTailBytes);
    }
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

std::string TailOfFile(const std::string& path, size_t max_lines, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in || max_lines == 0 || max_bytes == 0) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size <= 0) return "";
  const std::streamoff from = size > static_cast<std::streamoff>(max_bytes)
                                  ? size - static_cast<std::streamoff>(max_bytes)
                                  : 0;
  in.seekg(from);
  std::string text(static_cast<size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (from > 0) {
    size_t nl = text.find('\n');
    text = nl == std::string::npos ? "" : text.substr(nl + 1);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::vector<std::string_view> lines;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  std::string out;
  const size_t first = lines.size() > max_lines ? lines.size() - max_lines : 0;
  for (size_t i = first; i < lines.size(); ++i) {
    if (i > first) out += '\n';
    out += lines[i];
  }
  return out;
}

std::unique_ptr<StepLauncher> NewJobServiceLauncher(service::JobService& jobs) {
  return std::make_unique<JobServiceLauncher>(jobs);
}

}  // namespace weir::scheduler
