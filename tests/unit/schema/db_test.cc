// schema/db.cc: the RAII layer over SQLite, on real database files.
#include "schema/db.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "schema/json.h"
#include "schema/migrate.h"
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

// A checkpoint on `db`, taken under the writer lock as Db requires:
// 1 if a reader kept it from completing, 0 if it completed.
int64_t CheckpointBusy(Db& db) {
  Status locked = db.LockWriter();
  EXPECT_OK(locked);
  if (!locked.ok()) return -1;
  Status st = db.Checkpoint();
  db.UnlockWriter();
  if (st.ok()) return 0;
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  return 1;
}

// Runs `sql` in its own write transaction, as every write must.
Status Write(Db& db, const std::string& sql) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(db, Transaction::Mode::kWrite));
  PARLEY_RETURN_IF_ERROR(db.ExecScript(sql));
  return tx->Commit();
}

TEST_F(DbTest, OpenSetsWalAndForeignKeys) {
  // Asked through the C API: Statement counts any journal_mode pragma as a
  // change to the file and refuses it outside a write transaction.
  sqlite3_stmt* mode = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db_->raw(), "PRAGMA journal_mode", -1, &mode, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(mode), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(mode, 0)), "wal");
  sqlite3_finalize(mode);

  ASSERT_OK_AND_ASSIGN(Statement fk, db_->Prepare("PRAGMA foreign_keys"));
  ASSERT_OK_AND_ASSIGN(bool fk_row, fk.Step());
  ASSERT_TRUE(fk_row);
  EXPECT_EQ(fk.Int(0), 1);
  EXPECT_EQ(db_->path(), path());

  // The WAL file is truncated back to 16 MiB when it starts over after a
  // reader held checkpoints back.
  ASSERT_OK_AND_ASSIGN(Statement limit, db_->Prepare("PRAGMA journal_size_limit"));
  ASSERT_OK_AND_ASSIGN(bool limit_row, limit.Step());
  ASSERT_TRUE(limit_row);
  EXPECT_EQ(limit.Int(0), 16 * 1024 * 1024);
}

// The first open turns SQLite's process-wide allocation count off
// (ConfigureSqliteOnce in db.cc): with it on, every allocation of every
// connection took one mutex, where a worker's writer and readers met.
TEST_F(DbTest, SqliteCountsNoAllocationsUnderAProcessWideLock) {
  ASSERT_OK(Write(*db_, "CREATE TABLE blobs (x TEXT); INSERT INTO blobs VALUES (hex(randomblob(4096)))"));
  EXPECT_EQ(sqlite3_memory_used(), 0);
  EXPECT_EQ(sqlite3_memory_highwater(0), 0);
}

TEST_F(DbTest, ForeignKeysAreEnforced) {
  ASSERT_OK(db_->ExecScript(
      "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
      "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id));"));
  EXPECT_ERROR(Write(*db_, "INSERT INTO child(id, parent_id) VALUES (1, 42)"), Code::kConflict, "conflict");
}

TEST_F(DbTest, OpenInMissingDirectoryFails) {
  auto db = Db::Open(dir_.File("no/such/dir/db.sqlite"));
  EXPECT_FALSE(db.ok());
  EXPECT_ERROR(db.status(), Code::kUnavailable, "storage_unavailable");  // SQLITE_CANTOPEN
}

// A daemon's connection (Create::kNever) to a database file that is gone
// fails storage_unavailable and leaves nothing behind: no empty database,
// no -wal, -shm or writer lock file beside it.
TEST_F(DbTest, OpenWithoutCreateOfAMissingFileCreatesNothing) {
  const std::string path = dir_.File("gone.db");
  auto db = Db::Open(path, 5000, Sync::kFull, Db::Create::kNever);
  ASSERT_FALSE(db.ok());
  EXPECT_ERROR(db.status(), Code::kUnavailable, "storage_unavailable");
  EXPECT_NE(db.status().message().find("no such file"), std::string::npos) << db.status().message();
  for (const char* suffix : {"", "-wal", "-shm", "-writer"}) {
    EXPECT_NE(access((path + suffix).c_str(), F_OK), 0) << suffix;
  }
  // The same file once it exists opens as ever.
  ASSERT_NE(test::OpenDb(path, /*migrate=*/false), nullptr);
  EXPECT_TRUE(Db::Open(path, 5000, Sync::kFull, Db::Create::kNever).ok());
}

