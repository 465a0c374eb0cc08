#include "schema/db.h"

#include <sched.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "schema/log.h"
#include "schema/percent_encode.h"

namespace parley {

void SqliteCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void StmtFinalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

namespace {
int64_t MonotonicUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

// Waits before retry number `count` of something busy since `since_us`:
// false once timeout_ms has passed. SQLite's own busy timeout sleeps 1, 2,
// 5, 10, ... ms between retries; our write transactions hold the lock for
// tens of microseconds, so those sleeps would dominate latency whenever two
// workers write at once. Retry sooner: yield a few times, then sleep from
// 20 us doubling up to 1 ms, until the timeout.
bool WaitToRetry(int count, int64_t since_us, int timeout_ms) {
  if (MonotonicUs() - since_us >= int64_t{timeout_ms} * 1000) return false;
  if (count < 4) {
    sched_yield();
  } else {
    int64_t us = std::min<int64_t>(int64_t{20} << std::min(count - 4, 6), 1000);
    timespec ts{0, static_cast<long>(us * 1000)};
    nanosleep(&ts, nullptr);
  }
  return true;
}

// SQLite counts every allocation of the process under one mutex of its own
// (SQLITE_CONFIG_MEMSTATUS, on by default) for sqlite3_memory_used(), which
// nothing here reads. A worker's writer and its reading threads each have a
// connection, and that mutex was where they met: 15 % of the writer's
// context switches were waits for it in sqlite3Malloc and sqlite3_free
// (perf, 128 durable senders beside 16 readers; tools/bench/HISTORY.md,
// forty-fourth session). Off, connections share no lock but the file's. It
// can only be set before SQLite initialises: before the process's first
// open, which is this.
void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); rc != SQLITE_OK) {
      LOG_WARN("sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0): %s (SQLite was in use already)", sqlite3_errstr(rc));
    }
  });
}

// How long a connection polls the writer lock before it says it is waiting:
// longer than a batch usually holds it (its COMMIT's fsync included), so
// that under a light load no one stands back for anyone.
constexpr int64_t kWriterPatienceUs = 20'000;

// Runs attempt() again while it answers busy (kUnavailable), paced as above,
// until timeout_ms has passed; then its last answer stands.
template <typename Attempt>
Status RetryWhileBusy(int timeout_ms, Attempt attempt) {
  const int64_t since = MonotonicUs();
  for (int count = 0;; ++count) {
    Status st = attempt();
    if (st.code() != Code::kUnavailable || !WaitToRetry(count, since, timeout_ms)) return st;
  }
}
}  // namespace

int Db::OnBusy(void* self, int count) {
  Db* db = static_cast<Db*>(self);
  if (count == 0) db->busy_since_us_ = MonotonicUs();
  return WaitToRetry(count, db->busy_since_us_, db->busy_timeout_ms_) ? 1 : 0;
}

int Db::OnWalCommit(void* self, sqlite3*, const char*, int frames) {
  static_cast<Db*>(self)->wal_frames_ = frames;
  return SQLITE_OK;
}

Status Db::LockWriter() {
  // Past kWriterPatienceUs a connection says it is waiting, and those that
  // have not waited stand back for it (writer_lock.h: fairness).
  const int64_t since = MonotonicUs();
  Status st = RetryWhileBusy(busy_timeout_ms_, [this, since]() -> Status {
    if (!writer_lock_.waiting() && MonotonicUs() - since >= kWriterPatienceUs) {
      PARLEY_RETURN_IF_ERROR(writer_lock_.SetWaiting(true));
    }
    if (!writer_lock_.waiting()) {
      PARLEY_ASSIGN_OR_RETURN(bool others, writer_lock_.OthersWaiting());
      if (others) return Status::Unavailable("the database is busy, try again");
    }
    PARLEY_ASSIGN_OR_RETURN(bool taken, writer_lock_.TryLock());
    return taken ? Status::Ok() : Status::Unavailable("the database is busy, try again");
  });
  Status stopped = writer_lock_.SetWaiting(false);
  return st.ok() ? stopped : st;
}

bool Db::WalScrubDue() {
  auto s = Prepare("SELECT due FROM wal_scrub WHERE id = 1");
  if (!s.ok()) return true;  // no table: a database before its migrations
  Result<bool> row = s->Step();
  return !row.ok() || !*row || s->Int(0) != 0;
}

