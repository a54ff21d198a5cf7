// Safe YAML loading and checked field access for dataflow.yaml and workflow files.
//
// LoadYaml refuses hostile input before yaml-cpp builds a tree: documents larger than
// YamlLimits::max_bytes, invalid UTF-8, nesting deeper than max_depth, more than one document,
// and alias expansion beyond max_nodes (every alias counts as the full size of the node it
// points to, so a "billion laughs" document is refused while ordinary anchors keep working).
// yaml-cpp exceptions never leave this file: they become Diagnostics with file:line:column.
//
// YamlChecker reads fields out of a yaml-cpp tree and records a Diagnostic (with the node's
// position) for every type error, unknown key (with a "did you mean") and duplicate key, so
// a caller can report all problems of a file in one pass. Not thread-safe (one per file).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "workflow/diagnostic.h"

namespace weir::workflow {

struct YamlLimits {
  size_t max_bytes = 1 << 20;    // 1 MiB
  int max_depth = 64;            // nested mappings/sequences
  uint64_t max_nodes = 200'000;  // nodes after alias expansion
};

struct LoadedYaml {
  YAML::Node root;                 // Null when the document is empty or on error
  std::vector<Diagnostic> errors;  // empty on success
  bool ok() const { return errors.empty(); }
};

// Parses one YAML document; `file` is used in the diagnostics only.
LoadedYaml LoadYaml(std::string_view text, const std::string& file, const YamlLimits& limits = {});

// Offset of the first byte that is not part of valid UTF-8 (no overlongs, surrogates or code
// points above U+10FFFF), or npos when all of `s` is valid.
size_t FirstInvalidUtf8(std::string_view s);

// 1-based line and column of a node (0, 0 when yaml-cpp has no mark for it).
int LineOf(const YAML::Node& node);
int ColumnOf(const YAML::Node& node);

class YamlChecker {
 public:
  YamlChecker(std::string file, std::vector<Diagnostic>* out) : file_(std::move(file)), out_(out) {}

  const std::string& file() const { return file_; }
  void Error(const YAML::Node& at, std::string message, std::vector<std::string> suggestions = {});
  void ErrorAt(int line, int column, std::string message,
               std::vector<std::string> suggestions = {});

  // True when `node` is a mapping with scalar keys. Reports a non-mapping (naming `what`),
  // non-scalar keys, duplicate keys and keys not in `allowed` (with the closest allowed names).
  bool CheckMap(const YAML::Node& node, std::string_view what,
                const std::vector<std::string>& allowed);
  // The scalar text of a field, or nullopt (reported) when it is a mapping or sequence.
  // Null (`key:` or `~`) is reported too unless `allow_empty`.
  std::optional<std::string> Scalar(const YAML::Node& node, std::string_view field,
                                    bool allow_empty = false);
  // A whole decimal integer in [min, max].
  std::optional<int64_t> Int(const YAML::Node& node, std::string_view field, int64_t min,
                             int64_t max);
  std::optional<bool> Bool(const YAML::Node& node, std::string_view field);
  // A sequence of scalars; with `allow_single`, one scalar is a list of one.
  std::optional<std::vector<std::string>> StringList(const YAML::Node& node, std::string_view field,
                                                     bool allow_single);

 private:
  std::string file_;
  std::vector<Diagnostic>* out_;
};

}  // namespace weir::workflow
