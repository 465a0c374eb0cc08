#include "schema/key_expiry.h"

#include <algorithm>
#include <chrono>

namespace parley {

void KeyExpiry::Begin(int64_t now_ms) {
  if (running_) return;
  running_ = true;
  kind_ = 0;
  from_ms_ = 0;
  for (int i = 0; i < 2; ++i) {
    before_ms_[i] = now_ms - (kKinds[i] == Storage::KeyKind::kReplay ? policy_.replay_keep_ms : policy_.client_keep_ms);
  }
}

Result<KeyExpiry::Progress> KeyExpiry::Step(int64_t max_rows, int64_t budget_ms) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point end = Clock::now() + std::chrono::milliseconds(budget_ms);
  Progress p;
  while (running_ && p.deleted < max_rows) {
    const int64_t want = std::min(kRowsPerDelete, max_rows - p.deleted);
    PARLEY_ASSIGN_OR_RETURN(Storage::KeysDeleted d,
                            store_.DeleteExpiredKeys(kKinds[kind_], from_ms_, before_ms_[kind_], want));
    p.deleted += d.count;
    if (d.count == want) {
      // From the newest time stamp it took, not after it: keys of the same
      // millisecond may be left.
      from_ms_ = d.last_ms;
    } else if (++kind_ < 2) {
      from_ms_ = 0;
    } else {
      running_ = false;
    }
    if (Clock::now() >= end) break;
  }
  p.running = running_;
  return p;
}

}  // namespace parley
