// PgStore's locks where several pools write at once (schema/pg/store_messages.cc
// and store_rooms.cc design notes): each test holds one side of a race open
// in a transaction, starts the other side on its own connection and thread,
// waits until the server reports that side as waiting for a lock (a
// condition, polled, bounded), then lets the first side commit. PostgreSQL
// only: SQLite has one writer, so these races cannot happen there.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "schema/store_rules.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

using test::kGeneral;

class StorePgRaceTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    if (!test::OnPostgres()) GTEST_SKIP() << "PostgreSQL only (PARLEY_TEST_BACKEND=postgresql)";
    Limits unlimited;
    unlimited.WritesOff();
    ASSERT_NO_FATAL_FAILURE(OpenStore(unlimited));
    alice_ = NewUser("alice");
    other_ = NewStorage(unlimited);
    ASSERT_NE(other_, nullptr);
    ASSERT_OK_AND_ASSIGN(raw_, pg::PgConn::Connect(pg_url_));
    ASSERT_OK_AND_ASSIGN(watch_, pg::PgConn::Connect(pg_url_));
  }

  // Whether some backend of this database waits for a lock, polled for up
  // to 30 s (a generous bound for a loaded machine). On a connection of its
  // own outside any transaction: inside one, pg_stat_activity is a snapshot.
  // at_least: how many must be waiting at once.
  bool SomeoneWaits(int at_least = 1) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = watch_->Exec(
          "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
          "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()");
      if (!r.ok()) return false;
      auto n = r->Int(0, 0);
      if (n.ok() && *n >= at_least) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  int64_t MessagesOf(const User& u) {
    return QueryInt("SELECT COUNT(*) FROM messages WHERE user_id = " + std::to_string(u.id));
  }
  int64_t IsMember(const User& u, int64_t room_id) {
    return QueryInt("SELECT COUNT(*) FROM members WHERE room_id = " + std::to_string(room_id) +
                    " AND user_id = " + std::to_string(u.id));
  }
  Result<Upload> NewUpload(const User& u) {
    Upload up;
    up.name = "a.png";
    up.mime = "image/png";
    up.size = 10;
    return store_->CreateUpload(u, up, [](int64_t) { return Status::Ok(); });
  }

  User alice_;
  std::unique_ptr<Storage> other_;
  std::unique_ptr<pg::PgConn> raw_;    // a third connection: the racing kick
  std::unique_ptr<pg::PgConn> watch_;  // polls pg_stat_activity
};

TEST_F(StorePgRaceTest, AKickCommittedWhileASendWaitsLeavesNoMessageOfANonMember) {
  // The kick takes the member row first and holds it.
  ASSERT_OK(raw_->ExecScript("BEGIN; DELETE FROM members WHERE room_id = " + std::to_string(kGeneral) +
                             " AND user_id = " + std::to_string(alice_.id)));
  auto send = std::async(std::launch::async, [&] { return other_->Send(alice_, kGeneral, "late", std::nullopt); });
  ASSERT_TRUE(SomeoneWaits()) << "the send must wait for the kick's member row";
  ASSERT_OK(raw_->ExecScript("COMMIT"));
  Result<SendResult> r = send.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kForbidden) << r.status().ToString();
  EXPECT_EQ(MessagesOf(alice_), 0);
}

TEST_F(StorePgRaceTest, AKickAfterACheckedSendWaitsForItsCommit) {
  // The send is checked and inserted in an open batch (its member row held
  // FOR SHARE); the kick waits for it, so the log has the message first.
  ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
  ASSERT_OK_AND_ASSIGN(SendResult sent, store_->Send(alice_, kGeneral, "first", std::nullopt));
  auto kick = std::async(std::launch::async, [&] {
    auto c = pg::PgConn::Connect(pg_url_);
    if (!c.ok()) return c.status();
    return (*c)
        ->Exec("DELETE FROM members WHERE room_id = $1 AND user_id = $2", {kGeneral, alice_.id})
        .status();
  });
  ASSERT_TRUE(SomeoneWaits()) << "the kick must wait for the send's COMMIT";
  ASSERT_OK(batch->Commit());
  ASSERT_OK(kick.get());
  EXPECT_EQ(MessagesOf(alice_), 1);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM members WHERE user_id = " + std::to_string(alice_.id)), 0);
  EXPECT_EQ(QueryInt("SELECT id FROM events WHERE type = 'message'"), sent.message.id);
}

