// Rooms and membership: general, create, join/leave, private rooms and
// invitations, roles, direct conversations, and what a non-member may not see.
#include <algorithm>

#include "fixture.h"

namespace parley::e2e {
namespace {

class RoomsTest : public StackTest {
 protected:
  // Room ids in the user's GET /api/rooms.
  std::vector<int64_t> ListedRooms(User& u) {
    Response r = u->Get("/api/rooms");
    if (r.status != 200) throw SetupError("rooms: " + r.Describe());
    std::vector<int64_t> ids;
    for (const Json& j : r.json()["rooms"].items()) ids.push_back(j["id"].num());
    return ids;
  }
  static bool Contains(const std::vector<int64_t>& v, int64_t x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  }
  static bool Denied(const Response& r) { return r.status == 403 || r.status == 404; }
};

TEST_F(RoomsTest, GeneralIsJoinedAtRegistration) {
  User alice = Register("alice");
  Response r = alice->Get("/api/rooms");
  ASSERT_EQ(r.status, 200) << r.Describe();
  Json general;
  for (const Json& j : r.json()["rooms"].items()) {
    if (j["name"].str() == "general") general = j;
  }
  ASSERT_TRUE(general.valid()) << r.body;
  EXPECT_EQ(general["kind"].str(), "public");
  EXPECT_TRUE(general["member"].boolean()) << general.Dump();
  EXPECT_EQ(general["role"].str(), "member") << general.Dump();
  EXPECT_TRUE(general["unread"].is_number()) << general.Dump();
  EXPECT_TRUE(general["last_event_id"].is_number()) << general.Dump();
  // And the user can talk there right away.
  Send(alice, general["id"].num(), "hello, general");
}

TEST_F(RoomsTest, CreateEachKindMakesTheCreatorOwner) {
  User alice = Register("alice");
  struct Case {
    const char* kind;
    const char* role;
  };
  for (const Case& k : {Case{"public", "member"}, Case{"private", "member"},
                        Case{"qa", "professor"}}) {
    const std::string name = std::string("room-") + k.kind;
    Response r = alice->Post("/api/rooms",
                             "{\"name\":" + Quote(name) + ",\"kind\":" + Quote(k.kind) + "}");
    ASSERT_EQ(r.status, 201) << k.kind << ": " << r.Describe();
    Json room = r.json()["room"];
    EXPECT_GT(room["id"].num(), 0);
    EXPECT_EQ(room["name"].str(), name);
    EXPECT_EQ(room["kind"].str(), k.kind);
    EXPECT_EQ(room["owner"]["id"].num(), alice.id) << room.Dump();
    EXPECT_TRUE(room["member"].boolean()) << room.Dump();
    EXPECT_EQ(room["role"].str(), k.role) << room.Dump();
    EXPECT_TRUE(FindRoom(alice, room["id"].num()).valid()) << "listed for its owner";
  }
}

TEST_F(RoomsTest, CreateRejectsDuplicateAndBadInput) {
  User alice = Register("alice");
  User bob = Register("bob");
  CreateRoom(alice, "lobby", "public");
  Response dup = bob->Post("/api/rooms", "{\"name\":\"lobby\",\"kind\":\"private\"}");
  EXPECT_EQ(dup.status, 409) << dup.Describe();
  EXPECT_EQ(dup.ErrorCode(), "room_name_taken");
  Response general = bob->Post("/api/rooms", "{\"name\":\"general\",\"kind\":\"public\"}");
  EXPECT_EQ(general.status, 409) << general.Describe();
  // A name that passes for another room's (README: the rules of room names).
  Response lookalike = bob->Post("/api/rooms", "{\"name\":\"L0b-by\",\"kind\":\"public\"}");
  EXPECT_EQ(lookalike.status, 409) << lookalike.Describe();
  EXPECT_EQ(lookalike.ErrorCode(), "room_name_taken");

  for (const std::string& body :
       {std::string("{\"name\":\"x\",\"kind\":\"dm\"}"), std::string("{\"name\":\"x\",\"kind\":\"nope\"}"),
        std::string("{\"name\":\"\",\"kind\":\"public\"}"),
        "{\"name\":" + Quote(std::string(65, 'n')) + ",\"kind\":\"public\"}",
        std::string("{\"name\":\"bell\\u0007\",\"kind\":\"public\"}")}) {
    Response r = alice->Post("/api/rooms", body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "invalid_field") << body;
  }
  Response missing = alice->Post("/api/rooms", "{\"name\":\"nokind\"}");
  EXPECT_EQ(missing.status, 400) << missing.Describe();
  EXPECT_EQ(missing.ErrorCode(), "missing_field");
}

TEST_F(RoomsTest, JoinAndLeavePublicRoom) {
  User alice = Register("alice");
  User bob = Register("bob");
  int64_t room = CreateRoom(alice, "lobby", "public");

  Json listed = FindRoom(bob, room);
  ASSERT_TRUE(listed.valid()) << "public rooms are listed for non-members";
  EXPECT_FALSE(listed["member"].boolean()) << listed.Dump();

  Response join = bob->Post(RoomPath(room, "/join"));
  ASSERT_EQ(join.status, 200) << join.Describe();
  EXPECT_TRUE(join.json()["room"]["member"].boolean()) << join.body;
  EXPECT_EQ(join.json()["room"]["role"].str(), "member");
  EXPECT_EQ(bob->Post(RoomPath(room, "/join")).status, 200) << "join is idempotent";
  Send(bob, room, "hi from bob");

  Response leave = bob->Post(RoomPath(room, "/leave"));
  EXPECT_EQ(leave.status, 204) << leave.Describe();
  Response again = bob->Post(RoomPath(room, "/leave"));
  EXPECT_EQ(again.status, 403) << again.Describe();
  EXPECT_EQ(again.ErrorCode(), "not_a_member");
  EXPECT_FALSE(FindRoom(bob, room)["member"].boolean());
  Response send = bob->Post(RoomPath(room, "/messages"), "{\"text\":\"gone\"}");
  EXPECT_EQ(send.status, 403) << send.Describe();

  Response unknown = bob->Post(RoomPath(999999, "/join"));
  EXPECT_EQ(unknown.status, 404) << unknown.Describe();
  EXPECT_EQ(unknown.ErrorCode(), "room_not_found");
}

// api.md lists both answers for a private room you were not invited to:
// 404 room_not_found (it does not exist for you) or 403 invitation_required.
TEST_F(RoomsTest, PrivateRoomNeedsAnInvitation) {
  User alice = Register("alice");
  User bob = Register("bob");
  User carol = Register("carol");
  int64_t room = CreateRoom(alice, "secret", "private");
  Send(alice, room, "private words");

  Response join = bob->Post(RoomPath(room, "/join"));
  EXPECT_TRUE((join.status == 403 && join.ErrorCode() == "invitation_required") ||
              (join.status == 404 && join.ErrorCode() == "room_not_found"))
      << join.Describe();
  EXPECT_FALSE(Contains(ListedRooms(bob), room)) << "never listed for a non-member";

  // An invitation waits for bob's consent (invitations_test.cc): the room
  // stays closed to him until he joins.
  Response invite = alice->Post(RoomPath(room, "/members"), "{\"username\":" + Quote(bob.name) + "}");
  ASSERT_EQ(invite.status, 201) << invite.Describe();
  EXPECT_EQ(invite.json()["invitation"]["user"]["id"].num(), bob.id) << invite.body;
  EXPECT_EQ(invite.json()["invitation"]["room"]["id"].num(), room) << invite.body;
  EXPECT_FALSE(Contains(ListedRooms(bob), room));
  EXPECT_TRUE(Denied(bob->Get(RoomPath(room, "/messages"))));
  ASSERT_EQ(bob->Post(RoomPath(room, "/join")).status, 200);
  Response again = alice->Post(RoomPath(room, "/members"), "{\"username\":" + Quote(bob.name) + "}");
  EXPECT_EQ(again.status, 200) << "already a member: " << again.Describe();
  EXPECT_EQ(again.json()["member"]["role"].str(), "member") << again.body;

  EXPECT_TRUE(Contains(ListedRooms(bob), room));
  Response history = bob->Get(RoomPath(room, "/messages"));
  ASSERT_EQ(history.status, 200) << history.Describe();
  EXPECT_EQ(history.json()["messages"].size(), 1u) << history.body;
  Send(bob, room, "thanks for the invite");

  // Any member may invite; a non-member may not.
  Response by_carol = carol->Post(RoomPath(room, "/members"),
                                  "{\"username\":" + Quote(carol.name) + "}");
  EXPECT_TRUE(Denied(by_carol)) << by_carol.Describe();
  Response nobody = bob->Post(RoomPath(room, "/members"), "{\"username\":\"no_such_user\"}");
  EXPECT_EQ(nobody.status, 404) << nobody.Describe();
  EXPECT_EQ(nobody.ErrorCode(), "user_not_found");
  Response by_bob = bob->Post(RoomPath(room, "/members"), "{\"username\":" + Quote(carol.name) + "}");
  EXPECT_EQ(by_bob.status, 201) << by_bob.Describe();
}

TEST_F(RoomsTest, NonMemberCannotReadOrSendOrSeeMembers) {
  User alice = Register("alice");
  User eve = Register("eve");
  int64_t priv = CreateRoom(alice, "priv", "private");
  int64_t pub = CreateRoom(alice, "pub", "public");
  Send(alice, priv, "p1");
  Send(alice, pub, "q1");

  for (int64_t room : {priv, pub}) {
    Response read = eve->Get(RoomPath(room, "/messages"));
    Response send = eve->Post(RoomPath(room, "/messages"), "{\"text\":\"let me in\"}");
    Response members = eve->Get(RoomPath(room, "/members"));
    Response mark = eve->Post(RoomPath(room, "/read"), "{\"event_id\":1}");
    Response typing = eve->Post(RoomPath(room, "/typing"));
    for (const Response* r : {&read, &send, &members, &mark, &typing}) {
      EXPECT_TRUE(Denied(*r)) << "room " << room << ": " << r->Describe();
      EXPECT_EQ(r->body.find("p1"), std::string::npos) << "leaked: " << r->body;
    }
  }
  // The public room answers not_a_member (it is visible anyway).
  Response pub_read = eve->Get(RoomPath(pub, "/messages"));
  EXPECT_EQ(pub_read.status, 403) << pub_read.Describe();
  EXPECT_EQ(pub_read.ErrorCode(), "not_a_member");
  // The private room is indistinguishable from a room that does not exist.
  Response priv_read = eve->Get(RoomPath(priv, "/messages"));
  Response none_read = eve->Get(RoomPath(999999, "/messages"));
  EXPECT_EQ(priv_read.status, none_read.status) << priv_read.Describe();
  EXPECT_EQ(priv_read.ErrorCode(), none_read.ErrorCode());
  // Its messages cannot be reached by id either.
  Response history = alice->Get(RoomPath(priv, "/messages"));
  int64_t msg = history.json()["messages"][size_t{0}]["id"].num();
  ASSERT_GT(msg, 0) << history.Describe();
  Response edit = eve->Patch(MessagePath(msg), "{\"text\":\"mine now\"}");
  EXPECT_TRUE(Denied(edit)) << edit.Describe();
  Response del = eve->Delete(MessagePath(msg));
  EXPECT_TRUE(Denied(del)) << del.Describe();

  std::vector<int64_t> listed = ListedRooms(eve);
  EXPECT_FALSE(Contains(listed, priv));
  EXPECT_TRUE(Contains(listed, pub));
}

TEST_F(RoomsTest, MembersCarryRolesAndOwnerSetsThem) {
  User prof = Register("prof");
  User stud = Register("stud");
  User other = Register("other");
  int64_t qa = CreateRoom(prof, "physics", "qa");
  Response join = stud->Post(RoomPath(qa, "/join"));
  ASSERT_EQ(join.status, 200) << join.Describe();
  EXPECT_EQ(join.json()["room"]["role"].str(), "student") << "qa rooms are joined as student";
  Join(other, qa);

  Response members = stud->Get(RoomPath(qa, "/members"));
  ASSERT_EQ(members.status, 200) << members.Describe();
  ASSERT_EQ(members.json()["members"].size(), 3u) << members.body;
  for (const Json& m : members.json()["members"].items()) {
    const int64_t id = m["user"]["id"].num();
    EXPECT_TRUE(m["online"].is_bool()) << m.Dump();
    EXPECT_FALSE(m["user"]["username"].str().empty()) << m.Dump();
    if (id == prof.id) {
      EXPECT_EQ(m["role"].str(), "professor") << m.Dump();
      EXPECT_TRUE(m["owner"].boolean()) << m.Dump();
    } else {
      EXPECT_EQ(m["role"].str(), "student") << m.Dump();
      EXPECT_FALSE(m["owner"].boolean()) << m.Dump();
    }
  }

  Response promote = prof->Put(RoomPath(qa, "/members/" + stud.name), "{\"role\":\"professor\"}");
  ASSERT_EQ(promote.status, 200) << promote.Describe();
  EXPECT_EQ(promote.json()["member"]["role"].str(), "professor") << promote.body;
  EXPECT_EQ(FindRoom(stud, qa)["role"].str(), "professor");

  Response not_owner = stud->Put(RoomPath(qa, "/members/" + other.name), "{\"role\":\"professor\"}");
  EXPECT_EQ(not_owner.status, 403) << not_owner.Describe();
  EXPECT_EQ(not_owner.ErrorCode(), "not_owner");
  Response bad_role = prof->Put(RoomPath(qa, "/members/" + other.name), "{\"role\":\"member\"}");
  EXPECT_EQ(bad_role.status, 400) << bad_role.Describe();
  EXPECT_EQ(bad_role.ErrorCode(), "invalid_field");
  Response stranger = prof->Put(RoomPath(qa, "/members/no_such_user"), "{\"role\":\"student\"}");
  EXPECT_EQ(stranger.status, 404) << stranger.Describe();

  int64_t pub = CreateRoom(prof, "chat", "public");
  Join(other, pub);
  Response pub_role = prof->Put(RoomPath(pub, "/members/" + other.name), "{\"role\":\"professor\"}");
  EXPECT_EQ(pub_role.status, 400) << "public rooms only know member: " << pub_role.Describe();
  Response pub_member = prof->Put(RoomPath(pub, "/members/" + other.name), "{\"role\":\"member\"}");
  EXPECT_EQ(pub_member.status, 200) << pub_member.Describe();
}

// `general` holds every user: its member list comes in pages (user id
// order, `next` the `after` of the next page), and one member is asked for
// by name.
TEST_F(RoomsTest, MembersComeInPagesAndOneByName) {
  User owner = Register("owner");
  const int64_t room = CreateRoom(owner, "big", "public");
  std::vector<int64_t> ids{owner.id};
  std::vector<User> joined;
  for (int i = 0; i < 4; ++i) {
    joined.push_back(Register("m" + std::to_string(i)));
    Join(joined.back(), room);
    ids.push_back(joined.back().id);
  }
  std::vector<int64_t> seen;
  std::string after;
  for (int page = 0;; ++page) {
    ASSERT_LT(page, 5);
    Response r = owner->Get(RoomPath(room, "/members?limit=2" + after));
    ASSERT_EQ(r.status, 200) << r.Describe();
    Json j = r.json();
    ASSERT_LE(j["members"].size(), 2u) << r.body;
    for (const Json& m : j["members"].items()) seen.push_back(m["user"]["id"].num());
    if (j["next"].is_null()) break;
    EXPECT_EQ(j["next"].num(), seen.back()) << r.body;
    after = "&after=" + std::to_string(j["next"].num());
  }
  EXPECT_EQ(seen, ids);
  Response whole = owner->Get(RoomPath(room, "/members"));
  ASSERT_EQ(whole.status, 200) << whole.Describe();
  EXPECT_EQ(whole.json()["members"].size(), ids.size());
  EXPECT_TRUE(whole.json()["next"].is_null()) << whole.body;

  for (const char* q : {"?limit=0", "?limit=1001", "?limit=ten", "?limit=", "?limit=1.5", "?after=-1", "?after=x",
                        "?after=9007199254740993", "?limit=99999999999999999999"}) {
    Response r = owner->Get(RoomPath(room, std::string("/members") + q));
    EXPECT_EQ(r.status, 400) << q << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "invalid_field") << q << ": " << r.body;
  }

