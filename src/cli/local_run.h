// Local mode on the user's side (`weir job prepare`, `weir job run-local`); the server's side is
// api/local_routes.h and service/job_service.h ("Local mode").
//
// A prepared folder is the job directory as the server set it up, with a relocatable run script
// (every path in it relative to the folder) and genie/local-run.json naming the job. run-local
// reports RUNNING, runs `bash <dir>/run` in its own process group with the same GENIE_*
// environment as on the server (the script exports it), beats every heartbeatIntervalMs the
// server gives, and reports the exit code (genie/genie.done, else 128 + the signal). When the
// server answers a heartbeat with 412 (the job was killed, or its heartbeats were missed), the
// process group gets SIGTERM, then SIGKILL after 5 s.
#pragma once

#include <string>

#include "cli/cli.h"
#include "client/http_client.h"

namespace CLI {
class App;
}

namespace weir::cli {

// After POST /api/weir/v1/jobs/prepare answered `id`: waits up to `timeout_s` for the set-up,
// then downloads and unpacks the folder into `dir` (created; an existing one must be empty).
// Prints the id (-o json: {"id","dir"}); returns the exit code (6 when the set-up failed).
int DownloadPreparedJob(client::HttpClient& http, const std::string& id, const std::string& dir,
                        double timeout_s, Globals& g);

// Adds `run-local DIR [--upload]` to the `job` command.
void AddRunLocalCommand(CLI::App& job, Globals& g);

}  // namespace weir::cli