TEST_F(StorePgRaceTest, TwoWaysInAtTheMembershipCapOnTwoPoolsLetOneThrough) {
  Limits capped;
  capped.WritesOff();
  capped.memberships_per_user = 2;  // general and one more
  std::unique_ptr<Storage> a = NewStorage(capped), b = NewStorage(capped);
  ASSERT_TRUE(a != nullptr && b != nullptr);
  User bob = NewUser("bob");
  Room x = NewRoom(bob, "x", RoomKind::kPublic);
  Room y = NewRoom(bob, "y", RoomKind::kPublic);
  // Each join counts alice's memberships after its own insert; the second,
  // on another connection, cannot see the first's row until it commits, so
  // it must wait for the lock on alice's user row to count right.
  ASSERT_OK_AND_ASSIGN(auto batch, a->BeginBatch());
  ASSERT_OK(a->Join(alice_, x.id));
  auto second = std::async(std::launch::async, [&] { return b->Join(alice_, y.id).status(); });
  ASSERT_TRUE(SomeoneWaits()) << "the second join must wait for the first's COMMIT";
  ASSERT_OK(batch->Commit());
  Status st = second.get();
  EXPECT_EQ(st.reason(), "membership_limit_reached") << st.ToString();
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM members WHERE user_id = " + std::to_string(alice_.id)), 2);
}

// An answer to a DM request makes it count (AnswerRequest): against a
// join on another pool at the cap, whichever commits first wins; two sends
// answering one request on two pools both go through, one answer counted.
TEST_F(StorePgRaceTest, AnswersToADmRequestAreOrderedWithJoinsAndEachOther) {
  Limits capped;
  capped.WritesOff();
  capped.memberships_per_user = 2;  // general and one more
  std::unique_ptr<Storage> a = NewStorage(capped), b = NewStorage(capped);
  ASSERT_TRUE(a != nullptr && b != nullptr);
  User bob = NewUser("bob"), carol = NewUser("carol");
  Room x = NewRoom(bob, "x", RoomKind::kPublic);
  ASSERT_OK_AND_ASSIGN(auto bobs, store_->GetOrCreateDm(bob, "alice"));  // no cap for them
  ASSERT_OK_AND_ASSIGN(auto carols, store_->GetOrCreateDm(carol, "alice"));
  const std::string requests = "SELECT COUNT(*) FROM members WHERE request = 1 AND user_id = " +
                               std::to_string(alice_.id);
  ASSERT_EQ(QueryInt(requests), 2);
  {  // the answer first: the join waits for alice's row, then counts it
    ASSERT_OK_AND_ASSIGN(auto batch, a->BeginBatch());
    ASSERT_OK(a->Send(alice_, bobs.first.id, "hi bob", std::nullopt).status());
    auto join = std::async(std::launch::async, [&] { return b->Join(alice_, x.id).status(); });
    ASSERT_TRUE(SomeoneWaits()) << "the join must wait for the answer's COMMIT";
    ASSERT_OK(batch->Commit());
    EXPECT_EQ(join.get().reason(), "membership_limit_reached");
  }
  ASSERT_OK(a->Leave(alice_, bobs.first.id));
  {  // the join first: the answer waits, then is refused, and sends nothing
    ASSERT_OK_AND_ASSIGN(auto batch, a->BeginBatch());
    ASSERT_OK(a->Join(alice_, x.id).status());
    auto answer = std::async(std::launch::async,
                             [&] { return b->Send(alice_, carols.first.id, "hi carol", std::nullopt).status(); });
    ASSERT_TRUE(SomeoneWaits()) << "the answer must wait for the join's COMMIT";
    ASSERT_OK(batch->Commit());
    EXPECT_EQ(answer.get().reason(), "membership_limit_reached");
    EXPECT_EQ(MessagesOf(alice_), 1);
    EXPECT_EQ(QueryInt(requests), 1);
  }
  ASSERT_OK(a->Leave(alice_, x.id));
  {  // two answers at once: the second waits, then finds it answered
    ASSERT_OK_AND_ASSIGN(auto batch, a->BeginBatch());
    ASSERT_OK(a->Send(alice_, carols.first.id, "one", std::nullopt).status());
    auto second = std::async(std::launch::async,
                             [&] { return b->Send(alice_, carols.first.id, "two", std::nullopt).status(); });
    ASSERT_TRUE(SomeoneWaits()) << "the second answer must wait for the first's COMMIT";
    ASSERT_OK(batch->Commit());
    EXPECT_OK(second.get());
    EXPECT_EQ(MessagesOf(alice_), 3);
    EXPECT_EQ(QueryInt(requests), 0);
  }
}

