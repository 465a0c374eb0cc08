// fcgi/input.cc: hostile-input parsing of bodies, fields and query strings.
#include "fcgi/input.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "tests/unit/temp_db.h"

namespace parley::fcgi {
namespace {

std::string Nested(int depth) { return std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']'); }

// ------------------------------------------------------------ UTF-8

TEST(ValidUtf8Test, AcceptsWellFormedSequences) {
  EXPECT_TRUE(ValidUtf8(""));
  EXPECT_TRUE(ValidUtf8("plain ASCII ~\x7f"));
  EXPECT_TRUE(ValidUtf8("\xC3\xA9"));               // é, 2 bytes
  EXPECT_TRUE(ValidUtf8("\xC2\x80"));               // U+0080, smallest 2-byte
  EXPECT_TRUE(ValidUtf8("\xDF\xBF"));               // U+07FF
  EXPECT_TRUE(ValidUtf8("\xE0\xA0\x80"));           // U+0800, smallest 3-byte
  EXPECT_TRUE(ValidUtf8("\xE2\x82\xAC"));           // €
  EXPECT_TRUE(ValidUtf8("\xED\x9F\xBF"));           // U+D7FF, just below the surrogates
  EXPECT_TRUE(ValidUtf8("\xEE\x80\x80"));           // U+E000, just above them
  EXPECT_TRUE(ValidUtf8("\xEF\xBF\xBF"));           // U+FFFF
  EXPECT_TRUE(ValidUtf8("\xF0\x90\x80\x80"));       // U+10000, smallest 4-byte
  EXPECT_TRUE(ValidUtf8("\xF0\x9F\x98\x80"));       // 😀
  EXPECT_TRUE(ValidUtf8("\xF4\x8F\xBF\xBF"));       // U+10FFFF, the last code point
  EXPECT_TRUE(ValidUtf8("a\xC3\xA9" "b\xE2\x82\xAC" "c\xF0\x9F\x98\x80"));
  EXPECT_TRUE(ValidUtf8(std::string("a\0b", 3)));  // NUL is UTF-8; other layers refuse it
}

TEST(ValidUtf8Test, RejectsOverlongForms) {
  EXPECT_FALSE(ValidUtf8("\xC0\x80"));              // overlong NUL
  EXPECT_FALSE(ValidUtf8("\xC0\xAF"));              // overlong '/'
  EXPECT_FALSE(ValidUtf8("\xC1\xBF"));
  EXPECT_FALSE(ValidUtf8("\xE0\x80\x80"));
  EXPECT_FALSE(ValidUtf8("\xE0\x9F\xBF"));          // U+07FF in 3 bytes
  EXPECT_FALSE(ValidUtf8("\xF0\x80\x80\x80"));
  EXPECT_FALSE(ValidUtf8("\xF0\x8F\xBF\xBF"));      // U+FFFF in 4 bytes
}

TEST(ValidUtf8Test, RejectsSurrogatesAndOutOfRange) {
  EXPECT_FALSE(ValidUtf8("\xED\xA0\x80"));          // U+D800
  EXPECT_FALSE(ValidUtf8("\xED\xBF\xBF"));          // U+DFFF
  EXPECT_FALSE(ValidUtf8("\xED\xA0\xBD\xED\xB8\x80"));  // a CESU-8 surrogate pair
  EXPECT_FALSE(ValidUtf8("\xF4\x90\x80\x80"));      // U+110000
  EXPECT_FALSE(ValidUtf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(ValidUtf8("\xF8\x88\x80\x80\x80"));
  EXPECT_FALSE(ValidUtf8("\xFE"));
  EXPECT_FALSE(ValidUtf8("\xFF"));
}

TEST(ValidUtf8Test, RejectsTruncatedAndStraySequences) {
  EXPECT_FALSE(ValidUtf8("\xC3"));
  EXPECT_FALSE(ValidUtf8("\xE2\x82"));
  EXPECT_FALSE(ValidUtf8("\xF0\x9F\x98"));
  EXPECT_FALSE(ValidUtf8("abc\xE2\x82"));           // truncated at the very end
  EXPECT_FALSE(ValidUtf8("\xC3" "A"));              // lead byte followed by ASCII
  EXPECT_FALSE(ValidUtf8("\xE2\x82" "A"));
  EXPECT_FALSE(ValidUtf8("\x80"));                  // lone continuation bytes
  EXPECT_FALSE(ValidUtf8("a\x80" "b"));
  EXPECT_FALSE(ValidUtf8("\xBF"));
  EXPECT_FALSE(ValidUtf8("\xC3\xA9\xA9"));          // one continuation too many
}

TEST(CodePointsTest, CountsCodePointsNotBytes) {
  EXPECT_EQ(CodePoints(""), 0u);
  EXPECT_EQ(CodePoints("abc"), 3u);
  EXPECT_EQ(CodePoints("\xC3\xA9"), 1u);
  EXPECT_EQ(CodePoints("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), 4u);
  EXPECT_EQ(CodePoints(std::string("a\0b", 3)), 3u);
}

// ------------------------------------------------------------ ScanJson

TEST(ScanJsonTest, DepthLimit) {
  EXPECT_OK(ScanJson(Nested(kMaxDepth)));
  EXPECT_ERROR(ScanJson(Nested(kMaxDepth + 1)), Code::kInvalid, "nesting_too_deep");
  // Objects count as well as arrays.
  std::string objects;
  for (int i = 0; i < kMaxDepth; ++i) objects += "{\"a\":";
  objects += "1" + std::string(kMaxDepth, '}');
  EXPECT_OK(ScanJson(objects));
  EXPECT_ERROR(ScanJson("[" + objects + "]"), Code::kInvalid, "nesting_too_deep");
  // Depth is nesting, not the number of brackets.
  EXPECT_OK(ScanJson("[" + Nested(kMaxDepth - 1) + "," + Nested(kMaxDepth - 1) + "]"));
}

TEST(ScanJsonTest, BracketsInsideStringsAreText) {
  const std::string deep(100, '[');
  EXPECT_OK(ScanJson("{\"a\":\"" + deep + "\"}"));
  EXPECT_OK(ScanJson("{\"a\":\"\\\"" + deep + "\"}"));  // an escaped quote does not end the string
  EXPECT_OK(ScanJson("{\"" + std::string(100, '{') + "\":1}"));
}

TEST(ScanJsonTest, NulEscapeRejectedButEscapedBackslashAccepted) {
  EXPECT_ERROR(ScanJson(R"({"a":"\u0000"})"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ScanJson(R"({"a":"x\u0000y"})"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ScanJson(R"({"\u0000":1})"), Code::kInvalid, "invalid_field");
  EXPECT_OK(ScanJson(R"({"a":"\\u0000"})"));  // a backslash, then the text u0000
  EXPECT_OK(ScanJson(R"({"a":"\u0001"})"));
  EXPECT_OK(ScanJson(R"({"a":"\u00e9"})"));
}

// Found by fuzz_body: a raw NUL byte after a backslash was skipped as if
// escaped, and the body reached the handlers with a NUL in it.
TEST(ScanJsonTest, OnlyJsonsEscapesAreAccepted) {
  constexpr char kRawNul[] = "{\"a\":\"x\\\0y\"}";
  EXPECT_ERROR(ScanJson(std::string(kRawNul, sizeof kRawNul - 1)), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ScanJson("{\"a\":\"x\\\x01y\"}"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ScanJson(R"({"a":"\q"})"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ScanJson(R"({"a":"x\)"), Code::kInvalid, "invalid_json");  // a backslash at the very end
  for (const char* ok : {R"({"a":"\"\\\/\b\f\n\r\t"})", R"({"a":"\u00e9"})"}) EXPECT_OK(ScanJson(ok)) << ok;
  constexpr char kFound[] = "{\"text\":\"1e9 \\ud\\\0de00\",\"client_id\":null}";
  EXPECT_ERROR(ParseJsonObject("application/json", std::string(kFound, sizeof kFound - 1)), Code::kInvalid,
               "invalid_json");
}

TEST(ScanJsonTest, RawControlCharactersInStringsRejected) {
  EXPECT_ERROR(ScanJson("{\"a\":\"x\x01y\"}"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ScanJson("{\"a\":\"line\nbreak\"}"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ScanJson("{\"a\":\"tab\there\"}"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ScanJson(std::string("{\"a\":\"x\0y\"}", 11)), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ScanJson(std::string("{\"a\":1}\0", 8)), Code::kInvalid, "invalid_json");
  // Whitespace between tokens is fine.
  EXPECT_OK(ScanJson("{\n\t\"a\" :\r\n 1 }"));
}

// ------------------------------------------------------------ ParseJsonObject

TEST(ParseJsonObjectTest, AcceptsAnObject) {
  ASSERT_OK_AND_ASSIGN(JsonPtr j, ParseJsonObject("application/json", R"({"a":1,"b":"x"})"));
  EXPECT_TRUE(cJSON_IsObject(j.get()));
  EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(j.get(), "a")->valuedouble, 1);
  EXPECT_OK(ParseJsonObject("application/json", "{}"));
  EXPECT_OK(ParseJsonObject("application/json", " \n{}\n "));  // surrounding whitespace
}

TEST(ParseJsonObjectTest, BodySizeLimit) {
  std::string exact = "{\"a\":\"" + std::string(kMaxBody - 8, 'x') + "\"}";
  ASSERT_EQ(exact.size(), kMaxBody);
  EXPECT_OK(ParseJsonObject("application/json", exact));
  std::string over = "{\"a\":\"" + std::string(kMaxBody - 7, 'x') + "\"}";
  EXPECT_ERROR(ParseJsonObject("application/json", over), Code::kTooLarge, "body_too_large");
  // Size is checked first, whatever the type.
  EXPECT_ERROR(ParseJsonObject("text/plain", over), Code::kTooLarge, "body_too_large");
}

TEST(ParseJsonObjectTest, MediaType) {
  const std::string body = "{}";
  EXPECT_OK(ParseJsonObject("application/json", body));
  EXPECT_OK(ParseJsonObject("application/json; charset=UTF-8", body));
  EXPECT_OK(ParseJsonObject("application/json;charset=utf-8", body));
  EXPECT_OK(ParseJsonObject("application/json; charset=\"utf-8\"", body));
  EXPECT_OK(ParseJsonObject("Application/JSON", body));
  EXPECT_ERROR(ParseJsonObject("text/plain", body), Code::kUnsupported, "unsupported_media_type");
  EXPECT_ERROR(ParseJsonObject("application/json; charset=latin1", body), Code::kUnsupported,
               "unsupported_media_type");
  EXPECT_ERROR(ParseJsonObject("application/json; charset=ISO-8859-1", body), Code::kUnsupported,
               "unsupported_media_type");
  EXPECT_ERROR(ParseJsonObject("application/x-www-form-urlencoded", "a=1"), Code::kUnsupported,
               "unsupported_media_type");
  EXPECT_ERROR(ParseJsonObject("application/jsonp", body), Code::kUnsupported, "unsupported_media_type");
  EXPECT_ERROR(ParseJsonObject("", body), Code::kUnsupported, "unsupported_media_type");
}

TEST(ParseJsonObjectTest, CharsetIsCheckedInAnyParameterPosition) {
  EXPECT_ERROR(ParseJsonObject("application/json; foo=bar; charset=latin1", "{}"), Code::kUnsupported,
               "unsupported_media_type");
}

TEST(ParseJsonObjectTest, EmptyBody) {
  EXPECT_ERROR(ParseJsonObject("application/json", ""), Code::kInvalid, "invalid_json");
  // notes/api.md: 415 is for a non-empty body; a missing body is a 400 whatever its type.
  EXPECT_ERROR(ParseJsonObject("", ""), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ParseJsonObject("text/plain", ""), Code::kInvalid, "invalid_json");
}

TEST(ParseJsonObjectTest, RejectsWhatIsNotOneObject) {
  EXPECT_ERROR(ParseJsonObject("application/json", R"({"a":)"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ParseJsonObject("application/json", R"({"a":1,})"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ParseJsonObject("application/json", R"({'a':1})"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ParseJsonObject("application/json", R"({"a":1} x)"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ParseJsonObject("application/json", R"({}{})"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ParseJsonObject("application/json", R"([1,2])"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ParseJsonObject("application/json", R"("text")"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ParseJsonObject("application/json", "42"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ParseJsonObject("application/json", "null"), Code::kInvalid, "invalid_json");
  EXPECT_ERROR(ParseJsonObject("application/json", "   "), Code::kInvalid, "invalid_json");
}

TEST(ParseJsonObjectTest, RejectsInvalidUtf8NulAndDepth) {
  EXPECT_ERROR(ParseJsonObject("application/json", "{\"a\":\"\xC3\x28\"}"), Code::kInvalid, "invalid_utf8");
  EXPECT_ERROR(ParseJsonObject("application/json", "{\"a\":\"\xED\xA0\x80\"}"), Code::kInvalid, "invalid_utf8");
  EXPECT_ERROR(ParseJsonObject("application/json", "{\"a\":\"\xC0\x80\"}"), Code::kInvalid, "invalid_utf8");
  EXPECT_ERROR(ParseJsonObject("application/json", R"({"a":"\u0000"})"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ParseJsonObject("application/json", "{\"a\":" + Nested(kMaxDepth) + "}"), Code::kInvalid,
               "nesting_too_deep");
  EXPECT_OK(ParseJsonObject("application/json", "{\"a\":" + Nested(kMaxDepth - 1) + "}"));
  ASSERT_OK_AND_ASSIGN(JsonPtr j, ParseJsonObject("application/json", R"({"a":"\\u0000"})"));
  EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(j.get(), "a")->valuestring, "\\u0000");
}

// ------------------------------------------------------------ fields

class FieldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = ParseJsonObject("application/json",
                             R"({"s":"x","empty":"","n":5,"f":1.5,"t":true,"nul":null,"arr":[],"obj":{},)"
                             R"("neg":-3,"big":1e19,"huge":1e400,"two63":9223372036854775808,"zero":0})");
    ASSERT_OK(j);
    obj_ = std::move(j).value();
  }
  const cJSON* obj() const { return obj_.get(); }
  JsonPtr obj_;
};

TEST_F(FieldsTest, RequireString) {
  ASSERT_OK_AND_ASSIGN(std::string s, RequireString(obj(), "s"));
  EXPECT_EQ(s, "x");
  ASSERT_OK_AND_ASSIGN(std::string e, RequireString(obj(), "empty"));
  EXPECT_EQ(e, "");
  EXPECT_ERROR(RequireString(obj(), "missing"), Code::kInvalid, "missing_field");
  EXPECT_ERROR(RequireString(obj(), "nul"), Code::kInvalid, "missing_field");
  EXPECT_ERROR(RequireString(obj(), "S"), Code::kInvalid, "missing_field");  // keys are case-sensitive
  for (const char* wrong : {"n", "f", "t", "arr", "obj"}) {
    EXPECT_ERROR(RequireString(obj(), wrong), Code::kInvalid, "invalid_field") << wrong;
  }
}

TEST_F(FieldsTest, OptionalString) {
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> s, OptionalString(obj(), "s"));
  EXPECT_EQ(s, "x");
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> missing, OptionalString(obj(), "missing"));
  EXPECT_FALSE(missing.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> nul, OptionalString(obj(), "nul"));
  EXPECT_FALSE(nul.has_value());
  for (const char* wrong : {"n", "t", "arr", "obj"}) {
    EXPECT_ERROR(OptionalString(obj(), wrong), Code::kInvalid, "invalid_field") << wrong;
  }
}

TEST_F(FieldsTest, RequireInt) {
  ASSERT_OK_AND_ASSIGN(int64_t n, RequireInt(obj(), "n", 0, 10));
  EXPECT_EQ(n, 5);
  ASSERT_OK_AND_ASSIGN(int64_t exact, RequireInt(obj(), "n", 5, 5));
  EXPECT_EQ(exact, 5);
  ASSERT_OK_AND_ASSIGN(int64_t neg, RequireInt(obj(), "neg", -10, 10));
  EXPECT_EQ(neg, -3);
  ASSERT_OK_AND_ASSIGN(int64_t zero, RequireInt(obj(), "zero", 0, 1));
  EXPECT_EQ(zero, 0);
  EXPECT_ERROR(RequireInt(obj(), "missing", 0, 10), Code::kInvalid, "missing_field");
  EXPECT_ERROR(RequireInt(obj(), "nul", 0, 10), Code::kInvalid, "missing_field");
  EXPECT_ERROR(RequireInt(obj(), "n", 6, 10), Code::kInvalid, "invalid_field");   // below min
  EXPECT_ERROR(RequireInt(obj(), "n", 0, 4), Code::kInvalid, "invalid_field");    // above max
  EXPECT_ERROR(RequireInt(obj(), "neg", 0, 10), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(RequireInt(obj(), "f", 0, 10), Code::kInvalid, "invalid_field");   // not an integer
  for (const char* wrong : {"s", "empty", "t", "arr", "obj"}) {
    EXPECT_ERROR(RequireInt(obj(), wrong, 0, 10), Code::kInvalid, "invalid_field") << wrong;
  }
  EXPECT_ERROR(RequireInt(obj(), "big", 0, INT64_MAX), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(RequireInt(obj(), "huge", 0, INT64_MAX), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(RequireInt(obj(), "big", 0, int64_t{1} << 53), Code::kInvalid, "invalid_field");
}

TEST_F(FieldsTest, RequireIntRejectsTwoToThe63WithFullRange) {
  // 2^63 is one past INT64_MAX; as a double it compares equal to
  // (double)INT64_MAX, so a "d > max" check lets it through and the
  // conversion back to int64_t is undefined behaviour.
  auto r = RequireInt(obj(), "two63", 0, INT64_MAX);
  EXPECT_ERROR(r, Code::kInvalid, "invalid_field") << (r.ok() ? std::to_string(*r) : "");
}

TEST_F(FieldsTest, OptionalInt) {
  ASSERT_OK_AND_ASSIGN(std::optional<int64_t> n, OptionalInt(obj(), "n", 1, 10));
  EXPECT_EQ(n, 5);
  ASSERT_OK_AND_ASSIGN(std::optional<int64_t> missing, OptionalInt(obj(), "missing", 1, 10));
  EXPECT_FALSE(missing.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<int64_t> nul, OptionalInt(obj(), "nul", 1, 10));
  EXPECT_FALSE(nul.has_value());
  EXPECT_ERROR(OptionalInt(obj(), "f", 1, 10), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(OptionalInt(obj(), "s", 1, 10), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(OptionalInt(obj(), "zero", 1, 10), Code::kInvalid, "invalid_field");
}

// ------------------------------------------------------------ query strings

TEST(QueryParamTest, FindsAndDecodes) {
  EXPECT_EQ(QueryParam("a=1&b=2", "b"), "2");
  EXPECT_EQ(QueryParam("a=1&b=2", "a"), "1");
  EXPECT_EQ(QueryParam("a=1&b=2", "c"), std::nullopt);
  EXPECT_EQ(QueryParam("", "a"), std::nullopt);
  EXPECT_EQ(QueryParam("ab=1", "a"), std::nullopt);   // whole keys only
  EXPECT_EQ(QueryParam("a", "a"), "");
  EXPECT_EQ(QueryParam("a=", "a"), "");
  EXPECT_EQ(QueryParam("a=1&a=2", "a"), "1");         // the first wins
  EXPECT_EQ(QueryParam("&&a=1&", "a"), "1");
  EXPECT_EQ(QueryParam("q=%41%2f%2F", "q"), "A//");
  EXPECT_EQ(QueryParam("q=hello+world", "q"), "hello world");
  EXPECT_EQ(QueryParam("q=1%2B1", "q"), "1+1");
  EXPECT_EQ(QueryParam("q=%C3%A9", "q"), "\xC3\xA9");
  EXPECT_EQ(QueryParam("q=a%3Db%26c", "q"), "a=b&c");
  EXPECT_EQ(QueryParam("q=%00", "q"), std::string(1, '\0'));
  // Malformed escapes are kept as they are.
  EXPECT_EQ(QueryParam("q=%", "q"), "%");
  EXPECT_EQ(QueryParam("q=%4", "q"), "%4");
  EXPECT_EQ(QueryParam("q=%zz", "q"), "%zz");
  EXPECT_EQ(QueryParam("q=100%", "q"), "100%");
}

TEST(QueryIntTest, ParsesBoundedIntegers) {
  ASSERT_OK_AND_ASSIGN(std::optional<int64_t> v, QueryInt("limit=5", "limit", 1, 200));
  EXPECT_EQ(v, 5);
  ASSERT_OK_AND_ASSIGN(std::optional<int64_t> absent, QueryInt("before=5", "limit", 1, 200));
  EXPECT_FALSE(absent.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<int64_t> decoded, QueryInt("limit=%35", "limit", 1, 200));
  EXPECT_EQ(decoded, 5);
  ASSERT_OK_AND_ASSIGN(std::optional<int64_t> edge, QueryInt("limit=200", "limit", 1, 200));
  EXPECT_EQ(edge, 200);
  for (const char* q : {"limit=0", "limit=201", "limit=-1", "limit=+5", "limit=abc", "limit=", "limit=1.0",
                        "limit=5x", "limit", "limit=1234567890123456789"}) {
    EXPECT_ERROR(QueryInt(q, "limit", 1, 200), Code::kInvalid, "invalid_field") << q;
  }
}

TEST(ParseIdTest, StrictDecimal) {
  EXPECT_EQ(ParseId("0"), 0);
  EXPECT_EQ(ParseId("1"), 1);
  EXPECT_EQ(ParseId("123"), 123);
  EXPECT_EQ(ParseId("999999999999999999"), int64_t{999999999999999999});  // 18 digits
  EXPECT_EQ(ParseId("1000000000000000000"), std::nullopt);                // 19 digits
  EXPECT_EQ(ParseId("9223372036854775807"), std::nullopt);
  EXPECT_EQ(ParseId("99999999999999999999999"), std::nullopt);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1a", "abc", "0x10", "1.0", "1e3", "١"}) {
    EXPECT_EQ(ParseId(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace parley::fcgi
