// Store: rooms, membership, roles and direct conversations.
#include "schema/store.h"

#include <unordered_map>

#include "schema/moderation.h"
#include "schema/per_user_limit.h"
#include "schema/store_rules.h"

namespace parley {
namespace {

// The columns every room query starts with, in this order.
constexpr const char* kRoomColumns =
    "r.id, r.name, r.kind, r.owner_id, ou.username, r.answers_per_professor, r.last_event_id, r.topic";
// After kRoomColumns, the reader's membership: role (null: not a member) and notification level.
constexpr int kRoleColumn = 8;

// Columns that CHECK constraints guard; an unknown value falls back to the
// narrowest: a hidden room, the least role.
RoomKind ReadKind(const Statement& s, int col) { return ParseRoomKind(s.Text(col)).value_or(RoomKind::kPrivate); }
Role ReadRole(const Statement& s, int col) { return ParseRole(s.Text(col)).value_or(Role::kMember); }

Room ReadRoom(const Statement& s) {
  Room r;
  r.id = s.Int(0);
  r.name = s.Text(1);
  r.kind = ReadKind(s, 2);
  if (!s.IsNull(3)) r.owner = User{s.Int(3), s.Text(4)};
  if (!s.IsNull(5)) r.answers_per_professor = s.Int(5);
  r.last_event_id = s.Int(6);
  r.topic = s.Text(7);  // NULL reads as ""
  return r;
}

// The room and the reader's membership columns (kRoleColumn and the next
// two: role, notifications, request).
Room ReadRoomView(const Statement& s) {
  Room r = ReadRoom(s);
  if (!s.IsNull(kRoleColumn)) r.role = ReadRole(s, kRoleColumn);
  r.member = r.role.has_value();
  r.notifications = ParseNotifyLevel(s.Text(kRoleColumn + 1)).value_or(NotifyLevel::kAll);
  r.request = r.member && s.Int(kRoleColumn + 2) != 0;
  return r;
}

}  // namespace

Result<Store::Access> Store::LoadAccess(int64_t user_id, int64_t room_id, bool require_member) {
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadRoomAccess(user_id, room_id));
  PARLEY_RETURN_IF_ERROR(CheckRoomAccess(a.room, a.role.has_value(), require_member));
  return a;
}

Result<Store::Access> Store::LoadRoomAccess(int64_t user_id, int64_t room_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      std::string("SELECT ") + kRoomColumns + ", m.role, m.notifications, m.request, m.moderator, m.muted_until "
      "FROM rooms r "
      "LEFT JOIN users ou ON ou.id = r.owner_id "
      "LEFT JOIN members m ON m.room_id = r.id AND m.user_id = ?2 WHERE r.id = ?1"));
  s.Bind(1, room_id).Bind(2, user_id);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound("room_not_found", "no such room");
  Access a{ReadRoomView(s), std::nullopt};
  a.role = a.room.role;
  if (a.role) {
    a.moderator = s.Int(kRoleColumn + 3) != 0;
    if (!s.IsNull(kRoleColumn + 4)) a.muted_until = s.Int(kRoleColumn + 4);
    a.request = a.room.request;
  }
  return a;
}


// The reader's read marker in room r, as column read_event_id.
constexpr const char* kReadMarkerColumn =
    "COALESCE((SELECT event_id FROM read_markers WHERE user_id = ?1 AND room_id = r.id), 0) AS read_event_id";
