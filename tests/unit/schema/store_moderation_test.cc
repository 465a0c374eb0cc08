// schema/store_moderation.cc in-process, on a real SQLite file: who may act
// on whom, what each action leaves in the tables and in the log, and that a
// replay (EventsForUser) agrees with live fan-out about a kicked member; and
// renaming a room or setting its topic (UpdateRoom, schema/store_rooms.cc).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "schema/crypto.h"
#include "schema/moderation.h"
#include "schema/store.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

using test::kFakeHash;

class StoreModerationTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore());
    owner_ = NewUser("owner");
    mod_ = NewUser("mod");
    member_ = NewUser("member");
    room_ = NewRoomWith(owner_, "club", RoomKind::kPublic, {&mod_, &member_}).id;
    ASSERT_FALSE(HasFailure());
    MemberUpdate make;
    make.moderator = true;
    ASSERT_OK(store_->UpdateMember(owner_, room_, "mod", make));
  }
  std::vector<Event> EventsOf(const User& u, int64_t after) {
    auto h = store_->Head();
    EXPECT_OK(h);
    auto ev = store_->EventsForUser(u.id, after, h.ok() ? *h : 0, 1000);
    EXPECT_OK(ev);
    return ev.ok() ? *ev : std::vector<Event>();
  }

  // The owner mutes `who` in room_ until `until`.
  void Mute(const std::string& who, std::optional<int64_t> until, int64_t room = 0) {
    MemberUpdate mute;
    mute.mute = until;
    EXPECT_OK(store_->UpdateMember(owner_, room != 0 ? room : room_, who, mute));
  }
  // What the member list shows of u's mute in room_ (nullopt: not muted,
  // or not a member).
  std::optional<int64_t> ListedMute(const User& u, int64_t room = 0) {
    auto page = store_->Members(owner_, room != 0 ? room : room_, {});
    EXPECT_OK(page);
    if (!page.ok()) return std::nullopt;
    for (const Member& m : page->members) {
      if (m.user.id == u.id) return m.muted_until;
    }
    ADD_FAILURE() << u.username << " is not in the member list";
    return std::nullopt;
  }
  // The data of the last `member` event about u after `after`, seen by the owner.
  std::string LastMemberEvent(const User& u, int64_t after) {
    std::string data;
    for (const Event& e : EventsOf(owner_, after)) {
      if (e.type == "member" && e.target_id == u.id) data = e.data;
    }
    return data;
  }
  int64_t KeptMutes() { return QueryInt("SELECT COUNT(*) FROM kept_mutes"); }

  // Every way of speaking in the room refused to u with 403 `reason`, and
  // nothing appended: a send, an edit of u's message `mine` (new text, a new
  // mention), a reaction added to it or to another's `theirs`, typing.
  void ExpectSilenced(const User& u, int64_t room, int64_t mine, int64_t theirs, const char* reason) {
    const int64_t head = Head();
    EXPECT_ERROR(store_->Send(u, room, "hello", std::nullopt), Code::kForbidden, reason);
    EXPECT_ERROR(store_->Edit(u, mine, "now with @owner"), Code::kForbidden, reason);
    EXPECT_ERROR(store_->React(u, theirs, "down", true), Code::kForbidden, reason);
    EXPECT_ERROR(store_->React(u, mine, "up", true), Code::kForbidden, reason);
    EXPECT_ERROR(store_->CheckMayType(u, room), Code::kForbidden, reason);
    EXPECT_EQ(Head(), head) << "a refusal appends nothing";
  }

  User owner_, mod_, member_;
  int64_t room_ = 0;
};

TEST_F(StoreModerationTest, WhoMayActOnWhom) {
  EXPECT_ERROR(store_->Kick(member_, room_, "mod"), Code::kForbidden, "not_moderator");
  EXPECT_ERROR(store_->Kick(mod_, room_, "owner"), Code::kForbidden, "target_protected");
  EXPECT_ERROR(store_->Kick(mod_, room_, "mod"), Code::kForbidden, "target_protected");
  EXPECT_ERROR(store_->Kick(mod_, room_, "nobody"), Code::kNotFound, "user_not_found");
  MemberUpdate make;
  make.moderator = true;
  EXPECT_ERROR(store_->UpdateMember(mod_, room_, "member", make), Code::kForbidden, "not_owner");
  // The owner acts on a moderator; a moderator on a plain member.
  MemberUpdate mute;
  mute.mute = NowMs() + 60000;
  ASSERT_OK(store_->UpdateMember(owner_, room_, "mod", mute));
  ASSERT_OK(store_->UpdateMember(mod_, room_, "member", mute));
  EXPECT_ERROR(store_->Send(member_, room_, "hello", std::nullopt), Code::kForbidden, "muted");
}

// QA's repro: a muted member left and joined again, and their next send
// got 201. The mute outlives the membership: the member comes back muted
// until the same time, in the member list and in the `joined` event too.
TEST_F(StoreModerationTest, LeavingAndRejoiningKeepsTheMute) {
  const int64_t until = NowMs() + 3600 * 1000;
  Mute("member", until);
  EXPECT_ERROR(store_->Send(member_, room_, "hi", std::nullopt), Code::kForbidden, "muted");
  ASSERT_OK(store_->Leave(member_, room_));
  EXPECT_EQ(KeptMutes(), 1);
  const int64_t before = Head();
  ASSERT_OK(store_->Join(member_, room_));
  EXPECT_ERROR(store_->Send(member_, room_, "hi", std::nullopt), Code::kForbidden, "muted");
  EXPECT_EQ(ListedMute(member_), until);
  const std::string joined = LastMemberEvent(member_, before);
  EXPECT_NE(joined.find("\"action\":\"joined\""), std::string::npos) << joined;
  EXPECT_NE(joined.find("\"moderator\":false,\"muted_until\":" + std::to_string(until)), std::string::npos)
      << joined;
  EXPECT_EQ(KeptMutes(), 0) << "taken back into the members row";
  // Leaving again keeps it again: the send check reads the members row.
  ASSERT_OK(store_->Leave(member_, room_));
  ASSERT_OK(store_->Join(member_, room_));
  EXPECT_ERROR(store_->Send(member_, room_, "hi", std::nullopt), Code::kForbidden, "muted");
}

