#include "server/server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>

#include "api/config_routes.h"
#include "api/http.h"
#include "api/job_routes.h"
#include "api/root_routes.h"
#include "common/clock.h"
#include "common/fs.h"
#include "exec/executor.h"
#include "exec/job_dir.h"
#include "resolve/resolve.h"
#include "service/job_service.h"
#include "store/store.h"

namespace weir::server {

namespace {

std::string DefaultHostName() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

class ServerImpl final : public Server {
 public:
  explicit ServerImpl(ServerConfig config) : config_(std::move(config)) {}
  ~ServerImpl() override { Stop(); }

  Status Start() override {
    Clock& clock = SystemClock::Instance();
    for (const auto& dir : {config_.data_dir, config_.JobsDir(), config_.SpoolDir()}) {
      if (Status s = MakeDirs(dir); !s.ok()) return s.WithContext("server.data_dir");
    }
    auto stores = store::OpenSqlite(config_.SqlitePath().string(), clock);
    if (!stores.ok()) return stores.status().WithContext("store.sqlite_path");
    stores_ = *stores;

    service::JobServiceOptions jo;
    jo.jobs_dir = std::filesystem::absolute(config_.JobsDir());
    jo.host_name = config_.host_name.empty() ? DefaultHostName() : config_.host_name;
    jo.weir_version = WEIR_VERSION;
    jo.default_job_memory_mb = config_.default_job_memory_mb;
    jo.max_job_memory_mb = config_.max_job_memory_mb;
    jo.max_system_memory_mb = config_.max_system_memory_mb;
    jo.max_active_jobs_per_user = config_.max_active_jobs_per_user;
    jo.queue_enabled = config_.queue_enabled;
    jo.max_queued_jobs = config_.max_queued_jobs;
    jo.setup_threads = config_.setup_threads;
    jo.launch.max_stdout_bytes = config_.max_stdout_bytes;
    jo.launch.max_stderr_bytes = config_.max_stderr_bytes;
    jo.launch.kill_grace = std::chrono::milliseconds(config_.kill_grace_ms);
    std::vector<std::unique_ptr<resolve::ClusterSelector>> selectors;
    selectors.push_back(resolve::NewRandomSelector());
    jobs_ = service::NewJobService(jo, stores_.config, stores_.jobs, exec::NewLocalExecutor(clock),
                                   exec::NewLocalFileFetcher(), std::move(selectors), clock);
    if (Status s = jobs_->Recover(); !s.ok()) return s.WithContext("recovering jobs");

    auto router = std::make_shared<api::Router>();
    api::RegisterRootRoutes(*router, [this] { return ready_.load(); });
    api::RegisterConfigRoutes(*router, stores_.config, clock);
    api::JobRoutesOptions jro;
    jro.spool_dir = std::filesystem::absolute(config_.SpoolDir());
    jro.max_attachment_bytes = config_.max_attachment_bytes;
    jro.max_total_attachment_bytes = config_.max_total_attachment_bytes;
    api::RegisterJobRoutes(*router, *jobs_, stores_.jobs, stores_.config, jro);

    api::HttpServerOptions ho;
    ho.host = config_.listen_host;
    ho.port = config_.listen_port;
    ho.threads = config_.http_threads;
    ho.spool_dir = std::filesystem::absolute(config_.SpoolDir());
    http_ = api::NewHttpServer(ho, router);
    if (Status s = http_->Start(); !s.ok()) return s.WithContext("server.listen");
    ready_ = true;
    spdlog::info("weir {} serving on {}:{}, data in {}", WEIR_VERSION, config_.listen_host,
                 http_->port(), std::filesystem::absolute(config_.data_dir).string());
    return Status::Ok();
  }

  void Stop() override {
    ready_ = false;
    if (http_) http_->Stop();
    if (jobs_) jobs_->Shutdown();
    http_.reset();
  }

  uint16_t port() const override { return http_ ? http_->port() : 0; }

 private:
  ServerConfig config_;
  std::atomic<bool> ready_{false};
  store::SqliteStores stores_;
  std::unique_ptr<service::JobService> jobs_;
  std::unique_ptr<api::HttpServer> http_;
};

}  // namespace

std::unique_ptr<Server> NewServer(ServerConfig config) {
  return std::make_unique<ServerImpl>(std::move(config));
}

}  // namespace weir::server
