// schema/db.cc: the RAII layer over SQLite, on real database files.
#include "schema/db.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "tests/unit/temp_db.h"

namespace parley {
namespace {

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::OpenDb(path(), /*migrate=*/false);
    ASSERT_NE(db_, nullptr);
    ASSERT_OK(db_->ExecScript("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB, n INTEGER)"));
  }
  std::string path() const { return dir_.File("db.sqlite"); }

  int64_t CountRows(Db& db) {
    auto s = db.Prepare("SELECT COUNT(*) FROM t");
    EXPECT_OK(s);
    if (!s.ok()) return -1;
    auto row = s->Step();
    EXPECT_OK(row);
    return row.ok() && *row ? s->Int(0) : -1;
  }

  test::TempDir dir_;
  std::unique_ptr<Db> db_;
};

// PRAGMA wal_checkpoint(TRUNCATE) on `db`: the "busy" column (1 = blocked by a reader or writer).
int64_t CheckpointBusy(Db& db) {
  auto s = db.Prepare("PRAGMA wal_checkpoint(TRUNCATE)");
  EXPECT_OK(s);
  if (!s.ok()) return -1;
  auto row = s->Step();
  EXPECT_OK(row);
  if (!row.ok() || !*row) return -1;
  return s->Int(0);
}

TEST_F(DbTest, OpenSetsWalAndForeignKeys) {
  ASSERT_OK_AND_ASSIGN(Statement mode, db_->Prepare("PRAGMA journal_mode"));
  ASSERT_OK_AND_ASSIGN(bool row, mode.Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(mode.Text(0), "wal");

  ASSERT_OK_AND_ASSIGN(Statement fk, db_->Prepare("PRAGMA foreign_keys"));
  ASSERT_OK_AND_ASSIGN(bool fk_row, fk.Step());
  ASSERT_TRUE(fk_row);
  EXPECT_EQ(fk.Int(0), 1);
  EXPECT_EQ(db_->path(), path());

  // The WAL file is truncated back to 64 MiB after a burst.
  ASSERT_OK_AND_ASSIGN(Statement limit, db_->Prepare("PRAGMA journal_size_limit"));
  ASSERT_OK_AND_ASSIGN(bool limit_row, limit.Step());
  ASSERT_TRUE(limit_row);
  EXPECT_EQ(limit.Int(0), 64 * 1024 * 1024);
}

TEST_F(DbTest, ForeignKeysAreEnforced) {
  ASSERT_OK(db_->ExecScript(
      "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
      "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id));"));
  EXPECT_ERROR(db_->ExecScript("INSERT INTO child(id, parent_id) VALUES (1, 42)"), Code::kConflict, "conflict");
}

TEST_F(DbTest, OpenInMissingDirectoryFails) {
  auto db = Db::Open(dir_.File("no/such/dir/db.sqlite"));
  EXPECT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kInternal);
}

