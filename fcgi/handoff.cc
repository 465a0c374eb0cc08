#include "fcgi/handoff.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace parley::fcgi {
namespace {

// The kernel's bound on descriptors in one message (SCM_MAX_FD).
constexpr size_t kPerMessage = 253;

// One message: a byte of data (a message must carry some) and room for a
// full message's descriptors, aligned as cmsghdr needs.
struct FdMessage {
  FdMessage() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;

  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(kPerMessage * sizeof(int))] = {};
  msghdr msg{};
};

}  // namespace

Result<HandoffChannel> OpenHandoffChannel() {
  int ends[2];
  // Sequenced packets: each message arrives whole, with its descriptors.
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) return PosixError("socketpair", errno);
  return HandoffChannel{Fd(ends[0]), Fd(ends[1])};
}

Status HandOver(int channel, const std::vector<int>& fds) {
  for (size_t at = 0; at < fds.size(); at += kPerMessage) {
    const size_t n = std::min(kPerMessage, fds.size() - at);
    FdMessage m;
    m.msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data() + at, n * sizeof(int));
    ssize_t sent;
    do {
      sent = sendmsg(channel, &m.msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) return PosixError("sendmsg", errno);
  }
  return Status::Ok();
}

Status TakeOver(int channel, std::vector<Fd>* out) {
  for (;;) {
    FdMessage m;
    ssize_t got = recvmsg(channel, &m.msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno == EAGAIN ? Status::Ok() : PosixError("recvmsg", errno);
    if (got == 0) return Status::Ok();  // the worker's end is closed and nothing is left
    for (cmsghdr* c = CMSG_FIRSTHDR(&m.msg); c != nullptr; c = CMSG_NXTHDR(&m.msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        out->emplace_back(fd);
      }
    }
    // Past this process's open-file limit the kernel drops the rest.
    if (m.msg.msg_flags & MSG_CTRUNC) return Status::Internal("recvmsg: descriptors dropped (open-file limit)");
  }
}

}  // namespace parley::fcgi
