#include "scheduler/trigger_rules.h"

#include <algorithm>

namespace weir::scheduler {

bool HasEnded(StepStatus s) {
  return s == StepStatus::kSucceeded || s == StepStatus::kFailed ||
         s == StepStatus::kUpstreamFailed || s == StepStatus::kSkipped;
}

RuleVerdict JudgeTriggerRule(workflow::TriggerRule rule, const std::vector<StepStatus>& upstream) {
  if (upstream.empty()) return RuleVerdict::kReady;
  auto count = [&](auto pred) { return std::count_if(upstream.begin(), upstream.end(), pred); };
  const auto n = static_cast<long>(upstream.size());
  const long ended = count(HasEnded);
  const long succeeded = count([](StepStatus s) { return s == StepStatus::kSucceeded; });
  const long failed = count(
      [](StepStatus s) { return s == StepStatus::kFailed || s == StepStatus::kUpstreamFailed; });
  const long skipped = count([](StepStatus s) { return s == StepStatus::kSkipped; });
  switch (rule) {
    case workflow::TriggerRule::kAllSuccess:
      if (failed > 0) return RuleVerdict::kUpstreamFailed;
      if (succeeded == n) return RuleVerdict::kReady;
      if (ended == n && skipped > 0) return RuleVerdict::kSkipped;
      return RuleVerdict::kWait;
    case workflow::TriggerRule::kAllDone:
      return ended == n ? RuleVerdict::kReady : RuleVerdict::kWait;
    case workflow::TriggerRule::kOneFailed:
      if (failed > 0) return RuleVerdict::kReady;
      return ended == n ? RuleVerdict::kSkipped : RuleVerdict::kWait;
    case workflow::TriggerRule::kOneSuccess:
      if (succeeded > 0) return RuleVerdict::kReady;
      if (ended < n) return RuleVerdict::kWait;
      return failed > 0 ? RuleVerdict::kUpstreamFailed : RuleVerdict::kSkipped;
  }
  return RuleVerdict::kWait;
}

}  // namespace weir::scheduler
