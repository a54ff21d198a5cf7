// The auth section of the server config: auth.jwt, auth.oidc, auth.mtls and the rest, their
// parsing and their checks against each other.
#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/strings.h"
#include "server/config.h"
#include "server/config_internal.h"

namespace weir::server::config_internal {

namespace {

// The string setting `name` (auth.jwt.<key>, auth.oidc.<key>) into `out`.
Status ScalarString(const YAML::Node& v, const std::string& name, std::string& out) {
  if (!v.IsScalar()) return InvalidArgument("config " + name + ": expected a string");
  out = v.Scalar();
  return Status::Ok();
}

// auth.jwt: a mapping onto auth::JwtConfig.
Status JwtSection(const YAML::Node& n, ServerConfig& c) {
  if (n.IsNull()) {
    c.jwt.reset();
    return Status::Ok();
  }
  if (!n.IsMap()) return InvalidArgument("config auth.jwt: expected a mapping");
  auth::JwtConfig j;
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const std::string name = "auth.jwt." + key;
    const YAML::Node& v = kv.second;
    auto seconds = [&](auto& out) -> Status {
      long long x = 0;
      if (!v.IsScalar() || !ParseInt64(v.Scalar(), &x) || x < 0 || x > 86400) {
        return InvalidArgument("config " + name + ": expected whole seconds, 0 to 86400");
      }
      out = std::remove_reference_t<decltype(out)>(x);
      return Status::Ok();
    };
    std::string text;
    if (key == "jwks_file") {
      WEIR_RETURN_IF_ERROR(ScalarString(v, name, text));
      j.jwks_file = text;
    } else if (key == "jwks_uri") {
      WEIR_RETURN_IF_ERROR(ScalarString(v, name, j.jwks_uri));
    } else if (key == "issuers") {
      WEIR_RETURN_IF_ERROR(StringList(v, name, j.issuers));
    } else if (key == "audiences") {
      WEIR_RETURN_IF_ERROR(StringList(v, name, j.audiences));
    } else if (key == "leeway_s") {
      WEIR_RETURN_IF_ERROR(seconds(j.leeway));
    } else if (key == "jwks_min_refresh_interval_s") {
      WEIR_RETURN_IF_ERROR(seconds(j.jwks_min_refresh_interval));
    } else if (key == "principal_claim") {
      WEIR_RETURN_IF_ERROR(ScalarString(v, name, j.principal_claim));
    } else if (key == "roles_claim") {
      WEIR_RETURN_IF_ERROR(ScalarString(v, name, j.roles_claim));
    } else if (key == "role_prefix") {
      WEIR_RETURN_IF_ERROR(ScalarString(v, name, j.role_prefix));
    } else {
      return InvalidArgument("config " + name +
                             ": unknown setting (known: audiences, issuers, jwks_file, "
                             "jwks_min_refresh_interval_s, jwks_uri, leeway_s, principal_claim, "
                             "role_prefix, roles_claim)");
    }
  }
  c.jwt = std::move(j);
  return Status::Ok();
}

// auth.oidc: a mapping onto auth::OidcClientConfig; scopes is a space-separated string or a list.
Status OidcSection(const YAML::Node& n, ServerConfig& c) {
  if (n.IsNull()) {
    c.oidc.reset();
    return Status::Ok();
  }
  if (!n.IsMap()) return InvalidArgument("config auth.oidc: expected a mapping");
  auth::OidcClientConfig o;
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const std::string name = "auth.oidc." + key;
    const YAML::Node& v = kv.second;
    if (key == "issuer") {
      WEIR_RETURN_IF_ERROR(ScalarString(v, name, o.issuer));
    } else if (key == "client_id") {
      WEIR_RETURN_IF_ERROR(ScalarString(v, name, o.client_id));
    } else if (key == "scopes") {
      std::vector<std::string> scopes;
      WEIR_RETURN_IF_ERROR(StringList(v, name, scopes));
      o.scopes = Join(scopes, " ");
    } else if (key == "authorization_endpoint") {
      WEIR_RETURN_IF_ERROR(ScalarString(v, name, o.authorization_endpoint));
    } else if (key == "token_endpoint") {
      WEIR_RETURN_IF_ERROR(ScalarString(v, name, o.token_endpoint));
    } else if (key == "token") {
      WEIR_RETURN_IF_ERROR(ScalarString(v, name, o.token));
    } else {
      return InvalidArgument("config " + name +
                             ": unknown setting (known: authorization_endpoint, client_id, "
                             "issuer, scopes, token, token_endpoint)");
    }
  }
  c.oidc = std::move(o);
  return Status::Ok();
}

