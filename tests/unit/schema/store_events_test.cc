// schema/store_events.cc: the readers of the event log, sessions and
// presence that parley-events uses, on a real migrated SQLite file.
#include "schema/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "schema/crypto.h"
#include "schema/json.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

using test::kFakeHash;
using test::kGeneral;

class StoreEventsTest : public test::StoreFixture {
 protected:
  int64_t Post(const User& u, int64_t room_id, const std::string& text) {
    auto r = store_->Send(u, room_id, text, std::nullopt);
    EXPECT_OK(r) << text;
    return r.ok() ? r->message.id : -1;
  }
  std::vector<int64_t> VisibleIds(const User& u, int64_t after = 0, int64_t upto = INT64_MAX, int limit = 1000) {
    auto r = store_->EventsForUser(u.id, after, upto, limit);
    EXPECT_OK(r);
    std::vector<int64_t> ids;
    if (r.ok()) {
      for (const Event& e : *r) ids.push_back(e.id);
    }
    return ids;
  }
  static bool Contains(const std::vector<int64_t>& ids, int64_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  }
  bool Online(const User& viewer, int64_t room_id, int64_t user_id) {
    auto page = store_->Members(viewer, room_id, {});
    EXPECT_OK(page);
    if (!page.ok()) return false;
    for (const Member& m : page->members) {
      if (m.user.id == user_id) return m.online;
    }
    ADD_FAILURE() << "user " << user_id << " is not a member of room " << room_id;
    return false;
  }
};

TEST_F(StoreEventsTest, EventsAfterPages) {
  User alice = NewUser("alice");
  NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  for (int i = 0; i < 5; ++i) Post(alice, lobby.id, "m" + std::to_string(i));
  ASSERT_OK_AND_ASSIGN(std::vector<Event> all, store_->EventsAfter(0, 1000));
  ASSERT_EQ(static_cast<int64_t>(all.size()), Head());

  std::vector<int64_t> paged;
  int64_t cursor = 0;
  for (int guard = 0; guard < 100; ++guard) {
    ASSERT_OK_AND_ASSIGN(std::vector<Event> page, store_->EventsAfter(cursor, 3));
    ASSERT_LE(page.size(), 3u);
    if (page.empty()) break;
    for (const Event& e : page) {
      EXPECT_GT(e.id, cursor);
      paged.push_back(e.id);
    }
    cursor = page.back().id;
  }
  std::vector<int64_t> all_ids;
  for (const Event& e : all) all_ids.push_back(e.id);
  EXPECT_EQ(paged, all_ids);

  ASSERT_OK_AND_ASSIGN(std::vector<Event> past_head, store_->EventsAfter(Head(), 10));
  EXPECT_TRUE(past_head.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<Event> middle, store_->EventsAfter(2, 2));
  ASSERT_EQ(middle.size(), 2u);
  EXPECT_EQ(middle[0].id, 3);
  EXPECT_EQ(middle[1].id, 4);
  for (const Event& e : all) {
    EXPECT_GT(e.ts, 0);
    JsonPtr j(cJSON_Parse(e.data.c_str()));
    EXPECT_TRUE(cJSON_IsObject(j.get())) << e.data;
  }
  // A user event is addressed to everyone, with no room.
  EXPECT_EQ(all[0].type, "user");
  EXPECT_FALSE(all[0].room_id.has_value());
  EXPECT_EQ(all[0].target_id, alice.id);
}

