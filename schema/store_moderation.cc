// Store: running a community (DESIGN section 3.1): moderators, mutes,
// kicks, bans, blocks, site admins, deactivation and passwords.
//
// Design note. Every rule is checked inside the BEGIN IMMEDIATE
// transaction of the action, and every action appends its event there, so
// the log is the order of record: two moderators banning and unbanning at
// once are serialised by SQLite's one writer and the last event is the
// state; a send racing a ban either committed before the ban event (it is
// earlier in the log) or finds the member gone and is refused. The checks
// that other writes need live with those writes: bans in AddMember (every
// way into a room), mutes and DM blocks in every way of speaking (Send,
// Answer, Edit, adding a reaction, typing: CheckMaySpeak).
//
// A mute runs until its time even if the member leaves or is removed
// (kicked, banned) and comes back: RemoveMember keeps a mute still running
// in kept_mutes (migration 017) and AddMember, every way back in, takes it
// into the new members row, where Send's check reads it as before. While
// they are out, the owner or a moderator changes or lifts the kept mute
// through UpdateMember, as a member's (the same checks, the same event), so
// that a mute set by mistake and followed by a kick can be undone before the
// return; nothing else of a non-member can be updated (404 member_not_found).
//
// Who may act on whom (Matrix's power levels, reduced to three): the owner
// on anyone but themselves; a moderator on plain members only; nobody else
// on anyone (403 not_moderator).
#include "schema/store.h"

#include "schema/moderation.h"

namespace parley {

Status Store::CheckNotBanned(int64_t room_id, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT 1 FROM bans WHERE room_id = ? AND user_id = ?"));
  s.Bind(1, room_id).Bind(2, user_id);
  PARLEY_ASSIGN_OR_RETURN(bool banned, s.Step());
  if (banned) return Status::Forbidden("banned", "that user is banned from this room");
  return Status::Ok();
}

Status Store::CheckNotBlocked(int64_t from_id, int64_t to_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?"));
  s.Bind(1, to_id).Bind(2, from_id);
  PARLEY_ASSIGN_OR_RETURN(bool blocked, s.Step());
  if (blocked) return Status::Forbidden("blocked", "that person does not accept messages or invitations from you");
  return Status::Ok();
}

Status Store::CheckDmNotBlocked(const User& me, int64_t room_id) {
  // dm_key is "lowid:highid" (001); the other id is the peer.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT 1 FROM rooms r JOIN blocks b ON b.blocked_id = ?2 "
      "AND r.dm_key IN (b.blocker_id || ':' || ?2, ?2 || ':' || b.blocker_id) WHERE r.id = ?1"));
  s.Bind(1, room_id).Bind(2, me.id);
  PARLEY_ASSIGN_OR_RETURN(bool blocked, s.Step());
  if (blocked) return Status::Forbidden("blocked", "that person does not accept messages from you");
  return Status::Ok();
}

Result<Store::Access> Store::LoadModeratorAccess(const User& me, int64_t room_id, bool owner_only) {
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true));
  PARLEY_RETURN_IF_ERROR(CheckMayModerate(a.room, me.id, a.moderator, owner_only));
  return a;
}

Result<User> Store::LoadTarget(const Access& actor, const User& me, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  if (who->id == me.id) return Status::Forbidden("target_protected", "you cannot do that to yourself");
  if (IsOwner(actor.room, who->id)) return Status::Forbidden("target_protected", "nobody can act on the room's owner");
  if (!IsOwner(actor.room, me.id)) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "SELECT moderator FROM members WHERE room_id = ? AND user_id = ?"));
    s.Bind(1, actor.room.id).Bind(2, who->id);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row && s.Int(0) != 0) {
      return Status::Forbidden("target_protected", "only the owner can act on another moderator");
    }
  }
  return std::move(*who);
}

Status Store::AppendModerationEvent(int64_t room_id, const Member& m, MemberAction action, const User& by,
                                    const std::string* reason, Addressed addressed) {
  // target_id: the member hears of it even once removed (kicked, banned).
  const std::optional<int64_t> target =
      addressed == Addressed::kRoomAndTarget ? std::optional<int64_t>(m.user.id) : std::nullopt;
  auto id = AppendEvent("member", room_id, target, Audience::kRoom,
                        ModerationEventData(room_id, m, action, by, reason));
  return id.status();
}

