// @username in message text: pure parsing, unit-tested without a database.
//
// A mention is '@' at the start of the text or after a character that
// cannot be part of a username (so "a@b.c" is an address, not a mention),
// followed by 1-32 username characters ([A-Za-z0-9_.-], fcgi/validate.cc).
// A name ending in dots also yields the name without them, since "@bob."
// usually ends a sentence. An '@' inside a web address (from "http://" or
// "https://", any case, to the next ASCII white space) names nobody: the
// web client shows the address as a link, and "https://host/@bob" must not
// ping bob. The web client draws a mention exactly where this reads a name
// (www/js/mentions.js mirrors these rules; keep the two together). The
// store resolves the names against the room's members; names of nobody are
// ignored.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parley {

// At most kMaxMentionNames distinct candidate names (compared as written),
// in order of first appearance: a message cannot make the store look up
// thousands of names.
constexpr size_t kMaxMentionNames = 20;
std::vector<std::string> MentionNames(std::string_view text);

}  // namespace parley
