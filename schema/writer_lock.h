// The database's writer lock: an flock() on "<database>-writer" beside the
// database file (the file its name resolves to: PathFor). Every Parley write transaction holds it, and checkpoints run
// only while holding it (see Db::CheckpointIfDue for why).
//
// flock() locks belong to an open file description, so each Db opens its own
// (after fork): two connections in one process exclude each other like two
// processes do, and a descriptor inherited across fork is never shared.
//
// Fairness. The lock is polled (TryLock), and a writer that has just
// committed with more writes queued takes it again within microseconds,
// while another connection polls every millisecond: under a steady load
// that one could lose every time until its busy timeout (a login answered
// 503 behind two busy batch writers). So a connection that has waited long
// says so (SetWaiting: a shared open-file-description lock on byte 0 of
// the same file; on Linux, fcntl() and flock() locks do not interact), and
// a connection that has not waited (OthersWaiting) stands back until no one
// says it. Those that say it take turns among themselves by polling.
#pragma once

#include <string>

#include "schema/status.h"

namespace parley {

class WriterLock {
 public:
  WriterLock() = default;
  ~WriterLock();
  WriterLock(WriterLock&& o) noexcept : fd_(o.fd_), held_(o.held_), waiting_(o.waiting_) {
    o.fd_ = -1;
    o.held_ = false;
    o.waiting_ = false;
  }
  WriterLock& operator=(WriterLock&& o) noexcept;
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

  // Opens (creating if needed) the lock file of the database at db_path.
  static Result<WriterLock> Open(const std::string& db_path);
  // The lock file of that database: keyed on the file, not on the name it
  // was given, so that every name of it (a symlink to it, a path through a
  // symlinked directory, a relative one) takes the same lock. Beside the
  // file db_path resolves to (realpath); for a database not made yet,
  // beside the name in its directory resolved. A hard link is another name
  // that no path resolves to the same: SQLite's own -wal is named by path
  // too, so a database must never be opened through two hard links.
  static std::string PathFor(const std::string& db_path);

  // Takes the lock without waiting: true if taken, false if another holds it.
  Result<bool> TryLock();
  void Unlock();
  bool held() const { return held_; }

  // Says (or stops saying) that this connection has waited long for the
  // lock. A crash stops saying it, as it releases the lock.
  Status SetWaiting(bool waiting);
  bool waiting() const { return waiting_; }
  // Whether another description says it is waiting.
  Result<bool> OthersWaiting() const;

 private:
  int fd_ = -1;
  bool held_ = false;
  bool waiting_ = false;
};

}  // namespace parley
