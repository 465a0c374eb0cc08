#include "fcgi/validate.h"

#include <cstdint>
#include <span>
#include <string>

#include "fcgi/input.h"

namespace parley::fcgi {
namespace {

// C0 and C1 controls and DEL: they let text rewrite a terminal client's
// screen (ESC sequences, and U+009B, the one-byte CSI of 8-bit terminals) or
// confuse line-based tools.
bool IsControl(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// Code points that let a name look like another or rewrite what is around
// it where it is shown: C0 and C1 controls, DEL, and Unicode's
// Default_Ignorable_Code_Point set (DerivedCoreProperties.txt), which a
// renderer draws as nothing: the bidi embeddings, overrides, isolates and
// marks ("Trojan Source" reordering), the zero-width characters, the soft
// hyphen, invisible operators, fillers, variation selectors and tags, so
// "gen\u2063eral" cannot pass for "general". Kept: U+FE0E/FE0F, which pick
// an emoji's text or colour form. Also refused: the line and paragraph
// separators and the interlinear annotation marks (U+2028/2029,
// U+FFF9-FFFB), which break a name across lines or hide part of it.
bool IsHiddenOrControl(uint32_t cp) {
  if (IsControl(cp)) return true;
  if (cp == 0xFE0E || cp == 0xFE0F) return false;
  return cp == 0x00AD || cp == 0x034F || cp == 0x061C || cp == 0x115F || cp == 0x1160 || cp == 0x17B4 ||
         cp == 0x17B5 || (cp >= 0x180B && cp <= 0x180F) || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) || cp == 0x3164 ||
         (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF || cp == 0xFFA0 || (cp >= 0xFFF0 && cp <= 0xFFFB) ||
         (cp >= 0x1BCA0 && cp <= 0x1BCA3) || (cp >= 0x1D173 && cp <= 0x1D17A) || (cp >= 0xE0000 && cp <= 0xE0FFF) ||
         cp == 0x2028 || cp == 0x2029;
}

// s is valid UTF-8 (checked first by the caller).
bool HasHiddenOrControl(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (IsHiddenOrControl(NextCodePoint(s, &i))) return true;
  }
  return false;
}

// A name that begins or ends with a blank code point reads as the same name
// without it ("qa1 " beside "qa1"). s is valid UTF-8 and not empty.
bool HasOuterBlank(std::string_view s) {
  size_t i = 0;
  if (IsBlankCodePoint(NextCodePoint(s, &i))) return true;
  size_t last = s.size() - 1;
  while (last > 0 && (static_cast<unsigned char>(s[last]) & 0xC0) == 0x80) --last;
  return IsBlankCodePoint(NextCodePoint(s, &last));
}

// A variation selector (U+FE0E/FE0F) or zero-width joiner only modifies or
// joins what is around it: alone it is no emoji.
// The tag characters (U+E0020-U+E007F) that spell a subdivision flag after
// U+1F3F4 (England: 1F3F4 E0067 E0062 E0065 E006E E0067 E007F). Default
// ignorable, as bidi controls are, but drawn as part of the flag, and only
// by a font that has the flag: alone they show nothing.
bool IsEmojiTag(uint32_t cp) { return cp >= 0xE0020 && cp <= 0xE007F; }

// A range of code points, both ends included.
struct CodeRange {
  uint32_t first, last;
};

// The scripts whose letters pass for Latin ones or for each other's, and
// the letters of each (General_Category L*, Unicode 15: their digits,
// punctuation, symbols and combining marks are not letters of the script
// here, so Armenian's full stop U+0589 may follow a Latin word).
//   Greek and Cyrillic: `gеneral` with a Cyrillic е, `gοod` with a Greek ο,
//     Cyrillic's narrow o U+1C82 `ᲂ`; their whole blocks count, as they
//     always did, so Greek's question mark U+037E (`;`) cannot sit in a
//     Latin name either.
//   Armenian `օ` U+0585 (o), `ս` U+057D (u), `հ` U+0570 (h), and its
//     ligatures U+FB13-FB17.
//   Georgian `ყ` U+10E7 (y): Mkhedruli, Mtavruli and Nuskhuri.
//   Cherokee `Ꭺ` U+13AA (A), `Ꮯ` U+13DF (C), `Ꭼ` U+13AC (E), and its
//     small letters U+AB70-ABBF (`ꮓ` U+AB93, z).
//   Lisu `ꓮ` U+A4EE (A), `ꓐ` U+A4D0 (B), `ꓳ` U+A4F3 (O), and its tone
//     letters drawn as `.` `,` `:` (U+A4F8-A4FD).
//   Coptic `ⲟ` U+2C9F (o), `Ⲣ` U+2CA2 (P).
//   Tifinagh `ⵔ` U+2D54 (O), `ⵏ` U+2D4F (I).
//   Canadian Syllabics `ᐯ` U+142F (V), `ᑭ` U+146D (P), `ᒍ` U+148D (J),
//     `ᗷ` U+15F7 (B).
//   Runic `ᛁ` U+16C1 (I), `ᛒ` U+16D2 (B), `ᚱ` U+16B1 (R); Old Italic `𐌀`
//     U+10300 (A), `𐌏` U+1030F (O); Gothic `𐌹` U+10339 (I), `𐌺` U+1033A (K).
// Latin is ASCII's letters, Latin-1 to Latin Extended-B, the IPA letters
// left once the ones drawn as ASCII are refused (RoomNameRefusal: `ə`, `ɛ`,
// `ɔ` are letters of Azerbaijani's and West African alphabets, so they are
// written beside Latin ones), Latin Extended Additional, -C, -D and -E.
// Scripts with no Latin look-alike (Han, kana, Hangul, Bopomofo, Arabic,
// Hebrew, Indic scripts, Thai...) count as none and mix freely: `東京 café`,
// `Tokyo の部屋`.
enum class LookalikeScript {
  kNone, kLatin, kGreek, kCyrillic, kArmenian, kGeorgian, kCherokee, kLisu, kCoptic, kTifinagh,
  kCanadianSyllabics, kRunic, kOldItalic, kGothic
};
constexpr CodeRange kLatinLetters[] = {{'A', 'Z'}, {'a', 'z'}, {0x00C0, 0x00D6}, {0x00D8, 0x00F6},
                                       {0x00F8, 0x024F}, {0x0250, 0x02AF}, {0x1E00, 0x1EFF}, {0x2C60, 0x2C7F},
                                       {0xA722, 0xA788}, {0xA78B, 0xA7CA}, {0xA7D0, 0xA7D1}, {0xA7D3, 0xA7D3},
                                       {0xA7D5, 0xA7D9}, {0xA7F2, 0xA7FF}, {0xAB30, 0xAB5A}, {0xAB5C, 0xAB69}};
constexpr CodeRange kGreekLetters[] = {{0x0370, 0x03FF}, {0x1F00, 0x1FFF}};
constexpr CodeRange kCyrillicLetters[] = {
    {0x0400, 0x052F}, {0x1C80, 0x1C88}, {0xA640, 0xA66E}, {0xA67F, 0xA69D}};
constexpr CodeRange kArmenianLetters[] = {{0x0531, 0x0556}, {0x0559, 0x0559}, {0x0560, 0x0588}, {0xFB13, 0xFB17}};
constexpr CodeRange kGeorgianLetters[] = {{0x10A0, 0x10C5}, {0x10C7, 0x10C7}, {0x10CD, 0x10CD}, {0x10D0, 0x10FA},
                                          {0x10FC, 0x10FF}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x2D00, 0x2D25},
                                          {0x2D27, 0x2D27}, {0x2D2D, 0x2D2D}};
constexpr CodeRange kCherokeeLetters[] = {{0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0xAB70, 0xABBF}};
constexpr CodeRange kLisuLetters[] = {{0xA4D0, 0xA4FD}, {0x11FB0, 0x11FB0}};
constexpr CodeRange kCopticLetters[] = {{0x2C80, 0x2CE4}, {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3}};
constexpr CodeRange kTifinaghLetters[] = {{0x2D30, 0x2D67}, {0x2D6F, 0x2D6F}};
constexpr CodeRange kCanadianSyllabicsLetters[] = {
    {0x1401, 0x166C}, {0x166F, 0x167F}, {0x18B0, 0x18F5}, {0x11AB0, 0x11ABF}};
constexpr CodeRange kRunicLetters[] = {{0x16A0, 0x16EA}, {0x16F1, 0x16F8}};
constexpr CodeRange kOldItalicLetters[] = {{0x10300, 0x1031F}, {0x1032D, 0x1032F}};
constexpr CodeRange kGothicLetters[] = {{0x10330, 0x10340}, {0x10342, 0x10349}};

struct ScriptLetters {
  LookalikeScript script;
  std::span<const CodeRange> letters;
};
constexpr ScriptLetters kLookalikeScripts[] = {
    {LookalikeScript::kLatin, kLatinLetters},       {LookalikeScript::kGreek, kGreekLetters},
    {LookalikeScript::kCyrillic, kCyrillicLetters}, {LookalikeScript::kArmenian, kArmenianLetters},
    {LookalikeScript::kGeorgian, kGeorgianLetters}, {LookalikeScript::kCherokee, kCherokeeLetters},
    {LookalikeScript::kLisu, kLisuLetters},         {LookalikeScript::kCoptic, kCopticLetters},
    {LookalikeScript::kTifinagh, kTifinaghLetters}, {LookalikeScript::kCanadianSyllabics, kCanadianSyllabicsLetters},
    {LookalikeScript::kRunic, kRunicLetters},       {LookalikeScript::kOldItalic, kOldItalicLetters},
    {LookalikeScript::kGothic, kGothicLetters},
};

LookalikeScript LookalikeScriptOf(uint32_t cp) {
  for (const ScriptLetters& s : kLookalikeScripts) {
    for (const CodeRange& r : s.letters) {
      if (cp >= r.first && cp <= r.last) return s.script;
    }
  }
  return LookalikeScript::kNone;
}

// Drawn as `-`, `.` or `_`, which the look-alike form drops:
// - hyphens, dashes and minus signs: U+2010-2015, the hyphen bullet U+2043,
//   the two- and three-em dashes U+2E3A-2E3B, U+2212, the fullwidth
//   hyphen-minus U+FF0D;
// - dots: the middle dot U+00B7 (Catalan's `l·l` loses its dot), the one and
//   two dot leaders U+2024-2025 (`.` and `..`), the hyphenation point
//   U+2027, the fullwidth full stop U+FF0E (CJK text ends a sentence with
//   U+3002, which stays);
// - the fullwidth low line U+FF3F and the dashed, centreline and wavy low
//   lines U+FE4D-FE4F;
// - compatibility forms: the vertical dashes and low lines U+FE31-FE34, and
//   all of Small Form Variants U+FE50-FE6F (`﹒` U+FE52, `﹘` U+FE58, `﹣`).
// Kept: the ellipsis U+2026. Phones' smart punctuation types it for `...`,
// so refusing it would turn away names typed in good faith; `Hi…` may sit
// beside `Hi...` (README, Known gaps). The other fullwidth punctuation
// (`（`, `！`, `：`) stays: CJK text writes it and it passes for no `-`, `.`
// or `_`.
bool IsDashDotOrLowLine(uint32_t cp) {
  return (cp >= 0x2010 && cp <= 0x2015) || cp == 0x2043 || cp == 0x2E3A || cp == 0x2E3B || cp == 0x2212 ||
         cp == 0xFF0D || cp == 0x00B7 || cp == 0x2024 || cp == 0x2025 || cp == 0x2027 || cp == 0xFF0E ||
         cp == 0xFF3F || (cp >= 0xFE4D && cp <= 0xFE4F) || (cp >= 0xFE31 && cp <= 0xFE34) ||
         (cp >= 0xFE50 && cp <= 0xFE6F);
}

// Letters and digits made into symbols, drawn as the ASCII ones they are
// built on (NFKC folds nearly all of them to ASCII, which the store does
// not do):
// - Letterlike Symbols U+2100-214F: `ℓ`, `ℯ`, the Kelvin sign U+212A (`K`),
//   `™`, `№`, `℃`, the ohm sign U+2126 (Greek `Ω` is the letter to use);
// - Number Forms U+2150-218F: Roman numerals (`Ⅰ`, `Ⅹ`), vulgar fractions;
// - Enclosed Alphanumerics U+2460-24FF: `①`, `⑴`, `⒈`, `ⓖ`;
// - Enclosed Alphanumeric Supplement U+1F100-1F1FF (`🄰`, `🅰`, `🆗`), but
//   the regional indicators U+1F1E6-1F1FF, two of which make a flag emoji;
// - superscript and subscript digits and letters: U+00B2, 00B3, 00B9 and
//   Superscripts and Subscripts U+2070-209F (`ⁱ`, `ⁿ`, `₂`).
// Kept: the ordinal indicators `ª` `º` (U+00AA, 00BA) that Spanish,
// Portuguese and Italian write after numbers (`1º`).
bool IsCompatibilityAlphanumeric(uint32_t cp) {
  return cp == 0x00B2 || cp == 0x00B3 || cp == 0x00B9 || (cp >= 0x2070 && cp <= 0x209F) ||
         (cp >= 0x2100 && cp <= 0x218F) || (cp >= 0x2460 && cp <= 0x24FF) ||
         (cp >= 0x1F100 && cp <= 0x1F1E5);
}

// Spacing Modifier Letters U+02B0-02FF: superscript letters (`ʰ`, `ʷ`, `ˡ`,
// `ˣ`), and signs drawn as ASCII ones (`˂` `˃` `˄` `˅` as < > ^ v, `ˆ` ^,
// `ˈ` ', `ˌ` ",", `ˍ` _, `ː` :, `˗` -, `˜` ~), accents and tone bars (`˥`,
// a bar like `l`). Phonetic notation, no language's spelling, but for the
// apostrophe-like letters U+02B9-02C1 that alphabets and transliterations
// write as letters, which stay: Hawaiian's ʻokina `ʻ` (`Hawaiʻi`), the
// apostrophe `ʼ` of Ukrainian and Guarani, the primes `ʹ` `ʺ` and half
// rings `ʾ` `ʿ` of Russian, Arabic and Hebrew transliteration.
bool IsModifierSign(uint32_t cp) { return cp >= 0x02B0 && cp <= 0x02FF && !(cp >= 0x02B9 && cp <= 0x02C1); }

// One code point drawn as two or three ASCII letters: `oﬃce` is office.
// The Latin ligatures U+FB00-FB06 (`ﬀ` `ﬁ` `ﬂ` `ﬃ` `ﬄ` `ﬅ` `ﬆ`), Dutch `Ĳ`
// `ĳ` (U+0132-0133), `ŉ` (U+0149), the Serbo-Croatian digraphs U+01C4-01CC
// and U+01F1-01F3 (`ǅ`, `ǉ`, `ǌ`, `ǳ`), `ȸ` `ȹ` (U+0238-0239), the phonetic
// digraphs `ʣ` `ʦ` `ʪ` `ʫ` (U+02A3, 02A6, 02AA, 02AB) and the medieval `Ꜳ`
// `ꜳ`...`Ꜽ` `ꜽ` (U+A732-A73D), `Ꝏ` `ꝏ` (U+A74E-A74F), `Ꝡ` `ꝡ`
// (U+A760-A761). The languages write the letters apart.
bool IsLigatureOrDigraph(uint32_t cp) {
  return (cp >= 0xFB00 && cp <= 0xFB06) || cp == 0x0132 || cp == 0x0133 || cp == 0x0149 ||
         (cp >= 0x01C4 && cp <= 0x01CC) || (cp >= 0x01F1 && cp <= 0x01F3) || cp == 0x0238 || cp == 0x0239 ||
         cp == 0x02A3 || cp == 0x02A6 || cp == 0x02AA || cp == 0x02AB || (cp >= 0xA732 && cp <= 0xA73D) ||
         cp == 0xA74E || cp == 0xA74F || cp == 0xA760 || cp == 0xA761;
}

// Phonetic notation, which no language spells words with: the IPA letters
// drawn as an ASCII letter (ɑ ɡ ɾ) or as a small capital (ɢ ɪ ɴ ɶ ʀ ʁ ʏ ʙ ʛ
// ʜ ʟ, and `ꜰ` `ꜱ` `ꞯ` U+A730, A731, A7AF, `Ɪ` U+A7AE), and the phonetic
// extensions (U+1D00-1DBF: more small capitals, superscripts). Letters of
// alphabets too, a cost taken because each is an ASCII letter to the eye:
// the iota `ɩ` `Ɩ` (U+0269, 0196: `ı`, `l`) and the v with hook `ʋ` `Ʋ`
// (U+028B, 01B2: `u`, `U`) of Ewe's and Kabiyè's alphabets; the click
// letters drawn as `|`, `||` and `!` (U+01C0, 01C1, 01C3) of Khoekhoe; the
// Zhuang tone letters drawn as digits, `Ƨ` `ƨ` (2), `Ƽ` `ƽ` (5), `Ƅ` `ƅ`
// (b, 6) (U+01A7-01A8, 01BC-01BD, 0184-0185), which Zhuang dropped in 1986.
bool IsPhoneticDrawnAsAscii(uint32_t cp) {
  return cp == 0x0251 || cp == 0x0261 || cp == 0x0262 || cp == 0x026A || cp == 0x0274 || cp == 0x0276 ||
         cp == 0x027E || cp == 0x0280 || cp == 0x0281 || cp == 0x028F || cp == 0x0299 || cp == 0x029B ||
         cp == 0x029C || cp == 0x029F || cp == 0xA730 || cp == 0xA731 || cp == 0xA7AE || cp == 0xA7AF ||
         (cp >= 0x1D00 && cp <= 0x1DBF) || cp == 0x0269 || cp == 0x0196 || cp == 0x028B || cp == 0x01B2 ||
         cp == 0x01C0 || cp == 0x01C1 || cp == 0x01C3 || cp == 0x01A7 || cp == 0x01A8 || cp == 0x01BC ||
         cp == 0x01BD || cp == 0x0184 || cp == 0x0185;
}

// Why a room name may not hold cp, or nullptr. These are drawn as an ASCII
// character (or a small capital, or two ASCII letters) but are not the one
// that the store's look-alike form folds, so `Team‐Chat` (U+2010) or
// `ɡeneral` (U+0261) would pass for a taken `Team-Chat` or `general`.
// Most are compatibility characters, kept in Unicode to round-trip old
// character sets, that one types only by copying them: refusing them costs
// little.
const char* RoomNameRefusal(uint32_t cp) {
  // Fullwidth digits and Latin letters (U+FF10-FF19, FF21-FF3A, FF41-FF5A)
  // and the mathematical ones (U+1D400-1D7FF): `ｇｅｎｅｒａｌ` and
  // `𝚐𝚎𝚗𝚎𝚛𝚊𝚕` are general to the eye. Fullwidth punctuation stays (CJK
  // text writes it), but for the ones drawn as `-`, `.` and `_` below.
  if ((cp >= 0xFF10 && cp <= 0xFF19) || (cp >= 0xFF21 && cp <= 0xFF3A) || (cp >= 0xFF41 && cp <= 0xFF5A) ||
      (cp >= 0x1D400 && cp <= 0x1D7FF)) {
    return "name must not use fullwidth or mathematical letters or digits";
  }
  // Only U+0020 separates words: a no-break, ideographic or typographic
  // space looks the same and is not folded. The blanks that are control
  // or invisible characters were refused before this.
  if (cp != ' ' && IsBlankCodePoint(cp)) return "name must not use spaces other than the ASCII space";
  if (IsDashDotOrLowLine(cp)) return "name must not use Unicode dashes, dots or low lines; use - . or _";
  if (IsCompatibilityAlphanumeric(cp)) {
    return "name must not use letterlike symbols, number forms, or enclosed, superscript or subscript letters and "
           "digits";
  }
  if (IsModifierSign(cp)) return "name must not use modifier letters or signs (superscripts, accents, tone bars)";
  if (IsLigatureOrDigraph(cp)) return "name must not use ligatures or digraph letters; write the letters apart";
  if (IsPhoneticDrawnAsAscii(cp)) {
    return "name must not use phonetic letters drawn as ASCII ones or small capitals, click letters or tone "
           "letters";
  }
  return nullptr;
}

bool IsEmojiModifierOnly(uint32_t cp) { return cp == 0x200D || cp == 0xFE0E || cp == 0xFE0F || IsEmojiTag(cp); }

}  // namespace

