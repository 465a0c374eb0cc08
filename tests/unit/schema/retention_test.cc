// schema/retention.h over each backend's Storage (store_fixture.h: SQLite
// by default, PostgreSQL with PARLEY_TEST_BACKEND=postgresql): what a pass
// keeps, what it deletes, and that each of its statements is bounded.
#include "schema/retention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/unit/schema/retention_pass.h"
#include "tests/unit/schema/statement_trace.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

using test::kGeneral;

class RetentionTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    Limits unlimited;
    unlimited.WritesOff();
    ASSERT_NO_FATAL_FAILURE(OpenStore(unlimited));
  }

  int64_t Post(const User& u, int64_t room_id, const std::string& text) {
    auto r = store_->Send(u, room_id, text, std::nullopt);
    EXPECT_OK(r) << text;
    return r.ok() ? r->message.id : -1;
  }
  // `n` message events of `room` (0: of no room) with time stamp `ts`,
  // appended after the head directly, as a long-lived server leaves them.
  void Fill(int64_t room, int n, int64_t ts) {
    const int64_t head = Head();
    const std::string room_sql = room == 0 ? "NULL" : std::to_string(room);
    ASSERT_OK(Exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < " +
                   std::to_string(n) + ") INSERT INTO events (id, ts, type, room_id, audience, data) SELECT " +
                   std::to_string(head) + " + x, " + std::to_string(ts) + ", 'message', " + room_sql +
                   ", 'room', '{}' FROM c"));
    if (test::OnPostgres()) {
      ASSERT_OK(Exec("UPDATE event_counter SET last = " + std::to_string(head + n)));
    }
  }
  // A new room whose only events are `n` with time stamp `ts`, the first
  // with id *first.
  int64_t FilledRoom(int n, int64_t ts, int64_t* first) {
    const User owner = NewUser("owner");
    const int64_t room = NewRoom(owner, "filled", RoomKind::kPublic).id;
    EXPECT_OK(Exec("DELETE FROM events WHERE room_id IS NOT NULL"));
    *first = Head() + 1;
    Fill(room, n, ts);
    return room;
  }
  int64_t Count(const std::string& where) { return QueryInt("SELECT COUNT(*) FROM events WHERE " + where); }

};

TEST_F(RetentionTest, APassKeepsTheNewestPerRoomAndTheHead) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  std::vector<int64_t> lobby_ids;
  for (int i = 0; i < 5; ++i) lobby_ids.push_back(Post(alice, lobby.id, "m" + std::to_string(i)));
  const int64_t before = Count("1 = 1");

  // Nothing is older than an hour: nothing goes.
  EXPECT_EQ(test::RetentionPass(*store_, 3600 * 1000, 2), 0);

  // Everything is "old" (cutoff in the future): each room keeps its newest 2.
  ASSERT_OK(Exec("CREATE TEMP TABLE ids_before AS SELECT id FROM events"));
  const int64_t pruned = test::RetentionPass(*store_, -60000, 2);
  EXPECT_EQ(pruned, before - Count("1 = 1"));
  EXPECT_GT(pruned, 0);
  EXPECT_EQ(Count("room_id = " + std::to_string(lobby.id)), 2);
  EXPECT_EQ(Count("id = " + std::to_string(lobby_ids[3])), 1);
  EXPECT_EQ(Count("id = " + std::to_string(lobby_ids[4])), 1);
  EXPECT_EQ(Count("room_id = " + std::to_string(kGeneral)), 2);
  EXPECT_EQ(Count("room_id IS NULL"), 0);  // user events are not per room
  ASSERT_OK_AND_ASSIGN(int64_t floor, store_->LogFloor());
  EXPECT_EQ(floor, QueryInt("SELECT MAX(id) FROM ids_before WHERE id NOT IN (SELECT id FROM events)"));
  // Messages themselves stay: history is kept forever.
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages"), 5);

  // Ids are never reused after a prune.
  const int64_t head = Head();
  EXPECT_EQ(head, lobby_ids[4]);
  EXPECT_EQ(Post(bob, kGeneral, "next"), head + 1);
}

