// `weir job submit --dry-run`: asks the server what a submission would get
// (POST /api/weir/v1/jobs/resolve, docs/api.md) and prints it: with -o json the server's answer
// as is; otherwise the outcome, the cluster, command and applications, memory and limits, and
// every cluster and command considered with the reasons it was left out.
// Exit code: 0 when the job would be accepted or queued; 1 when it would fail (no match, memory
// above the maximum) or be refused for good; 4 when refused but worth retrying (429, 503); the
// usual codes when the request itself is refused (cli.h).
#pragma once

#include <string>

#include "cli/cli.h"
#include "client/http_client.h"

namespace weir::cli {

int SubmitDryRun(client::HttpClient& http, const std::string& request_json, Globals& g);

}  // namespace weir::cli
