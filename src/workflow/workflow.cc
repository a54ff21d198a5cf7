#include "workflow/workflow.h"

#include <algorithm>

namespace weir::workflow {

bool IsBuiltinParam(std::string_view name) {
  return std::find(kBuiltinParams.begin(), kBuiltinParams.end(), name) != kBuiltinParams.end();
}

bool IsParamName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

bool IsWorkflowIdent(std::string_view id) {
  if (id.empty() || id.size() > 100) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string_view TriggerRuleName(TriggerRule r) {
  switch (r) {
    case TriggerRule::kAllSuccess:
      return "all_success";
    case TriggerRule::kAllDone:
      return "all_done";
    case TriggerRule::kOneFailed:
      return "one_failed";
    case TriggerRule::kOneSuccess:
      return "one_success";
  }
  return "all_success";
}

std::optional<TriggerRule> ParseTriggerRule(std::string_view name) {
  for (TriggerRule r : {TriggerRule::kAllSuccess, TriggerRule::kAllDone, TriggerRule::kOneFailed,
                        TriggerRule::kOneSuccess}) {
    if (TriggerRuleName(r) == name) return r;
  }
  return std::nullopt;
}

std::string_view RunStrategyName(RunStrategy s) {
  switch (s) {
    case RunStrategy::kSequential:
      return "sequential";
    case RunStrategy::kParallel:
      return "parallel";
    case RunStrategy::kFirstOnly:
      return "first_only";
    case RunStrategy::kLastOnly:
      return "last_only";
  }
  return "sequential";
}

const JobTemplate* Workflow::FindJob(std::string_view id) const {
  for (const JobTemplate& j : jobs) {
    if (j.id == id) return &j;
  }
  return nullptr;
}

}  // namespace weir::workflow