// An https:// URL with a host, or http:// to 127.0.0.1, localhost or [::1] (a provider on this
// machine, as in tests): the UI sends codes and verifiers there and trusts what comes back.
Status CheckProviderUrl(const std::string& url, const std::string& key) {
  const std::string lower = ToLower(url);
  const bool https = StartsWith(lower, "https://");
  if (!https && !StartsWith(lower, "http://")) {
    return InvalidArgument("config " + key + ": must be an https:// URL");
  }
  std::string_view authority = std::string_view(lower).substr(https ? 8 : 7);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string_view::npos ||
      lower.find_first_of("?#") != std::string::npos) {
    return InvalidArgument("config " + key +
                           ": must be an https:// URL with a host and no user, query or fragment");
  }
  if (https) return Status::Ok();
  std::string_view host = authority;
  host =
      StartsWith(host, "[") ? host.substr(0, host.find(']') + 1) : host.substr(0, host.find(':'));
  if (host == "127.0.0.1" || host == "localhost" || host == "[::1]") return Status::Ok();
  return InvalidArgument("config " + key +
                         ": must be https:// (http:// only to 127.0.0.1, localhost or [::1])");
}

// auth.oidc against itself and auth.jwt: a UI that signs in to get a token the server then
// refuses is a start-up error, not a puzzle for the first user.
Status CheckOidc(const ServerConfig& c) {
  if (!c.oidc) return Status::Ok();
  const auth::OidcClientConfig& o = *c.oidc;
  if (o.issuer.empty()) {
    return InvalidArgument("config auth.oidc.issuer: required (the OpenID provider's URL)");
  }
  WEIR_RETURN_IF_ERROR(CheckProviderUrl(o.issuer, "auth.oidc.issuer"));
  if (!o.authorization_endpoint.empty()) {
    WEIR_RETURN_IF_ERROR(
        CheckProviderUrl(o.authorization_endpoint, "auth.oidc.authorization_endpoint"));
  }
  if (!o.token_endpoint.empty()) {
    WEIR_RETURN_IF_ERROR(CheckProviderUrl(o.token_endpoint, "auth.oidc.token_endpoint"));
  }
  if (o.client_id.empty()) {
    return InvalidArgument(
        "config auth.oidc.client_id: required (the public client registered at the provider)");
  }
  const std::vector<std::string> scopes = Split(o.scopes, ' ');
  if (std::find(scopes.begin(), scopes.end(), "openid") == scopes.end()) {
    return InvalidArgument("config auth.oidc.scopes: must include openid");
  }
  if (o.token != "id_token" && o.token != "access_token") {
    return InvalidArgument("config auth.oidc.token: must be id_token or access_token");
  }
  if (!c.jwt) {
    return InvalidArgument(
        "config auth.oidc: needs auth.jwt to verify the provider's tokens (jwks_uri of the "
        "provider, its issuer in auth.jwt.issuers)");
  }
  const auto& issuers = c.jwt->issuers;
  if (std::find(issuers.begin(), issuers.end(), o.issuer) == issuers.end()) {
    return InvalidArgument("config auth.jwt.issuers: must hold auth.oidc.issuer '" + o.issuer +
                           "' (else the server refuses the tokens the UI signs in for)");
  }
  const auto& audiences = c.jwt->audiences;
  if (o.token == "id_token" &&
      std::find(audiences.begin(), audiences.end(), o.client_id) == audiences.end()) {
    return InvalidArgument("config auth.jwt.audiences: must hold auth.oidc.client_id '" +
                           o.client_id + "' (the ID token the UI sends has it as its aud)");
  }
  return Status::Ok();
}

