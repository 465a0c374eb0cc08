// PgStore: pending invitations, with the rules, errors and events of
// SQLite's schema/store_invitations.cc.
#include "schema/invitations.h"
#include "schema/pg/store.h"
#include "schema/store_rules.h"

namespace parley::pg {
namespace {

Result<Invitation> ReadInvitation(const PgResult& r, int row) {
  Invitation i;
  PARLEY_ASSIGN_OR_RETURN(i.room_id, r.Int(row, 0));
  i.room_name = r.Text(row, 1);
  i.room_kind = ParseRoomKind(r.Text(row, 2)).value_or(RoomKind::kPrivate);
  i.room_topic = r.Text(row, 3);  // NULL reads as ""
  PARLEY_ASSIGN_OR_RETURN(int64_t user_id, r.Int(row, 4));
  i.user = User{user_id, r.Text(row, 5)};
  if (std::optional<int64_t> by = r.OptionalInt(row, 6)) i.by = User{*by, r.Text(row, 7)};
  PARLEY_ASSIGN_OR_RETURN(i.ts, r.Int(row, 8));
  return i;
}

Event InvitationEvent(const Invitation& inv, MemberAction action, const User* by = nullptr) {
  // target_id: the invitee, who is not a member, hears of it.
  return MakeEvent("member", inv.room_id, inv.user.id, Audience::kRoom, InvitationEventData(inv, action, by));
}

}  // namespace

Result<std::optional<Invitation>> PgStore::LoadInvitation(int64_t room_id, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec(std::string(kInvitationSelect) +
                                                     "WHERE i.room_id = $1 AND i.user_id = $2",
                                                 {room_id, user_id}));
  if (r.Rows() == 0) return std::optional<Invitation>();
  PARLEY_ASSIGN_OR_RETURN(Invitation i, ReadInvitation(r, 0));
  return std::optional<Invitation>(std::move(i));
}

Result<std::optional<Invitation>> PgStore::TakeInvitation(int64_t room_id, int64_t user_id) {
  // One statement: of two takes racing, the one whose DELETE found the row
  // gone (the other committed first) reads nothing.
  static const std::string kTake =
      "WITH d AS (DELETE FROM invitations WHERE room_id = $1 AND user_id = $2 RETURNING *) " +
      std::string(kInvitationColumns) + "d" + kInvitationJoins;
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec(kTake, {room_id, user_id}));
  if (r.Rows() == 0) return std::optional<Invitation>();
  PARLEY_ASSIGN_OR_RETURN(Invitation i, ReadInvitation(r, 0));
  return std::optional<Invitation>(std::move(i));
}

Result<bool> PgStore::DropInvitation(int64_t room_id, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec("DELETE FROM invitations WHERE room_id = $1 AND user_id = $2", {room_id, user_id}));
  return r.Affected() > 0;
}

