// Thin RAII layer over SQLite: a connection (Db), prepared statements
// (Statement) and a write transaction guard (Transaction).
//
// Contract: a Db is used by one thread only (each FastCGI worker process and
// the events daemon open their own, after fork). Every SQLite result code
// becomes a Status in exactly one place, FromSqlite() in db.cc.
//
// Writes and checkpoints. Every write runs in a Transaction of Mode::kWrite,
// which holds the database's WriterLock (schema/writer_lock.h) from before
// BEGIN IMMEDIATE until after COMMIT or ROLLBACK; a Statement that would
// change the file outside one is refused. SQLite's automatic checkpoints are
// off: a connection whose commit leaves the WAL over kCheckpointFrames runs a
// checkpoint itself (RESTART, or TRUNCATE after text was deleted: see
// Checkpoint), at a quiet point (CheckpointIfDue), holding the same lock.
// So the WAL starts over, and stays bounded, under any steady load, and no
// checkpoint ever runs while another Parley connection writes: that
// is the condition of the WAL-reset race of SQLite before 3.51.3 (a
// checkpoint starting as another connection's commit restarts the WAL can
// lose committed pages; https://sqlite.org/wal.html#walresetbug).
//
// Group commit (schema/write_batch.h). While a WriteBatch is open on a Db,
// a write Transaction on it is a SAVEPOINT inside the batch instead of a
// transaction of its own: the same Store code runs either way, and a
// failure rolls back only its own savepoint.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schema/status.h"
#include "schema/writer_lock.h"

struct sqlite3;
struct sqlite3_stmt;

