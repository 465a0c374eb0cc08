// schema/pg/store_moderation.cc against a real PostgreSQL server, with rooms
// and members laid out in SQL (pg_store_fixture.h): who may act on whom and
// what each action leaves (store_moderation_test.cc holds the same rules
// for both backends once rooms are on PostgreSQL), accounts, and the row
// locks that keep two moderators acting at once from both passing a check
// the other's action invalidates.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "schema/crypto.h"
#include "schema/pg/store.h"
#include "tests/unit/schema/pg_lock_wait.h"
#include "tests/unit/schema/pg_store_fixture.h"

namespace parley::pg {
namespace {

using test::kPgFakeHash;

class PgModerationTest : public test::PgStoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgStoreFixture::SetUp());
    owner_ = NewUser("owner");
    mod_ = NewUser("mod");
    member_ = NewUser("member");
    room_ = NewRoom(owner_, "club");
    AddMember(room_, mod_);
    AddMember(room_, member_);
    ASSERT_OK(conn_->Exec("UPDATE members SET moderator = 1 WHERE room_id = $1 AND user_id = $2", {room_, mod_.id})
                  .status());
  }
  // The events appended after `after`, as the log holds them.
  std::vector<Event> EventsSince(int64_t after) {
    auto ev = store_->EventsAfter(after, 100);
    EXPECT_OK(ev);
    return ev.ok() ? *ev : std::vector<Event>{};
  }
  int64_t Members(const User& u) {
    return QueryInt("SELECT COUNT(*) FROM members WHERE room_id = " + std::to_string(room_) +
                    " AND user_id = " + std::to_string(u.id));
  }
  // A PgStore on a connection of its own (another pool).
  std::unique_ptr<PgStore> OtherStore() {
    others_.push_back(OtherConn());
    EXPECT_NE(others_.back(), nullptr);
    return std::make_unique<PgStore>(*others_.back());
  }

  User owner_, mod_, member_;
  int64_t room_ = 0;
  std::vector<std::unique_ptr<PgConn>> others_;
};

TEST_F(PgModerationTest, WhoMayActOnWhom) {
  EXPECT_ERROR(store_->Kick(member_, room_, "mod"), Code::kForbidden, "not_moderator");
  EXPECT_ERROR(store_->Kick(mod_, room_, "owner"), Code::kForbidden, "target_protected");
  EXPECT_ERROR(store_->Kick(mod_, room_, "mod"), Code::kForbidden, "target_protected");
  EXPECT_ERROR(store_->Kick(mod_, room_, "nobody"), Code::kNotFound, "user_not_found");
  EXPECT_ERROR(store_->Kick(mod_, 987654, "member"), Code::kNotFound, "room_not_found");
  User eve = NewUser("eve");
  EXPECT_ERROR(store_->Kick(eve, room_, "member"), Code::kForbidden, "not_a_member");
  EXPECT_ERROR(store_->Kick(mod_, room_, "eve"), Code::kNotFound, "member_not_found");
  MemberUpdate make;
  make.moderator = true;
  EXPECT_ERROR(store_->UpdateMember(mod_, room_, "member", make), Code::kForbidden, "not_owner");
  // A private room is not revealed to an outsider.
  const int64_t secret = NewRoom(owner_, "secret", RoomKind::kPrivate);
  EXPECT_ERROR(store_->Kick(eve, secret, "owner"), Code::kNotFound, "room_not_found");
  EXPECT_EQ(Members(member_), 1) << "nothing was done";
}

