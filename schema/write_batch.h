// WriteBatch: one BEGIN IMMEDIATE ... COMMIT that many writes share.
//
// Design note (issue 9: durable sends with group commit).
// Durability. Connections open with PRAGMA synchronous=FULL by default
// (Sync::kFull, PARLEY_SYNC=full). In WAL mode that makes SQLite fsync the
// WAL file at every commit, before COMMIT returns, so a write that a client
// sees acknowledged (2xx) is in the WAL on stable storage: a power cut or a
// kernel crash after the answer cannot lose it, and recovery replays the WAL
// up to the last valid commit frame (https://sqlite.org/wal.html). Under
// synchronous=NORMAL the WAL is synced only at checkpoints, so the last
// acknowledged commits may vanish on a power cut (never corrupting the file).
// This holds as far as the disk honours fsync: a drive that acknowledges a
// flush it has not done (volatile cache without power-loss protection, some
// virtual disks) can still lose them; no software above it can tell.
//
// Group commit. An fsync costs a disk round trip (0.1-10 ms), which would
// cap a worker at a few hundred writes per second if each paid for its own.
// So, as LevelDB's DBImpl::Write does with its writer queue, a writer takes
// every write that waits behind it into one batch: one BEGIN IMMEDIATE, each
// write inside its own SAVEPOINT (Transaction does that by itself while a
// batch is open on its Db), one COMMIT and so one fsync, then every waiter
// gets its answer. What a batch guarantees:
// - all-or-nothing for the writes that released their savepoints: the batch
//   commits them together or not at all; an answer goes out only after the
//   COMMIT returned, so no client is told "stored" about a batch that failed
//   (they all get the commit's error instead);
// - a failure inside one write (403, 409, 429) rolls back its savepoint
//   only; the writes before and after it in the batch are unaffected;
// - writes run one after another on the batch's connection, each seeing
//   those before it, so event ids are in commit order, a client_id seen
//   earlier in the same batch is found, the first answer wins, membership
//   and quotas are checked against everything before it;
// - while the batch is open it holds the writer lock (writer_lock.h), as a
//   single write transaction does, so checkpoints and other processes'
//   writes wait for its COMMIT, never interleave with it.
#pragma once

#include <memory>

#include "schema/db.h"
#include "schema/storage.h"

namespace parley {

class WriteBatch final : public Batch {
 public:
  // Takes the writer lock and begins the batch; Transactions of Mode::kWrite
  // on db are savepoints in it until Commit() or destruction.
  static Result<std::unique_ptr<WriteBatch>> Begin(Db& db);
  // Rolls back whatever was not committed.
  ~WriteBatch() override;
  WriteBatch(const WriteBatch&) = delete;
  WriteBatch& operator=(const WriteBatch&) = delete;

  // COMMIT: durable when it returns ok under Sync::kFull. Fails if SQLite
  // rolled the batch back by itself on an error inside it.
  Status Commit() override;

 private:
  explicit WriteBatch(Db& db) : db_(db) {}
  void End();
  Db& db_;
  bool open_ = true;
};

}  // namespace parley