// After it, over a subquery p (columns id and read_event_id): the unread
// counts. Capped: a badge reads "999+" long before an exact count matters.
// The messages after the marker are counted from their places in the room
// (migration 016 says why): the last seq less the first seq after the
// marker, plus one, less the tombstones after it (d.n; walked, to 1,000).
// Never the reader's own: a message moves its sender's marker to it
// (InsertMessage). Nor those of someone the reader blocks, whose words the
// client hides (020 says why): each such person's live messages after the
// marker are their own last author_seq less their first after the marker,
// plus one (two lookups of messages_author, the second only if the first
// finds one), less their tombstones there (d.b, of the walk above). Only in
// a room with live messages after the marker: a read room costs no lookup
// per block. With 1,000 tombstones after the marker (the count of those
// stops there), the first 1,000 live messages after it are walked instead
// and those of people the reader blocks taken off, as before 016.
// The blocks are read here, not at send, so a block after the message
// leaves it out too and an unblock counts it again.
// Mentions are stored without the author's own (StoreMentions) and removed
// with a delete. Not counted: those whose author the reader blocks (someone
// I block cannot ping me). The author is the message's, by primary key,
// then blocks' primary key: two lookups a mention walked. A scalar
// subquery, not a join: PostgreSQL hashed all of messages for that join
// (PgStorePlansTest). The walk, newest first, stops at 1,000 counted or
// 2,000 read, whoever wrote them: before, it went on past those left out
// until 1,000 counted, as many as a blocked person ever sent me (a
// spammer's 100,000 @mentions, 200,000 lookups a room list). So with over
// 2,000 mentions after the marker, those older than the newest 2,000 are
// not counted; the newest are the ones a badge is for.
constexpr const char* kUnreadColumns =
    "(SELECT CASE WHEN d.n < 1000 THEN MIN(1000, MAX(0, a.n - d.n - CASE WHEN a.n > d.n THEN "
    "(SELECT COALESCE(SUM((SELECT x.author_seq FROM messages x WHERE x.room_id = p.id AND x.user_id = q.u "
    "ORDER BY x.id DESC LIMIT 1) - q.f + 1), 0) FROM (SELECT b.blocked_id AS u, (SELECT x.author_seq FROM messages x "
    "WHERE x.room_id = p.id AND x.user_id = b.blocked_id AND x.id > p.read_event_id ORDER BY x.id LIMIT 1) AS f "
    "FROM blocks b WHERE b.blocker_id = ?1) q WHERE q.f IS NOT NULL) - d.b ELSE 0 END)) "
    "ELSE (SELECT COUNT(*) - COUNT(b.blocked_id) FROM (SELECT x.user_id FROM messages x WHERE x.room_id = p.id "
    "AND x.id > p.read_event_id AND x.user_id <> ?1 AND x.deleted = 0 LIMIT 1000) t "
    "LEFT JOIN blocks b ON b.blocker_id = ?1 AND b.blocked_id = t.user_id) END "
    "FROM (SELECT COUNT(*) AS n, COUNT(b.blocked_id) AS b FROM (SELECT x.user_id FROM messages x "
    "WHERE x.room_id = p.id AND x.id > p.read_event_id AND x.deleted = 1 LIMIT 1000) t "
    "LEFT JOIN blocks b ON b.blocker_id = ?1 AND b.blocked_id = t.user_id) d, "
    "(SELECT COALESCE((SELECT seq FROM messages x WHERE x.room_id = p.id ORDER BY x.id DESC LIMIT 1) - "
    "(SELECT seq FROM messages x WHERE x.room_id = p.id AND x.id > p.read_event_id ORDER BY x.id LIMIT 1) + 1, 0) "
    "AS n) a), "
    "(SELECT COUNT(*) FROM (SELECT 1 FROM (SELECT x.message_id FROM mentions x WHERE x.user_id = ?1 "
    "AND x.room_id = p.id AND x.message_id > p.read_event_id ORDER BY x.message_id DESC LIMIT 2000) t "
    "WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ?1 "
    "AND b.blocked_id = (SELECT a.user_id FROM messages a WHERE a.id = t.message_id)) LIMIT 1000))";

void ReadUnread(const Statement& s, int col, Room& r) {
  r.read_event_id = s.Int(col);
  r.unread = s.Int(col + 1);
  r.unread_mentions = s.Int(col + 2);
}

// Fills the per-reader fields of a room: read marker, unread counts, last
// message, peer. last_event_id came with the room row (migration 006).
Status Store::FillView(Room& r, int64_t user_id) {
  if (!r.member) return Status::Ok();
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      std::string("SELECT p.read_event_id, ") + kUnreadColumns + " FROM (SELECT r.id, " + kReadMarkerColumn +
      " FROM rooms r WHERE r.id = ?2) p"));
  s.Bind(1, user_id).Bind(2, r.id);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (row) ReadUnread(s, 0, r);
  s.Reset();
  PARLEY_ASSIGN_OR_RETURN(std::vector<Message> last, LastMessages({r.id}, user_id));
  if (!last.empty()) r.last_message = std::make_shared<const Message>(std::move(last[0]));
  return FillPeers(std::span<Room>(&r, 1), user_id);
}

