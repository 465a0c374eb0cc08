// The wire and database strings of the model's enums: one table each,
// indexed by the enum's value, read both ways.
#include "schema/model.h"

#include <array>

namespace parley {
namespace {

constexpr std::array<const char*, 4> kRoomKinds = {"public", "private", "qa", "dm"};
constexpr std::array<const char*, 3> kRoles = {"member", "student", "professor"};
constexpr std::array<const char*, 2> kAudiences = {"room", "all"};
constexpr std::array<const char*, 13> kMemberActions = {"joined",  "left",     "added",    "role",     "kicked",
                                                         "banned",  "unbanned", "muted",    "unmuted",  "moderator",
                                                         "invited", "declined", "uninvited"};
constexpr std::array<const char*, 3> kNotifyLevels = {"all", "mentions", "none"};

template <typename E, size_t N>
std::optional<E> Find(const std::array<const char*, N>& names, std::string_view s) {
  for (size_t i = 0; i < N; ++i) {
    if (s == names[i]) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace

const char* ToString(RoomKind kind) { return kRoomKinds[static_cast<size_t>(kind)]; }
const char* ToString(Role role) { return kRoles[static_cast<size_t>(role)]; }
const char* ToString(Audience audience) { return kAudiences[static_cast<size_t>(audience)]; }
const char* ToString(MemberAction action) { return kMemberActions[static_cast<size_t>(action)]; }

std::optional<RoomKind> ParseRoomKind(std::string_view s) { return Find<RoomKind>(kRoomKinds, s); }
std::optional<Role> ParseRole(std::string_view s) { return Find<Role>(kRoles, s); }
std::optional<Audience> ParseAudience(std::string_view s) { return Find<Audience>(kAudiences, s); }
std::optional<MemberAction> ParseMemberAction(std::string_view s) {
  return Find<MemberAction>(kMemberActions, s);
}
const char* ToString(NotifyLevel level) { return kNotifyLevels[static_cast<size_t>(level)]; }
std::optional<NotifyLevel> ParseNotifyLevel(std::string_view s) { return Find<NotifyLevel>(kNotifyLevels, s); }

}  // namespace parley
