#include "auth/jose.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <array>
#include <boost/json.hpp>
#include <set>

namespace weir::auth {
namespace {

constexpr std::string_view kB64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> MakeB64Table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (size_t i = 0; i < kB64Alphabet.size(); ++i) {
    t[static_cast<unsigned char>(kB64Alphabet[i])] = static_cast<int8_t>(i);
  }
  return t;
}
constexpr std::array<int8_t, 256> kB64Table = MakeB64Table();

// Owners for OpenSSL objects (freed on every path).
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Public key from OSSL parameters, e.g. "RSA" with n and e.
Pkey PkeyFromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) return nullptr;
  return Pkey(pkey);
}

// A string member of a JWK; nullopt when absent, an error when present but not a string.
Result<std::optional<std::string>> StringMember(const boost::json::object& jwk,
                                                std::string_view name, const std::string& where) {
  const boost::json::value* v = jwk.if_contains(name);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string())
    return InvalidArgument(where + ": " + std::string(name) + " must be a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

// A required base64url member, decoded.
Result<std::string> B64Member(const boost::json::object& jwk, std::string_view name,
                              const std::string& where) {
  WEIR_ASSIGN_OR_RETURN(std::optional<std::string> s, StringMember(jwk, name, where));
  if (!s) return InvalidArgument(where + ": " + std::string(name) + " missing");
  Result<std::string> bytes = Base64UrlDecode(*s);
  if (!bytes) return InvalidArgument(where + ": " + std::string(name) + " is not base64url");
  return bytes;
}

Result<Pkey> RsaKey(const boost::json::object& jwk, const std::string& where) {
  WEIR_ASSIGN_OR_RETURN(std::string n, B64Member(jwk, "n", where));
  WEIR_ASSIGN_OR_RETURN(std::string e, B64Member(jwk, "e", where));
  Bn bn_n(BN_bin2bn(Bytes(n), static_cast<int>(n.size()), nullptr));
  Bn bn_e(BN_bin2bn(Bytes(e), static_cast<int>(e.size()), nullptr));
  if (!bn_n || !bn_e) return Internal(where + ": out of memory");
  // e = 1 would make every padded message its own signature.
  if (BN_num_bits(bn_n.get()) < 2048) {
    return InvalidArgument(where + ": RSA modulus under 2048 bits");
  }
  if (!BN_is_odd(bn_e.get()) || BN_num_bits(bn_e.get()) < 2) {
    return InvalidArgument(where + ": RSA exponent must be odd and at least 3");
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return Internal(where + ": out of memory");
  }
  Pkey pkey = PkeyFromParams("RSA", bld.get());
  if (!pkey) return InvalidArgument(where + ": not a usable RSA key");
  return pkey;
}

Result<Pkey> P256Key(const boost::json::object& jwk, const std::string& where) {
  WEIR_ASSIGN_OR_RETURN(std::string x, B64Member(jwk, "x", where));
  WEIR_ASSIGN_OR_RETURN(std::string y, B64Member(jwk, "y", where));
  if (x.size() != 32 || y.size() != 32) {
    return InvalidArgument(where + ": P-256 coordinates must be 32 bytes each");
  }
  std::string point(1, '\x04');  // SEC1 uncompressed: 04 || x || y
  point += x;
  point += y;
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Internal(where + ": out of memory");
  }
  Pkey pkey = PkeyFromParams("EC", bld.get());
  if (!pkey) return InvalidArgument(where + ": not a point on P-256");
  PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return InvalidArgument(where + ": not a point on P-256");
  }
  return pkey;
}

Result<Pkey> Ed25519Key(const boost::json::object& jwk, const std::string& where) {
  WEIR_ASSIGN_OR_RETURN(std::string x, B64Member(jwk, "x", where));
  if (x.size() != 32) return InvalidArgument(where + ": Ed25519 key must be 32 bytes");
  Pkey pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(x), x.size()));
  if (!pkey) return InvalidArgument(where + ": not a usable Ed25519 key");
  return pkey;
}

bool IsSignatureKey(const boost::json::object& jwk) {
  if (const auto* use = jwk.if_contains("use"); use != nullptr) {
    if (!use->is_string() || use->get_string() != "sig") return false;
  }
  if (const auto* ops = jwk.if_contains("key_ops"); ops != nullptr) {
    if (!ops->is_array()) return false;
    bool verify = false;
    for (const auto& op : ops->get_array()) verify |= op.is_string() && op.get_string() == "verify";
    if (!verify) return false;
  }
  return true;
}

