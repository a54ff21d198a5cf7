#include "model/config.h"

#include <algorithm>

#include "common/ids.h"
#include "common/strings.h"

namespace weir::model {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kApplication: return "application";
    case Kind::kCommand: return "command";
    case Kind::kCluster: return "cluster";
  }
  return "?";
}

std::string_view KindCollection(Kind kind) {
  switch (kind) {
    case Kind::kApplication: return "applications";
    case Kind::kCommand: return "commands";
    case Kind::kCluster: return "clusters";
  }
  return "?";
}

const std::vector<std::string>& ValidStatuses(Kind kind) {
  static const std::vector<std::string> kApp = {"ACTIVE", "DEPRECATED", "INACTIVE"};
  static const std::vector<std::string> kCluster = {"UP", "OUT_OF_SERVICE", "TERMINATED"};
  return kind == Kind::kCluster ? kCluster : kApp;
}

bool IsValidStatus(Kind kind, std::string_view status) {
  const auto& v = ValidStatuses(kind);
  return std::find(v.begin(), v.end(), status) != v.end();
}

namespace {
Status CheckText(std::string_view field, const std::string& v, size_t max, bool required) {
  if (required && Trim(v).empty()) return InvalidArgument(std::string(field) + ": must not be blank");
  if (v.size() > max) {
    return InvalidArgument(std::string(field) + ": at most " + std::to_string(max) + " characters");
  }
  if (!IsValidUtf8(v)) return InvalidArgument(std::string(field) + ": must be valid UTF-8");
  return CheckNoControlChars(field, v);
}
}  // namespace

Status Validate(const ConfigEntity& e) {
  WEIR_RETURN_IF_ERROR(CheckText("name", e.name, 255, true));
  WEIR_RETURN_IF_ERROR(CheckText("user", e.user, 255, true));
  WEIR_RETURN_IF_ERROR(CheckText("version", e.version, 255, true));
  if (e.description) {
    if (e.description->size() > 1000) {
      return InvalidArgument("description: at most 1000 characters");
    }
    if (!IsValidUtf8(*e.description)) return InvalidArgument("description: must be valid UTF-8");
    std::string flat = *e.description;
    for (char& c : flat) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    WEIR_RETURN_IF_ERROR(CheckNoControlChars("description", flat, /*allow_tab=*/true));
  }
  if (!e.id.empty()) WEIR_RETURN_IF_ERROR(ValidateId("id", e.id));
  if (!IsValidStatus(e.kind, e.status)) {
    return InvalidArgument(std::string(KindName(e.kind)) + " '" + e.name + "': status must be " +
                           Join(ValidStatuses(e.kind), ", "));
  }
  if (e.kind == Kind::kCommand && Trim(e.executable).empty()) {
    return InvalidArgument("executable: must not be blank");
  }
  if (e.kind == Kind::kCommand) {
    WEIR_RETURN_IF_ERROR(CheckNoControlChars("executable", e.executable, /*allow_tab=*/true));
    if (e.check_delay < 1 || e.check_delay > kMaxCheckDelayMs) {
      return InvalidArgument("checkDelay: " + std::to_string(e.check_delay) +
                             " is out of range; must be from 1 to " +
                             std::to_string(kMaxCheckDelayMs) + " ms");
    }
  }
  if (e.memory && (*e.memory < 1 || *e.memory > kMaxCommandMemoryMb)) {
    return InvalidArgument("memory: " + std::to_string(*e.memory) +
                           " is out of range; must be from 1 to " +
                           std::to_string(kMaxCommandMemoryMb) + " MB");
  }
  for (const auto& t : e.tags) WEIR_RETURN_IF_ERROR(CheckText("tags", t, 1024, true));
  if (e.type) WEIR_RETURN_IF_ERROR(CheckNoControlChars("type", *e.type));
  if (e.setup_file) WEIR_RETURN_IF_ERROR(CheckNoControlChars("setupFile", *e.setup_file));
  for (const auto& c : e.configs) WEIR_RETURN_IF_ERROR(CheckNoControlChars("configs", c));
  for (const auto& d : e.dependencies) WEIR_RETURN_IF_ERROR(CheckNoControlChars("dependencies", d));
  if (e.metadata_json.size() > kMaxConfigMetadataBytes) {
    return PayloadTooLarge("metadata: " + std::to_string(e.metadata_json.size()) +
                           " bytes is more than the limit of " +
                           std::to_string(kMaxConfigMetadataBytes) + " bytes");
  }
  return Status::Ok();
}

void NormalizeTags(ConfigEntity& e) {
  std::vector<std::string> out;
  for (auto& t : e.tags) {
    if (StartsWith(t, "genie.id:") || StartsWith(t, "genie.name:")) continue;
    out.push_back(t);
  }
  out.push_back("genie.id:" + e.id);
  out.push_back("genie.name:" + e.name);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  e.tags = std::move(out);
}

}  // namespace weir::model
