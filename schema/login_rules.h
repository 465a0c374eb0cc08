// What the two Storage backends (schema/store_login.cc on SQLite,
// schema/pg/store_login.cc on PostgreSQL) share of login throttling: the
// arithmetic and the answer, free of the database.
#pragma once

#include <cstdint>

#include "schema/status.h"
#include "schema/storage.h"

namespace parley {

// When the row of an attempt that brings its count to `failures` (of at
// most `limit` allowed) is blocked until: 0 below the limit, else now plus
// login_backoff_ms, doubling with every further failure up to
// login_backoff_max_ms.
int64_t LoginBlockedUntil(const Limits& l, int64_t failures, int limit, int64_t now);
// 429 throttled with the wait, for the (account, address) row or the
// address's.
Status LoginThrottled(bool account_row, int64_t wait_ms);

}  // namespace parley
