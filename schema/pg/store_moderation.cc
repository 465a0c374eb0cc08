// PgStore: running a community (DESIGN section 3.1) on PostgreSQL:
// moderators, mutes, kicks, bans, blocks, site admins, deactivation and
// passwords, with the rules, errors and events of SQLite's
// schema/store_moderation.cc (who may act on whom is explained there).
//
// Design note. SQLite's one writer serialised every check with the action
// it guards; here several pools act at once under READ COMMITTED, so each
// action locks what its checks read until COMMIT:
// - the actor's member row FOR SHARE (LockModerator): an owner who demotes
//   or kicks that moderator meanwhile holds it FOR UPDATE, so one of the
//   two waits, and the one that waited re-reads the committed row: a
//   moderator who was demoted a moment ago is refused, not obeyed;
// - the target's member row FOR UPDATE (LockTarget): a promotion to
//   moderator racing a moderator's kick is likewise ordered, and two
//   actions on one member apply one after the other;
// - a ban, the room row FOR NO KEY UPDATE (BanUser): every way into the
//   room takes it FOR SHARE before its ban check (AddMember), so a join or
//   an invite racing the ban either commits first, and the ban then removes
//   the member row it made, or waits and then finds the ban. The target's
//   member row cannot order them: one who is not a member yet has none.
// Rows are locked actor first, then target, then (a ban) the room, then the
// event counter (CommitEvents), and a moderator can act only on plain
// members, so two moderators never wait for each other in a cycle; should
// the owner and a moderator ever do (PostgreSQL detects it), one of them
// gets kUnavailable and may try again. The room comes after the member
// rows, as in UpdateRoom and Invite, which hold the actor's member row
// (FOR SHARE) when they take it: a ban of that actor holding the room and
// waiting for their row would deadlock with them. (AdminSetOwner, the
// operator's, takes the room first: only a hand-over to the very member
// being banned at that moment can meet a ban in a cycle.) Other actions
// only read the room row: its kind never changes, and its owner only by the
// operator (parleyctl set-owner, AdminSetOwner): an action that read the
// previous owner a moment before commits as that owner's, as if it had come
// first.
#include <vector>

#include "schema/json.h"
#include "schema/moderation.h"
#include "schema/pg/store.h"
#include "schema/store_rules.h"

namespace parley::pg {
namespace {

Event MemberStateEvent(int64_t room_id, int64_t user_id, std::string data,
                       Addressed addressed = Addressed::kRoomAndTarget) {
  Event e;
  e.ts = NowMs();
  e.type = "member";
  e.room_id = room_id;
  // target_id: the member hears of it even once removed (kicked, banned).
  if (addressed == Addressed::kRoomAndTarget) e.target_id = user_id;
  e.audience = Audience::kRoom;
  e.data = std::move(data);
  return e;
}

Event ModerationEvent(int64_t room_id, const Member& m, MemberAction action, const User& by,
                      const std::string* reason = nullptr, Addressed addressed = Addressed::kRoomAndTarget) {
  return MemberStateEvent(room_id, m.user.id, ModerationEventData(room_id, m, action, by, reason), addressed);
}

// The role change's event, Store::AppendMemberEvent's object.
Event RoleEvent(int64_t room_id, const User& user, Role role) {
  JsonWriter w;
  w.BeginObject().Key("room_id").Int(room_id).Key("user");
  Write(w, user);
  w.Key("role").String(ToString(role)).Key("action").String(ToString(MemberAction::kRole)).EndObject();
  return MemberStateEvent(room_id, user.id, w.Take());
}

// A `user` event addressed to `to` alone.
Event UserEvent(int64_t to, std::string data) {
  Event e;
  e.ts = NowMs();
  e.type = "user";
  e.target_id = to;
  e.audience = Audience::kRoom;
  e.data = std::move(data);
  return e;
}

// About the user, to them (deactivation, password).
Event AccountEvent(const User& who, const char* flag, bool value) {
  return UserEvent(who.id, AccountEventData(who, flag, value));
}

// To the blocker alone: the blocked person hears nothing.
Event BlockEvent(const User& me, const User& who, bool blocked) {
  return UserEvent(me.id, AccountEventData(who, "blocked", blocked));
}

}  // namespace

Result<PgStore::ModAccess> PgStore::LockModerator(const User& me, int64_t room_id, bool owner_only) {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT r.kind, r.owner_id, ou.username FROM rooms r "
                                                 "LEFT JOIN users ou ON ou.id = r.owner_id WHERE r.id = $1",
                                                 {room_id}));
  if (r.Rows() == 0) return Status::NotFound("room_not_found", "no such room");
  ModAccess a;
  a.room.id = room_id;
  a.room.kind = ParseRoomKind(r.Text(0, 0)).value_or(RoomKind::kPrivate);
  if (!r.IsNull(0, 1)) {
    PARLEY_ASSIGN_OR_RETURN(int64_t owner, r.Int(0, 1));
    a.room.owner = User{owner, r.Text(0, 2)};
  }
  PARLEY_ASSIGN_OR_RETURN(
      PgResult m, conn_.Exec("SELECT moderator FROM members WHERE room_id = $1 AND user_id = $2 FOR SHARE",
                             {room_id, me.id}));
  // LoadAccess's answers: private rooms and DMs are not revealed to outsiders.
  if (m.Rows() == 0) {
    if (a.room.kind == RoomKind::kPrivate || a.room.kind == RoomKind::kDm) {
      return Status::NotFound("room_not_found", "no such room");
    }
    return Status::Forbidden("not_a_member", "join the room first");
  }
  PARLEY_ASSIGN_OR_RETURN(int64_t moderator, m.Int(0, 0));
  a.moderator = moderator != 0;
  PARLEY_RETURN_IF_ERROR(CheckMayModerate(a.room, me.id, a.moderator, owner_only));
  return a;
}

