// schema/store_rooms.cc (room list, directory, notification levels),
// store_messages.cc (mentions), store_reactions.cc and store_search.cc:
// the conversation features of issue 12 on a real, migrated SQLite file.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "schema/crypto.h"
#include "schema/migrate.h"
#include "schema/store.h"
#include "schema/store_rules.h"
#include "tests/unit/schema/statement_trace.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

class StoreConversationsTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore());
    alice_ = NewUser("alice");
    bob_ = NewUser("bob");
  }
  int64_t NewRoom(const std::string& name, RoomKind kind = RoomKind::kPublic) {
    return StoreFixture::NewRoom(alice_, name, kind).id;
  }
  Message Post(const User& u, int64_t room, const std::string& text) {
    auto r = store_->Send(u, room, text, std::nullopt);
    EXPECT_OK(r) << text;
    return r.ok() ? r->message : Message{};
  }
  // For tests that write more than a user's quotas allow.
  void ReopenWithoutQuotas() {
    Limits unlimited;
    unlimited.WritesOff();
    store_ = nullptr;
    store_ = NewStorage(unlimited);
  }
  std::vector<int64_t> PageIds(const User& u, const RoomListQuery& q, RoomListPage* out = nullptr) {
    auto page = store_->ListRoomsPage(u, q);
    EXPECT_OK(page);
    std::vector<int64_t> ids;
    if (!page.ok()) return ids;
    for (const Room& r : page->rooms) ids.push_back(r.id);
    if (out) *out = *page;
    return ids;
  }
  std::vector<std::string> Found(const User& u, const std::string& match, std::optional<int64_t> room = {}) {
    SearchQuery q;
    q.match = match;
    q.room_id = room;
    auto page = store_->Search(u, q);
    EXPECT_OK(page) << match;
    std::vector<std::string> texts;
    if (page.ok()) {
      for (const SearchHit& h : page->results) texts.push_back(h.message.text);
    }
    return texts;
  }

  User alice_, bob_;
};

TEST_F(StoreConversationsTest, EveryRoomEventMovesTheRoomsActivity) {
  const int64_t room = NewRoom("lobby");
  Message m = Post(alice_, room, "hi");
  auto view = store_->GetRoom(alice_, room);
  ASSERT_OK(view);
  EXPECT_EQ(view->last_event_id, m.id);
  ASSERT_TRUE(view->last_message);
  EXPECT_EQ(view->last_message->text, "hi");
  ASSERT_OK(store_->Join(bob_, room));
  auto after = store_->GetRoom(alice_, room);
  ASSERT_OK(after);
  EXPECT_GT(after->last_event_id, m.id) << "the join is activity too (changed_since must see it)";
}

TEST_F(StoreConversationsTest, PagesWalkMyRoomsNewestFirstAndResumeAtTheCursor) {
  std::vector<int64_t> rooms;
  for (int i = 0; i < 5; ++i) rooms.push_back(NewRoom("r" + std::to_string(i)));
  Post(alice_, rooms[2], "latest");  // r2 first, then r4, r3, r1, r0, general
  RoomListQuery q;
  q.limit = 2;
  RoomListPage page;
  EXPECT_EQ(PageIds(alice_, q, &page), (std::vector<int64_t>{rooms[2], rooms[4]}));
  ASSERT_TRUE(page.next);
  q.before = page.next;
  EXPECT_EQ(PageIds(alice_, q, &page), (std::vector<int64_t>{rooms[3], rooms[1]}));
  q.before = page.next;
  EXPECT_EQ(PageIds(alice_, q, &page), (std::vector<int64_t>{rooms[0], 1}));
  EXPECT_FALSE(page.next);
  // Bob is only in general.
  EXPECT_EQ(PageIds(bob_, RoomListQuery{}), std::vector<int64_t>{1});
}

TEST_F(StoreConversationsTest, ChangedSinceListsChangedRoomsAndRoomsLeft) {
  const int64_t a = NewRoom("a"), b = NewRoom("b");
  ASSERT_OK(store_->Join(bob_, a));
  ASSERT_OK(store_->Join(bob_, b));
  auto head = store_->Head();
  ASSERT_OK(head);
  Post(alice_, a, "news");
  ASSERT_OK(store_->Leave(bob_, b));
  RoomListQuery q;
  q.changed_since = *head;
  RoomListPage page;
  EXPECT_EQ(PageIds(bob_, q, &page), std::vector<int64_t>{a});
  EXPECT_EQ(page.left, std::vector<int64_t>{b});
  ASSERT_OK(store_->Join(bob_, b));
  EXPECT_EQ(PageIds(bob_, q, &page), (std::vector<int64_t>{b, a})) << "back in b: changed, not left";
  EXPECT_TRUE(page.left.empty());
}

