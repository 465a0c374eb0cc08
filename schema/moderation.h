// What the two Storage backends (schema/store_moderation.cc on SQLite,
// schema/pg/store_moderation.cc on PostgreSQL) share of moderation and
// accounts: the rules that need no database and the JSON of the events
// they append, so both answer and log exactly alike.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "schema/model.h"
#include "schema/status.h"
#include "schema/storage.h"  // MemberUpdate

namespace parley {

// CreateSession's check of the account (storage.h), in its transaction:
// 401 invalid_credentials if it is gone or, with checked_pw_hash, its
// password is no longer the one a login verified; 403 account_deactivated.
Status CheckSessionFor(bool exists, bool deactivated, const std::string& pw_hash,
                       const std::optional<std::string>& checked_pw_hash);

// 403 not_moderator: the actor is neither the room's owner nor a moderator.
Status NotModerator();
bool IsOwner(const Room& r, int64_t user_id);
// Whether a member (moderator or not) may act on the room's members:
// roles and the moderator flag are the owner's alone (owner_only, 403
// not_owner), the rest the owner's or a moderator's (403 not_moderator);
// nobody moderates a DM.
Status CheckMayModerate(const Room& r, int64_t user_id, bool moderator, bool owner_only);

// The people one user may block. Every room of theirs with something
// unread looks up each person they block (an unread count leaves out that
// person's messages, migration 020), so the count bounds the work of each
// room list: ~0.35 µs a lookup on SQLite, 0.3-0.8 on PostgreSQL. With
// 1,000 blocks a page of 50 unread rooms took 21 ms of parley-fcgi CPU
// instead of 1.7, and the whole list of 1,000 unread rooms 358 ms instead
// of 11 (tools/bench/conversations, PARLEY_BENCH_BLOCKS); with 200, 5.9
// and 86 ms. 200: more than anyone blocks by hand in a team's chat (a raid
// of many accounts is for a site admin's deactivation), at a few ms a page.
constexpr int64_t kMaxBlocks = 200;
// 403 block_limit_reached, for a block past kMaxBlocks.
Status BlockLimitReached();

// Whom UpdateMember changes. A mute outlives the membership (migration
// 017), so a moderator must be able to lift or change it while its user is
// out of the room, or a mute set by mistake and followed by a kick could
// never be undone before the user returns; a role or a moderator flag has
// no such life outside the room.
struct UpdateTarget {
  // In the room: the member as listed. Out of it: the state a moderation
  // event gives of them (as an unban's does): the room's default role, no
  // moderator, the kept mute's end.
  Member state;
  bool in_room = true;
};
// The target from the backend's two lookups, in its transaction: `member`
// (the member row, or 404 member_not_found), and, only for someone out of
// the room whom `u` asks nothing but a mute change of, `kept_mute` (the
// end of a kept mute that still runs, locked until COMMIT). Anything else
// of a non-member, or no running kept mute, stays 404 member_not_found.
Result<UpdateTarget> ResolveUpdateTarget(Result<Member> member, const User& who, RoomKind kind, const MemberUpdate& u,
                                         const std::function<Result<std::optional<int64_t>>()>& kept_mute);
// The mute an update asks for, as stored: a time already past lifts the
// mute, as null does.
std::optional<int64_t> MuteEnd(std::optional<int64_t> asked, int64_t now);
// UpdateMember's answer once committed: the member reloaded (`reload` is
// called only then), or the kept mute's end for someone out of the room.
Result<MemberUpdated> UpdatedAnswer(const UpdateTarget& t, const std::function<Result<Member>()>& reload);

// Whom a moderation `member` event reaches besides the room's members: the
// member it is about too (target_id), so that they hear of it once removed
// (kicked, banned). A ban of someone not in the room, and an unban, change
// no membership of theirs and reach the room only. Addressed to them, a
// moderator of any room (anyone can make one) could send anyone, blocked or
// not, a ban and its reason as often as the moderation rate allows; and a
// resume from before it read that room's log up to it, as if they had been
// a member and left (RoomsLeftSince).
enum class Addressed { kRoom, kRoomAndTarget };
inline Addressed BanAddressed(bool was_member) {
  return was_member ? Addressed::kRoomAndTarget : Addressed::kRoom;
}

// The `member` actions that end a membership (left, kicked, banned), as an
// SQL list for `action IN (...)`: what RoomsLeftSince counts as leaving,
// on both backends, in the names the events carry (ToString).
const std::string& MembershipEndingActionsSql();

// A moderation `member` event: the member's state after the action, who
// acted, and the reason of a ban.
std::string ModerationEventData(int64_t room_id, const Member& m, MemberAction action, const User& by,
                                const std::string* reason = nullptr);
// A membership `member` event (joined, added, left, role): the user, their
// role and the action. A member who comes back into a room while a mute
// kept from an earlier membership still runs (migration 017) comes back
// muted, and the event says so as a moderation event does: "moderator"
// (false: a return is never as a moderator) and "muted_until".
std::string MemberEventData(int64_t room_id, const User& user, Role role, MemberAction action,
                            std::optional<int64_t> muted_until = std::nullopt);
// A `user` event addressed to that user alone ({"user":...,"<flag>":value}):
// parley-events closes the connections of sessions it ended
// (Fanout::ApplyAccount) as it passes.
std::string AccountEventData(const User& who, const char* flag, bool value);

}  // namespace parley
