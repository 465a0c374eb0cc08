// Unread counts (schema/store_rooms.cc, migrations 016 and 020): counted
// from each message's place in its room and among its author's, checked
// against the messages themselves, on both backends; both unread and
// unread_mentions leave out the messages of someone the reader blocks, in
// every read that returns them.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "schema/migrate.h"
#include "schema/store.h"
#include "tests/unit/schema/statement_trace.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

constexpr int kUnreadCap = 1000;  // store_rooms.cc

class StoreUnreadTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    Limits unlimited;  // these tests write more than a user's quotas allow
    unlimited.WritesOff();
    ASSERT_NO_FATAL_FAILURE(OpenStore(unlimited));
    alice_ = NewUser("alice");
    bob_ = NewUser("bob");
    carol_ = NewUser("carol");
  }
  int64_t SharedRoom(const std::string& name) {
    const int64_t id = NewRoom(alice_, name, RoomKind::kPublic).id;
    JoinOk(bob_, id);
    JoinOk(carol_, id);
    return id;
  }
  Message Post(const User& u, int64_t room, const std::string& text) {
    auto r = store_->Send(u, room, text, std::nullopt);
    EXPECT_OK(r) << text;
    return r.ok() ? r->message : Message{};
  }
  // What the count means, from the messages themselves: the live messages
  // after u's marker of others whom u does not block, up to the cap.
  int64_t Expected(const User& u, int64_t room) {
    const std::string me = std::to_string(u.id);
    const std::string marker = "COALESCE((SELECT event_id FROM read_markers WHERE user_id = " + me +
                               " AND room_id = " + std::to_string(room) + "), 0)";
    return QueryInt("SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE room_id = " + std::to_string(room) +
                    " AND id > " + marker + " AND user_id <> " + me +
                    " AND user_id NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = " + me +
                    ") AND deleted = 0 LIMIT " + std::to_string(kUnreadCap) + ") c");
  }
  // u's room as each read that returns its counts gives it: the room's
  // view, and the room list in every form (plain, a page at a time,
  // changed_since, with=latest). Each must count alike.
  std::vector<std::pair<std::string, Room>> EveryView(const User& u, int64_t room) {
    std::vector<std::pair<std::string, Room>> views;
    auto view = store_->GetRoom(u, room);
    EXPECT_OK(view);
    if (view.ok()) views.emplace_back("the room's view", *view);
    RoomListQuery changed, latest, one;
    changed.changed_since = 0;
    latest.latest = 1;
    one.limit = 1;
    for (auto [form, q] : {std::pair{"the room list", RoomListQuery{}}, std::pair{"changed_since", changed},
                           std::pair{"with=latest", latest}, std::pair{"pages of one room", one}}) {
      for (bool more = true; more;) {
        auto page = store_->ListRoomsPage(u, q);
        EXPECT_OK(page) << form;
        if (!page.ok()) break;
        for (const Room& r : page->rooms) {
          if (r.id == room) views.emplace_back(form, r);
        }
        more = page->next.has_value();
        q.before = page->next;
      }
    }
    EXPECT_EQ(views.size(), 5u) << u.username << ": room " << room << " missing from a form";
    return views;
  }
  // The unread count in every view of the room.
  void ExpectUnread(const User& u, int64_t room, int64_t want, const std::string& when) {
    for (const auto& [form, r] : EveryView(u, room)) {
      EXPECT_EQ(r.unread, want) << u.username << " in room " << room << ", " << form << ", " << when;
    }
  }

  // u's read marker in the room as stored (-1: none).
  int64_t Marker(const User& u, int64_t room) {
    return QueryInt("SELECT event_id FROM read_markers WHERE user_id = " + std::to_string(u.id) +
                    " AND room_id = " + std::to_string(room));
  }
  // u's read_event_id in the room's member list, as the others see it.
  void ExpectMember(const User& u, int64_t room, int64_t read_event_id) {
    ASSERT_OK_AND_ASSIGN(MemberPage page, store_->Members(alice_, room, UserPageQuery{}));
    bool listed = false;
    for (const Member& m : page.members) {
      if (m.user.id != u.id) continue;
      listed = true;
      EXPECT_EQ(m.read_event_id, read_event_id) << u.username;
    }
    EXPECT_TRUE(listed) << u.username;
  }
  void ExpectMentions(const User& u, int64_t room, int64_t want, const std::string& when = "") {
    for (const auto& [form, r] : EveryView(u, room)) {
      EXPECT_EQ(r.unread_mentions, want) << u.username << " in room " << room << ", " << form << ", " << when;
    }
  }
  void BlockOk(const User& u, const User& who) { ASSERT_OK(store_->Block(u, who.username)); }
  void UnblockOk(const User& u, const User& who) { ASSERT_OK(store_->Unblock(u, who.username)); }

  User alice_, bob_, carol_;
};

