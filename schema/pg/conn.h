// Thin RAII layer over libpq: a connection (PgConn), a result (PgResult),
// text parameters (PgParam) and a transaction guard (PgTx), in the style of
// schema/db.h, for the PostgreSQL backend of issue 10 (DESIGN §7).
//
// Contract: a PgConn is used by one thread at a time (libpq connections are
// not shared; each thread or process opens its own). Every libpq failure
// becomes a Status in exactly one place, FromPg() in conn.cc, by SQLSTATE:
// integrity violations are kConflict, serialization failures, deadlocks,
// lost connections and a server shutting down are kUnavailable (try again,
// perhaps on a new connection), anything else kInternal.
//
// Queries are synchronous (prepared statements) with every parameter sent
// as text, so values never meet the SQL string.
//
// Round trips. A statement whose result nobody reads (BEGIN, SET
// TRANSACTION, a batch's SAVEPOINT and RELEASE, a send's event row: Defer)
// is not sent on its own: it waits in a queue and goes out in one libpq
// pipeline with the next statement whose result is read, so a write inside
// a batch costs the round trips of its reads alone. The price is that
// such a statement's failure shows at that next statement: the queue is
// for statements that fail only when the server or the connection does,
// and a batch in which one failed cannot commit (PgBatch::Commit), since
// the write it belonged to may have been counted as done already.
// Statements whose results are read can share a round trip too
// (ExecTogether): a send's access query and its insert, so a send in a
// batch is one round trip (was 5).
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schema/status.h"
#include "schema/storage.h"  // Batch

struct pg_conn;
struct pg_result;

namespace parley::pg {

struct PgConnCloser {
  void operator()(pg_conn* conn) const;
};
struct PgResultClearer {
  void operator()(pg_result* res) const;
};

// A bigint[] parameter's text ("{1,2,3}"), for `$n::bigint[]`.
std::string ArrayOf(const std::vector<int64_t>& ids);

// A connection string or URL taken apart for a libpq client program run as
// a child (pg_dump): every parameter that libpq also reads from an
// environment variable (PGHOST, PGUSER, PGPASSWORD...) as "NAME=value" in
// env, the others as a "key='value' ..." connection string in rest. A
// program's command line is readable by every user of the host (ps,
// /proc/PID/cmdline); its environment only by its own user.
struct ConninfoParts {
  std::vector<std::string> env;
  std::string rest;
};
Result<ConninfoParts> SplitConninfo(const std::string& conninfo);

// One parameter of a query, as text, or SQL NULL.
class PgParam {
 public:
  PgParam(std::integral auto v) : value_(std::to_string(v)) {}  // NOLINT: implicit by design
  PgParam(std::string_view v) : value_(std::string(v)) {}        // NOLINT
  PgParam(const char* v) : value_(std::string(v)) {}             // NOLINT
  PgParam(const std::string& v) : value_(v) {}                   // NOLINT
  PgParam(std::nullopt_t) {}                                     // NOLINT
  template <typename T>
  PgParam(const std::optional<T>& v) {  // NOLINT
    if (v) value_ = PgParam(*v).value_;
  }
  // nullptr for SQL NULL.
  const char* c_str() const { return value_ ? value_->c_str() : nullptr; }
  // PostgreSQL text cannot hold a NUL byte, and libpq would cut the value
  // there; such a value is refused instead (kInvalid, invalid_text).
  bool has_nul() const { return value_ && value_->find('\0') != std::string::npos; }

 private:
  std::optional<std::string> value_;
};

// The rows of a query. Rows and columns are 0-based, as in libpq; reading
// outside them is a bug of the caller (the SQL names the columns).
class PgResult {
 public:
  explicit PgResult(pg_result* res) : res_(res) {}

  int Rows() const;
  int Columns() const;
  bool IsNull(int row, int col) const;
  std::string Text(int row, int col) const;
  // The column as a 64-bit integer; a value that is not one is a kInternal
  // error (it means the SQL and the caller disagree about a column's type).
  Result<int64_t> Int(int row, int col) const;
  std::optional<int64_t> OptionalInt(int row, int col) const;
  // Column `col` of every row, as integers (ids).
  Result<std::vector<int64_t>> Ints(int col = 0) const;
  // Rows changed by an INSERT, UPDATE or DELETE.
  int64_t Affected() const;
  pg_result* raw() const { return res_.get(); }