TEST_F(RetentionTest, APassNeverDeletesTheHead) {
  NewUser("alice");  // events: user (no room), member (general)
  ASSERT_OK(Exec("DELETE FROM events WHERE type = 'member'"));
  const int64_t newest = QueryInt("SELECT MAX(id) FROM events");
  const int64_t head = Head();  // PostgreSQL: the counter, the member event's id
  EXPECT_EQ(test::RetentionPass(*store_, -60000, 1), 0);
  EXPECT_EQ(Head(), head);
  EXPECT_EQ(Count("id = " + std::to_string(newest)), 1);
}

TEST_F(RetentionTest, ADeleteTakesAtMostItsRowsOldestFirstWithinItsRangeAndNeverTheHead) {
  int64_t first = 0;
  const int64_t room = FilledRoom(2500, 1, &first);
  ASSERT_OK_AND_ASSIGN(Storage::OldEventsDeleted d, store_->DeleteOldEvents(room, 0, INT64_MAX, NowMs(), 1000));
  EXPECT_EQ(d.count, 1000);
  EXPECT_EQ(d.last_id, first + 999);
  EXPECT_EQ(QueryInt("SELECT MIN(id) FROM events WHERE room_id = " + std::to_string(room)), first + 1000);
  // Between first + 1,099 and first + 1,200: 100 of them.
  ASSERT_OK_AND_ASSIGN(d, store_->DeleteOldEvents(room, first + 1099, first + 1200, NowMs(), 1000));
  EXPECT_EQ(d.count, 100);
  EXPECT_EQ(d.last_id, first + 1199);
  EXPECT_EQ(Count("room_id = " + std::to_string(room)), 1400);
  EXPECT_EQ(Count("id = " + std::to_string(first + 1099)), 1);
  // Not older than before_ms: stays.
  ASSERT_OK_AND_ASSIGN(d, store_->DeleteOldEvents(room, 0, INT64_MAX, 1, 1000));
  EXPECT_EQ(d.count, 0);
  EXPECT_EQ(d.last_id, 0);
  // The events of no room (room id 0) are their own.
  Fill(0, 30, 1);
  const int64_t no_room = Count("room_id IS NULL");  // and the owner's own event
  ASSERT_OK_AND_ASSIGN(d, store_->DeleteOldEvents(0, 0, INT64_MAX, NowMs() + 60000, 1000));
  EXPECT_EQ(d.count, no_room - 1);  // the newest of the log (the head) stays
  EXPECT_EQ(Count("room_id IS NULL"), 1);
  EXPECT_EQ(Count("id = " + std::to_string(Head())), 1);
  EXPECT_EQ(Count("room_id = " + std::to_string(room)), 1400);
}

