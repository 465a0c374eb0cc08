#include "schema/pg/conn.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

namespace parley::pg {

void PgConnCloser::operator()(pg_conn* conn) const { PQfinish(conn); }
void PgResultClearer::operator()(pg_result* res) const { PQclear(res); }

namespace {

// libpq's messages end with a newline; a Status message reads better without.
std::string Trimmed(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The statement as an error names it: its start (a batch INSERT runs to
// hundreds of kilobytes).
std::string Brief(std::string_view sql) {
  constexpr size_t kMax = 80;
  return sql.size() > kMax ? std::string(sql.substr(0, kMax)) + "..." : std::string(sql);
}

bool StartsWith(const char* s, const char* prefix) {
  return s && std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

}  // namespace

// SQLSTATE lock_not_available: a statement waited past lock_timeout.
constexpr const char* kLockNotAvailable = "55P03";

Status FromPg(const pg_result* res, const pg_conn* conn, std::string_view what) {
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += Trimmed(res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  // No SQLSTATE: libpq itself failed, almost always a lost connection. The
  // first statement on a connection whose server restarted fails with
  // "server closed the connection unexpectedly" while libpq may still call
  // the connection good (the chaos test saw it answer 500), so this is
  // kUnavailable whatever PQstatus says: the client retries, and the next
  // statement finds the connection bad and makes it again.
  if (state == nullptr) return Status::Unavailable(msg).WithPrivateMessage();
  // https://www.postgresql.org/docs/15/errcodes-appendix.html
  if (StartsWith(state, "23")) return Status::Conflict("conflict", msg).WithPrivateMessage();  // integrity
  // A protocol violation (08P01: say, too few parameters) is our bug, not
  // a connection to retry.
  if (std::strcmp(state, "08P01") == 0) return Status::Internal(msg);
  if (std::strcmp(state, "53100") == 0) return Status::StorageFull();  // disk_full
  if (StartsWith(state, "40") ||   // serialization failure, deadlock: retry
      StartsWith(state, "08") ||   // connection exception
      StartsWith(state, "53") ||   // insufficient resources (too many connections)
      StartsWith(state, "57P") ||  // shutting down, cannot connect now
      std::strcmp(state, kLockNotAvailable) == 0 ||  // lock_timeout
      std::strcmp(state, "57014") == 0) {  // statement timeout
    return Status::Unavailable(msg).WithPrivateMessage();
  }
  if (std::strcmp(state, "54000") == 0) return Status(Code::kTooLarge, "too_large", msg).WithPrivateMessage();
  return Status::Internal(msg);
}

int PgResult::Rows() const { return PQntuples(res_.get()); }
int PgResult::Columns() const { return PQnfields(res_.get()); }
bool PgResult::IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }

std::string PgResult::Text(int row, int col) const {
  return std::string(PQgetvalue(res_.get(), row, col),
                     static_cast<size_t>(PQgetlength(res_.get(), row, col)));
}

std::string ArrayOf(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "}";
}

Result<ConninfoParts> SplitConninfo(const std::string& conninfo) {
  char* err = nullptr;
  struct OptionsFreer {
    void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
  };
  std::unique_ptr<PQconninfoOption, OptionsFreer> opts(PQconninfoParse(conninfo.c_str(), &err));
  if (!opts) {
    std::string why = err ? err : "out of memory";
    PQfreemem(err);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Status::Invalid("invalid_db", "the PostgreSQL connection string: " + why);
  }
  ConninfoParts parts;
  for (const PQconninfoOption* o = opts.get(); o->keyword; ++o) {
    if (!o->val) continue;
    if (o->envvar) {
      parts.env.push_back(std::string(o->envvar) + "=" + o->val);
      continue;
    }
    // A conninfo value in single quotes, its quotes and backslashes escaped.
    if (!parts.rest.empty()) parts.rest += ' ';
    parts.rest += std::string(o->keyword) + "='";
    for (const char* c = o->val; *c; ++c) {
      if (*c == '\'' || *c == '\\') parts.rest += '\\';
      parts.rest += *c;
    }
    parts.rest += '\'';
  }
  return parts;
}

Result<std::vector<int64_t>> PgResult::Ints(int col) const {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(Rows()));
  for (int i = 0; i < Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t v, Int(i, col));
    out.push_back(v);
  }
  return out;
}

Result<int64_t> PgResult::Int(int row, int col) const {
  const char* v = PQgetvalue(res_.get(), row, col);
  const char* end = v + PQgetlength(res_.get(), row, col);
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v, end, out);
  if (ec != std::errc() || ptr != end || IsNull(row, col)) {
    return Status::Internal("column " + std::to_string(col) + " of row " + std::to_string(row) +
                            " is not an integer: '" + std::string(v, end) + "'");
  }
  return out;
}

std::optional<int64_t> PgResult::OptionalInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  Result<int64_t> v = Int(row, col);
  return v.ok() ? std::optional<int64_t>(*v) : std::nullopt;
}

