// Rooms, membership, roles, direct conversations, typing and read markers.
#include <algorithm>
#include <iterator>

#include "fcgi/api.h"
#include "fcgi/input.h"
#include "fcgi/response.h"
#include "fcgi/validate.h"

namespace parley::fcgi {
namespace {

constexpr int64_t kMaxReceiptRoom = 100;
// Public and Q&A rooms I am not in, in the room list without `limit`: a
// site may have any number (each user may own 50); the directory finds
// the rest by name. A hundred: PostgreSQL walks the name index for so few
// (3 ms at 50,000 rooms), where for a thousand it chose to read and sort
// them all (30-170 ms).
constexpr int kPublicRoomsInList = 100;

Response RoomResponse(int status, const Room& room) { return JsonResponse(status, Wrap("room", room)); }

}  // namespace

Result<Response> Api::Rooms(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<Room> rooms, store_.MyRooms(c.user));
  PARLEY_ASSIGN_OR_RETURN(std::vector<Room> others, store_.Directory(c.user, "", kPublicRoomsInList));
  rooms.insert(rooms.end(), std::make_move_iterator(others.begin()), std::make_move_iterator(others.end()));
  std::sort(rooms.begin(), rooms.end(), [](const Room& a, const Room& b) { return a.id < b.id; });
  return JsonResponse(200, Wrap("rooms", rooms));
}

Result<Response> Api::CreateRoom(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::string name, RequireString(c.body, "name"));
  PARLEY_ASSIGN_OR_RETURN(std::string kind_name, RequireString(c.body, "kind"));
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> per_prof,
                          OptionalInt(c.body, "answers_per_professor", 1, 1000000));
  PARLEY_RETURN_IF_ERROR(ValidateRoomName(name));
  std::optional<RoomKind> kind = ParseRoomKind(kind_name);
  if (!kind || *kind == RoomKind::kDm) {
    return Status::Invalid("invalid_field", "kind must be public, private or qa");
  }
  if (per_prof && *kind != RoomKind::kQa) {
    return Status::Invalid("invalid_field", "answers_per_professor applies to qa rooms only");
  }
  PARLEY_ASSIGN_OR_RETURN(Room room, store_.CreateRoom(c.user, name, *kind, per_prof));
  return RoomResponse(201, room);
}

Result<Response> Api::GetRoom(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(Room room, store_.GetRoom(c.user, c.route.num));
  return RoomResponse(200, room);
}

// A JSON merge patch (RFC 7396): absent fields stay, {} changes nothing
// (200, after the same checks), null removes: the topic, never the name.
Result<Response> Api::UpdateRoom(Call& c) {
  RoomUpdate u;
  if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c.body, "name"))) {
    return Status::Invalid("invalid_field", "a room keeps a name");
  }
  PARLEY_ASSIGN_OR_RETURN(u.name, OptionalString(c.body, "name"));
  if (u.name) PARLEY_RETURN_IF_ERROR(ValidateRoomName(*u.name));
  if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c.body, "topic"))) {
    u.topic = "";
  } else {
    PARLEY_ASSIGN_OR_RETURN(u.topic, OptionalString(c.body, "topic"));
    if (u.topic) PARLEY_RETURN_IF_ERROR(ValidateTopic(*u.topic));
  }
  PARLEY_ASSIGN_OR_RETURN(Room room, store_.UpdateRoom(c.user, c.route.num, u));
  return RoomResponse(200, room);
}

Result<Response> Api::Join(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(Room room, store_.Join(c.user, c.route.num));
  return RoomResponse(200, room);
}

Result<Response> Api::Leave(Call& c) {
  PARLEY_RETURN_IF_ERROR(store_.Leave(c.user, c.route.num));
  return NoContent();
}

Result<Response> Api::Invite(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::string username, RequireString(c.body, "username"));
  PARLEY_RETURN_IF_ERROR(ValidateUsername(username));  // a body's field: 400, not a path's 404
  PARLEY_ASSIGN_OR_RETURN(Invited done, store_.Invite(c.user, c.route.num, username));
  if (done.member) return JsonResponse(200, Wrap("member", *done.member));
  return JsonResponse(done.created ? 201 : 200, Wrap("invitation", *done.invitation));
}