Status Store::FillPeers(std::span<Room> rooms, int64_t user_id) {
  const std::string dms = DmIds(rooms);
  if (dms.empty()) return Status::Ok();
  // dm_key is "LOW:HIGH" (GetOrCreateDm): the two ids, looked up by primary
  // key, not a scan of every user per conversation.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT r.id, u.id, u.username FROM json_each('[' || ?1 || ']') j JOIN rooms r ON r.id = j.value "
      "JOIN users u ON u.id IN (CAST(substr(r.dm_key, 1, instr(r.dm_key, ':') - 1) AS INTEGER), "
      "CAST(substr(r.dm_key, instr(r.dm_key, ':') + 1) AS INTEGER)) WHERE u.id <> ?2"));
  s.Bind(1, dms).Bind(2, user_id);
  std::unordered_map<int64_t, User> peers;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    peers[s.Int(0)] = User{s.Int(1), s.Text(2)};
  }
  SetPeers(rooms, peers);
  return Status::Ok();
}

Result<Room> Store::LoadRoomView(const User& me, int64_t room_id) {
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, false));
  PARLEY_RETURN_IF_ERROR(FillView(a.room, me.id));
  return a.room;
}

Result<Room> Store::GetRoom(const User& me, int64_t room_id) { return LoadRoomView(me, room_id); }

Status Store::AppendMemberEvent(int64_t room_id, const User& user, Role role, MemberAction action,
                                std::optional<int64_t> muted_until) {
  // target_id: the user concerned hears of it even once no longer a member.
  auto id = AppendEvent("member", room_id, user.id, Audience::kRoom,
                        MemberEventData(room_id, user, role, action, muted_until));
  return id.status();
}

Status Store::AddMember(int64_t room_id, const User& user, Role role, MemberAction action, MemberEntry entry) {
  // Every way into a room (join, invite, DM, a new user's `general`) passes
  // here, so a ban keeps its user out of all of them.
  PARLEY_RETURN_IF_ERROR(CheckNotBanned(room_id, user.id));
  const bool request = entry == MemberEntry::kRequest;
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "INSERT INTO members(room_id, user_id, role, joined_ts, request) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING"));
  s.Bind(1, room_id).Bind(2, user.id).Bind(3, ToString(role)).Bind(4, NowMs()).Bind(5, static_cast<int64_t>(request));
  PARLEY_RETURN_IF_ERROR(s.Exec());
  if (s.Changes() == 0) return Status::Ok();
  // Counted after the insert, so that a membership already held never
  // counts against its own return; the caller's rollback undoes the insert.
  PARLEY_RETURN_IF_ERROR(request ? DropOldestRequestPastCap(user) : CheckMemberships(user));
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> muted_until, TakeKeptMute(room_id, user.id));
  return AppendMemberEvent(room_id, user, role, action, muted_until);
}

Status Store::CheckMemberships(const User& user) {
  if (limits_.memberships_per_user <= 0) return Status::Ok();
  // Two index counts (members_user, and members_requests' partial index),
  // where a filter on request would read every row of the user's.
  PARLEY_ASSIGN_OR_RETURN(int64_t in, UsedByUser(db_,
      "SELECT (SELECT COUNT(*) FROM members WHERE user_id = ?1) - "
      "(SELECT COUNT(*) FROM members WHERE user_id = ?1 AND request = 1)", user.id));
  if (in > limits_.memberships_per_user) return MembershipLimitReached(user, limits_.memberships_per_user);
  return Status::Ok();
}

Status Store::DropOldestRequestPastCap(const User& user) {
  if (limits_.memberships_per_user <= 0) return Status::Ok();
  PARLEY_ASSIGN_OR_RETURN(int64_t requests, UsedByUser(db_,
      "SELECT COUNT(*) FROM members WHERE user_id = ? AND request = 1", user.id));
  if (requests <= limits_.memberships_per_user) return Status::Ok();
  // The new one is the newest (its DM's id the highest of its millisecond).
  int64_t room_id = 0;
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "SELECT room_id FROM members WHERE user_id = ? AND request = 1 ORDER BY joined_ts, room_id LIMIT 1"));
    s.Bind(1, user.id);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Status::Internal("a request counted but not found");
    room_id = s.Int(0);
  }
  PARLEY_RETURN_IF_ERROR(RemoveMember(room_id, user.id));
  return AppendMemberEvent(room_id, user, Role::kMember, MemberAction::kLeft);
}

