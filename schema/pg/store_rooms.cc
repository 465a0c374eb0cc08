// PgStore: rooms, membership, roles and direct conversations, with the
// behaviour of SQLite's schema/store_rooms.cc (every error code, every event).
//
// Design note (concurrency). SQLite's single writer made every check in a
// write transaction hold until COMMIT; here several pools write at once:
// - a write that relies on a membership locks the member row FOR SHARE
//   (LoadAccess with lock), so a kick, a ban or a leave either commits
//   before it (the write then finds no member) or waits for its COMMIT;
// - every way in (AddMember) locks the room row FOR SHARE in a statement of
//   its own before its ban check, and a ban locks it FOR NO KEY UPDATE
//   (BanUser), so the two are ordered: a ban that came first has committed
//   when the check (the next statement, a new snapshot) reads `bans`, and a
//   ban that comes second waits for the join's COMMIT, then removes the
//   member row it made. The member row alone cannot order them: a user who
//   is not a member yet has none for the ban to lock. Neither lock conflicts
//   with the FOR KEY SHARE that a send's foreign keys take, so sends do not
//   queue behind a ban; and sends move the room's room_heads row, not its
//   rooms row, so joins do not queue behind sends. They do queue behind a
//   ban, a rename (UpdateRoom) or a hand-over (AdminSetOwner) of the room,
//   each a short transaction. A ban and a rename lock their member rows
//   before the room row and then only the counter row, so a way in waiting
//   for them is in no cycle (a group-commit batch holds the counter row
//   from its BEGIN, so no other batch holds a lock it waits for: event_log.h);
//   the operator's AdminSetOwner may
//   update the new owner's member row after the room row, so it can meet an
//   invite by that very member. PostgreSQL breaks such a cycle and one side
//   answers 503;
// - two joins of one user, two creations of one name or one DM insert with
//   ON CONFLICT on a unique index: the loser sees the winner's row.
#include <algorithm>
#include <unordered_map>

#include "schema/json.h"
#include "schema/moderation.h"
#include "schema/pg/key_range.h"
#include "schema/pg/store_details.h"
#include "schema/pg/store.h"
#include "schema/store_rules.h"

