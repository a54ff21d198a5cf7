#include "server/server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "api/access.h"
#include "api/admin_routes.h"
#include "api/asset_routes.h"
#include "api/audit.h"
#include "api/auth_gate.h"
#include "api/config_routes.h"
#include "api/event_routes.h"
#include "api/forwarding.h"
#include "api/http.h"
#include "api/job_routes.h"
#include "api/local_routes.h"
#include "api/metrics_routes.h"
#include "api/node_routes.h"
#include "api/openapi_routes.h"
#include "api/rate_limit.h"
#include "api/resolve_routes.h"
#include "api/root_routes.h"
#include "api/search_routes.h"
#include "api/ui_routes.h"
#include "api/webhook_routes.h"
#include "api/workflow_routes.h"
#include "archive/archived_outputs.h"
#include "archive/job_archive.h"
#include "assets/registry.h"
#include "auth/authenticators.h"
#include "blob/blob_store.h"
#include "blob/s3_blob_store.h"
#include "cluster/cluster.h"
#include "cluster/leader_tasks.h"
#include "common/clock.h"
#include "common/disk_space.h"
#include "common/fs.h"
#include "common/strings.h"
#include "exec/executor.h"
#include "exec/job_dir.h"
#include "exec/slurm_executor.h"
#include "fetch/fetcher.h"
#include "fetch/perimeter.h"
#include "metrics/metrics.h"
#include "metrics/weir_metrics.h"
#include "resolve/resolve.h"
#include "scheduler/scheduler.h"
#include "server/descriptors.h"
#include "server/event_sinks.h"
#include "server/server_metrics.h"
#include "service/job_service.h"
#include "service/webhook_dispatcher.h"
#include "store/store.h"

namespace weir::server {

namespace {

// The scheduler's entry in GET /api/weir/v1/admin/tasks.
constexpr const char* kSchedulerTask = "scheduler";

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
    if (config_.run_as_user) {
      if (::geteuid() != 0) {
        return FailedPrecondition(
            "config jobs.run_as_user: weir server must run as root to start jobs as their users");
      }
      // Everything the server makes from here on is its own alone (database, WAL, blobs, spool,
      // archives, caches); job folders are handed to their users explicitly.
      ::umask(077);
    }
    auto where = StoreLocationOf(config_);
    if (!where.ok()) return where.status();
    auto stores = store::OpenStores(*where, clock);
    if (!stores.ok()) {
      return stores.status().WithContext(config_.store_type == "postgresql" ? "store.url"
                                                                            : "store.sqlite_path");
    }
    stores_ = *stores;
    spdlog::info("store: jobs, configuration, audit, events, workflows and assets in {}",
                 store::DescribeLocation(*where));
    stores_.jobs = TimedJobStore(stores_.jobs);  // weir_store_operation_duration_seconds
    // The event log (both stores): job writes record their events in their own transaction; the
    // hub tells them to SSE subscribers (on PostgreSQL also those other servers store).
    if (stores_.events) {
      stores_.events->SetJobEvents(service::JobEvents(clock));
      service::EventHubOptions eo;
      eo.subscriber_buffer = static_cast<size_t>(config_.events_subscriber_buffer);
      auto hub = service::EventHub::Create(stores_.events, eo);
      if (!hub.ok()) return hub.status().WithContext("events");
      events_ = std::move(*hub);
    } else {
      spdlog::warn("events: the store keeps no event log; GET /api/weir/v1/events is off");
    }
    if (config_.run_as_user) {
      if (Status s = LockDownDataDir(); !s.ok()) return s;
    }