TEST_F(PgModerationTest, MuteKickBanUnbanAppendTheirEvents) {
  const int64_t before = Head();
  MemberUpdate mute;
  mute.mute = NowMs() + 60000;
  ASSERT_OK_AND_ASSIGN(MemberUpdated muted, store_->UpdateMember(mod_, room_, "member", mute));
  ASSERT_TRUE(muted.member.has_value());
  EXPECT_EQ(muted.member->muted_until, mute.mute);
  ASSERT_OK(store_->Kick(mod_, room_, "member"));
  EXPECT_EQ(Members(member_), 0);
  EXPECT_ERROR(store_->Kick(mod_, room_, "member"), Code::kNotFound, "member_not_found");
  ASSERT_OK(store_->BanUser(mod_, room_, "member", "spam"));
  const int64_t banned = Head();
  ASSERT_OK(store_->BanUser(owner_, room_, "member", "again"));
  EXPECT_EQ(Head(), banned) << "already banned: no second event";
  ASSERT_OK_AND_ASSIGN(BanPage page, store_->Bans(owner_, room_, {}));
  const std::vector<Ban>& bans = page.bans;
  ASSERT_EQ(bans.size(), 1u);
  EXPECT_EQ(bans[0].user.id, member_.id);
  EXPECT_EQ(bans[0].reason, "spam");
  ASSERT_TRUE(bans[0].by.has_value());
  EXPECT_EQ(bans[0].by->id, mod_.id);
  EXPECT_ERROR(store_->Bans(member_, room_, {}), Code::kForbidden, "not_a_member");
  ASSERT_OK(store_->Unban(owner_, room_, "member"));
  ASSERT_OK(store_->Unban(owner_, room_, "member"));  // not banned: no event

  std::vector<Event> events = EventsSince(before);
  ASSERT_EQ(events.size(), 4u);
  const char* actions[] = {"\"muted\"", "\"kicked\"", "\"banned\"", "\"unbanned\""};
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].type, "member");
    EXPECT_EQ(events[i].room_id, room_);
    // The member hears of the mute and of the kick that removed them; the
    // ban and unban of someone no longer in the room reach the room only
    // (moderation.h, Addressed).
    if (i < 2) {
      EXPECT_EQ(events[i].target_id, member_.id) << "the member hears of it even once removed";
    } else {
      EXPECT_EQ(events[i].target_id, std::nullopt) << events[i].data;
    }
    EXPECT_NE(events[i].data.find(actions[i]), std::string::npos) << events[i].data;
  }
  EXPECT_NE(events[2].data.find("\"reason\":\"spam\""), std::string::npos) << events[2].data;
  EXPECT_NE(events[1].data.find("\"by\":{\"id\":" + std::to_string(mod_.id)), std::string::npos) << events[1].data;
  EXPECT_EQ(QueryInt("SELECT last_event_id FROM room_heads WHERE room_id = " + std::to_string(room_)), Head());
}

TEST_F(PgModerationTest, TheOwnerSetsModeratorsAndRolesThatFitTheRoom) {
  const int64_t qa = NewRoom(owner_, "qa", RoomKind::kQa);
  ASSERT_OK(conn_->Exec("INSERT INTO members (room_id, user_id, role, joined_ts) VALUES ($1, $2, 'student', 0)",
                        {qa, member_.id})
                .status());
  MemberUpdate wrong;
  wrong.role = Role::kMember;
  EXPECT_ERROR(store_->UpdateMember(owner_, qa, "member", wrong), Code::kInvalid, "invalid_field");
  const int64_t before = Head();
  MemberUpdate both;
  both.role = Role::kProfessor;
  both.moderator = true;
  ASSERT_OK_AND_ASSIGN(MemberUpdated updated, store_->UpdateMember(owner_, qa, "member", both));
  ASSERT_TRUE(updated.member.has_value());
  const Member& m = *updated.member;
  EXPECT_EQ(m.role, Role::kProfessor);
  EXPECT_TRUE(m.moderator);
  std::vector<Event> events = EventsSince(before);
  ASSERT_EQ(events.size(), 2u) << "the role's event, then the moderator's";
  EXPECT_NE(events[0].data.find("\"action\":\"role\""), std::string::npos) << events[0].data;
  EXPECT_NE(events[1].data.find("\"action\":\"moderator\""), std::string::npos) << events[1].data;
  ASSERT_OK(store_->UpdateMember(owner_, qa, "member", both));
  EXPECT_EQ(Head(), before + 2) << "nothing changed: no event";
}

