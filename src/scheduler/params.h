// Runtime parameters of workflow instances: resolving the layers and substituting `${NAME}`.
//
// Layers, later wins: the workflow's `params` defaults ← the environment's parameters ← the
// overrides of a manual run ← the built-ins (EXECUTION_DATE, WORKFLOW_ID, INSTANCE_ID, ENV; a
// manual run may override EXECUTION_DATE only, which the Scheduler checks). A value may refer to
// other parameters (`OUT_DIR: /data/${ENV}/${TABLE}`); references are expanded recursively, a
// reference cycle is kInvalidArgument naming it. Built-in values are taken literally.
//
// Substitution rules (the same for parameter values and for step fields):
//   `${NAME}` where NAME is a known parameter   → its value (inserted as is, never re-scanned)
//   `${NAME}` where NAME is unknown              → left untouched (e.g. a shell variable ${HOME})
//   `$${`                                         → a literal `${`
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/result.h"

namespace weir::scheduler {

using Params = std::map<std::string, std::string>;

// Merges the layers and expands references between values. kInvalidArgument on a cycle
// ("params: reference cycle A -> B -> A; break it").
Result<Params> ResolveParams(const Params& defaults, const Params& environment,
                             const Params& overrides, const Params& builtins);

// Applies the substitution rules above with the (already resolved) `params`.
std::string Substitute(std::string_view text, const Params& params);

}  // namespace weir::scheduler
