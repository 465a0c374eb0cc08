// Hostile-input handling for request bodies and query strings. Pure
// functions: no I/O, unit-tested and safe to fuzz.
//
// A body is accepted only if it is at most kMaxBody bytes, declared as
// application/json, valid UTF-8, nested at most kMaxDepth deep, free of NUL
// (raw or as the \u0000 escape) and parses as a JSON object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/json.h"
#include "schema/status.h"
#include "schema/storage.h"

namespace parley::fcgi {

constexpr size_t kMaxBody = 16 * 1024;
constexpr int kMaxDepth = 32;

bool ValidUtf8(std::string_view s);
// Number of code points of a valid UTF-8 string.
size_t CodePoints(std::string_view s);

// Checks structure that cJSON does not: nesting depth and \u0000 escapes
// inside strings. Returns kInvalid with reason nesting_too_deep or
// invalid_field; other syntax errors are left to the parser.
Status ScanJson(std::string_view body);

// The whole pipeline above; the result is a JSON object.
Result<JsonPtr> ParseJsonObject(std::string_view content_type, std::string_view body);

// The largest id (event, message, room, user) a request may name: JSON
// numbers are exact up to here.
constexpr int64_t kMaxId = int64_t{1} << 53;

// Field access with typed errors (missing_field, invalid_field).
Result<std::string> RequireString(const cJSON* obj, const char* key);
Result<std::optional<std::string>> OptionalString(const cJSON* obj, const char* key);
Result<int64_t> RequireInt(const cJSON* obj, const char* key, int64_t min, int64_t max);
Result<std::optional<int64_t>> OptionalInt(const cJSON* obj, const char* key, int64_t min, int64_t max);
// An optional array of at most max_items distinct integers in [1, max]; absent or null: empty.
Result<std::vector<int64_t>> OptionalIdList(const cJSON* obj, const char* key, size_t max_items, int64_t max);

// Query strings: the decoded value of key, if present.
std::optional<std::string> QueryParam(std::string_view query, std::string_view key);
Result<std::optional<int64_t>> QueryInt(std::string_view query, const char* key, int64_t min, int64_t max);
// ?limit=&after= of a page of people in user id order (members, bans,
// blocks): limit 1-1000, by default 1000 (up to 1,000 list whole, as before
// these lists had pages), after a user id, by default 0.
inline constexpr int64_t kMaxUserPage = 1000;
Result<UserPageQuery> QueryUserPage(std::string_view query);

// A path segment's %XX escapes decoded; nullopt for a '%' not followed by
// two hex digits. nginx passes the raw REQUEST_URI, so segments arrive encoded.
std::optional<std::string> PercentDecode(std::string_view s);

// Strict decimal parse of a whole string: digits only, no sign, no overflow.
std::optional<int64_t> ParseId(std::string_view s);

}  // namespace parley::fcgi