// `left` lists the rooms whose membership of mine ended after the cursor,
// not every room with a member event addressed to me: an invitation's
// (invited, declined, uninvited) are addressed to me too, and rooms I was
// only invited to, a thousand of them, pushed a room I was kicked from out
// of the list (an audit, both backends).
TEST_F(StoreConversationsTest, RoomsIWasOnlyInvitedToAreNeverListedAsLeft) {
  const int64_t kicked_from = NewRoom("kicked");
  ASSERT_OK(store_->Join(bob_, kicked_from));
  RoomListQuery q;
  q.changed_since = Head();
  ASSERT_OK_AND_ASSIGN(Room invited, store_->CreateRoom(alice_, "invited", RoomKind::kPrivate, std::nullopt));
  ASSERT_OK_AND_ASSIGN(Room declined, store_->CreateRoom(alice_, "declined", RoomKind::kPrivate, std::nullopt));
  ASSERT_OK_AND_ASSIGN(Room withdrawn, store_->CreateRoom(alice_, "withdrawn", RoomKind::kPrivate, std::nullopt));
  for (const Room* r : {&invited, &declined, &withdrawn}) ASSERT_OK(store_->Invite(alice_, r->id, "bob"));
  ASSERT_OK(store_->DeclineInvitation(bob_, declined.id));
  ASSERT_OK(store_->Kick(alice_, withdrawn.id, "bob"));
  ASSERT_OK(store_->Kick(alice_, kicked_from, "bob"));
  RoomListPage page;
  PageIds(bob_, q, &page);
  EXPECT_EQ(page.left, std::vector<int64_t>{kicked_from});
}

// A block changes my mention counts in rooms where nothing happened, so a
// catch-up after one lists every room of mine, with the new counts; a
// block of me by someone else changes none of mine and lists nothing.
TEST_F(StoreConversationsTest, ACatchUpAfterMyBlockOrUnblockListsEveryRoomWithItsNewCounts) {
  const int64_t a = NewRoom("a"), b = NewRoom("b");
  ASSERT_OK(store_->Join(bob_, a));
  ASSERT_OK(store_->Join(bob_, b));
  Post(alice_, a, "@bob look");
  auto mentions_in_a = [&](const RoomListPage& page) {
    for (const Room& r : page.rooms) {
      if (r.id == a) return r.unread_mentions;
    }
    ADD_FAILURE() << "room a not listed";
    return int64_t{-1};
  };
  RoomListQuery q;
  q.changed_since = Head();
  RoomListPage page;
  EXPECT_TRUE(PageIds(bob_, q, &page).empty()) << "nothing changed yet";
  ASSERT_OK(store_->Block(bob_, "alice"));
  const std::vector<int64_t> every = PageIds(bob_, RoomListQuery{});
  ASSERT_EQ(every.size(), 3u) << "general, a and b";
  EXPECT_EQ(PageIds(bob_, q, &page), every);
  EXPECT_EQ(mentions_in_a(page), 0) << "alice's mention is left out now";
  q.changed_since = Head();
  EXPECT_TRUE(PageIds(bob_, q, &page).empty()) << "only a block after the cursor";
  ASSERT_OK(store_->Unblock(bob_, "alice"));
  EXPECT_EQ(PageIds(bob_, q, &page), every);
  EXPECT_EQ(mentions_in_a(page), 1) << "counted again";
  q.changed_since = Head();
  ASSERT_OK(store_->Block(alice_, "bob"));
  EXPECT_TRUE(PageIds(bob_, q, &page).empty()) << "blocked by alice: none of bob's counts changed";
}

// "left" comes in one order on both backends, ascending room ids: the
// query had no ORDER BY, and SQLite gave the order of the member events
// where PostgreSQL sorted (found by backends_diff_test).
TEST_F(StoreConversationsTest, RoomsLeftAreListedByRoomId) {
  const int64_t a = NewRoom("a"), b = NewRoom("b"), c = NewRoom("c");
  for (int64_t room : {a, b, c}) ASSERT_OK(store_->Join(bob_, room));
  auto head = store_->Head();
  ASSERT_OK(head);
  ASSERT_OK(store_->Leave(bob_, c));
  ASSERT_OK(store_->Kick(alice_, a, "bob"));
  ASSERT_OK(store_->Join(bob_, b));  // no change: still in b
  ASSERT_OK(store_->Leave(bob_, b));
  RoomListQuery q;
  q.changed_since = *head;
  RoomListPage page;
  PageIds(bob_, q, &page);
  EXPECT_EQ(page.left, (std::vector<int64_t>{a, b, c}));
}

TEST_F(StoreConversationsTest, DirectoryShowsJoinablePublicAndQaRoomsByPrefix) {
  const int64_t pub = NewRoom("Chess");
  const int64_t qa = NewRoom("chemistry", RoomKind::kQa);
  NewRoom("chest", RoomKind::kPrivate);
  auto rooms = store_->Directory(bob_, "CHE", 50);
  ASSERT_OK(rooms);
  ASSERT_EQ(rooms->size(), 2u);
  EXPECT_EQ((*rooms)[0].id, qa) << "by name, any case: chemistry, Chess";
  EXPECT_EQ((*rooms)[1].id, pub);
  ASSERT_OK(store_->Join(bob_, pub));
  auto after = store_->Directory(bob_, "che", 50);
  ASSERT_OK(after);
  ASSERT_EQ(after->size(), 1u) << "joined rooms are not offered";
  auto none = store_->Directory(bob_, "%", 50);
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty()) << "no LIKE wildcards";
}