 private:
  std::unique_ptr<pg_result, PgResultClearer> res_;
};

class PgConn {
 public:
  // How long a connection attempt may take, unless the URL says otherwise.
  static constexpr int kConnectTimeoutS = 10;
  // A host that vanishes (a cut link, a VM stopped) sends no FIN or RST.
  // The server ends a session of ours that has sat inside a transaction
  // this long (idle_in_transaction_session_timeout), so the counter row
  // and member rows it locked do not stall every other pool's appends
  // until the server's TCP notices, hours later. None of our transactions
  // waits on its client for anything close to this (no hashing, no client
  // I/O inside one). Over TCP, libpq's keepalives and tcp_user_timeout
  // (URL keywords, which the URL may override) let this side see a dead
  // server within about the same time instead of waiting forever.
  static constexpr int kIdleInTransactionS = 10;
  // How long any statement of ours waits for a lock (lock_timeout) before
  // it fails as kUnavailable (503; the client retries). Ours are held for
  // milliseconds, a batch's counter row included; what holds one longer is
  // someone else's: a DBA's ALTER TABLE, VACUUM FULL or CREATE INDEX, or a
  // newer binary's migration during a rolling upgrade. Without a bound,
  // every request that touches the table would queue behind it, holding its
  // worker seat and its connection, and a batch stuck that way would hold
  // the counter row, and so every pool's writes. The URL may set its own
  // (options=-c lock_timeout=...): a setting made at connect is kept.
  static constexpr int kLockTimeoutS = 5;

  // url: a libpq connection string or URI ("postgresql://user@/db?host=/dir").
  // A server that cannot be reached is kUnavailable; a malformed URL kInvalid.
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& url);

  // One statement with $1, $2... bound to params (text). A parameter with a
  // NUL byte is kInvalid (invalid_text), before anything is sent.
  Result<PgResult> Exec(std::string_view sql, std::initializer_list<PgParam> params = {});
  Result<PgResult> Exec(std::string_view sql, const std::vector<PgParam>& params);
  // One or more statements without parameters (migrations, LISTEN). The
  // queue (Defer) is sent first.
  Status ExecScript(const std::string& sql);
  // A statement whose result is not read: queued, and sent with the next
  // statement that is (see the top of this file). A parameter with a NUL
  // byte is kInvalid now, as for Exec.
  Status Defer(std::string_view sql, std::vector<PgParam> params = {});
  // Statements whose results are all read, sent together (after the
  // queue) in one round trip: each one's result, in order. The server
  // skips the statements after one that fails; they answer its error. The
  // outer Result fails when a queued statement or the connection did.
  // plan_per_call: sent unprepared, so the server plans it for its
  // parameters at every call, where a prepared statement's generic plan
  // (which PostgreSQL settles on after five calls) would fit no value well:
  // a search, whose best index depends on how common its words are.
  struct Stmt {
    std::string sql;
    std::vector<PgParam> params;
    bool plan_per_call = false;
  };
  Result<std::vector<Result<PgResult>>> ExecTogether(const std::vector<Stmt>& stmts);

  // Session settings ("SET synchronous_commit = on"): run now, and again on
  // every reconnection (a new server session starts from the defaults).
  Status SetSession(const std::string& sql);

  // Whether the connection is still up (libpq's CONNECTION_OK). A broken
  // one (the server restarted, say) answers the statement that found it
  // broken kUnavailable; the next statement that starts outside a
  // transaction reconnects first (PQreset), so a worker or daemon outlives
  // a PostgreSQL restart. Inside a transaction it never reconnects: the
  // server rolled that transaction back, and the rest of it must fail too
  // rather than run on its own.
  bool ok() const;
  // Whether a transaction is open on the server (idle in transaction or in
  // a failed one).
  bool in_transaction() const;
  pg_conn* raw() const { return conn_.get(); }

  // Group commit (PgBatch): while a batch is open, every PgTx on this
  // connection is a savepoint inside it.
  bool in_batch() const { return in_batch_; }
  // Transactions and batches committed on this connection: each is one WAL
  // flush under synchronous_commit=on (the worker's syncs-per-batch metric).
  uint64_t commits() const { return commits_; }
  // Exchanges with the server so far: what Defer saves (tests count them).
  uint64_t round_trips() const { return round_trips_; }

  // The ids of the open batch (event_log.h): once one of its appends has
  // read the event counter row (whose lock the batch holds to its COMMIT),
  // the batch hands out the next ids itself. `row` is what the row holds
  // inside the batch's transaction, `last` the last id handed out; the
  // batch writes `last` back to the row before its COMMIT. A savepoint that
  // rolls back puts the run back as it was at its SAVEPOINT, as the server
  // puts the row back. Empty outside a batch.
  struct IdRun {
    int64_t row = 0;
    int64_t last = 0;
  };
  std::optional<IdRun>& id_run() { return id_run_; }

