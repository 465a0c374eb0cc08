// Bookkeeping for "did every subscriber get every message exactly once".
// Pure and unit-tested.
//
// The Ledger numbers every message the run sends (the global sequence g in
// its stamp) and records when it was sent and whether the server
// acknowledged it. Each receiver (an SSE subscriber or a long-poller) keeps
// Receipts: a bitmap over g plus the window in which it was subscribed.
// A message is owed to a receiver when it was acknowledged and sent inside
// that window. The window opens when the receiver was first established (a
// subscription resumed with Last-Event-ID must still deliver everything) and
// closes only if it was dropped for good.
//
// An owed message that never arrived is either lost or late. A sender has
// one request out at a time, so its messages commit, and are delivered, in
// the order it sent them: one that is absent while a later message of the
// same sender did arrive was skipped (missing); one after the last message
// received from its sender may simply still be on its way when the run
// ended (undelivered), which is what an overloaded server looks like.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace parley::loadgen {

class Receipts {
 public:
  // Returns true the first time g is marked, false for a duplicate.
  bool Mark(uint64_t g);
  bool Has(uint64_t g) const;
  uint64_t unique() const { return unique_; }

  int64_t since_ns = -1;  // first established; -1: never
  int64_t until_ns = std::numeric_limits<int64_t>::max();  // dropped for good at

 private:
  std::vector<uint64_t> bits_;
  uint64_t unique_ = 0;
};

class Ledger {
 public:
  enum class State : uint8_t { kPending, kAcked, kFailed };

  // A new message sent at send_ns by sender; returns its g.
  uint64_t Add(int64_t send_ns, uint32_t sender);
  void Ack(uint64_t g);
  void Fail(uint64_t g);
  bool Known(uint64_t g) const { return g < sent_.size(); }

  uint64_t size() const { return sent_.size(); }
  uint64_t acked() const { return acked_; }
  uint64_t failed() const { return failed_; }
  uint64_t pending() const { return sent_.size() - acked_ - failed_; }

  struct Owed {
    uint64_t expected = 0;     // acknowledged and sent inside r's window
    uint64_t missing = 0;      // not received, though a later one of its sender was
    uint64_t undelivered = 0;  // not received, nor anything later from its sender
  };
  Owed Check(const Receipts& r) const;

 private:
  struct Sent {
    int64_t send_ns;
    uint32_t sender;
    State state;
  };
  std::vector<Sent> sent_;
  size_t senders_ = 0;
  uint64_t acked_ = 0;
  uint64_t failed_ = 0;
};

}  // namespace parley::loadgen
