// NewJwtAuthenticator: bearer JWTs (JWS compact serialization) checked against a JWKS.
//
// Order of checks on a request, cheapest and least trusting first: size, scheme, the cache of
// verified tokens, the header (alg, crit, kid -> key, alg == key's algorithm), the signature, and
// only then the claims of the (now authentic) payload.
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "auth/auth.h"
#include "auth/jose.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "fetch/digest.h"
#include "fetch/http_client.h"

namespace weir::auth {
namespace {

constexpr size_t kMaxCachedTokens = 10'000;
constexpr size_t kMaxJwksBytes = 1 << 20;
// Latest NumericDate accepted (9999-12-31T23:59:59Z): keeps millisecond arithmetic in range.
constexpr double kMaxNumericDate = 253402300799.0;

Status InvalidToken(std::string why) { return Unauthenticated("invalid_token: " + why); }
Status InvalidRequest(std::string why) { return Unauthenticated("invalid_request: " + why); }

// Parses base64url-encoded JSON that must be an object.
std::optional<boost::json::object> DecodeJsonObject(std::string_view segment) {
  Result<std::string> bytes = Base64UrlDecode(segment);
  if (!bytes) return std::nullopt;
  try {
    boost::json::error_code ec;
    boost::json::value v = boost::json::parse(*bytes, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.get_object());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// A NumericDate claim in epoch milliseconds; nullopt when not a number in [0, year 9999].
std::optional<int64_t> NumericDateMillis(const boost::json::value& v) {
  if (!v.is_number()) return std::nullopt;
  boost::json::error_code ec;
  double seconds = v.to_number<double>(ec);
  if (ec || !std::isfinite(seconds) || seconds < 0 || seconds > kMaxNumericDate) {
    return std::nullopt;
  }
  return static_cast<int64_t>(std::floor(seconds * 1000.0));
}

bool Contains(const std::vector<std::string>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// http:// is accepted only to the loopback interface: keys fetched in clear text from elsewhere
// could be swapped on the way.
Status CheckJwksUri(const std::string& uri) {
  std::string lower = ToLower(uri);
  if (StartsWith(lower, "https://")) return Status::Ok();
  if (!StartsWith(lower, "http://")) {
    return InvalidArgument("auth.jwks_uri: must be an https:// URL");
  }
  std::string_view authority = std::string_view(lower).substr(7);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.find('@') == std::string_view::npos) {
    std::string_view host = authority;
    if (StartsWith(host, "[")) {
      host = host.substr(0, host.find(']') + 1);
    } else {
      host = host.substr(0, host.find(':'));
    }
    if (host == "127.0.0.1" || host == "localhost" || host == "[::1]") return Status::Ok();
  }
  return InvalidArgument(
      "auth.jwks_uri: must be https:// (http:// only to 127.0.0.1, localhost "
      "or [::1])");
}

class JwtAuthenticator final : public Authenticator {
 public:
  JwtAuthenticator(JwtConfig config, const Clock& clock)
      : config_(std::move(config)), clock_(clock) {}

  // Loads the keys (file or first fetch).
  Status Init() {
    if (!config_.jwks_file.empty()) {
      std::ifstream in(config_.jwks_file, std::ios::binary);
      if (!in) {
        return InvalidArgument("auth.jwks_file: cannot read '" + config_.jwks_file.string() + "'");
      }
      std::ostringstream text;
      text << in.rdbuf();
      Result<KeyList> keys = ParseJwks(text.str());
      if (!keys) return keys.status().WithContext("auth.jwks_file");
      keys_ = std::make_shared<const KeyList>(std::move(*keys));
      return Status::Ok();
    }
    last_fetch_ = clock_.SteadyNow();
    fetched_once_ = true;
    Result<KeyList> keys = FetchJwks();
    if (!keys) return Unavailable("auth.jwks_uri: " + keys.status().message());
    keys_ = std::make_shared<const KeyList>(std::move(*keys));
    return Status::Ok();
  }

  Result<Principal> Authenticate(const Credentials& credentials) override {
    const std::string& header = credentials.authorization;
    if (header.empty()) {
      return InvalidRequest("no credentials (send Authorization: Bearer <token>)");
    }
    if (header.size() > config_.max_token_bytes) {
      return InvalidRequest("token larger than " + std::to_string(config_.max_token_bytes) +
                            " bytes");
    }
    std::string_view value = Trim(header);
    size_t space = value.find(' ');
    if (space == std::string_view::npos || ToLower(value.substr(0, space)) != "bearer") {
      return InvalidRequest(
          "unsupported authorization scheme (send Authorization: Bearer <token>)");
    }
    std::string_view token = Trim(value.substr(space + 1));
    if (token.empty()) return InvalidRequest("empty bearer token");

    // A hit costs one hash and one lookup. Only verified tokens are stored, under the hash of
    // the whole token: a token differing in any byte misses and is verified in full.
    std::string digest = fetch::Sha256(token);
    int64_t now_ms = ToEpochMillis(clock_.Now());
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = cache_.find(digest);
      if (it != cache_.end()) {
        if (now_ms < it->second.valid_until_ms) return it->second.principal;
        cache_.erase(it);  // expired: verified again below, which says so
      }
    }

    Result<Principal> principal = Verify(token, now_ms);
    if (!principal) return principal;
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kMaxCachedTokens) EvictLocked(now_ms);
    int64_t exp_ms = ToEpochMillis(std::chrono::time_point_cast<Millis>(principal->expires));
    cache_[digest] = CacheEntry{*principal, exp_ms + Leeway()};
    return principal;
  }

 private:
  struct CacheEntry {
    Principal principal;
    int64_t valid_until_ms;  // exp + leeway
  };

  int64_t Leeway() const { return std::chrono::duration_cast<Millis>(config_.leeway).count(); }

  Result<Principal> Verify(std::string_view token, int64_t now_ms) {
    size_t dot1 = token.find('.');
    size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
      return InvalidToken("malformed token (expected header.payload.signature)");
    }
    std::string_view signing_input = token.substr(0, dot2);
    std::optional<boost::json::object> header = DecodeJsonObject(token.substr(0, dot1));
    if (!header) return InvalidToken("header is not a base64url-encoded JSON object");

    // The header's alg must name a supported algorithm; it is then compared with the key's own,
    // never used to choose how to verify. jku, x5u, jwk and x5c are ignored: keys come only
    // from the configured JWKS.
    const boost::json::value* alg_value = header->if_contains("alg");
    if (alg_value == nullptr || !alg_value->is_string()) return InvalidToken("alg missing");
    std::string_view alg_name(alg_value->get_string());
    if (ToLower(alg_name) == "none") return InvalidToken("alg none is not accepted");
    std::optional<JwsAlg> alg = ParseJwsAlg(alg_name);
    if (!alg) return InvalidToken("unsupported alg (accepted: RS256, PS256, ES256, EdDSA, HS256)");
    if (header->contains("crit")) {
      return InvalidToken("critical header parameters (crit) are not supported");
    }
    const boost::json::value* kid_value = header->if_contains("kid");
    if (kid_value != nullptr && !kid_value->is_string())
      return InvalidToken("kid must be a string");
    std::optional<std::string> kid;
    if (kid_value != nullptr) kid = std::string(kid_value->get_string());

    WEIR_ASSIGN_OR_RETURN(std::shared_ptr<const VerificationKey> key, FindKey(kid));
    if (key->alg() != *alg) {
      return InvalidToken("alg " + std::string(JwsAlgName(*alg)) + " does not match the key's " +
                          std::string(JwsAlgName(key->alg())));
    }
    Result<std::string> signature = Base64UrlDecode(token.substr(dot2 + 1));
    if (!signature || !key->Verify(signing_input, *signature)) {
      return InvalidToken("signature does not verify");
    }

    std::optional<boost::json::object> claims =
        DecodeJsonObject(token.substr(dot1 + 1, dot2 - dot1 - 1));
    if (!claims) return InvalidToken("payload is not a base64url-encoded JSON object");
    return CheckClaims(*claims, now_ms);
  }

