#include "server/server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "api/access.h"
#include "api/admin_routes.h"
#include "api/asset_routes.h"
#include "api/auth_gate.h"
#include "api/config_routes.h"
#include "api/http.h"
#include "api/job_routes.h"
#include "api/root_routes.h"
#include "api/workflow_routes.h"
#include "archive/archived_outputs.h"
#include "archive/job_archive.h"
#include "assets/registry.h"
#include "auth/authenticators.h"
#include "blob/blob_store.h"
#include "blob/s3_blob_store.h"
#include "common/clock.h"
#include "common/disk_space.h"
#include "common/fs.h"
#include "common/strings.h"
#include "exec/executor.h"
#include "exec/job_dir.h"
#include "fetch/fetcher.h"
#include "resolve/resolve.h"
#include "scheduler/scheduler.h"
#include "server/descriptors.h"
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
    // Before anything is opened: no listening without authentication where others reach us.
    WEIR_RETURN_IF_ERROR(CheckAuthExposure(config_));
    auto authenticator = NewAuthenticator(clock);
    if (!authenticator.ok()) return authenticator.status();
    auto access = std::make_shared<api::AccessPolicy>();
    access->admin_impersonation = config_.admin_impersonation;
    access->output_readable_by_all = config_.output_readable_by_all;
    access->deploy_roles = config_.deploy_roles;
    access->namespace_owners = config_.namespace_owners;
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
    // Free-space floor (jobs.min_free_disk_mb) on the data dir and the jobs dir; health reports it.
    disk_floor_ = std::make_shared<FreeSpaceFloor>(
        std::vector<std::filesystem::path>{std::filesystem::absolute(config_.data_dir),
                                           jo.jobs_dir},
        config_.min_free_disk_mb << 20, "jobs.min_free_disk_mb");
    jo.free_space_floor = disk_floor_;
    auto fetcher = NewNodeFetcher(clock);
    if (!fetcher.ok()) return fetcher.status();
    const fetch::DependencyCache* cache = (*fetcher)->cache();
    auto s3 = fetch::S3Client::Create(fetch::S3ConfigWithEnvironment(S3Settings()), clock);
    if (!s3.ok()) return s3.status().WithContext("s3 settings");
    s3_ = std::move(*s3);
    if (Status s = SetUpArchives(jo, clock); !s.ok()) return s;
    std::vector<std::unique_ptr<resolve::ClusterSelector>> selectors;
    selectors.push_back(resolve::NewRandomSelector());
    jobs_ = service::NewJobService(jo, stores_.config, stores_.jobs, exec::NewLocalExecutor(clock),
                                   std::unique_ptr<exec::Fetcher>(std::move(*fetcher)),
                                   std::move(selectors), clock);
    if (Status s = jobs_->Recover(); !s.ok()) return s.WithContext("recovering jobs");

    auto router = std::make_shared<api::Router>();
    api::RegisterRootRoutes(
        *router, [this] { return ready_.load(); }, [this] { return Health(); });
    api::RegisterConfigRoutes(*router, stores_.config, clock);
    api::JobRoutesOptions jro;
    jro.spool_dir = std::filesystem::absolute(config_.SpoolDir());
    jro.max_attachment_bytes = config_.max_attachment_bytes;
    jro.max_total_attachment_bytes = config_.max_total_attachment_bytes;
    jro.archived_outputs = archived_outputs_;
    jro.max_listing_entries = static_cast<uint64_t>(config_.output_listing_max_entries);
    jro.access = access;
    // Routes read a job through the service: an end the store refused so far is already shown.
    api::RegisterJobRoutes(*router, *jobs_, service::CurrentRecords(*jobs_, stores_.jobs),
                           stores_.config, jro);
    api::RegisterAdminRoutes(*router, api::AdminRoutesOptions{cache});
    api::RegisterMeRoute(*router);

    auto blobs = config_.blob_backend == "s3"
                     ? blob::NewS3BlobStore({config_.blob_s3_bucket, config_.blob_s3_prefix,
                                             std::filesystem::absolute(config_.SpoolDir())},
                                            s3_)
                     : blob::NewBlobStore("local", blob::BlobStoreConfig{config_.BlobsDir(), {}});
    if (!blobs.ok()) return blobs.status().WithContext("assets.blob_backend");
    blobs_ = std::move(*blobs);
    auto registry = assets::AssetRegistry::Open(config_.SqlitePath().string(), blobs_, clock, 10000);
    if (!registry.ok()) return registry.status().WithContext("asset registry");
    registry_ = std::move(*registry);
    api::AssetRouteOptions ao;
    ao.max_upload_bytes = static_cast<uint64_t>(config_.max_asset_bytes);
    ao.access = access;
    api::RegisterAssetRoutes(*router, registry_, ao);

    // The scheduler: deployments verified against the blob store and the registry's hashes,
    // steps run as jobs through the same JobService as the API.
    scheduler::SchedulerOptions so;
    so.db_path = config_.SqlitePath().string();
    auto bundle_blobs = scheduler::NewBlobStoreBundleBlobs(
        blobs_, std::filesystem::absolute(config_.BundleFilesDir()),
        [registry = registry_](std::string_view uuid) -> Result<std::string> {
          auto r = registry->Get(uuid);
          if (!r.ok()) return r.status();
          return r->sha256;
        });
    auto launcher =
        std::shared_ptr<scheduler::StepLauncher>(scheduler::NewJobServiceLauncher(*jobs_));
    auto sched = scheduler::Scheduler::Open(so, bundle_blobs, launcher, clock);
    if (!sched.ok()) return sched.status().WithContext("scheduler");
    scheduler_ = std::shared_ptr<scheduler::Scheduler>(std::move(*sched));
    if (Status s = scheduler_->Recover(); !s.ok()) return s.WithContext("recovering workflows");
    api::WorkflowRouteOptions wo;
    wo.access = access;
    api::RegisterWorkflowRoutes(*router, scheduler_, wo);
    if (Status s = scheduler_->Start(); !s.ok()) return s.WithContext("scheduler");

    api::HttpServerOptions ho;
    ho.host = config_.listen_host;
    ho.port = config_.listen_port;
    ho.threads = config_.http_threads;
    ho.spool_dir = std::filesystem::absolute(config_.SpoolDir());
    if (Status s = SetHttpLimits(ho); !s.ok()) return s;
    if (*authenticator) ho.gate = api::MakeAuthGate(std::move(*authenticator));
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
    // The scheduler's launcher holds the job service: stop it first.
    if (scheduler_) scheduler_->Shutdown();
    scheduler_.reset();
    if (jobs_) jobs_->Shutdown();
    http_.reset();
  }

  uint16_t port() const override { return http_ ? http_->port() : 0; }

 private:
  // /admin/health details: free space against the floor, status writes the store refused.
  std::vector<api::HealthComponent> Health() {
    std::vector<api::HealthComponent> out;
    api::HealthComponent disk;
    disk.name = "diskSpace";
    disk.numbers["threshold"] = disk_floor_->min_free_bytes();
    bool first = true;
    for (const DiskSpaceReading& r : disk_floor_->Read()) {
      if (!r.ok) continue;
      // The emptiest watched file system speaks for all.
      if (first || r.free_bytes < disk.numbers["free"]) {
        disk.numbers["free"] = r.free_bytes;
        disk.numbers["total"] = r.total_bytes;
        disk.texts["path"] = r.path.string();
      }
      first = false;
    }
    disk.up = disk_floor_->Check().ok();
    out.push_back(std::move(disk));
    api::HealthComponent store;
    store.name = "jobStore";
    service::WriteBacklog backlog = jobs_->PendingWrites();
    store.up = backlog.records == 0;
    store.numbers["unwrittenJobRecords"] = backlog.records;
    if (!backlog.last_error.empty()) store.texts["error"] = backlog.last_error;
    out.push_back(std::move(store));
    return out;
  }

  // auth.*: the authenticator of auth.mode required (static tokens, JWT, client certificates);
  // null with auth.mode none, which is logged as a warning.
  Result<std::shared_ptr<auth::Authenticator>> NewAuthenticator(const Clock& clock) {
    if (config_.auth_mode == "none") {
      spdlog::warn(
          "auth.mode is none: every request is served as an admin with no identity; set "
          "auth.mode: required before others can reach this server (docs/security.md)");
      return std::shared_ptr<auth::Authenticator>();
    }
    auth::ChainOptions co;
    if (!config_.static_tokens_file.empty()) {
      auto tokens = auth::LoadStaticTokens(config_.static_tokens_file);
      if (!tokens.ok()) return tokens.status().WithContext("auth.static_tokens_file");
      co.static_tokens = std::move(*tokens);
    }
    if (config_.jwt) {
      auto jwt = auth::NewJwtAuthenticator(*config_.jwt, clock);
      if (!jwt.ok()) return jwt.status().WithContext("auth.jwt");
      co.jwt = std::move(*jwt);
    }
    if (config_.mtls_enabled) {
      auth::MtlsConfig m;
      m.roles_by_name = config_.mtls_roles;
      m.default_roles = config_.mtls_default_roles;
      co.mtls = std::move(m);
    }
    spdlog::info("auth: required; {} static tokens, JWT {}, client certificates {}",
                 co.static_tokens.size(), co.jwt ? "on" : "off", co.mtls ? "on" : "off");
    return std::shared_ptr<auth::Authenticator>(auth::NewChainAuthenticator(std::move(co)));
  }

  // The HTTP layer's limits (server.* settings): the descriptor limit raised and the connection
  // cap fitted under it, deadlines, trusted proxies. Logs the figures.
  Status SetHttpLimits(api::HttpServerOptions& ho) {
    auto budget = RaiseDescriptorLimit(config_.max_connections, config_.fd_reserve);
    if (!budget.ok()) return budget.status();
    if (budget->lowered) {
      spdlog::warn(
          "server.max_connections {} does not fit the descriptor limit {} with the "
          "reserve of {} (server.fd_reserve): using {}",
          config_.max_connections, budget->limit, config_.fd_reserve, budget->max_connections);
    }
    auto proxies = api::IpSet::Parse(config_.trusted_proxies);
    if (!proxies.ok()) return proxies.status().WithContext("config server.trusted_proxies");
    ho.handler_threads =
        config_.handler_threads > 0
            ? config_.handler_threads
            : std::max(4, 2 * static_cast<int>(std::thread::hardware_concurrency()));
    ho.max_connections = budget->max_connections;
    ho.max_connections_per_client =
        std::min(config_.max_connections_per_client, budget->max_connections);
    ho.header_timeout = std::chrono::milliseconds(config_.header_timeout_ms);
    ho.idle_timeout = std::chrono::milliseconds(config_.idle_timeout_ms);
    ho.body_grace = std::chrono::milliseconds(config_.body_grace_ms);
    ho.min_body_bytes_per_s = static_cast<uint64_t>(config_.min_body_bytes_per_s);
    ho.trusted_proxies = std::move(*proxies);
    spdlog::info(
        "http: descriptors {} (was {}), {} kept in reserve; at most {} connections, {} "
        "per client; {} handler threads; {} trusted proxies",
        budget->limit, budget->soft_before, config_.fd_reserve, ho.max_connections,
        ho.max_connections_per_client, ho.handler_threads, config_.trusted_proxies.size());
    return Status::Ok();
  }

  fetch::S3Config S3Settings() const {
    fetch::S3Config s3;
    s3.endpoint = config_.s3_endpoint;
    s3.region = config_.s3_region;
    s3.addressing = config_.s3_addressing == "path"      ? fetch::S3Addressing::kPath
                    : config_.s3_addressing == "virtual" ? fetch::S3Addressing::kVirtualHost
                                                         : fetch::S3Addressing::kAuto;
    s3.credentials.access_key_id = config_.s3_access_key_id;
    s3.credentials.secret_access_key = config_.s3_secret_access_key;
    s3.http.connect_timeout = Millis(config_.fetch_connect_timeout_ms);
    s3.http.low_speed_timeout = Millis(config_.fetch_stall_timeout_ms);
    return s3;
  }

  // Archives of finished jobs, the retention sweep, and reading output back from archives.
  Status SetUpArchives(service::JobServiceOptions& jo, Clock& clock) {
    if (config_.archive_location == "none") return Status::Ok();
    archive::ArchiverOptions ao;
    ao.location = config_.archive_location.empty()
                      ? "file://" + std::filesystem::absolute(config_.data_dir / "archives").string()
                      : config_.archive_location;
    ao.scratch_dir = std::filesystem::absolute(config_.SpoolDir());
    if (StartsWith(ao.location, "file://")) {
      WEIR_RETURN_IF_ERROR(MakeDirs(ao.location.substr(7)).WithContext("archive.location"));
    }
    auto archiver = archive::JobArchiver::Create(ao, s3_);
    if (!archiver.ok()) return archiver.status().WithContext("archive.location");
    std::shared_ptr<const archive::JobArchiver> shared = std::move(*archiver);
    jo.archiver = shared;
    jo.job_dir_retention = std::chrono::hours(config_.job_dir_retention_hours);
    jo.sweep_interval = std::chrono::seconds(config_.sweep_interval_s);
    archive::ArchivedOutputsOptions oo;
    oo.dir = std::filesystem::absolute(config_.data_dir / "archive-cache");
    oo.max_bytes = config_.archive_output_cache_max_bytes;
    auto outputs = archive::ArchivedOutputs::Create(oo, shared, clock);
    if (!outputs.ok()) return outputs.status().WithContext("archive.output_cache_max_bytes");
    archived_outputs_ = std::move(*outputs);
    return Status::Ok();
  }

  // file, http(s) and s3 URIs, remote ones through the node's dependency cache.
  Result<std::unique_ptr<fetch::UriFetcher>> NewNodeFetcher(Clock& clock) {
    fetch::FetchOptions fo;
    fo.http.connect_timeout = Millis(config_.fetch_connect_timeout_ms);
    fo.http.low_speed_timeout = Millis(config_.fetch_stall_timeout_ms);
    fo.s3 = S3Settings();
    // Job requests' URIs: the server's own blob and bundle-file folders (asset and workflow
    // file URIs point there) are always readable, plus what the administrator allows.
    for (const std::string& root : config_.fetch_allowed_file_roots) {
      fo.perimeter.allowed_file_roots.emplace_back(root);
    }
    if (config_.blob_backend == "local") {
      fo.perimeter.allowed_file_roots.push_back(std::filesystem::absolute(config_.BlobsDir()));
    }
    fo.perimeter.allowed_file_roots.push_back(std::filesystem::absolute(config_.BundleFilesDir()));
    for (const std::string& network : config_.fetch_allowed_networks) {
      auto parsed = fetch::IpNetwork::Parse(network);
      if (!parsed.ok()) return parsed.status().WithContext("fetch.allowed_networks");
      fo.perimeter.allowed_networks.push_back(*parsed);
    }
    if (config_.cache_enabled) {
      fetch::CacheOptions co;
      co.dir = std::filesystem::absolute(config_.CacheDir());
      co.max_bytes = config_.cache_max_bytes;
      fo.cache = co;
    }
    auto f = fetch::NewFetcher(fo, clock);
    if (!f.ok()) return f.status().WithContext("fetch/s3 settings");
    return std::move(*f);
  }

  ServerConfig config_;
  std::atomic<bool> ready_{false};
  std::shared_ptr<FreeSpaceFloor> disk_floor_;
  store::SqliteStores stores_;
  std::unique_ptr<service::JobService> jobs_;
  std::shared_ptr<fetch::S3Client> s3_;
  std::shared_ptr<archive::ArchivedOutputs> archived_outputs_;
  std::shared_ptr<blob::BlobStore> blobs_;
  std::shared_ptr<assets::AssetRegistry> registry_;
  std::shared_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<api::HttpServer> http_;
};

}  // namespace

std::unique_ptr<Server> NewServer(ServerConfig config) {
  return std::make_unique<ServerImpl>(std::move(config));
}

}  // namespace weir::server
