// Configuration resources of the job gateway: applications, commands and clusters.
//
// The three share Genie's base shape (id, name, user, version, description, metadata, tags,
// setup file, configs, dependencies, status), so weir holds them in one value type, ConfigEntity,
// tagged with its Kind; the kind-specific fields are used only by their kind. Plain values, no
// behaviour beyond validation; the store persists them and src/api maps them to JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace weir::model {

enum class Kind { kApplication, kCommand, kCluster };

// "application", "command", "cluster".
std::string_view KindName(Kind kind);
// The Genie collection: "applications", "commands", "clusters".
std::string_view KindCollection(Kind kind);
// Valid status strings: applications and commands ACTIVE, DEPRECATED, INACTIVE; clusters UP,
// OUT_OF_SERVICE, TERMINATED.
const std::vector<std::string>& ValidStatuses(Kind kind);
bool IsValidStatus(Kind kind, std::string_view status);

struct ConfigEntity {
  Kind kind = Kind::kApplication;
  std::string id;
  TimePoint created{};
  TimePoint updated{};
  std::string name;
  std::string user;
  std::string version;
  std::optional<std::string> description;
  std::string metadata_json;             // a JSON object as text; empty when none
  std::vector<std::string> tags;         // sorted, unique; includes genie.id: and genie.name:
  std::optional<std::string> setup_file;
  std::vector<std::string> configs;      // URIs
  std::vector<std::string> dependencies; // URIs
  std::string status;                    // see ValidStatuses(kind)

  // Application only.
  std::optional<std::string> type;
  // Command only.
  std::string executable;                // may contain arguments
  int64_t check_delay = 10000;           // ms
  std::optional<int> memory;             // MB, default for the command's jobs

  friend bool operator==(const ConfigEntity&, const ConfigEntity&) = default;
};

// Bounds of a command's numbers (inclusive).
inline constexpr int64_t kMaxCheckDelayMs = 24LL * 3600 * 1000;  // one day
inline constexpr int kMaxCommandMemoryMb = 1 << 24;              // 16 TiB
// Bytes of an entity's serialized metadata.
inline constexpr size_t kMaxConfigMetadataBytes = 256 * 1024;

// Checks the invariants every stored entity keeps: name, user, version non-blank and ≤255,
// description ≤1000, id following the id rule (common/ids.h), valid status, command executable
// non-blank, checkDelay 1..kMaxCheckDelayMs, memory 1..kMaxCommandMemoryMb, tags ≤1024 characters
// each, and no control character (U+0000..U+001F, U+007F..U+009F) in name, user, version, tags,
// type, executable, setupFile, configs or dependencies (description: tab and line breaks only).
// kInvalidArgument naming the field and the allowed values; kPayloadTooLarge when metadata is
// over kMaxConfigMetadataBytes.
Status Validate(const ConfigEntity& e);

// Sorts and dedups tags, drops any old genie.id:/genie.name: tags and adds the current
// "genie.id:<id>" and "genie.name:<name>" (Genie's implicit tags).
void NormalizeTags(ConfigEntity& e);

}  // namespace weir::model
