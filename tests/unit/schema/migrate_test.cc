// schema/migrate.cc: numbered migrations under PRAGMA user_version.
#include "schema/migrate.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "schema/store.h"
#include "tests/unit/temp_db.h"

namespace parley {
namespace {

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::OpenDb(dir_.File("parley.db"), /*migrate=*/false);
    ASSERT_NE(db_, nullptr);
  }

  int64_t QueryInt(const std::string& sql) {
    auto s = db_->Prepare(sql);
    EXPECT_OK(s);
    if (!s.ok()) return -1;
    auto row = s->Step();
    EXPECT_OK(row);
    return row.ok() && *row ? s->Int(0) : -1;
  }
  std::string QueryText(const std::string& sql) {
    auto s = db_->Prepare(sql);
    EXPECT_OK(s);
    if (!s.ok()) return "";
    auto row = s->Step();
    EXPECT_OK(row);
    return row.ok() && *row ? s->Text(0) : "";
  }
  std::string Epoch() { return QueryText("SELECT value FROM meta WHERE key = 'epoch'"); }

  test::TempDir dir_;
  std::unique_ptr<Db> db_;
};

TEST_F(MigrateTest, FreshDatabaseReachesLatestVersion) {
  ASSERT_GE(LatestSchemaVersion(), 1);
  EXPECT_EQ(QueryInt("PRAGMA user_version"), 0);
  ASSERT_OK_AND_ASSIGN(int version, Migrate(*db_));
  EXPECT_EQ(version, LatestSchemaVersion());
  EXPECT_EQ(QueryInt("PRAGMA user_version"), LatestSchemaVersion());
  for (const char* table : {"meta", "users", "sessions", "login_throttle", "write_quota", "rooms", "members", "events",
                            "messages", "answers", "idempotency", "read_markers", "presence"}) {
    EXPECT_EQ(QueryInt(std::string("SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='") + table +
                       "'"),
              1)
        << table;
  }
}

TEST_F(MigrateTest, SecondRunIsANoOp) {
  ASSERT_OK_AND_ASSIGN(int first, Migrate(*db_));
  const int64_t objects = QueryInt("SELECT COUNT(*) FROM sqlite_master");
  const std::string epoch = Epoch();
  ASSERT_OK_AND_ASSIGN(int second, Migrate(*db_));
  EXPECT_EQ(second, first);
  EXPECT_EQ(QueryInt("PRAGMA user_version"), LatestSchemaVersion());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM sqlite_master"), objects);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM rooms"), 1);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM meta"), 2);  // the epoch and the log's floor
  EXPECT_EQ(Epoch(), epoch);
}

TEST_F(MigrateTest, EpochIsSixteenHexAndStable) {
  ASSERT_OK(Migrate(*db_));
  const std::string epoch = Epoch();
  ASSERT_EQ(epoch.size(), 16u) << epoch;
  for (char c : epoch) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << epoch;

  Store store(*db_);
  ASSERT_OK_AND_ASSIGN(std::string via_store, store.Epoch());
  EXPECT_EQ(via_store, epoch);

  // Re-migrating from another connection (another process starting) keeps it.
  auto again = test::OpenDb(dir_.File("parley.db"), /*migrate=*/true);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(Epoch(), epoch);

  // A different database gets a different epoch.
  auto other = test::OpenDb(dir_.File("other.db"), /*migrate=*/true);
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(std::string other_epoch, Store(*other).Epoch());
  EXPECT_NE(other_epoch, epoch);
}

TEST_F(MigrateTest, NewerDatabaseIsRefused) {
  ASSERT_OK(Migrate(*db_));
  const int newer = LatestSchemaVersion() + 1;
  ASSERT_OK(db_->ExecScript("PRAGMA user_version=" + std::to_string(newer)));
  auto r = Migrate(*db_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInternal);
  EXPECT_EQ(QueryInt("PRAGMA user_version"), newer);
  // The refusal leaves no transaction open behind it.
  ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
  EXPECT_OK(tx->Commit());
}

TEST_F(MigrateTest, GeneralRoomExists) {
  ASSERT_OK(Migrate(*db_));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM rooms WHERE name = 'general' AND kind = 'public' AND owner_id IS NULL"),
            1);
  EXPECT_EQ(QueryInt("SELECT id FROM rooms WHERE name = 'general'"), 1);
  // No events yet: the log starts with the first user.
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM events"), 0);
}

TEST_F(MigrateTest, BusyDatabaseIsNotMigratedTwice) {
  auto holder = test::OpenDb(dir_.File("parley.db"), /*migrate=*/false);
  ASSERT_NE(holder, nullptr);
  auto impatient = test::OpenDb(dir_.File("parley.db"), /*migrate=*/false, /*busy_timeout_ms=*/0);
  ASSERT_NE(impatient, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*holder, Transaction::Mode::kWrite));
    EXPECT_EQ(Migrate(*impatient).status().code(), Code::kUnavailable);
  }
  EXPECT_EQ(QueryInt("PRAGMA user_version"), 0);
  ASSERT_OK_AND_ASSIGN(int version, Migrate(*impatient));
  EXPECT_EQ(version, LatestSchemaVersion());
}

