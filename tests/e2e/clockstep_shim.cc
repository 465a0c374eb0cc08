// An LD_PRELOAD library that steps a process's wall clock, for the clock
// step tests (events_clock_test.cc): CLOCK_REALTIME (and its coarse
// variant), gettimeofday() and time() answer the real time plus an offset
// in seconds, read from the file PARLEY_CLOCK_OFFSET_FILE names (a decimal
// number, possibly negative; no file or no number: 0). The monotonic
// clocks are left alone, as a real step (an operator's `date -s`, NTP
// after a suspend) leaves them.
//
// The file is read again at most every 20 ms of monotonic time, so a test
// steps the clock by rewriting it, and the process sees the step within
// that. Nothing else of what the process does is changed.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>

namespace {

using ClockGettime = int (*)(clockid_t, timespec*);

constexpr int64_t kRereadNs = 20 * 1000 * 1000;

ClockGettime RealClockGettime() {
  static const auto real = reinterpret_cast<ClockGettime>(dlsym(RTLD_NEXT, "clock_gettime"));
  return real;
}

int64_t MonotonicNs() {
  timespec ts{};
  RealClockGettime()(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// The file's number, parsed by hand: no locale, no allocation, nothing
// that might read the clock itself.
int64_t ReadOffset(const char* path) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32];
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* p = buf;
  const bool negative = *p == '-';
  if (negative) ++p;
  int64_t v = 0;
  for (; *p >= '0' && *p <= '9'; ++p) v = v * 10 + (*p - '0');
  return negative ? -v : v;
}

// The offset in seconds, re-read when the last read is older than
// kRereadNs. Threads may race to re-read; each stores a whole value.
int64_t OffsetS() {
  static const char* const path = std::getenv("PARLEY_CLOCK_OFFSET_FILE");
  static std::atomic<int64_t> offset{0};
  static std::atomic<int64_t> read_at_ns{INT64_MIN / 2};
  if (path == nullptr) return 0;
  const int64_t now = MonotonicNs();
  if (now - read_at_ns.load(std::memory_order_relaxed) >= kRereadNs) {
    offset.store(ReadOffset(path), std::memory_order_relaxed);
    read_at_ns.store(now, std::memory_order_relaxed);
  }
  return offset.load(std::memory_order_relaxed);
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int clock_gettime(clockid_t id, timespec* ts) {
  const int rc = RealClockGettime()(id, ts);
  if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) ts->tv_sec += OffsetS();
  return rc;
}

// glibc declares tv nonnull, and tz as void* (a struct timezone* no one uses).
__attribute__((visibility("default"))) int gettimeofday(timeval* tv, void* tz) {
  timespec ts{};
  if (RealClockGettime()(CLOCK_REALTIME, &ts) != 0) return -1;
  if (tz != nullptr) *static_cast<struct timezone*>(tz) = {};  // as glibc: zeros
  tv->tv_sec = ts.tv_sec + OffsetS();
  tv->tv_usec = ts.tv_nsec / 1000;
  return 0;
}

__attribute__((visibility("default"))) time_t time(time_t* out) {
  timespec ts{};
  RealClockGettime()(CLOCK_REALTIME, &ts);
  const time_t now = ts.tv_sec + OffsetS();
  if (out != nullptr) *out = now;
  return now;
}

}  // extern "C"
