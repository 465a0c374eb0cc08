// Keeper: a worker process's FastCGI connections between requests.
//
// Design note. nginx keeps its connections to the pool open across requests
// (fastcgi_keep_conn, an upstream keepalive cache): without that, every
// request cost nginx a socket(), connect() and close(), and us an accept(),
// libfcgi's fcntl lock on the listening socket (two syscalls) and a poll()
// before the first read, then a close(); about 7 % of the machine's CPU in a
// send run (perf). A kept connection is idle most of the time, and libfcgi
// can only read a request by blocking on its socket, so no thread may wait
// on one: the connections a worker holds between requests, and the
// listening socket, sit in one epoll set, and the request thread whose turn
// it is to wait (worker.cc) asks for the next connection that has a request
// to read.
//
// - A new connection is accepted into the set like a kept one, not handed
//   out at once: one that never sends costs a descriptor, never a thread,
//   and is closed once it has been silent for `silent_ms`.
// - A held connection is registered one-shot: it is handed to one thread,
//   which serves one request on it and gives it back with Keep(), which
//   re-arms it.
// - Under load, held connections are mostly requests waiting for a thread.
//   At most `max_held` are held; past that the keeper stops accepting, and
//   new connections wait in the listening socket's backlog, as they did
//   before connections were kept. Nothing held is ever closed to make room:
//   it may carry a request nginx has sent.
// - A reading socket times out after `silent_ms`: a request that stops
//   half-way is dropped (libfcgi's read fails) instead of holding its thread.
// - Stop() is async-signal-safe (a write to an eventfd): every wait, current
//   or later, returns at once. After it, on a reload, Keep() parks what it
//   is given, unwatched, and Release() hands every connection held to the
//   worker's successor (handoff.h); when the whole pool stops, Keep()
//   closes what it is given and the destructor the rest.
//
// Threading: Next(), Leftover(), Adopt() and Release() are called by one
// thread at a time; Keep() from any thread (request threads and the
// responder).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "fcgi/metrics.h"
#include "schema/posix.h"
#include "schema/status.h"

namespace parley::fcgi {

struct KeeperLimits {
  // As many as the listening socket's backlog (schema/posix.cc).
  size_t max_held = 4096;
  int silent_ms = 10000;
};

class Keeper {
 public:
  // listen_fd is shared with the master and the other workers, and stays
  // theirs; it may be made non-blocking by the master when the pool stops.
  // metrics counts the connections accepted (may be null).
  static Result<std::unique_ptr<Keeper>> Open(int listen_fd, KeeperLimits limits, Metrics* metrics);
  ~Keeper();
  Keeper(const Keeper&) = delete;
  Keeper& operator=(const Keeper&) = delete;

  // Waits for a connection with a request to read and hands it over (the
  // caller owns it until Keep() or close). nullopt once stopped. With
  // wait false it only looks: nullopt when none is ready at once (or when
  // stopped: the stop stays for the next call that waits).
  std::optional<int> Next(bool wait = true);
  // After Stop(): a connection that already has a request waiting, or one
  // still queued on the listening socket when the master has made it
  // non-blocking (the whole pool is stopping); nullopt when there is none
  // left. Closes the held ones that hung up; the destructor the rest.
  std::optional<int> Leftover();
  // Takes back a connection whose request was answered and which nginx
  // keeps open, to wait for its next request.
  void Keep(int fd);
  // Watches a connection a stopped predecessor held (handoff.h) as a kept
  // one: between two requests, perhaps with the next one already waiting.
  void Adopt(int fd);
  // After Stop(), on a reload: every connection held, out of the set, for
  // the successor; the caller owns them. Empty when the whole pool stops.
  std::vector<int> Release();
  // Wakes every wait for good; callable from a signal handler.
  void Stop();

  size_t held() const;

 private:
  struct Held {
    int64_t since_ms;
    bool used;  // has carried a request
  };

  Keeper(Fd epoll, Fd stop, int listen_fd, KeeperLimits limits, Metrics* metrics);
  // Accepts one connection into the set; false when nothing was accepted
  // (*pause: for want of a resource, so wait a little before trying again).
  bool AcceptOne(bool* pause);
  // Adds (op EPOLL_CTL_ADD) or re-arms (EPOLL_CTL_MOD) fd as held.
  void Hold(int fd, int op, bool used);
  // Takes fd out of the held map: false if it was not there.
  bool Take(int fd);
  // Watches the listening socket while fewer than max_held are held.
  void Listen(bool on);
  // Closes new connections silent for longer than silent_ms.
  void Sweep(int64_t now_ms);
  // The master made the listening socket non-blocking: the whole pool is
  // stopping, not reloading (pool.cc).
  bool PoolStopping() const;

  Fd epoll_;
  Fd stop_;  // eventfd
  const int listen_fd_;
  const KeeperLimits limits_;
  Metrics* const metrics_;
  bool tcp_ = false;
  bool listening_ = true;  // Next's thread only
  int64_t swept_ms_ = 0;   // Next's thread only
  std::atomic<bool> stop_requested_{false};  // set by Stop(), from a signal handler
  mutable std::mutex mu_;
  std::unordered_map<int, Held> held_;  // guarded by mu_
};

}  // namespace parley::fcgi
