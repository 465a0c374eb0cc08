#include "events/timing.h"

#include <algorithm>
#include <cmath>

#include "schema/json.h"

namespace parley::events {

void Timing::Add(uint64_t us) {
  const auto* bound = std::lower_bound(kBoundsUs.begin(), kBoundsUs.end(), us);
  ++buckets_[static_cast<size_t>(bound - kBoundsUs.begin())];
  ++count_;
  sum_us_ += us;
  max_us_ = std::max(max_us_, us);
}

uint64_t Timing::QuantileUs(double q) const {
  if (count_ == 0) return 0;
  // The rank of the q-th sample, 1-based: the smallest bucket whose
  // running count reaches it.
  const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBoundsUs.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(kBoundsUs[i], max_us_);
  }
  return max_us_;
}

void Timing::Write(JsonWriter& w) const {
  w.BeginObject().Key("count").Int(static_cast<int64_t>(count_));
  w.Key("mean_us").Int(static_cast<int64_t>(mean_us()));
  w.Key("p50_us").Int(static_cast<int64_t>(QuantileUs(0.5)));
  w.Key("p99_us").Int(static_cast<int64_t>(QuantileUs(0.99)));
  w.Key("max_us").Int(static_cast<int64_t>(max_us_)).EndObject();
}

}  // namespace parley::events
