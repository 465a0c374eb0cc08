// parleyctl: administration of a Parley database, safe to run while the
// daemons are up (every write goes through the same Store transactions).
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "fcgi/validate.h"
#include "schema/backend/backend.h"
#include "schema/crypto.h"
#include "schema/migrate.h"
#include "schema/pg/conn.h"
#include "schema/pg/migrate.h"
#include "schema/read_only_check.h"

namespace {

using parley::Status;

int Usage() {
  std::fprintf(stderr,
               "usage: parleyctl --db PATH|URL COMMAND   (an SQLite file or a postgresql:// URL; default $PARLEY_DB)\n"
               "  migrate                          apply pending schema migrations (the commands that write\n"
               "                                   apply them too; backup, rooms and check never do)\n"
               "  create-user USERNAME             password from $PARLEY_PASSWORD or one line of stdin (not echoed)\n"
               "  create-users PREFIX COUNT        PREFIX1..PREFIXCOUNT sharing one password (load tests)\n"
               "  token USERNAME [COUNT]           open COUNT sessions (1 to 100, the account's cap: more would\n"
               "                                   end the first ones); print one bearer token per line\n"
               "  tokens PREFIX COUNT              one session each for PREFIX1..PREFIXCOUNT: \"name token\" lines\n"
               "  set-role ROOM_ID USERNAME ROLE   member | student | professor\n"
               "  set-owner ROOM_ID USERNAME       hand the room to one of its members (general has no owner\n"
               "                                   until then: its owner appoints moderators)\n"
               "  admin [--revoke] USERNAME        make USERNAME a site admin (or no longer one)\n"
               "  set-password USERNAME            new password from $PARLEY_PASSWORD or one line of stdin;\n"
               "                                   ends every session of the user\n"
               "  rooms                            list rooms with member and message counts and the owner\n"
               "                                   (reads only: a database of another schema is refused)\n"
               "  backup DEST                      online copy of the database as it is, of any schema version\n"
               "                                   (never migrated): SQLite's backup API, or\n"
               "                                   pg_dump --format=custom of this deployment's schema for\n"
               "                                   PostgreSQL (pg_restore --clean --if-exists reads it); the\n"
               "                                   file appears whole or not at all, and an SQLite copy has\n"
               "                                   an epoch of its own\n"
               "  new-epoch                        give the database a new epoch, so that every client resets:\n"
               "                                   run it after restoring a PostgreSQL dump\n"
               "  check                            PRAGMA integrity_check (SQLite; on PostgreSQL use pg_amcheck),\n"
               "                                   reading only: creates and changes nothing\n");
  return 2;
}

// ROOM_ID of set-role and set-owner: a positive integer, or nothing.
std::optional<int64_t> RoomId(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const long long id = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() || *end != '\0' || id <= 0 || errno == ERANGE) return std::nullopt;
  return id;
}

// COUNT of create-users, token and tokens: decimal digits, 1 to max, or
// nothing (strtol alone also took " 5" and "+5").
std::optional<long> Count(const std::string& s, long max) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const long n = std::stol(s);
  if (n < 1 || n > max) return std::nullopt;
  return n;
}

int Fail(const Status& st) {
  std::fprintf(stderr, "parleyctl: %s\n", st.message().c_str());
  return 1;
}

// One write of parleyctl in a write batch of its own, as the pools run
// theirs: on PostgreSQL a batch takes the event counter row before any
// other lock (schema/pg/event_log.h), so a write made here cannot wait for
// a pool's batch in a cycle (a deadlock, broken after deadlock_timeout with
// an error to one side and every pool's writes stalled meanwhile).
template <typename Write>
auto Batched(parley::Storage& store, Write write) -> decltype(write()) {
  auto batch = store.BeginBatch();
  if (!batch.ok()) return batch.status();
  auto done = write();
  if (!done.ok()) return done;  // the batch rolls back
  if (Status st = (*batch)->Commit(); !st.ok()) return st;
  return done;
}

// Bulk commands commit thousands of times: they keep the WAL bounded the way
// the daemons do (schema/db.h), between commits.
void CheckpointIfDue(parley::Storage& store) {
  if (Status st = store.MaintainIfDue(); !st.ok()) {
    std::fprintf(stderr, "parleyctl: checkpoint: %s\n", st.message().c_str());
  }
}