Result<Invited> PgStore::Invite(const User& me, int64_t room_id, const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kInvite));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true, true));
  if (a.room.kind == RoomKind::kDm) return Status::Forbidden("forbidden", "a direct conversation has exactly two people");
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> who, FindUser(username));
  if (!who) return Status::NotFound("user_not_found", "no such user");
  // The invitee's row FOR SHARE, against their block of me and their
  // accept of an earlier invitation, which lock it FOR NO KEY UPDATE
  // (Block, Join): either commits first and the checks below, statements
  // of their own, see it, or it waits and then finds this invitation. An
  // audit's two pools, unordered, left a blocked inviter's invitation
  // standing (16 races in 190) and gave a member who had just accepted a
  // fresh invitation that outlived a kick (28 in 150).
  PARLEY_RETURN_IF_ERROR(conn_.Exec("SELECT 1 FROM users WHERE id = $1 FOR SHARE", {who->id}).status());
  PARLEY_RETURN_IF_ERROR(CheckNotBlocked(me.id, who->id));
  Invited out;
  Result<Member> member = LoadMember(room_id, who->id);
  if (member.ok()) {
    out.member = std::move(*member);
    std::vector<Event> none;
    PARLEY_RETURN_IF_ERROR(CommitEvents(*tx, none));
    return out;
  }
  if (member.status().code() != Code::kNotFound) return member.status();  // not "not a member": a failed read
  // The room FOR SHARE before the ban check, as AddMember: a ban racing
  // this either commits first and is seen, or waits and drops the row.
  PARLEY_RETURN_IF_ERROR(conn_.Exec("SELECT 1 FROM rooms WHERE id = $1 FOR SHARE", {room_id}).status());
  PARLEY_RETURN_IF_ERROR(CheckNotBanned(room_id, who->id));
  PARLEY_ASSIGN_OR_RETURN(PgResult ins, conn_.Exec("INSERT INTO invitations (room_id, user_id, by_id, ts) "
                                                   "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                                                   {room_id, who->id, me.id, NowMs()}));
  out.created = ins.Affected() > 0;
  if (out.created) {
    // As on SQLite: past kMaxPendingInvitations, the oldest of the inviter
    // holding the most go, never the new one. As many as pass the bound:
    // invites lock the invitee's row FOR SHARE only, so two on two pools
    // may each count without the other's row, and the next one trims what
    // they left. One round trip; the grouping runs only past the bound.
    PARLEY_RETURN_IF_ERROR(
        conn_.Exec("DELETE FROM invitations WHERE user_id = $1 AND room_id IN (SELECT room_id FROM invitations "
                   "WHERE user_id = $1 AND room_id <> $2 AND by_id IS NOT DISTINCT FROM (SELECT by_id "
                   "FROM invitations WHERE user_id = $1 AND room_id <> $2 GROUP BY by_id "
                   "ORDER BY COUNT(*) DESC, MIN(ts), MIN(room_id) LIMIT 1) ORDER BY ts, room_id "
                   "LIMIT GREATEST((SELECT COUNT(*) FROM invitations WHERE user_id = $1) - $3, 0))",
                   {who->id, room_id, kMaxPendingInvitations})
            .status());
  }
  PARLEY_ASSIGN_OR_RETURN(out.invitation, LoadInvitation(room_id, who->id));
  // A decline racing a repeat: nothing pending any more.
  if (!out.invitation) return Status::Unavailable("the invitation changed meanwhile; try again");
  std::vector<Event> events;
  if (out.created) events.push_back(InvitationEvent(*out.invitation, MemberAction::kInvited, &me));
  PARLEY_RETURN_IF_ERROR(CommitEvents(*tx, events));
  return out;
}

Result<std::vector<Invitation>> PgStore::Invitations(const User& me) {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec(std::string(kInvitationSelect) +
                                                     "WHERE i.user_id = $1 ORDER BY i.ts DESC, i.room_id DESC LIMIT $2",
                                                 {me.id, kMaxPendingInvitations}));
  std::vector<Invitation> out;
  out.reserve(r.Rows());
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(Invitation inv, ReadInvitation(r, i));
    out.push_back(std::move(inv));
  }
  return out;
}

Status PgStore::DeclineInvitation(const User& me, int64_t room_id) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kLeave));
  PARLEY_ASSIGN_OR_RETURN(std::optional<Invitation> inv, TakeInvitation(room_id, me.id));
  if (!inv) return Status::NotFound("invitation_not_found", "no pending invitation to that room");
  std::vector<Event> events = {InvitationEvent(*inv, MemberAction::kDeclined)};
  return CommitEvents(*tx, events);
}

Result<InvitationPage> PgStore::RoomInvitations(const User& me, int64_t room_id, const UserPageQuery& q) {
  // One transaction, so the moderator check's row lock ends at its COMMIT
  // (as Bans).
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(LockModerator(me, room_id).status());
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec(std::string(kInvitationSelect) +
                                                     "WHERE i.room_id = $1 AND i.user_id > $2 "
                                                     "ORDER BY i.room_id, i.user_id LIMIT $3",
                                                 {room_id, q.after, q.limit + 1}));
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  InvitationPage page;
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(Invitation inv, ReadInvitation(r, i));
    page.invitations.push_back(std::move(inv));
  }
  page.next = TrimToPage(page.invitations, q.limit);
  return page;
}

Status PgStore::WithdrawInvitation(const User& me, int64_t room_id, const User& who, std::vector<Event>& events) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<Invitation> inv, TakeInvitation(room_id, who.id));
  if (!inv) return Status::NotFound("member_not_found", "that user is neither a member nor invited");
  events.push_back(InvitationEvent(*inv, MemberAction::kUninvited, &me));
  return Status::Ok();
}

}  // namespace parley::pg