TEST_F(DbTest, StatementBindsStepsAndReadsColumns) {
  const std::string text_with_nul("a\0b", 3);
  const std::string blob("\x00\xff\x01", 3);
  {
    ASSERT_OK_AND_ASSIGN(Statement ins, db_->Prepare("INSERT INTO t(id, name, data, n) VALUES (?,?,?,?)"));
    ins.Bind(1, int64_t{7}).Bind(2, text_with_nul).BindBlob(3, blob).Bind(4, INT64_MIN);
    ASSERT_OK(ins.Exec());
    EXPECT_EQ(ins.Changes(), 1);
    EXPECT_EQ(db_->LastInsertId(), 7);
  }
  {
    ASSERT_OK_AND_ASSIGN(Statement ins, db_->Prepare("INSERT INTO t(id, name, data, n) VALUES (?,?,?,?)"));
    ins.Bind(1, INT64_MAX).Bind(2, "plain").BindNull(3).Bind(4, std::optional<int64_t>());
    ASSERT_OK(ins.Exec());
  }
  {
    ASSERT_OK_AND_ASSIGN(Statement ins, db_->Prepare("INSERT INTO t(id, name, data, n) VALUES (?,?,?,?)"));
    ins.Bind(1, int64_t{8}).Bind(2, std::optional<std::string>("opt")).BindNull(3).Bind(4, std::optional<int64_t>(5));
    ASSERT_OK(ins.Exec());
  }

  ASSERT_OK_AND_ASSIGN(Statement sel, db_->Prepare("SELECT id, name, data, n FROM t ORDER BY id"));
  ASSERT_OK_AND_ASSIGN(bool row, sel.Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(sel.Int(0), 7);
  EXPECT_EQ(sel.Text(1), text_with_nul);  // length-aware: the NUL survives
  EXPECT_EQ(sel.Text(2), blob);
  EXPECT_EQ(sel.Int(3), INT64_MIN);
  EXPECT_FALSE(sel.IsNull(3));

  ASSERT_OK_AND_ASSIGN(row, sel.Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(sel.Int(0), 8);
  EXPECT_EQ(sel.Text(1), "opt");
  EXPECT_TRUE(sel.IsNull(2));
  EXPECT_EQ(sel.Int(3), 5);

  ASSERT_OK_AND_ASSIGN(row, sel.Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(sel.Int(0), INT64_MAX);
  EXPECT_EQ(sel.Text(1), "plain");
  EXPECT_TRUE(sel.IsNull(2));
  EXPECT_EQ(sel.Text(2), "");
  EXPECT_TRUE(sel.IsNull(3));

  ASSERT_OK_AND_ASSIGN(row, sel.Step());
  EXPECT_FALSE(row);
}

TEST_F(DbTest, PrepareCachesAndClearsBindings) {
  {
    ASSERT_OK_AND_ASSIGN(Statement s, db_->Prepare("SELECT ?"));
    s.Bind(1, int64_t{5});
    ASSERT_OK_AND_ASSIGN(bool row, s.Step());
    ASSERT_TRUE(row);
    EXPECT_EQ(s.Int(0), 5);
  }
  // The same SQL again: the cached statement, reset and with no bindings left.
  ASSERT_OK_AND_ASSIGN(Statement s, db_->Prepare("SELECT ?"));
  ASSERT_OK_AND_ASSIGN(bool row, s.Step());
  ASSERT_TRUE(row);
  EXPECT_TRUE(s.IsNull(0));
}

TEST_F(DbTest, PrepareSyntaxErrorIsInternal) {
  auto s = db_->Prepare("SELEKT 1");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInternal);
  EXPECT_EQ(db_->ExecScript("NOT SQL").code(), Code::kInternal);
}

TEST_F(DbTest, TransactionRollsBackUnlessCommitted) {
  {
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
    ASSERT_OK(db_->ExecScript("INSERT INTO t(name) VALUES ('dropped')"));
    EXPECT_EQ(CountRows(*db_), 1);  // visible inside the transaction
  }  // destroyed without Commit()
  EXPECT_EQ(CountRows(*db_), 0);

  {
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
    ASSERT_OK(db_->ExecScript("INSERT INTO t(name) VALUES ('kept')"));
    ASSERT_OK(tx->Commit());
  }  // the destructor after a commit must not roll anything back
  EXPECT_EQ(CountRows(*db_), 1);

  // Committed data is visible to another connection on the same file.
  auto other = test::OpenDb(path(), false);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(CountRows(*other), 1);

  // No transaction is left open: a new write transaction can start.
  ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
  ASSERT_OK(tx->Commit());
}

TEST_F(DbTest, ReadTransactionSeesOneSnapshot) {
  auto writer = test::OpenDb(path(), false);
  ASSERT_NE(writer, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kRead));
    EXPECT_EQ(CountRows(*db_), 0);  // the snapshot starts here
    ASSERT_OK(writer->ExecScript("INSERT INTO t(name) VALUES ('later')"));
    EXPECT_EQ(CountRows(*db_), 0);
    ASSERT_OK(tx->Commit());
  }
  EXPECT_EQ(CountRows(*db_), 1);
}

TEST_F(DbTest, BusyDatabaseIsUnavailable) {
  auto other = test::OpenDb(path(), false, /*busy_timeout_ms=*/0);
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));

  auto second = Transaction::Begin(*other, Transaction::Mode::kWrite);
  EXPECT_ERROR(second, Code::kUnavailable, "busy");
  EXPECT_ERROR(other->ExecScript("INSERT INTO t(name) VALUES ('x')"), Code::kUnavailable, "busy");
  // Readers are not blocked by the writer in WAL mode.
  EXPECT_EQ(CountRows(*other), 0);

  ASSERT_OK(tx->Commit());
  // Once the writer is done, the other connection can write.
  EXPECT_OK(other->ExecScript("INSERT INTO t(name) VALUES ('x')"));
}

TEST_F(DbTest, BusyHandlerWaitsForItsTimeoutThenGivesUp) {
  constexpr int kTimeoutMs = 30;
  auto other = test::OpenDb(path(), false, kTimeoutMs);
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_ERROR(Transaction::Begin(*other, Transaction::Mode::kWrite), Code::kUnavailable, "busy");
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(kTimeoutMs));
  EXPECT_LT(waited, std::chrono::seconds(5));
  // A second wait starts its own clock.
  const auto again = std::chrono::steady_clock::now();
  EXPECT_ERROR(other->ExecScript("INSERT INTO t(name) VALUES ('x')"), Code::kUnavailable, "busy");
  EXPECT_GE(std::chrono::steady_clock::now() - again, std::chrono::milliseconds(kTimeoutMs));
}

TEST_F(DbTest, BackupToCopiesACommittedSnapshot) {
  ASSERT_OK(db_->ExecScript("INSERT INTO t(name) VALUES ('a'), ('b'), ('c')"));
  // A write in progress on another connection is not part of the copy.
  auto writer = test::OpenDb(path(), false);
  ASSERT_NE(writer, nullptr);
  ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*writer, Transaction::Mode::kWrite));
  ASSERT_OK(writer->ExecScript("INSERT INTO t(name) VALUES ('uncommitted')"));

  const std::string dest = dir_.File("backup.sqlite");
  ASSERT_OK(db_->BackupTo(dest));
  ASSERT_OK(tx->Commit());

  auto copy = test::OpenDb(dest, false);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(CountRows(*copy), 3);
  ASSERT_OK_AND_ASSIGN(std::string check, copy->IntegrityCheck());
  EXPECT_EQ(check, "ok");
  EXPECT_EQ(CountRows(*db_), 4);
}

