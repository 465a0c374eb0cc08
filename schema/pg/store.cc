// PgStore: the epoch and head, appends, accounts and sessions.
#include "schema/pg/store.h"

#include <algorithm>
#include <map>

#include "schema/json.h"
#include "schema/moderation.h"
#include "schema/store_rules.h"
#include "schema/pg/event_log.h"
#include "schema/pg/key_range.h"
#include "schema/pg/notify.h"
#include "schema/pg/store_details.h"

namespace parley::pg {

Event MakeEvent(const char* type, std::optional<int64_t> room_id, std::optional<int64_t> target_id,
                Audience audience, std::string data) {
  Event e;
  e.ts = NowMs();
  e.type = type;
  e.room_id = room_id;
  e.target_id = target_id;
  e.audience = audience;
  e.data = std::move(data);
  return e;
}

// The member event of Store::AppendMemberEvent: the same object.
Event MemberEvent(int64_t room_id, const User& user, Role role, MemberAction action,
                  std::optional<int64_t> muted_until) {
  // target_id: the user concerned hears of it even once no longer a member.
  return MakeEvent("member", room_id, user.id, Audience::kRoom,
                   MemberEventData(room_id, user, role, action, muted_until));
}

std::string HexOf(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// Room $2's head row once its writes are done ($1: its newest event):
// last_event_id for the room list's order, and message_seq, its newest
// message's place, the room's count of messages. This binary's inserts and
// unread counts read the messages' places themselves (migration 018); a
// pool of the previous binary, while a deployment is upgraded, counts on
// from message_seq (its insert trigger, its unread counts).
static const std::string& MoveRoomHead() {
  static const std::string kMove =
      "UPDATE room_heads SET last_event_id = GREATEST(last_event_id, $1), message_seq = GREATEST(message_seq, " +
      LastPlaceInRoom("$2") + ") WHERE room_id = $2";
  return kMove;
}

Result<std::unique_ptr<Batch>> PgStore::BeginBatch() {
  // One wake-up for the whole batch, for its highest id (issue 10: once
  // per batch, not once per write): CommitAppended queues none inside it.
  notify_head_ = 0;
  batch_rooms_.clear();
  batch_member_locks_.clear();
  batch_markers_.clear();
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<PgBatch> batch,
                          PgBatch::Begin(conn_, [this] { return FinishBatch(); }, kLockCounter));
  return std::unique_ptr<Batch>(std::move(batch));
}

Status PgStore::FinishBatch() {
  // The counter row is held to the COMMIT, so no other writer's id lands
  // in between; GREATEST only guards the order of the room list against a
  // room moved by some other path.
  // Queued (PgConn::Defer): they ride with the batch's COMMIT, with the
  // counter row's one UPDATE for the batch.
  PARLEY_RETURN_IF_ERROR(FinishIds(conn_));
  PARLEY_RETURN_IF_ERROR(WriteBatchMarkers());
  for (const auto& [room, id] : batch_rooms_) {
    PARLEY_RETURN_IF_ERROR(conn_.Defer(MoveRoomHead(), {id, room}));
  }
  if (notify_head_ == 0) return Status::Ok();
  PARLEY_ASSIGN_OR_RETURN(std::string channel, Channel());
  return NotifyHead(conn_, channel, notify_head_);
}

// Senders' read markers moved to their messages: $1 users, $2 rooms, $3
// ids, as arrays of one length, each (user, room) once (ON CONFLICT DO
// UPDATE cannot touch a row twice in one statement).
constexpr const char* kMoveSendersMarkers =
    "INSERT INTO read_markers (user_id, room_id, event_id) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) ";

Status PgStore::DeferMarkerMoves(const MarkerMoves& moves) {
  // One statement for them all, queued: it rides with the next statement,
  // or with the COMMIT.
  if (moves.empty()) return Status::Ok();
  std::vector<int64_t> users, rooms, ids;
  for (const auto& [who, id] : moves) {
    users.push_back(who.first);
    rooms.push_back(who.second);
    ids.push_back(id);
  }
  return conn_.Defer(std::string(kMoveSendersMarkers) + kMoveReadMarker,
                     {ArrayOf(users), ArrayOf(rooms), ArrayOf(ids)});
}

Status PgStore::WriteBatchMarkers() {
  // Outside a batch none is due: a batch that committed wrote its markers
  // (FinishBatch), and one rolled back took its sends with it, so what is
  // left names ids that the next sends will take again. In one, they go
  // outside any write's savepoint (their sends committed).
  MarkerMoves moves = std::move(batch_markers_);
  batch_markers_.clear();
  return conn_.in_batch() ? DeferMarkerMoves(moves) : Status::Ok();
}

Result<std::unique_ptr<PgTx>> PgStore::BeginWrite() {
  PARLEY_RETURN_IF_ERROR(WriteBatchMarkers());
  return PgTx::Begin(conn_);
}

Result<std::string> PgStore::Channel() {
  if (channel_.empty()) {
    PARLEY_ASSIGN_OR_RETURN(channel_, EventsChannel(conn_));
  }
  return channel_;
}

Status PgStore::Announce(const std::string& payload) {
  PARLEY_ASSIGN_OR_RETURN(std::string channel, Channel());
  return conn_.Exec("SELECT pg_notify($1, $2)", {channel, payload}).status();
}

Result<std::string> PgStore::Epoch() {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT value FROM meta WHERE key = 'epoch'"));
  if (r.Rows() != 1) return Status::Internal("the database has no epoch");
  return r.Text(0, 0);
}

Result<int64_t> PgStore::Head() { return LastEventId(conn_); }

Status PgStore::CommitEvents(PgTx& tx, std::vector<Event>& events) {
  PARLEY_RETURN_IF_ERROR(AppendEvents(tx, events));
  return CommitAppended(tx, events);
}

Status PgStore::CommitAppended(PgTx& tx, const std::vector<Event>& events, const Message* sent) {
  // The room list's order (SQLite's migration 006): each room's newest event.
  std::map<int64_t, int64_t> last_of_room;
  for (const Event& e : events) {
    if (e.room_id) last_of_room[*e.room_id] = e.id;
  }
  const bool batch = conn_.in_batch();  // then once for the batch, FinishBatch()
  for (const auto& [room, id] : last_of_room) {
    if (batch) break;
    PARLEY_RETURN_IF_ERROR(conn_.Exec(MoveRoomHead(), {id, room}).status());
  }
  // The sender's marker at once outside a batch; in one, once its send has
  // committed (below), with the batch's next write that is not a send.
  if (sent != nullptr && !batch) {
    PARLEY_RETURN_IF_ERROR(DeferMarkerMoves({{{sent->user.id, sent->room_id}, sent->id}}));
  }
  const int64_t head = events.empty() ? 0 : events.back().id;
  // In a batch, the batch's COMMIT announces its highest id (BeginBatch).
  if (head > 0 && !conn_.in_batch()) {
    PARLEY_ASSIGN_OR_RETURN(std::string channel, Channel());
    PARLEY_RETURN_IF_ERROR(NotifyHead(tx, channel, head));
  }
  PARLEY_RETURN_IF_ERROR(tx.Commit());
  if (head > 0) notify_head_ = head;
  if (batch) {
    for (const auto& [room, id] : last_of_room) batch_rooms_[room] = std::max(batch_rooms_[room], id);
    if (sent != nullptr) {
      int64_t& marker = batch_markers_[{sent->user.id, sent->room_id}];
      marker = std::max(marker, sent->id);
    }
  }
  return Status::Ok();
}

Result<User> PgStore::CreateUser(const std::string& username, const std::string& pw_hash) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  // A name another's passes for (store_rules.h), under a lock of its
  // skeleton held to COMMIT, so two pools cannot both let a pair in (class
  // 1936418156, "skel" in ASCII).
  static const std::string kLock =
      "SELECT pg_advisory_xact_lock(1936418156, hashtext(" + UsernameSkeletonSql("$1::text") + "))";
  static const std::string kLookalike = "SELECT username FROM users WHERE " + UsernameSkeletonSql("username") +
                                        " = " + UsernameSkeletonSql("$1::text") +
                                        " AND lower(username) <> lower($1::text) LIMIT 1";
  PARLEY_RETURN_IF_ERROR(conn_.Exec(kLock, {username}).status());
  PARLEY_ASSIGN_OR_RETURN(PgResult lookalike, conn_.Exec(kLookalike, {username}));
  if (lookalike.Rows() > 0) return UsernameLooksTaken(lookalike.Text(0, 0));
  // No conflict target: the unique index on lower(username) is the one
  // that can refuse the row.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult inserted,
      conn_.Exec("INSERT INTO users (username, pw_hash, created_ts) VALUES ($1, $2, $3) "
                 "ON CONFLICT DO NOTHING RETURNING id",
                 {username, pw_hash, NowMs()}));
  if (inserted.Rows() == 0) return Status::Conflict("username_taken", "that username is taken");
  PARLEY_ASSIGN_OR_RETURN(int64_t id, inserted.Int(0, 0));
  User user{id, username};
  std::vector<Event> events = {MakeEvent("user", std::nullopt, user.id, Audience::kAll, Wrap("user", user))};
  // Every new user lands in `general`. A new account cannot be banned from
  // it yet, nor have a mute kept there (both name existing users), so the
  // ban check and the kept mute of AddMember have nothing to find here.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult general,
      conn_.Exec("INSERT INTO members (room_id, user_id, role, joined_ts) "
                 "SELECT id, $1, 'member', $2 FROM rooms WHERE name = 'general' AND kind = 'public' "
                 "ON CONFLICT DO NOTHING RETURNING room_id",
                 {user.id, NowMs()}));
  if (general.Rows() == 1) {
    PARLEY_ASSIGN_OR_RETURN(int64_t room, general.Int(0, 0));
    events.push_back(MemberEvent(room, user, Role::kMember, MemberAction::kJoined));
  }
  PARLEY_RETURN_IF_ERROR(CommitEvents(*tx, events));
  return user;
}