// A quiet room's old events stay (each room keeps its newest) while a busy
// room's go: the oldest event left says nothing of what went above it. A
// cursor among the busy room's deleted ids was answered without a reset,
// its resume silently short of them.
TEST_F(RetentionTest, TheLogsFloorIsTheHighestIdGoneWhateverRoomsKeep) {
  User alice = NewUser("alice");
  Room quiet = NewRoom(alice, "Quiet", RoomKind::kPublic);
  const int64_t quiet_first = Post(alice, quiet.id, "still here");
  Room busy = NewRoom(alice, "Busy", RoomKind::kPublic);
  std::vector<int64_t> busy_ids;
  for (int i = 0; i < 6; ++i) busy_ids.push_back(Post(alice, busy.id, "b" + std::to_string(i)));
  ASSERT_OK_AND_ASSIGN(int64_t floor, store_->LogFloor());
  EXPECT_EQ(floor, 0);
  // Keep 3 a room: the quiet room keeps all of its few, the busy room loses
  // its 3 oldest messages and its creation's events.
  EXPECT_GT(test::RetentionPass(*store_, -60000, 3), 0);
  EXPECT_EQ(Count("id = " + std::to_string(quiet_first)), 1);
  EXPECT_EQ(Count("id = " + std::to_string(busy_ids[2])), 0);
  EXPECT_EQ(Count("id = " + std::to_string(busy_ids[3])), 1);
  ASSERT_OK_AND_ASSIGN(floor, store_->LogFloor());
  EXPECT_EQ(floor, busy_ids[2]);
  EXPECT_LT(QueryInt("SELECT MIN(id) FROM events") - 1, floor);  // what the old rule read
  // Nothing above the floor is gone: a later pass that deletes nothing
  // leaves it, and one that deletes more raises it.
  EXPECT_EQ(test::RetentionPass(*store_, -60000, 3), 0);
  ASSERT_OK_AND_ASSIGN(int64_t again, store_->LogFloor());
  EXPECT_EQ(again, floor);
  EXPECT_GT(test::RetentionPass(*store_, -60000, 1), 0);
  ASSERT_OK_AND_ASSIGN(again, store_->LogFloor());
  EXPECT_EQ(again, busy_ids[4]);
}

TEST_F(RetentionTest, ACutIsTheKeepPerRoomthNewestAndZeroWhenNothingIsOld) {
  int64_t first = 0;
  const int64_t room = FilledRoom(100, 1, &first);
  ASSERT_OK_AND_ASSIGN(int64_t cut, store_->RetentionCut(room, 10, NowMs()));
  EXPECT_EQ(cut, first + 90);  // the 10th newest: the 90 below it may go
  ASSERT_OK_AND_ASSIGN(cut, store_->RetentionCut(room, 100, NowMs()));
  EXPECT_EQ(cut, first);  // the room's oldest: nothing below it
  ASSERT_OK_AND_ASSIGN(cut, store_->RetentionCut(room, 101, NowMs()));
  EXPECT_EQ(cut, 0);
  ASSERT_OK_AND_ASSIGN(cut, store_->RetentionCut(room, 10, 1));  // nothing older than ts 1
  EXPECT_EQ(cut, 0);
  ASSERT_OK_AND_ASSIGN(cut, store_->RetentionCut(room + 1000, 10, NowMs()));  // no such room
  EXPECT_EQ(cut, 0);
}

TEST_F(RetentionTest, RoomsAreVisitedInOrderOnceEach) {
  const User alice = NewUser("alice");
  const int64_t a = NewRoom(alice, "a", RoomKind::kPublic).id;
  const int64_t b = NewRoom(alice, "b", RoomKind::kPublic).id;
  NewRoom(alice, "never written", RoomKind::kPublic);
  ASSERT_OK(Exec("DELETE FROM events WHERE room_id IS NOT NULL"));
  Fill(b, 3, 1);
  Fill(a, 3, 1);
  std::vector<int64_t> seen;
  int64_t room = 0;
  for (;;) {
    ASSERT_OK_AND_ASSIGN(room, store_->NextEventRoom(room));
    if (room == 0) break;
    seen.push_back(room);
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{a, b}));
}

TEST_F(RetentionTest, EveryEventYoungerThanTheRetentionStaysWhereverItSits) {
  // Another host's clock: new events among old ones. Each stays; the old
  // ones around them go.
  const User alice = NewUser("alice");
  const int64_t room = NewRoom(alice, "mixed", RoomKind::kPublic).id;
  ASSERT_OK(Exec("DELETE FROM events WHERE room_id IS NOT NULL"));
  for (int i = 0; i < 4; ++i) {
    Fill(room, 10, 1);
    Fill(room, 1, NowMs() + 3600 * 1000);
  }
  Fill(room, 10, 1);
  const int64_t no_room = Count("room_id IS NULL");  // alice's own event, of no room: by age alone
  // Of the 50 old, the room's newest stays (keep_per_room 1).
  EXPECT_EQ(test::RetentionPass(*store_, -60000, 1, 20000) - no_room, 49);
  EXPECT_EQ(Count("room_id = " + std::to_string(room)), 4 + 1);
  EXPECT_EQ(Count("ts = 1"), 1);
}

