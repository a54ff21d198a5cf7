// weir: the job gateway and workflow service, server and CLI in one binary.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "cli/cli.h"

int main(int argc, char** argv) {
  CLI::App app{
      "weir: a job gateway (Genie REST API v3) and a versioned asset and workflow service.\n"
      "Run `weir server` to start the server; the other commands talk to it over HTTP."};
  app.require_subcommand(1);
  app.fallthrough();  // global options (--server, -o) also after the subcommand
  weir::cli::Globals g;
  if (const char* env = std::getenv("WEIR_SERVER"); env && *env) g.server = env;
  app.add_option("--server", g.server, "server URL (env WEIR_SERVER)")->capture_default_str();
  // Credentials: flags beat the environment; a token beats a token file.
  const auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  g.client.bearer_token = env("WEIR_TOKEN");
  g.client.token_file = env("WEIR_TOKEN_FILE");
  g.client.ca_file = env("WEIR_CACERT");
  CLI::Option* token_opt =
      app.add_option_function<std::string>(
             "--token",
             [&g](const std::string& v) {
               g.client.bearer_token = v;
               g.client.token_file.clear();
             },
             "bearer token sent as 'Authorization: Bearer TOKEN' (env WEIR_TOKEN); it shows in "
             "the process list, so prefer --token-file on shared machines")
          ->type_name("TEXT");
  app.add_option_function<std::string>(
         "--token-file",
         [&g](const std::string& v) {
           g.client.token_file = v;
           g.client.bearer_token.clear();
         },
         "file holding the bearer token (env WEIR_TOKEN_FILE); it must not be readable by group "
         "or others (chmod 600)")
      ->type_name("FILE")
      ->excludes(token_opt);
  app.add_option_function<std::string>(
         "--cacert", [&g](const std::string& v) { g.client.ca_file = v; },
         "PEM CA certificate(s) to trust for an https:// server instead of the system's "
         "(env WEIR_CACERT)")
      ->type_name("FILE");
  CLI::Option* cert_opt =
      app.add_option_function<std::string>(
             "--client-cert", [&g](const std::string& v) { g.client.client_cert = v; },
             "PEM client certificate, for a server that requires one (mutual TLS)")
          ->type_name("FILE");
  CLI::Option* key_opt =
      app.add_option_function<std::string>(
             "--client-key", [&g](const std::string& v) { g.client.client_key = v; },
             "PEM private key of --client-cert")
          ->type_name("FILE");
  cert_opt->needs(key_opt);
  key_opt->needs(cert_opt);
  app.add_option("-o,--output", g.output, "output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("weir ") + WEIR_VERSION);

  weir::cli::AddServerCommand(app, g);
  weir::cli::AddApplyCommand(app, g);
  weir::cli::AddConfigCommands(app, g);
  weir::cli::AddJobCommands(app, g);
  weir::cli::AddAssetCommands(app, g);
  weir::cli::AddProjectCommands(app, g);
  weir::cli::AddWorkflowCommands(app, g);
  weir::cli::AddSchedulerCommands(app, g);
  weir::cli::AddBackfillCommand(app, g);
  weir::cli::AddSampleCommands(app, g);
  weir::cli::AddAuditCommand(app, g);
  weir::cli::AddAuthCommands(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return g.exit_code;
}
