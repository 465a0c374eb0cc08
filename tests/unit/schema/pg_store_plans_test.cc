// The per-room reads of schema/pg read the room's rows, whatever the rest of
// the log holds and whatever the planner's statistics say about it (the
// design note on key ranges in schema/pg/store_details.h).
//
// The log here is what a real server grows into: a room that was busy long
// ago and is quiet now (a quarter of every row, all of them old), rooms
// that took the middle, and a room that is busy now (a quarter, all new).
// With statistics (ANALYZE), a plain `room_id = $1 ... ORDER BY id LIMIT n`
// expects one row in four to match anywhere, and walks the primary key in
// id order, filtering: from the newest end for the quiet room's latest page
// (every newer row of the others first), from the cursor for the new
// room's history or events after an old cursor. The server's own counters
// (pg_stat_user_tables, pg_stat_user_indexes) say how many rows each read
// of the store touched.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "schema/pg/store.h"
#include "tests/unit/schema/pg_store_fixture.h"
#include "tests/unit/schema/retention_pass.h"

namespace parley::pg {
namespace {

constexpr int64_t kRows = 40000;  // events and messages alike
constexpr int kOthers = 20;       // rooms that share the middle half
constexpr int kPage = 50;
constexpr int64_t kChunk = 500;  // messages a transaction in SetUp
// A read of one page may touch the page, the row past it that says
// whether there is more, and a few index entries at its ends.
constexpr int64_t kPageBound = kPage + 1 + 16;

class PgStorePlansTest : public test::PgStoreFixture {
 protected:
  void SetUp() override {
    test::PgStoreFixture::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    reader_ = NewUser("reader");
    const User writer = NewUser("writer");
    old_room_ = NewRoom(reader_, "once-busy");
    new_room_ = NewRoom(reader_, "busy-now");
    std::string others;
    for (int i = 0; i < kOthers; ++i) {
      middle_.push_back(NewRoom(reader_, "middle-" + std::to_string(i)));
      others += (others.empty() ? "" : ",") + std::to_string(middle_.back());
    }
    // The shared schema is emptied between tests by DELETE (pg_cluster.h),
    // which leaves dead index entries that a scan still reads: a scan of
    // these rooms must start from clean tables to be counted.
    ASSERT_OK(conn_->ExecScript("TRUNCATE events, messages CASCADE"));
    // One message event per message, after the log's head: the first
    // quarter in old_room_, the last in new_room_, the middle half dealt out.
    base_ = Head();
    ASSERT_OK(conn_->Exec("INSERT INTO events (id, ts, type, room_id, audience, data, message_id) "
                          "SELECT $5::bigint + g, 0, 'message', CASE WHEN g <= $1 / 4 THEN $2::bigint "
                          "WHEN g > 3 * $1 / 4 THEN $3::bigint "
                          "ELSE ($4::bigint[])[1 + g % array_length($4::bigint[], 1)] END, 'room', '{}', $5::bigint + g "
                          "FROM generate_series(1, $1::bigint) g",
                          {kRows, old_room_, new_room_, "{" + others + "}", base_}));
    // In transactions of kChunk messages: each insert's trigger (migration
    // 011) updates its room's head row, and within one transaction the
    // row's versions chain up unpruned, each update walking every earlier
    // one: quadratic in a room's rows (the 40,000 in one statement took
    // 5-7 s a test, against 2.8 s in chunks, on a loaded machine).
    for (int64_t from = base_; from < base_ + kRows; from += kChunk) {
      ASSERT_OK(conn_->Exec("INSERT INTO messages (id, room_id, user_id, kind, text, ts) "
                            "SELECT id, room_id, $1, 'message', 'm' || id, 0 FROM events "
                            "WHERE id > $2 AND id <= $3 ORDER BY id",
                            {writer.id, from, from + kChunk}));
    }
    ASSERT_OK(conn_->Exec("UPDATE event_counter SET last = $1", {base_ + kRows}));
    ASSERT_OK(conn_->ExecScript("ANALYZE events; ANALYZE messages"));
    // Each message above moved its room's count in room_heads (migration
    // 011): 40,000 dead rows there, and statistics that depend on when
    // autovacuum passed. Cleared and counted here, whatever it does.
    ASSERT_OK(conn_->ExecScript("VACUUM ANALYZE room_heads"));
  }

