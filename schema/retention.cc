#include "schema/retention.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace parley {

void Retention::Begin(int64_t now_ms) {
  if (running_) return;
  running_ = true;
  before_ms_ = now_ms - policy_.keep_ms;
  room_ = 0;  // the events of no room first, by age alone
  after_ = 0;
  below_ = std::numeric_limits<int64_t>::max();
}

Result<Retention::Progress> Retention::Step(int64_t max_rows, int64_t budget_ms) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point end = Clock::now() + std::chrono::milliseconds(budget_ms);
  Progress p;
  while (running_ && p.deleted < max_rows) {
    if (below_ > 0) {
      const int64_t want = std::min(kRowsPerDelete, max_rows - p.deleted);
      PARLEY_ASSIGN_OR_RETURN(Storage::OldEventsDeleted d,
                              store_.DeleteOldEvents(room_, after_, below_, before_ms_, want));
      p.deleted += d.count;
      // A window that was old throughout: more of this room may be, after it.
      if (d.count == want) {
        after_ = d.last_id;
      } else {
        below_ = 0;
      }
    }
    if (below_ == 0) PARLEY_RETURN_IF_ERROR(NextRoom());
    if (Clock::now() >= end) break;
  }
  p.running = running_;
  return p;
}

Status Retention::NextRoom() {
  PARLEY_ASSIGN_OR_RETURN(int64_t next, store_.NextEventRoom(room_));
  if (next == 0) {
    running_ = false;
    return Status::Ok();
  }
  PARLEY_ASSIGN_OR_RETURN(int64_t cut, store_.RetentionCut(next, policy_.keep_per_room, before_ms_));
  room_ = next;
  after_ = 0;
  below_ = cut;
  return Status::Ok();
}

}  // namespace parley
