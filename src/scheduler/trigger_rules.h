// Trigger rules: whether a PENDING step may start, must wait, or can never run, judged from the
// states of its upstream steps (workflow::TriggerRule, `trigger_rule:` in a workflow file).
//
// An upstream step has ENDED when it is SUCCEEDED, FAILED, UPSTREAM_FAILED or SKIPPED (a step
// WAITING_RETRY has not ended: it may still succeed). "Failed" below means FAILED or
// UPSTREAM_FAILED. A step without upstream steps is ready under every rule.
//   all_success  ready when every upstream SUCCEEDED (SKIPPED counts as done for it only when
//                nothing failed: then the step is SKIPPED too); any failed upstream →
//                UPSTREAM_FAILED
//   all_done     ready when every upstream ended; never impossible
//   one_failed   ready as soon as one upstream failed; all ended and none failed → SKIPPED
//   one_success  ready as soon as one upstream SUCCEEDED; all ended and none succeeded →
//                UPSTREAM_FAILED when one failed, else SKIPPED
// So UPSTREAM_FAILED always traces back to a FAILED step.
// Pure functions; thread-safe.
#pragma once

#include <vector>

#include "scheduler/scheduler.h"
#include "workflow/workflow.h"

namespace weir::scheduler {

enum class RuleVerdict {
  kWait,            // leave the step PENDING
  kReady,           // start it
  kUpstreamFailed,  // it can never run: mark it UPSTREAM_FAILED
  kSkipped,         // it can never run: mark it SKIPPED
};

RuleVerdict JudgeTriggerRule(workflow::TriggerRule rule, const std::vector<StepStatus>& upstream);

// True for the states in which a step has ended for the purpose of its downstream steps.
bool HasEnded(StepStatus s);

}  // namespace weir::scheduler
