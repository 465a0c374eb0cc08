#include "schema/writer_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace parley {

WriterLock::~WriterLock() {
  if (fd_ >= 0) close(fd_);  // closing the description releases the lock
}

WriterLock& WriterLock::operator=(WriterLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    held_ = std::exchange(o.held_, false);
  }
  return *this;
}

Result<WriterLock> WriterLock::Open(const std::string& db_path) {
  const std::string path = PathFor(db_path);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Internal("open " + path + ": " + std::strerror(errno));
  WriterLock lock;
  lock.fd_ = fd;
  return lock;
}

Result<bool> WriterLock::TryLock() {
  if (held_) return Status::Internal("the writer lock is already held by this connection");
  for (;;) {
    if (flock(fd_, LOCK_EX | LOCK_NB) == 0) {
      held_ = true;
      return true;
    }
    if (errno == EWOULDBLOCK) return false;
    if (errno != EINTR) return Status::Internal(std::string("flock: ") + std::strerror(errno));
  }
}

void WriterLock::Unlock() {
  if (!held_) return;
  flock(fd_, LOCK_UN);
  held_ = false;
}

}  // namespace parley
