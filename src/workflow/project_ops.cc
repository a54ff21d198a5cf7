#include "workflow/project_ops.h"

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
