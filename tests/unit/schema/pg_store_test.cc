// schema/pg/store.h against a real PostgreSQL server: what is PostgreSQL's
// own (round trips, the counter row, the merge of a user's event sources,
// presence across daemons, the epoch), and store_event_reads_test.cc's
// proof that paging matches the whole log (that suite is SQLite's query
// plans otherwise). The behaviour both backends share is tested once, in
// the Storage suites (store_test.cc, store_events_test.cc...), which
// schema_store_on_postgresql runs on PostgreSQL too.
#include "schema/pg/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "schema/message_index.h"
#include "schema/pg/migrate.h"
#include "tests/unit/schema/pg_store_fixture.h"

namespace parley::pg {
namespace {

using test::kPgFakeHash;
using test::kPgGeneral;

using PgStoreTest = test::PgStoreFixture;

// ---------------------------------------------------------------- accounts

TEST_F(PgStoreTest, EpochIsSixteenHexDigitsAndStable) {
  ASSERT_OK_AND_ASSIGN(std::string epoch, store_->Epoch());
  EXPECT_EQ(epoch.size(), 16u);
  EXPECT_EQ(epoch.find_first_not_of("0123456789abcdef"), std::string::npos) << epoch;
  auto other = OtherConn();
  ASSERT_NE(other, nullptr);
  PgStore again(*other);
  ASSERT_OK_AND_ASSIGN(std::string epoch2, again.Epoch());
  EXPECT_EQ(epoch2, epoch);
}

TEST_F(PgStoreTest, AUsernameWithANulByteIsRefused) {
  EXPECT_ERROR(store_->CreateUser(std::string("al\0ice", 6), kPgFakeHash), Code::kInvalid, "invalid_text");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM users"), 0);
}

// ---------------------------------------------------------------- writes

// A send's token costs no round trip once its bucket exists: the bucket
// row is read under its lock in the send's own pipeline, and the new count
// queued to ride with the write's COMMIT. (Read, then updated by a
// statement of its own, it cost three round trips, the bucket's
// insert-if-missing included; read on its own, one.)
TEST_F(PgStoreTest, ASendsTokenCostsNoRoundTripAndIsSpent) {
  Limits unlimited;
  unlimited.WritesOff();
  PgStore free_store(*conn_, unlimited);
  Limits limits;
  limits.rate(WriteClass::kSend) = Rate{0.001, 10};  // no refill during the test
  PgStore quota_store(*conn_, limits);
  User alice = NewUser("alice");
  auto trips = [&](PgStore& s, const std::string& text) {
    const uint64_t before = conn_->round_trips();
    EXPECT_OK(s.Send(alice, kPgGeneral, text, std::nullopt)) << text;
    return conn_->round_trips() - before;
  };
  // Each store's first write also looks up its wake-up channel.
  trips(quota_store, "the first send makes the bucket");
  trips(free_store, "a first send with no quota");
  const uint64_t without = trips(free_store, "a send with no quota");
  EXPECT_EQ(trips(quota_store, "a send with a quota"), without) << "the bucket is read in the send's pipeline";
  const std::string tokens = "SELECT floor(tokens)::bigint FROM write_quota WHERE user_id = " +
                             std::to_string(alice.id) + " AND class = 'send'";
  EXPECT_EQ(QueryInt(tokens), 8);
  // A write refused after its token was taken (an attachment that is not
  // the sender's) rolls the token back with it.
  EXPECT_FALSE(quota_store.Send(alice, kPgGeneral, "see attached", std::nullopt, std::nullopt, {424242}).ok());
  EXPECT_EQ(QueryInt(tokens), 8);
  for (int i = 0; i < 8; ++i) ASSERT_OK(quota_store.Send(alice, kPgGeneral, "spend " + std::to_string(i), std::nullopt));
  EXPECT_ERROR(quota_store.Send(alice, kPgGeneral, "one too many", std::nullopt), Code::kThrottled, "throttled");
  EXPECT_EQ(QueryInt(tokens), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages"), 12);
}

// A batch updates the counter row once, whatever it appends: its first
// append takes the row (and its lock, to the COMMIT), the later ones count
// on in memory, and the last id goes back to the row with the COMMIT. (Each
// send updated the row: a batch of n sends left n versions of it.)
TEST_F(PgStoreTest, ABatchUpdatesTheCounterRowOnce) {
  User alice = NewUser("alice");
  const std::string updates =
      "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relid = 'event_counter'::regclass";
  int64_t last = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    int64_t after_first = 0;
    for (int i = 0; i < 5; ++i) {
      ASSERT_OK_AND_ASSIGN(SendResult sent, store_->Send(alice, kPgGeneral, "m" + std::to_string(i), std::nullopt));
      last = sent.message.id;
      if (i == 0) after_first = QueryInt(updates);
    }
    EXPECT_GT(after_first, 0) << "the first send took the row";
    EXPECT_EQ(QueryInt(updates), after_first) << "the later sends did not update it";
    ASSERT_OK(batch->Commit());
  }
  EXPECT_EQ(QueryInt("SELECT last FROM event_counter"), last);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM events WHERE id > " + std::to_string(last - 5)), 5);
  // A batch that rolls back leaves the row as it was.
  {
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    ASSERT_OK(store_->Send(alice, kPgGeneral, "lost", std::nullopt));
    ASSERT_OK(store_->Send(alice, kPgGeneral, "lost too", std::nullopt));
  }
  EXPECT_EQ(QueryInt("SELECT last FROM event_counter"), last);
  ASSERT_OK_AND_ASSIGN(SendResult next, store_->Send(alice, kPgGeneral, "next", std::nullopt));
  EXPECT_EQ(next.message.id, last + 1);
}

// A batch of sends to one room leaves its rooms row without a MultiXact
// (migration 006): each send's foreign key check locks the row FOR KEY
// SHARE in the send's savepoint, and when the batch then updated that row's
// last_event_id every version after carried a MultiXact, which each later
// look at the room had to resolve. The room's newest id moves in room_heads.
// Every version of the row on its page is read (pageinspect, contrib).
TEST_F(PgStoreTest, ABatchOfSendsLeavesNoMultiXactOnItsRoom) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  for (int round = 0; round < 3; ++round) {
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    for (int i = 0; i < 4; ++i) {
      ASSERT_OK(store_->Send(i % 2 ? bob : alice, kPgGeneral, "m" + std::to_string(i), std::nullopt));
    }
    ASSERT_OK(batch->Commit());
  }
  // In a schema of its own, whichever test schema is current.
  ASSERT_OK(conn_->ExecScript("SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS inspect; "
                              "CREATE EXTENSION IF NOT EXISTS pageinspect SCHEMA inspect"));
  const std::string versions =
      "FROM inspect.heap_page_items(inspect.get_raw_page('rooms', 0)) WHERE t_data IS NOT NULL";
  EXPECT_GT(QueryInt("SELECT COUNT(*) " + versions), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) " + versions + " AND (t_infomask & 4096) <> 0"), 0)  // HEAP_XMAX_IS_MULTI
      << "a version of the room's row has a MultiXact for its xmax";
  EXPECT_EQ(QueryInt("SELECT last_event_id FROM room_heads WHERE room_id = " + std::to_string(kPgGeneral)), Head());
}

// Someone else's lock on a table (a DBA's ALTER TABLE, or a newer binary's
// migration during a rolling upgrade), held until the struct goes, with the
// store's lock_timeout shortened for the test.
class PgLockTimeoutTest : public test::PgStoreFixture {
 protected:
  struct HeldLock {
    std::unique_ptr<pg::PgConn> conn;
    std::unique_ptr<pg::PgTx> tx;  // rolled back first: the lock goes
  };
  HeldLock LockedByAnother(const std::string& table) {
    EXPECT_OK(conn_->ExecScript("SET lock_timeout = '200ms'"));
    HeldLock held{OtherConn(), nullptr};
    if (!held.conn) return held;
    auto tx = pg::PgTx::Begin(*held.conn);
    EXPECT_OK(tx);
    if (tx.ok()) held.tx = std::move(tx).value();
    EXPECT_OK(held.conn->ExecScript("LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE"));
    return held;
  }
};

// A read and a send behind it fail at the lock timeout as kUnavailable,
// which the API answers 503, and leave nothing behind: once the table is
// free, the next send takes the next id.
TEST_F(PgLockTimeoutTest, ReadsAndSendsBehindSomeoneElsesTableLockFailAtTheLockTimeout) {
  User alice = NewUser("alice");
  ASSERT_OK_AND_ASSIGN(SendResult first, store_->Send(alice, kPgGeneral, "before", std::nullopt));
  {
    HeldLock held = LockedByAnother("messages");
    const auto start = std::chrono::steady_clock::now();
    EXPECT_ERROR(store_->History(alice, kPgGeneral, std::nullopt, std::nullopt, 20), Code::kUnavailable, "busy");
    EXPECT_ERROR(store_->Send(alice, kPgGeneral, "during", std::nullopt), Code::kUnavailable, "busy");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  }
  ASSERT_OK_AND_ASSIGN(SendResult after, store_->Send(alice, kPgGeneral, "after", std::nullopt));
  EXPECT_EQ(after.message.id, first.message.id + 1) << "the refused send left no gap";
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store_->History(alice, kPgGeneral, std::nullopt, std::nullopt, 20));
  ASSERT_GE(page.messages.size(), 2u);
  EXPECT_EQ(page.messages.back().text, "after");
  EXPECT_EQ(page.messages[page.messages.size() - 2].text, "before");
}

