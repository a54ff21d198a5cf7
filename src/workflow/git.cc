#include "workflow/git.h"

#include "common/strings.h"
#include "workflow/process.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;

// git with a stable, non-interactive environment (English messages, no prompts, no pager).
Result<ProcessResult> Git(const fs::path& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-C", dir.string()});
  Result<ProcessResult> r =
      RunCapture(args, {}, {{"LC_ALL", "C"}, {"GIT_TERMINAL_PROMPT", "0"}, {"GIT_PAGER", "cat"}});
  if (!r && r.status().code() == StatusCode::kNotFound) {
    return NotFound("git: the git program is not installed or not on PATH; install git");
  }
  return r;
}

std::string FirstLine(std::string_view s) { return std::string(Trim(s.substr(0, s.find('\n')))); }

}  // namespace

Result<GitFacts> ReadGitFacts(const fs::path& dir) {
  GitFacts facts;
  WEIR_ASSIGN_OR_RETURN(ProcessResult top, Git(dir, {"rev-parse", "--show-toplevel"}));
  if (top.exit_code != 0) {
    return FailedPrecondition("git: '" + dir.string() +
                              "' is not inside a git repository; run `git init` there or work "
                              "from a clone of the project");
  }
  facts.root = FirstLine(top.out);
  if (facts.root.empty()) {
    return FailedPrecondition("git: '" + dir.string() + "' has no work tree (bare repository?)");
  }

  WEIR_ASSIGN_OR_RETURN(ProcessResult head, Git(facts.root, {"symbolic-ref", "-q", "HEAD"}));
  if (head.exit_code != 0) {
    Result<ProcessResult> at = Git(facts.root, {"rev-parse", "--short=8", "HEAD"});
    std::string where = at && at->exit_code == 0 ? " at " + FirstLine(at->out) : "";
    return FailedPrecondition("git: HEAD is detached" + where +
                              "; check out a branch first (git switch <branch>)");
  }
  std::string ref = FirstLine(head.out);
  facts.branch = StartsWith(ref, "refs/heads/") ? ref.substr(11) : ref;

  WEIR_ASSIGN_OR_RETURN(ProcessResult rev,
                        Git(facts.root, {"rev-parse", "--verify", "-q", "HEAD^{commit}"}));
  if (rev.exit_code != 0) {
    return FailedPrecondition("git: branch '" + facts.branch +
                              "' has no commits yet; commit the project first");
  }
  facts.commit = ToLower(FirstLine(rev.out));
  if (facts.commit.size() < 8) return Internal("git: unexpected commit id '" + facts.commit + "'");
  facts.short_commit = facts.commit.substr(0, 8);

  WEIR_ASSIGN_OR_RETURN(ProcessResult status,
                        Git(facts.root, {"status", "--porcelain", "--untracked-files=normal"}));
  if (status.exit_code != 0) {
    return Internal("git status: " + FirstLine(status.err));
  }
  facts.dirty = !Trim(status.out).empty();

  WEIR_ASSIGN_OR_RETURN(ProcessResult origin, Git(facts.root, {"remote", "get-url", "origin"}));
  if (origin.exit_code == 0) facts.origin_url = FirstLine(origin.out);
  return facts;
}

Result<RepoName> ParseOriginUrl(std::string_view url_in) {
  std::string url(Trim(url_in));
  std::string path;
  if (size_t scheme = url.find("://"); scheme != std::string::npos) {
    std::string rest = url.substr(scheme + 3);
    size_t slash = rest.find('/');
    path = slash == std::string::npos ? "" : rest.substr(slash + 1);
  } else if (size_t colon = url.find(':');
             colon != std::string::npos && url.find('/') > colon && colon > 0) {
    path = url.substr(colon + 1);  // scp-like: [user@]host:owner/repo.git
  } else {
    path = url;  // a local path such as /srv/git/owner/repo.git
  }
  if (size_t q = path.find_first_of("?#"); q != std::string::npos) path.resize(q);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (EndsWith(path, ".git")) path.resize(path.size() - 4);
  std::vector<std::string> parts;
  for (std::string& p : Split(path, '/')) {
    if (!p.empty()) parts.push_back(std::move(p));
  }
  if (parts.size() < 2) {
    return InvalidArgument("origin url '" + url +
                           "': cannot find owner/repo in it; set project.owner and project.repo "
                           "in dataflow.yaml");
  }
  return RepoName{parts[parts.size() - 2], parts.back()};
}

}  // namespace weir::workflow
