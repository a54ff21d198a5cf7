// Search kinds and the one place a user's query text becomes search terms (store.h).
#include <cctype>

#include "common/strings.h"
#include "store/store.h"

namespace weir::store {
namespace {

constexpr std::pair<SearchKind, std::string_view> kKindNames[] = {
    {SearchKind::kJob, "job"},           {SearchKind::kApplication, "application"},
    {SearchKind::kCommand, "command"},   {SearchKind::kCluster, "cluster"},
    {SearchKind::kWorkflow, "workflow"},
};

// A term can match only if some byte of it would be part of a word: an ASCII letter or digit,
// or any byte of a non-ASCII character (the tokenizers treat those as word characters).
bool HasWordCharacter(std::string_view term) {
  for (unsigned char c : term) {
    if (std::isalnum(c) || c >= 0x80) return true;
  }
  return false;
}

}  // namespace

std::string_view SearchKindName(SearchKind k) {
  for (const auto& [kind, name] : kKindNames) {
    if (kind == k) return name;
  }
  return "job";
}

Result<SearchKind> ParseSearchKind(std::string_view s) {
  for (const auto& [kind, name] : kKindNames) {
    if (name == s) return kind;
  }
  return InvalidArgument("kind: '" + std::string(s) +
                         "' is not one of job, application, command, cluster, workflow");
}

Result<std::vector<std::string>> ParseSearchQuery(std::string_view q) {
  if (q.size() > kMaxSearchQueryBytes) {
    return InvalidArgument("q: " + std::to_string(q.size()) + " bytes; at most " +
                           std::to_string(kMaxSearchQueryBytes));
  }
  if (!IsValidUtf8(q)) return InvalidArgument("q: not valid UTF-8");
  WEIR_RETURN_IF_ERROR(CheckNoControlChars("q", q, /*allow_tab=*/true));
  std::vector<std::string> terms;
  size_t typed = 0;
  size_t at = 0;
  while (at < q.size()) {
    while (at < q.size() && (q[at] == ' ' || q[at] == '\t')) ++at;
    const size_t start = at;
    while (at < q.size() && q[at] != ' ' && q[at] != '\t') ++at;
    if (at == start) break;
    if (++typed > kMaxSearchTerms) {
      return InvalidArgument("q: more than " + std::to_string(kMaxSearchTerms) + " words");
    }
    std::string_view term = q.substr(start, at - start);
    if (HasWordCharacter(term)) terms.emplace_back(term);
  }
  if (terms.empty()) return InvalidArgument("q: give at least one word with a letter or digit");
  return terms;
}

}  // namespace weir::store