// In a batch, once a write has waited for a lock past the timeout, the
// writes after it fail at once (the same kUnavailable) rather than each
// waiting out its own timeout while the rest of the queue waits behind
// them; the writes before it commit with the batch, and the next batch
// tries again.
TEST_F(PgLockTimeoutTest, AfterALockTimeoutTheRestOfTheBatchFailsAtOnce) {
  User alice = NewUser("alice");
  ASSERT_OK_AND_ASSIGN(SendResult target, store_->Send(alice, kPgGeneral, "react to me", std::nullopt));
  {
    HeldLock held = LockedByAnother("reactions");
    // A store of its own, as a worker starts: its first batch also learns
    // the NOTIFY channel's name, which must not be a refused read.
    pg::PgStore fresh(*conn_);
    ASSERT_OK_AND_ASSIGN(auto batch, fresh.BeginBatch());
    ASSERT_OK(fresh.Send(alice, kPgGeneral, "before", std::nullopt));
    EXPECT_ERROR(fresh.React(alice, target.message.id, "+1", true), Code::kUnavailable, "busy");
    const auto start = std::chrono::steady_clock::now();
    EXPECT_ERROR(fresh.Send(alice, kPgGeneral, "after", std::nullopt), Code::kUnavailable, "busy");
    EXPECT_ERROR(fresh.SessionUser(std::string(32, 'x')), Code::kUnavailable, "busy");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150)) << "refused without waiting";
    ASSERT_OK(batch->Commit());
  }
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store_->History(alice, kPgGeneral, std::nullopt, std::nullopt, 20));
  ASSERT_FALSE(page.messages.empty());
  EXPECT_EQ(page.messages.back().text, "before");
  ASSERT_OK_AND_ASSIGN(auto next, store_->BeginBatch());
  ASSERT_OK(store_->React(alice, target.message.id, "+1", true));
  ASSERT_OK(store_->Send(alice, kPgGeneral, "next batch", std::nullopt));
  ASSERT_OK(next->Commit());
}

