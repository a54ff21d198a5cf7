// Git facts of a project: where its repository is, who owns it, which branch and commit are
// checked out and whether the tree has uncommitted changes. Read by running the `git` program
// (see process.h), so it works for every repository layout git itself supports.
//
// Errors (all kFailedPrecondition unless noted, each telling the user what to do):
//   - `dir` is not inside a git work tree
//   - HEAD is detached (a commit, not a branch, is checked out)
//   - the branch has no commits yet
//   - kNotFound: the git program is not installed
// A repository without an `origin` remote is not an error here: origin_url is empty and the
// project file must then name owner and repo. Thread-safe.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace weir::workflow {

struct GitFacts {
  std::filesystem::path root;  // the work tree's top folder (absolute)
  std::string branch;          // e.g. "main", "feature/x"
  std::string commit;          // 40 lower-case hex digits
  std::string short_commit;    // the first 8 of them
  bool dirty = false;          // modified, staged or untracked (not ignored) files exist
  std::string origin_url;      // `git remote get-url origin`; empty when there is no origin
};

Result<GitFacts> ReadGitFacts(const std::filesystem::path& dir);

struct RepoName {
  std::string owner;
  std::string repo;
  friend bool operator==(const RepoName&, const RepoName&) = default;
};

// Owner and repository from a remote URL: the last two path segments, ".git" and trailing
// slashes removed. Accepts https://host/owner/repo(.git), http://, ssh://[user@]host[:port]/
// owner/repo(.git), git://, file:///…/owner/repo and scp-like [user@]host:owner/repo(.git).
// kInvalidArgument when the URL has fewer than two path segments.
Result<RepoName> ParseOriginUrl(std::string_view url);

}  // namespace weir::workflow
