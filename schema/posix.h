// The POSIX boundary: errno becomes a Status in one function (LevelDB's
// PosixError), every descriptor has an owner, and unix sockets are made in
// one place.
//
// Socket files are created with mode 0660: the service's user and group
// (nginx runs in the group, or as the same user) may connect; nobody else.
// Their directory is what really guards them (tools/run makes it 0700).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "schema/status.h"

struct sockaddr_un;

namespace parley {

// errno (or err) with what was being done: "bind /run/parley/x.sock: ...".
Status PosixError(const std::string& context, int err);

// An owned file descriptor: closed on destruction, moved, never copied.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership (to libevent, which closes it itself).
  int Release() { return std::exchange(fd_, -1); }
  void Reset();

 private:
  int fd_ = -1;
};

enum class SocketKind { kStream, kDatagram };

// A second descriptor of what fd is (close-on-exec, 3 or above): one an
// exec passes on while the first one's owner closes its own.
Result<Fd> Duplicate(int fd, const std::string& what);

// A unix socket bound at path (a stale socket file there, one nobody
// answers on, is replaced; a live one or any other file is an error), listening when kStream, mode 0660, close-on-exec.
// nonblocking for sockets an event loop reads.
Result<Fd> UnixBind(const std::string& path, SocketKind kind, bool nonblocking);
// An unbound datagram socket for sending to a UnixBind'ed path.
Result<Fd> UnixDatagramSender();
// Fills a sockaddr_un for path; false when path does not fit.
bool UnixAddress(const std::string& path, ::sockaddr_un* addr);
// A listening TCP socket on a numeric host and port (schema/listen_address.h
// parses them), close-on-exec, SO_REUSEADDR so that a daemon started again
// at once after a crash binds despite its old connections in TIME_WAIT;
// TCP_NODELAY, which accepted connections inherit.
Result<Fd> TcpBind(const std::string& host, int port, bool ipv6, bool nonblocking);

// Raises this process's soft limit of open files to its hard limit, as
// nginx's worker_rlimit_nofile does: a shell's soft limit is often 1,024,
// far below what a daemon holding a descriptor per client needs, while
// the hard limit (systemd's default: 524,288) is what the operator allows.
// Returns the soft limit now in force.
Result<uint64_t> RaiseOpenFileLimit();

}  // namespace parley
