// `weir project list|test|build|deploy`: a Dataflow project (a git repository with dataflow.yaml)
// from the command line. The project is found from the current folder (or -C DIR); asset builds
// and tests run locally with bash; rendering asks the server (--server) for asset versions.
// Format of dataflow.yaml and of the outputs: docs/dataflow.md.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <ostream>
#include <set>

#include "assets/http_catalog.h"
#include "blob/sha256.h"
#include "cli/cli.h"
#include "cli/cli_util.h"
#include "cli/resolution_table.h"
#include "client/http_client.h"
#include "common/fs.h"
#include "common/strings.h"
#include "workflow/bundle.h"
#include "workflow/process.h"
#include "workflow/project.h"
#include "workflow/project_ops.h"

namespace weir::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace wf = weir::workflow;

struct ProjectFlags {
  std::string dir = ".";
  std::string what;  // list: "", "assets" or "workflows"
  std::string env;
  bool offline = false;
  bool skip_tests = false;
  bool dry_run = false;
  bool assets_only = false;
  bool allow_dirty = false;
  bool no_activate = false;
  std::vector<std::string> assets;  // build: only these
};

// Progress lines (BUILD, VALID, TEST, ...): stdout for people, stderr with `-o json` so stdout
// carries exactly one JSON document. Set once per command by UseOutput.
std::ostream* progress = &std::cout;
bool json_output = false;

void UseOutput(const Globals& g) {
  json_output = g.output == "json";
  progress = json_output ? &std::cerr : &std::cout;
}

std::ostream& Progress() { return *progress; }

// While alive with `-o json`, the process's stdout (fd 1) goes to stderr, so what asset build
// and test commands print cannot mix with the JSON document.
class ChildStdoutToStderr {
 public:
  ChildStdoutToStderr() {
    if (!json_output) return;
    std::cout.flush();
    saved_ = ::dup(1);
    if (saved_ >= 0) ::dup2(2, 1);
  }
  ~ChildStdoutToStderr() {
    if (saved_ < 0) return;
    ::dup2(saved_, 1);
    ::close(saved_);
  }
  ChildStdoutToStderr(const ChildStdoutToStderr&) = delete;
  ChildStdoutToStderr& operator=(const ChildStdoutToStderr&) = delete;

 private:
  int saved_ = -1;
};

void PrintDiagnostics(const std::vector<wf::Diagnostic>& diagnostics) {
  for (const wf::Diagnostic& d : diagnostics) Progress() << "  " << d.ToString() << "\n";
}

// The environment a command targets: --env, else the branch's environment.
Result<std::string> TargetEnvironment(const wf::Project& p, const std::string& flag) {
  std::string env = flag.empty() ? wf::EnvironmentForBranch(p.spec, p.git.branch) : flag;
  WEIR_RETURN_IF_ERROR(wf::ValidateEnvironmentName(env).WithContext("--env"));
  return env;
}

// The workflow's id as written in the source. Unrendered sources need not be valid YAML
// (`[${dataflow.x.y}]`), so a top-level `id:` line is the fallback.
std::string WorkflowIdOf(const fs::path& file) {
  Result<std::string> text = ReadFile(file);
  if (!text) return "";
  wf::LoadedYaml y = wf::LoadYaml(*text, file.string());
  if (y.ok() && y.root.IsMap() && y.root["id"] && y.root["id"].IsScalar()) {
    return y.root["id"].Scalar();
  }
  for (const std::string& line : Split(*text, '\n')) {
    if (StartsWith(line, "id:")) {
      std::string id(Trim(std::string_view(line).substr(3)));
      if (id.size() >= 2 && (id.front() == '"' || id.front() == '\'') && id.back() == id.front()) {
        id = id.substr(1, id.size() - 2);
      }
      return id;
    }
  }
  return "";
}

