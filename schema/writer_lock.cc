#include "schema/writer_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
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
    waiting_ = std::exchange(o.waiting_, false);
  }
  return *this;
}

namespace {
// realpath(3) as a string; nothing when path does not resolve.
std::optional<std::string> Resolved(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> real(realpath(path.c_str(), nullptr), &std::free);
  if (!real) return std::nullopt;
  return std::string(real.get());
}
}  // namespace

std::string WriterLock::PathFor(const std::string& db_path) {
  if (std::optional<std::string> real = Resolved(db_path)) return *real + "-writer";
  // Not made yet (Db::Open's file exists by now; a lock alone need not):
  // the name in its directory, resolved. A directory that does not resolve
  // either leaves the name as given, and the open fails there.
  const size_t slash = db_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : db_path.substr(0, slash);
  const std::string name = slash == std::string::npos ? db_path : db_path.substr(slash + 1);
  std::optional<std::string> real_dir = Resolved(dir);
  if (!real_dir || name.empty()) return db_path + "-writer";
  return (*real_dir == "/" ? "" : *real_dir) + "/" + name + "-writer";
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

namespace {
// Byte 0 of the lock file, for the waiting flag.
struct flock WaitRange(short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  return fl;
}
}  // namespace

Status WriterLock::SetWaiting(bool waiting) {
  if (waiting == waiting_) return Status::Ok();
  struct flock fl = WaitRange(waiting ? F_RDLCK : F_UNLCK);
  while (fcntl(fd_, F_OFD_SETLK, &fl) != 0) {
    if (errno != EINTR) return Status::Internal(std::string("fcntl(F_OFD_SETLK): ") + std::strerror(errno));
  }
  waiting_ = waiting;
  return Status::Ok();
}

Result<bool> WriterLock::OthersWaiting() const {
  // Would a write lock on the byte conflict? Only with another
  // description's read lock: this one's own never conflicts.
  struct flock fl = WaitRange(F_WRLCK);
  while (fcntl(fd_, F_OFD_GETLK, &fl) != 0) {
    if (errno != EINTR) return Status::Internal(std::string("fcntl(F_OFD_GETLK): ") + std::strerror(errno));
  }
  return fl.l_type != F_UNLCK;
}

void WriterLock::Unlock() {
  if (!held_) return;
  flock(fd_, LOCK_UN);
  held_ = false;
}

}  // namespace parley