namespace parley::pg {
namespace {

// The columns every room query starts with, in this order, from kRooms.
constexpr const char* kRoomColumns =
    "r.id, r.name, r.kind, r.owner_id, ou.username, r.answers_per_professor, h.last_event_id, r.topic";
// A room and its head (migration 006: its newest event id, a row apart).
constexpr const char* kRooms = "rooms r JOIN room_heads h ON h.room_id = r.id ";
// After kRoomColumns, the reader's membership: role (null: not a member) and notification level.
constexpr int kRoleColumn = 8;

// Columns that CHECK constraints guard; an unknown value falls back to the
// narrowest: a hidden room, the least role.
RoomKind ReadKind(const PgResult& r, int row, int col) {
  return ParseRoomKind(r.Text(row, col)).value_or(RoomKind::kPrivate);
}
Role ReadRole(const PgResult& r, int row, int col) { return ParseRole(r.Text(row, col)).value_or(Role::kMember); }

Result<Room> ReadRoom(const PgResult& r, int row) {
  Room room;
  PARLEY_ASSIGN_OR_RETURN(room.id, r.Int(row, 0));
  room.name = r.Text(row, 1);
  room.kind = ReadKind(r, row, 2);
  if (!r.IsNull(row, 3)) {
    PARLEY_ASSIGN_OR_RETURN(int64_t owner, r.Int(row, 3));
    room.owner = User{owner, r.Text(row, 4)};
  }
  room.answers_per_professor = r.OptionalInt(row, 5);
  PARLEY_ASSIGN_OR_RETURN(room.last_event_id, r.Int(row, 6));
  room.topic = r.Text(row, 7);  // NULL reads as ""
  return room;
}

// The room and the reader's membership columns (kRoleColumn and the next
// two: role, notifications, request).
Result<Room> ReadRoomView(const PgResult& r, int row) {
  PARLEY_ASSIGN_OR_RETURN(Room room, ReadRoom(r, row));
  if (!r.IsNull(row, kRoleColumn)) room.role = ReadRole(r, row, kRoleColumn);
  room.member = room.role.has_value();
  room.notifications = ParseNotifyLevel(r.Text(row, kRoleColumn + 1)).value_or(NotifyLevel::kAll);
  room.request = room.member && r.OptionalInt(row, kRoleColumn + 2).value_or(0) != 0;
  return room;
}

// The reader's ($1) read marker in room r, as column read_event_id.
constexpr const char* kReadMarkerColumn =
    "COALESCE((SELECT event_id FROM read_markers WHERE user_id = $1 AND room_id = r.id), 0) AS read_event_id";
// After it, over a subquery p (columns id and read_event_id): the unread
// counts, capped as on SQLite (a badge reads "999+"), and counted as there
// (store_rooms.cc, migration 011): the place of the newest message after
// the marker less the place of the first, plus one, less the tombstones
// after it; with 1,000 of those, the live messages are walked to the cap.
// The newest message's place, not the head row's count (message_seq): that
// row is moved once a batch (migration 018), and a write of the batch that
// answers with a room would miss the batch's earlier sends.
// The messages after the marker as row comparisons on (room_id, id)
// (key_range.h), walked in index order so that the cap ends a walk: not
// the primary key from the marker on (every other room's rows), nor a
// bitmap scan of every row before the cap. Not KeyRange itself: its
// equality estimate (for p.id of unknown value, a few hundred rows) makes
// that bitmap scan and a sort look cheaper than the walk; these exclusive
// bounds estimate next to no rows, and the walk is the plan
// (PgStorePlansTest).
std::string AfterMarker(const char* more, const char* order = "x.room_id, x.id") {
  return "FROM messages x WHERE (x.room_id, x.id) > (p.id, p.read_event_id) AND (x.room_id, x.id) <= (p.id, " +
         std::string(kMaxId) + ")" + more + " ORDER BY " + order;
}

// One author's messages after the marker in room p, through
// messages_author, as row comparisons on (room_id, user_id, id) for the
// reasons of AfterMarker.
std::string ByAuthor(const char* author) {
  return std::string("FROM messages x WHERE (x.room_id, x.user_id, x.id) > (p.id, ") + author +
         ", p.read_event_id) AND (x.room_id, x.user_id, x.id) <= (p.id, " + author + ", " + std::string(kMaxId) + ")";
}

// The counts as on SQLite (store_rooms.cc says how): the messages after
// the marker less the tombstones (d.n) and, in a room with live messages
// after the marker, the live messages there of each person the reader
// blocks (their last author_seq less their first after the marker, plus
// one, less their tombstones d.b). OFFSET 0 keeps q a subquery, so each
// first place is looked up once, not again in the sum.
// Mentions as on SQLite: not those whose author the reader blocks, read at
// count time (a block before or after the mention, an unblock), newest
// first, to 1,000 counted or 2,000 read. The author as a scalar subquery,
// looked up by primary key for each mention walked: as a join, the planner
// hashed all of messages (PgStorePlansTest).
const std::string& UnreadColumns() {
  static const std::string kColumns =
      "(SELECT CASE WHEN d.n < 1000 THEN LEAST(1000, GREATEST(0, a.n - d.n - CASE WHEN a.n > d.n THEN "
      "(SELECT COALESCE(SUM((SELECT x.author_seq " + ByAuthor("q.u") +
      " ORDER BY x.room_id DESC, x.user_id DESC, x.id DESC LIMIT 1) - q.f + 1), 0)::bigint "
      "FROM (SELECT b.blocked_id AS u, (SELECT x.author_seq " + ByAuthor("b.blocked_id") +
      " ORDER BY x.room_id, x.user_id, x.id LIMIT 1) AS f FROM blocks b WHERE b.blocker_id = $1 OFFSET 0) q "
      "WHERE q.f IS NOT NULL) - d.b ELSE 0 END)) "
      "ELSE (SELECT COUNT(*) - COUNT(b.blocked_id) FROM (SELECT x.user_id " +
      AfterMarker(" AND x.user_id <> $1 AND x.deleted = 0") + " LIMIT 1000) t "
      "LEFT JOIN blocks b ON b.blocker_id = $1 AND b.blocked_id = t.user_id) END "
      "FROM (SELECT COUNT(*) AS n, COUNT(b.blocked_id) AS b FROM (SELECT x.user_id " +
      AfterMarker(" AND x.deleted = 1") + " LIMIT 1000) t "
      "LEFT JOIN blocks b ON b.blocker_id = $1 AND b.blocked_id = t.user_id) d, "
      "(SELECT COALESCE((SELECT x.seq " + AfterMarker("", "x.room_id DESC, x.id DESC") + " LIMIT 1) - (SELECT x.seq " +
      AfterMarker("") + " LIMIT 1) + 1, 0) AS n) a), "
      "(SELECT COUNT(*) FROM (SELECT 1 FROM (SELECT x.message_id FROM mentions x WHERE x.user_id = $1 "
      "AND x.room_id = p.id AND x.message_id > p.read_event_id ORDER BY x.message_id DESC LIMIT 2000) t "
      "WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 "
      "AND b.blocked_id = (SELECT a.user_id FROM messages a WHERE a.id = t.message_id)) LIMIT 1000) c2)";
  return kColumns;
}

Status ReadUnread(const PgResult& r, int row, int col, Room& room) {
  PARLEY_ASSIGN_OR_RETURN(room.read_event_id, r.Int(row, col));
  PARLEY_ASSIGN_OR_RETURN(room.unread, r.Int(row, col + 1));
  PARLEY_ASSIGN_OR_RETURN(room.unread_mentions, r.Int(row, col + 2));
  return Status::Ok();
}

// The columns of a member object (DESIGN section 3.1); $2 is now: a mute
// that has run out is shown as none.
constexpr const char* kMemberSelect =
    "SELECT u.id, u.username, m.role, (r.owner_id IS NOT DISTINCT FROM m.user_id)::int, "
    "EXISTS(SELECT 1 FROM presence p WHERE p.user_id = m.user_id)::int, m.moderator, "
    "CASE WHEN m.muted_until > $2 THEN m.muted_until END, "
    "COALESCE((SELECT rm.event_id FROM read_markers rm WHERE rm.user_id = m.user_id AND rm.room_id = m.room_id), 0) "
    "FROM members m JOIN users u ON u.id = m.user_id JOIN rooms r ON r.id = m.room_id ";

Result<Member> ReadMember(const PgResult& r, int row) {
  PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(row, 0));
  PARLEY_ASSIGN_OR_RETURN(int64_t owner, r.Int(row, 3));
  PARLEY_ASSIGN_OR_RETURN(int64_t online, r.Int(row, 4));
  PARLEY_ASSIGN_OR_RETURN(int64_t moderator, r.Int(row, 5));
  Member m{User{id, r.Text(row, 1)}, ReadRole(r, row, 2), owner != 0, online != 0, moderator != 0};
  m.muted_until = r.OptionalInt(row, 6);
  PARLEY_ASSIGN_OR_RETURN(m.read_event_id, r.Int(row, 7));
  return m;
}

}  // namespace

PgConn::Stmt PgStore::AccessQuery(int64_t user_id, int64_t room_id, bool lock, const std::string* client_id) {
  // The member row comes through a LATERAL subquery so that it alone can be
  // locked (FOR SHARE may not touch the nullable side of an outer join).
  // A send's client_id is looked up in the same statement: one round trip.
  PgConn::Stmt st{std::string("SELECT ") + kRoomColumns + ", m.role, m.notifications, m.request, m.moderator, m.muted_until" +
                      (client_id ? ", (SELECT message_id FROM idempotency WHERE user_id = $2 AND client_id = $3)" : "") +
                      " FROM " + kRooms +
                      "LEFT JOIN users ou ON ou.id = r.owner_id "
                      "LEFT JOIN LATERAL (SELECT role, notifications, request, moderator, muted_until FROM members "
                      "WHERE room_id = r.id AND user_id = $2" +
                      (lock ? " FOR SHARE" : "") + ") m ON true WHERE r.id = $1",
                  {room_id, user_id}};
  if (client_id) st.params.emplace_back(*client_id);
  return st;
}

Result<PgStore::Access> PgStore::ReadAccess(const PgResult& r, bool require_member, bool with_client_id) {
  PARLEY_ASSIGN_OR_RETURN(Access a, ReadRoomAccess(r, with_client_id));
  PARLEY_RETURN_IF_ERROR(CheckRoomAccess(a.room, a.role.has_value(), require_member));
  return a;
}