int64_t PgResult::Affected() const {
  const char* n = PQcmdTuples(res_.get());
  int64_t out = 0;
  std::from_chars(n, n + std::strlen(n), out);
  return out;
}

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& url) {
  // Keywords are applied in order and the expanded URL comes last, so a
  // connect_timeout (or a keepalive setting) in the URL wins over ours.
  // Keepalives: idle 5 s, then 3 probes 2 s apart; unacknowledged data
  // 10 s (kIdleInTransactionS's note). They apply to TCP only.
  const std::string timeout = std::to_string(kConnectTimeoutS);
  const std::string user_timeout = std::to_string(kIdleInTransactionS * 1000);
  const char* keys[] = {"connect_timeout",     "keepalives",        "keepalives_idle", "keepalives_interval",
                        "keepalives_count",    "tcp_user_timeout",  "dbname",          nullptr};
  const char* values[] = {timeout.c_str(), "1", "5", "2", "3", user_timeout.c_str(), url.c_str(), nullptr};
  std::unique_ptr<PgConn> conn(new PgConn(PQconnectdbParams(keys, values, /*expand_dbname=*/1)));
  if (!conn->conn_) return Status::Internal("PQconnectdbParams: out of memory");
  if (PQstatus(conn->raw()) != CONNECTION_OK) {
    std::string msg = Trimmed(PQerrorMessage(conn->raw()));
    // libpq says why it could not even try: the URL is malformed.
    if (msg.find("invalid") != std::string::npos || msg.find("missing") != std::string::npos ||
        msg.find("unrecognized") != std::string::npos) {
      return Status::Invalid("invalid_database_url", "PostgreSQL URL: " + msg);
    }
    return Status::Unavailable("connecting to PostgreSQL: " + msg).WithPrivateMessage();
  }
  PARLEY_RETURN_IF_ERROR(conn->Guard());
  return conn;
}

Status PgConn::Guard() {
  // lock_timeout only where nothing (the URL's options, the role's or the
  // database's settings) set one already.
  const std::string sql =
      "SET idle_in_transaction_session_timeout = '" + std::to_string(kIdleInTransactionS) +
      "s'; SELECT set_config('lock_timeout', '" + std::to_string(kLockTimeoutS) +
      "s', false) WHERE current_setting('lock_timeout') = '0'";
  return ExecNow(sql);
}

Status PgConn::ExecNow(const std::string& sql) {
  ++round_trips_;
  PgResult res(PQexec(conn_.get(), sql.c_str()));
  return FromPg(res.raw(), conn_.get(), Brief(sql));
}

bool PgConn::ok() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