// In a database whose LC_CTYPE is a UTF-8 locale (initdb's default, and
// tools/pg's; the test makes one, whatever its cluster's), lower() folds "É" too. Room names and the room
// directory fold ASCII letters only there as well, as SQLite's NOCASE does
// (migration 007, COLLATE "C"): found by backends_diff_test on such a
// cluster, where the directory's "SALLE É" found "Salle é" on PostgreSQL.
TEST(PgLocaleTest, RoomNamesFoldOnlyAsciiLettersInADatabaseOfAUtf8Ctype) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(auto admin, PgConn::Connect(cluster->url()));
  // The cluster is the test program's own: the database is new.
  ASSERT_OK(admin->ExecScript("CREATE DATABASE utf8_ctype TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' "
                              "LC_CTYPE 'C.UTF-8'"));
  std::string url = cluster->url();
  const size_t at = url.find("/parley?");
  ASSERT_NE(at, std::string::npos) << url;
  url.replace(at, 8, "/utf8_ctype?");
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
  ASSERT_OK(MigratePg(*conn));
  ASSERT_OK_AND_ASSIGN(PgResult folded, conn->Exec("SELECT lower('É')"));
  ASSERT_EQ(folded.Text(0, 0), "é") << "this database folds beyond ASCII";
  PgStore store(*conn);
  ASSERT_OK_AND_ASSIGN(User alice, store.CreateUser("alice", kPgFakeHash));
  ASSERT_OK_AND_ASSIGN(User bob, store.CreateUser("bob", kPgFakeHash));
  ASSERT_OK(store.CreateRoom(alice, "Salle é", RoomKind::kPublic, std::nullopt));
  ASSERT_OK(store.CreateRoom(alice, "Salle É", RoomKind::kPublic, std::nullopt)) << "two names, as on SQLite";
  EXPECT_ERROR(store.CreateRoom(alice, "SALLE é", RoomKind::kPublic, std::nullopt), Code::kConflict,
               "room_name_taken");
  auto names = [&](const std::string& prefix) {
    std::vector<std::string> out;
    auto rooms = store.Directory(bob, prefix, 10);
    EXPECT_OK(rooms);
    if (rooms.ok()) {
      for (const Room& r : *rooms) out.push_back(r.name);
    }
    return out;
  };
  EXPECT_EQ(names("SALLE É"), std::vector<std::string>{"Salle É"});
  EXPECT_EQ(names("salle é"), std::vector<std::string>{"Salle é"});
  EXPECT_EQ(names("SALLE"), (std::vector<std::string>{"Salle É", "Salle é"}));
}