int List(const ProjectFlags& f, const Globals& g) {
  Result<wf::Project> p = wf::LoadProject(f.dir);
  if (!p) return Fail(p.status());
  bool assets = f.what.empty() || f.what == "assets";
  bool workflows = f.what.empty() || f.what == "workflows";
  std::vector<std::string> files;
  if (workflows) {
    Result<std::vector<std::string>> found = wf::FindWorkflows(p->root, p->spec);
    if (!found) return Fail(found.status());
    files = *found;
  }
  if (g.output == "json") {
    json::object out;
    if (assets) {
      json::array a;
      for (const wf::AssetSpec& s : p->spec.assets) {
        a.push_back(json::object{{"name", s.name},
                                 {"type", s.type},
                                 {"namespace", s.ns},
                                 {"file", s.file},
                                 {"build", s.build},
                                 {"test", s.test},
                                 {"dir", s.dir}});
      }
      out["assets"] = std::move(a);
    }
    if (workflows) {
      json::array w;
      for (const std::string& file : files) {
        w.push_back(json::object{{"file", file}, {"id", WorkflowIdOf(p->root / file)}});
      }
      out["workflows"] = std::move(w);
    }
    std::cout << json::serialize(out) << "\n";
    return 0;
  }
  if (assets) {
    std::vector<std::vector<std::string>> rows;
    for (const wf::AssetSpec& s : p->spec.assets) {
      rows.push_back({s.name, s.type, s.ns, s.file, s.build.empty() ? "-" : s.build,
                      s.test.empty() ? "-" : s.test});
    }
    PrintTable(std::cout, {"ASSET", "TYPE", "NAMESPACE", "FILE", "BUILD", "TEST"}, rows);
  }
  if (assets && workflows) std::cout << "\n";
  if (workflows) {
    std::vector<std::vector<std::string>> rows;
    for (const std::string& file : files) {
      std::string id = WorkflowIdOf(p->root / file);
      rows.push_back({file, id.empty() ? "?" : id});
    }
    PrintTable(std::cout, {"WORKFLOW FILE", "ID"}, rows);
  }
  return 0;
}

// Runs every selected asset's build command and checks its output; false when one failed.
bool BuildAssets(const wf::Project& p, const std::vector<std::string>& only,
                 std::vector<std::pair<const wf::AssetSpec*, fs::path>>* built) {
  bool ok = true;
  for (const std::string& name : only) {
    if (p.spec.FindAsset(name) == nullptr) {
      Fail("build: no asset named '" + name + "' in dataflow.yaml");
      ok = false;
    }
  }
  for (const wf::AssetSpec& a : p.spec.assets) {
    if (!only.empty() && std::find(only.begin(), only.end(), a.name) == only.end()) continue;
    if (!a.build.empty()) {
      Progress() << "BUILD " << a.name << ": " << a.build << std::endl;
      Result<int> rc = [&] {
        ChildStdoutToStderr redirect;
        return wf::RunAssetCommand(p, a, a.build);
      }();
      if (!rc) {
        Fail(rc.status());
        ok = false;
        continue;
      }
      if (*rc != 0) {
        Fail("build " + a.name + ": the build command exited with " + std::to_string(*rc));
        ok = false;
        continue;
      }
    }
    Result<fs::path> file = wf::BuiltFile(p, a);
    if (!file) {
      Fail(file.status());
      ok = false;
      continue;
    }
    built->emplace_back(&a, *file);
  }
  return ok;
}

int Build(const ProjectFlags& f, const Globals& g) {
  UseOutput(g);
  Result<wf::Project> p = wf::LoadProject(f.dir);
  if (!p) return Fail(p.status());
  std::vector<std::pair<const wf::AssetSpec*, fs::path>> built;
  bool ok = BuildAssets(*p, f.assets, &built);
  json::array items;
  for (const auto& [asset, file] : built) {
    std::error_code ec;
    auto size = fs::file_size(file, ec);
    Result<std::string> sha = blob::Sha256File(file);
    Progress() << "BUILT " << asset->name << " " << asset->file << " (" << size << " bytes, sha256 "
               << (sha ? *sha : "?") << ")\n";
    items.push_back(json::object{{"asset", asset->name},
                                 {"file", asset->file},
                                 {"bytes", static_cast<int64_t>(ec ? 0 : size)},
                                 {"sha256", sha ? *sha : ""}});
  }
  if (json_output) {
    std::cout << json::serialize(json::object{{"ok", ok}, {"assets", std::move(items)}}) << "\n";
  }
  return ok ? 0 : 1;
}