// A start finds the schema current while another process holds the write
// lock (an operator's `BEGIN IMMEDIATE` in the sqlite3 shell; here our own
// writer lock and SQLite's both): nothing to write, so no wait for the lock
// and no busy error. Before, Migrate rewrote user_version under the lock on
// every start, and a reload of the pool at such a moment stopped it.
TEST_F(MigrateTest, ACurrentSchemaIsReadWithoutTheWriteLock) {
  ASSERT_OK_AND_ASSIGN(int first, Migrate(*db_));
  auto holder = test::OpenDb(dir_.File("parley.db"), /*migrate=*/false);
  ASSERT_NE(holder, nullptr);
  auto impatient = test::OpenDb(dir_.File("parley.db"), /*migrate=*/false, /*busy_timeout_ms=*/0);
  ASSERT_NE(impatient, nullptr);
  ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*holder, Transaction::Mode::kWrite));
  ASSERT_OK_AND_ASSIGN(int again, Migrate(*impatient));
  EXPECT_EQ(again, first);
  // And it left no transaction open behind it.
  EXPECT_FALSE(impatient->in_transaction());
}

// Two starters at once on a new database: one applies the migrations, the
// other, once it has the lock, finds them applied (the version read again
// under the lock) and applies none twice.
TEST_F(MigrateTest, TwoStartersAtOnceMigrateOnce) {
  auto other = test::OpenDb(dir_.File("parley.db"), /*migrate=*/false);
  ASSERT_NE(other, nullptr);
  Result<int> a = 0, b = 0;
  std::thread t([&] { a = Migrate(*other); });
  b = Migrate(*db_);
  t.join();
  ASSERT_OK(a.status());
  ASSERT_OK(b.status());
  EXPECT_EQ(*a, LatestSchemaVersion());
  EXPECT_EQ(*b, LatestSchemaVersion());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM rooms WHERE name = 'general'"), 1);
}

// A database of version 13 (the migrations up to 13 themselves: the index
// of 008 and 009, text alone) with indexed messages, waiting ones, a
// deleted one, in two rooms, upgraded:
// migration 014 indexes every message with its room, leaves none waiting,
// and the index agrees with the messages (FTS5's integrity check) before
// and after an edit and a delete through the new triggers.
TEST_F(MigrateTest, AnUpgradeTo14IndexesEveryMessageWithItsRoom) {
  ASSERT_OK_AND_ASSIGN(int old, Migrate(*db_, 13));
  ASSERT_EQ(old, 13);
  ASSERT_OK(db_->ExecScript(R"sql(
    INSERT INTO users(id, username, pw_hash, created_ts) VALUES (1, 'ann', 'x', 0);
    INSERT INTO rooms(id, name, kind, created_ts) VALUES (2, 'two', 'public', 0);
    INSERT INTO messages(id, room_id, user_id, kind, text, ts) VALUES
      (1, 1, 1, 'message', 'apple one', 0), (2, 2, 1, 'message', 'apple two', 0),
      (3, 1, 1, 'message', '', 0);
    UPDATE messages SET deleted = 1 WHERE id = 3;
    INSERT INTO messages_fts(rowid, text) SELECT m.id, m.text FROM messages_fts_pending p
      JOIN messages m ON m.id = p.id ORDER BY p.id;
    DELETE FROM messages_fts_pending;
    INSERT INTO messages(id, room_id, user_id, kind, text, ts) VALUES
      (4, 2, 1, 'message', 'apple waiting', 0), (5, 1, 1, 'message', 'pear waiting', 0);
  )sql"));
  ASSERT_EQ(QueryInt("SELECT COUNT(*) FROM messages_fts_pending"), 2);

  ASSERT_OK_AND_ASSIGN(int version, Migrate(*db_));
  EXPECT_EQ(version, LatestSchemaVersion());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages_fts_pending"), 0);
  const auto count = [&](const std::string& match) {
    return QueryInt("SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH '" + match + "'");
  };
  EXPECT_EQ(count("text : \"apple\" AND room_id : \"2\""), 2);
  EXPECT_EQ(count("text : \"apple\" AND room_id : (\"1\" OR \"2\")"), 3);
  EXPECT_EQ(count("text : \"waiting\""), 2);
  EXPECT_OK(db_->ExecScript("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)"));
  EXPECT_EQ(QueryInt("SELECT v FROM messages_fts_config WHERE k = 'crisismerge'"), 64);
  // Edits and deletes through 014's triggers keep it exact.
  ASSERT_OK(db_->ExecScript("UPDATE messages SET text = 'plum two' WHERE id = 2; DELETE FROM messages WHERE id = 1"));
  EXPECT_EQ(count("text : \"apple\""), 1);
  EXPECT_EQ(count("text : \"plum\" AND room_id : \"2\""), 1);
  EXPECT_OK(db_->ExecScript("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)"));
}

}  // namespace
}  // namespace parley
