// Sample projects for `weir sample workflow RECIPE`: small, complete Dataflow projects whose
// asset build and test commands need only bash, python3 or sqlite3 (recipes "bash", "python",
// "sql"). Each has dataflow.yaml (owner and repository set, so no origin remote is needed), one
// asset with build and test commands, one workflow file that uses the asset through a variable,
// and a .gitignore for build outputs and .workflows/. Pure data; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace weir::workflow {

// Relative path → content. kInvalidArgument names the recipes for an unknown one.
Result<std::map<std::string, std::string>> SampleProject(std::string_view recipe);
std::vector<std::string> SampleRecipes();

}  // namespace weir::workflow
