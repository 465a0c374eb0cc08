// Fuzz target: the parsers and checks of user text that no other target
// reaches. The first input byte picks the function (byte % kKinds) and, for
// a few, a parameter (byte / kKinds); the rest of the input is the text:
//   search     BuildMatchExpression (fcgi/search_query.h), GET /api/search's q
//   mentions   MentionNames (schema/mentions.h), @username in a message
//   username   ValidateUsername, CheckPathUsername (a path's {username})
//   room name, topic, emoji, file name, prefix: the validators of fcgi/validate.h
//   percent    PercentDecode (a reaction's {emoji} segment, then ValidateEmoji
//              as Api::React does) and PercentEncode's round trip
//   helpers    IsBlank, HasControl, NextCodePoint, NormalizeLineBreaks, and
//              the log's EscapeControls (log lines quote clients)
//   model      Parse{RoomKind,Role,Audience,MemberAction,NotifyLevel}
// (ValidateText, ValidateClientId, ValidatePassword, ValidUtf8, QueryParam
// and ParseId are body_fuzz.cc's and request_fuzz.cc's.)
//
// Oracles. Each rule is written again here from README ("The REST API":
// Limits, GET /api/search, reactions, uploads, mentions) and Unicode's own
// tables, with a UTF-8 decoder of its own, and the function must agree with
// it exactly, accepting what it allows and refusing the rest:
// - search: an accepted query has at most 256 bytes and 1-16 words as typed,
//   split on the README's blank set; the expression is those words, repeats
//   (ASCII case folded) once, each a non-empty FTS5 string with its quotes
//   doubled, a prefix with 2 or more letters or digits right before its '*'
//   (IsSurelyWordCodePoint's table is the contract; only its ASCII part is
//   checked); it parses back as such (no input makes FTS5's syntax fail).
// - mentions: at most 20, distinct, each a valid username written as "@name"
//   after a non-username character, never inside a web address (one that
//   surely starts where it seems: InWebAddress); with no address in the
//   text, exactly the names a plain scan finds, in order.
// - validators: a name, topic, emoji, file name or prefix is accepted
//   exactly when README's limits allow it: so never with a control character
//   (C0, DEL, C1), nor (prefixes aside) a bidi control, zero-width or other
//   Default_Ignorable_Code_Point but U+FE0E/FE0F (and U+200D in an emoji);
//   refusals are 400s with the documented reason, a path's username a 404.
// - PercentDecode decodes exactly the well-formed segments; PercentEncode's
//   output decodes back; EscapeControls writes escapes whole and no control
//   byte; NormalizeLineBreaks leaves no CR and changes nothing else.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fcgi/input.h"
#include "fcgi/search_query.h"
#include "fcgi/validate.h"
#include "schema/log.h"
#include "schema/mentions.h"
#include "schema/model.h"
#include "schema/percent_encode.h"
#include "tests/fuzz/check.h"