Result<MemberUpdated> Store::UpdateMember(const User& me, int64_t room_id, const std::string& username,
                                          const MemberUpdate& u) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadModeratorAccess(me, room_id, u.role || u.moderator));
  PARLEY_ASSIGN_OR_RETURN(User who, LoadTarget(a, me, username));
  PARLEY_ASSIGN_OR_RETURN(UpdateTarget t, ResolveUpdateTarget(LoadMember(room_id, who.id), who, a.room.kind, u, [&] {
                            return LoadKeptMute(room_id, who.id);
                          }));
  const Member& before = t.state;
  if (u.role) PARLEY_RETURN_IF_ERROR(ApplyRole(room_id, who, *u.role));
  if (u.moderator && *u.moderator != before.moderator) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "UPDATE members SET moderator = ? WHERE room_id = ? AND user_id = ?"));
    s.Bind(1, int64_t{*u.moderator}).Bind(2, room_id).Bind(3, who.id);
    PARLEY_RETURN_IF_ERROR(s.Exec());
    PARLEY_ASSIGN_OR_RETURN(Member now, LoadMember(room_id, who.id));
    PARLEY_RETURN_IF_ERROR(AppendModerationEvent(room_id, now, MemberAction::kModerator, me));
  }
  if (u.mute) {
    std::optional<int64_t> until = MuteEnd(*u.mute, NowMs());
    if (until != before.muted_until) {
      PARLEY_RETURN_IF_ERROR(SetMute(room_id, t, until));
      // Out of the room, the event says so as an unban's does (the room's
      // default role, no moderator), to the room and to the user: the log
      // stays the order of record of every moderation action.
      t.state.muted_until = until;
      Member now = t.state;
      if (t.in_room) {
        PARLEY_ASSIGN_OR_RETURN(now, LoadMember(room_id, who.id));
      }
      PARLEY_RETURN_IF_ERROR(
          AppendModerationEvent(room_id, now, until ? MemberAction::kMuted : MemberAction::kUnmuted, me));
    }
  }
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return UpdatedAnswer(t, [&] { return LoadMember(room_id, who.id); });
}

Result<std::optional<int64_t>> Store::LoadKeptMute(int64_t room_id, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT muted_until FROM kept_mutes WHERE room_id = ? AND user_id = ? AND muted_until > ?"));
  s.Bind(1, room_id).Bind(2, user_id).Bind(3, NowMs());
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(s.Int(0));
}

Status Store::SetMute(int64_t room_id, const UpdateTarget& t, std::optional<int64_t> until) {
  // A member's mute lives in their row; an absent user's in kept_mutes,
  // where a lifted one leaves no row (migration 017: a row there is a mute
  // that still runs, or one about to be pruned).
  const int64_t user_id = t.state.user.id;
  if (!t.in_room && !until) {
    PARLEY_ASSIGN_OR_RETURN(Statement d, db_.Prepare("DELETE FROM kept_mutes WHERE room_id = ? AND user_id = ?"));
    d.Bind(1, room_id).Bind(2, user_id);
    return d.Exec();
  }
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      t.in_room ? "UPDATE members SET muted_until = ? WHERE room_id = ? AND user_id = ?"
                : "UPDATE kept_mutes SET muted_until = ? WHERE room_id = ? AND user_id = ?"));
  s.Bind(1, until).Bind(2, room_id).Bind(3, user_id);
  return s.Exec();
}

Status Store::Kick(const User& me, int64_t room_id, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadModeratorAccess(me, room_id));
  PARLEY_ASSIGN_OR_RETURN(User who, LoadTarget(a, me, username));
  Result<Member> member = LoadMember(room_id, who.id);
  if (!member.ok()) {
    if (member.status().code() != Code::kNotFound) return member.status();
    PARLEY_RETURN_IF_ERROR(WithdrawInvitation(me, room_id, who));
    return CommitWrite(*tx);
  }
  Member m = std::move(*member);
  PARLEY_RETURN_IF_ERROR(RemoveMember(room_id, who.id));
  // The member's state after the kick: out, and not a moderator; a mute
  // still running waits for their return (RemoveMember).
  m.moderator = false;
  m.muted_until.reset();
  PARLEY_RETURN_IF_ERROR(AppendModerationEvent(room_id, m, MemberAction::kKicked, me));
  return CommitWrite(*tx);
}