    service::JobServiceOptions jo;
    jo.jobs_dir = std::filesystem::absolute(config_.JobsDir());
    // The node id is what jobs record as their host (execution hostName) and what other nodes
    // look up to forward to this one.
    const std::string host = config_.host_name.empty() ? DefaultHostName() : config_.host_name;
    node_id_ = !config_.node_id.empty()   ? config_.node_id
               : config_.listen_port != 0 ? host + ":" + std::to_string(config_.listen_port)
                                          : host + "-" + std::to_string(::getpid());
    jo.host_name = node_id_;
    // Several servers on one PostgreSQL database share one queue (docs/scaling.md).
    jo.shared_queue = config_.store_type == "postgresql";
    jo.claim_interval = Millis(config_.node_claim_interval_ms);
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
    jo.local_heartbeat_timeout = Millis(config_.local_heartbeat_timeout_ms);
    // Checked four times per timeout: a lost runner is noticed within a quarter of it.
    jo.local_check_interval = Millis(std::max<int64_t>(50, config_.local_heartbeat_timeout_ms / 4));
    jo.run_as.enabled = config_.run_as_user;
    jo.run_as.map_rule = *exec::ParseUserMapRule(config_.run_as_user_map);  // checked at parse
    jo.run_as.min_uid = static_cast<uint32_t>(config_.run_as_min_uid);
    jo.run_as.create_missing_users = config_.create_missing_users;
    jo.run_as.env_allow = config_.run_as_env;
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
    // Jobs of clusters whose metadata says "executor": "slurm" go to Slurm, the others stay here.
    exec::SlurmExecutorOptions slurm;
    slurm.slurm_conf = config_.slurm_conf;
    slurm.poll_interval = std::chrono::milliseconds(config_.slurm_poll_interval_ms);
    auto executor = exec::NewDispatchingExecutor(exec::NewLocalExecutor(clock),
                                                 exec::NewSlurmExecutor(clock, slurm));
    jobs_ = service::NewJobService(jo, stores_.config, stores_.jobs, std::move(executor),
                                   std::unique_ptr<exec::Fetcher>(std::move(*fetcher)),
                                   std::move(selectors), clock);
    if (Status s = jobs_->Recover(); !s.ok()) return s.WithContext("recovering jobs");
    metrics_collector_ = AddServerCollector(*jobs_, cache, WEIR_VERSION);

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
    if (config_.forwarding_enabled && stores_.nodes) {
      api::ForwardingOptions fo;
      fo.node_id = node_id_;
      fo.nodes = stores_.nodes;
      fo.connect_timeout = Millis(config_.forwarding_connect_timeout_ms);
      fo.read_timeout = Millis(config_.forwarding_read_timeout_ms);
      jro.forwarder = std::make_shared<api::JobForwarder>(std::move(fo));
    }
    // Routes read a job through the service: an end the store refused so far is already shown.
    api::RegisterJobRoutes(*router, *jobs_, service::CurrentRecords(*jobs_, stores_.jobs),
                           stores_.config, jro);
    api::LocalRouteOptions lro;
    lro.spool_dir = jro.spool_dir;
    lro.max_upload_bytes = static_cast<uint64_t>(config_.local_max_upload_bytes);
    lro.heartbeat_interval = std::chrono::milliseconds(config_.local_heartbeat_timeout_ms / 3);
    lro.access = access;
    api::RegisterLocalRoutes(*router, *jobs_, service::CurrentRecords(*jobs_, stores_.jobs), lro);
    api::RegisterOpenApiRoute(*router);
    api::RegisterResolveRoutes(*router, *jobs_, stores_.config, access);
    api::RegisterAdminRoutes(*router, api::AdminRoutesOptions{cache});
    if (stores_.nodes) {
      if (Status s = StartNode(clock); !s.ok()) return s;
      api::RegisterNodeRoutes(*router, node_);
    }
    api::RegisterAuditRoutes(*router, stores_.audit);
    api::RegisterMeRoute(*router);
    if (events_) {
      api::RegisterEventRoutes(
          *router, events_,
          api::EventRouteOptions{std::chrono::seconds(config_.events_heartbeat_seconds)});
    }
    api::RegisterMetricsRoute(*router);
    // Webhooks: one delivery worker per subscription, on either store. With several servers on
    // one database only the leader delivers the ordered streams (each event once per
    // subscription for the cluster); every server answers the routes.
    api::WebhookRouteOptions who;
    who.delivery.max_attempts = static_cast<int>(config_.webhooks_max_attempts);
    who.delivery.backoff_initial = Millis(config_.webhooks_backoff_initial_ms);
    who.delivery.backoff_max = Millis(config_.webhooks_backoff_max_seconds * 1000);
    who.delivery.timeout = Millis(config_.webhooks_timeout_seconds * 1000);
    for (const std::string& network : config_.webhooks_allowed_networks) {
      who.delivery.allowed_networks.push_back(*fetch::IpNetwork::Parse(network));  // checked
    }
    who.delivery.user_agent = std::string("weir/") + WEIR_VERSION;
    if (node_) {
      std::weak_ptr<cluster::Leadership> leadership = node_;
      who.delivery.is_leader = [leadership] {
        std::shared_ptr<cluster::Leadership> l = leadership.lock();
        return l != nullptr && l->IsLeader();
      };
    }
    if (stores_.webhooks && events_) {
      auto d = service::WebhookDispatcher::Start(stores_.webhooks, events_, who.delivery, clock);
      if (!d.ok()) return d.status().WithContext("webhooks");
      webhooks_ = std::move(*d);
    } else {
      spdlog::warn("webhooks: store {} keeps no webhooks; /api/weir/v1/webhooks answers 501",
                   config_.store_type);
    }
    api::RegisterWebhookRoutes(*router, stores_.webhooks, events_, webhooks_, clock, who);
    api::RegisterUiRoutes(*router, api::EmbeddedUiFiles(),
                          api::UiAuthOptions{config_.auth_mode, config_.oidc});