// 2^53: the largest event id the API takes (fcgi/input.h's kMaxId).
constexpr int64_t kBeyondEveryId = int64_t{1} << 53;

TEST_F(StoreUnreadTest, CountsMatchTheMessagesAfterEachMarkerThroughSendsDeletesReadsAndBlocks) {
  // Three people in two rooms, 600 steps drawn from a fixed seed: sends
  // (one in two mentions someone), deletes (one's own, and the owner's of
  // others'), read markers moved to any message (forward only: a marker
  // never goes back), blocks and unblocks. Every 25 steps each person's
  // counts in each room are checked: unread against the rows (less those
  // of the people they block, whenever the block came), mentions
  // against the messages sent (a mention of me counts unless I block its
  // author, whenever the block came).
  const std::vector<int64_t> rooms{SharedRoom("one"), SharedRoom("two")};
  const std::vector<const User*> people{&alice_, &bob_, &carol_};
  std::vector<Message> sent;
  std::set<std::pair<int64_t, int64_t>> blocks;  // (blocker, blocked)
  std::mt19937 rng(16);
  auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  auto mentions = [&](const User& u, int64_t room) {
    const int64_t marker = std::max<int64_t>(0, Marker(u, room));
    int64_t n = 0;
    for (const Message& m : sent) {
      n += m.room_id == room && m.id > marker && !m.deleted && !blocks.contains({u.id, m.user.id}) &&
           std::find(m.mentions.begin(), m.mentions.end(), u.id) != m.mentions.end();
    }
    return std::min<int64_t>(n, kUnreadCap);
  };
  for (int step = 1; step <= 600; ++step) {
    const User& u = *people[pick(people.size())];
    const User& other = *people[pick(people.size())];
    const int64_t room = rooms[pick(rooms.size())];
    const size_t what = pick(12);
    if (what < 6 || sent.empty()) {
      sent.push_back(Post(u, room, "m" + std::to_string(step) + (what % 2 ? " @" + other.username : "")));
    } else if (what < 8) {
      Message& m = sent[pick(sent.size())];
      ASSERT_OK(store_->Delete(what == 6 ? m.user : alice_, m.id)) << "step " << step;
      m.deleted = true;
    } else if (what < 10) {
      const Message& m = sent[pick(sent.size())];
      ASSERT_OK(store_->MarkRead(u, m.room_id, m.id)) << "step " << step;
    } else if (u.id != other.id && what == 10) {
      ASSERT_NO_FATAL_FAILURE(BlockOk(u, other));
      blocks.insert({u.id, other.id});
    } else if (u.id != other.id) {
      ASSERT_NO_FATAL_FAILURE(UnblockOk(u, other));
      blocks.erase({u.id, other.id});
    }
    if (step % 25 != 0) continue;
    for (const User* p : people) {
      for (int64_t r : rooms) {
        const int64_t unread = Expected(*p, r), mentioned = mentions(*p, r);
        for (const auto& [form, view] : EveryView(*p, r)) {
          EXPECT_EQ(view.unread, unread) << p->username << " in room " << r << ", " << form << ", step " << step;
          EXPECT_EQ(view.unread_mentions, mentioned) << p->username << " in room " << r << ", " << form << ", step "
                                                     << step;
        }
      }
    }
  }
}

