#include "json.h"

#include <cjson/cJSON.h>

#include <cmath>
#include <cstdlib>

namespace parley::e2e {

Json Json::Parse(const std::string& text) {
  cJSON* root = cJSON_ParseWithLength(text.data(), text.size());
  if (!root) return Json();
  std::shared_ptr<cJSON> owner(root, cJSON_Delete);
  return Json(owner, root);
}

bool Json::is_object() const { return node_ && cJSON_IsObject(node_); }
bool Json::is_array() const { return node_ && cJSON_IsArray(node_); }
bool Json::is_string() const { return node_ && cJSON_IsString(node_); }
bool Json::is_number() const { return node_ && cJSON_IsNumber(node_); }
bool Json::is_bool() const { return node_ && cJSON_IsBool(node_); }
bool Json::is_null() const { return node_ && cJSON_IsNull(node_); }
bool Json::has(const char* key) const {
  return is_object() && cJSON_GetObjectItemCaseSensitive(node_, key) != nullptr;
}

Json Json::operator[](const char* key) const {
  if (!is_object()) return Json();
  const cJSON* child = cJSON_GetObjectItemCaseSensitive(node_, key);
  return child ? Json(root_, child) : Json();
}

Json Json::operator[](size_t index) const {
  if (!is_array()) return Json();
  const cJSON* child = cJSON_GetArrayItem(node_, static_cast<int>(index));
  return child ? Json(root_, child) : Json();
}

size_t Json::size() const {
  return is_array() ? static_cast<size_t>(cJSON_GetArraySize(node_)) : 0;
}

std::vector<Json> Json::items() const {
  std::vector<Json> out;
  if (!is_array()) return out;
  for (const cJSON* c = node_->child; c; c = c->next) out.push_back(Json(root_, c));
  return out;
}

std::vector<std::pair<std::string, Json>> Json::members() const {
  std::vector<std::pair<std::string, Json>> out;
  if (!is_object()) return out;
  for (const cJSON* c = node_->child; c; c = c->next) out.emplace_back(c->string ? c->string : "", Json(root_, c));
  return out;
}

std::string Json::str() const {
  return is_string() && node_->valuestring ? std::string(node_->valuestring) : std::string();
}

int64_t Json::num() const {
  // valuedouble holds integers exactly up to 2^53, enough for ids and ms.
  return is_number() ? static_cast<int64_t>(std::llround(node_->valuedouble)) : 0;
}

bool Json::boolean() const { return node_ && cJSON_IsTrue(node_); }

std::string Json::Dump() const {
  if (!node_) return "(none)";
  char* text = cJSON_PrintUnformatted(node_);
  if (!text) return "(unprintable)";
  std::string out(text);
  cJSON_free(text);
  return out;
}

}  // namespace parley::e2e
