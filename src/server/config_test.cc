#include "server/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "server/descriptors.h"

namespace weir::server {
namespace {

TEST(ServerConfig, DefaultsAreSafe) {
  auto c = ParseServerConfig("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen_host, "127.0.0.1");  // not reachable from other machines by default
  EXPECT_EQ(c->listen_port, 8080);
  EXPECT_EQ(c->SqlitePath(), std::filesystem::path(".weir") / "weir.db");
  EXPECT_FALSE(c->queue_enabled);
  EXPECT_EQ(c->min_free_disk_mb, 256);
}

TEST(ServerConfig, MinFreeDiskFloor) {
  auto c = ParseServerConfig("jobs:\n  min_free_disk_mb: 0\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->min_free_disk_mb, 0);
  auto bad = ParseServerConfig("jobs:\n  min_free_disk_mb: -1\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("jobs.min_free_disk_mb"), std::string::npos);
}

TEST(ServerConfig, SlurmSettings) {
  auto none = ParseServerConfig("");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->JobsDir(), none->data_dir / "jobs");
  auto c = ParseServerConfig(
      "exec:\n  slurm:\n    conf: /etc/slurm/x.conf\n    job_root: /shared/weir-jobs\n"
      "    poll_interval_ms: 500\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->slurm_conf, "/etc/slurm/x.conf");
  EXPECT_EQ(c->slurm_poll_interval_ms, 500);
  EXPECT_EQ(c->JobsDir(), "/shared/weir-jobs") << "every job folder is made on the shared root";
  auto relative = ParseServerConfig("exec:\n  slurm:\n    job_root: jobs\n");
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.status().message().find("exec.slurm.job_root"), std::string::npos);
  auto unknown = ParseServerConfig("exec:\n  slurm:\n    partition: x\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("exec.slurm.partition"), std::string::npos);
}

TEST(ServerConfig, WebhookSettings) {
  auto d = ParseServerConfig("");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->webhooks_max_attempts, 8);
  EXPECT_EQ(d->webhooks_backoff_initial_ms, 1000);
  EXPECT_EQ(d->webhooks_backoff_max_seconds, 600);
  EXPECT_EQ(d->webhooks_timeout_seconds, 10);
  EXPECT_TRUE(d->webhooks_allowed_networks.empty());  // receivers at public addresses only
  auto c = ParseServerConfig(
      "webhooks:\n  max_attempts: 3\n  backoff_initial_ms: 50\n  backoff_max_seconds: 2\n"
      "  timeout_seconds: 4\n  allowed_networks: [127.0.0.0/8, 10.20.0.0/16]\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->webhooks_max_attempts, 3);
  EXPECT_EQ(c->webhooks_backoff_initial_ms, 50);
  EXPECT_EQ(c->webhooks_backoff_max_seconds, 2);
  EXPECT_EQ(c->webhooks_timeout_seconds, 4);
  EXPECT_EQ(c->webhooks_allowed_networks.size(), 2u);
  for (const char* bad :
       {"webhooks:\n  max_attempts: 0\n", "webhooks:\n  timeout_seconds: 0\n",
        "webhooks:\n  backoff_initial_ms: 0\n", "webhooks:\n  allowed_networks: [10.0.0.1/8]\n"}) {
    auto r = ParseServerConfig(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("webhooks."), std::string::npos) << r.status();
  }
}

TEST(ServerConfig, RateLimitAndAuditRetention) {
  auto d = ParseServerConfig("");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->rate_limit_requests_per_second, 0);  // off by default
  EXPECT_EQ(d->rate_limit_burst, 20);
  EXPECT_EQ(d->audit_retention_days, 90);
  auto c = ParseServerConfig(
      "server:\n  rate_limit:\n    requests_per_second: 2.5\n    burst: 7\n"
      "audit:\n  retention_days: 30\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rate_limit_requests_per_second, 2.5);
  EXPECT_EQ(c->rate_limit_burst, 7);
  EXPECT_EQ(c->audit_retention_days, 30);
  for (const char* bad :
       {"server:\n  rate_limit:\n    rps: 1\n",
        "server:\n  rate_limit:\n    requests_per_second: -1\n",
        "server:\n  rate_limit:\n    burst: 0\n", "server:\n  rate_limit:\n    burst: lots\n",
        "audit:\n  retention_days: -1\n"}) {
    auto r = ParseServerConfig(bad);
    ASSERT_FALSE(r.ok()) << bad;
    const bool named = r.status().message().find("server.rate_limit") != std::string::npos ||
                       r.status().message().find("audit.retention_days") != std::string::npos;
    EXPECT_TRUE(named) << r.status().message();
  }
}

TEST(ServerConfig, RunAsUserSettings) {
  auto d = ParseServerConfig("");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->run_as_user);  // jobs run as the server's user unless asked
  EXPECT_FALSE(d->create_missing_users);
  EXPECT_EQ(d->run_as_min_uid, 1000);
  EXPECT_EQ(d->run_as_user_map, "strip-domain");
  auto c = ParseServerConfig(
      "jobs:\n  run_as_user: true\n  run_as_user_map: exact\n  run_as_min_uid: 2000\n"
      "  create_missing_users: true\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->run_as_user);
  EXPECT_TRUE(c->create_missing_users);
  EXPECT_EQ(c->run_as_min_uid, 2000);
  EXPECT_EQ(c->run_as_user_map, "exact");
  auto bad_map = ParseServerConfig("jobs:\n  run_as_user_map: lower\n");
  ASSERT_FALSE(bad_map.ok());
  EXPECT_NE(bad_map.status().message().find("jobs.run_as_user_map"), std::string::npos);
  auto bad_uid = ParseServerConfig("jobs:\n  run_as_min_uid: 0\n");
  ASSERT_FALSE(bad_uid.ok());
  EXPECT_NE(bad_uid.status().message().find("jobs.run_as_min_uid"), std::string::npos);
  // The environment a run-as job gets: a safe list unless set, and names checked.
  EXPECT_NE(std::find(d->run_as_env.begin(), d->run_as_env.end(), "PATH"), d->run_as_env.end());
  auto env = ParseServerConfig("jobs:\n  run_as_env: [PATH, LC_*, MY_APP_HOME]\n");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->run_as_env, (std::vector<std::string>{"PATH", "LC_*", "MY_APP_HOME"}));
  auto bad_env = ParseServerConfig("jobs:\n  run_as_env: [\"PATH=x\"]\n");
  ASSERT_FALSE(bad_env.ok());
  EXPECT_NE(bad_env.status().message().find("jobs.run_as_env"), std::string::npos);
}

TEST(ServerConfig, ReadsEverySection) {
  auto c = ParseServerConfig(R"(
server:
  listen: 0.0.0.0:9090
  data_dir: /var/lib/weir
  http_threads: 2
store:
  sqlite_path: /tmp/x.db
jobs:
  queue_enabled: true
  max_memory_mb: 4096
  default_memory_mb: 512
attachments:
  max_file_bytes: 1000
assets:
  max_upload_bytes: 5000
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen_host, "0.0.0.0");
  EXPECT_EQ(c->listen_port, 9090);
  EXPECT_EQ(c->JobsDir(), std::filesystem::path("/var/lib/weir/jobs"));
  EXPECT_EQ(c->SqlitePath(), std::filesystem::path("/tmp/x.db"));
  EXPECT_TRUE(c->queue_enabled);
  EXPECT_EQ(c->max_job_memory_mb, 4096);
  EXPECT_EQ(c->max_attachment_bytes, 1000);
  EXPECT_EQ(c->max_asset_bytes, 5000);
}

TEST(ServerConfig, ErrorsNameTheSetting) {
  auto typo = ParseServerConfig("jobs:\n  queue_enabld: true\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("jobs.queue_enabld"), std::string::npos);
  auto type = ParseServerConfig("jobs:\n  max_memory_mb: lots\n");
  ASSERT_FALSE(type.ok());
  EXPECT_NE(type.status().message().find("jobs.max_memory_mb"), std::string::npos);
  auto listen = ParseServerConfig("server:\n  listen: nowhere\n");
  ASSERT_FALSE(listen.ok());
  EXPECT_NE(listen.status().message().find("HOST:PORT"), std::string::npos);
  EXPECT_FALSE(ParseServerConfig("server: [unclosed").ok());
  EXPECT_FALSE(ParseServerConfig("jobs:\n  default_memory_mb: 9999999\n").ok());
}

TEST(ServerConfig, StoreSettingsForPostgresql) {
  auto c = ParseServerConfig(
      "store:\n  type: postgresql\n  url: postgresql://weir@db:5432/weir\n"
      "  password_env: WEIR_CONFIG_TEST_PW\n  pool_size: 3\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->store_type, "postgresql");
  EXPECT_EQ(c->store_pool_size, 3);
  auto refused = [](const std::string& yaml, const std::string& names) {
    auto r = ParseServerConfig(yaml);
    if (r.ok()) return std::string("accepted: ") + yaml;
    return r.status().message().find(names) != std::string::npos ? std::string()
                                                                 : r.status().message();
  };
  EXPECT_EQ(refused("store:\n  type: mysql\n", "use sqlite or postgresql"), "");
  EXPECT_EQ(refused("store:\n  type: postgresql\n", "store.url: required"), "");
  EXPECT_EQ(refused("store:\n  type: postgresql\n  url: host=db\n", "store.url: must start"), "");
  EXPECT_EQ(refused("store:\n  type: postgresql\n  url: postgresql://weir:pw@db/weir\n",
                    "store.url: holds a password"),
            "");
  EXPECT_EQ(refused("store:\n  type: postgresql\n  url: postgresql://db/weir?password=pw\n",
                    "store.url: holds a password"),
            "");
  EXPECT_EQ(refused("store:\n  type: postgresql\n  url: postgresql://db/w\n  password_env: A\n"
                    "  password_file: /f\n",
                    "set one, not both"),
            "");
  EXPECT_EQ(refused("store:\n  pool_size: 0\n", "store.pool_size"), "");

  // The password is read at start, from the variable or the file, never from the URL.
  ::setenv("WEIR_CONFIG_TEST_PW", "from-env", 1);
  auto where = StoreLocationOf(*c);
  ASSERT_TRUE(where.ok()) << where.status();
  EXPECT_EQ(where->password, "from-env");
  EXPECT_EQ(where->url, "postgresql://weir@db:5432/weir");
  ::unsetenv("WEIR_CONFIG_TEST_PW");
  auto unset = StoreLocationOf(*c);
  ASSERT_FALSE(unset.ok());
  EXPECT_NE(unset.status().message().find("WEIR_CONFIG_TEST_PW is not set"), std::string::npos);

  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("weir-config-test-pw-" + std::to_string(getpid()));
  std::ofstream(file) << "from-file\n";
  std::filesystem::permissions(
      file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ServerConfig f = *c;
  f.store_password_env.clear();
  f.store_password_file = file;
  auto from_file = StoreLocationOf(f);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->password, "from-file");
  std::filesystem::permissions(file, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  auto readable = StoreLocationOf(f);
  ASSERT_FALSE(readable.ok());
  EXPECT_NE(readable.status().message().find("readable by every user"), std::string::npos);
  EXPECT_EQ(readable.status().message().find("from-file"), std::string::npos);
  std::filesystem::remove(file);
}

TEST(ServerConfig, LogFormatIsTextOrJson) {
  EXPECT_EQ(ServerConfig{}.log_format, "text");
  auto json = ParseServerConfig("server:\n  log_format: json\n");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->log_format, "json");
  auto xml = ParseServerConfig("server:\n  log_format: xml\n");
  ASSERT_FALSE(xml.ok());
  EXPECT_NE(xml.status().message().find("server.log_format: 'xml'"), std::string::npos)
      << xml.status();
}

TEST(ServerConfig, ListenNeedsAnExplicitHost) {
  ServerConfig c;
  Status s = ParseListen(":8080", c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("127.0.0.1:8080"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("0.0.0.0:8080"), std::string::npos) << s.message();
  auto from_file = ParseServerConfig("server:\n  listen: \":8080\"\n");
  ASSERT_FALSE(from_file.ok());
  EXPECT_NE(from_file.status().message().find("server.listen"), std::string::npos);
  EXPECT_TRUE(ParseListen("[::1]:8080", c).ok());
  EXPECT_EQ(c.listen_host, "::1");
}

TEST(ServerConfig, HttpLimits) {
  auto c = ParseServerConfig(R"(
server:
  max_connections: 100
  max_connections_per_client: 10
  header_timeout_ms: 2000
  min_body_bytes_per_s: 0
  trusted_proxies: [10.0.0.0/8, 127.0.0.1]
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_connections, 100);
  EXPECT_EQ(c->max_connections_per_client, 10);
  EXPECT_EQ(c->header_timeout_ms, 2000);
  EXPECT_EQ(c->min_body_bytes_per_s, 0);
  EXPECT_EQ(c->trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "127.0.0.1"}));
  EXPECT_TRUE(ParseServerConfig("").value().trusted_proxies.empty());
  auto per_client = ParseServerConfig("server:\n  max_connections_per_client: 0\n");
  ASSERT_FALSE(per_client.ok());
  EXPECT_NE(per_client.status().message().find("max_connections_per_client"), std::string::npos);
  EXPECT_FALSE(ParseServerConfig("server:\n  header_timeout_ms: 0\n").ok());
  EXPECT_FALSE(ParseServerConfig("server:\n  trusted_proxies: {a: b}\n").ok());
}

TEST(ServerConfigTest, TlsSettingsAndTheirPairing) {
  auto c = ParseServerConfig(
      "server:\n  tls:\n    cert: /etc/weir/cert.pem\n    key: /etc/weir/key.pem\n"
      "    client_ca: /etc/weir/ca.pem\n    handshake_timeout_ms: 2500\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->tls_cert, "/etc/weir/cert.pem");
  EXPECT_EQ(c->tls_key, "/etc/weir/key.pem");
  EXPECT_EQ(c->tls_client_ca, "/etc/weir/ca.pem");
  EXPECT_EQ(c->tls_handshake_timeout_ms, 2500);
  EXPECT_TRUE(ParseServerConfig("").value().tls_cert.empty());

  auto no_key = ParseServerConfig("server:\n  tls:\n    cert: /c.pem\n");
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.status().message().find("server.tls.key: required"), std::string::npos);
  auto ca_alone = ParseServerConfig("server:\n  tls:\n    client_ca: /ca.pem\n");
  ASSERT_FALSE(ca_alone.ok());
  EXPECT_NE(ca_alone.status().message().find("server.tls.client_ca"), std::string::npos);
  auto typo = ParseServerConfig("server:\n  tls:\n    certificate: /c.pem\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("server.tls.certificate: unknown setting"),
            std::string::npos);
  EXPECT_FALSE(ParseServerConfig("server:\n  tls:\n    cert: /c\n    key: /k\n"
                                 "    handshake_timeout_ms: 0\n")
                   .ok());
}

// server.tls and exec.slurm share one parser for a mapping under a setting: each error names the
// setting and lists its keys; an empty mapping changes nothing.
TEST(ServerConfigTest, NestedMappingsNameTheirKeysInErrors) {
  auto message = [](const std::string& yaml) {
    auto c = ParseServerConfig(yaml);
    return c.ok() ? std::string("(accepted)") : c.status().message();
  };
  EXPECT_EQ(message("server:\n  tls: [a]\n"),
            "config server.tls: expected a mapping (cert, key, client_ca, handshake_timeout_ms)");
  EXPECT_EQ(message("server:\n  tls:\n    certificate: /c.pem\n"),
            "config server.tls.certificate: unknown setting (known: cert, key, client_ca, "
            "handshake_timeout_ms)");
  EXPECT_EQ(message("exec:\n  slurm: 5\n"),
            "config exec.slurm: expected a mapping (conf, job_root, poll_interval_ms)");
  EXPECT_EQ(message("exec:\n  slurm:\n    partition: x\n"),
            "config exec.slurm.partition: unknown setting (known: conf, job_root, "
            "poll_interval_ms)");
  EXPECT_EQ(message("exec:\n  slurm:\n    poll_interval_ms: often\n"),
            "config exec.slurm.poll_interval_ms: expected a whole number");
  auto empty = ParseServerConfig("server:\n  tls:\nexec:\n  slurm:\n");
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_TRUE(empty->tls_cert.empty());
  EXPECT_EQ(empty->slurm_poll_interval_ms, ServerConfig().slurm_poll_interval_ms);
}

TEST(ServerConfigTest, AuthStringSettingsRefuseAListOrAMapping) {
  auto jwt = ParseServerConfig("auth:\n  jwt:\n    jwks_uri: [a, b]\n");
  ASSERT_FALSE(jwt.ok());
  EXPECT_EQ(jwt.status().message(), "config auth.jwt.jwks_uri: expected a string");
  auto oidc = ParseServerConfig("auth:\n  oidc:\n    client_id: {a: b}\n");
  ASSERT_FALSE(oidc.ok());
  EXPECT_EQ(oidc.status().message(), "config auth.oidc.client_id: expected a string");
}

TEST(Descriptors, ConnectionCapFitsUnderTheLimitWithTheReserve) {
  auto roomy = FitConnections(1 << 20, 4096, 1024);
  ASSERT_TRUE(roomy.ok());
  EXPECT_EQ(roomy->max_connections, 4096);
  EXPECT_FALSE(roomy->lowered);
  auto tight = FitConnections(1024, 4096, 512);
  ASSERT_TRUE(tight.ok());
  EXPECT_EQ(tight->max_connections, 256);  // (1024 - 512) / 2 descriptors per connection
  EXPECT_TRUE(tight->lowered);
  auto none = FitConnections(1024, 4096, 1024);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("server.fd_reserve"), std::string::npos);
}

TEST(ServerConfig, AuthSettings) {
  auto c = ParseServerConfig(R"(
auth:
  mode: required
  static_tokens_file: /etc/weir/tokens
  jwt:
    jwks_file: /etc/weir/jwks.json
    issuers: [https://idp.example]
    audiences: weir
    roles_claim: groups
    role_prefix: genie_
    leeway_s: 30
  mtls:
    enabled: true
    roles: {deploy-robot: [deployer-prod]}
  admin_impersonation: true
  output_readable_by_all: true
  deploy_roles: {prod: deployer-prod}
assets:
  namespace_owners: {payments: [alice, data-eng], "*": admin}
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->auth_mode, "required");
  EXPECT_EQ(c->static_tokens_file, "/etc/weir/tokens");
  ASSERT_TRUE(c->jwt.has_value());
  EXPECT_EQ(c->jwt->issuers, std::vector<std::string>({"https://idp.example"}));
  EXPECT_EQ(c->jwt->audiences, std::vector<std::string>({"weir"}));
  EXPECT_EQ(c->jwt->roles_claim, "groups");
  EXPECT_EQ(c->jwt->role_prefix, "genie_");
  EXPECT_EQ(c->jwt->leeway.count(), 30);
  EXPECT_TRUE(c->mtls_enabled);
  EXPECT_EQ(c->mtls_roles.at("deploy-robot"), std::vector<std::string>({"deployer-prod"}));
  EXPECT_TRUE(c->admin_impersonation);
  EXPECT_TRUE(c->output_readable_by_all);
  EXPECT_EQ(c->deploy_roles.at("prod"), "deployer-prod");
  EXPECT_EQ(c->namespace_owners.at("payments"), std::vector<std::string>({"alice", "data-eng"}));
  EXPECT_EQ(c->namespace_owners.at("*"), std::vector<std::string>({"admin"}));

  auto defaults = ParseServerConfig("");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->auth_mode, "none");
  EXPECT_FALSE(defaults->admin_impersonation);
  EXPECT_FALSE(defaults->output_readable_by_all);

  auto bad_mode = ParseServerConfig("auth:\n  mode: optional\n");
  ASSERT_FALSE(bad_mode.ok());
  EXPECT_NE(bad_mode.status().message().find("auth.mode"), std::string::npos);
  auto nothing = ParseServerConfig("auth:\n  mode: required\n");
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.status().message().find("auth.static_tokens_file"), std::string::npos);
  auto typo = ParseServerConfig("auth:\n  jwt:\n    issuer: x\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("auth.jwt.issuer"), std::string::npos);
}

// auth.oidc: the UI's sign-in. The server must accept the tokens the UI signs in for, so a
// provider auth.jwt does not trust (issuer, or the client id as audience of an ID token) is a
// start-up error naming the field.
TEST(ServerConfig, OidcSettingsAndTheirChecks) {
  const std::string jwt =
      "  jwt:\n    jwks_uri: https://idp.example/keys\n    issuers: [https://idp.example]\n"
      "    audiences: [weir-ui]\n";
  auto c = ParseServerConfig("auth:\n  mode: required\n" + jwt +
                             "  oidc:\n    issuer: https://idp.example\n"
                             "    client_id: weir-ui\n    scopes: [openid, profile]\n");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->oidc.has_value());
  EXPECT_EQ(c->oidc->issuer, "https://idp.example");
  EXPECT_EQ(c->oidc->client_id, "weir-ui");
  EXPECT_EQ(c->oidc->scopes, "openid profile");
  EXPECT_EQ(c->oidc->token, "id_token");
  EXPECT_EQ(c->oidc->authorization_endpoint, "");
  auto none = ParseServerConfig("");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->oidc.has_value());

  // A provider on this machine may speak plain HTTP; the access token needs no aud check here.
  auto local = ParseServerConfig(
      "auth:\n  jwt:\n    jwks_uri: http://127.0.0.1:9/jwks\n    issuers: [http://127.0.0.1:9]\n"
      "    audiences: [api]\n  oidc:\n    issuer: http://127.0.0.1:9\n    client_id: ui\n"
      "    scopes: openid email\n    token: access_token\n"
      "    token_endpoint: http://localhost:9/token\n");
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->oidc->scopes, "openid email");
  EXPECT_EQ(local->oidc->token_endpoint, "http://localhost:9/token");