    auto blobs = config_.blob_backend == "s3"
                     ? blob::NewS3BlobStore({config_.blob_s3_bucket, config_.blob_s3_prefix,
                                             std::filesystem::absolute(config_.SpoolDir())},
                                            s3_)
                     : blob::NewBlobStore("local", blob::BlobStoreConfig{config_.BlobsDir(), {}});
    if (!blobs.ok()) return blobs.status().WithContext("assets.blob_backend");
    blobs_ = std::move(*blobs);
    // The registry's rows are in the store: the SQLite file or PostgreSQL, as store.type says.
    auto registry = assets::AssetRegistry::Open(
        stores_.assets, blobs_, clock,
        events_ ? AssetPublishedEvents(HubSink(events_), clock) : assets::PublishListener());
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
    if (events_) so.events = HubSink(events_);
    if (node_) {
      // The scheduler is a leadership task: only the leader's ticks fire triggers and run steps.
      node_->AddTask(
          kSchedulerTask, true,
          {{"leader.mode", config_.leader_mode},
           {"fencing", node_->FenceLease().empty() ? "none (static leader)"
                                                   : "lease '" + node_->FenceLease() + "'"}});
      so.leader_token = [node = node_] { return node->FencingToken(); };
      so.fence_lease = node_->FenceLease();
      so.on_tick = [node = node_](const scheduler::TickReport& r) {
        node->TaskRan(kSchedulerTask, r.status);
        node->TaskCount(kSchedulerTask, "leads", r.new_lead ? 1 : 0);
        node->TaskCount(kSchedulerTask, "lostLeads", r.lost_lead ? 1 : 0);
        node->TaskCount(kSchedulerTask, "fires", r.fires);
        node->TaskCount(kSchedulerTask, "stepsStarted", r.steps_started);
        node->TaskCount(kSchedulerTask, "stepsAdopted", r.steps_adopted);
      };
      for (const char* counter : {"leads", "lostLeads", "fires", "stepsStarted", "stepsAdopted"}) {
        node_->TaskCount(kSchedulerTask, counter, 0);  // shown from the start
      }
    }
    auto bundle_blobs = scheduler::NewBlobStoreBundleBlobs(
        blobs_, std::filesystem::absolute(config_.BundleFilesDir()),
        [registry = registry_](std::string_view uuid) -> Result<std::string> {
          auto r = registry->Get(uuid);
          if (!r.ok()) return r.status();
          return r->sha256;
        });
    auto launcher =
        std::shared_ptr<scheduler::StepLauncher>(scheduler::NewJobServiceLauncher(*jobs_));
    auto sched_store = store::OpenSchedulerStore(*where, so.busy_timeout_ms);
    if (!sched_store.ok()) return sched_store.status().WithContext("scheduler store");
    auto sched =
        scheduler::Scheduler::Open(std::shared_ptr<store::SchedulerStore>(std::move(*sched_store)),
                                   so, bundle_blobs, launcher, clock);
    if (!sched.ok()) return sched.status().WithContext("scheduler");
    scheduler_ = std::shared_ptr<scheduler::Scheduler>(std::move(*sched));
    if (node_) {
      // The leader deletes orphan blobs; every kind of durable reference to a blob is one
      // source here (the blob store, the asset rows and the scheduler exist only from here on).
      cluster::OrphanBlobOptions orphans;
      orphans.grace_hours = config_.cleanup_orphan_blob_grace_hours;
      orphans.interval = std::chrono::minutes(config_.cleanup_interval_minutes);
      std::vector<cluster::BlobReferences> blob_refs = {
          {"asset versions", [assets = stores_.assets] { return assets->ReferencedBlobs(); }},
          {"workflow bundles",
           [sched = std::weak_ptr<scheduler::Scheduler>(
                scheduler_)]() -> Result<std::vector<std::string>> {
             auto s = sched.lock();
             if (!s) return Unavailable("the scheduler is shutting down");
             return s->ReferencedBlobs();
           }},
      };
      node_->AddLeaderTask(
          cluster::OrphanBlobCleanupTask(orphans, blobs_, std::move(blob_refs), clock));
    }
    if (Status s = scheduler_->Recover(); !s.ok()) return s.WithContext("recovering workflows");
    // Workflow search documents come from the scheduler's tables: rebuilt at each start, then
    // kept in step by the workflow routes.
    if (stores_.search) {
      if (Status s = api::IndexAllWorkflows(*scheduler_, *stores_.search); !s.ok()) {
        return s.WithContext("indexing workflows for search");
      }
    }
    api::RegisterSearchRoutes(*router, stores_.search);
    api::WorkflowRouteOptions wo;
    wo.access = access;
    wo.search = stores_.search;
    api::RegisterWorkflowRoutes(*router, scheduler_, wo);
    if (Status s = scheduler_->Start(); !s.ok()) return s.WithContext("scheduler");

