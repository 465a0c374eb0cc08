// Store: readers of the event log, sessions and presence for parley-events.
//
// Design note (EventsForUser). A poll or a resume from an old cursor must
// cost work in proportion to what that user may see, never to the size of
// the log (issue 8, item 5): 32 clients polling since=0 on a 200,000-event
// log once took live delivery p99 for everyone from 5 ms to 2.1 s, because
// one statement walked the id range of the whole log and filtered it. Now
// each source of the user's events is read through its own index: each room
// they are in (events_room), the broadcast events (events_broadcast) and the
// events addressed to them (events_target). The sources are merged in id
// order, reading each in batches, and a source's next batch only once the
// merge has used up its previous one: a source reads its first share of
// `limit` (at least one row) plus at most three times what the merge took
// from it, so one call reads O(limit + rooms of the user) rows, wherever
// the cursor is and however long the log. A room the user left after the
// cursor is read up to their leave (RoomsLeftSince), found among the events
// addressed to them, as the room list's changed_since finds it.
#include "schema/store.h"

#include <algorithm>
#include <utility>

#include "schema/event_merge.h"

namespace parley {
namespace {

Event ReadEvent(const Statement& s) {
  Event e;
  e.id = s.Int(0);
  e.ts = s.Int(1);
  e.type = s.Text(2);
  if (!s.IsNull(3)) e.room_id = s.Int(3);
  if (!s.IsNull(4)) e.target_id = s.Int(4);
  // The CHECK constraint allows only the two; an unknown one stays narrow.
  e.audience = ParseAudience(s.Text(5)).value_or(Audience::kRoom);
  e.data = s.Text(6);
  return e;
}

}  // namespace

Result<std::vector<Event>> Store::EventsAfter(int64_t after_id, int limit) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT id, ts, type, room_id, target_id, audience, data FROM events WHERE id > ? ORDER BY id LIMIT ?"));
  s.Bind(1, after_id).Bind(2, limit);
  std::vector<Event> out;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadEvent(s));
  }
  return out;
}

namespace {

// Reads src's next batch in (after, upto]; false when it found nothing.
Result<bool> ReadBatch(Db& db, EventSource& src, int64_t after, int64_t upto) {
  static const std::string kColumns = "SELECT id, ts, type, room_id, target_id, audience, data FROM events ";
  static const std::string kRoom = kColumns + "WHERE room_id = ?1 AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4";
  static const std::string kBroadcast =
      kColumns + "WHERE audience = 'all' AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4";
  static const std::string kAddressed =
      kColumns + "WHERE target_id = ?1 AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4";
  const std::string& sql = src.kind == EventSource::Kind::kRoom        ? kRoom
                           : src.kind == EventSource::Kind::kBroadcast ? kBroadcast
                                                                       : kAddressed;
  PARLEY_ASSIGN_OR_RETURN(Statement s, db.Prepare(sql));
  if (src.kind != EventSource::Kind::kBroadcast) s.Bind(1, src.key);
  s.Bind(2, after).Bind(3, std::min(upto, src.upto)).Bind(4, src.batch);
  std::vector<Event> read;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    read.push_back(ReadEvent(s));
  }
  src.Fill(std::move(read));
  return !src.events.empty();
}

}  // namespace

Result<std::vector<Event>> Store::EventsForUser(int64_t user_id, int64_t after, int64_t upto, int limit) {
  std::vector<Event> out;
  if (limit <= 0 || after >= upto) return out;
  // One snapshot for the membership and every source's reads: one WAL read
  // lock instead of one per statement, and a join or a leave committed
  // meanwhile cannot show half its effect.
  PARLEY_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(db_, Transaction::Mode::kRead));
  // The rooms they are in now, whose logs are theirs to read whole, and
  // those they left after the cursor, up to the leave.
  PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> rooms, RoomIdsOf(user_id));
  PARLEY_ASSIGN_OR_RETURN(std::vector<RoomBound> left, RoomsLeftSince(user_id, after, upto));
  std::vector<EventSource> sources = UserEventSources(user_id, rooms, left, limit);
  for (EventSource& src : sources) PARLEY_RETURN_IF_ERROR(ReadBatch(db_, src, after, upto).status());
  auto read_more = [&](EventSource& src, int64_t from) { return ReadBatch(db_, src, from, upto); };
  PARLEY_ASSIGN_OR_RETURN(out, MergeEventSources(sources, limit, read_more));
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return out;
}