TEST_F(StoreEventsTest, EventsForUserFollowMembership) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room secret = NewRoom(alice, "secret", RoomKind::kPrivate);
  const int64_t hidden = Post(alice, secret.id, "before bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  const int64_t lobby_msg = Post(alice, lobby.id, "in the lobby");
  const int64_t general_msg = Post(alice, kGeneral, "hello all");

  std::vector<int64_t> seen = VisibleIds(bob);
  EXPECT_FALSE(Contains(seen, hidden));      // a private room bob is not in
  EXPECT_FALSE(Contains(seen, lobby_msg));   // a public room bob has not joined
  EXPECT_TRUE(Contains(seen, general_msg));  // bob is in general
  ASSERT_OK_AND_ASSIGN(std::vector<Event> all, store_->EventsAfter(0, 1000));
  for (const Event& e : all) {
    if (e.audience == Audience::kAll) {
      EXPECT_TRUE(Contains(seen, e.id)) << e.type << " " << e.id;
    }
    if (e.room_id == secret.id) {
      EXPECT_FALSE(Contains(seen, e.id)) << e.type << " " << e.id;
    }
  }

  // Once a member, the room's log is bob's to read (membership now).
  InviteAndJoin(alice, secret.id, bob);
  seen = VisibleIds(bob);
  EXPECT_TRUE(Contains(seen, hidden));

  // After leaving, bob still hears that he left (addressed to him), and a
  // replay from before it has the room up to there (what he could read as
  // a member, as a stream open then had it), but nothing after.
  ASSERT_OK(store_->Leave(bob, secret.id));
  const int64_t left = Head();
  const int64_t after_leave = Post(alice, secret.id, "after bob");
  seen = VisibleIds(bob);
  EXPECT_TRUE(Contains(seen, left));
  EXPECT_FALSE(Contains(seen, after_leave));
  EXPECT_TRUE(Contains(seen, hidden));
  // Read a page of two at a time, the same: a page that ends before the
  // leave still has the room's events up to its end.
  std::vector<int64_t> paged;
  for (int64_t cursor = 0;;) {
    std::vector<int64_t> page = VisibleIds(bob, cursor, INT64_MAX, 2);
    paged.insert(paged.end(), page.begin(), page.end());
    if (page.size() < 2) break;
    cursor = page.back();
  }
  EXPECT_EQ(paged, seen);
  // From a cursor past the leave, the room is gone.
  std::vector<int64_t> later = VisibleIds(bob, left);
  EXPECT_FALSE(Contains(later, after_leave));
  EXPECT_FALSE(Contains(later, hidden));

  // Ordered, bounded by (after, upto], and limited.
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  ASSERT_GE(seen.size(), 3u);
  std::vector<int64_t> window = VisibleIds(bob, seen[0], seen[2]);
  EXPECT_EQ(window, (std::vector<int64_t>{seen[1], seen[2]}));
  std::vector<int64_t> limited = VisibleIds(bob, 0, INT64_MAX, 2);
  EXPECT_EQ(limited, (std::vector<int64_t>{seen[0], seen[1]}));
  EXPECT_TRUE(VisibleIds(bob, 5, 5).empty());
  EXPECT_TRUE(VisibleIds(bob, 0, INT64_MAX, 0).empty());
}

TEST_F(StoreEventsTest, DirectConversationEventsReachBothPeopleOnly) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  User carol = NewUser("carol");
  const int64_t before = Head();
  ASSERT_OK_AND_ASSIGN(auto dm, store_->GetOrCreateDm(alice, "bob"));
  const int64_t msg = Post(bob, dm.first.id, "psst");
  for (int64_t id = before + 1; id <= msg; ++id) {
    EXPECT_TRUE(Contains(VisibleIds(alice, before), id)) << id;
    EXPECT_TRUE(Contains(VisibleIds(bob, before), id)) << id;
    EXPECT_FALSE(Contains(VisibleIds(carol, before), id)) << id;
  }
}

TEST_F(StoreEventsTest, RoomIdsOf) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  Room secret = NewRoom(alice, "secret", RoomKind::kPrivate);
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> rooms, store_->RoomIdsOf(alice.id));
  std::sort(rooms.begin(), rooms.end());
  EXPECT_EQ(rooms, (std::vector<int64_t>{kGeneral, lobby.id, secret.id}));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> bobs, store_->RoomIdsOf(bob.id));
  EXPECT_EQ(bobs, (std::vector<int64_t>{kGeneral}));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> nobody, store_->RoomIdsOf(999999));
  EXPECT_TRUE(nobody.empty());
}

