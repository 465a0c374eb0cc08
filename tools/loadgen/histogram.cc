#include "tools/loadgen/histogram.h"

#include <algorithm>
#include <cmath>

namespace parley::loadgen {

namespace {
constexpr int kSubBits = 6;                 // 64 buckets per power of two above kExact
constexpr uint64_t kExact = 2u << kSubBits;  // 128 values recorded exactly
constexpr uint64_t kHalf = 1u << kSubBits;   // 64
constexpr size_t kBuckets = kExact + (64 - kSubBits - 1) * kHalf;
}  // namespace

Histogram::Histogram() : buckets_(kBuckets, 0) {}

size_t Histogram::Index(uint64_t v) {
  if (v < kExact) return static_cast<size_t>(v);
  int msb = 63 - __builtin_clzll(v);      // >= kSubBits + 1
  int shift = msb - kSubBits;             // >= 1
  uint64_t top = v >> shift;              // in [64, 127]
  return kExact + static_cast<size_t>(shift - 1) * kHalf + static_cast<size_t>(top - kHalf);
}

uint64_t Histogram::Lowest(size_t i) {
  if (i < kExact) return i;
  size_t shift = (i - kExact) / kHalf + 1;
  uint64_t top = (i - kExact) % kHalf + kHalf;
  return top << shift;
}

uint64_t Histogram::Highest(size_t i) {
  if (i < kExact) return i;
  size_t shift = (i - kExact) / kHalf + 1;
  return Lowest(i) + ((uint64_t{1} << shift) - 1);
}

void Histogram::Record(uint64_t v) {
  ++buckets_[Index(v)];
  ++count_;
  sum_ += v;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void Histogram::Merge(const Histogram& o) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

uint64_t Histogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::clamp(Highest(i), min_, max_);
  }
  return max_;
}

}  // namespace parley::loadgen