Result<int64_t> Store::LogFloor() {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT max(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'pruned_through'), 0), "
      "COALESCE((SELECT MIN(id) FROM events), 1) - 1)"));
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

Result<std::vector<RoomBound>> Store::RoomsLeftSince(int64_t user_id, int64_t after, int64_t upto) {
  // events_target: the user's own events after the cursor, of which their
  // member events that ended a membership; a room they are out of now is
  // theirs up to the last of them, or to `upto` if that came later (they
  // were a member then). Only those events: a kept mute's change reaches a
  // former member too, and an older log's ban of someone never in the room
  // was addressed to them (moderation.h, Addressed), yet neither says they
  // were a member after the cursor; a join ends nothing.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT e.room_id, MIN(MAX(e.id), ?3) FROM events e WHERE e.target_id = ?1 AND e.id > ?2 "
      "AND e.type = 'member' AND e.room_id IS NOT NULL "
      "AND json_extract(e.data, '$.action') IN " + MembershipEndingActionsSql() + " "
      "AND NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = e.room_id AND m.user_id = ?1) "
      "GROUP BY e.room_id"));
  s.Bind(1, user_id).Bind(2, after).Bind(3, upto);
  std::vector<RoomBound> left;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    left.push_back(RoomBound{s.Int(0), s.Int(1)});
  }
  return left;
}

Result<std::vector<int64_t>> Store::RoomIdsOf(int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT room_id FROM members WHERE user_id = ?"));
  s.Bind(1, user_id);
  return s.Ints();
}

Result<std::optional<Session>> Store::FindSession(const std::string& token_hash) {
  int64_t now = NowMs();
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT s.id, u.id, u.username FROM sessions s JOIN users u ON u.id = s.user_id "
      "WHERE s.token_hash = ?1 AND s.expires_ts > ?2 AND s.last_seen_ts + ?3 > ?2"));
  s.BindBlob(1, token_hash).Bind(2, now).Bind(3, limits_.session_idle_ms);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<Session>();
  return std::optional<Session>(Session{s.Int(0), User{s.Int(1), s.Text(2)}});
}

namespace {

// Session ids as one JSON array, for json_each: each a probe of the
// primary key, however many.
std::string JsonIds(const std::vector<int64_t>& ids) {
  std::string out = "[";
  for (int64_t id : ids) out.append(out.size() > 1 ? "," : "").append(std::to_string(id));
  return out + "]";
}

}  // namespace

Result<std::vector<int64_t>> Store::EndedSessions(const std::vector<int64_t>& session_ids) {
  const std::string ids = JsonIds(session_ids);
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT j.value FROM json_each(?1) j WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = j.value "
      "AND s.expires_ts > ?2 AND s.last_seen_ts + ?3 > ?2)"));
  s.Bind(1, std::string_view(ids)).Bind(2, NowMs()).Bind(3, limits_.session_idle_ms);
  return s.Ints();
}

Status Store::TouchSessions(const std::vector<int64_t>& session_ids) {
  if (session_ids.empty()) return Status::Ok();
  const std::string ids = JsonIds(session_ids);
  const int64_t now = NowMs();
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "UPDATE sessions SET last_seen_ts = ?2 WHERE id IN (SELECT value FROM json_each(?1)) "
      "AND last_seen_ts < ?2 - 3600000 AND last_seen_ts + ?3 > ?2 AND expires_ts > ?2"));
  s.Bind(1, std::string_view(ids)).Bind(2, now).Bind(3, limits_.session_idle_ms);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  return CommitWrite(*tx);
}