TEST_F(DbTest, StatementBindsStepsAndReadsColumns) {
  const std::string text_with_nul("a\0b", 3);
  const std::string blob("\x00\xff\x01", 3);
  ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
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
  ASSERT_OK(tx->Commit());

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
    ASSERT_OK(Write(*writer, "INSERT INTO t(name) VALUES ('later')"));
    EXPECT_EQ(CountRows(*db_), 0);
    ASSERT_OK(tx->Commit());
  }
  EXPECT_EQ(CountRows(*db_), 1);
}

TEST_F(DbTest, AReadInsideAReadJoinsItsSnapshot) {
  auto writer = test::OpenDb(path(), false);
  ASSERT_NE(writer, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto outer, Transaction::Begin(*db_, Transaction::Mode::kRead));
    EXPECT_EQ(CountRows(*db_), 0);
    ASSERT_OK(Write(*writer, "INSERT INTO t(name) VALUES ('later')"));
    {
      ASSERT_OK_AND_ASSIGN(auto inner, Transaction::Begin(*db_, Transaction::Mode::kRead));
      EXPECT_EQ(CountRows(*db_), 0);  // the outer snapshot, not a new one
      ASSERT_OK(inner->Commit());
    }
    EXPECT_TRUE(db_->in_transaction());  // the inner end did not end the outer
    EXPECT_EQ(CountRows(*db_), 0);
    ASSERT_OK(outer->Commit());
  }
  EXPECT_EQ(CountRows(*db_), 1);
}

TEST_F(DbTest, BusyDatabaseIsUnavailable) {
  auto other = test::OpenDb(path(), false, /*busy_timeout_ms=*/0);
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));

  auto second = Transaction::Begin(*other, Transaction::Mode::kWrite);
  EXPECT_ERROR(second, Code::kUnavailable, "busy");
  EXPECT_ERROR(Write(*other, "INSERT INTO t(name) VALUES ('x')"), Code::kUnavailable, "busy");
  // Readers are not blocked by the writer in WAL mode.
  EXPECT_EQ(CountRows(*other), 0);

  ASSERT_OK(tx->Commit());
  // Once the writer is done, the other connection can write.
  EXPECT_OK(Write(*other, "INSERT INTO t(name) VALUES ('x')"));
}

// SQLITE_FULL, here from SQLite's own page limit (a full file system gives
// the same code: DiskFullTest in tests/e2e), is a 503 the client may retry,
// not a 500; the transaction is rolled back and the connection writes again
// once there is room.
TEST_F(DbTest, AFullDatabaseIsStorageFullAndWritesAgainOnceThereIsRoom) {
  ASSERT_OK(Write(*db_, "INSERT INTO t(name) VALUES ('before')"));
  auto pages = db_->Prepare("PRAGMA page_count");
  ASSERT_OK(pages);
  ASSERT_OK_AND_ASSIGN(bool row, pages->Step());
  ASSERT_TRUE(row);
  const int64_t now = pages->Int(0);
  ASSERT_OK(db_->ExecScript("PRAGMA max_page_count = " + std::to_string(now + 2)));
  Status full = Write(*db_,
                      "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 10) "
                      "INSERT INTO t(data) SELECT randomblob(4000) FROM c");
  EXPECT_ERROR(full, Code::kUnavailable, "storage_full");
  EXPECT_EQ(full.retry_after_s(), 10);
  EXPECT_EQ(CountRows(*db_), 1);  // the statement's rows went with its transaction
  ASSERT_OK(db_->ExecScript("PRAGMA max_page_count = 1000000"));
  EXPECT_OK(Write(*db_, "INSERT INTO t(name) VALUES ('after')"));
  auto names = db_->Prepare("SELECT COUNT(*) FROM t WHERE name IN ('before', 'after')");
  ASSERT_OK(names);
  ASSERT_OK_AND_ASSIGN(bool got, names->Step());
  ASSERT_TRUE(got);
  EXPECT_EQ(names->Int(0), 2);
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
  EXPECT_ERROR(Write(*other, "INSERT INTO t(name) VALUES ('x')"), Code::kUnavailable, "busy");
  EXPECT_GE(std::chrono::steady_clock::now() - again, std::chrono::milliseconds(kTimeoutMs));
}

