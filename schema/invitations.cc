#include "schema/invitations.h"

#include "schema/json.h"

namespace parley {

std::string InvitationEventData(const Invitation& inv, MemberAction action, const User* by) {
  JsonWriter w;
  w.BeginObject().Key("room_id").Int(inv.room_id).Key("user");
  Write(w, inv.user);
  w.Key("action").String(ToString(action));
  if (by) {
    w.Key("by");
    Write(w, *by);
  }
  if (action == MemberAction::kInvited) {
    w.Key("invitation");
    Write(w, inv);
  }
  w.EndObject();
  return w.Take();
}

}  // namespace parley
