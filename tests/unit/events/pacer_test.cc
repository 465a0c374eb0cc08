#include "events/pacer.h"

#include <gtest/gtest.h>

namespace parley::events {
namespace {

TEST(PageBucketTest, ABurstOfTwiceTheRateGoesAtOnceThenOneEveryPeriod) {
  PageBucket b(4, 1000);  // 4 pages/s: 8 at once, then one every 250 ms
  for (int i = 0; i < 8; ++i) EXPECT_EQ(b.Take(1000), 0) << "page " << i;
  EXPECT_EQ(b.Take(1000), 250);
  EXPECT_EQ(b.Take(1000), 500) << "the next caller queues behind the one already waiting";
  EXPECT_EQ(b.Take(1750), 0) << "three periods later both waiting pages and this one are paid for";
  EXPECT_EQ(b.Take(1750), 250);
}

TEST(PageBucketTest, UnusedPartOfAPageIsGivenBack) {
  PageBucket b(4, 0);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(b.Take(0), 0);
  // Live polls (a few events each) take a page and give almost all of it back.
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(b.Take(0), 250) << "the bucket is empty";
    b.Refund(1.0);
  }
  b.Refund(5.0);  // at most one page back per call
  EXPECT_EQ(b.Take(0), 0);
  EXPECT_EQ(b.Take(0), 250);
}

TEST(PageBucketTest, RefillsToTheBurstAndNoFurther) {
  PageBucket b(4, 0);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(b.Take(0), 0);
  EXPECT_FALSE(b.Full(1000));
  EXPECT_TRUE(b.Full(2000));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(b.Take(60000), 0) << "an hour idle still gives 8 pages, page " << i;
  EXPECT_EQ(b.Take(60000), 250);
}

}  // namespace
}  // namespace parley::events