Result<PgStore::Access> PgStore::ReadRoomAccess(const PgResult& r, bool with_client_id) {
  if (r.Rows() == 0) return Status::NotFound("room_not_found", "no such room");
  PARLEY_ASSIGN_OR_RETURN(Room room, ReadRoomView(r, 0));
  Access a{std::move(room), std::nullopt};
  a.role = a.room.role;
  if (a.role) {
    PARLEY_ASSIGN_OR_RETURN(int64_t moderator, r.Int(0, kRoleColumn + 3));
    a.moderator = moderator != 0;
    a.muted_until = r.OptionalInt(0, kRoleColumn + 4);
  }
  if (with_client_id) a.seen = r.OptionalInt(0, kRoleColumn + 5);
  return a;
}

Result<PgStore::Access> PgStore::LoadAccess(int64_t user_id, int64_t room_id, bool require_member, bool lock,
                                            const std::string* client_id) {
  PgConn::Stmt st = AccessQuery(user_id, room_id, lock, client_id);
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec(st.sql, st.params));
  return ReadAccess(r, require_member, client_id != nullptr);
}


Result<PgResult> PgStore::ReadAsMember(int64_t user_id, int64_t room_id, PgConn::Stmt query) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> rows,
                          conn_.ExecTogether({AccessQuery(user_id, room_id, false, nullptr), std::move(query)}));
  PARLEY_ASSIGN_OR_RETURN(PgResult access, std::move(rows[0]));
  PARLEY_RETURN_IF_ERROR(ReadAccess(access, true, false).status());
  return std::move(rows[1]);
}

Status PgStore::CheckNotBanned(int64_t room_id, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(PgResult r,
                          conn_.Exec("SELECT 1 FROM bans WHERE room_id = $1 AND user_id = $2", {room_id, user_id}));
  if (r.Rows() > 0) return Status::Forbidden("banned", "that user is banned from this room");
  return Status::Ok();
}

Status PgStore::CheckNotBlocked(int64_t from_id, int64_t to_id) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2", {to_id, from_id}));
  if (r.Rows() > 0) return Status::Forbidden("blocked", "that person does not accept messages or invitations from you");
  return Status::Ok();
}

Status PgStore::CheckDmNotBlocked(const User& me, int64_t room_id) {
  // dm_key is "lowid:highid"; the other id is the peer.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT 1 FROM rooms r JOIN blocks b ON b.blocked_id = $2 "
                             "AND r.dm_key IN (b.blocker_id || ':' || $2, $2 || ':' || b.blocker_id) WHERE r.id = $1",
                             {room_id, me.id}));
  if (r.Rows() > 0) return Status::Forbidden("blocked", "that person does not accept messages from you");
  return Status::Ok();
}

// Fills the per-reader fields of a room: read marker, unread counts, last
// message, peer. last_event_id came with the room (its head row). The three
// reads go together, then the last message's details: two round trips
// (four for a DM before, five before the twenty-seventh session).
Status PgStore::FillView(Room& r, int64_t user_id) {
  if (!r.member) return Status::Ok();
  std::vector<PgConn::Stmt> reads{
      {std::string("SELECT p.read_event_id, ") + UnreadColumns() + " FROM (SELECT r.id, " + kReadMarkerColumn +
           " FROM rooms r WHERE r.id = $2) p",
       {user_id, r.id}},
      LastMessagesQuery({r.id})};
  std::optional<PgConn::Stmt> peers = PeersQuery(std::span<const Room>(&r, 1), user_id);
  if (peers) reads.push_back(std::move(*peers));
  PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> rows, conn_.ExecTogether(reads));
  for (const Result<PgResult>& row : rows) PARLEY_RETURN_IF_ERROR(row.status());
  if (rows[0]->Rows() > 0) PARLEY_RETURN_IF_ERROR(ReadUnread(*rows[0], 0, 0, r));
  PARLEY_ASSIGN_OR_RETURN(std::vector<Message> last, ReadMessages(*rows[1]));
  PARLEY_RETURN_IF_ERROR(AttachDetails(user_id, last));
  if (!last.empty()) r.last_message = std::make_shared<const Message>(std::move(last[0]));
  if (peers) PARLEY_RETURN_IF_ERROR(ReadPeers(*rows[2], std::span<Room>(&r, 1)));
  return Status::Ok();
}

std::optional<PgConn::Stmt> PgStore::PeersQuery(std::span<const Room> rooms, int64_t user_id) {
  const std::string dms = DmIds(rooms);
  if (dms.empty()) return std::nullopt;
  // dm_key is "LOW:HIGH" (GetOrCreateDm): the two ids, by primary key.
  return PgConn::Stmt{"SELECT r.id, u.id, u.username FROM rooms r JOIN users u ON u.id IN "
                      "(split_part(r.dm_key, ':', 1)::bigint, split_part(r.dm_key, ':', 2)::bigint) "
                      "WHERE r.id = ANY (string_to_array($1, ',')::bigint[]) AND u.id <> $2",
                      {dms, user_id}};
}

Status PgStore::ReadPeers(const PgResult& row, std::span<Room> rooms) {
  std::unordered_map<int64_t, User> peers;
  for (int i = 0; i < row.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t room, row.Int(i, 0));
    PARLEY_ASSIGN_OR_RETURN(int64_t id, row.Int(i, 1));
    peers[room] = User{id, row.Text(i, 2)};
  }
  SetPeers(rooms, peers);
  return Status::Ok();
}

Result<Room> PgStore::LoadRoomView(const User& me, int64_t room_id) {
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, false));
  // In a group-commit batch the room's head learns its last_event_id only
  // before the batch's COMMIT (FinishBatch); until then what the batch's
  // committed writes appended is in batch_rooms_. SQLite moves the row in
  // each write, so its answers carry the id at once.
  if (conn_.in_batch()) {
    if (auto it = batch_rooms_.find(room_id); it != batch_rooms_.end()) {
      a.room.last_event_id = std::max(a.room.last_event_id, it->second);
    }
  }
  PARLEY_RETURN_IF_ERROR(FillView(a.room, me.id));
  return a.room;
}