Result<User> PgStore::LockTarget(const ModAccess& actor, const User& me, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  if (who->id == me.id) return Status::Forbidden("target_protected", "you cannot do that to yourself");
  if (IsOwner(actor.room, who->id)) return Status::Forbidden("target_protected", "nobody can act on the room's owner");
  PARLEY_ASSIGN_OR_RETURN(
      PgResult m, conn_.Exec("SELECT moderator FROM members WHERE room_id = $1 AND user_id = $2 FOR UPDATE",
                             {actor.room.id, who->id}));
  if (!IsOwner(actor.room, me.id) && m.Rows() == 1) {
    PARLEY_ASSIGN_OR_RETURN(int64_t moderator, m.Int(0, 0));
    if (moderator != 0) return Status::Forbidden("target_protected", "only the owner can act on another moderator");
  }
  return std::move(*who);
}

Result<Member> PgStore::LoadRoomMember(int64_t room_id, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r,
      conn_.Exec("SELECT u.id, u.username, m.role, (r.owner_id IS NOT DISTINCT FROM m.user_id)::int, "
                 "EXISTS(SELECT 1 FROM presence p WHERE p.user_id = m.user_id)::int, m.moderator, "
                 "CASE WHEN m.muted_until > $3 THEN m.muted_until END, "
                 "COALESCE((SELECT rm.event_id FROM read_markers rm "
                 "WHERE rm.user_id = m.user_id AND rm.room_id = m.room_id), 0) "
                 "FROM members m JOIN users u ON u.id = m.user_id JOIN rooms r ON r.id = m.room_id "
                 "WHERE m.room_id = $1 AND m.user_id = $2",
                 {room_id, user_id, NowMs()}));
  if (r.Rows() == 0) return Status::NotFound("member_not_found", "that user is not a member of this room");
  PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(0, 0));
  PARLEY_ASSIGN_OR_RETURN(int64_t owner, r.Int(0, 3));
  PARLEY_ASSIGN_OR_RETURN(int64_t online, r.Int(0, 4));
  PARLEY_ASSIGN_OR_RETURN(int64_t moderator, r.Int(0, 5));
  PARLEY_ASSIGN_OR_RETURN(int64_t read, r.Int(0, 7));
  Member m{User{id, r.Text(0, 1)}, ParseRole(r.Text(0, 2)).value_or(Role::kMember), owner != 0, online != 0,
           moderator != 0};
  m.muted_until = r.OptionalInt(0, 6);
  m.read_event_id = read;
  return m;
}

