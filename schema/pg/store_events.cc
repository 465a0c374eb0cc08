// PgStore: readers of the event log, sessions and presence for parley-events.
//
// Design note (EventsForUser). As on SQLite (schema/store_events.cc), a
// poll or a resume from an old cursor costs work in proportion to what the
// user may see, never to the size of the log: each source of the user's
// events (each room they are in, the broadcast events, the events addressed
// to them) is read through its own index in batches and the sources are
// merged in id order, a source reading its next batch only once the merge
// has used up the previous one. One difference: every query is a round trip
// to the server, so the first batches of all the user's rooms are read in
// one statement (a LATERAL join over their memberships), not one per room.
#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <utility>

#include "schema/event_merge.h"
#include "schema/json.h"
#include "schema/moderation.h"
#include "schema/pg/event_log.h"
#include "schema/pg/key_range.h"
#include "schema/pg/notify.h"
#include "schema/pg/store.h"
#include "schema/wakeup.h"

namespace parley::pg {

namespace {

const std::string& SourceSql(EventSource::Kind kind) {
  static const std::string kSelect = std::string("SELECT ") + kEventColumns + " FROM events ";
  // A room's and a user's events as key ranges (key_range.h), so each
  // source reads its own rows whatever the others' share of the log.
  static const std::string kRoom =
      kSelect + "WHERE " + KeyRange("room_id", "id", "$1", "$2", "$3") + " ORDER BY room_id, id LIMIT $4";
  static const std::string kBroadcast = kSelect + "WHERE audience = 'all' AND id > $1 AND id <= $2 ORDER BY id LIMIT $3";
  // target_id IS NOT NULL: events_target's own condition, which the key
  // range implies but the planner would not see.
  static const std::string kAddressed = kSelect + "WHERE " + KeyRange("target_id", "id", "$1", "$2", "$3") +
                                        " AND target_id IS NOT NULL ORDER BY target_id, id LIMIT $4";
  return kind == EventSource::Kind::kRoom ? kRoom : kind == EventSource::Kind::kBroadcast ? kBroadcast : kAddressed;
}

// Reads src's next batch in (after, upto]; false when it found nothing.
Result<bool> ReadBatch(PgConn& conn, EventSource& src, int64_t after, int64_t upto) {
  const std::string& sql = SourceSql(src.kind);
  const int64_t bound = std::min(upto, src.upto);
  PARLEY_ASSIGN_OR_RETURN(PgResult rows, src.kind == EventSource::Kind::kBroadcast
                                             ? conn.Exec(sql, {after, bound, src.batch})
                                             : conn.Exec(sql, {src.key, IdAfter(after), bound, src.batch}));
  PARLEY_ASSIGN_OR_RETURN(std::vector<Event> events, EventsFromRows(rows));
  src.Fill(std::move(events));
  return !src.events.empty();
}

// The first batch of every room of user_id, in one statement: up to
// `first` events of each, which the caller deals out by room_id.
Result<std::map<int64_t, std::vector<Event>>> FirstRoomBatches(PgConn& conn, int64_t user_id, int64_t after,
                                                                int64_t upto, int first) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult rows,
      conn.Exec(std::string("SELECT e.id, e.ts, e.type, e.room_id, e.target_id, e.audience, e.data "
                            "FROM members m CROSS JOIN LATERAL (SELECT ") +
                    kEventColumns +
                    " FROM events WHERE " + KeyRange("room_id", "id", "m.room_id", "$2", "$3") +
                    " ORDER BY room_id, id LIMIT $4) e "
                    "WHERE m.user_id = $1 ORDER BY e.room_id, e.id",
                {user_id, IdAfter(after), upto, first}));
  PARLEY_ASSIGN_OR_RETURN(std::vector<Event> events, EventsFromRows(rows));
  std::map<int64_t, std::vector<Event>> out;
  for (Event& e : events) out[*e.room_id].push_back(std::move(e));
  return out;
}