TEST_F(StoreConversationsTest, ADirectoryPageReadsItsRoomsNotTheSite) {
  PARLEY_SQLITE_ONLY();
  // 5,000 public rooms: a page of 50 walks rooms_name from the prefix. The
  // query before read every room and sorted them: 58,026 VM steps for the
  // page here, 233,065 for both (1,772 for the page when written).
  ASSERT_OK(Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
                 "INSERT INTO rooms(name, kind, owner_id, created_ts) SELECT printf('room %04d', i), 'public', "
                 "NULL, 0 FROM n;"));
  test::StatementTrace trace(*db_);
  auto page = store_->Directory(bob_, "ROOM 1", 50);
  ASSERT_OK(page);
  ASSERT_EQ(page->size(), 50u);
  EXPECT_EQ((*page)[0].name, "room 1000");
  EXPECT_LT(trace.steps(), 50 * 60) << trace.steps() << " VM steps";
  auto all = store_->Directory(bob_, "", 1000);
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 1000u);
  EXPECT_LT(trace.steps(), 1050 * 60) << trace.steps() << " VM steps";
}

TEST_F(StoreConversationsTest, ARoomViewOfASenderWhoNeverMarksReadReadsNoneOfTheirMessages) {
  PARLEY_SQLITE_ONLY();  // PostgreSQL: PgStorePlansTest counts the rows
  // bob sends 1,500 messages and never marks the room read: its unread
  // count walked the room from his marker, his own messages included
  // (15,677 VM steps for his view and his page of the room list, checked;
  // 659 now), until they moved it.
  ReopenWithoutQuotas();
  const int64_t room = NewRoom("bot room");
  ASSERT_OK(store_->Join(bob_, room));
  Post(alice_, room, "hello");
  for (int i = 0; i < 1500; ++i) Post(bob_, room, "tick " + std::to_string(i));
  Post(alice_, room, "bye");
  {
    // A cached statement's steps add up until a trace reports them: the
    // sends' own reads of the room are reported (and reset) here.
    test::StatementTrace sends(*db_);
    ASSERT_OK(store_->GetRoom(alice_, room).status());
    ASSERT_OK(store_->ListRoomsPage(alice_, RoomListQuery{}).status());
  }
  test::StatementTrace trace(*db_);
  ASSERT_OK_AND_ASSIGN(Room view, store_->GetRoom(bob_, room));
  EXPECT_EQ(view.unread, 1) << "the message after bob's own";
  ASSERT_OK_AND_ASSIGN(RoomListPage page, store_->ListRoomsPage(bob_, RoomListQuery{}));
  ASSERT_FALSE(page.rooms.empty());
  EXPECT_EQ(page.rooms[0].id, room);
  EXPECT_EQ(page.rooms[0].unread, 1);
  EXPECT_LT(trace.steps(), 2000) << trace.steps() << " VM steps";
}

TEST_F(StoreConversationsTest, TheWholeRoomListReadsEveryRoomInAFewStatements) {
  // 300 rooms and 20 DMs of bob's (GET /api/rooms without limit): it read
  // each room's unread counts and last message with statements of their
  // own, two a room, and each DM's other person (609 statements here on
  // SQLite without the DMs, 612 round trips on PostgreSQL); now the room
  // list's page, holding them all, the DMs' people in one (13 round trips
  // on this fresh connection, where each statement's first use prepares it;
  // 3 once they are prepared: ARoomListPageAndARoomAreThreeRoundTripsOnPostgreSQL).
  ReopenWithoutQuotas();
  int64_t r7 = 0, r200 = 0;
  for (int i = 1; i <= 300; ++i) {
    const int64_t id = NewRoom("room " + std::to_string(i));
    ASSERT_OK(store_->Join(bob_, id));
    if (i == 7) r7 = id;
    if (i == 200) r200 = id;
  }
  Post(alice_, r7, "seven");
  Post(alice_, r200, "two hundred");
  // And 20 direct conversations, each naming its other person.
  std::map<int64_t, int64_t> peer_of;  // room -> the other person's id
  for (int i = 0; i < 20; ++i) {
    User other = NewUser("peer" + std::to_string(i));
    ASSERT_OK_AND_ASSIGN(auto dm, store_->GetOrCreateDm(i % 2 ? bob_ : other, i % 2 ? other.username : "bob"));
    peer_of[dm.first.id] = other.id;
  }
  std::unique_ptr<test::StatementTrace> trace;
  if (!test::OnPostgres()) trace = std::make_unique<test::StatementTrace>(*db_);
  const uint64_t trips = test::OnPostgres() ? pg_->round_trips() : 0;
  auto all = store_->MyRooms(bob_);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 321u);  // and general
  if (trace) {
    // One index lookup a room stays (each room's newest message id, by a
    // prepared statement stepped again); every other statement runs once.
    int others = 0;
    for (const test::StatementTrace::Run& run : trace->runs()) {
      others += run.sql == "SELECT MAX(id) FROM messages WHERE room_id = ?" ? 0 : 1;
    }
    EXPECT_LE(others, 10) << trace->runs().size() << " statements";
  } else {
    EXPECT_LE(pg_->round_trips() - trips, 14u) << pg_->round_trips() - trips << " round trips";
  }
  int with_last = 0;
  for (size_t i = 0; i < all->size(); ++i) {
    const Room& r = (*all)[i];
    if (i > 0) {
      EXPECT_LT((*all)[i - 1].id, r.id) << "in id order";
    }
    EXPECT_TRUE(r.member);
    if (auto dm = peer_of.find(r.id); dm != peer_of.end()) {
      ASSERT_TRUE(r.peer.has_value()) << r.id;
      EXPECT_EQ(r.peer->id, dm->second);
    } else {
      EXPECT_FALSE(r.peer.has_value());
    }
    if (r.id == r7) {
      ASSERT_TRUE(r.last_message);
      EXPECT_EQ(r.last_message->text, "seven");
      EXPECT_EQ(r.unread, 1);
    }
    with_last += r.last_message ? 1 : 0;
  }
  EXPECT_EQ(with_last, 2);
}