// A first answer to a DM request clears it before it takes the counter
// row: cleared after, its UPDATE of the member row waited for a reaction of
// the same person, which held the row FOR SHARE and waited for the counter
// row that the answer held (the fiftieth session's audit: 44 deadlocks in
// 215 races). Here the answer queues for the counter row first, then the
// reaction, behind a batch that holds it.
TEST_F(StorePgRaceTest, AnAnswerToADmRequestAndAReactionInItWaitInTurn) {
  Limits capped;
  capped.WritesOff();
  capped.memberships_per_user = 10;
  std::unique_ptr<Storage> a = NewStorage(capped), b = NewStorage(capped);
  ASSERT_TRUE(a != nullptr && b != nullptr);
  User bob = NewUser("bob");
  ASSERT_OK_AND_ASSIGN(auto dm, store_->GetOrCreateDm(bob, "alice"));
  ASSERT_OK_AND_ASSIGN(SendResult hello, store_->Send(bob, dm.first.id, "hello", std::nullopt));
  ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
  ASSERT_OK(store_->Send(bob, kGeneral, "holds the counter row", std::nullopt).status());
  auto answer = std::async(std::launch::async, [&] { return a->Send(alice_, dm.first.id, "hi", std::nullopt).status(); });
  ASSERT_TRUE(SomeoneWaits(1)) << "the answer must wait for the batch";
  auto react = std::async(std::launch::async, [&] { return b->React(alice_, hello.message.id, "wave", true).status(); });
  ASSERT_TRUE(SomeoneWaits(2)) << "the reaction must wait too";
  ASSERT_OK(batch->Commit());
  EXPECT_OK(answer.get());
  EXPECT_OK(react.get());
  EXPECT_EQ(QueryInt("SELECT request FROM members WHERE user_id = " + std::to_string(alice_.id) +
                     " AND room_id = " + std::to_string(dm.first.id)), 0);
}

// Every write batch takes the event counter row at its BEGIN, before any
// other lock (schema/pg/event_log.h), so a batch that holds it never waits
// for another batch. Taken at a batch's first append instead, a later
// write of a batch that held it waited for a row that another pool's
// batch had locked before asking for the counter row: a cycle, which
// PostgreSQL broke after deadlock_timeout with 503 to one side and every
// pool's writes stalled meanwhile. Here two professors answer one question
// on two pools, pool A's batch having sent something first.
TEST_F(StorePgRaceTest, ABatchHoldingTheCounterRowWaitsForNoOtherBatch) {
  ASSERT_OK_AND_ASSIGN(Room lab, store_->CreateRoom(alice_, "lab", RoomKind::kQa, std::nullopt));
  User bob = NewUser("bob"), carol = NewUser("carol");
  JoinOk(bob, lab.id);
  JoinOk(carol, lab.id);
  ASSERT_OK(SetRole(alice_, lab.id, "carol", Role::kProfessor).status());
  ASSERT_OK_AND_ASSIGN(SendResult q, store_->Send(bob, lab.id, "why?", std::nullopt));
  ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
  ASSERT_OK(store_->Send(bob, kGeneral, "the batch's first write", std::nullopt).status());
  auto theirs = std::async(std::launch::async, [&]() -> Status {
    PARLEY_ASSIGN_OR_RETURN(auto other_batch, other_->BeginBatch());
    Status answered = other_->Answer(carol, q.message.id, "carol's", std::nullopt).status();
    PARLEY_RETURN_IF_ERROR(other_batch->Commit());
    return answered;
  });
  ASSERT_TRUE(SomeoneWaits()) << "pool B's batch must wait for pool A's";
  const auto start = std::chrono::steady_clock::now();
  Result<SendResult> mine = store_->Answer(alice_, q.message.id, "alice's", std::nullopt);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_OK(batch->Commit());
  EXPECT_OK(mine.status());
  Status st = theirs.get();
  EXPECT_EQ(st.reason(), "already_answered") << st.ToString();
  // The cycle's cost was deadlock_timeout (1 s by default): far less here.
  EXPECT_LT(waited, std::chrono::milliseconds(500));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM answers WHERE question_id = " + std::to_string(q.message.id)), 1);
}

