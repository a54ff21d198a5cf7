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
  weir::cli::AddSampleCommands(app, g);
  weir::cli::AddAuthCommands(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return g.exit_code;
}
