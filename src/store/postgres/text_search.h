// Full-text search on PostgreSQL without PostgreSQL's text parser. Private to src/store/postgres/.
//
// The store splits text into words itself and hands PostgreSQL finished tsvector and tsquery
// values (their literal text, cast with ::tsvector / ::tsquery), because the server's parser
// reads "s3://bucket/clickstream" as one URL and "sched:sla" as something else again, so a word
// of an argument or a tag fragment would not be found. The words here are those of the SQLite
// index (FTS5 unicode61): runs of ASCII letters and digits and of non-ASCII bytes, everything
// else separates; ASCII letters are folded to lower case. Highlights and snippets are marked
// with the same words, so what is marked is what matched.
//
// No user text ever reaches tsquery syntax: every word is a quoted lexeme.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace weir::store::postgres {

// One word of a text: its bytes [begin, end) and its lexeme (lower-cased).
struct TextWord {
  size_t begin = 0;
  size_t end = 0;
  std::string lexeme;
};
std::vector<TextWord> SplitWords(std::string_view text);

// The document's tsvector literal: the words of its name (weight A), tags (B), id (C) and text
// (D), positions counting on across the fields with a gap between fields (a phrase never spans
// two fields). Words past PostgreSQL's limits (position 16383, 2046-byte lexemes) are left out.
std::string TsVectorLiteral(const SearchDocument& d);

// The tsquery literal of ParseSearchQuery terms: each term the phrase of its words (`<->`) with
// the last word a prefix (`:*`), all terms AND-ed. REQUIRES: every term has at least one word.
std::string TsQueryLiteral(const std::vector<std::string>& terms);

// Which words a query's terms match (the same rule as the tsquery: a term's last word as a
// prefix, its other words whole). Used to mark hits.
class WordMatcher {
 public:
  explicit WordMatcher(const std::vector<std::string>& terms);
  bool Matches(std::string_view lexeme) const;

 private:
  std::vector<std::string> whole_;
  std::vector<std::string> prefixes_;
};

// `text` with every matched word between kSearchMarkOpen and kSearchMarkClose.
std::string MarkWords(std::string_view text, const WordMatcher& m);

// A few words (`max_words`) of the field with the most matched words (the first such one in
// `fields` on a tie), around its first match, marked; kSearchEllipsis where text was left out.
// "" when no field has a match.
std::string Snippet(const std::vector<std::string_view>& fields, const WordMatcher& m,
                    size_t max_words = 16);

}  // namespace weir::store::postgres
