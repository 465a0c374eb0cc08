#include "schema/moderation.h"

#include "schema/json.h"
#include "schema/store_rules.h"

namespace parley {

Status CheckSessionFor(bool exists, bool deactivated, const std::string& pw_hash,
                       const std::optional<std::string>& checked_pw_hash) {
  const Status bad = Status::Unauthorized("invalid_credentials", "wrong username or password");
  if (!exists) return bad;
  if (deactivated) return Status::Forbidden("account_deactivated", "this account was deactivated by an admin");
  if (checked_pw_hash && *checked_pw_hash != pw_hash) return bad;  // changed while the login checked it
  return Status::Ok();
}

Status NotModerator() {
  return Status::Forbidden("not_moderator", "only the room's owner or a moderator can do that");
}

Status BlockLimitReached() {
  return Status::Forbidden("block_limit_reached", "you block " + std::to_string(kMaxBlocks) +
                                                      " people already: unblock someone first");
}

bool IsOwner(const Room& r, int64_t user_id) { return r.owner && r.owner->id == user_id; }

Status CheckMayModerate(const Room& r, int64_t user_id, bool moderator, bool owner_only) {
  const bool owner = IsOwner(r, user_id);
  if (owner_only && !owner) return Status::Forbidden("not_owner", "only the room's owner sets roles and moderators");
  if (r.kind == RoomKind::kDm || (!owner && !moderator)) return NotModerator();
  return Status::Ok();
}

Result<UpdateTarget> ResolveUpdateTarget(Result<Member> member, const User& who, RoomKind kind, const MemberUpdate& u,
                                         const std::function<Result<std::optional<int64_t>>()>& kept_mute) {
  if (member.ok()) return UpdateTarget{std::move(*member), true};
  if (member.status().code() != Code::kNotFound || !u.mute || u.role || u.moderator) return member.status();
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> kept, kept_mute());
  if (!kept) return member.status();  // nothing of theirs in this room: 404 member_not_found
  UpdateTarget t{Member{who, DefaultRole(kind)}, false};
  t.state.muted_until = kept;
  return t;
}

std::optional<int64_t> MuteEnd(std::optional<int64_t> asked, int64_t now) {
  if (asked && *asked <= now) return std::nullopt;
  return asked;
}

Result<MemberUpdated> UpdatedAnswer(const UpdateTarget& t, const std::function<Result<Member>()>& reload) {
  if (!t.in_room) return MemberUpdated{std::nullopt, t.state.muted_until};
  PARLEY_ASSIGN_OR_RETURN(Member m, reload());
  return MemberUpdated{std::move(m), std::nullopt};
}

const std::string& MembershipEndingActionsSql() {
  static const std::string kList = std::string("('") + ToString(MemberAction::kLeft) + "', '" +
                                   ToString(MemberAction::kKicked) + "', '" + ToString(MemberAction::kBanned) + "')";
  return kList;
}

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
