// Identifiers: random UUIDs for resources and jobs the client did not name, and the one rule that
// turns a client-supplied id into a file name or a URI segment. Thread-safe.
//
// The id rule (documented for clients in docs/api.md, "Ids"): 1 to kMaxIdLength characters from
// [A-Za-z0-9._-], not starting with '.' or '-'. UUIDs, "name_2026-12-01_x" and "a.b-c" follow it;
// "..", "a/b", "x%2fy", "q?x=1", "v#" and anything longer do not. Every character of the alphabet
// is unreserved in a URI, so an id is its own percent-encoding, and "<id>.tar.gz" or any other
// name derived from an id with a short suffix stays well below NAME_MAX (255).
//
// Ids stored by older versions (which accepted any 1..255 characters without '/', whitespace or
// control characters) may still sit in a database. Code that derives a path from a stored id uses
// IdFileName, which maps such an id to a name no valid id has, so it never names a path outside
// its folder nor one that is too long.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace weir {

inline constexpr size_t kMaxIdLength = 128;

// A random (version 4) UUID in lowercase canonical form.
std::string NewUuid();

// OK when `id` follows the id rule; otherwise kInvalidArgument "<field>: <what is wrong>; <the
// rule>", e.g. "id: character '/' is not allowed; ids are 1 to 128 characters from A-Z a-z 0-9
// . _ - and do not start with '.' or '-'". Client input is quoted only when printable ASCII.
Status ValidateId(std::string_view field, std::string_view id);

// ValidateId(...).ok().
bool IsSafeId(std::string_view id);

// The file name an id gets: the id itself when it follows the rule; otherwise "-invalid-id-"
// followed by 16 hex digits of a hash of the id (valid ids never start with '-'). Never empty,
// never contains '/', never "." or "..", at most 29 characters for an invalid id.
std::string IdFileName(std::string_view id);

// `dir / (id + suffix)` for a valid id; kInvalidArgument (ValidateId's message) otherwise.
// `suffix` is a fixed extension such as ".tar.gz" (REQUIRES: no '/').
Result<std::filesystem::path> IdPath(const std::filesystem::path& dir, std::string_view id,
                                     std::string_view suffix = {});

// `s` percent-encoded for one URI path segment: every byte outside [A-Za-z0-9._~-] becomes %XX
// (so '/', '%', '?', '#' can never change the URI's structure). Identity for a valid id.
std::string EncodeUriSegment(std::string_view s);

}  // namespace weir
