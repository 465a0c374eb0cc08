// Numbered migrations (schema/migrations/NNN_name.sql), embedded at build
// time. Migrate() reads PRAGMA user_version first, in a read transaction: a
// current schema is left alone, without the write lock, so a start does not
// wait for (or fail on) another process's write transaction. Only when some
// migration is pending does it take the write lock (BEGIN IMMEDIATE), read
// the version again there and apply those above it, all in that one
// transaction, so concurrent starters (the pool master, the events daemon,
// parleyctl) never apply one twice and a failure leaves the database as it
// was.
#pragma once

#include "schema/db.h"

namespace parley {

// The number of the newest migration built into this binary.
int LatestSchemaVersion();
// Applies every pending migration up to `target` (an upgrade test stops at
// an older version); returns the resulting version.
Result<int> Migrate(Db& db, int target = LatestSchemaVersion());

}  // namespace parley