TEST_F(StorePgRaceTest, TwoNewEmojiOnTwoPoolsAtTheBoundLetOneThrough) {
  ASSERT_OK_AND_ASSIGN(SendResult sent, store_->Send(alice_, kGeneral, "vote", std::nullopt));
  const int64_t id = sent.message.id;
  // 49 different emoji (20 a person at most), then two new ones at once.
  std::vector<User> people = {alice_, NewUser("bob"), NewUser("carol")};
  for (int i = 0; i < kEmojiPerMessage - 1; ++i) {
    ASSERT_OK(store_->React(people[i / kReactionsPerPerson], id, "e" + std::to_string(i), true)) << i;
  }
  User dave = NewUser("dave"), erin = NewUser("erin");
  ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
  ASSERT_OK(store_->React(dave, id, "fiftieth", true));
  auto second = std::async(std::launch::async, [&] { return other_->React(erin, id, "fifty-first", true).status(); });
  ASSERT_TRUE(SomeoneWaits()) << "the second add must wait for the first's COMMIT";
  ASSERT_OK(batch->Commit());
  Status st = second.get();
  EXPECT_EQ(st.reason(), "reaction_limit_reached") << st.ToString();
  EXPECT_EQ(QueryInt("SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message_id = " + std::to_string(id)),
            kEmojiPerMessage);
}

TEST_F(StorePgRaceTest, TwoSendsWithOneClientIdStoreOne) {
  ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
  ASSERT_OK_AND_ASSIGN(SendResult first, store_->Send(alice_, kGeneral, "once", std::string("c-1")));
  EXPECT_TRUE(first.created);
  // The second send, on another connection, cannot see the first yet: it
  // goes on to insert and waits (for the counter row, then the client_id).
  auto second =
      std::async(std::launch::async, [&] { return other_->Send(alice_, kGeneral, "once", std::string("c-1")); });
  ASSERT_TRUE(SomeoneWaits()) << "the second send must wait for the first's COMMIT";
  ASSERT_OK(batch->Commit());
  ASSERT_OK_AND_ASSIGN(SendResult again, second.get());
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.message.id, first.message.id);
  EXPECT_EQ(MessagesOf(alice_), 1);
  // The rolled-back attempt left no hole in the log.
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM events"), QueryInt("SELECT MAX(id) FROM events"));
}

TEST_F(StorePgRaceTest, ASendThatWaitedForAnotherPoolsBatchTakesTheNextPlaceInTheRoom) {
  // A message's place in its room (migration 011) counts on from the room's
  // head row as committed when the send's wait for the batch ends; so does
  // its place among its author's there (016).
  const int64_t before = QueryInt("SELECT message_seq FROM room_heads WHERE room_id = " + std::to_string(kGeneral));
  ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
  ASSERT_OK(store_->Send(alice_, kGeneral, "one", std::nullopt).status());
  ASSERT_OK(store_->Send(alice_, kGeneral, "two", std::nullopt).status());
  auto second = std::async(std::launch::async, [&] { return other_->Send(alice_, kGeneral, "three", std::nullopt); });
  ASSERT_TRUE(SomeoneWaits()) << "the other pool's send must wait for the batch's COMMIT";
  ASSERT_OK(batch->Commit());
  ASSERT_OK(second.get().status());
  auto place = [this](const char* text) {
    return QueryInt("SELECT seq FROM messages WHERE text = '" + std::string(text) + "'");
  };
  EXPECT_EQ(place("one"), before + 1);
  EXPECT_EQ(place("two"), before + 2);
  EXPECT_EQ(place("three"), before + 3);
  // And its place among its author's (migration 016): the trigger's lookup
  // after the head row's lock sees the batch's messages once committed.
  auto author_place = [this](const char* text) {
    return QueryInt("SELECT author_seq FROM messages WHERE text = '" + std::string(text) + "'");
  };
  EXPECT_EQ(author_place("two"), author_place("one") + 1);
  EXPECT_EQ(author_place("three"), author_place("one") + 2);
  const User bob = NewUser("bob");
  ASSERT_OK(store_->Join(bob, kGeneral));
  ASSERT_OK_AND_ASSIGN(Room view, store_->GetRoom(bob, kGeneral));
  EXPECT_EQ(view.unread, QueryInt("SELECT COUNT(*) FROM messages WHERE room_id = " + std::to_string(kGeneral)));
}

TEST_F(StorePgRaceTest, AnEditWaitingForADeleteFindsTheTombstone) {
  ASSERT_OK_AND_ASSIGN(SendResult sent, store_->Send(alice_, kGeneral, "secret draft", std::nullopt));
  ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
  ASSERT_OK(store_->Delete(alice_, sent.message.id));
  auto edit = std::async(std::launch::async, [&] { return other_->Edit(alice_, sent.message.id, "revived"); });
  ASSERT_TRUE(SomeoneWaits()) << "the edit must wait for the delete's row lock";
  ASSERT_OK(batch->Commit());
  Result<Message> r = edit.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kConflict) << r.status().ToString();
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages WHERE text <> ''"), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM events WHERE data LIKE '%revived%' OR data LIKE '%secret%'"), 0);
}

