#include "schema/pg/conn.h"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>

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
  if (state == nullptr) return Status::Unavailable(msg);
  // https://www.postgresql.org/docs/15/errcodes-appendix.html
  if (StartsWith(state, "23")) return Status::Conflict("conflict", msg);  // integrity
  // A protocol violation (08P01: say, too few parameters) is our bug, not
  // a connection to retry.
  if (std::strcmp(state, "08P01") == 0) return Status::Internal(msg);
  if (StartsWith(state, "40") ||   // serialization failure, deadlock: retry
      StartsWith(state, "08") ||   // connection exception
      StartsWith(state, "53") ||   // insufficient resources (too many connections)
      StartsWith(state, "57P") ||  // shutting down, cannot connect now
      std::strcmp(state, "57014") == 0) {  // statement timeout
    return Status::Unavailable(msg);
  }
  if (std::strcmp(state, "54000") == 0) return Status(Code::kTooLarge, "too_large", msg);
  return Status::Internal(msg);
}

int PgResult::Rows() const { return PQntuples(res_.get()); }
int PgResult::Columns() const { return PQnfields(res_.get()); }
bool PgResult::IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }

std::string PgResult::Text(int row, int col) const {
  return std::string(PQgetvalue(res_.get(), row, col),
                     static_cast<size_t>(PQgetlength(res_.get(), row, col)));
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
    return Status::Unavailable("connecting to PostgreSQL: " + msg);
  }
  PARLEY_RETURN_IF_ERROR(conn->Guard());
  return conn;
}

Status PgConn::Guard() {
  const std::string sql =
      "SET idle_in_transaction_session_timeout = '" + std::to_string(kIdleInTransactionS) + "s'";
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
  if (!ok()) return Status::Unavailable("reconnecting to PostgreSQL: " + Trimmed(PQerrorMessage(conn_.get())));
  prepared_.clear();  // they lived in the old server session
  PARLEY_RETURN_IF_ERROR(Guard());
  if (!session_.empty()) {
    PgResult res(PQexec(conn_.get(), session_.c_str()));
    PARLEY_RETURN_IF_ERROR(FromPg(res.raw(), conn_.get(), Brief(session_)));
  }
  return Status::Ok();
}

Status PgConn::SetSession(const std::string& sql) {
  PARLEY_RETURN_IF_ERROR(ExecScript(sql));
  session_ = sql;
  return Status::Ok();
}

Result<PgResult> PgConn::ExecParams(std::string_view sql, const PgParam* params, size_t n) {
  PARLEY_RETURN_IF_ERROR(ReconnectIfLost());
  std::vector<const char*> values(n);
  for (size_t i = 0; i < n; ++i) {
    if (params[i].has_nul()) {
      return Status::Invalid("invalid_text", "parameter " + std::to_string(i + 1) + " holds a NUL byte");
    }
    values[i] = params[i].c_str();
  }
  const std::string text(sql);
  // Prepared once per connection and SQL text, as SQLite's statements are
  // (schema/db.h): an unnamed statement is parsed and planned at every
  // call, which cost more server CPU than running it (about 1 ms against
  // 0.05 ms per statement of a history read). Null paramTypes: the server
  // infers them; text in, text out.
  auto it = prepared_.find(text);
  if (it == prepared_.end()) {
    std::string name = "p" + std::to_string(prepared_.size() + 1);
    PgResult prep(PQprepare(conn_.get(), name.c_str(), text.c_str(), static_cast<int>(n), nullptr));
    if (Status ps = FromPg(prep.raw(), conn_.get(), Brief(text)); !ps.ok()) return ps;
    it = prepared_.emplace(text, std::move(name)).first;
  }
  PgResult res(PQexecPrepared(conn_.get(), it->second.c_str(), static_cast<int>(n), values.data(), nullptr,
                              nullptr, 0));
  Status st = FromPg(res.raw(), conn_.get(), Brief(text));
  if (!st.ok()) return st;
  return res;
}

Status PgConn::ExecScript(const std::string& sql) {
  PARLEY_RETURN_IF_ERROR(ReconnectIfLost());
  PgResult res(PQexec(conn_.get(), sql.c_str()));
  return FromPg(res.raw(), conn_.get(), Brief(sql));
}