  auto refused = [&](const std::string& oidc, const std::string& field,
                     const std::string& jwt_section) {
    auto r = ParseServerConfig("auth:\n" + jwt_section + "  oidc:\n" + oidc);
    ASSERT_FALSE(r.ok()) << oidc;
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status();
  };
  const std::string ok_client = "    client_id: weir-ui\n";
  refused("    issuer: http://idp.example\n" + ok_client, "auth.oidc.issuer", jwt);
  refused("    issuer: idp.example\n" + ok_client, "auth.oidc.issuer", jwt);
  refused("    issuer: https://user@idp.example\n" + ok_client, "auth.oidc.issuer", jwt);
  refused(ok_client, "auth.oidc.issuer", jwt);
  refused("    issuer: https://idp.example\n", "auth.oidc.client_id", jwt);
  refused("    issuer: https://idp.example\n    client_id: ''\n", "auth.oidc.client_id", jwt);
  refused("    issuer: https://idp.example\n" + ok_client + "    scopes: profile\n",
          "auth.oidc.scopes", jwt);
  refused("    issuer: https://idp.example\n" + ok_client + "    token: both\n", "auth.oidc.token",
          jwt);
  refused("    issuer: https://idp.example\n" + ok_client +
              "    token_endpoint: http://idp.example/token\n",
          "auth.oidc.token_endpoint", jwt);
  refused("    issuer: https://idp.example\n" + ok_client +
              "    authorization_endpoint: ftp://idp.example/auth\n",
          "auth.oidc.authorization_endpoint", jwt);
  refused("    issuer: https://idp.example\n" + ok_client + "    secret: x\n", "auth.oidc.secret",
          jwt);
  // auth.jwt must trust what the UI gets.
  refused("    issuer: https://idp.example\n" + ok_client, "auth.jwt", "");
  refused("    issuer: https://other.example\n" + ok_client, "auth.jwt.issuers", jwt);
  refused("    issuer: https://idp.example\n    client_id: another-ui\n", "auth.jwt.audiences",
          jwt);
}

TEST(ServerConfig, NoAuthOnlyOnLoopbackUnlessInsecure) {
  ServerConfig c;
  for (std::string host : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) {
    c.listen_host = host;
    EXPECT_TRUE(CheckAuthExposure(c).ok()) << host;
  }
  for (std::string host : {"0.0.0.0", "::", "10.1.2.3", "127.example.com"}) {
    c.listen_host = host;
    Status s = CheckAuthExposure(c);
    ASSERT_FALSE(s.ok()) << host;
    EXPECT_NE(s.message().find("--insecure-no-auth"), std::string::npos);
  }
  c.insecure_no_auth = true;
  EXPECT_TRUE(CheckAuthExposure(c).ok());
  c.insecure_no_auth = false;
  c.auth_mode = "required";
  EXPECT_TRUE(CheckAuthExposure(c).ok());
}

}  // namespace
}  // namespace weir::server