Result<Room> PgStore::GetRoom(const User& me, int64_t room_id) { return LoadRoomView(me, room_id); }

Status PgStore::AddMember(int64_t room_id, const User& user, Role role, MemberAction action,
                          std::vector<Event>& events, MemberEntry entry) {
  // Every way into a room passes here, so a ban keeps its user out of all of
  // them. The room row FOR SHARE, which a ban's FOR NO KEY UPDATE (BanUser)
  // conflicts with, makes the check hold until COMMIT (design note): not
  // FOR KEY SHARE, which conflicts with FOR UPDATE alone. A statement of
  // its own, before the check, so that the check's snapshot is taken after
  // any wait for a ban and sees that ban committed.
  PARLEY_RETURN_IF_ERROR(conn_.Exec("SELECT 1 FROM rooms WHERE id = $1 FOR SHARE", {room_id}).status());
  PARLEY_RETURN_IF_ERROR(CheckNotBanned(room_id, user.id));
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("INSERT INTO members (room_id, user_id, role, joined_ts, request) "
                             "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                             {room_id, user.id, ToString(role), NowMs(),
                              static_cast<int64_t>(entry == MemberEntry::kRequest)}));
  if (r.Affected() == 0) return Status::Ok();
  if (limits_.memberships_per_user > 0) {
    // The user's row locked first (NO KEY: their sends' foreign keys still
    // pass): two ways in on two pools cannot both pass the count, which
    // then reads the other's committed row. Counted after the insert, as
    // on SQLite; the caller's rollback undoes it.
    PARLEY_RETURN_IF_ERROR(conn_.Exec("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", {user.id}).status());
    PARLEY_RETURN_IF_ERROR(CountMemberships(user, entry, events));
  }
  // The mute kept when the user's last row was deleted (RemoveMember), back
  // in the new row while it runs; the kept row goes either way. A statement
  // of its own after the insert, not a part of it: an insert that waited
  // for a kick's COMMIT on the member key would read kept_mutes in its own
  // snapshot, from before that kick kept the mute.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult kept, conn_.Exec("WITH k AS (DELETE FROM kept_mutes WHERE room_id = $1 AND user_id = $2 "
                                "RETURNING muted_until) "
                                "UPDATE members m SET muted_until = k.muted_until FROM k "
                                "WHERE m.room_id = $1 AND m.user_id = $2 AND k.muted_until > $3 "
                                "RETURNING m.muted_until",
                                {room_id, user.id, NowMs()}));
  events.push_back(MemberEvent(room_id, user, role, action, kept.Rows() > 0 ? kept.OptionalInt(0, 0) : std::nullopt));
  return Status::Ok();
}

Status PgStore::CountMemberships(const User& user, MemberEntry entry, std::vector<Event>& events) {
  PARLEY_ASSIGN_OR_RETURN(PgResult c, conn_.Exec("SELECT COUNT(*) FILTER (WHERE request = 0), "
                                                 "COUNT(*) FILTER (WHERE request = 1) FROM members "
                                                 "WHERE user_id = $1",
                                                 {user.id}));
  PARLEY_ASSIGN_OR_RETURN(int64_t in, c.Int(0, 0));
  PARLEY_ASSIGN_OR_RETURN(int64_t requests, c.Int(0, 1));
  if (entry == MemberEntry::kMembership) {
    if (in > limits_.memberships_per_user) return MembershipLimitReached(user, limits_.memberships_per_user);
    return Status::Ok();
  }
  if (requests <= limits_.memberships_per_user) return Status::Ok();
  // The new one is the newest (its DM's id the highest of its millisecond).
  PARLEY_ASSIGN_OR_RETURN(PgResult oldest, conn_.Exec("SELECT room_id FROM members WHERE user_id = $1 AND request = 1 "
                                                      "ORDER BY joined_ts, room_id LIMIT 1",
                                                      {user.id}));
  if (oldest.Rows() == 0) return Status::Internal("a request counted but not found");
  PARLEY_ASSIGN_OR_RETURN(int64_t room_id, oldest.Int(0, 0));
  PARLEY_RETURN_IF_ERROR(RemoveMember(room_id, user.id).status());
  events.push_back(MemberEvent(room_id, user, Role::kMember, MemberAction::kLeft));
  return Status::Ok();
}

namespace {
constexpr const char* kClearRequest = "UPDATE members SET request = 0 WHERE room_id = $2 AND user_id = $1 AND request = 1";
}  // namespace

std::vector<PgConn::Stmt> PgStore::AnswerQueries(int64_t user_id, int64_t room_id) {
  return {{"SELECT 1 FROM users WHERE id = $1 AND EXISTS (SELECT 1 FROM members WHERE room_id = $2 "
           "AND user_id = $1 AND request = 1) FOR NO KEY UPDATE",
           {user_id, room_id}},
          {kClearRequest, {user_id, room_id}}};
}

Status PgStore::CountAnswer(const User& user, int64_t cleared) {
  if (cleared == 0) return Status::Ok();
  std::vector<Event> none;  // a membership's count appends nothing
  return CountMemberships(user, MemberEntry::kMembership, none);
}

Status PgStore::AnswerRequest(int64_t room_id, const User& user) {
  // Without the cap nothing is counted: the flag alone goes (the room
  // object shows it, "request").
  if (limits_.memberships_per_user <= 0) return conn_.Exec(kClearRequest, {user.id, room_id}).status();
  PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> rows, conn_.ExecTogether(AnswerQueries(user.id, room_id)));
  PARLEY_RETURN_IF_ERROR(rows[0].status());
  PARLEY_ASSIGN_OR_RETURN(PgResult cleared, std::move(rows[1]));
  return CountAnswer(user, cleared.Affected());
}

