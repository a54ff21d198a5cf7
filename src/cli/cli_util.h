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

// Prints "weir: <message>" to stderr and returns 1 (the exit code of a reported failure).
int Fail(const Status& s);
int Fail(std::string_view message);

// GET `path` and parse the 2xx JSON body; non-2xx becomes a Status via client::ToStatus.
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
