// Keeper: a worker process's FastCGI connections between requests.
//
// Design note. nginx keeps its connections to the pool open across requests
// (fastcgi_keep_conn, an upstream keepalive cache): without that, every
// request cost nginx a socket(), connect() and close(), and us an accept(),
// libfcgi's fcntl lock on the listening socket (two syscalls) and a poll()
// before the first read, then a close(); about 7 % of the machine's CPU in a
// send run (perf). A kept connection is idle most of the time, and libfcgi
// can only read a request by blocking on its socket, so no thread may wait
// on one: the idle connections, and the listening socket, sit in one epoll
// set, and the request thread whose turn it is to wait (worker.cc) asks for
// the next connection that has a request to read.
//
// - A new connection is accepted into the set like a kept one, not handed
//   out at once: one that never sends (a stray client of the socket) costs
//   a descriptor, never a thread.
// - Kept connections are registered one-shot: a connection is handed to one
//   thread, which serves one request on it and gives it back with Keep(),
//   which re-arms it.
// - At most `max_idle` wait in the set; past that the one idle longest is
//   closed (nginx sees a cached connection closed, and tries another one).
// - A reading socket times out after kReadTimeoutMs: a request that stops
//   half-way is dropped (libfcgi's read fails) instead of holding its thread.
// - Stop() is async-signal-safe (a write to an eventfd): every wait, current
//   or later, returns at once. After it, Keep() closes what it is given.
//
// Threading: Next() is called by one thread at a time; Keep() from any
// thread (request threads and the responder).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "fcgi/metrics.h"
#include "schema/posix.h"
#include "schema/status.h"

namespace parley::fcgi {

class Keeper {
 public:
  static constexpr int kReadTimeoutMs = 10000;

  // listen_fd is shared with the master and the other workers, and stays
  // theirs; it may be made non-blocking by the master when the pool stops.
  // metrics counts the connections accepted (may be null).
  static Result<std::unique_ptr<Keeper>> Open(int listen_fd, size_t max_idle, Metrics* metrics);
  ~Keeper();
  Keeper(const Keeper&) = delete;
  Keeper& operator=(const Keeper&) = delete;

  // Waits for a connection with a request to read and hands it over (the
  // caller owns it until Keep() or close). nullopt once stopped.
  std::optional<int> Next();
  // After Stop(): a connection that already has a request waiting, or one
  // still queued on the listening socket when the master has made it
  // non-blocking (the whole pool is stopping); nullopt when there is none
  // left. Closes the idle ones that hung up; the destructor the rest.
  std::optional<int> Leftover();
  // Takes back a connection whose request was answered and which nginx
  // keeps open, to wait for its next request.
  void Keep(int fd);
  // Wakes every wait for good; callable from a signal handler.
  void Stop();

  size_t idle() const;

 private:
  Keeper(Fd epoll, Fd stop, int listen_fd, size_t max_idle, Metrics* metrics);
  // Accepts one connection into the set; false when nothing was accepted
  // (*pause: for want of a resource, so wait a little before trying again).
  bool AcceptOne(bool* pause);
  // Adds (op EPOLL_CTL_ADD) or re-arms (EPOLL_CTL_MOD) fd as idle; closes
  // the one idle longest when the set is full.
  void AddIdle(int fd, int op);
  // Takes fd out of the idle map: false if it was not there.
  bool Take(int fd);

  Fd epoll_;
  Fd stop_;  // eventfd
  const int listen_fd_;
  const size_t max_idle_;
  Metrics* const metrics_;
  bool tcp_ = false;
  mutable std::mutex mu_;
  std::unordered_map<int, int64_t> idle_;  // fd -> since (steady ms); guarded by mu_
  std::atomic<bool> stop_requested_{false};  // set by Stop(), from a signal handler
};

}  // namespace parley::fcgi