Result<std::optional<UserCredentials>> PgStore::FindCredentials(const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT id, username, pw_hash, deactivated FROM users WHERE lower(username) = lower($1)",
                             {username}));
  if (r.Rows() == 0) return std::optional<UserCredentials>();
  PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(0, 0));
  PARLEY_ASSIGN_OR_RETURN(int64_t deactivated, r.Int(0, 3));
  return std::optional<UserCredentials>(UserCredentials{User{id, r.Text(0, 1)}, r.Text(0, 2), deactivated != 0});
}

Result<std::optional<User>> PgStore::FindUser(const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT id, username FROM users WHERE lower(username) = lower($1)", {username}));
  if (r.Rows() == 0) return std::optional<User>();
  PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(0, 0));
  return std::optional<User>(User{id, r.Text(0, 1)});
}

Result<std::vector<User>> PgStore::SearchUsers(const std::string& prefix, int limit) {
  // The admins' listing (store_moderation.cc) without the account flags.
  PARLEY_ASSIGN_OR_RETURN(std::vector<AccountInfo> accounts, AdminListUsers(prefix, limit));
  std::vector<User> out;
  out.reserve(accounts.size());
  for (AccountInfo& a : accounts) out.push_back(std::move(a.user));
  return out;
}

Status PgStore::CreateSession(int64_t user_id, const std::string& token_hash,
                              const std::optional<std::string>& checked_pw_hash) {
  // As on SQLite: the account's unusable sessions go, the new one comes,
  // then past the cap the ones used least recently (Limits::sessions_per_user).
  // The account's row is locked first, so two logins at once cannot both
  // count under the cap, and a deactivation or a password change (an
  // UPDATE of that row) comes before or after, never in between.
  const int64_t now = NowMs();
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(PgResult who, conn_.Exec("SELECT deactivated, pw_hash FROM users WHERE id = $1 "
                                                   "FOR NO KEY UPDATE",
                                                   {user_id}));
  const bool row = who.Rows() == 1;
  int64_t deactivated = 0;
  if (row) {
    PARLEY_ASSIGN_OR_RETURN(deactivated, who.Int(0, 0));
  }
  PARLEY_RETURN_IF_ERROR(CheckSessionFor(row, deactivated != 0, row ? who.Text(0, 1) : "", checked_pw_hash));
  PARLEY_RETURN_IF_ERROR(
      conn_.Defer("DELETE FROM sessions WHERE user_id = $1 AND (expires_ts <= $2 OR last_seen_ts <= $3)",
                  {user_id, now, now - limits_.session_idle_ms}));
  PARLEY_RETURN_IF_ERROR(conn_.Defer("INSERT INTO sessions (user_id, token_hash, created_ts, last_seen_ts, expires_ts) "
                                     "VALUES ($1, decode($2, 'hex'), $3, $3, $4)",
                                     {user_id, HexOf(token_hash), now, now + limits_.session_absolute_ms}));
  PARLEY_RETURN_IF_ERROR(conn_
                             .Exec("DELETE FROM sessions WHERE user_id = $1 AND id NOT IN (SELECT id FROM sessions "
                                   "WHERE user_id = $1 ORDER BY last_seen_ts DESC, id DESC LIMIT $2)",
                                   {user_id, static_cast<int64_t>(limits_.sessions_per_user)})
                             .status());
  return tx->Commit();
}