namespace parley {

struct SqliteCloser {
  void operator()(sqlite3* db) const;
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const;
};

class Db;

// A borrowed handle on a cached prepared statement. Bind with 1-based
// indexes, Step(), read columns. Move-only: the destructor resets the
// statement, so a half-read SELECT never keeps a read transaction open
// (an open reader would stop WAL checkpoints from finishing).
class Statement {
 public:
  Statement(Db* db, sqlite3_stmt* stmt, bool temp_only = false) : db_(db), stmt_(stmt), temp_only_(temp_only) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_), temp_only_(o.temp_only_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  Statement& Bind(int i, int64_t v);
  Statement& Bind(int i, std::string_view v);
  Statement& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Statement& BindBlob(int i, std::string_view v);
  Statement& BindNull(int i);
  Statement& BindDouble(int i, double v);
  template <typename T>
  Statement& Bind(int i, const std::optional<T>& v) {
    return v ? Bind(i, *v) : BindNull(i);
  }

  // Returns true while a row is available, false when done; errors as Status.
  Result<bool> Step();
  // Step until done; for statements that return no rows.
  Status Exec();
  // Step until done: the first column of every row, as integers (ids).
  Result<std::vector<int64_t>> Ints();
  void Reset();

  int64_t Int(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  bool IsNull(int col) const;
  int64_t Changes() const;

 private:
  Db* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;  // owned by the Db's cache
  bool temp_only_ = false;        // Db::PrepareTempWrite's: writes TEMP only
};

// How a commit reaches the disk (PRAGMA synchronous in WAL mode). kFull:
// the WAL is fsynced at every commit, so a commit that returned survives a
// power cut. kNormal: fsynced only at checkpoints; a commit survives a crash
// of the program, but a power cut may lose the last ones.
enum class Sync { kNormal, kFull };
// "full" or "normal" (PARLEY_SYNC); nullopt for anything else.
std::optional<Sync> ParseSync(std::string_view s);

class Db {
 public:
  // A commit that leaves this many frames (pages) in the WAL makes its
  // connection checkpoint: about 4 MiB, SQLite's own default.
  static constexpr int kCheckpointFrames = 1000;
  // How long a checkpoint, holding the writer lock, waits for readers of
  // older snapshots; past it the WAL is left to grow and tried again later.
  static constexpr int kCheckpointReaderWaitMs = 100;
  static constexpr int kCheckpointRetryMs = 1000;

  // Whether Open may create a missing database file. Only what migrates it
  // next may (MigrateStorage: the pool master at start-up, parleyctl): a
  // daemon's connection that made one would find no tables in it and fail
  // every request, and the data it should have served (a file moved or
  // deleted under a running pool) would look lost.
  enum class Create { kIfMissing, kNever };
  // Opens with WAL, foreign keys and a busy timeout, which also bounds the
  // wait for the writer lock. Durable (Sync::kFull) unless told otherwise.
  // A missing file under Create::kNever is Unavailable
  // (storage_unavailable), and nothing is created beside it.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, int busy_timeout_ms = 5000,
                                          Sync sync = Sync::kFull, Create create = Create::kIfMissing);

  // How OpenReadOnly reads a database it must not change; which one is
  // honest depends on the files beside it (schema/read_only_check.h).
  enum class ReadOnly {
    // SQLite's read-only mode (`mode=ro`): its locks and WAL index as any
    // reader's, so commits still in the WAL are read, beside running
    // writers too. Needs the -wal and -shm: where they are missing, SQLite
    // creates them if the directory lets it, and fails if not.
    kShared,
    // The database file alone (`immutable=1`): no locks, no -wal or -shm
    // opened or created, and any WAL ignored. Honest only when no WAL holds
    // commits and nothing writes the file meanwhile.
    kImmutable,
  };
  // Opens an existing database for reading only: SQLITE_OPEN_READONLY, no
  // writer lock, no migrations, no pragma that writes (query_only is on, so
  // a write is refused by SQLite as well as by Statement::Step). A missing
  // file is an error, never created.
  static Result<std::unique_ptr<Db>> OpenReadOnly(const std::string& path, ReadOnly how,
                                                  int busy_timeout_ms = 5000);

  // Prepared once per connection and cached by SQL text; the statement is
  // reset and its bindings cleared on each call.
  Result<Statement> Prepare(std::string_view sql);
  // The same for a statement that writes only this connection's TEMP
  // database (a read's scratch tables: search's tail): it needs no writer
  // lock, as nothing of it reaches the database file or its WAL. Refused at
  // prepare (kInternal) if it would touch any other schema but to read.
  Result<Statement> PrepareTempWrite(std::string_view sql);
  // Runs one or more statements without results (DDL, pragmas). Unlike
  // Statement it cannot tell a write from a read: writes through it belong
  // inside a write Transaction (as the migrations run).
  Status ExecScript(const std::string& sql);
  int64_t LastInsertId() const;
  // Online backup with the SQLite backup API: consistent even while the
  // daemons write. dest must not be this database's own file.
  Status BackupTo(const std::string& dest);
  // PRAGMA integrity_check: "ok", or the problems found.
  Result<std::string> IntegrityCheck();
  sqlite3* raw() const { return db_.get(); }
  const std::string& path() const { return path_; }

  // The writer lock, waited for up to the busy timeout (kUnavailable past
  // it). Transaction takes and releases it; nothing else should.
  Status LockWriter();
  // Whether the path this connection was opened with still names the file
  // it has open (kUnavailable, storage_unavailable, if not). A database
  // moved, deleted or replaced under a running process kept taking its
  // writes into the file it had open, then lost with it, acknowledged
  // (an audit in the forty-seventh session); LockWriterToWrite asks first,
  // a stat() a write. Always ok for a connection opened read-only.
  Status StillAtItsPath() const;
  // LockWriter for a write (Transaction, WriteBatch). StillAtItsPath
  // first. After a checkpoint
  // failed for want of disk space, a write first tries it again (at most
  // every kCheckpointRetryMs) and is refused with its error until one
  // succeeds: the checkpoint needs the space that comes free to grow the
  // database file, and a WAL that took it first would keep every later
  // checkpoint failing and the disk full for good (DiskFullTest).
  Status LockWriterToWrite();
  void UnlockWriter() { writer_lock_.Unlock(); }
  bool writing() const { return writer_lock_.held(); }
  // Whether a WriteBatch is open: write Transactions become savepoints.
  bool in_batch() const { return in_batch_; }
  // Whether SQLite has a transaction open (it rolls one back by itself on
  // some errors, such as a full disk).
  bool in_transaction() const;
  // Commits of write transactions and batches on this connection so far:
  // each is one sync of the WAL under Sync::kFull.
  uint64_t commits() const { return commits_; }

  // Frames in the WAL after this connection's last commit.
  int wal_frames() const { return wal_frames_; }
  // A RESTART checkpoint, or a TRUNCATE (a RESTART that also empties the
  // WAL file) when migration 012's triggers marked text as deleted or
  // overwritten since the last TRUNCATE; the caller holds the writer lock.
  // kUnavailable when readers of older snapshots kept it from completing.
  Status Checkpoint();
  // Checkpoints when this connection's last commit left kCheckpointFrames or
  // more in the WAL (not again within kCheckpointRetryMs of a failed try).
  // Called between requests, so no response waits for it.
  Status CheckpointIfDue();

  // Statements run inside every outermost commit of this connection, just
  // before its COMMIT (a write Transaction's, a WriteBatch's): work that must
  // be current at commit but costs less once per commit than once per write
  // (the search index, migration 009: Store sets them). None by default.
  // With `after_insert_into`, only in commits once this connection has
  // inserted `every_rows` rows into that table since they last ran
  // (SQLite's update hook sees them, a trigger's inserts included), so a
  // connection that never writes it (the events daemon's) pays nothing; a
  // savepoint rolled back still counts its rows (the statements then run a
  // little early, never late).
  void SetBeforeCommit(std::vector<std::string> sql, std::string after_insert_into = "", int64_t every_rows = 1);
  // Runs them if due (the commits call it).
  Status BeforeCommit();
  // Runs them now, due or not, inside the caller's write transaction (not
  // counted in before_commits()).
  Status RunBeforeCommit();
  // Commits of this connection whose BeforeCommit statements ran.
  uint64_t before_commits() const { return before_commits_; }

 private:
  // The connection's handle as both opens want it: opened with `flags`,
  // `path` kept, SQLite's busy handler ours, extended result codes on.
  static Result<std::unique_ptr<Db>> OpenHandle(const std::string& path, const std::string& name, int flags,
                                                int busy_timeout_ms);
  Db() = default;
  static int OnBusy(void* self, int count);
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int frames);
  static void OnUpdate(void* self, int op, const char* db, const char* table, int64_t rowid);
  // Whether the next checkpoint must truncate (migration 012's mark; true
  // without its table).
  bool WalScrubDue();
  std::unique_ptr<sqlite3, SqliteCloser> db_;
  WriterLock writer_lock_;
  int busy_timeout_ms_ = 0;
  int64_t busy_since_us_ = 0;
  int wal_frames_ = 0;
  int64_t next_checkpoint_us_ = 0;
  bool checkpoint_wants_room_ = false;  // the last checkpoint tried failed with SQLITE_FULL
  bool in_batch_ = false;
  uint64_t commits_ = 0;
  std::vector<std::string> before_commit_;
  std::string before_commit_table_;  // empty: every commit
  int64_t before_commit_every_ = 1;
  int64_t before_commit_rows_ = 0;  // inserted into before_commit_table_ since they last ran
  uint64_t before_commits_ = 0;
  friend class WriteBatch;
  friend class Transaction;
  using Cache = std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StmtFinalizer>>;
  Result<sqlite3_stmt*> Cached(Cache& cache, std::string_view sql);
  Cache cache_;
  Cache temp_cache_;  // PrepareTempWrite's
  std::string path_;
  // The file Open found at path_, as StillAtItsPath compares it.
  struct FileId {
    dev_t dev;
    ino_t ino;
  };
  std::optional<FileId> file_;
};

// BEGIN IMMEDIATE (or DEFERRED for reads) on construction via Begin(), ROLLBACK in the
// destructor unless Commit() succeeded. A write transaction holds the writer
// lock for its whole life. Inside an open WriteBatch a write transaction is
// SAVEPOINT instead, Commit() its RELEASE (durable only once the batch
// commits) and the destructor rolls back to it; the batch holds the lock.
// A read transaction begun inside an open transaction joins it.
class Transaction {
 public:
  enum class Mode { kRead, kWrite, kSavepoint };
  static Result<std::unique_ptr<Transaction>> Begin(Db& db, Mode mode);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Status Commit();

 private:
  Transaction(Db& db, Mode mode) : db_(db), mode_(mode) {}
  void Close();
  Db& db_;
  Mode mode_;
  bool open_ = true;
  bool joined_ = false;  // a read inside an open transaction: a no-op
};

// The single conversion point from an SQLite result code to a Status.
Status FromSqlite(int rc, sqlite3* db, std::string_view what);

}  // namespace parley