 private:
  friend class PgTx;
  friend class PgBatch;
  struct Deferred {
    uint64_t seq;  // ascending; a savepoint remembers its SAVEPOINT's
    std::string sql;
    std::vector<PgParam> params;
  };
  explicit PgConn(pg_conn* conn) : conn_(conn) {}
  Result<PgResult> ExecParams(std::string_view sql, const PgParam* params, size_t n);
  // The name of text's prepared statement, preparing it first if needed.
  Result<std::string> Prepared(const std::string& text, size_t n);
  // Sends the queue, then mains (each prepared unless unnamed), in one
  // pipeline, and returns the mains' results. A queued statement's failure
  // (or the connection's) is the outer error, also kept in
  // deferred_failed_; a main's is its own result, and the later mains'.
  struct Main {
    std::string text;
    bool prepared = true;
    const PgParam* params = nullptr;
    size_t n = 0;
  };
  Result<std::vector<Result<PgResult>>> Pipeline(std::span<const Main> mains);
  Result<PgResult> PipelineOne(const Main& main);
  uint64_t Queue(std::string sql, std::vector<PgParam> params = {});
  // Forgets the queued statements from seq on (a write rolled back before
  // they were sent).
  void DropQueuedFrom(uint64_t seq);
  // Whether the statement seq (a BEGIN) is all there is: unsent, with
  // nothing queued after it. Then its transaction ran nothing.
  bool OnlyQueued(uint64_t seq) const;
  // Ends the transaction or batch whose BEGIN is begin_seq: nothing at all
  // if it ran nothing, else COMMIT with the queue in its pipeline, counted
  // in commits(). A transaction in which a statement failed does not
  // commit: the server answers "ROLLBACK", an error here, as is a queued
  // statement that failed; a failed COMMIT is rolled back.
  // `reads` go in the same pipeline, after the queue and before the COMMIT
  // (a read transaction's last statements): their results, each ok, or the
  // error of the first that failed, which rolled everything back.
  Result<std::vector<Result<PgResult>>> Commit(uint64_t begin_seq, const std::vector<Stmt>& reads = {});
  // stmts as pipeline entries, prepared, pointing into stmts; a parameter
  // with a NUL byte is kInvalid.
  static Result<std::vector<Main>> MainsOf(const std::vector<Stmt>& stmts);
  // Before a statement: a lost connection, outside a transaction of ours,
  // is made again (see ok()). Fails kUnavailable while the server is down.
  Status ReconnectIfLost();
  // Every session's own settings (kIdleInTransactionS, kLockTimeoutS), at
  // connect and at every reconnect, before session_.
  Status Guard();
  // One or more statements now, ahead of the queue and without
  // reconnecting: the session's settings, a prepare's own savepoint, and
  // ExecScript once it has sent the queue.
  Status ExecNow(const std::string& sql);
  // A statement's result: FromPg, noting inside a batch a lock timeout and,
  // when the failure aborts the transaction (`aborts`: all but a prepare
  // in a savepoint of its own), its cause.
  Status Checked(const pg_result* res, std::string_view what, bool aborts = true);
  // Inside a batch in which a statement waited for a lock past
  // kLockTimeoutS, the later statements that read a result (and the later
  // writes) fail at once as kUnavailable, so the batch commits what it did
  // before, and the rest of its queue is answered 503 in a moment instead
  // of one lock timeout after another. The next batch tries again; the
  // batch's own end (PgBatch::Commit) is not refused.
  Status RefuseAfterLockTimeout() const;
  std::unique_ptr<pg_conn, PgConnCloser> conn_;
  bool in_tx_ = false;  // a PgTx (not a savepoint) is open
  bool in_batch_ = false;
  bool batch_lock_timed_out_ = false;  // RefuseAfterLockTimeout
  // The first statement of the open batch that failed outside any
  // savepoint: the batch's transaction is aborted, and its COMMIT fails
  // with this cause (so a busy database is 503, not 500).
  Status batch_failed_;
  std::string session_;  // SetSession's statements
  std::vector<Deferred> deferred_;  // the queue, oldest first
  uint64_t next_seq_ = 1;
  uint64_t sent_seq_ = 0;  // the newest queued statement sent
  // A queued statement failed in this transaction or batch: it cannot
  // commit. Cleared when the next one begins.
  Status deferred_failed_;
  int savepoints_ = 0;  // open PgTx savepoints, nested: parley_write_1, _2...
  std::optional<IdRun> id_run_;
  // The open batch's BEGIN and its first_lock, queued together (OnlyQueued).
  uint64_t preamble_end_ = 0;
  uint64_t commits_ = 0;
  uint64_t round_trips_ = 0;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

// BEGIN on Begin(), ROLLBACK in the destructor unless Commit() succeeded.
// Inside an open PgBatch it is a SAVEPOINT instead: Commit() releases it
// (the batch's COMMIT makes it durable), the destructor rolls back to it, so
// one write that fails leaves the others of the batch alone. BEGIN,
// SAVEPOINT and RELEASE are queued (PgConn::Defer): they ride with the next
// statement that is read, and a transaction rolled back before anything
// was sent costs nothing. Savepoints nested in one another have names of
// their own (parley_write_1, _2...), so a ROLLBACK TO reaches the right one
// whatever of the nested ones was released meanwhile.
// Isolation is PostgreSQL's default, READ COMMITTED: each statement sees
// what committed before it started, and an UPDATE that waited for another
// transaction's row lock re-reads that row's committed value (which is what
// makes the event counter row hand out ids in commit order, event_log.h).
class PgTx {
 public:
  static Result<std::unique_ptr<PgTx>> Begin(PgConn& conn);
  // A transaction of its own that reads one snapshot, and writes nothing
  // (BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY: one statement);
  // inside a batch, a savepoint as Begin makes, reading the batch's own
  // transaction.
  static Result<std::unique_ptr<PgTx>> BeginSnapshot(PgConn& conn);
  ~PgTx();
  PgTx(const PgTx&) = delete;
  PgTx& operator=(const PgTx&) = delete;