Status Store::BanUser(const User& me, int64_t room_id, const std::string& username, const std::string& reason) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadModeratorAccess(me, room_id));
  PARLEY_ASSIGN_OR_RETURN(User who, LoadTarget(a, me, username));
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO bans(room_id, user_id, reason, banned_by, ts) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING"));
    s.Bind(1, room_id).Bind(2, who.id).Bind(3, reason).Bind(4, me.id).Bind(5, NowMs());
    PARLEY_RETURN_IF_ERROR(s.Exec());
    if (s.Changes() == 0) return Status::Ok();  // already banned: no second event
  }
  // A pending invitation goes quietly: its invitee hears nothing of a ban
  // of someone not in the room (BanAddressed), and joining says 403 banned.
  PARLEY_RETURN_IF_ERROR(DropInvitation(room_id, who.id).status());
  Member m{who, a.room.kind == RoomKind::kQa ? Role::kStudent : Role::kMember};
  auto current = LoadMember(room_id, who.id);
  if (current.ok()) m.role = current->role;
  PARLEY_RETURN_IF_ERROR(RemoveMember(room_id, who.id));
  PARLEY_RETURN_IF_ERROR(AppendModerationEvent(room_id, m, MemberAction::kBanned, me, &reason,
                                               BanAddressed(current.ok())));
  return CommitWrite(*tx);
}

Status Store::Unban(const User& me, int64_t room_id, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadModeratorAccess(me, room_id));
  PARLEY_ASSIGN_OR_RETURN(User who, LoadTarget(a, me, username));
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("DELETE FROM bans WHERE room_id = ? AND user_id = ?"));
  s.Bind(1, room_id).Bind(2, who.id);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  if (s.Changes() == 0) return Status::Ok();  // not banned: nothing happened, no event
  Member m{who, a.room.kind == RoomKind::kQa ? Role::kStudent : Role::kMember};
  PARLEY_RETURN_IF_ERROR(AppendModerationEvent(room_id, m, MemberAction::kUnbanned, me, nullptr, Addressed::kRoom));
  return CommitWrite(*tx);
}

Result<BanPage> Store::Bans(const User& me, int64_t room_id, const UserPageQuery& q) {
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadModeratorAccess(me, room_id));
  (void)a;
  // In user id order through the primary key; one row more than asked
  // tells whether there is a next page.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT u.id, u.username, b.reason, bu.id, bu.username, b.ts FROM bans b JOIN users u ON u.id = b.user_id "
      "LEFT JOIN users bu ON bu.id = b.banned_by WHERE b.room_id = ?1 AND b.user_id > ?2 "
      "ORDER BY b.room_id, b.user_id LIMIT ?3"));
  s.Bind(1, room_id).Bind(2, q.after).Bind(3, q.limit + 1);
  BanPage page;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    Ban b{User{s.Int(0), s.Text(1)}, s.Text(2)};
    if (!s.IsNull(3)) b.by = User{s.Int(3), s.Text(4)};
    b.ts = s.Int(5);
    page.bans.push_back(std::move(b));
  }
  page.next = TrimToPage(page.bans, q.limit);
  return page;
}

// A `user` event addressed to `to` alone (as PostgreSQL's UserEvent).
Status Store::AppendUserEvent(int64_t to, const std::string& data) {
  return AppendEvent("user", std::nullopt, to, Audience::kRoom, data).status();
}

Status Store::Block(const User& me, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  if (who->id == me.id) return Status::Invalid("invalid_field", "you cannot block yourself");
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "INSERT INTO blocks(blocker_id, blocked_id, ts) VALUES (?,?,?) ON CONFLICT DO NOTHING"));
  s.Bind(1, me.id).Bind(2, who->id).Bind(3, NowMs());
  PARLEY_RETURN_IF_ERROR(s.Exec());
  if (s.Changes() == 0) return Status::Ok();  // blocked already: no event
  // Counted after the insert, so a repeat at the limit is still a 204; the
  // insert rolls back with the transaction.
  PARLEY_ASSIGN_OR_RETURN(Statement n, db_.Prepare(
      "SELECT COUNT(*) FROM (SELECT 1 FROM blocks WHERE blocker_id = ? LIMIT ?)"));
  n.Bind(1, me.id).Bind(2, kMaxBlocks + 1);
  PARLEY_ASSIGN_OR_RETURN(bool row, n.Step());
  if (row && n.Int(0) > kMaxBlocks) return BlockLimitReached();
  // Their pending invitations to me go, quietly (the blocked person hears
  // nothing); my devices refetch my invitations on the block's event.
  PARLEY_ASSIGN_OR_RETURN(Statement d, db_.Prepare("DELETE FROM invitations WHERE user_id = ? AND by_id = ?"));
  d.Bind(1, me.id).Bind(2, who->id);
  PARLEY_RETURN_IF_ERROR(d.Exec());
  PARLEY_RETURN_IF_ERROR(AppendUserEvent(me.id, AccountEventData(*who, "blocked", true)));
  return CommitWrite(*tx);
}