Status PgStore::ChangeMemberRole(int64_t room_id, RoomKind kind, const User& who, Role role,
                                 std::vector<Event>& events) {
  if (!RoleFitsKind(role, kind)) {
    return Status::Invalid("invalid_field", kind == RoomKind::kQa ? "role must be professor or student in a Q&A room"
                                                                  : "role must be member outside Q&A rooms");
  }
  PARLEY_ASSIGN_OR_RETURN(PgResult u, conn_.Exec("UPDATE members SET role = $3 "
                                                 "WHERE room_id = $1 AND user_id = $2 AND role <> $3",
                                                 {room_id, who.id, ToString(role)}));
  if (u.Affected() == 0) {
    PARLEY_ASSIGN_OR_RETURN(Member m, LoadRoomMember(room_id, who.id));  // not a member: 404
    (void)m;
    return Status::Ok();  // already in that role
  }
  events.push_back(RoleEvent(room_id, who, role));
  return Status::Ok();
}

Result<MemberUpdated> PgStore::UpdateMember(const User& me, int64_t room_id, const std::string& username,
                                            const MemberUpdate& u) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(ModAccess a, LockModerator(me, room_id, u.role || u.moderator));
  PARLEY_ASSIGN_OR_RETURN(User who, LockTarget(a, me, username));
  PARLEY_ASSIGN_OR_RETURN(UpdateTarget t, ResolveUpdateTarget(LoadRoomMember(room_id, who.id), who, a.room.kind, u,
                                                              [&] { return LockKeptMute(room_id, who.id); }));
  const Member& before = t.state;
  std::vector<Event> events;
  if (u.role) PARLEY_RETURN_IF_ERROR(ChangeMemberRole(room_id, a.room.kind, who, *u.role, events));
  if (u.moderator && *u.moderator != before.moderator) {
    PARLEY_RETURN_IF_ERROR(conn_
                               .Exec("UPDATE members SET moderator = $1 WHERE room_id = $2 AND user_id = $3",
                                     {int{*u.moderator}, room_id, who.id})
                               .status());
    PARLEY_ASSIGN_OR_RETURN(Member now, LoadRoomMember(room_id, who.id));
    events.push_back(ModerationEvent(room_id, now, MemberAction::kModerator, me));
  }
  if (u.mute) {
    std::optional<int64_t> until = MuteEnd(*u.mute, NowMs());
    if (until != before.muted_until) {
      PARLEY_RETURN_IF_ERROR(SetMute(room_id, t, until));
      // Out of the room: an unban's state, to the room and the user (SQLite's UpdateMember says why).
      t.state.muted_until = until;
      Member now = t.state;
      if (t.in_room) {
        PARLEY_ASSIGN_OR_RETURN(now, LoadRoomMember(room_id, who.id));
      }
      events.push_back(ModerationEvent(room_id, now, until ? MemberAction::kMuted : MemberAction::kUnmuted, me));
    }
  }
  PARLEY_RETURN_IF_ERROR(CommitEvents(*tx, events));
  return UpdatedAnswer(t, [&] { return LoadRoomMember(room_id, who.id); });
}

Result<std::optional<int64_t>> PgStore::LockKeptMute(int64_t room_id, int64_t user_id) {
  // FOR UPDATE: a return (AddMember) that takes the row waits for this
  // transaction and then takes the mute as it left it; one that took it
  // first leaves no row here, and the update answers 404 as for anyone out
  // of the room with no mute (a retry then finds the member).
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT muted_until FROM kept_mutes WHERE room_id = $1 AND user_id = $2 "
                             "AND muted_until > $3 FOR UPDATE",
                             {room_id, user_id, NowMs()}));
  if (r.Rows() == 0) return std::optional<int64_t>();
  return r.OptionalInt(0, 0);
}

