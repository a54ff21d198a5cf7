// Git facts against real repositories created with `git init` in temporary folders, and the
// origin URL forms.
#include "workflow/git.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/fs.h"
#include "common/ids.h"
#include "workflow/process.h"
#include "workflow/project.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

class GitRepo {
 public:
  GitRepo() : path_(fs::temp_directory_path() / ("weir-git-test-" + NewUuid())) {
    fs::create_directories(path_);
  }
  ~GitRepo() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

  std::string Git(std::vector<std::string> args) const {
    args.insert(args.begin(), {"git", "-c", "user.name=Test", "-c", "user.email=test@weir.local",
                               "-c", "commit.gpgsign=false"});
    Result<ProcessResult> r = RunCapture(args, path_);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r) return "";
    EXPECT_EQ(r->exit_code, 0) << args[7] << ": " << r->err;
    return r->out;
  }
  void Write(const std::string& rel, const std::string& text) const {
    fs::create_directories((path_ / rel).parent_path());
    ASSERT_TRUE(WriteFileAtomic(path_ / rel, text).ok());
  }
  void InitWithCommit() const {
    Git({"init", "-q", "-b", "main"});
    Write("README", "hello\n");
    Git({"add", "README"});
    Git({"commit", "-q", "-m", "first"});
  }

 private:
  fs::path path_;
};

TEST(GitTest, ReadsBranchCommitOriginAndDirtyFlag) {
  GitRepo repo;
  repo.InitWithCommit();
  repo.Git({"remote", "add", "origin", "git@github.com:acme/pipelines.git"});
  Result<GitFacts> facts = ReadGitFacts(repo.path() / ".");
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(fs::canonical(facts->root), fs::canonical(repo.path()));
  EXPECT_EQ(facts->branch, "main");
  std::string head = repo.Git({"rev-parse", "HEAD"});
  EXPECT_EQ(facts->commit + "\n", head);
  EXPECT_EQ(facts->short_commit, head.substr(0, 8));
  EXPECT_EQ(facts->short_commit.size(), 8u);
  EXPECT_FALSE(facts->dirty);
  EXPECT_EQ(facts->origin_url, "git@github.com:acme/pipelines.git");

  // A modified tracked file, then only an untracked file, make the tree dirty.
  repo.Write("README", "changed\n");
  EXPECT_TRUE(ReadGitFacts(repo.path())->dirty);
  repo.Git({"checkout", "-q", "--", "README"});
  EXPECT_FALSE(ReadGitFacts(repo.path())->dirty);
  repo.Write("new.txt", "x");
  EXPECT_TRUE(ReadGitFacts(repo.path())->dirty);
  // Ignored files do not count.
  repo.Write(".gitignore", "new.txt\n.workflows/\n");
  repo.Git({"add", ".gitignore"});
  repo.Git({"commit", "-q", "-m", "ignore"});
  repo.Write(".workflows/a.rendered.yaml", "x");
  EXPECT_FALSE(ReadGitFacts(repo.path())->dirty);
}

TEST(GitTest, FactsFromASubfolderAndABranchWithASlash) {
  GitRepo repo;
  repo.InitWithCommit();
  repo.Git({"switch", "-q", "-c", "feature/x"});
  repo.Write("sub/dir/file", "x");
  Result<GitFacts> facts = ReadGitFacts(repo.path() / "sub/dir");
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->branch, "feature/x");
  EXPECT_EQ(fs::canonical(facts->root), fs::canonical(repo.path()));
  EXPECT_EQ(facts->origin_url, "");
}