Status Store::AnswerRequest(int64_t room_id, const User& user) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "UPDATE members SET request = 0 WHERE room_id = ? AND user_id = ? AND request = 1"));
  s.Bind(1, room_id).Bind(2, user.id);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  if (s.Changes() == 0) return Status::Ok();
  return CheckMemberships(user);
}

// Migration 017: the mute a member had when their row was deleted, back in
// their new row while it runs. The kept row goes either way: once expired
// it is of no use.
Result<std::optional<int64_t>> Store::TakeKeptMute(int64_t room_id, int64_t user_id) {
  std::optional<int64_t> until;
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "DELETE FROM kept_mutes WHERE room_id = ? AND user_id = ? RETURNING muted_until"));
    s.Bind(1, room_id).Bind(2, user_id);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row && s.Int(0) > NowMs()) until = s.Int(0);
  }
  if (!until) return until;
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "UPDATE members SET muted_until = ? WHERE room_id = ? AND user_id = ?"));
  s.Bind(1, until).Bind(2, room_id).Bind(3, user_id);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  return until;
}

Status Store::RemoveMember(int64_t room_id, int64_t user_id) {
  const int64_t now = NowMs();
  {
    // From the row about to go. A kept row already there (none should be,
    // while its user is a member) gives way to the member's own mute.
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO kept_mutes(room_id, user_id, muted_until) SELECT room_id, user_id, muted_until FROM members "
        "WHERE room_id = ?1 AND user_id = ?2 AND muted_until > ?3 "
        "ON CONFLICT(room_id, user_id) DO UPDATE SET muted_until = excluded.muted_until"));
    s.Bind(1, room_id).Bind(2, user_id).Bind(3, now);
    PARLEY_RETURN_IF_ERROR(s.Exec());
    if (s.Changes() > 0) {
      // Writing one prunes the room's expired ones: a range of the key.
      PARLEY_ASSIGN_OR_RETURN(Statement p, db_.Prepare(
          "DELETE FROM kept_mutes WHERE room_id = ? AND muted_until <= ?"));
      p.Bind(1, room_id).Bind(2, now);
      PARLEY_RETURN_IF_ERROR(p.Exec());
    }
  }
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("DELETE FROM members WHERE room_id = ? AND user_id = ?"));
  s.Bind(1, room_id).Bind(2, user_id);
  return s.Exec();
}

// The columns of a member object (DESIGN section 3.1), for ReadMember; a
// mute that has run out is shown as none.
constexpr const char* kMemberSelect =
    "SELECT u.id, u.username, m.role, r.owner_id IS m.user_id, "
    "EXISTS(SELECT 1 FROM presence p WHERE p.user_id = m.user_id), m.moderator, "
    "CASE WHEN m.muted_until > ?3 THEN m.muted_until END, "
    "COALESCE((SELECT rm.event_id FROM read_markers rm WHERE rm.user_id = m.user_id AND rm.room_id = m.room_id), 0) "
    "FROM members m JOIN users u ON u.id = m.user_id JOIN rooms r ON r.id = m.room_id ";

static Member ReadMember(const Statement& s) {
  Member m{User{s.Int(0), s.Text(1)}, ReadRole(s, 2), s.Int(3) != 0, s.Int(4) != 0, s.Int(5) != 0};
  if (!s.IsNull(6)) m.muted_until = s.Int(6);
  m.read_event_id = s.Int(7);
  return m;
}

Result<Member> Store::LoadMember(int64_t room_id, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string(kMemberSelect) +
                                                   "WHERE m.room_id = ?1 AND m.user_id = ?2"));
  s.Bind(1, room_id).Bind(2, user_id).Bind(3, NowMs());
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound("member_not_found", "that user is not a member of this room");
  return ReadMember(s);
}

