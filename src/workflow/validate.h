// Validate: static checks of a rendered workflow file, producing the Workflow model.
//
// ValidateWorkflow parses the rendered YAML (with the limits of yaml_util.h) and reports every
// problem it finds, each with file:line:column: YAML syntax, schema errors (missing, unknown or
// mistyped keys, with "did you mean"), invalid ids, duplicate job ids, unknown job ids in
// `depends_on` and `dag:` lines, dependency cycles (naming the cycle, e.g. "a -> b -> a"),
// invalid cron expressions and unknown IANA time zones (checked by cron/cron.h, the engine the
// scheduler fires with), and runtime parameters that are neither built in (workflow.h), nor in
// the workflow's `params`, nor in the environment's parameters.
// Jobs that no root reaches are allowed. Positions are mapped back to the source file through
// the RenderResult, whose own errors (unresolvable assets and files) are included, so one call
// gives the complete list for `weir project test`.
//
// Pure apart from the read-only time-zone database (/usr/share/zoneinfo); thread-safe.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "workflow/diagnostic.h"
#include "workflow/render.h"
#include "workflow/workflow.h"
#include "workflow/yaml_util.h"

namespace weir::workflow {

struct ValidateOptions {
  std::string file;                          // names the file in diagnostics
  const RenderResult* render = nullptr;      // runtime parameter uses, positions, render errors
  std::set<std::string> environment_params;  // parameters the target environment defines
  YamlLimits limits;
};

struct Validation {
  std::optional<Workflow> workflow;  // set only when `problems` is empty
  std::vector<Diagnostic> problems;  // sorted by position
  bool ok() const { return problems.empty(); }
};

Validation ValidateWorkflow(std::string_view rendered_text, const ValidateOptions& options);

// Render then validate (what `project test`, `workflow render` and deploy do per file).
struct CheckedWorkflow {
  RenderResult render;
  Validation validation;  // includes the render errors
  bool ok() const { return validation.ok(); }
};
CheckedWorkflow RenderAndValidate(std::string_view source, const std::string& file,
                                  assets::AssetCatalog& catalog, const FileHasher& hash_file,
                                  const std::set<std::string>& environment_params);

// kInvalidArgument unless `name` is a time zone of the IANA database (e.g. "Europe/Amsterdam").
Status CheckTimeZone(std::string_view name);

// Parses "90", "90s", "15m", "2h", "1d" into seconds. False on anything else.
bool ParseDurationSeconds(std::string_view text, int64_t* seconds);

}  // namespace weir::workflow