// A read marker is two round trips: its bucket, the access check and the
// upsert together, then the COMMIT with the bucket's new count (it was four).
// A refused marker leaves neither a marker nor a spent token.
TEST_F(PgStoreTest, AReadMarkerTakesTwoRoundTripsAndARefusalLeavesNothing) {
  Limits limits;
  limits.rate(WriteClass::kRead) = Rate{0.001, 10};  // no refill during the test
  PgStore store(*conn_, limits);
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  auto first = store.Send(bob, kPgGeneral, "one", std::nullopt);
  ASSERT_OK(first);
  std::optional<int64_t> moved;
  ASSERT_OK(store.MarkRead(alice, kPgGeneral, first->message.id, &moved));  // makes the bucket, prepares
  EXPECT_EQ(moved, first->message.id);
  auto second = store.Send(bob, kPgGeneral, "two", std::nullopt);
  ASSERT_OK(second);
  const uint64_t before = conn_->round_trips();
  ASSERT_OK(store.MarkRead(alice, kPgGeneral, second->message.id, &moved));
  EXPECT_EQ(conn_->round_trips() - before, 2u);
  EXPECT_EQ(moved, second->message.id);
  ASSERT_OK(store.MarkRead(alice, kPgGeneral, first->message.id, &moved));
  EXPECT_EQ(moved, std::nullopt) << "the marker only moves forward";
  const std::string marker = "SELECT event_id FROM read_markers WHERE user_id = " + std::to_string(alice.id) +
                             " AND room_id = " + std::to_string(kPgGeneral);
  EXPECT_EQ(QueryInt(marker), second->message.id);
  const std::string tokens = "SELECT floor(tokens)::bigint FROM write_quota WHERE user_id = " +
                             std::to_string(bob.id) + " AND class = 'read'";
  ASSERT_OK(store.MarkRead(bob, kPgGeneral, first->message.id, &moved));
  EXPECT_EQ(QueryInt(tokens), 9);
  auto closed = store.CreateRoom(alice, "closed", RoomKind::kPrivate, std::nullopt);
  ASSERT_OK(closed);
  EXPECT_ERROR(store.MarkRead(bob, closed->id, second->message.id, &moved), Code::kNotFound, "room_not_found");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM read_markers WHERE room_id = " + std::to_string(closed->id)), 0);
  EXPECT_EQ(QueryInt(tokens), 9) << "the refused marker's token went back with it";
  // A first marker (no bucket yet) in a room that does not exist: the
  // upsert must not fail the transaction before the bucket is made.
  User carol = NewUser("carol");
  EXPECT_ERROR(store.MarkRead(carol, 987654, first->message.id, &moved), Code::kNotFound, "room_not_found");
}

