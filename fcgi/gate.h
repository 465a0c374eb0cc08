// Gate: how many threads of a worker process run request work at once.
//
// Design note (issue 9's regressions). Group commit needs many request
// threads: each send waits for its batch's fsync on a thread of its own, so
// a worker has 32 of them. But two worker processes of 32 threads on two
// cores let 64 threads run at once when reads pour in: the run queue grows,
// every read takes turns with every other (history p99 went from 16 to
// 179 ms), and the writer thread, one among 64, got too little CPU to keep
// its batches moving (sends fell from 1,567 to 187/s with 16 readers
// beside 32 senders). A thread that waits (for its batch, for a client) does
// not need a core; one that computes does. So a request thread holds a
// pass while it computes and gives it back before it waits for the writer;
// at most `slots` threads hold one, the others queue in arrival order (no
// request is overtaken, which keeps p99 close to p50). The writer thread
// asks with priority: it waits for the first pass given back, never behind
// queued reads, since every queued send waits for it.
//
// Each pass is one of `slots` numbered seats, and a seat comes with what a
// computing thread needs (worker.cc: a read connection and its Api), so a
// worker opens as many SQLite connections as can run, not one per thread:
// their page caches stay warm. A pass is handed from the thread that gives
// it back straight to the one at the head of the queue (one wake-up, no
// herd), as a FIFO mutex would; a free seat is the one used last (warmest).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

namespace parley::fcgi {

class Gate {
 public:
  explicit Gate(int slots);
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // Held by one thread from Enter() to Leave() or destruction.
  class Pass {
   public:
    Pass() = default;
    Pass(Pass&& o) noexcept : gate_(o.gate_), seat_(o.seat_) { o.gate_ = nullptr; }
    Pass& operator=(Pass&& o) noexcept;
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    ~Pass() { Leave(); }
    void Leave();
    bool held() const { return gate_ != nullptr; }
    // Which of the gate's seats this is: 0 to slots - 1.
    int seat() const { return seat_; }

   private:
    friend class Gate;
    Pass(Gate* gate, int seat) : gate_(gate), seat_(seat) {}
    Gate* gate_ = nullptr;
    int seat_ = -1;
  };

  // Waits behind every thread that asked before.
  Pass Enter() { return Acquire(false); }
  // Waits only for a pass to be given back, ahead of every Enter().
  Pass EnterFirst() { return Acquire(true); }
  // Threads waiting for a pass now (metrics, tests).
  size_t Waiting();

 private:
  struct Waiter {
    std::condition_variable cv;
    int seat = -1;  // set when granted
  };
  Pass Acquire(bool first);
  void Release(int seat);

  std::mutex mu_;
  std::vector<int> free_;        // guarded by mu_; the last is the warmest
  std::deque<Waiter*> first_;    // guarded by mu_
  std::deque<Waiter*> queue_;    // guarded by mu_
};

}  // namespace parley::fcgi
