#include "schema/wakeup.h"

#include <cmath>

#include "schema/json.h"

namespace parley {
namespace {

// Ids are SQLite rowids that JSON carries as doubles: integral, positive and
// exact (below 2^53).
std::optional<int64_t> PositiveId(const cJSON* n) {
  if (!cJSON_IsNumber(n)) return std::nullopt;
  double v = n->valuedouble;
  if (!(v >= 1 && v <= 9007199254740992.0) || std::floor(v) != v) return std::nullopt;
  return static_cast<int64_t>(v);
}

// A username as the API accepts it (fcgi/validate.cc): 1-32 bytes of
// [A-Za-z0-9_.-]. Anything else did not come from parley-fcgi.
bool PlausibleUsername(const char* s) {
  size_t n = 0;
  for (; s[n]; ++n) {
    char c = s[n];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-';
    if (!ok || n >= 32) return false;
  }
  return n > 0;
}

// {"id","username"} as Write(JsonWriter&, User) makes it.
std::optional<User> PlausibleUser(const cJSON* user) {
  std::optional<int64_t> uid = PositiveId(cJSON_GetObjectItemCaseSensitive(user, "id"));
  const cJSON* name = cJSON_GetObjectItemCaseSensitive(user, "username");
  if (!uid || !cJSON_IsString(name) || !PlausibleUsername(name->valuestring)) return std::nullopt;
  return User{*uid, name->valuestring};
}

// A notice's "head": absent is 0 (a sender from before it was carried);
// present, 0 or a positive id.
std::optional<int64_t> NoticeHead(const cJSON* head) {
  if (!head) return 0;
  if (cJSON_IsNumber(head) && head->valuedouble == 0) return 0;
  return PositiveId(head);
}

}  // namespace

std::string EncodeHead(int64_t head) { return "{\"head\":" + std::to_string(head) + "}"; }

std::string EncodeTyping(int64_t room_id, const User& user, int64_t head) {
  JsonWriter w;
  w.BeginObject().Key("typing").BeginObject().Key("room_id").Int(room_id).Key("user");
  Write(w, user);
  w.Key("head").Int(head).EndObject().EndObject();
  return w.Take();
}

std::string EncodeReceipt(int64_t room_id, const User& user, int64_t event_id, int64_t head) {
  JsonWriter w;
  w.BeginObject().Key("receipt").BeginObject().Key("room_id").Int(room_id).Key("user");
  Write(w, user);
  w.Key("event_id").Int(event_id).Key("head").Int(head).EndObject().EndObject();
  return w.Take();
}

std::string EncodePresence(const User& user, bool online) {
  JsonWriter w;
  w.BeginObject().Key("presence").BeginObject().Key("user");
  Write(w, user);
  w.Key("online").Bool(online).EndObject().EndObject();
  return w.Take();
}

std::optional<Wakeup> DecodeWakeup(std::string_view datagram) {
  if (datagram.empty() || datagram.size() > kMaxWakeupBytes) return std::nullopt;
  JsonPtr j(cJSON_ParseWithLength(datagram.data(), datagram.size()));
  if (!cJSON_IsObject(j.get())) return std::nullopt;
  Wakeup w;
  if (const cJSON* head = cJSON_GetObjectItemCaseSensitive(j.get(), "head")) {
    std::optional<int64_t> h = PositiveId(head);
    if (!h) return std::nullopt;
    w.kind = Wakeup::Kind::kHead;
    w.head = *h;
    return w;
  }
  if (const cJSON* presence = cJSON_GetObjectItemCaseSensitive(j.get(), "presence")) {
    const cJSON* online = cJSON_GetObjectItemCaseSensitive(presence, "online");
    std::optional<User> user = PlausibleUser(cJSON_GetObjectItemCaseSensitive(presence, "user"));
    if (!cJSON_IsBool(online) || !user) return std::nullopt;
    w.kind = Wakeup::Kind::kPresence;
    w.user = *user;
    w.online = cJSON_IsTrue(online);
    return w;
  }
  const cJSON* typing = cJSON_GetObjectItemCaseSensitive(j.get(), "typing");
  const cJSON* receipt = cJSON_GetObjectItemCaseSensitive(j.get(), "receipt");
  if (receipt) {
    // Same body as typing, plus the marker.
    std::optional<int64_t> event = PositiveId(cJSON_GetObjectItemCaseSensitive(receipt, "event_id"));
    if (typing || !event) return std::nullopt;
    typing = receipt;
    w.event_id = *event;
  }
  std::optional<int64_t> room = PositiveId(cJSON_GetObjectItemCaseSensitive(typing, "room_id"));
  std::optional<User> user = PlausibleUser(cJSON_GetObjectItemCaseSensitive(typing, "user"));
  std::optional<int64_t> head = NoticeHead(cJSON_GetObjectItemCaseSensitive(typing, "head"));
  if (!room || !user || !head) return std::nullopt;
  w.kind = receipt ? Wakeup::Kind::kReceipt : Wakeup::Kind::kTyping;
  w.room_id = *room;
  w.user = *user;
  w.head = *head;
  return w;
}

}  // namespace parley