namespace weir::server {
namespace {

TEST(ServerConfig, ClusterSettings) {
  auto d = ParseServerConfig("");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->node_id, "");
  EXPECT_EQ(d->node_heartbeat_interval_ms, 5000);
  EXPECT_EQ(d->leader_mode, "static");
  EXPECT_TRUE(d->leader_static);
  EXPECT_EQ(d->forwarding_connect_timeout_ms, 2000);
  EXPECT_EQ(d->forwarding_read_timeout_ms, 10000);

  auto c = ParseServerConfig(
      "server:\n  node_id: weir-2\n  advertise_url: http://10.0.0.2:8080\n"
      "node:\n  heartbeat_interval_ms: 1000\n  claim_interval_ms: 300\n"
      "forwarding:\n  enabled: false\n  connect_timeout_ms: 500\n  read_timeout_ms: 3000\n"
      "leader:\n  mode: database\n  static: false\n  lease_ttl_ms: 6000\n"
      "  lost_node_check_interval_ms: 700\n  lost_node_stale_after_ms: 9000\n"
      "  lost_node_failures: 4\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node_id, "weir-2");
  EXPECT_EQ(c->advertise_url, "http://10.0.0.2:8080");
  EXPECT_EQ(c->node_heartbeat_interval_ms, 1000);
  EXPECT_EQ(c->node_claim_interval_ms, 300);
  EXPECT_FALSE(c->forwarding_enabled);
  EXPECT_EQ(c->forwarding_connect_timeout_ms, 500);
  EXPECT_EQ(c->forwarding_read_timeout_ms, 3000);
  EXPECT_EQ(c->leader_mode, "database");
  EXPECT_FALSE(c->leader_static);
  EXPECT_EQ(c->leader_lease_ttl_ms, 6000);
  EXPECT_EQ(c->lost_node_check_interval_ms, 700);
  EXPECT_EQ(c->lost_node_stale_after_ms, 9000);
  EXPECT_EQ(c->lost_node_failures, 4);

  for (const auto& [yaml, key] : std::vector<std::pair<std::string, std::string>>{
           {"leader:\n  mode: zookeeper\n", "leader.mode"},
           {"leader:\n  lease_ttl_ms: 0\n", "leader.lease_ttl_ms"},
           {"leader:\n  lost_node_failures: 0\n", "leader.lost_node_failures"},
           {"node:\n  heartbeat_interval_ms: -1\n", "node.heartbeat_interval_ms"},
           {"forwarding:\n  read_timeout_ms: 0\n", "forwarding.read_timeout_ms"},
           {"leader:\n  lost_node: {}\n", "leader.lost_node"}}) {
    auto r = ParseServerConfig(yaml);
    ASSERT_FALSE(r.ok()) << yaml;
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
  }
}

TEST(ServerConfig, LeadershipTaskSettings) {
  auto d = ParseServerConfig("");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->cleanup_job_retention_days, 90);
  EXPECT_EQ(d->cleanup_batch_size, 1000);
  EXPECT_EQ(d->cleanup_interval_minutes, 60);
  EXPECT_EQ(d->cleanup_orphan_blob_grace_hours, 24);
  EXPECT_EQ(d->metrics_user_interval_seconds, 30);
  EXPECT_EQ(d->metrics_user_max_series, 1000);

