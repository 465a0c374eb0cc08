// schema/model.cc: the one table of wire and database strings per enum.
#include "schema/model.h"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

TEST(ModelEnumTest, RoomKindRoundTrips) {
  for (RoomKind k : {RoomKind::kPublic, RoomKind::kPrivate, RoomKind::kQa, RoomKind::kDm}) {
    EXPECT_EQ(ParseRoomKind(ToString(k)), k) << ToString(k);
  }
  EXPECT_STREQ(ToString(RoomKind::kPublic), "public");
  EXPECT_STREQ(ToString(RoomKind::kPrivate), "private");
  EXPECT_STREQ(ToString(RoomKind::kQa), "qa");
  EXPECT_STREQ(ToString(RoomKind::kDm), "dm");
}

TEST(ModelEnumTest, RoleRoundTrips) {
  for (Role r : {Role::kMember, Role::kStudent, Role::kProfessor}) EXPECT_EQ(ParseRole(ToString(r)), r);
  EXPECT_STREQ(ToString(Role::kMember), "member");
  EXPECT_STREQ(ToString(Role::kStudent), "student");
  EXPECT_STREQ(ToString(Role::kProfessor), "professor");
}

TEST(ModelEnumTest, AudienceRoundTrips) {
  EXPECT_EQ(ParseAudience("room"), Audience::kRoom);
  EXPECT_EQ(ParseAudience("all"), Audience::kAll);
  EXPECT_STREQ(ToString(Audience::kRoom), "room");
  EXPECT_STREQ(ToString(Audience::kAll), "all");
  // The transitional comparison that events/fanout.cc still uses.
}

TEST(ModelEnumTest, MemberActionRoundTrips) {
  for (MemberAction a : {MemberAction::kJoined, MemberAction::kLeft, MemberAction::kAdded, MemberAction::kRole,
                        MemberAction::kKicked, MemberAction::kBanned, MemberAction::kUnbanned, MemberAction::kMuted,
                        MemberAction::kUnmuted, MemberAction::kModerator}) {
    EXPECT_EQ(ParseMemberAction(ToString(a)), a);
  }
  EXPECT_STREQ(ToString(MemberAction::kJoined), "joined");
  EXPECT_STREQ(ToString(MemberAction::kLeft), "left");
  EXPECT_STREQ(ToString(MemberAction::kAdded), "added");
  EXPECT_STREQ(ToString(MemberAction::kRole), "role");
}

TEST(ModelEnumTest, UnknownInputIsRefused) {
  // Exact, case-sensitive matches only: the database and the wire use these forms.
  for (const char* s : {"", "Public", "PUBLIC", "public ", "q", "qaa", "d", "all", "\0"}) {
    EXPECT_FALSE(ParseRoomKind(s).has_value()) << s;
  }
  for (const char* s : {"", "Member", "admin", "owner", "professors", "dm"}) EXPECT_FALSE(ParseRole(s).has_value()) << s;
  for (const char* s : {"", "All", "everyone", "public"}) EXPECT_FALSE(ParseAudience(s).has_value()) << s;
  for (const char* s : {"", "join", "LEFT", "kick"}) EXPECT_FALSE(ParseMemberAction(s).has_value()) << s;
  EXPECT_FALSE(ParseRoomKind(std::string("qa\0x", 4)).has_value());
}

}  // namespace
}  // namespace parley