// A page of the room list on PostgreSQL, once its statements are prepared
// (and a room, below):
// the page, then its last messages, DMs' people and (with changed_since)
// the rooms left together, then the messages' details with the COMMIT.
// Six round trips before (each a network round trip to a PostgreSQL on
// another host); the page's contents are the same.
TEST_F(StoreConversationsTest, ARoomListPageAndARoomAreThreeRoundTripsOnPostgreSQL) {
  if (!test::OnPostgres()) GTEST_SKIP() << "round trips are PostgreSQL's";
  ReopenWithoutQuotas();
  const int64_t talk = NewRoom("talk");
  ASSERT_OK(store_->Join(bob_, talk));
  Message hello = Post(alice_, talk, "hello @bob");
  ASSERT_OK(store_->React(alice_, hello.id, "x", true));
  ASSERT_OK_AND_ASSIGN(auto dm, store_->GetOrCreateDm(bob_, "alice"));
  Post(alice_, dm.first.id, "psst");
  for (int i = 0; i < 2; ++i) {  // the first prepares the statements
    for (const std::optional<int64_t>& since : {std::optional<int64_t>(), std::optional<int64_t>(0)}) {
      RoomListQuery q;
      q.changed_since = since;
      const uint64_t trips = pg_->round_trips();
      ASSERT_OK_AND_ASSIGN(RoomListPage page, store_->ListRoomsPage(bob_, q));
      if (i == 1) {
        EXPECT_EQ(pg_->round_trips() - trips, 3u) << (since ? "with" : "without") << " changed_since";
      }
      ASSERT_EQ(page.rooms.size(), 3u);  // the DM, talk, general
      EXPECT_EQ(page.rooms[0].id, dm.first.id);
      ASSERT_TRUE(page.rooms[0].peer);
      EXPECT_EQ(page.rooms[0].peer->id, alice_.id);
      ASSERT_TRUE(page.rooms[0].last_message);
      EXPECT_EQ(page.rooms[0].last_message->text, "psst");
      EXPECT_EQ(page.rooms[1].id, talk);
      ASSERT_TRUE(page.rooms[1].last_message);
      EXPECT_EQ(page.rooms[1].last_message->mentions, std::vector<int64_t>{bob_.id});
      EXPECT_EQ(page.rooms[1].last_message->reactions.size(), 1u);
      EXPECT_EQ(page.rooms[1].unread, 1);
    }
    // One room (GET /api/rooms/{id}, and every write that answers with its
    // room): the access check, then its unread counts, last message and
    // peer together, then the message's details. Five before (a DM's).
    const uint64_t trips = pg_->round_trips();
    ASSERT_OK_AND_ASSIGN(Room room, store_->GetRoom(bob_, dm.first.id));
    if (i == 1) {
      EXPECT_EQ(pg_->round_trips() - trips, 3u) << "a room";
    }
    ASSERT_TRUE(room.peer);
    EXPECT_EQ(room.peer->id, alice_.id);
    ASSERT_TRUE(room.last_message);
    EXPECT_EQ(room.last_message->text, "psst");
    EXPECT_EQ(room.unread, 1);
  }
}

