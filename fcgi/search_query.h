// A user's search box text to an FTS5 MATCH expression: pure, unit-tested.
//
// Users type words, not FTS5 syntax. Every term (split on IsBlankCodePoint:
// Unicode White_Space and the zero-width characters, as IsBlank) becomes
// an FTS5 string ("term", inner quotes doubled), joined by spaces (all
// terms must occur); a term ending in '*' becomes a prefix ("term"*). So
// AND, OR, NEAR, column filters, parentheses and stray quotes are just
// words, and no input can make FTS5 fail with a syntax error.
//
// Cost bounds. A prefix must end in at least kMinPrefixChars letters or
// digits (IsSurelyWordCodePoint) before its '*': FTS5's table has prefix
// indexes of 2, 3 and 4 characters only (migration 014), so "w"* merged
// the doclists of every indexed word starting with w, in memory, before
// SearchQuery::scan bounds anything (85 ms a term at 1.6 M indexed words,
// audit-c); PostgreSQL's GIN index reads every entry starting with it too.
// A shorter prefix is refused (invalid_query), not searched as the word
// alone: that would answer another question than the one asked. What is
// counted is the run of letters and digits right before the '*', since
// both backends split a term on punctuation and search the prefix of its
// last word ("a.w"* is "a" followed by "w"*). Terms that are the same
// (ASCII case aside: both backends fold case) are kept once, so that one
// word repeated 16 times costs one term's work, not 16.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "schema/status.h"

namespace parley::fcgi {

constexpr size_t kMaxSearchBytes = 256;
constexpr size_t kMaxSearchTerms = 16;
constexpr size_t kMinPrefixChars = 2;

// kInvalid invalid_query: empty, blank (IsBlank), too long, too many terms
// (counted as typed, repeats too), a prefix shorter than kMinPrefixChars,
// invalid UTF-8 or control characters (C0 but tab, newline and CR; DEL; C1).
Result<std::string> BuildMatchExpression(std::string_view q);

// True for a code point that both backends' word splitting surely keeps
// inside a word (FTS5's unicode61: categories L*, N*, Co; PostgreSQL's
// parser: a letter or digit): ASCII letters and digits, and the letters of
// Latin, Greek, Cyrillic, Hebrew, Arabic, Thai, kana (with its prolonged
// sound and iteration marks, and halfwidth katakana), CJK ideographs and
// Hangul syllables as assigned by Unicode 5.0 (both tokenizers' tables
// know them). False for anything else, also for letters of other scripts:
// a false "no" only refuses a prefix; a false "yes" would let a separator
// hide a one-character prefix behind it.
bool IsSurelyWordCodePoint(uint32_t cp);

}  // namespace parley::fcgi