// ---------------------------------------------------------------- event log

TEST_F(PgStoreTest, AnEventInTwoSourcesComesOutOnce) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  const int64_t lobby = NewRoom(alice, "Lobby");
  AddMember(lobby, bob);
  const int64_t before = Head();
  const int64_t both = Append("member", lobby, bob.id);  // in bob's room and addressed to him
  const int64_t broadcast = Append("room", lobby, bob.id, Audience::kAll);
  EXPECT_EQ(VisibleIds(bob, before), (std::vector<int64_t>{both, broadcast}));
}

// The whole-log filter the merge must agree with (store_event_reads_test.cc's oracle).
std::vector<int64_t> Oracle(PgConn& conn, int64_t user_id, int64_t after, int64_t upto) {
  auto r = conn.Exec(
      "SELECT id FROM events e WHERE id > $2 AND id <= $3 AND (audience = 'all' OR target_id = $1 OR "
      "room_id IN (SELECT room_id FROM members WHERE user_id = $1) OR "
      "id <= (SELECT MAX(x.id) FROM events x WHERE x.target_id = $1 AND x.type = 'member' "
      "AND x.room_id = e.room_id AND x.id > $2 AND (x.data::jsonb ->> 'action') IN ('left', 'kicked', "
      "'banned'))) ORDER BY id",
      {user_id, after, upto});
  EXPECT_OK(r);
  std::vector<int64_t> ids;
  for (int i = 0; r.ok() && i < r->Rows(); ++i) ids.push_back(std::stoll(r->Text(i, 0)));
  return ids;
}

TEST_F(PgStoreTest, PagingMatchesTheWholeLogFilterForAnyPageSize) {
  // Four users in overlapping rooms (one in all 12), events of every
  // source interleaved at random: room messages, broadcasts, events
  // addressed to one user; membership changes as it goes.
  std::mt19937 rng(8);
  std::vector<User> users;
  for (int i = 0; i < 4; ++i) users.push_back(NewUser("u" + std::to_string(i)));
  std::vector<int64_t> rooms;
  for (int r = 0; r < 12; ++r) {
    rooms.push_back(NewRoom(users[rng() % users.size()], "r" + std::to_string(r)));
    AddMember(rooms.back(), users[0]);
  }
  for (int step = 0; step < 400; ++step) {
    const User& u = users[rng() % users.size()];
    const int64_t room = rooms[rng() % rooms.size()];
    switch (rng() % 10) {
      case 0: AddMember(room, u); break;
      case 1: RemoveMember(room, u); break;
      case 2: Append("member", room, u.id); break;
      case 3: Append("user", std::nullopt, u.id, Audience::kAll); break;
      default: Post(room); break;
    }
  }
  const int64_t head = Head();
  ASSERT_GT(head, 250);
  auto paged = [&](int64_t user_id, int64_t after, int64_t upto, int limit) {
    std::vector<int64_t> ids;
    for (int guard = 0; guard < 10000; ++guard) {
      auto page = store_->EventsForUser(user_id, after, upto, limit);
      EXPECT_OK(page);
      if (!page.ok() || page->empty()) break;
      EXPECT_LE(static_cast<int>(page->size()), limit);
      for (const Event& e : *page) ids.push_back(e.id);
      after = page->back().id;
    }
    return ids;
  };
  for (const User& u : users) {
    for (int64_t after : {int64_t{0}, head - 5}) {
      const std::vector<int64_t> want = Oracle(*conn_, u.id, after, head);
      for (int limit : {5, 500}) {
        EXPECT_EQ(paged(u.id, after, head, limit), want) << u.username << " after " << after << " limit " << limit;
      }
    }
    EXPECT_EQ(paged(u.id, head / 4, head / 2, 9), Oracle(*conn_, u.id, head / 4, head / 2)) << u.username;
  }
}

