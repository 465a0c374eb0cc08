// What the two Storage backends share of pending invitations (migration
// 023 on SQLite, 020 on PostgreSQL): the bound and the events' JSON, so
// both answer and log exactly alike.
#pragma once

#include <cstdint>
#include <string>

#include "schema/model.h"

namespace parley {

// Pending invitations one user may hold. An invitation costs its invitee
// nothing until accepted, but the rows are theirs to list (GET
// /api/me/invitations reads them whole, ~200 bytes each). Past the bound a
// new invitation drops the invitee's oldest rather than being refused: a
// refusal would let a burst of hostile invitations (a few accounts at the
// invite rate's burst of 30) make someone un-invitable for as long as the
// rows stay. What goes is the oldest invitation of the inviter who holds
// the most of the invitee's (never the new one; among inviters holding as
// many, the one whose oldest is oldest, then the lowest room id, so that
// both backends choose alike): an account that keeps inviting,
// within its rate, pushes out its own invitations, not the real ones of
// others, which it did when the oldest of all went.
constexpr int64_t kMaxPendingInvitations = 1000;

// The `member` event of an invitation's life, to the room and to the
// invitee (target_id: they are not a member):
//  invited   {"room_id","user","action","by","invitation"}: the invitation
//            as GET /api/me/invitations lists it, so a client adds it live;
//  declined  {"room_id","user","action"}: the invitee's other devices and
//            the room learn it is gone;
//  uninvited {"room_id","user","action","by"}: a moderator withdrew it.
// The columns an Invitation is read from (both backends' ReadInvitation),
// for a WHERE on i (invitations), r (the room), u (the invitee).
constexpr const char* kInvitationColumns =
    "SELECT i.room_id, r.name, r.kind, r.topic, u.id, u.username, b.id, b.username, i.ts FROM ";
constexpr const char* kInvitationJoins =
    " i JOIN rooms r ON r.id = i.room_id JOIN users u ON u.id = i.user_id LEFT JOIN users b ON b.id = i.by_id ";
inline const std::string kInvitationSelect = std::string(kInvitationColumns) + "invitations" + kInvitationJoins;

std::string InvitationEventData(const Invitation& inv, MemberAction action, const User* by = nullptr);

}  // namespace parley
