#include "workflow/project_ops.h"

#include <functional>
#include <map>
#include <system_error>

#include "blob/local_blob_store.h"
#include "blob/sha256.h"
#include "common/fs.h"
#include "common/strings.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;

std::string Stem(const std::string& file) {
  std::string name = fs::path(file).filename().string();
  if (EndsWith(name, kWorkflowSuffix)) name.resize(name.size() - kWorkflowSuffix.size());
  return name;
}

// Stands in for the server when there is none (offline).
class OfflineCatalog final : public assets::AssetCatalog {
 public:
  Result<assets::AssetRecord> Resolve(const assets::AssetRef& ref) override {
    return Unavailable("asset '" + ref.ToString() +
                       "': not checked (offline); run against a server to resolve it");
  }
  std::vector<std::string> Suggestions(const assets::AssetRef&) override { return {}; }
};

}  // namespace

ResolvingCatalog::ResolvingCatalog(const Project& project, assets::AssetCatalog* server,
                                   const std::string& environment, bool local_builds)
    : overlay_(project, server) {
  if (server == nullptr) offline_ = std::make_unique<OfflineCatalog>();
  assets::AssetCatalog* below = local_builds ? static_cast<assets::AssetCatalog*>(&overlay_)
                                             : (server != nullptr ? server : offline_.get());
  LatestPolicy policy = LatestPolicyFor(project.spec, environment);
  env_ = std::make_unique<EnvironmentCatalog>(
      *below, policy.any ? std::vector<std::string>{} : policy.branches, environment);
}

Result<assets::AssetRecord> ResolvingCatalog::Resolve(const assets::AssetRef& ref) {
  return env_->Resolve(ref);
}

std::vector<std::string> ResolvingCatalog::Suggestions(const assets::AssetRef& ref) {
  return env_->Suggestions(ref);
}

std::vector<ResolvedReference> ResolvedReferences(const std::vector<WorkflowCheck>& checks) {
  std::vector<ResolvedReference> out;
  for (const WorkflowCheck& c : checks) {
    for (const Resolution& r : c.checked.render.resolutions) {
      bool local = StartsWith(r.version.uuid, "local:");
      out.push_back({c.file, r.reference, r.version.uuid, r.version.id.branch,
                     local ? 0 : r.version.id.build, r.version.uri});
    }
  }
  return out;
}

std::string BranchBuild(const ResolvedReference& r) {
  return r.branch + "#" + (r.build == 0 ? std::string("next") : std::to_string(r.build));
}

Result<assets::AssetRecord> ProjectCatalog::Resolve(const assets::AssetRef& ref) {
  for (const AssetSpec& a : project_.spec.assets) {
    if (a.type != ref.type || a.ns != ref.ns) continue;
    bool local =
        ref.form == assets::RefForm::kLatest ||
        (ref.form == assets::RefForm::kLatestOnBranch && ref.branch == project_.git.branch);
    if (!local) break;
    assets::AssetRecord r;
    r.id.type = a.type;
    r.id.ns = a.ns;
    r.id.owner = project_.owner;
    r.id.repo = project_.repo;
    r.id.branch = project_.git.branch;
    r.id.commit = project_.git.short_commit;
    r.uuid = "local:" + a.name;
    r.uri = blob::FileUri(project_.root / a.file);
    r.file_name = fs::path(a.file).filename().string();
    // The built file's hash, as the registry would record it, so that a bundle made from this
    // rendering (deploy --dry-run) is as complete as a real one. Not built yet: left empty.
    std::error_code ec;
    if (Result<std::string> sha = blob::Sha256File(project_.root / a.file); sha.ok()) {
      r.sha256 = *sha;
      r.size = static_cast<int64_t>(fs::file_size(project_.root / a.file, ec));
    }
    r.dirty = project_.git.dirty;
    return r;
  }
  if (inner_ == nullptr) {
    return Unavailable("asset '" + ref.ToString() +
                       "': not checked (offline); run against a server to resolve it");
  }
  return inner_->Resolve(ref);
}

std::vector<std::string> ProjectCatalog::Suggestions(const assets::AssetRef& ref) {
  std::vector<std::string> out;
  if (inner_ != nullptr) out = inner_->Suggestions(ref);
  for (const AssetSpec& a : project_.spec.assets) {
    if (a.type == ref.type && a.ns != ref.ns && EditDistance(a.ns, ref.ns) <= 3) {
      out.push_back("namespace '" + a.ns + "' (" + a.type + ", this project)");
    }
  }
  return out;
}