// Rows of `events` this connection's statements have read so far, by
// sequential or index scans. The backend flushes its counters when idle
// after pg_stat_force_next_flush(), so the next statement sees them all.
int64_t EventRowsRead(PgConn& conn) {
  EXPECT_OK(conn.ExecScript("SELECT pg_stat_force_next_flush()"));
  auto r = conn.Exec(
      "SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) FROM pg_stat_user_tables "
      "WHERE relid = 'events'::regclass");
  EXPECT_OK(r);
  if (!r.ok() || r->Rows() != 1) return -1;
  return std::stoll(r->Text(0, 0));
}

TEST_F(PgStoreTest, OneCallReadsRowsInProportionToWhatTheUserMaySee) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  const int64_t busy = NewRoom(alice, "busy");  // bob is not in it
  const int64_t lobby = NewRoom(alice, "lobby");
  AddMember(lobby, bob);
  for (int i = 0; i < 3; ++i) Post(lobby);
  std::vector<Event> flood(5000);
  for (Event& e : flood) {
    e.type = "message";
    e.room_id = busy;
    e.data = "{}";
  }
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn_));
    ASSERT_OK(AppendEvents(*tx, flood));
    ASSERT_OK(tx->Commit());
  }
  ASSERT_OK(conn_->ExecScript("ANALYZE events"));
  const int64_t head = Head();

  // bob's poll from zero reads his few events, not alice's busy room.
  int64_t before = EventRowsRead(*conn_);
  ASSERT_OK_AND_ASSIGN(std::vector<Event> bobs, store_->EventsForUser(bob.id, 0, head, 500));
  const int64_t bob_rows = EventRowsRead(*conn_) - before;
  EXPECT_EQ(bobs.size(), 7u);  // two user events, two joins of general, three lobby posts
  EXPECT_LT(bob_rows, 50) << bob_rows << " rows read";

  // A page of 500 from the start of the 5,000-event room reads about 500.
  before = EventRowsRead(*conn_);
  ASSERT_OK_AND_ASSIGN(std::vector<Event> page, store_->EventsForUser(alice.id, 0, head, 500));
  const int64_t alice_rows = EventRowsRead(*conn_) - before;
  EXPECT_EQ(page.size(), 500u);
  EXPECT_LT(alice_rows, 500 * 3) << alice_rows << " rows read";

  // The control: the filter of the whole log's id range reads the busy room too.
  before = EventRowsRead(*conn_);
  ASSERT_OK_AND_ASSIGN(PgResult all,
                       conn_->Exec("SELECT COUNT(*) FROM events WHERE id > 0 AND (audience = 'all' OR target_id = $1 "
                                   "OR room_id IN (SELECT room_id FROM members WHERE user_id = $1))",
                                   {bob.id}));
  EXPECT_EQ(all.Text(0, 0), "7");
  const int64_t filter_rows = EventRowsRead(*conn_) - before;
  EXPECT_GT(filter_rows, 5000);
  std::printf("rows of events read: bob's poll %lld, a page of 500 %lld, the whole-log filter %lld\n",
              static_cast<long long>(bob_rows), static_cast<long long>(alice_rows),
              static_cast<long long>(filter_rows));
}