namespace {

using namespace parley;
using namespace parley::fcgi;

// One code point and where it sits in the text.
struct CodePoint {
  uint32_t cp;
  size_t at, len;
};

// A decoder of its own: the shortest form only, no surrogates, at most
// U+10FFFF (Unicode 15, section 3.9, D92). nullopt: not UTF-8.
std::optional<std::vector<CodePoint>> Decode(std::string_view s) {
  static constexpr uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::vector<CodePoint> out;
  for (size_t i = 0; i < s.size();) {
    unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return std::nullopt;
    uint32_t cp = len == 1 ? c : c & (0x7Fu >> len);
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < kShortest[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    out.push_back({cp, i, len});
    i += len;
  }
  return out;
}

bool In(uint32_t cp, uint32_t lo, uint32_t hi) { return cp >= lo && cp <= hi; }

// README, Limits: "C0, DEL, C1".
bool Control(uint32_t cp) { return cp < 0x20 || In(cp, 0x7F, 0x9F); }

// README, Limits: "blank: nothing but Unicode White_Space
// (PropList.txt) and the zero-width U+200B-200D, U+2060, U+FEFF".
bool Blank(uint32_t cp) {
  return In(cp, 0x09, 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 || In(cp, 0x2000, 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || In(cp, 0x200B, 0x200D) ||
         cp == 0x2060 || cp == 0xFEFF;
}

// Default_Ignorable_Code_Point, DerivedCoreProperties.txt of Unicode 15.
bool DefaultIgnorable(uint32_t cp) {
  return cp == 0x00AD || cp == 0x034F || cp == 0x061C || In(cp, 0x115F, 0x1160) || In(cp, 0x17B4, 0x17B5) ||
         In(cp, 0x180B, 0x180F) || In(cp, 0x200B, 0x200F) || In(cp, 0x202A, 0x202E) || In(cp, 0x2060, 0x206F) ||
         cp == 0x3164 || In(cp, 0xFE00, 0xFE0F) || cp == 0xFEFF || cp == 0xFFA0 || In(cp, 0xFFF0, 0xFFF8) ||
         In(cp, 0x1BCA0, 0x1BCA3) || In(cp, 0x1D173, 0x1D17A) || In(cp, 0xE0000, 0xE0FFF);
}

// What a shown name may not hold (README, Limits, room name; validate.cc
// adds the interlinear annotation marks U+FFF9-FFFB): controls, U+2028/2029,
// and what a browser draws as nothing, but the emoji form selectors.
bool Hidden(uint32_t cp) {
  return Control(cp) || cp == 0x2028 || cp == 0x2029 || In(cp, 0xFFF9, 0xFFFB) ||
         (DefaultIgnorable(cp) && cp != 0xFE0E && cp != 0xFE0F);
}

bool UsernameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-';
}

// README, Limits: "username 1-32 of [A-Za-z0-9_.-] ..., not . or ..".
bool UsernameOk(std::string_view s) {
  if (s.empty() || s.size() > kMaxUsername || s == "." || s == "..") return false;
  for (char c : s) {
    if (!UsernameChar(c)) return false;
  }
  return true;
}

template <typename Pred>
bool Any(const std::vector<CodePoint>& cps, Pred pred) {
  for (const CodePoint& c : cps) {
    if (pred(c.cp)) return true;
  }
  return false;
}

bool AllBlank(const std::vector<CodePoint>& cps) { return !Any(cps, [](uint32_t cp) { return !Blank(cp); }); }

// --- search ---------------------------------------------------------------

// The expression README promises for q, or nullopt where it promises 400
// invalid_query: at most 256 bytes of UTF-8 without controls but tab,
// newline and CR; 1-16 words as typed, split on blanks; a prefix (word*)
// with at least 2 letters or digits right before its '*'; repeats, ASCII
// case aside, searched once.
std::optional<std::string> ExpectedMatch(std::string_view q) {
  if (q.size() > kMaxSearchBytes) return std::nullopt;
  std::optional<std::vector<CodePoint>> cps = Decode(q);
  if (!cps || Any(*cps, [](uint32_t cp) { return Control(cp) && cp != '\t' && cp != '\n' && cp != '\r'; })) {
    return std::nullopt;
  }
  std::vector<std::string_view> words;
  size_t start = 0;
  for (size_t k = 0; k <= cps->size(); ++k) {
    size_t end = k < cps->size() ? (*cps)[k].at : q.size();
    if (k == cps->size() || Blank((*cps)[k].cp)) {
      if (end > start) words.push_back(q.substr(start, end - start));
      if (k < cps->size()) start = end + (*cps)[k].len;
    }
  }
  if (words.empty() || words.size() > kMaxSearchTerms) return std::nullopt;
  std::string out;
  std::vector<std::string> seen;
  for (std::string_view w : words) {
    bool prefix = w.size() > 1 && w.back() == '*';
    if (prefix) {
      w.remove_suffix(1);
      std::vector<CodePoint> wc = *Decode(w);
      size_t run = 0;
      while (run < wc.size() && IsSurelyWordCodePoint(wc[wc.size() - 1 - run].cp)) ++run;
      if (run < kMinPrefixChars) return std::nullopt;
    }
    std::string key;
    for (char c : w) key += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    key += prefix ? "*" : "";
    bool repeat = false;
    for (const std::string& k : seen) repeat = repeat || k == key;
    if (repeat) continue;
    seen.push_back(key);
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : w) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    out += prefix ? "\"*" : "\"";
  }
  return out;
}

// Reads the expression back as FTS5 would: strings ("..." with "" for a
// quote), each maybe followed by '*', separated by one space.
void CheckFts5Syntax(const std::string& expr) {
  size_t terms = 0, i = 0;
  while (i < expr.size()) {
    if (terms > 0) FUZZ_CHECK(expr[i++] == ' ');
    FUZZ_CHECK(i < expr.size() && expr[i++] == '"');
    size_t chars = 0;
    for (;;) {
      FUZZ_CHECK(i < expr.size());  // every string is closed
      if (expr[i] == '"' && !(i + 1 < expr.size() && expr[i + 1] == '"')) break;
      FUZZ_CHECK(static_cast<unsigned char>(expr[i]) >= 0x20);
      i += expr[i] == '"' ? 2 : 1;
      ++chars;
    }
    FUZZ_CHECK(chars >= 1);
    ++i;
    if (i < expr.size() && expr[i] == '*') ++i;
    ++terms;
  }
  FUZZ_CHECK(terms >= 1 && terms <= kMaxSearchTerms);
}

void CheckSearch(std::string_view q) {
  Result<std::string> got = BuildMatchExpression(q);
  std::optional<std::string> want = ExpectedMatch(q);
  FUZZ_CHECK(got.ok() == want.has_value());
  if (!got.ok()) {
    FUZZ_CHECK(got.status().code() == Code::kInvalid && got.status().reason() == "invalid_query");
    return;
  }
  FUZZ_CHECK(*got == *want);
  CheckFts5Syntax(*got);
  // The table behind a prefix's letters: ASCII as isalnum, never a blank,
  // a control or the characters that end an FTS5 string or make a prefix.
  const std::vector<CodePoint> cps = *Decode(q);  // valid: accepted
  for (const CodePoint& c : cps) {
    bool word = IsSurelyWordCodePoint(c.cp);
    if (c.cp < 0x80) FUZZ_CHECK(word == ((c.cp | 32) - 'a' < 26 || c.cp - '0' < 10));
    if (Blank(c.cp) || Control(c.cp)) FUZZ_CHECK(!word);
  }
}

// --- mentions -------------------------------------------------------------

bool AsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool StartsWithNoCase(std::string_view text, size_t i, std::string_view prefix) {
  if (text.size() - i < prefix.size()) return false;
  for (size_t k = 0; k < prefix.size(); ++k) {
    char c = text[i + k];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) != prefix[k]) return false;
  }
  return true;
}

