#include "schema/read_only_check.h"

#include <sys/stat.h>

#include <cerrno>
#include <memory>

#include "schema/db.h"
#include "schema/posix.h"

namespace parley {

namespace {

// What tells one state of a file from another: a write changes the size or
// the modification time, a replacement the inode, a chmod the change time.
struct DbFileState {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};
  timespec ctime{};
};

Result<DbFileState> DbFileStateOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return DbFileState{};
    return PosixError("stat " + path, errno);
  }
  return DbFileState{true, st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

bool SameTimespec(const timespec& a, const timespec& b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

bool SameDbFile(const DbFileState& a, const DbFileState& b) {
  return a.exists == b.exists && a.dev == b.dev && a.ino == b.ino && a.size == b.size && SameTimespec(a.mtime, b.mtime) &&
         SameTimespec(a.ctime, b.ctime);
}

Result<ReadOnlyCheck> CheckOpened(const std::string& path, Db::ReadOnly how) {
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::OpenReadOnly(path, how));
  ReadOnlyCheck out;
  PARLEY_ASSIGN_OR_RETURN(out.problems, db->IntegrityCheck());
  PARLEY_ASSIGN_OR_RETURN(Statement v, db->Prepare("PRAGMA user_version"));
  PARLEY_ASSIGN_OR_RETURN(bool row, v.Step());
  out.schema_version = row ? v.Int(0) : 0;
  return out;
}

}  // namespace

Result<ReadOnlyCheck> ReadOnlyIntegrityCheck(const std::string& path) {
  // The database first: a writer that starts after this is seen by the
  // comparison at the end (the immutable case).
  PARLEY_ASSIGN_OR_RETURN(DbFileState before, DbFileStateOf(path));
  PARLEY_ASSIGN_OR_RETURN(DbFileState wal, DbFileStateOf(path + "-wal"));
  PARLEY_ASSIGN_OR_RETURN(DbFileState shm, DbFileStateOf(path + "-shm"));
  PARLEY_ASSIGN_OR_RETURN(DbFileState journal, DbFileStateOf(path + "-journal"));
  if (wal.exists && shm.exists) return CheckOpened(path, Db::ReadOnly::kShared);
  if (wal.size > 0) {
    return Status::Invalid("cannot_check", path + "-wal may hold commits that are not in " + path +
                                               " yet, and SQLite reads them only through " + path +
                                               "-shm, which is missing; check creates nothing, so it cannot check "
                                               "this database (copy it and its -wal to a writable directory and "
                                               "check the copy with: sqlite3 COPY 'PRAGMA integrity_check')");
  }
  if (journal.size > 0) {
    return Status::Invalid("cannot_check", path + "-journal may hold a half-done transaction that only a write can "
                                                  "roll back; check changes nothing, so it cannot check this database "
                                                  "(copy it and its -journal to a writable directory and check the "
                                                  "copy with: sqlite3 COPY 'PRAGMA integrity_check')");
  }
  // Compared whatever the check answered: a file written meanwhile can
  // look damaged as well as sound.
  Result<ReadOnlyCheck> result = CheckOpened(path, Db::ReadOnly::kImmutable);
  PARLEY_ASSIGN_OR_RETURN(DbFileState after, DbFileStateOf(path));
  if (!SameDbFile(before, after)) {
    return Status::Unavailable(path + " changed while it was checked (a process opened it to write): check again");
  }
  return result;
}

}  // namespace parley
