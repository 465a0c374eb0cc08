// Shared by the unit tests that read JSON back (tests/unit/schema): parse
// text that must be JSON, and read a member by its exact name.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "schema/json.h"

namespace parley::test {

// The parsed tree; a test failure (and null) if `s` is not JSON.
inline JsonPtr Parse(const std::string& s) {
  JsonPtr j(cJSON_ParseWithLength(s.data(), s.size()));
  EXPECT_NE(j, nullptr) << s;
  return j;
}

// obj's member `key` (case-sensitive), or null.
inline const cJSON* Get(const cJSON* obj, const char* key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

}  // namespace parley::test