TEST_F(StoreUnreadTest, CountsStopAtTheCapAndManyTombstonesAreWalkedPast) {
  const int64_t room = SharedRoom("busy");
  std::vector<Message> sent;
  for (int i = 0; i < 1100; ++i) sent.push_back(Post(alice_, room, "m" + std::to_string(i)));
  Post(bob_, room, "mine");  // moves bob's marker past everything above
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(bob_, room, 0, "after his own message"));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, kUnreadCap, "1,100 unread, capped"));
  // 1,050 tombstones after carol's marker: more than the count of them
  // looks at, so the live messages are counted by walking them.
  for (int i = 0; i < 1050; ++i) ASSERT_OK(store_->Delete(alice_, sent[i].id));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 51, "50 of alice's and bob's live"));
  ASSERT_EQ(Expected(carol_, room), 51);
  // Read up to the last tombstone, then ten more.
  ASSERT_OK(store_->MarkRead(carol_, room, sent[1049].id));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 51, "read to the last tombstone"));
  ASSERT_OK(store_->MarkRead(carol_, room, sent[1059].id));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 41, "read ten more"));
  // A room with no message after the marker, and one with no message.
  ASSERT_OK(store_->MarkRead(carol_, room, Head()));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 0, "read to the end"));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, SharedRoom("quiet"), 0, "an empty room"));
}

// Someone I block cannot ping me: their mentions of me are left out of
// unread_mentions in every view, whether the block came before or after
// them, and count again once I unblock.
TEST_F(StoreUnreadTest, MentionsBySomeoneIBlockAreNotCountedWhenEverIBlocked) {
  const int64_t room = SharedRoom("pings");
  Post(alice_, room, "@carol hello");
  Post(bob_, room, "@carol before the block");
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, 2, "before the block"));
  ASSERT_NO_FATAL_FAILURE(BlockOk(carol_, bob_));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, 1, "bob's mention came before the block"));
  Post(bob_, room, "@carol after the block");
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, 1, "and after it"));
  Post(alice_, room, "@carol and @bob again");
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, 2, "alice's still count"));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(bob_, room, 1, "carol's block is hers: bob's count is his"));
  ASSERT_NO_FATAL_FAILURE(BlockOk(alice_, bob_));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, 2, "alice's block is hers too"));
  ASSERT_NO_FATAL_FAILURE(UnblockOk(carol_, bob_));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, 4, "unblocked: bob's two count again"));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 4, "and the messages"));
}

// The cap counts the mentions that count: a blocked person's are left out
// before it, not after.
TEST_F(StoreUnreadTest, MentionsStopAtTheCapAfterABlockedPersonsAreLeftOut) {
  const int64_t room = SharedRoom("crowded");
  for (int i = 0; i < 10; ++i) Post(bob_, room, "@carol " + std::to_string(i));
  for (int i = 0; i < kUnreadCap - 5; ++i) Post(alice_, room, "@carol " + std::to_string(i));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, kUnreadCap, "1,005 mentions, capped"));
  ASSERT_NO_FATAL_FAILURE(BlockOk(carol_, bob_));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, kUnreadCap - 5, "bob's 10 left out"));
  for (int i = 0; i < 10; ++i) Post(alice_, room, "@carol more " + std::to_string(i));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, kUnreadCap, "alice's 1,005: capped"));
}

