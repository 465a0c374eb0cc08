// Blocks through the real stack (DESIGN section 3.1): a blocked user can no
// longer open a direct conversation with the blocker, invite them, or send
// into their conversation (403 blocked); the blocker still can; lifting
// the block restores it; and the refusals for bad input.
#include <string>
#include <vector>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

class BlocksTest : public EventsTest {};

std::string BlockPath(const User& who) { return "/api/me/blocks/" + who.name; }

TEST_F(BlocksTest, ABlockedUserCannotOpenInviteOrSendUntilUnblocked) {
  User alice = Register("alice");
  User troll = Register("troll");
  Response dm = troll->Post("/api/dm", "{\"username\":" + Quote(alice.name) + "}");
  ASSERT_EQ(dm.status, 201) << dm.Describe();
  const int64_t room = dm.json()["room"]["id"].num();
  const int64_t trolls_room = CreateRoom(troll, "den", "private");

  ASSERT_EQ(alice->Put(BlockPath(troll), "").status, 204);
  ASSERT_EQ(alice->Put(BlockPath(troll), "").status, 204) << "blocking twice is one block";
  Json blocks = alice->Get("/api/me/blocks").json()["blocks"];
  ASSERT_EQ(blocks.size(), 1u) << blocks.Dump();
  EXPECT_EQ(blocks[size_t{0}]["id"].num(), troll.id);
  EXPECT_EQ(troll->Get("/api/me/blocks").json()["blocks"].size(), 0u) << "a block is the blocker's alone";

  Response open = troll->Post("/api/dm", "{\"username\":" + Quote(alice.name) + "}");
  EXPECT_EQ(open.status, 403) << open.Describe();
  EXPECT_EQ(open.ErrorCode(), "blocked");
  Response send = troll->Post(RoomPath(room, "/messages"), "{\"text\":\"are you there\"}");
  EXPECT_EQ(send.status, 403) << send.Describe();
  EXPECT_EQ(send.ErrorCode(), "blocked");
  Response invite = troll->Post(RoomPath(trolls_room, "/members"), "{\"username\":" + Quote(alice.name) + "}");
  EXPECT_EQ(invite.status, 403) << invite.Describe();
  EXPECT_EQ(invite.ErrorCode(), "blocked");
  // The blocker is not blocked: her side still works.
  Send(alice, room, "please stop");
  EXPECT_EQ(alice->Get(RoomPath(room, "/messages")).json()["messages"].size(), 1u);

  ASSERT_EQ(alice->Delete(BlockPath(troll)).status, 204);
  EXPECT_EQ(alice->Get("/api/me/blocks").json()["blocks"].size(), 0u);
  Send(troll, room, "sorry");
  EXPECT_EQ(troll->Post(RoomPath(trolls_room, "/members"), "{\"username\":" + Quote(alice.name) + "}").status, 201);
}

