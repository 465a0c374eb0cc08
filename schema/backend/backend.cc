#include "schema/backend/backend.h"

#include <libpq-fe.h>

#include "schema/migrate.h"
#include "schema/pg/migrate.h"
#include "schema/pg/store.h"
#include "schema/store.h"

namespace parley {

Backend BackendOf(const std::string& spec) {
  if (spec.rfind("postgresql://", 0) == 0 || spec.rfind("postgres://", 0) == 0) return Backend::kPostgres;
  // libpq's keyword form ("host=/run/postgresql dbname=parley"): a file
  // name with '=' and a space in it would be a strange one.
  if (spec.find('=') != std::string::npos && spec.find(' ') != std::string::npos) return Backend::kPostgres;
  return Backend::kSqlite;
}

Result<std::unique_ptr<OpenStorage>> OpenStorage::Open(const std::string& spec, const StorageOptions& options) {
  std::unique_ptr<OpenStorage> out(new OpenStorage());
  if (BackendOf(spec) == Backend::kSqlite) {
    // Never created here: MigrateStorage (below) does, at start-up.
    PARLEY_ASSIGN_OR_RETURN(out->db_, Db::Open(spec, 5000, options.sync, Db::Create::kNever));
    out->storage_ = std::make_unique<Store>(*out->db_, options.limits);
    return out;
  }
  PARLEY_ASSIGN_OR_RETURN(out->pg_, pg::PgConn::Connect(spec));
  // synchronous_commit=on (PostgreSQL's default) answers COMMIT after the
  // WAL is flushed: the same promise as SQLite's synchronous=FULL.
  PARLEY_RETURN_IF_ERROR(out->pg_->SetSession(options.sync == Sync::kFull ? "SET synchronous_commit = on"
                                                                          : "SET synchronous_commit = off"));
  out->storage_ = std::make_unique<pg::PgStore>(*out->pg_, options.limits, options.daemon);
  return out;
}

Result<int> MigrateStorage(const std::string& spec) {
  if (BackendOf(spec) == Backend::kSqlite) {
    PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(spec));
    return Migrate(*db);
  }
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<pg::PgConn> conn, pg::PgConn::Connect(spec));
  return pg::MigratePg(*conn);
}

Status RefuseSqliteUri(const std::string& what, const std::string& path) {
  if (path.rfind("file:", 0) != 0) return Status::Ok();
  return Status::Invalid("invalid_flag", what + " " + path +
                                             ": SQLite reads a name beginning with \"file:\" as a URI; give a plain "
                                             "path (./" + path + " for a file of that name)");
}

std::string DefaultDataDir(const std::string& spec) {
  if (BackendOf(spec) == Backend::kPostgres) return "";
  const size_t slash = spec.rfind('/');
  return slash == std::string::npos ? "." : spec.substr(0, slash);
}

namespace {

// A keyword form's value as libpq reads it back: bare if it can be, else
// in single quotes with ' and \ escaped.
std::string ConninfoValue(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \t\n\r\f\v'\\") == std::string::npos) return v;
  std::string quoted = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}

}  // namespace

std::string Redacted(const std::string& spec) {
  if (BackendOf(spec) == Backend::kSqlite) return spec;
  // Rebuilt from what libpq itself reads of spec (a URL comes back in the
  // keyword form), so that no secret escapes by its spelling: a second
  // password= after a first, sslpassword=, a quoted or percent-encoded
  // value all hid one from the string matching this replaced.
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(spec.c_str(), &error);
  PQfreemem(error);
  if (options == nullptr) return "(a connection string that libpq cannot read)";
  std::string shown;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string keyword = o->keyword;
    if (!shown.empty()) shown += ' ';
    shown += keyword + '=';
    // '*' in libpq's dispchar: a value to hide (password, sslpassword).
    const bool secret = keyword == "password" || keyword == "sslpassword" || (o->dispchar && *o->dispchar == '*');
    shown += secret ? "***" : ConninfoValue(o->val);
  }
  PQconninfoFree(options);
  return shown;
}

}  // namespace parley
