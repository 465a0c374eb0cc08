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
#include <map>
#include <utility>

#include "schema/event_merge.h"
#include "schema/pg/event_log.h"
#include "schema/pg/store.h"

namespace parley::pg {

namespace {

const std::string& SourceSql(EventSource::Kind kind) {
  static const std::string kSelect = std::string("SELECT ") + kEventColumns + " FROM events ";
  static const std::string kRoom = kSelect + "WHERE room_id = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT $4";
  static const std::string kBroadcast = kSelect + "WHERE audience = 'all' AND id > $1 AND id <= $2 ORDER BY id LIMIT $3";
  static const std::string kAddressed =
      kSelect + "WHERE target_id = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT $4";
  return kind == EventSource::Kind::kRoom ? kRoom : kind == EventSource::Kind::kBroadcast ? kBroadcast : kAddressed;
}

// Reads src's next batch in (after, upto]; false when it found nothing.
Result<bool> ReadBatch(PgConn& conn, EventSource& src, int64_t after, int64_t upto) {
  const std::string& sql = SourceSql(src.kind);
  PARLEY_ASSIGN_OR_RETURN(PgResult rows, src.kind == EventSource::Kind::kBroadcast
                                             ? conn.Exec(sql, {after, upto, src.batch})
                                             : conn.Exec(sql, {src.key, after, upto, src.batch}));
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
                    " FROM events WHERE room_id = m.room_id AND id > $2 AND id <= $3 ORDER BY id LIMIT $4) e "
                    "WHERE m.user_id = $1 ORDER BY e.room_id, e.id",
                {user_id, after, upto, first}));
  PARLEY_ASSIGN_OR_RETURN(std::vector<Event> events, EventsFromRows(rows));
  std::map<int64_t, std::vector<Event>> out;
  for (Event& e : events) out[*e.room_id].push_back(std::move(e));
  return out;
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
  PARLEY_ASSIGN_OR_RETURN(auto tx, PgTx::Begin(conn_));
  PARLEY_RETURN_IF_ERROR(conn_.ExecScript("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
  // Membership now, as before: a room's log is readable once joined.
  PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> rooms, RoomIdsOf(user_id));
  std::vector<EventSource> sources = UserEventSources(user_id, rooms, limit);
  const int first = sources.front().batch;
  PARLEY_ASSIGN_OR_RETURN(auto room_batches, FirstRoomBatches(conn_, user_id, after, upto, first));
  for (EventSource& src : sources) {
    if (src.kind == EventSource::Kind::kRoom) {
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

Result<int64_t> PgStore::OldestEventId() {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT COALESCE(MIN(id), 0) FROM events"));
  return r.Int(0, 0);
}

Result<std::vector<int64_t>> PgStore::RoomIdsOf(int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT room_id FROM members WHERE user_id = $1", {user_id}));
  std::vector<int64_t> out;
  out.reserve(r.Rows());
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t room, r.Int(i, 0));
    out.push_back(room);
  }
  return out;
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

Result<bool> PgStore::SessionAlive(int64_t session_id) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT 1 FROM sessions WHERE id = $1 AND expires_ts > $2 AND last_seen_ts + $3 > $2",
                             {session_id, NowMs(), limits_.session_idle_ms}));
  return r.Rows() > 0;
}

Result<int64_t> PgStore::DataVersion() { return LastEventId(conn_); }

Status PgStore::SetOnline(int64_t user_id, bool online) {
  if (online) {
    return conn_
        .Exec("INSERT INTO presence (user_id, daemon, since) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
              {user_id, daemon_, NowMs()})
        .status();
  }
  return conn_.Exec("DELETE FROM presence WHERE user_id = $1 AND daemon = $2", {user_id, daemon_}).status();
}

Status PgStore::ClearPresence() {
  return conn_.Exec("DELETE FROM presence WHERE daemon = $1", {daemon_}).status();
}

Result<std::vector<int64_t>> PgStore::KeepPresence(int64_t stale_ms) {
  const int64_t now = NowMs();
  PARLEY_RETURN_IF_ERROR(conn_
                             .Exec("INSERT INTO daemons (name, seen_ts) VALUES ($1, $2) "
                                   "ON CONFLICT (name) DO UPDATE SET seen_ts = $2",
                                   {daemon_, now})
                             .status());
  // One statement: the dead daemons go, and their presence rows with them.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult gone,
      conn_.Exec("WITH dead AS (DELETE FROM daemons WHERE seen_ts < $1 RETURNING name) "
                 "DELETE FROM presence WHERE daemon IN (SELECT name FROM dead) RETURNING user_id",
                 {now - stale_ms}));
  std::vector<int64_t> users;
  for (int i = 0; i < gone.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t u, gone.Int(i, 0));
    users.push_back(u);
  }
  return users;
}

Result<int64_t> PgStore::PruneEvents(int64_t keep_ms, int64_t keep_per_room) {
  // Per room, the id below which events may go: the keep_per_room-th
  // newest; and never the newest event overall (the head).
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r,
      conn_.Exec("DELETE FROM events WHERE ts < $1 AND id < (SELECT MAX(id) FROM events) AND "
                 "(room_id IS NULL OR id < COALESCE((SELECT e2.id FROM events e2 WHERE e2.room_id = events.room_id "
                 " ORDER BY e2.id DESC LIMIT 1 OFFSET $2), 0))",
                 {NowMs() - keep_ms, keep_per_room - 1}));
  return r.Affected();
}

}  // namespace parley::pg