// Renders, validates and writes .workflows/<id>.rendered.yaml; returns the checks.
std::vector<wf::WorkflowCheck> RenderAll(const wf::Project& p, assets::AssetCatalog& catalog,
                                         const std::string& env, bool write, int* failures) {
  Result<std::vector<std::string>> files = wf::FindWorkflows(p.root, p.spec);
  if (!files) {
    Fail(files.status());
    ++*failures;
    return {};
  }
  std::vector<wf::WorkflowCheck> checks = wf::CheckProject(p, *files, catalog, env);
  wf::CheckUpstreams(checks);
  for (const wf::WorkflowCheck& c : checks) {
    if (write && c.checked.render.ok()) {
      fs::path out = wf::RenderedPath(p, c);
      Status st = MakeDirs(out.parent_path());
      if (st.ok()) st = WriteFileAtomic(out, c.checked.render.text);
      if (!st.ok()) {
        Fail(st);
        ++*failures;
      }
    }
    if (c.ok()) {
      Progress() << "VALID " << c.file;
      if (write) Progress() << " -> " << fs::relative(wf::RenderedPath(p, c), p.root).string();
      Progress() << "\n";
    } else {
      ++*failures;
      Progress() << "INVALID " << c.file << " (" << c.checked.validation.problems.size()
                 << " problem" << (c.checked.validation.problems.size() == 1 ? "" : "s") << ")\n";
      PrintDiagnostics(c.checked.validation.problems);
    }
  }
  return checks;
}

int Test(const ProjectFlags& f, const Globals& g) {
  UseOutput(g);
  Result<wf::Project> p = wf::LoadProject(f.dir);
  if (!p) return Fail(p.status());
  Result<std::string> env = TargetEnvironment(*p, f.env);
  if (!env) return Fail(env.status());

  int tests_run = 0, tests_failed = 0;
  json::array test_items;
  if (!f.skip_tests) {
    for (const wf::AssetSpec& a : p->spec.assets) {
      if (a.test.empty()) continue;
      ++tests_run;
      Progress() << "TEST " << a.name << ": " << a.test << std::endl;
      Result<int> rc = [&] {
        ChildStdoutToStderr redirect;
        return wf::RunAssetCommand(*p, a, a.test);
      }();
      bool passed = rc.ok() && *rc == 0;
      if (!rc) Fail(rc.status());
      if (!passed) ++tests_failed;
      test_items.push_back(json::object{{"asset", a.name}, {"passed", passed}});
      Progress() << (passed ? "PASSED " : "FAILED ") << a.name
                 << (rc.ok() && *rc != 0 ? " (exit " + std::to_string(*rc) + ")" : "") << "\n";
    }
  }

  std::unique_ptr<client::HttpClient> http;
  std::unique_ptr<assets::AssetCatalog> server;
  if (!f.offline) {
    http = std::make_unique<client::HttpClient>(g.server, g.client);
    server = assets::NewHttpCatalog(*http);
  }
  std::unique_ptr<wf::CachingCatalog> cached;
  if (server) cached = std::make_unique<wf::CachingCatalog>(*server);
  // The same resolution as deploy for this environment (its builds are this project's local ones).
  wf::ResolvingCatalog catalog(*p, cached.get(), *env, /*local_builds=*/true);
  int invalid = 0;
  std::vector<wf::WorkflowCheck> checks = RenderAll(*p, catalog, *env, true, &invalid);
  std::vector<wf::ResolvedReference> resolved = wf::ResolvedReferences(checks);
  if (!json_output) PrintResolutions(std::cerr, *env, resolved);

  if (json_output) {
    json::array workflows;
    for (const wf::WorkflowCheck& c : checks) {
      json::array problems;
      for (const wf::Diagnostic& d : c.checked.validation.problems) {
        problems.emplace_back(d.ToString());
      }
      workflows.push_back(json::object{
          {"file", c.file}, {"id", c.id}, {"valid", c.ok()}, {"problems", std::move(problems)}});
    }
    std::cout << json::serialize(json::object{{"environment", *env},
                                              {"ok", tests_failed == 0 && invalid == 0},
                                              {"tests", std::move(test_items)},
                                              {"workflows", std::move(workflows)},
                                              {"resolutions", ResolutionsJson(resolved)}})
              << "\n";
  }
  Progress() << "SUMMARY " << (tests_run - tests_failed) << "/" << tests_run
             << " asset tests passed, "
             << (checks.size() - std::min<size_t>(invalid, checks.size())) << "/" << checks.size()
             << " workflows valid (environment " << *env << ")\n";
  return tests_failed == 0 && invalid == 0 ? 0 : 1;
}

