// Handoff: a stopping worker's kept connections, passed on to its successor.
//
// Design note. nginx keeps its FastCGI connections open between requests
// (keeper.h) and may write a request on one at any moment. A worker that
// closed its idle ones when it stopped (a rolling reload, SIGHUP) raced
// those writes: nginx takes a reset on a cached connection for an error and
// tries another peer without counting the try, but each of its upstream's
// entries is tried once per request, so two stale connections picked in a
// row were a 502 (seen in PoolTest: 1 of 4,446 sends, two resets, then "no
// live upstreams"). No close can be timed to miss nginx's next write, so a
// worker that stops for a reload closes none: it sends them with SCM_RIGHTS
// over a socket pair to the master, whose queue holds them after the worker
// has exited; the master reaps the worker, takes them, and its replacement
// inherits them across fork() and watches them as its own. A request nginx
// wrote meanwhile waits in its socket, answered a few milliseconds late.
// Only connections between two requests are passed (nothing of them has
// been read); when the whole pool stops they are closed as before.
#pragma once

#include <vector>

#include "schema/posix.h"
#include "schema/status.h"

namespace parley::fcgi {

// A connected pair: the master keeps one end, the worker the other.
struct HandoffChannel {
  Fd master;
  Fd worker;
};
Result<HandoffChannel> OpenHandoffChannel();

// Sends fds in as many messages as it takes. The caller still owns them
// (they are duplicated into the message): it closes its copies after.
Status HandOver(int channel, const std::vector<int>& fds);

// Everything queued on the channel, without waiting: what a worker handed
// over before it exited. Appends to *out; an error after some were taken
// keeps those.
Status TakeOver(int channel, std::vector<Fd>* out);

}  // namespace parley::fcgi