    api::HttpServerOptions ho;
    ho.host = config_.listen_host;
    ho.port = config_.listen_port;
    ho.threads = config_.http_threads;
    ho.spool_dir = std::filesystem::absolute(config_.SpoolDir());
    if (Status s = SetHttpLimits(ho); !s.ok()) return s;
    SetUpAuditAndRateLimit(ho, clock);
    // The gates run in order: authentication first (a refused request costs nothing more), then
    // the rate limit, which then counts per principal.
    if (*authenticator) {
      auto auth_gate = api::MakeAuthGate(std::move(*authenticator));
      if (ho.gate) {
        ho.gate = [auth_gate, rate_gate = std::move(ho.gate)](
                      api::HttpRequest& req) -> std::optional<api::HttpResponse> {
          if (auto refused = auth_gate(req)) return refused;
          return rate_gate(req);
        };
      } else {
        ho.gate = std::move(auth_gate);
      }
    }
    if (config_.metrics_public && ho.gate) ho.gate = api::OpenMetricsGate(std::move(ho.gate));
    router_ = router;
    http_ = api::NewHttpServer(ho, router);
    if (Status s = http_->Start(); !s.ok()) {
      // TLS file errors already name their setting (server.tls.*).
      return s.message().rfind("server.tls", 0) == 0 ? s : s.WithContext("server.listen");
    }
    if (node_ && config_.advertise_url.empty()) {
      // Only now is the port known (listen port 0 picks one).
      const std::string host = config_.listen_host == "0.0.0.0" || config_.listen_host == "::"
                                   ? DefaultHostName()
                                   : config_.listen_host;
      node_->SetAdvertiseUrl((config_.tls_cert.empty() ? "http://" : "https://") + host + ":" +
                             std::to_string(http_->port()));
      if (Status s = node_->Heartbeat(); !s.ok()) return s.WithContext("node heartbeat");
    }
    ready_ = true;
    spdlog::info("weir {} serving on {}:{}, data in {}", WEIR_VERSION, config_.listen_host,
                 http_->port(), std::filesystem::absolute(config_.data_dir).string());
    return Status::Ok();
  }

