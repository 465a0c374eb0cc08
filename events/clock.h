// The clock of parley-events' deadlines and intervals.
//
// Every deadline (a poll's timeout, a stream's rotation, a goodbye's
// drain), interval (heartbeats, the session re-check, trims, sweeps), cache
// age (a poll's session), grace (presence) and merge window (typing) in
// events/ is on CLOCK_MONOTONIC, which a step of the wall clock (an
// operator, NTP after a suspend, a VM restored from a snapshot) does not
// move. On the wall clock, a step back of an hour stopped every periodic
// chore for that hour: revoked sessions kept their streams, heartbeats
// stopped, polls were held, presence never went offline.
//
// NowMs() (schema/storage.h) stays the clock of what is stored or compared
// with stored times: event timestamps, session expiry and last use, the
// retention cutoff, presence rows that several daemons share. Its users in
// events/ say so where they call it.
//
// Threading: any thread.
#pragma once

#include <cstdint>

namespace parley::events {

// Microseconds and milliseconds of CLOCK_MONOTONIC (since an unspecified
// start, typically boot): for durations and deadlines only.
uint64_t MonoUs();
int64_t MonoMs();

// A time before any MonoMs(): a chore last done "then" is due at once.
// (0 is not: the monotonic clock starts near boot, so on a host up for
// less than an hour an hourly chore starting from 0 would wait.)
inline constexpr int64_t kLongAgoMs = INT64_MIN / 2;

}  // namespace parley::events
