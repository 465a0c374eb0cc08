#include "events/timing.h"

#include <gtest/gtest.h>

#include "schema/json.h"

namespace parley::events {
namespace {

TEST(TimingTest, EmptyReportsZeros) {
  Timing t;
  EXPECT_EQ(t.QuantileUs(0.5), 0u);
  EXPECT_EQ(t.mean_us(), 0u);
  JsonWriter w;
  t.Write(w);
  EXPECT_EQ(w.str(), R"({"count":0,"mean_us":0,"p50_us":0,"p99_us":0,"max_us":0})");
}

TEST(TimingTest, QuantilesAreTheBucketUpperBoundCappedByTheMax) {
  Timing t;
  for (int i = 0; i < 98; ++i) t.Add(300);  // bucket (200, 500]
  t.Add(40000);                             // (20000, 50000]
  t.Add(7000000);                           // above every bound
  EXPECT_EQ(t.count(), 100u);
  EXPECT_EQ(t.QuantileUs(0.5), 500u);
  EXPECT_EQ(t.QuantileUs(0.98), 500u);
  EXPECT_EQ(t.QuantileUs(0.99), 50000u);
  EXPECT_EQ(t.QuantileUs(1.0), 7000000u) << "past the last bound: the max";
  EXPECT_EQ(t.max_us(), 7000000u);
  EXPECT_EQ(t.mean_us(), (98u * 300 + 40000 + 7000000) / 100);
}

TEST(TimingTest, ASampleOnABoundCountsInThatBucket) {
  Timing t;
  t.Add(1000);
  EXPECT_EQ(t.QuantileUs(0.5), 1000u);
  Timing small;
  small.Add(30);  // below the first bound: the quantile is the max, not 50
  EXPECT_EQ(small.QuantileUs(0.5), 30u);
}

}  // namespace
}  // namespace parley::events
