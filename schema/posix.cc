#include "schema/posix.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace parley {

Status PosixError(const std::string& context, int err) {
  return Status::Internal(context + ": " + std::strerror(err));
}

void Fd::Reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool UnixAddress(const std::string& path, sockaddr_un* addr) {
  *addr = sockaddr_un{};
  if (path.empty() || path.size() >= sizeof addr->sun_path) return false;
  addr->sun_family = AF_UNIX;
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
}

Result<Fd> UnixBind(const std::string& path, SocketKind kind, bool nonblocking) {
  sockaddr_un addr;
  if (!UnixAddress(path, &addr)) return PosixError("socket path " + path, ENAMETOOLONG);
  int type = (kind == SocketKind::kStream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC;
  if (nonblocking) type |= SOCK_NONBLOCK;
  Fd fd(socket(AF_UNIX, type, 0));
  if (!fd.valid()) return PosixError("socket", errno);
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return PosixError("bind " + path + " (not a socket)", EEXIST);
    unlink(path.c_str());  // left by a process that died
  }
  // The file is born 0660 whatever the caller's umask was more lenient
  // about: no window in which another user could connect.
  mode_t old = umask(007);
  int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  umask(old);
  if (rc != 0) return PosixError("bind " + path, err);
  if (kind == SocketKind::kStream && listen(fd.get(), 4096) != 0) return PosixError("listen " + path, errno);
  if (chmod(path.c_str(), 0660) != 0) return PosixError("chmod " + path, errno);
  return fd;
}

Result<Fd> UnixDatagramSender() {
  Fd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return PosixError("socket", errno);
  return fd;
}

}  // namespace parley
