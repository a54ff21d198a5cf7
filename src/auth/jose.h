// JOSE building blocks for the JWT authenticator (internal to the auth module): strict base64url
// (RFC 7515 section 2), the JWS algorithms weir accepts, and JWKS parsing (RFC 7517/7518) into
// verification keys, each bound to exactly one algorithm.
//
// Keys are immutable after parsing and safe to use from many threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace weir::auth {

// Base64url without padding. Refuses '=', characters outside [A-Za-z0-9_-], a length of 1 mod 4
// and non-zero trailing bits (so every byte string has exactly one accepted encoding).
// kInvalidArgument "bad base64url" on anything else.
Result<std::string> Base64UrlDecode(std::string_view in);
std::string Base64UrlEncode(std::string_view in);

enum class JwsAlg { kRS256, kPS256, kES256, kEdDSA, kHS256 };

// The JWS name ("RS256"...) of an algorithm, and back; nullopt for any other name ("none",
// "RS384", "rs256": names are case-sensitive).
std::string_view JwsAlgName(JwsAlg alg);
std::optional<JwsAlg> ParseJwsAlg(std::string_view name);

// One verification key of a JWKS, bound to one algorithm.
class VerificationKey {
 public:
  ~VerificationKey();
  VerificationKey(const VerificationKey&) = delete;
  VerificationKey& operator=(const VerificationKey&) = delete;

  const std::string& kid() const { return kid_; }  // "" when the JWK has none
  JwsAlg alg() const { return alg_; }

  // True when `signature` (the decoded third JWS segment) is a valid signature of
  // `signing_input` ("<header>.<payload>" as sent) under this key and its algorithm. ES256 takes
  // the JWS form r||s (64 bytes) only; HS256 compares in constant time. Thread-safe.
  bool Verify(std::string_view signing_input, std::string_view signature) const;

  // Builds keys directly (tests, and ParseJwks). `pkey` is owned from then on.
  static std::shared_ptr<const VerificationKey> FromPkey(std::string kid, JwsAlg alg,
                                                         EVP_PKEY* pkey);
  static std::shared_ptr<const VerificationKey> FromSecret(std::string kid, std::string secret);

 private:
  VerificationKey(std::string kid, JwsAlg alg) : kid_(std::move(kid)), alg_(alg) {}

  std::string kid_;
  JwsAlg alg_;
  EVP_PKEY* pkey_ = nullptr;  // RS256, PS256, ES256, EdDSA
  std::string secret_;        // HS256
};

using KeyList = std::vector<std::shared_ptr<const VerificationKey>>;

// Parses a JWKS document ({"keys": [...]}) into keys.
//
// Each key's algorithm is its `alg` member when present; without one: kty RSA -> RS256, EC
// P-256 -> ES256, OKP Ed25519 -> EdDSA; an `oct` key must name HS256. Keys that are not for
// signatures (`use` other than "sig", `key_ops` without "verify") or that use an algorithm or
// curve weir does not implement (RS384, P-384, X25519...) are skipped, so a provider's full JWKS
// can be used as it is. kInvalidArgument "JWKS: <why>" for: malformed JSON, a malformed key of a
// supported type (bad base64url, wrong coordinate size, a point not on the curve), an `alg` that
// does not fit the key type (an EC key marked RS256), an RSA modulus under 2048 bits, an HS256
// secret under 32 bytes, an `oct` key without `alg`, two keys with the same `kid`, and a
// document with no usable key.
Result<KeyList> ParseJwks(std::string_view json);

}  // namespace weir::auth
