#include "cli/resolution_table.h"

#include <ostream>

#include "cli/cli_util.h"

namespace weir::cli {

void PrintResolutions(std::ostream& out, const std::string& environment,
                      const std::vector<workflow::ResolvedReference>& rows) {
  if (rows.empty()) return;
  std::vector<std::vector<std::string>> table;
  for (const workflow::ResolvedReference& r : rows) {
    table.push_back({r.file, "${" + r.reference + "}", r.uuid, workflow::BranchBuild(r)});
  }
  out << "RESOLVED ("
      << (environment.empty() ? "outside a project: latest means the newest on any branch"
                              : "environment " + environment)
      << ")\n";
  PrintTable(out, {"WORKFLOW", "REFERENCE", "VERSION", "BRANCH#BUILD"}, table);
}

boost::json::array ResolutionsJson(const std::vector<workflow::ResolvedReference>& rows) {
  boost::json::array out;
  for (const workflow::ResolvedReference& r : rows) {
    out.push_back(boost::json::object{{"file", r.file},
                                      {"reference", r.reference},
                                      {"uuid", r.uuid},
                                      {"branch", r.branch},
                                      {"build", r.build},
                                      {"uri", r.uri}});
  }
  return out;
}

}  // namespace weir::cli