// A history page is read in one snapshot: the access check with the page,
// then every detail kind (mentions, reactions, attachments) of the page's
// ids together with the COMMIT. Each of these was a round trip of its own
// (9 here, with two runs of ids, when they were read by ranges).
TEST_F(PgStoreTest, AHistoryPageWithItsDetailsTakesTwoRoundTrips) {
  Limits unlimited;
  unlimited.WritesOff();
  PgStore store(*conn_, unlimited);
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Upload up;
  up.name = "a.png";
  up.mime = "image/png";
  up.size = 10;
  auto upload = store.CreateUpload(alice, up, [](int64_t) { return Status::Ok(); });
  ASSERT_OK(upload);
  std::vector<int64_t> ids;
  for (int i = 0; i < 60; ++i) {
    const std::string text = i % 7 == 0 ? "@bob look " + std::to_string(i) : "plain " + std::to_string(i);
    std::vector<int64_t> attach;
    if (i == 55) attach.push_back(upload->id);
    auto sent = store.Send(alice, kPgGeneral, text, std::nullopt, std::nullopt, attach);
    ASSERT_OK(sent);
    ids.push_back(sent->message.id);
  }
  // Other rooms' messages between two of the page's, more ids than one run
  // of SQLite's spans (MessageIndex::kRunGap): on PostgreSQL the listed ids
  // go as one array a kind, whatever lies between them.
  auto other = store.CreateRoom(alice, "elsewhere", RoomKind::kPublic, std::nullopt);
  ASSERT_OK(other);
  for (int i = 0; i <= MessageIndex::kRunGap; ++i) ASSERT_OK(store.Send(alice, other->id, "x", std::nullopt));
  auto late = store.Send(alice, kPgGeneral, "after carol", std::nullopt);
  ASSERT_OK(late);
  ids.push_back(late->message.id);
  ASSERT_GT(ids[60] - ids[59], MessageIndex::kRunGap);
  for (int i : {50, 52, 60}) ASSERT_OK(store.React(bob, ids[i], "👍", true));
  ASSERT_OK(store.React(alice, ids[52], "👍", true));

  // Once first: a statement's first use prepares it (a round trip of its own).
  ASSERT_OK(store.History(bob, kPgGeneral, std::nullopt, std::nullopt, 20));
  const uint64_t before = conn_->round_trips();
  auto page = store.History(bob, kPgGeneral, std::nullopt, std::nullopt, 20);
  ASSERT_OK(page);
  EXPECT_EQ(conn_->round_trips() - before, 2u);
  ASSERT_EQ(page->messages.size(), 20u);
  EXPECT_TRUE(page->has_more);
  for (const Message& m : page->messages) {
    const size_t i = std::find(ids.begin(), ids.end(), m.id) - ids.begin();
    ASSERT_LT(i, ids.size());
    EXPECT_EQ(m.mentions, i % 7 == 0 && i < 60 ? std::vector<int64_t>{bob.id} : std::vector<int64_t>{}) << i;
    EXPECT_EQ(m.attachments.size(), i == 55 ? 1u : 0u) << i;
    if (i == 52) {
      ASSERT_EQ(m.reactions.size(), 1u);
      EXPECT_EQ(m.reactions[0].count, 2);
      EXPECT_TRUE(m.reactions[0].me);
    } else {
      EXPECT_EQ(m.reactions.size(), i == 50 || i == 60 ? 1u : 0u) << i;
    }
  }
  // A reader who may not see the room gets the refusal, not the page read with it.
  auto closed = store.CreateRoom(alice, "closed", RoomKind::kPrivate, std::nullopt);
  ASSERT_OK(closed);
  ASSERT_OK(store.Send(alice, closed->id, "secret", std::nullopt));
  User dave = NewUser("dave");
  EXPECT_FALSE(store.History(dave, closed->id, std::nullopt, std::nullopt, 20).ok());
  EXPECT_OK(store.History(alice, closed->id, std::nullopt, std::nullopt, 20));
}

TEST_F(PgStoreTest, DataVersionMovesWithEveryCommittedAppend) {
  NewUser("alice");
  ASSERT_OK_AND_ASSIGN(int64_t v1, store_->DataVersion());
  ASSERT_OK_AND_ASSIGN(int64_t v2, store_->DataVersion());
  EXPECT_EQ(v2, v1);  // stable while nobody appends
  auto other_conn = OtherConn();
  ASSERT_NE(other_conn, nullptr);
  PgStore other(*other_conn);
  ASSERT_OK(other.CreateUser("carol", kPgFakeHash));
  ASSERT_OK_AND_ASSIGN(int64_t v3, store_->DataVersion());
  EXPECT_NE(v3, v2);
  // An append still open on another connection does not move it.
  ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*other_conn));
  std::vector<Event> pending(1);
  pending[0].type = "user";
  pending[0].audience = Audience::kAll;
  pending[0].data = "{}";
  ASSERT_OK(AppendEvents(*tx, pending));
  ASSERT_OK_AND_ASSIGN(int64_t v4, store_->DataVersion());
  EXPECT_EQ(v4, v3);
}