Status PgStore::SetMute(int64_t room_id, const UpdateTarget& t, std::optional<int64_t> until) {
  // A member's mute lives in their row; an absent user's in kept_mutes,
  // where a lifted one leaves no row (migration 012).
  const int64_t user_id = t.state.user.id;
  if (!t.in_room && !until) {
    return conn_.Exec("DELETE FROM kept_mutes WHERE room_id = $1 AND user_id = $2", {room_id, user_id}).status();
  }
  const char* sql = t.in_room ? "UPDATE members SET muted_until = $3 WHERE room_id = $1 AND user_id = $2"
                              : "UPDATE kept_mutes SET muted_until = $3 WHERE room_id = $1 AND user_id = $2";
  return conn_.Exec(sql, {room_id, user_id, until}).status();
}

Status PgStore::Kick(const User& me, int64_t room_id, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(ModAccess a, LockModerator(me, room_id));
  PARLEY_ASSIGN_OR_RETURN(User who, LockTarget(a, me, username));
  Result<Member> member = LoadRoomMember(room_id, who.id);
  if (!member.ok()) {
    if (member.status().code() != Code::kNotFound) return member.status();
    std::vector<Event> events;
    PARLEY_RETURN_IF_ERROR(WithdrawInvitation(me, room_id, who, events));
    return CommitEvents(*tx, events);
  }
  Member m = std::move(*member);
  PARLEY_RETURN_IF_ERROR(RemoveMember(room_id, who.id).status());
  // As on SQLite: out, not a moderator; a running mute waits for the return.
  m.moderator = false;
  m.muted_until.reset();
  std::vector<Event> events = {ModerationEvent(room_id, m, MemberAction::kKicked, me)};
  return CommitEvents(*tx, events);
}

Status PgStore::BanUser(const User& me, int64_t room_id, const std::string& username, const std::string& reason) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(ModAccess a, LockModerator(me, room_id));
  PARLEY_ASSIGN_OR_RETURN(User who, LockTarget(a, me, username));
  // The room row, against every way in (design note): from here to COMMIT
  // no join or invite passes its ban check, and the ones that passed it
  // have committed, so the DELETE of RemoveMember (a later statement, a new
  // snapshot) finds the row they made. FOR NO KEY UPDATE: a send's foreign
  // key lock (FOR KEY SHARE) on the room does not wait for it.
  PARLEY_RETURN_IF_ERROR(conn_.Exec("SELECT 1 FROM rooms WHERE id = $1 FOR NO KEY UPDATE", {room_id}).status());
  PARLEY_ASSIGN_OR_RETURN(PgResult ins, conn_.Exec("INSERT INTO bans (room_id, user_id, reason, banned_by, ts) "
                                                   "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                                                   {room_id, who.id, reason, me.id, NowMs()}));
  if (ins.Affected() == 0) return Status::Ok();  // already banned: no second event
  // A pending invitation goes quietly, as on SQLite.
  PARLEY_RETURN_IF_ERROR(DropInvitation(room_id, who.id).status());
  Member m{who, DefaultRole(a.room.kind)};
  auto current = LoadRoomMember(room_id, who.id);
  if (current.ok()) m.role = current->role;
  PARLEY_RETURN_IF_ERROR(RemoveMember(room_id, who.id).status());
  std::vector<Event> events = {
      ModerationEvent(room_id, m, MemberAction::kBanned, me, &reason, BanAddressed(current.ok()))};
  return CommitEvents(*tx, events);
}

Status PgStore::Unban(const User& me, int64_t room_id, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(ModAccess a, LockModerator(me, room_id));
  PARLEY_ASSIGN_OR_RETURN(User who, LockTarget(a, me, username));
  PARLEY_ASSIGN_OR_RETURN(PgResult del,
                          conn_.Exec("DELETE FROM bans WHERE room_id = $1 AND user_id = $2", {room_id, who.id}));
  if (del.Affected() == 0) return Status::Ok();  // not banned: nothing happened, no event
  Member m{who, DefaultRole(a.room.kind)};
  std::vector<Event> events = {ModerationEvent(room_id, m, MemberAction::kUnbanned, me, nullptr, Addressed::kRoom)};
  return CommitEvents(*tx, events);
}

Result<BanPage> PgStore::Bans(const User& me, int64_t room_id, const UserPageQuery& q) {
  // One transaction, so the moderator check's row lock ends at its COMMIT.
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(ModAccess a, LockModerator(me, room_id));
  (void)a;
  // In user id order through the primary key, as on SQLite.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("SELECT u.id, u.username, b.reason, bu.id, bu.username, b.ts FROM bans b "
                             "JOIN users u ON u.id = b.user_id LEFT JOIN users bu ON bu.id = b.banned_by "
                             "WHERE b.room_id = $1 AND b.user_id > $2 ORDER BY b.room_id, b.user_id LIMIT $3",
                             {room_id, q.after, q.limit + 1}));
  BanPage page;
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(i, 0));
    Ban b{User{id, r.Text(i, 1)}, r.Text(i, 2)};
    if (!r.IsNull(i, 3)) {
      PARLEY_ASSIGN_OR_RETURN(int64_t by, r.Int(i, 3));
      b.by = User{by, r.Text(i, 4)};
    }
    PARLEY_ASSIGN_OR_RETURN(b.ts, r.Int(i, 5));
    page.bans.push_back(std::move(b));
  }
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  page.next = TrimToPage(page.bans, q.limit);
  return page;
}

