// The `weir` binary's command groups. main.cc builds one CLI11 app and lets each group add its
// subcommands; each group lives in its own file and talks to the server only through the HTTP
// client (src/client), except `weir server`, which composes the server in-process.
//
// Conventions for every command: `--server URL` / WEIR_SERVER (default http://127.0.0.1:8080),
// credentials (`--token`, `--token-file`) and TLS trust (`--cacert`, `--client-cert/--client-key`),
// `--output table|json` (table for people, json for scripts). Progress and human messages go to
// stderr ("weir: context: detail"); with `-o json` a command prints exactly one JSON document on
// stdout. Exit codes (ExitCode below; docs/cli.md has the table): 0 ok; 1 rejected for good (a
// 4xx other than 404/429, or a failure the command reports); 2 bad usage (unknown command or
// flag); 3 not found (404); 4 rejected but worth retrying (429, 503); 5 cannot reach a weir server
// (connection refused or lost, or the URL answers but is not weir); 6 the job ended FAILED; 7 the
// job ended KILLED or INVALID; 8 `job kill` of a job that had already ended (nothing killed).
// `--exit-code` on `job submit --wait` and `job wait` exits with the job's own exit code instead.
#pragma once

#include <string>

#include "client/http_client.h"

namespace CLI {
class App;
}

namespace weir::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,       // rejected for good, or a failure the command reports
  kExitUsage = 2,         // bad usage: unknown command, flag or value
  kExitNotFound = 3,      // the server answered 404
  kExitRetry = 4,         // rejected but worth retrying: 429, 503
  kExitUnreachable = 5,   // no weir server at the URL, or the connection was lost
  kExitJobFailed = 6,     // the job ended FAILED
  kExitJobKilled = 7,     // the job ended KILLED or INVALID
  kExitAlreadyEnded = 8,  // `job kill`: the job had already ended
};

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
void AddJobCommands(CLI::App& app, Globals& g);      // weir job submit [--dry-run]|status|wait|output|kill|list
void AddAssetCommands(CLI::App& app, Globals& g);    // weir asset list|show|get
void AddProjectCommands(CLI::App& app, Globals& g);  // weir project list|test|build|deploy
void AddWorkflowCommands(CLI::App& app, Globals& g); // weir workflow render|...
void AddSampleCommands(CLI::App& app, Globals& g);   // weir sample workflow RECIPE [PATH]
void AddEventsCommand(CLI::App& app, Globals& g);     // weir events tail [filters]
void AddAuditCommand(CLI::App& app, Globals& g);     // weir audit [--principal P] ...
void AddNodeCommands(CLI::App& app, Globals& g);     // weir node list
void AddAuthCommands(CLI::App& app, Globals& g);     // weir whoami
void AddSearchCommand(CLI::App& app, Globals& g);    // weir search QUERY [--kind K] [--page N]
void AddWebhookCommands(CLI::App& app, Globals& g);  // weir webhook add|list|rm|deliveries|redeliver
// weir workflow versions|activate|rollback|run|instances|instance|restart|stop: adds to the
// `workflow` subcommand created by AddWorkflowCommands (called after it).
void AddSchedulerCommands(CLI::App& app, Globals& g);
// weir workflow backfill ID --from T1 --to T2 [--parallel N] (after AddSchedulerCommands).
void AddBackfillCommand(CLI::App& app, Globals& g);

}  // namespace weir::cli