TEST_F(DbTest, BackupToUnwritablePathFails) {
  EXPECT_FALSE(db_->BackupTo(dir_.File("no/such/dir/backup.sqlite")).ok());
}

TEST_F(DbTest, IntegrityCheckOfAHealthyDatabase) {
  ASSERT_OK(db_->ExecScript("INSERT INTO t(name) VALUES ('a')"));
  ASSERT_OK_AND_ASSIGN(std::string check, db_->IntegrityCheck());
  EXPECT_EQ(check, "ok");
}

TEST_F(DbTest, ConstraintViolationIsConflict) {
  ASSERT_OK(db_->ExecScript("INSERT INTO t(id, name) VALUES (1, 'a')"));
  ASSERT_OK_AND_ASSIGN(Statement s, db_->Prepare("INSERT INTO t(id, name) VALUES (?, ?)"));
  s.Bind(1, int64_t{2}).Bind(2, "a");  // UNIQUE(name)
  EXPECT_ERROR(s.Exec(), Code::kConflict, "conflict");
  s.Reset();
  s.Bind(1, int64_t{1}).Bind(2, "b");  // PRIMARY KEY
  EXPECT_ERROR(s.Exec(), Code::kConflict, "conflict");
  s.Reset();
  s.Bind(1, int64_t{2}).Bind(2, "b");  // the statement is usable after an error
  EXPECT_OK(s.Exec());
}

TEST(FromSqliteTest, MapsResultCodes) {
  EXPECT_OK(FromSqlite(SQLITE_OK, nullptr, "x"));
  EXPECT_OK(FromSqlite(SQLITE_ROW, nullptr, "x"));
  EXPECT_OK(FromSqlite(SQLITE_DONE, nullptr, "x"));
  EXPECT_ERROR(FromSqlite(SQLITE_BUSY, nullptr, "x"), Code::kUnavailable, "busy");
  EXPECT_ERROR(FromSqlite(SQLITE_BUSY_SNAPSHOT, nullptr, "x"), Code::kUnavailable, "busy");
  EXPECT_ERROR(FromSqlite(SQLITE_LOCKED, nullptr, "x"), Code::kUnavailable, "busy");
  EXPECT_ERROR(FromSqlite(SQLITE_CONSTRAINT, nullptr, "x"), Code::kConflict, "conflict");
  EXPECT_ERROR(FromSqlite(SQLITE_CONSTRAINT_UNIQUE, nullptr, "x"), Code::kConflict, "conflict");
  EXPECT_ERROR(FromSqlite(SQLITE_CONSTRAINT_FOREIGNKEY, nullptr, "x"), Code::kConflict, "conflict");
  EXPECT_EQ(FromSqlite(SQLITE_TOOBIG, nullptr, "x").code(), Code::kTooLarge);
  EXPECT_EQ(FromSqlite(SQLITE_IOERR, nullptr, "x").code(), Code::kInternal);
  EXPECT_EQ(FromSqlite(SQLITE_CORRUPT, nullptr, "x").code(), Code::kInternal);
}

TEST_F(DbTest, HalfReadSelectDoesNotHoldReadTransaction) {
  // Leave frames in the WAL so that a reader pins them.
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(Statement ins, db_->Prepare("INSERT INTO t(name) VALUES (?)"));
    ins.Bind(1, "row" + std::to_string(i));
    ASSERT_OK(ins.Exec());
  }
  auto checkpointer = test::OpenDb(path(), false, /*busy_timeout_ms=*/0);
  ASSERT_NE(checkpointer, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(Statement sel, db_->Prepare("SELECT name FROM t ORDER BY id"));
    ASSERT_OK_AND_ASSIGN(bool row, sel.Step());
    ASSERT_TRUE(row);
    // Control: while the SELECT is open, the reader blocks a TRUNCATE checkpoint.
    EXPECT_EQ(CheckpointBusy(*checkpointer), 1);
  }  // destroyed half-read
  EXPECT_EQ(CheckpointBusy(*checkpointer), 0);

  // The same holds when the cached statement is prepared again and abandoned.
  ASSERT_OK(db_->ExecScript("INSERT INTO t(name) VALUES ('more')"));
  {
    ASSERT_OK_AND_ASSIGN(Statement sel, db_->Prepare("SELECT name FROM t ORDER BY id"));
    ASSERT_OK_AND_ASSIGN(bool row, sel.Step());
    ASSERT_TRUE(row);
  }
  EXPECT_EQ(CheckpointBusy(*checkpointer), 0);
}

}  // namespace
}  // namespace parley
