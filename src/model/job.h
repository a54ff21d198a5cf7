// Jobs of the job gateway: what a client asks for (JobRequest) and what weir records about it
// (Job, JobExecution, JobMetadata), gathered in one JobRecord, the unit the store persists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace weir::model {

enum class JobStatus { kInit, kRunning, kSucceeded, kKilled, kFailed, kInvalid };

std::string_view JobStatusName(JobStatus s);           // "INIT", "RUNNING", ...
Result<JobStatus> ParseJobStatus(std::string_view s);  // case-sensitive, names the valid values
// INIT and RUNNING are active; the others are final and never change again.
inline bool IsActive(JobStatus s) { return s == JobStatus::kInit || s == JobStatus::kRunning; }

// Genie's status messages.
inline constexpr std::string_view kMsgAccepted = "Job Accepted and in initialization phase.";
inline constexpr std::string_view kMsgQueued = "Job queued: waiting for capacity on this node.";
inline constexpr std::string_view kMsgRunning = "Job is Running.";
inline constexpr std::string_view kMsgSucceeded = "Job finished successfully.";
inline constexpr std::string_view kMsgFailed = "Job failed.";
inline constexpr std::string_view kMsgKilledByUser = "Job was killed by user.";
inline constexpr std::string_view kMsgTimeout = "Job exceeded timeout.";
inline constexpr std::string_view kMsgStdoutLimit = "Std out length exceeded.";
inline constexpr std::string_view kMsgStderrLimit = "Std err length exceeded.";
// Recorded by earlier versions on a job that was accepted but never launched when the server
// restarted (such jobs are now set up again after a restart); callers that resubmit on the
// client's behalf (the scheduler) still recognise it in old records: the job never ran.
inline constexpr std::string_view kMsgRestartedBeforeStart =
    "Job failed: the server restarted before the job could start; submit it again";
inline constexpr std::string_view kMsgNoMatch =
    "No cluster/command combination found for the given criteria";

// Special exit codes.
inline constexpr int kExitKilled = 999;
inline constexpr int kExitNodeLost = 666;

struct ClusterCriteria {
  std::vector<std::string> tags;
  friend bool operator==(const ClusterCriteria&, const ClusterCriteria&) = default;
};

struct JobRequest {
  std::string id;  // may be empty: the server assigns a UUID
  std::string name;
  std::string user;
  std::string version;
  std::optional<std::string> description;
  std::string metadata_json;
  std::vector<std::string> tags;
  std::optional<std::string> setup_file;
  std::vector<std::string> configs;
  std::vector<std::string> dependencies;

  std::optional<std::string> command_args;         // appended as is
  std::vector<std::string> command_arguments;      // beyond Genie: each item shell-quoted
  std::vector<ClusterCriteria> cluster_criterias;  // required, tried in order
  std::vector<std::string> command_criteria;       // required
  std::optional<std::string> group;
  bool disable_log_archival = false;
  std::optional<std::string> email;
  std::optional<int> cpu;
  std::optional<int> memory;              // MB
  std::optional<int64_t> timeout;         // seconds; default 604800
  std::vector<std::string> applications;  // ids; overrides the command's list
  std::optional<std::string> grouping;
  std::optional<std::string> grouping_instance;
  // Beyond Genie (`environmentVariables`): exported by the run script after the set-up files,
  // just before the command, so they win over what a set-up file sets.
  std::map<std::string, std::string> environment;

  friend bool operator==(const JobRequest&, const JobRequest&) = default;
};

inline constexpr int64_t kDefaultJobTimeoutSeconds = 604800;

// Bounds on the numbers of a request (inclusive).
inline constexpr int64_t kMaxJobTimeoutSeconds = 10LL * 365 * 24 * 3600;  // 10 years
inline constexpr int kMaxJobMemoryMb = 1 << 24;                           // 16 TiB
inline constexpr int kMaxJobCpu = 4096;
// Bytes of the serialized `metadata` object of a job request or a configuration entity.
inline constexpr size_t kMaxMetadataBytes = 256 * 1024;
// Variables a job request may set (environmentVariables).
inline constexpr size_t kMaxJobEnvironmentVariables = 100;

// Validates a request as submitted. kInvalidArgument naming the field for: an id that breaks
// the id rule (common/ids.h); name/user/version blank or over 255 characters; clusterCriterias
// or commandCriteria missing or empty; timeout outside 1..kMaxJobTimeoutSeconds, memory outside
// 1..kMaxJobMemoryMb, cpu outside 1..kMaxJobCpu; invalid UTF-8; a control character (U+0000..
// U+001F, U+007F..U+009F) in any text that reaches the run script, its environment or a path
// (tab is allowed in commandArgs/commandArguments, tab and line breaks in description); an
// application id that breaks the id rule. kPayloadTooLarge when metadata is over
// kMaxMetadataBytes.
Status Validate(const JobRequest& r);

// The command line arguments as they go into the run script: commandArgs as is, then each of
// commandArguments shell-quoted, separated by spaces. Empty when there are none.
std::string EffectiveCommandArgs(const JobRequest& r);

struct Job {
  JobStatus status = JobStatus::kInit;
  std::string status_msg;
  std::optional<TimePoint> started;
  std::optional<TimePoint> finished;
  std::optional<std::string> archive_location;
  // Resolution results (empty until resolved).
  std::string cluster_id, cluster_name;
  std::string command_id, command_name;
  std::vector<std::string> application_ids;  // setup order
  friend bool operator==(const Job&, const Job&) = default;
};

struct JobExecution {
  std::string host_name;
  std::optional<int> process_id;
  int64_t check_delay = 10000;
  std::optional<int64_t> timeout;  // seconds
  std::optional<int> exit_code;
  std::optional<int> memory;  // MB actually reserved
  // The Slurm job id of a job that runs on Slurm (exec/slurm_executor.h); empty otherwise. Kept
  // by the store (in the job's state JSON, "slurmJobId"), so it survives a restart.
  std::string slurm_job_id;
  friend bool operator==(const JobExecution&, const JobExecution&) = default;
};

struct JobMetadata {
  std::string client_host;
  std::string user_agent;
  int num_attachments = 0;
  int64_t total_size_of_attachments = 0;
  std::optional<int64_t> std_out_size;
  std::optional<int64_t> std_err_size;
  friend bool operator==(const JobMetadata&, const JobMetadata&) = default;
};

struct JobRecord {
  std::string id;
  TimePoint created{};
  TimePoint updated{};
  JobRequest request;  // as submitted (request.id == id)
  Job job;
  JobExecution execution;
  JobMetadata metadata;
  friend bool operator==(const JobRecord&, const JobRecord&) = default;
};

}  // namespace weir::model