bool WebAddressAt(std::string_view text, size_t i) {
  return StartsWithNoCase(text, i, "http://") || StartsWithNoCase(text, i, "https://");
}

// Every "@name" of the text with no web address in it: '@' at the start or
// after a non-username character, 1-32 username characters, and the name
// without its final dots too; "." and ".." name nobody. Distinct, in order,
// at most 20.
std::vector<std::string> ExpectedMentions(std::string_view text) {
  std::vector<std::string> out;
  auto add = [&](std::string_view name) {
    if (name.empty() || name == "." || name == ".." || out.size() >= kMaxMentionNames) return;
    for (const std::string& o : out) {
      if (o == name) return;
    }
    out.emplace_back(name);
  };
  for (size_t p = 0; p < text.size(); ++p) {
    if (text[p] != '@' || (p > 0 && UsernameChar(text[p - 1]))) continue;
    size_t end = p + 1;
    while (end < text.size() && UsernameChar(text[end])) ++end;
    std::string_view name = text.substr(p + 1, end - p - 1);
    if (name.size() > kMaxUsername) continue;
    add(name);
    while (!name.empty() && name.back() == '.') name.remove_suffix(1);
    add(name);
  }
  return out;
}

// The bytes inside a web address that surely starts where it seems to: at
// the text's start or after a character that is neither a username
// character nor '@', up to the next ASCII white space. (After those, "http"
// may be the tail of a mention: "@http://x/@bob" names http and bob.)
std::vector<bool> InWebAddress(std::string_view text) {
  std::vector<bool> in(text.size(), false);
  for (size_t q = 0; q < text.size(); ++q) {
    if (!WebAddressAt(text, q) || (q > 0 && (UsernameChar(text[q - 1]) || text[q - 1] == '@'))) continue;
    for (; q < text.size() && !AsciiSpace(text[q]); ++q) in[q] = true;
  }
  return in;
}