Status Store::CheckRoomNameFree(const std::string& name, int64_t self) {
  // The index's expression (migration 025) and its WHERE: a search of
  // rooms_skeleton. A name only a DM has is free, as rooms_name has it.
  // The same name in another case first: it is told as such.
  static const std::string kLookalike = "SELECT lower(name) = lower(?1) FROM rooms WHERE " +
                                        RoomNameSkeletonSql("lower(name)") + " = " + RoomNameSkeletonSql("lower(?1)") +
                                        " AND kind <> 'dm' AND id <> ?2 ORDER BY 1 DESC LIMIT 1";
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(kLookalike));
  s.Bind(1, name).Bind(2, self);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? RoomNameLooksTaken(s.Int(0) != 0) : Status::Ok();
}

Result<Room> Store::CreateRoom(const User& me, const std::string& name, RoomKind kind,
                               std::optional<int64_t> answers_per_professor) {
  if (kind == RoomKind::kDm) {
    return Status::Invalid("invalid_field", "kind must be public, private or qa");
  }
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kCreateRoom));
  if (limits_.rooms_per_user > 0) {
    PARLEY_ASSIGN_OR_RETURN(int64_t owned, UsedByUser(db_, "SELECT COUNT(*) FROM rooms WHERE owner_id = ?", me.id));
    if (owned >= limits_.rooms_per_user) {
      return Status::Forbidden("room_limit_reached", "you already own " + std::to_string(owned) +
                                                         " rooms, the most one person may own");
    }
  }
  PARLEY_RETURN_IF_ERROR(CheckRoomNameFree(name, 0));
  Room room;
  room.name = name;
  room.kind = kind;
  room.owner = me;
  if (kind == RoomKind::kQa) room.answers_per_professor = answers_per_professor;
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO rooms(name, kind, owner_id, answers_per_professor, created_ts) VALUES (?,?,?,?,?) "
        "ON CONFLICT DO NOTHING"));
    s.Bind(1, name).Bind(2, ToString(kind)).Bind(3, me.id).Bind(4, room.answers_per_professor).Bind(5, NowMs());
    PARLEY_RETURN_IF_ERROR(s.Exec());
    if (s.Changes() == 0) return Status::Conflict("room_name_taken", "a room with that name exists");
    room.id = db_.LastInsertId();
  }
  // The owner of a classroom teaches in it. The member event comes first so
  // that a reader of the log knows the owner is in a private room before
  // the room event addressed to its members.
  Role role = kind == RoomKind::kQa ? Role::kProfessor : Role::kMember;
  PARLEY_RETURN_IF_ERROR(AddMember(room.id, me, role, MemberAction::kJoined));
  PARLEY_RETURN_IF_ERROR(
      AppendEvent("room", room.id, std::nullopt, RoomEventAudience(kind), RoomEventData(room)).status());
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return LoadRoomView(me, room.id);
}

Result<Room> Store::UpdateRoom(const User& me, int64_t room_id, const RoomUpdate& u) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kRoomEdit));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadModeratorAccess(me, room_id));
  Room r = a.room;
  if (ApplyRoomUpdate(r, u)) {
    if (r.name != a.room.name) PARLEY_RETURN_IF_ERROR(CheckRoomNameFree(r.name, room_id));
    // OR IGNORE: a name another room has (any ASCII case, the index's
    // NOCASE) leaves the row as it was, and nothing changed means 409.
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "UPDATE OR IGNORE rooms SET name = ?2, topic = NULLIF(?3, '') WHERE id = ?1"));
    s.Bind(1, room_id).Bind(2, r.name).Bind(3, r.topic);
    PARLEY_RETURN_IF_ERROR(s.Exec());
    if (s.Changes() == 0) return Status::Conflict("room_name_taken", "a room with that name exists");
    PARLEY_RETURN_IF_ERROR(
        AppendEvent("room", room_id, std::nullopt, RoomEventAudience(r.kind), RoomEventData(r)).status());
  }
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return LoadRoomView(me, room_id);
}

Result<Room> Store::Join(const User& me, int64_t room_id) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kJoin));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadRoomAccess(me.id, room_id));
  if (!a.role) {
    // An invitation, taken now, opens a private room; without one it stays
    // hidden (a DM never has one).
    PARLEY_ASSIGN_OR_RETURN(bool invited, DropInvitation(room_id, me.id));
    if (!invited) PARLEY_RETURN_IF_ERROR(CheckRoomAccess(a.room, false, false));
    PARLEY_RETURN_IF_ERROR(AddMember(room_id, me, DefaultRole(a.room.kind), MemberAction::kJoined));
  }
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return LoadRoomView(me, room_id);
}

