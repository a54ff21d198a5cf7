// Small URI helpers for the fetch module: split a URI into scheme, authority and path, decode
// percent-escapes, and hide credentials before a URI appears in a message. Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace weir::fetch {

struct ParsedUri {
  std::string scheme;     // lower-cased, "" for a plain path
  std::string authority;  // "user@host:port" as written, "" when absent
  std::string host;       // without brackets, user info or port
  int port = 0;           // 0 when absent
  std::string path;       // raw (still encoded), "" when absent
  std::string query;      // raw, without the '?', "" when absent
};

// Parses "scheme://authority/path?query#fragment" (the fragment is dropped) or a plain path
// (scheme ""). kInvalidArgument for an empty string, a bad port or a scheme with no "://".
Result<ParsedUri> ParseUri(std::string_view uri);

// Decodes %XX escapes; kInvalidArgument on a malformed escape or an escaped NUL.
Result<std::string> PercentDecode(std::string_view s);

// The URI with any user info ("user:secret@") replaced by "***@", for messages and logs.
std::string RedactUri(std::string_view uri);

}  // namespace weir::fetch