// Whether "@name", or "@name..." that the name was trimmed from, is written
// at p as a mention, outside a web address.
bool MentionWrittenAt(std::string_view text, const std::vector<bool>& in_address, size_t p, std::string_view name) {
  if (text[p] != '@' || in_address[p] || (p > 0 && UsernameChar(text[p - 1]))) return false;
  if (text.substr(p + 1, name.size()) != name) return false;
  size_t end = p + 1 + name.size();
  while (end < text.size() && text[end] == '.') ++end;
  return !(end < text.size() && UsernameChar(text[end])) && end - p - 1 <= kMaxUsername;
}

void CheckMentions(std::string_view text) {
  std::vector<std::string> names = MentionNames(text);
  FUZZ_CHECK(names.size() <= kMaxMentionNames);
  const std::vector<bool> in_address = InWebAddress(text);
  for (size_t i = 0; i < names.size(); ++i) {
    FUZZ_CHECK(UsernameOk(names[i]) && ValidateUsername(names[i]).ok());
    for (size_t j = 0; j < i; ++j) FUZZ_CHECK(names[i] != names[j]);
    bool written = false;
    for (size_t p = 0; p < text.size() && !written; ++p) written = MentionWrittenAt(text, in_address, p, names[i]);
    FUZZ_CHECK(written);
  }
  bool address = false;
  for (size_t q = 0; q < text.size() && !address; ++q) address = WebAddressAt(text, q);
  if (!address) FUZZ_CHECK(names == ExpectedMentions(text));
}

// --- validators -----------------------------------------------------------

void CheckUsername(const std::string& s) {
  Status st = ValidateUsername(s);
  FUZZ_CHECK(st.ok() == UsernameOk(s));
  if (!st.ok()) FUZZ_CHECK(st.code() == Code::kInvalid && st.reason() == "invalid_field");
  Status path = CheckPathUsername(s);  // a path's name: 404, never 400
  FUZZ_CHECK(path.ok() == st.ok());
  if (!path.ok()) FUZZ_CHECK(path.code() == Code::kNotFound && path.reason() == "user_not_found");
}

// A refusal is a 400 with a reason; invalid_utf8 exactly for bad UTF-8
// where the validator names it apart.
void CheckRefusal(const Status& st, bool utf8, const char* reason) {
  if (st.ok()) return;
  FUZZ_CHECK(st.code() == Code::kInvalid);
  FUZZ_CHECK(st.reason() == (utf8 ? reason : "invalid_utf8"));
}

