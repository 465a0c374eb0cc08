// What the two Storage backends (schema/store_login.cc on SQLite,
// schema/pg/store_login.cc on PostgreSQL) share of login throttling: the
// arithmetic and the answer, free of the database.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "schema/status.h"
#include "schema/storage.h"

namespace parley {

// The two rows an attempt is counted against: its (account, address) row,
// then its address's (account ''). `failures` is what the row held while
// it still counted, filled by LoginRow::Read.
struct LoginRow {
  const std::string& account;
  int limit;
  bool account_row;
  int64_t failures = 0;
  // Set by Read when the row's block was stamped by a wall clock that has
  // since stepped back (it ends further ahead than the block it was given,
  // or than login_backoff_max_ms): the block rebased to end as it says,
  // with last_ts now. The attempt is refused and rolls back, so the
  // backend stores this first (its BeginLogin), or every later attempt
  // would be refused until the clock caught up again.
  std::optional<int64_t> rebased_until;

  // Takes a row's stored state: a row last counted more than
  // login_window_ms ago is forgotten (failures stay 0); a blocked one
  // answers LoginThrottled, with a wait of at most the block it was given
  // (so at most login_backoff_max_ms).
  Status Read(const Limits& l, int64_t failures, int64_t last_ts, int64_t blocked_until, int64_t now);
};
std::array<LoginRow, 2> LoginRows(const std::string& username, const Limits& l);

// The address a login attempt is counted against: an IPv4 address as it
// is, and for IPv6 its /64 ("2001:db8:1:2::/64"), as parley-events paces
// by /64 (events/request.cc): one host is given a /64 and may use any
// address in it, so per /128 every address had its own tries at every
// account. An IPv4-mapped address is its IPv4 one; anything unparsable
// (a unix socket's empty address) is kept as it is.
std::string LoginAddressKey(const std::string& remote_addr);

// When the row of an attempt that brings its count to `failures` (of at
// most `limit` allowed) is blocked until: 0 below the limit, else now plus
// login_backoff_ms, doubling with every further failure up to
// login_backoff_max_ms.
int64_t LoginBlockedUntil(const Limits& l, int64_t failures, int limit, int64_t now);
// 429 throttled with the wait, for the (account, address) row or the
// address's.
Status LoginThrottled(bool account_row, int64_t wait_ms);

}  // namespace parley
