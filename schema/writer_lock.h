// The database's writer lock: an flock() on "<database>-writer" beside the
// database file. Every Parley write transaction holds it, and checkpoints run
// only while holding it (see Db::CheckpointIfDue for why).
//
// flock() locks belong to an open file description, so each Db opens its own
// (after fork): two connections in one process exclude each other like two
// processes do, and a descriptor inherited across fork is never shared.
#pragma once

#include <string>

#include "schema/status.h"

namespace parley {

class WriterLock {
 public:
  WriterLock() = default;
  ~WriterLock();
  WriterLock(WriterLock&& o) noexcept : fd_(o.fd_), held_(o.held_) { o.fd_ = -1; o.held_ = false; }
  WriterLock& operator=(WriterLock&& o) noexcept;
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

  // Opens (creating if needed) the lock file of the database at db_path.
  static Result<WriterLock> Open(const std::string& db_path);
  static std::string PathFor(const std::string& db_path) { return db_path + "-writer"; }

  // Takes the lock without waiting: true if taken, false if another holds it.
  Result<bool> TryLock();
  void Unlock();
  bool held() const { return held_; }

 private:
  int fd_ = -1;
  bool held_ = false;
};

}  // namespace parley
