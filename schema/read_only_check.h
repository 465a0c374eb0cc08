// SQLite's integrity check of a database file that this process may only
// read (`parleyctl check`): a backup on read-only media, a file of another
// user, a file in a directory it cannot write. It creates, changes and
// migrates nothing: no -wal, -shm or -writer file where there was none, the
// database's bytes and times as they were.
//
// Design note. A read-only SQLite connection is not enough by itself: in
// WAL mode SQLite opens (and creates, where the directory lets it) the
// -wal and -shm files even for a reader, and leaves them behind; and where
// it cannot create them (a read-only directory), the open fails
// (https://sqlite.org/wal.html#readonly). So how the file is read depends
// on what lies beside it:
//   - a -wal and a -shm: SQLite's read-only mode (Db::ReadOnly::kShared),
//     its locks and WAL index as any reader's, so the commits still in the
//     WAL are read and a check beside running daemons reads one consistent
//     snapshot. A -shm this process cannot write is read into memory (SQLite
//     3.22 and later).
//   - no -wal, or an empty one, and no hot rollback journal: every commit is
//     in the database file, read alone (Db::ReadOnly::kImmutable), without
//     locks. That is honest only while nothing writes the file, which no
//     lock can ensure here; so the file's identity, size and times are
//     compared before and after, and a file that changed meanwhile is an
//     error (check again), never an answer.
//   - a -wal with frames and no -shm: SQLite reads those commits only
//     through a -shm, which check would have to create; it refuses, saying
//     so, rather than check the file without them (SQLite ignores a WAL
//     under immutable=1, so the answer would be about a database that is
//     not the one committed). Likewise a hot rollback journal (not Parley's
//     mode, but a file from elsewhere may have one).
// Limits: a daemon's last connection closing (deleting -wal and -shm) in
// the instant between the look beside the file and the open can leave an
// empty -wal and -shm behind, where the directory is writable; the next
// connection to close removes them. Timestamps are compared to the file
// system's resolution.
#pragma once

#include <cstdint>
#include <string>

#include "schema/status.h"

namespace parley {

struct ReadOnlyCheck {
  std::string problems;        // PRAGMA integrity_check: "ok", or the problems found
  int64_t schema_version = 0;  // PRAGMA user_version: 0 for a file with no schema (an empty one)
};
// PRAGMA integrity_check and the schema version of the SQLite database at
// path, read-only. An error when it cannot be checked honestly (above),
// when the file is not a database, or is too damaged to be read.
Result<ReadOnlyCheck> ReadOnlyIntegrityCheck(const std::string& path);

}  // namespace parley