int Deploy(const ProjectFlags& f, const Globals& g) {
  UseOutput(g);
  Result<wf::Project> p = wf::LoadProject(f.dir);
  if (!p) return Fail(p.status());
  if (p->git.dirty && !f.allow_dirty) {
    return Fail("deploy: " + p->root.string() +
                " has uncommitted changes; commit them, or pass --allow-dirty (recorded as "
                "dirty in every asset version and bundle)");
  }
  Result<std::string> env = TargetEnvironment(*p, f.env);
  if (!env) return Fail(env.status());

  std::vector<std::pair<const wf::AssetSpec*, fs::path>> built;
  if (!BuildAssets(*p, {}, &built)) return 1;

  client::HttpClient http(g.server, g.client);
  // Not cached: a publish changes what the reuse check must see.
  std::unique_ptr<assets::AssetCatalog> server = assets::NewHttpCatalog(http);
  json::array published;
  for (const auto& [asset, file] : built) {
    if (f.dry_run) {
      Progress() << "WOULD PUBLISH " << asset->name << " " << asset->file << "\n";
      continue;
    }
    assets::PublishRequest req;
    req.type = asset->type;
    req.ns = asset->ns;
    req.owner = p->owner;
    req.repo = p->repo;
    req.branch = p->git.branch;
    req.commit = p->git.commit;
    req.dirty = p->git.dirty;
    req.file_name = file.filename().string();
    req.publisher = LocalUserName();
    // Version churn: bytes equal to the newest build on this branch (same clean or dirty
    // state) reuse that version, so unrelated commits render identical workflows and the
    // scheduler records no new version.
    Result<std::string> sha = blob::Sha256File(file);
    if (!sha) return Fail(sha.status().WithContext("deploy: publish " + asset->name));
    req.sha256 = *sha;
    Result<assets::AssetRecord> rec = assets::ReusableVersion(
        *server, {req.type, req.ns, req.owner, req.repo, req.branch, "", 0}, *sha, req.dirty);
    bool reused = rec.ok();
    if (!reused) rec = assets::PublishViaHttp(http, req, file);
    if (!rec) return Fail(rec.status().WithContext("deploy: publish " + asset->name));
    published.push_back(json::object{{"asset", asset->name},
                                     {"uuid", rec->uuid},
                                     {"sha256", rec->sha256},
                                     {"uri", rec->uri},
                                     {"reused", reused}});
    if (reused) {  // on stderr in every output mode (a message for people)
      std::cerr << "REUSED " << asset->name << ": " << rec->uuid
                << " has the same bytes (newest build on " << req.branch
                << "); not published again\n";
    }
    if (g.output != "json") {
      std::cout << "DEPLOYED AS " << rec->uuid
                << (reused ? " (reused: same bytes as the newest build on " + req.branch +
                                 ", not published again)"
                           : "")
                << "\n";
    }
  }
  if (f.assets_only) {
    if (g.output == "json")
      std::cout << json::serialize(json::object{{"assets", published}}) << "\n";
    return 0;
  }

  // Workflows: render against the server (a dry run also sees this project's unpublished
  // assets), validate, and deploy one bundle per workflow to the scheduler.
  wf::CachingCatalog cached(*server);
  wf::ResolvingCatalog catalog(*p, &cached, *env, /*local_builds=*/f.dry_run);
  int invalid = 0;
  std::vector<wf::WorkflowCheck> checks = RenderAll(*p, catalog, *env, false, &invalid);
  if (invalid > 0) return Fail("deploy: " + std::to_string(invalid) + " workflow file(s) invalid");
  std::vector<wf::ResolvedReference> resolved = wf::ResolvedReferences(checks);
  if (g.output != "json") PrintResolutions(std::cerr, *env, resolved);
  json::array bundles;
  const std::string deployer = LocalUserName();
  json::object env_params;
  for (const auto& [k, v] : wf::ParamsForEnvironment(p->spec, *env)) env_params[k] = v;
  const bool cron = wf::CronForEnvironment(p->spec, *env);
  // Upstream workflows (`after:`) first: the scheduler checks that they are deployed.
  for (const wf::WorkflowCheck* check : wf::DeployOrder(checks)) {
    const wf::WorkflowCheck& c = *check;
    wf::BundleManifest m = wf::MakeManifest(c.id, *env, p->owner, p->repo, p->git.branch,
                                            p->git.commit, p->git.dirty, c.file, c.checked.render);
    std::string id = wf::BundleId(m);
    std::string deployed_id = *env + ":" + p->owner + "." + p->repo + "." + c.id;
    if (f.dry_run) {
      // Written locally (verified) so the bundle can be inspected; nothing is sent.
      Result<fs::path> dir = wf::WriteBundleDir(p->root / ".workflows" / "bundles", m,
                                                wf::RepositoryFileContent(p->root));
      if (!dir) return Fail(dir.status().WithContext("deploy: bundle for " + c.file));
      Progress() << "WOULD DEPLOY " << deployed_id << " bundle " << id << " ("
                 << fs::relative(*dir, p->root).string() << ")\n";
      bundles.push_back(json::object{{"workflow", deployed_id}, {"bundle", id}});
      continue;
    }
    // One request per workflow: the manifest, the options and the bytes of every repository
    // file; the scheduler verifies all of it and records the version in one transaction.
    std::vector<client::Part> parts;
    parts.push_back({"manifest", "", "application/json", wf::CanonicalJson(m), {}});
    json::object options{
        {"activate", !f.no_activate}, {"deployer", deployer}, {"environmentParams", env_params}};
    // `schedule: manual` (the default for branch:*) deploys paused: no cron fires. A cron
    // environment leaves the pause state alone (`weir workflow pause` survives deploys).
    if (!cron) options["paused"] = true;
    parts.push_back({"options", "", "application/json", json::serialize(options), {}});
    wf::FileContent content = wf::RepositoryFileContent(p->root);
    for (const wf::BundleFile& file : m.files) {
      Result<std::string> bytes = content(file);
      if (!bytes) return Fail(bytes.status().WithContext("deploy: " + c.file));
      if (blob::Sha256Hex(*bytes) != file.sha256) {
        return Fail("deploy: " + file.path + " changed since it was rendered; deploy again");
      }
      parts.push_back({"file",
                       fs::path(file.path).filename().string(),
                       "application/octet-stream",
                       std::move(*bytes),
                       {}});
    }
    Result<client::Response> r = http.PostMultipart("/api/weir/v1/workflows", parts);
    if (!r) return Fail(r.status().WithContext("deploy " + deployed_id));
    if (Status st = client::ToStatus(*r); !st.ok()) {
      return Fail(st.WithContext("deploy " + deployed_id));
    }
    Result<json::value> body = ParseJson(r->body, "deploy");
    if (!body) return Fail(body.status());
    const json::value* vv = body->is_object() ? body->as_object().if_contains("version") : nullptr;
    const int64_t version_number = vv != nullptr && vv->is_int64() ? vv->as_int64() : 0;
    std::string version = std::to_string(version_number);
    bool created = Str(*body, "created") == "true";
    bool active = Str(*body, "active") == "true";
    // Unchanged: the same bundle, or the same one but for the source commit (version churn:
    // the scheduler answers with that version's bundle id).
    std::string unchanged = " (unchanged: identical bundle)";
    if (!created && !Str(*body, "bundleId").empty() && Str(*body, "bundleId") != id) {
      id = Str(*body, "bundleId");
      unchanged = " (unchanged: same rendered workflow, assets and files; only the commit differs)";
    }
    if (g.output != "json") {
      std::cout << "DEPLOYED " << Str(*body, "deployedId") << " VERSION " << version
                << (created ? "" : unchanged) << (active ? " active" : " not active") << " bundle "
                << id << (cron ? "" : " (manual runs only: schedule: manual)") << "\n";
    }
    bundles.push_back(json::object{{"workflow", Str(*body, "deployedId")},
                                   {"version", version_number},
                                   {"bundle", id},
                                   {"created", created},
                                   {"active", active}});
  }
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"assets", published},
                                              {"workflows", bundles},
                                              {"resolutions", ResolutionsJson(resolved)}})
              << "\n";
  }
  return 0;
}

