// Progress of workflow instances for commands that wait (`workflow run --wait`, `workflow
// restart --wait`, `workflow backfill`): human lines on stderr, never on stdout.
#pragma once

#include <boost/json.hpp>
#include <iosfwd>
#include <map>
#include <string>

namespace weir::cli {

// Remembers each step's last reported state across polls of one instance and prints a line to
// `err` whenever a step's status or attempt changes, e.g.
//   "  step transform: WAITING_RETRY (attempt 1/3) attempt 1 of 3 failed: ...; retrying at ..."
// `instance` is the JSON of GET /api/weir/v1/workflows/{id}/instances/{n} (with its steps).
class InstanceProgress {
 public:
  void Report(const boost::json::value& instance, std::ostream& err);

 private:
  std::map<std::string, std::string> last_;  // step id → "status|attempts"
};

}  // namespace weir::cli
