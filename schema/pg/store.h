// PgStore: the Storage interface (schema/storage.h) on PostgreSQL, issue
// 10 item 1, as far as the events daemon and accounts need it: the epoch
// and head, the event log readers, sessions and presence, and creating and
// finding users. Each method has exactly the signature of the Storage
// method of the same name and the semantics of SQLite's Store (the
// comments of schema/storage.h hold), so once the rest exists PgStore
// derives from Storage and these become overrides. What is not here yet:
// rooms, messages, moderation, uploads, search, login throttling, quotas
// and batches (the worker's side).
//
// Design note. Every write that appends events collects them while the
// transaction runs and appends them last (CommitEvents): AppendEvents takes
// the ids from the counter row, whose lock serialises every appender on
// every host until COMMIT, so the lock is held for as short a time as the
// transaction allows. The wake-up (notify.h) is queued in the same
// transaction, so it is delivered at COMMIT or never.
//
// Differences from SQLite, all invisible to callers:
// - Head() and DataVersion() read the counter row (the last committed id):
//   PostgreSQL has no PRAGMA data_version. The daemon uses DataVersion to
//   notice appends by writers that sent no wake-up; writes without events
//   no longer move it, and they wake no subscriber anyway.
// - Presence rows belong to one daemon (the `daemon` name given here):
//   several daemons hold connections, a user is online while any of them
//   holds one, and ClearPresence() at a daemon's start clears only its own.
// - EventsForUser reads in a REPEATABLE READ transaction, PostgreSQL's
//   snapshot, as SQLite's read transaction gives one.
//
// Threading: one PgStore per PgConn, used by one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "schema/model.h"
#include "schema/pg/conn.h"
#include "schema/storage.h"  // Limits, UserCredentials, Session, NowMs: the types of the interface

namespace parley::pg {

class PgStore {
 public:
  // daemon: this process's name in the presence table (unique per daemon:
  // a host name and port, say).
  explicit PgStore(PgConn& conn, Limits limits = {}, std::string daemon = "local")
      : conn_(conn), limits_(limits), daemon_(std::move(daemon)) {}

  PgConn& conn() { return conn_; }
  const Limits& limits() const { return limits_; }
  Result<std::string> Epoch();
  Result<int64_t> Head();
  // The head after the last committed write that appended events, once; 0 if none.
  int64_t TakeNotifyHead() {
    int64_t h = notify_head_;
    notify_head_ = 0;
    return h;
  }

  // Accounts and sessions (store.cc).
  Result<User> CreateUser(const std::string& username, const std::string& pw_hash);
  Result<std::optional<UserCredentials>> FindCredentials(const std::string& username);
  Result<std::optional<User>> FindUser(const std::string& username);
  Status CreateSession(int64_t user_id, const std::string& token_hash);
  Result<std::optional<User>> SessionUser(const std::string& token_hash);
  Status RevokeSession(const std::string& token_hash);

  // The event log, sessions and presence for parley-events (store_events.cc).
  Result<std::vector<Event>> EventsAfter(int64_t after_id, int limit);
  Result<std::vector<Event>> EventsForUser(int64_t user_id, int64_t after, int64_t upto, int limit);
  Result<int64_t> OldestEventId();
  Result<std::vector<int64_t>> RoomIdsOf(int64_t user_id);
  Result<std::optional<Session>> FindSession(const std::string& token_hash);
  Result<bool> SessionAlive(int64_t session_id);
  Result<int64_t> DataVersion();
  Status SetOnline(int64_t user_id, bool online);
  Status ClearPresence();
  Result<int64_t> PruneEvents(int64_t keep_ms, int64_t keep_per_room);

 private:
  // Appends events (setting their ids), moves each room's last_event_id,
  // queues the wake-up and commits; on success the head is TakeNotifyHead's.
  Status CommitEvents(PgTx& tx, std::vector<Event>& events);

  PgConn& conn_;
  Limits limits_;
  std::string daemon_;
  int64_t notify_head_ = 0;
};

// A token hash (raw bytes) as the hex that decode($n, 'hex') turns into
// the bytea column: raw bytes may hold a NUL, which no text parameter can.
std::string HexOf(const std::string& bytes);

}  // namespace parley::pg