TEST_F(StoreModerationTest, AKickedMemberComesBackMuted) {
  const int64_t until = NowMs() + 3600 * 1000;
  Mute("member", until);
  ASSERT_OK(store_->Kick(mod_, room_, "member"));
  ASSERT_OK(store_->Join(member_, room_));  // a public room: they may rejoin
  EXPECT_ERROR(store_->Send(member_, room_, "hi", std::nullopt), Code::kForbidden, "muted");
  EXPECT_EQ(ListedMute(member_), until);
}

TEST_F(StoreModerationTest, ABannedMemberUnbannedComesBackMuted) {
  const int64_t until = NowMs() + 3600 * 1000;
  Mute("member", until);
  ASSERT_OK(store_->BanUser(mod_, room_, "member", "spam"));
  ASSERT_OK(store_->Unban(owner_, room_, "member"));
  ASSERT_OK(store_->Join(member_, room_));
  EXPECT_ERROR(store_->Send(member_, room_, "hi", std::nullopt), Code::kForbidden, "muted");
  EXPECT_EQ(ListedMute(member_), until);
}

// Back by invitation (a private room): the accepting join and its
// `joined` event show the mute.
TEST_F(StoreModerationTest, AnInviteBackKeepsTheMute) {
  const int64_t priv = NewRoom(owner_, "backroom", RoomKind::kPrivate).id;
  InviteAndJoin(owner_, priv, member_);
  const int64_t until = NowMs() + 3600 * 1000;
  Mute("member", until, priv);
  ASSERT_OK(store_->Leave(member_, priv));
  ASSERT_OK_AND_ASSIGN(Invited invited, store_->Invite(owner_, priv, "member"));
  EXPECT_TRUE(invited.created);
  const int64_t before = Head();
  ASSERT_OK(store_->Join(member_, priv));
  EXPECT_ERROR(store_->Send(member_, priv, "hi", std::nullopt), Code::kForbidden, "muted");
  EXPECT_EQ(ListedMute(member_, priv), until);
  const std::string joined = LastMemberEvent(member_, before);
  EXPECT_NE(joined.find("\"action\":\"joined\""), std::string::npos) << joined;
  EXPECT_NE(joined.find("\"muted_until\":" + std::to_string(until)), std::string::npos) << joined;
}

// A mute whose time has passed is not carried, whether it ran out while the
// member was in or while they were out; a kept one that ran out is pruned
// when the room keeps another.
TEST_F(StoreModerationTest, AnExpiredMuteIsNotCarried) {
  User other = NewUser("other");
  JoinOk(other, room_);
  Mute("member", NowMs() + 3600 * 1000);
  ASSERT_OK(store_->Leave(member_, room_));
  // Time passes while the member is out.
  ASSERT_OK(Exec("UPDATE kept_mutes SET muted_until = 1000"));
  ASSERT_OK(store_->Join(member_, room_));
  ASSERT_OK(store_->Send(member_, room_, "back", std::nullopt));
  EXPECT_EQ(ListedMute(member_), std::nullopt);
  EXPECT_EQ(KeptMutes(), 0) << "a return takes the kept row, run out or not";

  // Runs out while the member is in: nothing to keep when they leave.
  Mute("member", NowMs() + 3600 * 1000);
  ASSERT_OK(Exec("UPDATE members SET muted_until = 1000 WHERE user_id = " + std::to_string(member_.id)));
  ASSERT_OK(store_->Leave(member_, room_));
  EXPECT_EQ(KeptMutes(), 0);

  // A kept mute that ran out, its user never back, goes when another is kept.
  ASSERT_OK(Exec("INSERT INTO kept_mutes (room_id, user_id, muted_until) VALUES (" + std::to_string(room_) + ", " +
                 std::to_string(member_.id) + ", 1000)"));
  Mute("other", NowMs() + 3600 * 1000);
  ASSERT_OK(store_->Leave(other, room_));
  EXPECT_EQ(KeptMutes(), 1);
  EXPECT_EQ(QueryInt("SELECT user_id FROM kept_mutes"), other.id);
}

TEST_F(StoreModerationTest, AModeratorLiftsAMuteAfterTheReturn) {
  Mute("member", NowMs() + 3600 * 1000);
  ASSERT_OK(store_->Leave(member_, room_));
  ASSERT_OK(store_->Join(member_, room_));
  const int64_t before = Head();
  MemberUpdate lift;
  lift.mute = std::optional<int64_t>();
  ASSERT_OK_AND_ASSIGN(MemberUpdated m, store_->UpdateMember(mod_, room_, "member", lift));
  ASSERT_TRUE(m.member.has_value());
  EXPECT_EQ(m.member->muted_until, std::nullopt);
  EXPECT_NE(LastMemberEvent(member_, before).find("\"unmuted\""), std::string::npos);
  ASSERT_OK(store_->Send(member_, room_, "free", std::nullopt));
  // Lifted for good: another leave and return keeps nothing.
  ASSERT_OK(store_->Leave(member_, room_));
  EXPECT_EQ(KeptMutes(), 0);
  ASSERT_OK(store_->Join(member_, room_));
  ASSERT_OK(store_->Send(member_, room_, "still free", std::nullopt));
}

