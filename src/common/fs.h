// File-system helpers with the safety rules weir relies on. Errors map through ErrnoStatus.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace weir {

Result<std::string> ReadFile(const std::filesystem::path& path);
// Writes `data` to a temporary file beside `path`, fsyncs it, renames it over `path` and fsyncs
// the folder: readers see the old content or the new one, never a part, also after a crash.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view data);
Status MakeDirs(const std::filesystem::path& path);

// Resolves `relative` (a client-supplied path such as "logs/genie.log") inside `root` and returns
// the canonical absolute path. Refuses (kInvalidArgument) absolute paths and ".." components, and
// (kPermissionDenied) any path whose canonical form — symlinks followed — leaves `root`.
// kNotFound when the path does not exist.
Result<std::filesystem::path> ResolveInside(const std::filesystem::path& root,
                                            std::string_view relative);

}  // namespace weir
