// Store: pending invitations (migration 023 says why they wait).
#include "schema/invitations.h"
#include "schema/per_user_limit.h"
#include "schema/store.h"
#include "schema/store_rules.h"

namespace parley {
namespace {

Invitation ReadInvitation(const Statement& s) {
  Invitation i;
  i.room_id = s.Int(0);
  i.room_name = s.Text(1);
  i.room_kind = ParseRoomKind(s.Text(2)).value_or(RoomKind::kPrivate);
  i.room_topic = s.Text(3);  // NULL reads as ""
  i.user = User{s.Int(4), s.Text(5)};
  if (!s.IsNull(6)) i.by = User{s.Int(6), s.Text(7)};
  i.ts = s.Int(8);
  return i;
}

}  // namespace

Result<std::optional<Invitation>> Store::LoadInvitation(int64_t room_id, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string(kInvitationSelect) +
                                                   "WHERE i.room_id = ? AND i.user_id = ?"));
  s.Bind(1, room_id).Bind(2, user_id);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<Invitation>();
  return std::optional<Invitation>(ReadInvitation(s));
}

Result<std::optional<Invitation>> Store::TakeInvitation(int64_t room_id, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<Invitation> inv, LoadInvitation(room_id, user_id));
  if (inv) PARLEY_RETURN_IF_ERROR(DropInvitation(room_id, user_id).status());
  return inv;
}

Result<bool> Store::DropInvitation(int64_t room_id, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("DELETE FROM invitations WHERE room_id = ? AND user_id = ?"));
  s.Bind(1, room_id).Bind(2, user_id);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  return s.Changes() > 0;
}

Result<Invited> Store::Invite(const User& me, int64_t room_id, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kInvite));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true));
  if (a.room.kind == RoomKind::kDm) {
    return Status::Forbidden("forbidden", "a direct conversation has exactly two people");
  }
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  PARLEY_RETURN_IF_ERROR(CheckNotBlocked(me.id, who->id));
  Invited out;
  Result<Member> member = LoadMember(room_id, who->id);
  if (member.ok()) {
    out.member = std::move(*member);
    PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
    return out;
  }
  if (member.status().code() != Code::kNotFound) return member.status();  // not "not a member": a failed read
  PARLEY_RETURN_IF_ERROR(CheckNotBanned(room_id, who->id));
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO invitations(room_id, user_id, by_id, ts) VALUES (?,?,?,?) ON CONFLICT DO NOTHING"));
    s.Bind(1, room_id).Bind(2, who->id).Bind(3, me.id).Bind(4, NowMs());
    PARLEY_RETURN_IF_ERROR(s.Exec());
    out.created = s.Changes() > 0;
  }
  if (out.created) {
    // At most kMaxPendingInvitations: past them, the oldest of the inviter
    // holding the most goes (invitations.h), never the new one (it may
    // share its millisecond with others). One: with one writer, the bound
    // held before this insert. The count reads the index; the grouping,
    // only past the bound, each of the 1,000 rows.
    PARLEY_ASSIGN_OR_RETURN(int64_t pending, UsedByUser(db_, "SELECT COUNT(*) FROM invitations WHERE user_id = ?",
                                                         who->id));
    if (pending > kMaxPendingInvitations) {
      PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
          "DELETE FROM invitations WHERE user_id = ?1 AND room_id = (SELECT room_id FROM invitations "
          "WHERE user_id = ?1 AND room_id <> ?2 AND by_id IS (SELECT by_id FROM invitations "
          "WHERE user_id = ?1 AND room_id <> ?2 GROUP BY by_id ORDER BY COUNT(*) DESC, MIN(ts), MIN(room_id) LIMIT 1) "
          "ORDER BY ts, room_id LIMIT 1)"));
      s.Bind(1, who->id).Bind(2, room_id);
      PARLEY_RETURN_IF_ERROR(s.Exec());
    }
  }
  PARLEY_ASSIGN_OR_RETURN(out.invitation, LoadInvitation(room_id, who->id));
  if (out.created) {
    PARLEY_RETURN_IF_ERROR(AppendEvent("member", room_id, who->id, Audience::kRoom,
                                       InvitationEventData(*out.invitation, MemberAction::kInvited, &me))
                               .status());
  }
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return out;
}

Result<std::vector<Invitation>> Store::Invitations(const User& me) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string(kInvitationSelect) +
                                                   "WHERE i.user_id = ? ORDER BY i.ts DESC, i.room_id DESC LIMIT ?"));
  s.Bind(1, me.id).Bind(2, kMaxPendingInvitations);
  std::vector<Invitation> out;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadInvitation(s));
  }
  return out;
}

Status Store::DeclineInvitation(const User& me, int64_t room_id) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kLeave));
  PARLEY_ASSIGN_OR_RETURN(std::optional<Invitation> inv, TakeInvitation(room_id, me.id));
  if (!inv) return Status::NotFound("invitation_not_found", "no pending invitation to that room");
  PARLEY_RETURN_IF_ERROR(
      AppendEvent("member", room_id, me.id, Audience::kRoom, InvitationEventData(*inv, MemberAction::kDeclined))
          .status());
  return CommitWrite(*tx);
}

Result<InvitationPage> Store::RoomInvitations(const User& me, int64_t room_id, const UserPageQuery& q) {
  PARLEY_RETURN_IF_ERROR(LoadModeratorAccess(me, room_id).status());
  // In invitee id order through the primary key; one row more than asked
  // tells whether there is a next page.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string(kInvitationSelect) +
                                                   "WHERE i.room_id = ? AND i.user_id > ? "
                                                   "ORDER BY i.room_id, i.user_id LIMIT ?"));
  s.Bind(1, room_id).Bind(2, q.after).Bind(3, q.limit + 1);
  InvitationPage page;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    page.invitations.push_back(ReadInvitation(s));
  }
  page.next = TrimToPage(page.invitations, q.limit);
  return page;
}

Status Store::WithdrawInvitation(const User& me, int64_t room_id, const User& who) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<Invitation> inv, TakeInvitation(room_id, who.id));
  if (!inv) return Status::NotFound("member_not_found", "that user is neither a member nor invited");
  return AppendEvent("member", room_id, who.id, Audience::kRoom,
                     InvitationEventData(*inv, MemberAction::kUninvited, &me))
      .status();
}

}  // namespace parley
