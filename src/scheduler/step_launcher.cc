#include "scheduler/step_launcher.h"

#include "service/job_service.h"

namespace weir::scheduler {
namespace {

class JobServiceLauncher final : public StepLauncher {
 public:
  explicit JobServiceLauncher(service::JobService& jobs) : jobs_(jobs) {}

  Status Launch(const model::JobRequest& request) override {
    service::Submission s;
    s.request = request;
    s.client_host = "weir-scheduler";
    s.user_agent = "weir-scheduler";
    Result<std::string> id = jobs_.Submit(std::move(s));
    return id.ok() ? Status::Ok() : id.status();
  }

  Result<StepJobState> State(const std::string& job_id) override {
    Result<model::JobRecord> r = jobs_.Get(job_id);
    if (!r.ok()) return r.status();
    StepJobState st;
    st.status = r->job.status;
    st.message = r->job.status_msg;
    st.exit_code = r->execution.exit_code;
    return st;
  }

  Status Kill(const std::string& job_id) override { return jobs_.Kill(job_id); }

 private:
  service::JobService& jobs_;
};

}  // namespace

std::unique_ptr<StepLauncher> NewJobServiceLauncher(service::JobService& jobs) {
  return std::make_unique<JobServiceLauncher>(jobs);
}

}  // namespace weir::scheduler
