#include "fcgi/search_query.h"

#include <algorithm>
#include <vector>

#include "fcgi/input.h"
#include "fcgi/validate.h"

namespace parley::fcgi {
namespace {

Status InvalidQuery(const std::string& why) { return Status::Invalid("invalid_query", why); }

// The letters and digits right before the end of term (a prefix's '*'
// removed): the least the backends can read as the prefix's last word.
size_t TrailingWordChars(std::string_view term) {
  size_t run = 0;
  for (size_t i = 0; i < term.size();) run = IsSurelyWordCodePoint(NextCodePoint(term, &i)) ? run + 1 : 0;
  return run;
}

// The key two terms are the same by: the text, ASCII case folded, and
// whether it is a prefix.
std::string TermKey(std::string_view term, bool prefix) {
  std::string key(term);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  key += prefix ? '*' : ' ';
  return key;
}

}  // namespace

bool IsSurelyWordCodePoint(uint32_t cp) {
  struct Range {
    uint32_t lo, hi;
  };
  static constexpr Range kWord[] = {
      {'0', '9'},       {'A', 'Z'},       {'a', 'z'},
      {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x024F},  // Latin-1 letters, Latin Extended-A and B
      {0x0391, 0x03A1}, {0x03A3, 0x03CE},                    // Greek
      {0x0400, 0x0481}, {0x048A, 0x04FF},                    // Cyrillic
      {0x05D0, 0x05EA},                                      // Hebrew
      {0x0621, 0x063A}, {0x0641, 0x064A},                    // Arabic
      {0x0E01, 0x0E30},                                      // Thai
      // Kana, with the marks written inside a kana word: the prolonged sound
      // mark (U+30FC, halfwidth U+FF70: "コーヒー") and the iteration marks
      // are category Lm, token characters of FTS5's unicode61 and letters to
      // PostgreSQL's parser (on both, "コー"* finds "コーヒー" and "ヒ"* does
      // not). Not the voiced sound marks U+309B/C or the middle dot U+30FB:
      // both backends split words there.
      {0x3041, 0x3096}, {0x309D, 0x309F},                    // Hiragana; ゝゞゟ
      {0x30A1, 0x30FA}, {0x30FC, 0x30FF},                    // Katakana; ーヽヾヿ
      {0xFF66, 0xFF9F},                                      // Halfwidth katakana, ｰ and its voiced marks
      {0x4E00, 0x9FA5},                                      // CJK Unified Ideographs
      {0xAC00, 0xD7A3},                                      // Hangul syllables
  };
  for (const Range& r : kWord) {
    if (cp >= r.lo && cp <= r.hi) return true;
  }
  return false;
}

Result<std::string> BuildMatchExpression(std::string_view q) {
  if (q.size() > kMaxSearchBytes) return InvalidQuery("the search may be at most 256 bytes");
  if (!ValidUtf8(q)) return InvalidQuery("the search is not valid UTF-8");
  if (HasControl(q, "\t\n\r")) return InvalidQuery("the search must not contain control characters");
  if (IsBlank(q)) return InvalidQuery("q must contain a word to search for");
  std::string out;
  size_t terms = 0;
  std::vector<std::string> seen;  // TermKey of each term kept: at most 16
  // Terms are split on every blank code point of IsBlank's set, not only
  // ASCII white space: "foo<U+3000>bar" reads as two words, and one quoted
  // string would make FTS5 (and PostgreSQL's phraseto_tsquery) ask for them
  // side by side, as a phrase. The zero-width characters separate terms too,
  // so a term made of them alone is no term (it was an empty string, which
  // FTS5 drops and PostgreSQL may read as a word of its own).
  for (size_t i = 0; i < q.size();) {
    size_t start = i;
    size_t end = i;
    while (i < q.size()) {
      size_t next = i;
      if (IsBlankCodePoint(NextCodePoint(q, &next))) {
        if (end > start) break;  // the term ends at this blank
        start = end = next;      // blanks before a term
      } else {
        end = next;
      }
      i = next;
    }
    std::string_view term = q.substr(start, end - start);
    if (term.empty()) continue;
    bool prefix = term.size() > 1 && term.back() == '*';
    if (prefix) term.remove_suffix(1);
    if (++terms > kMaxSearchTerms) return InvalidQuery("the search may have at most 16 words");
    if (prefix && TrailingWordChars(term) < kMinPrefixChars) {
      return InvalidQuery("a prefix search (word*) needs at least 2 letters or digits before the *");
    }
    std::string key = TermKey(term, prefix);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;  // all terms must occur: once is enough
    seen.push_back(std::move(key));
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : term) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
    if (prefix) out += '*';
  }
  if (terms == 0) return InvalidQuery("q must contain a word to search for");
  return out;
}

}  // namespace parley::fcgi
