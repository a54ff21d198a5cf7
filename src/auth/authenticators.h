// The authenticators weir composes (besides JWT, see auth.h): static tokens for machines, the
// subject of a verified client certificate, and the chain that picks one per request.
//
// Static tokens file (auth.static_tokens_file), one token a line:
//   # comment
//   <sha256 hex of the token> <principal> <role,role,...>
// The file holds hashes only, so reading it does not reveal a token. A token is matched by
// hashing the presented value and comparing it with every entry in constant time (the time
// does not depend on which entry, or which byte, differs).
//
// Every authenticator here is immutable after construction and thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth.h"
#include "common/result.h"

namespace weir::auth {

struct StaticToken {
  std::string sha256;   // 32 raw bytes
  Principal principal;  // mechanism "token"
};

// Parses the static tokens file's text. kInvalidArgument naming the line: not three fields, a
// hash that is not 64 hex digits, a duplicate hash, an empty role. Roles are normalized as
// NormalizeRoles does.
Result<std::vector<StaticToken>> ParseStaticTokens(std::string_view text);
// Reads and parses the file. kPermissionDenied when it is group- or world-writable (anyone who
// can write it can mint an admin), or not a regular file.
Result<std::vector<StaticToken>> LoadStaticTokens(const std::filesystem::path& file);

// Sorted, de-duplicated roles; "admin" brings "user".
std::vector<std::string> NormalizeRoles(std::vector<std::string> roles);

// Client certificates: the subject's CN is the principal; roles from `roles_by_name`, else
// `default_roles`.
struct MtlsConfig {
  std::map<std::string, std::vector<std::string>> roles_by_name;
  std::vector<std::string> default_roles = {"user"};
};
// The CN of a subject in OpenSSL's one-line form ("/O=x/CN=alice") or RFC 2253 form
// ("CN=alice,O=x"); "" without one.
std::string SubjectCommonName(std::string_view subject);

struct ChainOptions {
  std::vector<StaticToken> static_tokens;
  std::unique_ptr<Authenticator> jwt;  // null: JWTs are not accepted
  std::optional<MtlsConfig> mtls;      // unset: client certificates are not used
};

// Per request: an Authorization header must be `Bearer <token>`; the token is looked up among
// the static tokens, then (when it has the three-part JWT shape and jwt is set) verified as a
// JWT. Without an Authorization header, a verified client certificate authenticates when mtls
// is set. Presented but invalid credentials are refused even if a certificate would do.
// Errors follow Authenticator's message convention (invalid_request / invalid_token).
std::unique_ptr<Authenticator> NewChainAuthenticator(ChainOptions options);

}  // namespace weir::auth