Result<Response> Api::Invitations(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<Invitation> all, store_.Invitations(c.user));
  return JsonResponse(200, Wrap("invitations", all));
}

Result<Response> Api::RoomInvitations(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(UserPageQuery q, QueryUserPage(c.req.query));
  PARLEY_ASSIGN_OR_RETURN(InvitationPage page, store_.RoomInvitations(c.user, c.route.num, q));
  return JsonResponse(200, WrapUserPage("invitations", page.invitations, page.next));
}

Result<Response> Api::DeclineInvitation(Call& c) {
  PARLEY_RETURN_IF_ERROR(store_.DeclineInvitation(c.user, c.route.num));
  return NoContent();
}

Result<Response> Api::Members(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(UserPageQuery q, QueryUserPage(c.req.query));
  PARLEY_ASSIGN_OR_RETURN(MemberPage page, store_.Members(c.user, c.route.num, q));
  return JsonResponse(200, WrapUserPage("members", page.members, page.next));
}

Result<Response> Api::GetMember(Call& c) {
  PARLEY_RETURN_IF_ERROR(CheckPathUsername(c.route.name));
  PARLEY_ASSIGN_OR_RETURN(Member m, store_.FindMember(c.user, c.route.num, c.route.name));
  return JsonResponse(200, Wrap("member", m));
}

Result<Response> Api::Dm(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::string username, RequireString(c.body, "username"));
  PARLEY_RETURN_IF_ERROR(ValidateUsername(username));  // a body's field: 400, not a path's 404
  PARLEY_ASSIGN_OR_RETURN(auto dm, store_.GetOrCreateDm(c.user, username));
  return RoomResponse(dm.second ? 201 : 200, dm.first);
}

Result<Response> Api::Typing(Call& c) {
  // Ephemeral: checked against membership (and mute, and in a DM the other
  // person's block: typing speaks in the room too), never stored, sent only
  // to the events daemon. Its bucket lives in this worker's memory, not in
  // write_quota: a typing flood then never queues for SQLite's one write
  // lock, which sends need. The price: with N workers a user may type N
  // times the rate, which is harmless (parley-events merges typing notices).
  Take t = typing_buckets_.Consume(c.user.id, store_.limits().rate(WriteClass::kTyping), NowMs());
  if (!t.ok) return WriteThrottled(WriteClass::kTyping, t.retry_after_ms);
  PARLEY_RETURN_IF_ERROR(store_.CheckMayType(c.user, c.route.num));
  // Read after the check, so it covers any kick or leave the check saw.
  PARLEY_ASSIGN_OR_RETURN(int64_t head, store_.Head());
  notifier_.Typing(c.route.num, c.user, head);
  return NoContent();
}

Result<Response> Api::Read(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(int64_t event_id, RequireInt(c.body, "event_id", 0, kMaxId));
  // Where the marker moved to: event_id, or the log's head if it lies beyond.
  std::optional<int64_t> moved_to;
  PARLEY_RETURN_IF_ERROR(store_.MarkRead(c.user, c.route.num, event_id, &moved_to));
  if (moved_to) {
    // A receipt to the room's connected members, ephemeral like typing
    // (DESIGN section 4): only in rooms of at most kMaxReceiptRoom members,
    // where "who has read up to where" is worth showing.
    PARLEY_ASSIGN_OR_RETURN(int64_t members, store_.MemberCount(c.route.num, kMaxReceiptRoom + 1));
    // The marker has moved whatever follows: a head that cannot be read
    // costs only the receipt (ephemeral), not the answer.
    auto head = store_.Head();
    if (members <= kMaxReceiptRoom && head.ok()) notifier_.Receipt(c.route.num, c.user, *moved_to, *head);
  }
  return NoContent();
}

}  // namespace parley::fcgi
