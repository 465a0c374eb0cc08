// schema/token_bucket.cc: the arithmetic of every write quota.
#include "schema/token_bucket.h"

#include <gtest/gtest.h>

#include <limits>

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

// ceil(1000 / rate) ms converted to int64_t: undefined past 2^63 (rates
// below ~1e-16 a second); here it wrapped negative and became "Retry-After:
// 1" forever. The wait saturates instead, whatever the rate
// (PARLEY_WRITE_RATES refuses such rates anyway: fcgi/limits_config.cc), and
// RetryAfterSeconds does not overflow rounding the largest wait up.
TEST(TakeTokenTest, TheWaitOfATinyRateSaturatesInsteadOfOverflowing) {
  const int64_t year_ms = int64_t{365} * 24 * 3600 * 1000;
  for (double rate : {1e-31, 1e-16, 1e-300, 4.9e-324}) {
    Take t = TakeToken(Bucket{0, 1000}, Rate{rate, 1}, 1000);
    EXPECT_FALSE(t.ok) << rate;
    EXPECT_GT(t.retry_after_ms, year_ms) << rate;
    EXPECT_GT(RetryAfterSeconds(t.retry_after_ms), year_ms / 1000) << rate;
  }
  EXPECT_EQ(RetryAfterSeconds(std::numeric_limits<int64_t>::max()),
            std::numeric_limits<int64_t>::max() / 1000 + 1);
  EXPECT_EQ(RetryAfterSeconds(1001), 2);
  EXPECT_EQ(RetryAfterSeconds(-5), 1);
  // One token a day, the smallest rate the configuration takes: a day.
  Take day = TakeToken(Bucket{0, 0}, Rate{1.0 / 86400, 1}, 0);
  EXPECT_EQ(RetryAfterSeconds(day.retry_after_ms), 86400);
}

// A stamp a moment ahead (another pool's clock, within kClockSkewMs)
// refills nothing until then; one further ahead is a clock step (below).
TEST(TakeTokenTest, AStampAMomentAheadRefillsNothing) {
  Take t = TakeToken(Bucket{0.5, 1500}, Rate{1, 5}, 1000);
  EXPECT_FALSE(t.ok);
}

// An audit: 32 sends, then the wall clock stepped back an hour; the bucket
// (updated_ms an hour ahead) refilled nothing until the clock caught up,
// while every refusal said "Retry-After: 1". A stamp that far ahead is a
// clock step: the bucket is full again, and the take stamps it now.
TEST(TakeTokenTest, ABucketStampedPastAClockStepIsFullAgain) {
  const Rate rate{1, 40};
  const int64_t step_ms = 3600 * 1000;
  Take t = TakeToken(Bucket{0.25, 100 * 1000 + step_ms}, rate, 100 * 1000);
  ASSERT_TRUE(t.ok);
  EXPECT_DOUBLE_EQ(t.next.tokens, 39);
  EXPECT_EQ(t.next.updated_ms, 100 * 1000);
  // From there it refills from now, as any bucket does.
  t = TakeToken(Bucket{0, 100 * 1000}, rate, 100 * 1000 + 500);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.retry_after_ms, 500);
}

// PostgreSQL's pools read one another's stamps with clocks that differ a
// little. A stamp a moment ahead is the same bucket seen early: what it
// holds less what it refills by then (a debt if need be), so a pool behind
// neither gains tokens (by moving the stamp back for a pool ahead to refill
// again) nor loses them; and a stamp behind refills to the burst at most.
TEST(TakeTokenTest, PoolsWhoseClocksDifferALittleGainNothing) {
  const Rate rate{1, 5};
  Take t = TakeToken(Bucket{0.5, 10000 + 200}, rate, 10000);  // a pool 200 ms behind
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.retry_after_ms, 700);  // 200 ms to its stamp, 500 ms more for the half token
  t = TakeToken(Bucket{2.5, 10000 + 200}, rate, 10000);
  ASSERT_TRUE(t.ok);
  EXPECT_DOUBLE_EQ(t.next.tokens, 1.3);  // 2.5 at its stamp is 2.3 now, one taken
  EXPECT_EQ(t.next.updated_ms, 10000);
  // Alternating between a pool 200 ms behind and one on time, a token a
  // second (not the six a second that moving the stamp back gave).
  Bucket b{0, 0};
  int granted = 0;
  for (int64_t ms = 0; ms < 60 * 1000; ms += 100) {
    const int64_t skew = (ms / 100) % 2 == 0 ? 0 : -200;
    Take x = TakeToken(b, rate, ms + skew);
    if (x.ok) b = x.next;
    granted += x.ok;
  }
  EXPECT_LE(granted, 61);
  // Never more than the burst, whatever the stamps.
  t = TakeToken(Bucket{50, 0}, rate, 10);
  ASSERT_TRUE(t.ok);
  EXPECT_DOUBLE_EQ(t.next.tokens, 4);
  t = TakeToken(Bucket{50, 10000}, rate, 0);
  ASSERT_TRUE(t.ok);
  EXPECT_LE(t.next.tokens, 4);
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

// The typing bucket after a clock step: granted at once, not an hour later.
TEST(BucketMapTest, AClockStepBackStartsABucketFullAgain) {
  BucketMap m;
  const Rate rate{1, 2};
  const int64_t before = 3600 * 1000 + 5000;
  EXPECT_TRUE(m.Consume(1, rate, before).ok);
  EXPECT_TRUE(m.Consume(1, rate, before).ok);
  EXPECT_FALSE(m.Consume(1, rate, before).ok);
  EXPECT_TRUE(m.Consume(1, rate, 5000).ok);  // the clock stepped back an hour
  EXPECT_TRUE(m.Consume(1, rate, 5000).ok);
  EXPECT_FALSE(m.Consume(1, rate, 5000).ok) << "one burst, then the rate again";
}

}  // namespace
}  // namespace parley