// A quiet room's page whose messages lie among a busy room's reads the
// detail rows of its own messages, not those of the messages between. The
// 20 quiet messages here each have 30 busy ones after them, each mentioning
// bob: reading the details by ranges of ids up to 512 apart, whole, read all
// 600 mention rows for a page that has none (an audit in the forty-seventh
// session: 2 million rows for a 200-message page, 280 ms).
TEST_F(StoreConversationsTest, AQuietRoomsPageReadsItsOwnDetailRowsNotThoseOfTheMessagesBetween) {
  ReopenWithoutQuotas();
  const int64_t quiet = NewRoom("quiet");
  const int64_t busy = NewRoom("busy");
  ASSERT_OK(store_->Join(bob_, busy));
  for (int i = 0; i < 20; ++i) {
    Post(alice_, quiet, "quiet " + std::to_string(i));
    for (int j = 0; j < 30; ++j) Post(alice_, busy, "@bob busy " + std::to_string(j));
  }
  // Mention rows read by the page: PostgreSQL's counters of the table, or
  // SQLite's VM steps (a read row costs several).
  auto rows_read = [&]() -> int64_t {
    if (!test::OnPostgres()) return 0;
    EXPECT_OK(pg_->Exec("SELECT pg_stat_force_next_flush()"));
    return QueryInt("SELECT COALESCE(t.seq_tup_read, 0) + (SELECT COALESCE(SUM(i.idx_tup_read), 0) "
                    "FROM pg_stat_user_indexes i WHERE i.relid = t.relid) "
                    "FROM pg_stat_user_tables t WHERE t.relid = 'mentions'::regclass");
  };
  {
    // A cached statement's steps add up until a trace reports them: the
    // sends' share of statements the page uses too is reported here.
    std::unique_ptr<test::StatementTrace> sends;
    if (!test::OnPostgres()) sends = std::make_unique<test::StatementTrace>(*db_);
    ASSERT_OK(store_->History(alice_, quiet, std::nullopt, std::nullopt, 20).status());
  }
  // A table this small is read whole whichever way is asked (a sequential
  // scan is cheaper than an index below a few pages): the plan a large
  // table gets is forced, to count what it reads.
  if (test::OnPostgres()) {
    ASSERT_OK(pg_->Exec("SET enable_seqscan = off"));
  }
  const int64_t before = rows_read();
  std::unique_ptr<test::StatementTrace> trace;
  if (!test::OnPostgres()) trace = std::make_unique<test::StatementTrace>(*db_);
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store_->History(alice_, quiet, std::nullopt, std::nullopt, 20));
  ASSERT_EQ(page.messages.size(), 20u);
  if (test::OnPostgres()) {
    EXPECT_LE(rows_read() - before, 0) << "mention rows read for a page that has none";
    ASSERT_OK(pg_->Exec("RESET enable_seqscan"));
  } else {
    // 1,835 VM steps when written; 3,687 when a range read every row in it.
    EXPECT_LT(trace->steps(), 2500) << trace->steps() << " VM steps";
  }
}

TEST_F(StoreConversationsTest, NotificationLevelIsPerMember) {
  const int64_t room = NewRoom("quiet");
  auto set = store_->SetNotifications(alice_, room, NotifyLevel::kNone);
  ASSERT_OK(set);
  EXPECT_EQ(set->notifications, NotifyLevel::kNone);
  ASSERT_OK(store_->Join(bob_, room));
  auto bobs = store_->GetRoom(bob_, room);
  ASSERT_OK(bobs);
  EXPECT_EQ(bobs->notifications, NotifyLevel::kAll);
  EXPECT_ERROR(store_->SetNotifications(bob_, NewRoom("other"), NotifyLevel::kMentions), Code::kForbidden,
               "not_a_member");
}

TEST_F(StoreConversationsTest, MentionsResolveToMembersOtherThanTheAuthor) {
  const int64_t room = NewRoom("talk");
  ASSERT_OK(store_->Join(bob_, room));
  User carol = NewUser("Carol");  // not in the room
  Message m = Post(alice_, room, "@BOB, @alice and @carol: @bob.");
  EXPECT_EQ(m.mentions, std::vector<int64_t>{bob_.id}) << "case-insensitive, members only, not myself, once";
  auto bobs = store_->GetRoom(bob_, room);
  ASSERT_OK(bobs);
  EXPECT_EQ(bobs->unread_mentions, 1);
  ASSERT_OK(store_->Delete(alice_, m.id));
  auto after = store_->GetRoom(bob_, room);
  ASSERT_OK(after);
  EXPECT_EQ(after->unread_mentions, 0) << "a deleted message mentions nobody";
  (void)carol;
}

