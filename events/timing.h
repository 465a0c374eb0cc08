// Where a delivery's time goes inside the daemon (issue 10's fan-out
// benchmark): a fixed-bucket histogram of microseconds, cheap enough to
// keep on in production (one compare loop per sample, no allocation).
//
// The daemon records four: from an event's creation (its ts, the writer's
// clock, in ms) to the fan-out pass that reads it (the commit, the wake-up
// and the queueing on the loop: `commit_to_read`); the log read itself
// (`read`); appending the events to every recipient's pending output
// (`append`); and the write pass to the sockets (`flush`). The benchmark
// reads them from /events/stats. Quantiles are a bucket's upper bound, so
// they are upper estimates within a factor of 2 (bounds 1-2-5 per decade).
//
// Threading: single-threaded, on the loop.
#pragma once

#include <array>
#include <cstdint>

namespace parley {
class JsonWriter;
}

namespace parley::events {

class Timing {
 public:
  static constexpr std::array<uint64_t, 16> kBoundsUs = {
      50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000, 2000000, 5000000};

  void Add(uint64_t us);
  uint64_t count() const { return count_; }
  uint64_t max_us() const { return max_us_; }
  uint64_t mean_us() const { return count_ ? sum_us_ / count_ : 0; }
  // The upper bound of the bucket holding the q-th sample (0 < q <= 1);
  // max_us() past the last bound; 0 when empty.
  uint64_t QuantileUs(double q) const;
  // {"count","mean_us","p50_us","p99_us","max_us"}
  void Write(JsonWriter& w) const;

 private:
  std::array<uint64_t, kBoundsUs.size() + 1> buckets_{};  // the last: above every bound
  uint64_t count_ = 0;
  uint64_t sum_us_ = 0;
  uint64_t max_us_ = 0;
};

}  // namespace parley::events