// A mute set by mistake and followed by a kick can be undone before the
// user comes back: the owner or a moderator lifts the kept mute while the
// user is out, one `unmuted` event tells the room and the user, and the
// return is unmuted.
TEST_F(StoreModerationTest, AModeratorLiftsAKeptMuteWhileTheUserIsOut) {
  Mute("member", NowMs() + 3600 * 1000);
  ASSERT_OK(store_->Kick(owner_, room_, "member"));
  ASSERT_EQ(KeptMutes(), 1);
  const int64_t before = Head();
  MemberUpdate lift;
  lift.mute = std::optional<int64_t>();
  ASSERT_OK_AND_ASSIGN(MemberUpdated m, store_->UpdateMember(mod_, room_, "member", lift));
  EXPECT_FALSE(m.member.has_value()) << "not a member: no member object";
  EXPECT_EQ(m.kept_muted_until, std::nullopt);
  EXPECT_EQ(KeptMutes(), 0);
  EXPECT_EQ(Head(), before + 1) << "one event";
  const std::string event = LastMemberEvent(member_, before);
  EXPECT_NE(event.find("\"action\":\"unmuted\""), std::string::npos) << event;
  EXPECT_NE(event.find("\"moderator\":false"), std::string::npos) << event;
  EXPECT_EQ(event.find("muted_until"), std::string::npos) << event;
  std::vector<Event> theirs = EventsOf(member_, before);
  ASSERT_EQ(theirs.size(), 1u) << "addressed to the user, who is out of the room";
  EXPECT_EQ(theirs[0].data, event);
  // Lifting it again: nothing kept, nothing to change, 404 as for anyone out of the room.
  EXPECT_ERROR(store_->UpdateMember(mod_, room_, "member", lift), Code::kNotFound, "member_not_found");
  ASSERT_OK(store_->Join(member_, room_));
  EXPECT_EQ(ListedMute(member_), std::nullopt);
  ASSERT_OK(store_->Send(member_, room_, "back, and free", std::nullopt));
}

// A kept mute's end can be moved while the user is out (here banned): the
// return is muted until the new time; a time already past lifts it.
TEST_F(StoreModerationTest, AModeratorChangesAKeptMutesEndWhileTheUserIsOut) {
  Mute("member", NowMs() + 3600 * 1000);
  ASSERT_OK(store_->BanUser(mod_, room_, "member", "spam"));
  const int64_t later = NowMs() + 7200 * 1000;
  const int64_t before = Head();
  MemberUpdate move;
  move.mute = later;
  ASSERT_OK_AND_ASSIGN(MemberUpdated m, store_->UpdateMember(mod_, room_, "member", move));
  EXPECT_FALSE(m.member.has_value());
  EXPECT_EQ(m.kept_muted_until, later);
  const std::string event = LastMemberEvent(member_, before);
  EXPECT_NE(event.find("\"action\":\"muted\""), std::string::npos) << event;
  EXPECT_NE(event.find("\"muted_until\":" + std::to_string(later)), std::string::npos) << event;
  // The same end again changes nothing and appends nothing.
  const int64_t same = Head();
  ASSERT_OK_AND_ASSIGN(MemberUpdated again, store_->UpdateMember(owner_, room_, "member", move));
  EXPECT_EQ(again.kept_muted_until, later);
  EXPECT_EQ(Head(), same);
  ASSERT_OK(store_->Unban(owner_, room_, "member"));
  ASSERT_OK(store_->Join(member_, room_));
  EXPECT_EQ(ListedMute(member_), later);
  EXPECT_ERROR(store_->Send(member_, room_, "hello?", std::nullopt), Code::kForbidden, "muted");

  // Out again; a time already past lifts the kept mute as null does.
  ASSERT_OK(store_->Leave(member_, room_));
  MemberUpdate past;
  past.mute = int64_t{1000};
  ASSERT_OK_AND_ASSIGN(MemberUpdated lifted, store_->UpdateMember(mod_, room_, "member", past));
  EXPECT_FALSE(lifted.member.has_value());
  EXPECT_EQ(lifted.kept_muted_until, std::nullopt);
  EXPECT_EQ(KeptMutes(), 0);
}

