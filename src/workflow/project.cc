#include "workflow/project.h"

#include <algorithm>
#include <set>
#include <system_error>

#include "assets/asset_id.h"
#include "common/fs.h"
#include "common/strings.h"
#include "workflow/workflow.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kTopKeys = {"project", "assets", "workflows", "environments",
                                           "branches"};
const std::vector<std::string> kProjectKeys = {"owner", "repo", "main_branch"};
const std::vector<std::string> kAssetKeys = {"name", "type", "namespace", "build",
                                             "file", "test", "dir"};
const std::vector<std::string> kEnvironmentKeys = {"params", "resolve_latest_from", "schedule"};

bool IsEnvPattern(std::string_view env) { return env == "sandbox:*" || env == "branch:*"; }

// `resolve_latest_from: any` or a non-empty list of branch names (a single name is a list of
// one). nullopt (reported) otherwise.
std::optional<LatestPolicy> ParseLatestPolicy(const YAML::Node& node, YamlChecker& c,
                                              const std::string& field) {
  std::optional<std::vector<std::string>> list = c.StringList(node, field, true);
  if (!list) return std::nullopt;
  LatestPolicy p;
  if (list->size() == 1 && list->front() == "any") {
    p.any = true;
    return p;
  }
  if (list->empty()) {
    c.Error(node, field + ": name at least one branch, or write `any`");
    return std::nullopt;
  }
  bool ok = true;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string& b = (*list)[i];
    const YAML::Node item = node.IsSequence() ? node[i] : node;
    if (b == "any") {
      c.Error(item, field + ": `any` stands alone (resolve_latest_from: any), not in a list");
      ok = false;
    } else if (Status s = assets::ValidateBranch(b); !s.ok()) {
      c.Error(item, field + ": " + s.message());
      ok = false;
    } else if (std::find(p.branches.begin(), p.branches.end(), b) == p.branches.end()) {
      p.branches.push_back(b);
    }
  }
  if (!ok) return std::nullopt;
  return p;
}

void ParseAsset(const YAML::Node& node, YamlChecker& c, ProjectSpec& spec,
                std::set<std::string>& names, std::set<std::pair<std::string, std::string>>& ids) {
  if (!c.CheckMap(node, "assets[]", kAssetKeys)) return;
  AssetSpec a;
  a.line = LineOf(node);
  bool ok = true;
  auto required = [&](const char* key, std::string* out) {
    const YAML::Node v = node[key];
    if (!v) {
      c.Error(node, std::string("asset: '") + key + "' is required");
      ok = false;
      return;
    }
    std::optional<std::string> s = c.Scalar(v, std::string("asset.") + key);
    if (!s) {
      ok = false;
      return;
    }
    *out = *s;
  };
  auto optional = [&](const char* key, std::string* out) {
    if (const YAML::Node v = node[key]) {
      std::optional<std::string> s = c.Scalar(v, std::string("asset.") + key, true);
      if (s)
        *out = *s;
      else
        ok = false;
    }
  };
  required("name", &a.name);
  required("type", &a.type);
  required("namespace", &a.ns);
  required("file", &a.file);
  optional("build", &a.build);
  optional("test", &a.test);
  optional("dir", &a.dir);
  if (!ok) return;
  if (!IsWorkflowIdent(a.name)) {
    c.Error(node["name"], "asset.name '" + a.name + "': use 1..100 of [A-Za-z0-9_-]");
  } else if (!names.insert(a.name).second) {
    c.Error(node["name"], "asset.name '" + a.name + "': declared twice; names must be unique");
  }
  if (Status s = assets::ValidateComponent("asset.type", a.type); !s.ok()) {
    c.Error(node["type"], s.message());
  }
  if (Status s = assets::ValidateComponent("asset.namespace", a.ns); !s.ok()) {
    c.Error(node["namespace"], s.message());
  }
  if (!ids.insert({a.type, a.ns}).second) {
    c.Error(node["namespace"], "asset '" + a.name + "': another asset already publishes type '" +
                                   a.type + "' into namespace '" + a.ns + "'");
  }
  if (std::string e = CheckRelativePath(a.file); !e.empty()) {
    c.Error(node["file"], "asset.file '" + a.file + "': " + e);
  }
  if (a.dir.empty()) a.dir = ".";
  if (a.dir != ".") {
    if (std::string e = CheckRelativePath(a.dir); !e.empty()) {
      c.Error(node["dir"], "asset.dir '" + a.dir + "': " + e);
    }
  }
  spec.assets.push_back(std::move(a));
}

