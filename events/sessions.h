// Who a request belongs to, and which open connections' sessions have ended.
//
// Long-pollers come back several times a second and each lookup is a read
// transaction (file locks included), so a session read for a poll is
// trusted for revoke_check_s; streams look theirs up once and Check() then
// watches them on the same schedule, so revocation reaches every open
// connection within revoke_check_s.
//
// Clocks. The cache's ages and the check's schedule are on the monotonic
// clock (events/clock.h), so a step of the wall clock neither stops the
// check nor makes a cached session trusted for longer. Whether a session
// is live is still decided in the database against wall time (its expiry
// and last use are stored times): a step back keeps a session that expired
// meanwhile alive for the length of the step, as fcgi/ would, but a logout,
// a password change or a deactivation deletes the row, which EndedSessions
// reports whatever the clock says, at the next check.
//
// Threading: single-threaded, on the loop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "events/clock.h"
#include "events/config.h"
#include "events/conns.h"
#include "schema/storage.h"

namespace parley::events {

class Sessions {
 public:
  static constexpr int64_t kTouchEveryMs = 5 * 60 * 1000;
  Sessions(const Config& cfg, Storage& store) : cfg_(cfg), store_(store) {}

  // The session of the credential a request carries (a Bearer token wins
  // over the cookie). kUnauthorized when there is none or it has ended; a
  // database error is returned as it is (busy: 503), never as a 401, so a
  // busy database does not sign a browser out. cache: a poll's lookup,
  // which may answer from the cache and fills it; a stream's always reads.
  Result<Session> Authenticate(std::string_view authorization, std::string_view cookie, bool cache);
  // Closes the connections whose session has ended, and bounds the cache;
  // once every few minutes moves the held sessions' idle clocks
  // (Storage::TouchSessions: a write only where one is an hour old).
  void Check(Conns& conns);
  // Drops the cached sessions of a user whose account was deactivated or
  // whose password changed, so their next poll is looked up (and refused,
  // if its session ended) at once.
  void ForgetUser(int64_t user_id);

 private:
  struct Cached {
    Session session;
    int64_t checked_ms = 0;  // MonoMs (events/clock.h): its age, not a stored time
  };
  const Config& cfg_;
  Storage& store_;
  std::unordered_map<std::string, Cached> cache_;  // token hash -> session
  int64_t touched_ms_ = kLongAgoMs;  // MonoMs of when Check last moved the held sessions' idle clocks
};

}  // namespace parley::events