// Out of the room, a kept mute is all an update can reach, under the rules
// that hold for members; everything else stays 404 member_not_found and
// appends nothing.
TEST_F(StoreModerationTest, OutOfTheRoomOnlyAKeptMuteCanChange) {
  User plain = NewUser("plain");
  JoinOk(plain, room_);
  NewUser("never");  // known, never in the room
  Mute("member", NowMs() + 3600 * 1000);
  ASSERT_OK(store_->Leave(member_, room_));
  const int64_t head = Head();
  MemberUpdate lift;
  lift.mute = std::optional<int64_t>();
  EXPECT_ERROR(store_->UpdateMember(plain, room_, "member", lift), Code::kForbidden, "not_moderator");
  EXPECT_ERROR(store_->UpdateMember(mod_, room_, "never", lift), Code::kNotFound, "member_not_found");
  EXPECT_ERROR(store_->UpdateMember(mod_, room_, "nobody", lift), Code::kNotFound, "user_not_found");
  // Roles and moderators are for members only, even with a mute change.
  MemberUpdate role;
  role.role = Role::kMember;
  EXPECT_ERROR(store_->UpdateMember(owner_, room_, "member", role), Code::kNotFound, "member_not_found");
  MemberUpdate both;
  both.moderator = true;
  both.mute = std::optional<int64_t>();
  EXPECT_ERROR(store_->UpdateMember(owner_, room_, "member", both), Code::kNotFound, "member_not_found");
  both.moderator.reset();
  both.role = Role::kMember;
  EXPECT_ERROR(store_->UpdateMember(owner_, room_, "member", both), Code::kNotFound, "member_not_found");
  EXPECT_EQ(Head(), head) << "a refusal appends nothing";
  EXPECT_EQ(KeptMutes(), 1) << "and keeps the mute";
  // A kept mute that ran out is no mute: nothing to lift.
  ASSERT_OK(Exec("UPDATE kept_mutes SET muted_until = 1000"));
  EXPECT_ERROR(store_->UpdateMember(mod_, room_, "member", lift), Code::kNotFound, "member_not_found");
  // A moderator out of the room is no moderator: the kick took the flag,
  // so another moderator may lift their kept mute.
  MemberUpdate make;
  make.moderator = true;
  ASSERT_OK(store_->UpdateMember(owner_, room_, "plain", make));
  Mute("plain", NowMs() + 3600 * 1000);
  ASSERT_OK(store_->Kick(owner_, room_, "plain"));
  ASSERT_OK(store_->UpdateMember(mod_, room_, "plain", lift));
  EXPECT_ERROR(store_->UpdateMember(mod_, room_, "mod", lift), Code::kForbidden, "target_protected");
}

// A kept mute names a room and a user: deleting either deletes it.
TEST_F(StoreModerationTest, DeletingTheUserOrTheRoomLeavesNoKeptMute) {
  Mute("member", NowMs() + 3600 * 1000);
  ASSERT_OK(store_->Leave(member_, room_));
  User other = NewUser("other");
  JoinOk(other, room_);
  Mute("other", NowMs() + 3600 * 1000);
  ASSERT_OK(store_->Kick(owner_, room_, "other"));
  ASSERT_EQ(KeptMutes(), 2);
  ASSERT_OK(Exec("DELETE FROM users WHERE id = " + std::to_string(member_.id)));
  EXPECT_EQ(KeptMutes(), 1);
  ASSERT_OK(Exec("DELETE FROM rooms WHERE id = " + std::to_string(room_)));
  EXPECT_EQ(KeptMutes(), 0);
}

TEST_F(StoreModerationTest, ABanKeepsOutAndAKickedMembersReplayStopsAtTheKick) {
  const int64_t before = *store_->Head();
  ASSERT_OK(store_->Kick(mod_, room_, "member"));
  auto after_kick = store_->Send(owner_, room_, "after the kick", std::nullopt);
  ASSERT_OK(after_kick);
  bool kick_seen = false;
  for (const Event& e : EventsOf(member_, before)) {
    EXPECT_EQ(e.data.find("after the kick"), std::string::npos) << e.data;
    if (e.type == "member" && e.data.find("\"kicked\"") != std::string::npos) kick_seen = true;
  }
  EXPECT_TRUE(kick_seen) << "the kick is addressed to the kicked member";

  ASSERT_OK(store_->Join(member_, room_));  // kicked, not banned
  ASSERT_OK(store_->BanUser(mod_, room_, "member", "spam"));
  EXPECT_ERROR(store_->Join(member_, room_), Code::kForbidden, "banned");
  auto bans = store_->Bans(owner_, room_, {});
  ASSERT_OK(bans);
  ASSERT_EQ(bans->bans.size(), 1u);
  EXPECT_EQ(bans->bans[0].reason, "spam");
  EXPECT_FALSE(bans->next.has_value());
  ASSERT_OK(store_->Unban(owner_, room_, "member"));
  ASSERT_OK(store_->Join(member_, room_));
}

// Bans and blocks come in pages in user id order, as members do: a room
// under a spam wave may ban thousands, and none of these lists is read
// whole in one request any more.
TEST_F(StoreModerationTest, BansAndBlocksComeInPagesInUserIdOrder) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    User u = NewUser("spam" + std::to_string(i));
    ASSERT_OK(store_->Join(u, room_));
    ASSERT_OK(store_->BanUser(mod_, room_, u.username, "spam"));
    ASSERT_OK(store_->Block(member_, u.username));
    ids.push_back(u.id);
  }
  // Walks every page of `limit`, collecting the ids and counting pages.
  auto walk = [&](auto page_of, int limit) {
    std::vector<int64_t> seen;
    UserPageQuery q;
    q.limit = limit;
    for (int pages = 0; pages < 10; ++pages) {
      auto page = page_of(q);
      EXPECT_OK(page);
      if (!page.ok()) break;
      for (int64_t id : page->first) seen.push_back(id);
      if (!page->second) break;
      EXPECT_EQ(*page->second, seen.back()) << "next is the last kept";
      q.after = *page->second;
    }
    return seen;
  };
  auto bans = [&](const UserPageQuery& q) -> Result<std::pair<std::vector<int64_t>, std::optional<int64_t>>> {
    PARLEY_ASSIGN_OR_RETURN(BanPage p, store_->Bans(owner_, room_, q));
    std::vector<int64_t> out;
    for (const Ban& b : p.bans) out.push_back(b.user.id);
    return std::make_pair(out, p.next);
  };
  auto blocks = [&](const UserPageQuery& q) -> Result<std::pair<std::vector<int64_t>, std::optional<int64_t>>> {
    PARLEY_ASSIGN_OR_RETURN(BlockPage p, store_->Blocks(member_, q));
    std::vector<int64_t> out;
    for (const User& u : p.blocks) out.push_back(u.id);
    return std::make_pair(out, p.next);
  };
  for (int limit : {1, 2, 5, 1000}) {
    EXPECT_EQ(walk(bans, limit), ids) << limit;
    EXPECT_EQ(walk(blocks, limit), ids) << limit;
  }
  ASSERT_OK_AND_ASSIGN(BanPage full, store_->Bans(owner_, room_, UserPageQuery{0, 5}));
  EXPECT_FALSE(full.next.has_value()) << "exactly a page: no next";
  ASSERT_OK_AND_ASSIGN(BlockPage past, store_->Blocks(member_, UserPageQuery{ids.back(), 2}));
  EXPECT_TRUE(past.blocks.empty());
}