Status Db::Checkpoint() {
  if (!writing()) return Status::Internal("checkpoint without the writer lock");
  // RESTART, or TRUNCATE when text was deleted or overwritten since the last
  // one that truncated (migration 012): a RESTART leaves the WAL file its
  // size, and the commits after it overwrite it in place, which an
  // fdatasync flushes without a journal commit for the file's size; a
  // TRUNCATE empties the file, so old page images (with text since deleted)
  // do not stay in it. The mark is cleared before the checkpoint, which
  // copies that commit into the database file with the rest, and set again
  // if the checkpoint fails, so that the next one truncates.
  const bool truncate = WalScrubDue();
  const bool cleared = truncate && ExecScript("UPDATE wal_scrub SET due = 0 WHERE id = 1").ok();
  // No Parley connection can write now, so the checkpoint gets SQLite's
  // write lock at once and cannot meet a commit restarting the WAL. It waits
  // only for readers of older snapshots, briefly: it blocks every writer.
  const int saved = busy_timeout_ms_;
  busy_timeout_ms_ = kCheckpointReaderWaitMs;
  int rc = sqlite3_wal_checkpoint_v2(db_.get(), "main", truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_RESTART,
                                     nullptr, nullptr);
  busy_timeout_ms_ = saved;
  if (rc == SQLITE_OK) {
    wal_frames_ = 0;
    checkpoint_wants_room_ = false;
  } else if ((rc & 0xff) == SQLITE_FULL) {
    checkpoint_wants_room_ = true;
  }
  if (rc != SQLITE_OK && cleared) {
    (void)ExecScript("UPDATE wal_scrub SET due = 1 WHERE id = 1");
  }
  return FromSqlite(rc, db_.get(), "checkpoint");
}

Status Db::CheckpointIfDue() {
  if (wal_frames_ < kCheckpointFrames) return Status::Ok();
  const int64_t now = MonotonicUs();
  if (now < next_checkpoint_us_) return Status::Ok();
  Status st = LockWriter();
  if (st.ok()) {
    st = Checkpoint();
    UnlockWriter();
  }
  if (!st.ok()) next_checkpoint_us_ = now + int64_t{kCheckpointRetryMs} * 1000;
  return st;
}

Status Db::StillAtItsPath() const {
  if (!file_) return Status::Ok();
  struct stat st;
  if (stat(path_.c_str(), &st) == 0 && st.st_dev == file_->dev && st.st_ino == file_->ino) return Status::Ok();
  return Status::StorageUnavailable("the database file " + path_ +
                                    " is not the one this process opened (moved, deleted or replaced): "
                                    "writes are refused until it is back, or the pool restarted");
}

Status Db::LockWriterToWrite() {
  PARLEY_RETURN_IF_ERROR(StillAtItsPath());
  PARLEY_RETURN_IF_ERROR(LockWriter());
  if (!checkpoint_wants_room_) return Status::Ok();
  const int64_t now = MonotonicUs();
  Status st = now < next_checkpoint_us_ ? Status::StorageFull() : Checkpoint();
  if (st.ok()) return st;
  if (now >= next_checkpoint_us_) next_checkpoint_us_ = now + int64_t{kCheckpointRetryMs} * 1000;
  UnlockWriter();
  return st;
}

void Db::OnUpdate(void* self, int op, const char*, const char* table, int64_t) {
  Db* db = static_cast<Db*>(self);
  if (op == SQLITE_INSERT && db->before_commit_table_ == table) ++db->before_commit_rows_;
}

void Db::SetBeforeCommit(std::vector<std::string> sql, std::string after_insert_into, int64_t every_rows) {
  before_commit_ = std::move(sql);
  before_commit_table_ = std::move(after_insert_into);
  before_commit_every_ = std::max<int64_t>(every_rows, 1);  // the rows counted so far still count
  // The hook costs a call per row written: only on connections that need it.
  if (before_commit_table_.empty()) {
    sqlite3_update_hook(db_.get(), nullptr, nullptr);
  } else {
    sqlite3_update_hook(db_.get(), [](void* self, int op, const char* db, const char* table, sqlite3_int64 rowid) {
      OnUpdate(self, op, db, table, rowid);
    }, this);
  }
}

Status Db::BeforeCommit() {
  if (before_commit_.empty() || (!before_commit_table_.empty() && before_commit_rows_ < before_commit_every_)) {
    return Status::Ok();
  }
  PARLEY_RETURN_IF_ERROR(RunBeforeCommit());
  ++before_commits_;
  return Status::Ok();
}