// `project prune`: undeploys this project's deployments in branch:<b> environments whose git
// branch b no longer exists locally (`git branch --list`). Prints what it undeploys (or would).
int Prune(const ProjectFlags& f, const Globals& g) {
  UseOutput(g);
  Result<wf::Project> p = wf::LoadProject(f.dir);
  if (!p) return Fail(p.status());
  Result<wf::ProcessResult> branches = wf::RunCapture(
      {"git", "-C", p->root.string(), "branch", "--list", "--format=%(refname:short)"}, {},
      {{"LC_ALL", "C"}, {"GIT_TERMINAL_PROMPT", "0"}, {"GIT_PAGER", "cat"}});
  if (!branches) return Fail(branches.status().WithContext("prune: git branch --list"));
  if (branches->exit_code != 0) {
    return Fail("prune: git branch --list failed: " + branches->err);
  }
  std::set<std::string> alive;
  for (const std::string& line : Split(branches->out, '\n')) {
    std::string b = std::string(Trim(line));
    if (!b.empty()) alive.insert(b);
  }
  client::HttpClient http(g.server, g.client);
  Result<json::value> list = GetJson(http, "/api/weir/v1/workflows");
  if (!list) return Fail(list.status().WithContext("prune: workflow list"));
  const json::value* ws = list->is_object() ? list->as_object().if_contains("workflows") : nullptr;
  json::array pruned;
  if (ws != nullptr && ws->is_array()) {
    for (const json::value& w : ws->as_array()) {
      const std::string env = Str(w, "environment");
      if (!StartsWith(env, "branch:") || Str(w, "owner") != p->owner || Str(w, "repo") != p->repo) {
        continue;
      }
      const json::value* u = w.as_object().if_contains("undeployed");
      if (u != nullptr && u->is_string()) continue;  // already undeployed
      const std::string branch = env.substr(std::string_view("branch:").size());
      if (alive.count(branch)) continue;
      const std::string id = Str(w, "id");
      if (!f.dry_run) {
        auto r = http.PostJson("/api/weir/v1/workflows/" + client::UrlEncode(id) + "/undeploy",
                               json::serialize(json::object{{"actor", LocalUserName()}}));
        if (!r) return Fail(r.status().WithContext("prune: undeploy " + id));
        if (Status st = client::ToStatus(*r); !st.ok()) {
          return Fail(st.WithContext("prune: undeploy " + id));
        }
      }
      Progress() << (f.dry_run ? "WOULD UNDEPLOY " : "UNDEPLOYED ") << id << " (branch '" << branch
                 << "' no longer exists)\n";
      pruned.push_back(json::object{{"workflow", id}, {"branch", branch}});
    }
  }
  if (json_output) {
    std::cout << json::serialize(
                     json::object{{"dryRun", f.dry_run}, {"undeployed", std::move(pruned)}})
              << "\n";
  } else if (pruned.empty()) {
    std::cerr << "nothing to prune: every branch environment's branch exists\n";
  }
  return 0;
}

}  // namespace

