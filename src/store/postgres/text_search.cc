#include "store/postgres/text_search.h"

#include <algorithm>

namespace weir::store::postgres {
namespace {

// PostgreSQL's limits for one tsvector: positions up to 16383, lexemes shorter than 2 KiB, the
// whole value under 1 MiB (the lexeme bytes are capped well below it).
constexpr int kMaxPosition = 16383;
constexpr size_t kMaxLexemeBytes = 2046;
constexpr size_t kMaxVectorLexemeBytes = 256 * 1024;

bool IsWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

// A lexeme between single quotes, as tsvector and tsquery input read it.
void AppendQuoted(std::string* out, std::string_view lexeme) {
  *out += '\'';
  for (char c : lexeme) {
    if (c == '\'' || c == '\\') *out += c == '\'' ? '\'' : '\\';
    *out += c;
  }
  *out += '\'';
}

}  // namespace

std::vector<TextWord> SplitWords(std::string_view text) {
  std::vector<TextWord> out;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsWordByte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    TextWord w;
    w.begin = i;
    while (i < text.size() && IsWordByte(static_cast<unsigned char>(text[i]))) {
      char c = text[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      w.lexeme += c;
      ++i;
    }
    w.end = i;
    out.push_back(std::move(w));
  }
  return out;
}

std::string TsVectorLiteral(const SearchDocument& d) {
  std::string out;
  int position = 0;
  size_t bytes = 0;
  const std::string tags = [&] {
    std::string t;
    for (const auto& tag : d.tags) t += (t.empty() ? "" : " ") + tag;
    return t;
  }();
  const std::pair<std::string_view, char> fields[] = {
      {d.name, 'A'}, {tags, 'B'}, {d.id, 'C'}, {d.text, 'D'}};
  for (const auto& [text, weight] : fields) {
    for (const TextWord& w : SplitWords(text)) {
      if (position >= kMaxPosition) return out;
      ++position;
      if (w.lexeme.size() > kMaxLexemeBytes || bytes + w.lexeme.size() > kMaxVectorLexemeBytes) {
        continue;
      }
      bytes += w.lexeme.size();
      if (!out.empty()) out += ' ';
      AppendQuoted(&out, w.lexeme);
      out += ':' + std::to_string(position) + weight;
    }
    ++position;  // the gap: a phrase never runs from one field into the next
  }
  return out;
}

std::string TsQueryLiteral(const std::vector<std::string>& terms) {
  std::string out;
  for (const auto& term : terms) {
    const std::vector<TextWord> words = SplitWords(term);
    if (words.empty()) continue;
    if (!out.empty()) out += " & ";
    out += '(';
    for (size_t i = 0; i < words.size(); ++i) {
      if (i > 0) out += " <-> ";
      AppendQuoted(&out, words[i].lexeme);
    }
    out += ":*)";
  }
  return out;
}

WordMatcher::WordMatcher(const std::vector<std::string>& terms) {
  for (const auto& term : terms) {
    const std::vector<TextWord> words = SplitWords(term);
    for (size_t i = 0; i < words.size(); ++i) {
      (i + 1 == words.size() ? prefixes_ : whole_).push_back(words[i].lexeme);
    }
  }
}

bool WordMatcher::Matches(std::string_view lexeme) const {
  for (const auto& w : whole_) {
    if (lexeme == w) return true;
  }
  for (const auto& p : prefixes_) {
    if (lexeme.substr(0, p.size()) == p) return true;
  }
  return false;
}

namespace {

// text[from, to) with the matched words among `words` (all inside the range) marked.
std::string MarkRange(std::string_view text, const std::vector<TextWord>& words, size_t first,
                      size_t last, size_t from, size_t to, const WordMatcher& m) {
  std::string out;
  size_t at = from;
  for (size_t i = first; i < last; ++i) {
    const TextWord& w = words[i];
    if (!m.Matches(w.lexeme)) continue;
    out.append(text.substr(at, w.begin - at));
    out.append(kSearchMarkOpen);
    out.append(text.substr(w.begin, w.end - w.begin));
    out.append(kSearchMarkClose);
    at = w.end;
  }
  out.append(text.substr(at, to - at));
  return out;
}

}  // namespace

std::string MarkWords(std::string_view text, const WordMatcher& m) {
  const std::vector<TextWord> words = SplitWords(text);
  return MarkRange(text, words, 0, words.size(), 0, text.size(), m);
}

std::string Snippet(const std::vector<std::string_view>& fields, const WordMatcher& m,
                    size_t max_words) {
  if (max_words == 0) return "";
  size_t best = fields.size();
  size_t best_count = 0;
  std::vector<TextWord> best_words;
  for (size_t f = 0; f < fields.size(); ++f) {
    std::vector<TextWord> words = SplitWords(fields[f]);
    const size_t count = static_cast<size_t>(std::count_if(
        words.begin(), words.end(), [&](const TextWord& w) { return m.Matches(w.lexeme); }));
    if (count > best_count) {
      best = f;
      best_count = count;
      best_words = std::move(words);
    }
  }
  if (best == fields.size()) return "";
  const std::string_view text = fields[best];
  const std::vector<TextWord>& words = best_words;
  size_t hit = 0;
  while (!m.Matches(words[hit].lexeme)) ++hit;
  // A little context before the first match, then as many words after it as fit.
  size_t first = hit > 2 ? hit - 2 : 0;
  size_t last = std::min(words.size(), first + max_words);
  if (last - first < max_words) first = last > max_words ? last - max_words : 0;
  const size_t from = first == 0 ? 0 : words[first].begin;
  const size_t to = last == words.size() ? text.size() : words[last - 1].end;
  std::string out;
  if (first > 0) out.append(kSearchEllipsis);
  out += MarkRange(text, words, first, last, from, to, m);
  if (last < words.size()) out.append(kSearchEllipsis);
  return out;
}

}  // namespace weir::store::postgres