// A block reaches the blocker's open streams (their other devices) live,
// as one `user` event {"user": the blocked person, "blocked"}, and nobody
// else's: the blocked person never learns of it. A repeat sends nothing.
TEST_F(BlocksTest, ABlockOrUnblockReachesTheBlockersStreamsAlone) {
  User alice = Register("alice");
  User troll = Register("troll");
  User bob = Register("bob");
  auto mine = Subscribe(alice.token);
  auto theirs = Subscribe(troll.token);
  auto others = Subscribe(bob.token);
  ASSERT_EQ(alice->Put(BlockPath(troll), "").status, 204);
  ASSERT_EQ(alice->Put(BlockPath(troll), "").status, 204);
  ASSERT_EQ(alice->Delete(BlockPath(troll)).status, 204);
  ASSERT_EQ(alice->Delete(BlockPath(troll)).status, 204);
  // Sent after them all: once each stream has it, it had every event before.
  const int64_t last = Send(alice, General(alice), "after the blocks")["id"].num();
  auto told = [&](SseStream& stream) {
    std::vector<Json> out;
    EXPECT_TRUE(stream.WaitForId(last, 5s)) << stream.Body();
    for (const SseEvent& e : stream.Events()) {
      if (e.type == "user") out.push_back(e.json());
    }
    return out;
  };
  EXPECT_TRUE(told(*theirs).empty()) << "the blocked person never hears of it: " << theirs->Body();
  EXPECT_TRUE(told(*others).empty()) << others->Body();
  std::vector<Json> mine_told = told(*mine);
  ASSERT_EQ(mine_told.size(), 2u) << mine->Body();
  EXPECT_TRUE(mine_told[0]["blocked"].boolean()) << mine_told[0].Dump();
  EXPECT_FALSE(mine_told[1]["blocked"].boolean()) << mine_told[1].Dump();
  for (const Json& t : mine_told) {
    EXPECT_TRUE(t["blocked"].is_bool()) << t.Dump();
    EXPECT_EQ(t["user"]["id"].num(), troll.id) << t.Dump();
    EXPECT_EQ(t["user"]["username"].str(), troll.name) << t.Dump();
  }
}

TEST_F(BlocksTest, BadBlocksAreRefused) {
  User alice = Register("alice");
  Response self = alice->Put(BlockPath(alice), "");
  EXPECT_EQ(self.status, 400) << self.Describe();
  EXPECT_EQ(self.ErrorCode(), "invalid_field");
  Response unknown = alice->Put("/api/me/blocks/nobody_at_all", "");
  EXPECT_EQ(unknown.status, 404) << unknown.Describe();
  EXPECT_EQ(unknown.ErrorCode(), "user_not_found");
  Response bad = alice->Put("/api/me/blocks/no%20such", "");
  EXPECT_EQ(bad.status, 404) << bad.Describe();
  Response unblock_unknown = alice->Delete("/api/me/blocks/nobody_at_all");
  EXPECT_EQ(unblock_unknown.status, 404) << unblock_unknown.Describe();
  Response method = alice->Post("/api/me/blocks/" + alice.name, "{}");
  EXPECT_EQ(method.status, 405) << method.Describe();
  Client anonymous(stack().base_url(), Client::Cookies::kOff);
  Response unsigned_in = anonymous.Get("/api/me/blocks");
  EXPECT_EQ(unsigned_in.status, 401) << unsigned_in.Describe();
  for (const char* query : {"limit=0", "limit=1001", "limit=x", "after=-1", "after=1e3", "limit=1&after=9007199254740993"}) {
    Response r = alice->Get(std::string("/api/me/blocks?") + query);
    EXPECT_EQ(r.status, 400) << query << " " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "invalid_field") << query;
  }
}

TEST_F(BlocksTest, BlocksComeInPagesInUserIdOrder) {
  User alice = Register("alice");
  std::vector<User> trolls;
  for (int i = 0; i < 3; ++i) {
    trolls.push_back(Register("troll"));
    ASSERT_EQ(alice->Put(BlockPath(trolls.back()), "").status, 204);
  }
  Json first = alice->Get("/api/me/blocks?limit=2").json();
  ASSERT_EQ(first["blocks"].size(), 2u) << first.Dump();
  EXPECT_EQ(first["blocks"][size_t{0}]["id"].num(), trolls[0].id);
  EXPECT_EQ(first["blocks"][size_t{1}]["id"].num(), trolls[1].id);
  EXPECT_EQ(first["next"].num(), trolls[1].id);
  Json rest = alice->Get("/api/me/blocks?limit=2&after=" + std::to_string(first["next"].num())).json();
  ASSERT_EQ(rest["blocks"].size(), 1u) << rest.Dump();
  EXPECT_EQ(rest["blocks"][size_t{0}]["username"].str(), trolls[2].name);
  EXPECT_TRUE(rest["next"].is_null()) << rest.Dump();
}

}  // namespace
}  // namespace parley::e2e
