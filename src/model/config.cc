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
  return Status::Ok();
}
}  // namespace

Status Validate(const ConfigEntity& e) {
  WEIR_RETURN_IF_ERROR(CheckText("name", e.name, 255, true));
  WEIR_RETURN_IF_ERROR(CheckText("user", e.user, 255, true));
  WEIR_RETURN_IF_ERROR(CheckText("version", e.version, 255, true));
  if (e.description) WEIR_RETURN_IF_ERROR(CheckText("description", *e.description, 1000, false));
  if (!e.id.empty() && !IsSafeId(e.id)) {
    return InvalidArgument("id: 1 to 255 characters, no '/', whitespace or control characters");
  }
  if (!IsValidStatus(e.kind, e.status)) {
    return InvalidArgument(std::string(KindName(e.kind)) + " '" + e.name + "': status must be " +
                           Join(ValidStatuses(e.kind), ", "));
  }
  if (e.kind == Kind::kCommand && Trim(e.executable).empty()) {
    return InvalidArgument("executable: must not be blank");
  }
  if (e.kind == Kind::kCommand && e.check_delay <= 0) {
    return InvalidArgument("checkDelay: must be positive");
  }
  if (e.memory && *e.memory <= 0) return InvalidArgument("memory: must be positive");
  for (const auto& t : e.tags) WEIR_RETURN_IF_ERROR(CheckText("tags", t, 1024, true));
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
