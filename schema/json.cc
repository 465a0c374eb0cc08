#include "schema/json.h"

#include <cstdlib>

namespace parley {

std::string PrintJson(const cJSON* j) {
  char* p = cJSON_PrintUnformatted(j);
  if (!p) return {};
  std::string s(p);
  cJSON_free(p);
  return s;
}

void AddInt(cJSON* obj, const char* key, int64_t v) {
  cJSON_AddItemToObject(obj, key, cJSON_CreateNumber(static_cast<double>(v)));
}

JsonPtr ToJson(const User& u) {
  JsonPtr j(cJSON_CreateObject());
  AddInt(j.get(), "id", u.id);
  cJSON_AddStringToObject(j.get(), "username", u.username.c_str());
  return j;
}

JsonPtr ToJson(const Room& r) {
  JsonPtr j(cJSON_CreateObject());
  AddInt(j.get(), "id", r.id);
  // A direct conversation is named after the other person, as seen by the reader.
  cJSON_AddStringToObject(j.get(), "name", (r.peer ? r.peer->username : r.name).c_str());
  cJSON_AddStringToObject(j.get(), "kind", r.kind.c_str());
  if (r.owner) {
    cJSON_AddItemToObject(j.get(), "owner", ToJson(*r.owner).release());
  } else {
    cJSON_AddNullToObject(j.get(), "owner");
  }
  cJSON_AddBoolToObject(j.get(), "member", r.member);
  if (r.role) {
    cJSON_AddStringToObject(j.get(), "role", r.role->c_str());
  } else {
    cJSON_AddNullToObject(j.get(), "role");
  }
  AddInt(j.get(), "unread", r.unread);
  AddInt(j.get(), "last_event_id", r.last_event_id);
  if (r.answers_per_professor) {
    AddInt(j.get(), "answers_per_professor", *r.answers_per_professor);
  } else {
    cJSON_AddNullToObject(j.get(), "answers_per_professor");
  }
  if (r.peer) cJSON_AddItemToObject(j.get(), "peer", ToJson(*r.peer).release());
  return j;
}

JsonPtr ToJson(const Member& m) {
  JsonPtr j(cJSON_CreateObject());
  cJSON_AddItemToObject(j.get(), "user", ToJson(m.user).release());
  cJSON_AddStringToObject(j.get(), "role", m.role.c_str());
  cJSON_AddBoolToObject(j.get(), "owner", m.owner);
  cJSON_AddBoolToObject(j.get(), "online", m.online);
  return j;
}

JsonPtr ToJson(const Message& m) {
  JsonPtr j(cJSON_CreateObject());
  AddInt(j.get(), "id", m.id);
  AddInt(j.get(), "room_id", m.room_id);
  cJSON_AddItemToObject(j.get(), "user", ToJson(m.user).release());
  cJSON_AddStringToObject(j.get(), "kind", m.kind.c_str());
  cJSON_AddStringToObject(j.get(), "text", m.text.c_str());
  if (m.reply_to) AddInt(j.get(), "reply_to", *m.reply_to);
  if (m.answer_id) AddInt(j.get(), "answer_id", *m.answer_id);
  AddInt(j.get(), "ts", m.ts);
  if (m.client_id) cJSON_AddStringToObject(j.get(), "client_id", m.client_id->c_str());
  if (m.edited) cJSON_AddTrueToObject(j.get(), "edited");
  if (m.deleted) cJSON_AddTrueToObject(j.get(), "deleted");
  return j;
}

std::string Wrap(const char* key, JsonPtr value) {
  JsonPtr j(cJSON_CreateObject());
  cJSON_AddItemToObject(j.get(), key, value.release());
  return PrintJson(j.get());
}

}  // namespace parley