// The owner demotes the moderator while the moderator kicks a member: the
// kick waits for the demotion's COMMIT (the actor's row is locked) and is
// then refused. Without the lock it would read the old row and succeed.
TEST_F(PgModerationTest, ADemotionRacingAKickWins) {
  auto owner_pool = OtherStore();
  auto mod_pool = OtherStore();
  auto watch = OtherConn();
  ASSERT_NE(watch, nullptr);
  MemberUpdate demote;
  demote.moderator = false;
  test::LockRace race = test::RaceAfterOpenWrite(
      *owner_pool, mod_pool->conn(), *watch,
      [&] { return owner_pool->UpdateMember(owner_, room_, "mod", demote).status(); },
      [&] { return mod_pool->Kick(mod_, room_, "member"); });
  EXPECT_TRUE(race.waited);
  EXPECT_ERROR(race.second, Code::kForbidden, "not_moderator");
  EXPECT_EQ(Members(member_), 1);
}

// The owner promotes a member while a moderator bans them: the ban waits
// (the target's row is locked) and then finds a moderator it cannot touch.
TEST_F(PgModerationTest, APromotionRacingABanProtectsTheNewModerator) {
  auto owner_pool = OtherStore();
  auto mod_pool = OtherStore();
  auto watch = OtherConn();
  ASSERT_NE(watch, nullptr);
  MemberUpdate promote;
  promote.moderator = true;
  test::LockRace race = test::RaceAfterOpenWrite(
      *owner_pool, mod_pool->conn(), *watch,
      [&] { return owner_pool->UpdateMember(owner_, room_, "member", promote).status(); },
      [&] { return mod_pool->BanUser(mod_, room_, "member", "race"); });
  EXPECT_TRUE(race.waited);
  EXPECT_ERROR(race.second, Code::kForbidden, "target_protected");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM bans"), 0);
  EXPECT_EQ(Members(member_), 1);
}

// A moderator moves the end of a kept mute, or lifts it, while its user
// comes back on another pool: the return waits for the kept row, which the
// change locked (FOR UPDATE, then its write) until COMMIT, and comes back
// as the change left it: muted until the new end, or unmuted; never with
// the old end, and no kept row is left behind.
TEST_F(PgModerationTest, AReturnRacingAKeptMuteChangeTakesTheNewEnd) {
  const int64_t old_end = NowMs() + 3600 * 1000, new_end = old_end + 3600 * 1000;
  const std::string room = std::to_string(room_), user = std::to_string(member_.id);
  auto out_with_kept_mute = [&] {
    ASSERT_OK(conn_->ExecScript("DELETE FROM members WHERE room_id = " + room + " AND user_id = " + user +
                                "; INSERT INTO kept_mutes (room_id, user_id, muted_until) VALUES (" + room + ", " +
                                user + ", " + std::to_string(old_end) + ")"));
  };
  const std::string listed =
      "SELECT COALESCE(muted_until, 0) FROM members WHERE room_id = " + room + " AND user_id = " + user;
  auto mod_pool = OtherStore();
  auto member_pool = OtherStore();
  auto watch = OtherConn();
  ASSERT_NE(watch, nullptr);
  for (std::optional<int64_t> end : {std::optional<int64_t>(new_end), std::optional<int64_t>()}) {
    ASSERT_NO_FATAL_FAILURE(out_with_kept_mute());
    MemberUpdate change;
    change.mute = end;
    test::LockRace race = test::RaceAfterOpenWrite(
        *mod_pool, member_pool->conn(), *watch,
        [&] { return mod_pool->UpdateMember(mod_, room_, "member", change).status(); },
        [&] { return member_pool->Join(member_, room_).status(); });
    EXPECT_TRUE(race.waited);
    EXPECT_OK(race.second);
    EXPECT_EQ(QueryInt(listed), end.value_or(0));
    EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM kept_mutes"), 0);
  }
}

