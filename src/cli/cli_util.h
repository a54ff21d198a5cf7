// Helpers shared by the CLI command groups: the HTTP client for --server, JSON parsing of
// responses, table printing and error reporting in one format ("weir: context: detail").
#pragma once

#include <boost/json.hpp>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.h"
#include "client/http_client.h"
#include "common/result.h"

namespace weir::cli {

// Prints "weir: <message>" to stderr and returns the exit code for `s` (ExitCodeFor); the
// string form returns kExitFailure (1).
int Fail(const Status& s);
int Fail(std::string_view message);

// The one mapping from a client Status to the CLI's exit code (ExitCode in cli.h): NotFound 3;
// ResourceExhausted (429), Unavailable (503) and DeadlineExceeded (408, a `--timeout` that
// ran out) 4; Aborted, which CheckResponse uses for "cannot reach a weir server", 5; everything
// else 1 (a 413, too large, too: the same request would be refused again).
int ExitCodeFor(const Status& s);

// "Cannot reach a weir server at the URL" (exit code 5): a Status with code kAborted, which
// client::ToStatus never produces for an HTTP answer.
Status Unreachable(std::string message);

// The outcome of one request to `c` for `path`, as every command reports it: a transport error
// (refused, reset, TLS, timed out) becomes Unreachable (other client errors, e.g. an unusable
// token file, keep their Status); a 404 whose body is not a weir error document
// (a JSON object with a "message") becomes Unreachable("no weir server at URL: got HTTP 404 from
// URL/path"); any other non-2xx becomes client::ToStatus's Status; a 2xx is Ok.
Status CheckResponse(const client::HttpClient& c, std::string_view path,
                     const Result<client::Response>& r);

// GET `path` and parse the 2xx JSON body; errors as CheckResponse, and a 2xx body that is not
// JSON is Unreachable("no weir server at URL: ...") too.
Result<boost::json::value> GetJson(client::HttpClient& c, const std::string& path);
Result<boost::json::value> ParseJson(std::string_view text, std::string_view context);

// A string field of an object, or "" (numbers are printed, null is "").
std::string Str(const boost::json::value& v, std::string_view key);

// The local account name recorded as a job's user, an asset's publisher or a deployer: $USER,
// else $LOGNAME, else the name of the process's real user id (cron, containers and `env -i`
// leave both variables unset); "" only when even that has no name.
std::string LocalUserName();

// Prints rows under a header, columns padded to the widest cell.
void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

}  // namespace weir::cli
