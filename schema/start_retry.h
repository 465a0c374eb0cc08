// Retrying a daemon's start-up migration (fcgi/pool.cc, events/server.cc)
// while the database is only unavailable for now.
//
// A reload of the pool runs the binary again (fcgi/reexec.h), and the new
// image migrates as any start does, before it forks a worker; parley-events
// migrates at its start too, beside a pool that may be migrating a large
// database under the write lock (minutes for millions of messages): giving
// up after the lock's 5 s made tools/run stop everything mid-upgrade, at
// every try. When the database cannot answer
// at that moment (PostgreSQL down or restarting, a lock held past the lock
// timeout, SQLite's file briefly unwritable), giving up at once made the
// master exit: a reload, meant to drop no request, stopped the whole pool,
// where a pool left running would have answered 503 and recovered by
// itself. So an Unavailable answer (Code::kUnavailable: busy, a failed
// connection, a full or failing disk) is tried again, with a backoff, for a
// bounded time, each failure logged; nginx's connections wait in the
// listening socket's backlog meanwhile. Any other error (a schema newer than
// the binary, a bad URL, a failed migration) is not going to mend itself and
// is returned at once.
#pragma once

#include <chrono>
#include <functional>

#include "schema/status.h"

namespace parley {

struct StartRetry {
  std::chrono::milliseconds budget{60'000};       // from the first attempt; then the last answer stands
  std::chrono::milliseconds first_delay{250};     // doubling after each failure...
  std::chrono::milliseconds max_delay{5'000};     // ...up to this
};

// Calls attempt() until it succeeds, fails with an error other than
// kUnavailable, or `retry.budget` has passed. Between attempts it calls
// wait(delay), which sleeps for that long and returns false to give up early
// (a stop signal): then the last answer stands. Each retried failure is
// logged as what was being done (`action`).
Result<int> RetryWhileUnavailable(const char* action, const StartRetry& retry,
                                  const std::function<Result<int>()>& attempt,
                                  const std::function<bool(std::chrono::milliseconds)>& wait);

}  // namespace parley