TEST_F(PgStoreTest, PresenceCountsEveryDaemon) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  (void)store_->TakeNotifyHead();
  const int64_t head = Head();
  auto online = [&](const User& u) {
    return QueryInt("SELECT COUNT(*) FROM users WHERE id = " + std::to_string(u.id) +
                    " AND EXISTS (SELECT 1 FROM presence p WHERE p.user_id = users.id)") == 1;
  };
  PgStore a(*conn_, {}, "daemon-a");
  PgStore b(*conn_, {}, "daemon-b");
  EXPECT_FALSE(online(bob));
  ASSERT_OK(a.SetOnline(bob.id, true));
  EXPECT_TRUE(online(bob));
  ASSERT_OK(a.SetOnline(bob.id, true));  // idempotent
  ASSERT_OK(b.SetOnline(bob.id, true));  // a second connection, on another daemon
  ASSERT_OK(a.SetOnline(bob.id, false));
  EXPECT_TRUE(online(bob));  // daemon b still holds one
  ASSERT_OK(b.SetOnline(bob.id, false));
  EXPECT_FALSE(online(bob));
  ASSERT_OK(b.SetOnline(bob.id, false));

  ASSERT_OK(a.SetOnline(alice.id, true));
  ASSERT_OK(a.SetOnline(bob.id, true));
  ASSERT_OK(b.SetOnline(bob.id, true));
  // What an upgrade's new image of each daemon adopts: its own rows.
  ASSERT_OK_AND_ASSIGN(std::vector<User> held_a, a.HeldPresence());
  ASSERT_EQ(held_a.size(), 2u);
  EXPECT_EQ(held_a[0].id, alice.id);
  EXPECT_EQ(held_a[0].username, "alice");
  EXPECT_EQ(held_a[1].id, bob.id);
  ASSERT_OK_AND_ASSIGN(std::vector<User> held_b, b.HeldPresence());
  ASSERT_EQ(held_b.size(), 1u);
  EXPECT_EQ(held_b[0].id, bob.id);
  ASSERT_OK(a.ClearPresence());  // daemon a restarts: only its rows go
  EXPECT_FALSE(online(alice));
  EXPECT_TRUE(online(bob));
  // Presence is not in the event log.
  EXPECT_EQ(Head(), head);
  EXPECT_EQ(a.TakeNotifyHead(), 0);
}

// A daemon that stops marking itself alive (it died) has its connections'
// presence dropped by another daemon's KeepPresence; a live one keeps its.
TEST_F(PgStoreTest, ADeadDaemonsPresenceExpires) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  PgStore a(*conn_, {}, "daemon-a");
  PgStore b(*conn_, {}, "daemon-b");
  ASSERT_OK(a.SetOnline(alice.id, true));
  ASSERT_OK(a.SetOnline(bob.id, true));
  ASSERT_OK(b.SetOnline(bob.id, true));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> none_a, a.KeepPresence(5000, {}));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> none_b, b.KeepPresence(5000, {}));
  EXPECT_TRUE(none_a.empty());
  EXPECT_TRUE(none_b.empty());
  // Daemon a falls silent: 6 s since it was last seen.
  ASSERT_OK(conn_->Exec("UPDATE daemons SET seen_ts = seen_ts - 6000 WHERE name = 'daemon-a'").status());
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> gone, b.KeepPresence(5000, {}));
  EXPECT_EQ(gone, (std::vector<int64_t>{alice.id}));  // offline now; bob is still on b
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM presence WHERE daemon = 'daemon-a'"), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM presence WHERE daemon = 'daemon-b'"), 1);  // bob, on b
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM daemons"), 1);
}

}  // namespace
}  // namespace parley::pg