TEST_F(StoreModerationTest, BlocksAndPasswords) {
  ASSERT_OK(store_->Block(owner_, "member"));
  EXPECT_ERROR(store_->GetOrCreateDm(member_, "owner"), Code::kForbidden, "blocked");
  auto dm = store_->GetOrCreateDm(owner_, "member");
  ASSERT_OK(dm);
  EXPECT_ERROR(store_->Send(member_, dm->first.id, "hi", std::nullopt), Code::kForbidden, "blocked");
  ASSERT_OK(store_->Send(owner_, dm->first.id, "stop", std::nullopt));

  const std::string keep = TokenHash("kept"), drop = TokenHash("dropped");
  ASSERT_OK(store_->CreateSession(member_.id, keep));
  ASSERT_OK(store_->CreateSession(member_.id, drop));
  ASSERT_OK_AND_ASSIGN(int64_t before, store_->Head());
  ASSERT_OK(store_->SetPassword(member_.id, kFakeHash, keep));
  EXPECT_TRUE(store_->FindSession(keep)->has_value());
  EXPECT_FALSE(store_->FindSession(drop)->has_value());
  // One `user` event, addressed to the member alone, tells parley-events to
  // close the connections of the sessions that ended.
  std::vector<Event> events = EventsOf(member_, before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "user");
  EXPECT_EQ(events[0].target_id, member_.id);
  EXPECT_FALSE(events[0].room_id.has_value());
  EXPECT_NE(events[0].data.find("\"password_changed\":true"), std::string::npos) << events[0].data;
  EXPECT_NE(events[0].data.find("\"username\":\"member\""), std::string::npos) << events[0].data;
  EXPECT_TRUE(EventsOf(owner_, before).empty()) << "nobody else hears of it";
  EXPECT_ERROR(store_->SetPassword(987654, kFakeHash, ""), Code::kNotFound, "user_not_found");
  ASSERT_OK(store_->SetPassword(member_.id, kFakeHash, ""));
  EXPECT_FALSE(store_->FindSession(keep)->has_value());
}

// A block that changes something tells the blocker's other devices (one
// `user` event addressed to the blocker alone); the blocked person, and
// everyone else, hear nothing; a repeat appends nothing.
TEST_F(StoreModerationTest, ABlockOrUnblockIsOneEventForTheBlockerAlone) {
  auto only_event = [&](int64_t after, const char* blocked) {
    std::vector<Event> events = EventsOf(owner_, after);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, "user");
    EXPECT_EQ(events[0].target_id, owner_.id);
    EXPECT_FALSE(events[0].room_id.has_value());
    EXPECT_NE(events[0].data.find(blocked), std::string::npos) << events[0].data;
    EXPECT_NE(events[0].data.find("\"username\":\"member\""), std::string::npos) << events[0].data;
    EXPECT_TRUE(EventsOf(member_, after).empty()) << "the blocked person does not learn of it";
    EXPECT_TRUE(EventsOf(mod_, after).empty());
  };
  int64_t before = Head();
  ASSERT_OK(store_->Block(owner_, "member"));
  only_event(before, "\"blocked\":true");
  int64_t again = Head();
  ASSERT_OK(store_->Block(owner_, "MEMBER"));
  EXPECT_EQ(Head(), again) << "blocked already";
  ASSERT_OK(store_->Unblock(owner_, "member"));
  only_event(again, "\"blocked\":false");
  again = Head();
  ASSERT_OK(store_->Unblock(owner_, "member"));
  EXPECT_EQ(Head(), again) << "not blocked";
}

// One may block kMaxBlocks people (an unread count looks each up, so the
// number bounds a room list's work): the next block is refused and leaves
// nothing behind; a repeat at the limit is still a quiet success, and an
// unblock makes room.
TEST_F(StoreModerationTest, BlocksStopAtTheLimitAndARefusedOneLeavesNothing) {
  for (int64_t i = 0; i < kMaxBlocks - 1; ++i) NewUser("filler" + std::to_string(i));
  ASSERT_OK(Exec("INSERT INTO blocks (blocker_id, blocked_id, ts) SELECT " + std::to_string(owner_.id) +
                 ", id, 0 FROM users WHERE username LIKE 'filler%'"));
  ASSERT_OK(store_->Block(owner_, "member"));
  const int64_t at_limit = Head();
  EXPECT_ERROR(store_->Block(owner_, "mod"), Code::kForbidden, "block_limit_reached");
  EXPECT_EQ(Head(), at_limit) << "no event for the refused block";
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM blocks WHERE blocker_id = " + std::to_string(owner_.id)), kMaxBlocks);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM blocks WHERE blocked_id = " + std::to_string(mod_.id)), 0);
  ASSERT_OK(store_->Block(owner_, "member")) << "blocked already";
  ASSERT_OK(store_->Unblock(owner_, "member"));
  ASSERT_OK(store_->Block(owner_, "mod"));
  ASSERT_OK(store_->Block(mod_, "member")) << "the limit is each blocker's";
}

