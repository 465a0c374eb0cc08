#include "schema/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace parley {

Take TakeToken(const std::optional<Bucket>& prev, const Rate& rate, int64_t now_ms) {
  Take t;
  if (rate.unlimited()) {
    t.ok = true;
    return t;
  }
  double tokens = rate.burst;
  if (prev) {
    // In double: stamps from a corrupt row must not overflow int64_t.
    const double elapsed_ms = static_cast<double>(now_ms) - static_cast<double>(prev->updated_ms);
    const double held = std::min(rate.burst, prev->tokens);  // a burst lowered since it was stored
    // Past the skew the wall clock stepped back: the bucket starts full
    // again (tokens stays the burst), stamped now once a token is taken.
    // Otherwise its stamp, ahead, refilled nothing until the clock passed
    // it again, and every refusal said "Retry-After: 1" for as long as the
    // step (an hour, say), since a refusal stores nothing. What a step back
    // gives away is one burst per bucket; no client can make one.
    if (elapsed_ms >= -static_cast<double>(kClockSkewMs)) {
      tokens = std::min(rate.burst, held + elapsed_ms * rate.per_second / 1000.0);
    }
  }
  if (tokens >= 1) {
    t.ok = true;
    t.next = Bucket{tokens - 1, now_ms};
    return t;
  }
  // In double, then clamped: converting a double past int64_t is undefined
  // (a rate of 1e-31 a second wrapped to a negative wait here, a
  // "Retry-After: 1" forever). !(wait < max) also catches inf and NaN.
  const double wait_ms = std::ceil((1 - tokens) * 1000.0 / rate.per_second);
  t.retry_after_ms = wait_ms < static_cast<double>(kMaxRetryAfterMs) ? static_cast<int64_t>(wait_ms) : kMaxRetryAfterMs;
  return t;
}

// Rounded up without adding first: retry_after_ms + 999 overflowed near the max.
int64_t RetryAfterSeconds(int64_t retry_after_ms) {
  return std::max<int64_t>(1, retry_after_ms / 1000 + (retry_after_ms % 1000 > 0 ? 1 : 0));
}

Take BucketMap::Consume(int64_t key, const Rate& rate, int64_t now_ms) {
  auto it = buckets_.find(key);
  std::optional<Bucket> prev;
  if (it != buckets_.end()) prev = it->second;
  Take t = TakeToken(prev, rate, now_ms);
  if (!t.ok || rate.unlimited()) return t;
  if (it == buckets_.end() && buckets_.size() >= max_entries_) {
    // A bucket idle long enough to be full again holds no information.
    double full_after_ms = rate.burst * 1000.0 / rate.per_second;
    std::erase_if(buckets_, [&](const auto& kv) { return now_ms - kv.second.updated_ms >= full_after_ms; });
    if (buckets_.size() >= max_entries_) buckets_.clear();
  }
  buckets_[key] = t.next;
  return t;
}

}  // namespace parley