  User outsider = Register("outsider");
  Response one = outsider->Get(RoomPath(room, "/members/OWNER"));
  EXPECT_EQ(one.status, 403) << "the list's access rules: " << one.Describe();
  Response mine = owner->Get(RoomPath(room, "/members/" + joined[2].name));
  ASSERT_EQ(mine.status, 200) << mine.Describe();
  EXPECT_EQ(mine.json()["member"]["user"]["id"].num(), ids[3]);
  EXPECT_EQ(mine.json()["member"]["role"].str(), "member");
  Response own = owner->Get(RoomPath(room, "/members/" + owner.name));
  ASSERT_EQ(own.status, 200) << own.Describe();
  EXPECT_TRUE(own.json()["member"]["owner"].boolean()) << own.body;
  Response not_in = owner->Get(RoomPath(room, "/members/" + outsider.name));
  EXPECT_EQ(not_in.status, 404) << not_in.Describe();
  EXPECT_EQ(not_in.ErrorCode(), "member_not_found");
  Response nobody = owner->Get(RoomPath(room, "/members/no_such_user"));
  EXPECT_EQ(nobody.status, 404) << nobody.Describe();
  EXPECT_EQ(nobody.ErrorCode(), "user_not_found");
  // A name no account can have: no such user, as for the other routes by name.
  for (const char* name : {"a%20b", "%ff", "a%2fb", "x%", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    Response bad = owner->Get(RoomPath(room, std::string("/members/") + name));
    EXPECT_TRUE(bad.status == 404 || bad.status == 400) << name << ": " << bad.Describe();
    EXPECT_FALSE(bad.ErrorCode().empty()) << name << ": " << bad.body;
  }
}

TEST_F(RoomsTest, DirectConversationIsGetOrCreateAndPrivate) {
  User alice = Register("alice");
  User bob = Register("bob");
  User carol = Register("carol");

  Response first = alice->Post("/api/dm", "{\"username\":" + Quote(bob.name) + "}");
  ASSERT_EQ(first.status, 201) << first.Describe();
  Json room = first.json()["room"];
  const int64_t dm = room["id"].num();
  ASSERT_GT(dm, 0);
  EXPECT_EQ(room["kind"].str(), "dm");
  EXPECT_EQ(room["peer"]["id"].num(), bob.id) << room.Dump();

  Response second = alice->Post("/api/dm", "{\"username\":" + Quote(bob.name) + "}");
  EXPECT_EQ(second.status, 200) << second.Describe();
  EXPECT_EQ(second.json()["room"]["id"].num(), dm);
  Response from_bob = bob->Post("/api/dm", "{\"username\":" + Quote(alice.name) + "}");
  EXPECT_EQ(from_bob.status, 200) << from_bob.Describe();
  EXPECT_EQ(from_bob.json()["room"]["id"].num(), dm);
  EXPECT_EQ(from_bob.json()["room"]["peer"]["id"].num(), alice.id);

  Send(alice, dm, "just between us");
  Response bob_reads = bob->Get(RoomPath(dm, "/messages"));
  ASSERT_EQ(bob_reads.status, 200) << bob_reads.Describe();
  EXPECT_EQ(bob_reads.json()["messages"].size(), 1u);

  Response carol_reads = carol->Get(RoomPath(dm, "/messages"));
  EXPECT_TRUE(Denied(carol_reads)) << carol_reads.Describe();
  EXPECT_EQ(carol_reads.body.find("between us"), std::string::npos);
  Response carol_joins = carol->Post(RoomPath(dm, "/join"));
  EXPECT_TRUE(Denied(carol_joins)) << carol_joins.Describe();
  Response carol_sends = carol->Post(RoomPath(dm, "/messages"), "{\"text\":\"hi\"}");
  EXPECT_TRUE(Denied(carol_sends)) << carol_sends.Describe();
  Response invite = alice->Post(RoomPath(dm, "/members"), "{\"username\":" + Quote(carol.name) + "}");
  EXPECT_EQ(invite.status, 403) << "a dm stays two people: " << invite.Describe();
  EXPECT_FALSE(Contains(ListedRooms(carol), dm));
  EXPECT_TRUE(Contains(ListedRooms(bob), dm));

  Response self = alice->Post("/api/dm", "{\"username\":" + Quote(alice.name) + "}");
  EXPECT_EQ(self.status, 400) << self.Describe();
  Response nobody = alice->Post("/api/dm", "{\"username\":\"no_such_user\"}");
  EXPECT_EQ(nobody.status, 404) << nobody.Describe();
  EXPECT_EQ(nobody.ErrorCode(), "user_not_found");
}

}  // namespace
}  // namespace parley::e2e