TEST_F(StorePgRaceTest, ALoginThatWaitedForAnotherIsToldTheBackoffNotMore) {
  // Another attempt holds the account's throttle row, and after a while
  // blocks it for the 15 s backoff, counted from then. The attempt that
  // waited for that row must count from when it got it: its Retry-After is
  // at most 15 s (it was 17 when it counted from before its wait).
  ASSERT_OK(raw_->ExecScript(
      "BEGIN; INSERT INTO login_throttle (account, address, failures, last_ts, blocked_until) "
      "VALUES ('guessed', '127.0.0.1', 0, 0, 0)"));
  auto login = std::async(std::launch::async, [&] { return other_->BeginLogin("guessed", "127.0.0.1"); });
  ASSERT_TRUE(SomeoneWaits()) << "the login must wait for the other attempt's row";
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  // The clock in whole milliseconds, cut as NowMs() cuts it: a cast alone
  // rounds, and a block stamped up to half a millisecond ahead of the
  // waiter's clock read 15,001 ms away, Retry-After 16 (1 run in ~12).
  ASSERT_OK(raw_->ExecScript(
      "UPDATE login_throttle SET failures = 5, "
      "last_ts = floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint, "
      "blocked_until = floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint + 15000 "
      "WHERE account = 'guessed'; COMMIT"));
  Status st = login.get();
  ASSERT_EQ(st.code(), Code::kThrottled) << st.ToString();
  EXPECT_GE(st.retry_after_s(), 14);
  EXPECT_LE(st.retry_after_s(), 15) << st.ToString();
}

// A rename to a name that another pool's room takes at the same moment:
// the rename's UPDATE waits on the name index for that transaction, and
// then answers 409 room_name_taken, not a 5xx; had it rolled back, the name
// is free and the rename goes through.
TEST_F(StorePgRaceTest, ARenameToANameAnotherPoolIsTakingWaitsAndIsTaken) {
  ASSERT_OK_AND_ASSIGN(Room club, store_->CreateRoom(alice_, "club", RoomKind::kPublic, std::nullopt));
  auto rename = [&](Storage& s, const char* name) {
    RoomUpdate u;
    u.name = name;
    return s.UpdateRoom(alice_, club.id, u);
  };
  for (const char* end : {"ROLLBACK", "COMMIT"}) {
    SCOPED_TRACE(end);
    ASSERT_OK(raw_->ExecScript("BEGIN; INSERT INTO rooms (name, kind, created_ts) VALUES ('lounge', 'public', 0)"));
    auto renamed = std::async(std::launch::async, [&] { return rename(*other_, "Lounge"); });
    ASSERT_TRUE(SomeoneWaits()) << "the rename must wait for the other room's name";
    ASSERT_OK(raw_->ExecScript(end));
    Result<Room> r = renamed.get();
    if (std::string(end) == "COMMIT") {
      EXPECT_ERROR(r, Code::kConflict, "room_name_taken");
    } else {
      ASSERT_OK(r);
      EXPECT_EQ(r->name, "Lounge");
      ASSERT_OK(rename(*store_, "club"));  // back, for the next round
    }
  }
  ASSERT_OK_AND_ASSIGN(Room still, store_->GetRoom(alice_, club.id));
  EXPECT_EQ(still.name, "club");
}

// A room whose name passes for one another pool is creating at the same
// moment (`L0unge` beside `lounge`): the names are two to rooms_name, so
// nothing but PgStore::LockRoomName's lock of the skeleton (class
// 1919905645, taken here as that pool's CreateRoom takes it) makes the
// creation wait; it then sees the other room, 409 room_name_taken, or, had
// that one rolled back, goes through. Without the lock both checks ran
// before either insert committed and both rooms were made.
// The name's lock is tried, not waited for (LockRoomName): the loser is
// answered 503 at once, and a try after the other ends is answered as that
// end decides.
TEST_F(StorePgRaceTest, ARoomNameThatPassesForOneAnotherPoolIsTakingIsRefusedUntilItEnds) {
  struct Round {
    const char* end;
    const char* taking;  // the other pool's
    const char* lookalike;
  };
  for (const Round& round : {Round{"ROLLBACK", "lounge", "L0unge"}, Round{"COMMIT", "parlour", "par1our"}}) {
    SCOPED_TRACE(round.end);
    ASSERT_OK(raw_->ExecScript("BEGIN; SELECT pg_advisory_xact_lock(1919905645, hashtext(current_schema() || ' ' || " +
                               RoomNameSkeletonSql("lower('" + std::string(round.taking) + "' COLLATE \"C\")") +
                               ")); INSERT INTO rooms (name, kind, created_ts) VALUES ('" + round.taking +
                               "', 'public', 0)"));
    EXPECT_ERROR(other_->CreateRoom(alice_, round.lookalike, RoomKind::kPublic, std::nullopt), Code::kUnavailable,
                 "busy");
    ASSERT_OK(raw_->ExecScript(round.end));
    Result<Room> r = other_->CreateRoom(alice_, round.lookalike, RoomKind::kPublic, std::nullopt);
    if (std::string(round.end) == "COMMIT") {
      EXPECT_ERROR(r, Code::kConflict, "room_name_taken");
    } else {
      EXPECT_OK(r);
    }
  }
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM rooms WHERE name IN ('lounge', 'L0unge', 'parlour', 'par1our')"), 2);
}

