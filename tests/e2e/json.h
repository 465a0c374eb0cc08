// Read-only access to JSON response bodies for tests, over cJSON.
//
// A Json is a view of one node that shares ownership of the whole parsed
// document, so views stay valid after the Response is gone. Lookups never
// fail: a missing key or an index out of range gives a null Json, and the
// accessors of a null or mistyped node return a neutral value (0, "",
// false), so an assertion on the value reports the mismatch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

struct cJSON;

namespace parley::e2e {

class Json {
 public:
  Json() = default;
  static Json Parse(const std::string& text);

  bool valid() const { return node_ != nullptr; }
  bool is_object() const;
  bool is_array() const;
  bool is_string() const;
  bool is_number() const;
  bool is_bool() const;
  bool is_null() const;  // a JSON null (not a missing key)
  bool has(const char* key) const;

  Json operator[](const char* key) const;
  Json operator[](size_t index) const;
  size_t size() const;  // array length, 0 otherwise
  std::vector<Json> items() const;
  // An object's members in document order, key and value; empty otherwise.
  std::vector<std::pair<std::string, Json>> members() const;

  std::string str() const;
  int64_t num() const;
  bool boolean() const;
  std::string Dump() const;  // compact text, for messages

 private:
  Json(std::shared_ptr<cJSON> root, const cJSON* node) : root_(std::move(root)), node_(node) {}
  std::shared_ptr<cJSON> root_;
  const cJSON* node_ = nullptr;
};

}  // namespace parley::e2e
