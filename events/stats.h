// Counters of /events/stats, rendered as JSON or Prometheus text.
#pragma once

#include <cstdint>
#include <string>

namespace parley::events {

enum class CloseCause { kClient, kSlow, kRevoked, kRotated, kShutdown, kCount };

struct Stats {
  uint64_t streams = 0;          // open SSE streams
  uint64_t polls_waiting = 0;    // held long-polls
  uint64_t streams_opened = 0;
  uint64_t polls_completed = 0;
  uint64_t deliveries = 0;       // events written to connections
  uint64_t ephemeral = 0;        // typing/presence deliveries
  uint64_t wakeups = 0;          // datagrams received
  uint64_t batches = 0;          // fan-out passes that found events
  uint64_t refused = 0;          // 503 at the connection cap
  uint64_t closed[static_cast<int>(CloseCause::kCount)] = {};
  int64_t head = 0;              // last event id fanned out
  int64_t db_head = 0;           // last event id seen in the database
  uint64_t rss_bytes = 0;

  std::string Json() const;
  std::string Prometheus() const;
};

const char* CauseName(CloseCause c);

}  // namespace parley::events
