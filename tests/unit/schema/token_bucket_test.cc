// schema/token_bucket.cc: the arithmetic of every write quota.
#include "schema/token_bucket.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(TakeTokenTest, AMissingBucketIsFull) {
  Take t = TakeToken(std::nullopt, Rate{1, 3}, 1000);
  ASSERT_TRUE(t.ok);
  EXPECT_DOUBLE_EQ(t.next.tokens, 2);
  EXPECT_EQ(t.next.updated_ms, 1000);
}

TEST(TakeTokenTest, RefillsByElapsedTimeUpToTheBurst) {
  Rate rate{2, 5};  // two tokens a second
  Take t = TakeToken(Bucket{0, 1000}, rate, 1500);
  ASSERT_TRUE(t.ok);
  EXPECT_DOUBLE_EQ(t.next.tokens, 0);  // 1 refilled, 1 taken
  t = TakeToken(Bucket{0, 0}, rate, 3600 * 1000);
  ASSERT_TRUE(t.ok);
  EXPECT_DOUBLE_EQ(t.next.tokens, 4);  // capped at the burst, then one taken
}

TEST(TakeTokenTest, RefusedWithTheRealWaitAndChangesNothing) {
  Rate rate{0.5, 2};  // one token every 2 s
  Take t = TakeToken(Bucket{0.25, 1000}, rate, 1000);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.retry_after_ms, 1500);  // 0.75 token at 0.5/s
  EXPECT_EQ(RetryAfterSeconds(t.retry_after_ms), 2);
  t = TakeToken(Bucket{0, 1000}, Rate{0.01, 1}, 1000);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(RetryAfterSeconds(t.retry_after_ms), 100);
  EXPECT_EQ(RetryAfterSeconds(1), 1);
  EXPECT_EQ(RetryAfterSeconds(0), 1);  // never "retry after 0"
}

TEST(TakeTokenTest, AClockSteppingBackRefillsNothing) {
  Take t = TakeToken(Bucket{0.5, 5000}, Rate{1, 5}, 1000);
  EXPECT_FALSE(t.ok);
}

TEST(TakeTokenTest, UnlimitedAlwaysGrants) {
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(TakeToken(Bucket{0, 0}, Rate{}, 0).ok);
}

TEST(BucketMapTest, OneBucketPerKey) {
  BucketMap m;
  Rate rate{0.001, 2};
  EXPECT_TRUE(m.Consume(1, rate, 0).ok);
  EXPECT_TRUE(m.Consume(1, rate, 0).ok);
  EXPECT_FALSE(m.Consume(1, rate, 0).ok);
  EXPECT_TRUE(m.Consume(2, rate, 0).ok);  // someone else
}

TEST(BucketMapTest, StaysBoundedForgettingFullBucketsFirst) {
  BucketMap m(3);
  Rate rate{1, 2};  // full again 2 s after a take
  EXPECT_TRUE(m.Consume(1, rate, 0).ok);
  EXPECT_TRUE(m.Consume(2, rate, 0).ok);
  EXPECT_TRUE(m.Consume(3, rate, 1500).ok);
  EXPECT_EQ(m.size(), 3u);
  EXPECT_TRUE(m.Consume(4, rate, 2500).ok);  // 1 and 2 are full again: forgotten
  EXPECT_EQ(m.size(), 2u);
  // A key that is still draining keeps its state.
  EXPECT_TRUE(m.Consume(3, rate, 2500).ok);
  EXPECT_TRUE(m.Consume(3, rate, 2500).ok);
  EXPECT_FALSE(m.Consume(3, rate, 2500).ok);
  for (int64_t k = 10; k < 100; ++k) (void)m.Consume(k, rate, 2500);
  EXPECT_LE(m.size(), 3u);
}

}  // namespace
}  // namespace parley