// One JWK: a key, nullptr when skipped (not for signatures, unsupported algorithm or curve), or
// an error.
Result<std::shared_ptr<const VerificationKey>> ParseJwk(const boost::json::object& jwk,
                                                        const std::string& where) {
  using Skipped = std::shared_ptr<const VerificationKey>;
  WEIR_ASSIGN_OR_RETURN(std::optional<std::string> kty, StringMember(jwk, "kty", where));
  if (!kty) return InvalidArgument(where + ": kty missing");
  WEIR_ASSIGN_OR_RETURN(std::optional<std::string> kid, StringMember(jwk, "kid", where));
  WEIR_ASSIGN_OR_RETURN(std::optional<std::string> alg_name, StringMember(jwk, "alg", where));
  if (!IsSignatureKey(jwk)) return Skipped();
  std::optional<JwsAlg> alg;
  if (alg_name) {
    alg = ParseJwsAlg(*alg_name);
    if (!alg) return Skipped();  // RS384, RSA-OAEP, ...: not ours
  }
  auto fits = [&](std::initializer_list<JwsAlg> allowed) -> Status {
    for (JwsAlg a : allowed) {
      if (*alg == a) return Status::Ok();
    }
    return InvalidArgument(where + ": alg " + *alg_name + " does not fit kty " + *kty);
  };
  std::string key_id = kid.value_or("");
  if (*kty == "RSA") {
    if (!alg) alg = JwsAlg::kRS256;
    WEIR_RETURN_IF_ERROR(fits({JwsAlg::kRS256, JwsAlg::kPS256}));
    WEIR_ASSIGN_OR_RETURN(Pkey pkey, RsaKey(jwk, where));
    return VerificationKey::FromPkey(std::move(key_id), *alg, pkey.release());
  }
  if (*kty == "EC" || *kty == "OKP") {
    WEIR_ASSIGN_OR_RETURN(std::optional<std::string> crv, StringMember(jwk, "crv", where));
    if (!crv) return InvalidArgument(where + ": crv missing");
    if (*kty == "EC") {
      if (*crv != "P-256") return Skipped();
      if (!alg) alg = JwsAlg::kES256;
      WEIR_RETURN_IF_ERROR(fits({JwsAlg::kES256}));
      WEIR_ASSIGN_OR_RETURN(Pkey pkey, P256Key(jwk, where));
      return VerificationKey::FromPkey(std::move(key_id), *alg, pkey.release());
    }
    if (*crv != "Ed25519") return Skipped();
    if (!alg) alg = JwsAlg::kEdDSA;
    WEIR_RETURN_IF_ERROR(fits({JwsAlg::kEdDSA}));
    WEIR_ASSIGN_OR_RETURN(Pkey pkey, Ed25519Key(jwk, where));
    return VerificationKey::FromPkey(std::move(key_id), *alg, pkey.release());
  }
  if (*kty == "oct") {
    if (!alg) return InvalidArgument(where + ": an oct key needs \"alg\": \"HS256\"");
    WEIR_RETURN_IF_ERROR(fits({JwsAlg::kHS256}));
    WEIR_ASSIGN_OR_RETURN(std::string k, B64Member(jwk, "k", where));
    if (k.size() < 32) return InvalidArgument(where + ": HS256 secret under 32 bytes");
    return VerificationKey::FromSecret(std::move(key_id), std::move(k));
  }
  return Skipped();
}

}  // namespace

Result<std::string> Base64UrlDecode(std::string_view in) {
  if (in.size() % 4 == 1) return InvalidArgument("bad base64url");
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int8_t v = kB64Table[static_cast<unsigned char>(c)];
    if (v < 0) return InvalidArgument("bad base64url");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Left-over bits (2 or 4) must be zero: one encoding per byte string.
  if ((acc & ((1u << bits) - 1)) != 0) return InvalidArgument("bad base64url");
  return out;
}

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64Alphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kB64Alphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::string_view JwsAlgName(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::kRS256:
      return "RS256";
    case JwsAlg::kPS256:
      return "PS256";
    case JwsAlg::kES256:
      return "ES256";
    case JwsAlg::kEdDSA:
      return "EdDSA";
    case JwsAlg::kHS256:
      return "HS256";
  }
  return "?";
}

std::optional<JwsAlg> ParseJwsAlg(std::string_view name) {
  for (JwsAlg a :
       {JwsAlg::kRS256, JwsAlg::kPS256, JwsAlg::kES256, JwsAlg::kEdDSA, JwsAlg::kHS256}) {
    if (JwsAlgName(a) == name) return a;
  }
  return std::nullopt;
}

