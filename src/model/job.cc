#include "model/job.h"

#include "common/ids.h"
#include "common/strings.h"

namespace weir::model {

std::string_view JobStatusName(JobStatus s) {
  switch (s) {
    case JobStatus::kInit: return "INIT";
    case JobStatus::kRunning: return "RUNNING";
    case JobStatus::kSucceeded: return "SUCCEEDED";
    case JobStatus::kKilled: return "KILLED";
    case JobStatus::kFailed: return "FAILED";
    case JobStatus::kInvalid: return "INVALID";
  }
  return "?";
}

Result<JobStatus> ParseJobStatus(std::string_view s) {
  for (JobStatus v : {JobStatus::kInit, JobStatus::kRunning, JobStatus::kSucceeded,
                      JobStatus::kKilled, JobStatus::kFailed, JobStatus::kInvalid}) {
    if (JobStatusName(v) == s) return v;
  }
  return InvalidArgument("status '" + std::string(s) +
                         "': must be INIT, RUNNING, SUCCEEDED, KILLED, FAILED or INVALID");
}

namespace {
Status Text(std::string_view field, const std::string& v, size_t max) {
  if (Trim(v).empty()) return InvalidArgument(std::string(field) + ": must not be blank");
  if (v.size() > max) {
    return InvalidArgument(std::string(field) + ": at most " + std::to_string(max) + " characters");
  }
  if (!IsValidUtf8(v)) return InvalidArgument(std::string(field) + ": must be valid UTF-8");
  return Status::Ok();
}
}  // namespace

Status Validate(const JobRequest& r) {
  if (!r.id.empty() && !IsSafeId(r.id)) {
    return InvalidArgument("id: 1 to 255 characters, no '/', whitespace or control characters");
  }
  WEIR_RETURN_IF_ERROR(Text("name", r.name, 255));
  WEIR_RETURN_IF_ERROR(Text("user", r.user, 255));
  WEIR_RETURN_IF_ERROR(Text("version", r.version, 255));
  if (r.description && r.description->size() > 1000) {
    return InvalidArgument("description: at most 1000 characters");
  }
  if (r.cluster_criterias.empty()) {
    return InvalidArgument("clusterCriterias: at least one criterion with tags is required");
  }
  for (const auto& c : r.cluster_criterias) {
    if (c.tags.empty()) return InvalidArgument("clusterCriterias: each criterion needs tags");
    for (const auto& t : c.tags) WEIR_RETURN_IF_ERROR(Text("clusterCriterias.tags", t, 1024));
  }
  if (r.command_criteria.empty()) {
    return InvalidArgument("commandCriteria: at least one tag is required");
  }
  for (const auto& t : r.command_criteria) WEIR_RETURN_IF_ERROR(Text("commandCriteria", t, 1024));
  for (const auto& t : r.tags) WEIR_RETURN_IF_ERROR(Text("tags", t, 1024));
  if (r.memory && *r.memory <= 0) return InvalidArgument("memory: must be a positive number of MB");
  if (r.timeout && *r.timeout <= 0) return InvalidArgument("timeout: must be positive seconds");
  if (r.command_args && !IsValidUtf8(*r.command_args)) {
    return InvalidArgument("commandArgs: must be valid UTF-8");
  }
  for (const auto& a : r.applications) {
    if (!IsSafeId(a)) return InvalidArgument("applications: '" + a + "' is not a valid id");
  }
  return Status::Ok();
}

std::string EffectiveCommandArgs(const JobRequest& r) {
  std::string out = r.command_args.value_or("");
  for (const auto& a : r.command_arguments) {
    if (!out.empty()) out += ' ';
    out += ShellQuote(a);
  }
  return out;
}

}  // namespace weir::model