// A mute stops every way of speaking in the room, not only sends: an edit
// (new text and new mentions, pushed live), a reaction added and typing.
// Taking words back stays allowed: a delete, removing one's own reaction.
TEST_F(StoreModerationTest, AMutedMemberMayNotEditReactOrTypeButMayDeleteAndUnreact) {
  ASSERT_OK_AND_ASSIGN(SendResult mine, store_->Send(member_, room_, "before the mute", std::nullopt));
  ASSERT_OK_AND_ASSIGN(SendResult theirs, store_->Send(owner_, room_, "the owner's", std::nullopt));
  ASSERT_OK(store_->React(member_, theirs.message.id, "up", true));
  MemberUpdate mute;
  mute.mute = NowMs() + 60000;
  ASSERT_OK(store_->UpdateMember(mod_, room_, "member", mute));
  ExpectSilenced(member_, room_, mine.message.id, theirs.message.id, "muted");
  EXPECT_OK(store_->CheckMayType(owner_, room_)) << "only the muted member";
  ASSERT_OK(store_->React(member_, theirs.message.id, "up", false));
  ASSERT_OK(store_->Delete(member_, mine.message.id));
  // Lifted, the member speaks again.
  mute.mute = std::optional<int64_t>();
  ASSERT_OK(store_->UpdateMember(mod_, room_, "member", mute));
  EXPECT_OK(store_->CheckMayType(member_, room_));
  EXPECT_OK(store_->React(member_, theirs.message.id, "down", true));
}

// In a DM, a block stops the blocked person's edits and reactions as it
// stops their sends; their delete still goes, and the blocker is not held.
TEST_F(StoreModerationTest, InADmTheBlockedMayNotEditReactOrTypeButMayDelete) {
  ASSERT_OK_AND_ASSIGN(auto dm, store_->GetOrCreateDm(member_, "owner"));
  const int64_t room = dm.first.id;
  ASSERT_OK_AND_ASSIGN(SendResult mine, store_->Send(member_, room, "hello", std::nullopt));
  ASSERT_OK_AND_ASSIGN(SendResult kept, store_->Send(member_, room, "again", std::nullopt));
  ASSERT_OK_AND_ASSIGN(SendResult theirs, store_->Send(owner_, room, "hi", std::nullopt));
  ASSERT_OK(store_->Block(owner_, "member"));
  ExpectSilenced(member_, room, mine.message.id, theirs.message.id, "blocked");
  ASSERT_OK(store_->Delete(member_, mine.message.id));
  EXPECT_OK(store_->Edit(owner_, theirs.message.id, "bye"));
  EXPECT_OK(store_->React(owner_, kept.message.id, "up", true));
  EXPECT_OK(store_->CheckMayType(owner_, room));
  // Unblocked, the member speaks again.
  ASSERT_OK(store_->Unblock(owner_, "member"));
  EXPECT_OK(store_->Edit(member_, kept.message.id, "again, edited"));
}

// UpdateRoom (schema/store_rooms.cc): the owner or a moderator renames the
// room or sets its topic. Helpers: what to change, and the `room` events
// u may read after `after`.
RoomUpdate RenameTo(const std::string& name) {
  RoomUpdate u;
  u.name = name;
  return u;
}
RoomUpdate TopicOf(const std::string& topic) {
  RoomUpdate u;
  u.topic = topic;
  return u;
}
std::vector<Event> OfType(std::vector<Event> events, const std::string& type) {
  std::vector<Event> out;
  for (Event& e : events) {
    if (e.type == type) out.push_back(std::move(e));
  }
  return out;
}

TEST_F(StoreModerationTest, TheOwnerRenamesTheRoomAndSetsItsTopic) {
  User outsider = NewUser("outsider");
  const int64_t head = Head();
  RoomUpdate u = RenameTo("Club House");
  u.topic = "Tuesdays at 6, room 4";
  ASSERT_OK_AND_ASSIGN(Room r, store_->UpdateRoom(owner_, room_, u));
  EXPECT_EQ(r.name, "Club House");
  EXPECT_EQ(r.topic, "Tuesdays at 6, room 4");
  EXPECT_TRUE(r.member);
  // Every member reads it, and so does the room list.
  ASSERT_OK_AND_ASSIGN(Room seen, store_->GetRoom(member_, room_));
  EXPECT_EQ(seen.name, "Club House");
  EXPECT_EQ(seen.topic, "Tuesdays at 6, room 4");
  ASSERT_OK_AND_ASSIGN(std::vector<Room> mine, store_->MyRooms(member_));
  bool listed = false;
  for (const Room& m : mine) listed = listed || (m.id == room_ && m.topic == "Tuesdays at 6, room 4");
  EXPECT_TRUE(listed);
  // One event for both changes, carrying the room as it now is.
  std::vector<Event> ev = OfType(EventsOf(member_, head), "room");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].room_id, room_);
  EXPECT_NE(ev[0].data.find("\"name\":\"Club House\""), std::string::npos) << ev[0].data;
  EXPECT_NE(ev[0].data.find("\"topic\":\"Tuesdays at 6, room 4\""), std::string::npos) << ev[0].data;
  // A public room's change reaches everyone, as its creation did: room
  // lists and the directory stay live.
  EXPECT_EQ(OfType(EventsOf(outsider, head), "room").size(), 1u);
}

