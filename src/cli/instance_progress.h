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
  // The same for one WORKFLOW_STEP_CHANGE event's data (docs/api.md, "Events"), e.g.
  //   "  step extract: RUNNING (attempt 1, job 5c0f...)"
  // A change already reported (by either call) is not printed again.
  void ReportStepEvent(const boost::json::value& event, std::ostream& err);

 private:
  // True when `status|attempt` is new for the step (and remembers it).
  bool Changed(const std::string& step, const std::string& status, const std::string& attempt);
  std::map<std::string, std::string> last_;  // step id → "status|attempt"
};

}  // namespace weir::cli