// A held stream or poll is use of its session (parley-events calls this
// for its held sessions every few minutes): a client that only listened
// was cut as idle after 30 days. Hourly, as SessionUser; an ended session
// stays ended.
TEST_F(StoreEventsTest, TouchSessionsMovesHeldSessionsIdleClocksHourly) {
  User alice = NewUser("alice");
  const std::string listening = TokenHash(NewToken()), recent = TokenHash(NewToken()), idle = TokenHash(NewToken());
  ASSERT_OK(store_->CreateSession(alice.id, listening));
  ASSERT_OK(store_->CreateSession(alice.id, recent));
  ASSERT_OK(store_->CreateSession(alice.id, idle));
  ASSERT_OK_AND_ASSIGN(std::optional<Session> l, store_->FindSession(listening));
  ASSERT_OK_AND_ASSIGN(std::optional<Session> r, store_->FindSession(recent));
  ASSERT_OK_AND_ASSIGN(std::optional<Session> i, store_->FindSession(idle));
  ASSERT_TRUE(l && r && i);
  auto seen = [&](int64_t id) { return QueryInt("SELECT last_seen_ts FROM sessions WHERE id = " + std::to_string(id)); };
  ASSERT_OK(Exec("UPDATE sessions SET last_seen_ts = last_seen_ts - 7200000 WHERE id = " + std::to_string(l->id)));
  ASSERT_OK(Exec("UPDATE sessions SET last_seen_ts = last_seen_ts - 60000 WHERE id = " + std::to_string(r->id)));
  ASSERT_OK(Exec("UPDATE sessions SET last_seen_ts = last_seen_ts - 2678400000 WHERE id = " +  // 31 days
                 std::to_string(i->id)));
  const int64_t l_before = seen(l->id), r_before = seen(r->id), i_before = seen(i->id);

  ASSERT_OK(store_->TouchSessions({l->id, r->id, i->id, 999999}));
  EXPECT_GE(seen(l->id), l_before + 7200000 - 1000);  // two hours old: moved
  EXPECT_EQ(seen(r->id), r_before);                    // a minute old: a read stays a read
  EXPECT_EQ(seen(i->id), i_before);                    // idle past 30 days: ended, and stays so
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ended, store_->EndedSessions({l->id, r->id, i->id}));
  EXPECT_EQ(ended, std::vector<int64_t>{i->id});
  ASSERT_OK(store_->TouchSessions({}));
}

TEST_F(StoreEventsTest, SessionUserMovesTheIdleClockHourlyAndFindSessionNever) {
  User alice = NewUser("alice");
  const std::string hash = TokenHash(NewToken());
  ASSERT_OK(store_->CreateSession(alice.id, hash));
  ASSERT_OK(Exec("UPDATE sessions SET last_seen_ts = last_seen_ts - 7200000"));  // 2 h idle
  const int64_t seen_before = QueryInt("SELECT last_seen_ts FROM sessions");

  ASSERT_OK_AND_ASSIGN(std::optional<Session> s, store_->FindSession(hash));
  ASSERT_TRUE(s.has_value());
  EXPECT_GT(s->id, 0);
  EXPECT_EQ(s->user.id, alice.id);
  EXPECT_EQ(s->user.username, "alice");
  EXPECT_EQ(QueryInt("SELECT last_seen_ts FROM sessions"), seen_before);
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ended, store_->EndedSessions({s->id}));
  EXPECT_TRUE(ended.empty());

  // A request through the API does move it: two hours is past the hour.
  ASSERT_OK_AND_ASSIGN(std::optional<User> who, store_->SessionUser(hash));
  ASSERT_TRUE(who.has_value());
  const int64_t seen_now = QueryInt("SELECT last_seen_ts FROM sessions");
  EXPECT_GE(seen_now, seen_before + 7200000 - 1000);
  // Within the hour, a read stays a read.
  ASSERT_OK(store_->SessionUser(hash));
  ASSERT_OK(Exec("UPDATE sessions SET last_seen_ts = last_seen_ts - 60000"));  // 1 min
  ASSERT_OK(store_->SessionUser(hash));
  EXPECT_EQ(QueryInt("SELECT last_seen_ts FROM sessions"), seen_now - 60000);

  ASSERT_OK_AND_ASSIGN(std::optional<Session> unknown, store_->FindSession(TokenHash(NewToken())));
  EXPECT_FALSE(unknown.has_value());
  ASSERT_OK_AND_ASSIGN(ended, store_->EndedSessions({999999, s->id}));
  EXPECT_EQ(ended, std::vector<int64_t>{999999});
  ASSERT_OK_AND_ASSIGN(ended, store_->EndedSessions({}));
  EXPECT_TRUE(ended.empty());

  ASSERT_OK(store_->RevokeSession(hash));
  ASSERT_OK_AND_ASSIGN(std::optional<Session> revoked, store_->FindSession(hash));
  EXPECT_FALSE(revoked.has_value());
  ASSERT_OK_AND_ASSIGN(ended, store_->EndedSessions({s->id}));
  EXPECT_EQ(ended, std::vector<int64_t>{s->id});  // a stream of a logged-out session must end
}

