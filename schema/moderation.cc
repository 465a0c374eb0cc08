#include "schema/moderation.h"

#include "schema/json.h"

namespace parley {

Status NotModerator() {
  return Status::Forbidden("not_moderator", "only the room's owner or a moderator can do that");
}

bool IsOwner(const Room& r, int64_t user_id) { return r.owner && r.owner->id == user_id; }

std::string ModerationEventData(int64_t room_id, const Member& m, MemberAction action, const User& by,
                                const std::string* reason) {
  JsonWriter w;
  w.BeginObject().Key("room_id").Int(room_id).Key("user");
  Write(w, m.user);
  w.Key("role").String(ToString(m.role)).Key("moderator").Bool(m.moderator);
  if (m.muted_until) w.Key("muted_until").Int(*m.muted_until);
  w.Key("action").String(ToString(action)).Key("by");
  Write(w, by);
  if (reason) w.Key("reason").String(*reason);
  w.EndObject();
  return w.Take();
}

std::string MemberEventData(int64_t room_id, const User& user, Role role, MemberAction action,
                            std::optional<int64_t> muted_until) {
  JsonWriter w;
  w.BeginObject().Key("room_id").Int(room_id).Key("user");
  Write(w, user);
  w.Key("role").String(ToString(role));
  if (muted_until) w.Key("moderator").Bool(false).Key("muted_until").Int(*muted_until);
  w.Key("action").String(ToString(action)).EndObject();
  return w.Take();
}

std::string AccountEventData(const User& who, const char* flag, bool value) {
  JsonWriter w;
  w.BeginObject().Key("user");
  Write(w, who);
  w.Key(flag).Bool(value).EndObject();
  return w.Take();
}

}  // namespace parley
