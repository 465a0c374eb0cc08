#include "events/notify.h"

#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "schema/log.h"

namespace parley::events {

Status Notify::Open(event_base* base, const std::string& path, Fd inherited) {
  if (inherited.valid()) {
    fd_ = std::move(inherited);
    evutil_make_socket_nonblocking(fd_.get());
  } else {
    PARLEY_ASSIGN_OR_RETURN(fd_, UnixBind(path, SocketKind::kDatagram, /*nonblocking=*/true));
  }
  int on = 1;
  if (setsockopt(fd_.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
    return PosixError("SO_PASSCRED on " + path, errno);
  }
  // A larger receive queue absorbs bursts of wake-ups while a pass runs.
  int size = 1 << 20;
  setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  ev_.reset(event_new(base, fd_.get(), EV_READ | EV_PERSIST, &Notify::OnReadable, this));
  event_add(ev_.get(), nullptr);
  return Status::Ok();
}

Result<Fd> Notify::CopySocket() const { return Duplicate(fd_.get(), "the wake-up socket"); }

void Notify::OnReadable(int, short, void* self) { static_cast<Notify*>(self)->Drain(); }

void Notify::Drain() {
  const uid_t me = geteuid();
  // One byte more than a valid datagram may have, to tell a long one.
  char buf[kMaxWakeupBytes + 1];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  // Drain what is queued, bounded: many heads collapse into one pass, and
  // a flood cannot keep the loop here.
  for (int i = 0; i < 4096; ++i) {
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
    if (n < 0) break;
    ++stats_.wakeups;
    const ucred* cred = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
          c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
        cred = reinterpret_cast<const ucred*>(CMSG_DATA(c));
      }
    }
    if (!cred || cred->uid != me) {
      // Logged at the 1st, 2nd, 4th, 8th... so a flood cannot flood the log.
      uint64_t k = ++stats_.datagrams_refused;
      if ((k & (k - 1)) == 0) {
        LOG_WARN("dropped a wake-up datagram from uid %ld (not ours; %llu so far)",
                 cred ? static_cast<long>(cred->uid) : -1L, static_cast<unsigned long long>(k));
      }
      continue;
    }
    std::optional<Wakeup> w =
        (msg.msg_flags & MSG_TRUNC) ? std::nullopt : DecodeWakeup(std::string_view(buf, static_cast<size_t>(n)));
    if (!w) {
      ++stats_.datagrams_refused;
      LOG_DEBUG("ignoring a malformed wake-up datagram (%zd bytes)", n);
      continue;
    }
    handler_(*w);
  }
}

}  // namespace parley::events