// A ban and a join of the same room on two pools, each way round. The
// join's ban check and the ban's removal of the member row both ran before
// either committed, so each missed the other: the banned user stayed a
// member and could still send (the audit saw it 33 times in 60). The ban
// now locks the room row FOR NO KEY UPDATE, a way in FOR SHARE before its
// ban check, so the one that comes second waits for the other's COMMIT and
// then sees it.
TEST_F(StorePgRaceTest, ABanAndAJoinOnTwoPoolsAreOrdered) {
  ASSERT_OK_AND_ASSIGN(Room club, store_->CreateRoom(alice_, "club", RoomKind::kPublic, std::nullopt));
  {
    SCOPED_TRACE("the join first, the ban while it is open");
    User eve = NewUser("eve");
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    ASSERT_OK(store_->Join(eve, club.id));
    auto ban = std::async(std::launch::async, [&] { return other_->BanUser(alice_, club.id, "eve", "spam"); });
    ASSERT_TRUE(SomeoneWaits()) << "the ban must wait for the join's COMMIT";
    ASSERT_OK(batch->Commit());
    ASSERT_OK(ban.get());
    EXPECT_EQ(IsMember(eve, club.id), 0) << "the ban removed the member the join made";
    EXPECT_ERROR(store_->Send(eve, club.id, "still here?", std::nullopt), Code::kForbidden, "not_a_member");
  }
  {
    SCOPED_TRACE("the ban first, the join while it is open");
    User frank = NewUser("frank");
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    ASSERT_OK(store_->BanUser(alice_, club.id, "frank", "spam"));
    auto join = std::async(std::launch::async, [&] { return other_->Join(frank, club.id).status(); });
    ASSERT_TRUE(SomeoneWaits()) << "the join must wait for the ban's COMMIT";
    ASSERT_OK(batch->Commit());
    EXPECT_ERROR(join.get(), Code::kForbidden, "banned");
    EXPECT_EQ(IsMember(frank, club.id), 0);
    EXPECT_ERROR(store_->Send(frank, club.id, "let me in", std::nullopt), Code::kForbidden, "not_a_member");
  }
  {
    SCOPED_TRACE("an invite first, the ban while it is open");
    User grace = NewUser("grace");
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    ASSERT_OK(store_->Invite(alice_, club.id, "grace").status());
    auto ban = std::async(std::launch::async, [&] { return other_->BanUser(alice_, club.id, "grace", "spam"); });
    ASSERT_TRUE(SomeoneWaits()) << "the ban must wait for the invite's COMMIT";
    ASSERT_OK(batch->Commit());
    ASSERT_OK(ban.get());
    EXPECT_EQ(IsMember(grace, club.id), 0);
    EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM invitations WHERE user_id = " + std::to_string(grace.id)), 0)
        << "the ban dropped the invitation the invite made";
    EXPECT_FALSE(store_->Join(grace, club.id).ok());
  }
}