Status Db::RunBeforeCommit() {
  for (const std::string& sql : before_commit_) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, Prepare(sql));
    PARLEY_RETURN_IF_ERROR(s.Exec());
  }
  before_commit_rows_ = 0;
  return Status::Ok();
}

Status FromSqlite(int rc, sqlite3* db, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable("the database is busy, try again");
    case SQLITE_FULL:
      return Status::StorageFull();
    // Every extended I/O error (a failed read, write, fsync, lock or
    // truncate of the database, its WAL or its shm) and a file that cannot
    // be opened (gone, moved, its directory unreadable): the storage, not
    // the request, failed, and it may come back.
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return Status::StorageUnavailable(msg);
    case SQLITE_CONSTRAINT:
      return Status::Conflict("conflict", msg).WithPrivateMessage();
    case SQLITE_TOOBIG:
      return Status(Code::kTooLarge, "too_large", msg).WithPrivateMessage();
    default:
      return Status::Internal(msg);
  }
}

Statement::~Statement() {
  if (stmt_) sqlite3_reset(stmt_);
}

Statement& Statement::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::Bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindBlob(int i, std::string_view v) {
  sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindDouble(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
Statement& Statement::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Result<bool> Statement::Step() {
  // The WAL is only safe to checkpoint because every change is made under
  // the writer lock (db.h); a write that slipped past Transaction would
  // quietly void that, so it fails instead.
  if (!temp_only_ && !db_->writing() && !sqlite3_stmt_readonly(stmt_)) {
    return Status::Internal(std::string("a write outside a write transaction: ") + sqlite3_sql(stmt_));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status st = FromSqlite(rc, db_->raw(), "step");
  sqlite3_reset(stmt_);
  return st;
}

Result<std::vector<int64_t>> Statement::Ints() {
  std::vector<int64_t> out;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return out;
    out.push_back(Int(0));
  }
}

Status Statement::Exec() {
  for (;;) {
    auto r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::Double(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Statement::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}
bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::Changes() const { return sqlite3_changes(db_->raw()); }

std::optional<Sync> ParseSync(std::string_view s) {
  if (s == "full") return Sync::kFull;
  if (s == "normal") return Sync::kNormal;
  return std::nullopt;
}

bool Db::in_transaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

Result<std::unique_ptr<Db>> Db::OpenHandle(const std::string& path, const std::string& name, int flags,
                                           int busy_timeout_ms) {
  ConfigureSqliteOnce();
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(name.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Db> db(new Db());
  db->db_.reset(raw);
  db->path_ = path;
  if (rc != SQLITE_OK) return FromSqlite(rc, raw, "open " + path);
  db->busy_timeout_ms_ = busy_timeout_ms;
  sqlite3_busy_handler(raw, &Db::OnBusy, db.get());
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, int busy_timeout_ms, Sync sync, Create create) {
  const int flags = SQLITE_OPEN_READWRITE | (create == Create::kIfMissing ? SQLITE_OPEN_CREATE : 0);
  auto opened = OpenHandle(path, path, flags, busy_timeout_ms);
  if (!opened.ok() && create == Create::kNever && access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    return Status::StorageUnavailable("open " + path + ": no such file (moved or deleted? only a start-up's " +
                                      "migration creates the database)");
  }
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, std::move(opened));
  PARLEY_ASSIGN_OR_RETURN(db->writer_lock_, WriterLock::Open(path));
  struct stat st;
  if (stat(path.c_str(), &st) == 0) db->file_ = FileId{st.st_dev, st.st_ino};
  sqlite3* raw = db->db_.get();
  // Replaces SQLite's automatic checkpoints (a wal hook of their own): see
  // db.h for who checkpoints instead.
  sqlite3_wal_hook(raw, &Db::OnWalCommit, db.get());
  // WAL lets the events daemon read while a worker writes. synchronous=FULL
  // in WAL mode syncs the WAL at every commit, so a commit is durable when
  // it returns (https://sqlite.org/pragma.html#pragma_synchronous);
  // synchronous=NORMAL is durable across application crashes, and a power
  // cut may lose the last commits but never corrupts the file (the SQLite
  // WAL documentation).
  // Every read here is one short statement, so a checkpoint seldom waits
  // for a reader. journal_size_limit truncates the WAL file when it starts
  // over after a reader held a checkpoint back and the WAL grew past it.
  // Two processes opening a new database at once (tools/run starts both
  // daemons together) both switch it to WAL; the switch needs the file to
  // themselves and SQLite answers BUSY at once, without its busy handler.
  // Wait for our turn as for any lock.
  PARLEY_RETURN_IF_ERROR(
      RetryWhileBusy(busy_timeout_ms, [&db] { return db->ExecScript("PRAGMA journal_mode=WAL"); }));
  // secure_delete zeroes what a delete or an update frees, so text that
  // its author deleted or edited does not linger in free space of the file
  // (issue 8, item 6); together with the TRUNCATE checkpoint, not in the
  // WAL either once it is checkpointed.
  PARLEY_RETURN_IF_ERROR(db->ExecScript(sync == Sync::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  PARLEY_RETURN_IF_ERROR(db->ExecScript(
      "PRAGMA foreign_keys=ON;"
      "PRAGMA temp_store=MEMORY;"
      "PRAGMA secure_delete=ON;"
      "PRAGMA journal_size_limit=16777216;"));
  return db;
}

namespace {
// path as an SQLite URI (https://sqlite.org/uri.html), so that query
// parameters can follow it: every byte but an unreserved one or '/' is
// percent-encoded, so a '?', '#' or '%' in a hostile path stays part of the
// name. An absolute path gets an empty authority ("file:///..."), so that
// one beginning "//" is not read as a host.
std::string SqliteFileUri(const std::string& path) {
  return (path.empty() || path[0] != '/' ? "file:" : "file://") + PercentEncode(path, "-._~/");
}
}  // namespace

Result<std::unique_ptr<Db>> Db::OpenReadOnly(const std::string& path, ReadOnly how, int busy_timeout_ms) {
  // mode=ro as well as the flag: a URI's mode may only narrow the flags,
  // and says the intent where the URI is logged.
  const std::string uri = SqliteFileUri(path) + (how == ReadOnly::kImmutable ? "?mode=ro&immutable=1" : "?mode=ro");
  // No writer lock (its file would be created beside the database): this
  // connection never writes, so it never needs it.
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<Db> db,
                          OpenHandle(path, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, busy_timeout_ms));
  // Per connection, written nowhere.
  PARLEY_RETURN_IF_ERROR(db->ExecScript("PRAGMA query_only=ON"));
  return db;
}

Result<sqlite3_stmt*> Db::Cached(Cache& cache, std::string_view sql) {
  std::string key(sql);
  auto it = cache.find(key);
  if (it == cache.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return FromSqlite(rc, db_.get(), "prepare");
    it = cache.emplace(std::move(key), std::unique_ptr<sqlite3_stmt, StmtFinalizer>(stmt)).first;
  }
  return it->second.get();
}

Result<Statement> Db::Prepare(std::string_view sql) {
  PARLEY_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Cached(cache_, sql));
  Statement s(this, stmt);
  s.Reset();
  return s;
}

namespace {
// The authorizer of PrepareTempWrite: reading anything, and any other
// action on the TEMP schema only.
int TempOnly(void*, int action, const char*, const char*, const char* schema, const char*) {
  if (action == SQLITE_SELECT || action == SQLITE_READ || action == SQLITE_FUNCTION || action == SQLITE_RECURSIVE) {
    return SQLITE_OK;
  }
  return schema != nullptr && std::string_view(schema) == "temp" ? SQLITE_OK : SQLITE_DENY;
}
}  // namespace

Result<Statement> Db::PrepareTempWrite(std::string_view sql) {
  sqlite3_set_authorizer(db_.get(), TempOnly, nullptr);
  Result<sqlite3_stmt*> stmt = Cached(temp_cache_, sql);
  sqlite3_set_authorizer(db_.get(), nullptr, nullptr);
  PARLEY_RETURN_IF_ERROR(stmt.status());
  Statement s(this, *stmt, true);
  s.Reset();
  return s;
}

Status Db::ExecScript(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  return FromSqlite(rc, db_.get(), "exec");
}

Status Db::BackupTo(const std::string& dest) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(dest.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::unique_ptr<sqlite3, SqliteCloser> out(raw);
  if (rc != SQLITE_OK) return FromSqlite(rc, raw, "open " + dest);
  // One read transaction on the source for the whole copy, so the copy is
  // of one snapshot. Without it each step read the database afresh, and a
  // commit by another process (a daemon) between two steps restarted the
  // copy from page 1: under a steady stream of sends a backup of a few MiB
  // never finished. In WAL mode a reader holds no writer back; it only
  // keeps checkpoints from restarting the WAL until the copy is done (they
  // wait kCheckpointReaderWaitMs and try again later).
  PARLEY_RETURN_IF_ERROR(ExecScript("BEGIN; SELECT count(*) FROM sqlite_schema"));
  sqlite3_backup* b = sqlite3_backup_init(raw, "main", db_.get(), "main");
  if (!b) {
    Status st = FromSqlite(sqlite3_errcode(raw), raw, "backup");
    (void)ExecScript("COMMIT");
    return st;
  }
  // Steps, so that a lock on the destination is retried.
  do {
    rc = sqlite3_backup_step(b, 256);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(20);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish(b);
  Status ended = ExecScript("COMMIT");  // the read transaction: nothing to write
  PARLEY_RETURN_IF_ERROR(FromSqlite(rc == SQLITE_DONE ? SQLITE_OK : rc, raw, "backup"));
  return ended;
}

Result<std::string> Db::IntegrityCheck() {
  PARLEY_ASSIGN_OR_RETURN(Statement s, Prepare("PRAGMA integrity_check"));
  std::string out;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    if (!out.empty()) out += '\n';
    out += s.Text(0);
  }
  return out;
}

int64_t Db::LastInsertId() const { return sqlite3_last_insert_rowid(db_.get()); }

Result<std::unique_ptr<Transaction>> Transaction::Begin(Db& db, Mode mode) {
  if (mode == Mode::kWrite && db.in_batch()) mode = Mode::kSavepoint;
  if (mode == Mode::kSavepoint) {
    // SQLite rolls the whole transaction back by itself after some errors
    // (a full disk, an I/O error); a savepoint then would run in autocommit
    // mode, outside the batch. Refuse instead: the batch fails as a whole.
    if (!db.in_batch() || !db.in_transaction()) return Status::Unavailable("the write batch was rolled back");
    std::unique_ptr<Transaction> tx(new Transaction(db, mode));
    PARLEY_ASSIGN_OR_RETURN(Statement s, db.Prepare("SAVEPOINT parley_write"));
    if (Status st = s.Exec(); !st.ok()) {
      tx->open_ = false;
      return st;
    }
    return tx;
  }
  if (mode == Mode::kRead && db.in_transaction()) {
    // A read inside an open transaction (a room list reading each room's
    // latest page) reads that transaction's snapshot: nothing to begin or end.
    std::unique_ptr<Transaction> tx(new Transaction(db, mode));
    tx->open_ = false;
    tx->joined_ = true;
    return tx;
  }
  if (mode == Mode::kWrite) PARLEY_RETURN_IF_ERROR(db.LockWriterToWrite());
  std::unique_ptr<Transaction> tx(new Transaction(db, mode));
  PARLEY_ASSIGN_OR_RETURN(Statement s, db.Prepare(mode == Mode::kWrite ? "BEGIN IMMEDIATE" : "BEGIN"));
  if (Status st = s.Exec(); !st.ok()) {
    tx->open_ = false;  // nothing to roll back; the destructor unlocks
    return st;
  }
  return tx;
}

Transaction::~Transaction() {
  if (open_) {
    if (mode_ == Mode::kSavepoint) {
      // Undo this write only; the batch and the writes before it stay.
      if (db_.in_transaction()) {
        if (auto s = db_.Prepare("ROLLBACK TO parley_write"); s.ok()) (void)s->Exec();
        if (auto s = db_.Prepare("RELEASE parley_write"); s.ok()) (void)s->Exec();
      }
    } else if (auto s = db_.Prepare("ROLLBACK"); s.ok()) {
      (void)s->Exec();
    }
  }
  Close();
}

void Transaction::Close() {
  if (mode_ == Mode::kWrite) db_.UnlockWriter();
  mode_ = Mode::kRead;  // released once
}

Status Transaction::Commit() {
  if (joined_) return Status::Ok();
  const bool savepoint = mode_ == Mode::kSavepoint;
  if (mode_ == Mode::kWrite) PARLEY_RETURN_IF_ERROR(db_.BeforeCommit());
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(savepoint ? "RELEASE parley_write" : "COMMIT"));
  Status st = s.Exec();
  if (st.ok()) {
    if (mode_ == Mode::kWrite) ++db_.commits_;
    open_ = false;
    Close();
  }
  return st;
}

}  // namespace parley
