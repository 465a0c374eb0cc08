#include "fcgi/read_quota.h"

#include <string>

namespace parley::fcgi {

Status ReadQuota::Take(int64_t user_id, int64_t now_ms) {
  if (rate_.unlimited()) return Status::Ok();
  parley::Take t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    t = buckets_.Consume(user_id, rate_, now_ms);
  }
  if (t.ok) return Status::Ok();
  const int64_t wait = RetryAfterSeconds(t.retry_after_ms);
  return Status::Throttled("throttled", "too many reads from your sessions together; try again in " +
                                            std::to_string(wait) + " s",
                           wait);
}

}  // namespace parley::fcgi