Status PgStore::Block(const User& me, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  if (who->id == me.id) return Status::Invalid("invalid_field", "you cannot block yourself");
  // My row, against an invitation of me racing this (Invite holds it FOR
  // SHARE): it commits first and the DELETE below finds it, or it waits
  // and then finds the block.
  PARLEY_RETURN_IF_ERROR(conn_.Exec("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", {me.id}).status());
  PARLEY_ASSIGN_OR_RETURN(PgResult b, conn_.Exec("INSERT INTO blocks (blocker_id, blocked_id, ts) VALUES ($1, $2, $3) "
                                                 "ON CONFLICT DO NOTHING",
                                                 {me.id, who->id, NowMs()}));
  if (b.Affected() == 0) return Status::Ok();  // blocked already: no event
  // As on SQLite: counted after the insert, which rolls back with the
  // transaction. Two blocks of one user committing at once may pass the
  // limit by one each: a bound, not an exact count.
  PARLEY_ASSIGN_OR_RETURN(PgResult n, conn_.Exec("SELECT COUNT(*) FROM (SELECT 1 FROM blocks WHERE blocker_id = $1 "
                                                 "LIMIT $2) c",
                                                 {me.id, kMaxBlocks + 1}));
  PARLEY_ASSIGN_OR_RETURN(int64_t count, n.Int(0, 0));
  if (count > kMaxBlocks) return BlockLimitReached();
  // Their pending invitations to me go, quietly, as on SQLite.
  PARLEY_RETURN_IF_ERROR(
      conn_.Exec("DELETE FROM invitations WHERE user_id = $1 AND by_id = $2", {me.id, who->id}).status());
  std::vector<Event> events = {BlockEvent(me, *who, true)};
  return CommitEvents(*tx, events);
}

Status PgStore::Unblock(const User& me, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  PARLEY_ASSIGN_OR_RETURN(PgResult b,
                          conn_.Exec("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2", {me.id, who->id}));
  if (b.Affected() == 0) return Status::Ok();
  std::vector<Event> events = {BlockEvent(me, *who, false)};
  return CommitEvents(*tx, events);
}

Result<BlockPage> PgStore::Blocks(const User& me, const UserPageQuery& q) {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT u.id, u.username FROM blocks b "
                                                 "JOIN users u ON u.id = b.blocked_id "
                                                 "WHERE b.blocker_id = $1 AND b.blocked_id > $2 "
                                                 "ORDER BY b.blocker_id, b.blocked_id LIMIT $3",
                                                 {me.id, q.after, q.limit + 1}));
  BlockPage page;
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(i, 0));
    page.blocks.push_back(User{id, r.Text(i, 1)});
  }
  page.next = TrimToPage(page.blocks, q.limit);
  return page;
}

Result<bool> PgStore::IsAdmin(int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT admin FROM users WHERE id = $1", {user_id}));
  if (r.Rows() == 0) return false;
  PARLEY_ASSIGN_OR_RETURN(int64_t admin, r.Int(0, 0));
  return admin != 0;
}