Status Store::Unblock(const User& me, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?"));
  s.Bind(1, me.id).Bind(2, who->id);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  if (s.Changes() == 0) return Status::Ok();
  PARLEY_RETURN_IF_ERROR(AppendUserEvent(me.id, AccountEventData(*who, "blocked", false)));
  return CommitWrite(*tx);
}

Result<BlockPage> Store::Blocks(const User& me, const UserPageQuery& q) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT u.id, u.username FROM blocks b JOIN users u ON u.id = b.blocked_id "
      "WHERE b.blocker_id = ?1 AND b.blocked_id > ?2 ORDER BY b.blocker_id, b.blocked_id LIMIT ?3"));
  s.Bind(1, me.id).Bind(2, q.after).Bind(3, q.limit + 1);
  BlockPage page;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    page.blocks.push_back(User{s.Int(0), s.Text(1)});
  }
  page.next = TrimToPage(page.blocks, q.limit);
  return page;
}

Result<bool> Store::IsAdmin(int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT admin FROM users WHERE id = ?"));
  s.Bind(1, user_id);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  return row && s.Int(0) != 0;
}

Result<std::vector<AccountInfo>> Store::AdminListUsers(const std::string& prefix, int limit) {
  // Range scan on the NOCASE unique index instead of LIKE, whose wildcards
  // ('%', '_') would have to be escaped from user input.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT id, username, admin, deactivated FROM users WHERE username >= ?1 AND username < ?1 || char(1114111) "
      "ORDER BY username LIMIT ?2"));
  s.Bind(1, prefix).Bind(2, limit);
  std::vector<AccountInfo> out;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(AccountInfo{User{s.Int(0), s.Text(1)}, s.Int(2) != 0, s.Int(3) != 0});
  }
  return out;
}

Status Store::SetDeactivated(const User& me, const std::string& username, bool deactivated) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kModerate));
  PARLEY_ASSIGN_OR_RETURN(bool admin, IsAdmin(me.id));
  if (!admin) return Status::Forbidden("not_admin", "only a site admin can do that");
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  if (who->id == me.id && deactivated) return Status::Invalid("invalid_field", "you cannot deactivate yourself");
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "UPDATE users SET deactivated = ?1 WHERE id = ?2 AND deactivated <> ?1"));
  s.Bind(1, int64_t{deactivated}).Bind(2, who->id);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  if (s.Changes() == 0) return Status::Ok();
  if (deactivated) {
    PARLEY_ASSIGN_OR_RETURN(Statement d, db_.Prepare("DELETE FROM sessions WHERE user_id = ?"));
    d.Bind(1, who->id);
    PARLEY_RETURN_IF_ERROR(d.Exec());
  }
  // Addressed to the user alone: parley-events closes their connections as
  // it passes (Fanout::ApplyAccount), instead of at its next session check.
  PARLEY_RETURN_IF_ERROR(AppendUserEvent(who->id, AccountEventData(*who, "deactivated", deactivated)));
  return CommitWrite(*tx);
}

Status Store::SetAdmin(const std::string& username, bool admin) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("UPDATE users SET admin = ? WHERE username = ?"));
  s.Bind(1, int64_t{admin}).Bind(2, username);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  if (s.Changes() == 0) return Status::NotFound("user_not_found", "no such user");
  return CommitWrite(*tx);
}

Status Store::SetPassword(int64_t user_id, const std::string& pw_hash, const std::string& keep_token_hash) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  User who{user_id, ""};
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT username FROM users WHERE id = ?"));
    s.Bind(1, user_id);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Status::NotFound("user_not_found", "no such user");
    who.username = s.Text(0);
  }
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("UPDATE users SET pw_hash = ? WHERE id = ?"));
    s.Bind(1, pw_hash).Bind(2, user_id);
    PARLEY_RETURN_IF_ERROR(s.Exec());
  }
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2"));
    s.Bind(1, user_id);
    if (keep_token_hash.empty()) {
      s.BindNull(2);
    } else {
      s.BindBlob(2, keep_token_hash);
    }
    PARLEY_RETURN_IF_ERROR(s.Exec());
  }
  // Addressed to the user alone, as a deactivation is: parley-events closes
  // the connections whose session this transaction ended as it passes the
  // event (Fanout::ApplyAccount), instead of at its next session check
  // (revoke_check_s, 3 s); the session that changed the password keeps its.
  PARLEY_RETURN_IF_ERROR(AppendUserEvent(user_id, AccountEventData(who, "password_changed", true)));
  return CommitWrite(*tx);
}

}  // namespace parley