bool PgConn::in_transaction() const {
  PGTransactionStatusType t = PQtransactionStatus(conn_.get());
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

Result<PgResult> PgConn::Exec(std::string_view sql, std::initializer_list<PgParam> params) {
  return ExecParams(sql, params.begin(), params.size());
}

Result<PgResult> PgConn::Exec(std::string_view sql, const std::vector<PgParam>& params) {
  return ExecParams(sql, params.data(), params.size());
}

Status PgConn::ReconnectIfLost() {
  if (ok() || in_tx_ || in_batch_) return Status::Ok();
  PQreset(conn_.get());
  if (!ok()) {
    return Status::Unavailable("reconnecting to PostgreSQL: " + Trimmed(PQerrorMessage(conn_.get())))
        .WithPrivateMessage();
  }
  prepared_.clear();  // they lived in the old server session
  PARLEY_RETURN_IF_ERROR(Guard());
  if (!session_.empty()) PARLEY_RETURN_IF_ERROR(ExecNow(session_));
  return Status::Ok();
}

Status PgConn::SetSession(const std::string& sql) {
  PARLEY_RETURN_IF_ERROR(ExecScript(sql));
  session_ = sql;
  return Status::Ok();
}

Result<std::string> PgConn::Prepared(const std::string& text, size_t n) {
  // Prepared once per connection and SQL text, as SQLite's statements are
  // (schema/db.h): an unnamed statement is parsed and planned at every
  // call, which cost more server CPU than running it (about 1 ms against
  // 0.05 ms per statement of a history read). Null paramTypes: the server
  // infers them; text in, text out.
  auto it = prepared_.find(text);
  if (it != prepared_.end()) return it->second;
  std::string name = "p" + std::to_string(prepared_.size() + 1);
  // A PREPARE runs at once, ahead of the queue, whose SAVEPOINT (a write's,
  // in a batch) the server has not seen yet: one that failed there (say,
  // behind another session's table lock, past lock_timeout) would abort the
  // whole transaction, and with it every write of the batch. In a savepoint
  // of its own it fails alone. Once per statement and connection.
  const bool contained = PQtransactionStatus(conn_.get()) == PQTRANS_INTRANS;
  if (contained) PARLEY_RETURN_IF_ERROR(ExecNow("SAVEPOINT parley_prepare"));
  ++round_trips_;
  PgResult prep(PQprepare(conn_.get(), name.c_str(), text.c_str(), static_cast<int>(n), nullptr));
  Status ps = Checked(prep.raw(), Brief(text), /*aborts=*/!contained);
  if (contained) {
    PARLEY_RETURN_IF_ERROR(ExecNow(ps.ok() ? "RELEASE SAVEPOINT parley_prepare"
                                           : "ROLLBACK TO SAVEPOINT parley_prepare; RELEASE SAVEPOINT parley_prepare"));
  }
  if (!ps.ok()) return ps;
  return prepared_.emplace(text, std::move(name)).first->second;
}

namespace {

std::vector<const char*> Values(const PgParam* params, size_t n) {
  std::vector<const char*> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = params[i].c_str();
  return values;
}

Status CheckNoNul(const PgParam* params, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (params[i].has_nul()) {
      return Status::Invalid("invalid_text", "parameter " + std::to_string(i + 1) + " holds a NUL byte");
    }
  }
  return Status::Ok();
}

}  // namespace

Status PgConn::Checked(const pg_result* res, std::string_view what, bool aborts) {
  Status st = FromPg(res, conn_.get(), what);
  if (!st.ok() && in_batch_) {
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    if (state != nullptr && std::strcmp(state, kLockNotAvailable) == 0) batch_lock_timed_out_ = true;
    // Outside any savepoint (a read of the batch's own, such as the
    // session's), a failure aborts the batch's transaction: its COMMIT
    // will say why.
    if (aborts && savepoints_ == 0 && batch_failed_.ok()) batch_failed_ = st;
  }
  return st;
}

Status PgConn::RefuseAfterLockTimeout() const {
  if (!in_batch_ || !batch_lock_timed_out_) return Status::Ok();
  return Status::Unavailable("an earlier write of this batch waited for a lock too long; try again");
}