void AddProjectCommands(CLI::App& app, Globals& g) {
  CLI::App* project = app.add_subcommand(
      "project",
      "A Dataflow project: dataflow.yaml, its assets and workflows (list, test, build, deploy)");
  project->require_subcommand(1);
  auto add_dir = [](CLI::App* cmd, ProjectFlags& f) {
    cmd->add_option("-C,--project", f.dir, "Project folder (default: the current folder)");
  };

  auto lf = std::make_shared<ProjectFlags>();
  CLI::App* list = project->add_subcommand("list", "List the project's assets and/or workflows");
  list->add_option("WHAT", lf->what, "assets or workflows (default: both)")
      ->check(CLI::IsMember({"assets", "workflows"}));
  add_dir(list, *lf);
  list->callback([lf, &g] { g.exit_code = List(*lf, g); });

  auto tf = std::make_shared<ProjectFlags>();
  CLI::App* test = project->add_subcommand(
      "test", "Run asset tests, render every workflow to .workflows/, validate; exit 1 on failure");
  add_dir(test, *tf);
  test->add_option("--env", tf->env, "Environment whose parameters apply (default: the branch's)");
  test->add_flag("--offline", tf->offline,
                 "Do not ask the server; only this project's own assets resolve");
  test->add_flag("--skip-tests", tf->skip_tests, "Only render and validate");
  test->callback([tf, &g] { g.exit_code = Test(*tf, g); });

  auto bf = std::make_shared<ProjectFlags>();
  CLI::App* build = project->add_subcommand("build", "Run the assets' build commands");
  add_dir(build, *bf);
  build->add_option("ASSET", bf->assets, "Only these assets (default: all)");
  build->callback([bf, &g] { g.exit_code = Build(*bf, g); });

  auto df = std::make_shared<ProjectFlags>();
  CLI::App* deploy = project->add_subcommand(
      "deploy", "Build and publish the assets, then bundle every workflow for an environment");
  add_dir(deploy, *df);
  deploy->add_option("--env", df->env,
                     "prod, staging, sandbox:<user> or branch:<branch> "
                     "(default: from the branch)");
  deploy->add_flag("--dry-run", df->dry_run, "Build, render and validate; publish nothing");
  deploy->add_flag("--assets-only", df->assets_only, "Publish the assets, skip the workflows");
  deploy->add_flag("--no-activate", df->no_activate,
                   "Record the new versions without making them active");
  deploy->add_flag("--allow-dirty", df->allow_dirty,
                   "Deploy a work tree with uncommitted changes (recorded as dirty)");
  deploy->footer(
      "Examples:\n  weir project deploy --dry-run\n  weir project deploy --env staging -o json");
  deploy->callback([df, &g] { g.exit_code = Deploy(*df, g); });

  auto pf = std::make_shared<ProjectFlags>();
  CLI::App* prune = project->add_subcommand(
      "prune", "Undeploy this project's branch:<b> environments whose git branch no longer exists");
  add_dir(prune, *pf);
  prune->add_flag("--dry-run", pf->dry_run, "Print what would be undeployed; change nothing");
  prune->footer(
      "Examples:\n  git branch -d feature/x && weir project prune --dry-run\n"
      "  weir project prune -o json");
  prune->callback([pf, &g] { g.exit_code = Prune(*pf, g); });

  list->footer("Examples:\n  weir project list\n  weir project list workflows -o json");
  test->footer("Examples:\n  weir project test\n  weir project test --env staging -o json");
  build->footer("Examples:\n  weir project build\n  weir project build etl -o json");
}

}  // namespace weir::cli
