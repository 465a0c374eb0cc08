// Connection lifecycle and output: the one module that creates, writes to
// and frees subscriber connections.
//
// Design note (Redis' shape). Producers (fan-out, heartbeats, replay) only
// append to a connection's pending output and call MarkDirty; the first
// MarkDirty of a turn activates the flush pass, which libevent queues behind
// the callbacks already active in this loop iteration, so it runs after
// them (Redis' beforeSleep). A lower libevent priority would say "last" more
// strictly, but starves: libevent runs a lower priority only in an
// iteration with nothing else active, which a busy daemon never has. The
// pass writes each dirty connection once, answers polls that collected
// something, enforces the caps, and then reaps: every close, whoever asked
// for it, is queued with RequestClose and carried out there, never while a
// loop walks the registry (freeClientAsync). The only exception is a close
// that the peer started (evhttp's close callback), which forgets the
// connection at once: evhttp frees it right after.
//
// Limits. A connection whose output buffer holds more than output_cap bytes
// after a pass is cut as slow, in every state: a replaying stream gets one
// page of at most output_cap/4 at a time (and no typing, presence or
// heartbeat bytes), a poll's answer is cut at output_cap/4 bytes (more:true).
// All connections together may queue output_budget bytes; past it the
// connections with the most queued are cut first. A cut is logged with the
// connection, the user and the cause; the client resumes from its last id.
//
// Ending a stream. evhttp keeps a connection whose reply has ended, with its
// unsent output, until that output drains or the connection's timeout (a
// stream's lifetime and a minute), and by then it is in no registry: a
// client that stopped reading, whose streams the daemon ended, held their
// memory and sockets outside every cap (two rounds of 32 filled streams and
// a logout: 12 to 68 MB). So a stream whose session ended (logout,
// revocation) is closed at once: its unsent output is for nobody. A rotated
// one writes its goodbye behind what is queued and stays registered
// (kDraining: counted in queued_bytes, the budget and the connection caps)
// until the goodbye has left, or is cut as slow kDrainMs later: a reader
// that takes a stream's last seconds of output in that time is no slow one.
//
// Threading: single-threaded, on the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "events/config.h"
#include "events/conn.h"
#include "events/registry.h"
#include "events/stats.h"

struct event_base;
struct event;
struct evhttp_connection;
struct evbuffer;

namespace parley::events {

struct EvbufferFree { void operator()(evbuffer* b) const; };

class Conns {
 public:
  // How long a rotated stream's goodbye may take to leave (the design note).
  static constexpr int64_t kDrainMs = 5000;
  struct Hooks {
    std::function<void(int64_t user)> first_opened;  // the user's first connection
    std::function<void(int64_t user)> last_closed;   // ... and their last
    std::function<void(Conn&)> replay;               // append a replaying stream's next page
    std::function<int64_t()> head;                   // the last event id fanned out
    std::function<void(uint64_t id)> forgotten;      // a connection left (its held page goes back)
  };
  Conns(event_base* base, const Config& cfg, std::string epoch, Stats& stats, Hooks hooks);
  ~Conns();
  Conns(const Conns&) = delete;
  Conns& operator=(const Conns&) = delete;

  Registry& registry() { return registry_; }
  const Registry& registry() const { return registry_; }

  // Takes a connection whose reply has started (streams) or is held (polls).
  Conn* Register(std::unique_ptr<Conn> conn);
  // Schedules the flush pass of this loop turn for c.
  void MarkDirty(Conn& c);
  // Queues c to be closed at the reap point: a stream ends with a goodbye
  // (or, kSlow/kBudget, is cut), a poll is answered with what it holds.
  void RequestClose(Conn& c, CloseCause cause);
  // Runs the pass now (shutdown, which must not wait for the next turn).
  void RunPass();
  // Re-measures every connection's queued output (once a second): buffers
  // drain without a flush, and the budget must not count what has left.
  void Remeasure();

 private:
  static void OnPass(int, short, void* self);
  static void OnClosed(evhttp_connection* evcon, void* arg);
  static void OnPeerClosed(int fd, short what, void* arg);
  static void OnChunkWritten(evhttp_connection* evcon, void* arg);
  static void OnGoodbyeWritten(evhttp_connection* evcon, void* arg);
  void Flush(Conn& c);
  void EnforceBudget();
  void Reap();
  void Close(Conn& c);
  void AnswerPoll(Conn& c);
  void EndStream(Conn& c);
  void EndReply(Conn& c);
  void Cut(Conn& c);
  void SetQueued(Conn& c, size_t bytes);
  void Forget(Conn& c);

  event_base* base_;
  const Config& cfg_;
  std::string epoch_;
  Stats& stats_;
  Hooks hooks_;
  Registry registry_;
  EventPtr pass_ev_;
  std::unique_ptr<evbuffer, EvbufferFree> scratch_;
  uint64_t next_id_ = 1;
  bool pass_scheduled_ = false;
  std::vector<uint64_t> dirty_;
  std::vector<uint64_t> to_close_;
  size_t queued_total_ = 0;
};

}  // namespace parley::events