Result<PgResult> PgConn::ExecParams(std::string_view sql, const PgParam* params, size_t n) {
  PARLEY_RETURN_IF_ERROR(RefuseAfterLockTimeout());
  PARLEY_RETURN_IF_ERROR(ReconnectIfLost());
  PARLEY_RETURN_IF_ERROR(CheckNoNul(params, n));
  Main main{std::string(sql), true, params, n};
  if (!deferred_.empty()) return PipelineOne(main);
  PARLEY_ASSIGN_OR_RETURN(std::string name, Prepared(main.text, n));
  std::vector<const char*> values = Values(params, n);
  ++round_trips_;
  PgResult res(PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(n), values.data(), nullptr, nullptr, 0));
  Status st = Checked(res.raw(), Brief(main.text));
  if (!st.ok()) return st;
  return res;
}

uint64_t PgConn::Queue(std::string sql, std::vector<PgParam> params) {
  deferred_.push_back({next_seq_, std::move(sql), std::move(params)});
  return next_seq_++;
}

Status PgConn::Defer(std::string_view sql, std::vector<PgParam> params) {
  PARLEY_RETURN_IF_ERROR(CheckNoNul(params.data(), params.size()));
  Queue(std::string(sql), std::move(params));
  return Status::Ok();
}

bool PgConn::OnlyQueued(uint64_t seq) const {
  // A batch's BEGIN has its counter lock queued behind it (preamble_end_).
  return seq > sent_seq_ && !deferred_.empty() && deferred_.front().seq == seq &&
         deferred_.back().seq <= std::max(seq, preamble_end_);
}

void PgConn::DropQueuedFrom(uint64_t seq) {
  std::erase_if(deferred_, [seq](const Deferred& d) { return d.seq >= seq; });
}

