#include "tools/loadgen/histogram.h"

#include <gtest/gtest.h>

#include <random>

namespace parley::loadgen {
namespace {

TEST(Histogram, BucketsCoverEveryValueWithinPrecision) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{129}, uint64_t{255},
                     uint64_t{256}, uint64_t{1000}, uint64_t{123456789}, UINT64_MAX / 3, UINT64_MAX}) {
    size_t i = Histogram::Index(v);
    EXPECT_LE(Histogram::Lowest(i), v) << v;
    EXPECT_GE(Histogram::Highest(i), v) << v;
    if (v >= 128) {
      EXPECT_LE(Histogram::Highest(i) - Histogram::Lowest(i), v / 64) << v;
    }
  }
  // Buckets tile the number line: each starts right after the previous.
  for (size_t i = 1; i < 2000; ++i) EXPECT_EQ(Histogram::Lowest(i), Histogram::Highest(i - 1) + 1) << i;
}

TEST(Histogram, ExactBelow128) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.Percentile(50), 50u);
  EXPECT_EQ(h.Percentile(99), 99u);
  EXPECT_EQ(h.Percentile(100), 100u);
  EXPECT_EQ(h.Percentile(0), 1u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, PercentilesWithinOnePointSixPercent) {
  Histogram h;
  std::mt19937_64 rng(42);
  std::vector<uint64_t> values;
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng() % 5000000;
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    uint64_t exact = values[static_cast<size_t>(std::ceil(p / 100 * values.size())) - 1];
    uint64_t got = h.Percentile(p);
    EXPECT_GE(got, exact) << p;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1 + 1.0 / 64) + 1) << p;
  }
  EXPECT_EQ(h.Percentile(100), values.back());
}

TEST(Histogram, EmptyAndMerge) {
  Histogram a, b;
  EXPECT_EQ(a.Percentile(99), 0u);
  EXPECT_EQ(a.min(), 0u);
  a.Record(10);
  b.Record(1000000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 2u);
  EXPECT_EQ(a.min(), 10u);
  EXPECT_EQ(a.max(), 1000000u);
  EXPECT_EQ(a.Percentile(50), 10u);
  EXPECT_EQ(a.Percentile(100), 1000000u);
}

}  // namespace
}  // namespace parley::loadgen
