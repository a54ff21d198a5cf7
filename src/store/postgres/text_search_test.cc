// The words of the PostgreSQL full-text search (text_search.h): how text splits, the tsvector and
// tsquery literals handed to the server, and the marks of highlights and snippets. The server's
// side is in search_index_contract_test.cc.
#include "store/postgres/text_search.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weir::store::postgres {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Lexemes(std::string_view text) {
  std::vector<std::string> out;
  for (const TextWord& w : SplitWords(text)) out.push_back(w.lexeme);
  return out;
}

TEST(TextSearchTest, WordsAreRunsOfLettersAndDigitsFoldedToLowerCase) {
  EXPECT_THAT(Lexemes("--input s3://Bucket/clickstream --date 2026-12-01"),
              ElementsAre("input", "s3", "bucket", "clickstream", "date", "2026", "12", "01"));
  EXPECT_THAT(Lexemes("sched:sla genie.name:yarn-prod"),
              ElementsAre("sched", "sla", "genie", "name", "yarn", "prod"));
  EXPECT_THAT(Lexemes("café 'x'"), ElementsAre("café", "x"));
  EXPECT_THAT(Lexemes(" -- "), ElementsAre());
  std::vector<TextWord> w = SplitWords("a Bc");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[1].begin, 2u);
  EXPECT_EQ(w[1].end, 4u);
}

TEST(TextSearchTest, TheVectorWeighsTheFieldsAndNeverJoinsThemInAPhrase) {
  SearchDocument d;
  d.id = "j1";
  d.name = "Nightly ETL";
  d.tags = {"sched:sla"};
  d.text = "it's";
  EXPECT_EQ(TsVectorLiteral(d),
            "'nightly':1A 'etl':2A 'sched':4B 'sla':5B 'j1':7C 'it':9D 's':10D");
  EXPECT_EQ(TsVectorLiteral(SearchDocument{}), "");
}

TEST(TextSearchTest, EachTermIsAPhraseEndingInAPrefixAndNoUserTextIsSyntax) {
  EXPECT_EQ(TsQueryLiteral({"sched:s"}), "('sched' <-> 's':*)");
  EXPECT_EQ(TsQueryLiteral({"etl", "NEAR(a|b)"}), "('etl':*) & ('near' <-> 'a' <-> 'b':*)");
  EXPECT_EQ(TsQueryLiteral({"!&'"}), "");
}

TEST(TextSearchTest, MarksWholeWordsAndPrefixesOfTheLastWordOfATerm) {
  WordMatcher m({"click", "sched:s"});
  EXPECT_EQ(MarkWords("Clickstream loader", m), "<mark>Clickstream</mark> loader");
  EXPECT_EQ(MarkWords("sched:sla, reschedule", m),
            "<mark>sched</mark>:<mark>sla</mark>, reschedule");
  EXPECT_EQ(MarkWords("nothing here", m), "nothing here");
}

TEST(TextSearchTest, TheSnippetComesFromTheFieldWithMostMatchesAroundItsFirstOne) {
  WordMatcher m({"kafka"});
  EXPECT_EQ(Snippet({"loader", "", "j1", "alice --from kafka --to s3"}, m),
            "alice --from <mark>kafka</mark> --to s3");
  std::string longer;
  for (int i = 0; i < 30; ++i) longer += "w" + std::to_string(i) + " ";
  longer += "kafka end";
  EXPECT_EQ(Snippet({longer}, m, 4), "...w28 w29 <mark>kafka</mark> end");
  EXPECT_EQ(Snippet({"kafka " + longer}, m, 3), "<mark>kafka</mark> w0 w1...");
  EXPECT_EQ(Snippet({"none", "at all"}, m), "");
}

}  // namespace
}  // namespace weir::store::postgres