Result<std::vector<Result<PgResult>>> PgConn::Pipeline(std::span<const Main> mains) {
  // Everything is prepared before the pipeline opens: PQprepare waits for
  // its answer, which pipeline mode does not allow. Statements without
  // parameters (BEGIN, SAVEPOINT...) go unnamed: nothing to plan; so do
  // the mains that are planned at every call (Stmt::plan_per_call).
  // (A statement that fails to prepare leaves the queue as it was.)
  // The queue, then the mains: one list, each with its prepared name
  // (empty: unnamed).
  struct Outgoing {
    const std::string* text;
    const PgParam* params;
    size_t n;
    std::string name;
  };
  std::vector<Outgoing> all;
  all.reserve(deferred_.size() + mains.size());
  for (const Deferred& d : deferred_) {
    all.push_back({&d.sql, d.params.data(), d.params.size(), {}});
    if (!d.params.empty()) {
      PARLEY_ASSIGN_OR_RETURN(all.back().name, Prepared(d.sql, d.params.size()));
    }
  }
  for (const Main& m : mains) {
    all.push_back({&m.text, m.params, m.n, {}});
    if (m.prepared) {
      PARLEY_ASSIGN_OR_RETURN(all.back().name, Prepared(m.text, m.n));
    }
  }
  // swap keeps the elements where they are: `all` still points into them.
  std::vector<Deferred> queued;
  queued.swap(deferred_);
  if (!queued.empty()) sent_seq_ = queued.back().seq;

  pg_conn* c = conn_.get();
  auto lost = [c] { return Status::Unavailable("pipeline: " + Trimmed(PQerrorMessage(c))).WithPrivateMessage(); };
  if (PQenterPipelineMode(c) != 1) return lost();
  auto send = [c](const Outgoing& st) {
    std::vector<const char*> values = Values(st.params, st.n);
    return st.name.empty() ? PQsendQueryParams(c, st.text->c_str(), static_cast<int>(st.n), nullptr, values.data(),
                                               nullptr, nullptr, 0)
                           : PQsendQueryPrepared(c, st.name.c_str(), static_cast<int>(st.n), values.data(), nullptr,
                                                 nullptr, 0);
  };
  size_t sent = 0;
  while (sent < all.size() && send(all[sent]) == 1) ++sent;
  const bool ok = sent == all.size();
  ++round_trips_;
  // A statement that could not be sent (a lost connection) leaves the
  // queued ones unknown: counted as a queued statement's failure.
  Status queued_failed = ok ? Status::Ok() : lost();
  std::vector<Result<PgResult>> results;
  results.reserve(mains.size());
  if (PQpipelineSync(c) == 1) {
    // One result per statement sent, each followed by a null; then the
    // sync's. After a failure the later statements come back
    // PGRES_PIPELINE_ABORTED, reported as that first failure.
    Status first;
    for (size_t i = 0; i < sent; ++i) {
      PgResult res(PQgetResult(c));
      if (res.raw() == nullptr) {  // the connection is gone
        if (queued_failed.ok()) queued_failed = lost();
        break;
      }
      while (pg_result* extra = PQgetResult(c)) PQclear(extra);
      Status st = Checked(res.raw(), Brief(*all[i].text));
      if (!st.ok() && first.ok()) first = st;
      if (i < queued.size()) {
        if (!first.ok() && queued_failed.ok()) queued_failed = first;
      } else if (!first.ok()) {
        results.emplace_back(first);
      } else {
        results.emplace_back(std::move(res));
      }
    }
    for (int guard = 0; guard < 4; ++guard) {
      PgResult res(PQgetResult(c));
      if (res.raw() == nullptr || PQresultStatus(res.raw()) == PGRES_PIPELINE_SYNC) break;
    }
  } else if (queued_failed.ok()) {
    queued_failed = lost();
  }
  // Why the connection went, read before PQexitPipelineMode replaces the
  // message with its own ("cannot exit pipeline mode with uncollected
  // results"), which names no cause.
  std::string cause;
  if (PQstatus(c) == CONNECTION_BAD) cause = Trimmed(PQerrorMessage(c));
  const bool exited = PQexitPipelineMode(c) == 1;
  if (!exited) {
    // Results left behind (a connection lost mid-way): collect them, so
    // the connection leaves pipeline mode and a later reconnect finds it
    // usable. Bounded: a dead connection returns no more.
    for (int i = 0; i < 64 && PQexitPipelineMode(c) != 1; ++i) PQclear(PQgetResult(c));
  }
  if (!queued_failed.ok()) {
    if (deferred_failed_.ok()) deferred_failed_ = queued_failed;
    return queued_failed;
  }
  if (!exited) return cause.empty() ? lost() : Status::Unavailable("pipeline: " + cause).WithPrivateMessage();
  while (results.size() < mains.size()) results.emplace_back(lost());
  return results;
}

Result<PgResult> PgConn::PipelineOne(const Main& main) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> results, Pipeline(std::span<const Main>(&main, 1)));
  return std::move(results[0]);
}

Result<std::vector<PgConn::Main>> PgConn::MainsOf(const std::vector<Stmt>& stmts) {
  std::vector<Main> mains;
  mains.reserve(stmts.size() + 1);  // room for a COMMIT (Commit)
  for (const Stmt& st : stmts) {
    PARLEY_RETURN_IF_ERROR(CheckNoNul(st.params.data(), st.params.size()));
    mains.push_back({std::string(st.sql), !st.plan_per_call, st.params.data(), st.params.size()});
  }
  return mains;
}

Result<std::vector<Result<PgResult>>> PgConn::ExecTogether(const std::vector<Stmt>& stmts) {
  PARLEY_RETURN_IF_ERROR(RefuseAfterLockTimeout());
  PARLEY_RETURN_IF_ERROR(ReconnectIfLost());
  PARLEY_ASSIGN_OR_RETURN(std::vector<Main> mains, MainsOf(stmts));
  return Pipeline(mains);
}

Status PgConn::ExecScript(const std::string& sql) {
  PARLEY_RETURN_IF_ERROR(ReconnectIfLost());
  if (!deferred_.empty()) PARLEY_RETURN_IF_ERROR(Pipeline({}).status());
  return ExecNow(sql);
}

