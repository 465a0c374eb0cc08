// Catch-up pacing (issue 8, item 5): what reading from an old cursor may
// cost, per user and per client address.
//
// Reading a backlog is the one piece of work whose size a client chooses: a
// loop of `since=0` polls, or of SSE streams resuming from 0, asks for full
// pages (500 events, or a quarter of the output cap) as fast as the daemon
// answers, and every page is read, formatted and sent on the same loop and
// cores as live delivery. Measured with 32 such loops on 2 cores, the
// daemon answered 100-150 pages/s and live p99 rose 36-124 %, whatever the
// size of the log. So pages come from buckets: a poll from a cursor behind
// the head, and each page a resuming stream replays, takes one page (the
// part it did not read is given back once the page is built); a bucket
// refills at its rate, up to twice that. A poll or stream that finds one
// empty is held without reading anything until its page is due, then built
// like any other. Live streams and polls at the head never take from them,
// and a client that catches up after a reconnect (a few pages, mostly
// given back) never waits.
//
// The key. Every page is taken from two buckets, its user's and its client
// address's, and waits for the later of the two: a user who signs in from
// many addresses (or a botnet sharing one stolen account) gets one user's
// pages, and many accounts opened from one address (registration is open)
// get one address's. The address bucket is larger (catchup_address_pages_per_s,
// by default four users' worth), because an office or a campus behind one
// NAT is many honest users who come back together after an outage; an
// attacker then gets at most that multiple of one user, not one per
// account. IPv6 addresses count by /64 (request.h, ClientAddressKey), since a
// host can draw any number of addresses from its prefix. A request with no
// address (straight to the socket, not through nginx) is paced by user only.
//
// The bound. A bucket owes at most kMaxWaitMs (2 s) of its rate: a page
// that would be due later is not taken (kNoRoom), and the caller holds its
// poll or resuming stream that long without a page and asks again then
// (Pacer::Hold). Unbounded, pages queued without limit: one user
// firing catch-up polls made every other account behind the same address
// wait minutes (81 s after 1,500 of them), and a held stream got no
// heartbeat all that time. 2 s is the burst itself (twice the rate), far
// below the 15 s heartbeat and the web client's 10 s catch-up timeout, so a
// held request is never dropped or seen silent for pacing's sake; and the
// bound costs no throughput, since a refused page takes nothing. A held
// request whose connection goes before its page is built gives the page
// back (Release): nothing was read for it.
//
// Threading: single-threaded, on the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>

#include "events/clock.h"
#include "events/conns.h"

struct event_base;

namespace parley::events {

// The most a page waits (the design note above says why), and what a Take
// answers when its page would wait longer.
constexpr int64_t kMaxWaitMs = 2000;
constexpr int64_t kNoRoom = -1;

// One user's pages; time is passed in, so the arithmetic is unit tested.
class PageBucket {
 public:
  PageBucket(double pages_per_s, int64_t now_ms);
  // Takes one page: 0 when it is there now, else the ms until it is (the
  // page is taken all the same, so the next caller queues behind); or
  // kNoRoom, taking nothing, when that would be more than kMaxWaitMs.
  int64_t Take(int64_t now_ms);
  // The ms until a page taken now would be there (0: now), taking nothing.
  int64_t Wait(int64_t now_ms) const;
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

// Who a page is read for: the user, and the client address key
// (ClientAddressKey; 0: none).
struct PaceKey {
  int64_t user = 0;
  uint64_t address = 0;
};

// The buckets of every user and address; time is passed in, so the two-key
// rule is unit tested. Rates of 0 turn pacing off.
class PageBudgets {
 public:
  PageBudgets(double user_pages_per_s, double address_pages_per_s)
      : user_rate_(user_pages_per_s), address_rate_(address_pages_per_s) {}
  // Takes one page from both of key's buckets: 0 when both have it now,
  // else the ms until the later one does; kNoRoom, taking from neither,
  // when either would make it wait more than kMaxWaitMs.
  int64_t Take(const PaceKey& key, int64_t now_ms);
  // A page was built that used `used` (0 to 1) of a page: the rest goes
  // back to both buckets.
  void Built(const PaceKey& key, double used);
  // Forgets buckets that are idle and refilled (nothing is lost).
  void Prune(int64_t now_ms);
  size_t size() const { return users_.size() + addresses_.size(); }

 private:
  double user_rate_;
  double address_rate_;
  std::unordered_map<int64_t, PageBucket> users_;
  std::unordered_map<uint64_t, PageBucket> addresses_;
};

// How much of a page a built page used: the larger of its share of the
// events (kPollMax) and of the bytes (page_bytes) a page may hold.
double PageUsed(size_t events, size_t bytes, size_t page_bytes);

class Pacer {
 public:
  // `due` builds the page of a held poll or stream (by connection id) at
  // its turn, and returns false if it built none (the connection was
  // answered meanwhile): the page then goes back.
  Pacer(event_base* base, const Config& cfg, std::function<bool(uint64_t)> due);
  // How long a catch-up page for `key` must wait (0: build it now), or
  // kNoRoom. The page is taken unless kNoRoom: a held one is built at its
  // turn without taking again.
  int64_t Take(const PaceKey& key);
  // Holds the connection with id `conn` for `wait_ms` (Take's answer for
  // `key`), then runs `due` for it. One Take found no room for is held for
  // kMaxWaitMs and takes its page then, held again if it must wait.
  void Hold(uint64_t conn, const PaceKey& key, int64_t wait_ms);
  // The connection `conn` is gone: a page it was held for goes back whole.
  void Release(uint64_t conn);
  // A page that used `used` (PageUsed) was built for `key`.
  void Built(const PaceKey& key, double used);

 private:
  struct Held {
    PaceKey key;
    bool taken;                                     // its page is taken (else it takes one at its turn)
    std::multimap<int64_t, uint64_t>::iterator at;  // its entry in due_at_
  };
  static void OnTimer(int, short, void* self);
  void RunDue();
  void Arm();

  std::function<bool(uint64_t)> due_;
  PageBudgets budgets_;
  std::multimap<int64_t, uint64_t> due_at_;  // due time (MonoMs) -> connection id
  std::unordered_map<uint64_t, Held> held_;  // connection id -> its hold
  int64_t pruned_ms_ = kLongAgoMs;
  EventPtr timer_;
};

}  // namespace parley::events
