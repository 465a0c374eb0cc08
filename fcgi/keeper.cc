#include "fcgi/keeper.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "schema/log.h"

namespace parley::fcgi {
namespace {

// Another worker process may take the connection whose arrival woke this
// one; accept() then waits at most this long, not until the next connection
// arrives, while this process's kept connections wait for its turn.
constexpr int kAcceptTimeoutMs = 200;
// After accept() failed for want of a resource (EMFILE, ENOBUFS): the
// listening socket stays readable, so pause instead of spinning.
constexpr useconds_t kPauseUs = 100 * 1000;

int64_t SteadyMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void SetTimeout(int fd, int option, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

// 0, or epoll_ctl's errno.
int Arm(int epoll_fd, int op, int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  return epoll_ctl(epoll_fd, op, fd, &ev) == 0 ? 0 : errno;
}

// A connection that hung up may still hold a whole request (nginx wrote it,
// then closed): only one with nothing left to read is dead.
bool HasData(int fd) {
  char c;
  return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

constexpr uint32_t kHeldEvents = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
// Of the workers waiting, one is woken per connection.
constexpr uint32_t kListenEvents = EPOLLIN | EPOLLEXCLUSIVE;

}  // namespace

Result<std::unique_ptr<Keeper>> Keeper::Open(int listen_fd, KeeperLimits limits, Metrics* metrics) {
  Fd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return Status::Internal(std::string("epoll_create1: ") + std::strerror(errno));
  Fd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.valid()) return Status::Internal(std::string("eventfd: ") + std::strerror(errno));
  int err = Arm(epoll.get(), EPOLL_CTL_ADD, stop.get(), EPOLLIN);
  if (err == 0) err = Arm(epoll.get(), EPOLL_CTL_ADD, listen_fd, kListenEvents);
  if (err != 0) return Status::Internal(std::string("epoll_ctl: ") + std::strerror(err));
  SetTimeout(listen_fd, SO_RCVTIMEO, kAcceptTimeoutMs);
  std::unique_ptr<Keeper> k(new Keeper(std::move(epoll), std::move(stop), listen_fd, limits, metrics));
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    k->tcp_ = addr.ss_family == AF_INET || addr.ss_family == AF_INET6;
  }
  return k;
}

Keeper::Keeper(Fd epoll, Fd stop, int listen_fd, KeeperLimits limits, Metrics* metrics)
    : epoll_(std::move(epoll)), stop_(std::move(stop)), listen_fd_(listen_fd), limits_(limits), metrics_(metrics) {}

Keeper::~Keeper() {
  for (const auto& [fd, held] : held_) close(fd);
}

std::optional<int> Keeper::Next(bool wait) {
  const int sweep_ms = std::min(1000, limits_.silent_ms);
  for (;;) {
    epoll_event ev{};
    int n = epoll_wait(epoll_.get(), &ev, 1, wait ? sweep_ms : 0);
    if (n < 0 && errno != EINTR) {
      LOG_WARN("epoll_wait: %s", std::strerror(errno));
      usleep(kPauseUs);
    }
    if (const int64_t now = SteadyMs(); now - swept_ms_ >= sweep_ms) {
      Sweep(now);
      swept_ms_ = now;
    }
    std::optional<int> ready;
    if (n == 1) {
      const int fd = ev.data.fd;
      if (fd == stop_.get()) return std::nullopt;
      if (fd == listen_fd_) {
        bool pause = false;
        AcceptOne(&pause);
        if (pause) usleep(kPauseUs);
      } else if (Take(fd)) {
        if ((ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !HasData(fd)) {
          close(fd);  // nginx let it go
        } else {
          ready = fd;
        }
      }
    }
    const size_t count = held();
    if (listening_ != (count < limits_.max_held)) Listen(!listening_);
    if (ready || !wait) return ready;
  }
}

std::optional<int> Keeper::Leftover() {
  // Stop() left the eventfd readable and the listening socket is read below:
  // neither may come out of the set again.
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, stop_.get(), nullptr);
  if (listening_) Listen(false);
  if (PoolStopping()) {
    // The pool is stopping: what is queued would be reset when the last
    // worker closes the socket, so it is served here, whichever worker
    // takes it. On a reload the others (old or new) serve the queue.
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      if (metrics_) metrics_->ConnectionAccepted();
      SetTimeout(fd, SO_RCVTIMEO, limits_.silent_ms);
      return fd;
    }
  }
  for (;;) {
    epoll_event ev{};
    if (epoll_wait(epoll_.get(), &ev, 1, 0) <= 0) return std::nullopt;
    const int fd = ev.data.fd;
    if (Take(fd)) {
      if (HasData(fd)) return fd;
      close(fd);
    }
  }
}