// Never from argv: other users of the machine can read a process's arguments.
// The terminal's echo off while a password is typed (it showed on the
// screen, for anyone behind the operator and in a terminal's scrollback),
// back as it was on every way out.
class NoEcho {
 public:
  explicit NoEcho(int fd) : fd_(fd) {
    if (tcgetattr(fd_, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;  // the Enter still moves to the next line
    active_ = tcsetattr(fd_, TCSAFLUSH, &quiet) == 0;
  }
  ~NoEcho() {
    if (active_) tcsetattr(fd_, TCSAFLUSH, &saved_);
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

std::string ReadPassword(const std::string& username) {
  std::string password;
  if (const char* env = std::getenv("PARLEY_PASSWORD")) {
    password = env;
  } else if (isatty(STDIN_FILENO)) {
    std::fprintf(stderr, "password for %s: ", username.c_str());
    NoEcho quiet(STDIN_FILENO);
    std::getline(std::cin, password);
  } else {
    std::getline(std::cin, password);
  }
  return password;
}

// The API's rule (fcgi/validate.h), as for names.
bool PasswordFits(const std::string& password) {
  if (Status st = parley::fcgi::ValidatePassword(password); !st.ok()) {
    std::fprintf(stderr, "parleyctl: %s\n", st.message().c_str());
    return false;
  }
  return true;
}

int SetPassword(parley::Storage& store, const std::string& username) {
  auto user = store.FindUser(username);
  if (!user.ok()) return Fail(user.status());
  if (!*user) {
    std::fprintf(stderr, "parleyctl: no such user %s\n", username.c_str());
    return 1;
  }
  std::string password = ReadPassword(username);
  if (!PasswordFits(password)) return 2;
  auto hash = parley::HashPassword(password);
  if (!hash.ok()) return Fail(hash.status());
  if (Status st = Batched(store, [&] { return store.SetPassword((*user)->id, *hash, ""); }); !st.ok()) {
    return Fail(st);
  }
  std::printf("password of %s changed; every session ended\n", (*user)->username.c_str());
  return 0;
}

// The API's own rule (fcgi/validate.h), so that no account made here has a
// name the API would refuse: a space, a '/', bytes that are not UTF-8.
bool UsernameFits(const std::string& username) {
  if (Status st = parley::fcgi::ValidateUsername(username); !st.ok()) {
    std::fprintf(stderr, "parleyctl: %s: %s\n", username.c_str(), st.message().c_str());
    return false;
  }
  return true;
}

int CreateUser(parley::Storage& store, const std::string& username) {
  if (!UsernameFits(username)) return 2;
  std::string password = ReadPassword(username);
  if (!PasswordFits(password)) return 2;
  auto hash = parley::HashPassword(password);
  if (!hash.ok()) return Fail(hash.status());
  auto user = Batched(store, [&] { return store.CreateUser(username, *hash); });
  if (!user.ok()) return Fail(user.status());
  std::printf("created user %s (id %lld)\n", user->username.c_str(), static_cast<long long>(user->id));
  return 0;
}

// Load tests need thousands of accounts: Argon2id runs once and every
// account stores the same encoded hash (salt included), so they all share
// the one password. Not for real users: identical hashes reveal that.
int CreateUsers(parley::Storage& store, const std::string& prefix, long count) {
  // The first and the longest name stand for all: the rule is per character
  // and a length, and "." or ".." cannot end in a digit.
  if (!UsernameFits(prefix + "1") || !UsernameFits(prefix + std::to_string(count))) return 2;
  const char* env = std::getenv("PARLEY_PASSWORD");
  std::string password = env ? env : "load-test-password";
  auto hash = parley::HashPassword(password);
  if (!hash.ok()) return Fail(hash.status());
  long created = 0;
  for (long i = 1; i <= count; ++i) {
    auto user = Batched(store, [&] { return store.CreateUser(prefix + std::to_string(i), *hash); });
    if (user.ok()) {
      ++created;
    } else if (user.status().code() != parley::Code::kConflict) {
      return Fail(user.status());
    }
    CheckpointIfDue(store);
  }
  std::printf("created %ld user(s) %s1..%s%ld\n", created, prefix.c_str(), prefix.c_str(), count);
  return 0;
}

int Tokens(parley::Storage& store, const std::string& username, long count) {
  auto user = store.FindUser(username);
  if (!user.ok()) return Fail(user.status());
  if (!*user) {
    std::fprintf(stderr, "parleyctl: no such user %s\n", username.c_str());
    return 1;
  }
  for (long i = 0; i < count; ++i) {
    std::string token = parley::NewToken();
    Status st = Batched(store, [&] { return store.CreateSession((*user)->id, parley::TokenHash(token)); });
    if (!st.ok()) return Fail(st);
    std::printf("%s\n", token.c_str());
    CheckpointIfDue(store);
  }
  return 0;
}

// The same SQL on both backends.
// The owner's name, or "-" for a room with none (general until
// set-owner: nobody can moderate it before).
constexpr const char* kRoomsSql =
    "SELECT r.id, r.kind, r.name, (SELECT COUNT(*) FROM members m WHERE m.room_id = r.id), "
    "(SELECT COUNT(*) FROM messages g WHERE g.room_id = r.id), "
    "COALESCE((SELECT u.username FROM users u WHERE u.id = r.owner_id), '-') FROM rooms r ORDER BY r.id";

void PrintRoom(long long id, const std::string& kind, long long members, long long messages, const std::string& owner,
               const std::string& name) {
  std::printf("%-8lld %-8s %-8lld %-9lld %-16s %s\n", id, kind.c_str(), members, messages, owner.c_str(), name.c_str());
}

int ListRooms(parley::OpenStorage& opened) {
  std::printf("%-8s %-8s %-8s %-9s %-16s %s\n", "id", "kind", "members", "messages", "owner", "name");
  if (parley::pg::PgConn* conn = opened.postgres()) {
    auto r = conn->Exec(kRoomsSql);
    if (!r.ok()) return Fail(r.status());
    for (int i = 0; i < r->Rows(); ++i) {
      PrintRoom(r->OptionalInt(i, 0).value_or(0), r->Text(i, 1), r->OptionalInt(i, 3).value_or(0), r->OptionalInt(i, 4).value_or(0),
                r->Text(i, 5), r->Text(i, 2));
    }
    return 0;
  }
  auto s = opened.sqlite()->Prepare(kRoomsSql);
  if (!s.ok()) return Fail(s.status());
  for (;;) {
    auto row = s->Step();
    if (!row.ok()) return Fail(row.status());
    if (!*row) break;
    PrintRoom(s->Int(0), s->Text(1), s->Int(3), s->Int(4), s->Text(5), s->Text(2));
  }
  return 0;
}

// A schema's name as a pg_dump pattern that matches it alone: quoted, so
// that capitals, dots and the pattern's * and ? are the name's own.
std::string ExactPattern(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The pg_dump arguments that keep a dump to this deployment: its schema
// (the connection's search path), and the unaccent extension its search
// configuration uses (PostgreSQL migration 005), with the schema that
// extension lives in when Parley made that one (parley_ext). Not the
// whole database: deployments may share one, each in a schema of its own,
// and a backup of one must not carry the others' users and messages.
parley::Result<std::vector<std::string>> DumpScope(parley::pg::PgConn& conn) {
  PARLEY_ASSIGN_OR_RETURN(
      parley::pg::PgResult r,
      conn.Exec("SELECT current_schema(), (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'unaccent')"));
  if (r.Rows() != 1 || r.IsNull(0, 0)) return Status::Internal("the connection has no schema to back up");
  std::vector<std::string> args = {"--schema=" + ExactPattern(r.Text(0, 0))};
  if (!r.IsNull(0, 1)) {
    // public is in every new database; another schema of the extension's
    // own comes with it, empty but for the extension.
    const std::string ext_schema = r.Text(0, 1);
    if (ext_schema != r.Text(0, 0) && ext_schema != "public") args.push_back("--schema=" + ExactPattern(ext_schema));
    args.push_back("--extension=unaccent");
  }
  return args;
}

// pg_dump's custom format, consistent as of one snapshot, while the
// daemons run: this deployment's schema (DumpScope). Arguments go to
// execvp, never through a shell. The connection goes in pg_dump's
// environment (PGHOST, PGPASSWORD...), not its arguments: with the URL on
// its command line, every user of the host could read the password in ps
// while the dump ran.
int PgDump(parley::pg::PgConn& db, const std::string& url, const std::string& dest) {
  auto conn = parley::pg::SplitConninfo(url);
  if (!conn.ok()) return Fail(conn.status());
  auto scope = DumpScope(db);
  if (!scope.ok()) return Fail(scope.status());
  std::vector<std::string> words = {"pg_dump", "--format=custom", "--file", dest};
  words.insert(words.end(), scope->begin(), scope->end());
  // What libpq reads from no variable (rare: keepalives and the like).
  if (!conn->rest.empty()) words.insert(words.end(), {"--dbname", conn->rest});
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return Fail(Status::Internal("fork failed"));
  if (pid == 0) {
    for (const std::string& var : conn->env) putenv(const_cast<char*>(var.c_str()));
    execvp("pg_dump", argv.data());
    std::fprintf(stderr, "parleyctl: cannot run pg_dump (Debian: postgresql-client)\n");
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

// The commands and how many words each takes (its name included), checked
// before the database is opened: a mistyped command must not create or
// migrate anything.
bool KnownCommand(const std::vector<std::string>& args) {
  const std::string& cmd = args[0];
  const size_t n = args.size();
  if (cmd == "migrate" || cmd == "check" || cmd == "rooms" || cmd == "new-epoch") return n == 1;
  if (cmd == "create-user" || cmd == "set-password" || cmd == "backup") return n == 2;
  if (cmd == "create-users" || cmd == "tokens") return n == 3;
  if (cmd == "token") return n == 2 || n == 3;
  if (cmd == "set-role") return n == 4;
  if (cmd == "set-owner") return n == 3;
  if (cmd == "admin") return n == 2 || (n == 3 && args[1] == "--revoke");
  return false;
}

// An operand (a username, a room id, a count, a role, a file) never begins
// with '-': `admin --revoke` with the username forgotten made the user named
// "--revoke" (a name anyone may register) a site admin. Such a word is a
// forgotten operand or an option out of place; admin's --revoke, in its
// place before a username, is the one option after the command. A file of
// such a name is reached as ./-name.
bool OperandsFit(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i].empty() || args[i][0] != '-') continue;
    if (args[0] == "admin" && i == 1 && args.size() == 3 && args[1] == "--revoke") continue;
    std::fprintf(stderr, "parleyctl: %s: an operand that begins with '-' is refused (a forgotten operand, or an option "
                 "out of place)\n", args[i].c_str());
    return false;
  }
  return true;
}

// A fresh epoch (meta 'epoch', 16 hex digits as the migrations make it). A
// database restored from a backup is another history after the backup's
// point: its next events take ids that clients already hold for events the
// restore undid, and a client resuming from such an id would skip the new
// ones without a reset. With another epoch, every client resets
// (epoch_changed) instead.
constexpr const char* kNewEpochSqlite = "UPDATE meta SET value = lower(hex(randomblob(8))) WHERE key = 'epoch'";
constexpr const char* kNewEpochPg =
    "UPDATE meta SET value = substr(replace(gen_random_uuid()::text, '-', ''), 1, 16) WHERE key = 'epoch'";

// Removes what a backup left at path: the file, SQLite's files beside it
// and the writer lock (Db::Open's, schema/writer_lock.h).
void RemoveBackupFiles(const std::string& path) {
  for (const char* suffix : {"", "-journal", "-wal", "-shm", "-writer"}) unlink((path + suffix).c_str());
}

// A backup is written under a name of its own, then linked to dest: dest
// appears whole or not at all, so a backup that fails (a full disk) or is
// killed leaves no half file to be taken for a good one (an empty file
// passes SQLite's integrity check), and link() never replaces a file that
// appeared meanwhile.
int Backup(parley::Db* db, parley::pg::PgConn* pg, const std::string& url, const std::string& dest) {
  const std::string partial = dest + ".partial-" + std::to_string(getpid());
  RemoveBackupFiles(partial);
  int rc = 0;
  if (db) {
    Status st = db->BackupTo(partial);
    if (st.ok()) {
      auto copy = parley::Db::Open(partial);
      st = copy.ok() ? (*copy)->ExecScript(kNewEpochSqlite) : copy.status();
    }  // the copy's connection closes here: its WAL goes into the file
    if (!st.ok()) rc = Fail(st);
  } else {
    rc = PgDump(*pg, url, partial);
  }
  if (rc == 0 && link(partial.c_str(), dest.c_str()) != 0) {
    // A file system without hard links (vfat, exFAT on a backup disk): a
    // rename, once DEST is seen not to exist (a race with another writer of
    // that very name is the price there).
    int error = errno;
    if (error == EPERM || error == EOPNOTSUPP || error == EMLINK) {
      struct stat st;
      if (lstat(dest.c_str(), &st) == 0) {
        error = EEXIST;
      } else {
        error = rename(partial.c_str(), dest.c_str()) == 0 ? 0 : errno;
      }
    }
    if (error != 0) {
      std::fprintf(stderr, "parleyctl: cannot name the backup %s: %s\n", dest.c_str(), std::strerror(error));
      rc = 1;
    }
  }
  RemoveBackupFiles(partial);
  return rc;
}

// The database's schema version as it is: PRAGMA user_version (SQLite), or
// schema_version's row (PostgreSQL); 0 before the first migration.
parley::Result<int> SchemaVersion(parley::Db* db, parley::pg::PgConn* pg) {
  if (db) {
    PARLEY_ASSIGN_OR_RETURN(parley::Statement s, db->Prepare("PRAGMA user_version"));
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? static_cast<int>(s.Int(0)) : 0;
  }
  PARLEY_ASSIGN_OR_RETURN(parley::pg::PgResult made, pg->Exec("SELECT to_regclass('schema_version') IS NOT NULL"));
  if (made.Rows() != 1 || made.Text(0, 0) != "t") return 0;
  PARLEY_ASSIGN_OR_RETURN(parley::pg::PgResult r, pg->Exec("SELECT version FROM schema_version"));
  return r.Rows() == 1 ? static_cast<int>(r.OptionalInt(0, 0).value_or(0)) : 0;
}

// A command that only reads (rooms) reads the schema this parleyctl knows,
// and migrates nothing: an upgrade is `migrate`'s alone, run when the
// daemons of that release are. Refuses a database of another version,
// saying which way it is off.
parley::Status SchemaIsCurrent(parley::OpenStorage& opened) {
  auto version = SchemaVersion(opened.sqlite(), opened.postgres());
  if (!version.ok()) return version.status();
  const int known = opened.sqlite() ? parley::LatestSchemaVersion() : parley::pg::LatestPgSchemaVersion();
  const std::string at = "the database is at schema version " + std::to_string(*version);
  if (*version < known) {
    return parley::Status::Invalid("schema_old", at + ", older than this parleyctl's (" + std::to_string(known) +
                                                     "); parleyctl migrate upgrades it (once the daemons run this "
                                                     "release too); nothing was changed");
  }
  if (*version > known) {
    return parley::Status::Invalid("schema_new", at + ", newer than this parleyctl's (" + std::to_string(known) +
                                                     "): use the parleyctl of the release that wrote it");
  }
  return parley::Status::Ok();
}

// backup copies the database as it is: it never migrates it, whatever its
// schema version, older than this parleyctl's or newer (a copy taken
// "before the upgrade" with the new parleyctl installed had upgraded the
// live database under the old daemons first, and was no copy of it as it
// was). Only the copy changes: its epoch (Backup).
int BackupCommand(const std::string& db_path, const std::string& dest) {
  // Never over an existing file: arguments given the wrong way round
  // (--db old-backup.db backup var/parley.db) wrote the old backup over
  // the live database, under the running daemons.
  struct stat existing;
  if (lstat(dest.c_str(), &existing) == 0) {
    std::fprintf(stderr, "parleyctl: %s exists; a backup never overwrites a file (remove it or choose another name)\n",
                 dest.c_str());
    return 1;
  }
  int rc = 0;
  if (parley::BackendOf(db_path) == parley::Backend::kPostgres) {
    auto pg = parley::pg::PgConn::Connect(db_path);
    if (!pg.ok()) return Fail(pg.status());
    rc = Backup(nullptr, pg->get(), db_path, dest);
  } else {
    // An empty file (what a failed copy once left) is no database: opening
    // it would make it one.
    struct stat st;
    if (stat(db_path.c_str(), &st) == 0 && st.st_size == 0) {
      std::fprintf(stderr, "parleyctl: %s is not a Parley database: it has no schema\n", db_path.c_str());
      return 1;
    }
    auto db = parley::Db::Open(db_path);
    if (!db.ok()) return Fail(db.status());
    auto version = SchemaVersion(db->get(), nullptr);
    if (!version.ok()) return Fail(version.status());
    if (*version < 1) {
      std::fprintf(stderr, "parleyctl: %s is not a Parley database: it has no schema\n", db_path.c_str());
      return 1;
    }
    rc = Backup(db->get(), nullptr, db_path, dest);
  }
  if (rc == 0) std::printf("backed up %s to %s\n", parley::Redacted(db_path).c_str(), dest.c_str());
  return rc;
}

// A database or backup name is a plain path (schema/backend/backend.h).
bool PlainPath(const char* what, const std::string& path) {
  Status st = parley::RefuseSqliteUri(what, path);
  if (!st.ok()) std::fprintf(stderr, "parleyctl: %s\n", st.message().c_str());
  return st.ok();
}

// SQLite creates a missing file on open, and the migrations would then make
// it a fresh, empty Parley database: a typo in --db answered `check` with
// "ok" and `rooms` with an empty list. Only `migrate` creates a database
// (the daemons do too, at start-up); every other command needs one there.
Status CheckSqliteFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Status::NotFound("no_database", "no database at " + path +
                                                 " (parleyctl migrate creates one, as the daemons do at start-up)");
    }
    return Status::Internal(path + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) return Status::Invalid("invalid_flag", path + " is a directory, not a database file");
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  // What parleyctl writes (a backup, an SQLite file it creates) holds
  // password and session hashes: for the owner only, as tools/run's files.
  umask(077);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string db_path;
  if (args.size() >= 2 && args[0] == "--db") {
    db_path = args[1];
    args.erase(args.begin(), args.begin() + 2);
  } else if (!args.empty() && args[0].rfind("--db=", 0) == 0) {
    db_path = args[0].substr(5);
    args.erase(args.begin());
  } else if (const char* env = std::getenv("PARLEY_DB")) {
    db_path = env;
  }
  if (!db_path.empty() && db_path[0] == '-') {
    std::fprintf(stderr, "parleyctl: --db %s: a database name that begins with '-' is refused (./%s for a file)\n",
                 db_path.c_str(), db_path.c_str());
    return Usage();
  }
  if (db_path.empty() || args.empty() || !OperandsFit(args) || !KnownCommand(args)) return Usage();
  const std::string& cmd = args[0];
  // COUNT, checked before anything is opened. token's is at most the
  // sessions an account holds: each new one ends the least recently used
  // past that cap (Storage::CreateSession), so with more the first tokens
  // printed were already dead. Up to it, all are live: the new sessions are
  // the most recently used.
  long count = 1;
  if (args.size() == 3 && (cmd == "create-users" || cmd == "tokens" || cmd == "token")) {
    const long max = cmd == "token" ? parley::Limits{}.sessions_per_user : 1000000;
    std::optional<long> n = Count(args[2], max);
    if (!n && cmd == "token") {
      std::fprintf(stderr,
                   "parleyctl: token COUNT must be 1 to %ld: an account holds at most %ld sessions, and each new "
                   "one ends the least recently used past that\n",
                   max, max);
      return 2;
    }
    if (!n) return Usage();
    count = *n;
  }
  if (parley::BackendOf(db_path) == parley::Backend::kSqlite && !PlainPath("--db", db_path)) return 2;
  if (cmd == "backup" && !PlainPath("backup", args[1])) return 2;
  if (Status st = parley::CryptoInit(); !st.ok()) return Fail(st);
  if (parley::BackendOf(db_path) == parley::Backend::kSqlite && cmd != "migrate") {
    if (Status st = CheckSqliteFile(db_path); !st.ok()) return Fail(st);
  }
  // KnownCommand has checked every command's words: the branches below test
  // the name alone, and the count of words only where it changes what a
  // command does (token's COUNT, admin's --revoke).
  if (cmd == "check") {
    if (parley::BackendOf(db_path) == parley::Backend::kPostgres) {
      std::fprintf(stderr, "parleyctl: check is SQLite's integrity check; on PostgreSQL run pg_amcheck\n");
      return 2;
    }
    // Read-only: a backup on read-only media, another user's file or one in
    // a directory it cannot write is checked too, and nothing is created.
    auto r = parley::ReadOnlyIntegrityCheck(db_path);
    if (!r.ok()) return Fail(r.status());
    // A sound file is not yet a Parley database: an empty file (what a
    // backup that failed at its first write once left) passes SQLite's check.
    if (r->problems == "ok" && r->schema_version < 1) {
      std::printf("not a Parley database: it has no schema\n");
      return 1;
    }
    std::printf("%s\n", r->problems.c_str());
    return r->problems == "ok" ? 0 : 1;
  }
  if (cmd == "backup") return BackupCommand(db_path, args[1]);
  if (cmd == "rooms") {
    auto opened = parley::OpenStorage::Open(db_path, parley::StorageOptions{});
    if (!opened.ok()) return Fail(opened.status());
    if (Status st = SchemaIsCurrent(**opened); !st.ok()) return Fail(st);
    return ListRooms(**opened);
  }
  // Everything else writes, with this release's statements: it brings the
  // database to this release's schema first, as a daemon does at start-up.
  auto version = parley::MigrateStorage(db_path);
  if (!version.ok()) return Fail(version.status());
  auto opened = parley::OpenStorage::Open(db_path, parley::StorageOptions{});
  if (!opened.ok()) return Fail(opened.status());
  parley::Storage& store = (*opened)->storage();
  if (cmd == "migrate") {
    std::printf("schema version %d\n", *version);
    return 0;
  }
  if (cmd == "create-user") return CreateUser(store, args[1]);
  if (cmd == "tokens") {
    for (long i = 1; i <= count; ++i) {
      std::string name = args[1] + std::to_string(i);
      std::printf("%s ", name.c_str());
      std::fflush(stdout);
      if (int rc = Tokens(store, name, 1); rc != 0) return rc;
    }
    return 0;
  }
  if (cmd == "create-users" || cmd == "token") {
    return cmd == "token" ? Tokens(store, args[1], count) : CreateUsers(store, args[1], count);
  }
  if (cmd == "set-role") {
    const std::optional<int64_t> room = RoomId(args[1]);
    if (!room) return Usage();
    std::optional<parley::Role> role = parley::ParseRole(args[3]);
    if (!role) return Usage();
    Status st = Batched(store, [&] { return store.AdminSetRole(*room, args[2], *role); });
    if (!st.ok()) return Fail(st);
    std::printf("%s is now %s in room %lld\n", args[2].c_str(), args[3].c_str(), static_cast<long long>(*room));
    return 0;
  }
  if (cmd == "set-owner") {
    const std::optional<int64_t> room = RoomId(args[1]);
    if (!room) return Usage();
    Status st = Batched(store, [&] { return store.AdminSetOwner(*room, args[2]); });
    if (!st.ok()) return Fail(st);
    std::printf("%s now owns room %lld\n", args[2].c_str(), static_cast<long long>(*room));
    return 0;
  }
  if (cmd == "admin") {
    const bool grant = args.size() == 2;
    const std::string& name = args.back();
    if (Status st = Batched(store, [&] { return store.SetAdmin(name, grant); }); !st.ok()) return Fail(st);
    std::printf("%s is %s a site admin\n", name.c_str(), grant ? "now" : "no longer");
    return 0;
  }
  if (cmd == "set-password") return SetPassword(store, args[1]);
  if (cmd == "new-epoch") {
    Status st = (*opened)->sqlite() ? (*opened)->sqlite()->ExecScript(kNewEpochSqlite)
                                    : (*opened)->postgres()->Exec(kNewEpochPg).status();
    if (!st.ok()) return Fail(st);
    auto epoch = store.Epoch();
    if (!epoch.ok()) return Fail(epoch.status());
    std::printf("new epoch %s: every client resets when it next connects\n", epoch->c_str());
    return 0;
  }
  return Usage();  // unreachable while each command KnownCommand accepts has its branch
}