// Presence (issue 10 item 3). A user's rows change under an advisory lock
// of the user, held to COMMIT, so that whether a change was the first row
// anywhere or the last is decided once. The two-key form keeps these locks
// apart from the one-key lock of migrations (migrate.cc); the user id is
// folded to 31 bits, and two users who share a key only wait for each other.
// The class, 1886545267, is "pres" in ASCII; DropDaemonPresence and
// RestoreDaemonPresence take the same (LockUsersInOrder).
constexpr const char* kLockUserSql = "SELECT pg_advisory_xact_lock(1886545267, ($1::bigint & 2147483647)::int)";
// The locks of kLockUserSql for every user id that `users` (a query of one
// bigint column) returns, in key order: two daemons locking many at once
// wait for each other rather than deadlock.
std::string LockUsersInOrder(const std::string& users) {
  return "SELECT pg_advisory_xact_lock(1886545267, k) FROM (SELECT DISTINCT (u.id & 2147483647)::int AS k FROM (" +
         users + ") AS u(id) ORDER BY k) s";
}
// The tail of SetOnline's statements: after `mine` (this daemon's row, if
// it changed), the user's name if no other daemon holds a row.
constexpr const char* kAloneSql =
    "SELECT u.username FROM users u JOIN mine ON mine.user_id = u.id "
    "WHERE NOT EXISTS (SELECT 1 FROM presence p WHERE p.user_id = u.id AND p.daemon <> $2)";

// Deletes the presence rows of `daemon` (this one at its start, or a dead
// one) in the caller's transaction, and announces offline the users it
// leaves with no row anywhere (returned). Locks are taken in key order, so
// two daemons doing this at once wait rather than deadlock.
Result<std::vector<int64_t>> DropDaemonPresence(PgStore& store, const std::string& daemon) {
  PgConn& conn = store.conn();
  PARLEY_RETURN_IF_ERROR(
      conn.Exec(LockUsersInOrder("SELECT user_id FROM presence WHERE daemon = $1"), {daemon}).status());
  PARLEY_ASSIGN_OR_RETURN(
      PgResult alone,
      conn.Exec("WITH gone AS (DELETE FROM presence WHERE daemon = $1 RETURNING user_id) "
                "SELECT u.id, u.username FROM users u JOIN gone ON gone.user_id = u.id "
                "WHERE NOT EXISTS (SELECT 1 FROM presence p WHERE p.user_id = u.id AND p.daemon <> $1) ORDER BY u.id",
                {daemon}));
  std::vector<int64_t> users;
  for (int i = 0; i < alone.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t id, alone.Int(i, 0));
    PARLEY_RETURN_IF_ERROR(store.Announce(EncodePresence(User{id, alone.Text(i, 1)}, false)));
    users.push_back(id);
  }
  return users;
}

// Puts back the presence rows of `held` for `daemon` (this one, which was
// taken for dead: KeepPresence) in the caller's transaction, and announces
// online the users it leaves with a row nowhere else, as SetOnline does at
// a first connection. Three statements however many users: their locks,
// taken in key order as above (so SetOnline or DropDaemonPresence of one
// of them on another daemon waits, and the first row is decided once), the
// rows, and the announcements. A row already there (a first connection
// since the eviction, or a second call) is left alone and announces
// nothing; a user deleted meanwhile is skipped. Returns the users whose
// rows were put back.
Result<std::vector<int64_t>> RestoreDaemonPresence(PgStore& store, const std::string& daemon,
                                                   const std::vector<int64_t>& held) {
  PgConn& conn = store.conn();
  const std::string ids = ArrayOf(held);
  PARLEY_RETURN_IF_ERROR(conn.Exec(LockUsersInOrder("SELECT unnest($1::bigint[])"), {ids}).status());
  PARLEY_ASSIGN_OR_RETURN(
      PgResult back,
      conn.Exec("WITH mine AS (INSERT INTO presence (user_id, daemon, since) "
                "SELECT id, $2, $3 FROM users WHERE id = ANY ($1::bigint[]) ON CONFLICT DO NOTHING RETURNING user_id) "
                "SELECT u.id, u.username, "
                "NOT EXISTS (SELECT 1 FROM presence p WHERE p.user_id = u.id AND p.daemon <> $2) "
                "FROM users u JOIN mine ON mine.user_id = u.id ORDER BY u.id",
                {ids, daemon, NowMs()}));
  std::vector<int64_t> users;
  JsonWriter online;  // the announcements, as one JSON array of payloads
  online.BeginArray();
  bool any = false;
  for (int i = 0; i < back.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t id, back.Int(i, 0));
    users.push_back(id);
    if (back.Text(i, 2) != "t") continue;  // online on another daemon all along
    online.String(EncodePresence(User{id, back.Text(i, 1)}, true));
    any = true;
  }
  online.EndArray();
  if (!any) return users;
  PARLEY_ASSIGN_OR_RETURN(std::string channel, EventsChannel(conn));
  PARLEY_RETURN_IF_ERROR(conn.Exec("SELECT pg_notify($1, p) FROM json_array_elements_text($2::json) AS p",
                                   {channel, online.Take()})
                             .status());
  return users;
}

}  // namespace

