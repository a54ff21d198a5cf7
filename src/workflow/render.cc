#include "workflow/render.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "blob/sha256.h"
#include "common/fs.h"
#include "common/strings.h"
#include "workflow/project.h"
#include "workflow/workflow.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kFilePrefix = "dataflow.file:";

// Walks the source once, copying text and replacing variables, tracking line and column.
class Renderer {
 public:
  Renderer(std::string_view text, const std::string& file, assets::AssetCatalog& catalog,
           const FileHasher& hash_file)
      : text_(text), file_(file), catalog_(catalog), hash_file_(hash_file) {
    base_dir_ = fs::path(file).parent_path().generic_string();
  }

  RenderResult Run() {
    out_.text.reserve(text_.size() + text_.size() / 4);
    size_t i = 0;
    size_t copied = 0;  // text_[copied, i) is still to be copied
    while (i < text_.size()) {
      size_t dollar = text_.find('$', i);
      if (dollar == std::string_view::npos) break;
      if (StartsWith(text_.substr(dollar), "$${")) {
        Flush(copied, dollar);
        Replace(dollar, 3, "${");
        i = copied = dollar + 3;
        continue;
      }
      if (!StartsWith(text_.substr(dollar), "${")) {
        i = dollar + 1;
        continue;
      }
      size_t close = text_.find_first_of("}\n", dollar + 2);
      std::string_view inner = close == std::string_view::npos || text_[close] == '\n'
                                   ? std::string_view()
                                   : text_.substr(dollar + 2, close - dollar - 2);
      bool unterminated = close == std::string_view::npos || text_[close] == '\n';
      std::string_view head =
          text_.substr(dollar + 2, std::min<size_t>(9, text_.size() - dollar - 2));
      if (head == "dataflow.") {
        if (unterminated) {
          size_t end = close == std::string_view::npos ? text_.size() : close;
          Error(dollar, std::string(text_.substr(dollar + 2, end - dollar - 2)),
                "variable: '${' has no closing '}' on its line; add the '}'");
          i = end;
          continue;
        }
        std::optional<std::string> value;
        if (StartsWith(inner, kFilePrefix)) {
          value = RenderFile(dollar, inner);
        } else {
          value = RenderAsset(dollar, inner);
        }
        Flush(copied, dollar);
        Replace(dollar, close + 1 - dollar,
                value ? *value : std::string(text_.substr(dollar, close + 1 - dollar)));
        i = copied = close + 1;
        continue;
      }
      if (!unterminated && IsParamName(inner)) {
        auto [line, column] = Position(dollar);
        out_.params.push_back({std::string(inner), line, column});
      }
      i = unterminated ? dollar + 2 : close + 1;
    }
    Flush(copied, text_.size());
    return std::move(out_);
  }

 private:
  // 1-based line and byte column of offset `pos`; amortised O(1) for increasing positions.
  std::pair<int, int> Position(size_t pos) {
    while (scan_pos_ < pos) {
      if (text_[scan_pos_] == '\n') {
        ++line_;
        line_start_ = scan_pos_ + 1;
      }
      ++scan_pos_;
    }
    return {line_, static_cast<int>(pos - line_start_) + 1};
  }

  void Flush(size_t from, size_t to) { out_.text.append(text_.substr(from, to - from)); }

  // Appends `replacement` for the `length` source bytes at `pos`, recording the column shift.
  void Replace(size_t pos, size_t length, std::string_view replacement) {
    auto [line, column] = Position(pos);
    if (line != shift_line_) {
      shift_line_ = line;
      delta_ = 0;
    }
    delta_ += static_cast<int>(replacement.size()) - static_cast<int>(length);
    int rendered_after = column + static_cast<int>(length) + delta_;
    if (replacement.size() != length) out_.shifts.push_back({line, rendered_after, delta_});
    out_.text.append(replacement);
  }

  void Error(size_t pos, std::string reference, std::string message,
             std::vector<std::string> suggestions = {}) {
    auto [line, column] = Position(pos);
    Diagnostic d;
    d.file = file_;
    d.line = line;
    d.column = column;
    d.message = std::move(message);
    d.reference = std::move(reference);
    d.suggestions = std::move(suggestions);
    out_.errors.push_back(std::move(d));
  }