Result<std::vector<Result<PgResult>>> PgConn::Commit(uint64_t begin_seq, const std::vector<Stmt>& reads) {
  std::vector<Result<PgResult>> results;
  if (reads.empty() && OnlyQueued(begin_seq)) {
    DropQueuedFrom(begin_seq);  // a transaction that ran nothing
    return results;
  }
  // The COMMIT rides in a pipeline like any statement (the queue and the
  // reads with it, if any): one round trip either way.
  Status st;
  Result<std::vector<Main>> mains = MainsOf(reads);
  if (!mains.ok()) {
    st = mains.status();
  } else {
    mains->push_back({"COMMIT", false});
    Result<std::vector<Result<PgResult>>> sent = Pipeline(*mains);
    if (sent.ok()) {
      results = std::move(sent).value();
    } else {
      st = sent.status();
    }
  }
  // A read that failed is the cause; the COMMIT after it only says so.
  for (const Result<PgResult>& r : results) {
    if (st.ok() && !r.ok()) st = r.status();
  }
  // A transaction in which a statement failed "commits" with the tag
  // ROLLBACK: nothing was committed.
  if (st.ok() && std::strcmp(PQcmdStatus(results.back()->raw()), "ROLLBACK") == 0) {
    // The cause, when it is known: kUnavailable (busy: retry) stays so.
    const Status& cause = !deferred_failed_.ok() ? deferred_failed_ : batch_failed_;
    st = !cause.ok() ? cause.WithContext("the batch failed and was rolled back")
                     : Status::Internal("COMMIT: the transaction had failed and was rolled back");
  }
  if (!st.ok()) {
    DropQueuedFrom(begin_seq);  // unsent if a read was refused before the pipeline
    // A COMMIT that failed in the pipeline may leave the transaction open.
    if (in_transaction()) (void)ExecScript("ROLLBACK");
    return st;
  }
  ++commits_;
  results.pop_back();  // the COMMIT's
  return results;
}

Result<std::unique_ptr<PgTx>> PgTx::Begin(PgConn& conn) { return Open(conn, "BEGIN"); }

Result<std::unique_ptr<PgTx>> PgTx::BeginSnapshot(PgConn& conn) {
  return Open(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
}

Result<std::unique_ptr<PgTx>> PgTx::Open(PgConn& conn, const char* begin) {
  // Reconnecting is for a statement outside a transaction: this one's
  // BEGIN is queued, so the check comes now.
  PARLEY_RETURN_IF_ERROR(conn.ReconnectIfLost());
  if (!conn.in_batch()) {
    if (conn.in_tx_) return Status::Internal("a transaction is already open on this connection");
    conn.deferred_.clear();
    conn.deferred_failed_ = Status::Ok();
    conn.in_tx_ = true;
    return std::unique_ptr<PgTx>(new PgTx(conn, 0, conn.Queue(begin)));
  }
  PARLEY_RETURN_IF_ERROR(conn.RefuseAfterLockTimeout());
  const int depth = ++conn.savepoints_;
  const uint64_t seq = conn.Queue("SAVEPOINT parley_write_" + std::to_string(depth));
  return std::unique_ptr<PgTx>(new PgTx(conn, depth, seq));
}

PgTx::~PgTx() {
  // Errors are ignored on purpose: on a broken connection the server has
  // rolled back already, and a destructor has no one to tell. A statement
  // that failed inside the savepoint aborted the batch's transaction until
  // this ROLLBACK TO, which makes it usable again.
  if (!open_) return;
  if (depth_ > 0) {
    --conn_.savepoints_;
    conn_.id_run_ = id_run_;
  }
  // Sent or not, what was queued after this BEGIN or SAVEPOINT is undone
  // with it; if the BEGIN or SAVEPOINT itself is still queued, the server
  // never saw any of it and there is nothing to roll back.
  const bool sent = seq_ <= conn_.sent_seq_;
  conn_.DropQueuedFrom(seq_);
  if (depth_ == 0) {
    if (sent) (void)conn_.ExecScript("ROLLBACK");
    conn_.in_tx_ = false;
    return;
  }
  if (!sent) return;
  // ROLLBACK TO destroys the savepoints made after this one, released or
  // not (their RELEASE may still be queued: dropped above).
  const std::string name = "parley_write_" + std::to_string(depth_);
  (void)conn_.ExecScript("ROLLBACK TO SAVEPOINT " + name + "; RELEASE SAVEPOINT " + name);
}

Status PgTx::Commit() {
  if (depth_ > 0) {
    // Only a savepoint that is still good is released; a failed one is
    // left to the destructor's ROLLBACK TO. The RELEASE is queued: nothing
    // rolls back to a released savepoint, so it can wait for the next
    // statement, and the batch's COMMIT releases it anyway.
    if (PQtransactionStatus(conn_.raw()) == PQTRANS_INERROR) {
      return Status::Internal("RELEASE SAVEPOINT: a statement of the write failed; it is rolled back");
    }
    conn_.Queue("RELEASE SAVEPOINT parley_write_" + std::to_string(depth_));
    --conn_.savepoints_;
    open_ = false;
    return Status::Ok();
  }
  open_ = false;
  conn_.in_tx_ = false;
  return conn_.Commit(seq_).status();
}

Result<std::vector<Result<PgResult>>> PgTx::CommitAfter(const std::vector<PgConn::Stmt>& reads) {
  if (depth_ > 0) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> results, conn_.ExecTogether(reads));
    for (const Result<PgResult>& r : results) PARLEY_RETURN_IF_ERROR(r.status());
    PARLEY_RETURN_IF_ERROR(Commit());
    return results;
  }
  open_ = false;
  conn_.in_tx_ = false;
  return conn_.Commit(seq_, reads);
}

