#include "schema/posix.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
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

Result<Fd> Duplicate(int fd, const std::string& what) {
  const int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return PosixError("dup of " + what, errno);
  return Fd(copy);
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

namespace {

constexpr int kLiveSocketWaitMs = 3000;

// True if a process still accepts on addr after waiting up to wait_ms for
// it to stop; a connect that is refused (or finds no file) means nobody.
bool SocketAnswersFor(const sockaddr_un& addr, SocketKind kind, int wait_ms) {
  const int type = (kind == SocketKind::kStream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK;
  for (int waited = 0;; waited += 50) {
    Fd probe(socket(AF_UNIX, type, 0));
    if (!probe.valid()) return false;  // bind() below reports what is wrong
    const int rc = connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    // EAGAIN: a stream socket whose backlog is full, so it is listening.
    if (rc != 0 && errno != EAGAIN) return false;
    if (waited >= wait_ms) return true;
    usleep(50 * 1000);
  }
}

}  // namespace

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
    // Replace the file only once nobody answers on it (a process that died
    // leaves it behind: ECONNREFUSED). Unlinking a live daemon's socket
    // left that daemon running and unreachable, for good once the second
    // one stopped and unlinked the path in turn (a daemon started twice,
    // two tools/run on one PARLEY_VAR). The wait is for a pool master
    // killed with SIGKILL: its workers hold the socket while they answer
    // what they had queued, then exit.
    if (SocketAnswersFor(addr, kind, kLiveSocketWaitMs)) {
      return PosixError("bind " + path + " (a running process listens on it: is this daemon already running?)",
                        EADDRINUSE);
    }
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

Result<uint64_t> RaiseOpenFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return PosixError("getrlimit(RLIMIT_NOFILE)", errno);
  if (rl.rlim_cur != rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    // An unlimited hard limit is not a number the kernel takes for open
    // files (past fs.nr_open it answers EPERM): keep the soft one then.
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return static_cast<uint64_t>(rl.rlim_cur);
}

}  // namespace parley
