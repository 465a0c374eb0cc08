// One subscriber: an SSE stream or a held long-poll.
//
// Lifecycle (a state machine, as Pushpin names its hold modes):
//   stream: [kReplaying <-> kPaced ->] kLive -> kClosing -> [kDraining ->] (freed)
//   poll:   [kPaced ->] kWaiting -> kClosing -> (answered and freed)
// kPaced: a poll from an old cursor, or a resuming stream between two
// replay pages, held until its next catch-up page is due (pacer.h); it
// collects nothing, its cursor is where that page starts.
// kDraining: a rotated stream whose goodbye is still behind its unsent
// output; it stays registered, so counted against every cap, until the
// goodbye has left or its deadline (kDrainMs) cuts it (conns.h).
// A Conn is owned by the Registry and only Conns (conns.h) creates, writes
// and frees one. It is never freed while a loop walks the registry: closes
// are queued and done at the reap point (Redis' freeClientAsync).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "events/stats.h"
#include "events/wire.h"

struct evhttp_request;
struct evhttp_connection;
struct event;

namespace parley::events {

struct EventFree { void operator()(event* e) const; };
using EventPtr = std::unique_ptr<event, EventFree>;

enum class HoldMode { kStream, kPoll };
enum class ConnState { kReplaying, kLive, kWaiting, kPaced, kClosing, kDraining };

struct Conn {
  uint64_t id = 0;
  HoldMode mode = HoldMode::kStream;
  ConnState state = ConnState::kLive;
  evhttp_request* req = nullptr;       // owned by evhttp until the reply ends
  evhttp_connection* evcon = nullptr;  // owned by evhttp
  int64_t user_id = 0;
  int64_t session_id = 0;
  uint64_t address = 0;                // ClientAddressKey, for pacing
  // Stream: the last event id written. Poll: the last event id collected
  // (the answer's "next" when it is cut short).
  int64_t cursor = 0;
  // Stream rotation, poll timeout, or the end of a goodbye's drain; MonoMs
  // (events/clock.h), so a step of the wall clock moves none of them.
  int64_t deadline_ms = 0;
  // Appended during a loop turn, flushed once at its end.
  std::string pending;
  std::vector<PollEvent> poll_events;  // polls only
  size_t poll_bytes = 0;               // their JSON, for the output cap
  size_t queued = 0;                   // bytes in the socket's output buffer at the last flush
  CloseCause close_cause = CloseCause::kClient;
  bool dirty = false;
  bool poll_full = false;              // a full page collected: answer with more:true
  bool chunked = false;                // the stream's reply uses HTTP/1.1 chunked encoding
  EventPtr peer_closed;                // polls: fires when the client goes away while held

  bool live_stream() const { return mode == HoldMode::kStream && state == ConnState::kLive; }
  bool waiting_poll() const { return mode == HoldMode::kPoll && state == ConnState::kWaiting; }
};

// At most this many events in one poll answer (DESIGN section 4).
constexpr size_t kPollMax = 500;

}  // namespace parley::events