Result<std::unique_ptr<PgBatch>> PgBatch::Begin(PgConn& conn, std::function<Status()> before_commit,
                                                 const std::string& first_lock) {
  if (conn.in_batch_) return Status::Internal("a batch is already open on this connection");
  if (conn.in_tx_) return Status::Internal("a transaction is already open on this connection");
  PARLEY_RETURN_IF_ERROR(conn.ReconnectIfLost());
  conn.deferred_.clear();
  conn.deferred_failed_ = Status::Ok();
  conn.savepoints_ = 0;
  conn.id_run_.reset();
  conn.batch_lock_timed_out_ = false;
  conn.batch_failed_ = Status::Ok();
  const uint64_t seq = conn.Queue("BEGIN");
  // Sent with the batch's first statement: no round trip of its own.
  conn.preamble_end_ = first_lock.empty() ? seq : conn.Queue(first_lock);
  conn.in_batch_ = true;
  return std::unique_ptr<PgBatch>(new PgBatch(conn, std::move(before_commit), seq));
}

PgBatch::~PgBatch() {
  if (!open_) return;
  conn_.in_batch_ = false;
  conn_.id_run_.reset();
  const bool sent = seq_ <= conn_.sent_seq_;
  conn_.deferred_.clear();
  if (sent) (void)conn_.ExecScript("ROLLBACK");
}

Status PgBatch::Commit() {
  // No write of the batch comes after this: its end (the store's NOTIFY,
  // which may read the channel's name) is not refused after a lock timeout.
  conn_.batch_lock_timed_out_ = false;
  if (before_commit_) PARLEY_RETURN_IF_ERROR(before_commit_());  // still open: the destructor rolls back
  // A queued statement that failed belonged to a write that may count as
  // done: nothing of the batch commits.
  if (!conn_.deferred_failed_.ok()) return conn_.deferred_failed_;
  // Ids handed out past the counter row's value would be handed out again
  // by the next batch: a bug of before_commit, caught before it stores one.
  if (conn_.id_run_ && conn_.id_run_->last != conn_.id_run_->row) {
    return Status::Internal("the batch's ids were not written back to the event counter");
  }
  open_ = false;
  conn_.in_batch_ = false;
  conn_.id_run_.reset();
  return conn_.Commit(seq_).status();
}

}  // namespace parley::pg