std::vector<WorkflowCheck> CheckProject(const Project& project,
                                        const std::vector<std::string>& files,
                                        assets::AssetCatalog& catalog,
                                        const std::string& environment) {
  std::set<std::string> env_params;
  for (const auto& [k, v] : ParamsForEnvironment(project.spec, environment)) env_params.insert(k);
  FileHasher hasher = DiskFileHasher(project.root);
  std::vector<WorkflowCheck> out;
  std::map<std::string, std::string> id_files;  // workflow id → first file
  for (const std::string& file : files) {
    WorkflowCheck c;
    c.file = file;
    Result<std::string> source = ReadFile(project.root / file);
    if (!source) {
      Diagnostic d;
      d.file = file;
      d.message = "workflow: cannot read: " + source.status().message();
      c.checked.validation.problems.push_back(d);
      c.id = Stem(file);
      out.push_back(std::move(c));
      continue;
    }
    c.checked = RenderAndValidate(*source, file, catalog, hasher, env_params);
    // The id is needed for the output name even when the file has other problems (then the
    // rendered text is read once more just for it).
    std::string id;
    int id_line = 0, id_column = 0;
    if (c.checked.validation.workflow) {
      id = c.checked.validation.workflow->id;
    } else {
      LoadedYaml y = LoadYaml(c.checked.render.text, file);
      if (y.ok() && y.root.IsMap() && y.root["id"] && y.root["id"].IsScalar()) {
        id = y.root["id"].Scalar();
        id_line = LineOf(y.root["id"]);
        id_column = ColumnOf(y.root["id"]);
      }
    }
    if (IsWorkflowIdent(id)) {
      c.id = id;
      auto [it, inserted] = id_files.emplace(c.id, file);
      if (!inserted) {
        if (id_line == 0) {
          LoadedYaml y = LoadYaml(c.checked.render.text, file);
          if (y.ok() && y.root.IsMap() && y.root["id"]) {
            id_line = LineOf(y.root["id"]);
            id_column = ColumnOf(y.root["id"]);
          }
        }
        Diagnostic d;
        d.file = file;
        d.line = id_line;
        d.column = id_column;
        d.message = "id '" + c.id + "': also the id of " + it->second +
                    "; workflow ids must be unique in a project";
        c.checked.validation.problems.push_back(d);
        c.checked.validation.workflow.reset();
        c.id = Stem(file);
      }
    } else {
      c.id = Stem(file);
    }
    out.push_back(std::move(c));
  }
  return out;
}

void CheckUpstreams(std::vector<WorkflowCheck>& checks) {
  std::map<std::string, const Workflow*> by_id;
  std::vector<std::string> ids;
  for (const WorkflowCheck& c : checks) {
    if (c.checked.validation.workflow) {
      by_id[c.id] = &*c.checked.validation.workflow;
      ids.push_back(c.id);
    }
  }
  // A cycle: following `after:` from a workflow leads back to it.
  auto reaches = [&](const std::string& from, const std::string& target) {
    std::set<std::string> seen;
    std::vector<std::string> todo = {from};
    while (!todo.empty()) {
      std::string at = todo.back();
      todo.pop_back();
      if (at == target) return true;
      if (!seen.insert(at).second) continue;
      auto it = by_id.find(at);
      if (it == by_id.end()) continue;
      for (const Upstream& u : it->second->after) todo.push_back(u.id);
    }
    return false;
  };
  std::vector<std::pair<size_t, Diagnostic>> problems;
  for (size_t k = 0; k < checks.size(); ++k) {
    const WorkflowCheck& c = checks[k];
    if (!c.checked.validation.workflow) continue;
    for (const Upstream& u : c.checked.validation.workflow->after) {
      Diagnostic d;
      d.file = c.file;
      d.line = u.line;
      d.column = u.column;
      if (!by_id.count(u.id)) {
        d.message = "after: unknown workflow '" + u.id +
                    "'; `after` names workflow ids of this project (run `weir project test`)";
        d.suggestions = ClosestNames(u.id, ids);
      } else if (reaches(u.id, c.id)) {
        d.message = "after: workflow '" + u.id + "' runs after '" + c.id +
                    "' itself (a cycle); remove one of the `after` entries";
      } else {
        continue;
      }
      problems.emplace_back(k, std::move(d));
    }
  }
  for (auto& [k, d] : problems) {
    checks[k].checked.validation.problems.push_back(std::move(d));
    checks[k].checked.validation.workflow.reset();
    SortDiagnostics(checks[k].checked.validation.problems);
  }
}

std::vector<const WorkflowCheck*> DeployOrder(const std::vector<WorkflowCheck>& checks) {
  std::map<std::string, const WorkflowCheck*> by_id;
  for (const WorkflowCheck& c : checks) by_id[c.id] = &c;
  std::vector<const WorkflowCheck*> out;
  std::set<const WorkflowCheck*> placed, visiting;
  std::function<void(const WorkflowCheck*)> place = [&](const WorkflowCheck* c) {
    if (placed.count(c) || !visiting.insert(c).second) return;  // done, or a cycle: file order
    if (c->checked.validation.workflow) {
      for (const Upstream& u : c->checked.validation.workflow->after) {
        if (auto it = by_id.find(u.id); it != by_id.end()) place(it->second);
      }
    }
    placed.insert(c);
    out.push_back(c);
  };
  for (const WorkflowCheck& c : checks) place(&c);
  return out;
}

fs::path RenderedPath(const Project& project, const WorkflowCheck& check) {
  return project.root / ".workflows" / (check.id + ".rendered.yaml");
}

Result<int> RunAssetCommand(const Project& project, const AssetSpec& asset,
                            const std::string& command) {
  fs::path dir = asset.dir == "." ? project.root : project.root / asset.dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return NotFound("asset '" + asset.name + "': folder '" + asset.dir + "' does not exist");
  }
  return RunInherit({"bash", "-c", command}, dir,
                    {{"WEIR_PROJECT_ROOT", project.root.string()},
                     {"WEIR_ASSET_NAME", asset.name},
                     {"WEIR_ASSET_TYPE", asset.type},
                     {"WEIR_ASSET_NAMESPACE", asset.ns}});
}

Result<fs::path> BuiltFile(const Project& project, const AssetSpec& asset) {
  Result<fs::path> p = ResolveInside(project.root, asset.file);
  if (!p) {
    if (p.status().code() == StatusCode::kNotFound) {
      return NotFound("asset '" + asset.name + "': built file '" + asset.file + "' does not exist" +
                      (asset.build.empty() ? std::string("; add a build command or commit the file")
                                           : "; check the build command writes it"));
    }
    return p.status().WithContext("asset '" + asset.name + "'");
  }
  std::error_code ec;
  if (!fs::is_regular_file(*p, ec)) {
    return InvalidArgument("asset '" + asset.name + "': '" + asset.file + "' is not a file");
  }
  return p;
}

}  // namespace weir::workflow
