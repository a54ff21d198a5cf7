// The resolution table that `weir project test`, `weir workflow render` and `weir project deploy`
// print: each asset reference of each workflow file and the version it became. In table mode it
// goes to stderr (stdout stays the command's own output); with `-o json` the rows are a
// "resolutions" array of the command's one JSON document.
#pragma once

#include <boost/json.hpp>
#include <iosfwd>
#include <vector>

#include "workflow/project_ops.h"

namespace weir::cli {

// Prints "RESOLVED (environment ENV)" and a WORKFLOW / REFERENCE / VERSION / BRANCH#BUILD table;
// prints nothing when there are no references.
void PrintResolutions(std::ostream& out, const std::string& environment,
                      const std::vector<workflow::ResolvedReference>& rows);

// [{"file", "reference", "uuid", "branch", "build" (integer; 0 = local build), "uri"}, ...]
boost::json::array ResolutionsJson(const std::vector<workflow::ResolvedReference>& rows);

}  // namespace weir::cli