Result<std::optional<Role>> PgStore::RemoveMember(int64_t room_id, int64_t user_id) {
  // One round trip: the row deleted, its mute kept if it still runs (a
  // kept row already there, which none should be while its user is a
  // member, gives way to it), and, when one is written, the room's expired
  // ones pruned (a range of the key; not the user's own row, which one
  // statement may not both upsert and delete).
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r,
      conn_.Exec("WITH gone AS (DELETE FROM members WHERE room_id = $1 AND user_id = $2 RETURNING role, muted_until), "
                 "kept AS (INSERT INTO kept_mutes (room_id, user_id, muted_until) "
                 "SELECT $1, $2, muted_until FROM gone WHERE muted_until > $3 "
                 "ON CONFLICT (room_id, user_id) DO UPDATE SET muted_until = EXCLUDED.muted_until), "
                 "pruned AS (DELETE FROM kept_mutes WHERE room_id = $1 AND user_id <> $2 AND muted_until <= $3 "
                 "AND EXISTS (SELECT 1 FROM gone WHERE muted_until > $3)) "
                 "SELECT role FROM gone",
                 {room_id, user_id, NowMs()}));
  if (r.Rows() == 0) return std::optional<Role>();
  return std::optional<Role>(ReadRole(r, 0, 0));
}

Result<Member> PgStore::LoadMember(int64_t room_id, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec(std::string(kMemberSelect) + "WHERE m.room_id = $1 AND m.user_id = $3",
                                                 {room_id, NowMs(), user_id}));
  if (r.Rows() == 0) return Status::NotFound("member_not_found", "that user is not a member of this room");
  return ReadMember(r, 0);
}

namespace {

// A room's name lower-cased in A-Z alone, as rooms_name (migration 007) and
// SQLite's lower(): RoomNameSkeletonSql's `lowered`.
std::string RoomNameSkeleton(const std::string& value) {
  return RoomNameSkeletonSql("lower(" + value + " COLLATE \"C\")");
}

}  // namespace

Status PgStore::LockRoomName(const std::string& name) {
  // Held to COMMIT: two pools cannot both let in a pair of names that pass
  // for each other (class 1919905645, "room" in ASCII; CreateUser's is
  // another class). Tried, never waited for: when batches took the counter
  // row at their first append, a wait for a name that another pool held
  // while it waited for the counter row was a deadlock (the fiftieth
  // session's audit: 63 in 305 races, every pool's writes stalled a second
  // each). Batches now take it first (event_log.h), so only a write outside
  // one can hold the name meanwhile; the loser is told to try again.
  // Advisory locks belong to the database, and deployments may share one
  // in schemas of their own (PARLEY_DB's search_path, as the tests run):
  // the schema is part of the key, or one deployment's new room would
  // refuse another's.
  static const std::string kLock = "SELECT pg_try_advisory_xact_lock(1919905645, hashtext(current_schema() || ' ' || " +
                                   RoomNameSkeleton("$1::text") + "))";
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec(kLock, {name}));
  if (r.Text(0, 0) != "t") return Status::Unavailable("a room of a name like that one is being made; try again");
  return Status::Ok();
}

Status PgStore::CheckRoomNameFree(const std::string& name, int64_t self) {
  // The index's expression (migration 022) and its WHERE: a search of
  // rooms_skeleton. A name only a DM has is free, as rooms_name has it.
  // The same name in another case first: it is told as such.
  static const std::string kLookalike = "SELECT (lower(name COLLATE \"C\") = lower($1::text COLLATE \"C\"))::int "
                                        "FROM rooms WHERE " + RoomNameSkeleton("name") + " = " +
                                        RoomNameSkeleton("$1::text") +
                                        " AND kind <> 'dm' AND id <> $2 ORDER BY 1 DESC LIMIT 1";
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec(kLookalike, {name, self}));
  if (r.Rows() == 0) return Status::Ok();
  PARLEY_ASSIGN_OR_RETURN(int64_t same, r.Int(0, 0));
  return RoomNameLooksTaken(same != 0);
}

Result<Room> PgStore::CreateRoom(const User& me, const std::string& name, RoomKind kind,
                                 std::optional<int64_t> answers_per_professor) {
  if (kind == RoomKind::kDm) return Status::Invalid("invalid_field", "kind must be public, private or qa");
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kCreateRoom));
  PARLEY_RETURN_IF_ERROR(LockRoomName(name));
  if (limits_.rooms_per_user > 0) {
    // The user's row locked: two creations by one user on two pools cannot
    // both pass the count.
    PARLEY_RETURN_IF_ERROR(conn_.Exec("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", {me.id}).status());
    PARLEY_ASSIGN_OR_RETURN(PgResult c, conn_.Exec("SELECT COUNT(*) FROM rooms WHERE owner_id = $1", {me.id}));
    PARLEY_ASSIGN_OR_RETURN(int64_t owned, c.Int(0, 0));
    if (owned >= limits_.rooms_per_user) {
      return Status::Forbidden("room_limit_reached",
                               "you already own " + std::to_string(owned) + " rooms, the most one person may own");
    }
  }
  Room room;
  room.name = name;
  room.kind = kind;
  room.owner = me;
  if (kind == RoomKind::kQa) room.answers_per_professor = answers_per_professor;
  PARLEY_RETURN_IF_ERROR(CheckRoomNameFree(name, 0));
  PARLEY_ASSIGN_OR_RETURN(
      PgResult ins, conn_.Exec("INSERT INTO rooms (name, kind, owner_id, answers_per_professor, created_ts) "
                               "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
                               {name, ToString(kind), me.id, room.answers_per_professor, NowMs()}));
  if (ins.Rows() == 0) return Status::Conflict("room_name_taken", "a room with that name exists");
  PARLEY_ASSIGN_OR_RETURN(room.id, ins.Int(0, 0));
  // The owner of a classroom teaches in it; the member event comes first
  // (a reader of the log knows the owner is in a private room before the
  // room event addressed to its members).
  std::vector<Event> events;
  PARLEY_RETURN_IF_ERROR(
      AddMember(room.id, me, kind == RoomKind::kQa ? Role::kProfessor : Role::kMember, MemberAction::kJoined, events));
  events.push_back(MakeEvent("room", room.id, std::nullopt, RoomEventAudience(kind), RoomEventData(room)));
  PARLEY_RETURN_IF_ERROR(CommitEvents(*tx, events));
  return LoadRoomView(me, room.id);
}