uint32_t NextCodePoint(std::string_view s, size_t* i) {
  unsigned char c = static_cast<unsigned char>(s[*i]);
  int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  uint32_t cp = len == 1 ? c : c & (0x7F >> len);
  for (int k = 1; k < len && *i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3F);
  *i += len;
  return cp;
}

// Unicode White_Space, and the invisible U+200B-200D, U+2060 and U+FEFF:
// text made only of these shows nothing.
bool IsBlankCodePoint(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200D) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x2060 || cp == 0x3000 || cp == 0xFEFF;
}

bool HasControl(std::string_view s, std::string_view allowed) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = NextCodePoint(s, &i);
    if (IsControl(cp) && (cp >= 0x80 || allowed.find(static_cast<char>(cp)) == std::string_view::npos)) return true;
  }
  return false;
}

Status ValidatePrefix(const std::string& prefix, size_t max_chars) {
  if (!ValidUtf8(prefix) || CodePoints(prefix) > max_chars || HasControl(prefix, "")) {
    return Status::Invalid("invalid_field", "prefix may be at most " + std::to_string(max_chars) +
                                                " characters of valid UTF-8, without control characters");
  }
  return Status::Ok();
}

bool IsBlank(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (!IsBlankCodePoint(NextCodePoint(s, &i))) return false;
  }
  return true;
}