// The mention count reads the newest 2,000 mentions after the marker at
// most, whoever wrote them: a blocked spammer's thousands are not walked
// past to the end. Newer mentions count; older ones than those 2,000 are
// not reached (the cost of the bound).
TEST_F(StoreUnreadTest, AMentionCountReadsTheNewest2000MentionsAfterTheMarkerAtMost) {
  const int64_t room = SharedRoom("pinged");
  Post(alice_, room, "@carol an old one");
  ASSERT_NO_FATAL_FAILURE(BlockOk(carol_, bob_));
  for (int i = 0; i < 2005; ++i) Post(bob_, room, "@carol spam " + std::to_string(i));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, 0, "alice's is older than the newest 2,000"));
  for (int i = 0; i < 3; ++i) Post(alice_, room, "@carol new " + std::to_string(i));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, 3, "the newest 2,000 hold alice's three"));
  ASSERT_NO_FATAL_FAILURE(UnblockOk(carol_, bob_));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(carol_, room, kUnreadCap, "unblocked: capped"));
}

// Nor their messages: the client hides them, so a room where only someone
// I block spoke has nothing unread for me. Whenever the block came; their
// tombstones after my marker are taken off once, not twice; an unblock
// counts their live messages again; a block is the blocker's alone.
TEST_F(StoreUnreadTest, TheMessagesOfSomeoneIBlockAreNotUnreadWhenEverIBlocked) {
  const int64_t room = SharedRoom("quiet for me");
  Post(alice_, room, "a1");
  const Message b1 = Post(bob_, room, "b1");
  Post(bob_, room, "b2");
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 3, "before the block"));
  ASSERT_NO_FATAL_FAILURE(BlockOk(carol_, bob_));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 1, "bob's came before the block"));
  const Message b3 = Post(bob_, room, "b3");
  Post(bob_, room, "b4");
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 1, "and after it"));
  ASSERT_OK(store_->Delete(bob_, b3.id));
  ASSERT_OK(store_->Delete(alice_, b1.id));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 1, "two of bob's deleted"));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(alice_, room, 2, "carol's block is hers: alice sees bob's two live"));
  const Message a2 = Post(alice_, room, "a2");
  ASSERT_OK(store_->MarkRead(carol_, room, b1.id));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 1, "read past a1 and b1: a2 left"));
  ASSERT_NO_FATAL_FAILURE(UnblockOk(carol_, bob_));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 3, "unblocked: b2, b4 and a2"));
  ASSERT_NO_FATAL_FAILURE(BlockOk(bob_, carol_));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 3, "bob's block of carol changes nothing of hers"));
  ASSERT_OK(store_->MarkRead(carol_, room, a2.id));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 0, "all read"));
  EXPECT_EQ(Expected(carol_, room), 0);
}

// A blocked spammer's thousands leave the count exact, not "999+": each
// person blocked is taken off by their places, not by a capped walk. With
// 1,000 tombstones after the marker (the walk of the live messages), the
// blocked person's are taken off the walk's.
TEST_F(StoreUnreadTest, ABlockedSpammersThousandsLeaveTheCountExact) {
  const int64_t room = SharedRoom("spam");
  for (int i = 0; i < 1200; ++i) Post(bob_, room, "spam " + std::to_string(i));
  Post(alice_, room, "a real one");
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, kUnreadCap, "1,201 unread, capped"));
  ASSERT_NO_FATAL_FAILURE(BlockOk(carol_, bob_));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 1, "alice's alone"));
  EXPECT_EQ(Expected(carol_, room), 1);

  const int64_t deleted = SharedRoom("deleted");
  std::vector<Message> gone;
  for (int i = 0; i < 1050; ++i) gone.push_back(Post(alice_, deleted, "gone " + std::to_string(i)));
  for (const Message& m : gone) ASSERT_OK(store_->Delete(alice_, m.id));
  for (int i = 0; i < 10; ++i) Post(bob_, deleted, "spam " + std::to_string(i));
  for (int i = 0; i < 5; ++i) Post(alice_, deleted, "real " + std::to_string(i));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, deleted, 5, "1,050 tombstones, then bob's 10 and alice's 5"));
  ASSERT_NO_FATAL_FAILURE(UnblockOk(carol_, bob_));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, deleted, 15, "unblocked: bob's 10 too"));
}

