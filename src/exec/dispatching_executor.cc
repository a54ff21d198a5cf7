// NewDispatchingExecutor (executor.h): one Executor in front of the local and the Slurm one.
#include <mutex>
#include <unordered_map>

#include "exec/executor.h"
#include "exec/slurm_executor.h"

namespace weir::exec {

namespace {

class DispatchingExecutor final : public Executor {
 public:
  DispatchingExecutor(std::unique_ptr<Executor> local, std::unique_ptr<Executor> slurm)
      : local_(std::move(local)), slurm_(std::move(slurm)) {}

  void SetListener(Listener listener) override {
    listener_ = std::move(listener);
    auto forward = [this](const JobEnd& end) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        on_slurm_.erase(end.job_id);
      }
      listener_(end);
    };
    local_->SetListener(forward);
    slurm_->SetListener(forward);
  }

  void SetProgressListener(ProgressListener listener) override {
    local_->SetProgressListener(listener);
    slurm_->SetProgressListener(std::move(listener));
  }

  Result<Launched> Launch(const std::string& job_id, const std::filesystem::path& job_dir,
                          const LaunchOptions& options) override {
    if (!options.slurm) return local_->Launch(job_id, job_dir, options);
    {
      std::lock_guard<std::mutex> lock(mu_);
      on_slurm_.insert({job_id, true});
    }
    auto r = slurm_->Launch(job_id, job_dir, options);
    if (!r.ok() && r.status().code() != StatusCode::kAlreadyExists) {
      std::lock_guard<std::mutex> lock(mu_);
      on_slurm_.erase(job_id);
    }
    return r;
  }

  Status Kill(const std::string& job_id, std::string_view reason) override {
    bool slurm;
    {
      std::lock_guard<std::mutex> lock(mu_);
      slurm = on_slurm_.count(job_id) > 0;
    }
    return slurm ? slurm_->Kill(job_id, reason) : local_->Kill(job_id, reason);
  }

  void Recover(const std::string& job_id, const std::filesystem::path& job_dir,
               const LaunchOptions& options, TimePoint started) override {
    if (!ReadSlurmJobId(job_dir)) {
      local_->Recover(job_id, job_dir, options, started);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      on_slurm_.insert({job_id, true});
    }
    slurm_->Recover(job_id, job_dir, options, started);
  }

  size_t RunningCount() const override { return local_->RunningCount() + slurm_->RunningCount(); }

  void Shutdown() override {
    local_->Shutdown();
    slurm_->Shutdown();
  }

 private:
  std::unique_ptr<Executor> local_, slurm_;
  Listener listener_;
  std::mutex mu_;
  std::unordered_map<std::string, bool> on_slurm_;
};

}  // namespace

std::unique_ptr<Executor> NewDispatchingExecutor(std::unique_ptr<Executor> local,
                                                 std::unique_ptr<Executor> slurm) {
  return std::make_unique<DispatchingExecutor>(std::move(local), std::move(slurm));
}

}  // namespace weir::exec