TEST_F(StoreConversationsTest, ReactionsAreCountedPerEmojiAndReader) {
  const int64_t room = NewRoom("fun");
  ASSERT_OK(store_->Join(bob_, room));
  Message m = Post(alice_, room, "joke");
  auto added = store_->React(bob_, m.id, "x", true);
  ASSERT_OK(added);
  EXPECT_TRUE(added->changed);
  auto again = store_->React(bob_, m.id, "x", true);
  ASSERT_OK(again);
  EXPECT_FALSE(again->changed);
  ASSERT_OK(store_->React(alice_, m.id, "x", true));
  ASSERT_OK(store_->React(alice_, m.id, "y", true));
  auto page = store_->History(alice_, room, std::nullopt, std::nullopt, 50);
  ASSERT_OK(page);
  const Message& last = page->messages.back();
  ASSERT_EQ(last.reactions.size(), 2u);
  EXPECT_EQ(last.reactions[0].emoji, "x");
  EXPECT_EQ(last.reactions[0].count, 2);
  EXPECT_TRUE(last.reactions[0].me);
  EXPECT_EQ(last.reactions[1].count, 1);
  auto removed = store_->React(bob_, m.id, "x", false);
  ASSERT_OK(removed);
  EXPECT_EQ(removed->message.reactions[0].count, 1);
  EXPECT_FALSE(removed->message.reactions[0].me);
  EXPECT_ERROR(store_->React(bob_, 999999, "x", true), Code::kNotFound, "message_not_found");
  ASSERT_OK(store_->Delete(alice_, m.id));
  auto tombstone = store_->History(alice_, room, std::nullopt, std::nullopt, 50);
  ASSERT_OK(tombstone);
  EXPECT_TRUE(tombstone->messages.back().reactions.empty()) << "a tombstone keeps no reactions";
  EXPECT_ERROR(store_->React(bob_, m.id, "x", true), Code::kConflict, "message_deleted");
}

TEST_F(StoreConversationsTest, AMessageWithThousandsOfReactionsCostsAReadItsEmojiNotItsReactions) {
  PARLEY_SQLITE_ONLY();  // PostgreSQL: PgStorePlansTest counts the rows
  // 3,000 people react to an announcement with two emoji (written straight
  // into the tables). Each read of the message grouped all 6,000 rows, and
  // each reaction added counted them for the bounds (270,722 VM steps for
  // the history page and one reaction, checked; 717 now).
  const int64_t room = NewRoom("announcements");
  ASSERT_OK(store_->Join(bob_, room));
  Message m = Post(alice_, room, "we ship today");
  ASSERT_OK(Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
                 "INSERT INTO users(username, pw_hash, created_ts) SELECT 'fan' || i, 'x', 0 FROM n; "
                 "INSERT INTO reactions(message_id, emoji, user_id, room_id, ts) SELECT " + std::to_string(m.id) +
                 ", e, id, " + std::to_string(room) + ", id FROM users, (SELECT 'up' AS e UNION ALL SELECT 'party') "
                 "WHERE username LIKE 'fan%';"));
  ASSERT_OK(store_->React(alice_, m.id, "party", true).status());
  {
    test::StatementTrace warm(*db_);  // reports (and resets) the cached statements' steps so far
    ASSERT_OK(store_->History(bob_, room, std::nullopt, std::nullopt, 50).status());
    ASSERT_OK(store_->React(bob_, m.id, "tada", true).status());
    ASSERT_OK(store_->React(bob_, m.id, "tada", false).status());
  }
  test::StatementTrace trace(*db_);
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store_->History(alice_, room, std::nullopt, std::nullopt, 50));
  ASSERT_OK_AND_ASSIGN(ReactionResult added, store_->React(bob_, m.id, "up", true));
  ASSERT_FALSE(page.messages.empty());
  const Message& read = page.messages.back();
  ASSERT_EQ(read.id, m.id);
  ASSERT_EQ(read.reactions.size(), 2u);
  EXPECT_EQ(read.reactions[0].count + read.reactions[1].count, 6001);
  EXPECT_EQ(added.message.reactions.size(), 2u);
  for (const Reaction& r : added.message.reactions) {
    EXPECT_EQ(r.count, 3001) << r.emoji;
    EXPECT_EQ(r.me, r.emoji == "up") << r.emoji;
  }
  EXPECT_LT(trace.steps(), 3000) << trace.steps() << " VM steps";
}

TEST_F(StoreConversationsTest, Migration015CountsTheReactionsMadeBeforeIt) {
  PARLEY_SQLITE_ONLY();  // SQLite's migration 015 (PostgreSQL's 010 is the same statement)
  const int64_t room = NewRoom("fun");
  ASSERT_OK(store_->Join(bob_, room));
  Message m = Post(alice_, room, "joke");
  ASSERT_OK(store_->React(bob_, m.id, "x", true).status());
  ASSERT_OK(store_->React(alice_, m.id, "x", true).status());
  ASSERT_OK(store_->React(alice_, m.id, "y", true).status());
  // As a database before 015 was: reactions and no counts (nor 016's seq).
  ASSERT_OK(Exec(test::kUndoSince020 +
                 "DROP INDEX messages_deleted; ALTER TABLE messages DROP COLUMN seq; DROP TABLE reaction_counts; "
                 "PRAGMA user_version = 14;"));
  ASSERT_OK(Migrate(*db_));
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store_->History(bob_, room, std::nullopt, std::nullopt, 50));
  const Message& read = page.messages.back();
  ASSERT_EQ(read.reactions.size(), 2u);
  EXPECT_EQ(read.reactions[0].emoji, "x");
  EXPECT_EQ(read.reactions[0].count, 2);
  EXPECT_TRUE(read.reactions[0].me);
  EXPECT_EQ(read.reactions[1].count, 1);
  EXPECT_FALSE(read.reactions[1].me);
  // And they follow what comes after.
  ASSERT_OK_AND_ASSIGN(ReactionResult removed, store_->React(alice_, m.id, "y", false));
  ASSERT_EQ(removed.message.reactions.size(), 1u);
  EXPECT_EQ(removed.message.reactions[0].count, 2);
}