  void Stop() override {
    ready_ = false;
    if (node_) node_->Stop();
    if (http_) http_->Stop();
    if (metrics_collector_ != 0) {
      metrics::DefaultRegistry().RemoveCollector(metrics_collector_);
      metrics_collector_ = 0;
    }
    {
      std::lock_guard lock(prune_mu_);
      stopping_ = true;
    }
    prune_cv_.notify_all();
    if (pruner_.joinable()) pruner_.join();
    if (webhooks_) webhooks_->Stop();
    // The scheduler's launcher holds the job service: stop it first.
    if (scheduler_) scheduler_->Shutdown();
    scheduler_.reset();
    if (jobs_) jobs_->Shutdown();
    http_.reset();
  }

  uint16_t port() const override { return http_ ? http_->port() : 0; }
  std::vector<api::Router::RouteInfo> Routes() const override {
    return router_ ? router_->Routes() : std::vector<api::Router::RouteInfo>{};
  }

 private:
  // This server as a node of the cluster: heartbeats, leader election, leadership tasks.
  Status StartNode(Clock& clock) {
    cluster::ClusterOptions co;
    co.node_id = node_id_;
    co.advertise_url = config_.advertise_url;
    co.heartbeat_interval = Millis(config_.node_heartbeat_interval_ms);
    co.leader_mode = config_.leader_mode;
    co.leader_static = config_.leader_static;
    co.lease_ttl = Millis(config_.leader_lease_ttl_ms);
    co.lost_check_interval = Millis(config_.lost_node_check_interval_ms);
    co.lost_stale_after = Millis(config_.lost_node_stale_after_ms);
    co.lost_failures = config_.lost_node_failures;
    co.health_timeout = Millis(config_.forwarding_connect_timeout_ms);
    auto node = cluster::Node::Start(
        co, stores_.nodes, stores_.jobs, [this] { return jobs_->Load(); },
        cluster::HttpHealthProbe(co.health_timeout), clock);
    if (!node.ok()) return node.status().WithContext("cluster");
    node_ = std::shared_ptr<cluster::Node>(std::move(*node));
    cluster::CleanupOptions cleanup;
    cleanup.job_retention_days = config_.cleanup_job_retention_days;
    cleanup.batch_size = static_cast<int>(config_.cleanup_batch_size);
    cleanup.interval = std::chrono::minutes(config_.cleanup_interval_minutes);
    cluster::ArchiveRemover remove_archive;
    if (job_archiver_) {
      remove_archive = [archiver = job_archiver_](const model::JobRecord& r) {
        return archiver->RemoveJobArchive(r);
      };
    }
    node_->AddLeaderTask(
        cluster::DatabaseCleanupTask(cleanup, stores_.jobs, std::move(remove_archive), clock));
    cluster::UserMetricsOptions um;
    um.interval = std::chrono::seconds(config_.metrics_user_interval_seconds);
    um.max_series = static_cast<int>(config_.metrics_user_max_series);
    node_->AddLeaderTask(cluster::UserMetricsTask(um, stores_.jobs,
                                                  metrics::Weir().user_active_jobs,
                                                  metrics::Weir().user_active_memory_bytes));
    spdlog::info("node {}: leader.mode {}, leading: {}", node_id_, config_.leader_mode,
                 node_->IsLeader());
    return Status::Ok();
  }

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

