// The event log on PostgreSQL: the gapless append and the tailing read
// (issue 10 item 2, DESIGN §7).
//
// Design note. Readers tail the log with `id > cursor ORDER BY id` and move
// the cursor to the last id they saw, so the log must never let an id
// become visible after a higher one did: that reader would skip it for
// ever. A sequence (bigserial) breaks this: ids are taken at INSERT and
// transactions commit in any order. So AppendEvents() takes its ids from
// the one row of event_counter (`UPDATE ... SET last = last + n RETURNING
// last`) inside the appending transaction. The row lock is held until
// COMMIT, so the next appender waits, then (READ COMMITTED re-reads a row it
// waited for) continues from the committed value: ids are handed out in
// commit order with no gaps, and a rolled-back append returns its ids
// unused. What it costs: appends are serialised from their UPDATE to their
// COMMIT, so an appending transaction should take its ids last, just before
// it commits, and batch many events in one transaction (group commit takes
// the counter once per batch).
//
// In a group-commit batch the row is updated once, not once per write: the
// batch's first append reads it (UPDATE ... RETURNING, as above), the later
// ones count on from there in memory (PgConn::IdRun), and FinishIds writes
// the last id back just before the batch's COMMIT. What goes is a row
// version per write (a batch of n sends left n dead versions of the one
// hot row, each a WAL record, and each UPDATE walked the chain of the ones
// before it).
//
// Lock order. A batch takes the row's lock at its BEGIN (kLockCounter,
// PgBatch's first_lock), before any other lock, and holds it to its
// COMMIT. So a batch that holds it waits for no other batch: every other
// batch holds no lock yet, or waits for this one at its BEGIN. Taken at
// the batch's first append, it was held by the batch's later writes while
// they waited for rows (a question, a member or user row) that another
// pool's batch had locked before it asked for the counter row: a cycle,
// broken by PostgreSQL after deadlock_timeout (1 s) with 503 to one side
// and every pool's appends stalled meanwhile
// (StorePgRaceTest.ABatchHoldingTheCounterRowWaitsForNoOtherBatch). What
// it costs: a batch's first write is serialised from its first statement,
// not from its append, a round trip or two more of it on a busy counter.
// Every write of ours runs in a batch (parleyctl's in one of its own);
// a transaction outside one takes the row at its first append.
//
// Operating limit: one counter row is one hot lock; every appender on every
// host queues on it. That is the price of a single id space, the same one
// SQLite's single writer pays.
#pragma once

#include <cstdint>
#include <optional>
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

// For a statement that takes an id and writes the rows it names at once
// (PgStore's send): kTakeOneId takes one from the counter row, with the
// lock of AppendEvents, held to COMMIT; the caller's next statement reads
// it as the `last` of a common table expression `ids` (kTakenId), and
// inserts the event with that id in the same transaction. Two statements,
// sent together: the second's snapshot (READ COMMITTED takes one as each
// statement starts) is younger than the lock, so it sees every write that
// held the counter row before it (a message's places count on from them).
inline constexpr const char* kTakeOneId = "UPDATE event_counter SET last = last + 1";
// A batch's first lock (see the design note): the row lock an UPDATE of the
// row takes, so the batch's first append asks for nothing more.
inline constexpr const char* kLockCounter = "SELECT 1 FROM event_counter FOR NO KEY UPDATE";
inline constexpr const char* kTakenId = "ids AS (SELECT last FROM event_counter)";

// In a batch that holds the counter row: the next id, handed out (a
// rollback of the write's savepoint gives it back). Otherwise nothing: the
// caller takes the row itself (kTakeOneId), then says which id it got
// (TookId).
std::optional<int64_t> NextBatchId(PgConn& conn);
// The insert of a message took id (kTakeOneId, or NextBatchId's): in a
// batch without a run yet, its run of ids starts there.
void TookId(PgConn& conn, int64_t id);
// In a batch, just before its COMMIT: queues the counter row's UPDATE to
// the last id handed out, if the batch handed any out past it.
Status FinishIds(PgConn& conn);

// Up to limit events with id > after, ascending.
Result<std::vector<Event>> ReadEventsAfter(PgConn& conn, int64_t after, int limit);

// The events of rows that select, in this order, the columns id, ts, type,
// room_id, target_id, audience, data (kEventColumns).
inline constexpr const char* kEventColumns = "id, ts, type, room_id, target_id, audience, data";
Result<std::vector<Event>> EventsFromRows(const PgResult& rows);

// The last id handed out and committed (0 for an empty log).
Result<int64_t> LastEventId(PgConn& conn);

}  // namespace parley::pg
