// JSON codecs of the model, on cJSON, with owners for every cJSON handle.
#pragma once

#include <memory>
#include <string>

#include <cjson/cJSON.h>

#include "schema/model.h"

namespace parley {

struct CJsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};
using JsonPtr = std::unique_ptr<cJSON, CJsonDeleter>;

// Unformatted print; an empty string if cJSON runs out of memory.
std::string PrintJson(const cJSON* j);

JsonPtr ToJson(const User& u);
JsonPtr ToJson(const Room& r);
JsonPtr ToJson(const Member& m);
JsonPtr ToJson(const Message& m);

// {"<key>": value} printed: the usual shape of our responses.
std::string Wrap(const char* key, JsonPtr value);

// cJSON stores numbers as double; ids stay below 2^53, so this is exact.
void AddInt(cJSON* obj, const char* key, int64_t v);

}  // namespace parley