  // With jobs.run_as_user: jobs may reach their own folders and nothing else of the server's.
  // The data dir and jobs/ become 0711 (passable, not listable: a job reaches its folder by its
  // known path, and each job folder is 0700 of its own user); every other entry of the data dir
  // (weir.db and its WAL, blobs, spool, caches, archives, marks) loses all group and other
  // permissions, as do a database, cache or archive folder configured elsewhere. Every folder
  // above the data dir must be passable by other users, or no job could reach its folder: that
  // is refused here rather than failing each job.
  Status LockDownDataDir() {
    namespace fs = std::filesystem;
    const std::string setting = "jobs.run_as_user";
    auto chmod_to = [&](const fs::path& p, mode_t mode) -> Status {
      if (::chmod(p.c_str(), mode) != 0 && errno != ENOENT) {
        return ErrnoStatus("config " + setting + ": chmod " + p.string(), errno);
      }
      return Status::Ok();
    };
    auto private_to_server = [&](const fs::path& p) -> Status {
      struct stat st;
      if (::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return Status::Ok();
      return chmod_to(p, st.st_mode & 07700);
    };
    const fs::path data = fs::absolute(config_.data_dir).lexically_normal();
    for (fs::path up = data.parent_path(); !up.empty(); up = up.parent_path()) {
      struct stat st;
      if (::stat(up.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
        return FailedPrecondition("config " + setting + ": " + up.string() +
                                  " is not passable by other users, so jobs could not reach "
                                  "their folders under server.data_dir: chmod o+x it or move "
                                  "the data dir");
      }
      if (up == up.parent_path()) break;
    }
    WEIR_RETURN_IF_ERROR(chmod_to(data, 0711));
    WEIR_RETURN_IF_ERROR(chmod_to(config_.JobsDir(), 0711));
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(data, ec)) {
      if (e.path().filename() == "jobs") continue;
      WEIR_RETURN_IF_ERROR(private_to_server(e.path()));
    }
    if (ec) return ErrnoStatus("config " + setting + ": list " + data.string(), ec.value());
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      WEIR_RETURN_IF_ERROR(private_to_server(config_.SqlitePath().string() + suffix));
    }
    WEIR_RETURN_IF_ERROR(private_to_server(config_.CacheDir()));
    if (StartsWith(config_.archive_location, "file://")) {
      WEIR_RETURN_IF_ERROR(private_to_server(config_.archive_location.substr(7)));
    }
    spdlog::info(
        "jobs run as their users; {} and {} are 0711, the rest of the data dir is the "
        "server's alone",
        data.string(), config_.JobsDir().string());
    return Status::Ok();
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
    ho.tls.cert_file = config_.tls_cert;
    ho.tls.key_file = config_.tls_key;
    ho.tls.client_ca_file = config_.tls_client_ca;
    ho.tls.handshake_timeout = std::chrono::milliseconds(config_.tls_handshake_timeout_ms);
    if (ho.tls.enabled()) {
      spdlog::info("http: HTTPS only (TLS 1.2 ECDHE+AEAD, TLS 1.3), certificate {}{}",
                   config_.tls_cert.string(),
                   config_.tls_client_ca.empty()
                       ? std::string()
                       : ", client certificates required from " + config_.tls_client_ca.string());
    }
    spdlog::info(
        "http: descriptors {} (was {}), {} kept in reserve; at most {} connections, {} "
        "per client; {} handler threads; {} trusted proxies",
        budget->limit, budget->soft_before, config_.fd_reserve, ho.max_connections,
        ho.max_connections_per_client, ho.handler_threads, config_.trusted_proxies.size());
    return Status::Ok();
  }

