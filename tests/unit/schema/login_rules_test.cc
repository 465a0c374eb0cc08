// schema/login_rules.cc: the arithmetic of login blocks.
#include "schema/login_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

constexpr int64_t kStep = 3600 * 1000;  // the wall clock stepping back an hour

TEST(LoginRowTest, ABlockAnswersItsRemainingWait) {
  Limits l;  // 15 s doubling to 15 min
  const std::string account = "alice";
  LoginRow r{account, 5, true};
  Status st = r.Read(l, 5, 1000, 1000 + 15000, 1000 + 5000);
  EXPECT_EQ(st.code(), Code::kThrottled);
  EXPECT_EQ(st.retry_after_s(), 10);
  EXPECT_FALSE(r.rebased_until);
}

// An audit: after 5 failed logins the block said "Retry-After: 15", and
// after the clock stepped back an hour it said 3614, and lasted the hour.
TEST(LoginRowTest, AClockStepBackNeverLengthensABlock) {
  Limits l;
  const std::string account = "alice";
  const int64_t blocked_at = 10 * kStep;
  LoginRow r{account, 5, true};
  const int64_t now = blocked_at + 1000 - kStep;  // a second into the block, then the step
  Status st = r.Read(l, 5, blocked_at, blocked_at + 15000, now);
  EXPECT_EQ(st.code(), Code::kThrottled);
  EXPECT_EQ(st.retry_after_s(), 15);  // at most the block it was given
  ASSERT_TRUE(r.rebased_until);
  EXPECT_EQ(*r.rebased_until, now + 15000);
  // The longest block, stamped by a clock that since stepped back: never
  // past login_backoff_max_ms from now.
  LoginRow longest{account, 5, true};
  st = longest.Read(l, 12, blocked_at + kStep, blocked_at + 2 * kStep, blocked_at);
  EXPECT_EQ(st.retry_after_s(), l.login_backoff_max_ms / 1000);
  ASSERT_TRUE(longest.rebased_until);
  EXPECT_EQ(*longest.rebased_until, blocked_at + l.login_backoff_max_ms);
  // The block rebased as stored: it ends when it says.
  LoginRow after{account, 5, true};
  EXPECT_EQ(after.Read(l, 5, now, *r.rebased_until, now + 14000).retry_after_s(), 1);
  EXPECT_TRUE(after.Read(l, 5, now, *r.rebased_until, now + 15000).ok());
  EXPECT_EQ(after.failures, 5);
}

}  // namespace
}  // namespace parley
