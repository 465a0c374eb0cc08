#include "fcgi/input.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace parley::fcgi {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status WrongType(const char* key, const char* what) {
  return Status::Invalid("invalid_field", std::string(key) + " must be " + what);
}

}  // namespace

bool ValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    } else {
      return false;  // continuation byte first, C0/C1 overlong lead, or > U+10FFFF
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;  // overlong, out of range, or a UTF-16 surrogate
    }
    i += len;
  }
  return true;
}

size_t CodePoints(std::string_view s) {
  size_t count = 0;
  for (unsigned char c : s) count += (c & 0xC0) != 0x80;
  return count;
}

Status ScanJson(std::string_view body) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(body[i]);
    if (in_string) {
      if (c == '\\') {
        if (i + 1 < body.size() && body[i + 1] == 'u' && body.substr(i + 2, 4) == "0000") {
          return Status::Invalid("invalid_field", "NUL characters (\\u0000) are not allowed");
        }
        // Only JSON's escapes: anything else after a backslash (a raw NUL
        // byte, found by fuzz_body) would be skipped here unseen.
        if (i + 1 >= body.size() || std::string_view("\"\\/bfnrtu").find(body[i + 1]) == std::string_view::npos) {
          return Status::Invalid("invalid_json", "invalid escape sequence in a string");
        }
        ++i;  // skip the escaped character
      } else if (c == '"') {
        in_string = false;
      } else if (c < 0x20) {
        return Status::Invalid("invalid_json", "control characters inside strings must be escaped");
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > kMaxDepth) {
          return Status::Invalid("nesting_too_deep",
                                 "JSON may be nested at most " + std::to_string(kMaxDepth) + " levels");
        }
        break;
      case '}':
      case ']':
        --depth;
        break;
      case '\0':
        return Status::Invalid("invalid_json", "the body contains a NUL byte");
      default:
        break;
    }
  }
  return Status::Ok();
}

Result<JsonPtr> ParseJsonObject(std::string_view content_type, std::string_view body) {
  if (body.size() > kMaxBody) {
    return Status(Code::kTooLarge, "body_too_large",
                  "the request body may be at most " + std::to_string(kMaxBody) + " bytes");
  }
  // An empty body is a missing body, whatever its declared type.
  if (body.empty()) return Status::Invalid("invalid_json", "a JSON object body is required");
  std::string_view media = content_type.substr(0, content_type.find(';'));
  bool utf8_charset = true;
  // Any parameter may be the charset: "application/json; foo=bar; charset=latin1".
  for (std::string_view rest = content_type; rest.find(';') != std::string_view::npos;) {
    rest = rest.substr(rest.find(';') + 1);
    std::string_view param = Trim(rest.substr(0, rest.find(';')));
    if (param.size() >= 8 && IEquals(param.substr(0, 8), "charset=")) {
      std::string_view cs = Trim(param.substr(8));
      if (cs.size() >= 2 && cs.front() == '"' && cs.back() == '"') cs = cs.substr(1, cs.size() - 2);
      utf8_charset = IEquals(cs, "utf-8") || IEquals(cs, "utf8");
    }
  }
  if (!IEquals(Trim(media), "application/json") || !utf8_charset) {
    return Status(Code::kUnsupported, "unsupported_media_type",
                  "send the body as Content-Type: application/json (UTF-8)");
  }
  if (!ValidUtf8(body)) return Status::Invalid("invalid_utf8", "the body is not valid UTF-8");
  PARLEY_RETURN_IF_ERROR(ScanJson(body));
  const char* end = nullptr;
  JsonPtr j(cJSON_ParseWithLengthOpts(body.data(), body.size(), &end, 0));
  if (!j) return Status::Invalid("invalid_json", "the body is not valid JSON");
  for (const char* p = end; p && p < body.data() + body.size(); ++p) {
    if (!std::isspace(static_cast<unsigned char>(*p))) {
      return Status::Invalid("invalid_json", "unexpected data after the JSON value");
    }
  }
  if (!cJSON_IsObject(j.get())) return Status::Invalid("invalid_json", "the body must be a JSON object");
  return j;
}

