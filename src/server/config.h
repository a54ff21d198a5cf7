// ServerConfig: every setting of `weir server`, read from a YAML file and overridden by flags.
// Each setting is documented in docs/operations.md (keep the two in step). Unknown keys are an
// error naming the key, so a typo never silently falls back to a default.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "auth/auth.h"
#include "common/result.h"
#include "exec/run_as.h"
#include "store/open.h"

namespace weir::server {

struct ServerConfig {
  // server:
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  int http_threads = 1;
  std::filesystem::path data_dir = ".weir";  // store, jobs, blobs, spool live below it
  std::string host_name;                     // default: gethostname()
  // This server as a node of a cluster (docs/scaling.md). node_id is recorded on its jobs
  // (execution hostName); default: <host_name>:<listen port> (with port 0: <host_name>-<pid>).
  std::string node_id;
  // Where other nodes reach this one (forwarding, health checks); default:
  // http(s)://<listen host>:<port> (the port actually bound).
  std::string advertise_url;
  std::string log_level = "info";   // trace, debug, info, warn, error
  std::string log_format = "text";  // text | json (JSON lines; service/job_log.h)

  // server: the HTTP layer's limits against hostile or broken clients (docs/operations.md,
  // "Limits and hostile input"; api/http.h HttpServerOptions states each contract).
  int handler_threads = 0;                     // handler pool; 0: max(4, 2 x cores)
  int max_connections = 4096;                  // lowered at start to fit the descriptor limit
  int max_connections_per_client = 256;        // per peer IP address; past it: 503
  int64_t header_timeout_ms = 10000;           // whole request header, from its first byte
  int64_t idle_timeout_ms = 60000;             // keep-alive wait for the next request
  int64_t body_grace_ms = 10000;               // body: this long before the rate applies...
  int64_t min_body_bytes_per_s = 1024;         // ...then at least this average rate; 0: off
  int fd_reserve = 1024;                       // descriptors kept free of connections
  std::vector<std::string> trusted_proxies;    // IPs/CIDRs whose X-Forwarded-* are believed
  int64_t output_listing_max_entries = 10000;  // entries per output listing response
  // server.rate_limit: a token bucket per principal (client address without one), see
  // api/rate_limit.h. Over it: 429 with Retry-After. 0 requests per second: off.
  double rate_limit_requests_per_second = 0;
  double rate_limit_burst = 20;  // requests allowed at once (bucket size)

  // server.tls: HTTPS on the listen port (then only HTTPS). api/http.h HttpTlsOptions states the
  // protocol policy. All three are PEM files; cert and key go together.
  std::filesystem::path tls_cert;            // "" (default): plain HTTP
  std::filesystem::path tls_key;             // must not be readable by every user
  std::filesystem::path tls_client_ca;       // set: a client certificate from this CA required
  int64_t tls_handshake_timeout_ms = 10000;  // handshake deadline from accept

  // store:
  // With postgresql every durable row (jobs, configuration, audit, events, search, the asset
  // registry, the scheduler and webhooks) lives in that database (docs/operations.md).
  std::string store_type = "sqlite";  // sqlite or postgresql
  std::filesystem::path sqlite_path;  // default <data_dir>/weir.db
  std::string store_url;              // postgresql://USER@HOST:PORT/DB?..., never with a password
  std::string store_password_env;     // names the variable holding the password ("" none)
  std::filesystem::path store_password_file;  // or a file holding it (not readable by others)
  int store_pool_size = 8;                    // PostgreSQL connections per server

  // audit: every write request recorded in the store (api/audit.h).
  int64_t audit_retention_days = 90;  // records older are pruned hourly; 0 keeps all

  // events: the event log (store.h EventStore) and its SSE subscribers (api/event_routes.h).
  int64_t events_retention_days = 7;         // events older are pruned hourly; 0 keeps all by age
  int64_t events_max_events = 1000000;       // and only the newest this many; 0: no count bound
  int64_t events_subscriber_buffer = 10000;  // events buffered per subscriber before it is cut
  int64_t events_heartbeat_seconds = 15;     // a comment line after this long without an event
  // webhooks: signed deliveries of the event log (service/webhook_dispatcher.h).
  int64_t webhooks_max_attempts = 8;           // attempts per event before it is logged failed
  int64_t webhooks_backoff_initial_ms = 1000;  // wait after the first failure, doubling after
  int64_t webhooks_backoff_max_seconds = 600;  // the longest wait between attempts
  int64_t webhooks_timeout_seconds = 10;       // connect + whole request, per attempt
  // CIDRs exempt from the refusal of loopback, link-local, private, shared and unspecified
  // receiver addresses (as fetch.allowed_networks). Empty (default): only public addresses.
  std::vector<std::string> webhooks_allowed_networks;
  // metrics: GET /metrics (Prometheus text format).
  // With auth.mode required, /metrics needs a token with the admin role unless this is true:
  // then it is open without credentials (its figures name users and routes; expose with care).
  bool metrics_public = false;

