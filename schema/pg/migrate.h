// Numbered PostgreSQL migrations (schema/pg/migrations/NNN_name.sql),
// embedded at build time, as schema/migrate.h does for SQLite.
//
// MigratePg() applies those above the version in schema_version, in one
// transaction that first takes a transaction-scoped advisory lock, so
// concurrent starters (pools, daemons, parleyctl on several hosts) apply
// each migration once, and a failure leaves the database as it was
// (PostgreSQL's DDL is transactional).
#pragma once

#include <optional>

#include "schema/pg/conn.h"

namespace parley::pg {

// The number of the newest PostgreSQL migration built into this binary.
int LatestPgSchemaVersion();
// Applies every pending migration, or those up to and including `up_to`
// (tests of an upgrade from an older schema); returns the resulting version.
Result<int> MigratePg(PgConn& conn, std::optional<int> up_to = std::nullopt);

}  // namespace parley::pg
