// schema/write_batch.cc and the savepoint mode of Transaction: the same
// Store methods inside one batch (group commit, issue 9), on a real file.
#include "schema/write_batch.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "schema/crypto.h"
#include "schema/store.h"
#include "tests/unit/temp_db.h"

namespace parley {
namespace {

using test::kFakeHash;
using test::kGeneral;

class WriteBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(CryptoInit());
    db_ = test::OpenDb(dir_.File("parley.db"));
    ASSERT_NE(db_, nullptr);
    // A second connection, as another thread or process reads.
    reader_db_ = test::OpenDb(dir_.File("parley.db"), false);
    ASSERT_NE(reader_db_, nullptr);
    Reopen(Limits{});
    alice_ = NewUser("alice");
    bob_ = NewUser("bob");
    (void)store_->TakeNotifyHead();
  }
  void Reopen(const Limits& limits) {
    store_ = std::make_unique<Store>(*db_, limits);
    reader_ = std::make_unique<Store>(*reader_db_, limits);
  }
  User NewUser(const std::string& name) {
    auto u = store_->CreateUser(name, kFakeHash);
    EXPECT_OK(u) << name;
    return u.ok() ? *u : User{};
  }
  int64_t Count(Db& db, const std::string& sql) {
    auto s = db.Prepare(sql);
    EXPECT_OK(s);
    if (!s.ok()) return -1;
    auto row = s->Step();
    EXPECT_OK(row);
    return row.ok() && *row ? s->Int(0) : -1;
  }
  int64_t ReaderHead() {
    auto h = reader_->Head();
    EXPECT_OK(h);
    return h.ok() ? *h : -1;
  }

  test::TempDir dir_;
  std::unique_ptr<Db> db_, reader_db_;
  std::unique_ptr<Store> store_, reader_;
  User alice_, bob_;
};

TEST_F(WriteBatchTest, WritesAreInvisibleUntilCommitThenAllThere) {
  const int64_t h = ReaderHead();
  ASSERT_OK_AND_ASSIGN(auto batch, WriteBatch::Begin(*db_));
  EXPECT_TRUE(db_->in_batch());
  ASSERT_OK_AND_ASSIGN(SendResult a, store_->Send(alice_, kGeneral, "one", std::string("a-1")));
  ASSERT_OK_AND_ASSIGN(SendResult b, store_->Send(bob_, kGeneral, "two", std::nullopt));
  // Ids in the order the writes ran, no gap.
  EXPECT_EQ(a.message.id, h + 1);
  EXPECT_EQ(b.message.id, h + 2);
  // The batch's own connection sees its writes; others do not, yet.
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM messages"), 2);
  EXPECT_EQ(Count(*reader_db_, "SELECT COUNT(*) FROM messages"), 0);
  EXPECT_EQ(ReaderHead(), h);
  const uint64_t commits = db_->commits();
  ASSERT_OK(batch->Commit());
  EXPECT_FALSE(db_->in_batch());
  EXPECT_FALSE(db_->writing());
  EXPECT_EQ(db_->commits(), commits + 1);  // one commit, so one sync, for both
  EXPECT_EQ(Count(*reader_db_, "SELECT COUNT(*) FROM messages"), 2);
  EXPECT_EQ(ReaderHead(), h + 2);
  EXPECT_EQ(store_->TakeNotifyHead(), h + 2);  // once for the batch: its highest id
}

TEST_F(WriteBatchTest, ABatchNotCommittedLeavesNothing) {
  const int64_t h = ReaderHead();
  {
    ASSERT_OK_AND_ASSIGN(auto batch, WriteBatch::Begin(*db_));
    ASSERT_OK(store_->Send(alice_, kGeneral, "lost", std::nullopt));
  }
  EXPECT_FALSE(db_->writing());
  EXPECT_EQ(Count(*db_, "SELECT COUNT(*) FROM messages"), 0);
  EXPECT_EQ(ReaderHead(), h);
  // The connection writes on normally afterwards, in transactions of its own.
  ASSERT_OK(store_->Send(alice_, kGeneral, "kept", std::nullopt));
  EXPECT_EQ(Count(*reader_db_, "SELECT COUNT(*) FROM messages"), 1);
}

