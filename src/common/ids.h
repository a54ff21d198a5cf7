// Identifiers: random UUIDs for resources and jobs the client did not name. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace weir {

// A random (version 4) UUID in lowercase canonical form.
std::string NewUuid();

// True for the ids weir accepts from clients: 1..255 characters, none of them '/', control
// characters or whitespace, and not "." or "..". Ids name folders and URL segments.
bool IsSafeId(std::string_view id);

}  // namespace weir
