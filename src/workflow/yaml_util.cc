#include "workflow/yaml_util.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "common/strings.h"

namespace weir::workflow {
namespace {

// Thrown from the event handler to stop the parser at the first limit it crosses.
struct LimitExceeded {
  YAML::Mark mark;
  std::string message;
};

// Walks the parser's events without building a tree, measuring depth and the size the document
// would have once every alias is expanded.
class LimitScanner final : public YAML::EventHandler {
 public:
  explicit LimitScanner(const YamlLimits& limits) : limits_(limits) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { Leaf(mark, anchor); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    Leaf(mark, anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = sizes_.find(anchor);
    if (it == sizes_.end()) {
      throw LimitExceeded{mark,
                          "alias: refers to an anchor that is not complete here "
                          "(recursive aliases are not allowed)"};
    }
    Add(mark, it->second);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    YAML::Mark mark;
    YAML::anchor_t anchor;
    uint64_t size;
  };

  void Leaf(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) sizes_[anchor] = 1;
    Add(mark, 1);
  }
  void Open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
      throw LimitExceeded{mark, "yaml: nesting deeper than " + std::to_string(limits_.max_depth) +
                                    " levels is not allowed"};
    }
    stack_.push_back({mark, anchor, 1});
  }
  void Close() {
    Frame f = stack_.back();
    stack_.pop_back();
    if (f.anchor != YAML::NullAnchor) sizes_[f.anchor] = f.size;
    Add(f.mark, f.size);
  }
  void Add(const YAML::Mark& mark, uint64_t n) {
    uint64_t& target = stack_.empty() ? total_ : stack_.back().size;
    target += n;
    // Sizes saturate at the limit: a document is refused as soon as anything crosses it.
    if (target > limits_.max_nodes) {
      throw LimitExceeded{mark, "yaml: more than " + std::to_string(limits_.max_nodes) +
                                    " nodes once aliases are expanded; refusing the document"};
    }
  }

  const YamlLimits& limits_;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, uint64_t> sizes_;
  uint64_t total_ = 0;
};

Diagnostic Diag(const std::string& file, int line, int column, std::string message) {
  Diagnostic d;
  d.file = file;
  d.line = line;
  d.column = column;
  d.message = std::move(message);
  return d;
}

Diagnostic MakeDiag(const std::string& file, const YAML::Mark& mark, std::string message) {
  Diagnostic d;
  d.file = file;
  if (!mark.is_null()) {
    d.line = mark.line + 1;
    d.column = mark.column + 1;
  }
  d.message = std::move(message);
  return d;
}

std::string NodeKind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "empty";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "undefined";
  }
}

// True unless the text certainly holds no alias, no document marker and no deep flow nesting:
// an alias is a '*' where a node may start (after ':', '-', '[', '{', ',', '?', '!' or at a line
// start, spaces skipped) followed by a name; a second document needs a line starting "---" or
// "..."; brackets are counted without regard to quotes. Conservative: a quoted '*' may trigger
// the full scan, which is only slower.
bool NeedsEventScan(std::string_view s, int max_depth) {
  int flow = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '[' || c == '{') {
      if (++flow > max_depth / 2) return true;
    } else if ((c == ']' || c == '}') && flow > 0) {
      --flow;
    }
    if ((c == '-' || c == '.') && (i == 0 || s[i - 1] == '\n') && s.substr(i, 3).size() == 3 &&
        (s.substr(i, 3) == "---" || s.substr(i, 3) == "...")) {
      return true;
    }
    if (c != '*') continue;
    if (i + 1 >= s.size() || s[i + 1] == ' ' || s[i + 1] == '\n' || s[i + 1] == '\t' ||
        s[i + 1] == '\r') {
      continue;
    }
    size_t j = i;
    while (j > 0 && (s[j - 1] == ' ' || s[j - 1] == '\t')) --j;
    if (j == 0) return true;
    char before = s[j - 1];
    if (before == ':' || before == '-' || before == '[' || before == '{' || before == ',' ||
        before == '?' || before == '\n' || before == '!' || before == '\r') {
      return true;
    }
  }
  return false;
}

// The mark of a node nested deeper than `max_depth`, if any (iterative: no recursion).
std::optional<YAML::Mark> TooDeep(const YAML::Node& root, int max_depth) {
  std::vector<std::pair<YAML::Node, int>> stack;
  stack.emplace_back(root, 0);
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (!node.IsMap() && !node.IsSequence()) continue;
    if (depth >= max_depth) return node.Mark();
    if (node.IsMap()) {
      for (const auto& kv : node) {
        stack.emplace_back(kv.first, depth + 1);
        stack.emplace_back(kv.second, depth + 1);
      }
    } else {
      for (const YAML::Node& item : node) stack.emplace_back(item, depth + 1);
    }
  }
  return std::nullopt;
}

}  // namespace

