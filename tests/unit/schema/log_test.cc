// schema/log.cc: the throttle of repeated failure lines.
#include "schema/log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace parley {
namespace {

TEST(LogEverySecondTest, TheFirstIsLoggedThenOneASecondCountingThoseBetween) {
  LogEverySecond log;
  uint64_t since = 0;
  ASSERT_TRUE(log.Due(&since));
  EXPECT_EQ(since, 1u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(log.Due(&since));
  std::this_thread::sleep_for(std::chrono::milliseconds(1050));
  ASSERT_TRUE(log.Due(&since));
  EXPECT_EQ(since, 6u);  // the five held back, and this one
  EXPECT_FALSE(log.Due(&since));
}

}  // namespace
}  // namespace parley