// auth.mtls: {enabled, roles: {CN: [roles]}, default_roles: [roles]}.
Status MtlsSection(const YAML::Node& n, ServerConfig& c) {
  if (n.IsNull()) return Status::Ok();
  if (!n.IsMap()) return InvalidArgument("config auth.mtls: expected a mapping");
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (key == "enabled") {
      WEIR_RETURN_IF_ERROR(Field(&ServerConfig::mtls_enabled, "auth.mtls.enabled")(kv.second, c));
    } else if (key == "roles") {
      WEIR_RETURN_IF_ERROR(StringListMap(kv.second, "auth.mtls.roles", c.mtls_roles));
    } else if (key == "default_roles") {
      WEIR_RETURN_IF_ERROR(StringList(kv.second, "auth.mtls.default_roles", c.mtls_default_roles));
    } else {
      return InvalidArgument("config auth.mtls." + key +
                             ": unknown setting (known: default_roles, enabled, roles)");
    }
  }
  return Status::Ok();
}

}  // namespace

SectionTable AuthSection() {
  return {
      {"mode", Field(&ServerConfig::auth_mode, "auth.mode")},
      {"static_tokens_file", Field(&ServerConfig::static_tokens_file, "auth.static_tokens_file")},
      {"jwt", JwtSection},
      {"oidc", OidcSection},
      {"mtls", MtlsSection},
      {"admin_impersonation",
       Field(&ServerConfig::admin_impersonation, "auth.admin_impersonation")},
      {"output_readable_by_all",
       Field(&ServerConfig::output_readable_by_all, "auth.output_readable_by_all")},
      {"deploy_roles", [](const YAML::Node& n, ServerConfig& c) -> Status {
         c.deploy_roles.clear();
         if (n.IsNull()) return Status::Ok();
         if (!n.IsMap()) {
           return InvalidArgument(
               "config auth.deploy_roles: expected a mapping of environment: role");
         }
         for (const auto& kv : n) {
           if (!kv.first.IsScalar() || !kv.second.IsScalar() || kv.second.Scalar().empty()) {
             return InvalidArgument(
                 "config auth.deploy_roles: expected a mapping of environment: role");
           }
           c.deploy_roles[kv.first.Scalar()] = kv.second.Scalar();
         }
         return Status::Ok();
       }}};
}

Status CheckAuth(const ServerConfig& c) {
  if (c.auth_mode != "none" && c.auth_mode != "required") {
    return InvalidArgument("config auth.mode: must be none or required");
  }
  if (c.auth_mode == "required" && c.static_tokens_file.empty() && !c.jwt && !c.mtls_enabled) {
    return InvalidArgument(
        "config auth.mode: required, but no credentials are configured; set "
        "auth.static_tokens_file, auth.jwt or auth.mtls.enabled");
  }
  WEIR_RETURN_IF_ERROR(CheckOidc(c));
  return Status::Ok();
}

}  // namespace weir::server::config_internal

namespace weir::server {

Status CheckAuthExposure(const ServerConfig& c) {
  if (c.auth_mode != "none" || c.insecure_no_auth) return Status::Ok();
  const std::string& h = c.listen_host;
  in_addr v4{};
  if (h == "localhost" || h == "::1" ||
      (::inet_pton(AF_INET, h.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127)) {
    return Status::Ok();
  }
  return PermissionDenied(
      "server.listen " + h +
      ": auth.mode is none, so anyone who reaches this address can run commands as the "
      "server's user; set auth.mode: required (docs/security.md), listen on 127.0.0.1, or "
      "pass --insecure-no-auth to accept the risk");
}

}  // namespace weir::server
