// fcgi/validate.cc: every limit of DESIGN section 3, at and just past its edge.
#include "fcgi/validate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/temp_db.h"

namespace parley::fcgi {
namespace {

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

const std::string kE = "\xC3\xA9";                // é: 2 bytes
const std::string kEuro = "\xE2\x82\xAC";         // €: 3 bytes
const std::string kSmile = "\xF0\x9F\x98\x80";    // 😀: 4 bytes

// ValidateText on a copy of s, which it may rewrite.
Status Text(std::string s) { return ValidateText(&s); }

// Unicode White_Space beyond ASCII, then the invisible U+200B-200D, U+2060
// and U+FEFF, each as UTF-8.
const std::vector<std::string> kUnicodeBlanks = {
    "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x85", "\xE2\x80\x8A",  // U+00A0 1680 2000 2005 200A
    "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80",  // U+2028 2029 202F 205F 3000
    "\xE2\x80\x8B", "\xE2\x80\x8C", "\xE2\x80\x8D", "\xE2\x81\xA0", "\xEF\xBB\xBF",  // U+200B 200C 200D 2060 FEFF
};

TEST(ValidateUsernameTest, Length) {
  EXPECT_OK(ValidateUsername("a"));
  EXPECT_OK(ValidateUsername(std::string(32, 'a')));
  EXPECT_ERROR(ValidateUsername(std::string(33, 'a')), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateUsername(""), Code::kInvalid, "invalid_field");
}

TEST(ValidateUsernameTest, Characters) {
  EXPECT_OK(ValidateUsername("Alice_b.c-9"));
  EXPECT_OK(ValidateUsername("._-"));
  for (const std::string& bad : std::vector<std::string>{"a b", "a@b", "a/b", "a\nb", "a+b", "a%b", "a;b", "a:b", "a\"b", "a'b", "a\\b",
                                std::string("a\0b", 3), "\xC3\xA9t\xC3\xA9", "a\tb", "\x7f"}) {
    EXPECT_ERROR(ValidateUsername(bad), Code::kInvalid, "invalid_field") << bad;
  }
}

TEST(ValidateUsernameTest, DotAndDotDotAreRefused) {
  EXPECT_ERROR(ValidateUsername("."), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateUsername(".."), Code::kInvalid, "invalid_field");
  EXPECT_OK(ValidateUsername("..."));
  EXPECT_OK(ValidateUsername(".a"));
  EXPECT_OK(ValidateUsername("a.."));
}

TEST(ValidateUsernameTest, HiddenCharactersAreRefused) {
  // Only ASCII letters, digits and _ . - are allowed, so every one of these is out.
  for (const char* bad : {"ali\xE2\x80\xAE" "ce", "ali\xE2\x80\x8B" "ce", "\xEF\xBB\xBF" "alice", "ali\xC2\x85" "ce"}) {
    EXPECT_ERROR(ValidateUsername(bad), Code::kInvalid, "invalid_field") << bad;
  }
}

TEST(ValidatePasswordTest, LengthInBytes) {
  EXPECT_ERROR(ValidatePassword(std::string(7, 'p')), Code::kInvalid, "invalid_field");
  EXPECT_OK(ValidatePassword(std::string(8, 'p')));
  EXPECT_OK(ValidatePassword(std::string(1024, 'p')));
  EXPECT_ERROR(ValidatePassword(std::string(1025, 'p')), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidatePassword(""), Code::kInvalid, "invalid_field");
  EXPECT_OK(ValidatePassword(Repeat(kE, 4)));                 // 4 characters, 8 bytes
  EXPECT_ERROR(ValidatePassword(Repeat(kE, 3) + "a"), Code::kInvalid, "invalid_field");  // 7 bytes
  EXPECT_OK(ValidatePassword("spaces are fine"));
}

TEST(ValidateTextTest, LengthInCodePoints) {
  EXPECT_OK(Text("x"));
  EXPECT_OK(Text(std::string(4000, 'x')));
  EXPECT_ERROR(Text(std::string(4001, 'x')), Code::kInvalid, "invalid_field");
  EXPECT_OK(Text(Repeat(kE, 4000)));       // 8000 bytes
  EXPECT_ERROR(Text(Repeat(kE, 4001)), Code::kInvalid, "invalid_field");
  EXPECT_OK(Text(Repeat(kEuro, 4000)));    // 12000 bytes
  EXPECT_ERROR(Text(Repeat(kEuro, 4001)), Code::kInvalid, "invalid_field");
  EXPECT_OK(Text(Repeat(kSmile, 4000)));   // 16000 bytes
  EXPECT_ERROR(Text(Repeat(kSmile, 4001)), Code::kInvalid, "invalid_field");
  EXPECT_OK(Text(Repeat(kSmile, 3999) + "x"));
}

TEST(ValidateTextTest, BlankAndControlCharacters) {
  EXPECT_ERROR(Text(""), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(Text(" "), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(Text(" \t\r\n "), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(Text("\x1b[2Jgotcha"), Code::kInvalid, "invalid_field");  // ESC
  EXPECT_ERROR(Text(std::string("a\0b", 3)), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(Text("a\x07" "b"), Code::kInvalid, "invalid_field");  // BEL
  EXPECT_ERROR(Text("a\x7f" "b"), Code::kInvalid, "invalid_field");  // DEL
  EXPECT_OK(Text("line one\nline two"));
  EXPECT_OK(Text("a\tb"));
  EXPECT_OK(Text("windows\r\nline"));
  EXPECT_OK(Text("  padded  "));
}

TEST(ValidateTextTest, Utf8) {
  EXPECT_ERROR(Text("bad \xC3\x28"), Code::kInvalid, "invalid_utf8");
  EXPECT_ERROR(Text("\xED\xA0\x80"), Code::kInvalid, "invalid_utf8");
  EXPECT_ERROR(Text("\xC0\x80"), Code::kInvalid, "invalid_utf8");
  EXPECT_OK(Text("caf" + kE + " " + kEuro + " " + kSmile));
}

TEST(ValidateTextTest, CrLfAndLoneCrBecomeNewlinesBeforeTheOtherChecks) {
  std::string s = "one\r\ntwo\rthree\r\r\nfour\n";
  EXPECT_OK(ValidateText(&s));
  EXPECT_EQ(s, "one\ntwo\nthree\n\nfour\n");
  // The length counts the normalised text: 2000 CRLFs are 2000 characters.
  EXPECT_OK(Text(Repeat("x\r\n", 2000)));
  EXPECT_ERROR(Text(Repeat("x\r\n", 2000) + "x"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(Text("\r"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(Text("\r\n\r \r"), Code::kInvalid, "invalid_field");
}

TEST(ValidateTextTest, C1ControlsAreRefusedAsOtherControls) {
  for (const char* c1 : {"\xC2\x80", "\xC2\x85", "\xC2\x9B", "\xC2\x9F"}) {
    EXPECT_ERROR(Text(std::string("a") + c1 + "b"), Code::kInvalid, "invalid_field") << c1;
  }
  EXPECT_ERROR(Text("\xC2\x9B" "2Jgotcha"), Code::kInvalid, "invalid_field");  // U+009B: CSI
  EXPECT_OK(Text("a\xC2\xA1" "b"));  // U+00A1, just past them
}

TEST(ValidateTextTest, UnicodeWhitespaceAndInvisibleCharactersAloneAreBlank) {
  std::string all;
  for (const std::string& b : kUnicodeBlanks) {
    EXPECT_ERROR(Text(b), Code::kInvalid, "invalid_field") << b;
    EXPECT_ERROR(Text(" " + b + "\n" + b), Code::kInvalid, "invalid_field") << b;
    EXPECT_OK(Text(b + "x" + b)) << b;
    all += b;
  }
  EXPECT_ERROR(Text(all), Code::kInvalid, "invalid_field");
}

// Names that pass for others: letters of two of Latin, Greek and Cyrillic,
// fullwidth letters and digits. One script alone, and the others, pass.
TEST(ValidateRoomNameTest, LookalikesAreRefused) {
  for (const char* bad : {"g\xD0\xB5neral",                          // Cyrillic e
                          "g\xCE\xBFod",                             // Greek omicron
                          "\xD0\xB0\xCE\xB1",                        // Cyrillic a, Greek alpha
                          "\xEF\xBD\x87\xEF\xBD\x85\xEF\xBD\x8E",  // fullwidth gen
                          "room \xEF\xBC\x91"}) {                   // fullwidth 1
    EXPECT_ERROR(ValidateRoomName(bad), Code::kInvalid, "invalid_field") << bad;
  }
  for (const char* good : {"\xD0\xB3\xD0\xB5\xD0\xBD\xD0\xB5\xD1\x80\xD0\xB0\xD0\xBB",  // генерал
                           "\xCE\xB1\xCE\xB8\xCE\xAE\xCE\xBD\xCE\xB1",                     // αθήνα
                           "caf\xC3\xA9 \xE6\x9D\xB1\xE4\xBA\xAC",                           // café 東京
                           "\xE6\x9D\xB1\xE4\xBA\xAC\xEF\xBC\x88\xE6\x9C\xAC\xEF\xBC\x89",  // 東京（本）
                           "\xCE\xA9 2"}) {                                                    // Greek Omega alone
    EXPECT_OK(ValidateRoomName(good)) << good;
  }
  // The ohm sign U+2126 is a letterlike symbol, refused: Greek's Ω is the letter.
  EXPECT_ERROR(ValidateRoomName("team \xE2\x84\xA6 2"), Code::kInvalid, "invalid_field");
}

// Characters drawn as an ASCII one but not folded by the store's look-alike
// form, so each made a name that passed for a taken one: `Team‐Chat` for
// Team-Chat, `ɡeneral` for general.
TEST(ValidateRoomNameTest, CharactersDrawnAsAsciiAreRefused) {
  const std::vector<std::string> bad = {
      // Hyphens, dashes, minus signs (U+2010-2015, 2212, FE63, FF0D), middle dot.
      "\xE2\x80\x90", "\xE2\x80\x91", "\xE2\x80\x92", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95",
      "\xE2\x88\x92", "\xEF\xB9\xA3", "\xEF\xBC\x8D", "\xC2\xB7",
      // Blanks other than U+0020 inside a name: U+00A0 1680 2000 2005 200A 202F 205F 3000.
      "\xC2\xA0", "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x85", "\xE2\x80\x8A", "\xE2\x80\xAF",
      "\xE2\x81\x9F", "\xE3\x80\x80",
      // Mathematical alphanumerics U+1D683 (monospace T), U+1D7CE, U+1D7FF.
      "\xF0\x9D\x9A\x83", "\xF0\x9D\x9F\x8E", "\xF0\x9D\x9F\xBF",
      // IPA drawn as ASCII: U+0261 script g, 0251 alpha, 027E r, small capitals 026A and 029F.
      "\xC9\xA1", "\xC9\x91", "\xC9\xBE", "\xC9\xAA", "\xCA\x9F",
      // Phonetic extensions U+1D00, 1D4D, 1DBF; click letters U+01C0, 01C3.
      "\xE1\xB4\x80", "\xE1\xB5\x8D", "\xE1\xB6\xBF", "\xC7\x80", "\xC7\x83",
  };
  for (const std::string& c : bad) {
    EXPECT_ERROR(ValidateRoomName("Team" + c + "Chat"), Code::kInvalid, "invalid_field") << c;
  }
  EXPECT_EQ(ValidateRoomName("Team\xC2\xA0" "Chat").message(), "name must not use spaces other than the ASCII space");
  // A blank at either end is told as before.
  EXPECT_EQ(ValidateRoomName("\xC2\xA0general").message(), "name must not begin or end with a space");
  // The other IPA letters are Latin ones for the mixing rule: `ə` with a Cyrillic а.
  EXPECT_ERROR(ValidateRoomName("\xC9\x99\xD0\xB0"), Code::kInvalid, "invalid_field");
  for (const char* good : {"Team-Chat", "Team Chat", "Team.Chat",
                           "Az\xC9\x99rbaycan",                      // Azerbaijani schwa
                           "K\xC4\xB1rm\xC4\xB1z\xC4\xB1",          // Turkish dotless i
                           "\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x83\xBB"}) {  // katakana middle dot U+30FB
    EXPECT_OK(ValidateRoomName(good)) << good;
  }
}

// UTS #39's "highly restrictive" idea, narrowed to the scripts that have
// Latin look-alikes: a letter of one of them beside a letter of another
// (Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee, Lisu, Coptic,
// Tifinagh, Canadian Syllabics, Runic, Old Italic, Gothic) is refused.
TEST(ValidateRoomNameTest, LettersOfTwoLookalikeScriptsAreRefused) {
  for (const char* bad : {
      "g\xD6\x85od",  // Armenian oh U+0585 in gօod
      "\xE1\x8E\xAApple",  // Cherokee GO U+13AA (A)
      "\xEA\xAE\x93oo",  // Cherokee small NO U+AB93 (z)
      "\xEA\x93\xAEpple",  // Lisu A U+A4EE
      "a\xEA\x93\xB8" "b",  // Lisu tone letter U+A4F8 (.)
      "g\xE2\xB2\x9Fod",  // Coptic o U+2C9F
      "\xE1\x83\xA7" "es",  // Georgian QAR U+10E7 (y)
      "\xE1\xB2\x90" "a",  // Georgian Mtavruli U+1C90
      "\xE2\xB4\x80" "a",  // Georgian Nuskhuri U+2D00
      "\xE2\xB5\x94K",  // Tifinagh YAR U+2D54 (O)
      "\xE1\x90\xAFote",  // Canadian Syllabics PE U+142F (V)
      "x\xE1\xA2\xB0",  // Canadian Syllabics Extended U+18B0
      "\xF0\x91\xAA\xB0x",  // Canadian Syllabics Extended-A U+11AB0
      "\xE1\x9B\x92ob",  // Runic B U+16D2
      "\xF0\x90\x8C\x80x",  // Old Italic A U+10300
      "\xF0\x90\x8C\xBAx",  // Gothic KUSMA U+1033A (K)
      "g\xE1\xB2\x82od",  // Cyrillic narrow o U+1C82
      "\xEA\x99\xA9x",  // Cyrillic monocular o U+A669
      "\xEF\xAC\x93x",  // Armenian ligature U+FB13
      "\xD6\x85\xE1\x83\xA7",  // Armenian beside Georgian
      "\xEA\x9D\xBA\xD0\xB0",  // Latin Extended-D U+A77A beside Cyrillic a
  }) {
    EXPECT_ERROR(ValidateRoomName(bad), Code::kInvalid, "invalid_field") << bad;
  }
  EXPECT_EQ(ValidateRoomName("g\xD6\x85od").message(),
            "name must not mix the letters of Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee or other scripts "
            "that look alike");
  // A name wholly in one of them stays (whole-script look-alikes are a
  // known gap); scripts with no Latin look-alike still mix with Latin, as
  // Japanese names do; the digits and punctuation of these scripts are no
  // letters of them.
  for (const char* good : {
      "Tokyo \xE3\x81\xAE\xE9\x83\xA8\xE5\xB1\x8B",  // Tokyo の部屋: Latin, hiragana, Han
      "\xE3\x83\x91\xE3\x83\xBC\xE3\x83\x86\xE3\x82\xA3\xE3\x83\xBC Party 2024",  // パーティー Party: katakana
      "Seoul \xEC\x84\x9C\xEC\x9A\xB8",  // 서울: Hangul
      "\xE3\x84\x85\xE3\x84\x86 bopomofo",  // ㄅㄆ: Bopomofo
      "\xD5\x80\xD5\xA1\xD5\xB5\xD5\xA1\xD5\xBD\xD5\xBF\xD5\xA1\xD5\xB6",  // Հայաստան: Armenian alone
      "\xD5\x80\xD5\xA1\xD5\xB5\xD6\x89 2024",  // Armenian, its full stop U+0589, digits
      "Why\xD5\x9E ok\xD5\x9D",  // Armenian question mark, comma beside Latin
      "\xE1\x83\xA1\xE1\x83\x90\xE1\x83\xA5\xE1\x83\x90\xE1\x83\xA0"
      "\xE1\x83\x97\xE1\x83\x95\xE1\x83\x94\xE1\x83\x9A\xE1\x83\x9D",  // საქართველო: Georgian alone
      "\xE1\x8F\xA3\xE1\x8E\xB3\xE1\x8E\xA9",  // ᏣᎳᎩ: Cherokee alone
      "\xE1\x90\x83\xE1\x93\x84\xE1\x92\x83\xE1\x91\x8E\xE1\x91\x90\xE1\x91\xA6",  // ᐃᓄᒃᑎᑐᑦ: Syllabics alone
      "abc\xE2\xB3\xBE",  // Coptic full stop U+2CFE beside Latin
      "ab\xE2\xB5\xB0" "cd",  // Tifinagh separator U+2D70 beside Latin
      "\xE6\x9D\xB1\xE4\xBA\xAC \xE1\x8F\xA3\xE1\x8E\xB3\xE1\x8E\xA9",  // Cherokee beside Han
  }) {
    EXPECT_OK(ValidateRoomName(good)) << good;
  }
}

// Compatibility characters drawn as ASCII ones: letterlike symbols, number
// forms, enclosed and superscript letters and digits; dots, dashes and low
// lines beyond U+2010-2015; modifier letters; ligatures and digraphs; more
// phonetic letters drawn as ASCII ones.
TEST(ValidateRoomNameTest, CompatibilityCharactersDrawnAsAsciiAreRefused) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> classes = {
      {"name must not use letterlike symbols, number forms, or enclosed, superscript or subscript letters and digits",
       {
           // U+2113 ℓ, U+212F ℯ, U+212A Kelvin, U+2122 TM, U+2116 numero, U+2103 degree C, U+2100 account of,
           // U+214F (block's last), U+2150 1/7, U+2153 1/3, U+2160 Roman I, U+216C Roman L, U+2189 0/3,
           // U+218F (block's last), U+2460 circled 1, U+2488 1 full stop, U+24D6 circled g, U+24FF negative
           // circled 0, U+1F100 0 full stop, U+1F130 squared A, U+1F170 negative squared A, U+1F197 squared OK,
           // U+1F1E5 (before the regional indicators), U+00B2 superscript 2, U+00B3 superscript 3, U+00B9
           // superscript 1, U+2070 superscript 0, U+2071 superscript i, U+207F superscript n, U+2082 subscript 2,
           // U+2090 subscript a, U+209F (block's last)
           "\xE2\x84\x93", "\xE2\x84\xAF", "\xE2\x84\xAA", "\xE2\x84\xA2", "\xE2\x84\x96", "\xE2\x84\x83",
           "\xE2\x84\x80", "\xE2\x85\x8F", "\xE2\x85\x90", "\xE2\x85\x93", "\xE2\x85\xA0", "\xE2\x85\xAC",
           "\xE2\x86\x89", "\xE2\x86\x8F", "\xE2\x91\xA0", "\xE2\x92\x88", "\xE2\x93\x96", "\xE2\x93\xBF",
           "\xF0\x9F\x84\x80", "\xF0\x9F\x84\xB0", "\xF0\x9F\x85\xB0", "\xF0\x9F\x86\x97", "\xF0\x9F\x87\xA5",
           "\xC2\xB2", "\xC2\xB3", "\xC2\xB9", "\xE2\x81\xB0", "\xE2\x81\xB1", "\xE2\x81\xBF", "\xE2\x82\x82",
           "\xE2\x82\x90", "\xE2\x82\x9F"
       }},
      {"name must not use Unicode dashes, dots or low lines; use - . or _",
       {
           // U+2024 one dot leader, U+2025 two dot leader, U+2027 hyphenation point, U+2043 hyphen bullet, U+2E3A
           // two-em dash, U+2E3B three-em dash, U+FE50 small comma, U+FE52 small full stop, U+FE58 small em dash,
           // U+FE6F end of Small Form Variants, U+FF0E fullwidth full stop, U+FF3F fullwidth low line, U+FE4D
           // dashed low line, U+FE4F wavy low line, U+FE31 vertical em dash, U+FE34 vertical wavy low line
           "\xE2\x80\xA4", "\xE2\x80\xA5", "\xE2\x80\xA7", "\xE2\x81\x83", "\xE2\xB8\xBA", "\xE2\xB8\xBB",
           "\xEF\xB9\x90", "\xEF\xB9\x92", "\xEF\xB9\x98", "\xEF\xB9\xAF", "\xEF\xBC\x8E", "\xEF\xBC\xBF",
           "\xEF\xB9\x8D", "\xEF\xB9\x8F", "\xEF\xB8\xB1", "\xEF\xB8\xB4"
       }},
      {"name must not use modifier letters or signs (superscripts, accents, tone bars)",
       {
           // U+02B0 ʰ, U+02B8 ʸ, U+02C2 ˂, U+02C6 ˆ, U+02CD ˍ, U+02D0 ː, U+02D7 ˗, U+02DC ˜, U+02E1 ˡ, U+02E3 ˣ,
           // U+02E5 ˥, U+02EE ˮ, U+02FF (block's last)
           "\xCA\xB0", "\xCA\xB8", "\xCB\x82", "\xCB\x86", "\xCB\x8D", "\xCB\x90", "\xCB\x97", "\xCB\x9C",
           "\xCB\xA1", "\xCB\xA3", "\xCB\xA5", "\xCB\xAE", "\xCB\xBF"
       }},
      {"name must not use ligatures or digraph letters; write the letters apart",
       {
           // U+FB00 ff, U+FB01 fi, U+FB06 st, U+0132 IJ, U+0133 ij, U+0149 'n, U+01C4 DŽ, U+01C9 lj, U+01CC nj,
           // U+01F1 DZ, U+01F3 dz, U+0238 db, U+0239 qp, U+02A3 dz, U+02A6 ts, U+02AA ls, U+02AB lz, U+A732 AA,
           // U+A73D ay, U+A74E OO, U+A74F oo, U+A760 VY, U+A761 vy
           "\xEF\xAC\x80", "\xEF\xAC\x81", "\xEF\xAC\x86", "\xC4\xB2", "\xC4\xB3", "\xC5\x89", "\xC7\x84",
           "\xC7\x89", "\xC7\x8C", "\xC7\xB1", "\xC7\xB3", "\xC8\xB8", "\xC8\xB9", "\xCA\xA3", "\xCA\xA6",
           "\xCA\xAA", "\xCA\xAB", "\xEA\x9C\xB2", "\xEA\x9C\xBD", "\xEA\x9D\x8E", "\xEA\x9D\x8F", "\xEA\x9D\xA0",
           "\xEA\x9D\xA1"
       }},
      {"name must not use phonetic letters drawn as ASCII ones or small capitals, click letters or tone letters",
       {
           // U+028B ʋ, U+01B2 Ʋ, U+0269 ɩ, U+0196 Ɩ, U+0276 ɶ, U+0281 ʁ, U+029B ʛ, U+A730 ꜰ, U+A731 ꜱ, U+A7AE Ɪ,
           // U+A7AF ꞯ, U+01A7 Ƨ, U+01A8 ƨ, U+01BC Ƽ, U+01BD ƽ, U+0184 Ƅ, U+0185 ƅ
           "\xCA\x8B", "\xC6\xB2", "\xC9\xA9", "\xC6\x96", "\xC9\xB6", "\xCA\x81", "\xCA\x9B", "\xEA\x9C\xB0",
           "\xEA\x9C\xB1", "\xEA\x9E\xAE", "\xEA\x9E\xAF", "\xC6\xA7", "\xC6\xA8", "\xC6\xBC", "\xC6\xBD",
           "\xC6\x84", "\xC6\x85"
       }},
  };
  for (const auto& [message, characters] : classes) {
    for (const std::string& c : characters) {
      Status st = ValidateRoomName("Team" + c + "Chat");
      EXPECT_ERROR(st, Code::kInvalid, "invalid_field") << c;
      EXPECT_EQ(st.message(), message) << c;
    }
  }
  // Kept: the ellipsis (smart punctuation types it for "..."), flags,
  // the ideographic full stop, the apostrophe letters U+02B9-02C1, the
  // ordinal indicators, the other fullwidth punctuation, and the neighbours
  // of the refused blocks.
  for (const char* good : {
      "Team\xE2\x80\xA6" "Chat",  // the ellipsis U+2026, kept
      "Hi\xE2\x80\xA6",  // the ellipsis at the end
      "\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5 Japan",  // a flag: regional indicators J P
      "\xF0\x9F\x87\xA6\xF0\x9F\x87\xBF",  // the first and last regional indicators
      "\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x80\x82\xE5\xA4\xA7\xE9\x98\xAA",  // 東京。大阪: ideographic full stop U+3002
      "Hawai\xCA\xBBi",  // ʻokina U+02BB
      "\xD0\x9C\xCA\xBC\xD1\x8F\xD1\x82\xD0\xB0",  // Мʼята: Ukrainian apostrophe U+02BC
      "Ka\xCA\xBF" "ba",  // ʿ U+02BF
      "1\xC2\xBA piso",  // ordinal indicator U+00BA
      "Team\xEF\xBC\x88" "A\xEF\xBC\x89",  // fullwidth parentheses
      "Q\xEF\xBC\x86" "A\xEF\xBC\x81",  // fullwidth ampersand, exclamation mark
      "a\xE2\x86\x90" "b",  // U+2190 arrow after Number Forms
      "a\xE2\x82\xAC" "b",  // U+20AC after Superscripts and Subscripts
      "\xF0\x9F\x88\x81 koko",  // U+1F201 after the Enclosed Alphanumeric Supplement
      "a\xEF\xB8\xB0" "b",  // U+FE30 vertical two dot leader
  }) {
    EXPECT_OK(ValidateRoomName(good)) << good;
  }
}

TEST(ValidateRoomNameTest, Limits) {
  EXPECT_OK(ValidateRoomName("general"));
  EXPECT_OK(ValidateRoomName("Room with spaces"));
  EXPECT_OK(ValidateRoomName(std::string(64, 'r')));
  EXPECT_ERROR(ValidateRoomName(std::string(65, 'r')), Code::kInvalid, "invalid_field");
  EXPECT_OK(ValidateRoomName(Repeat(kEuro, 64)));
  EXPECT_ERROR(ValidateRoomName(Repeat(kEuro, 65)), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateRoomName(""), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateRoomName("   "), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateRoomName("a\tb"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateRoomName("a\nb"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateRoomName("\x1b[31mred"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateRoomName(std::string("a\0b", 3)), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateRoomName("a\x7f"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateRoomName("bad \xC3\x28"), Code::kInvalid, "invalid_utf8");
}

TEST(ValidateRoomNameTest, BidiZeroWidthAndC1CharactersAreRefused) {
  // Each as UTF-8, between ordinary letters.
  const std::vector<std::string> bad = {
      "\xE2\x80\xAA", "\xE2\x80\xAB", "\xE2\x80\xAC", "\xE2\x80\xAD", "\xE2\x80\xAE",  // U+202A-202E
      "\xE2\x81\xA6", "\xE2\x81\xA7", "\xE2\x81\xA8", "\xE2\x81\xA9",                    // U+2066-2069
      "\xE2\x80\x8E", "\xE2\x80\x8F", "\xD8\x9C",                                          // U+200E/200F, U+061C
      "\xE2\x80\x8B", "\xE2\x80\x8C", "\xE2\x80\x8D", "\xE2\x81\xA0", "\xEF\xBB\xBF",  // zero-width
      "\xC2\x80", "\xC2\x85", "\xC2\x9F",                                                  // C1 controls
      // The rest of Default_Ignorable_Code_Point: soft hyphen, grapheme joiner,
      // Hangul fillers, Khmer vowels, Mongolian selectors, invisible operators
      // and U+2065-206F, variation selectors, tags and their supplement.
      "\xC2\xAD", "\xCD\x8F", "\xE1\x85\x9F", "\xE1\x85\xA0", "\xE3\x85\xA4", "\xEF\xBE\xA0",
      "\xE1\x9E\xB4", "\xE1\xA0\x8B", "\xE1\xA0\x8F", "\xE2\x81\xA1", "\xE2\x81\xA4", "\xE2\x81\xA5",
      "\xE2\x81\xAA", "\xE2\x81\xAF", "\xEF\xB8\x80", "\xEF\xB8\x8D", "\xEF\xBF\xB0", "\xF0\x9B\xB2\xA0",
      "\xF0\x9D\x85\xB3", "\xF3\xA0\x80\x81", "\xF3\xA0\x84\x80", "\xF3\xA0\xBF\xBF",
      // Line and paragraph separators, interlinear annotation.
      "\xE2\x80\xA8", "\xE2\x80\xA9", "\xEF\xBF\xB9", "\xEF\xBF\xBB",
  };
  for (const std::string& c : bad) {
    EXPECT_ERROR(ValidateRoomName("ab" + c + "cd"), Code::kInvalid, "invalid_field") << c.size();
    EXPECT_ERROR(ValidateRoomName(c + "name"), Code::kInvalid, "invalid_field") << c.size();
  }
  // Their neighbours, and ordinary non-Latin names and emoji, are fine.
  // (U+2027 and U+2070, beside U+2028 and U+206F, are refused in a room
  // name as drawn as ASCII: a file name, checked for hidden characters
  // alike, takes them.)
  EXPECT_OK(ValidateFileName("x\xE2\x80\xA7x"));
  EXPECT_OK(ValidateFileName("\xE2\x81\xB0x"));
  for (const char* ok : {"\xE2\x81\x9Ex",
                         "\xD8\x9Bx", "\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A", "caf\xC3\xA9", "x\xC2\xACx", "\xEF\xB8\x90x",
                         "\xF0\x9F\x98\x80 room", "\xE6\x97\xA5\xE6\x9C\xAC",
                         "\xE2\x98\x95\xEF\xB8\x8F coffee", "\xE2\x9C\x8F\xEF\xB8\x8E notes"}) {  // U+FE0F/FE0E
    EXPECT_OK(ValidateRoomName(ok)) << ok;
  }
}

TEST(ValidateTopicTest, OneShownLineOrNothing) {
  EXPECT_OK(ValidateTopic(""));  // no topic
  EXPECT_OK(ValidateTopic("Tuesdays at 6, room 4: bring your questions"));
  EXPECT_OK(ValidateTopic(std::string(250, 't')));
  EXPECT_OK(ValidateTopic(Repeat(kEuro, 250)));
  EXPECT_OK(ValidateTopic("caf\xC3\xA9 \xF0\x9F\x98\x80 and a\xC2\xA0non-breaking space"));
  EXPECT_ERROR(ValidateTopic(std::string(251, 't')), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateTopic(Repeat(kEuro, 251)), Code::kInvalid, "invalid_field");
  for (const char* bad : {"   ", "\xC2\xA0", " lead", "trail ", "two\nlines", "two\r\nlines", "a\tb",
                          "x\xE2\x80\xA8y", "x\xE2\x80\xA9y", "\x1b[31mred", "a\x7f", "ab\xE2\x80\xAE" "cd",
                          "zero\xE2\x80\x8Bwidth", "c1\xC2\x85"}) {
    EXPECT_ERROR(ValidateTopic(bad), Code::kInvalid, "invalid_field") << bad;
  }
  EXPECT_ERROR(ValidateTopic(std::string("a\0b", 3)), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateTopic("bad \xC3\x28"), Code::kInvalid, "invalid_utf8");
}

TEST(ValidateRoomNameTest, UnicodeWhitespaceAloneIsBlank) {
  EXPECT_ERROR(ValidateRoomName("\xC2\xA0\xC2\xA0"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateRoomName("\xE3\x80\x80"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateFileName("\xE2\x80\x83\xE2\x80\x83"), Code::kInvalid, "invalid_field");  // U+2003
}

TEST(ValidateRoomNameTest, LeadingOrTrailingWhitespaceIsRefused) {
  for (const std::string& space : {std::string(" "), std::string("\xC2\xA0"), std::string("\xE3\x80\x80"),
                                   std::string("\xE2\x80\xA8"), std::string("\xE1\x9A\x80")}) {
    EXPECT_ERROR(ValidateRoomName("qa1" + space), Code::kInvalid, "invalid_field") << space;
    EXPECT_ERROR(ValidateRoomName(space + "qa1"), Code::kInvalid, "invalid_field") << space;
    // Inside, only the ASCII space (CharactersDrawnAsAsciiAreRefused).
    if (space == " ") {
      EXPECT_OK(ValidateRoomName("qa" + space + "1")) << space;
    } else {
      EXPECT_ERROR(ValidateRoomName("qa" + space + "1"), Code::kInvalid, "invalid_field") << space;
    }
  }
  EXPECT_ERROR(ValidateRoomName("qa\xE2\x80\xA8" "1"), Code::kInvalid, "invalid_field");
  EXPECT_OK(ValidateRoomName("x"));
  EXPECT_OK(ValidateRoomName(kSmile));
  EXPECT_OK(ValidateRoomName("caf" + kE));
}

TEST(ValidateClientIdTest, PrintableAscii) {
  EXPECT_OK(ValidateClientId("a"));
  EXPECT_OK(ValidateClientId(std::string(64, 'c')));
  EXPECT_OK(ValidateClientId("550e8400-e29b-41d4-a716-446655440000"));
  EXPECT_OK(ValidateClientId("!~{}"));
  EXPECT_ERROR(ValidateClientId(std::string(65, 'c')), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateClientId(""), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateClientId("a b"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateClientId("a\tb"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateClientId("a\x7f"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateClientId(kE), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateClientId(std::string("a\0b", 3)), Code::kInvalid, "invalid_field");
}

TEST(ValidateEmojiTest, OneToThirtyTwoBytesWithoutControls) {
  EXPECT_OK(ValidateEmoji("\xF0\x9F\x91\x8D"));  // thumbs up
  EXPECT_OK(ValidateEmoji("ok"));
  EXPECT_OK(ValidateEmoji("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"));  // joined by U+200D
  EXPECT_OK(ValidateEmoji(std::string(32, 'x')));
  // A subdivision flag: U+1F3F4 and tags (England, 28 bytes); the tags
  // alone show nothing.
  const std::string tags = "\xF3\xA0\x81\xA7\xF3\xA0\x81\xA2\xF3\xA0\x81\xA5\xF3\xA0\x81\xAE"
                           "\xF3\xA0\x81\xA7\xF3\xA0\x81\xBF";
  EXPECT_OK(ValidateEmoji("\xF0\x9F\x8F\xB4" + tags));
  EXPECT_ERROR(ValidateEmoji(tags), Code::kInvalid, "invalid_emoji");
  for (const std::string& bad : {std::string(), std::string(33, 'x'), std::string("a b"), std::string("\x01"),
                                 std::string("\x7F"), std::string("\xFF"), std::string("\xE2\x80\xAE"),
                                 std::string("\xC2\x85"), std::string("\xF0\x9F")}) {
    Status st = ValidateEmoji(bad);
    EXPECT_EQ(st.code(), Code::kInvalid) << bad;
    EXPECT_EQ(st.reason(), "invalid_emoji") << bad;
  }
}

// "Without spaces" means every Unicode blank: U+3000 or U+00A0 was a
// reaction that shows as nothing.
TEST(ValidateEmojiTest, UnicodeSpacesAreRefused) {
  for (const std::string& bad : {std::string("\xE3\x80\x80"), std::string("\xC2\xA0"), std::string("\xE2\x80\x83"),
                                 std::string("\xE1\x9A\x80"), std::string("\xE2\x80\xAF"), std::string("\xE2\x81\x9F"),
                                 std::string("\xE2\x80\xA8"), std::string("x\xC2\xA0y"), std::string("\xE2\x80\x8D\xE3\x80\x80")}) {
    EXPECT_ERROR(ValidateEmoji(bad), Code::kInvalid, "invalid_emoji") << bad;
  }
  EXPECT_OK(ValidateEmoji("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"));  // U+200D stays a joiner
}

TEST(ValidateEmojiTest, JoinersAndVariationSelectorsAloneAreRefused) {
  const std::string zwj = "\xE2\x80\x8D", vs15 = "\xEF\xB8\x8E", vs16 = "\xEF\xB8\x8F";
  for (const std::string& bad : {zwj, vs15, vs16, zwj + zwj, vs16 + zwj + vs15, Repeat(vs16, 10)}) {
    EXPECT_ERROR(ValidateEmoji(bad), Code::kInvalid, "invalid_emoji") << bad.size();
  }
  EXPECT_OK(ValidateEmoji("\xE2\x9D\xA4" + vs16));  // U+2764 U+FE0F: a red heart
  EXPECT_OK(ValidateEmoji(zwj + "x"));
}

TEST(ValidatePrefixTest, ValidUtf8OfAtMostSoManyCharactersWithoutControls) {
  EXPECT_OK(ValidatePrefix("", 32));
  EXPECT_OK(ValidatePrefix(std::string(32, 'a'), 32));
  EXPECT_OK(ValidatePrefix(Repeat(kEuro, 32), 32));  // characters, not bytes
  EXPECT_ERROR(ValidatePrefix(std::string(33, 'a'), 32), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidatePrefix("\xFF", 32), Code::kInvalid, "invalid_field");
  // A NUL reached PostgreSQL as a parameter it refuses (400 naming "parameter
  // 1"), where SQLite answered an empty list.
  EXPECT_ERROR(ValidatePrefix(std::string("a\0", 2), 32), Code::kInvalid, "invalid_field");
  for (const char* bad : {"\x01", "a\tb", "\x7F", "\xC2\x85"}) {
    EXPECT_ERROR(ValidatePrefix(bad, 64), Code::kInvalid, "invalid_field") << bad;
  }
}

TEST(ValidateFileNameTest, NamesNotPaths) {
  EXPECT_OK(ValidateFileName("photo.png"));
  EXPECT_OK(ValidateFileName(kE + "t" + kE + " " + kSmile + ".jpg"));
  EXPECT_OK(ValidateFileName(std::string(200, 'a')));
  EXPECT_ERROR(ValidateFileName(std::string(201, 'a')), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateFileName(""), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateFileName("  "), Code::kInvalid, "invalid_field");
  for (const char* bad : {"a/b", "/etc/passwd", "a\\b", ".", ".."}) {
    EXPECT_ERROR(ValidateFileName(bad), Code::kInvalid, "invalid_field") << bad;
  }
  EXPECT_ERROR(ValidateFileName("a\tb"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(ValidateFileName("evil\xE2\x80\xAEgnp.exe"), Code::kInvalid, "invalid_field");  // U+202E
  EXPECT_ERROR(ValidateFileName("a\xE2\x80\x8B.png"), Code::kInvalid, "invalid_field");        // U+200B
  EXPECT_ERROR(ValidateFileName("\xFF.png"), Code::kInvalid, "invalid_utf8");
}

}  // namespace
}  // namespace parley::fcgi