Status Store::Leave(const User& me, int64_t room_id) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kLeave));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true));
  PARLEY_RETURN_IF_ERROR(RemoveMember(room_id, me.id));
  PARLEY_RETURN_IF_ERROR(AppendMemberEvent(room_id, me, *a.role, MemberAction::kLeft));
  return CommitWrite(*tx);
}

Result<MemberPage> Store::Members(const User& me, int64_t room_id, const UserPageQuery& q) {
  PARLEY_RETURN_IF_ERROR(LoadAccess(me.id, room_id, true).status());
  // One row more than asked tells whether there is a next page.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string(kMemberSelect) +
                                                   "WHERE m.room_id = ?1 AND m.user_id > ?2 "
                                                   "ORDER BY m.room_id, m.user_id LIMIT ?4"));
  s.Bind(1, room_id).Bind(2, q.after).Bind(3, NowMs()).Bind(4, q.limit + 1);
  MemberPage page;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    page.members.push_back(ReadMember(s));
  }
  page.next = TrimToPage(page.members, q.limit);
  return page;
}

Result<Member> Store::FindMember(const User& me, int64_t room_id, const std::string& username) {
  PARLEY_RETURN_IF_ERROR(LoadAccess(me.id, room_id, true).status());
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  return LoadMember(room_id, who->id);
}

Status Store::AdminSetOwner(int64_t room_id, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  // The operator sees every room: a private one its new owner is not in is
  // refused as any room is (member_not_found), not hidden as from a user.
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadRoomAccess(who->id, room_id));
  PARLEY_RETURN_IF_ERROR(CheckMayOwn(a.room, a.role.has_value(), *who));
  if (IsOwner(a.room, who->id)) return CommitWrite(*tx);
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("UPDATE rooms SET owner_id = ?2 WHERE id = ?1"));
  s.Bind(1, room_id).Bind(2, who->id);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  if (a.room.kind == RoomKind::kQa) PARLEY_RETURN_IF_ERROR(ApplyRole(room_id, *who, Role::kProfessor));
  a.room.owner = *who;
  PARLEY_RETURN_IF_ERROR(
      AppendEvent("room", room_id, std::nullopt, RoomEventAudience(a.room.kind), RoomEventData(a.room)).status());
  return CommitWrite(*tx);
}

Status Store::AdminSetRole(int64_t room_id, const std::string& username, Role role) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  PARLEY_RETURN_IF_ERROR(ApplyRole(room_id, *who, role));
  return CommitWrite(*tx);
}

Status Store::ApplyRole(int64_t room_id, const User& who, Role role) {
  RoomKind kind = RoomKind::kPublic;
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT kind FROM rooms WHERE id = ?"));
    s.Bind(1, room_id);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Status::NotFound("room_not_found", "no such room");
    kind = ReadKind(s, 0);
  }
  if (!RoleFitsKind(role, kind)) {
    return Status::Invalid("invalid_field", kind == RoomKind::kQa ? "role must be professor or student in a Q&A room"
                                                         : "role must be member outside Q&A rooms");
  }
  PARLEY_ASSIGN_OR_RETURN(Statement u, db_.Prepare(
      "UPDATE members SET role = ?3 WHERE room_id = ?1 AND user_id = ?2 AND role <> ?3"));
  u.Bind(1, room_id).Bind(2, who.id).Bind(3, ToString(role));
  PARLEY_RETURN_IF_ERROR(u.Exec());
  if (u.Changes() == 0) {
    PARLEY_ASSIGN_OR_RETURN(Member m, LoadMember(room_id, who.id));  // not a member: 404
    (void)m;
    return Status::Ok();  // already in that role
  }
  return AppendMemberEvent(room_id, who, role, MemberAction::kRole);
}

