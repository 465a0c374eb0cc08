#include "schema/start_retry.h"

#include <algorithm>

#include "schema/log.h"

namespace parley {

Result<int> RetryWhileUnavailable(const char* action, const StartRetry& retry,
                                  const std::function<Result<int>()>& attempt,
                                  const std::function<bool(std::chrono::milliseconds)>& wait) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + retry.budget;
  std::chrono::milliseconds delay = retry.first_delay;
  for (int tries = 1;; ++tries) {
    Result<int> r = attempt();
    if (r.ok() || r.status().code() != Code::kUnavailable) return r;
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      LOG_ERROR("%s: %s (attempt %d; giving up after %lld s)", action, r.status().message().c_str(), tries,
                static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(retry.budget).count()));
      return r;
    }
    delay = std::min(delay, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    LOG_WARN("%s: %s (attempt %d; trying again in %lld ms)", action, r.status().message().c_str(), tries,
             static_cast<long long>(delay.count()));
    if (!wait(delay)) return r;
    delay = std::min(delay * 2, retry.max_delay);
  }
}

}  // namespace parley
