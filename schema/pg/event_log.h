// The event log on PostgreSQL: the gapless append and the tailing read
// (issue 10 item 2, DESIGN §7).
//
// Design note. Readers tail the log with `id > cursor ORDER BY id` and move
// the cursor to the last id they saw, so the log must never let an id
// become visible after a higher one did: that reader would skip it for
// ever. A sequence (bigserial) breaks this: ids are taken at INSERT and
// transactions commit in any order. So ids come from the one row of
// event_counter, locked by the appending transaction (`SELECT last ...
// FOR UPDATE`) and held until its COMMIT: the next appender waits, then
// (READ COMMITTED re-reads a row it waited for) continues from the
// committed value. Ids are handed out in commit order with no gaps, and a
// rolled-back append returns its ids unused.
//
// The row is locked once per transaction and written once, just before
// the COMMIT (PgConn::Lease): in between, TakeIds hands ids out of the
// lease with no statement at all, so a group-commit batch of n sends
// costs one SELECT and one UPDATE of the row, not n UPDATEs (each of which
// left one more row version for the next to step over). A write of the
// batch that rolls back to its savepoint gives its ids back to the lease,
// so the next write takes them: still no gaps.
//
// What it costs: appends are serialised from their first id to their
// COMMIT, so an appending transaction should take its ids late and batch
// many events in one transaction.
//
// Operating limit: one counter row is one hot lock; every appender on every
// host queues on it. That is the price of a single id space, the same one
// SQLite's single writer pays.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "schema/model.h"
#include "schema/pg/conn.h"

namespace parley::pg {

// Appends events in the transaction, setting each one's id (ascending, in
// span order, gapless after the last committed id). Nothing is visible to
// readers until tx commits; if it rolls back, the ids are unused and the
// next append takes them.
Status AppendEvents(PgTx& tx, std::span<Event> events);

// Takes n ids for events that the caller inserts in the same transaction
// (a message's id is its event's): the first of them. The counter row is
// locked at the transaction's first take and held to its COMMIT.
Result<int64_t> TakeIds(PgTx& tx, int64_t n);

// Up to limit events with id > after, ascending.
Result<std::vector<Event>> ReadEventsAfter(PgConn& conn, int64_t after, int limit);

// The events of rows that select, in this order, the columns id, ts, type,
// room_id, target_id, audience, data (kEventColumns).
inline constexpr const char* kEventColumns = "id, ts, type, room_id, target_id, audience, data";
Result<std::vector<Event>> EventsFromRows(const PgResult& rows);

// The last id handed out and committed (0 for an empty log).
Result<int64_t> LastEventId(PgConn& conn);

}  // namespace parley::pg
