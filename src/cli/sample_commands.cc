// `weir sample workflow RECIPE [PATH]`: writes a small, runnable Dataflow project (dataflow.yaml,
// one asset with build and test commands, one *.sch.yaml workflow that uses the asset through a
// variable) and makes it a git repository with one commit, so `weir project test` and
// `weir project deploy` work in it at once. Recipes need only bash, python3 or sqlite3.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "cli/cli.h"
#include "cli/cli_util.h"
#include "common/fs.h"
#include "workflow/process.h"
#include "workflow/samples.h"

namespace weir::cli {
namespace {

namespace fs = std::filesystem;

struct SampleFlags {
  std::string kind;
  std::string recipe;
  std::string path;
  bool no_git = false;
};

Status GitInit(const fs::path& dir, const std::string& recipe) {
  auto git = [&](std::vector<std::string> args) -> Status {
    args.insert(args.begin(), "git");
    Result<workflow::ProcessResult> r = workflow::RunCapture(args, dir);
    if (!r) return r.status();
    if (r->exit_code != 0) {
      return Internal("git " + args[1] + ": " + std::string(r->err.substr(0, r->err.find('\n'))));
    }
    return Status::Ok();
  };
  WEIR_RETURN_IF_ERROR(git({"init", "-q", "-b", "main"}));
  WEIR_RETURN_IF_ERROR(git({"add", "-A"}));
  // Commit as the user when git knows them, else under a neutral sample identity.
  Result<workflow::ProcessResult> email =
      workflow::RunCapture({"git", "config", "user.email"}, dir);
  std::vector<std::string> commit = {"commit", "-q", "-m", "weir sample project (" + recipe + ")"};
  if (!email.ok() || email->exit_code != 0 || email->out.empty()) {
    commit.insert(commit.begin(),
                  {"-c", "user.name=weir sample", "-c", "user.email=sample@weir.invalid"});
  }
  return git(commit);
}

int Create(const SampleFlags& f) {
  Result<std::map<std::string, std::string>> files = workflow::SampleProject(f.recipe);
  if (!files) return Fail(files.status());

  fs::path dir = f.path.empty() ? fs::path("weir-sample-" + f.recipe) : fs::path(f.path);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return Fail("sample: " + dir.string() + " exists and is not empty; choose another PATH");
  }
  for (const auto& [rel, text] : *files) {
    fs::path p = dir / rel;
    if (Status s = MakeDirs(p.parent_path()); !s.ok()) return Fail(s);
    if (Status s = WriteFileAtomic(p, text); !s.ok()) return Fail(s);
    if (p.extension() == ".sh") {
      fs::permissions(p, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                      fs::perm_options::add, ec);
    }
  }
  std::string git_note = "a git repository on branch main with one commit";
  if (f.no_git) {
    git_note = "not a git repository (--no-git): run `git init` and commit before `weir project`";
  } else if (Status s = GitInit(dir, f.recipe); !s.ok()) {
    git_note = "not a git repository (" + s.message() + "): run `git init` and commit";
  }
  std::cout << "created " << dir.string() << " (recipe " << f.recipe << "), " << git_note << "\n"
            << "next:\n"
            << "  cd " << dir.string() << "\n"
            << "  weir project test --offline        # asset tests, render and validate\n"
            << "  weir project build                 # build the asset\n"
            << "  weir project deploy --assets-only  # publish it to the server (weir server)\n";
  return 0;
}

}  // namespace

void AddSampleCommands(CLI::App& app, Globals& g) {
  CLI::App* sample = app.add_subcommand("sample", "Create sample projects");
  sample->require_subcommand(1);
  auto f = std::make_shared<SampleFlags>();
  CLI::App* workflow = sample->add_subcommand(
      "workflow", "Create a runnable Dataflow project: dataflow.yaml, an asset, a workflow");
  workflow->add_option("RECIPE", f->recipe, "bash, python or sql (SQLite)")
      ->required()
      ->check(CLI::IsMember({"bash", "python", "sql"}));
  workflow->add_option("PATH", f->path, "Folder to create (default: weir-sample-RECIPE)");
  workflow->add_flag("--no-git", f->no_git, "Do not make it a git repository");
  workflow->footer(
      "Examples:\n  weir sample workflow bash hello && cd hello && weir project deploy\n"
      "  weir workflow run prod:sample.bash-sample.hello-bash --wait");
  workflow->callback([f, &g] { g.exit_code = Create(*f); });
}

}  // namespace weir::cli