Result<std::vector<Event>> PgStore::EventsAfter(int64_t after_id, int limit) {
  return ReadEventsAfter(conn_, after_id, limit);
}

Result<std::vector<Event>> PgStore::EventsForUser(int64_t user_id, int64_t after, int64_t upto, int limit) {
  std::vector<Event> out;
  if (limit <= 0 || after >= upto) return out;
  // One snapshot for the membership and every source's reads: a join or a
  // leave committed meanwhile cannot show half its effect.
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginRead());
  // The rooms they are in now, whose logs are theirs to read whole, and
  // those they left after the cursor, up to the leave.
  PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> rooms, RoomIdsOf(user_id));
  PARLEY_ASSIGN_OR_RETURN(std::vector<RoomBound> left, RoomsLeftSince(user_id, after, upto));
  std::vector<EventSource> sources = UserEventSources(user_id, rooms, left, limit);
  const int first = sources.front().batch;
  PARLEY_ASSIGN_OR_RETURN(auto room_batches, FirstRoomBatches(conn_, user_id, after, upto, first));
  for (EventSource& src : sources) {
    // The memberships' first batches came in one statement; a room left,
    // which is no membership, reads its own.
    if (src.kind == EventSource::Kind::kRoom && src.upto == std::numeric_limits<int64_t>::max()) {
      src.Fill(std::move(room_batches[src.key]));
    } else {
      PARLEY_RETURN_IF_ERROR(ReadBatch(conn_, src, after, upto).status());
    }
  }
  auto read_more = [&](EventSource& src, int64_t from) { return ReadBatch(conn_, src, from, upto); };
  PARLEY_ASSIGN_OR_RETURN(out, MergeEventSources(sources, limit, read_more));
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return out;
}

Result<int64_t> PgStore::LogFloor() {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT GREATEST(COALESCE((SELECT value::bigint FROM meta "
                                                 "WHERE key = 'pruned_through'), 0), "
                                                 "COALESCE((SELECT MIN(id) FROM events), 1) - 1)"));
  return r.Int(0, 0);
}

Result<std::vector<RoomBound>> PgStore::RoomsLeftSince(int64_t user_id, int64_t after, int64_t upto) {
  // As on SQLite: the user's own events after the cursor (events_target),
  // of which their member events that ended a membership, in rooms they
  // are out of now: each such room up to the last of them, or to `upto`.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT e.room_id, LEAST(MAX(e.id), $3) FROM events e WHERE " +
                                 KeyRange("e.target_id", "e.id", "$1", "$2", kMaxId) +
                                 " AND e.target_id IS NOT NULL AND e.type = 'member' AND e.room_id IS NOT NULL "
                                 "AND (e.data::jsonb ->> 'action') IN " + MembershipEndingActionsSql() + " "
                                 "AND NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = e.room_id AND m.user_id = $1) "
                                 "GROUP BY e.room_id",
                             {user_id, IdAfter(after), upto}));
  std::vector<RoomBound> left;
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t room, r.Int(i, 0));
    PARLEY_ASSIGN_OR_RETURN(int64_t bound, r.Int(i, 1));
    left.push_back(RoomBound{room, bound});
  }
  return left;
}

Result<std::vector<int64_t>> PgStore::RoomIdsOf(int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT room_id FROM members WHERE user_id = $1", {user_id}));
  return r.Ints();
}

Result<std::optional<Session>> PgStore::FindSession(const std::string& token_hash) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT s.id, u.id, u.username FROM sessions s JOIN users u ON u.id = s.user_id "
                             "WHERE s.token_hash = decode($1, 'hex') AND s.expires_ts > $2 AND s.last_seen_ts + $3 > $2",
                             {HexOf(token_hash), NowMs(), limits_.session_idle_ms}));
  if (r.Rows() == 0) return std::optional<Session>();
  PARLEY_ASSIGN_OR_RETURN(int64_t session_id, r.Int(0, 0));
  PARLEY_ASSIGN_OR_RETURN(int64_t user_id, r.Int(0, 1));
  return std::optional<Session>(Session{session_id, User{user_id, r.Text(0, 2)}});
}

Result<std::vector<int64_t>> PgStore::EndedSessions(const std::vector<int64_t>& session_ids) {
  // As on SQLite: the ids as one array, each a probe of the primary key.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT u.id FROM unnest($1::bigint[]) AS u(id) WHERE NOT EXISTS (SELECT 1 FROM sessions s "
                             "WHERE s.id = u.id AND s.expires_ts > $2 AND s.last_seen_ts + $3 > $2)",
                             {ArrayOf(session_ids), NowMs(), limits_.session_idle_ms}));
  return r.Ints();
}