TEST_F(StoreEventsTest, ExpiredAndIdleSessionsAreNotAccepted) {
  User alice = NewUser("alice");
  for (int64_t absolute : {int64_t{0}, int64_t{-60000}}) {
    Limits limits;
    limits.session_absolute_ms = absolute;
    auto short_lived = NewStorage(limits);
    const std::string h = TokenHash(NewToken());
    ASSERT_OK(short_lived->CreateSession(alice.id, h));
    ASSERT_OK_AND_ASSIGN(std::optional<User> who, short_lived->SessionUser(h));
    EXPECT_FALSE(who.has_value()) << absolute;
    // The expiry is stored with the session: other readers agree.
    ASSERT_OK_AND_ASSIGN(std::optional<User> who2, store_->SessionUser(h));
    EXPECT_FALSE(who2.has_value()) << absolute;
    ASSERT_OK_AND_ASSIGN(std::optional<Session> found, store_->FindSession(h));
    EXPECT_FALSE(found.has_value()) << absolute;
  }
  Limits idle;
  idle.session_idle_ms = 0;
  auto impatient = NewStorage(idle);
  const std::string h = TokenHash(NewToken());
  ASSERT_OK(impatient->CreateSession(alice.id, h));
  ASSERT_OK_AND_ASSIGN(std::optional<User> who, impatient->SessionUser(h));
  EXPECT_FALSE(who.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<Session> found, impatient->FindSession(h));
  EXPECT_FALSE(found.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<User> patient, store_->SessionUser(h));
  ASSERT_TRUE(patient.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<Session> s, store_->FindSession(h));
  ASSERT_TRUE(s.has_value());
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ended, impatient->EndedSessions({s->id}));
  EXPECT_EQ(ended, std::vector<int64_t>{s->id});
}

TEST_F(StoreEventsTest, DataVersionChangesWithOtherConnectionsCommits) {
  // PostgreSQL's DataVersion is the head: it moves with our own appends too
  // (schema/pg/store.h), which the daemon, the only caller, never makes.
  PARLEY_SQLITE_ONLY();
  NewUser("alice");
  ASSERT_OK_AND_ASSIGN(int64_t v1, store_->DataVersion());
  NewUser("bob");  // our own commit
  ASSERT_OK_AND_ASSIGN(int64_t v2, store_->DataVersion());
  EXPECT_EQ(v2, v1);

  auto other = NewStorage();
  ASSERT_OK(other->CreateUser("carol", kFakeHash));
  ASSERT_OK_AND_ASSIGN(int64_t v3, store_->DataVersion());
  EXPECT_NE(v3, v2);
  ASSERT_OK_AND_ASSIGN(int64_t v4, store_->DataVersion());
  EXPECT_EQ(v4, v3);  // stable until the next foreign commit
}

TEST_F(StoreEventsTest, PresenceDrivesOnline) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  (void)store_->TakeNotifyHead();
  const int64_t head = Head();
  EXPECT_FALSE(Online(alice, kGeneral, bob.id));
  ASSERT_OK(store_->SetOnline(bob.id, true));
  EXPECT_TRUE(Online(alice, kGeneral, bob.id));
  ASSERT_OK(store_->SetOnline(bob.id, true));  // idempotent
  EXPECT_TRUE(Online(alice, kGeneral, bob.id));
  ASSERT_OK(store_->SetOnline(bob.id, false));
  EXPECT_FALSE(Online(alice, kGeneral, bob.id));
  ASSERT_OK(store_->SetOnline(bob.id, false));

  ASSERT_OK(store_->SetOnline(alice.id, true));
  ASSERT_OK(store_->SetOnline(bob.id, true));
  // What an upgrade's new image adopts.
  ASSERT_OK_AND_ASSIGN(std::vector<User> held, store_->HeldPresence());
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].id, alice.id);
  EXPECT_EQ(held[0].username, "alice");
  EXPECT_EQ(held[1].id, bob.id);
  ASSERT_OK(store_->ClearPresence());
  ASSERT_OK_AND_ASSIGN(held, store_->HeldPresence());
  EXPECT_TRUE(held.empty());
  EXPECT_FALSE(Online(alice, kGeneral, alice.id));
  EXPECT_FALSE(Online(alice, kGeneral, bob.id));
  // Presence is not in the event log.
  EXPECT_EQ(Head(), head);
  EXPECT_EQ(store_->TakeNotifyHead(), 0);
}

TEST_F(StoreEventsTest, TheLogsFloorIsZeroUntilAnEventIsGone) {
  ASSERT_OK_AND_ASSIGN(int64_t empty, store_->LogFloor());
  EXPECT_EQ(empty, 0);
  NewUser("alice");
  ASSERT_OK_AND_ASSIGN(int64_t first, store_->LogFloor());
  EXPECT_EQ(first, 0);
}

}  // namespace
}  // namespace parley