TEST_F(WriteBatchTest, AFailedWriteRollsBackOnlyItsSavepoint) {
  ASSERT_OK_AND_ASSIGN(Room priv, store_->CreateRoom(alice_, "secret", RoomKind::kPrivate, std::nullopt));
  ASSERT_OK_AND_ASSIGN(Room lobby, store_->CreateRoom(alice_, "lobby", RoomKind::kPublic, std::nullopt));
  const int64_t h = ReaderHead();
  ASSERT_OK_AND_ASSIGN(auto batch, WriteBatch::Begin(*db_));
  ASSERT_OK_AND_ASSIGN(SendResult a, store_->Send(alice_, kGeneral, "before", std::nullopt));
  EXPECT_ERROR(store_->Send(bob_, priv.id, "not mine", std::nullopt), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Send(bob_, lobby.id, "not joined", std::nullopt), Code::kForbidden, "not_a_member");
  // Refused after its reads, inside its savepoint: a reply to another room's message.
  EXPECT_ERROR(store_->Send(alice_, lobby.id, "bad reply", std::nullopt, a.message.id), Code::kInvalid,
               "invalid_reply");
  ASSERT_OK_AND_ASSIGN(SendResult b, store_->Send(alice_, kGeneral, "after", std::nullopt));
  EXPECT_EQ(b.message.id, a.message.id + 1);  // the failures took no id
  ASSERT_OK(batch->Commit());
  EXPECT_EQ(ReaderHead(), h + 2);
  EXPECT_EQ(Count(*reader_db_, "SELECT COUNT(*) FROM messages"), 2);
  EXPECT_EQ(Count(*reader_db_, "SELECT COUNT(*) FROM events WHERE id > " + std::to_string(h)), 2);
}

TEST_F(WriteBatchTest, ClientIdIsIdempotentInsideABatch) {
  ASSERT_OK_AND_ASSIGN(Room lobby, store_->CreateRoom(alice_, "lobby", RoomKind::kPublic, std::nullopt));
  ASSERT_OK_AND_ASSIGN(auto batch, WriteBatch::Begin(*db_));
  ASSERT_OK_AND_ASSIGN(SendResult first, store_->Send(alice_, kGeneral, "hi", std::string("c-1")));
  EXPECT_TRUE(first.created);
  ASSERT_OK_AND_ASSIGN(SendResult again, store_->Send(alice_, kGeneral, "hi", std::string("c-1")));
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.message.id, first.message.id);
  // The same id naming another message is refused, and only that write.
  EXPECT_ERROR(store_->Send(alice_, lobby.id, "elsewhere", std::string("c-1")), Code::kConflict,
               "client_id_reused");
  ASSERT_OK(batch->Commit());
  EXPECT_EQ(Count(*reader_db_, "SELECT COUNT(*) FROM messages"), 1);
  // And across batches, as across transactions.
  ASSERT_OK_AND_ASSIGN(auto batch2, WriteBatch::Begin(*db_));
  ASSERT_OK_AND_ASSIGN(SendResult later, store_->Send(alice_, kGeneral, "hi", std::string("c-1")));
  EXPECT_FALSE(later.created);
  EXPECT_EQ(later.message.id, first.message.id);
  ASSERT_OK(batch2->Commit());
  EXPECT_EQ(Count(*reader_db_, "SELECT COUNT(*) FROM messages"), 1);
}

TEST_F(WriteBatchTest, TheFirstAnswerWinsInsideABatch) {
  User carol = NewUser("carol");
  ASSERT_OK_AND_ASSIGN(Room qa, store_->CreateRoom(alice_, "Physics", RoomKind::kQa, std::nullopt));
  ASSERT_OK(store_->Join(bob_, qa.id));
  ASSERT_OK(store_->Join(carol, qa.id));
  ASSERT_OK(store_->UpdateMember(alice_, qa.id, "carol", MemberUpdate{Role::kProfessor, std::nullopt, std::nullopt}));
  ASSERT_OK_AND_ASSIGN(SendResult q, store_->Send(bob_, qa.id, "why?", std::nullopt));

  ASSERT_OK_AND_ASSIGN(auto batch, WriteBatch::Begin(*db_));
  ASSERT_OK_AND_ASSIGN(SendResult a, store_->Answer(alice_, q.message.id, "because", std::nullopt));
  EXPECT_ERROR(store_->Answer(carol, q.message.id, "me too", std::nullopt), Code::kConflict, "already_answered");
  ASSERT_OK(batch->Commit());
  EXPECT_EQ(Count(*reader_db_, "SELECT COUNT(*) FROM messages WHERE kind = 'answer'"), 1);
  EXPECT_EQ(Count(*reader_db_, "SELECT answer_id FROM answers WHERE question_id = " + std::to_string(q.message.id)),
            a.message.id);
}