Result<std::vector<AccountInfo>> PgStore::AdminListUsers(const std::string& prefix, int limit) {
  // A LIKE prefix with the pattern's wildcards escaped, on lower(username)
  // (the text_pattern_ops index of 002); the order is SQLite's NOCASE one,
  // bytes of the lowered name.
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r,
      conn_.Exec("SELECT id, username, admin, deactivated FROM users WHERE lower(username) LIKE "
                 "replace(replace(replace(lower($1), '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%' "
                 "ORDER BY lower(username) COLLATE \"C\" LIMIT $2",
                 {prefix, limit}));
  std::vector<AccountInfo> out;
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(i, 0));
    PARLEY_ASSIGN_OR_RETURN(int64_t admin, r.Int(i, 2));
    PARLEY_ASSIGN_OR_RETURN(int64_t deactivated, r.Int(i, 3));
    out.push_back(AccountInfo{User{id, r.Text(i, 1)}, admin != 0, deactivated != 0});
  }
  return out;
}

Status PgStore::SetDeactivated(const User& me, const std::string& username, bool deactivated) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  // The admin flag is held (FOR SHARE) to COMMIT: a revocation racing this
  // waits, or this sees it.
  PARLEY_ASSIGN_OR_RETURN(PgResult admin, conn_.Exec("SELECT admin FROM users WHERE id = $1 FOR SHARE", {me.id}));
  int64_t is_admin = 0;
  if (admin.Rows() == 1) {
    PARLEY_ASSIGN_OR_RETURN(is_admin, admin.Int(0, 0));
  }
  if (is_admin == 0) return Status::Forbidden("not_admin", "only a site admin can do that");
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  if (who->id == me.id && deactivated) return Status::Invalid("invalid_field", "you cannot deactivate yourself");
  PARLEY_ASSIGN_OR_RETURN(PgResult u, conn_.Exec("UPDATE users SET deactivated = $1 WHERE id = $2 AND deactivated <> $1",
                                                 {int{deactivated}, who->id}));
  if (u.Affected() == 0) return Status::Ok();
  if (deactivated) {
    PARLEY_RETURN_IF_ERROR(conn_.Exec("DELETE FROM sessions WHERE user_id = $1", {who->id}).status());
  }
  // Addressed to the user alone: parley-events closes their connections as
  // it passes (Fanout::ApplyAccount), instead of at its next session check.
  std::vector<Event> events = {AccountEvent(*who, "deactivated", deactivated)};
  return CommitEvents(*tx, events);
}

Status PgStore::SetAdmin(const std::string& username, bool admin) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult u, conn_.Exec("UPDATE users SET admin = $1 WHERE lower(username) = lower($2)", {int{admin}, username}));
  if (u.Affected() == 0) return Status::NotFound("user_not_found", "no such user");
  return Status::Ok();
}

Status PgStore::SetPassword(int64_t user_id, const std::string& pw_hash, const std::string& keep_token_hash) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(PgResult u, conn_.Exec("UPDATE users SET pw_hash = $1 WHERE id = $2 RETURNING username",
                                                 {pw_hash, user_id}));
  if (u.Rows() == 0) return Status::NotFound("user_not_found", "no such user");
  User who{user_id, u.Text(0, 0)};
  // NULL (keep nothing) is distinct from every stored hash.
  std::optional<std::string> keep;
  if (!keep_token_hash.empty()) keep = HexOf(keep_token_hash);
  PARLEY_RETURN_IF_ERROR(conn_
                             .Exec("DELETE FROM sessions WHERE user_id = $1 "
                                   "AND token_hash IS DISTINCT FROM decode($2, 'hex')",
                                   {user_id, keep})
                             .status());
  // Addressed to the user alone, as a deactivation is: parley-events closes
  // the connections whose session this transaction ended as it passes the
  // event (Fanout::ApplyAccount); the session that changed the password keeps its.
  std::vector<Event> events = {AccountEvent(who, "password_changed", true)};
  return CommitEvents(*tx, events);
}

}  // namespace parley::pg