namespace {

// COMMIT of a transaction in which a statement failed "succeeds" with the
// tag ROLLBACK: nothing was committed.
Status CommitNow(PgConn& conn) {
  PgResult res(PQexec(conn.raw(), "COMMIT"));
  PARLEY_RETURN_IF_ERROR(FromPg(res.raw(), conn.raw(), "COMMIT"));
  if (std::strcmp(PQcmdStatus(res.raw()), "ROLLBACK") == 0) {
    return Status::Internal("COMMIT: the transaction had failed and was rolled back");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<PgTx>> PgTx::Begin(PgConn& conn) {
  const bool savepoint = conn.in_batch();
  const char* sql = !savepoint                ? "BEGIN"
                    : conn.release_pending_ ? "RELEASE SAVEPOINT parley_write; SAVEPOINT parley_write"
                                            : "SAVEPOINT parley_write";
  PARLEY_RETURN_IF_ERROR(conn.ExecScript(sql));
  conn.release_pending_ = false;
  if (!savepoint) conn.in_tx_ = true;
  return std::unique_ptr<PgTx>(new PgTx(conn, savepoint));
}

PgTx::~PgTx() {
  // Errors are ignored on purpose: on a broken connection the server has
  // rolled back already, and a destructor has no one to tell. A statement
  // that failed inside the savepoint aborted the batch's transaction until
  // this ROLLBACK TO, which makes it usable again.
  if (!open_) return;
  if (!savepoint_) {
    (void)conn_.ExecScript("ROLLBACK");
    conn_.in_tx_ = false;
    return;
  }
  // A pending release is of a savepoint nested in this one: rolled back
  // and released first (a RELEASE alone fails in an aborted transaction),
  // so that the second ROLLBACK TO finds this one.
  constexpr const char* kRollback = "ROLLBACK TO SAVEPOINT parley_write; RELEASE SAVEPOINT parley_write";
  (void)conn_.ExecScript(conn_.release_pending_ ? std::string(kRollback) + "; " + kRollback : kRollback);
  conn_.release_pending_ = false;
}

Status PgTx::Commit() {
  if (savepoint_) {
    // Only a savepoint that is still good is released; a failed one is
    // left to the destructor's ROLLBACK TO. A nested one committed before
    // (pending) is released now, so that at most one is ever pending.
    if (PQtransactionStatus(conn_.raw()) == PQTRANS_INERROR) {
      return Status::Internal("RELEASE SAVEPOINT: a statement of the write failed; it is rolled back");
    }
    if (conn_.release_pending_) PARLEY_RETURN_IF_ERROR(conn_.ExecScript("RELEASE SAVEPOINT parley_write"));
    conn_.release_pending_ = true;
    open_ = false;
    return Status::Ok();
  }
  open_ = false;
  conn_.in_tx_ = false;
  PARLEY_RETURN_IF_ERROR(CommitNow(conn_));
  ++conn_.commits_;
  return Status::Ok();
}

Result<std::unique_ptr<PgBatch>> PgBatch::Begin(PgConn& conn, std::function<Status()> before_commit) {
  if (conn.in_batch_) return Status::Internal("a batch is already open on this connection");
  PARLEY_RETURN_IF_ERROR(conn.ExecScript("BEGIN"));
  conn.in_batch_ = true;
  conn.release_pending_ = false;
  return std::unique_ptr<PgBatch>(new PgBatch(conn, std::move(before_commit)));
}

PgBatch::~PgBatch() {
  if (!open_) return;
  (void)conn_.ExecScript("ROLLBACK");
  conn_.in_batch_ = false;
  conn_.release_pending_ = false;
}

Status PgBatch::Commit() {
  if (before_commit_) PARLEY_RETURN_IF_ERROR(before_commit_());  // still open: the destructor rolls back
  open_ = false;
  conn_.in_batch_ = false;
  conn_.release_pending_ = false;  // COMMIT releases every savepoint
  PARLEY_RETURN_IF_ERROR(CommitNow(conn_));
  ++conn_.commits_;
  return Status::Ok();
}

}  // namespace parley::pg
