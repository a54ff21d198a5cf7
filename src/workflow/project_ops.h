// The operations behind `weir project test|build|deploy` and `weir workflow render`, kept out
// of the CLI so they can be tested and benchmarked.
//
// ProjectCatalog lets a project render before its assets are published: references that the
// project's own next build would satisfy (`${dataflow.<type>.<ns>}` and `@<current branch>` of
// an asset declared in dataflow.yaml) resolve to the local built file ("file://<root>/<file>",
// uuid "local:<asset name>"); every other reference goes to the wrapped catalog (the server).
// Used by `project test`, `workflow render` and `deploy --dry-run`; deploy renders against the
// server only, after publishing, so bundles never point at a working tree.
//
// ResolvingCatalog is the one chain all three commands (and deploy) resolve through, so that
// they agree for the same environment: EnvironmentCatalog (the environment's LatestPolicy) over
// the project overlay (when given) over the server. ResolvedReferences lists, per workflow
// file, each reference and the version it became (the table the commands print).
//
// CheckProject reads, renders and validates every workflow file of a project, adding the
// project-wide check that workflow ids are unique. Thread-compatible.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "assets/catalog.h"
#include "common/result.h"
#include "workflow/process.h"
#include "workflow/project.h"
#include "workflow/render.h"
#include "workflow/validate.h"

namespace weir::workflow {

class ProjectCatalog final : public assets::AssetCatalog {
 public:
  // `inner` may be null (offline): non-local references then fail with kUnavailable.
  ProjectCatalog(const Project& project, assets::AssetCatalog* inner)
      : project_(project), inner_(inner) {}
  Result<assets::AssetRecord> Resolve(const assets::AssetRef& ref) override;
  std::vector<std::string> Suggestions(const assets::AssetRef& ref) override;

 private:
  const Project& project_;
  assets::AssetCatalog* inner_;
};

// The catalog chain for rendering `project`'s workflows for `environment`: the "latest" form
// follows LatestPolicyFor(project.spec, environment); with `local_builds` this project's own
// unpublished builds count as the next build of the current git branch (ProjectCatalog);
// `server` may be null (offline). The result refers to `project` and `server`: keep them alive.
class ResolvingCatalog final : public assets::AssetCatalog {
 public:
  ResolvingCatalog(const Project& project, assets::AssetCatalog* server,
                   const std::string& environment, bool local_builds);
  Result<assets::AssetRecord> Resolve(const assets::AssetRef& ref) override;
  std::vector<std::string> Suggestions(const assets::AssetRef& ref) override;

 private:
  ProjectCatalog overlay_;
  std::unique_ptr<assets::AssetCatalog> offline_;  // answers kUnavailable when server is null
  std::unique_ptr<assets::AssetCatalog> env_;
};

struct WorkflowCheck {
  std::string file;  // repository-relative path of the *.sch.yaml file
  std::string id;    // the workflow id, or the file's stem when the id is unusable
  CheckedWorkflow checked;
  bool ok() const { return checked.ok(); }
};

// Renders and validates `files` (repository-relative) with the parameters of `environment`.
std::vector<WorkflowCheck> CheckProject(const Project& project,
                                        const std::vector<std::string>& files,
                                        assets::AssetCatalog& catalog,
                                        const std::string& environment);

// The project-wide check of `after:` (call with the checks of EVERY workflow file): each id
// must be the id of a valid workflow of the project, and the `after:` graph must have no cycle.
// Problems are added to the workflow that names the id (its `workflow` is then reset).
void CheckUpstreams(std::vector<WorkflowCheck>& checks);

// `checks` reordered so that every workflow comes after the workflows its `after:` names (file
// order otherwise): the order in which to deploy them.
std::vector<const WorkflowCheck*> DeployOrder(const std::vector<WorkflowCheck>& checks);

struct ResolvedReference {
  std::string file;       // the workflow file (repository-relative)
  std::string reference;  // as written inside ${...}
  std::string uuid;       // the version's UUID, or "local:<asset>" for an unpublished build
  std::string branch;     // the version's branch
  int64_t build = 0;      // its build number; 0 for a local (not yet published) build
  std::string uri;
};
// Every resolved asset reference of `checks`, per file in order of first use.
std::vector<ResolvedReference> ResolvedReferences(const std::vector<WorkflowCheck>& checks);
// "main#4", or "feature/x#next" for a local build.
std::string BranchBuild(const ResolvedReference& r);

// ".workflows/<id>.rendered.yaml" under the project root.
std::filesystem::path RenderedPath(const Project& project, const WorkflowCheck& check);

// Runs `command` with `bash -c` in <root>/<asset.dir>, output to the caller's terminal, with
// WEIR_PROJECT_ROOT, WEIR_ASSET_NAME, WEIR_ASSET_TYPE, WEIR_ASSET_NAMESPACE set. Returns the
// exit code.
Result<int> RunAssetCommand(const Project& project, const AssetSpec& asset,
                            const std::string& command);

// The built file of `asset`: must exist inside the repository and be a regular file.
Result<std::filesystem::path> BuiltFile(const Project& project, const AssetSpec& asset);

}  // namespace weir::workflow