size_t FirstInvalidUtf8(std::string_view s) {
  size_t i = 0;
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    unsigned char c = byte(i);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

LoadedYaml LoadYaml(std::string_view text, const std::string& file, const YamlLimits& limits) {
  LoadedYaml out;
  if (text.size() > limits.max_bytes) {
    out.errors.push_back(Diag(file, 0, 0,
                              "yaml: file is " + std::to_string(text.size()) +
                                  " bytes, more than the limit of " +
                                  std::to_string(limits.max_bytes)));
    return out;
  }
  if (size_t bad = FirstInvalidUtf8(text); bad != std::string_view::npos) {
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + bad, '\n'));
    size_t line_start = text.rfind('\n', bad == 0 ? 0 : bad - 1);
    int column =
        static_cast<int>(bad -
                         (line_start == std::string_view::npos || bad == 0 ? 0 : line_start + 1)) +
        1;
    out.errors.push_back(
        Diag(file, line, column,
             "yaml: file is not valid UTF-8 (byte " + std::to_string(bad) + "); save it as UTF-8"));
    return out;
  }
  std::string owned(text);
  // yaml-cpp parsing is the main cost of rendering many workflows, so the event scan (a second
  // parse) runs only when the text could hold an alias, a second document or deep flow
  // nesting; otherwise the tree's depth is checked after one parse (without aliases nodes
  // cannot multiply, and yaml-cpp's own depth guard bounds its recursion).
  const bool scan = NeedsEventScan(owned, limits.max_depth);
  try {
    if (scan) {
      std::istringstream in(owned);
      YAML::Parser parser(in);
      LimitScanner scanner(limits);
      parser.HandleNextDocument(scanner);
      LimitScanner second(limits);
      if (parser.HandleNextDocument(second)) {
        out.errors.push_back(Diag(file, 0, 0, "yaml: more than one document; put one per file"));
        return out;
      }
    }
  } catch (const LimitExceeded& e) {
    out.errors.push_back(MakeDiag(file, e.mark, e.message));
    return out;
  } catch (const YAML::Exception& e) {
    out.errors.push_back(MakeDiag(file, e.mark, "yaml: " + e.msg));
    return out;
  }
  try {
    out.root = YAML::Load(owned);
  } catch (const YAML::Exception& e) {
    out.errors.push_back(MakeDiag(file, e.mark, "yaml: " + e.msg));
    out.root = YAML::Node();
    return out;
  }
  if (!scan) {
    if (std::optional<YAML::Mark> deep = TooDeep(out.root, limits.max_depth)) {
      out.errors.push_back(MakeDiag(file, *deep,
                                    "yaml: nesting deeper than " +
                                        std::to_string(limits.max_depth) +
                                        " levels is not allowed"));
      out.root = YAML::Node();
    }
  }
  return out;
}

int LineOf(const YAML::Node& node) {
  YAML::Mark m = node.Mark();
  return m.is_null() ? 0 : m.line + 1;
}
int ColumnOf(const YAML::Node& node) {
  YAML::Mark m = node.Mark();
  return m.is_null() ? 0 : m.column + 1;
}

void YamlChecker::Error(const YAML::Node& at, std::string message,
                        std::vector<std::string> suggestions) {
  ErrorAt(LineOf(at), ColumnOf(at), std::move(message), std::move(suggestions));
}

void YamlChecker::ErrorAt(int line, int column, std::string message,
                          std::vector<std::string> suggestions) {
  Diagnostic d;
  d.file = file_;
  d.line = line;
  d.column = column;
  d.message = std::move(message);
  d.suggestions = std::move(suggestions);
  out_->push_back(std::move(d));
}

bool YamlChecker::CheckMap(const YAML::Node& node, std::string_view what,
                           const std::vector<std::string>& allowed) {
  if (!node.IsMap()) {
    Error(node, std::string(what) + ": must be a mapping, found " + NodeKind(node));
    return false;
  }
  std::unordered_set<std::string> seen;
  bool ok = true;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      Error(kv.first, std::string(what) + ": keys must be plain names");
      ok = false;
      continue;
    }
    const std::string& key = kv.first.Scalar();
    if (!seen.insert(key).second) {
      Error(kv.first, std::string(what) + ": duplicate key '" + key + "'");
      ok = false;
    }
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      Error(kv.first, std::string(what) + ": unknown key '" + key + "'",
            ClosestNames(key, allowed));
    }
  }
  return ok;
}

std::optional<std::string> YamlChecker::Scalar(const YAML::Node& node, std::string_view field,
                                               bool allow_empty) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsNull() && allow_empty) return std::string();
  Error(node, std::string(field) + ": must be a single value, found " + NodeKind(node));
  return std::nullopt;
}

std::optional<int64_t> YamlChecker::Int(const YAML::Node& node, std::string_view field, int64_t min,
                                        int64_t max) {
  std::optional<std::string> s = Scalar(node, field);
  if (!s) return std::nullopt;
  long long v = 0;
  if (!ParseInt64(*s, &v) || v < min || v > max) {
    Error(node, std::string(field) + ": must be a whole number from " + std::to_string(min) +
                    " to " + std::to_string(max) + ", found '" + *s + "'");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> YamlChecker::Bool(const YAML::Node& node, std::string_view field) {
  std::optional<std::string> s = Scalar(node, field);
  if (!s) return std::nullopt;
  if (*s == "true") return true;
  if (*s == "false") return false;
  Error(node, std::string(field) + ": must be true or false, found '" + *s + "'");
  return std::nullopt;
}

std::optional<std::vector<std::string>> YamlChecker::StringList(const YAML::Node& node,
                                                                std::string_view field,
                                                                bool allow_single) {
  if (node.IsScalar() && allow_single) return std::vector<std::string>{node.Scalar()};
  if (node.IsNull()) return std::vector<std::string>{};
  if (!node.IsSequence()) {
    Error(node, std::string(field) + ": must be a list, found " + NodeKind(node));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const YAML::Node& item : node) {
    if (!item.IsScalar()) {
      Error(item,
            std::string(field) + ": list items must be single values, found " + NodeKind(item));
      ok = false;
      continue;
    }
    out.push_back(item.Scalar());
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace weir::workflow