TEST_F(StoreModerationTest, AModeratorMayAndAPlainMemberMayNot) {
  User outsider = NewUser("outsider");
  ASSERT_OK_AND_ASSIGN(Room r, store_->UpdateRoom(mod_, room_, TopicOf("set by a moderator")));
  EXPECT_EQ(r.topic, "set by a moderator");
  const int64_t head = Head();
  EXPECT_ERROR(store_->UpdateRoom(member_, room_, RenameTo("mine now")), Code::kForbidden, "not_moderator");
  EXPECT_ERROR(store_->UpdateRoom(outsider, room_, RenameTo("mine now")), Code::kForbidden, "not_a_member");
  EXPECT_ERROR(store_->UpdateRoom(owner_, 999999, RenameTo("nowhere")), Code::kNotFound, "room_not_found");
  // A private room is not revealed to outsiders.
  Room secret = NewRoom(owner_, "secret", RoomKind::kPrivate);
  const int64_t head2 = Head();
  EXPECT_ERROR(store_->UpdateRoom(outsider, secret.id, RenameTo("found")), Code::kNotFound, "room_not_found");
  EXPECT_EQ(Head(), head2) << "a refusal appends nothing";
  EXPECT_GT(head2, head);
  ASSERT_OK_AND_ASSIGN(Room still, store_->GetRoom(member_, room_));
  EXPECT_EQ(still.name, "club");
}

TEST_F(StoreModerationTest, ADirectConversationCannotBeRenamed) {
  ASSERT_OK_AND_ASSIGN(auto dm, store_->GetOrCreateDm(owner_, "member"));
  const int64_t head = Head();
  EXPECT_ERROR(store_->UpdateRoom(owner_, dm.first.id, RenameTo("ours")), Code::kForbidden, "not_moderator");
  EXPECT_ERROR(store_->UpdateRoom(member_, dm.first.id, TopicOf("ours")), Code::kForbidden, "not_moderator");
  EXPECT_EQ(Head(), head);
}

TEST_F(StoreModerationTest, ANameAnotherRoomHasIsTakenInAnyCase) {
  NewRoom(owner_, "lounge", RoomKind::kPrivate);
  const int64_t head = Head();
  EXPECT_ERROR(store_->UpdateRoom(owner_, room_, RenameTo("LOUNGE")), Code::kConflict, "room_name_taken");
  EXPECT_ERROR(store_->UpdateRoom(mod_, room_, RenameTo("General")), Code::kConflict, "room_name_taken");
  EXPECT_EQ(Head(), head);
  ASSERT_OK_AND_ASSIGN(Room still, store_->GetRoom(member_, room_));
  EXPECT_EQ(still.name, "club");
  // Its own name in another case is no other room's.
  ASSERT_OK_AND_ASSIGN(Room r, store_->UpdateRoom(owner_, room_, RenameTo("CLUB")));
  EXPECT_EQ(r.name, "CLUB");
  // Renamed, the old name is free again.
  ASSERT_OK(store_->UpdateRoom(owner_, room_, RenameTo("club house")));
  EXPECT_OK(store_->CreateRoom(member_, "club", RoomKind::kPublic, std::nullopt));
}

// A rename to a name that passes for another room's is refused as the name
// itself would be (migration 025, PostgreSQL's 022); the room's own look-
// alikes are free to it, and then taken from everyone else.
TEST_F(StoreModerationTest, ANameThatPassesForAnotherRoomsIsTakenButNotForItsOwn) {
  NewRoom(owner_, "lounge", RoomKind::kPrivate);
  const int64_t head = Head();
  for (const char* lookalike : {"l0unge", "LOUN GE", "lo_unge", "GeneraI", "gen-era1"}) {
    EXPECT_ERROR(store_->UpdateRoom(owner_, room_, RenameTo(lookalike)), Code::kConflict, "room_name_taken")
        << lookalike;
  }
  EXPECT_EQ(Head(), head);
  ASSERT_OK_AND_ASSIGN(Room still, store_->GetRoom(member_, room_));
  EXPECT_EQ(still.name, "club");
  for (const char* own : {"c1ub", "CLUB", "c.l.u.b", "Club"}) {
    ASSERT_OK_AND_ASSIGN(Room r, store_->UpdateRoom(owner_, room_, RenameTo(own)));
    EXPECT_EQ(r.name, own);
  }
  EXPECT_ERROR(store_->CreateRoom(member_, "c-l-u-b", RoomKind::kPublic, std::nullopt), Code::kConflict,
               "room_name_taken");
}

TEST_F(StoreModerationTest, AChangeToWhatTheRoomHasAppendsNothing) {
  ASSERT_OK(store_->UpdateRoom(owner_, room_, TopicOf("same")));
  const int64_t head = Head();
  RoomUpdate same = RenameTo("club");
  same.topic = "same";
  ASSERT_OK_AND_ASSIGN(Room r, store_->UpdateRoom(owner_, room_, same));
  EXPECT_EQ(r.topic, "same");
  EXPECT_EQ(Head(), head);
}

TEST_F(StoreModerationTest, AnEmptyTopicClearsIt) {
  ASSERT_OK(store_->UpdateRoom(owner_, room_, TopicOf("for now")));
  const int64_t head = Head();
  ASSERT_OK_AND_ASSIGN(Room r, store_->UpdateRoom(mod_, room_, TopicOf("")));
  EXPECT_EQ(r.topic, "");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM rooms WHERE topic IS NULL AND id = " + std::to_string(room_)), 1);
  std::vector<Event> ev = OfType(EventsOf(owner_, head), "room");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data.find("topic"), std::string::npos) << "no topic: the key is omitted, " << ev[0].data;
}

