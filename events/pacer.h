// Catch-up pacing (issue 8, item 5): what a poll from an old cursor may
// cost, per user.
//
// Reading a backlog is the one piece of work whose size a client chooses: a
// loop of `since=0` polls asks for a full page (500 events) per request, as
// fast as the daemon answers, and every page is read, formatted and sent on
// the same loop and cores as live delivery. Measured with 32 such loops on
// 2 cores, the daemon answered 100-150 pages/s and live p99 rose 36-124 %,
// whatever the size of the log. So each user has a bucket of pages: a poll
// from a cursor behind the head takes one page (the part it did not read is
// given back once the page is built); the bucket refills at
// catchup_pages_per_s, up to twice that. A poll that finds it empty is held
// without reading anything until its page is due, then built like any other.
// Live streams and polls at the head never take from it, and a client that
// catches up after a reconnect (a few pages) never waits.
//
// Threading: single-threaded, on the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>

#include "events/conns.h"

struct event_base;

namespace parley::events {

// One user's pages; time is passed in, so the arithmetic is unit tested.
class PageBucket {
 public:
  PageBucket(double pages_per_s, int64_t now_ms);
  // Takes one page: 0 when it is there now, else the ms until it is (the
  // page is taken all the same, so the next caller queues behind).
  int64_t Take(int64_t now_ms);
  // Gives back the unused part of a taken page (0 to 1).
  void Refund(double pages);
  // Idle and refilled: nothing is lost by forgetting it.
  bool Full(int64_t now_ms) const;

 private:
  double Level(int64_t now_ms) const;

  double rate_;    // pages per second
  double burst_;   // the bucket's size
  double pages_;   // at at_ms_; negative while polls are queued
  int64_t at_ms_;
};

class Pacer {
 public:
  // `due` builds the page of a held poll (by connection id) at its turn.
  Pacer(event_base* base, const Config& cfg, Stats& stats, std::function<void(uint64_t)> due);
  // How long a catch-up poll of `user` must wait for its page (0: build it now).
  int64_t Take(int64_t user);
  // Holds the poll with id `conn` for `wait_ms`, then runs `due` for it.
  void Hold(uint64_t conn, int64_t wait_ms);
  // A page of `events` was built for `user`: the unread part goes back.
  void Built(int64_t user, size_t events);

 private:
  static void OnTimer(int, short, void* self);
  void RunDue();
  void Arm();

  const Config& cfg_;
  Stats& stats_;
  std::function<void(uint64_t)> due_;
  std::unordered_map<int64_t, PageBucket> buckets_;
  std::multimap<int64_t, uint64_t> held_;  // due time (ms) -> connection id
  int64_t pruned_ms_ = 0;
  EventPtr timer_;
};

}  // namespace parley::events