VerificationKey::~VerificationKey() { EVP_PKEY_free(pkey_); }

std::shared_ptr<const VerificationKey> VerificationKey::FromPkey(std::string kid, JwsAlg alg,
                                                                 EVP_PKEY* pkey) {
  std::shared_ptr<VerificationKey> key(new VerificationKey(std::move(kid), alg));
  key->pkey_ = pkey;
  return key;
}

std::shared_ptr<const VerificationKey> VerificationKey::FromSecret(std::string kid,
                                                                   std::string secret) {
  std::shared_ptr<VerificationKey> key(new VerificationKey(std::move(kid), JwsAlg::kHS256));
  key->secret_ = std::move(secret);
  return key;
}

bool VerificationKey::Verify(std::string_view signing_input, std::string_view signature) const {
  if (alg_ == JwsAlg::kHS256) {
    if (signature.size() != 32 || secret_.empty()) return false;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), Bytes(signing_input),
             signing_input.size(), mac, &mac_len) == nullptr ||
        mac_len != 32) {
      return false;
    }
    return CRYPTO_memcmp(mac, signature.data(), 32) == 0;
  }
  if (pkey_ == nullptr) return false;

  std::string der;  // ES256: r||s re-encoded as the DER ECDSA-Sig-Value EVP expects
  std::string_view sig = signature;
  switch (alg_) {
    case JwsAlg::kRS256:
    case JwsAlg::kPS256:
      // JWS: exactly the modulus size (RFC 7518 3.3, 3.5); OpenSSL would take shorter ones.
      if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(pkey_))) return false;
      break;
    case JwsAlg::kES256: {
      if (signature.size() != 64) return false;
      Bn r(BN_bin2bn(Bytes(signature), 32, nullptr));
      Bn s(BN_bin2bn(Bytes(signature.substr(32)), 32, nullptr));
      if (!r || !s || BN_is_zero(r.get()) || BN_is_zero(s.get())) return false;
      std::unique_ptr<ECDSA_SIG, EcdsaSigFree> es(ECDSA_SIG_new());
      if (!es || ECDSA_SIG_set0(es.get(), r.get(), s.get()) != 1) return false;
      r.release();
      s.release();
      unsigned char* buf = nullptr;
      int len = i2d_ECDSA_SIG(es.get(), &buf);
      if (len <= 0) return false;
      der.assign(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
      OPENSSL_free(buf);
      sig = der;
      break;
    }
    case JwsAlg::kEdDSA:
      if (signature.size() != 64) return false;
      break;
    case JwsAlg::kHS256:
      return false;
  }

  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  if (!md) return false;
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  const EVP_MD* digest = alg_ == JwsAlg::kEdDSA ? nullptr : EVP_sha256();
  if (EVP_DigestVerifyInit(md.get(), &pctx, digest, nullptr, pkey_) != 1) return false;
  if (alg_ == JwsAlg::kRS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return false;
  }
  if (alg_ == JwsAlg::kPS256 && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                                 EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
                                 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1)) {
    return false;
  }
  return EVP_DigestVerify(md.get(), Bytes(sig), sig.size(), Bytes(signing_input),
                          signing_input.size()) == 1;
}

Result<KeyList> ParseJwks(std::string_view json) {
  boost::json::value doc;
  try {
    boost::json::error_code ec;
    doc = boost::json::parse(json, ec);
    if (ec) return InvalidArgument("JWKS: not JSON (" + ec.message() + ")");
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("JWKS: not JSON (") + e.what() + ")");
  }
  const boost::json::object* root = doc.if_object();
  const boost::json::value* keys = root ? root->if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array()) {
    return InvalidArgument("JWKS: expected an object with a \"keys\" array");
  }
  KeyList out;
  std::set<std::string> kids;
  size_t index = 0;
  for (const boost::json::value& v : keys->get_array()) {
    std::string where = "JWKS: key " + std::to_string(index++);
    const boost::json::object* jwk = v.if_object();
    if (jwk == nullptr) return InvalidArgument(where + ": not an object");
    WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const VerificationKey> key, ParseJwk(*jwk, where));
    if (!key) continue;
    if (!key->kid().empty() && !kids.insert(key->kid()).second) {
      return InvalidArgument(where + ": kid used by two keys");
    }
    out.push_back(std::move(key));
  }
  if (out.empty()) {
    return InvalidArgument("JWKS: no usable key (RS256, PS256, ES256, EdDSA or HS256 signing key)");
  }
  return out;
}

}  // namespace weir::auth
