// The wake-up datagrams from parley-fcgi (format: schema/wakeup.h). Best
// effort by design: a lost datagram costs at most one data_version interval
// of latency, never an event.
//
// Only the service's own user may wake the daemon: the socket asks the
// kernel for each sender's credentials (SO_PASSCRED), and a datagram from
// another uid, or one without credentials, is dropped and counted, as is a
// malformed one.
#pragma once

#include <functional>
#include <string>

#include "events/conns.h"
#include "events/stats.h"
#include "schema/posix.h"
#include "schema/wakeup.h"

namespace parley::events {

class Notify {
 public:
  using Handler = std::function<void(const Wakeup&)>;
  Notify(Stats& stats, Handler handler) : stats_(stats), handler_(std::move(handler)) {}
  // Binds path, or takes `inherited` when it is valid (an upgrade's).
  Status Open(event_base* base, const std::string& path, Fd inherited);
  // A copy of the socket (close-on-exec), for the next image.
  Result<Fd> CopySocket() const;

 private:
  static void OnReadable(int fd, short, void* self);
  void Drain();

  Stats& stats_;
  Handler handler_;
  Fd fd_;
  EventPtr ev_;
};

}  // namespace parley::events