  std::optional<std::string> RenderAsset(size_t pos, std::string_view inner) {
    std::string key(inner);
    if (auto it = asset_cache_.find(key); it != asset_cache_.end()) {
      if (it->second.empty()) {
        // Report each occurrence, so every place to fix is listed.
        Error(pos, key, error_cache_[key].first, error_cache_[key].second);
        return std::nullopt;
      }
      return it->second;
    }
    Result<assets::AssetRef> ref = assets::ParseRef(inner);
    if (!ref) {
      asset_cache_[key] = "";
      error_cache_[key] = {ref.status().message(), {}};
      Error(pos, key, ref.status().message());
      return std::nullopt;
    }
    Result<assets::AssetRecord> record = catalog_.Resolve(*ref);
    if (!record) {
      std::vector<std::string> suggestions;
      std::string message = record.status().message();
      if (record.status().code() == StatusCode::kNotFound) {
        suggestions = catalog_.Suggestions(*ref);
      } else if (!StartsWith(message, "asset '")) {
        // A failing store or server: still name the reference the user has to look at.
        message = "asset '" + key + "': cannot resolve: " + message;
      }
      asset_cache_[key] = "";
      error_cache_[key] = {message, suggestions};
      Error(pos, key, message, std::move(suggestions));
      return std::nullopt;
    }
    asset_cache_[key] = record->uri;
    out_.resolutions.push_back({key, *record});
    bool seen = std::any_of(out_.assets.begin(), out_.assets.end(),
                            [&](const assets::AssetRecord& r) { return r.uuid == record->uuid; });
    if (!seen) out_.assets.push_back(*record);
    return record->uri;
  }

  std::optional<std::string> RenderFile(size_t pos, std::string_view inner) {
    std::string ref(inner);
    std::string rel(inner.substr(kFilePrefix.size()));
    if (rel.empty() || rel.front() == '/' || rel.find('\\') != std::string::npos ||
        rel.find('\0') != std::string::npos) {
      Error(pos, ref, "file '" + rel + "': must be a path relative to the workflow file");
      return std::nullopt;
    }
    // Lexical normalisation: ".." may climb out of the workflow's folder, never out of the
    // repository. The hasher then checks symlinks on disk.
    std::vector<std::string> parts;
    if (!base_dir_.empty()) parts = Split(base_dir_, '/');
    for (const std::string& part : Split(rel, '/')) {
      if (part.empty() || part == ".") continue;
      if (part == "..") {
        if (parts.empty()) {
          Error(pos, ref, "file '" + rel + "': leaves the repository; reference files inside it");
          return std::nullopt;
        }
        parts.pop_back();
        continue;
      }
      parts.push_back(part);
    }
    if (parts.empty()) {
      Error(pos, ref, "file '" + rel + "': names a folder, not a file");
      return std::nullopt;
    }
    std::string path = Join(parts, "/");
    for (const FileRef& f : out_.files) {
      if (f.path == path) return f.uri;
    }
    Result<FileRef> hashed = hash_file_(path);
    if (!hashed) {
      std::string detail =
          hashed.status().code() == StatusCode::kNotFound ? "not found" : hashed.status().message();
      Error(pos, ref, "file '" + rel + "' (" + path + "): " + detail);
      return std::nullopt;
    }
    FileRef f = *hashed;
    f.path = path;
    f.uri = FileUri(f.sha256, parts.back());
    out_.files.push_back(f);
    return f.uri;
  }

  std::string_view text_;
  const std::string& file_;
  assets::AssetCatalog& catalog_;
  const FileHasher& hash_file_;
  std::string base_dir_;
  RenderResult out_;
  std::unordered_map<std::string, std::string> asset_cache_;  // "" = failed
  std::unordered_map<std::string, std::pair<std::string, std::vector<std::string>>> error_cache_;
  size_t scan_pos_ = 0;
  size_t line_start_ = 0;
  int line_ = 1;
  int shift_line_ = 0;
  int delta_ = 0;
};

}  // namespace

