// The name a pool thread shows while it waits and while it serves (top -H,
// and the e2e tests' idleness check, tests/e2e/stack.cc: a worker is idle
// when none of its threads is named "fcgi-serve" and its request threads,
// "fcgi-req", wait). Each rename is a system call, so one is made only when
// the state changes: a busy thread that goes from one piece of work to the
// next without waiting keeps its name. A request thread renamed itself
// twice a request: 2.2 of its ~14 system calls (strace), ~3 µs of the
// ~33 µs a small request costs the pool (tools/bench/api).
#pragma once

#include <pthread.h>

namespace parley::fcgi {

class ThreadName {
 public:
  // Named `waiting` at once.
  explicit ThreadName(const char* waiting) : waiting_(waiting) { Set(false); }
  ThreadName(const ThreadName&) = delete;
  ThreadName& operator=(const ThreadName&) = delete;

  // Before the thread may block (for work, a turn, a lock).
  void Waiting() { Set(false); }
  // Once it has work.
  void Serving() { Set(true); }

 private:
  void Set(bool serving) {
    if (named_ && serving_ == serving) return;
    named_ = true;
    serving_ = serving;
    pthread_setname_np(pthread_self(), serving ? "fcgi-serve" : waiting_);
  }

  const char* waiting_;
  bool named_ = false;
  bool serving_ = false;
};

}  // namespace parley::fcgi
