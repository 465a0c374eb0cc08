#include "events/clock.h"

#include <gtest/gtest.h>

namespace parley::events {
namespace {

TEST(ClockTest, MonoUsMovesForward) {
  const uint64_t a = MonoUs();
  const uint64_t b = MonoUs();
  EXPECT_LE(a, b);
  EXPECT_GT(a, 0u);
}

TEST(ClockTest, MonoMsIsMonoUsInMilliseconds) {
  const int64_t before = static_cast<int64_t>(MonoUs() / 1000);
  const int64_t ms = MonoMs();
  const int64_t after = static_cast<int64_t>(MonoUs() / 1000);
  EXPECT_LE(before, ms);
  EXPECT_LE(ms, after);
}

// A chore last run at kLongAgoMs is due at the first tick, whatever the
// period (an hour: retention), and the difference does not overflow.
TEST(ClockTest, LongAgoIsDueAtOnce) {
  const int64_t hour = 3600 * 1000;
  EXPECT_GE(MonoMs() - kLongAgoMs, hour);
  EXPECT_GT(INT64_MAX - MonoMs(), -kLongAgoMs);
}

}  // namespace
}  // namespace parley::events
