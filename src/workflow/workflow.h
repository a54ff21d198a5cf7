// Workflow: the model of a rendered `*.sch.yaml` definition, as validate.h produces it and the
// scheduler consumes it. Plain value types; every element keeps its 1-based source line so later
// stages (deploy, scheduler messages) can point back into the file. The file format is described
// in docs/dataflow.md.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::workflow {

// Runtime parameters every run has, whatever the workflow and environment define.
// EXECUTION_DATE_LOCAL and EXECUTION_DAY are the logical time in the workflow's `timezone`.
inline constexpr std::array<std::string_view, 6> kBuiltinParams = {
    "EXECUTION_DATE", "WORKFLOW_ID", "INSTANCE_ID", "ENV", "EXECUTION_DATE_LOCAL", "EXECUTION_DAY"};
bool IsBuiltinParam(std::string_view name);
// [A-Za-z_][A-Za-z0-9_]*: the names `${NAME}` may use.
bool IsParamName(std::string_view name);
// [A-Za-z0-9_-]{1,100}: workflow and job ids (they become parts of deployed ids and job names).
bool IsWorkflowIdent(std::string_view id);

// What happens when a trigger fires while earlier instances still run.
enum class RunStrategy {
  kSequential,  // queue: one instance at a time, in trigger order (default)
  kParallel,    // up to max_concurrency instances at once
  kFirstOnly,   // skip the new instance while one runs
  kLastOnly,    // stop the running instance, start the new one
};
std::string_view RunStrategyName(RunStrategy s);  // "sequential", "parallel", ...

// When a step runs, judged from the final states of its upstream steps (`trigger_rule:`).
enum class TriggerRule {
  kAllSuccess,  // every upstream step succeeded (default)
  kAllDone,     // every upstream step ended, whatever its state
  kOneFailed,   // at least one upstream step failed (or could not run because of a failure)
  kOneSuccess,  // at least one upstream step succeeded
};
std::string_view TriggerRuleName(TriggerRule r);  // "all_success", "all_done", ...
// The rule named `name`; nullopt for an unknown name.
std::optional<TriggerRule> ParseTriggerRule(std::string_view name);

struct Backoff {
  int64_t initial_seconds = 30;  // delay before the first retry
  double multiplier = 2.0;       // each further delay is the previous one times this
  int64_t max_seconds = 3600;    // delays never exceed this
  friend bool operator==(const Backoff&, const Backoff&) = default;
};

// One step: a job request template for the job service. Strings may still contain runtime
// parameters (${EXECUTION_DATE}, ...); asset variables have already been rendered into URIs.
struct JobTemplate {
  std::string id;  // unique in the workflow
  int line = 0;
  std::string name;                               // job name; default "<workflow id>.<job id>"
  std::vector<std::string> command;               // command criteria tags (all must match)
  std::vector<std::vector<std::string>> cluster;  // cluster criteria, tried in order
  std::string command_args;                       // `args: "..."`: appended to the command as is
  std::vector<std::string> args;                  // `args: [...]`: each item one argument
  std::vector<std::string> dependencies;          // URIs fetched into the job folder
  std::vector<std::string> configs;               // URIs of configuration files
  std::optional<std::string> setup_file;          // URI of a setup script
  std::optional<int64_t> timeout_seconds;
  std::optional<int64_t> memory_mb;
  int retries = 0;  // extra attempts after a failure
  Backoff backoff;
  std::vector<std::string> depends_on;  // upstream job ids (also from `dag:` lines)
  TriggerRule trigger_rule = TriggerRule::kAllSuccess;
  std::vector<std::string> tags;  // extra job tags
  friend bool operator==(const JobTemplate&, const JobTemplate&) = default;
};

// One entry of `after:`: the id of another workflow of the same project, and where it was
// written (for project-wide checks that name the field).
struct Upstream {
  std::string id;
  int line = 0;
  int column = 0;
  friend bool operator==(const Upstream&, const Upstream&) = default;
};

// Default of `after_timeout`: how long after the first upstream success the others may take.
inline constexpr int64_t kDefaultAfterTimeoutSeconds = 24 * 3600;

struct Workflow {
  std::string id;
  std::string description;
  std::optional<std::string> schedule;  // cron: 5 fields or a macro (cron/cron.h)
  // Cross-workflow trigger (instead of `schedule`): an instance starts, with the upstream's
  // logical date, once every workflow listed has an instance that SUCCEEDED for that date.
  std::vector<Upstream> after;
  int64_t after_timeout_seconds = kDefaultAfterTimeoutSeconds;
  std::string timezone = "UTC";               // IANA name
  std::map<std::string, std::string> params;  // defaults of runtime parameters
  RunStrategy run_strategy = RunStrategy::kSequential;
  int max_concurrency = 1;        // > 1 only with kParallel
  std::vector<JobTemplate> jobs;  // in file order; depends_on merged from `dag:` lines

  const JobTemplate* FindJob(std::string_view id) const;
  friend bool operator==(const Workflow&, const Workflow&) = default;
};

}  // namespace weir::workflow