void NormalizeLineBreaks(std::string* s) {
  size_t out = 0;
  for (size_t i = 0; i < s->size(); ++i) {
    char c = (*s)[i];
    if (c == '\r') {
      c = '\n';
      if (i + 1 < s->size() && (*s)[i + 1] == '\n') ++i;
    }
    (*s)[out++] = c;
  }
  s->resize(out);
}

Status CheckPathUsername(const std::string& name) {
  if (!ValidateUsername(name).ok()) return Status::NotFound("user_not_found", "no such user");
  return Status::Ok();
}

Status ValidateUsername(const std::string& s) {
  if (s.empty() || s.size() > kMaxUsername) {
    return Status::Invalid("invalid_field", "username must be 1 to 32 characters");
  }
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-';
    if (!ok) return Status::Invalid("invalid_field", "username may use only letters, digits, _ . and -");
  }
  // They read as paths (a profile URL, a file named after the user).
  if (s == "." || s == "..") return Status::Invalid("invalid_field", "username may not be . or ..");
  return Status::Ok();
}

Status ValidatePassword(const std::string& s) {
  if (s.size() < kMinPassword || s.size() > kMaxPassword) {
    return Status::Invalid("invalid_field", "password must be 8 to 1024 bytes");
  }
  return Status::Ok();
}

