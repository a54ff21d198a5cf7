// The operations behind `weir project test|build|deploy` and `weir workflow render`, kept out
// of the CLI so they can be tested and benchmarked.
//
// ProjectCatalog lets a project render before its assets are published: references that the
// project's own next build would satisfy (`${dataflow.<type>.<ns>}` and `@<current branch>` of
// an asset declared in dataflow.yaml) resolve to the local built file ("file://<root>/<file>",
// uuid "local:<asset name>"); every other reference goes to the wrapped catalog (the server).
// Used by `project test` and `workflow render`; deploy renders against the server only, after
// publishing, so bundles never point at a working tree.
//
// CheckProject reads, renders and validates every workflow file of a project, adding the
// project-wide check that workflow ids are unique. Thread-compatible.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <set>
#include <string>
#include <vector>

#include "assets/catalog.h"
#include "common/result.h"
#include "workflow/process.h"
#include "workflow/project.h"
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
