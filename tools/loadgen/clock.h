// Clocks of the load generator. Latency is measured across processes (the
// sender writes its wall-clock time into the message, the subscriber reads
// it), so it uses CLOCK_REALTIME; both ends run on this one host. Phases and
// rates use the monotonic clock.
#pragma once

#include <time.h>

#include <cstdint>

namespace parley::loadgen {

inline int64_t WallNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

inline int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace parley::loadgen
