// Authentication: who sent a request, and which roles they hold.
//
// A request presents Credentials (its Authorization header, and the subject of a client
// certificate the TLS layer verified); an Authenticator turns them into a Principal or refuses
// them with kUnauthenticated. Authorization (who may do what) is not decided here: routes ask
// the Principal for its name and roles.
//
// Roles follow Genie 3: `admin` (changes applications, commands and clusters) implies `user`
// (submits jobs, reads). Other role names (per-environment deploy roles, groups that own asset
// namespaces) pass through as the identity provider spells them, after prefix stripping.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace weir::auth {

struct Principal {
  std::string name;                // who: the principal claim, static token owner, cert subject
  std::vector<std::string> roles;  // normalized, de-duplicated; "admin" always comes with "user"
  std::string mechanism;           // "jwt", "token", "mtls" or "none" (auth.mode none)
  // When the credential stops being valid (a JWT's exp); time_point::max() when it does not.
  std::chrono::system_clock::time_point expires = std::chrono::system_clock::time_point::max();

  bool HasRole(std::string_view role) const;
  bool IsAdmin() const { return HasRole("admin"); }
};

// What one request presents.
struct Credentials {
  std::string authorization;        // the Authorization header's value; "" when absent
  std::string client_cert_subject;  // a verified client certificate's subject; "" when none
};

// Verifies credentials. Implementations are thread-safe: the HTTP handler pool calls them
// concurrently. They never block without bound (a JWKS refresh has its own timeouts).
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The principal, or kUnauthenticated. The message starts with the RFC 6750 error code and a
  // colon, so the HTTP layer can build `WWW-Authenticate: Bearer error="..."` from it:
  //   "invalid_request: no credentials (send Authorization: Bearer <token>)"
  //   "invalid_token: token expired at 2026-12-06T10:00:00Z"
  // The rest of the message is safe to show the client (it never echoes a secret).
  virtual Result<Principal> Authenticate(const Credentials& credentials) = 0;
};

// JSON Web Tokens (RFC 7519) signed with RS256, PS256, ES256, EdDSA or HS256.
struct JwtConfig {
  // Keys: a JWKS document (RFC 7517) from a file (read once, at start), or from a URL fetched at
  // start and again when a token names an unknown `kid` (at most once per
  // jwks_min_refresh_interval, measured on the Clock's SteadyNow from the last attempt;
  // concurrent requests share one fetch; a failed fetch keeps the keys in use). Exactly one of
  // the two. The URL must be https:// (http:// only to 127.0.0.1, localhost or [::1]);
  // redirects are not followed; the document may hold at most 1 MiB.
  // Each key is bound to one algorithm, from its `alg` member (required for HS256 `oct` keys;
  // for RSA keys without `alg`, RS256; EC P-256: ES256; OKP Ed25519: EdDSA). A token whose
  // header `alg` differs from its key's algorithm is refused: the token never picks the
  // algorithm, and `none` is always refused. Keys for other uses or algorithms (`use: enc`,
  // RS384, P-384...) are skipped; RSA keys need 2048 bits, HS256 secrets 32 bytes.
  // The token's `kid` (an opaque string, compared byte for byte) chooses the key; a token
  // without `kid` is accepted only when the set holds exactly one key. The header parameters
  // `jku`, `x5u`, `jwk` and `x5c` are ignored (never fetched, never used); any `crit` is refused.
  std::filesystem::path jwks_file;
  std::string jwks_uri;
  std::chrono::seconds jwks_min_refresh_interval{60};
  std::chrono::milliseconds jwks_fetch_timeout{5000};
  // Required claims: `iss` equal to one of `issuers`, `aud` (string or array) holding one of
  // `audiences`, `exp` in the future and `nbf` (when present) in the past, both with `leeway`.
  std::vector<std::string> issuers;
  std::vector<std::string> audiences;
  std::chrono::seconds leeway{60};
  // The principal's name: this claim, a non-empty string (Genie 3 used `client_id`).
  std::string principal_claim = "sub";
  // Roles: this claim, a space-separated string (OAuth `scope`) or an array of strings
  // (`groups`). When role_prefix is set (Genie's "genie_"), only entries with the prefix count
  // and the prefix is removed ("genie_admin" -> "admin"). Absent claim: no roles.
  std::string roles_claim = "scope";
  std::string role_prefix;
  // Upper bound of a token's size (the whole Authorization value); longer is invalid_request.
  size_t max_token_bytes = 16 * 1024;
};

// The web UI's sign-in through an OpenID provider (auth.oidc; docs/ui.md): the authorization
// code flow with PKCE (RFC 7636) run by the browser as a public client. Nothing here is secret:
// GET /api/weir/v1/ui/auth hands it to any caller. The tokens the UI gets are verified like any
// other bearer token, by the JWT authenticator (JwtConfig), which must accept `issuer`.
struct OidcClientConfig {
  std::string issuer;             // https:// (http:// only to loopback); the tokens' iss
  std::string client_id;          // the public client registered at the provider; no secret
  std::string scopes = "openid";  // space-separated; holds openid
  // Endpoints; "" (default): read from <issuer>/.well-known/openid-configuration by the UI.
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string token = "id_token";  // which token the UI sends as Bearer: id_token or access_token
};

// A JWT authenticator over `config`. kInvalidArgument naming the setting ("auth.jwks_uri: ...")
// when the config is unusable (no key source or both, no issuer or audience, an unreadable or
// malformed JWKS file, a JWKS key without a usable algorithm, a plain-http URL to another host).
// With jwks_uri, the first fetch happens here; any failure of it (transport, HTTP status, a
// malformed document) is kUnavailable.
// Verified tokens are cached by the SHA-256 of the whole token until `exp` + leeway (at most
// 10,000 entries); a hit costs a hash and a lookup. Only successes are cached, so a token that
// differs in any byte from a verified one is verified in full. A refresh that replaces the keys
// empties the cache. Checks run cheapest first and the payload is read only after the signature
// verified. Refusals never echo the token or its header values.
Result<std::unique_ptr<Authenticator>> NewJwtAuthenticator(JwtConfig config, const Clock& clock);

}  // namespace weir::auth