Result<std::pair<Room, bool>> Store::GetOrCreateDm(const User& me, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kDm));
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> peer, FindUser(username));
  if (!peer) return Status::NotFound("user_not_found", "no such user");
  if (peer->id == me.id) return Status::Invalid("invalid_field", "a direct conversation needs another person");
  PARLEY_RETURN_IF_ERROR(CheckNotBlocked(me.id, peer->id));
  int64_t lo = std::min(me.id, peer->id), hi = std::max(me.id, peer->id);
  std::string key = std::to_string(lo) + ":" + std::to_string(hi);
  int64_t room_id = 0;
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT id FROM rooms WHERE dm_key = ?"));
    s.Bind(1, key);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) room_id = s.Int(0);
  }
  bool created = room_id == 0;
  if (created) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO rooms(name, kind, owner_id, dm_key, created_ts) VALUES ('dm', 'dm', NULL, ?, ?)"));
    s.Bind(1, key).Bind(2, NowMs());
    PARLEY_RETURN_IF_ERROR(s.Exec());
    room_id = db_.LastInsertId();
    Room r;
    r.id = room_id;
    r.name = "dm";
    r.kind = RoomKind::kDm;
    // Member events first: a reader of the log (parley-events) learns who
    // is in the room before the room event that they must both receive.
    PARLEY_RETURN_IF_ERROR(AddMember(room_id, me, Role::kMember, MemberAction::kJoined));
    PARLEY_RETURN_IF_ERROR(AddMember(room_id, *peer, Role::kMember, MemberAction::kJoined, MemberEntry::kRequest));
    PARLEY_ASSIGN_OR_RETURN(int64_t ev,
                            AppendEvent("room", room_id, std::nullopt, Audience::kRoom, RoomEventData(r)));
    (void)ev;
  } else {
    // Asking again brings back the requester only: a peer who left stays
    // out (leaving is respected), and sends then reach the members alone.
    // The person a request was for, opening it, answers it.
    PARLEY_RETURN_IF_ERROR(AddMember(room_id, me, Role::kMember, MemberAction::kJoined));
    PARLEY_RETURN_IF_ERROR(AnswerRequest(room_id, me));
  }
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  PARLEY_ASSIGN_OR_RETURN(Room view, LoadRoomView(me, room_id));
  return std::make_pair(std::move(view), created);
}