Result<Room> PgStore::UpdateRoom(const User& me, int64_t room_id, const RoomUpdate& u) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kRoomEdit));
  if (u.name) PARLEY_RETURN_IF_ERROR(LockRoomName(*u.name));
  PARLEY_RETURN_IF_ERROR(LockModerator(me, room_id).status());
  // The room row locked after the actor's member row (every action's
  // order) and before the counter row: two changes on two pools apply one
  // after the other, each to what the last one left. An UPDATE of name and
  // topic takes FOR NO KEY UPDATE (rooms_name is an expression index), so
  // the FOR KEY SHARE of a send's foreign keys does not wait for it; a
  // join's FOR SHARE (AddMember) does, until this COMMIT.
  PARLEY_RETURN_IF_ERROR(conn_.Exec("SELECT 1 FROM rooms WHERE id = $1 FOR NO KEY UPDATE", {room_id}).status());
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true));
  Room r = a.room;
  std::vector<Event> events;
  if (ApplyRoomUpdate(r, u)) {
    if (r.name != a.room.name) PARLEY_RETURN_IF_ERROR(CheckRoomNameFree(r.name, room_id));
    auto updated = conn_.Exec("UPDATE rooms SET name = $2, topic = NULLIF($3, '') WHERE id = $1",
                              {room_id, r.name, r.topic});
    // The unique index on the name (any ASCII case, migration 007) is the
    // only constraint the row can break, also against a room that another
    // pool created or renamed a moment ago.
    if (!updated.ok() && updated.status().code() == Code::kConflict) {
      return Status::Conflict("room_name_taken", "a room with that name exists");
    }
    PARLEY_RETURN_IF_ERROR(updated.status());
    events.push_back(MakeEvent("room", room_id, std::nullopt, RoomEventAudience(r.kind), RoomEventData(r)));
  }
  PARLEY_RETURN_IF_ERROR(CommitEvents(*tx, events));
  return LoadRoomView(me, room_id);
}

Result<Room> PgStore::Join(const User& me, int64_t room_id) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kJoin));
  // In the order every way in and out takes them: my row (FOR NO KEY
  // UPDATE, as AddMember's count does; an invite of me waits for it, see
  // Invite), then the room (FOR SHARE, as AddMember; a ban holds it FOR NO
  // KEY UPDATE), and only then the invitation. Taking the invitation first
  // deadlocked against a ban, which deletes it after the room's lock. The
  // two locks and the access read go together, in this order: one round
  // trip.
  PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> rows,
                          conn_.ExecTogether({{"SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", {me.id}},
                                              {"SELECT 1 FROM rooms WHERE id = $1 FOR SHARE", {room_id}},
                                              AccessQuery(me.id, room_id, false, nullptr)}));
  for (const Result<PgResult>& row : rows) PARLEY_RETURN_IF_ERROR(row.status());
  PARLEY_ASSIGN_OR_RETURN(Access a, ReadRoomAccess(*rows[2], false));
  std::vector<Event> events;
  if (!a.role) {
    // An invitation, taken now, opens a private room; without one it stays
    // hidden (a DM never has one).
    PARLEY_ASSIGN_OR_RETURN(bool invited, DropInvitation(room_id, me.id));
    if (!invited) PARLEY_RETURN_IF_ERROR(CheckRoomAccess(a.room, false, false));
    PARLEY_RETURN_IF_ERROR(AddMember(room_id, me, DefaultRole(a.room.kind), MemberAction::kJoined, events));
  }
  PARLEY_RETURN_IF_ERROR(CommitEvents(*tx, events));
  return LoadRoomView(me, room_id);
}

Status PgStore::Leave(const User& me, int64_t room_id) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kLeave));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true));
  // Of two leaves racing, the one that deleted nothing (the other
  // committed first) appends no second event.
  PARLEY_ASSIGN_OR_RETURN(std::optional<Role> role, RemoveMember(room_id, me.id));
  if (!role) return Status::Forbidden("not_a_member", "join the room first");
  std::vector<Event> events = {MemberEvent(room_id, me, *role, MemberAction::kLeft)};
  (void)a;
  return CommitEvents(*tx, events);
}

Result<MemberPage> PgStore::Members(const User& me, int64_t room_id, const UserPageQuery& q) {
  // One row more than asked tells whether there is a next page.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r,
      ReadAsMember(me.id, room_id,
                   {std::string(kMemberSelect) +
                        "WHERE m.room_id = $1 AND m.user_id > $3 ORDER BY m.room_id, m.user_id LIMIT $4",
                    {room_id, NowMs(), q.after, q.limit + 1}}));
  MemberPage page;
  page.members.reserve(r.Rows());
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(Member m, ReadMember(r, i));
    page.members.push_back(std::move(m));
  }
  page.next = TrimToPage(page.members, q.limit);
  return page;
}

Result<Member> PgStore::FindMember(const User& me, int64_t room_id, const std::string& username) {
  PARLEY_RETURN_IF_ERROR(LoadAccess(me.id, room_id, true).status());
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  return LoadMember(room_id, who->id);
}

Status PgStore::AdminSetOwner(int64_t room_id, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  // The room row locked, as UpdateRoom locks it: two hand-overs, or one
  // and a rename, apply one after the other. Then the new owner's member
  // row FOR SHARE (LoadAccess's lock): a kick of them waits, or is seen.
  // The operator sees every room: a private one its new owner is not in is
  // refused as any room is (member_not_found), not hidden as from a user.
  PARLEY_RETURN_IF_ERROR(conn_.Exec("SELECT 1 FROM rooms WHERE id = $1 FOR NO KEY UPDATE", {room_id}).status());
  const PgConn::Stmt access = AccessQuery(who->id, room_id, true, nullptr);
  PARLEY_ASSIGN_OR_RETURN(PgResult rows, conn_.Exec(access.sql, access.params));
  PARLEY_ASSIGN_OR_RETURN(Access a, ReadRoomAccess(rows, false));
  PARLEY_RETURN_IF_ERROR(CheckMayOwn(a.room, a.role.has_value(), *who));
  std::vector<Event> events;
  if (!IsOwner(a.room, who->id)) {
    PARLEY_RETURN_IF_ERROR(
        conn_.Exec("UPDATE rooms SET owner_id = $2 WHERE id = $1", {room_id, who->id}).status());
    if (a.room.kind == RoomKind::kQa) {
      PARLEY_RETURN_IF_ERROR(ChangeMemberRole(room_id, a.room.kind, *who, Role::kProfessor, events));
    }
    a.room.owner = *who;
    events.push_back(MakeEvent("room", room_id, std::nullopt, RoomEventAudience(a.room.kind), RoomEventData(a.room)));
  }
  return CommitEvents(*tx, events);
}