TEST_F(DbTest, BackupToCopiesACommittedSnapshot) {
  ASSERT_OK(Write(*db_, "INSERT INTO t(name) VALUES ('a'), ('b'), ('c')"));
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
  ASSERT_OK(Write(*db_, "INSERT INTO t(name) VALUES ('a')"));
  ASSERT_OK_AND_ASSIGN(std::string check, db_->IntegrityCheck());
  EXPECT_EQ(check, "ok");
}

// OpenReadOnly (parleyctl check's): a path holding what an SQLite URI gives
// a meaning to ('?', '#', '%', '&') still names that file; the immutable
// read creates nothing beside it; a write is refused; a missing file is an
// error, not a new database.
TEST(DbOpenReadOnlyTest, ReadsTheFileAtItsPathCreatesNothingAndRefusesWrites) {
  test::TempDir dir;
  const std::string path = dir.File("we?ird#name%41&mode=rwc.db");
  {
    std::unique_ptr<Db> db = test::OpenDb(path, /*migrate=*/false);
    ASSERT_NE(db, nullptr);
    ASSERT_OK(db->ExecScript("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)"));
  }
  std::filesystem::remove(path + "-writer");
  const auto files = [&dir] {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) names.push_back(entry.path().filename());
    return names;
  };
  ASSERT_EQ(files(), std::vector<std::string>{"we?ird#name%41&mode=rwc.db"});

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Db> ro, Db::OpenReadOnly(path, Db::ReadOnly::kImmutable));
  {
    ASSERT_OK_AND_ASSIGN(Statement count, ro->Prepare("SELECT COUNT(*) FROM t"));
    ASSERT_OK_AND_ASSIGN(bool row, count.Step());
    ASSERT_TRUE(row);
    EXPECT_EQ(count.Int(0), 2);
  }  // before the connection closes: the statement belongs to it
  ASSERT_OK_AND_ASSIGN(std::string check, ro->IntegrityCheck());
  EXPECT_EQ(check, "ok");
  EXPECT_FALSE(ro->ExecScript("INSERT INTO t VALUES (3)").ok());
  ro.reset();
  EXPECT_EQ(files(), std::vector<std::string>{"we?ird#name%41&mode=rwc.db"});

  EXPECT_FALSE(Db::OpenReadOnly(dir.File("missing.db"), Db::ReadOnly::kShared).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.File("missing.db")));
}

TEST_F(DbTest, ConstraintViolationIsConflict) {
  ASSERT_OK(Write(*db_, "INSERT INTO t(id, name) VALUES (1, 'a')"));
  ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
  ASSERT_OK_AND_ASSIGN(Statement s, db_->Prepare("INSERT INTO t(id, name) VALUES (?, ?)"));
  s.Bind(1, int64_t{2}).Bind(2, "a");  // UNIQUE(name)
  Status unique = s.Exec();
  EXPECT_ERROR(unique, Code::kConflict, "conflict");
  // SQLite's words and the statement are for the log, not the client.
  EXPECT_NE(unique.message().find("UNIQUE constraint failed"), std::string::npos) << unique.message();
  EXPECT_TRUE(unique.message_is_private());
  EXPECT_EQ(ErrorJson(unique).find("UNIQUE"), std::string::npos) << ErrorJson(unique);
  EXPECT_EQ(ErrorJson(unique).find("INSERT"), std::string::npos) << ErrorJson(unique);
  s.Reset();
  s.Bind(1, int64_t{1}).Bind(2, "b");  // PRIMARY KEY
  EXPECT_ERROR(s.Exec(), Code::kConflict, "conflict");
  s.Reset();
  s.Bind(1, int64_t{2}).Bind(2, "b");  // the statement is usable after an error
  EXPECT_OK(s.Exec());
  EXPECT_OK(tx->Commit());  // a failed statement does not doom its transaction
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
  // The storage failing is 503 storage_unavailable, whatever the extended code.
  for (int rc : {SQLITE_IOERR, SQLITE_IOERR_READ, SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC, SQLITE_IOERR_SHMOPEN,
                 SQLITE_IOERR_LOCK, SQLITE_IOERR_TRUNCATE, SQLITE_CANTOPEN, SQLITE_CANTOPEN_NOTEMPDIR}) {
    Status st = FromSqlite(rc, nullptr, "x");
    EXPECT_ERROR(st, Code::kUnavailable, "storage_unavailable") << rc;
    EXPECT_EQ(st.retry_after_s(), 10) << rc;
    EXPECT_TRUE(st.message_is_private()) << rc;
  }
  EXPECT_EQ(FromSqlite(SQLITE_CORRUPT, nullptr, "x").code(), Code::kInternal);
}

