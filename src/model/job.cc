#include "model/job.h"

#include "common/ids.h"
#include "common/strings.h"

namespace weir::model {

std::string_view JobStatusName(JobStatus s) {
  switch (s) {
    case JobStatus::kInit:
      return "INIT";
    case JobStatus::kRunning:
      return "RUNNING";
    case JobStatus::kSucceeded:
      return "SUCCEEDED";
    case JobStatus::kKilled:
      return "KILLED";
    case JobStatus::kFailed:
      return "FAILED";
    case JobStatus::kInvalid:
      return "INVALID";
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
  return CheckNoControlChars(field, v);
}

// An optional single-line text (no control characters at all).
Status OptText(std::string_view field, const std::optional<std::string>& v, size_t max) {
  if (!v) return Status::Ok();
  if (v->size() > max) {
    return InvalidArgument(std::string(field) + ": at most " + std::to_string(max) + " characters");
  }
  if (!IsValidUtf8(*v)) return InvalidArgument(std::string(field) + ": must be valid UTF-8");
  return CheckNoControlChars(field, *v);
}

std::string Indexed(std::string_view field, size_t i) {
  return std::string(field) + "[" + std::to_string(i) + "]";
}

Status Range(std::string_view field, int64_t v, int64_t min, int64_t max, std::string_view unit) {
  if (v < min || v > max) {
    return InvalidArgument(std::string(field) + ": " + std::to_string(v) + " is out of range; " +
                           "must be from " + std::to_string(min) + " to " + std::to_string(max) +
                           std::string(unit));
  }
  return Status::Ok();
}

}  // namespace

Status Validate(const JobRequest& r) {
  if (!r.id.empty()) WEIR_RETURN_IF_ERROR(ValidateId("id", r.id));
  WEIR_RETURN_IF_ERROR(Text("name", r.name, 255));
  WEIR_RETURN_IF_ERROR(Text("user", r.user, 255));
  WEIR_RETURN_IF_ERROR(Text("version", r.version, 255));
  if (r.description) {
    if (r.description->size() > 1000) {
      return InvalidArgument("description: at most 1000 characters");
    }
    if (!IsValidUtf8(*r.description)) {
      return InvalidArgument("description: must be valid UTF-8");
    }
    // Free text shown to people: tabs and line breaks are fine, other control characters not.
    std::string flat = *r.description;
    for (char& c : flat) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    WEIR_RETURN_IF_ERROR(CheckNoControlChars("description", flat, /*allow_tab=*/true));
  }
  if (r.metadata_json.size() > kMaxMetadataBytes) {
    return PayloadTooLarge("metadata: " + std::to_string(r.metadata_json.size()) +
                           " bytes is more than the limit of " + std::to_string(kMaxMetadataBytes) +
                           " bytes");
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
  if (r.memory) WEIR_RETURN_IF_ERROR(Range("memory", *r.memory, 1, kMaxJobMemoryMb, " MB"));
  if (r.cpu) WEIR_RETURN_IF_ERROR(Range("cpu", *r.cpu, 1, kMaxJobCpu, ""));
  if (r.timeout) {
    WEIR_RETURN_IF_ERROR(
        Range("timeout", *r.timeout, 1, kMaxJobTimeoutSeconds, " seconds (10 years)"));
  }
  if (r.command_args) {
    if (!IsValidUtf8(*r.command_args)) return InvalidArgument("commandArgs: must be valid UTF-8");
    WEIR_RETURN_IF_ERROR(CheckNoControlChars("commandArgs", *r.command_args, /*allow_tab=*/true,
                                             /*allow_newline=*/true));
  }
  for (size_t i = 0; i < r.command_arguments.size(); ++i) {
    const std::string field = Indexed("commandArguments", i);
    if (!IsValidUtf8(r.command_arguments[i])) {
      return InvalidArgument(field + ": must be valid UTF-8");
    }
    WEIR_RETURN_IF_ERROR(CheckNoControlChars(field, r.command_arguments[i], /*allow_tab=*/true,
                                             /*allow_newline=*/true));
  }
  WEIR_RETURN_IF_ERROR(OptText("setupFile", r.setup_file, 4096));
  for (size_t i = 0; i < r.configs.size(); ++i) {
    WEIR_RETURN_IF_ERROR(OptText(Indexed("configs", i), r.configs[i], 4096));
  }
  for (size_t i = 0; i < r.dependencies.size(); ++i) {
    WEIR_RETURN_IF_ERROR(OptText(Indexed("dependencies", i), r.dependencies[i], 4096));
  }
  WEIR_RETURN_IF_ERROR(OptText("group", r.group, 255));
  WEIR_RETURN_IF_ERROR(OptText("email", r.email, 255));
  WEIR_RETURN_IF_ERROR(OptText("grouping", r.grouping, 255));
  WEIR_RETURN_IF_ERROR(OptText("groupingInstance", r.grouping_instance, 255));
  for (size_t i = 0; i < r.applications.size(); ++i) {
    WEIR_RETURN_IF_ERROR(ValidateId(Indexed("applications", i), r.applications[i]));
  }
  if (r.environment.size() > kMaxJobEnvironmentVariables) {
    return InvalidArgument("environmentVariables: at most " +
                           std::to_string(kMaxJobEnvironmentVariables) + " variables");
  }
  for (const auto& [name, value] : r.environment) {
    bool ok = !name.empty() && name.size() <= 128 && !(name[0] >= '0' && name[0] <= '9');
    for (char c : name) {
      ok = ok &&
           (c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
    }
    if (!ok) {
      return InvalidArgument("environmentVariables: '" + name +
                             "' is not a variable name (letters, digits and _, not starting with "
                             "a digit, at most 128 characters)");
    }
    if (name.rfind("GENIE_", 0) == 0) {
      return InvalidArgument("environmentVariables: " + name +
                             ": names starting with GENIE_ are set by the server");
    }
    const std::string field = "environmentVariables." + name;
    if (value.size() > 32 * 1024) return InvalidArgument(field + ": longer than 32 KiB");
    if (!IsValidUtf8(value)) return InvalidArgument(field + ": must be valid UTF-8");
    WEIR_RETURN_IF_ERROR(CheckNoControlChars(field, value, /*allow_tab=*/true));
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
