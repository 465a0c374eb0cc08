// Wake-ups across hosts on PostgreSQL (issue 10 item 3): the daemon
// LISTENs on the events channel (schema/pg/notify.h) on the libevent loop,
// and every payload (a head, typing, a receipt: schema/wakeup.h) goes to the
// same handler as the local datagrams (notify.h).
//
// A lost notification costs latency, never an event: the fanout's periodic
// head check (Config::data_version_ms) stays the safety net. When the
// listening connection is lost (a server restart, a cut link), it is retried
// once a second, and each time it comes back the handler gets a head
// wake-up, because notifications sent meanwhile are gone.
//
// Threading: single-threaded, on the loop. A reconnect blocks the loop for
// at most PgConn::kConnectTimeoutS; while the server is away, the daemon has
// nothing new to push anyway.
#pragma once

#include <memory>
#include <string>

#include "events/conns.h"
#include "events/notify.h"
#include "events/stats.h"
#include "schema/pg/notify.h"

namespace parley::events {

class PgWakeups {
 public:
  PgWakeups(Stats& stats, Notify::Handler handler) : stats_(stats), handler_(std::move(handler)) {}
  Status Open(event_base* base, const std::string& url);

 private:
  static void OnReadable(int fd, short, void* self);
  static void OnRetry(int, short, void* self);
  void Drain();
  void Watch();  // the read event on the listener's (possibly new) socket

  Stats& stats_;
  Notify::Handler handler_;
  event_base* base_ = nullptr;
  std::unique_ptr<pg::Listener> listener_;
  EventPtr read_ev_;
  EventPtr retry_ev_;
};

}  // namespace parley::events
