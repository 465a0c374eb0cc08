// fcgi/search_query.cc: the search box text to an FTS5 MATCH expression.
#include "fcgi/search_query.h"

#include <gtest/gtest.h>

namespace parley::fcgi {
namespace {

std::string Match(std::string_view q) {
  auto r = BuildMatchExpression(q);
  EXPECT_TRUE(r.ok()) << q << ": " << r.status().message();
  return r.ok() ? *r : "";
}

void ExpectInvalid(std::string_view q) {
  auto r = BuildMatchExpression(q);
  ASSERT_FALSE(r.ok()) << q;
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_EQ(r.status().reason(), "invalid_query") << q;
}

TEST(SearchQueryTest, EveryTermBecomesAQuotedString) {
  EXPECT_EQ(Match("fox"), "\"fox\"");
  EXPECT_EQ(Match("  quick \t brown\nfox "), "\"quick\" \"brown\" \"fox\"");
  EXPECT_EQ(Match("fo*"), "\"fo\"*") << "a trailing star is a prefix search";
  EXPECT_EQ(Match("*"), "\"*\"") << "a star alone is a word";
  EXPECT_EQ(Match("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
}

TEST(SearchQueryTest, Fts5SyntaxIsOnlyWords) {
  EXPECT_EQ(Match("a OR b"), "\"a\" \"OR\" \"b\"");
  EXPECT_EQ(Match("NEAR(a b)"), "\"NEAR(a\" \"b)\"");
  EXPECT_EQ(Match("say \"hi\""), "\"say\" \"\"\"hi\"\"\"") << "quotes doubled inside the string";
  EXPECT_EQ(Match("text:col ^x -y"), "\"text:col\" \"^x\" \"-y\"");
}

TEST(SearchQueryTest, RefusesWhatIsNotASearch) {
  ExpectInvalid("");
  ExpectInvalid("   \t ");
  ExpectInvalid(std::string(257, 'a'));
  ExpectInvalid("a b c d e f g h i j k l m n o p q");  // 17 words
  ExpectInvalid("bad \xFF utf8");
  ExpectInvalid("bell\x07");
  ExpectInvalid(std::string("nul\0x", 5));
}

TEST(SearchQueryTest, C1ControlsAreRefused) {
  ExpectInvalid("a\xC2\x9B" "2J");  // U+009B: CSI
  ExpectInvalid("a\xC2\x85");       // U+0085
  EXPECT_EQ(Match("a\xC2\xA1"), "\"a\xC2\xA1\"");
}

TEST(SearchQueryTest, UnicodeWhitespaceAndInvisibleCharactersAloneAreBlank) {
  ExpectInvalid("\xC2\xA0\xE3\x80\x80");  // U+00A0 U+3000
  ExpectInvalid("\xE2\x80\x8B \t");      // U+200B
  EXPECT_EQ(Match("a\xC2\xA0" "b"), "\"a\xC2\xA0" "b\"");
}

}  // namespace
}  // namespace parley::fcgi