  // Nor leave the next test 80,000 rows to delete.
  void TearDown() override {
    if (conn_ != nullptr) {
      EXPECT_OK(conn_->ExecScript("TRUNCATE events, messages CASCADE"));
    }
  }

  // Rows of `table` read so far, by the server's counters: those of
  // sequential scans, and the index entries that index scans read (each
  // heap row an index scan fetches is one of those). This connection's own
  // counts reach the counters when it next goes idle once
  // pg_stat_force_next_flush() has asked for it, so the next statement sees
  // everything the earlier ones read.
  int64_t RowsRead(const std::string& table) {
    EXPECT_OK(conn_->Exec("SELECT pg_stat_force_next_flush()"));
    return QueryInt("SELECT COALESCE(t.seq_tup_read, 0) + "
                    "(SELECT COALESCE(SUM(i.idx_tup_read), 0) FROM pg_stat_user_indexes i WHERE i.relid = t.relid) "
                    "FROM pg_stat_user_tables t WHERE t.relid = '" +
                    table + "'::regclass");
  }

  int64_t base_ = 0;  // the log's head before the rows above
  User reader_;
  int64_t old_room_ = 0;
  int64_t new_room_ = 0;
  std::vector<int64_t> middle_;  // the kOthers rooms of the middle half
};

TEST_F(PgStorePlansTest, TheLatestPageOfARoomQuietSinceLongAgoReadsThePage) {
  const int64_t before = RowsRead("messages");
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store_->History(reader_, old_room_, std::nullopt, std::nullopt, kPage));
  const int64_t read = RowsRead("messages") - before;
  ASSERT_EQ(page.messages.size(), static_cast<size_t>(kPage));
  EXPECT_EQ(page.messages.back().id, base_ + kRows / 4);
  EXPECT_TRUE(page.has_more);
  EXPECT_LE(read, kPageBound) << "the latest page of a quiet room read " << read << " rows of messages";
}

TEST_F(PgStorePlansTest, TheFirstPageAfterAnOldCursorOfARoomBusyNowReadsThePage) {
  const int64_t before = RowsRead("messages");
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store_->History(reader_, new_room_, std::nullopt, base_, kPage));
  const int64_t read = RowsRead("messages") - before;
  ASSERT_EQ(page.messages.size(), static_cast<size_t>(kPage));
  EXPECT_EQ(page.messages.front().id, base_ + 3 * kRows / 4 + 1);
  EXPECT_LE(read, kPageBound) << "a page after an old cursor read " << read << " rows of messages";
}

TEST_F(PgStorePlansTest, ARoomsViewReadsItsLastMessageAndNoMoreUnreadRowsThanItCounts) {
  const int64_t before = RowsRead("messages");
  ASSERT_OK_AND_ASSIGN(Room quiet, store_->GetRoom(reader_, old_room_));
  ASSERT_OK_AND_ASSIGN(Room busy, store_->GetRoom(reader_, new_room_));
  const int64_t read = RowsRead("messages") - before;
  ASSERT_NE(quiet.last_message, nullptr);
  ASSERT_NE(busy.last_message, nullptr);
  EXPECT_EQ(quiet.last_message->id, base_ + kRows / 4);
  EXPECT_EQ(busy.last_message->id, base_ + kRows);
  // Unread counts stop at 1,000 (a badge reads "999+"). Each view walked
  // its 1,000 unread rows (2,012 rows for the two, checked); now a count is
  // the room's count of messages less a place (migration 011): each view
  // reads a row for that, an empty walk of the tombstones and the last
  // message's few (14).
  EXPECT_EQ(quiet.unread, 1000);
  EXPECT_EQ(busy.unread, 1000);
  EXPECT_LE(read, 2 * 16) << "two rooms' views read " << read << " rows of messages";
}

TEST_F(PgStorePlansTest, ARoomListOfRoomsAtTheUnreadCapReadsAFewRowsARoom) {
  // The reader's 22 rooms, each with 1,000 unread or more: the page walked
  // 1,000 rows of each before migration 011 (22,048 rows, checked); now a
  // place and the last message of each (70).
  RoomListQuery q;
  q.limit = 50;
  const int64_t before = RowsRead("messages");
  ASSERT_OK_AND_ASSIGN(RoomListPage page, store_->ListRoomsPage(reader_, q));
  const int64_t read = RowsRead("messages") - before;
  int capped = 0;
  for (const Room& r : page.rooms) capped += r.unread == 1000;
  EXPECT_EQ(capped, 2 + kOthers);
  EXPECT_LE(read, (2 + kOthers) * 16) << "a page of the room list read " << read << " rows of messages";
}

