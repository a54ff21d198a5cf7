// Project: the parsed `dataflow.yaml` at the root of a git repository (format and a complete
// example in docs/dataflow.md).
//
// ParseProject is pure: text in, ProjectSpec or every problem (file:line:column) out. It refuses
// hostile YAML (see yaml_util.h), paths that are absolute or contain "..", unknown keys, and
// names that could not become part of an asset UUID. LoadProject reads the file from disk and
// adds the git facts; FindWorkflows lists the workflow files. Environment helpers implement the
// branch → environment rules of the spec. Everything is thread-compatible (no shared state).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "workflow/diagnostic.h"
#include "workflow/git.h"
#include "workflow/yaml_util.h"

namespace weir::workflow {

inline constexpr std::string_view kProjectFileName = "dataflow.yaml";
inline constexpr std::string_view kWorkflowSuffix = ".sch.yaml";

struct AssetSpec {
  std::string name;       // the project's handle for it, unique in the project
  std::string type;       // asset UUID component, e.g. "python"
  std::string ns;         // namespace, e.g. "stranger-etl"
  std::string build;      // shell command (bash -c) that produces `file`; empty: nothing to build
  std::string file;       // the built file, relative to the repository root
  std::string test;       // shell command (bash -c); empty: no tests
  std::string dir = ".";  // where build and test run, relative to the repository root
  int line = 0;           // where the asset is declared in dataflow.yaml
};

// Where the "latest" form of an asset reference (${dataflow.<type>.<namespace>}) looks for
// versions in one environment: the newest build on `branches[0]`, else on `branches[1]`, ...;
// with `any`, the newest version on any branch (the catalog's plain kLatest rule).
struct LatestPolicy {
  bool any = false;
  std::vector<std::string> branches;  // as git names them; empty when `any`
  friend bool operator==(const LatestPolicy&, const LatestPolicy&) = default;
};

struct EnvironmentSpec {
  std::string
      name;  // "prod", "staging", "sandbox:<user>", "branch:<branch>", "sandbox:*", "branch:*"
  std::map<std::string, std::string> params;
  // `resolve_latest_from:` — `any` or a list of branch names; unset: LatestPolicyFor's default.
  std::optional<LatestPolicy> resolve_latest_from;

  // `schedule: cron` (fire on the workflows' cron) or `schedule: manual` (manual runs only);
  // unset: see CronForEnvironment.
  std::optional<std::string> schedule;
};

struct ProjectSpec {
  std::optional<std::string> owner;  // overrides the origin remote's owner
  std::optional<std::string> repo;   // overrides the origin remote's repository name
  std::string main_branch = "main";
  std::vector<AssetSpec> assets;
  // Files (*.sch.yaml) and folders (searched recursively), relative to the root. Empty: the
  // whole repository is searched.
  std::vector<std::string> workflows;
  std::vector<EnvironmentSpec> environments;
  std::map<std::string, std::string> branches;  // branch name → environment

  const AssetSpec* FindAsset(std::string_view name) const;
};

struct ParsedProject {
  std::optional<ProjectSpec> spec;  // set when `errors` is empty
  std::vector<Diagnostic> errors;
};

ParsedProject ParseProject(std::string_view text, const std::string& file = "dataflow.yaml",
                           const YamlLimits& limits = {});

// A project on disk: its spec, its git facts and the owner/repo they give.
struct Project {
  std::filesystem::path root;  // repository root (absolute)
  ProjectSpec spec;
  GitFacts git;
  std::string owner;
  std::string repo;
};

// Finds the git root from `dir`, reads <root>/dataflow.yaml and resolves owner/repo (override,
// else origin URL). kFailedPrecondition outside git, on a detached HEAD, without dataflow.yaml
// or without a usable owner/repo; kInvalidArgument (all diagnostics in the message, one per
// line) when the file is invalid.
Result<Project> LoadProject(const std::filesystem::path& dir);

// The workflow files of the project, relative to the root with '/' separators, sorted. Hidden
// folders (".git", ".workflows", ...) are skipped and symlinked folders are not followed.
// kNotFound when a listed file or folder does not exist.
Result<std::vector<std::string>> FindWorkflows(const std::filesystem::path& root,
                                               const ProjectSpec& spec);

// kInvalidArgument unless `env` is "prod", "staging", "sandbox:<user>" or "branch:<branch>".
Status ValidateEnvironmentName(std::string_view env);
// The environment a deploy from `branch` goes to: the project's mapping, else "prod" for the
// main branch, else "branch:<branch>".
std::string EnvironmentForBranch(const ProjectSpec& spec, std::string_view branch);
// The parameters of `env`: its own entry, else the "sandbox:*" / "branch:*" entry; empty if none.
std::map<std::string, std::string> ParamsForEnvironment(const ProjectSpec& spec,
                                                        std::string_view env);
// Whether deployments to `env` fire on cron: its own `schedule:`, else the "sandbox:*" /
// "branch:*" entry's; default true, except "branch:<b>" environments, which are manual only
// unless an entry says `schedule: cron`.
bool CronForEnvironment(const ProjectSpec& spec, std::string_view env);

// How ${dataflow.<type>.<namespace>} resolves in `env`: the environment's own
// `resolve_latest_from`, else that of its "sandbox:*" / "branch:*" entry, else the default:
// "branch:<b>" → [b, main branch] (just [main] when b is the main branch); every other
// environment (prod, staging, sandbox:<user>) → [main branch]. So a deploy never picks up another
// branch's build through the "latest" form unless the project says `any`.
LatestPolicy LatestPolicyFor(const ProjectSpec& spec, std::string_view env);

// Checks a path written in a project or workflow file: relative, no "..", no empty or "."-only
// result, no NUL, no backslash. Returns an error message, or empty when acceptable.
std::string CheckRelativePath(std::string_view path);

}  // namespace weir::workflow
