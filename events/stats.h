// Counters of /events/stats, rendered as JSON or Prometheus text.
#pragma once

#include <cstdint>
#include <string>

#include "events/timing.h"

namespace parley::events {

// Why a connection ended. kBudget: cut as one of the slowest when the
// daemon's output budget for all connections was exceeded.
enum class CloseCause { kClient, kSlow, kBudget, kRevoked, kRotated, kShutdown, kCount };

struct Stats {
  uint64_t streams = 0;          // open SSE streams
  uint64_t polls_waiting = 0;    // held long-polls
  uint64_t streams_opened = 0;
  uint64_t polls_completed = 0;
  uint64_t deliveries = 0;       // events written to connections
  uint64_t ephemeral = 0;        // typing/presence deliveries
  uint64_t wakeups = 0;          // datagrams received
  uint64_t batches = 0;          // fan-out passes that found events
  uint64_t read_failures = 0;    // reads of the log that failed (retried after data_version_ms)
  uint64_t refused = 0;          // 503 at the connection cap
  uint64_t refused_user = 0;     // 429 at the per-user connection cap
  uint64_t accept_pauses = 0;    // accept() out of descriptors or memory: the listener rested (http.h)
  uint64_t polls_paced = 0;      // catch-up polls held for their next page (pacer.h)
  uint64_t streams_paced = 0;    // resuming streams' replay pages held the same way
  uint64_t typing_merged = 0;    // typing notices dropped as repeats within the merge window
  uint64_t ephemeral_dropped = 0;  // typing notices and receipts dropped: the log unread up to their head
  uint64_t datagrams_refused = 0;  // wake-ups from another uid, or malformed
  uint64_t queued_bytes = 0;     // output queued to all connections (the budget's measure)
  uint64_t closed[static_cast<int>(CloseCause::kCount)] = {};
  int64_t head = 0;              // last event id fanned out
  int64_t db_head = 0;           // last event id seen in the database
  uint64_t rss_bytes = 0;
  // Where a delivery's time goes in the daemon (timing.h).
  Timing commit_to_read;  // an event's ts to the pass that read it, per event
  Timing read;            // each log read that found events
  Timing append;          // appending them to every recipient's output
  Timing flush;           // each write pass to the sockets

  std::string Json() const;
  std::string Prometheus() const;
};

const char* CauseName(CloseCause c);

}  // namespace parley::events