TEST_F(StoreModerationTest, APrivateRoomsChangeReachesItsMembersOnly) {
  User outsider = NewUser("outsider");
  Room secret = NewRoomWith(owner_, "secret", RoomKind::kPrivate, {});
  InviteAndJoin(owner_, secret.id, member_);
  const int64_t head = Head();
  ASSERT_OK(store_->UpdateRoom(owner_, secret.id, RenameTo("still secret")));
  EXPECT_EQ(OfType(EventsOf(member_, head), "room").size(), 1u);
  EXPECT_TRUE(OfType(EventsOf(outsider, head), "room").empty());
}

// `general` is made without an owner, so nobody could moderate the room
// everyone is in: the operator hands it to a member (parleyctl set-owner),
// who then appoints moderators as any owner does.
TEST_F(StoreModerationTest, TheOperatorHandsGeneralToAMemberWhoThenModeratesIt) {
  ASSERT_OK_AND_ASSIGN(SendResult spam, store_->Send(member_, test::kGeneral, "spam", std::nullopt));
  EXPECT_ERROR(store_->Kick(owner_, test::kGeneral, "member"), Code::kForbidden, "not_moderator");
  EXPECT_ERROR(store_->Delete(owner_, spam.message.id), Code::kForbidden, "not_author");
  const int64_t head = Head();
  ASSERT_OK(store_->AdminSetOwner(test::kGeneral, "owner"));
  ASSERT_OK_AND_ASSIGN(Room general, store_->GetRoom(member_, test::kGeneral));
  ASSERT_TRUE(general.owner.has_value());
  EXPECT_EQ(general.owner->id, owner_.id);
  std::vector<Event> ev = OfType(EventsOf(mod_, head), "room");
  ASSERT_EQ(ev.size(), 1u) << "one room event, to everyone: general is public";
  EXPECT_NE(ev[0].data.find("\"owner\":{\"id\":" + std::to_string(owner_.id)), std::string::npos) << ev[0].data;
  // The new owner appoints a moderator, who cleans up.
  MemberUpdate make;
  make.moderator = true;
  ASSERT_OK(store_->UpdateMember(owner_, test::kGeneral, "mod", make));
  EXPECT_OK(store_->Delete(mod_, spam.message.id));
  EXPECT_OK(store_->Kick(mod_, test::kGeneral, "member"));
  // Handing it to its owner again appends nothing.
  const int64_t head2 = Head();
  ASSERT_OK(store_->AdminSetOwner(test::kGeneral, "owner"));
  EXPECT_EQ(Head(), head2);
}

TEST_F(StoreModerationTest, ARoomGoesOnlyToOneOfItsMembers) {
  User outsider = NewUser("outsider");
  ASSERT_OK(store_->Leave(outsider, test::kGeneral));
  const int64_t head = Head();
  EXPECT_ERROR(store_->AdminSetOwner(room_, "nobody"), Code::kNotFound, "user_not_found");
  EXPECT_ERROR(store_->AdminSetOwner(999999, "member"), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->AdminSetOwner(room_, "outsider"), Code::kNotFound, "member_not_found");
  EXPECT_ERROR(store_->AdminSetOwner(test::kGeneral, "outsider"), Code::kNotFound, "member_not_found");
  ASSERT_OK_AND_ASSIGN(auto dm, store_->GetOrCreateDm(owner_, "member"));
  const int64_t head2 = Head();
  EXPECT_ERROR(store_->AdminSetOwner(dm.first.id, "member"), Code::kInvalid, "invalid_field");
  EXPECT_EQ(Head(), head2) << "refusals append nothing";
  EXPECT_GT(head2, head);
  ASSERT_OK_AND_ASSIGN(Room club, store_->GetRoom(member_, room_));
  EXPECT_EQ(club.owner->id, owner_.id);
}

// The operator is no reader of the room: a private room is there for it
// whoever it hands it to. An outsider is refused as not a member, as in a
// public room, not told the room does not exist (parleyctl said "no such
// room" for any private room its new owner was not in).
TEST_F(StoreModerationTest, TheOperatorSeesAPrivateRoomItsNewOwnerIsNotIn) {
  User outsider = NewUser("outsider");
  Room secret = NewRoomWith(owner_, "secret", RoomKind::kPrivate, {});
  const int64_t head = Head();
  EXPECT_ERROR(store_->AdminSetOwner(secret.id, "outsider"), Code::kNotFound, "member_not_found");
  EXPECT_EQ(Head(), head) << "a refusal appends nothing";
  InviteAndJoin(owner_, secret.id, outsider);
  ASSERT_OK(store_->AdminSetOwner(secret.id, "outsider"));
  ASSERT_OK_AND_ASSIGN(Room now, store_->GetRoom(outsider, secret.id));
  ASSERT_TRUE(now.owner.has_value());
  EXPECT_EQ(now.owner->id, outsider.id);
}

TEST_F(StoreModerationTest, TheNewOwnerOfAQaRoomTeachesInIt) {
  Room physics = NewRoom(owner_, "physics", RoomKind::kQa);
  JoinOk(member_, physics.id);
  ASSERT_OK(store_->AdminSetOwner(physics.id, "member"));
  ASSERT_OK_AND_ASSIGN(Member m, store_->FindMember(owner_, physics.id, "member"));
  EXPECT_EQ(m.role, Role::kProfessor);
  EXPECT_TRUE(m.owner);
  ASSERT_OK_AND_ASSIGN(Member before, store_->FindMember(owner_, physics.id, "owner"));
  EXPECT_FALSE(before.owner) << "the previous owner stays, a member";
  EXPECT_EQ(before.role, Role::kProfessor);
}

}  // namespace
}  // namespace parley