TEST_F(PgStorePlansTest, ARoomListLooksForMyBlocksInTheEventsAfterACatchUpsCursorOnly) {
  // 20,000 events, alternately addressed to the reader (member events: a
  // site where they came and went) and a registration of someone (a `user`
  // event with no room, for everyone), none a block. A catch-up lists every
  // room after a block of mine, found among the events after its cursor: a
  // plain list must walk neither kind (it did, 60,001 rows, checked without
  // the CASE's first branch), nor a catch-up those before its cursor.
  const int64_t head = Head();
  ASSERT_OK(conn_->Exec("INSERT INTO events (id, ts, type, room_id, audience, data, target_id) "
                        "SELECT $1::bigint + g, 0, CASE WHEN g % 2 = 0 THEN 'member' ELSE 'user' END, "
                        "CASE WHEN g % 2 = 0 THEN $2::bigint END, CASE WHEN g % 2 = 0 THEN 'room' ELSE 'all' END, "
                        "'{}', CASE WHEN g % 2 = 0 THEN $3::bigint ELSE $4::bigint END FROM generate_series(1, 20000) g",
                        {head, old_room_, reader_.id, reader_.id + 1}));
  ASSERT_OK(conn_->Exec("UPDATE event_counter SET last = $1", {head + 20000}));
  ASSERT_OK(conn_->ExecScript("ANALYZE events"));
  RoomListQuery q;
  int64_t before = RowsRead("events");
  ASSERT_OK_AND_ASSIGN(RoomListPage page, store_->ListRoomsPage(reader_, q));
  EXPECT_EQ(page.rooms.size(), 3u + kOthers) << "general too";
  EXPECT_LE(RowsRead("events") - before, 16) << "a plain list";
  q.changed_since = head + 20000 - 10;
  before = RowsRead("events");
  ASSERT_OK_AND_ASSIGN(page, store_->ListRoomsPage(reader_, q));
  EXPECT_TRUE(page.rooms.empty());
  // The block lookup and the rooms-left lookup, each the 10 after the cursor.
  EXPECT_LE(RowsRead("events") - before, 2 * (10 + 16)) << "a catch-up";
  const User other = NewUser("other");
  ASSERT_OK(store_->Block(reader_, other.username));
  ASSERT_OK_AND_ASSIGN(page, store_->ListRoomsPage(reader_, q));
  EXPECT_EQ(page.rooms.size(), 3u + kOthers) << "after my block, every room";
}

TEST_F(PgStorePlansTest, ARoomsViewOfAReaderWhoSentThousandsSinceReadingReadsNoneOfThem) {
  // A bot that sends and never marks read: its unread count walked the
  // room from its marker, its own 1,500 messages included (1,508 rows for
  // one view, checked), until its own messages moved its marker.
  Limits unlimited;
  unlimited.WritesOff();
  PgStore sender(*conn_, unlimited);
  const int64_t room = NewRoom(reader_, "bot-room");
  const User other = NewUser("other");
  AddMember(room, other);
  ASSERT_OK(sender.Send(other, room, "hello", std::nullopt).status());
  for (int i = 0; i < 1500; ++i) {
    ASSERT_OK(sender.Send(reader_, room, "tick " + std::to_string(i), std::nullopt).status());
  }
  ASSERT_OK(sender.Send(other, room, "bye", std::nullopt).status());
  const int64_t before = RowsRead("messages");
  ASSERT_OK_AND_ASSIGN(Room view, store_->GetRoom(reader_, room));
  const int64_t read = RowsRead("messages") - before;
  EXPECT_EQ(view.unread, 1) << "the message after the reader's own";
  ASSERT_NE(view.last_message, nullptr);
  EXPECT_EQ(view.last_message->text, "bye");
  EXPECT_LE(read, 16) << "a room's view read " << read << " rows of messages";
}

