// schema/mentions.cc: which @names a text mentions.
#include "schema/mentions.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

using Names = std::vector<std::string>;

TEST(MentionNamesTest, FindsNamesAtWordStarts) {
  EXPECT_EQ(MentionNames("@bob hi"), (Names{"bob"}));
  EXPECT_EQ(MentionNames("hi @bob, and (@carol_2) @dave-x!"), (Names{"bob", "carol_2", "dave-x"}));
  EXPECT_EQ(MentionNames("@bob @bob @Bob"), (Names{"bob", "Bob"})) << "distinct as written; the store folds case";
  EXPECT_EQ(MentionNames("line\n@eve\t@frank"), (Names{"eve", "frank"}));
}

TEST(MentionNamesTest, IgnoresAddressesAndBareAts) {
  EXPECT_TRUE(MentionNames("mail a@bob.org").empty());
  EXPECT_TRUE(MentionNames("@ alone, @@, @").empty());
  EXPECT_TRUE(MentionNames("@. @..").empty());
  EXPECT_TRUE(MentionNames("@" + std::string(33, 'a')).empty()) << "longer than any username";
}

TEST(MentionNamesTest, AnAtInsideAWebAddressNamesNobody) {
  EXPECT_TRUE(MentionNames("see https://social.example/@bob").empty());
  EXPECT_TRUE(MentionNames("HTTP://x.example/?u=@bob&v=(@carol)").empty()) << "any case, up to the next space";
  EXPECT_EQ(MentionNames("https://x.example/@bob @carol"), (Names{"carol"})) << "the address ends at a space";
  EXPECT_EQ(MentionNames("http://x/@bob\n@dave\thttps://@eve"), (Names{"dave"}));
  EXPECT_EQ(MentionNames("@bob: http:/x/@carol ftp://x/@dave http"), (Names{"bob", "carol", "dave"}))
      << "not an address: one slash, another scheme";
}

// The rule the web client draws by (www/js/mentions.js, mentions.test.js):
// an address runs to ASCII white space, through a U+00A0 or U+3000, an
// unclosed "(" or a ")" where the client's link ends; it starts wherever
// "http://" does, unless a mention's name took those letters; an '@' right
// after a name's character, also a mention's, names nobody.
TEST(MentionNamesTest, TheRuleTheWebClientDrawsBy) {
  EXPECT_TRUE(MentionNames("https://h/(@bob https://h/a)@bob").empty());
  EXPECT_TRUE(MentionNames("https://h/\xC2\xA0@bob https://h/\xE3\x80\x80@bob").empty());
  EXPECT_TRUE(MentionNames("x@http://h/@bob").empty());
  EXPECT_EQ(MentionNames("@http://h/@bob"), (Names{"http", "bob"}));
  EXPECT_EQ(MentionNames("@bob@carol @@dave"), (Names{"bob", "dave"}));
}

TEST(MentionNamesTest, SentenceEndDotsAlsoYieldTheNameWithout) {
  EXPECT_EQ(MentionNames("thanks @bob."), (Names{"bob.", "bob"}));
  EXPECT_EQ(MentionNames("@j.r.r..."), (Names{"j.r.r...", "j.r.r"}));
}

TEST(MentionNamesTest, BoundedNumberOfNames) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "@user" + std::to_string(i) + " ";
  Names names = MentionNames(text);
  ASSERT_EQ(names.size(), kMaxMentionNames);
  EXPECT_EQ(names.front(), "user0");
}

}  // namespace
}  // namespace parley