  // COMMIT. A transaction in which a statement failed does not commit: the
  // server rolls it back and answers "ROLLBACK", which is an error here.
  Status Commit();
  // Reads, then COMMIT, in one round trip: a read transaction's last
  // statements and its end together (PgConn::Commit's `reads`). Their
  // results, all ok, or the first failure. A savepoint (inside a batch)
  // runs them (ExecTogether), then Commit().
  Result<std::vector<Result<PgResult>>> CommitAfter(const std::vector<PgConn::Stmt>& reads);
  PgConn& conn() { return conn_; }

 private:
  PgTx(PgConn& conn, int depth, uint64_t seq) : conn_(conn), depth_(depth), seq_(seq), id_run_(conn.id_run_) {}
  // begin: the statement that opens a transaction of its own.
  static Result<std::unique_ptr<PgTx>> Open(PgConn& conn, const char* begin);
  PgConn& conn_;
  int depth_;     // 0: a transaction; n: the savepoint parley_write_n
  uint64_t seq_;  // of its queued BEGIN or SAVEPOINT
  std::optional<PgConn::IdRun> id_run_;  // the batch's at the SAVEPOINT, for a rollback
  bool open_ = true;
};

// One transaction that many writes share (the PostgreSQL side of
// schema/write_batch.h): BEGIN now, COMMIT once for all of them. The
// store's batches take the event counter row (event_log.h) at their BEGIN
// (first_lock) and hold it to the COMMIT, so the counter row is taken once
// per batch, and written once (PgConn::IdRun): before_commit must write it
// back (FinishIds), or the batch does not commit.
class PgBatch final : public Batch {
 public:
  // before_commit, if set, runs in the batch's transaction just before its
  // COMMIT (the store's one wake-up for the batch); its error fails the
  // batch, which then rolls back.
  // first_lock, if set, is a statement queued right after the BEGIN: the
  // lock every batch takes before any other (the store's event counter
  // row, event_log.h), so that batches never wait for each other in a
  // cycle. Its failure (a lock timeout) fails the batch's first write and,
  // as any queued statement's, the batch.
  static Result<std::unique_ptr<PgBatch>> Begin(PgConn& conn, std::function<Status()> before_commit = {},
                                                const std::string& first_lock = {});
  ~PgBatch() override;
  PgBatch(const PgBatch&) = delete;
  PgBatch& operator=(const PgBatch&) = delete;
  Status Commit() override;

 private:
  PgBatch(PgConn& conn, std::function<Status()> before_commit, uint64_t seq)
      : conn_(conn), before_commit_(std::move(before_commit)), seq_(seq) {}
  PgConn& conn_;
  std::function<Status()> before_commit_;
  uint64_t seq_;  // of its queued BEGIN
  bool open_ = true;
};

// The single conversion point from a libpq failure to a Status. res may be
// null (no result at all: out of memory or a lost connection).
Status FromPg(const pg_result* res, const pg_conn* conn, std::string_view what);

}  // namespace parley::pg