Status PgStore::TouchSessions(const std::vector<int64_t>& session_ids) {
  if (session_ids.empty()) return Status::Ok();
  return conn_
      .Exec("UPDATE sessions SET last_seen_ts = $2 WHERE id = ANY ($1::bigint[]) "
            "AND last_seen_ts < $2::bigint - 3600000 AND last_seen_ts + $3::bigint > $2 AND expires_ts > $2",
            {ArrayOf(session_ids), NowMs(), limits_.session_idle_ms})
      .status();
}

Result<int64_t> PgStore::DataVersion() { return LastEventId(conn_); }

Result<bool> PgStore::SetOnline(int64_t user_id, bool online) {
  // Under the user's lock, this statement's snapshot holds every other
  // daemon's row of the user, and none can come or go until COMMIT: the
  // answer (a row, with the name to announce, when this was the first row
  // or the last) cannot be given to two daemons, nor to none.
  static const std::string kInsert =
      "WITH mine AS (INSERT INTO presence (user_id, daemon, since) VALUES ($1, $2, $3) "
      "ON CONFLICT DO NOTHING RETURNING user_id) " +
      std::string(kAloneSql);
  static const std::string kDelete =
      "WITH mine AS (DELETE FROM presence WHERE user_id = $1 AND daemon = $2 RETURNING user_id) " +
      std::string(kAloneSql);
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(conn_.Exec(kLockUserSql, {user_id}).status());
  PARLEY_ASSIGN_OR_RETURN(PgResult changed, online ? conn_.Exec(kInsert, {user_id, daemon_, NowMs()})
                                                   : conn_.Exec(kDelete, {user_id, daemon_}));
  if (changed.Rows() == 1) PARLEY_RETURN_IF_ERROR(Announce(EncodePresence(User{user_id, changed.Text(0, 0)}, online)));
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return changed.Rows() == 1;
}

Status PgStore::ClearPresence() {
  // After a crash, a restart may come before the others noticed (KeepPresence):
  // the users this daemon held and nobody else does are announced here.
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(DropDaemonPresence(*this, daemon_).status());
  return tx->Commit();
}

Result<std::vector<User>> PgStore::HeldPresence() {
  PARLEY_ASSIGN_OR_RETURN(PgResult held, conn_.Exec("SELECT u.id, u.username FROM presence p JOIN users u ON u.id = "
                                                    "p.user_id WHERE p.daemon = $1 ORDER BY u.id",
                                                    {daemon_}));
  std::vector<User> users;
  for (int i = 0; i < held.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t id, held.Int(i, 0));
    users.push_back(User{id, held.Text(i, 1)});
  }
  return users;
}

// The marks and the check of them are on the database's clock, one for
// every daemon: each on its own wall clock, a daemon whose clock stepped
// back an hour stamped marks an hour old, and the others took it for dead
// (and its users offline) at once, for the length of the step.
// clock_timestamp(), not now(): the time of the statement, not of the
// transaction's start. A step of the database host's clock moves every
// mark alike: back, and the marks made before it look younger for the
// step (a daemon that dies then is noticed that much later); forward, and
// every daemon looks dead once and puts its users back at its next mark.
constexpr const char* kDbNowMs = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

Result<std::vector<int64_t>> PgStore::KeepPresence(int64_t stale_ms,
                                                   const std::function<std::vector<int64_t>()>& held) {
  // An UPDATE, not an upsert: its own row gone tells this daemon it was
  // taken for dead (a daemon deletes that row and the presence rows of
  // the daemon in one transaction, below), or that this is its first mark.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult marked,
      conn_.Exec(std::string("UPDATE daemons SET seen_ts = ") + kDbNowMs + " WHERE name = $1", {daemon_}));
  if (marked.Affected() == 0) {
    // The mark and the rows put back commit together: were the rows to
    // fail, the mark would still be missing, and the next call tries again.
    PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
    PARLEY_RETURN_IF_ERROR(conn_
                               .Exec(std::string("INSERT INTO daemons (name, seen_ts) VALUES ($1, ") + kDbNowMs +
                                         ") ON CONFLICT (name) DO UPDATE SET seen_ts = EXCLUDED.seen_ts",
                                     {daemon_})
                               .status());
    const std::vector<int64_t> users = held ? held() : std::vector<int64_t>();
    if (!users.empty()) PARLEY_RETURN_IF_ERROR(RestoreDaemonPresence(*this, daemon_, users).status());
    PARLEY_RETURN_IF_ERROR(tx->Commit());
  }
  // Once a second on every daemon: a read, and a transaction only when a
  // daemon died.
  const std::string stale_sql = std::string("seen_ts < ") + kDbNowMs + " - $1";
  PARLEY_ASSIGN_OR_RETURN(PgResult stale,
                          conn_.Exec("SELECT 1 FROM daemons WHERE " + stale_sql + " LIMIT 1", {stale_ms}));
  std::vector<int64_t> offline;
  if (stale.Rows() == 0) return offline;
  // The dead daemons' rows lock the daemons that notice together: the
  // second waits, then finds nothing left to do.
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(PgResult dead,
                          conn_.Exec("DELETE FROM daemons WHERE " + stale_sql + " RETURNING name", {stale_ms}));
  for (int i = 0; i < dead.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> users, DropDaemonPresence(*this, dead.Text(i, 0)));
    offline.insert(offline.end(), users.begin(), users.end());
  }
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return offline;
}