Result<std::optional<std::string>> OptionalString(const cJSON* obj, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v)) return std::optional<std::string>();
  if (!cJSON_IsString(v) || !v->valuestring) return WrongType(key, "a string");
  return std::optional<std::string>(v->valuestring);
}

Result<std::string> RequireString(const cJSON* obj, const char* key) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<std::string> v, OptionalString(obj, key));
  if (!v) return Status::Invalid("missing_field", std::string(key) + " is required");
  return std::move(*v);
}

Result<std::optional<int64_t>> OptionalInt(const cJSON* obj, const char* key, int64_t min, int64_t max) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v)) return std::optional<int64_t>();
  std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!cJSON_IsNumber(v)) return WrongType(key, range.c_str());
  double d = v->valuedouble;
  // 2^63 rounds to (double)INT64_MAX, so compare against it explicitly:
  // converting it back to int64_t would be undefined.
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max) ||
      d >= 9223372036854775808.0) {
    return WrongType(key, range.c_str());
  }
  return std::optional<int64_t>(static_cast<int64_t>(d));
}

Result<std::vector<int64_t>> OptionalIdList(const cJSON* obj, const char* key, size_t max_items, int64_t max) {
  std::vector<int64_t> out;
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v)) return out;
  std::string what = "an array of at most " + std::to_string(max_items) + " distinct ids";
  if (!cJSON_IsArray(v) || static_cast<size_t>(cJSON_GetArraySize(v)) > max_items) return WrongType(key, what.c_str());
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, v) {
    double d = cJSON_IsNumber(item) ? item->valuedouble : 0;
    if (!std::isfinite(d) || d != std::floor(d) || d < 1 || d > static_cast<double>(max)) {
      return WrongType(key, what.c_str());
    }
    int64_t id = static_cast<int64_t>(d);
    if (std::find(out.begin(), out.end(), id) != out.end()) return WrongType(key, what.c_str());
    out.push_back(id);
  }
  return out;
}

Result<int64_t> RequireInt(const cJSON* obj, const char* key, int64_t min, int64_t max) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> v, OptionalInt(obj, key, min, max));
  if (!v) return Status::Invalid("missing_field", std::string(key) + " is required");
  return *v;
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != key) continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        out += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size() && HexValue(raw[i + 1]) >= 0 && HexValue(raw[i + 2]) >= 0) {
        out += static_cast<char>(HexValue(raw[i + 1]) * 16 + HexValue(raw[i + 2]));
        i += 2;
      } else {
        out += raw[i];
      }
    }
    return out;
  }
  return std::nullopt;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) return std::nullopt;
    out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
    i += 2;
  }
  return out;
}

std::optional<int64_t> ParseId(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;  // 18 digits cannot overflow int64
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Result<std::optional<int64_t>> QueryInt(std::string_view query, const char* key, int64_t min, int64_t max) {
  std::optional<std::string> raw = QueryParam(query, key);
  if (!raw) return std::optional<int64_t>();
  std::optional<int64_t> v = ParseId(*raw);
  if (!v || *v < min || *v > max) {
    return Status::Invalid("invalid_field", std::string(key) + " must be an integer from " +
                                                std::to_string(min) + " to " + std::to_string(max));
  }
  return v;
}

Result<UserPageQuery> QueryUserPage(std::string_view query) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> limit, QueryInt(query, "limit", 1, kMaxUserPage));
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> after, QueryInt(query, "after", 0, kMaxId));
  UserPageQuery q;
  q.limit = static_cast<int>(limit.value_or(kMaxUserPage));
  q.after = after.value_or(0);
  return q;
}

}  // namespace parley::fcgi