void ParseParams(const YAML::Node& node, YamlChecker& c, const std::string& where,
                 std::map<std::string, std::string>& out) {
  if (node.IsNull()) return;
  if (!c.CheckMap(node, where, {})) return;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) continue;
    const std::string& name = kv.first.Scalar();
    if (!IsParamName(name)) {
      c.Error(kv.first,
              where + ": parameter name '" + name + "' must match [A-Za-z_][A-Za-z0-9_]*");
      continue;
    }
    if (IsBuiltinParam(name)) {
      c.Error(kv.first, where + ": '" + name + "' is a built-in parameter and cannot be set");
      continue;
    }
    std::optional<std::string> v = c.Scalar(kv.second, where + "." + name, true);
    if (v) out.emplace(name, *v);
  }
}

}  // namespace

const AssetSpec* ProjectSpec::FindAsset(std::string_view name) const {
  for (const AssetSpec& a : assets) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string CheckRelativePath(std::string_view path) {
  if (path.empty()) return "must not be empty";
  if (path.find('\0') != std::string_view::npos) return "must not contain NUL";
  if (path.find('\\') != std::string_view::npos) return "use '/' to separate folders";
  if (path.front() == '/') return "must be relative to the repository, not absolute";
  bool any = false;
  for (const std::string& part : Split(path, '/')) {
    if (part == "..") return "must stay inside the repository ('..' is not allowed)";
    if (!part.empty() && part != ".") any = true;
  }
  if (!any) return "must name a file or folder inside the repository";
  return "";
}

Status ValidateEnvironmentName(std::string_view env) {
  if (env == "prod" || env == "staging") return Status::Ok();
  for (std::string_view prefix : {"sandbox:", "branch:"}) {
    if (StartsWith(env, prefix)) {
      std::string_view rest = env.substr(prefix.size());
      if (prefix == "sandbox:" && !rest.empty() && IsWorkflowIdent(rest)) return Status::Ok();
      if (prefix == "branch:" && assets::ValidateBranch(rest).ok()) return Status::Ok();
    }
  }
  return InvalidArgument("environment '" + std::string(env) +
                         "': must be prod, staging, sandbox:<user> or branch:<branch>");
}

std::string EnvironmentForBranch(const ProjectSpec& spec, std::string_view branch) {
  if (auto it = spec.branches.find(std::string(branch)); it != spec.branches.end()) {
    return it->second;
  }
  if (branch == spec.main_branch) return "prod";
  return "branch:" + std::string(branch);
}

std::map<std::string, std::string> ParamsForEnvironment(const ProjectSpec& spec,
                                                        std::string_view env) {
  std::string pattern;
  if (StartsWith(env, "sandbox:")) pattern = "sandbox:*";
  if (StartsWith(env, "branch:")) pattern = "branch:*";
  const EnvironmentSpec* fallback = nullptr;
  for (const EnvironmentSpec& e : spec.environments) {
    if (e.name == env) return e.params;
    if (!pattern.empty() && e.name == pattern) fallback = &e;
  }
  return fallback ? fallback->params : std::map<std::string, std::string>{};
}

bool CronForEnvironment(const ProjectSpec& spec, std::string_view env) {
  std::string pattern;
  if (StartsWith(env, "sandbox:")) pattern = "sandbox:*";
  if (StartsWith(env, "branch:")) pattern = "branch:*";
  const EnvironmentSpec* fallback = nullptr;
  for (const EnvironmentSpec& e : spec.environments) {
    if (e.name == env && e.schedule) return *e.schedule == "cron";
    if (!pattern.empty() && e.name == pattern && e.schedule) fallback = &e;
  }
  if (fallback) return *fallback->schedule == "cron";
  return !StartsWith(env, "branch:");
}

LatestPolicy LatestPolicyFor(const ProjectSpec& spec, std::string_view env) {
  std::string pattern;
  if (StartsWith(env, "sandbox:")) pattern = "sandbox:*";
  if (StartsWith(env, "branch:")) pattern = "branch:*";
  const EnvironmentSpec* fallback = nullptr;
  for (const EnvironmentSpec& e : spec.environments) {
    if (!e.resolve_latest_from) continue;
    if (e.name == env) return *e.resolve_latest_from;
    if (!pattern.empty() && e.name == pattern) fallback = &e;
  }
  if (fallback != nullptr) return *fallback->resolve_latest_from;
  LatestPolicy p;
  if (StartsWith(env, "branch:") && env.substr(7) != spec.main_branch) {
    p.branches.emplace_back(env.substr(7));
  }
  p.branches.push_back(spec.main_branch);
  return p;
}

ParsedProject ParseProject(std::string_view text, const std::string& file,
                           const YamlLimits& limits) {
  ParsedProject out;
  LoadedYaml y = LoadYaml(text, file, limits);
  if (!y.ok()) {
    out.errors = std::move(y.errors);
    return out;
  }
  YamlChecker c(file, &out.errors);
  ProjectSpec spec;
  const YAML::Node& root = y.root;
  if (root.IsNull()) {
    c.ErrorAt(0, 0, "dataflow.yaml: file is empty; declare at least `assets:` or `workflows:`");
    return out;
  }
  if (!c.CheckMap(root, "dataflow.yaml", kTopKeys)) return out;

  if (const YAML::Node p = root["project"]; p && !p.IsNull()) {
    if (c.CheckMap(p, "project", kProjectKeys)) {
      if (const YAML::Node v = p["owner"]) {
        if (auto s = c.Scalar(v, "project.owner")) {
          if (Status st = assets::ValidateComponent("project.owner", *s); !st.ok()) {
            c.Error(v, st.message());
          }
          spec.owner = *s;
        }
      }
      if (const YAML::Node v = p["repo"]) {
        if (auto s = c.Scalar(v, "project.repo")) {
          if (Status st = assets::ValidateComponent("project.repo", *s); !st.ok()) {
            c.Error(v, st.message());
          }
          spec.repo = *s;
        }
      }
      if (const YAML::Node v = p["main_branch"]) {
        if (auto s = c.Scalar(v, "project.main_branch")) {
          if (Status st = assets::ValidateBranch(*s); !st.ok()) c.Error(v, st.message());
          spec.main_branch = *s;
        }
      }
    }
  }

  if (const YAML::Node a = root["assets"]; a && !a.IsNull()) {
    if (!a.IsSequence()) {
      c.Error(a, "assets: must be a list of assets (- name: ..., type: ..., namespace: ...)");
    } else {
      std::set<std::string> names;
      std::set<std::pair<std::string, std::string>> ids;
      for (const YAML::Node& item : a) ParseAsset(item, c, spec, names, ids);
    }
  }

  if (const YAML::Node w = root["workflows"]; w && !w.IsNull()) {
    if (auto list = c.StringList(w, "workflows", true)) {
      size_t i = 0;
      for (const std::string& path : *list) {
        const YAML::Node item = w.IsSequence() ? w[i] : w;
        ++i;
        if (std::string e = CheckRelativePath(path); !e.empty()) {
          c.Error(item, "workflows: '" + path + "' " + e);
          continue;
        }
        spec.workflows.push_back(path);
      }
    }
  }

  if (const YAML::Node envs = root["environments"]; envs && !envs.IsNull()) {
    if (c.CheckMap(envs, "environments", {})) {
      for (const auto& kv : envs) {
        if (!kv.first.IsScalar()) continue;
        EnvironmentSpec env;
        env.name = kv.first.Scalar();
        if (!IsEnvPattern(env.name)) {
          if (Status s = ValidateEnvironmentName(env.name); !s.ok()) {
            c.Error(kv.first, "environments: " + s.message() + " (or sandbox:* / branch:*)");
            continue;
          }
        }
        const YAML::Node body = kv.second;
        if (!body.IsNull() && c.CheckMap(body, "environments." + env.name, kEnvironmentKeys)) {
          if (const YAML::Node params = body["params"]) {
            ParseParams(params, c, "environments." + env.name + ".params", env.params);
          }
          if (const YAML::Node from = body["resolve_latest_from"]) {
            env.resolve_latest_from =
                ParseLatestPolicy(from, c, "environments." + env.name + ".resolve_latest_from");
          }
          if (const YAML::Node sched = body["schedule"]) {
            if (sched.IsScalar() && (sched.Scalar() == "cron" || sched.Scalar() == "manual")) {
              env.schedule = sched.Scalar();
            } else {
              c.Error(sched, "environments." + env.name +
                                 ".schedule: use cron (fire on the workflows' schedule) or "
                                 "manual (manual runs only)");
            }
          }
        }
        spec.environments.push_back(std::move(env));
      }
    }
  }

  if (const YAML::Node b = root["branches"]; b && !b.IsNull()) {
    if (c.CheckMap(b, "branches", {})) {
      for (const auto& kv : b) {
        if (!kv.first.IsScalar()) continue;
        const std::string& branch = kv.first.Scalar();
        if (Status s = assets::ValidateBranch(branch); !s.ok()) {
          c.Error(kv.first, "branches: " + s.message());
          continue;
        }
        std::optional<std::string> env = c.Scalar(kv.second, "branches." + branch);
        if (!env) continue;
        if (Status s = ValidateEnvironmentName(*env); !s.ok()) {
          c.Error(kv.second, "branches." + branch + ": " + s.message());
          continue;
        }
        spec.branches.emplace(branch, *env);
      }
    }
  }

  if (out.errors.empty()) out.spec = std::move(spec);
  return out;
}

Result<Project> LoadProject(const fs::path& dir) {
  Project p;
  WEIR_ASSIGN_OR_RETURN(p.git, ReadGitFacts(dir.empty() ? fs::path(".") : dir));
  p.root = p.git.root;
  fs::path file = p.root / kProjectFileName;
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    return FailedPrecondition("project: no " + std::string(kProjectFileName) + " in " +
                              p.root.string() + "; create one (see `weir sample workflow bash`)");
  }
  WEIR_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  ParsedProject parsed = ParseProject(text, std::string(kProjectFileName));
  if (!parsed.spec) {
    SortDiagnostics(parsed.errors);
    std::string msg = FormatDiagnostics(parsed.errors);
    if (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return InvalidArgument(msg);
  }
  p.spec = std::move(*parsed.spec);
  if (p.spec.owner && p.spec.repo) {
    p.owner = *p.spec.owner;
    p.repo = *p.spec.repo;
  } else {
    if (p.git.origin_url.empty()) {
      return FailedPrecondition(
          "project: the repository has no 'origin' remote; add one (git "
          "remote add origin URL) or set project.owner and project.repo in "
          "dataflow.yaml");
    }
    WEIR_ASSIGN_OR_RETURN(RepoName name, ParseOriginUrl(p.git.origin_url));
    p.owner = p.spec.owner.value_or(name.owner);
    p.repo = p.spec.repo.value_or(name.repo);
  }
  for (auto [field, value] :
       {std::pair<const char*, const std::string*>{"owner", &p.owner}, {"repo", &p.repo}}) {
    if (Status s = assets::ValidateComponent(field, *value); !s.ok()) {
      return FailedPrecondition("project: " + s.message() + " (from origin '" + p.git.origin_url +
                                "'); set project." + field + " in dataflow.yaml");
    }
  }
  return p;
}

Result<std::vector<std::string>> FindWorkflows(const fs::path& root, const ProjectSpec& spec) {
  std::set<std::string> found;
  auto search = [&](const fs::path& folder) -> Status {
    std::error_code ec;
    fs::recursive_directory_iterator it(folder, fs::directory_options::none, ec), end;
    if (ec) return ErrnoStatus("workflows: " + folder.string(), ec.value());
    for (; it != end; it.increment(ec)) {
      if (ec) return ErrnoStatus("workflows: " + folder.string(), ec.value());
      const fs::path& p = it->path();
      std::string name = p.filename().string();
      if (it->is_directory(ec) && !name.empty() && name[0] == '.') {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec) && EndsWith(name, kWorkflowSuffix)) {
        found.insert(p.lexically_relative(root).generic_string());
      }
    }
    return Status::Ok();
  };
  if (spec.workflows.empty()) {
    WEIR_RETURN_IF_ERROR(search(root));
  } else {
    for (const std::string& entry : spec.workflows) {
      if (std::string e = CheckRelativePath(entry); !e.empty()) {
        return InvalidArgument("workflows: '" + entry + "' " + e);
      }
      fs::path p = root / entry;
      std::error_code ec;
      if (fs::is_directory(p, ec)) {
        WEIR_RETURN_IF_ERROR(search(p));
      } else if (fs::is_regular_file(p, ec)) {
        found.insert(p.lexically_normal().lexically_relative(root).generic_string());
      } else {
        return NotFound("workflows: '" + entry + "' does not exist in " + root.string());
      }
    }
  }
  return std::vector<std::string>(found.begin(), found.end());
}

}  // namespace weir::workflow