// README: "room name 1-64 characters, not blank, no white space at either
// end, no control characters, no line or paragraph separator and nothing a
// browser draws as nothing".
// README: a room name holds the letters of at most one of Latin (ASCII's,
// U+00C0-024F but × and ÷, the IPA letters U+0250-02AF, U+1E00-1EFF and the
// letters of Latin Extended-C, -D and -E), Greek (U+0370-03FF,
// U+1F00-1FFF), Cyrillic (U+0400-052F and the letters of U+1C80-1C8F and
// U+A640-A69F), Armenian, Georgian, Cherokee, Lisu, Coptic, Tifinagh,
// Canadian Syllabics, Runic, Old Italic and Gothic (their blocks' letters,
// General_Category L: not their digits, punctuation or marks); and none of:
// a fullwidth or mathematical letter or digit, a blank but U+0020, a Unicode
// hyphen, dash, minus, dot or low line, a letterlike symbol, number form,
// enclosed or superscript or subscript letter or digit, a spacing modifier
// letter or sign but U+02B9-02C1, a ligature or digraph letter, a phonetic
// letter drawn as ASCII or a small capital (and U+1D00-1DBF), the iota and
// v with hook, the click letters, the Zhuang tone letters.
// One table, in code point order: {first, last, script}; 0 is no script.
struct ScriptRun {
  uint32_t first, last;
  int script;
};
enum { kLatin = 1, kGreek, kCyrillic, kArmenian, kGeorgian, kCherokee, kLisu, kCoptic, kTifinagh, kSyllabics,
       kRunic, kOldItalic, kGothic };
constexpr ScriptRun kScriptRuns[] = {
    {0x41, 0x5A, kLatin},         {0x61, 0x7A, kLatin},          {0xC0, 0xD6, kLatin},
    {0xD8, 0xF6, kLatin},         {0xF8, 0x2AF, kLatin},         {0x370, 0x3FF, kGreek},
    {0x400, 0x52F, kCyrillic},    {0x531, 0x556, kArmenian},     {0x559, 0x559, kArmenian},
    {0x560, 0x588, kArmenian},    {0x10A0, 0x10C5, kGeorgian},   {0x10C7, 0x10C7, kGeorgian},
    {0x10CD, 0x10CD, kGeorgian},  {0x10D0, 0x10FA, kGeorgian},   {0x10FC, 0x10FF, kGeorgian},
    {0x13A0, 0x13F5, kCherokee},  {0x13F8, 0x13FD, kCherokee},   {0x1401, 0x166C, kSyllabics},
    {0x166F, 0x167F, kSyllabics}, {0x16A0, 0x16EA, kRunic},      {0x16F1, 0x16F8, kRunic},
    {0x18B0, 0x18F5, kSyllabics}, {0x1C80, 0x1C88, kCyrillic},   {0x1C90, 0x1CBA, kGeorgian},
    {0x1CBD, 0x1CBF, kGeorgian},  {0x1E00, 0x1EFF, kLatin},      {0x1F00, 0x1FFF, kGreek},
    {0x2C60, 0x2C7F, kLatin},     {0x2C80, 0x2CE4, kCoptic},     {0x2CEB, 0x2CEE, kCoptic},
    {0x2CF2, 0x2CF3, kCoptic},    {0x2D00, 0x2D25, kGeorgian},   {0x2D27, 0x2D27, kGeorgian},
    {0x2D2D, 0x2D2D, kGeorgian},  {0x2D30, 0x2D67, kTifinagh},   {0x2D6F, 0x2D6F, kTifinagh},
    {0xA4D0, 0xA4FD, kLisu},      {0xA640, 0xA66E, kCyrillic},   {0xA67F, 0xA69D, kCyrillic},
    {0xA722, 0xA788, kLatin},     {0xA78B, 0xA7CA, kLatin},      {0xA7D0, 0xA7D1, kLatin},
    {0xA7D3, 0xA7D3, kLatin},     {0xA7D5, 0xA7D9, kLatin},      {0xA7F2, 0xA7FF, kLatin},
    {0xAB30, 0xAB5A, kLatin},     {0xAB5C, 0xAB69, kLatin},      {0xAB70, 0xABBF, kCherokee},
    {0xFB13, 0xFB17, kArmenian},  {0x10300, 0x1031F, kOldItalic}, {0x1032D, 0x1032F, kOldItalic},
    {0x10330, 0x10340, kGothic},  {0x10342, 0x10349, kGothic},   {0x11AB0, 0x11ABF, kSyllabics},
    {0x11FB0, 0x11FB0, kLisu},
};
int LookalikeScript(uint32_t cp) {
  for (const ScriptRun& r : kScriptRuns) {
    if (In(cp, r.first, r.last)) return r.script;
  }
  return 0;
}
bool DrawnAsAscii(uint32_t cp) {
  static constexpr uint32_t kOne[] = {
      // dashes, dots, low lines
      0xB7, 0x2024, 0x2025, 0x2027, 0x2043, 0x2212, 0x2E3A, 0x2E3B, 0xFF0D, 0xFF0E, 0xFF3F,
      // superscript digits
      0xB2, 0xB3, 0xB9,
      // ligatures and digraphs
      0x132, 0x133, 0x149, 0x1F1, 0x1F2, 0x1F3, 0x238, 0x239, 0x2A3, 0x2A6, 0x2AA, 0x2AB, 0xA74E, 0xA74F, 0xA760,
      0xA761,
      // phonetic letters drawn as ASCII, small capitals, iota, v with hook
      0x251, 0x261, 0x262, 0x269, 0x26A, 0x274, 0x276, 0x27E, 0x280, 0x281, 0x28B, 0x28F, 0x299, 0x29B, 0x29C,
      0x29F, 0x196, 0x1B2, 0xA730, 0xA731, 0xA7AE, 0xA7AF,
      // clicks, Zhuang tone letters
      0x1C0, 0x1C1, 0x1C3, 0x184, 0x185, 0x1A7, 0x1A8, 0x1BC, 0x1BD};
  for (uint32_t c : kOne) {
    if (cp == c) return true;
  }
  return In(cp, 0xFF10, 0xFF19) || In(cp, 0xFF21, 0xFF3A) || In(cp, 0xFF41, 0xFF5A) || In(cp, 0x1D400, 0x1D7FF) ||
         (Blank(cp) && cp != 0x20) || In(cp, 0x2010, 0x2015) || In(cp, 0xFE31, 0xFE34) || In(cp, 0xFE4D, 0xFE6F) ||
         In(cp, 0x2070, 0x209F) || In(cp, 0x2100, 0x218F) || In(cp, 0x2460, 0x24FF) || In(cp, 0x1F100, 0x1F1E5) ||
         (In(cp, 0x2B0, 0x2FF) && !In(cp, 0x2B9, 0x2C1)) || In(cp, 0xFB00, 0xFB06) || In(cp, 0x1C4, 0x1CC) ||
         In(cp, 0xA732, 0xA73D) || In(cp, 0x1D00, 0x1DBF);
}
bool NoLookalikes(const std::vector<CodePoint>& cps) {
  int seen = 0;
  for (const CodePoint& c : cps) {
    if (DrawnAsAscii(c.cp)) return false;
    const int script = LookalikeScript(c.cp);
    if (script != 0 && seen != 0 && script != seen) return false;
    if (script != 0) seen = script;
  }
  return true;
}