// The room list walks my memberships (members_user) and orders them by the
// room's last_event_id, so its cost follows the number of rooms I am in
// (1,000 rooms: one index range and a sort of 1,000 rows), never the
// number of events. One statement for the page: the read marker and the
// unread counts are computed in the outer query, for the page's rooms only;
// then each room costs its last message (their details in one query per
// kind for the page: LastMessages) and a DM its peer.
Result<RoomListPage> Store::ListRoomsPage(const User& me, const RoomListQuery& q) {
  RoomListPage page;
  PARLEY_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(db_, Transaction::Mode::kRead));
  {
    // A block or unblock changes my mention counts in rooms where nothing
    // happened: after an event addressed to me alone, the catch-up lists
    // every room. Looked up once (not correlated), in events_target from the
    // cursor on, and only for a catch-up: CASE stops at a plain list's -1.
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        std::string("SELECT p.*, ") + kUnreadColumns + " FROM (SELECT " + kRoomColumns +
        ", m.role, m.notifications, m.request, " + kReadMarkerColumn + " FROM members m "
        "JOIN rooms r ON r.id = m.room_id LEFT JOIN users ou ON ou.id = r.owner_id "
        "WHERE m.user_id = ?1 AND r.last_event_id > (CASE WHEN ?2 < 0 THEN ?2 WHEN EXISTS (SELECT 1 FROM events e "
        "WHERE e.target_id = ?1 AND e.id > ?2 AND e.type = 'user' AND e.audience = 'room' AND e.room_id IS NULL) "
        "THEN -1 ELSE ?2 END) "
        "AND (r.last_event_id, r.id) < (?3, ?4) "
        "ORDER BY r.last_event_id DESC, r.id DESC LIMIT ?5) p ORDER BY p.last_event_id DESC, p.id DESC"));
    s.Bind(1, me.id).Bind(2, q.changed_since.value_or(-1));
    s.Bind(3, q.before ? q.before->last_event_id : INT64_MAX).Bind(4, q.before ? q.before->room_id : INT64_MAX);
    s.Bind(5, q.limit + 1);
    for (;;) {
      PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      page.rooms.push_back(ReadRoomView(s));
      ReadUnread(s, kRoleColumn + 3, page.rooms.back());
    }
  }
  if (static_cast<int>(page.rooms.size()) > q.limit) {
    page.rooms.pop_back();
    page.next = RoomCursor{page.rooms.back().last_event_id, page.rooms.back().id};
  }
  {
    std::vector<int64_t> ids;
    for (const Room& r : page.rooms) ids.push_back(r.id);
    PARLEY_ASSIGN_OR_RETURN(std::vector<Message> lasts, LastMessages(ids, me.id));
    // In the page's order, skipping rooms without a message.
    size_t next = 0;
    for (Room& r : page.rooms) {
      if (next < lasts.size() && lasts[next].room_id == r.id) {
        r.last_message = std::make_shared<const Message>(std::move(lasts[next++]));
      }
    }
    PARLEY_RETURN_IF_ERROR(FillPeers(page.rooms, me.id));
  }
  // The catch-up in one request: each room's latest page through History
  // as it is, inside this read transaction, so last_message and the page
  // agree; until the pages reach q.latest_bytes (store_rules.h).
  size_t latest_bytes = 0;
  for (const Room& r : page.rooms) {
    if (q.latest <= 0 || LatestBudgetSpent(latest_bytes, q)) break;
    PARLEY_ASSIGN_OR_RETURN(HistoryPage h, History(me, r.id, std::nullopt, std::nullopt, q.latest));
    latest_bytes += LatestPageBytes(r, h);
    page.latest.push_back(std::move(h));
  }
  if (q.latest > 0) EndAtLatestBudget(page);
  if (q.changed_since) {
    // Rooms I am no longer in whose member events about me that ended a
    // membership came after the cursor: events_target, bounded like a page
    // of the log. Only those: an invitation's events are addressed to me
    // too, and rooms I was only invited to, a thousand of them, pushed a
    // room I was kicked from out of the list. By room id, as on
    // PostgreSQL: without ORDER BY each engine's plan chose the order.
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "SELECT DISTINCT e.room_id FROM events e WHERE e.target_id = ?1 AND e.id > ?2 AND e.type = 'member' "
        "AND e.room_id IS NOT NULL AND json_extract(e.data, '$.action') IN " + MembershipEndingActionsSql() + " "
        "AND NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = e.room_id AND m.user_id = ?1) "
        "ORDER BY e.room_id LIMIT 1000"));
    s.Bind(1, me.id).Bind(2, *q.changed_since);
    for (;;) {
      PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      page.left.push_back(s.Int(0));
    }
  }
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return page;
}

Result<std::vector<Room>> Store::Directory(const User& me, const std::string& prefix, int limit) {
  // A range on rooms_name (NOCASE) as SearchUsers does, not LIKE with its
  // wildcards. That index is partial (kind <> 'dm'), and SQLite uses one
  // only when the WHERE names its condition as written: without it, every
  // room of the site was read and sorted (50,000: ~20 ms a directory).
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      std::string("SELECT ") + kRoomColumns + ", NULL, NULL, NULL FROM rooms r "
      "LEFT JOIN users ou ON ou.id = r.owner_id "
      "WHERE r.kind <> 'dm' AND r.kind IN ('public', 'qa') AND r.name >= ?2 COLLATE NOCASE "
      "AND r.name < ?2 || char(1114111) COLLATE NOCASE "
      "AND NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = r.id AND m.user_id = ?1) "
      "ORDER BY r.name COLLATE NOCASE LIMIT ?3"));
  s.Bind(1, me.id).Bind(2, prefix).Bind(3, limit);
  std::vector<Room> out;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadRoomView(s));
  }
  return out;
}

Result<Room> Store::SetNotifications(const User& me, int64_t room_id, NotifyLevel level) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  // A personal setting of the room, like the read marker: its bucket.
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kRead));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true));
  (void)a;
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "UPDATE members SET notifications = ?3 WHERE room_id = ?1 AND user_id = ?2"));
  s.Bind(1, room_id).Bind(2, me.id).Bind(3, ToString(level));
  PARLEY_RETURN_IF_ERROR(s.Exec());
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return LoadRoomView(me, room_id);
}

Result<int64_t> Store::MemberCount(int64_t room_id, int64_t cap) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT COUNT(*) FROM (SELECT 1 FROM members WHERE room_id = ?1 LIMIT ?2)"));
  s.Bind(1, room_id).Bind(2, cap);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

}  // namespace parley
