#include "events/clock.h"

#include <time.h>

namespace parley::events {

uint64_t MonoUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

int64_t MonoMs() { return static_cast<int64_t>(MonoUs() / 1000); }

}  // namespace parley::events