Result<int64_t> PgStore::SweepSessions(int64_t limit) {
  // The ids as an array (= ANY): each a probe of the primary key, whatever
  // the planner guesses of how many there are (store_events.cc, DeleteOldEvents).
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("DELETE FROM sessions WHERE id = ANY (ARRAY(SELECT id FROM sessions WHERE expires_ts <= $1 "
                             "ORDER BY expires_ts LIMIT $2))",
                             {NowMs(), limit}));
  return r.Affected();
}

Result<std::optional<User>> PgStore::SessionUser(const std::string& token_hash) {
  const int64_t now = NowMs();
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT s.id, s.last_seen_ts, s.expires_ts, u.id, u.username FROM sessions s "
                             "JOIN users u ON u.id = s.user_id WHERE s.token_hash = decode($1, 'hex')",
                             {HexOf(token_hash)}));
  if (r.Rows() == 0) return std::optional<User>();
  PARLEY_ASSIGN_OR_RETURN(int64_t session_id, r.Int(0, 0));
  PARLEY_ASSIGN_OR_RETURN(int64_t last_seen, r.Int(0, 1));
  PARLEY_ASSIGN_OR_RETURN(int64_t expires, r.Int(0, 2));
  PARLEY_ASSIGN_OR_RETURN(int64_t user_id, r.Int(0, 3));
  if (expires <= now || last_seen + limits_.session_idle_ms <= now) return std::optional<User>();
  // The idle clock moves at most once an hour, so reads stay reads.
  if (now - last_seen > 3600 * 1000) {
    PARLEY_RETURN_IF_ERROR(
        conn_.Exec("UPDATE sessions SET last_seen_ts = $1 WHERE id = $2", {now, session_id}).status());
  }
  return std::optional<User>(User{user_id, r.Text(0, 4)});
}

Status PgStore::RevokeSession(const std::string& token_hash) {
  return conn_.Exec("DELETE FROM sessions WHERE token_hash = decode($1, 'hex')", {HexOf(token_hash)}).status();
}

}  // namespace parley::pg
