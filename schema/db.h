// Thin RAII layer over SQLite: a connection (Db), prepared statements
// (Statement) and a write transaction guard (Transaction).
//
// Contract: a Db is used by one thread only (each FastCGI worker process and
// the events daemon open their own, after fork). Every SQLite result code
// becomes a Status in exactly one place, FromSqlite() in db.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "schema/status.h"

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
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
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
  void Reset();

  int64_t Int(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  bool IsNull(int col) const;
  int64_t Changes() const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;  // owned by the Db's cache
};

class Db {
 public:
  // Opens (creating if needed) with WAL, foreign keys and a busy timeout.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, int busy_timeout_ms = 5000);

  // Prepared once per connection and cached by SQL text; the statement is
  // reset and its bindings cleared on each call.
  Result<Statement> Prepare(std::string_view sql);
  // Runs one or more statements without results (DDL, pragmas).
  Status ExecScript(const std::string& sql);
  int64_t LastInsertId() const;
  // Online backup with the SQLite backup API: consistent even while the
  // daemons write. dest must not be this database's own file.
  Status BackupTo(const std::string& dest);
  // PRAGMA integrity_check: "ok", or the problems found.
  Result<std::string> IntegrityCheck();
  sqlite3* raw() const { return db_.get(); }
  const std::string& path() const { return path_; }

 private:
  Db() = default;
  static int OnBusy(void* self, int count);
  std::unique_ptr<sqlite3, SqliteCloser> db_;
  int busy_timeout_ms_ = 0;
  int64_t busy_since_us_ = 0;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StmtFinalizer>> cache_;
  std::string path_;
};

// BEGIN IMMEDIATE (or DEFERRED for reads) on construction via Begin(), ROLLBACK in the
// destructor unless Commit() succeeded.
class Transaction {
 public:
  enum class Mode { kRead, kWrite };
  static Result<std::unique_ptr<Transaction>> Begin(Db& db, Mode mode);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Status Commit();

 private:
  explicit Transaction(Db& db) : db_(db) {}
  Db& db_;
  bool open_ = true;
};

// The single conversion point from an SQLite result code to a Status.
Status FromSqlite(int rc, sqlite3* db, std::string_view what);

}  // namespace parley