// The lookups per person blocked are made only in a room with something
// unread: a read room costs what it cost before, however many I block.
TEST_F(StoreUnreadTest, ReadRoomsCostNoLookupPerPersonBlocked) {
  PARLEY_SQLITE_ONLY();  // VM steps
  std::vector<int64_t> rooms;
  for (int r = 0; r < 4; ++r) {
    rooms.push_back(SharedRoom("room " + std::to_string(r)));
    for (int i = 0; i < 20; ++i) Post(alice_, rooms.back(), "m" + std::to_string(i));
    ASSERT_OK(store_->MarkRead(carol_, rooms.back(), Head()));
  }
  auto steps = [this] {
    { test::StatementTrace warm(*db_); EXPECT_OK(store_->ListRoomsPage(carol_, RoomListQuery{}).status()); }
    test::StatementTrace trace(*db_);
    auto page = store_->ListRoomsPage(carol_, RoomListQuery{});
    EXPECT_OK(page);
    return trace.steps();
  };
  const int before = steps();
  for (int i = 0; i < 100; ++i) ASSERT_NO_FATAL_FAILURE(BlockOk(carol_, NewUser("blocked" + std::to_string(i))));
  const int after = steps();
  EXPECT_LT(after, before + 50) << before << " VM steps before 100 blocks, " << after << " after";
  // One unread room: its count looks each of the 100 up.
  Post(alice_, rooms[0], "new");
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, rooms[0], 1, "one new"));
  const int unread = steps();
  EXPECT_GT(unread, after + 100) << after << " VM steps read, " << unread << " with one room unread";
}

// Migration 020 (PostgreSQL's 016) numbers the messages written before it
// by author in each room, tombstones included, and sends go on from there.
TEST_F(StoreUnreadTest, TheMigrationNumbersEachAuthorsMessagesInEachRoom) {
  const int64_t one = SharedRoom("one"), two = SharedRoom("two");
  const std::vector<Message> sent = {Post(alice_, one, "a1"), Post(bob_, one, "b1"), Post(alice_, one, "a2"),
                                     Post(alice_, two, "a1 in two"), Post(bob_, one, "b2")};
  ASSERT_OK(store_->Delete(bob_, sent[1].id));
  // As a database before it was: no places by author (SQLite's are dropped
  // by RemigrateFrom).
  if (test::OnPostgres()) {
    ASSERT_OK(Exec(test::kUndoSince020));
  }
  ASSERT_OK(RemigrateFrom(19, 15));
  auto place = [this](const Message& m) {
    return QueryInt("SELECT author_seq FROM messages WHERE id = " + std::to_string(m.id));
  };
  EXPECT_EQ(place(sent[0]), 1);
  EXPECT_EQ(place(sent[1]), 1) << "a tombstone keeps its place";
  EXPECT_EQ(place(sent[2]), 2);
  EXPECT_EQ(place(sent[3]), 1) << "each room counts apart";
  EXPECT_EQ(place(sent[4]), 2);
  EXPECT_EQ(place(Post(bob_, one, "b3")), 3) << "a send after it";
  ASSERT_NO_FATAL_FAILURE(BlockOk(carol_, bob_));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, one, 2, "alice's two"));
  if (test::OnPostgres()) {
    // Run over itself, PostgreSQL's 016 writes no row again: no row's xmin
    // (the transaction that wrote its version; a test cluster is young, so
    // its ids and txid_current()'s agree) is newer than the run.
    const int64_t before = QueryInt("SELECT txid_current()");
    ASSERT_OK(RemigrateFrom(19, 15));
    EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages WHERE xmin::text::bigint > " + std::to_string(before)), 0);
  }
}

