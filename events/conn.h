// One subscriber: an SSE stream or a held long-poll.
//
// Lifecycle (a state machine, as Pushpin names its hold modes):
//   stream: kReplaying -> kLive -> (closed)
//   poll:   kWaiting -> (answered, closed)
// A Conn is owned by the Registry. It is never freed while a fan-out loop
// walks the registry: closes are queued and done at the reap point (Redis'
// freeClientAsync).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "events/wire.h"

struct evhttp_request;
struct evhttp_connection;

namespace parley::events {

enum class HoldMode { kStream, kPoll };
enum class ConnState { kReplaying, kLive, kWaiting, kClosing };

struct Conn {
  uint64_t id = 0;
  HoldMode mode = HoldMode::kStream;
  ConnState state = ConnState::kLive;
  evhttp_request* req = nullptr;       // owned by evhttp until the reply ends
  evhttp_connection* evcon = nullptr;  // owned by evhttp
  int64_t user_id = 0;
  int64_t session_id = 0;
  // Stream: the last event id written. Poll: the cursor the answer's "next" starts from.
  int64_t cursor = 0;
  int64_t deadline_ms = 0;             // stream rotation, or poll timeout
  // Appended during a fan-out pass, flushed once at its end.
  std::string pending;
  std::vector<PollEvent> poll_events;  // polls only
  bool dirty = false;
  bool poll_full = false;              // kPollMax events collected: answer with more:true
  bool chunked = false;                // the stream's reply uses HTTP/1.1 chunked encoding
};

// At most this many events in one poll answer (DESIGN section 4).
constexpr size_t kPollMax = 500;

}  // namespace parley::events
