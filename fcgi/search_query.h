// A user's search box text to an FTS5 MATCH expression: pure, unit-tested.
//
// Users type words, not FTS5 syntax. Every term (split on IsBlankCodePoint:
// Unicode White_Space and the zero-width characters, as IsBlank) becomes
// an FTS5 string ("term", inner quotes doubled), joined by spaces (all
// terms must occur); a term ending in '*' becomes a prefix ("term"*). So
// AND, OR, NEAR, column filters, parentheses and stray quotes are just
// words, and no input can make FTS5 fail with a syntax error.
#pragma once

#include <string>
#include <string_view>

#include "schema/status.h"

namespace parley::fcgi {

constexpr size_t kMaxSearchBytes = 256;
constexpr size_t kMaxSearchTerms = 16;

// kInvalid invalid_query: empty, blank (IsBlank), too long, too many terms, invalid
// UTF-8 or control characters (C0 but tab, newline and CR; DEL; C1).
Result<std::string> BuildMatchExpression(std::string_view q);

}  // namespace parley::fcgi