void CheckRoomName(const std::string& s) {
  std::optional<std::vector<CodePoint>> cps = Decode(s);
  bool want = cps && !Any(*cps, Hidden) && !AllBlank(*cps) && cps->size() <= kMaxRoomName &&
              !Blank(cps->front().cp) && !Blank(cps->back().cp) && NoLookalikes(*cps);
  Status st = ValidateRoomName(s);
  FUZZ_CHECK(st.ok() == want);
  CheckRefusal(st, cps.has_value(), "invalid_field");
}

// README: "room topic 0-250 characters, one line (no line break, U+2028 or
// U+2029), otherwise as a room name".
void CheckTopic(const std::string& s) {
  std::optional<std::vector<CodePoint>> cps = Decode(s);
  bool want = s.empty() || (cps && !Any(*cps, Hidden) && !AllBlank(*cps) && cps->size() <= kMaxTopic &&
                            !Blank(cps->front().cp) && !Blank(cps->back().cp));
  Status st = ValidateTopic(s);
  FUZZ_CHECK(st.ok() == want);
  CheckRefusal(st, cps.has_value(), "invalid_field");
}

// README, reactions: "1-32 bytes of UTF-8 without spaces (any Unicode blank),
// control or bidi characters, not only U+200D, U+FE0E, U+FE0F and the tags
// U+E0020-U+E007F"; validate.h: the zero-width joiner and the tags of a
// subdivision flag stay (emoji sequences are built with them), and the rest
// of what a browser draws as nothing goes, as in names.
bool EmojiOk(const std::string& s) {
  std::optional<std::vector<CodePoint>> cps = Decode(s);
  if (s.empty() || s.size() > kMaxEmoji || !cps) return false;
  auto kept = [](uint32_t cp) { return cp == 0x200D || (cp >= 0xE0020 && cp <= 0xE007F); };
  if (Any(*cps, [&](uint32_t cp) { return !kept(cp) && (Blank(cp) || Hidden(cp)); })) return false;
  return Any(*cps, [&](uint32_t cp) { return !kept(cp) && cp != 0xFE0E && cp != 0xFE0F; });
}