Status ValidateText(std::string* s) {
  if (!ValidUtf8(*s)) return Status::Invalid("invalid_utf8", "text is not valid UTF-8");
  NormalizeLineBreaks(s);
  if (HasControl(*s, "\t\n")) return Status::Invalid("invalid_field", "text must not contain control characters");
  if (IsBlank(*s)) return Status::Invalid("invalid_field", "text must not be empty");
  if (CodePoints(*s) > kMaxText) return Status::Invalid("invalid_field", "text may be at most 4000 characters");
  return Status::Ok();
}

// A name others see: valid UTF-8, nothing hidden, 1 to max_chars code points.
Status ValidateShownName(const std::string& s, size_t max_chars) {
  if (!ValidUtf8(s)) return Status::Invalid("invalid_utf8", "name is not valid UTF-8");
  if (HasHiddenOrControl(s)) {
    return Status::Invalid("invalid_field", "name must not contain control, bidi-override or zero-width characters");
  }
  if (IsBlank(s) || CodePoints(s) > max_chars) {
    return Status::Invalid("invalid_field", "name must be 1 to " + std::to_string(max_chars) + " characters");
  }
  return Status::Ok();
}

Status ValidateEmoji(const std::string& s) {
  if (s.empty() || s.size() > kMaxEmoji) return Status::Invalid("invalid_emoji", "an emoji is 1 to 32 bytes");
  if (!ValidUtf8(s)) return Status::Invalid("invalid_emoji", "the emoji is not valid UTF-8");
  bool shown = false;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = NextCodePoint(s, &i);
    // Emoji sequences are built with the joiner and the flag tags.
    bool joiner = cp == 0x200D || IsEmojiTag(cp);
    // Every blank, not only U+0020: a reaction of U+3000 or U+00A0 alone
    // shows as nothing under the message.
    if ((IsBlankCodePoint(cp) && !joiner) || (IsHiddenOrControl(cp) && !joiner)) {
      return Status::Invalid("invalid_emoji", "the emoji must not contain spaces, control or bidi characters");
    }
    shown = shown || !IsEmojiModifierOnly(cp);
  }
  if (!shown) {
    return Status::Invalid("invalid_emoji", "the emoji must not be only joiners, variation selectors or tags");
  }
  return Status::Ok();
}