TEST_F(StoreUnreadTest, AWholeRoomListAtTheCapCostsLookupsNotWalks) {
  PARLEY_SQLITE_ONLY();  // PostgreSQL: PgStorePlansTest counts the rows
  // bob in four rooms of 1,200 messages each, never read: each count
  // walked 1,000 index entries (45,060 VM steps for his whole room list,
  // checked); now two lookups and an empty walk of the tombstones (1,328,
  // with the last messages and the rest of the list).
  std::vector<int64_t> rooms;
  for (int r = 0; r < 4; ++r) {
    rooms.push_back(SharedRoom("room " + std::to_string(r)));
    for (int i = 0; i < 1200; ++i) Post(alice_, rooms.back(), "m" + std::to_string(i));
  }
  {
    test::StatementTrace warm(*db_);  // see StoreConversationsTest: cached statements' steps add up
    ASSERT_OK(store_->ListRoomsPage(carol_, RoomListQuery{}).status());
  }
  test::StatementTrace trace(*db_);
  ASSERT_OK_AND_ASSIGN(RoomListPage page, store_->ListRoomsPage(bob_, RoomListQuery{}));
  int capped = 0;
  for (const Room& r : page.rooms) capped += r.unread == kUnreadCap;
  EXPECT_EQ(capped, 4);
  EXPECT_LT(trace.steps(), 2000) << trace.steps() << " VM steps";
}

TEST_F(StoreUnreadTest, Migration016NumbersEveryRoomsMessagesAndMovesEachSendersMarker) {
  PARLEY_SQLITE_ONLY();  // PostgreSQL's 011: PgMigrateTest
  const int64_t one = SharedRoom("one"), two = SharedRoom("two");
  Post(alice_, one, "a1");
  Post(bob_, two, "b1");
  const Message a2 = Post(alice_, one, "a2");
  Post(bob_, one, "b2");
  const Message b3 = Post(bob_, two, "b3");
  Post(carol_, one, "c1");
  // As a database before 016 was (and before a send moved its sender's
  // marker): no places, and no markers.
  ASSERT_OK(Exec(test::kUndoSince020 +
                 "DROP INDEX messages_deleted; ALTER TABLE messages DROP COLUMN seq; DELETE FROM read_markers; "
                 "PRAGMA user_version = 15;"));
  ASSERT_OK(Migrate(*db_));
  auto seqs = [this](int64_t room) {
    std::string out;
    auto s = db_->Prepare("SELECT seq FROM messages WHERE room_id = ?1 ORDER BY id");
    EXPECT_OK(s);
    if (!s.ok()) return out;
    s->Bind(1, room);
    for (;;) {
      auto row = s->Step();
      if (!row.ok() || !*row) break;
      out += std::to_string(s->Int(0)) + " ";
    }
    return out;
  };
  EXPECT_EQ(seqs(one), "1 2 3 4 ");
  EXPECT_EQ(seqs(two), "1 2 ");
  EXPECT_EQ(QueryInt("SELECT event_id FROM read_markers WHERE user_id = " + std::to_string(alice_.id) +
                     " AND room_id = " + std::to_string(one)), a2.id);
  EXPECT_EQ(QueryInt("SELECT event_id FROM read_markers WHERE user_id = " + std::to_string(bob_.id) +
                     " AND room_id = " + std::to_string(two)), b3.id);
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(alice_, one, 2, "after the migration"));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(bob_, one, 1, "after the migration"));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, two, 2, "after the migration"));
  // And a send after it takes the next place.
  Post(alice_, two, "a3");
  EXPECT_EQ(seqs(two), "1 2 3 ");
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, two, 3, "after a send"));
}