Result<int64_t> Store::DataVersion() {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("PRAGMA data_version"));
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

Result<bool> Store::SetOnline(int64_t user_id, bool online) {
  // One daemon: it calls this only on a user's first connection and after
  // their last one's grace period, so every call is a change.
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  if (online) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO presence(user_id, since) VALUES (?, ?) ON CONFLICT DO NOTHING"));
    s.Bind(1, user_id).Bind(2, NowMs());
    PARLEY_RETURN_IF_ERROR(s.Exec());
  } else {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("DELETE FROM presence WHERE user_id = ?"));
    s.Bind(1, user_id);
    PARLEY_RETURN_IF_ERROR(s.Exec());
  }
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return true;
}

Result<std::vector<User>> Store::HeldPresence() {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT u.id, u.username FROM presence p JOIN users u ON u.id = p.user_id ORDER BY u.id"));
  std::vector<User> users;
  while (true) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    users.push_back(User{s.Int(0), s.Text(1)});
  }
  return users;
}

Status Store::ClearPresence() {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("DELETE FROM presence"));
  PARLEY_RETURN_IF_ERROR(s.Exec());
  return CommitWrite(*tx);
}

Result<int64_t> Store::NextEventRoom(int64_t after_room) {
  // A seek in events_room per room, however many events each holds.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT room_id FROM events WHERE room_id > ? ORDER BY room_id LIMIT 1"));
  s.Bind(1, after_room);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

Result<int64_t> Store::RetentionCut(int64_t room_id, int64_t keep_per_room, int64_t before_ms) {
  // The oldest event's age first (one probe), then the walk from the
  // newest down to the keep_per_room-th, only for a room with old events.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT CASE WHEN (SELECT ts FROM events WHERE room_id = ?1 ORDER BY id LIMIT 1) < ?3 "
      "THEN COALESCE((SELECT id FROM events WHERE room_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2), 0) "
      "ELSE 0 END"));
  s.Bind(1, room_id).Bind(2, keep_per_room - 1).Bind(3, before_ms);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

Result<Storage::OldEventsDeleted> Store::DeleteOldEvents(int64_t room_id, int64_t after_id, int64_t below_id,
                                                         int64_t before_ms, int64_t max_rows) {
  // The window is the room's oldest max_rows in the range, whatever their
  // age, so the statement reads max_rows entries at most even where a newer
  // event sits among old ones (clocks are not monotonic across hosts).
  // `room_id IS ?1` is an equality that also matches NULL (room 0: the
  // events of no room), and events_room serves both.
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "DELETE FROM events WHERE id IN (SELECT id FROM (SELECT id, ts FROM events WHERE room_id IS ?1 AND id > ?2 "
      "AND id < ?3 ORDER BY id LIMIT ?5) WHERE ts < ?4) AND id < (SELECT MAX(id) FROM events) RETURNING id"));
  s.Bind(1, room_id == 0 ? std::nullopt : std::optional<int64_t>(room_id))
      .Bind(2, after_id).Bind(3, below_id).Bind(4, before_ms).Bind(5, max_rows);
  PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> ids, s.Ints());
  OldEventsDeleted out;
  out.count = static_cast<int64_t>(ids.size());
  if (!ids.empty()) {
    out.last_id = *std::max_element(ids.begin(), ids.end());
    // The log's floor (LogFloor), with the delete or not at all.
    PARLEY_ASSIGN_OR_RETURN(Statement f, db_.Prepare(
        "UPDATE meta SET value = max(CAST(value AS INTEGER), ?1) WHERE key = 'pruned_through'"));
    f.Bind(1, out.last_id);
    PARLEY_RETURN_IF_ERROR(f.Exec());
  }
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return out;
}

}  // namespace parley