std::string FileUri(std::string_view sha256, std::string_view basename) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string name;
  for (unsigned char c : basename) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '~' || c == '-') {
      name += static_cast<char>(c);
    } else {
      name += '%';
      name += kHex[c >> 4];
      name += kHex[c & 15];
    }
  }
  return "bundle://files/" + std::string(sha256) + "/" + name;
}

FileHasher DiskFileHasher(fs::path root) {
  return [root = std::move(root)](const std::string& path) -> Result<FileRef> {
    WEIR_ASSIGN_OR_RETURN(fs::path real, ResolveInside(root, path));
    std::error_code ec;
    if (!fs::is_regular_file(real, ec)) {
      return InvalidArgument("file '" + path + "': not a regular file");
    }
    FileRef f;
    f.size = static_cast<int64_t>(fs::file_size(real, ec));
    if (ec) return ErrnoStatus("file '" + path + "'", ec.value());
    WEIR_ASSIGN_OR_RETURN(f.sha256, blob::Sha256File(real));
    return f;
  };
}

int RenderResult::SourceColumn(int line, int column) const {
  int delta = 0;
  auto it = std::lower_bound(shifts.begin(), shifts.end(), line,
                             [](const Shift& s, int l) { return s.line < l; });
  for (; it != shifts.end() && it->line == line && it->rendered_column <= column; ++it) {
    delta = it->delta;
  }
  return column - delta;
}

RenderResult Render(std::string_view text, const std::string& file, assets::AssetCatalog& catalog,
                    const FileHasher& hash_file) {
  return Renderer(text, file, catalog, hash_file).Run();
}

Result<assets::AssetRecord> CachingCatalog::Resolve(const assets::AssetRef& ref) {
  std::string key = ref.ToString();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = resolved_.find(key); it != resolved_.end()) return it->second;
  }
  Result<assets::AssetRecord> r = inner_.Resolve(ref);
  std::lock_guard<std::mutex> lock(mu_);
  // The first answer wins, so concurrent renders agree on one version.
  return resolved_.emplace(key, std::move(r)).first->second;
}

std::vector<std::string> CachingCatalog::Suggestions(const assets::AssetRef& ref) {
  return inner_.Suggestions(ref);
}

Result<assets::AssetRecord> EnvironmentCatalog::Resolve(const assets::AssetRef& ref) {
  if (ref.form != assets::RefForm::kLatest || branches_.empty()) return inner_.Resolve(ref);
  for (const std::string& branch : branches_) {
    assets::AssetRef on_branch = ref;
    on_branch.form = assets::RefForm::kLatestOnBranch;
    on_branch.branch = branch;
    Result<assets::AssetRecord> r = inner_.Resolve(on_branch);
    if (r.ok()) return r;
    if (r.status().code() != StatusCode::kNotFound) {
      // Say why a reference the user wrote without a branch was asked for one.
      return Status(r.status().code(), r.status().message() + " (in environment " + environment_ +
                                           " '${" + ref.ToString() +
                                           "}' means the newest build on branch '" + branch + "'" +
                                           (branch == branches_.back() ? "" : " first") + ")");
    }
    // A missing namespace is missing on every branch: say that, not "no version on branch".
    if (r.status().message().find(": no namespace ") != std::string::npos) {
      return NotFound("asset '" + ref.ToString() + "'" +
                      r.status().message().substr(r.status().message().find(": no namespace ")));
    }
  }
  std::vector<std::string> quoted;
  for (const std::string& b : branches_) quoted.push_back("'" + b + "'");
  return NotFound("asset '" + ref.ToString() + "': no version on branch " + Join(quoted, " or ") +
                  " (in environment " + environment_ +
                  " the latest form takes the newest build of these branches; pin one with @" +
                  "<branch>, or set resolve_latest_from: any in dataflow.yaml)");
}

std::vector<std::string> EnvironmentCatalog::Suggestions(const assets::AssetRef& ref) {
  return inner_.Suggestions(ref);
}

}  // namespace weir::workflow
