// The merge behind EventsForUser, shared by both backends (the design note
// is in schema/store_events.cc): a user's events come from several index
// ranges (each room they are in, the broadcast events, the events addressed
// to them), read a batch at a time and merged in id order. The backends
// only read batches; the order, the doubling of a busy source's batch and
// the rule that a source is read on before anything later is taken live
// here, once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "schema/model.h"
#include "schema/status.h"

namespace parley {

// One index range of the user's events, read a batch at a time.
struct EventSource {
  enum class Kind { kRoom, kBroadcast, kAddressed };
  Kind kind = Kind::kRoom;
  int64_t key = 0;    // the room id, or the user id for kAddressed
  int64_t upto = std::numeric_limits<int64_t>::max();  // its own bound (a room left: RoomBound)
  int batch = 1;      // rows to read next time
  std::vector<Event> events;
  size_t next = 0;    // the first of `events` not merged yet
  bool done = false;  // the last read came back short: nothing more up to the bound

  // Replaces the batch with what a read returned.
  void Fill(std::vector<Event> read) {
    events = std::move(read);
    next = 0;
    done = static_cast<int>(events.size()) < batch;
  }
};

// A room the user is no longer in, read up to their last member event in it
// (their leave, kick or ban): what was said while they were a member reaches
// them on replay as it did live, and nothing after.
struct RoomBound {
  int64_t room = 0;
  int64_t upto = 0;
};

// Each room of the user, then the rooms they left, then the broadcast and
// the addressed events; the first reads share `limit`, at least one row each.
std::vector<EventSource> UserEventSources(int64_t user_id, const std::vector<int64_t>& rooms,
                                          const std::vector<RoomBound>& left, int limit);


// Reads src's next batch (src.batch rows) after the id `after`, through
// src.Fill; false when it found nothing.
using ReadEventBatch = std::function<Result<bool>(EventSource& src, int64_t after)>;

// Merges sources whose first batch has been read: up to `limit` events in
// id order, an event found in two sources (a room's event addressed to a
// member) kept once. A source whose batch runs out doubles its batch (up to
// `limit`) and is read on with read_more before anything later is taken,
// so nothing is skipped: fewer than `limit` out means every event up to the
// bound came out.
Result<std::vector<Event>> MergeEventSources(std::vector<EventSource>& sources, int limit,
                                             const ReadEventBatch& read_more);

}  // namespace parley
