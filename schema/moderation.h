// What the two Storage backends (schema/store_moderation.cc on SQLite,
// schema/pg/store_moderation.cc on PostgreSQL) share of moderation and
// accounts: the rules that need no database and the JSON of the events
// they append, so both answer and log exactly alike.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "schema/model.h"
#include "schema/status.h"

namespace parley {

// 403 not_moderator: the actor is neither the room's owner nor a moderator.
Status NotModerator();
bool IsOwner(const Room& r, int64_t user_id);

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