// An invitation racing, on another pool, the invitee's block of the
// inviter, their accept of an earlier invitation, or a ban (an audit's
// findings: 16 blocked inviters' invitations left standing in 190 races, 28
// members given a fresh invitation that outlived a kick in 150, 7 deadlocks
// of an accept and a ban in 150). The invitee's user row orders the first
// two (Invite FOR SHARE, Block and Join FOR NO KEY UPDATE), the room row
// the last (Join takes it before the invitation, as a ban does).
TEST_F(StorePgRaceTest, InvitationsRacingABlockAnAcceptOrABanAreOrdered) {
  ASSERT_OK_AND_ASSIGN(Room club, store_->CreateRoom(alice_, "club", RoomKind::kPrivate, std::nullopt));
  auto invitations = [&](const User& u) {
    return QueryInt("SELECT COUNT(*) FROM invitations WHERE user_id = " + std::to_string(u.id));
  };
  {
    SCOPED_TRACE("the invite first, the invitee's block while it is open");
    User v = NewUser("v1");
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    ASSERT_OK(store_->Invite(alice_, club.id, "v1").status());
    auto block = std::async(std::launch::async, [&] { return other_->Block(v, "alice"); });
    ASSERT_TRUE(SomeoneWaits()) << "the block must wait for the invite's COMMIT";
    ASSERT_OK(batch->Commit());
    ASSERT_OK(block.get());
    EXPECT_EQ(invitations(v), 0) << "the block dropped the invitation the invite made";
  }
  {
    SCOPED_TRACE("the block first, the invite while it is open");
    User v = NewUser("v2");
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    ASSERT_OK(store_->Block(v, "alice"));
    auto invite = std::async(std::launch::async, [&] { return other_->Invite(alice_, club.id, "v2").status(); });
    ASSERT_TRUE(SomeoneWaits()) << "the invite must wait for the block's COMMIT";
    ASSERT_OK(batch->Commit());
    EXPECT_ERROR(invite.get(), Code::kForbidden, "blocked");
    EXPECT_EQ(invitations(v), 0);
  }
  {
    SCOPED_TRACE("the accept first, a second invitation while it is open");
    User v = NewUser("v3");
    ASSERT_OK(store_->Invite(alice_, club.id, "v3").status());
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    ASSERT_OK(store_->Join(v, club.id));
    auto again = std::async(std::launch::async, [&] { return other_->Invite(alice_, club.id, "v3"); });
    ASSERT_TRUE(SomeoneWaits()) << "the invite must wait for the accept's COMMIT";
    ASSERT_OK(batch->Commit());
    ASSERT_OK_AND_ASSIGN(Invited done, again.get());
    EXPECT_TRUE(done.member.has_value()) << "a member by then: no invitation";
    EXPECT_EQ(invitations(v), 0);
  }
  {
    SCOPED_TRACE("the ban first, the accept while it is open");
    User v = NewUser("v4");
    ASSERT_OK(store_->Invite(alice_, club.id, "v4").status());
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    ASSERT_OK(store_->BanUser(alice_, club.id, "v4", "spam"));
    auto join = std::async(std::launch::async, [&] { return other_->Join(v, club.id).status(); });
    ASSERT_TRUE(SomeoneWaits()) << "the accept must wait for the ban's COMMIT";
    ASSERT_OK(batch->Commit());
    EXPECT_ERROR(join.get(), Code::kNotFound, "room_not_found");  // the ban took the invitation
    EXPECT_EQ(IsMember(v, club.id), 0);
  }
  {
    SCOPED_TRACE("the accept first, the ban while it is open");
    User v = NewUser("v5");
    ASSERT_OK(store_->Invite(alice_, club.id, "v5").status());
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    ASSERT_OK(store_->Join(v, club.id));
    auto ban = std::async(std::launch::async, [&] { return other_->BanUser(alice_, club.id, "v5", "spam"); });
    ASSERT_TRUE(SomeoneWaits()) << "the ban must wait for the accept's COMMIT";
    ASSERT_OK(batch->Commit());
    ASSERT_OK(ban.get());
    EXPECT_EQ(IsMember(v, club.id), 0) << "the ban removed the member the accept made";
  }
}

// A send that re-uses upload X while the message that carried it is
// deleted on another pool. The delete picked X as carried by no live
// message (the send's attachment row not committed yet) and its DELETE
// waited on the send's lock of X; once the send committed, the delete went
// ahead and the cascade took the send's attachment row away: the send was
// answered 201 with X, and X was gone (the audit saw it 9 times in 40). The
// delete now locks X first and decides, in a later statement, on what has
// committed by then.
TEST_F(StorePgRaceTest, ADeleteRacingASendThatReusesItsUploadLeavesTheUpload) {
  ASSERT_OK_AND_ASSIGN(Upload x, NewUpload(alice_));
  ASSERT_OK_AND_ASSIGN(SendResult a, store_->Send(alice_, kGeneral, "first", std::nullopt, std::nullopt, {x.id}));
  ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
  ASSERT_OK_AND_ASSIGN(SendResult b, store_->Send(alice_, kGeneral, "again", std::nullopt, std::nullopt, {x.id}));
  auto del = std::async(std::launch::async, [&] { return other_->Delete(alice_, a.message.id); });
  ASSERT_TRUE(SomeoneWaits()) << "the delete must wait for the send's lock on the upload";
  ASSERT_OK(batch->Commit());
  ASSERT_OK(del.get());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM message_attachments WHERE message_id = " + std::to_string(b.message.id) +
                     " AND upload_id = " + std::to_string(x.id)),
            1);
  EXPECT_OK(store_->ReadableUpload(alice_, x.id)) << "the send still carries it";
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM upload_trash"), 0);
  ASSERT_OK_AND_ASSIGN(HistoryPage h, store_->History(alice_, kGeneral, std::nullopt, std::nullopt, 50));
  bool found = false;
  for (const Message& m : h.messages) {
    if (m.id != b.message.id) continue;
    found = true;
    ASSERT_EQ(m.attachments.size(), 1u);
    EXPECT_EQ(m.attachments[0].id, x.id);
  }
  EXPECT_TRUE(found);
  // And once no live message carries it, a delete does drop it.
  ASSERT_OK(store_->Delete(alice_, b.message.id));
  EXPECT_ERROR(store_->ReadableUpload(alice_, x.id), Code::kNotFound, "upload_not_found");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM upload_trash"), 1);
}