TEST_F(PgStorePlansTest, ARoomsMentionCountLooksUpTheAuthorOfEachMentionItWalksAndNoOtherMessage) {
  // The reader is mentioned in the busy room's last 1,200 messages, all the
  // writer's. unread_mentions leaves out those whose author the reader
  // blocks: each mention walked costs a lookup of its message by primary
  // key (its author), never a scan of messages. Written as a join, the
  // planner hashed all of messages for it (39,809 rows for this view,
  // checked); the author as a scalar subquery is looked up per mention.
  ASSERT_OK(conn_->Exec("INSERT INTO mentions (message_id, user_id, room_id) "
                        "SELECT id, $1, room_id FROM messages WHERE room_id = $2 ORDER BY id DESC LIMIT 1200",
                        {reader_.id, new_room_}));
  ASSERT_OK(conn_->ExecScript("ANALYZE mentions"));
  const User other = NewUser("other");
  ASSERT_OK(store_->Block(reader_, other.username));
  int64_t before = RowsRead("messages");
  ASSERT_OK_AND_ASSIGN(Room view, store_->GetRoom(reader_, new_room_));
  int64_t read = RowsRead("messages") - before;
  EXPECT_EQ(view.unread_mentions, 1000);
  EXPECT_LE(read, 1000 + 16) << "the cap's authors and the view's rows; read " << read << " rows of messages";
  // Blocking the writer leaves every mention out, so the cap stops none:
  // all 1,200 are looked at (what is left out is not capped). The plan is
  // a hash anti join with the reader's blocks, read once; a mention whose
  // author is in it looks the author up again to check the match: two
  // lookups each (2,407 rows, checked).
  ASSERT_OK(store_->Block(reader_, "writer"));
  before = RowsRead("messages");
  ASSERT_OK_AND_ASSIGN(view, store_->GetRoom(reader_, new_room_));
  read = RowsRead("messages") - before;
  EXPECT_EQ(view.unread_mentions, 0);
  EXPECT_LE(read, 2 * 1200 + 16) << "every mention's author and the view's rows; read " << read
                                 << " rows of messages";
}

TEST_F(PgStorePlansTest, AMentionCountReadsTheNewest2000MentionsAtMostWhateverABlockedPersonSent) {
  // The reader is mentioned in the busy room's last 5,000 messages, all by
  // the writer, whom the reader blocks: the count walked past every one
  // (two lookups each: 10,010 rows, checked), now the newest 2,000.
  ASSERT_OK(conn_->Exec("INSERT INTO mentions (message_id, user_id, room_id) "
                        "SELECT id, $1, room_id FROM messages WHERE room_id = $2 ORDER BY id DESC LIMIT 5000",
                        {reader_.id, new_room_}));
  ASSERT_OK(conn_->ExecScript("ANALYZE mentions"));
  ASSERT_OK(store_->Block(reader_, "writer"));
  const int64_t before = RowsRead("messages");
  ASSERT_OK_AND_ASSIGN(Room view, store_->GetRoom(reader_, new_room_));
  const int64_t read = RowsRead("messages") - before;
  EXPECT_EQ(view.unread_mentions, 0);
  EXPECT_LE(read, 2 * 2000 + 16) << "read " << read << " rows of messages";
}

TEST_F(PgStorePlansTest, AnUnreadCountTakesOffABlockedPersonsMessagesByTheirPlacesNotByReadingThem) {
  // The writer wrote all 40,000 messages, 1,000 unread or more in each of
  // the reader's 22 rooms; the reader blocks them, and 20 people who wrote
  // nothing. Each count is then 0, from two of the writer's places a room
  // (messages_author, migration 016) beside the room's own reads; someone
  // blocked who wrote nothing there costs an empty lookup.
  for (int i = 0; i < 20; ++i) ASSERT_OK(store_->Block(reader_, NewUser("quiet-" + std::to_string(i)).username));
  ASSERT_OK(store_->Block(reader_, "writer"));
  int64_t before = RowsRead("messages");
  ASSERT_OK_AND_ASSIGN(Room busy, store_->GetRoom(reader_, new_room_));
  int64_t read = RowsRead("messages") - before;
  EXPECT_EQ(busy.unread, 0);
  EXPECT_LE(read, 16 + 2) << "a room's view read " << read << " rows of messages";
  RoomListQuery q;
  q.limit = 50;
  before = RowsRead("messages");
  ASSERT_OK_AND_ASSIGN(RoomListPage page, store_->ListRoomsPage(reader_, q));
  read = RowsRead("messages") - before;
  int none = 0;
  for (const Room& r : page.rooms) none += r.unread == 0;
  EXPECT_EQ(none, 3 + kOthers) << "general too";
  EXPECT_LE(read, (2 + kOthers) * (16 + 2)) << "a page of the room list read " << read << " rows of messages";
}

