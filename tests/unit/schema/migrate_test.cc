// schema/migrate.cc: numbered migrations under PRAGMA user_version.
#include "schema/migrate.h"

#include <gtest/gtest.h>

#include <string>

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
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM meta"), 1);
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

}  // namespace
}  // namespace parley