TEST_F(WriteBatchTest, MembershipIsCheckedAgainstEarlierWritesOfTheBatch) {
  ASSERT_OK_AND_ASSIGN(Room lobby, store_->CreateRoom(alice_, "lobby", RoomKind::kPublic, std::nullopt));
  ASSERT_OK_AND_ASSIGN(auto batch, WriteBatch::Begin(*db_));
  ASSERT_OK(store_->Join(bob_, lobby.id));
  ASSERT_OK(store_->Send(bob_, lobby.id, "in", std::nullopt));
  ASSERT_OK(store_->Leave(bob_, lobby.id));
  EXPECT_ERROR(store_->Send(bob_, lobby.id, "one more", std::nullopt), Code::kForbidden, "not_a_member");
  ASSERT_OK(batch->Commit());
  EXPECT_EQ(Count(*reader_db_, "SELECT COUNT(*) FROM messages WHERE room_id = " + std::to_string(lobby.id)), 1);
}

TEST_F(WriteBatchTest, QuotasCountEveryWriteOfTheBatch) {
  Limits limits;
  limits.rate(WriteClass::kSend) = Rate{0.001, 2};
  Reopen(limits);
  ASSERT_OK_AND_ASSIGN(auto batch, WriteBatch::Begin(*db_));
  ASSERT_OK(store_->Send(bob_, kGeneral, "1", std::nullopt));
  ASSERT_OK(store_->Send(bob_, kGeneral, "2", std::nullopt));
  EXPECT_ERROR(store_->Send(bob_, kGeneral, "3", std::nullopt), Code::kThrottled, "throttled");
  ASSERT_OK(store_->Send(alice_, kGeneral, "alice has her own bucket", std::nullopt));
  ASSERT_OK(batch->Commit());
  EXPECT_EQ(Count(*reader_db_, "SELECT COUNT(*) FROM messages"), 3);
  // The spent tokens were committed with the batch.
  EXPECT_ERROR(store_->Send(bob_, kGeneral, "4", std::nullopt), Code::kThrottled, "throttled");
}

TEST_F(WriteBatchTest, ABatchExcludesOtherWritersUntilItCommits) {
  auto other_db = test::OpenDb(dir_.File("parley.db"), false, 50);
  ASSERT_NE(other_db, nullptr);
  Store other(*other_db);
  ASSERT_OK_AND_ASSIGN(auto batch, WriteBatch::Begin(*db_));
  ASSERT_OK(store_->Send(alice_, kGeneral, "batched", std::nullopt));
  EXPECT_EQ(other.Send(bob_, kGeneral, "alone", std::nullopt).status().code(), Code::kUnavailable);
  ASSERT_OK(batch->Commit());
  ASSERT_OK_AND_ASSIGN(SendResult alone, other.Send(bob_, kGeneral, "alone", std::nullopt));
  EXPECT_EQ(Count(*reader_db_, "SELECT MAX(id) FROM messages"), alone.message.id);
}

TEST_F(WriteBatchTest, NoBatchInsideAWriteAndNoneTwice) {
  ASSERT_OK_AND_ASSIGN(auto batch, WriteBatch::Begin(*db_));
  EXPECT_EQ(WriteBatch::Begin(*db_).status().code(), Code::kInternal);
  ASSERT_OK(batch->Commit());
  EXPECT_EQ(batch->Commit().code(), Code::kInternal);
}

TEST(SyncTest, ParsesTheTwoModesAndSetsThePragma) {
  EXPECT_EQ(ParseSync("full"), Sync::kFull);
  EXPECT_EQ(ParseSync("normal"), Sync::kNormal);
  EXPECT_EQ(ParseSync("off"), std::nullopt);
  EXPECT_EQ(ParseSync(""), std::nullopt);
  test::TempDir dir;
  for (auto [sync, want] : {std::pair{Sync::kFull, 2}, std::pair{Sync::kNormal, 1}}) {
    auto db = Db::Open(dir.File("s.db"), 5000, sync);
    ASSERT_OK(db);
    auto s = (*db)->Prepare("PRAGMA synchronous");
    ASSERT_OK(s);
    ASSERT_OK_AND_ASSIGN(bool row, s->Step());
    ASSERT_TRUE(row);
    EXPECT_EQ(s->Int(0), want);
  }
}

}  // namespace
}  // namespace parley