  auto c = ParseServerConfig(
      "cleanup:\n  job_retention_days: 0\n  batch_size: 50\n  interval_minutes: 5\n"
      "  orphan_blob_grace_hours: 0\n"
      "metrics:\n  user_interval_seconds: 2\n  user_max_series: 0\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->cleanup_job_retention_days, 0);
  EXPECT_EQ(c->cleanup_batch_size, 50);
  EXPECT_EQ(c->cleanup_interval_minutes, 5);
  EXPECT_EQ(c->cleanup_orphan_blob_grace_hours, 0);
  EXPECT_EQ(c->metrics_user_interval_seconds, 2);
  EXPECT_EQ(c->metrics_user_max_series, 0);

  for (const auto& [yaml, key] : std::vector<std::pair<std::string, std::string>>{
           {"cleanup:\n  job_retention_days: -1\n", "cleanup.job_retention_days"},
           {"cleanup:\n  batch_size: 0\n", "cleanup.batch_size"},
           {"cleanup:\n  interval_minutes: 0\n", "cleanup.interval_minutes"},
           {"cleanup:\n  orphan_blob_grace_hours: -1\n", "cleanup.orphan_blob_grace_hours"},
           {"cleanup:\n  retention_days: 3\n", "cleanup.retention_days"},
           {"metrics:\n  user_interval_seconds: 0\n", "metrics.user_interval_seconds"},
           {"metrics:\n  user_max_series: -2\n", "metrics.user_max_series"}}) {
    auto r = ParseServerConfig(yaml);
    ASSERT_FALSE(r.ok()) << yaml;
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace weir::server