TEST_F(StoreConversationsTest, AMessagesReactionsAreBoundedPerPersonAndInEmoji) {
  static_assert(kEmojiPerMessage == 50 && kReactionsPerPerson == 20, "the counts below");
  const int64_t room = NewRoom("fun");
  User carol = NewUser("carol"), dave = NewUser("dave");
  for (User* u : {&bob_, &carol, &dave}) ASSERT_OK(store_->Join(*u, room));
  Message m = Post(alice_, room, "joke");
  auto emoji = [](int i) { return "e" + std::to_string(i); };
  auto refused = [&](const User& u, const std::string& e, const std::string& why) {
    auto r = store_->React(u, m.id, e, true);
    ASSERT_FALSE(r.ok()) << e;
    EXPECT_EQ(r.status().reason(), "reaction_limit_reached");
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  };
  for (int i = 0; i < 20; ++i) ASSERT_OK(store_->React(alice_, m.id, emoji(i), true));
  refused(alice_, "one more", "you have 20 reactions");
  // Adding to an emoji the message carries counts for the person only.
  for (int i = 0; i < 10; ++i) ASSERT_OK(store_->React(bob_, m.id, emoji(i), true));
  for (int i = 20; i < 30; ++i) ASSERT_OK(store_->React(bob_, m.id, emoji(i), true));
  for (int i = 30; i < 50; ++i) ASSERT_OK(store_->React(carol, m.id, emoji(i), true));
  const int64_t full = Head();
  refused(dave, "new", "carries 50 different reactions");
  EXPECT_EQ(Head(), full) << "a refused reaction appends no event";
  ASSERT_OK(store_->React(dave, m.id, emoji(3), true));
  // Removing alice's last e19 makes room for one more emoji.
  ASSERT_OK(store_->React(alice_, m.id, emoji(19), false));
  ASSERT_OK(store_->React(dave, m.id, "new", true));
  auto page = store_->History(dave, room, std::nullopt, std::nullopt, 50);
  ASSERT_OK(page);
  EXPECT_EQ(page->messages.back().reactions.size(), 50u);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM reactions WHERE emoji = 'one more'"), 0);
}

TEST_F(StoreConversationsTest, SearchFollowsEditsDeletesAndMembership) {
  const int64_t room = NewRoom("notes");
  const int64_t hidden = NewRoom("hidden", RoomKind::kPrivate);
  ASSERT_OK(store_->Join(bob_, room));
  Message edited = Post(alice_, room, "apples and pears");
  Message deleted = Post(alice_, room, "apples gone");
  Post(alice_, hidden, "apples hidden");
  ASSERT_OK(store_->Edit(alice_, edited.id, "plums and pears"));
  ASSERT_OK(store_->Delete(alice_, deleted.id));
  EXPECT_TRUE(Found(bob_, "\"apples\"").empty());
  EXPECT_EQ(Found(bob_, "\"plums\""), std::vector<std::string>{"plums and pears"});
  EXPECT_EQ(Found(alice_, "\"apples\""), std::vector<std::string>{"apples hidden"});
  EXPECT_ERROR(store_->Search(bob_, SearchQuery{"\"apples\"", hidden, {}, {}, 20}), Code::kNotFound,
               "room_not_found");
  // A MATCH expression FTS5 cannot parse is the user's error, not ours.
  EXPECT_ERROR(store_->Search(bob_, SearchQuery{"\"unterminated", {}, {}, {}, 20}), Code::kInvalid,
               "invalid_query");
  ASSERT_OK(store_->Leave(bob_, room));
  EXPECT_TRUE(Found(bob_, "\"plums\"").empty()) << "only rooms I am a member of now";
}

TEST_F(StoreConversationsTest, SearchTermsAllMatchPrefixesFoldCaseAndSnippetsMarkTheMatch) {
  const int64_t room = NewRoom("library");
  Post(alice_, room, "The Quick brown fox");
  Post(alice_, room, "a quick reply");
  Post(alice_, room, "quickly \"quoted\" words");
  // Every term must occur; case is folded; "qu"* is a prefix of three words.
  EXPECT_EQ(Found(alice_, "\"quick\" \"FOX\""), std::vector<std::string>{"The Quick brown fox"});
  EXPECT_EQ(Found(alice_, "\"qu\"*").size(), 3u);
  EXPECT_EQ(Found(alice_, "\"quick\"").size(), 2u) << "a word, not a prefix";
  // A quoted term is its words in a row, inner quotes doubled by the caller.
  EXPECT_EQ(Found(alice_, "\"brown fox\""), std::vector<std::string>{"The Quick brown fox"});
  EXPECT_TRUE(Found(alice_, "\"fox brown\"").empty());
  EXPECT_EQ(Found(alice_, "\"\"\"quoted\"\"\"").size(), 1u);
  SearchQuery q;
  q.match = "\"fox\"";
  ASSERT_OK_AND_ASSIGN(SearchPage page, store_->Search(alice_, q));
  ASSERT_EQ(page.results.size(), 1u);
  EXPECT_NE(page.results[0].snippet.find("\x02" "fox" "\x03"), std::string::npos) << page.results[0].snippet;
  EXPECT_NE(page.results[0].snippet.find("Quick"), std::string::npos) << page.results[0].snippet;
}

