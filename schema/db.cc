#include "schema/db.h"

#include <sqlite3.h>

namespace parley {

void SqliteCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void StmtFinalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

Status FromSqlite(int rc, sqlite3* db, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable("the database is busy, try again");
    case SQLITE_CONSTRAINT:
      return Status::Conflict("conflict", msg);
    case SQLITE_TOOBIG:
      return Status(Code::kTooLarge, "too_large", msg);
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
Statement& Statement::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status st = FromSqlite(rc, db_, "step");
  sqlite3_reset(stmt_);
  return st;
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
std::string Statement::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}
bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::Changes() const { return sqlite3_changes(db_); }

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Db> db(new Db());
  db->db_.reset(raw);
  db->path_ = path;
  if (rc != SQLITE_OK) return FromSqlite(rc, raw, "open " + path);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  // WAL lets the events daemon read while a worker writes. synchronous=NORMAL
  // is durable across application crashes; a power cut may lose the last
  // commits but never corrupts the file (the SQLite WAL documentation).
  PARLEY_RETURN_IF_ERROR(db->ExecScript(
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=NORMAL;"
      "PRAGMA foreign_keys=ON;"
      "PRAGMA temp_store=MEMORY;"));
  return db;
}

Result<Statement> Db::Prepare(std::string_view sql) {
  std::string key(sql);
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return FromSqlite(rc, db_.get(), "prepare");
    it = cache_.emplace(std::move(key), std::unique_ptr<sqlite3_stmt, StmtFinalizer>(stmt)).first;
  }
  Statement s(db_.get(), it->second.get());
  s.Reset();
  return s;
}

Status Db::ExecScript(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  return FromSqlite(rc, db_.get(), "exec");
}

int64_t Db::LastInsertId() const { return sqlite3_last_insert_rowid(db_.get()); }

Result<std::unique_ptr<Transaction>> Transaction::Begin(Db& db, Mode mode) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db.Prepare(mode == Mode::kWrite ? "BEGIN IMMEDIATE" : "BEGIN"));
  PARLEY_RETURN_IF_ERROR(s.Exec());
  return std::unique_ptr<Transaction>(new Transaction(db));
}

Transaction::~Transaction() {
  if (!open_) return;
  if (auto s = db_.Prepare("ROLLBACK"); s.ok()) (void)s->Exec();
}

Status Transaction::Commit() {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("COMMIT"));
  Status st = s.Exec();
  if (st.ok()) open_ = false;
  return st;
}

}  // namespace parley
