// `weir workflow render FILE`: renders one *.sch.yaml file the way deploy would and validates
// it; prints the rendered YAML on stdout, or every problem on stderr (exit 1). Creates the
// `workflow` command group; the scheduler's verbs (versions, activate, run, ...) are added to it
// by AddSchedulerCommands.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>

#include "assets/http_catalog.h"
#include "cli/cli.h"
#include "cli/cli_util.h"
#include "cli/resolution_table.h"
#include "client/http_client.h"
#include "common/fs.h"
#include "workflow/project.h"
#include "workflow/project_ops.h"
#include "workflow/validate.h"

namespace weir::cli {
namespace {

namespace fs = std::filesystem;
namespace wf = weir::workflow;

struct RenderFlags {
  std::string file;
  std::string env;
  bool offline = false;
};

int Render(const RenderFlags& f, const Globals& g) {
  std::error_code ec;
  fs::path file = fs::absolute(f.file, ec);
  if (ec || !fs::is_regular_file(file, ec)) return Fail("render: " + f.file + ": no such file");

  std::unique_ptr<client::HttpClient> http;
  std::unique_ptr<assets::AssetCatalog> server;
  std::unique_ptr<wf::CachingCatalog> cached;
  if (!f.offline) {
    http = std::make_unique<client::HttpClient>(g.server, g.client);
    server = assets::NewHttpCatalog(*http);
    cached = std::make_unique<wf::CachingCatalog>(*server);
  }

  Result<wf::Project> project = wf::LoadProject(file.parent_path());
  wf::CheckedWorkflow checked;
  std::string shown;
  std::vector<wf::ResolvedReference> resolved;
  std::string shown_env;  // empty outside a project
  if (project.ok()) {
    fs::path root = fs::canonical(project->root, ec);
    fs::path canon = fs::canonical(file, ec);
    std::string rel = canon.lexically_relative(root).generic_string();
    std::string env =
        f.env.empty() ? wf::EnvironmentForBranch(project->spec, project->git.branch) : f.env;
    if (Status s = wf::ValidateEnvironmentName(env); !s.ok()) return Fail(s.WithContext("--env"));
    // The same resolution as `project test` and `project deploy` for this environment.
    wf::ResolvingCatalog catalog(*project, cached.get(), env, /*local_builds=*/true);
    std::vector<wf::WorkflowCheck> checks = wf::CheckProject(*project, {rel}, catalog, env);
    resolved = wf::ResolvedReferences(checks);
    shown_env = env;
    checked = std::move(checks.front().checked);
  } else {
    // Outside a project: render on its own, files relative to the file's folder, no
    // environment parameters.
    std::cerr << "weir: note: " << project.status().message()
              << "; rendering the file on its own\n";
    Result<std::string> source = ReadFile(file);
    if (!source) return Fail(source.status());
    if (!cached) {
      return Fail("render: outside a project --offline resolves nothing; drop --offline");
    }
    checked = wf::RenderAndValidate(*source, file.filename().string(), *cached,
                                    wf::DiskFileHasher(file.parent_path()), {});
    wf::WorkflowCheck c;
    c.file = file.filename().string();
    c.checked = checked;
    resolved = wf::ResolvedReferences({c});
  }
  if (!checked.ok()) {
    for (const wf::Diagnostic& d : checked.validation.problems) std::cerr << d.ToString() << "\n";
    return 1;
  }
  if (g.output == "json") {
    std::cout << boost::json::serialize(
                     boost::json::object{{"environment", shown_env},
                                         {"rendered", checked.render.text},
                                         {"resolutions", ResolutionsJson(resolved)}})
              << "\n";
    return 0;
  }
  PrintResolutions(std::cerr, shown_env, resolved);
  std::cout << checked.render.text;
  if (!checked.render.text.empty() && checked.render.text.back() != '\n') std::cout << "\n";
  return 0;
}

}  // namespace

void AddWorkflowCommands(CLI::App& app, Globals& g) {
  CLI::App* workflow = app.add_subcommand("workflow", "Workflow files and deployed workflows");
  workflow->require_subcommand(1);

  auto rf = std::make_shared<RenderFlags>();
  CLI::App* render = workflow->add_subcommand(
      "render", "Render a *.sch.yaml file (asset variables → URIs) and validate it");
  render->add_option("FILE", rf->file, "The workflow file")->required();
  render->add_option("--env", rf->env,
                     "Environment whose parameters apply (default: the branch's)");
  render->add_flag("--offline", rf->offline,
                   "Do not ask the server; only the project's own assets resolve");
  render->footer(
      "Examples:\n  weir workflow render flows/daily.sch.yaml\n"
      "  weir workflow render flows/daily.sch.yaml --env branch:feature-x --offline");
  render->callback([rf, &g] { g.exit_code = Render(*rf, g); });
}

}  // namespace weir::cli