// A room is found and trusted by its name: one that passes for another's
// (`gеneral` beside general) is a lure. The store's look-alike form (ASCII
// case, `rn`/`m`, `I`/`l`/`1`, `0`/`o`, the separators) catches the ASCII
// ones; this refuses what it cannot fold:
// - letters of two scripts that pass for each other's (LookalikeScriptOf):
//   Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee, Lisu, Coptic,
//   Tifinagh, Canadian Syllabics, Runic, Old Italic, Gothic. This is UTS
//   #39's "highly restrictive" idea narrowed to the scripts that have Latin
//   look-alikes: the others (Han, kana, Hangul...) still mix with Latin, as
//   Japanese names do. A name wholly in one of them stays allowed, so
//   Cyrillic `сор` may still pass for Latin `cop` (README, Known gaps);
// - single characters drawn as ASCII ones (RoomNameRefusal).
Status ValidateRoomName(const std::string& s) {
  PARLEY_RETURN_IF_ERROR(ValidateShownName(s, kMaxRoomName));
  if (HasOuterBlank(s)) return Status::Invalid("invalid_field", "name must not begin or end with a space");
  LookalikeScript seen = LookalikeScript::kNone;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = NextCodePoint(s, &i);
    if (const char* why = RoomNameRefusal(cp)) return Status::Invalid("invalid_field", why);
    LookalikeScript script = LookalikeScriptOf(cp);
    if (script == LookalikeScript::kNone) continue;
    if (seen != LookalikeScript::kNone && script != seen) {
      return Status::Invalid("invalid_field", "name must not mix the letters of Latin, Greek, Cyrillic, Armenian, "
                                              "Georgian, Cherokee or other scripts that look alike");
    }
    seen = script;
  }
  return Status::Ok();
}