Status PgStore::AdminSetRole(int64_t room_id, const std::string& username, Role role) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  PARLEY_ASSIGN_OR_RETURN(PgResult k, conn_.Exec("SELECT kind FROM rooms WHERE id = $1", {room_id}));
  if (k.Rows() == 0) return Status::NotFound("room_not_found", "no such room");
  const RoomKind kind = ReadKind(k, 0, 0);
  if (!RoleFitsKind(role, kind)) {
    return Status::Invalid("invalid_field", kind == RoomKind::kQa ? "role must be professor or student in a Q&A room"
                                                                  : "role must be member outside Q&A rooms");
  }
  PARLEY_ASSIGN_OR_RETURN(PgResult u, conn_.Exec("UPDATE members SET role = $3 WHERE room_id = $1 AND user_id = $2 "
                                                 "AND role <> $3",
                                                 {room_id, who->id, ToString(role)}));
  std::vector<Event> events;
  if (u.Affected() == 0) {
    PARLEY_RETURN_IF_ERROR(LoadMember(room_id, who->id).status());  // not a member: 404
  } else {
    events.push_back(MemberEvent(room_id, *who, role, MemberAction::kRole));
  }
  return CommitEvents(*tx, events);
}

Result<std::pair<Room, bool>> PgStore::GetOrCreateDm(const User& me, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kDm));
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> peer, FindUser(username));
  if (!peer) return Status::NotFound("user_not_found", "no such user");
  if (peer->id == me.id) return Status::Invalid("invalid_field", "a direct conversation needs another person");
  PARLEY_RETURN_IF_ERROR(CheckNotBlocked(me.id, peer->id));
  const int64_t lo = std::min(me.id, peer->id), hi = std::max(me.id, peer->id);
  const std::string key = std::to_string(lo) + ":" + std::to_string(hi);
  // The unique dm_key decides between two first messages racing: the
  // loser's insert waits for the winner's COMMIT, inserts nothing, and the
  // SELECT then finds the winner's room.
  PARLEY_ASSIGN_OR_RETURN(PgResult ins,
                          conn_.Exec("INSERT INTO rooms (name, kind, owner_id, dm_key, created_ts) "
                                     "VALUES ('dm', 'dm', NULL, $1, $2) ON CONFLICT DO NOTHING RETURNING id",
                                     {key, NowMs()}));
  const bool created = ins.Rows() == 1;
  int64_t room_id = 0;
  std::vector<Event> events;
  if (created) {
    PARLEY_ASSIGN_OR_RETURN(room_id, ins.Int(0, 0));
    Room r;
    r.id = room_id;
    r.name = "dm";
    r.kind = RoomKind::kDm;
    if (limits_.memberships_per_user > 0) {
      // Both people's rows in id order before AddMember locks each for its
      // count: DMs started at once around a ring (A to B, B to C, C to A)
      // cannot each hold one row and wait for the next.
      PARLEY_RETURN_IF_ERROR(
          conn_.Exec("SELECT 1 FROM users WHERE id IN ($1, $2) ORDER BY id FOR NO KEY UPDATE", {lo, hi}).status());
    }
    // Member events first: a reader of the log learns who is in the room
    // before the room event that they must both receive.
    PARLEY_RETURN_IF_ERROR(AddMember(room_id, me, Role::kMember, MemberAction::kJoined, events));
    PARLEY_RETURN_IF_ERROR(
        AddMember(room_id, *peer, Role::kMember, MemberAction::kJoined, events, MemberEntry::kRequest));
    events.push_back(MakeEvent("room", room_id, std::nullopt, Audience::kRoom, RoomEventData(r)));
  } else {
    PARLEY_ASSIGN_OR_RETURN(PgResult found, conn_.Exec("SELECT id FROM rooms WHERE dm_key = $1", {key}));
    if (found.Rows() == 0) return Status::Unavailable("the conversation changed meanwhile; try again");
    PARLEY_ASSIGN_OR_RETURN(room_id, found.Int(0, 0));
    // Asking again brings back the requester only: a peer who left stays out.
    PARLEY_RETURN_IF_ERROR(AddMember(room_id, me, Role::kMember, MemberAction::kJoined, events));
    // The person a request was for, opening it, answers it.
    PARLEY_RETURN_IF_ERROR(AnswerRequest(room_id, me));
  }
  PARLEY_RETURN_IF_ERROR(CommitEvents(*tx, events));
  PARLEY_ASSIGN_OR_RETURN(Room view, LoadRoomView(me, room_id));
  return std::make_pair(std::move(view), created);
}

