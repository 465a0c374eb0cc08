// Pending invitations through the real stack (migration 023): an
// invitation reaches its invitee live and on resume, but nothing of the
// room until they join; they decline it, or take it by joining; a
// moderator withdraws it; however many people invite someone, their
// memberships stay their own; and the refusals for bad input.
#include <string>
#include <vector>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

class InvitationsTest : public EventsTest {
 protected:
  Response Invite(User& by, int64_t room, const User& who) {
    return by->Post(RoomPath(room, "/members"), "{\"username\":" + Quote(who.name) + "}");
  }
  static std::string InvitationPath(int64_t room) { return "/api/me/invitations/" + std::to_string(room); }
  // The `member` events about `who` with this action among events.
  static std::vector<Json> MemberEvents(const std::vector<SseEvent>& events, const User& who,
                                        const std::string& action) {
    std::vector<Json> out;
    for (const SseEvent& e : events) {
      if (e.type != "member") continue;
      Json j = e.json();
      if (j["user"]["id"].num() == who.id && j["action"].str() == action) out.push_back(j);
    }
    return out;
  }
  // Waits until the stream carries such an event; returns the first.
  static Json WaitForMember(SseStream& s, const User& who, const std::string& action) {
    if (!s.WaitUntil([&](const SseState& st) { return !MemberEvents(st.Events(), who, action).empty(); }, 5s)) {
      return Json();
    }
    return MemberEvents(s.Events(), who, action)[0];
  }
  static bool Carries(SseStream& s, const std::string& text) {
    for (const SseEvent& e : s.Events()) {
      if (e.data.find(text) != std::string::npos) return true;
    }
    return false;
  }
  std::vector<int64_t> MyRooms(User& u) {
    Response r = u->Get("/api/rooms?limit=1000");
    if (r.status != 200) throw SetupError("rooms: " + r.Describe());
    std::vector<int64_t> ids;
    for (const Json& j : r.json()["rooms"].items()) ids.push_back(j["id"].num());
    return ids;
  }
};

TEST_F(InvitationsTest, AnInvitationReachesTheInviteeLiveAndOnResumeButNothingOfTheRoomUntilTheyJoin) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "secret plans", "private");
  Send(alice, room, "SECRET before the invitation");
  const int64_t cursor = Head(bob.token);
  auto b = Subscribe(bob.token);
  auto a = Subscribe(alice.token);

  Response invited = Invite(alice, room, bob);
  ASSERT_EQ(invited.status, 201) << invited.Describe();
  Send(alice, room, "SECRET after the invitation");
  Json ev = WaitForMember(*b, bob, "invited");
  ASSERT_TRUE(ev.valid()) << "bob, not a member, hears of his invitation live";
  EXPECT_EQ(ev["room_id"].num(), room);
  EXPECT_EQ(ev["by"]["id"].num(), alice.id);
  EXPECT_EQ(ev["invitation"]["room"]["name"].str(), "secret plans") << ev.Dump();
  EXPECT_EQ(ev["invitation"]["by"]["username"].str(), alice.name);
  // A resume from before it has it too, and, on both ways, nothing else of the room.
  PollResult replay = Poll(bob.token, "?since=" + std::to_string(cursor) + "&timeout=1");
  ASSERT_TRUE(replay.well_formed) << replay.response.Describe();
  int invitations = 0;
  for (const PolledEvent& e : replay.events) {
    if (e.type == "member" && e.data["action"].str() == "invited") ++invitations;
    EXPECT_EQ(e.data.Dump().find("SECRET"), std::string::npos) << e.data.Dump();
  }
  EXPECT_EQ(invitations, 1) << replay.response.body;
  Json marker = Send(alice, General(alice), "marker");
  ASSERT_TRUE(b->WaitForId(marker["id"].num(), 5s));
  EXPECT_FALSE(Carries(*b, "SECRET"));

  Response mine = bob->Get("/api/me/invitations");
  ASSERT_EQ(mine.status, 200) << mine.Describe();
  ASSERT_EQ(mine.json()["invitations"].size(), 1u) << mine.body;
  EXPECT_EQ(mine.json()["invitations"][size_t{0}]["room"]["id"].num(), room);

  // Declined: alice's stream and bob's other devices learn it.
  ASSERT_EQ(bob->Delete(InvitationPath(room)).status, 204);
  EXPECT_TRUE(WaitForMember(*a, bob, "declined").valid()) << "the room hears of it";
  EXPECT_TRUE(WaitForMember(*b, bob, "declined").valid()) << "bob's other devices hear of it";
  EXPECT_EQ(bob->Get("/api/me/invitations").json()["invitations"].size(), 0u);
  Response closed = bob->Post(RoomPath(room, "/join"));
  EXPECT_EQ(closed.status, 404) << closed.Describe();

  // Invited again and joined: now the room is his to read, live.
  ASSERT_EQ(Invite(alice, room, bob).status, 201);
  ASSERT_EQ(bob->Post(RoomPath(room, "/join")).status, 200);
  Json welcome = Send(alice, room, "welcome, bob");
  ASSERT_TRUE(b->WaitForId(welcome["id"].num(), 5s));
  EXPECT_TRUE(Carries(*b, "welcome, bob"));
  Response history = bob->Get(RoomPath(room, "/messages"));
  ASSERT_EQ(history.status, 200) << history.Describe();
  EXPECT_EQ(history.json()["messages"].size(), 3u) << history.body;
  EXPECT_EQ(bob->Get("/api/me/invitations").json()["invitations"].size(), 0u) << "joining took it";
}