void CheckEmoji(const std::string& s) {
  Status st = ValidateEmoji(s);
  FUZZ_CHECK(st.ok() == EmojiOk(s));
  if (!st.ok()) FUZZ_CHECK(st.code() == Code::kInvalid && st.reason() == "invalid_emoji");
}

// README, uploads: "name: 1-200 characters, no control, bidi or zero-width
// characters, no / or \"; validate.h: not a path, so not . or .. either.
void CheckFileName(const std::string& s) {
  std::optional<std::vector<CodePoint>> cps = Decode(s);
  bool want = cps && !Any(*cps, Hidden) && !AllBlank(*cps) && cps->size() <= kMaxFileName &&
              s.find_first_of("/\\") == std::string::npos && s != "." && s != "..";
  Status st = ValidateFileName(s);
  FUZZ_CHECK(st.ok() == want);
  CheckRefusal(st, cps.has_value(), "invalid_field");
  if (st.ok()) {
    // Content-Disposition's filename* (handlers_uploads.cc): RFC 5987
    // attr-chars and %XX only, and it decodes back to the name.
    std::string encoded = PercentEncode(s, ".-_");
    FUZZ_CHECK(encoded.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_%") ==
               std::string::npos);
    FUZZ_CHECK(PercentDecode(encoded) == s);
  }
}

// validate.h: "valid UTF-8 of at most max_chars code points and no control
// character" (README: 32 for users, 64 for the room directory).
void CheckPrefix(const std::string& s, size_t max_chars) {
  std::optional<std::vector<CodePoint>> cps = Decode(s);
  bool want = cps && cps->size() <= max_chars && !Any(*cps, Control);
  Status st = ValidatePrefix(s, max_chars);
  FUZZ_CHECK(st.ok() == want);
  if (!st.ok()) FUZZ_CHECK(st.code() == Code::kInvalid && st.reason() == "invalid_field");
}

// --- percent-encoding -----------------------------------------------------

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// input.h: every %XX decoded, nullopt for a '%' not followed by two hex
// digits; then the segment goes to ValidateEmoji, as Api::React sends it.
void CheckPercent(const std::string& s) {
  std::optional<std::string> want = std::string();
  for (size_t i = 0; i < s.size() && want; ++i) {
    if (s[i] != '%') {
      *want += s[i];
    } else if (s.size() - i >= 3 && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      *want += static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2]));
      i += 2;
    } else {
      want.reset();
    }
  }
  std::optional<std::string> got = PercentDecode(s);
  FUZZ_CHECK(got == want);
  if (got) CheckEmoji(*got);
  // The SQLite URI's set (schema/db.cc): whatever is encoded decodes back.
  std::string encoded = PercentEncode(s, "-._~/");
  FUZZ_CHECK(encoded.size() <= 3 * s.size());
  FUZZ_CHECK(PercentDecode(encoded) == s);
}

// --- helpers --------------------------------------------------------------