Status ValidateTopic(const std::string& s) {
  if (s.empty()) return Status::Ok();  // no topic
  if (!ValidUtf8(s)) return Status::Invalid("invalid_utf8", "topic is not valid UTF-8");
  // One line, nothing hidden: it is shown under the room's name to
  // everyone who opens the room, as the name is.
  if (HasHiddenOrControl(s)) {
    return Status::Invalid("invalid_field", "topic must not contain line breaks, control, bidi-override or "
                                            "zero-width characters");
  }
  // U+2028 and U+2029 (blank, so not hidden) break the line too.
  if (s.find("\xE2\x80\xA8") != std::string::npos || s.find("\xE2\x80\xA9") != std::string::npos) {
    return Status::Invalid("invalid_field", "topic must be one line");
  }
  if (IsBlank(s) || HasOuterBlank(s)) {
    return Status::Invalid("invalid_field", "topic must not be blank or begin or end with a space");
  }
  if (CodePoints(s) > kMaxTopic) return Status::Invalid("invalid_field", "topic may be at most 250 characters");
  return Status::Ok();
}

Status ValidateClientId(const std::string& s) {
  if (s.empty() || s.size() > kMaxClientId) {
    return Status::Invalid("invalid_field", "client_id must be 1 to 64 characters");
  }
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7E) return Status::Invalid("invalid_field", "client_id must be printable ASCII");
  }
  return Status::Ok();
}

Status ValidateFileName(const std::string& s) {
  PARLEY_RETURN_IF_ERROR(ValidateShownName(s, kMaxFileName));
  if (s.find_first_of("/\\") != std::string::npos || s == "." || s == "..") {
    return Status::Invalid("invalid_field", "name must be a file name, not a path");
  }
  return Status::Ok();
}

}  // namespace parley::fcgi