TEST_F(StoreConversationsTest, LatestPagesComeWithTheirRoomsInOneRead) {
  const int64_t a = NewRoom("a"), b = NewRoom("b"), quiet = NewRoom("quiet");
  for (const int64_t room : {a, b, quiet}) ASSERT_OK(store_->Join(bob_, room));
  auto head = store_->Head();
  ASSERT_OK(head);
  for (int i = 0; i < 3; ++i) Post(alice_, a, "a" + std::to_string(i));
  Post(alice_, b, "b0");
  RoomListQuery q;
  q.changed_since = *head;
  q.latest = 2;
  RoomListPage page;
  ASSERT_EQ(PageIds(bob_, q, &page), (std::vector<int64_t>{b, a}));
  ASSERT_EQ(page.latest.size(), 2u);
  // b: the join events are not messages; its one message, nothing more.
  ASSERT_EQ(page.latest[0].messages.size(), 1u);
  EXPECT_EQ(page.latest[0].messages[0].text, "b0");
  EXPECT_FALSE(page.latest[0].has_more);
  // a: the newest two, oldest first as in history, and more before them.
  ASSERT_EQ(page.latest[1].messages.size(), 2u);
  EXPECT_EQ(page.latest[1].messages[0].text, "a1");
  EXPECT_EQ(page.latest[1].messages[1].text, "a2");
  EXPECT_TRUE(page.latest[1].has_more);
  EXPECT_EQ(page.rooms[1].unread, 3);
  ASSERT_TRUE(page.rooms[1].last_message);
  EXPECT_EQ(page.rooms[1].last_message->id, page.latest[1].messages[1].id);
  // Without latest, no pages.
  q.latest = 0;
  PageIds(bob_, q, &page);
  EXPECT_TRUE(page.latest.empty());
}

TEST_F(StoreConversationsTest, PrefixSearchOfEveryLengthFollowsEdits) {
  // Prefixes of 2 to 4 characters come from the prefix index (migration
  // 008), longer ones from the terms; both must find the same messages.
  const int64_t room = NewRoom("words");
  Post(alice_, room, "deployment tonight");
  Message edited = Post(alice_, room, "deploy nothing");
  Post(alice_, room, "depth");
  EXPECT_EQ(Found(alice_, "\"de\"*").size(), 3u);
  EXPECT_EQ(Found(alice_, "\"dep\"*").size(), 3u);
  EXPECT_EQ(Found(alice_, "\"depl\"*"), (std::vector<std::string>{"deploy nothing", "deployment tonight"}));
  EXPECT_EQ(Found(alice_, "\"deploym\"*"), std::vector<std::string>{"deployment tonight"});
  ASSERT_OK(store_->Edit(alice_, edited.id, "nothing left"));
  EXPECT_EQ(Found(alice_, "\"depl\"*"), std::vector<std::string>{"deployment tonight"});
  EXPECT_EQ(Found(alice_, "\"le\"*"), std::vector<std::string>{"nothing left"});
}

TEST_F(StoreConversationsTest, EachRoomOfAPageHasItsOwnLastMessageWithItsDetails) {
  // The page's last messages are loaded together (Store::LastMessages):
  // each must land on its own room, a room without messages gets none, and
  // reactions are the reader's view.
  const int64_t a = NewRoom("a"), empty = NewRoom("empty"), b = NewRoom("b");
  for (const int64_t room : {a, empty, b}) ASSERT_OK(store_->Join(bob_, room));
  Post(alice_, a, "a first");
  Message last_a = Post(alice_, a, "a last @bob");
  Message last_b = Post(alice_, b, "b only");
  ASSERT_OK(store_->React(bob_, last_a.id, "👍", true));
  RoomListPage page;
  RoomListQuery q;
  PageIds(bob_, q, &page);
  int checked = 0;
  for (const Room& r : page.rooms) {
    if (r.id == empty) {
      EXPECT_FALSE(r.last_message);
      ++checked;
    } else if (r.id == a || r.id == b) {
      ASSERT_TRUE(r.last_message) << r.name;
      EXPECT_EQ(r.last_message->id, r.id == a ? last_a.id : last_b.id);
      EXPECT_EQ(r.last_message->room_id, r.id);
      ++checked;
    }
    if (r.id == a) {
      EXPECT_EQ(r.last_message->mentions, std::vector<int64_t>{bob_.id});
      ASSERT_EQ(r.last_message->reactions.size(), 1u);
      EXPECT_TRUE(r.last_message->reactions[0].me);
    }
  }
  EXPECT_EQ(checked, 3);
}

}  // namespace
}  // namespace parley
