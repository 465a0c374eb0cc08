// Retention: events older than keep_ms go, except the newest keep_per_room
// of each room and the newest event overall (the head). Messages stay (the
// history is kept); what goes is the log a resume replays from.
//
// Done in passes of short steps, never in one statement: parley-events runs
// a step a second on its loop, and on SQLite each delete holds the write
// lock every send waits for. A pass walks the rooms that have events
// (Storage::NextEventRoom, one index probe each), the events of no room
// first: a room whose oldest event is not old costs that probe and one
// more; a room with old events, one walk down to its keep_per_room-th
// newest (its cut, Storage::RetentionCut); then its old events below the
// cut go oldest first, kRowsPerDelete at a time (Storage::DeleteOldEvents).
// Nothing reads the log by age, which no index serves: done so, one prune
// read the whole table, every hour, with the write lock held
// (tools/bench/HISTORY.md, twenty-third session).
//
// A cut only grows as the room grows, so what a pass found stays safe to
// delete below while it runs. A window that holds an event not yet old
// (another host's clock) ends its room's turn: the old events after it wait
// for the next pass.
//
// Threading: one thread (the caller's), like the Storage it is given.
#pragma once

#include <cstdint>

#include "schema/status.h"
#include "schema/storage.h"

namespace parley {

class Retention {
 public:
  // At most this many events per delete statement (one transaction): a few
  // milliseconds of SQLite's write lock with secure_delete on.
  static constexpr int64_t kRowsPerDelete = 1000;

  struct Policy {
    int64_t keep_ms = 0;
    int64_t keep_per_room = 1;
  };
  struct Progress {
    bool running = false;  // a pass is under way
    int64_t deleted = 0;   // by the step just made
  };

  Retention(Storage& store, Policy policy) : store_(store), policy_(policy) {}

  // Starts a pass at now_ms unless one is under way.
  void Begin(int64_t now_ms);
  // Continues the pass: rooms and deletes until max_rows events went, the
  // pass ended, or budget_ms went by (checked after each statement).
  Result<Progress> Step(int64_t max_rows, int64_t budget_ms);
  bool running() const { return running_; }

 private:
  // The next room after room_ and its cut, or the end of the pass.
  Status NextRoom();

  Storage& store_;
  const Policy policy_;
  bool running_ = false;
  int64_t before_ms_ = 0;  // events older than this may go
  int64_t room_ = 0;       // the room being pruned (0: the events of no room)
  int64_t after_ = 0;      // where its next window starts: the last one's end
  int64_t below_ = 0;      // its cut; 0 when nothing more of it goes
};

}  // namespace parley
