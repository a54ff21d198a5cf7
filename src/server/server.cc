#include "server/server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>

#include "api/asset_routes.h"
#include "api/config_routes.h"
#include "api/http.h"
#include "api/job_routes.h"
#include "api/root_routes.h"
#include "assets/registry.h"
#include "blob/blob_store.h"
#include "common/clock.h"
#include "common/fs.h"
#include "exec/executor.h"
#include "exec/job_dir.h"
#include "fetch/fetcher.h"
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
    auto fetcher = NewNodeFetcher(clock);
    if (!fetcher.ok()) return fetcher.status();
    std::vector<std::unique_ptr<resolve::ClusterSelector>> selectors;
    selectors.push_back(resolve::NewRandomSelector());
    jobs_ = service::NewJobService(jo, stores_.config, stores_.jobs, exec::NewLocalExecutor(clock),
                                   std::move(*fetcher), std::move(selectors), clock);
    if (Status s = jobs_->Recover(); !s.ok()) return s.WithContext("recovering jobs");

    auto router = std::make_shared<api::Router>();
    api::RegisterRootRoutes(*router, [this] { return ready_.load(); });
    api::RegisterConfigRoutes(*router, stores_.config, clock);
    api::JobRoutesOptions jro;
    jro.spool_dir = std::filesystem::absolute(config_.SpoolDir());
    jro.max_attachment_bytes = config_.max_attachment_bytes;
    jro.max_total_attachment_bytes = config_.max_total_attachment_bytes;
    api::RegisterJobRoutes(*router, *jobs_, stores_.jobs, stores_.config, jro);

    auto blobs = blob::NewBlobStore(config_.blob_backend, blob::BlobStoreConfig{config_.BlobsDir(), {}});
    if (!blobs.ok()) return blobs.status().WithContext("assets.blob_backend");
    blobs_ = std::move(*blobs);
    auto registry = assets::AssetRegistry::Open(config_.SqlitePath().string(), blobs_, clock, 10000);
    if (!registry.ok()) return registry.status().WithContext("asset registry");
    registry_ = std::move(*registry);
    api::AssetRouteOptions ao;
    ao.max_upload_bytes = static_cast<uint64_t>(config_.max_asset_bytes);
    api::RegisterAssetRoutes(*router, registry_, ao);

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
  // file, http(s) and s3 URIs, remote ones through the node's dependency cache.
  Result<std::unique_ptr<exec::Fetcher>> NewNodeFetcher(Clock& clock) {
    fetch::FetchOptions fo;
    fo.http.connect_timeout = Millis(config_.fetch_connect_timeout_ms);
    fo.http.low_speed_timeout = Millis(config_.fetch_stall_timeout_ms);
    fo.s3.endpoint = config_.s3_endpoint;
    fo.s3.region = config_.s3_region;
    fo.s3.addressing = config_.s3_addressing == "path"      ? fetch::S3Addressing::kPath
                       : config_.s3_addressing == "virtual" ? fetch::S3Addressing::kVirtualHost
                                                            : fetch::S3Addressing::kAuto;
    fo.s3.credentials.access_key_id = config_.s3_access_key_id;
    fo.s3.credentials.secret_access_key = config_.s3_secret_access_key;
    if (config_.cache_enabled) {
      fetch::CacheOptions co;
      co.dir = std::filesystem::absolute(config_.CacheDir());
      co.max_bytes = config_.cache_max_bytes;
      fo.cache = co;
    }
    auto f = fetch::NewFetcher(fo, clock);
    if (!f.ok()) return f.status().WithContext("fetch/s3 settings");
    return std::unique_ptr<exec::Fetcher>(std::move(*f));
  }

  ServerConfig config_;
  std::atomic<bool> ready_{false};
  store::SqliteStores stores_;
  std::unique_ptr<service::JobService> jobs_;
  std::shared_ptr<blob::BlobStore> blobs_;
  std::shared_ptr<assets::AssetRegistry> registry_;
  std::unique_ptr<api::HttpServer> http_;
};

}  // namespace

std::unique_ptr<Server> NewServer(ServerConfig config) {
  return std::make_unique<ServerImpl>(std::move(config));
}

}  // namespace weir::server
