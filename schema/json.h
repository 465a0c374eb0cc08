// JSON in and out.
//
// In: cJSON parses request bodies (fcgi/input.cc); JsonPtr owns the tree.
// Out: JsonWriter appends straight to a string. We do not print with cJSON:
// it formats every number with sprintf("%.15g") and re-reads it with
// sscanf to check the round trip, which was ~20% of a worker's CPU on
// history reads (perf, tools/bench/api). Our output only ever holds
// integers, strings, booleans and null, which need none of that.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cjson/cJSON.h>

#include "schema/model.h"
#include "schema/status.h"

namespace parley {

struct CJsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};
using JsonPtr = std::unique_ptr<cJSON, CJsonDeleter>;

// Appends compact JSON. Commas are placed automatically; the caller keeps
// begin/end calls balanced and puts a Key() before each object member.
class JsonWriter {
 public:
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // A value that is already JSON (an event's stored data).
  JsonWriter& Raw(std::string_view json);

  // The JSON written so far.
  std::string_view str() const { return {buf_.get(), len_}; }
  // A copy of it, and the writer empty again (its buffer kept for reuse).
  std::string Take();

 private:
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);
  // Room for n more bytes, at the returned pointer: a value is written with
  // plain stores into room made once. A std::string call for each quote,
  // comma and colon, and a std::string's zero-filled growth, were most of a
  // history page's JSON time (parley-sendcost --reads, tools/bench/sendcost.cc).
  char* Room(size_t n) { return cap_ - len_ >= n ? buf_.get() + len_ : Grow(n); }
  char* Grow(size_t n);
  char* Separate(char* p) {
    if (need_comma_) *p++ = ',';
    need_comma_ = true;
    return p;
  }
  void Done(const char* end) { len_ = static_cast<size_t>(end - buf_.get()); }
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t len_ = 0;
  bool need_comma_ = false;
};

// Appends the escaped, quoted form of s (valid UTF-8 passes through).
void AppendJsonString(std::string& out, std::string_view s);

// {"error":{"code":reason,"message":message}}: the one error body of both
// daemons. An internal error's details (SQL, paths) stay in the log.
std::string ErrorJson(const Status& st);

void Write(JsonWriter& w, const User& u);
void Write(JsonWriter& w, const Room& r);
void Write(JsonWriter& w, const Member& m);
void Write(JsonWriter& w, const Ban& b);
void Write(JsonWriter& w, const Invitation& i);
void Write(JsonWriter& w, const Message& m);
// {"id","name","mime","size","width"?,"height"?}; as a message's attachment also "url".
void Write(JsonWriter& w, const Upload& u);

template <typename T>
void Write(JsonWriter& w, const std::vector<T>& items) {
  w.BeginArray();
  for (const T& item : items) Write(w, item);
  w.EndArray();
}

// The model object alone, and {"<key>": object}: the usual response shape.
template <typename T>
std::string ToJson(const T& v) {
  JsonWriter w;
  Write(w, v);
  return w.Take();
}
template <typename T>
std::string Wrap(std::string_view key, const T& v) {
  JsonWriter w;
  w.BeginObject().Key(key);
  Write(w, v);
  w.EndObject();
  return w.Take();
}
// {"<key>":[items],"next"}: a page of people in user id order (members,
// bans, blocks), `next` the `after` of the next page or null.
template <typename T>
std::string WrapUserPage(std::string_view key, const std::vector<T>& items, const std::optional<int64_t>& next) {
  JsonWriter w;
  w.BeginObject().Key(key);
  Write(w, items);
  w.Key("next");
  if (next) {
    w.Int(*next);
  } else {
    w.Null();
  }
  w.EndObject();
  return w.Take();
}

}  // namespace parley