TEST_F(PgStorePlansTest, AMessageWithThousandsOfReactionsCostsAReadItsEmojiNotItsReactions) {
  // 3,000 people react to the busy room's newest message with two emoji.
  // A history page and a reaction added each read all 6,000 rows (18,002
  // rows of reactions for both, checked); now a row per emoji from
  // reaction_counts and a lookup of the reader's own in each (2).
  const int64_t newest = base_ + kRows;
  ASSERT_OK(conn_->Exec("INSERT INTO users (username, pw_hash, created_ts) "
                        "SELECT 'fan' || g, 'x', 0 FROM generate_series(1, 3000) g"));
  ASSERT_OK(conn_->Exec("INSERT INTO reactions (message_id, emoji, user_id, room_id, ts) "
                        "SELECT $1, e, u.id, $2, u.id FROM users u, (VALUES ('up'), ('party')) v (e) "
                        "WHERE u.username LIKE 'fan%'",
                        {newest, new_room_}));
  ASSERT_OK(conn_->ExecScript("ANALYZE reactions; ANALYZE reaction_counts"));
  const int64_t before = RowsRead("reactions");
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store_->History(reader_, new_room_, std::nullopt, std::nullopt, kPage));
  ASSERT_OK_AND_ASSIGN(ReactionResult added, store_->React(reader_, newest, "up", true));
  const int64_t read = RowsRead("reactions") - before;
  ASSERT_EQ(page.messages.back().id, newest);
  ASSERT_EQ(page.messages.back().reactions.size(), 2u);
  EXPECT_EQ(page.messages.back().reactions[0].count, 3000);
  ASSERT_EQ(added.message.reactions.size(), 2u);
  for (const Reaction& r : added.message.reactions) {
    EXPECT_EQ(r.count, r.emoji == "up" ? 3001 : 3000) << r.emoji;
    EXPECT_EQ(r.me, r.emoji == "up") << r.emoji;
  }
  EXPECT_LE(read, 16) << "a page and a reaction read " << read << " rows of reactions";
}

TEST_F(PgStorePlansTest, EventsAfterACursorNearTheEndOfAQuietRoomReadThatRoomsRows) {
  // A member of the quiet room, 20 events behind its last one: the first
  // batch takes 16 (event_merge.cc), the next asks for 32 and finds 4, and
  // must not look for the rest among the 30,000 newer events of the others.
  const User late = NewUser("late");
  AddMember(old_room_, late);
  const int64_t cursor = base_ + kRows / 4 - 20;
  const int64_t before = RowsRead("events");
  ASSERT_OK_AND_ASSIGN(std::vector<Event> events, store_->EventsForUser(late.id, cursor, base_ + kRows, kPage));
  const int64_t read = RowsRead("events") - before;
  ASSERT_EQ(events.size(), 20u);
  EXPECT_EQ(events.front().id, cursor + 1);
  EXPECT_EQ(events.back().id, base_ + kRows / 4);
  EXPECT_LE(read, kPageBound) << "20 events of a quiet room read " << read << " rows of events";
}

TEST_F(PgStorePlansTest, ARetentionPassReadsTheOldEventsAFewTimesNotOnceForEachEventKeptInItsRoom) {
  // Every event is older than the retention (ts 0), and each room keeps its
  // newest 1,000: the two big rooms lose 9,000 each, the others none.
  const int64_t before = RowsRead("events");
  const int64_t pruned = test::RetentionPass(*store_, -60000, 1000);
  const int64_t read = RowsRead("events") - before;
  EXPECT_EQ(pruned, 2 * (kRows / 4 - 1000));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM events WHERE room_id = " + std::to_string(old_room_)), 1000);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM events"), kRows - pruned);
  // The window of each delete, its rows by primary key, and 1,000 entries
  // per room for its cut (58,087 when written). Once per event instead, it
  // was up to 1,000 entries for each of the 40,000; with the deletes planned
  // as a hash join, each read every id below the head (248,625).
  EXPECT_LE(read, 2 * kRows) << "a pass read " << read << " rows of events";
}