// EscapeControls' promise (log.h): each byte as it is, or \n \r \t, or \xHH
// for the rest of C0 and DEL; cut before an escape that does not fit.
void CheckEscape(std::string_view s, size_t room) {
  std::string out(room, '\0');
  size_t len = EscapeControls(s, out.data(), room);
  FUZZ_CHECK(len <= room);
  size_t used = 0, k = 0;
  for (; k < s.size(); ++k) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    std::string form(1, static_cast<char>(c));
    if (c == '\n' || c == '\r' || c == '\t') {
      form = c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      form = hex;
    }
    if (used + form.size() > len) {
      FUZZ_CHECK(used == len && used + form.size() > room);
      break;
    }
    FUZZ_CHECK(out.compare(used, form.size(), form) == 0);
    used += form.size();
  }
  FUZZ_CHECK(used == len && (k == s.size() || room < 4 * s.size()));
  for (size_t i = 0; i < len; ++i) FUZZ_CHECK(static_cast<unsigned char>(out[i]) >= 0x20 && out[i] != 0x7F);
}

void CheckHelpers(const std::string& s, size_t room) {
  if (std::optional<std::vector<CodePoint>> cps = Decode(s)) {
    // NextCodePoint walks the text as the decoder does; the sets are the README's.
    size_t i = 0;
    for (const CodePoint& c : *cps) {
      FUZZ_CHECK(i == c.at && NextCodePoint(s, &i) == c.cp && i == c.at + c.len);
      FUZZ_CHECK(IsBlankCodePoint(c.cp) == Blank(c.cp));
    }
    FUZZ_CHECK(IsBlank(s) == AllBlank(*cps));
    for (std::string_view allowed : {"", "\t\n", "\t\n\r"}) {
      bool want = Any(*cps, [&](uint32_t cp) {
        return Control(cp) && (cp >= 0x80 || allowed.find(static_cast<char>(cp)) == std::string_view::npos);
      });
      FUZZ_CHECK(HasControl(s, allowed) == want);
    }
  }
  // CRLF and a lone CR become LF; nothing else changes.
  std::string want;
  for (size_t i = 0; i < s.size(); ++i) {
    want += s[i] == '\r' ? '\n' : s[i];
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
  }
  std::string got = s;
  NormalizeLineBreaks(&got);
  FUZZ_CHECK(got == want);
  CheckEscape(s, room);
  CheckEscape(s, 4 * s.size());
}

// The model's strings: whatever parses is spelled exactly as its ToString.
void CheckModel(const std::string& s) {
  if (auto v = ParseRoomKind(s)) FUZZ_CHECK(s == ToString(*v));
  if (auto v = ParseRole(s)) FUZZ_CHECK(s == ToString(*v));
  if (auto v = ParseAudience(s)) FUZZ_CHECK(s == ToString(*v));
  if (auto v = ParseMemberAction(s)) FUZZ_CHECK(s == ToString(*v));
  if (auto v = ParseNotifyLevel(s)) FUZZ_CHECK(s == ToString(*v));
}

// The first byte's value modulo kKinds; a seed of corpus/text/ is that byte
// (plus kKinds times the parameter) followed by the text.
enum Kind : uint8_t { kSearch, kMentions, kUsername, kRoomName, kTopic, kEmoji, kFileName, kPrefix, kPercent,
                      kHelpers, kModel, kKinds };

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const unsigned kind = data[0] % kKinds, param = data[0] / kKinds;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (kind) {
    case kSearch: CheckSearch(text); break;
    case kMentions: CheckMentions(text); break;
    case kUsername: CheckUsername(text); break;
    case kRoomName: CheckRoomName(text); break;
    case kTopic: CheckTopic(text); break;
    case kEmoji: CheckEmoji(text); break;
    case kFileName: CheckFileName(text); break;
    case kPrefix: CheckPrefix(text, param % 2 ? kMaxRoomName : kMaxUsername); break;
    case kPercent: CheckPercent(text); break;
    case kHelpers: CheckHelpers(text, param * 7); break;
    case kModel: CheckModel(text); break;
  }
  return 0;
}