// The audit's attack: many accounts inviting one person into their private
// rooms. Before migration 023 each invitation was a membership (99 accounts
// filled someone's 1,000 in 6 s); now the invitations wait, and the
// invitee's rooms, joins and DMs are untouched.
TEST_F(InvitationsTest, ManyInvitersAddNobodyToAnything) {
  User victim = Register("victim");
  const std::vector<int64_t> before = MyRooms(victim);
  std::vector<User> hostile;
  int sent = 0;
  for (int i = 0; i < 4; ++i) {
    hostile.push_back(Register("hostile"));
    for (int r = 0; r < 5; ++r) {
      const int64_t room = CreateRoom(hostile.back(), Unique("trap"), "private");
      Response inv = Invite(hostile.back(), room, victim);
      ASSERT_EQ(inv.status, 201) << inv.Describe();
      ++sent;
    }
  }
  EXPECT_EQ(MyRooms(victim), before) << "no invitation added a membership";
  Response mine = victim->Get("/api/me/invitations");
  ASSERT_EQ(mine.status, 200) << mine.Describe();
  EXPECT_EQ(mine.json()["invitations"].size(), static_cast<size_t>(sent));
  // Blocking one inviter drops theirs.
  ASSERT_EQ(victim->Put("/api/me/blocks/" + hostile[0].name, "").status, 204);
  EXPECT_EQ(victim->Get("/api/me/invitations").json()["invitations"].size(), static_cast<size_t>(sent - 5));
  // Still free to go anywhere.
  User friendly = Register("friendly");
  Join(victim, CreateRoom(friendly, "open house", "public"));
  Response dm = friendly->Post("/api/dm", "{\"username\":" + Quote(victim.name) + "}");
  EXPECT_EQ(dm.status, 201) << dm.Describe();
}

TEST_F(InvitationsTest, AModeratorWithdrawsAnInvitationAndTheInviteeHearsOfIt) {
  User owner = Register("owner");
  User member = Register("member");
  User guest = Register("guest");
  const int64_t room = CreateRoom(owner, "club", "private");
  InviteAndJoin(owner, room, member);
  auto g = Subscribe(guest.token);
  ASSERT_EQ(Invite(member, room, guest).status, 201) << "any member invites";
  User other = Register("other");
  ASSERT_EQ(Invite(owner, room, other).status, 201);
  // The owner (or a moderator) lists the room's pending invitations, paged
  // in invitee id order as the member list; a plain member may not.
  Response first = owner->Get(RoomPath(room, "/invitations?limit=1"));
  ASSERT_EQ(first.status, 200) << first.Describe();
  ASSERT_EQ(first.json()["invitations"].size(), 1u) << first.body;
  EXPECT_EQ(first.json()["invitations"][size_t{0}]["user"]["id"].num(), guest.id);
  EXPECT_EQ(first.json()["invitations"][size_t{0}]["by"]["id"].num(), member.id);
  const int64_t next = first.json()["next"].num();
  Response second = owner->Get(RoomPath(room, "/invitations?limit=1&after=" + std::to_string(next)));
  ASSERT_EQ(second.status, 200) << second.Describe();
  ASSERT_EQ(second.json()["invitations"].size(), 1u) << second.body;
  EXPECT_EQ(second.json()["invitations"][size_t{0}]["user"]["id"].num(), other.id);
  EXPECT_TRUE(second.json()["next"].is_null()) << second.body;
  EXPECT_EQ(member->Get(RoomPath(room, "/invitations")).status, 403);
  EXPECT_EQ(owner->Get(RoomPath(room, "/invitations?limit=0")).status, 400);
  // A plain member may not withdraw it (as they may not remove anyone).
  EXPECT_EQ(member->Delete(RoomPath(room, "/members/" + guest.name)).status, 403);
  ASSERT_EQ(owner->Delete(RoomPath(room, "/members/" + guest.name)).status, 204);
  Json withdrawn = WaitForMember(*g, guest, "uninvited");
  ASSERT_TRUE(withdrawn.valid()) << "the guest hears of it";
  EXPECT_EQ(withdrawn["by"]["id"].num(), owner.id);
  EXPECT_EQ(guest->Post(RoomPath(room, "/join")).status, 404);
  Response again = owner->Delete(RoomPath(room, "/members/" + guest.name));
  EXPECT_EQ(again.status, 404) << again.Describe();
  EXPECT_EQ(again.ErrorCode(), "member_not_found");
}

TEST_F(InvitationsTest, BadRequestsGetClearErrors) {
  User alice = Register("alice");
  const int64_t room = CreateRoom(alice, "den", "private");
  auto anon = NewClient(Client::Cookies::kOff);
  Response unsigned_list = anon->Get("/api/me/invitations");
  EXPECT_EQ(unsigned_list.status, 401) << unsigned_list.Describe();
  Response none = alice->Delete(InvitationPath(room));
  EXPECT_EQ(none.status, 404) << none.Describe();
  EXPECT_EQ(none.ErrorCode(), "invitation_not_found");
  for (const std::string& path : {std::string("/api/me/invitations/0"), std::string("/api/me/invitations/abc"),
                                  std::string("/api/me/invitations/-1"),
                                  std::string("/api/me/invitations/99999999999999999999")}) {
    Response r = alice->Delete(path);
    EXPECT_EQ(r.status, 404) << path << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "not_found") << path;
  }
  Response wrong = alice->Post("/api/me/invitations", "{}");
  EXPECT_EQ(wrong.status, 405) << wrong.Describe();
}

}  // namespace
}  // namespace parley::e2e
