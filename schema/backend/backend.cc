#include "schema/backend/backend.h"

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

std::string Redacted(const std::string& spec) {
  if (BackendOf(spec) == Backend::kSqlite) return spec;
  // postgresql://user:secret@host/db -> postgresql://user:***@host/db
  const size_t scheme = spec.find("://");
  const size_t at = spec.find('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
    const size_t colon = spec.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) return spec.substr(0, colon + 1) + "***" + spec.substr(at);
  }
  const size_t pw = spec.find("password=");
  if (pw != std::string::npos) {
    const size_t end = spec.find_first_of(" &", pw);
    return spec.substr(0, pw + 9) + "***" + (end == std::string::npos ? "" : spec.substr(end));
  }
  return spec;
}

}  // namespace parley