  // The audit observer (every write recorded in the store), the audit retention sweep
  // (audit.retention_days) and, when server.rate_limit is on, the rate-limit gate.
  void SetUpAuditAndRateLimit(api::HttpServerOptions& ho, Clock& clock) {
    api::AuditOptions ao;
    ao.store = stores_.audit;
    ao.clock = &clock;
    ao.on_error = [](const Status& s, const store::AuditRecord& r) {
      spdlog::error("audit: FAILED to record {} {} (status {}) by {} from {}: {}", r.method, r.path,
                    r.status, r.principal, r.source, s.message());
    };
    ho.observer = [audit = api::MakeAuditObserver(std::move(ao)),
                   metrics = api::MakeMetricsObserver()](const api::HttpRequest& req,
                                                         const api::HttpResponse& resp) {
      metrics(req, resp);
      audit(req, resp);
    };
    pruner_ = std::thread([this, &clock] { PruneLoop(clock); });
    if (config_.rate_limit_requests_per_second > 0) {
      api::RateLimitOptions ro;
      ro.requests_per_second = config_.rate_limit_requests_per_second;
      ro.burst = config_.rate_limit_burst;
      ho.gate = api::MakeRateLimitGate(std::make_shared<api::RateLimiter>(ro, clock));
      spdlog::info("http: rate limit {} requests/s per principal or client, burst {}",
                   ro.requests_per_second, ro.burst);
    }
  }

  // Removes audit records past audit.retention_days and events past events.retention_days or
  // events.max_events at start and then every hour.
  void PruneLoop(Clock& clock) {
    const auto retention = std::chrono::hours(24) * config_.audit_retention_days;
    const auto event_retention = std::chrono::hours(24) * config_.events_retention_days;
    std::unique_lock lock(prune_mu_);
    while (!stopping_) {
      lock.unlock();
      const TimePoint before =
          config_.events_retention_days > 0 ? clock.Now() - event_retention : TimePoint{};
      Result<int64_t> pruned = stores_.events
                                   ? stores_.events->PruneEvents(before, config_.events_max_events)
                                   : Result<int64_t>(0);
      if (!pruned.ok()) {
        spdlog::error("events: pruning the event log failed: {}", pruned.status().message());
      } else if (*pruned > 0) {
        spdlog::info("events: pruned {} events (events.retention_days {}, events.max_events {})",
                     *pruned, config_.events_retention_days, config_.events_max_events);
      }
      Result<int64_t> removed = config_.audit_retention_days > 0
                                    ? stores_.audit->PruneAudit(clock.Now() - retention)
                                    : Result<int64_t>(0);
      if (!removed.ok()) {
        spdlog::error("audit: pruning records older than {} days failed: {}",
                      config_.audit_retention_days, removed.status().message());
      } else if (*removed > 0) {
        spdlog::info("audit: pruned {} records older than {} days", *removed,
                     config_.audit_retention_days);
      }
      lock.lock();
      prune_cv_.wait_for(lock, std::chrono::hours(1), [this] { return stopping_; });
    }
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
    ao.location =
        config_.archive_location.empty()
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
    job_archiver_ = shared;  // the leader's database cleanup removes archives of deleted jobs
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
  int metrics_collector_ = 0;  // in metrics::DefaultRegistry(); removed before jobs_ goes
  std::shared_ptr<const api::Router> router_;
  std::mutex prune_mu_;
  std::condition_variable prune_cv_;
  bool stopping_ = false;  // GUARDED_BY(prune_mu_)
  std::thread pruner_;
  std::shared_ptr<service::EventHub> events_;
  std::string node_id_;
  std::shared_ptr<cluster::Node> node_;
  std::shared_ptr<const archive::JobArchiver> job_archiver_;
  std::shared_ptr<service::WebhookDispatcher> webhooks_;
};

}  // namespace

std::unique_ptr<Server> NewServer(ServerConfig config) {
  return std::make_unique<ServerImpl>(std::move(config));
}

}  // namespace weir::server
