// Fuzz target: request bodies and JSON decoding (fcgi/input.h) and the field
// limits (fcgi/validate.h), as Api::Handle uses them on every body.
//
// Oracles beyond "no crash, no leak": ValidUtf8 agrees with an independent
// decoder written from the Unicode table of well-formed byte sequences
// (Unicode 15, table 3-7); an accepted body is a JSON object of at most
// kMaxBody bytes, valid UTF-8, nested at most kMaxDepth deep; a string that
// passes ValidateText is left with no control character (C0, DEL, C1) but
// tab and newline, no CR, and at most kMaxText code points.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>

#include "fcgi/input.h"
#include "fcgi/validate.h"
#include "tests/fuzz/check.h"

namespace {

using namespace parley;
using namespace parley::fcgi;

// Unicode table 3-7, byte by byte: the ranges each position may hold.
bool ReferenceUtf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size();
  auto in = [&](size_t k, unsigned lo, unsigned hi) { return i + k < n && p[i + k] >= lo && p[i + k] <= hi; };
  while (i < n) {
    unsigned c = p[i];
    size_t len = 0;
    if (c <= 0x7F) len = 1;
    else if (c >= 0xC2 && c <= 0xDF) len = in(1, 0x80, 0xBF) ? 2 : 0;
    else if (c == 0xE0) len = in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
    else if (c == 0xED) len = in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF) ? 3 : 0;
    else if (c == 0xF0) len = in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
    else if (c >= 0xF1 && c <= 0xF3) len = in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
    else if (c == 0xF4) len = in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
    if (len == 0) return false;
    i += len;
  }
  return true;
}

int Depth(const cJSON* j) {
  int deepest = 0;
  for (const cJSON* c = j->child; c; c = c->next) deepest = std::max(deepest, Depth(c));
  return (cJSON_IsObject(j) || cJSON_IsArray(j)) ? deepest + 1 : deepest;
}

// Every validator over one decoded string, with the invariants each promises.
void CheckValidators(const std::string& s) {
  FUZZ_CHECK(ValidUtf8(s) == ReferenceUtf8(s));
  if (std::string t = s; ValidateText(&t).ok()) {
    FUZZ_CHECK(ReferenceUtf8(t));
    FUZZ_CHECK(CodePoints(t) >= 1 && CodePoints(t) <= kMaxText);
    for (unsigned char c : t) FUZZ_CHECK((c >= 0x20 && c != 0x7F) || c == '\t' || c == '\n');
    for (size_t i = 0; i + 1 < t.size(); ++i) {  // C1: U+0080-009F, C2 80 to C2 9F
      FUZZ_CHECK(!(static_cast<unsigned char>(t[i]) == 0xC2 && static_cast<unsigned char>(t[i + 1]) <= 0x9F));
    }
  }
  if (ValidateRoomName(s).ok()) {
    FUZZ_CHECK(ReferenceUtf8(s) && CodePoints(s) <= kMaxRoomName);
    for (unsigned char c : s) FUZZ_CHECK(c >= 0x20 && c != 0x7F);
  }
  if (ValidateUsername(s).ok()) FUZZ_CHECK(!s.empty() && s.size() <= kMaxUsername);
  if (ValidateClientId(s).ok()) FUZZ_CHECK(!s.empty() && s.size() <= kMaxClientId);
  (void)ValidatePassword(s);
}

// The typed field accessors over every member, as handlers call them.
void CheckFields(const cJSON* obj) {
  for (const cJSON* f = obj->child; f; f = f->next) {
    if (!f->string) continue;
    const char* key = f->string;
    auto str = OptionalString(obj, key);
    auto req = RequireString(obj, key);
    // With duplicate keys the accessors see the first member only.
    if (cJSON_GetObjectItemCaseSensitive(obj, key) == f) FUZZ_CHECK(str.ok() == (cJSON_IsString(f) || cJSON_IsNull(f)));
    if (str.ok() && *str) {
      FUZZ_CHECK(req.ok() && *req == **str);
      CheckValidators(**str);
    }
    for (auto [lo, hi] : {std::pair<int64_t, int64_t>{1, INT64_MAX}, {0, 200}, {INT64_MIN, INT64_MAX}}) {
      auto v = OptionalInt(obj, key, lo, hi);
      if (v.ok() && *v) FUZZ_CHECK(**v >= lo && **v <= hi);
      (void)RequireInt(obj, key, lo, hi);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  static const char* const kTypes[] = {"application/json", "application/json; charset=utf-8",
                                       "Application/JSON;charset=\"UTF8\"", "text/plain"};
  std::string content_type = in.ConsumeBool() ? kTypes[in.ConsumeIntegralInRange<size_t>(0, 3)]
                                              : in.ConsumeRandomLengthString(80);
  std::string body = in.ConsumeRemainingBytesAsString();

  FUZZ_CHECK(ValidUtf8(body) == ReferenceUtf8(body));
  Result<JsonPtr> parsed = ParseJsonObject(content_type, body);
  if (!parsed.ok()) {
    FUZZ_CHECK(!parsed.status().reason().empty());
    return 0;
  }
  const cJSON* obj = parsed.value().get();
  FUZZ_CHECK(cJSON_IsObject(obj));
  FUZZ_CHECK(body.size() <= kMaxBody && ReferenceUtf8(body));
  FUZZ_CHECK(std::memchr(body.data(), '\0', body.size()) == nullptr);
  FUZZ_CHECK(Depth(obj) <= kMaxDepth);
  CheckFields(obj);
  return 0;
}