  // jobs:
  int default_job_memory_mb = 1024;
  int max_job_memory_mb = 30720;
  int64_t max_system_memory_mb = 30720;
  int max_active_jobs_per_user = 100;
  bool queue_enabled = false;
  int max_queued_jobs = 10000;
  int64_t max_stdout_bytes = 8LL << 30;
  int64_t max_stderr_bytes = 8LL << 30;
  int64_t kill_grace_ms = 5000;
  // Local mode (weir job run-local): a RUNNING local job whose runner sent no heartbeat for this
  // long ends FAILED; runners are told to beat every third of it.
  int64_t local_heartbeat_timeout_ms = 60000;
  // Largest output a runner may upload (weir job run-local --upload), a tar.gz.
  int64_t local_max_upload_bytes = 1LL << 30;
  int setup_threads = 2;
  // Free disk space (MiB) the data dir and the jobs dir must keep: below it new submissions are
  // refused (507) while running jobs finish. 0 turns the floor off.
  int64_t min_free_disk_mb = 256;
  // Run-as-user (exec/run_as.h): each job's run script runs as the Unix account mapped from its
  // user; the server must be root. Off: jobs run as the server's user.
  bool run_as_user = false;
  std::string run_as_user_map = "strip-domain";  // strip-domain or exact
  int64_t run_as_min_uid = 1000;                 // accounts below it are refused
  bool create_missing_users = false;             // useradd an unknown account
  // The server's environment variables a run-as job receives: names, or prefixes ending in '*'
  // (exec::DefaultRunAsEnv() unless set). Nothing else of the server's environment reaches jobs.
  std::vector<std::string> run_as_env = exec::DefaultRunAsEnv();

  // node: the heartbeat into the store, and (store.type postgresql) the shared queue's claims.
  int64_t node_heartbeat_interval_ms = 5000;
  int64_t node_claim_interval_ms = 1000;  // a node with room looks for queued jobs this often
  // forwarding: output and kill of a job on another node go to that node (api/forwarding.h).
  bool forwarding_enabled = true;
  int64_t forwarding_connect_timeout_ms = 2000;
  int64_t forwarding_read_timeout_ms = 10000;
  // leader: static (leader.static says whether this node leads) or database (a lease).
  std::string leader_mode = "static";
  bool leader_static = true;
  int64_t leader_lease_ttl_ms = 15000;
  // The leader's lost-node check (cluster/cluster.h).
  int64_t lost_node_check_interval_ms = 10000;
  int64_t lost_node_stale_after_ms = 15000;
  int lost_node_failures = 3;
  // The leader's database cleanup (cluster/leader_tasks.h): finished jobs older than the
  // retention are deleted with their archives, batch_size per transaction.
  int64_t cleanup_job_retention_days = 90;  // 0: keep every job
  int64_t cleanup_batch_size = 1000;
  int64_t cleanup_interval_minutes = 60;
  // Blobs no asset version or workflow bundle references, last written more than this many hours
  // ago, are deleted by the leader at the same interval; 0: no blob is ever deleted.
  int64_t cleanup_orphan_blob_grace_hours = 24;
  // The leader's user metrics: active jobs and memory per user over the cluster.
  int64_t metrics_user_interval_seconds = 30;
  int64_t metrics_user_max_series = 1000;  // users past it are summed under user="_other"

  // attachments:
  int64_t max_attachment_bytes = 100LL << 20;        // per file
  int64_t max_total_attachment_bytes = 200LL << 20;  // per job

  // assets:
  int64_t max_asset_bytes = 2LL << 30;
  std::string blob_backend = "local";  // local (<data_dir>/blobs) or s3
  std::string blob_s3_bucket;          // with blob_backend s3 (endpoint etc. from s3:)
  std::string blob_s3_prefix = "weir/blobs";
  // Who may publish into a namespace: principal names or roles; "*" for unlisted namespaces.
  std::map<std::string, std::vector<std::string>> namespace_owners;

