#include "schema/posix.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

Result<Fd> TcpBind(const std::string& host, int port, bool ipv6, bool nonblocking) {
  std::string where = (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  sockaddr_storage storage{};
  socklen_t len = 0;
  if (ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1) return PosixError("address " + where, EINVAL);
    len = sizeof *in6;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) != 1) return PosixError("address " + where, EINVAL);
    len = sizeof *in4;
  }
  int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
  Fd fd(socket(ipv6 ? AF_INET6 : AF_INET, type, 0));
  if (!fd.valid()) return PosixError("socket", errno);
  int one = 1;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return PosixError("SO_REUSEADDR", errno);
  // Both daemons write small frames (an SSE event, a FastCGI record) that
  // must leave at once: Nagle's algorithm with the peer's delayed ACK can
  // hold one up to 40 ms. Linux copies the option to accepted sockets.
  if (setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) return PosixError("TCP_NODELAY", errno);
  if (ipv6 && setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
    return PosixError("IPV6_V6ONLY", errno);
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), len) != 0) return PosixError("bind " + where, errno);
  if (listen(fd.get(), 4096) != 0) return PosixError("listen " + where, errno);
  return fd;
}

Result<Fd> UnixDatagramSender() {
  Fd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return PosixError("socket", errno);
  return fd;
}

}  // namespace parley