  Result<Principal> CheckClaims(const boost::json::object& claims, int64_t now_ms) {
    const int64_t leeway = Leeway();
    const boost::json::value* exp_value = claims.if_contains("exp");
    if (exp_value == nullptr) return InvalidToken("exp claim missing");
    std::optional<int64_t> exp = NumericDateMillis(*exp_value);
    if (!exp) return InvalidToken("exp claim is not a NumericDate");
    if (now_ms >= *exp + leeway) {
      return InvalidToken("token expired at " + FormatIso8601(FromEpochMillis(*exp)));
    }
    if (const boost::json::value* nbf_value = claims.if_contains("nbf")) {
      std::optional<int64_t> nbf = NumericDateMillis(*nbf_value);
      if (!nbf) return InvalidToken("nbf claim is not a NumericDate");
      if (now_ms < *nbf - leeway) {
        return InvalidToken("token not valid before " + FormatIso8601(FromEpochMillis(*nbf)));
      }
    }

    const boost::json::value* iss = claims.if_contains("iss");
    if (iss == nullptr || !iss->is_string()) return InvalidToken("iss claim missing");
    if (!Contains(config_.issuers, std::string_view(iss->get_string()))) {
      return InvalidToken("issuer not accepted");
    }
    const boost::json::value* aud = claims.if_contains("aud");
    if (aud == nullptr) return InvalidToken("aud claim missing");
    bool audience_ok = false;
    if (aud->is_string()) {
      audience_ok = Contains(config_.audiences, std::string_view(aud->get_string()));
    } else if (aud->is_array()) {
      for (const boost::json::value& a : aud->get_array()) {
        audience_ok |=
            a.is_string() && Contains(config_.audiences, std::string_view(a.get_string()));
      }
    } else {
      return InvalidToken("aud claim must be a string or an array of strings");
    }
    if (!audience_ok) return InvalidToken("audience not accepted");

    Principal principal;
    principal.mechanism = "jwt";
    principal.expires = std::chrono::system_clock::time_point(Millis(*exp));
    const boost::json::value* name = claims.if_contains(config_.principal_claim);
    if (name == nullptr || !name->is_string() || name->get_string().empty()) {
      return InvalidToken(config_.principal_claim + " claim missing or empty");
    }
    principal.name = std::string(name->get_string());
    if (!CheckNoControlChars(config_.principal_claim, principal.name).ok()) {
      return InvalidToken(config_.principal_claim + " claim holds a control character");
    }

    std::vector<std::string> raw;
    const boost::json::value* roles =
        config_.roles_claim.empty() ? nullptr : claims.if_contains(config_.roles_claim);
    if (roles != nullptr) {
      if (roles->is_string()) {
        for (std::string& r : Split(std::string_view(roles->get_string()), ' ')) {
          raw.push_back(std::move(r));
        }
      } else if (roles->is_array()) {
        for (const boost::json::value& r : roles->get_array()) {
          if (!r.is_string()) {
            return InvalidToken(config_.roles_claim +
                                " claim must be a string or an array of strings");
          }
          raw.emplace_back(r.get_string());
        }
      } else {
        return InvalidToken(config_.roles_claim + " claim must be a string or an array of strings");
      }
    }
    for (std::string& r : raw) {
      if (!config_.role_prefix.empty()) {
        if (!StartsWith(r, config_.role_prefix)) continue;
        r.erase(0, config_.role_prefix.size());
      }
      if (r.empty() || !CheckNoControlChars("role", r).ok() || Contains(principal.roles, r)) {
        continue;
      }
      principal.roles.push_back(std::move(r));
    }
    if (principal.HasRole("admin") && !principal.HasRole("user")) principal.roles.push_back("user");
    return principal;
  }