TEST_F(DbTest, HalfReadSelectDoesNotHoldReadTransaction) {
  // Leave frames in the WAL so that a reader pins them.
  for (int i = 0; i < 5; ++i) ASSERT_OK(Write(*db_, "INSERT INTO t(name) VALUES ('row" + std::to_string(i) + "')"));
  auto checkpointer = test::OpenDb(path(), false, /*busy_timeout_ms=*/0);
  ASSERT_NE(checkpointer, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(Statement sel, db_->Prepare("SELECT name FROM t ORDER BY id"));
    ASSERT_OK_AND_ASSIGN(bool row, sel.Step());
    ASSERT_TRUE(row);
    // Control: while the SELECT is open, the reader keeps a RESTART checkpoint from completing.
    EXPECT_EQ(CheckpointBusy(*checkpointer), 1);
  }  // destroyed half-read
  EXPECT_EQ(CheckpointBusy(*checkpointer), 0);

  // The same holds when the cached statement is prepared again and abandoned.
  ASSERT_OK(Write(*db_, "INSERT INTO t(name) VALUES ('more')"));
  {
    ASSERT_OK_AND_ASSIGN(Statement sel, db_->Prepare("SELECT name FROM t ORDER BY id"));
    ASSERT_OK_AND_ASSIGN(bool row, sel.Step());
    ASSERT_TRUE(row);
  }
  EXPECT_EQ(CheckpointBusy(*checkpointer), 0);
}

TEST_F(DbTest, ChangesOutsideAWriteTransactionAreRefused) {
  ASSERT_OK_AND_ASSIGN(Statement ins, db_->Prepare("INSERT INTO t(name) VALUES ('x')"));
  EXPECT_EQ(ins.Exec().code(), Code::kInternal);  // autocommit
  {
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kRead));
    EXPECT_EQ(ins.Exec().code(), Code::kInternal);  // a read transaction does not hold the lock
  }
  // A checkpoint is a change to the file too.
  ASSERT_OK_AND_ASSIGN(Statement ckpt, db_->Prepare("PRAGMA wal_checkpoint(PASSIVE)"));
  EXPECT_EQ(ckpt.Exec().code(), Code::kInternal);
  EXPECT_EQ(db_->Checkpoint().code(), Code::kInternal);
  EXPECT_EQ(CountRows(*db_), 0);
  {
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
    EXPECT_TRUE(db_->writing());
    EXPECT_OK(ins.Exec());
    ASSERT_OK(tx->Commit());
    EXPECT_FALSE(db_->writing());  // released at commit
  }
  {
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
  }  // and at rollback
  EXPECT_FALSE(db_->writing());
  EXPECT_EQ(CountRows(*db_), 1);
}

// A read's scratch tables (search's tail) are written without the writer
// lock; a statement that would change anything else is refused at prepare.
TEST_F(DbTest, TempWritesNeedNoWriterLockAndReachNothingElse) {
  ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kRead));
  for (const char* sql : {"CREATE TEMP TABLE IF NOT EXISTS scratch (v INTEGER)",
                          "INSERT INTO scratch (v) SELECT COUNT(*) FROM t", "DELETE FROM scratch WHERE v > 5"}) {
    ASSERT_OK_AND_ASSIGN(Statement s, db_->PrepareTempWrite(sql));
    EXPECT_OK(s.Exec()) << sql;
  }
  EXPECT_FALSE(db_->writing());
  for (const char* sql : {"INSERT INTO t(name) VALUES ('x')", "INSERT INTO main.t(name) SELECT 'y'",
                          "DELETE FROM t", "CREATE TABLE u (v INTEGER)", "DROP TABLE t"}) {
    EXPECT_EQ(db_->PrepareTempWrite(sql).status().code(), Code::kInternal) << sql;
  }
  ASSERT_OK(tx->Commit());
  EXPECT_EQ(CountRows(*db_), 0);
}