TEST_F(RetentionTest, APassGoesOnFromWhereEachStepEnded) {
  // Steps of 70 rows over three rooms of 500 old events that each keep 100:
  // the same result as one step, and no step takes more than it may.
  const User alice = NewUser("alice");
  std::vector<int64_t> rooms;
  for (int i = 0; i < 3; ++i) rooms.push_back(NewRoom(alice, "r" + std::to_string(i), RoomKind::kPublic).id);
  for (int64_t r : rooms) Fill(r, 500, 1);
  const int64_t head = Head();
  const int64_t before = Count("1 = 1");
  const int64_t pruned = test::RetentionPass(*store_, -60000, 100, 70);
  EXPECT_EQ(pruned, before - Count("1 = 1"));
  EXPECT_GE(pruned, 3 * 400);
  for (int64_t r : rooms) {
    EXPECT_EQ(Count("room_id = " + std::to_string(r)), 100) << r;
    EXPECT_EQ(QueryInt("SELECT MIN(id) FROM events WHERE room_id = " + std::to_string(r)),
              QueryInt("SELECT MAX(id) FROM events WHERE room_id = " + std::to_string(r)) - 99);
  }
  EXPECT_EQ(Head(), head);
}

TEST_F(RetentionTest, APassCostsStepsInProportionToTheOldEventsNotTheirSquare) {
  PARLEY_SQLITE_ONLY();
  // Two rooms of 4,000 old events each (ts 1), under the default of
  // 100,000 kept per room: nothing goes, and the pass must see that with
  // a few steps per event. Deciding it once per event, the prune walked the
  // event's room up to the 100,000th newest: 8,000 × 4,000 rows (96,340,307
  // VM steps; 56,411 for the pass when written).
  User alice = NewUser("alice");
  Fill(NewRoom(alice, "one", RoomKind::kPublic).id, 4000, 1);
  Fill(NewRoom(alice, "two", RoomKind::kPublic).id, 4000, 1);
  const int64_t in_rooms = QueryInt("SELECT COUNT(*) FROM events WHERE room_id IS NOT NULL");
  test::StatementTrace trace(*db_);
  EXPECT_EQ(test::RetentionPass(*store_, -60000, 100000), 1);  // alice's own event, of no room: by age alone
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM events WHERE room_id IS NULL"), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM events WHERE room_id IS NOT NULL"), in_rooms);
  EXPECT_LT(trace.steps(), 8000 * 100) << trace.steps() << " VM steps";
}

TEST_F(RetentionTest, APassOverALogWithNothingOldReadsAFewEntriesPerRoom) {
  PARLEY_SQLITE_ONLY();
  // 40,000 events of this minute in 40 rooms: the pass asks each room for
  // its oldest event and goes on. Selecting the old events by their time
  // stamp, which no index serves, the prune read the whole log every hour
  // (with the write lock held): 160,041 VM steps here, by sqlite3's .stats
  // on the statement before; 2,023 for the pass when written.
  User alice = NewUser("alice");
  for (int i = 0; i < 40; ++i) Fill(NewRoom(alice, "r" + std::to_string(i), RoomKind::kPublic).id, 1000, NowMs());
  const int64_t before = QueryInt("SELECT COUNT(*) FROM events");
  test::StatementTrace trace(*db_);
  EXPECT_EQ(test::RetentionPass(*store_, 3600 * 1000, 100000), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM events"), before);
  EXPECT_LT(trace.steps(), 42 * 100) << trace.steps() << " VM steps";
}

}  // namespace
}  // namespace parley
