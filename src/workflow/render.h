// Render: turns the asset and file variables of a workflow file into exact URIs.
//
//   ${dataflow.<type>.<namespace>}                 newest version, any branch
//   ${dataflow.<type>.<namespace>@<branch>}        newest build on that branch
//   ${dataflow.<type>.<namespace>@<branch>#<build>} that build
//   ${dataflow.<type>.<namespace>.<owner>.<repo>.<branch>.<commit>.<build>}   that version
//       → the asset's URI (AssetRecord::uri) as the catalog resolves it
//   ${dataflow.file:<path>}  → FileUri(sha256, basename): a repository file, relative to the
//       workflow file's folder, stored by content hash in the deployment bundle
//   $${                      → a literal "${" (not a reference of any kind)
//   ${NAME} (anything else)  → left untouched: a runtime parameter (recorded in `params` when
//       NAME is a parameter name, see IsParamName)
//
// Render is a pure function of its inputs (text, file path, catalog answers, file hashes): it
// never reads the disk itself. It reports every problem, each with file:line:column, the
// reference and (for assets) AssetCatalog::Suggestions. Threading: as safe as the catalog and
// the hasher it is given.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "assets/catalog.h"
#include "common/result.h"
#include "workflow/diagnostic.h"

namespace weir::workflow {

// A repository file a workflow references with ${dataflow.file:...}.
struct FileRef {
  std::string path;    // relative to the repository root, '/' separated, normalised
  std::string sha256;  // 64 lower-case hex digits
  int64_t size = 0;
  std::string uri;  // FileUri(sha256, basename of path)
  friend bool operator==(const FileRef&, const FileRef&) = default;
};

// "bundle://files/<sha256>/<basename>" (basename percent-encoded outside [A-Za-z0-9._~-]).
// The scheduler maps it to where the bundle's copy of the file is stored when a step runs; the
// basename keeps the file's name (and extension) for the job that downloads it.
std::string FileUri(std::string_view sha256, std::string_view basename);

// Hashes one repository file. Given the normalised repository-relative path; fills sha256 and
// size (path and uri are filled by Render). kNotFound / kPermissionDenied become diagnostics.
using FileHasher = std::function<Result<FileRef>(const std::string& repo_path)>;

// A hasher over a checked-out repository: ResolveInside(root, path) (symlinks may not leave the
// repository), then SHA-256 of the content.
FileHasher DiskFileHasher(std::filesystem::path root);

// A runtime parameter reference found in the source: ${NAME}.
struct ParamRef {
  std::string name;
  int line = 0;    // 1-based, in the source file
  int column = 0;  // 1-based byte column of the '$'
  friend bool operator==(const ParamRef&, const ParamRef&) = default;
};

// One asset reference of the source and the version it became.
struct Resolution {
  std::string reference;        // as written inside ${...}, e.g. "dataflow.bash.greet@main"
  assets::AssetRecord version;  // what the catalog answered
  friend bool operator==(const Resolution&, const Resolution&) = default;
};

struct RenderResult {
  std::string text;                         // the rendered file (unspecified when !ok())
  std::vector<assets::AssetRecord> assets;  // each used version once, in order of first use
  std::vector<Resolution> resolutions;      // each resolved reference once, in order of first use
  std::vector<FileRef> files;               // each file once, in order of first use
  std::vector<ParamRef> params;             // every runtime parameter reference, in order
  std::vector<Diagnostic> errors;           // every problem, in source order

  bool ok() const { return errors.empty(); }
  // Maps a 1-based column of line `line` of `text` back to the column of the source file
  // (substitutions change line lengths, never the number of lines).
  int SourceColumn(int line, int column) const;

  struct Shift {
    int line;             // 1-based
    int rendered_column;  // from this rendered column on ...
    int delta;            // ... source column = rendered column - delta
  };
  std::vector<Shift> shifts;  // ordered by (line, rendered_column)
};

// `file` is the workflow file's path relative to the repository root ("flows/daily.sch.yaml"):
// it names the file in diagnostics and anchors ${dataflow.file:...} paths.
RenderResult Render(std::string_view text, const std::string& file, assets::AssetCatalog& catalog,
                    const FileHasher& hash_file);

// Remembers every answer of the wrapped catalog, so all workflows rendered during one
// `project test` or `deploy` see the same "newest" versions. Thread-safe.
class CachingCatalog final : public assets::AssetCatalog {
 public:
  explicit CachingCatalog(assets::AssetCatalog& inner) : inner_(inner) {}
  Result<assets::AssetRecord> Resolve(const assets::AssetRef& ref) override;
  std::vector<std::string> Suggestions(const assets::AssetRef& ref) override;

 private:
  assets::AssetCatalog& inner_;
  std::mutex mu_;
  std::map<std::string, Result<assets::AssetRecord>> resolved_;  // GUARDED_BY(mu_)
};

// Applies an environment's LatestPolicy (project.h) to the "latest" form: `${dataflow.<t>.<ns>}`
// is asked of `inner` as `@<branch>` for each branch of `branches` in turn, the first found
// wins; the other forms (`@branch`, `@branch#build`, full UUIDs) pass through unchanged, and so
// does everything when `branches` is empty (policy `any`). When no branch has a version the
// kNotFound message names the branches tried and the environment. Thread-safe when `inner` is.
class EnvironmentCatalog final : public assets::AssetCatalog {
 public:
  EnvironmentCatalog(assets::AssetCatalog& inner, std::vector<std::string> branches,
                     std::string environment)
      : inner_(inner), branches_(std::move(branches)), environment_(std::move(environment)) {}
  Result<assets::AssetRecord> Resolve(const assets::AssetRef& ref) override;
  std::vector<std::string> Suggestions(const assets::AssetRef& ref) override;

 private:
  assets::AssetCatalog& inner_;
  const std::vector<std::string> branches_;
  const std::string environment_;
};

}  // namespace weir::workflow