void Keeper::Keep(int fd) {
  if (stop_requested_.load(std::memory_order_relaxed)) {
    if (PoolStopping()) {
      close(fd);
    } else {
      // Parked for Release(), not re-armed: a stopping worker answers at
      // most one more request per connection (Leftover), then stops.
      std::lock_guard<std::mutex> lock(mu_);
      held_[fd] = Held{SteadyMs(), true};
    }
    return;
  }
  Hold(fd, EPOLL_CTL_MOD, /*used=*/true);
}

void Keeper::Adopt(int fd) { Hold(fd, EPOLL_CTL_ADD, /*used=*/true); }

std::vector<int> Keeper::Release() {
  std::vector<int> fds;
  if (PoolStopping()) return fds;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [fd, held] : held_) {
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    fds.push_back(fd);
  }
  held_.clear();
  return fds;
}

void Keeper::Stop() {
  stop_requested_.store(true, std::memory_order_relaxed);
  uint64_t one = 1;
  ssize_t ignored = write(stop_.get(), &one, sizeof one);
  (void)ignored;
}

size_t Keeper::held() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.size();
}

bool Keeper::AcceptOne(bool* pause) {
  int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    switch (errno) {
      case EAGAIN:  // taken by another worker, or the pool is stopping
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
        break;
      default:
        LOG_WARN("accept failed: %s", std::strerror(errno));
        *pause = true;
    }
    return false;
  }
  if (metrics_) metrics_->ConnectionAccepted();
  SetTimeout(fd, SO_RCVTIMEO, limits_.silent_ms);
  if (tcp_) {
    // One answer per request, written whole: never wait for an ACK to send.
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
  Hold(fd, EPOLL_CTL_ADD, /*used=*/false);
  return true;
}

void Keeper::Hold(int fd, int op, bool used) {
  {
    // In the map before it is armed: its event may come at once.
    std::lock_guard<std::mutex> lock(mu_);
    held_[fd] = Held{SteadyMs(), used};
  }
  int err = Arm(epoll_.get(), op, fd, kHeldEvents);
  // A kept connection stays registered (one-shot, disarmed) while it is
  // served, so re-arming it finds it; that is not assumed.
  if (err == ENOENT && op == EPOLL_CTL_MOD) err = Arm(epoll_.get(), EPOLL_CTL_ADD, fd, kHeldEvents);
  if (err != 0) {
    LOG_WARN("connection %d: epoll_ctl: %s", fd, std::strerror(err));
    if (Take(fd)) close(fd);
  }
}

bool Keeper::PoolStopping() const {
  int flags = fcntl(listen_fd_, F_GETFL);
  return flags >= 0 && (flags & O_NONBLOCK);
}

bool Keeper::Take(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.erase(fd) > 0;
}

void Keeper::Listen(bool on) {
  // EPOLLEXCLUSIVE cannot be modified, only added and deleted.
  int err = on ? Arm(epoll_.get(), EPOLL_CTL_ADD, listen_fd_, kListenEvents)
               : (epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listen_fd_, nullptr) == 0 ? 0 : errno);
  if (err != 0 && err != EEXIST && err != ENOENT) LOG_WARN("listening socket: epoll_ctl: %s", std::strerror(err));
  listening_ = on;
}

void Keeper::Sweep(int64_t now_ms) {
  std::vector<int> silent;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = held_.begin(); it != held_.end();) {
      // A new connection with data is a request waiting for a thread.
      if (!it->second.used && now_ms - it->second.since_ms > limits_.silent_ms && !HasData(it->first)) {
        silent.push_back(it->first);
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (int fd : silent) close(fd);
  if (!silent.empty()) LOG_INFO("closed %zu connection(s) that sent nothing for %d ms", silent.size(), limits_.silent_ms);
}

}  // namespace parley::fcgi