Result<int64_t> PgStore::NextEventRoom(int64_t after_room) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT room_id FROM events WHERE room_id > $1 ORDER BY room_id LIMIT 1", {after_room}));
  if (r.Rows() == 0) return int64_t{0};
  return r.Int(0, 0);
}

Result<int64_t> PgStore::RetentionCut(int64_t room_id, int64_t keep_per_room, int64_t before_ms) {
  // As on SQLite (schema/store_events.cc), each walk a key range of
  // events_room (key_range.h): the planner cannot take the primary key for it.
  static const std::string kCut =
      "SELECT CASE WHEN (SELECT ts FROM events WHERE " + KeyRange("room_id", "id", "$1", "0", kMaxId) +
      " ORDER BY room_id, id LIMIT 1) < $3 THEN COALESCE((SELECT id FROM events WHERE " +
      KeyRange("room_id", "id", "$1", "0", kMaxId) +
      " ORDER BY room_id DESC, id DESC LIMIT 1 OFFSET $2), 0) ELSE 0 END";
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec(kCut, {room_id, keep_per_room - 1, before_ms}));
  return r.Int(0, 0);
}

Result<Storage::OldEventsDeleted> PgStore::DeleteOldEvents(int64_t room_id, int64_t after_id, int64_t below_id,
                                                           int64_t before_ms, int64_t max_rows) {
  // As on SQLite: the room's oldest max_rows in the range, then those of
  // them that are old, never the head; one statement, its own transaction.
  // The range starts after the last window's end, not at the room's start:
  // the entries of the rows a window deleted stay in the index until a
  // vacuum, and each later window would read them all again.
  // The window's ids go as an array (= ANY), each a probe of the primary
  // key: as `id IN (window)`, planned for a third of the table, the delete
  // was a hash join over every id below the head, each window.
  static const std::string kWindowEnd =
      " ORDER BY room_id, id LIMIT $5) w WHERE ts < $4)) AND id < (SELECT MAX(id) FROM events) RETURNING id), "
      // The log's floor (LogFloor), in the same statement.
      "f AS (UPDATE meta SET value = GREATEST(value::bigint, (SELECT MAX(id) FROM d))::text "
      "WHERE key = 'pruned_through' AND EXISTS (SELECT 1 FROM d)) "
      "SELECT count(*), COALESCE(MAX(id), 0) FROM d";
  static const std::string kInRoom =
      "WITH d AS (DELETE FROM events WHERE id = ANY (ARRAY(SELECT id FROM (SELECT id, ts FROM events WHERE " +
      KeyRange("room_id", "id", "$1", "$2::bigint + 1", "$3::bigint - 1") + kWindowEnd;
  static const std::string kNoRoom =
      "WITH d AS (DELETE FROM events WHERE id = ANY (ARRAY(SELECT id FROM (SELECT id, ts FROM events WHERE "
      "room_id IS NULL AND id > $2 AND id < $3 AND $1::bigint = 0" + kWindowEnd;
  PARLEY_ASSIGN_OR_RETURN(PgResult r,
                          conn_.Exec(room_id == 0 ? kNoRoom : kInRoom, {room_id, after_id, below_id, before_ms, max_rows}));
  OldEventsDeleted out;
  PARLEY_ASSIGN_OR_RETURN(out.count, r.Int(0, 0));
  PARLEY_ASSIGN_OR_RETURN(out.last_id, r.Int(0, 1));
  return out;
}

}  // namespace parley::pg