TEST_F(PgStorePlansTest, ARetentionPassOverALogWithNothingOldReadsAFewEntriesPerRoom) {
  // The same log, all of it new: each room's oldest event says so (47 rows
  // when written). The one statement before selected the old events by time
  // stamp, no index's column: a scan of the whole table every hour.
  ASSERT_OK(conn_->Exec("UPDATE events SET ts = $1", {NowMs()}));
  ASSERT_OK(conn_->ExecScript("VACUUM ANALYZE events"));
  const int64_t before = RowsRead("events");
  EXPECT_EQ(test::RetentionPass(*store_, 3600 * 1000, 100000), 0);
  const int64_t read = RowsRead("events") - before;
  EXPECT_LE(read, 4 * (kOthers + 2) + 16) << "a pass read " << read << " rows of events";
}

TEST_F(PgStorePlansTest, ADirectoryPageReadsTheRoomsOfItsPrefixNotThoseBefore) {
  // 5,000 public rooms; a page for "room 49" starts there in rooms_name and
  // reads at most the 100 rooms with that prefix (all of them, if the
  // planner finds sorting them cheaper than walking the index), not every
  // room before the prefix, as starts_with() does on servers before
  // PostgreSQL 15 (15 makes it the same range).
  ASSERT_OK(conn_->ExecScript("INSERT INTO rooms (name, kind, created_ts) "
                              "SELECT 'room ' || lpad(g::text, 4, '0'), 'public', 0 FROM generate_series(1, 5000) g; "
                              // And their head rows (a trigger's): with the statistics of
                              // a few rows there, the plan walked them and looked up
                              // every room by its key.
                              "ANALYZE rooms; ANALYZE room_heads"));
  const int64_t before = RowsRead("rooms");
  ASSERT_OK_AND_ASSIGN(std::vector<Room> page, store_->Directory(reader_, "ROOM 49", kPage));
  const int64_t read = RowsRead("rooms") - before;
  ASSERT_EQ(page.size(), static_cast<size_t>(kPage));
  EXPECT_EQ(page.front().name, "room 4900");
  EXPECT_LE(read, 100 + 16) << "a directory page read " << read << " rows of rooms";
  // Nor leave the next tests' rooms rows far from the table's first page.
  ASSERT_OK(conn_->ExecScript("DELETE FROM rooms WHERE name LIKE 'room %'"));
  ASSERT_OK(conn_->ExecScript("VACUUM rooms"));
}

// Every message says "common" (a search for it matches all 40,000). The
// UPDATE leaves dead index entries that a scan still reads: VACUUM.
void SayCommonEverywhere(PgConn& conn) {
  ASSERT_OK(conn.ExecScript("UPDATE messages SET text = text || ' common'"));
  ASSERT_OK(conn.ExecScript("VACUUM ANALYZE messages"));
}

TEST_F(PgStorePlansTest, ASearchOfAWordEveryMessageHoldsReadsItsScanNotEveryMatch) {
  // The searcher is in the quiet room, whose messages are the oldest
  // quarter, and in more rooms than kSearchRoomsFirst (of the middle). The
  // page is picked among the newest SearchQuery::scan matches (all in the
  // busy room: nothing for the searcher, and where the next page starts),
  // not among all 40,000.
  ASSERT_NO_FATAL_FAILURE(SayCommonEverywhere(*conn_));
  const User outsider = NewUser("outsider");
  ASSERT_OK(store_->Join(outsider, old_room_).status());
  for (int64_t room : middle_) ASSERT_OK(store_->Join(outsider, room).status());
  ASSERT_GT(middle_.size(), kSearchRoomsFirst);
  SearchQuery q{"\"common\"", {}, {}, {}, 20};
  q.scan = kRows / 8;
  const int64_t before = RowsRead("messages");
  ASSERT_OK_AND_ASSIGN(SearchPage page, store_->Search(outsider, q));
  const int64_t read = RowsRead("messages") - before;
  EXPECT_TRUE(page.results.empty());
  EXPECT_TRUE(page.has_more());
  EXPECT_EQ(page.next_before, base_ + kRows - q.scan + 1);
  EXPECT_LE(read, q.scan + 16) << "a search read " << read << " rows of messages";
}

