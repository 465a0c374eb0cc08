// The one place that turns PARLEY_DB into a Storage (issue 10 item 1, DESIGN
// §6): a path is an SQLite file (the embedded default), a postgresql:// or
// postgres:// URL (or a libpq "key=value" string naming a host or dbname)
// is a PostgreSQL database. Both daemons and parleyctl open their storage
// here and never look at which backend they got.
#pragma once

#include <memory>
#include <string>

#include "schema/db.h"
#include "schema/pg/conn.h"
#include "schema/storage.h"

namespace parley {

enum class Backend { kSqlite, kPostgres };
Backend BackendOf(const std::string& spec);

struct StorageOptions {
  Limits limits;
  // Durable commits (PARLEY_SYNC): SQLite synchronous=FULL or NORMAL;
  // PostgreSQL synchronous_commit on or off.
  Sync sync = Sync::kFull;
  // PostgreSQL: this process's name in the presence table.
  std::string daemon = "local";
};

// A Storage together with the connection it runs on.
class OpenStorage {
 public:
  // Connects (SQLite: opens the file) without migrating: see Migrate below.
  // An SQLite file must exist (MigrateStorage makes it): a missing one is
  // Unavailable (storage_unavailable), never created empty.
  static Result<std::unique_ptr<OpenStorage>> Open(const std::string& spec, const StorageOptions& options);
  OpenStorage(const OpenStorage&) = delete;
  OpenStorage& operator=(const OpenStorage&) = delete;

  Storage& storage() { return *storage_; }
  Db* sqlite() { return db_.get(); }          // null on PostgreSQL
  pg::PgConn* postgres() { return pg_.get(); }  // null on SQLite

 private:
  OpenStorage() = default;
  std::unique_ptr<Db> db_;
  std::unique_ptr<pg::PgConn> pg_;
  std::unique_ptr<Storage> storage_;  // declared last: destroyed before its connection
};

// Applies the backend's numbered migrations (schema/migrations or
// schema/pg/migrations) up to the newest; returns the schema version. The
// one place that creates an SQLite file that is missing.
Result<int> MigrateStorage(const std::string& spec);

// A database or backup file is named by a plain path. SQLite reads a name
// that begins with "file:" as a URI (Debian builds it with URI names on):
// `file:victim.db?x=` named victim.db, while the checks that look at the
// name as typed (an existing backup, the writer lock beside the database,
// whether the file is still at its path) looked at another file. Refused
// (invalid_flag), saying how to name such a file: ./file:... `what` names
// the flag or operand in the message.
Status RefuseSqliteUri(const std::string& what, const std::string& path);

// Where uploads live (spool/ and uploads/ under it) unless --data says:
// beside an SQLite file; nowhere for PostgreSQL (the empty string), whose
// daemons must be told (PARLEY_DATA, --data).
std::string DefaultDataDir(const std::string& spec);

// What logs and errors may show of spec: an SQLite path as it is; a
// PostgreSQL URL or keyword string as libpq reads it, in the keyword form,
// with every password and sslpassword value "***" (nothing at all of a
// string libpq cannot read).
std::string Redacted(const std::string& spec);

}  // namespace parley