// The locks of a send that attaches X and of a delete that releases X, in
// the one order: the upload before the event counter row. The delete locks
// X, then appends its event (the counter row); the send took the counter
// row first and X after, so each held what the other waited for (the audit
// saw one such deadlock, answered 503). Here the delete's two locks are
// taken by hand, X first; the send waits for X without holding the counter
// row, so the delete's append does not wait for the send.
TEST_F(StorePgRaceTest, ASendLocksItsUploadsBeforeTheCounterRow) {
  ASSERT_OK_AND_ASSIGN(Upload x, NewUpload(alice_));
  ASSERT_OK(raw_->ExecScript("BEGIN; SELECT id FROM uploads WHERE id = " + std::to_string(x.id) + " FOR UPDATE"));
  auto send = std::async(std::launch::async, [&] {
    return other_->Send(alice_, kGeneral, "with x", std::nullopt, std::nullopt, {x.id});
  });
  ASSERT_TRUE(SomeoneWaits()) << "the send must wait for the upload";
  EXPECT_OK(raw_->Exec("SELECT last FROM event_counter FOR UPDATE").status())
      << "the send held the counter row while it waited for the upload";
  ASSERT_OK(raw_->ExecScript("ROLLBACK"));
  ASSERT_OK_AND_ASSIGN(SendResult sent, send.get());
  ASSERT_EQ(sent.message.attachments.size(), 1u);
  EXPECT_EQ(sent.message.attachments[0].id, x.id);
}

// One professor answers two questions at once on two pools in a room with
// answers_per_professor. Each answer locked the professor's member row FOR
// SHARE, then again FOR UPDATE for the count: both held the share lock and
// each waited for the other's to upgrade, a deadlock that answered one of
// them 503. The row is now taken FOR UPDATE once, from the start. Here a
// third transaction (an edit of the professor's, say) holds the row FOR
// SHARE meanwhile, so that both answers are under way before either goes on.
TEST_F(StorePgRaceTest, TwoAnswersOfOneProfessorOnTwoPoolsDoNotDeadlock) {
  ASSERT_OK_AND_ASSIGN(Room lab, store_->CreateRoom(alice_, "lab", RoomKind::kQa, 2));
  User bob = NewUser("bob");
  ASSERT_OK(store_->Join(bob, lab.id).status());
  ASSERT_OK_AND_ASSIGN(SendResult q1, store_->Send(bob, lab.id, "q1", std::nullopt));
  ASSERT_OK_AND_ASSIGN(SendResult q2, store_->Send(bob, lab.id, "q2", std::nullopt));
  ASSERT_OK(raw_->ExecScript("BEGIN; SELECT 1 FROM members WHERE room_id = " + std::to_string(lab.id) +
                             " AND user_id = " + std::to_string(alice_.id) + " FOR SHARE"));
  auto first = std::async(std::launch::async, [&] { return store_->Answer(alice_, q1.message.id, "a1", std::nullopt); });
  ASSERT_TRUE(SomeoneWaits(1)) << "the first answer must wait for the member row";
  auto second =
      std::async(std::launch::async, [&] { return other_->Answer(alice_, q2.message.id, "a2", std::nullopt); });
  ASSERT_TRUE(SomeoneWaits(2)) << "both answers must wait";
  ASSERT_OK(raw_->ExecScript("ROLLBACK"));
  EXPECT_OK(first.get().status());
  EXPECT_OK(second.get().status());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM answers WHERE professor_id = " + std::to_string(alice_.id)), 2);
}

}  // namespace
}  // namespace parley