TEST_F(PgStorePlansTest, EverySearchOfARareWordReadsItsMatchesNotTheLog) {
  // Which index finds a word's newest matches depends on the word: the GIN
  // index for a rare one, the id index walked back for a common one. A
  // prepared statement's generic plan, which PostgreSQL settles on after
  // five executions on a connection, knows no word, and walked back the
  // whole log for a word of one message (40,000 rows, 67 ms a search at
  // 60,000 messages): so each search is planned for its words.
  for (int i = 0; i < 8; ++i) {
    const int64_t id = base_ + 1 + i * 4999;
    SearchQuery q{"\"m" + std::to_string(id) + "\"", {}, {}, {}, 20};
    const int64_t before = RowsRead("messages");
    ASSERT_OK_AND_ASSIGN(SearchPage page, store_->Search(reader_, q));
    const int64_t read = RowsRead("messages") - before;
    ASSERT_EQ(page.results.size(), 1u) << "search " << i;
    EXPECT_EQ(page.results[0].message.id, id);
    EXPECT_LE(read, 16) << "search " << i << " read " << read << " rows of messages";
  }
}

TEST_F(PgStorePlansTest, ASearchReadsAtMost256KBOfWordsWaitingForTheIndex) {
  // Messages inserted one by one, as sends are: their words wait in the GIN
  // index's pending list, which every search reads whole, until it outgrows
  // its limit (migration 009). At the default 4 MB these 5,000 left 172
  // pages waiting.
  ASSERT_OK(conn_->Exec("DO $$ BEGIN FOR i IN 1..5000 LOOP INSERT INTO messages (id, room_id, user_id, kind, text, ts) "
                        "VALUES (" + std::to_string(base_ + kRows) + " + i, " + std::to_string(new_room_) + ", " +
                        std::to_string(reader_.id) + ", 'message', 'bench message ' || i || ' from thread ' || i % 7, 0); "
                        "END LOOP; END $$").status());
  EXPECT_LE(QueryInt("SELECT gin_clean_pending_list('messages_search')"), 256 / 8) << "pages of 8 kB";
}

TEST_F(PgStorePlansTest, ASearchByAReaderOfOneQuietRoomReadsOnInItsRoomWithinAWindow) {
  // The same search by a reader of the quiet room alone: the scan of
  // everyone's newest matches finds nothing of theirs, and the second step
  // reads their room's newest messages below it, at most q.scan of them
  // (not the GIN index's every match), and fills the page.
  ASSERT_NO_FATAL_FAILURE(SayCommonEverywhere(*conn_));
  const User outsider = NewUser("outsider");
  ASSERT_OK(store_->Join(outsider, old_room_).status());
  SearchQuery q{"\"common\"", {}, {}, {}, 20};
  q.scan = kRows / 8;
  // Once to prepare its statements (a round trip each, once per
  // connection), then counted.
  ASSERT_OK(store_->Search(outsider, q).status());
  const int64_t before = RowsRead("messages");
  const uint64_t trips = conn_->round_trips();
  ASSERT_OK_AND_ASSIGN(SearchPage page, store_->Search(outsider, q));
  // The first step with the reader's rooms, the second with its floor, the
  // page's messages, their details with the COMMIT (was seven: the rooms,
  // the floor and the details each took one of their own).
  EXPECT_EQ(conn_->round_trips() - trips, 4u);
  const int64_t read = RowsRead("messages") - before;
  ASSERT_EQ(page.results.size(), 20u);
  EXPECT_EQ(page.results.front().message.id, base_ + kRows / 4);  // the quiet room's newest
  EXPECT_EQ(page.results.back().message.id, base_ + kRows / 4 - 19);
  EXPECT_EQ(page.next_before, base_ + kRows / 4 - 19);
  // The first step's scan (q.scan), then, for the reader's two rooms
  // (general, empty, and the quiet one: a share of q.scan / 2 each), the
  // floor's walk down the quiet room's index and the window above it, a
  // share each. A plain `room_id = …` floor read the room's every row below
  // (17,542 in all).
  EXPECT_LE(read, 2 * q.scan + 64) << "a search read " << read << " rows of messages";
}

}  // namespace
}  // namespace parley::pg