  // The key for a token's kid. Without a kid: the only key of a one-key set. An unknown kid
  // refreshes a jwks_uri key set (rate limited) and looks again.
  Result<std::shared_ptr<const VerificationKey>> FindKey(const std::optional<std::string>& kid) {
    std::shared_ptr<const KeyList> keys = Keys();
    if (!kid) {
      if (keys->size() == 1) return keys->front();
      return InvalidToken("token has no kid and the key set holds " + std::to_string(keys->size()) +
                          " keys");
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      for (const auto& key : *keys) {
        if (key->kid() == *kid) return key;
      }
      if (attempt == 0 && !config_.jwks_uri.empty()) {
        Refresh();
        keys = Keys();
      }
    }
    return InvalidToken("unknown kid");
  }

  std::shared_ptr<const KeyList> Keys() {
    std::lock_guard<std::mutex> lock(keys_mu_);
    return keys_;
  }

  // Fetches the JWKS again unless one was fetched (or tried) less than
  // jwks_min_refresh_interval ago. Callers that queued behind a fetch use its outcome instead of
  // fetching again. A failure keeps the old keys.
  void Refresh() {
    uint64_t seen = fetches_.load();
    std::lock_guard<std::mutex> lock(refresh_mu_);
    if (fetches_.load() != seen) return;
    auto now = clock_.SteadyNow();
    if (fetched_once_ && now - last_fetch_ < config_.jwks_min_refresh_interval) return;
    last_fetch_ = now;
    fetched_once_ = true;
    Result<KeyList> keys = FetchJwks();
    ++fetches_;
    if (!keys) return;
    {
      std::lock_guard<std::mutex> keys_lock(keys_mu_);
      keys_ = std::make_shared<const KeyList>(std::move(*keys));
    }
    // Tokens verified under a key that is gone must not outlive it in the cache.
    std::lock_guard<std::mutex> cache_lock(cache_mu_);
    cache_.clear();
  }

