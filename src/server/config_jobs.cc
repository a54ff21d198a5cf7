// The jobs and exec sections of the server config: limits, run-as-user and the Slurm executor;
// their fields and ranges.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>

#include "exec/run_as.h"
#include "server/config.h"
#include "server/config_internal.h"

namespace weir::server::config_internal {

SectionTable JobsSection() {
  return {
      {"default_memory_mb", Field(&ServerConfig::default_job_memory_mb, "jobs.default_memory_mb")},
      {"max_memory_mb", Field(&ServerConfig::max_job_memory_mb, "jobs.max_memory_mb")},
      {"max_system_memory_mb",
       Field(&ServerConfig::max_system_memory_mb, "jobs.max_system_memory_mb")},
      {"max_active_jobs_per_user",
       Field(&ServerConfig::max_active_jobs_per_user, "jobs.max_active_jobs_per_user")},
      {"queue_enabled", Field(&ServerConfig::queue_enabled, "jobs.queue_enabled")},
      {"max_queued_jobs", Field(&ServerConfig::max_queued_jobs, "jobs.max_queued_jobs")},
      {"max_stdout_bytes", Field(&ServerConfig::max_stdout_bytes, "jobs.max_stdout_bytes")},
      {"max_stderr_bytes", Field(&ServerConfig::max_stderr_bytes, "jobs.max_stderr_bytes")},
      {"kill_grace_ms", Field(&ServerConfig::kill_grace_ms, "jobs.kill_grace_ms")},
      {"local_heartbeat_timeout_ms",
       Field(&ServerConfig::local_heartbeat_timeout_ms, "jobs.local_heartbeat_timeout_ms")},
      {"local_max_upload_bytes",
       Field(&ServerConfig::local_max_upload_bytes, "jobs.local_max_upload_bytes")},
      {"setup_threads", Field(&ServerConfig::setup_threads, "jobs.setup_threads")},
      {"min_free_disk_mb", Field(&ServerConfig::min_free_disk_mb, "jobs.min_free_disk_mb")},
      {"run_as_user", Field(&ServerConfig::run_as_user, "jobs.run_as_user")},
      {"run_as_user_map", Field(&ServerConfig::run_as_user_map, "jobs.run_as_user_map")},
      {"run_as_min_uid", Field(&ServerConfig::run_as_min_uid, "jobs.run_as_min_uid")},
      {"create_missing_users",
       Field(&ServerConfig::create_missing_users, "jobs.create_missing_users")},
      {"run_as_env", ListField(&ServerConfig::run_as_env, "jobs.run_as_env")}};
}

SectionTable ExecSection() {
  return {{"slurm", [](const YAML::Node& n, ServerConfig& c) -> Status {
             static const auto* slurm = new SectionTable{
                 {"conf", Field(&ServerConfig::slurm_conf, "exec.slurm.conf")},
                 {"job_root", Field(&ServerConfig::slurm_job_root, "exec.slurm.job_root")},
                 {"poll_interval_ms",
                  Field(&ServerConfig::slurm_poll_interval_ms, "exec.slurm.poll_interval_ms")}};
             return NestedSection(n, "exec.slurm", *slurm, "conf, job_root, poll_interval_ms", c);
           }}};
}

Status CheckJobs(const ServerConfig& c) {
  if (c.default_job_memory_mb <= 0 || c.max_job_memory_mb <= 0 || c.max_system_memory_mb <= 0) {
    return InvalidArgument("config jobs: memory settings must be positive");
  }
  if (c.default_job_memory_mb > c.max_job_memory_mb) {
    return InvalidArgument("config jobs.default_memory_mb: must not exceed jobs.max_memory_mb");
  }
  if (c.setup_threads < 1) return InvalidArgument("config jobs.setup_threads: must be at least 1");
  if (c.kill_grace_ms < 0) return InvalidArgument("config jobs.kill_grace_ms: must be ≥ 0");
  if (c.local_heartbeat_timeout_ms < 300) {
    return InvalidArgument("config jobs.local_heartbeat_timeout_ms: must be ≥ 300");
  }
  if (c.local_max_upload_bytes < 1) {
    return InvalidArgument("config jobs.local_max_upload_bytes: must be ≥ 1");
  }
  if (c.slurm_poll_interval_ms < 10 || c.slurm_poll_interval_ms > 60000) {
    return InvalidArgument("config exec.slurm.poll_interval_ms: must be 10 to 60000");
  }
  if (!c.slurm_job_root.empty() && !c.slurm_job_root.is_absolute()) {
    return InvalidArgument("config exec.slurm.job_root: must be an absolute path");
  }
  if (c.min_free_disk_mb < 0 || c.min_free_disk_mb > (int64_t{1} << 40)) {
    return InvalidArgument("config jobs.min_free_disk_mb: must be between 0 (no floor) and 2^40");
  }
  if (!exec::ParseUserMapRule(c.run_as_user_map).ok()) {
    return InvalidArgument("config jobs.run_as_user_map: must be strip-domain or exact");
  }
  for (const std::string& name : c.run_as_env) {
    const size_t stem = !name.empty() && name.back() == '*' ? name.size() - 1 : name.size();
    bool ok = stem > 0 || name == "*";
    for (size_t i = 0; i < stem; ++i) {
      const char ch = name[i];
      ok = ok && (ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (i > 0 && ch >= '0' && ch <= '9'));
    }
    if (!ok) {
      return InvalidArgument("config jobs.run_as_env: '" + name +
                             "' is not a variable name (letters, digits and _, or a prefix "
                             "ending in '*' such as LC_*)");
    }
  }
  if (c.run_as_min_uid < 1 || c.run_as_min_uid > (int64_t{1} << 31)) {
    return InvalidArgument(
        "config jobs.run_as_min_uid: must be 1 to 2^31 (root is always refused)");
  }
  return Status::Ok();
}

}  // namespace weir::server::config_internal