TEST(GitTest, DetachedHeadIsAnError) {
  GitRepo repo;
  repo.InitWithCommit();
  std::string head = repo.Git({"rev-parse", "HEAD"});
  repo.Git({"checkout", "-q", "--detach"});
  Result<GitFacts> facts = ReadGitFacts(repo.path());
  ASSERT_FALSE(facts.ok());
  EXPECT_EQ(facts.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(facts.status().message(), HasSubstr("HEAD is detached at " + head.substr(0, 8)));
  EXPECT_THAT(facts.status().message(), HasSubstr("git switch"));
}

TEST(GitTest, OutsideGitAndEmptyRepositoryAreErrors) {
  GitRepo plain;  // no `git init`
  Result<GitFacts> facts = ReadGitFacts(plain.path());
  ASSERT_FALSE(facts.ok());
  EXPECT_EQ(facts.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(facts.status().message(), HasSubstr("not inside a git repository"));

  GitRepo empty;
  empty.Git({"init", "-q", "-b", "main"});
  facts = ReadGitFacts(empty.path());
  ASSERT_FALSE(facts.ok());
  EXPECT_THAT(facts.status().message(), HasSubstr("has no commits yet"));
}

TEST(GitTest, OriginUrlForms) {
  struct Case {
    const char* url;
    const char* owner;
    const char* repo;
  };
  for (const Case& c : std::vector<Case>{
           {"https://github.com/acme/pipelines.git", "acme", "pipelines"},
           {"https://github.com/acme/pipelines", "acme", "pipelines"},
           {"https://github.com/acme/pipelines/", "acme", "pipelines"},
           {"https://user:token@git.example.com:8443/acme/pipelines.git", "acme", "pipelines"},
           {"http://127.0.0.1:3000/acme/pipelines", "acme", "pipelines"},
           {"ssh://git@github.com/acme/pipelines.git", "acme", "pipelines"},
           {"ssh://git@git.example.com:2222/acme/pipelines.git", "acme", "pipelines"},
           {"git@github.com:acme/pipelines.git", "acme", "pipelines"},
           {"github.com:acme/pipelines", "acme", "pipelines"},
           {"git://example.com/acme/pipelines.git", "acme", "pipelines"},
           {"file:///srv/git/acme/pipelines.git", "acme", "pipelines"},
           {"/srv/git/acme/pipelines.git", "acme", "pipelines"},
           {"https://gitlab.com/group/sub/pipelines.git", "sub", "pipelines"},
       }) {
    Result<RepoName> r = ParseOriginUrl(c.url);
    ASSERT_TRUE(r.ok()) << c.url << ": " << r.status();
    EXPECT_EQ(*r, (RepoName{c.owner, c.repo})) << c.url;
  }
  for (const char* bad :
       {"", "https://github.com/", "https://github.com/onlyone", "git@github.com:repo.git"}) {
    EXPECT_EQ(ParseOriginUrl(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(GitTest, LoadProjectCombinesFileAndGit) {
  GitRepo repo;
  repo.InitWithCommit();
  repo.Git({"remote", "add", "origin", "https://github.com/acme/pipelines.git"});
  repo.Write("dataflow.yaml", "assets: []\n");
  repo.Git({"add", "dataflow.yaml"});
  repo.Git({"commit", "-q", "-m", "project"});
  Result<Project> p = LoadProject(repo.path());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->owner, "acme");
  EXPECT_EQ(p->repo, "pipelines");
  EXPECT_EQ(p->git.branch, "main");

  // The file's override wins over the origin URL.
  repo.Write("dataflow.yaml", "project: {owner: data-eng, repo: stranger-data}\n");
  p = LoadProject(repo.path());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->owner, "data-eng");
  EXPECT_EQ(p->repo, "stranger-data");
  EXPECT_TRUE(p->git.dirty);

  // An origin name that cannot be part of an asset UUID asks for an override.
  repo.Git({"remote", "set-url", "origin", "https://github.com/acme/my.repo.git"});
  repo.Write("dataflow.yaml", "assets: []\n");
  p = LoadProject(repo.path());
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("set project.repo"));

  // Invalid files report every diagnostic.
  repo.Write("dataflow.yaml", "asets: []\nworkflows: [/abs]\n");
  p = LoadProject(repo.path());
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("dataflow.yaml:1:1"));
  EXPECT_THAT(p.status().message(), HasSubstr("dataflow.yaml:2:"));

  fs::remove(repo.path() / "dataflow.yaml");
  p = LoadProject(repo.path());
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("no dataflow.yaml"));
}

}  // namespace
}  // namespace weir::workflow