  Result<KeyList> FetchJwks() {
    fetch::HttpRequest request;
    request.url = config_.jwks_uri;
    request.follow_redirects = false;
    request.headers.emplace_back("Accept", "application/json");
    fetch::HttpOptions options;
    options.connect_timeout = config_.jwks_fetch_timeout;
    options.total_timeout = config_.jwks_fetch_timeout;
    options.low_speed_timeout = config_.jwks_fetch_timeout;
    options.max_redirects = 0;
    options.user_agent = "weir-auth";
    WEIR_ASSIGN_OR_RETURN(fetch::HttpResponse response, fetch::Perform(request, options));
    if (response.status != 200) return fetch::HttpStatusError(response.status, response.reason);
    if (response.body.size() > kMaxJwksBytes) return InvalidArgument("JWKS larger than 1 MiB");
    return ParseJwks(response.body);
  }

  // Makes room: drops expired entries, then arbitrary ones down to 90% of the bound.
  void EvictLocked(int64_t now_ms) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = it->second.valid_until_ms <= now_ms ? cache_.erase(it) : std::next(it);
    }
    while (cache_.size() >= kMaxCachedTokens * 9 / 10) cache_.erase(cache_.begin());
  }

  const JwtConfig config_;
  const Clock& clock_;

  std::mutex keys_mu_;
  std::shared_ptr<const KeyList> keys_;  // GUARDED_BY(keys_mu_)

  std::mutex refresh_mu_;  // serializes fetches
  std::atomic<uint64_t> fetches_{0};
  std::chrono::steady_clock::time_point last_fetch_;  // GUARDED_BY(refresh_mu_)
  bool fetched_once_ = false;                         // GUARDED_BY(refresh_mu_)

  std::mutex cache_mu_;
  std::unordered_map<std::string, CacheEntry> cache_;  // GUARDED_BY(cache_mu_); SHA-256 -> entry
};

}  // namespace

Result<std::unique_ptr<Authenticator>> NewJwtAuthenticator(JwtConfig config, const Clock& clock) {
  if (config.jwks_file.empty() == config.jwks_uri.empty()) {
    return InvalidArgument(config.jwks_file.empty()
                               ? "auth.jwks_file or auth.jwks_uri: one is required"
                               : "auth.jwks_file and auth.jwks_uri: set only one");
  }
  if (!config.jwks_uri.empty()) WEIR_RETURN_IF_ERROR(CheckJwksUri(config.jwks_uri));
  if (config.issuers.empty()) return InvalidArgument("auth.issuers: at least one is required");
  if (config.audiences.empty()) return InvalidArgument("auth.audiences: at least one is required");
  if (config.principal_claim.empty()) return InvalidArgument("auth.principal_claim: empty");
  if (config.leeway.count() < 0) return InvalidArgument("auth.leeway: negative");
  if (config.jwks_min_refresh_interval.count() < 0) {
    return InvalidArgument("auth.jwks_min_refresh_interval: negative");
  }
  if (config.jwks_fetch_timeout.count() <= 0) {
    return InvalidArgument("auth.jwks_fetch_timeout: must be positive");
  }
  if (config.max_token_bytes == 0) return InvalidArgument("auth.max_token_bytes: must be positive");
  auto authenticator = std::make_unique<JwtAuthenticator>(std::move(config), clock);
  WEIR_RETURN_IF_ERROR(authenticator->Init());
  return std::unique_ptr<Authenticator>(std::move(authenticator));
}

}  // namespace weir::auth
