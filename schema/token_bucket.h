// Token buckets: the arithmetic of every per-user write quota, free of I/O.
//
// A bucket holds up to `burst` tokens and refills at `per_second`; a write
// takes one. Store keeps buckets in SQLite (write_quota, updated inside the
// write transaction they guard); BucketMap keeps them in memory for the one
// write that has no transaction (typing, fcgi/handlers_rooms.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace parley {

struct Rate {
  double per_second = 0;  // 0: unlimited
  double burst = 0;
  bool unlimited() const { return per_second <= 0; }
};

struct Bucket {
  double tokens = 0;
  int64_t updated_ms = 0;
};

// The longest wait a refusal names: 2^31 s, what RFC 9110 (1.2.2) asks a
// recipient of a delta-seconds to cope with. Longer waits (a rate of
// nearly 0: fcgi/limits_config.h refuses rates under one token a day)
// saturate here instead of overflowing int64_t.
inline constexpr int64_t kMaxRetryAfterMs = (int64_t{1} << 31) * 1000;

// How far ahead of now a stored stamp may be and still be read as the
// same bucket seen from a clock a little behind (PostgreSQL's pools on
// several hosts, each with its own clock): past it, the clock stepped back,
// and the bucket starts full again.
inline constexpr int64_t kClockSkewMs = 1000;

struct Take {
  bool ok = false;
  Bucket next;  // the bucket to store when ok
  int64_t retry_after_ms = 0;  // when refused: until one token is back, at most kMaxRetryAfterMs
};

// Refills prev (a missing bucket is full) up to now_ms, then takes a token;
// never more than rate.burst tokens. A refused take changes nothing, so
// refused requests cost no tokens. A stamp ahead of now_ms by up to
// kClockSkewMs is read as what prev will hold then: prev's tokens less the
// refill until its stamp (a debt if that is negative), so pools whose clocks
// differ neither gain tokens nor lose them; one further ahead is full.
Take TakeToken(const std::optional<Bucket>& prev, const Rate& rate, int64_t now_ms);

// Whole seconds until retry_after_ms has passed, at least 1: a Retry-After.
// Defined for every int64_t.
int64_t RetryAfterSeconds(int64_t retry_after_ms);

// Buckets in memory for one process, keyed by an id. Bounded: past
// max_entries, buckets that have refilled completely are forgotten (they are
// the same as missing ones), and if that is not enough, all are.
class BucketMap {
 public:
  explicit BucketMap(size_t max_entries = 100000) : max_entries_(max_entries) {}
  Take Consume(int64_t key, const Rate& rate, int64_t now_ms);
  size_t size() const { return buckets_.size(); }

 private:
  size_t max_entries_;
  std::unordered_map<int64_t, Bucket> buckets_;
};

}  // namespace parley