  // auth: authentication and authorization (docs/security.md).
  std::string auth_mode = "none";            // none (anyone is admin) or required
  std::filesystem::path static_tokens_file;  // "<sha256 hex> <principal> <role,...>" lines
  std::optional<auth::JwtConfig> jwt;        // set by an auth.jwt section
  // Set by an auth.oidc section: the web UI signs in through this OpenID provider (docs/ui.md).
  // Checked at start: auth.jwt must accept its issuer (and, for id_token, its client id).
  std::optional<auth::OidcClientConfig> oidc;
  bool mtls_enabled = false;  // a verified client cert's CN is the principal
  std::map<std::string, std::vector<std::string>> mtls_roles;  // CN → roles
  std::vector<std::string> mtls_default_roles = {"user"};      // CNs not in mtls_roles
  bool admin_impersonation = false;                 // admins may submit jobs for another user
  bool output_readable_by_all = false;              // any user reads any job's output
  std::map<std::string, std::string> deploy_roles;  // environment → role its writes need
  // Flag only (--insecure-no-auth): listen beyond loopback with auth.mode none.
  bool insecure_no_auth = false;

  // archive: finished jobs' folders as tar.gz, served by the output API once the folder is gone.
  std::string archive_location;  // "" → file://<data_dir>/archives; "none" off
  int64_t archive_output_cache_max_bytes = 2LL << 30;
  int64_t job_dir_retention_hours = 72;  // local folders of archived jobs; < 0 keeps them
  int64_t sweep_interval_s = 600;

  // fetch: dependencies, configs and setup files named by URI (file, http(s), s3).
  bool cache_enabled = true;
  std::filesystem::path cache_dir;  // default <data_dir>/cache
  int64_t cache_max_bytes = 10LL << 30;
  int64_t fetch_connect_timeout_ms = 10000;
  int64_t fetch_stall_timeout_ms = 30000;
  // The perimeter of URIs that job requests name (setupFile, configs, dependencies; admin-made
  // configuration is not restricted). See src/fetch/perimeter.h.
  // Absolute folders whose files job requests may name by file:// URI or path (canonical path,
  // symlinks resolved, checked again on the file opened at set-up). Empty (default): none beyond
  // the server's own blob and bundle-file folders, which are always allowed.
  std::vector<std::string> fetch_allowed_file_roots;
  // CIDRs (10.0.0.0/8, fd00::/8, 127.0.0.1) exempt from the refusal of loopback, link-local,
  // private, shared and unspecified addresses for http(s). Empty (default): none.
  std::vector<std::string> fetch_allowed_networks;

  // s3: endpoint and addressing for s3:// URIs; credentials come from the AWS_* environment
  // (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) unless set here.
  std::string s3_endpoint;             // "" → AWS; e.g. http://127.0.0.1:4568
  std::string s3_region;               // "" → AWS_REGION or us-east-1
  std::string s3_addressing = "auto";  // auto, path, virtual
  std::string s3_access_key_id;
  std::string s3_secret_access_key;

  // exec.slurm: the Slurm executor (exec/slurm_executor.h) for clusters whose metadata says
  // "executor": "slurm"; jobs of other clusters run on this node.
  std::filesystem::path slurm_conf;      // SLURM_CONF of sbatch/squeue/scancel; "" Slurm's own
  std::filesystem::path slurm_job_root;  // job folders, on a file system the compute nodes share
  int64_t slurm_poll_interval_ms = 250;  // the reconciler's interval (one squeue per tick)

  // Every job folder is under exec.slurm.job_root when it is set (local jobs too: one place for
  // output serving, archives and sweeps), else <data_dir>/jobs.
  std::filesystem::path JobsDir() const {
    return slurm_job_root.empty() ? data_dir / "jobs" : slurm_job_root;
  }
  std::filesystem::path BlobsDir() const { return data_dir / "blobs"; }
  std::filesystem::path BundleFilesDir() const { return data_dir / "bundle-files"; }
  std::filesystem::path SpoolDir() const { return data_dir / "spool"; }
  std::filesystem::path CacheDir() const {
    return cache_dir.empty() ? data_dir / "cache" : cache_dir;
  }
  std::filesystem::path SqlitePath() const {
    return sqlite_path.empty() ? data_dir / "weir.db" : sqlite_path;
  }
};

// The store these settings name, with the password read from store.password_env or
// store.password_file (errors name the setting, never the password).
Result<store::StoreLocation> StoreLocationOf(const ServerConfig& config);

// Parses the YAML text of a config file (see docs/operations.md). Errors name the key.
Result<ServerConfig> ParseServerConfig(std::string_view yaml_text, ServerConfig base = {});
Result<ServerConfig> LoadServerConfig(const std::filesystem::path& file);
// Refuses auth.mode none on an address other machines reach (anything but 127.0.0.0/8, ::1 and
// localhost) unless insecure_no_auth; the message names --insecure-no-auth and auth.mode.
Status CheckAuthExposure(const ServerConfig& config);
// "host:port" → host and port. The host is required (":8080" is refused rather than silently
// binding every interface); errors say to write 127.0.0.1:PORT or 0.0.0.0:PORT.
Status ParseListen(std::string_view listen, ServerConfig& config);

}  // namespace weir::server
