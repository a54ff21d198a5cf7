// Asset version identity and asset references.
//
// An asset version is named by its "UUID":
//   dataflow.<type>.<namespace>.<owner>.<repo>.<branch>.<commit>.<build>
//   e.g. dataflow.jar.scala-workflow.user.stranger-data.master.39206ee8.11
// <type>, <namespace>, <owner> and <repo> are 1..100 characters of [A-Za-z0-9_-] (so never '.',
// '/' or ".."); <commit> is the first 8 lowercase hex digits of the git commit; <build> is a
// decimal integer >= 1 (consecutive per type, namespace, owner, repo and branch). In <branch>
// every byte outside [A-Za-z0-9_-] is percent-encoded with upper-case hex ("feature/x" →
// "feature%2Fx"), so a UUID always splits on '.' into exactly eight fields. FormatUuid and
// ParseUuid are exact inverses: ParseUuid accepts only the canonical text FormatUuid produces.
//
// Workflow files refer to assets with one of four reference forms (the text inside ${...}):
//   dataflow.<type>.<namespace>                      newest version, any branch   (kLatest)
//   dataflow.<type>.<namespace>@<branch>             newest build on that branch  (kLatestOnBranch)
//   dataflow.<type>.<namespace>@<branch>#<build>     that build on that branch    (kBuildOnBranch)
//   dataflow.<type>.<namespace>.<owner>.<repo>.<branch>.<commit>.<build>          (kExact)
// In the '@' forms the branch is written as git names it ("@feature/x"); the percent-encoded
// spelling ("@feature%2Fx") is accepted too. `dataflow.file:<path>` is not an asset reference:
// callers handle it before ParseRef (IsFileRef tells them), ParseRef refuses it.
//
// Everything here is pure and thread-safe. Errors are kInvalidArgument with a message naming the
// field and what is allowed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace weir::assets {

inline constexpr size_t kMaxComponentLength = 100;
inline constexpr size_t kMaxBranchLength = 255;

// One immutable asset version.
struct AssetVersionId {
  std::string type;    // "jar", "python", "sql", ...
  std::string ns;      // the namespace, e.g. "scala-workflow"
  std::string owner;   // repository owner, e.g. "user"
  std::string repo;    // repository name, e.g. "stranger-data"
  std::string branch;  // git branch name as git spells it (not encoded), e.g. "feature/x"
  std::string commit;  // first 8 hex digits of the commit, lower case
  int64_t build = 0;   // >= 1

  friend bool operator==(const AssetVersionId&, const AssetVersionId&) = default;
};

// Validators; `field` names the component in the message ("namespace: must be ...").
Status ValidateComponent(std::string_view field, std::string_view value);  // type/ns/owner/repo
Status ValidateBranch(std::string_view branch);  // 1..255 bytes, valid UTF-8, no control chars
// Accepts 8..40 hex digits (either case) and returns the first 8 in lower case.
Result<std::string> ShortCommit(std::string_view commit);
// Validates every field of `id` (commit must already be 8 lower-case hex digits, build >= 1).
Status ValidateId(const AssetVersionId& id);

// Percent-encodes every byte outside [A-Za-z0-9_-] with upper-case hex.
std::string EncodeBranch(std::string_view branch);
// Inverse of EncodeBranch; refuses non-canonical encodings (lower-case hex, encoded safe chars).
Result<std::string> DecodeBranch(std::string_view encoded);

// "dataflow.<type>.<namespace>.<owner>.<repo>.<encoded branch>.<commit>.<build>".
// REQUIRES: ValidateId(id).ok().
std::string FormatUuid(const AssetVersionId& id);
Result<AssetVersionId> ParseUuid(std::string_view uuid);

// The logical path of a version in the managed store:
// "assets/<type>/<namespace>/<owner>/<repo>/<encoded branch>/<commit>/<build>[.<ext>]"
// (`ext` without the dot; empty → no extension). Every segment is safe as a path segment.
std::string LayoutPath(const AssetVersionId& id, std::string_view ext);

enum class RefForm { kLatest, kLatestOnBranch, kBuildOnBranch, kExact };

// A parsed asset reference. `type` and `ns` are always set; `branch` for every form but
// kLatest; `build` for kBuildOnBranch and kExact; `exact` (all fields) only for kExact.
struct AssetRef {
  RefForm form = RefForm::kLatest;
  std::string type;
  std::string ns;
  std::string branch;  // decoded
  int64_t build = 0;
  AssetVersionId exact;

  // The canonical reference text (without "${" "}"): ParseRef(r.ToString()) == r.
  std::string ToString() const;
  friend bool operator==(const AssetRef&, const AssetRef&) = default;
};

// True when `text` (inside ${...}) starts with "dataflow.file:".
bool IsFileRef(std::string_view text);
// True when `text` starts with "dataflow." and is not a file reference, i.e. the caller should
// treat it as an asset reference (and report ParseRef's error if it does not parse).
bool LooksLikeAssetRef(std::string_view text);
// Parses the text inside ${...}, e.g. "dataflow.jar.etl@main#3".
Result<AssetRef> ParseRef(std::string_view text);

}  // namespace weir::assets