TEST_F(DbTest, TheWriterLockFileHoldsWritersBack) {
  // Another process holding the lock (here: a plain flock on the file, as
  // a Parley process would take it) keeps writers out, not readers.
  int fd = open(WriterLock::PathFor(path()).c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << "Db::Open creates the lock file";
  ASSERT_EQ(flock(fd, LOCK_EX), 0);
  auto other = test::OpenDb(path(), false, /*busy_timeout_ms=*/30);
  ASSERT_NE(other, nullptr);
  EXPECT_ERROR(Write(*other, "INSERT INTO t(name) VALUES ('x')"), Code::kUnavailable, "busy");
  EXPECT_EQ(CountRows(*other), 0);
  close(fd);  // releases it
  EXPECT_OK(Write(*other, "INSERT INTO t(name) VALUES ('x')"));
}

TEST_F(DbTest, AWriterOutsideParleyStillMeetsTheBusyTimeout) {
  // The sqlite3 shell takes no writer lock, only SQLite's own: a Parley
  // writer gets the writer lock, waits on SQLite's lock for its timeout,
  // gives up, and lets the writer lock go.
  sqlite3* shell = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &shell), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(shell, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto other = test::OpenDb(path(), false, /*busy_timeout_ms=*/30);
  ASSERT_NE(other, nullptr);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_ERROR(Transaction::Begin(*other, Transaction::Mode::kWrite), Code::kUnavailable, "busy");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
  EXPECT_FALSE(other->writing());
  ASSERT_EQ(sqlite3_exec(shell, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(shell);
  EXPECT_OK(Write(*db_, "INSERT INTO t(name) VALUES ('x')"));
}

// The WAL's size in bytes (0 when there is none).
int64_t WalBytes(const std::string& db_path) {
  struct stat st {};
  return stat((db_path + "-wal").c_str(), &st) == 0 ? st.st_size : 0;
}

TEST_F(DbTest, CheckpointsDueAfterCommitsKeepTheWalBounded) {
  // Two writers and a reader take turns, as the workers and the events
  // daemon do, for twenty checkpoints' worth of pages.
  auto second = test::OpenDb(path(), false);
  auto reader = test::OpenDb(path(), false);
  ASSERT_NE(second, nullptr);
  ASSERT_NE(reader, nullptr);
  // 20,000 commits: without an fsync each (the default, Sync::kFull, would
  // take minutes); the WAL's bound does not depend on it.
  ASSERT_OK(db_->ExecScript("PRAGMA synchronous=NORMAL"));
  ASSERT_OK(second->ExecScript("PRAGMA synchronous=NORMAL"));
  const std::string page(3000, 'x');
  int64_t largest = 0;
  int checkpoints = 0;
  constexpr int kRows = 20 * Db::kCheckpointFrames;
  for (int i = 0; i < kRows; ++i) {
    Db& db = i % 2 ? *second : *db_;
    {
      ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(db, Transaction::Mode::kWrite));
      ASSERT_OK_AND_ASSIGN(Statement ins, db.Prepare("INSERT INTO t(data) VALUES (?)"));
      ins.BindBlob(1, page);
      ASSERT_OK(ins.Exec());
      ASSERT_OK(tx->Commit());
    }
    if (db.wal_frames() >= Db::kCheckpointFrames) ++checkpoints;
    ASSERT_OK(db.CheckpointIfDue());
    if (i % 100 == 0) {
      EXPECT_EQ(CountRows(*reader), i + 1);
    }
    largest = std::max(largest, WalBytes(path()));
  }
  EXPECT_GE(checkpoints, 15);
  // A frame is a 4 KiB page and a 24-byte header; a commit adds a few.
  EXPECT_LE(largest, int64_t{Db::kCheckpointFrames + 8} * (4096 + 24) + 32);
  EXPECT_EQ(CountRows(*reader), kRows);
  ASSERT_OK_AND_ASSIGN(std::string check, reader->IntegrityCheck());
  EXPECT_EQ(check, "ok");
}

TEST_F(DbTest, ACheckpointHeldBackByAReaderIsRetriedLater) {
  const std::string page(3000, 'x');
  auto fill = [&](int rows) {
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
    for (int i = 0; i < rows; ++i) {
      ASSERT_OK_AND_ASSIGN(Statement ins, db_->Prepare("INSERT INTO t(data) VALUES (?)"));
      ins.BindBlob(1, page);
      ASSERT_OK(ins.Exec());
    }
    ASSERT_OK(tx->Commit());
  };
  fill(Db::kCheckpointFrames);
  ASSERT_GE(db_->wal_frames(), Db::kCheckpointFrames);

  auto reader = test::OpenDb(path(), false);
  ASSERT_NE(reader, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto read, Transaction::Begin(*reader, Transaction::Mode::kRead));
    EXPECT_EQ(CountRows(*reader), Db::kCheckpointFrames);  // the snapshot is taken
    auto start = std::chrono::steady_clock::now();
    EXPECT_ERROR(db_->CheckpointIfDue(), Code::kUnavailable, "busy");
    auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, std::chrono::milliseconds(Db::kCheckpointReaderWaitMs));
    EXPECT_LT(waited, std::chrono::seconds(2));
    // Writers were held back only for that wait.
    EXPECT_FALSE(db_->writing());
    // Within the retry interval it does not wait again.
    start = std::chrono::steady_clock::now();
    EXPECT_OK(db_->CheckpointIfDue());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(Db::kCheckpointReaderWaitMs));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(Db::kCheckpointRetryMs + 50));
  EXPECT_OK(db_->CheckpointIfDue());
  // The WAL started over: the next commit writes from its first frame.
  fill(1);
  EXPECT_LT(db_->wal_frames(), 10);
}