TEST_F(PgModerationTest, AdminsDeactivateAndSeeAccounts) {
  EXPECT_ERROR(store_->SetDeactivated(owner_, "member", true), Code::kForbidden, "not_admin");
  EXPECT_ERROR(store_->SetAdmin("nobody", true), Code::kNotFound, "user_not_found");
  ASSERT_OK(store_->SetAdmin("OWNER", true));
  ASSERT_OK_AND_ASSIGN(bool admin, store_->IsAdmin(owner_.id));
  EXPECT_TRUE(admin);
  ASSERT_OK_AND_ASSIGN(bool not_admin, store_->IsAdmin(member_.id));
  EXPECT_FALSE(not_admin);
  EXPECT_ERROR(store_->SetDeactivated(owner_, "owner", true), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(store_->SetDeactivated(owner_, "nobody", true), Code::kNotFound, "user_not_found");

  const std::string token = TokenHash("member's");
  ASSERT_OK(store_->CreateSession(member_.id, token));
  const int64_t before = Head();
  ASSERT_OK(store_->SetDeactivated(owner_, "Member", true));
  ASSERT_OK(store_->SetDeactivated(owner_, "member", true));  // already: no event
  EXPECT_FALSE(store_->FindSession(token)->has_value()) << "every session ends";
  ASSERT_OK_AND_ASSIGN(std::vector<AccountInfo> listed, store_->AdminListUsers("MEM", 10));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].deactivated);
  EXPECT_FALSE(listed[0].admin);
  ASSERT_OK(store_->SetDeactivated(owner_, "member", false));
  std::vector<Event> events = EventsSince(before);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "user");
  EXPECT_EQ(events[0].target_id, member_.id);
  EXPECT_FALSE(events[0].room_id.has_value());
  EXPECT_NE(events[0].data.find("\"deactivated\":true"), std::string::npos) << events[0].data;
  EXPECT_NE(events[1].data.find("\"deactivated\":false"), std::string::npos) << events[1].data;
}

TEST_F(PgModerationTest, BlocksAndPasswords) {
  EXPECT_ERROR(store_->Block(owner_, "owner"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(store_->Block(owner_, "nobody"), Code::kNotFound, "user_not_found");
  ASSERT_OK(store_->Block(owner_, "member"));
  ASSERT_OK(store_->Block(owner_, "MEMBER"));  // once is enough
  ASSERT_OK(store_->Block(owner_, "mod"));
  ASSERT_OK_AND_ASSIGN(BlockPage blocked, store_->Blocks(owner_, {}));
  ASSERT_EQ(blocked.blocks.size(), 2u);  // in user id order
  EXPECT_EQ(blocked.blocks[0].id, std::min(member_.id, mod_.id));
  EXPECT_EQ(blocked.blocks[1].id, std::max(member_.id, mod_.id));
  ASSERT_OK(store_->Unblock(owner_, "member"));
  ASSERT_OK_AND_ASSIGN(blocked, store_->Blocks(owner_, {}));
  ASSERT_EQ(blocked.blocks.size(), 1u);

  const std::string keep = TokenHash("kept"), drop = TokenHash("dropped");
  ASSERT_OK(store_->CreateSession(member_.id, keep));
  ASSERT_OK(store_->CreateSession(member_.id, drop));
  const int64_t before = Head();
  ASSERT_OK(store_->SetPassword(member_.id, kPgFakeHash, keep));
  EXPECT_TRUE(store_->FindSession(keep)->has_value());
  EXPECT_FALSE(store_->FindSession(drop)->has_value());
  std::vector<Event> events = EventsSince(before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "user");
  EXPECT_EQ(events[0].target_id, member_.id);
  EXPECT_NE(events[0].data.find("\"password_changed\":true"), std::string::npos) << events[0].data;
  EXPECT_NE(events[0].data.find("\"username\":\"member\""), std::string::npos) << events[0].data;
  EXPECT_ERROR(store_->SetPassword(987654, kPgFakeHash, ""), Code::kNotFound, "user_not_found");
  ASSERT_OK(store_->SetPassword(member_.id, kPgFakeHash, ""));
  EXPECT_FALSE(store_->FindSession(keep)->has_value());
}

}  // namespace
}  // namespace parley::pg