// The room list walks my memberships (members_user) ordered by each room's
// last_event_id, as on SQLite; the read marker and unread counts for the
// page's rooms only, then the page's last messages and its DMs' people
// together, then the messages' details in one query per kind with the
// COMMIT: three round trips (six before the twenty-seventh session; each
// is a network round trip where PostgreSQL runs on another host). One
// REPEATABLE READ snapshot for all of it, as SQLite's read transaction.
Result<RoomListPage> PgStore::ListRoomsPage(const User& me, const RoomListQuery& q) {
  RoomListPage page;
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginRead());
  {
    // After a block or unblock of mine (an event addressed to me alone),
    // every room, as on SQLite: an InitPlan, run once and only for a
    // catch-up (CASE stops at a plain list's -1), no round trip more.
    PARLEY_ASSIGN_OR_RETURN(
        PgResult r,
        conn_.Exec(std::string("SELECT p.*, ") + UnreadColumns() + " FROM (SELECT " + kRoomColumns +
                       ", m.role, m.notifications, m.request, " + kReadMarkerColumn +
                       " FROM members m JOIN rooms r ON r.id = m.room_id JOIN room_heads h ON h.room_id = r.id "
                       "LEFT JOIN users ou ON ou.id = r.owner_id "
                       "WHERE m.user_id = $1 AND h.last_event_id > (CASE WHEN $2 < 0 THEN $2 WHEN EXISTS (SELECT 1 FROM events e "
                       "WHERE e.target_id = $1 AND e.id > $2 AND e.type = 'user' AND e.audience = 'room' "
                       "AND e.room_id IS NULL) "
                       "THEN -1 ELSE $2 END) AND (h.last_event_id, r.id) < ($3, $4) "
                       "ORDER BY h.last_event_id DESC, r.id DESC LIMIT $5) p "
                       "ORDER BY p.last_event_id DESC, p.id DESC",
                   {me.id, q.changed_since.value_or(-1), q.before ? q.before->last_event_id : INT64_MAX,
                    q.before ? q.before->room_id : INT64_MAX, q.limit + 1}));
    for (int i = 0; i < r.Rows(); ++i) {
      PARLEY_ASSIGN_OR_RETURN(Room room, ReadRoomView(r, i));
      PARLEY_RETURN_IF_ERROR(ReadUnread(r, i, kRoleColumn + 3, room));
      page.rooms.push_back(std::move(room));
    }
  }
  if (static_cast<int>(page.rooms.size()) > q.limit) {
    page.rooms.pop_back();
    page.next = RoomCursor{page.rooms.back().last_event_id, page.rooms.back().id};
  }
  // Then, in one round trip, the page's last messages, its DMs' people and
  // (with changed_since) the rooms I left: none depends on another.
  std::vector<int64_t> ids;
  for (const Room& r : page.rooms) ids.push_back(r.id);
  std::vector<PgConn::Stmt> reads{LastMessagesQuery(ids)};
  std::optional<PgConn::Stmt> peers = PeersQuery(page.rooms, me.id);
  if (peers) reads.push_back(std::move(*peers));
  if (q.changed_since) {
    // Rooms I am no longer in whose member events about me that ended a
    // membership came after the cursor, by room id, as on SQLite (which
    // says why only those).
    reads.push_back({"SELECT DISTINCT e.room_id FROM events e WHERE e.target_id = $1 AND e.id > $2 "
                     "AND e.type = 'member' AND e.room_id IS NOT NULL "
                     "AND (e.data::jsonb ->> 'action') IN " + MembershipEndingActionsSql() + " "
                     "AND NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = e.room_id "
                     "AND m.user_id = $1) ORDER BY e.room_id LIMIT 1000",
                     {me.id, *q.changed_since}});
  }
  PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> rows, conn_.ExecTogether(reads));
  for (const Result<PgResult>& row : rows) PARLEY_RETURN_IF_ERROR(row.status());
  PARLEY_ASSIGN_OR_RETURN(std::vector<Message> lasts, ReadMessages(*rows[0]));
  if (peers) PARLEY_RETURN_IF_ERROR(ReadPeers(*rows[1], page.rooms));
  if (q.changed_since) {
    PARLEY_ASSIGN_OR_RETURN(page.left, rows.back()->Ints());
  }
  // The last messages' details, one statement per kind: with the COMMIT
  // when nothing else is to be read (a page of the room list: three round
  // trips in all, was six).
  DetailReads details(lasts, MessageDetailQueries(me.id));
  if (q.latest <= 0) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> detail_rows, tx->CommitAfter(details.statements()));
    PARLEY_RETURN_IF_ERROR(details.Fill(detail_rows));
  } else if (!details.statements().empty()) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> detail_rows, conn_.ExecTogether(details.statements()));
    PARLEY_RETURN_IF_ERROR(details.Fill(detail_rows));
  }
  size_t next = 0;  // in the page's order, skipping rooms without a message
  for (Room& r : page.rooms) {
    if (next < lasts.size() && lasts[next].room_id == r.id) {
      r.last_message = std::make_shared<const Message>(std::move(lasts[next++]));
    }
  }
  if (q.latest <= 0) return page;
  // Until the pages reach q.latest_bytes, as on SQLite (store_rules.h).
  size_t latest_bytes = 0;
  for (const Room& r : page.rooms) {
    if (LatestBudgetSpent(latest_bytes, q)) break;
    PARLEY_ASSIGN_OR_RETURN(HistoryPage h, ReadHistory(me, r.id, std::nullopt, std::nullopt, q.latest));
    latest_bytes += LatestPageBytes(r, h);
    page.latest.push_back(std::move(h));
  }
  EndAtLatestBudget(page);
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return page;
}

Result<std::vector<Room>> PgStore::Directory(const User& me, const std::string& prefix, int limit) {
  // A range on rooms_name from the prefix, as SQLite's, not LIKE with its
  // wildcards. PostgreSQL 15 makes that range of starts_with() itself; an
  // older server (a managed service may run one) reads no index for it, and
  // walked every room before the prefix. COLLATE "C": ASCII letters fold,
  // as SQLite's NOCASE folds them, whatever the database's LC_CTYPE (a
  // UTF-8 one would fold "É" too). kind <> 'dm' is the index's condition.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec(std::string("SELECT ") + kRoomColumns + ", NULL, NULL, NULL FROM " + kRooms +
                                 "LEFT JOIN users ou ON ou.id = r.owner_id "
                                 "WHERE r.kind <> 'dm' AND r.kind IN ('public', 'qa') "
                                 "AND lower(r.name COLLATE \"C\") >= lower($2 COLLATE \"C\") "
                                 "AND lower(r.name COLLATE \"C\") < lower($2 COLLATE \"C\") || chr(1114111) "
                                 "AND NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = r.id AND m.user_id = $1) "
                                 "ORDER BY lower(r.name COLLATE \"C\") LIMIT $3",
                             {me.id, prefix, limit}));
  std::vector<Room> out;
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(Room room, ReadRoomView(r, i));
    out.push_back(std::move(room));
  }
  return out;
}

Result<Room> PgStore::SetNotifications(const User& me, int64_t room_id, NotifyLevel level) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  // A personal setting of the room, like the read marker: its bucket.
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kRead));
  PARLEY_RETURN_IF_ERROR(LoadAccess(me.id, room_id, true).status());
  PARLEY_RETURN_IF_ERROR(conn_
                             .Exec("UPDATE members SET notifications = $3 WHERE room_id = $1 AND user_id = $2",
                                   {room_id, me.id, ToString(level)})
                             .status());
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return LoadRoomView(me, room_id);
}

Result<int64_t> PgStore::MemberCount(int64_t room_id, int64_t cap) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r,
      conn_.Exec("SELECT COUNT(*) FROM (SELECT 1 FROM members WHERE room_id = $1 LIMIT $2) c", {room_id, cap}));
  return r.Int(0, 0);
}

}  // namespace parley::pg