// A read marker never goes beyond the log's head: one at 2^53 (the API's
// largest id) stayed there, since a marker only moves forward, and counted
// nothing unread for ever while the member list said everything was read.
TEST_F(StoreUnreadTest, AMarkerAskedBeyondTheHeadStopsAtItAndCountsGoOn) {
  const int64_t room = SharedRoom("ahead");
  Post(alice_, room, "one");
  std::optional<int64_t> moved_to;
  ASSERT_OK(store_->MarkRead(bob_, room, kBeyondEveryId, &moved_to));
  const int64_t head = Head();
  EXPECT_EQ(moved_to, head) << "where it moved: the receipt's id";
  EXPECT_EQ(Marker(bob_, room), head);
  ASSERT_NO_FATAL_FAILURE(ExpectMember(bob_, room, head));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(bob_, room, 0, "read to the head"));
  Post(alice_, room, "two for @bob");
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(bob_, room, 1, "a message after the marker"));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(bob_, room, 1));
  // Beyond it again: to the new head, once; then it does not move.
  ASSERT_OK(store_->MarkRead(bob_, room, kBeyondEveryId, &moved_to));
  EXPECT_EQ(moved_to, Head());
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(bob_, room, 0, "read to the new head"));
  ASSERT_NO_FATAL_FAILURE(ExpectMentions(bob_, room, 0));
  ASSERT_OK(store_->MarkRead(bob_, room, kBeyondEveryId, &moved_to));
  EXPECT_EQ(moved_to, std::nullopt) << "already at the head";
}

// A write that answers with its room, later in a batch than sends to that
// room, counts them. PostgreSQL moves a room's head row once a batch
// (migration 018), so a count from the head row's message_seq missed the
// batch's earlier sends (1 here, not 3).
TEST_F(StoreUnreadTest, AWriteLaterInABatchCountsTheBatchsSends) {
  const int64_t room = SharedRoom("busy");
  Post(alice_, room, "before");
  {
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    Post(alice_, room, "one");
    Post(alice_, room, "two");
    ASSERT_OK_AND_ASSIGN(Room view, store_->SetNotifications(bob_, room, NotifyLevel::kMentions));
    EXPECT_EQ(view.unread, 3) << "the room in the answer to a write of the batch";
    ASSERT_OK(batch->Commit());
  }
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(bob_, room, 3, "after the batch"));
  if (test::OnPostgres()) {
    EXPECT_EQ(QueryInt("SELECT message_seq FROM room_heads WHERE room_id = " + std::to_string(room)), 3)
        << "the head row's count, moved with the batch's COMMIT";
  }
}

// A send moves its sender's marker to it. In a batch, PostgreSQL writes
// each sender's marker once, at the batch's next write that is not a send
// or its COMMIT; that write reads it moved, as if each send had moved it.
TEST_F(StoreUnreadTest, ASendersMarkerInABatchIsMovedForTheWritesAfterIt) {
  const int64_t room = SharedRoom("mine");
  const Message bobs = Post(bob_, room, "bob's, before");
  Message last;
  {
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    Post(alice_, room, "a1");
    Post(carol_, room, "c1");
    const Message a2 = Post(alice_, room, "a2");
    ASSERT_OK_AND_ASSIGN(Room view, store_->SetNotifications(alice_, room, NotifyLevel::kMentions));
    EXPECT_EQ(view.read_event_id, a2.id) << "her marker, at her last message";
    EXPECT_EQ(view.unread, 0) << "her own messages, and what came before them, are not unread to her";
    std::optional<int64_t> moved_to;
    ASSERT_OK(store_->MarkRead(alice_, room, bobs.id, &moved_to));
    EXPECT_EQ(moved_to, std::nullopt) << "her marker is past bob's message already";
    last = Post(alice_, room, "a3");
    ASSERT_OK(batch->Commit());
  }
  EXPECT_EQ(Marker(alice_, room), last.id);
  EXPECT_EQ(Marker(carol_, room), last.id - 2) << "carol's, at hers";
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(alice_, room, 0, "after the batch"));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 2, "alice's two after carol's"));
  ASSERT_NO_FATAL_FAILURE(ExpectMember(alice_, room, last.id));
}

// A batch that never commits takes its sends with it, and their markers:
// the next write, outside any batch, moves no marker to the id a rolled
// back send had, which the next send takes again.
TEST_F(StoreUnreadTest, ABatchRolledBackLeavesNoMarkerBehind) {
  const int64_t room = SharedRoom("undone");
  {
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    Post(alice_, room, "never stored");
  }  // not committed: rolled back
  const Message bobs = Post(bob_, room, "bob's takes its id");
  ASSERT_OK_AND_ASSIGN(Room view, store_->SetNotifications(alice_, room, NotifyLevel::kMentions));
  EXPECT_EQ(view.unread, 1) << "bob's message";
  EXPECT_NE(Marker(alice_, room), bobs.id);
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(alice_, room, 1, "bob's message"));
}

