// The limits of DESIGN section 3, one function per field, each returning a
// Status whose message says what is allowed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "schema/status.h"

namespace parley::fcgi {

constexpr size_t kMaxUsername = 32;
constexpr size_t kMinPassword = 8;
constexpr size_t kMaxPassword = 1024;
constexpr size_t kMaxText = 4000;      // code points
constexpr size_t kMaxRoomName = 64;    // code points
constexpr size_t kMaxTopic = 250;      // code points: a line under the room's name
constexpr size_t kMaxClientId = 64;
constexpr size_t kMaxFileName = 200;  // code points

Status ValidateUsername(const std::string& s);
Status ValidatePassword(const std::string& s);
// Message text (also a ban's reason). First normalises *s's line breaks
// (NormalizeLineBreaks: store *s as it is left), then checks it: valid
// UTF-8, no control character but tab and newline, not blank, at most
// kMaxText code points.
Status ValidateText(std::string* s);
// Also refuses a name that begins or ends with a blank code point (IsBlank's set),
// one that mixes the letters of scripts that pass for each other's (Latin, Greek,
// Cyrillic, Armenian, Georgian, Cherokee...) and characters drawn as ASCII ones
// (README, Limits; validate.cc says which and why).
Status ValidateRoomName(const std::string& s);
// A room's topic: "" (none), or one line of 1-250 code points, nothing
// hidden, no white space at either end.
Status ValidateTopic(const std::string& s);
Status ValidateClientId(const std::string& s);
// A name in a path that cannot be a username names nobody: 404 user_not_found.
Status CheckPathUsername(const std::string& name);
// A reaction: 1-32 bytes of valid UTF-8 without blank (IsBlankCodePoint),
// control or bidi-override characters (zero-width joiners stay: emoji
// sequences are built with them),
// and something besides joiners and variation selectors (U+FE0E/FE0F).
constexpr size_t kMaxEmoji = 32;
Status ValidateEmoji(const std::string& s);
// An upload's ?name=: shown to others and offered as the download's file
// name, so no control, bidi or zero-width characters and no path.
Status ValidateFileName(const std::string& s);

// A search's ?prefix= (users, admin users, the room directory): valid
// UTF-8 of at most max_chars code points and no control character. A NUL
// would reach PostgreSQL as a parameter it refuses, and no name holds one.
Status ValidatePrefix(const std::string& prefix, size_t max_chars);

// The rules above share these; s is valid UTF-8 (check it first).
//
// True if s holds a C0 or C1 control character or DEL (U+0000-001F,
// U+007F-009F) other than the ASCII ones listed in allowed (e.g. "\t\n").
bool HasControl(std::string_view s, std::string_view allowed);
// True if s holds only Unicode White_Space (U+0009-000D, U+0020, U+0085,
// U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000) and
// the invisible U+200B-200D, U+2060 and U+FEFF; true for "".
bool IsBlank(std::string_view s);
// CRLF and a lone CR become LF, as browsers normalise a textarea's value.
void NormalizeLineBreaks(std::string* s);

// One code point of IsBlank's set: White_Space or zero-width. The search
// splits its terms on these (fcgi/search_query.cc), so that what reads as
// two words is searched as two.
bool IsBlankCodePoint(uint32_t cp);
// The code point that starts at s[*i], advancing *i past it. s is valid
// UTF-8 (ValidUtf8, checked first by the caller).
uint32_t NextCodePoint(std::string_view s, size_t* i);

}  // namespace parley::fcgi
