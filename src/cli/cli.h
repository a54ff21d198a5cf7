// The `weir` binary's command groups. main.cc builds one CLI11 app and lets each group add its
// subcommands; each group lives in its own file and talks to the server only through the HTTP
// client (src/client), except `weir server`, which composes the server in-process.
//
// Conventions for every command: `--server URL` / WEIR_SERVER (default http://127.0.0.1:8080),
// credentials (`--token`, `--token-file`) and TLS trust (`--cacert`, `--client-cert/--client-key`),
// `--output table|json` (table for people, json for scripts), exit code 0 on success, 1 on a
// failure the command reports (message on stderr as "weir: context: detail"), 2 on bad usage.
#pragma once

#include <string>

#include "client/http_client.h"

namespace CLI {
class App;
}

namespace weir::cli {

struct Globals {
  std::string server = "http://127.0.0.1:8080";
  std::string output = "table";  // "table" or "json"
  // Credentials and TLS trust from --token/--token-file/--cacert/--client-cert/--client-key and
  // their environment variables (see main.cc); every command's HttpClient uses them.
  client::ClientOptions client;
  int exit_code = 0;  // set by the command that ran
};

void AddServerCommand(CLI::App& app, Globals& g);    // weir server          (src/server)
void AddConfigCommands(CLI::App& app, Globals& g);   // weir application|command|cluster list/get/delete/tag
void AddApplyCommand(CLI::App& app, Globals& g);     // weir apply -f FILE.yaml [--dry-run] [--prune]
void AddJobCommands(CLI::App& app, Globals& g);      // weir job submit|status|wait|output|kill|list
void AddAssetCommands(CLI::App& app, Globals& g);    // weir asset list|show|get
void AddProjectCommands(CLI::App& app, Globals& g);  // weir project list|test|build|deploy
void AddWorkflowCommands(CLI::App& app, Globals& g); // weir workflow render|...
void AddSampleCommands(CLI::App& app, Globals& g);   // weir sample workflow RECIPE [PATH]
void AddAuditCommand(CLI::App& app, Globals& g);     // weir audit [--principal P] ...
void AddAuthCommands(CLI::App& app, Globals& g);     // weir whoami
// weir workflow versions|activate|rollback|run|instances|instance|restart|stop: adds to the
// `workflow` subcommand created by AddWorkflowCommands (called after it).
void AddSchedulerCommands(CLI::App& app, Globals& g);

}  // namespace weir::cli