// PostgreSQL's migration 018: while a deployment is upgraded one host at a
// time, a pool of the previous binary inserts messages without their
// places. The trigger numbers them on from this binary's messages, and this
// binary's sends number on from theirs.
TEST_F(StoreUnreadTest, ThePreviousBinarysMessagesAreNumberedInLineWithThisOnes) {
  if (!test::OnPostgres()) GTEST_SKIP() << "PostgreSQL's trigger";
  const int64_t room = SharedRoom("upgrade");
  const std::string r = std::to_string(room);
  Post(alice_, room, "this binary");
  Post(bob_, room, "this binary, bob");
  // As the previous binary's send inserts: its id from the counter row, no places.
  ASSERT_OK(Exec("WITH ids AS (UPDATE event_counter SET last = last + 1 RETURNING last) "
                 "INSERT INTO messages (id, room_id, user_id, kind, text, ts) SELECT last, " + r + ", " +
                 std::to_string(alice_.id) + ", 'message', 'the previous binary', 0 FROM ids"));
  EXPECT_EQ(QueryInt("SELECT message_seq FROM room_heads WHERE room_id = " + r), 3);
  const Message after = Post(alice_, room, "this binary again");
  auto places = [&](const char* column) {
    std::string out;
    for (int64_t id = QueryInt("SELECT MIN(id) FROM messages WHERE room_id = " + r); id > 0;
         id = QueryInt("SELECT COALESCE(MIN(id), 0) FROM messages WHERE room_id = " + r + " AND id > " +
                       std::to_string(id))) {
      out += std::to_string(QueryInt(std::string("SELECT ") + column + " FROM messages WHERE id = " +
                                     std::to_string(id))) + " ";
    }
    return out;
  };
  EXPECT_EQ(places("seq"), "1 2 3 4 ");
  EXPECT_EQ(places("author_seq"), "1 1 2 3 ");
  EXPECT_EQ(QueryInt("SELECT message_seq FROM room_heads WHERE room_id = " + r), 4);
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 4, "four messages, one of the previous binary"));
  ASSERT_OK(store_->MarkRead(carol_, room, after.id - 1));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 1, "read to the previous binary's"));
}

// SQLite's migration 018, PostgreSQL's 013: a marker set beyond the head
// before MarkRead kept to it is brought back to the head, and counts go on.
TEST_F(StoreUnreadTest, TheMigrationBringsAMarkerBeyondTheHeadBackToIt) {
  const int64_t room = SharedRoom("stuck");
  const Message first = Post(alice_, room, "one");
  ASSERT_OK(store_->MarkRead(carol_, room, first.id));
  ASSERT_OK(Exec("INSERT INTO read_markers (user_id, room_id, event_id) VALUES (" + std::to_string(bob_.id) + ", " +
                 std::to_string(room) + ", " + std::to_string(kBeyondEveryId) +
                 ") ON CONFLICT (user_id, room_id) DO UPDATE SET event_id = excluded.event_id"));
  Post(alice_, room, "two");
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(bob_, room, 0, "stuck beyond the head"));
  // The version before the migration, then the migration.
  ASSERT_OK(RemigrateFrom(17, 12));
  EXPECT_EQ(Marker(bob_, room), Head());
  EXPECT_EQ(Marker(carol_, room), first.id) << "a marker below the head stays";
  ASSERT_NO_FATAL_FAILURE(ExpectMember(bob_, room, Head()));
  Post(alice_, room, "three");
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(bob_, room, 1, "a message after the migration"));
  ASSERT_NO_FATAL_FAILURE(ExpectUnread(carol_, room, 2, "after the migration"));
}

}  // namespace
}  // namespace parley