TEST(DbOpenTest, ProcessesOpeningANewDatabaseTogetherAllSucceed) {
  // tools/run starts both daemons at once on a fresh directory: each opens
  // the new file, switches it to WAL and migrates it. Before Open waited for
  // the switch, about half of such pairs had one fail with "busy".
  test::TempDir dir;
  constexpr int kRounds = 40;
  constexpr int kProcesses = 3;
  int failures = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string path = dir.File("new" + std::to_string(round) + ".sqlite");
    int go[2];
    ASSERT_EQ(pipe(go), 0);
    std::vector<pid_t> children;
    for (int i = 0; i < kProcesses; ++i) {
      pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        close(go[1]);
        char c;
        (void)!read(go[0], &c, 1);  // released together: EOF when the parent closes
        auto db = Db::Open(path);
        _exit(db.ok() && Migrate(**db).ok() ? 0 : 1);
      }
      children.push_back(pid);
    }
    close(go[0]);
    close(go[1]);
    for (pid_t pid : children) {
      int status = 0;
      waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
    }
  }
  EXPECT_EQ(failures, 0) << "of " << kRounds * kProcesses << " opens";
}

// Two writers that take the writer lock back the moment they let it go (two
// busy batch writers) and a third connection with a short timeout (a login
// on its own transaction): the third must get its turn. Polled alone it
// lost nearly every time, until its timeout (writer_lock.h: fairness).
TEST_F(DbTest, AConnectionThatWaitedGetsTheWriterLockFromWritersThatNeverPause) {
  std::atomic<bool> stop{false};
  std::atomic<int> turns{0};
  auto hog = [&] {
    auto db = test::OpenDb(path(), false);
    ASSERT_NE(db, nullptr);
    while (!stop) {
      ASSERT_OK(db->LockWriter());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a batch and its fsync
      db->UnlockWriter();
      ++turns;
    }
  };
  std::thread a(hog), b(hog);
  while (turns < 10) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Db> late, Db::Open(path(), /*busy_timeout_ms=*/300));
  int got = 0;
  for (int i = 0; i < 5; ++i) {
    Status st = late->LockWriter();
    if (st.ok()) {
      ++got;
      late->UnlockWriter();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  a.join();
  b.join();
  EXPECT_EQ(got, 5) << "the connection that waited lost to writers that never paused";
  EXPECT_GT(turns, 20);
}

}  // namespace
}  // namespace parley
