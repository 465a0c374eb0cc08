// Numbered migrations (schema/migrations/NNN_name.sql), embedded at build
// time. Migrate() applies those above PRAGMA user_version, all inside one
// BEGIN IMMEDIATE transaction, so concurrent starters (the pool master, the
// events daemon, parleyctl) never apply one twice and a failure leaves the
// database as it was.
#pragma once

#include "schema/db.h"

namespace parley {

// The number of the newest migration built into this binary.
int LatestSchemaVersion();
// Applies every pending migration up to `target` (an upgrade test stops at
// an older version); returns the resulting version.
Result<int> Migrate(Db& db, int target = LatestSchemaVersion());

}  // namespace parley
